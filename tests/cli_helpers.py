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
