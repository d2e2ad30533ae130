"""A rendered reel as Instagram shows it: the interface over the video, the caption cut after its first lines, the cover
cropped in the profile grid.

The covered parts of the frame are the ones the captions keep clear of (:mod:`render.captions.layout`: the top 14 %,
the bottom 35 %, 6 % at each side, where the action buttons sit on the right), so the preview and the renderer agree.
Everything is in the frame's own pixels (1080×1920) and drawn by the page as SVG: attributes, no inline style.
:func:`reel_page_extras` is what the reel page shows of it and of the reel's time; :func:`thumb_url` the queue's cover.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session

from agent.approval.thumbnails import shows_thumbnail
from agent.approval.timing import RESCHEDULABLE, planned_time, rules_for
from agent.db.models import Creator, Reel, ReelStatus, utcnow
from agent.settings import Settings
from render.captions.layout import SAFE_BOTTOM, SAFE_SIDE, SAFE_TOP, safe_area

FRAME_WIDTH_PX, FRAME_HEIGHT_PX = 1080, 1920
#: What the Reels viewer shows of a caption before "… more": about two lines, about 125 characters.
CAPTION_PREVIEW_LINES = 2
CAPTION_PREVIEW_CHARS = 125
#: The profile grid's crop of a 9:16 cover (width : height): 3:4 since 2025, square before.
GRID_CROP = (3, 4)
LEGACY_GRID_CROP = (1, 1)


@dataclass(frozen=True)
class Rect:
    x: int
    y: int
    width: int
    height: int

    @property
    def view_box(self) -> str:
        """The rectangle as an SVG ``viewBox``: an ``<svg>`` with it shows just this part of the frame."""
        return f"{self.x} {self.y} {self.width} {self.height}"


@dataclass(frozen=True)
class Overlay:
    """Where Instagram's interface covers a 1080×1920 reel, in frame pixels."""

    frame: Rect
    top: Rect          # the "Reels" title row and camera
    bottom: Rect       # name, caption, audio, and the app's tab bar
    side: Rect         # the action buttons' column on the right, between the two
    safe: Rect         # what stays clear: where captions and titles belong
    caption_box: Rect  # where the name, the cut caption and the audio line sit, inside the bottom band
    buttons: list[tuple[int, int]]   # centres of like, comment, share, more (top to bottom), in the right column

    @property
    def percent(self) -> dict[str, int]:
        """The covered parts as whole percentages of the frame, for the page's legend."""
        return {"top": round(SAFE_TOP * 100), "bottom": round(SAFE_BOTTOM * 100), "side": round(SAFE_SIDE * 100)}


def reels_overlay(width_px: int = FRAME_WIDTH_PX, height_px: int = FRAME_HEIGHT_PX) -> Overlay:
    """The covered parts of a reel frame, from the same safe area the captions are laid out in."""
    area = safe_area(width_px, height_px)
    top = Rect(0, 0, width_px, area.y_px)
    bottom = Rect(0, area.bottom_px, width_px, height_px - area.bottom_px)
    side = Rect(area.right_px, area.y_px, width_px - area.right_px, area.height_px)
    centre_x = area.right_px + side.width // 2
    # The buttons stand in the lower half of the right column, evenly spaced down to the bottom band.
    step = area.height_px // 9
    buttons = [(centre_x, area.bottom_px - step * (4 - index) + step // 2) for index in range(4)]
    caption_box = Rect(area.x_px, bottom.y + bottom.height // 6, area.width_px, bottom.height * 2 // 3)
    return Overlay(frame=Rect(0, 0, width_px, height_px), top=top, bottom=bottom, side=side,
                   safe=Rect(area.x_px, area.y_px, area.width_px, area.height_px), caption_box=caption_box, buttons=buttons)


def centre_crop(ratio: tuple[int, int], width_px: int = FRAME_WIDTH_PX, height_px: int = FRAME_HEIGHT_PX) -> Rect:
    """The largest ``ratio`` (width : height) rectangle in the middle of the frame: what the grid keeps of the cover."""
    ratio_w, ratio_h = ratio
    if width_px * ratio_h <= height_px * ratio_w:       # the frame is taller than the crop: cut top and bottom
        height = round(width_px * ratio_h / ratio_w)
        return Rect(0, (height_px - height) // 2, width_px, height)
    width = round(height_px * ratio_w / ratio_h)
    return Rect((width_px - width) // 2, 0, width, height_px)


@dataclass(frozen=True)
class CaptionCut:
    """What the Reels viewer shows of a caption before it is tapped: ``shown``, then "… more" when ``more``."""

    shown: str
    more: bool
    full_chars: int


def caption_cut(text: str, *, lines: int = CAPTION_PREVIEW_LINES, chars: int = CAPTION_PREVIEW_CHARS) -> CaptionCut:
    """The first ``lines`` lines of ``text``, at most about ``chars`` characters, cut at a word."""
    text = (text or "").strip()
    kept_lines = text.split("\n")[:lines]
    shown = "\n".join(kept_lines).rstrip()
    more = len(shown) < len(text)
    if len(shown) > chars:
        cut = shown[:chars]
        # At the last space when there is one in the second half: a word is not split in two.
        space = max(cut.rfind(" "), cut.rfind("\n"))
        shown = (cut[:space] if space > chars // 2 else cut).rstrip(" ,;:-\n")
        more = True
    return CaptionCut(shown=shown, more=more, full_chars=len(text))


def thumb_url(reel: Reel) -> str | None:
    """The queue's thumbnail address of a reel with a cover (its version changes when the reel does), else None."""
    if not shows_thumbnail(reel):
        return None
    return f"/reels/{reel.id}/thumb?v={int(reel.updated_at.timestamp())}"


def reel_page_extras(db: Session, reel: Reel, creator: Creator, settings: Settings) -> dict[str, Any]:
    """The reel page's preview (the interface over the video, the cut caption, the grid's crops) and its "When" card."""
    from agent.jobs.publish import full_caption

    status = ReelStatus(reel.status)
    zone = ZoneInfo(creator.timezone)
    when = planned_time(db, reel)
    rules, no_rules = rules_for(settings.calendar_dir, creator.handle) if status in RESCHEDULABLE else (None, None)
    earliest = (utcnow() + timedelta(minutes=10)).astimezone(zone)
    return {
        "overlay": reels_overlay(),
        "grid_crop": centre_crop(GRID_CROP), "legacy_crop": centre_crop(LEGACY_GRID_CROP),
        "caption_cut": caption_cut(full_caption(reel)),
        "planned": when, "planned_local": when.astimezone(zone).strftime("%a %d %b, %H:%M") if when else None,
        "moved": reel.publish_at is not None,
        "can_reschedule": status in RESCHEDULABLE, "can_publish_now": status == ReelStatus.RENDERED, "can_unapprove": status == ReelStatus.APPROVED,
        "rules": rules.describe() if rules else None, "no_rules": no_rules,
        "when_value": _input_value(when.astimezone(zone) if when and when > utcnow() else earliest),
        "when_min": _input_value(earliest),
    }


def _input_value(moment: datetime) -> str:
    """A time as a ``datetime-local`` field holds it (local wall time, minutes)."""
    return moment.strftime("%Y-%m-%dT%H:%M")
