"""The reel as the checks read it: ``render.media``'s locator, probe and decode, in QA's words (QAError, "render it again")."""

from __future__ import annotations

import functools
from pathlib import Path

from render.media.audio import DecodedAudio, decode
from render.media.ffmpeg import ToolErrors, Tools, ffmpeg_reason, find_tools
from render.media.probe import MediaInfo, probe
from render.qa.report import QAError

#: the rate the audio envelope and loudness are computed at
ANALYSIS_RATE_HZ = 48_000

_ERRORS = ToolErrors(error=QAError, cannot_start="install ffmpeg", damaged="render it again")


def reel_tools() -> Tools:
    """ffmpeg and the ffprobe beside it; QAError naming the fix when there is no ffmpeg."""
    return find_tools(error=QAError)


def _not_media(path: Path, stderr: bytes) -> QAError:
    reason = ffmpeg_reason(stderr, path, default="unreadable")
    return QAError(f"{str(path)!r} is not a video ffmpeg can read ({reason}); check the file or render it again")


def probe_reel(path: Path, tools: Tools, *, timeout_s: float = 60) -> MediaInfo:
    """Describe ``path``'s container and first video and audio streams; QAError when ffmpeg cannot read it or it holds neither."""
    info = probe(path, tools, timeout_s=timeout_s, label=str(path), errors=_ERRORS, unreadable=functools.partial(_not_media, path))
    if info.video is None and info.audio is None:
        raise QAError(f"{str(path)!r} has no video or audio stream; it is not a reel")
    return info


def read_reel_audio(path: Path, tools: Tools, *, timeout_s: float = 300) -> DecodedAudio:
    """The first audio stream as mono float32 at ``ANALYSIS_RATE_HZ`` plus its EBU R128 integrated loudness, in one decode."""
    # ebur128 measures the stream as it is (all channels); the mono copy is only for the envelope.
    return decode(path, ffmpeg=tools.ffmpeg, rate_hz=ANALYSIS_RATE_HZ, label=str(path), errors=_ERRORS,
                  unreadable=functools.partial(_not_media, path), timeout_s=timeout_s, measure_loudness=True)
