"""Running ffmpeg/ffprobe so that nothing is left hanging."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess


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
