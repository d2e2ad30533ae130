"""The composer's view of captions: a ``CaptionTrack`` that hands out pre-rasterised patches by time.

Built once from word timings, a style, the frame size and the keep-out box. Each
chunk is laid out when the track is built (so ``boxes()`` is known up front) and
rasterised the first time it is shown: one image with every word in the fill colour
and one in the highlight colour; the patch for "word k highlighted" is the first with
word k's area copied from the second. Patches are cached, so a render never draws
text per frame.
"""

from __future__ import annotations

import bisect
import json
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from render.captions.chunking import Chunk, chunk_words
from render.captions.fonts import FontSet, emoji_bitmap, pil_font
from render.captions.layout import BlockLayout, Box, Measurer, layout_block, safe_area
from render.captions.style import CaptionError, CaptionStyle, parse_color
from render.types import WordTiming


@dataclass(frozen=True)
class CaptionBlock:
    """A chunk as shown: its text, when, and where (frame pixels)."""

    index: int
    text: str
    start_s: float
    end_s: float
    box: Box
    font_size_px: int
    words: tuple[WordTiming, ...]


class CaptionTrack:
    """Captions for one reel: ``overlay_at(t)`` gives the patch to blend at time ``t`` (seconds)."""

    def __init__(
        self,
        words: Sequence[WordTiming],
        *,
        style: CaptionStyle | None = None,
        frame_width_px: int = 1080,
        frame_height_px: int = 1920,
        keep_out: Box | Sequence[float] | None = None,
        cache_size: int = 24,
    ):
        if frame_width_px < 64 or frame_height_px < 64:
            raise CaptionError(f"frame {frame_width_px}x{frame_height_px} is too small for captions; render at least 64x64 (Reels are 1080x1920)")
        self.style = style or CaptionStyle()
        self.frame_width_px = frame_width_px
        self.frame_height_px = frame_height_px
        self.keep_out = Box.of(keep_out) if keep_out is not None else None
        self.fonts = FontSet(self.style)
        self.chunks: tuple[Chunk, ...] = chunk_words(
            [w for w in words if w.word.strip()], max_words=self.style.max_words, pause_split_s=self.style.pause_split_s, linger_s=self.style.linger_s
        )
        self.layouts: tuple[BlockLayout, ...] = tuple(
            layout_block([self._display(w.word) for w in chunk.words], self.style, self.fonts, frame_width_px, frame_height_px, self.keep_out)
            for chunk in self.chunks
        )
        self._starts = [chunk.start_s for chunk in self.chunks]
        self._layers: OrderedDict[int, tuple[np.ndarray, np.ndarray, list[list[tuple[int, int, int, int]]]]] = OrderedDict()
        self._patches: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()
        self._cache_size = max(2, cache_size)

    def _display(self, word: str) -> str:
        return word.upper() if self.style.uppercase else word

    # --- what the composer calls ----------------------------------------------------------

    def chunk_index_at(self, t_s: float) -> int | None:
        position = bisect.bisect_right(self._starts, t_s) - 1
        if position < 0 or t_s >= self.chunks[position].end_s:
            return None
        return position

    def overlay_at(self, t_s: float) -> tuple[np.ndarray, int, int] | None:
        """``(rgba, x, y)``: the caption patch (uint8, h×w×4, straight alpha) and its top-left corner at ``t_s``; None when no caption shows."""
        index = self.chunk_index_at(t_s)
        if index is None:
            return None
        word = self.chunks[index].highlighted_index(t_s)
        box = self.layouts[index].box
        return self.patch(index, word), box.x_px, box.y_px

    def patch(self, chunk_index: int, highlighted_word: int) -> np.ndarray:
        """The rasterised block of chunk ``chunk_index`` with word ``highlighted_word`` (index in the chunk) lit."""
        key = (chunk_index, highlighted_word)
        cached = self._patches.get(key)
        if cached is not None:
            self._patches.move_to_end(key)
            return cached
        base, lit, word_rects = self._chunk_layers(chunk_index)
        patch = base.copy()
        for x0, y0, x1, y1 in word_rects[highlighted_word]:
            patch[y0:y1, x0:x1] = lit[y0:y1, x0:x1]
        patch.flags.writeable = False
        self._patches[key] = patch
        if len(self._patches) > self._cache_size:
            self._patches.popitem(last=False)
        return patch

    def boxes(self) -> list[Box]:
        """Every caption block's rectangle in frame pixels, in time order (for the safe-area check)."""
        return [layout.box for layout in self.layouts]

    def blocks(self) -> list[CaptionBlock]:
        return [
            CaptionBlock(i, chunk.text, chunk.start_s, chunk.end_s, layout.box, layout.size_px, chunk.words)
            for i, (chunk, layout) in enumerate(zip(self.chunks, self.layouts, strict=True))
        ]

    def write_srt(self, path: Path) -> Path:
        """The chunks as SubRip cues (same timings as the burned-in captions)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(srt_text(self.chunks), encoding="utf-8")
        return path

    def write_sidecar(self, path: Path) -> Path:
        """A JSON file with the frame, the safe area, the keep-out box and each block's box, text and timings."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.sidecar(), indent=2, ensure_ascii=False), encoding="utf-8")
        return path

    def sidecar(self) -> dict:
        area = safe_area(self.frame_width_px, self.frame_height_px)
        return {
            "version": 1,
            "frame": {"width_px": self.frame_width_px, "height_px": self.frame_height_px},
            "safe_area": asdict(area),
            "keep_out": asdict(self.keep_out) if self.keep_out else None,
            "style": {key: (str(value) if isinstance(value, Path) else list(map(str, value)) if isinstance(value, tuple) else value)
                      for key, value in asdict(self.style).items()},
            "chunks": [
                {"index": block.index, "text": block.text, "start_s": block.start_s, "end_s": block.end_s,
                 "box": asdict(block.box), "font_size_px": block.font_size_px,
                 "words": [{"word": w.word, "start_s": w.start_s, "end_s": w.end_s} for w in block.words]}
                for block in self.blocks()
            ],
        }

    # --- rasterising ---------------------------------------------------------------------------

    def _chunk_layers(self, index: int) -> tuple[np.ndarray, np.ndarray, list[list[tuple[int, int, int, int]]]]:
        cached = self._layers.get(index)
        if cached is not None:
            self._layers.move_to_end(index)
            return cached
        layers = rasterise(self.layouts[index], self.style, self.fonts, len(self.chunks[index].words), self.frame_width_px)
        self._layers[index] = layers
        if len(self._layers) > 4:
            self._layers.popitem(last=False)
        return layers


def rasterise(layout: BlockLayout, style: CaptionStyle, fonts: FontSet, word_count: int, frame_width_px: int) -> tuple[np.ndarray, np.ndarray, list[list[tuple[int, int, int, int]]]]:
    """Draw a block twice (fill colour, highlight colour) and return both with each word's rectangles inside the block."""
    from PIL import Image, ImageDraw, ImageFilter

    width, height = layout.box.width_px, layout.box.height_px
    size, outline = layout.size_px, layout.outline_px
    measurer = Measurer(fonts)
    outline_rgba, fill_rgba, highlight_rgba = parse_color(style.outline), parse_color(style.fill), parse_color(style.highlight)
    scale = style.scale(frame_width_px)

    def draw(colour: tuple[int, int, int, int] | None, stroke_colour: tuple[int, int, int, int], offset: tuple[int, int] = (0, 0), with_emoji: bool = True) -> Image.Image:
        canvas = Image.new("RGBA", (width, height), (0, 0, 0, 0))
        pen = ImageDraw.Draw(canvas)
        for piece in layout.pieces:
            x = piece.x_px + offset[0]
            baseline = piece.baseline_px + offset[1]
            for run in piece.runs:
                if run.emoji:
                    bitmap = emoji_bitmap(run.text, run.font_path, measurer.emoji_height(size))
                    if with_emoji:
                        top = baseline + layout.descent_px // 3 - bitmap.shape[0]
                        image = Image.fromarray(bitmap, "RGBA")
                        if colour is None:   # shadow/outline pass: the emoji's silhouette
                            silhouette = Image.new("RGBA", image.size, stroke_colour)
                            silhouette.putalpha(image.getchannel("A"))
                            image = silhouette
                        canvas.alpha_composite(image, (int(x), max(0, int(top))))
                    x += bitmap.shape[1] + size * 0.06
                    continue
                font = pil_font(run.font_path, size)
                if colour is None:
                    pen.text((x, baseline), run.text, font=font, fill=stroke_colour, anchor="ls", stroke_width=outline, stroke_fill=stroke_colour)
                else:
                    pen.text((x, baseline), run.text, font=font, fill=colour, anchor="ls")
                x += font.getlength(run.text)
        return canvas

    under = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    if style.shadow:
        shadow_offset = round(style.shadow_offset_px * scale)
        shadow = draw(None, parse_color(style.shadow), (shadow_offset, shadow_offset))
        blur = round(style.shadow_blur_px * scale)
        under = shadow.filter(ImageFilter.GaussianBlur(blur)) if blur > 0 else shadow
    if outline > 0:
        under.alpha_composite(draw(None, outline_rgba, with_emoji=False))
    base = under.copy()
    base.alpha_composite(draw(fill_rgba, outline_rgba))
    lit = under
    lit.alpha_composite(draw(highlight_rgba, outline_rgba))
    # each word's area: its pieces' advance boxes, grown by the outline, cut halfway into the gap to the next line
    line_height = int(round((layout.ascent_px + layout.descent_px) * style.line_spacing))
    half_gap = max(0, (line_height - layout.ascent_px - layout.descent_px) // 2)
    rects: list[list[tuple[int, int, int, int]]] = [[] for _ in range(word_count)]
    for piece in layout.pieces:
        x0 = max(0, piece.x_px - outline)
        x1 = min(width, piece.x_px + piece.width_px + outline)
        y0 = max(0, piece.baseline_px - layout.ascent_px - (half_gap if piece.baseline_px > layout.ascent_px + outline + 4 else outline + 4))
        y1 = min(height, piece.baseline_px + layout.descent_px + half_gap + (outline + 4 if piece.baseline_px + layout.descent_px + line_height > height else 0))
        rects[piece.word_index].append((x0, y0, x1, y1))
    return np.asarray(base, dtype=np.uint8), np.asarray(lit, dtype=np.uint8), rects


def blend_patch(frame: np.ndarray, rgba: np.ndarray, x: int, y: int) -> np.ndarray:
    """Alpha-blend ``rgba`` (h×w×4 uint8, straight alpha) onto ``frame`` (H×W×3 uint8) in place at (x, y); clips at the edges."""
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise CaptionError(f"frame of shape {frame.shape} and dtype {frame.dtype} cannot take captions; pass an RGB uint8 array (H, W, 3)")
    height, width = frame.shape[:2]
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(width, x + rgba.shape[1]), min(height, y + rgba.shape[0])
    if x1 <= x0 or y1 <= y0:
        return frame
    patch = rgba[y0 - y: y1 - y, x0 - x: x1 - x]
    alpha = patch[..., 3:4].astype(np.uint16)
    region = frame[y0:y1, x0:x1]
    blended = patch[..., :3].astype(np.uint16) * alpha + region.astype(np.uint16) * (255 - alpha) + 128
    region[...] = ((blended + (blended >> 8)) >> 8).astype(np.uint8)   # exact /255 rounding without a division
    return frame


def _timestamp(seconds: float) -> str:
    milliseconds = max(0, int(round(seconds * 1000)))
    hours, rest = divmod(milliseconds, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d},{millis:03d}"


def srt_text(chunks: Sequence[Chunk]) -> str:
    """SubRip text: one cue per chunk, numbered from 1, ``HH:MM:SS,mmm --> HH:MM:SS,mmm``."""
    cues = [f"{number}\n{_timestamp(chunk.start_s)} --> {_timestamp(chunk.end_s)}\n{chunk.text}\n" for number, chunk in enumerate(chunks, start=1)]
    return "\n".join(cues)
