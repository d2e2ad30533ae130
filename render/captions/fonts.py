"""Fonts for captions: the main font, fallbacks for characters it lacks (Cyrillic, Greek, CJK...) and colour emoji.

Each caption word is split into *runs*: stretches of characters one font draws.
A character goes to the main font when the font's character map has it, else to the
first configured fallback that has it, else to a system font fontconfig finds for it
(``fc-list :charset=...``), and emoji sequences go to Noto Color Emoji. Noto Color
Emoji is a bitmap (CBDT) font: Pillow draws it only at 109 px with
``embedded_color=True``; the bitmap is then scaled to the caption size.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from render.captions.style import CaptionError, CaptionStyle

log = logging.getLogger(__name__)

EMOJI_BITMAP_SIZE_PX = 109
_KNOWN_FONTS = {
    ("dejavu sans", True): "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    ("dejavu sans", False): "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
}
_KNOWN_EMOJI = "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"
_ZWJ, _VS16, _KEYCAP = 0x200D, 0xFE0F, 0x20E3


def _fc(args: list[str]) -> str:
    if shutil.which(args[0]) is None:
        return ""
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=10, check=False).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


@lru_cache(maxsize=32)
def resolve_font(family: str, bold: bool) -> Path:
    """The file of ``family`` (bold or regular) through fontconfig, else a known path."""
    pattern = f"{family}:{'bold' if bold else 'regular'}"
    found = _fc(["fc-match", "--format=%{file}", pattern])
    if found and Path(found).is_file():
        if family.lower().split()[0] not in Path(found).name.lower():
            log.warning("font %r is not installed; fontconfig chose %s", family, found)
        return Path(found)
    known = _KNOWN_FONTS.get((family.lower(), bold))
    if known and Path(known).is_file():
        return Path(known)
    raise CaptionError(f"font {family!r} is not installed and fontconfig cannot find a substitute; "
                       "install it (apt-get install fonts-dejavu-core) or set captions.font_file to a .ttf")


@lru_cache(maxsize=4)
def emoji_font() -> Path | None:
    found = _fc(["fc-match", "--format=%{file}", "Noto Color Emoji"])
    for candidate in (found, _KNOWN_EMOJI):
        if candidate and "emoji" in Path(candidate).name.lower() and Path(candidate).is_file():
            return Path(candidate)
    log.warning("no colour emoji font: emoji in captions will be skipped; apt-get install fonts-noto-color-emoji")
    return None


@lru_cache(maxsize=64)
def coverage(path: Path) -> frozenset[int]:
    """The code points ``path`` has glyphs for."""
    try:
        from fontTools.ttLib import TTFont
    except ImportError:
        log.warning("fontTools is not installed: no fallback fonts; pip install fonttools")
        return frozenset(range(0x20, 0x3000))
    with TTFont(str(path), lazy=True, fontNumber=0) as font:
        cmap = font.getBestCmap() or {}
    return frozenset(cmap)


@lru_cache(maxsize=1024)
def system_font_for(code_point: int, bold: bool) -> Path | None:
    """A system font that has ``code_point`` (fontconfig), bold if there is one."""
    listing = _fc(["fc-list", "--format=%{file}|%{style}\n", f":charset={code_point:x}"])
    candidates = [line.split("|", 1) for line in listing.splitlines() if line]
    candidates = [(Path(file), style.lower()) for file, style in candidates if Path(file).is_file() and "emoji" not in file.lower()]
    if not candidates:
        return None
    candidates.sort(key=lambda item: (("bold" in item[1]) != bold, "sans" not in item[0].name.lower(), "mono" in item[0].name.lower(), str(item[0])))
    return candidates[0][0]


def _is_emoji_start(code_point: int) -> bool:
    return (0x1F000 <= code_point <= 0x1FAFF or 0x2600 <= code_point <= 0x27BF or 0x2B00 <= code_point <= 0x2BFF
            or code_point in (0x00A9, 0x00AE, 0x203C, 0x2049, 0x2122, 0x2139, 0x3030, 0x303D))


def _continues_emoji(code_point: int) -> bool:
    return code_point in (_ZWJ, _VS16, _KEYCAP) or 0x1F3FB <= code_point <= 0x1F3FF or 0xE0020 <= code_point <= 0xE007F


@dataclass(frozen=True)
class Run:
    text: str
    font_path: Path
    emoji: bool = False


class FontSet:
    """The main font, its fallbacks and the emoji font of a ``CaptionStyle``; splits text into runs and loads PIL fonts."""

    def __init__(self, style: CaptionStyle):
        if style.font_file is not None and not Path(style.font_file).is_file():
            raise CaptionError(f"font_file {str(style.font_file)!r} does not exist; point it at a .ttf/.otf file")
        self.bold = style.bold
        self.main = Path(style.font_file) if style.font_file else resolve_font(style.font_family, style.bold)
        self.fallbacks = tuple(Path(p) for p in style.fallback_font_files if Path(p).is_file())
        self.emoji = Path(style.emoji_font_file) if style.emoji_font_file else emoji_font()

    def font_for(self, code_point: int) -> Path | None:
        for path in (self.main, *self.fallbacks):
            if code_point in coverage(path):
                return path
        return system_font_for(code_point, self.bold)

    def runs(self, text: str) -> list[Run]:
        """``text`` split into runs of one font each; emoji sequences (ZWJ, skin tones, flags, keycaps) stay whole."""
        runs: list[Run] = []
        index = 0
        characters = [ord(ch) for ch in text]
        while index < len(characters):
            code_point = characters[index]
            next_point = characters[index + 1] if index + 1 < len(characters) else 0
            emoji_here = self.emoji is not None and code_point in coverage(self.emoji) and (
                _is_emoji_start(code_point) and (code_point >= 0x1F000 or next_point == _VS16 or code_point not in coverage(self.main))
                or (next_point == _KEYCAP)
            )
            if emoji_here:
                end = index + 1
                while end < len(characters) and (_continues_emoji(characters[end]) or characters[end - 1] == _ZWJ
                                                 or (0x1F1E6 <= code_point <= 0x1F1FF and end == index + 1 and 0x1F1E6 <= characters[end] <= 0x1F1FF)
                                                 or characters[end] == _KEYCAP):
                    end += 1
                assert self.emoji is not None
                runs.append(Run(text[index:end], self.emoji, emoji=True))
                index = end
                continue
            if code_point in (_VS16, _ZWJ):
                index += 1
                continue
            path = self.font_for(code_point)
            if path is None:
                log.warning("no installed font has %r (U+%04X); it will show as a box: install a font for it (e.g. fonts-noto-cjk)", chr(code_point), code_point)
                path = self.main
            if runs and not runs[-1].emoji and runs[-1].font_path == path:
                runs[-1] = Run(runs[-1].text + text[index], path)
            else:
                runs.append(Run(text[index], path))
            index += 1
        return runs


@lru_cache(maxsize=64)
def pil_font(path: Path, size_px: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.truetype(str(path), size_px)
    except OSError as error:
        raise CaptionError(f"font {str(path)!r} cannot be loaded at {size_px}px ({error}); choose another font file") from error


@lru_cache(maxsize=512)
def emoji_bitmap(text: str, path: Path, height_px: int) -> np.ndarray:
    """An emoji sequence drawn by the colour bitmap font at its native 109 px, cropped and scaled to ``height_px`` (RGBA)."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(path), EMOJI_BITMAP_SIZE_PX)
    left, top, right, bottom = font.getbbox(text)
    canvas = Image.new("RGBA", (max(1, right - left) + 8, max(1, bottom - top) + 8), (0, 0, 0, 0))
    ImageDraw.Draw(canvas).text((4 - left, 4 - top), text, font=font, embedded_color=True)
    box = canvas.getbbox() or (0, 0, canvas.width, canvas.height)
    canvas = canvas.crop(box)
    width = max(1, round(canvas.width * height_px / canvas.height))
    return np.asarray(canvas.resize((width, height_px), Image.Resampling.LANCZOS), dtype=np.uint8)
