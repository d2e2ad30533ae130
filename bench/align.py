"""Alignment accuracy on speech whose true word times are known, and speed.

    .venv/bin/python bench/align.py [--runs N]

Ground truth: each word of a ~70-word script synthesized alone with Piper, trimmed to
its audible span and joined with known gaps (render/align/ground_truth.py), so every
word's true start is exact. Two conditions: "paused" (40-250 ms between words, 450 ms
after a sentence) and "continuous" (0-30 ms between words, 300 ms after a sentence).
Prints a markdown table and writes it to bench/results/align.md. Not a test.
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3, help="ground-truth recordings per condition (Piper varies between runs)")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    from render.align.base import get
    from render.align.ground_truth import SAMPLE_SCRIPT, build_ground_truth

    backend = get("faster-whisper")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for condition, options in CONDITIONS.items():
            errors: list[float] = []
            audio_s = compute_s = 0.0
            ratios = []
            for seed in range(args.runs):
                path, truth = build_ground_truth(SAMPLE_SCRIPT.split(), Path(folder) / f"{condition}{seed}.wav", seed=seed, **options)
                if seed == 0:
                    backend.align(path, SAMPLE_SCRIPT)          # model load outside the timing
                start = time.perf_counter()
                alignment = backend.align(path, SAMPLE_SCRIPT)
                compute_s += time.perf_counter() - start
                audio_s += truth[-1].end_s + 0.3
                ratios.append(alignment.match_ratio)
                errors += [abs(a.start_s - b.start_s) for a, b in zip(alignment.words, truth, strict=True)]
            errors.sort()
            rows.append((condition, len(errors), statistics.median(errors) * 1000, errors[int(0.95 * (len(errors) - 1))] * 1000,
                         statistics.mean(ratios), compute_s / audio_s))
    lines = ["| condition | words | median start error (ms) | p95 start error (ms) | match ratio | real-time factor |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {c} | {n} | {m:.0f} | {p:.0f} | {r:.2f} | {f:.3f} |" for c, n, m, p, r, f in rows]
    table = "\n".join(lines)
    print(table)
    out = REPO / "bench" / "results" / "align.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("# faster-whisper aligner (tiny.en, int8, 2 threads)\n\n" + table + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
