"""What a quality report holds: the spec a reel is measured against, one result per check, and the report itself."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from render import RenderError


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
    #: captions must sit inside this part of the frame (fractions of width and height)
    safe_x: tuple[float, float] = (0.06, 0.94)
    safe_y: tuple[float, float] = (0.14, 0.65)


@dataclass(frozen=True)
class Check:
    """One measured property: ``hard`` checks decide pass/fail; soft ones only warn."""

    name: str
    value: Any
    expected: str
    passed: bool
    hard: bool
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class QAReport:
    """The checks of one reel plus the headline figures (``None`` where a figure could not be measured)."""

    path: Path
    checks: tuple[Check, ...]
    duration_s: float | None = None
    loudness_lufs: float | None = None
    lipsync_correlation: float | None = None
    lipsync_lag_frames: int | None = None
    face_visible_share: float | None = None
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """True when every hard check passed (soft checks only warn)."""
        return all(check.passed for check in self.checks if check.hard)

    @property
    def failures(self) -> tuple[Check, ...]:
        return tuple(check for check in self.checks if check.hard and not check.passed)

    @property
    def warnings(self) -> tuple[Check, ...]:
        return tuple(check for check in self.checks if not check.hard and not check.passed)

    def check(self, name: str) -> Check:
        """The check called ``name``; KeyError when it was not run."""
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "passed": self.passed,
            "duration_s": self.duration_s,
            "loudness_lufs": self.loudness_lufs,
            "lipsync_correlation": self.lipsync_correlation,
            "lipsync_lag_frames": self.lipsync_lag_frames,
            "face_visible_share": self.face_visible_share,
            "seconds": round(self.seconds, 3),
            "checks": [check.to_dict() for check in self.checks],
            **self.extra,
        }


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
