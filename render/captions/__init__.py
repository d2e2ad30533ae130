"""Burned-in word-timed captions: chunking, styling, layout in the Reels safe area, rasterised patches, SRT.

    track = CaptionTrack(alignment.words, style=CaptionStyle(), frame_width_px=1080,
                         frame_height_px=1920, keep_out=(x, y, w, h))
    for t, frame in frames:                       # frame: H×W×3 uint8
        overlay = track.overlay_at(t)
        if overlay:
            blend_patch(frame, *overlay)
    track.write_srt(out.with_suffix(".srt")); track.write_sidecar(out.with_suffix(".captions.json"))
"""

from render.captions.chunking import Chunk, chunk_words
from render.captions.layout import Box, safe_area
from render.captions.style import CaptionError, CaptionStyle
from render.captions.track import CaptionBlock, CaptionTrack, blend_patch, srt_text

__all__ = [
    "Box", "CaptionBlock", "CaptionError", "CaptionStyle", "CaptionTrack", "Chunk",
    "blend_patch", "chunk_words", "safe_area", "srt_text",
]
