"""Summarise a py-spy ``--format raw`` (collapsed stacks) profile: top functions by self samples, by process, by stage.

    python bench/results/profile_summary.py bench/results/profile-reel.txt [--top 25] > bench/results/profile-reel-summary.md

A collapsed line is ``frame;frame;...;leaf COUNT`` (root first). With ``py-spy record --subprocesses`` the root frame
names the process (``process PID:"command line"``). Self samples are the leaf's; a function is ``name (file)``,
line numbers dropped. Stages are read from the stack: the bench/reel.py call the sample sits under.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter, defaultdict
from pathlib import Path

FRAME = re.compile(r"^(?P<name>.*?) \((?P<file>[^():]+?)(?::(?P<line>\d+))?\)$")


def function_of(frame: str) -> str:
    match = FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    path = match["file"]
    for marker in ("site-packages/", "lib/python3.11/", "/work/main/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{match['name']} ({path})"


PROCESSES = re.compile(r'^((?:process \d+:"[^"]*"(?:;|$))*)(.*)$')


def split_stack(stack: str) -> tuple[str, list[str]]:
    """(the innermost process frame, the code frames). Process frames nest (parent;child) and their command lines may
    hold semicolons (``python -c "a; b"``), so they are taken off whole before the rest is split."""
    match = PROCESSES.match(stack)
    processes = re.findall(r'process \d+:"[^"]*"', match[1]) if match else []
    rest = match[2] if match else stack
    return (processes[-1] if processes else ""), [frame for frame in rest.split(";") if frame]


def process_of(root: str) -> str:
    if root.startswith("process "):
        command = root.split(":", 1)[1].strip('"') if ":" in root else root
        if "face_worker" in command:
            return "QA face worker (python -m render.qa.face_worker)"
        if "llama" in command:
            return "LLM server (llama.cpp, Python side)"
        if "reel.py" in command:
            return "bench/reel.py (main process)"
        if "agent.cli" in command:
            return "`reeltwin --help` runs (bench's --help row)"
        return command[:80]
    return "main"


STAGES = [  # first match wins; matched against the whole stack text (the process frame taken off)
    ("bench: memory sampler thread (timed waits)", ("Memory._run",)),
    ("bench: rich progress refresh thread (timed waits)", ("_RefreshThread",)),
    ("qa: check_reel (incl. its face workers)", ("check_reel",)),
    ("--help runs", ("_help_row",)),
    ("draft (LLM)", ("bench_draft",)),
    ("align (auto, sphinx, faster-whisper)", ("align_words",)),
    ("photo analysis (mediapipe)", ("analyze (render/face/analysis",)),
    ("voice (Piper, piper-world, enrollment)", ("speak (", "enroll (", "_demo_sample")),
    ("compose (b)+(c): frame feed thread (avatar frames, captions, I420 conversion; the still's copies for (c))",
     ("_FrameFeed._produce", "still_frames")),
    ("compose (b)+(c): read-ahead worker blocked on a full queue (frames ready before the encoder takes them)",
     ("read_ahead.<locals>.put",)),
    ("compose (b)+(c): main thread writing frames to ffmpeg's pipe (blocked while x264 encodes)", ("compose (render/compose.py",)),
    ("avatar frames alone (a) + setup", ("render/avatar",)),
]
#: leaf functions that are a thread blocked, not computing (py-spy's idle filter does not catch timed waits or pipe writes)
WAITS = ("Condition.wait", "EpollSelector.select", "_encode (render/compose.py)", "Event.wait", "Popen.wait", "sleep",
         "Thread.join", "_wait_for_tstate_lock", "Queue.get", "Queue.put", "read_ahead.<locals>.put")


def is_wait(function: str) -> bool:
    return any(function.startswith(w) or w in function for w in WAITS)


def stage_of(text: str, process: str) -> str:
    if process.startswith("QA face worker"):
        return "qa: check_reel (incl. its face workers)"
    if process.startswith("LLM server"):
        return "draft (LLM)"
    if process.startswith("`reeltwin --help`"):
        return "--help runs"
    for name, keys in STAGES:
        if any(key in text for key in keys):
            return name
    return "other (imports, set-up, frames outside Python)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("raw", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    selfs: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    processes: Counter[str] = Counter()
    stages: Counter[str] = Counter()
    stage_top: dict[str, Counter[str]] = defaultdict(Counter)
    stage_wait: Counter[str] = Counter()
    samples = 0
    for line in args.raw.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        root, frames = split_stack(stack)
        samples += n
        process = process_of(root)
        code = [f for f in frames if not f.startswith("thread ")]
        leaf = function_of(code[-1]) if code else "(no Python frame: native code or between frames)"
        selfs[leaf] += n
        for name in {function_of(f) for f in code}:
            totals[name] += n
        processes[process] += n
        stage = stage_of(";".join(frames), process)
        stages[stage] += n
        stage_top[stage][leaf] += n
        if is_wait(leaf):
            stage_wait[stage] += n
    print(f"{samples} samples (py-spy at 100 Hz per thread: 100 samples ≈ 1 s of a thread running Python or native code under Python).\n")
    print("| process | samples | share |\n|---|---:|---:|")
    for name, n in processes.most_common():
        print(f"| {name} | {n} | {n / samples:.1%} |")
    print("\n| stage (from the stack) | samples | share | of which blocked (waits, pipe writes) | its top self functions |\n|---|---:|---:|---:|---|")
    for name, n in stages.most_common():
        top = ", ".join(f"`{f}` {c / n:.0%}" for f, c in stage_top[name].most_common(3))
        print(f"| {name} | {n} | {n / samples:.1%} | {stage_wait[name] / n:.0%} | {top} |")
    print(f"\n| # | function (self samples: the leaf frame) | self | self share | total (on the stack) |\n|---:|---|---:|---:|---:|")
    for rank, (name, n) in enumerate(selfs.most_common(args.top), 1):
        print(f"| {rank} | `{name}`{' (blocked)' if is_wait(name) else ''} | {n} | {n / samples:.1%} | {totals[name] / samples:.1%} |")


if __name__ == "__main__":
    main()
