"""Where captions go: the Reels safe area, line breaking with shrinking, and keeping clear of the face.

Reels cover the top of the frame with the account row and the bottom with the caption
text, buttons and audio ticker. Captions stay inside the safe area: clear of the top
14 %, the bottom 35 % and 6 % at each side. Inside it, a caption block sits around
``anchor_y_frac`` of the height; when that would cover the keep-out box (the mouth or
face the composer passes in), it goes below the box if the safe area has room there,
else above it, else it shrinks until it fits.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from render.captions.fonts import FontSet, Run, emoji_bitmap, pil_font
from render.captions.style import CaptionStyle

log = logging.getLogger(__name__)

SAFE_TOP = 0.14
SAFE_BOTTOM = 0.35
SAFE_SIDE = 0.06


@dataclass(frozen=True)
class Box:
    """A rectangle in frame pixels (x, y of the top-left corner)."""

    x_px: int
    y_px: int
    width_px: int
    height_px: int

    @property
    def right_px(self) -> int:
        return self.x_px + self.width_px

    @property
    def bottom_px(self) -> int:
        return self.y_px + self.height_px

    def intersects(self, other: Box) -> bool:
        return self.x_px < other.right_px and other.x_px < self.right_px and self.y_px < other.bottom_px and other.y_px < self.bottom_px

    def contains(self, other: Box) -> bool:
        return self.x_px <= other.x_px and self.y_px <= other.y_px and other.right_px <= self.right_px and other.bottom_px <= self.bottom_px

    def as_tuple(self) -> tuple[int, int, int, int]:
        return self.x_px, self.y_px, self.width_px, self.height_px

    @classmethod
    def of(cls, value: Box | Sequence[float]) -> Box:
        """A ``Box`` from a ``Box`` or an ``(x, y, w, h)`` sequence of pixels."""
        if isinstance(value, Box):
            return value
        x, y, w, h = (int(round(v)) for v in value)
        return cls(x, y, w, h)


def safe_area(frame_width_px: int, frame_height_px: int) -> Box:
    """The part of a Reels frame no Instagram overlay covers (top 14 %, bottom 35 %, 6 % each side excluded)."""
    left = round(frame_width_px * SAFE_SIDE)
    top = round(frame_height_px * SAFE_TOP)
    bottom = frame_height_px - round(frame_height_px * SAFE_BOTTOM)
    return Box(left, top, frame_width_px - 2 * left, bottom - top)


@dataclass(frozen=True)
class Piece:
    """A word, or part of a word too long for a line, placed in its block."""

    word_index: int
    text: str
    runs: tuple[Run, ...]
    x_px: int          # left edge inside the block
    baseline_px: int   # baseline inside the block
    width_px: int


@dataclass(frozen=True)
class BlockLayout:
    """One caption block: its pieces, font size and place in the frame."""

    pieces: tuple[Piece, ...]
    size_px: int
    outline_px: int
    ascent_px: int
    descent_px: int
    box: Box
    line_count: int


class Measurer:
    """Widths of words at a size, through their runs (text fonts and scaled emoji)."""

    def __init__(self, fonts: FontSet):
        self.fonts = fonts

    def emoji_height(self, size_px: int) -> int:
        return max(4, round(size_px * 1.05))

    def width(self, runs: Sequence[Run], size_px: int) -> int:
        total = 0.0
        for run in runs:
            if run.emoji:
                bitmap = emoji_bitmap(run.text, run.font_path, self.emoji_height(size_px))
                total += bitmap.shape[1] + size_px * 0.06
            else:
                total += pil_font(run.font_path, size_px).getlength(run.text)
        return int(round(total))

    def metrics(self, size_px: int) -> tuple[int, int, int]:
        ascent, descent = pil_font(self.fonts.main, size_px).getmetrics()
        space = int(round(pil_font(self.fonts.main, size_px).getlength(" ")))
        return ascent, descent, space


def _best_lines(widths: Sequence[int], space: int, max_width: int, max_lines: int) -> list[list[int]] | None:
    """Split items into the fewest lines (at most ``max_lines``) that fit ``max_width``, as even as possible."""
    count = len(widths)
    if any(width > max_width for width in widths):
        return None
    for lines in range(1, min(max_lines, count) + 1):
        best: tuple[int, list[list[int]]] | None = None
        for cuts in itertools.combinations(range(1, count), lines - 1):
            bounds = (0, *cuts, count)
            groups = [list(range(bounds[k], bounds[k + 1])) for k in range(lines)]
            line_widths = [sum(widths[i] for i in group) + space * (len(group) - 1) for group in groups]
            widest = max(line_widths)
            if widest <= max_width and (best is None or widest < best[0]):
                best = (widest, groups)
        if best is not None:
            return best[1]
    return None


def _split_word(runs: Sequence[Run], measurer: Measurer, size_px: int, max_width: int) -> list[tuple[Run, ...]]:
    """Cut a word too wide for any line into pieces that fit (characters, keeping emoji whole)."""
    import math

    total = measurer.width(runs, size_px)
    # even pieces ("Pneumonoultramicro-" / "scopicsilico..." rather than a whole line and a lone "s")
    limit = min(max_width, int(total / max(1, math.ceil(total / max_width)) * 1.08) + 1)
    pieces: list[list[Run]] = [[]]
    for run in runs:
        units = [run.text] if run.emoji else list(run.text)
        for unit in units:
            candidate = [*pieces[-1], type(run)(unit, run.font_path, run.emoji)]
            if pieces[-1] and measurer.width(candidate, size_px) > limit:
                pieces.append([type(run)(unit, run.font_path, run.emoji)])
            else:
                pieces[-1] = candidate
    return [tuple(_merge(piece)) for piece in pieces if piece]


def _merge(runs: list[Run]) -> list[Run]:
    merged: list[Run] = []
    for run in runs:
        if merged and not run.emoji and not merged[-1].emoji and merged[-1].font_path == run.font_path:
            merged[-1] = Run(merged[-1].text + run.text, run.font_path)
        else:
            merged.append(run)
    return merged


def layout_block(
    words: Sequence[str],
    style: CaptionStyle,
    fonts: FontSet,
    frame_width_px: int,
    frame_height_px: int,
    keep_out: Box | None = None,
) -> BlockLayout:
    """Lay out one chunk's words: largest size (down from the style's) that fits the lines and a free place."""
    scale = style.scale(frame_width_px)
    area = safe_area(frame_width_px, frame_height_px)
    measurer = Measurer(fonts)
    runs = [tuple(fonts.runs(word)) for word in words]
    size = max(6, round(style.font_size_px * scale))
    floor = max(6, round(style.min_font_size_px * scale))
    allow_split = False
    while True:
        layout = _try_layout(runs, style, measurer, size, scale, area, frame_height_px, keep_out, allow_split)
        if layout is not None:
            return layout
        if size > floor:
            size = max(floor, int(size * 0.92))
        elif not allow_split:
            allow_split = True          # at the smallest size: break long words across lines
        elif size > 6:
            size = max(6, int(size * 0.9))
            floor = size
        else:
            log.warning("caption %r does not fit the safe area even at 6 px; it is placed over the keep-out box", " ".join(words))
            layout = _try_layout(runs, style, measurer, size, scale, area, frame_height_px, None, True)
            assert layout is not None
            return layout


def _try_layout(runs, style, measurer, size, scale, area, frame_height_px, keep_out, allow_split) -> BlockLayout | None:  # noqa: ANN001
    outline = round(style.outline_px * scale * size / max(1, round(style.font_size_px * scale)))
    shadow_reach = (round((style.shadow_offset_px + 2 * style.shadow_blur_px) * scale) if style.shadow else 0)
    pad = outline + shadow_reach + 2
    ascent, descent, space = measurer.metrics(size)
    max_text_width = area.width_px - 2 * pad
    items: list[tuple[int, tuple[Run, ...], int]] = []
    for index, word_runs in enumerate(runs):
        width = measurer.width(word_runs, size)
        if width > max_text_width and allow_split:
            for piece in _split_word(word_runs, measurer, size, max_text_width):
                items.append((index, piece, measurer.width(piece, size)))
        else:
            items.append((index, word_runs, width))
    max_lines = style.max_lines + (2 if allow_split else 0)
    lines = _best_lines([width for _, _, width in items], space, max_text_width, max_lines)
    if lines is None:
        return None
    line_height = int(round((ascent + descent) * style.line_spacing))
    line_widths = [sum(items[i][2] for i in group) + space * (len(group) - 1) for group in lines]
    block_width = max(line_widths) + 2 * pad
    block_height = ascent + descent + line_height * (len(lines) - 1) + 2 * pad
    place = _place(block_width, block_height, style, scale, area, frame_height_px, keep_out)
    if place is None:
        return None
    pieces: list[Piece] = []
    for line_number, (group, line_width) in enumerate(zip(lines, line_widths, strict=True)):
        x = pad + (block_width - 2 * pad - line_width) // 2
        baseline = pad + ascent + line_number * line_height
        for position in group:
            index, piece_runs, width = items[position]
            text = "".join(run.text for run in piece_runs)
            pieces.append(Piece(index, text, piece_runs, x, baseline, width))
            x += width + space
    return BlockLayout(tuple(pieces), size, outline, ascent, descent, Box(place[0], place[1], block_width, block_height), len(lines))


def _place(width: int, height: int, style: CaptionStyle, scale: float, area: Box, frame_height_px: int, keep_out: Box | None) -> tuple[int, int] | None:
    if width > area.width_px or height > area.height_px:
        return None
    x = area.x_px + (area.width_px - width) // 2
    lowest = area.bottom_px - height
    preferred = min(max(round(style.anchor_y_frac * frame_height_px - height / 2), area.y_px), lowest)
    if keep_out is None or not Box(x, preferred, width, height).intersects(keep_out):
        return x, preferred
    margin = round(style.keep_out_margin_px * scale)
    below = keep_out.bottom_px + margin
    if below <= lowest:
        return x, max(below, preferred)
    above = keep_out.y_px - margin - height
    if above >= area.y_px:
        return x, min(above, preferred)
    # neither band holds the block whole: a place beside the box would do if the box is narrow
    for y in (lowest, area.y_px):
        if not Box(x, y, width, height).intersects(keep_out):
            return x, y
    return None
