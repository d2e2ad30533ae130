"""The spec a reel is measured against, and the report stored beside it: ``write_report`` and ``read_report``.

The report's types (:class:`~render.types.QAReport`, :class:`~render.types.Check`) live in ``render.types``.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from render import RenderError
from render.types import QAReport


class QAError(RenderError):
    """The file cannot be checked at all (missing, not a video, ffmpeg absent): the message names it and the fix."""


@dataclass(frozen=True)
class ReelSpec:
    """The Instagram Reels delivery spec ReelTwin targets, with the tolerances the checks allow."""

    width_px: int = 1080
    height_px: int = 1920
    fps: int = 30
    video_codec: str = "h264"
    video_profile: str = "High"
    pixel_format: str = "yuv420p"
    #: keyframes this far apart or closer (a soft check: Instagram re-encodes, but seeking and the first frame suffer)
    max_keyframe_interval_s: float = 2.0
    audio_codec: str = "aac"
    audio_sample_rate_hz: int = 48_000
    audio_bitrate_bps: int = 128_000
    #: measured bitrate may sit this far from the target (AAC encoders undershoot on quiet or simple audio)
    audio_bitrate_tolerance: float = 0.35
    loudness_lufs: float = -14.0
    loudness_tolerance_lu: float = 2.0
    min_duration_s: float = 3.0
    #: longer reels still post, but Instagram keeps them out of the Reels tab: a warning
    warn_duration_s: float = 90.0
    max_duration_s: float = 15 * 60.0
    max_size_bytes: int = 300 * 1024 * 1024
    lipsync_max_lag_frames: int = 1
    lipsync_min_correlation: float = 0.6
    lipsync_search_frames: int = 5
    min_face_visible_share: float = 0.98
    #: a face leaping between two frames (a loop seam, a cut): more than this many times the reel's typical
    #: frame-to-frame movement of the face's stable points, and more than this share of the face height
    jump_ratio: float = 6.0
    jump_min_share: float = 0.04
    #: the same, measured during the render on the frames' luma around the face (the mouth left out): a jump changes it
    #: more than this many times its median frame-to-frame change and by more than ``jump_min_change`` grey levels (mean
    #: absolute change). Measured on a shaky handheld test clip: its own motion peaks at 2.2x its median (4.4 levels);
    #: a seam of 40 px there is 5.9x (27 levels), 24 px just under 4x (missed), 90 px 9x; on the photo avatar (median
    #: 0.37) the 12-level floor decides: 10 px and more are caught
    jump_change_ratio: float = 4.0
    jump_min_change: float = 12.0
    #: lips closed: inner-lip gap under this share of the face height (or a fifth of the reel's open gap)
    closed_share: float = 0.012
    min_bilabial_closed_share: float = 0.8
    #: footage: the stable face points may sit this far (share of the outer-eye distance, 95th percentile of frames)
    #: from where the source frame being shown puts them
    max_identity_drift: float = 0.08
    #: captions must sit inside this part of the frame (fractions of width and height)
    safe_x: tuple[float, float] = (0.06, 0.94)
    safe_y: tuple[float, float] = (0.14, 0.65)


def write_report(report: QAReport, path: str | os.PathLike[str]) -> Path:
    """Store ``report`` as JSON at ``path`` (written to a temporary file first, so a reader never sees half of it)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report.to_dict(), indent=2, ensure_ascii=False, default=str) + "\n"
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def read_report(path: str | os.PathLike[str]) -> QAReport:
    """The report ``write_report`` stored at ``path``, typed.

    Fails closed: a missing, unreadable, corrupt or incomplete file raises :class:`QAError`
    naming the file, never a report that could be taken for a pass.
    """
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise QAError(f"QA report {str(source)!r}: not found; check the reel again (reeltwin qa REEL)") from None
    except (OSError, UnicodeDecodeError) as error:
        raise QAError(f"QA report {str(source)!r}: cannot be read ({error}); check the reel again (reeltwin qa REEL)") from None
    try:
        return QAReport.from_json(text)
    except ValueError as error:
        raise QAError(f"QA report {str(source)!r}: {error}; check the reel again (reeltwin qa REEL)") from None
