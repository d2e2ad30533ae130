"""Captions inside the Reels safe area, read from the captions sidecar JSON that composition writes beside the reel.

The format ``render.captions.CaptionTrack.write_sidecar`` writes (``<reel>.captions.json``)::

    {"frame": {"width_px": 1080, "height_px": 1920},
     "chunks": [{"text": "...", "start_s": 0.0, "end_s": 1.2,
                 "box": {"x_px": 120, "y_px": 1000, "width_px": 840, "height_px": 180}}, ...], ...}

Keys without the ``_px`` suffix (``x``, ``y``, ``width``, ``height``) are read
the same. ``frame`` is optional (the video's size is used without it). Boxes
are in frame pixels; a sidecar whose box values all lie within 0..1 is read as
fractions of the frame.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from render.qa.report import QAError


@dataclass(frozen=True)
class CaptionBox:
    """A caption chunk's box as fractions of the frame (left, top, right, bottom), and its text where the sidecar has it."""

    left: float
    top: float
    right: float
    bottom: float
    text: str = ""


def _field(mapping: dict, name: str) -> object:
    """``name_px`` or ``name``: the captions module writes pixel fields with their unit."""
    value = mapping.get(f"{name}_px")
    return mapping.get(name) if value is None else value


def read_caption_boxes(sidecar: Path, *, frame_width_px: int | None, frame_height_px: int | None) -> list[CaptionBox]:
    """The caption boxes of ``sidecar`` as frame fractions; QAError naming the file when it cannot be read."""
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise QAError(f"captions sidecar {str(sidecar)!r} not found; render the reel again or leave the sidecar out") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise QAError(f"captions sidecar {str(sidecar)!r} is not readable JSON ({error}); render the reel again") from None
    if not isinstance(data, dict) or not isinstance(data.get("chunks"), list):
        raise QAError(f"captions sidecar {str(sidecar)!r} has no 'chunks' list; is it a ReelTwin captions file?")
    frame = data.get("frame") if isinstance(data.get("frame"), dict) else {}
    width = _field(frame, "width") or frame_width_px
    height = _field(frame, "height") or frame_height_px
    raw: list[tuple[float, float, float, float, str]] = []
    for index, chunk in enumerate(data["chunks"]):
        box = chunk.get("box") if isinstance(chunk, dict) else None
        try:
            x, y, w, h = (float(_field(box, key)) for key in ("x", "y", "width", "height"))  # type: ignore[arg-type]
        except (TypeError, ValueError, AttributeError):
            raise QAError(f"captions sidecar {str(sidecar)!r}: chunk {index} has no box with x, y, width, height") from None
        raw.append((x, y, w, h, str(chunk.get("text", ""))))
    fractions = bool(raw) and all(0 <= value <= 1 for entry in raw for value in entry[:4])
    if not fractions and not (width and height):
        raise QAError(f"captions sidecar {str(sidecar)!r}: boxes are in pixels but the frame size is unknown; add 'frame': {{'width_px', 'height_px'}}")
    scale_x, scale_y = (1.0, 1.0) if fractions else (1 / float(width), 1 / float(height))
    return [CaptionBox(x * scale_x, y * scale_y, (x + w) * scale_x, (y + h) * scale_y, text) for x, y, w, h, text in raw]


def outside_safe_area(boxes: list[CaptionBox], safe_x: tuple[float, float], safe_y: tuple[float, float]) -> list[CaptionBox]:
    """The boxes that reach outside the safe area (a hair of rounding tolerated)."""
    slack = 0.001
    return [
        box for box in boxes
        if box.left < safe_x[0] - slack or box.right > safe_x[1] + slack or box.top < safe_y[0] - slack or box.bottom > safe_y[1] + slack
    ]
