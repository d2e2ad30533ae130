"""Finding ffmpeg and ffprobe, and running them so that nothing is left hanging."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from render import RenderError

INSTALL_FIX = "install it (apt install ffmpeg, or pip install imageio-ffmpeg)"


@dataclass(frozen=True)
class Tools:
    ffmpeg: str
    ffprobe: str | None   # only the ffprobe installed beside ``ffmpeg``: another version may disagree with it


@dataclass(frozen=True)
class ToolErrors:
    """How one caller reports ffmpeg failures: its error classes and the fixes its messages name."""

    error: type[Exception]                         # ffmpeg cannot start (and the caller's errors in general)
    cannot_start: str                              # the fix named when ffmpeg cannot start
    damaged: str                                   # the fix named when ffmpeg hangs on a file
    timeout_error: type[Exception] | None = None   # raised instead of ``error`` when ffmpeg hangs


def bundled_ffmpeg() -> str | None:
    """The ffmpeg shipped by imageio-ffmpeg (the one moviepy encodes with), or None."""
    try:
        import imageio_ffmpeg
    except ImportError:
        return None
    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError:
        return None


def find_ffmpeg(*, prefer_bundled: bool = False) -> str | None:
    """The ffmpeg on PATH, else the one shipped by imageio-ffmpeg (the other way round with ``prefer_bundled``), else None."""
    if prefer_bundled:
        return bundled_ffmpeg() or shutil.which("ffmpeg")
    return shutil.which("ffmpeg") or bundled_ffmpeg()


def ffprobe_beside(ffmpeg: str) -> str | None:
    """The ffprobe installed next to this ffmpeg, or None (imageio-ffmpeg ships none)."""
    path = Path(shutil.which(ffmpeg) or ffmpeg)
    name = path.name.replace("ffmpeg", "ffprobe", 1)
    if name == path.name:
        return None
    return shutil.which(str(path.with_name(name)))


def find_tools(ffmpeg: str | None = None, *, error: type[Exception] = RenderError, fix: str = INSTALL_FIX) -> Tools:
    """``ffmpeg`` (or the one :func:`find_ffmpeg` finds) and the ffprobe beside it; ``error("ffmpeg not found; <fix>")`` when there is none."""
    exe = ffmpeg or find_ffmpeg()
    if not exe:
        raise error(f"ffmpeg not found; {fix}")
    return Tools(ffmpeg=exe, ffprobe=ffprobe_beside(exe))


def run_to_end(command: list[str], *, timeout_s: float, error: type[Exception], cannot_start: str, timed_out: str,
               timeout_error: type[Exception] | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run ``command`` to completion in its own process group, capturing its output.

    Past ``timeout_s`` (or on any interruption) the whole group is killed. A command that cannot start
    raises ``error(f"cannot run '<cmd>' (<reason>); {cannot_start}")``, one that times out
    ``(timeout_error or error)(timed_out)``.
    """
    try:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    except OSError as failure:
        raise error(f"cannot run {command[0]!r} ({failure.strerror}); {cannot_start}") from None
    try:
        stdout, stderr = process.communicate(timeout=timeout_s)
    except BaseException as failure:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        if isinstance(failure, subprocess.TimeoutExpired):
            raise (timeout_error or error)(timed_out) from None
        raise
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def run_tool(command: list[str], *, timeout_s: float, label: str, errors: ToolErrors) -> subprocess.CompletedProcess[bytes]:
    """Run ffmpeg/ffprobe with :func:`run_to_end`, in the caller's words."""
    return run_to_end(command, timeout_s=timeout_s, error=errors.error, timeout_error=errors.timeout_error, cannot_start=errors.cannot_start,
                      timed_out=f"{label}: ffmpeg gave up after {timeout_s:.0f} s; the file may be damaged, {errors.damaged}")


def ffmpeg_reason(stderr: bytes, path: Path, *, default: str = "ffmpeg could not read it") -> str:
    """The last meaningful line of ffmpeg's complaint, without the file name it repeats."""
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith("At least one output file")]
    if not lines:
        return default
    reason = lines[-1]
    for prefix in (f"{path}: ", f"{path.name}: "):
        reason = reason.removeprefix(prefix)
    return reason or default
