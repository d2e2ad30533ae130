"""What a media file holds: container, duration, and its first video and audio streams.

ffprobe gives the description when it is installed beside ffmpeg; a user's machine may
have only the ffmpeg shipped by imageio-ffmpeg, so the same description is then read
from ``ffmpeg -i``'s banner.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from render.media.ffmpeg import ToolErrors, Tools, run_tool


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
    sample_rate_hz: int               # 0 when unknown
    channels: int | None
    bitrate_bps: int | None
    duration_s: float | None = None   # the stream's own duration (ffprobe only)


@dataclass(frozen=True)
class MediaInfo:
    format_names: tuple[str, ...]     # e.g. ("mov", "mp4", "m4a", ...)
    duration_s: float | None          # the container's
    size_bytes: int
    video: VideoStream | None
    audio: AudioStream | None
    source: str                       # "ffprobe" or "ffmpeg"
    bit_rate_bps: int | None = None   # the container's
    stream_kinds: tuple[str, ...] = ()  # every stream's kind ("video", "audio", "subtitle", ...), in order


def probe(path: Path, tools: Tools, *, timeout_s: float, label: str, errors: ToolErrors,
          unreadable: Callable[[bytes], Exception]) -> MediaInfo:
    """Describe ``path``; ``unreadable(ffmpeg's stderr)`` is raised when ffmpeg cannot read it.

    A file with no video or audio stream is described, not refused: callers decide what they need.
    """
    if tools.ffprobe:
        return _probe_with_ffprobe(path, tools.ffprobe, timeout_s, label, errors, unreadable)
    return _probe_with_ffmpeg(path, tools.ffmpeg, timeout_s, label, errors, unreadable)


def _number(value: Any, kind: type) -> Any:
    try:
        return kind(value)
    except (TypeError, ValueError):
        return None


def _fraction(text: str | None) -> Fraction | None:
    if not text or text in ("0/0", "N/A"):
        return None
    try:
        value = Fraction(text)
    except (ValueError, ZeroDivisionError):
        return None
    return value if value > 0 else None


def _probe_with_ffprobe(path: Path, ffprobe: str, timeout_s: float, label: str, errors: ToolErrors,
                        unreadable: Callable[[bytes], Exception]) -> MediaInfo:
    result = run_tool([ffprobe, "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)], timeout_s=timeout_s, label=label, errors=errors)
    if result.returncode != 0:
        raise unreadable(result.stderr)
    try:
        data = json.loads(result.stdout or b"{}")
    except ValueError:
        data = {}
    streams = data.get("streams") or []
    fmt = data.get("format") or {}
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
                codec=stream.get("codec_name", "?"), profile=stream.get("profile"), sample_rate_hz=_number(stream.get("sample_rate"), int) or 0,
                channels=_number(stream.get("channels"), int), bitrate_bps=int(bitrate) if bitrate and str(bitrate).isdigit() else None,
                duration_s=_number(stream.get("duration"), float),
            )
    return MediaInfo(
        format_names=tuple(str(fmt.get("format_name", "")).split(",")), duration_s=_number(fmt.get("duration"), float),
        size_bytes=path.stat().st_size, video=video, audio=audio, source="ffprobe", bit_rate_bps=_number(fmt.get("bit_rate"), int),
        stream_kinds=tuple(str(stream.get("codec_type")) for stream in streams),
    )


_INPUT = re.compile(r"^Input #0, (?P<formats>[^ ]+?), from ", re.MULTILINE)
_DURATION = re.compile(r"Duration: (?P<h>\d+):(?P<m>\d\d):(?P<s>\d\d(?:\.\d+)?)")
_CONTAINER_BITRATE = re.compile(r"Duration: .*?bitrate: (\d+) kb/s")
_STREAM = re.compile(r"^\s*Stream #0:\d+[^:]*: (?P<kind>Video|Audio): (?P<rest>.*)$", re.MULTILINE)
_ANY_STREAM = re.compile(r"Stream #0:\d+.*?: (\w+): ")
_LAYOUT_CHANNELS = {"mono": 1, "stereo": 2, "downmix": 2, "quad": 4, "hexagonal": 6, "octagonal": 8}


def _channels_from_layout(layout: str) -> int | None:
    layout = layout.strip()
    if layout in _LAYOUT_CHANNELS:
        return _LAYOUT_CHANNELS[layout]
    if match := re.match(r"(\d+) channels", layout):
        return int(match.group(1))
    if match := re.match(r"(\d+)\.(\d+)", layout):
        return int(match.group(1)) + int(match.group(2))
    return None


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


def _probe_with_ffmpeg(path: Path, ffmpeg: str, timeout_s: float, label: str, errors: ToolErrors,
                       unreadable: Callable[[bytes], Exception]) -> MediaInfo:
    # `ffmpeg -i FILE` with no output prints the input's description and exits 1.
    result = run_tool([ffmpeg, "-hide_banner", "-nostdin", "-i", str(path)], timeout_s=timeout_s, label=label, errors=errors)
    text = result.stderr.decode("utf-8", "replace")
    found = _INPUT.search(text)
    if found is None:
        raise unreadable(result.stderr)
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
            layout = fields[1].split("(")[0] if len(fields) > 1 else ""
            audio = AudioStream(
                codec=codec, profile=profile, sample_rate_hz=int(rate[1]) if rate else 0, channels=_channels_from_layout(layout),
                bitrate_bps=int(bitrate[1]) * 1000 if bitrate else None,
            )
    duration = _DURATION.search(text)
    container_bitrate = _CONTAINER_BITRATE.search(text)
    return MediaInfo(
        format_names=tuple(found["formats"].split(",")),
        duration_s=int(duration["h"]) * 3600 + int(duration["m"]) * 60 + float(duration["s"]) if duration else None,
        size_bytes=path.stat().st_size, video=video, audio=audio, source="ffmpeg",
        bit_rate_bps=int(container_bitrate[1]) * 1000 if container_bitrate else None,
        stream_kinds=tuple(kind.lower() for kind in _ANY_STREAM.findall(text)),
    )
