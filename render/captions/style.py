"""How captions look: the library's own config (the application maps its settings onto it)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from render import RenderError


class CaptionError(RenderError):
    """Captions cannot be made from the given style, words or frame: the message names the value and the fix."""


_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")


def parse_color(value: str) -> tuple[int, int, int, int]:
    """``#RRGGBB`` or ``#RRGGBBAA`` as an RGBA tuple."""
    if not isinstance(value, str) or not _COLOR.match(value):
        raise CaptionError(f"colour {value!r} is not #RRGGBB or #RRGGBBAA; write it like '#FFD400'")
    digits = value[1:]
    red, green, blue = (int(digits[i: i + 2], 16) for i in (0, 2, 4))
    alpha = int(digits[6:8], 16) if len(digits) == 8 else 255
    return red, green, blue, alpha


@dataclass(frozen=True)
class CaptionStyle:
    """Caption look. Sizes are pixels on a ``reference_width_px``-wide frame and scale with the real width.

    Mirrors the application's ``captions`` settings (font, font_size_px, fill, highlight,
    outline, outline_px, uppercase, max_words_per_chunk) plus layout knobs with defaults
    that read on a phone: bold sans, white words, the spoken word yellow, a thick black
    outline and a soft shadow.
    """

    font_family: str = "DejaVu Sans"
    font_file: Path | None = None          # overrides font_family
    bold: bool = True
    font_size_px: int = 68
    min_font_size_px: int = 34             # long words shrink down to this before they wrap
    fill: str = "#FFFFFF"
    highlight: str = "#FFD400"
    outline: str = "#000000"
    outline_px: int = 6
    shadow: str = "#00000099"              # "" for no shadow
    shadow_offset_px: int = 4
    shadow_blur_px: int = 4
    uppercase: bool = False
    max_words: int = 4
    max_lines: int = 2
    pause_split_s: float = 0.35            # a silence longer than this starts a new chunk
    linger_s: float = 0.4                  # a chunk stays up this long after its last word (until the next one)
    line_spacing: float = 1.12
    anchor_y_frac: float = 0.60            # preferred centre of the caption block, as a share of the frame height
    keep_out_margin_px: int = 24           # gap kept between the caption block and the keep-out box
    reference_width_px: int = 1080
    fallback_font_files: tuple[Path, ...] = ()   # tried before the system's fonts for characters the main font lacks
    emoji_font_file: Path | None = None          # default: Noto Color Emoji found through fontconfig

    def __post_init__(self) -> None:
        for name in ("fill", "highlight", "outline"):
            parse_color(getattr(self, name))
        if self.shadow:
            parse_color(self.shadow)
        if not 8 <= self.font_size_px <= 400:
            raise CaptionError(f"font_size_px={self.font_size_px!r} is out of range; use 8 to 400 (68 reads well on a phone)")
        if not 1 <= self.max_words <= 12:
            raise CaptionError(f"max_words={self.max_words!r} is out of range; use 1 to 12 (4 is the default)")
        if not 1 <= self.max_lines <= 4:
            raise CaptionError(f"max_lines={self.max_lines!r} is out of range; use 1 to 4 (2 is the default)")
        if self.outline_px < 0 or self.min_font_size_px < 6:
            raise CaptionError(f"outline_px={self.outline_px!r}/min_font_size_px={self.min_font_size_px!r}: use outline_px >= 0 and min_font_size_px >= 6")
        if not 0.0 < self.anchor_y_frac < 1.0:
            raise CaptionError(f"anchor_y_frac={self.anchor_y_frac!r} is not inside the frame; use a share such as 0.6")

    def scale(self, frame_width_px: int) -> float:
        return frame_width_px / self.reference_width_px
