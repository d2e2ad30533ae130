"""Alignment accuracy on speech whose true word times are known, and speed, for each offline aligner.

    .venv/bin/python bench/align.py [--runs N] [--aligners sphinx,faster-whisper]

Ground truth: each word of a ~70-word script synthesized alone with Piper, trimmed to
its audible span and joined with known gaps (render/align/ground_truth.py), so every
word's true start is exact. Two conditions: "paused" (40-250 ms between words, 450 ms
after a sentence) and "continuous" (0-30 ms between words, 300 ms after a sentence).
Every aligner times the same recordings. Prints a markdown table and writes it to
bench/results/align.md. Not a test.

Target (issue 5): median start error <= 60 ms and p95 <= 150 ms in both conditions.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CONDITIONS = {"paused": {}, "continuous": {"gaps_s": (0.0, 0.03), "sentence_gap_s": 0.3}}
DEFAULT_ALIGNERS = ("sphinx", "faster-whisper")
TARGET_MEDIAN_MS, TARGET_P95_MS = 60, 150
DESCRIPTIONS = {
    "sphinx": "PocketSphinx 5.1.1 forced alignment of the script (en-us model and CMU dictionary from the wheel)",
    "faster-whisper": "faster-whisper tiny.en word timestamps (int8, 2 threads) matched to the script, snapped to energy onsets",
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3, help="ground-truth recordings per condition (Piper varies between runs)")
    parser.add_argument("--aligners", default=",".join(DEFAULT_ALIGNERS), help="comma-separated aligner names")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    from render.align.base import get
    from render.align.ground_truth import SAMPLE_SCRIPT, build_ground_truth

    aligners = [name.strip() for name in args.aligners.split(",") if name.strip()]
    backends = {name: get(name) for name in aligners}
    errors = {(name, condition): [] for name in aligners for condition in CONDITIONS}
    compute_s = {key: 0.0 for key in errors}
    ratios: dict[tuple[str, str], list[float]] = {key: [] for key in errors}
    fallbacks = {key: 0 for key in errors}
    audio_s = {condition: 0.0 for condition in CONDITIONS}
    with tempfile.TemporaryDirectory() as folder:
        for condition, options in CONDITIONS.items():
            for seed in range(args.runs):
                path, truth = build_ground_truth(SAMPLE_SCRIPT.split(), Path(folder) / f"{condition}{seed}.wav", seed=seed, **options)
                audio_s[condition] += truth[-1].end_s + 0.3
                for name, backend in backends.items():
                    key = (name, condition)
                    if seed == 0 and condition == next(iter(CONDITIONS)):
                        backend.align(path, SAMPLE_SCRIPT)          # model load outside the timing
                    start = time.perf_counter()
                    alignment = backend.align(path, SAMPLE_SCRIPT)
                    compute_s[key] += time.perf_counter() - start
                    ratios[key].append(alignment.match_ratio)
                    fallbacks[key] += alignment.fallback or alignment.backend != name
                    errors[key] += [abs(a.start_s - b.start_s) for a, b in zip(alignment.words, truth, strict=True)]
    lines = ["| aligner | condition | words | median start error (ms) | p95 start error (ms) | meets target | match ratio | fallbacks | real-time factor |",
             "|---|---|---|---|---|---|---|---|---|"]
    for (name, condition), found in errors.items():
        found.sort()
        median_ms = statistics.median(found) * 1000
        p95_ms = found[int(0.95 * (len(found) - 1))] * 1000
        meets = "yes" if median_ms <= TARGET_MEDIAN_MS and p95_ms <= TARGET_P95_MS else "no"
        key = (name, condition)
        lines.append(f"| {name} | {condition} | {len(found)} | {median_ms:.0f} | {p95_ms:.0f} | {meets} | "
                     f"{statistics.mean(ratios[key]):.2f} | {fallbacks[key]}/{args.runs} | {compute_s[key] / audio_s[condition]:.3f} |")
    table = "\n".join(lines)
    print(table)
    notes = "\n".join(f"- `{name}`: {DESCRIPTIONS.get(name, name)}" for name in aligners)
    out = REPO / "bench" / "results" / "align.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(f"# Offline aligners on synthesized speech with known word times\n\n"
                   f"`.venv/bin/python bench/align.py --runs {args.runs}`; target: median <= {TARGET_MEDIAN_MS} ms, "
                   f"p95 <= {TARGET_P95_MS} ms. Real-time factor: compute seconds per audio second (model load excluded).\n\n"
                   f"{notes}\n\n{table}\n", encoding="utf-8")


if __name__ == "__main__":
    main()
