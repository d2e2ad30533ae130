"""Running the real `reeltwin` command in a test: a clean environment and one subprocess call."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

_SCRIPT = Path(sys.executable).with_name("reeltwin")
REELTWIN = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "agent"]


def clean_env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.upper().startswith("REELTWIN_")}
    env.update(NO_COLOR="1", COLUMNS="200")
    if env.pop("PYTHONDONTWRITEBYTECODE", None):
        # Without cached bytecode every command compiles its imports again (seconds each); cache it outside the tree.
        env.setdefault("PYTHONPYCACHEPREFIX", str(Path(tempfile.gettempdir()) / "reeltwin-test-pycache"))
    env.update(extra)
    return env


def reeltwin(cwd: Path, *args: str, timeout: float = 120, **extra_env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*REELTWIN, *args], cwd=cwd, env=clean_env(**extra_env), stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=timeout,
    )


def make_test_video(path: Path) -> Path:
    """A real one-second 108×192 MP4 with a tone, made by ffmpeg: what a rendered reel's file looks like to a publisher."""
    import shutil

    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        import imageio_ffmpeg

        ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=navy:s=108x192:d=1", "-f", "lavfi", "-i", "sine=frequency=220:duration=1",
                    "-shortest", "-pix_fmt", "yuv420p", str(path)], check=True)
    return path
