"""A fast stand-in reel renderer, registered through the real registry (``agent.jobs.render.renderers``) as "standin".

Workers import it through ``workers.imports = ["standin_render"]`` (with tests/ on PYTHONPATH) and use it with
``workers.renderer = "standin"``: the render job claims, records and releases exactly as with the real pipeline;
only the minutes of voice, avatar and encoding are replaced by a copy of a small real MP4 and a short wait.

    REELTWIN_TEST_STANDIN_VIDEO    the MP4 to copy (tests/cli_helpers.make_test_video makes one)
    REELTWIN_TEST_STANDIN_SECONDS  how long one render takes (default 0.3)
    REELTWIN_TEST_STANDIN_WORK     "sleep" (default: waits) or "cpu" (busy: for throughput measurements)
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path
from typing import Any

from agent.jobs.pipeline import RenderResult
from agent.jobs.render import renderers
from render.types import Check, QAReport


def _busy(seconds: float) -> None:
    """Burn one core for about ``seconds`` (a fixed amount of hashing, calibrated once per process)."""
    global _ROUNDS_PER_S
    if _ROUNDS_PER_S is None:
        started, rounds = time.perf_counter(), 0
        digest = b"calibrate"
        while time.perf_counter() - started < 0.2:
            for _ in range(1000):
                digest = hashlib.sha256(digest).digest()
            rounds += 1000
        _ROUNDS_PER_S = rounds / (time.perf_counter() - started)
    digest = b"work"
    for _ in range(int(_ROUNDS_PER_S * seconds)):
        digest = hashlib.sha256(digest).digest()


_ROUNDS_PER_S: float | None = float(os.environ["REELTWIN_TEST_STANDIN_ROUNDS_PER_S"]) if os.environ.get("REELTWIN_TEST_STANDIN_ROUNDS_PER_S") else None


def standin_render(settings: Any, *, out: Path, text: str | None = None, **_: Any) -> RenderResult:
    """Copy the test video to ``out`` after a short wait (or busy work); a passing QA report."""
    started = time.perf_counter()
    seconds = float(os.environ.get("REELTWIN_TEST_STANDIN_SECONDS", "0.3"))
    if os.environ.get("REELTWIN_TEST_STANDIN_WORK", "sleep") == "cpu":
        _busy(seconds)
    else:
        time.sleep(seconds)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".partial.mp4")
    shutil.copyfile(os.environ["REELTWIN_TEST_STANDIN_VIDEO"], partial)
    partial.replace(out)   # a new name, then the final one: a kill never leaves half a video under the final name
    out.with_suffix(".jpg").write_bytes(b"stand-in cover")
    qa = QAReport(path=out, checks=(Check("stand-in", True, "a copied test video", passed=True, hard=True),), duration_s=1.0)
    return RenderResult(video=out, cover=out.with_suffix(".jpg"), srt=None, captions_json=None, report=None, duration_s=1.0, frames=30,
                        fps=30, width=108, height=192, backend="standin", render_seconds=time.perf_counter() - started, qa=qa)


renderers.register("standin")(lambda: standin_render)
