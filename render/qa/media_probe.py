"""ffmpeg and ffprobe for the checks: finding them, describing a file's streams, decoding its audio with its loudness.

ffprobe gives the stream description when it is installed beside ffmpeg; a
user's machine may have only the ffmpeg shipped by imageio-ffmpeg, so the same
description is then read from ``ffmpeg -i``'s banner.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from render.process import run_to_end
from render.qa.report import QAError

#: the rate the audio envelope and loudness are computed at
ANALYSIS_RATE_HZ = 48_000


@dataclass(frozen=True)
class VideoStream:
    codec: str
    profile: str | None
    pixel_format: str | None
    width_px: int
    height_px: int
    r_frame_rate: Fraction | None     # the stream's base rate ("tbr")
    avg_frame_rate: Fraction | None   # frames / duration
    frame_count: int | None


@dataclass(frozen=True)
class AudioStream:
    codec: str
    profile: str | None
    sample_rate_hz: int
    channels: int | None
    bitrate_bps: int | None


@dataclass(frozen=True)
class MediaInfo:
    format_names: tuple[str, ...]     # e.g. ("mov", "mp4", "m4a", ...)
    duration_s: float | None
    size_bytes: int
    video: VideoStream | None
    audio: AudioStream | None
    source: str                       # "ffprobe" or "ffmpeg"


@dataclass(frozen=True)
class Tools:
    ffmpeg: str
    ffprobe: str | None


def find_tools() -> Tools:
    """ffmpeg from PATH, else imageio-ffmpeg's; ffprobe only when it sits on PATH too (a mismatched pair may disagree)."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        with contextlib.suppress(ImportError, RuntimeError):
            import imageio_ffmpeg

            ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    if ffmpeg is None:
        raise QAError("ffmpeg not found; install it (apt install ffmpeg, or pip install imageio-ffmpeg)")
    return Tools(ffmpeg=ffmpeg, ffprobe=shutil.which("ffprobe") if shutil.which("ffmpeg") else None)


def run_tool(command: list[str], *, timeout_s: float, label: str) -> subprocess.CompletedProcess[bytes]:
    """Run ffmpeg/ffprobe to completion; past ``timeout_s`` its process group is killed and QAError raised."""
    return run_to_end(command, timeout_s=timeout_s, error=QAError, cannot_start="install ffmpeg",
                      timed_out=f"{label}: ffmpeg gave up after {timeout_s:.0f} s; the file may be damaged, render it again")


def _fraction(text: str | None) -> Fraction | None:
    if not text or text in ("0/0", "N/A"):
        return None
    try:
        value = Fraction(text)
    except (ValueError, ZeroDivisionError):
        return None
    return value if value > 0 else None


def probe(path: Path, tools: Tools, *, timeout_s: float = 60) -> MediaInfo:
    """Describe ``path``'s container and first video and audio streams; QAError when ffmpeg cannot read it."""
    if tools.ffprobe:
        return _probe_with_ffprobe(path, tools.ffprobe, timeout_s)
    return _probe_with_ffmpeg(path, tools.ffmpeg, timeout_s)


def _not_media(path: Path, stderr: bytes) -> QAError:
    reason = (stderr.decode("utf-8", "replace").strip().splitlines() or ["unreadable"])[-1]
    reason = reason.replace(str(path), "").strip(" :") or "unreadable"
    return QAError(f"{str(path)!r} is not a video ffmpeg can read ({reason}); check the file or render it again")


def _probe_with_ffprobe(path: Path, ffprobe: str, timeout_s: float) -> MediaInfo:
    result = run_tool([ffprobe, "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)], timeout_s=timeout_s, label=str(path))
    if result.returncode != 0:
        raise _not_media(path, result.stderr)
    data = json.loads(result.stdout or b"{}")
    streams = data.get("streams", [])
    fmt = data.get("format", {})
    video = audio = None
    for stream in streams:
        kind = stream.get("codec_type")
        if kind == "video" and video is None and not stream.get("disposition", {}).get("attached_pic"):
            frames = stream.get("nb_frames")
            video = VideoStream(
                codec=stream.get("codec_name", "?"), profile=stream.get("profile"), pixel_format=stream.get("pix_fmt"),
                width_px=int(stream.get("width", 0)), height_px=int(stream.get("height", 0)),
                r_frame_rate=_fraction(stream.get("r_frame_rate")), avg_frame_rate=_fraction(stream.get("avg_frame_rate")),
                frame_count=int(frames) if frames and str(frames).isdigit() else None,
            )
        elif kind == "audio" and audio is None:
            bitrate = stream.get("bit_rate")
            audio = AudioStream(
                codec=stream.get("codec_name", "?"), profile=stream.get("profile"), sample_rate_hz=int(stream.get("sample_rate", 0) or 0),
                channels=stream.get("channels"), bitrate_bps=int(bitrate) if bitrate and str(bitrate).isdigit() else None,
            )
    if video is None and audio is None:
        raise QAError(f"{str(path)!r} has no video or audio stream; it is not a reel")
    duration = fmt.get("duration")
    return MediaInfo(
        format_names=tuple(str(fmt.get("format_name", "")).split(",")), duration_s=float(duration) if duration not in (None, "N/A") else None,
        size_bytes=path.stat().st_size, video=video, audio=audio, source="ffprobe",
    )


_INPUT = re.compile(r"^Input #0, (?P<formats>[^ ]+?), from ", re.MULTILINE)
_DURATION = re.compile(r"Duration: (?P<h>\d+):(?P<m>\d\d):(?P<s>\d\d(?:\.\d+)?)")
_STREAM = re.compile(r"^\s*Stream #0:\d+[^:]*: (?P<kind>Video|Audio): (?P<rest>.*)$", re.MULTILINE)
_CHANNELS = {"mono": 1, "stereo": 2, "2.1": 3, "quad": 4, "5.0": 5, "5.1": 6, "7.1": 8}


def _top_level_fields(text: str) -> list[str]:
    """Split ``ffmpeg -i``'s stream description on the commas that are not inside parentheses or brackets."""
    fields, depth, current = [], 0, []
    for char in text:
        if char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        if char == "," and depth == 0:
            fields.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    fields.append("".join(current).strip())
    return fields


def _rate(text: str) -> Fraction | None:
    """ffmpeg prints rates rounded (30, 29.97, 1k): back to the exact fraction, 29.97 meaning 30000/1001."""
    text = text.strip()
    try:
        value = Fraction(text.rstrip("k")) * (1000 if text.endswith("k") else 1)
    except ValueError:
        return None
    whole = Fraction(round(value))
    if abs(value - whole) < Fraction(1, 200):
        return whole
    ntsc = Fraction(round(value * Fraction(1001, 1000)) * 1000, 1001)
    return ntsc if abs(value - ntsc) < Fraction(6, 1000) else value


def _probe_with_ffmpeg(path: Path, ffmpeg: str, timeout_s: float) -> MediaInfo:
    result = run_tool([ffmpeg, "-hide_banner", "-nostdin", "-i", str(path)], timeout_s=timeout_s, label=str(path))
    text = result.stderr.decode("utf-8", "replace")
    found = _INPUT.search(text)
    if found is None:
        raise _not_media(path, result.stderr)
    video = audio = None
    for stream in _STREAM.finditer(text):
        head, *fields = _top_level_fields(stream["rest"])
        codec_match = re.match(r"(?P<codec>\w+)(?: \((?P<profile>[^/()]+)\))?", head)
        codec = codec_match["codec"] if codec_match else head.split()[0]
        profile = codec_match["profile"] if codec_match else None
        if stream["kind"] == "Video" and video is None and "attached pic" not in stream["rest"]:
            size = re.search(r"\b(\d{2,5})x(\d{2,5})\b", stream["rest"])
            fps = re.search(r"([\d.]+k?) fps", stream["rest"])
            tbr = re.search(r"([\d.]+k?) tbr", stream["rest"])
            pixel_format = fields[0].split("(")[0].strip() if fields and not re.match(r"\d", fields[0]) else None
            video = VideoStream(
                codec=codec, profile=profile, pixel_format=pixel_format,
                width_px=int(size[1]) if size else 0, height_px=int(size[2]) if size else 0,
                r_frame_rate=_rate(tbr[1]) if tbr else None, avg_frame_rate=_rate(fps[1]) if fps else None, frame_count=None,
            )
        elif stream["kind"] == "Audio" and audio is None:
            rate = re.search(r"(\d+) Hz", stream["rest"])
            bitrate = re.search(r"(\d+) kb/s", stream["rest"])
            layout = fields[1].split("(")[0].strip() if len(fields) > 1 else ""
            channels = _CHANNELS.get(layout) or (int(m[1]) if (m := re.match(r"(\d+) channels", layout)) else None)
            audio = AudioStream(
                codec=codec, profile=profile, sample_rate_hz=int(rate[1]) if rate else 0, channels=channels,
                bitrate_bps=int(bitrate[1]) * 1000 if bitrate else None,
            )
    if video is None and audio is None:
        raise QAError(f"{str(path)!r} has no video or audio stream; it is not a reel")
    duration = _DURATION.search(text)
    return MediaInfo(
        format_names=tuple(found["formats"].split(",")),
        duration_s=int(duration["h"]) * 3600 + int(duration["m"]) * 60 + float(duration["s"]) if duration else None,
        size_bytes=path.stat().st_size, video=video, audio=audio, source="ffmpeg",
    )


@dataclass(frozen=True)
class DecodedAudio:
    samples: np.ndarray           # mono float32 at ``sample_rate_hz``
    sample_rate_hz: int
    integrated_lufs: float | None  # None when ffmpeg printed no measurement (silence gates everything out: -70)


_INTEGRATED = re.compile(r"Integrated loudness:\s*\n\s*I:\s*(-?[\d.]+|-inf|nan) LUFS")


def decode_audio(path: Path, tools: Tools, *, timeout_s: float = 300) -> DecodedAudio:
    """The first audio stream as mono float32 at ``ANALYSIS_RATE_HZ`` plus its EBU R128 integrated loudness, in one decode."""
    # ebur128 measures the stream as it is (all channels); the mono copy is only for the envelope.
    graph = f"ebur128=framelog=verbose,aresample={ANALYSIS_RATE_HZ},aformat=sample_fmts=flt:channel_layouts=mono"
    result = run_tool(
        [tools.ffmpeg, "-hide_banner", "-nostdin", "-nostats", "-i", str(path), "-map", "0:a:0", "-af", graph, "-f", "f32le", "-"],
        timeout_s=timeout_s, label=str(path),
    )
    if result.returncode != 0:
        raise _not_media(path, result.stderr)
    found = _INTEGRATED.search(result.stderr.decode("utf-8", "replace"))
    lufs = None
    if found:
        with contextlib.suppress(ValueError):
            lufs = float(found[1])
    if lufs is not None and not np.isfinite(lufs):
        lufs = None
    return DecodedAudio(samples=np.frombuffer(result.stdout, dtype="<f4").copy(), sample_rate_hz=ANALYSIS_RATE_HZ, integrated_lufs=lufs)
