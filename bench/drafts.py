"""Draft quality benchmark (issue 20): the embedded model on 20 briefs across 4 niches, with and without the
creator's `points`, through the real writer (checks, retries, repairs, budget), for each drafting method:

- `whole`: the model writes the whole script as one JSON answer (what hosted models do);
- `assembled`: points-first assembly (agent/drafting/assembly.py): the model writes a hook and phrases each point,
  each checked, the creator's own words where it fails;
- `facts`: without points, the model first lists three facts about the brief, checked, which are then assembled.

    .venv/bin/python bench/drafts.py [--briefs 20] [--configs points-0.7,assembled-points-0.7] [--out bench/results/drafts.md]

Per configuration: first-try valid rate, failed slots, off-brief rate, repetition rate, points covered, words against
the budget, median and p95 seconds per slot (retries included), how much of an assembled draft the model's words
made, and the draft warnings seen. Not a test: nothing here asserts a number. The briefs and their points are ours
(below), written for the four niches.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

#: (niche, persona, pillar, brief, points)
BRIEFS = [
    ("cooking", "budget home cook for students", "cheap dinners", "a creamy tomato soup with no cream",
     ["blend in a slice of stale bread", "a pinch of sugar tames the acid", "ready in 20 minutes"]),
    ("cooking", "budget home cook for students", "cheap dinners", "one tray of roast vegetables for three lunches",
     ["roast at 220 degrees for 35 minutes", "split into three boxes on Sunday", "costs about 4 euros"]),
    ("cooking", "budget home cook for students", "storage", "keeping herbs fresh for two weeks",
     ["trim the stems", "stand them in a glass of water", "cover loosely with a bag in the fridge"]),
    ("cooking", "budget home cook for students", "storage", "why whole onions beat pre-cut ones",
     ["whole onions keep for a month", "pre-cut costs twice as much", "chop as you go"]),
    ("cooking", "budget home cook for students", "technique", "rice that is never mushy",
     ["rinse until the water runs clear", "one part rice to 1.5 parts water", "rest 10 minutes with the lid on"]),
    ("fitness", "calm strength coach for beginners", "strength", "your first pull-up in six weeks",
     ["start with dead hangs", "add slow negatives in week two", "three sessions a week"]),
    ("fitness", "calm strength coach for beginners", "mobility", "a five minute morning hip routine",
     ["90-90 switches for one minute", "deep squat hold for one minute", "hip flexor stretch each side"]),
    ("fitness", "calm strength coach for beginners", "habits", "walking 8000 steps without a gym",
     ["take calls on foot", "one stop early off the bus", "a ten minute walk after dinner"]),
    ("fitness", "calm strength coach for beginners", "recovery", "why sleep builds more muscle than supplements",
     ["muscle repairs during deep sleep", "aim for seven to nine hours", "same bedtime every night"]),
    ("fitness", "calm strength coach for beginners", "strength", "push-ups for people who cannot do one",
     ["start against a wall", "move to a kitchen counter", "then to the floor on your knees"]),
    ("finance", "friendly money coach for people in their twenties", "saving", "the 50 30 20 budget in one minute",
     ["50 percent for needs", "30 percent for wants", "20 percent for savings"]),
    ("finance", "friendly money coach for people in their twenties", "saving", "building a 1000 euro emergency fund",
     ["save 20 euros a week", "keep it in a separate account", "done in one year"]),
    ("finance", "friendly money coach for people in their twenties", "debt", "paying off a credit card faster",
     ["pay more than the minimum", "start with the highest interest", "stop using the card meanwhile"]),
    ("finance", "friendly money coach for people in their twenties", "investing", "what an index fund is",
     ["one fund holds hundreds of companies", "low fees", "you buy the whole market"]),
    ("finance", "friendly money coach for people in their twenties", "habits", "the 24 hour rule before buying",
     ["wait a day before any purchase over 50 euros", "write it on a list", "most wants fade"]),
    ("skincare", "honest skincare explainer", "basics", "sunscreen every single day",
     ["UV reaches you through clouds", "use SPF 30 or higher", "reapply every two hours outside"]),
    ("skincare", "honest skincare explainer", "basics", "a three step routine that is enough",
     ["a gentle cleanser", "a moisturizer", "sunscreen in the morning"]),
    ("skincare", "honest skincare explainer", "myths", "why you do not need ten products",
     ["more products means more irritation", "start with three", "add one at a time"]),
    ("skincare", "honest skincare explainer", "ingredients", "what niacinamide actually does",
     ["calms redness", "helps the skin barrier", "works at 5 percent"]),
    ("skincare", "honest skincare explainer", "habits", "stop touching your face",
     ["hands carry bacteria", "it can cause breakouts", "keep a tissue nearby"]),
]

CONFIGS = {
    "points-0.7": {"points": True, "temperature": 0.7, "method": "whole"},
    "nopoints-0.7": {"points": False, "temperature": 0.7, "method": "whole"},
    "points-0.3": {"points": True, "temperature": 0.3, "method": "whole"},
    "nopoints-0.3": {"points": False, "temperature": 0.3, "method": "whole"},
    "assembled-points-0.7": {"points": True, "temperature": 0.7, "method": "points"},
    "assembled-points-0.3": {"points": True, "temperature": 0.3, "method": "points"},
    "facts-nopoints-0.7": {"points": False, "temperature": 0.7, "method": "facts"},
}
#: What runs without --configs: the old whole-script baselines and the new methods, on the same briefs.
DEFAULT_CONFIGS = ["points-0.7", "nopoints-0.7", "nopoints-0.3", "assembled-points-0.7", "assembled-points-0.3", "facts-nopoints-0.7"]


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))] if ordered else float("nan")


def run(config_names: list[str], briefs: int, samples_each: int = 3) -> tuple[list[dict], str]:
    import functools

    from agent.drafting.assembly import Method, write
    from agent.drafting.base import DraftingError, DraftRequest
    from agent.drafting.quality import point_covered, tokens
    from agent.drafting.service import open_provider
    from agent.settings import load_settings

    rows = []
    samples: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory() as folder:
        settings = load_settings(Path(folder)).settings
        for name in config_names:
            config = CONFIGS[name]
            settings.drafting.temperature = config["temperature"]
            settings.drafting.seed = 1
            seconds, words, first_try, failed, off_brief, repeated, covered, total_points, warnings = [], [], 0, 0, 0, 0, 0, 0, {}
            kept_parts, asked_parts = 0, 0
            with open_provider(settings) as provider:
                for niche, persona, pillar, brief, points in BRIEFS[:briefs]:
                    request = DraftRequest(handle=niche, language="en", persona={"description": persona, "tone": "warm, direct"}, pillar=pillar,
                                           pillar_description="", example_topics=[], brief=brief, call_to_action="Follow for more.",
                                           word_budget=75, hashtag_set=[], max_hashtags=5, avoid_words=[],
                                           points=list(points) if config["points"] else [])
                    started = time.perf_counter()
                    try:
                        # as drafting.service does: the slot's time bounds the request in flight too
                        deadline = time.monotonic() + settings.drafting.max_seconds
                        draft = write(request, functools.partial(provider.complete, deadline=deadline), method=Method(config["method"]),
                                      max_attempts=settings.drafting.max_attempts, model_name=provider.config.model,
                                      max_seconds=settings.drafting.max_seconds)
                    except DraftingError:
                        failed += 1
                        seconds.append(time.perf_counter() - started)
                        continue
                    seconds.append(time.perf_counter() - started)
                    first_try += draft.first_try_valid
                    words.append(len(draft.script.split()))
                    off_brief += any("off brief" in w for w in draft.warnings)
                    repeated += any("repeat" in w for w in draft.warnings)
                    script_tokens = tokens(draft.script)
                    covered += sum(point_covered(script_tokens, point) for point in points)
                    total_points += len(points)
                    for warning in draft.warnings:
                        key = warning.split(":")[0][:40]
                        warnings[key] = warnings.get(key, 0) + 1
                    if draft.model_written:
                        kept_parts, asked_parts = kept_parts + draft.model_written[0], asked_parts + draft.model_written[1]
                    samples.setdefault(name, []).append(f"{brief!r} -> {draft.script}")
            made = briefs - failed
            rows.append({
                "config": name, "briefs": briefs, "first_try_valid": first_try / briefs, "failed": failed,
                "off_brief": off_brief / max(made, 1), "repetition": repeated / max(made, 1),
                "points_covered": covered / max(total_points, 1), "median_words": statistics.median(words) if words else float("nan"),
                "median_s": statistics.median(seconds), "p95_s": _percentile(seconds, 0.95), "max_s": max(seconds),
                "model_wrote": f"{kept_parts / asked_parts:.0%}" if asked_parts else "—",
                "warnings": ", ".join(f"{k} ×{v}" for k, v in sorted(warnings.items(), key=lambda kv: -kv[1])[:4]),
            })
            print(f"{name}: done ({rows[-1]['median_s']:.1f} s median)", flush=True)
    table = ["| config | first-try valid | failed | off brief | repetition | points covered | median words (budget 75) | median s | p95 s | max s "
             "| model's words kept | warnings seen |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        table.append(f"| {r['config']} | {r['first_try_valid']:.0%} | {r['failed']} | {r['off_brief']:.0%} | {r['repetition']:.0%} | {r['points_covered']:.0%} | "
                     f"{r['median_words']:.0f} | {r['median_s']:.1f} | {r['p95_s']:.1f} | {r['max_s']:.1f} | {r['model_wrote']} | {r['warnings']} |")
    sample_text = "\n".join(f"- {name}: {text[:400]}" for name, texts in samples.items() for text in texts[:samples_each])
    return rows, "\n".join(table) + f"\n\nFirst {samples_each} drafts of each configuration:\n\n" + sample_text + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--briefs", type=int, default=len(BRIEFS))
    parser.add_argument("--configs", default=",".join(DEFAULT_CONFIGS), help=f"any of {', '.join(CONFIGS)}")
    parser.add_argument("--samples", type=int, default=3, help="drafts of each configuration quoted under the table")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "drafts.md")
    args = parser.parse_args()
    load = os.getloadavg()
    _rows, table = run([name.strip() for name in args.configs.split(",") if name.strip()], min(args.briefs, len(BRIEFS)), args.samples)
    head = (f"# Drafts: embedded SmolLM2-135M on {min(args.briefs, len(BRIEFS))} briefs in 4 niches\n\n"
            f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC · {os.cpu_count()} CPUs · load {load[0]:.2f} at start, "
            f"{os.getloadavg()[0]:.2f} at end · `python {' '.join(['bench/drafts.py', *sys.argv[1:]])}`\n\n")
    text = head + table
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
