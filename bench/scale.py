"""ReelTwin scale benchmark (issue 15): the Celery mode's scheduler sweep over an agency-sized database, and render
throughput with 1 and 2 workers.

    .venv/bin/python bench/scale.py [--quick] [--creators 10000] [--slots 7] [--renders 80] [--render-seconds 0.25] [--out FILE]

Needs PostgreSQL (REELTWIN_BENCH_PG_URL, default postgresql+psycopg://postgres@127.0.0.1:5432/postgres: a scratch
database is created there and dropped) and Redis (REELTWIN_BENCH_REDIS_URL, default redis://127.0.0.1:6379/12,
flushed before and after). Without them it prints why and exits 0.

- sweep       ``--creators`` creators × ``--slots`` slots, one approved reel per slot (every slot approved: the
              heaviest case), slots spread over the next week, those already due rendered and waiting to publish.
              Timed: one dispatch sweep as `reeltwin run` does it with workers.backend = "celery" (release abandoned
              renders, find the renders due within scheduler.render_lead_hours and the publishes due, send them to
              Redis), then the same sweep again (nothing changed: nothing is sent twice). Target: ≤ 1 s.
- planning    the scheduler's plan sweep over ``--plan-creators`` calendar files (10,000): the first sweep (every file
              parsed, every creator planned), then with nothing changed (twice), then with one file edited, then the
              first sweep of a new process (a restart: files parsed again, plans kept on the creators' rows); the
              baseline is the old sweep (sync_plan for every creator) timed on 1,000 of them in the same run.
- drafting    the scheduler's draft sweep (finding the work: the open slots within drafting.lead_days and the rejected
              reels; nothing is drafted) and policy sweep over ``--plan-creators`` calendar files (10,000) on
              ``auto_after_hours: 24``: the first draft sweep after the first plan (every slot open), then with a reel
              on every slot (1 % rejected, some ad-hoc rejected reels) twice, then with one file edited; the policy
              sweep with 1 % of the drafts due for approval, then twice with nothing to do. The baseline is the old
              code (kept in tests/test_draft_bulk.py) timed on 1,000 of them in the same run.
- throughput  ``--renders`` reels rendered by real `reeltwin worker` processes (--concurrency 1 each) with the
              tests' stand-in renderer doing ``--render-seconds`` of CPU work per reel (the same amount of hashing
              in every worker), with 1 and then 2 workers. Target: ≥ 1.8× with 2 workers on 2 cores. Each row says
              how much CPU the workers and everything else (PostgreSQL, this bench, other people's work) used
              meanwhile: with 2 workers on 2 cores any other work comes straight off the speed-up.

Other processes may share the machine: the load average at start and end is printed. Not a test: nothing asserts.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

PG_ADMIN_URL = os.environ.get("REELTWIN_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("REELTWIN_BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")


def _unavailable() -> str | None:
    try:
        import celery  # noqa: F401
        import psycopg  # noqa: F401
        import redis
        import sqlalchemy as sa
    except ImportError as error:
        return f"{error.name} is not installed (pip install 'reeltwin[workers]')"
    try:
        engine = sa.create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(sa.text("select 1"))
        engine.dispose()
    except Exception as error:
        return f"PostgreSQL at {PG_ADMIN_URL} is unreachable: {str(error).splitlines()[0]}"
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except Exception as error:
        return f"Redis at {REDIS_URL} is unreachable: {error}"
    return None


class ScratchDatabase:
    """A fresh PostgreSQL database, migrated, dropped at exit."""

    def __init__(self) -> None:
        import sqlalchemy as sa

        self.name = f"reeltwin_bench_{uuid.uuid4().hex[:10]}"
        self.admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        self.url = sa.engine.make_url(PG_ADMIN_URL).set(database=self.name).render_as_string(hide_password=False)

    def __enter__(self) -> str:
        import sqlalchemy as sa

        from agent.db.engine import make_engine, upgrade

        with self.admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{self.name}"'))
        upgrade(make_engine(self.url))
        return self.url

    def __exit__(self, *exc_info: object) -> None:
        import sqlalchemy as sa

        from agent.db.engine import make_engine

        make_engine(self.url).dispose()
        make_engine.cache_clear()
        with self.admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self.admin.dispose()



def _calendar_project(project: Path, creators: int, db_url: str, settings_extra: str = "", *, edit: Callable[[str], str] | None = None) -> Path:
    """A project folder with ``creators`` copies of calendar/example.yaml (handles creator00000 …, the text passed
    through ``edit`` first when given) on ``db_url``."""
    from agent.content_calendar.loader import load_calendar

    example = (REPO / "calendar" / "example.yaml").read_text(encoding="utf-8")
    example = edit(example) if edit is not None else example
    handle = load_calendar(REPO / "calendar" / "example.yaml").calendar.handle
    (project / "calendar").mkdir()
    for n in range(creators):
        name = f"creator{n:05d}"
        (project / "calendar" / f"{name}.yaml").write_text(example.replace(f"handle: {handle}", f"handle: {name}"), encoding="utf-8")
    (project / "config").mkdir()
    (project / "config" / "settings.toml").write_text(f'[database]\nurl = "{db_url}"\n' + settings_extra, encoding="utf-8")
    return project

def _settings(project: Path, db_url: str, **workers: object):  # noqa: ANN202 - Settings
    from agent.settings import load_settings

    (project / "config").mkdir(parents=True, exist_ok=True)
    extra = "".join(f"{key} = {value!r}\n".replace("'", '"') for key, value in workers.items())
    (project / "config" / "settings.toml").write_text(
        f'[database]\nurl = "{db_url}"\n[scheduler]\ndraft_ahead = false\n[workers]\nbackend = "celery"\nbroker_url = "{REDIS_URL}"\n{extra}',
        encoding="utf-8")
    return load_settings(project).settings


def _flush_redis() -> None:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


def _fill(db_url: str, creators: int, slots: int, now: datetime) -> dict[str, int]:
    """Creators, their slots over the next week (one per day at an hour of their own) and an approved reel on each;
    reels whose time has come are rendered (waiting to publish). Bulk inserts: the setup is not what is measured."""
    from sqlalchemy import insert
    from sqlmodel import Session

    from agent.db.engine import make_engine
    from agent.db.models import Creator, Reel, ReelStatus, Slot

    engine = make_engine(db_url)
    counts = {"approved": 0, "rendered": 0}
    with Session(engine) as session:
        session.execute(insert(Creator), [{"handle": f"creator{n:05d}", "timezone": "UTC", "persona": {}, "audience": {},
                                           "created_at": now, "updated_at": now} for n in range(creators)])
        session.commit()
        ids = [row[0] for row in session.execute(Creator.__table__.select().with_only_columns(Creator.id).order_by(Creator.id))]
        slot_rows, reel_rows = [], []
        for index, creator_id in enumerate(ids):
            for day in range(slots):
                # spread over the week, starting an hour ago: the first hour's reels are due to publish now
                when = now - timedelta(hours=1) + timedelta(hours=day * 24 * 7 / slots) + timedelta(minutes=(index * 7) % (24 * 60))
                slot_id = f"creator{index:05d}:bench:{day}"
                slot_rows.append({"id": slot_id, "creator_id": creator_id, "scheduled_at": when, "local_time": when.isoformat(),
                                  "kind": "weekly", "peak": False, "created_at": now, "updated_at": now})
                status = ReelStatus.RENDERED if when <= now else ReelStatus.APPROVED
                counts[status.value] += 1
                reel_rows.append({"creator_id": creator_id, "slot_id": slot_id, "status": status, "script": "A reel.", "caption": "A reel.",
                                  "hashtags": [], "artifacts": {"video": "/nonexistent.mp4"} if status == ReelStatus.RENDERED else {},
                                  "publish_state": {}, "approved_at": now, "approved_by": "bench", "created_at": now, "updated_at": now})
        for start in range(0, len(slot_rows), 10_000):
            session.execute(insert(Slot), slot_rows[start:start + 10_000])
            session.execute(insert(Reel), reel_rows[start:start + 10_000])
        session.commit()
    return counts


def bench_sweep(creators: int, slots: int) -> list[str]:
    from sqlmodel import Session

    from agent.db.engine import make_engine
    from agent.db.models import utcnow
    from agent.jobs.dispatch import Dispatcher

    lines = []
    with ScratchDatabase() as db_url, tempfile.TemporaryDirectory() as folder:
        settings = _settings(Path(folder), db_url)
        now = utcnow()
        started = time.perf_counter()
        counts = _fill(db_url, creators, slots, now)
        print(f"  filled {creators:,} creators × {slots} slots in {time.perf_counter() - started:.1f} s "
              f"({counts['approved']:,} approved, {counts['rendered']:,} rendered)", file=sys.stderr, flush=True)
        with make_engine(db_url).begin() as connection:
            connection.exec_driver_sql("ANALYZE")   # fresh statistics, as autovacuum would have them after a bulk load
        _flush_redis()
        import redis

        cap = settings.workers.max_queued
        for label, max_queued in ((f"workers.max_queued = {cap:,}", cap), ("no cap: every due reel at once", 1_000_000)):
            settings.workers.max_queued = max_queued
            _flush_redis()
            dispatcher = Dispatcher(settings, worker="bench:scheduler")
            for run in range(2):
                with Session(make_engine(db_url), expire_on_commit=False) as session:
                    started = time.perf_counter()
                    render = dispatcher.sweep_render(session, now=now)
                    publish = dispatcher.sweep_publish(session, now=now)
                    elapsed = time.perf_counter() - started
                lines.append(f"| dispatch sweep {'(first)' if run == 0 else '(again, nothing changed)'}, {label}, over {creators:,} creators × "
                             f"{slots} slots ({creators * slots:,} reels) | {elapsed * 1000:.0f} ms | {render.sent:,} renders + {publish.sent:,} "
                             f"publishes sent, {render.queued + publish.queued:,} already queued, {render.held_back + publish.held_back:,} held back "
                             "| ≤ 1000 ms |")
            queued = {name: redis.Redis.from_url(REDIS_URL).llen(name) for name in ("render", "publish")}
            lines.append(f"| messages on Redis after both sweeps ({label}) | {queued['render']:,} render, {queued['publish']:,} publish | "
                         "each sent reel once | |")
            dispatcher.close()
        _flush_redis()
    return lines


def bench_planning(plan_creators: int, baseline_creators: int) -> list[str]:
    """The scheduler's plan sweep (Service.sweep_plan) over ``plan_creators`` calendar files, and the old way (sync_plan
    for every calendar, every sweep) on ``baseline_creators`` of them in the same database, as the baseline."""
    from sqlmodel import Session

    from agent.content_calendar.loader import load_calendar
    from agent.content_calendar.planner import sync_plan
    from agent.db.engine import make_engine
    from agent.db.models import utcnow
    from agent.scheduler.service import Service
    from agent.settings import load_settings

    with ScratchDatabase() as db_url, tempfile.TemporaryDirectory(prefix="reeltwin-scale-") as tmp:
        project = _calendar_project(Path(tmp), plan_creators, db_url, "[scheduler]\ndraft_ahead = false\n")
        settings = load_settings(project).settings
        service = Service(settings, project)
        timings = {}
        for label in ("cold", "steady", "steady again"):
            started = time.perf_counter()
            summary = service.sweep_plan().summary
            timings[label] = (time.perf_counter() - started, summary)
            print(f"  plan sweep ({label}): {timings[label][0]:.2f} s — {summary}", file=sys.stderr, flush=True)
        edited = project / "calendar" / "creator00007.yaml"
        edited.write_text(edited.read_text(encoding="utf-8").replace('time: "12:30"', 'time: "14:15"'), encoding="utf-8")
        started = time.perf_counter()
        summary = service.sweep_plan().summary
        timings["one calendar edited"] = (time.perf_counter() - started, summary)
        # A restart: a new process parses every file again, but the plans stored on the creators' rows still hold.
        restarted = Service(settings, project)
        started = time.perf_counter()
        summary = restarted.sweep_plan().summary
        timings["after a restart"] = (time.perf_counter() - started, summary)
        print(f"  plan sweep (after a restart): {timings['after a restart'][0]:.2f} s — {summary}", file=sys.stderr, flush=True)
        restarted.close()
        # The baseline: what every sweep did before, sync_plan for every calendar (nothing to change), per creator.
        calendars = [load_calendar(project / "calendar" / f"creator{n:05d}.yaml").calendar for n in range(min(baseline_creators, plan_creators))]
        now = utcnow()
        with Session(make_engine(db_url), expire_on_commit=False) as session:
            started = time.perf_counter()
            for calendar in calendars:
                sync_plan(session, calendar, now=now, days=14)
            per = (time.perf_counter() - started) / len(calendars)
        service.close()
    steady = timings["steady again"][0]
    old = per * plan_creators
    lines = [f"| plan sweep, first (parse {plan_creators:,} calendar files, plan every creator) | {timings['cold'][0]:.1f} s | | once per start |"]
    for label in ("steady", "steady again", "one calendar edited", "after a restart"):
        seconds, summary = timings[label]
        lines.append(f"| plan sweep, {label}: {summary} | {seconds * 1000:.0f} ms | {old:.1f} s before (sync_plan for every creator; "
                     f"{per * 1000:.2f} ms each, measured on {len(calendars):,}) — {old / seconds:.0f}× | ≤ 1 s with the dispatch sweep |")
    return lines


def _fill_drafts(db_url: str, now: datetime, days: int) -> dict[str, int]:
    """A reel on every open slot within ``days`` as the model would leave them: drafted, every 100th rejected (to be
    redrafted); every 50th creator also has an ad-hoc rejected reel. Bulk inserts: the setup is not what is measured."""
    from sqlalchemy import insert, select
    from sqlmodel import Session

    from agent.db.engine import make_engine
    from agent.db.models import Reel, ReelStatus, Slot

    slots = Slot.__table__
    counts = {"drafted": 0, "rejected": 0, "ad hoc": 0}
    with Session(make_engine(db_url)) as session:
        rows = session.execute(select(slots.c.id, slots.c.creator_id).where(slots.c.scheduled_at >= now, slots.c.scheduled_at < now + timedelta(days=days))
                               .order_by(slots.c.creator_id, slots.c.scheduled_at)).all()
        reels = []
        for n, (slot_id, creator_id) in enumerate(rows):
            status = ReelStatus.REJECTED if n % 100 == 99 else ReelStatus.DRAFTED
            counts[status.value] += 1
            reels.append({"creator_id": creator_id, "slot_id": slot_id, "status": status, "script": "A reel.", "caption": "A reel.", "hashtags": [],
                          "artifacts": {}, "publish_state": {}, "created_at": now, "updated_at": now})
        for creator_id in sorted({creator_id for _slot, creator_id in rows})[::50]:
            counts["ad hoc"] += 1
            reels.append({"creator_id": creator_id, "slot_id": None, "status": ReelStatus.REJECTED, "script": "A reel.", "caption": "A reel.",
                          "hashtags": [], "artifacts": {}, "publish_state": {}, "created_at": now, "updated_at": now})
        for start in range(0, len(reels), 10_000):
            session.execute(insert(Reel), reels[start:start + 10_000])
        session.commit()
    return counts


def bench_drafting(plan_creators: int, baseline_creators: int) -> list[str]:
    """The scheduler's draft sweep (Service.sweep_draft finding the work; no model runs: the work found is counted, not
    drafted) and policy sweep (Service.sweep_policies) over ``plan_creators`` calendar files, every calendar on
    ``auto_after_hours: 24`` (the heavy case: with ``manual`` the policy sweep reads nothing); the baseline is the
    old code (sync_plan and a few queries per calendar; apply_approval_policy per calendar, kept in
    tests/test_draft_bulk.py as the tests' reference) timed on ``baseline_creators`` of them in the same run."""
    from sqlalchemy import text
    from sqlmodel import Session

    import agent.drafting.service as drafting
    from agent.content_calendar.loader import load_calendar
    from agent.db.engine import make_engine
    from agent.db.models import utcnow
    from agent.scheduler.service import Service
    from agent.settings import load_settings
    from test_draft_bulk import reference_find_work, reference_policy

    def auto_approving(text: str) -> str:
        return text.replace("approval: manual", "approval:\n  auto_after_hours: 24")

    found: list[tuple[int, float]] = []   # (work found, seconds in find_work) per draft sweep
    real_find_work = drafting.find_work

    def counting(*args: object, **kwargs: object) -> list:   # the sweep's own find_work; nothing is drafted
        started = time.perf_counter()
        work = real_find_work(*args, **kwargs)
        found.append((len(work), time.perf_counter() - started))
        return []

    drafting.find_work = counting
    try:
        with ScratchDatabase() as db_url, tempfile.TemporaryDirectory(prefix="reeltwin-scale-") as tmp:
            project = _calendar_project(Path(tmp), plan_creators, db_url, edit=auto_approving)
            settings = load_settings(project).settings
            now = utcnow()
            service = Service(settings, project, clock=lambda: now)
            started = time.perf_counter()
            service.sweep_plan()
            print(f"  plan sweep (cold): {time.perf_counter() - started:.2f} s", file=sys.stderr, flush=True)
            rows: list[tuple[str, float, str]] = []

            def sweep(label: str, run: Callable[[], object]) -> None:
                started = time.perf_counter()
                summary = run().summary
                elapsed = time.perf_counter() - started
                if label.startswith("draft"):
                    summary = f"{found[-1][0]:,} found; {found[-1][1] * 1000:.0f} ms of it in find_work"
                rows.append((label, elapsed, summary))
                print(f"  {label}: {elapsed:.2f} s — {summary}", file=sys.stderr, flush=True)

            sweep("draft sweep, first", service.sweep_draft)
            lead = settings.drafting.lead_days
            counts = _fill_drafts(db_url, now, lead)
            with make_engine(db_url).begin() as connection:
                connection.exec_driver_sql("ANALYZE")
            for label in ("draft sweep, steady", "draft sweep, steady again"):
                sweep(label, service.sweep_draft)
            edited = project / "calendar" / "creator00007.yaml"
            edited.write_text(edited.read_text(encoding="utf-8").replace('time: "12:30"', 'time: "14:15"'), encoding="utf-8")
            sweep("draft sweep, one calendar edited (planned by the draft sweep)", service.sweep_draft)
            # 1 % of the drafts untouched for more than 24 h: the first policy sweep approves them, the next finds nothing.
            with make_engine(db_url).begin() as connection:
                aged = connection.execute(text("UPDATE reel SET updated_at = :old WHERE status = 'drafted' AND id % 100 = 1"),
                                          {"old": now - timedelta(hours=25)}).rowcount
            sweep("policy sweep, first", service.sweep_policies)
            sweep("policy sweep, steady", service.sweep_policies)
            sweep("policy sweep, steady again", service.sweep_policies)
            service.close()
            # The baselines: what every sweep did before, per creator, on the same database (nothing left to change).
            calendars = [load_calendar(project / "calendar" / f"creator{n:05d}.yaml").calendar for n in range(min(baseline_creators, plan_creators))]
            paths = {calendar.handle: f"calendar/{calendar.handle}.yaml" for calendar in calendars}   # as the sweeps name them
            with Session(make_engine(db_url), expire_on_commit=False) as session:
                started = time.perf_counter()
                old_found = len(reference_find_work(session, calendars, now=now, days=lead, paths=paths))
                per_draft = (time.perf_counter() - started) / len(calendars)
            with Session(make_engine(db_url), expire_on_commit=False) as session:
                started = time.perf_counter()
                for calendar in calendars:
                    reference_policy(session, calendar, now=now, render_lead=timedelta(hours=settings.scheduler.render_lead_hours))
                per_policy = (time.perf_counter() - started) / len(calendars)
            print(f"  old find_work: {per_draft * 1000:.2f} ms per creator ({old_found} found on {len(calendars)}); "
                  f"old policies: {per_policy * 1000:.2f} ms per creator", file=sys.stderr, flush=True)
    finally:
        drafting.find_work = real_find_work
    what = {
        "draft sweep, first": f"right after the first plan sweep, every slot within drafting.lead_days = {lead} open",
        "draft sweep, steady": f"a reel on every slot: {counts['drafted']:,} drafted, {counts['rejected']:,} rejected; "
                               f"{counts['ad hoc']:,} ad-hoc rejected reels",
        "policy sweep, first": f"{aged:,} drafts older than 24 h",
    }
    lines = []
    for label, seconds, summary in rows:
        draft = label.startswith("draft")
        per, baseline = (per_draft, "sync_plan and 2–3 queries for every creator") if draft else (per_policy, "apply_approval_policy for every creator")
        old = per * plan_creators
        detail = f"{what[label]}: {summary}" if label in what else summary
        # The first sweeps do the work of a new install (every slot open) or of due drafts (a write per approval).
        target = "" if label.endswith("first") else "≤ 1 s"
        lines.append(f"| {label} over {plan_creators:,} creators ({detail}) | {seconds * 1000:.0f} ms | {old:.1f} s before ({baseline}; "
                     f"{per * 1000:.2f} ms each, measured on {len(calendars):,}) — {old / seconds:.0f}× | {target} |")
    return lines


def _start_worker(project: Path, env: dict[str, str], log: Path) -> subprocess.Popen:
    reeltwin = Path(sys.executable).with_name("reeltwin")
    command = [str(reeltwin)] if reeltwin.exists() else [sys.executable, "-m", "agent"]
    return subprocess.Popen([*command, "worker", "--queues", "render", "--concurrency", "1", "--loglevel", "INFO"], cwd=project, env=env,
                            stdin=subprocess.DEVNULL, stdout=log.open("a"), stderr=subprocess.STDOUT, start_new_session=True)


def _cpu_use(pids: list[int]) -> tuple[float, float] | None:
    """(CPU seconds the whole machine has been busy, CPU seconds of the processes ``pids``) from /proc (Linux; None
    elsewhere): what else ran during a throughput run (PostgreSQL, this bench, anyone else's work) is the difference."""
    try:
        tick = os.sysconf("SC_CLK_TCK")
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
        busy = sum(int(fields[index]) for index in (0, 1, 2, 5, 6)) / tick   # user, nice, system, irq, softirq
        own = 0.0
        for pid in pids:
            stat = Path(f"/proc/{pid}/stat").read_text()
            after = stat[stat.rindex(")") + 2:].split()
            own += (int(after[11]) + int(after[12])) / tick     # utime, stime
        return busy, own
    except (OSError, ValueError, IndexError):
        return None


def bench_throughput(renders: int, render_seconds: float) -> tuple[list[str], float | None]:
    import signal

    from sqlalchemy import func, text
    from sqlmodel import Session, select

    import standin_render
    from agent.db.engine import make_engine
    from agent.db.models import Avatar, Creator, Reel, ReelStatus, utcnow
    from agent.jobs.dispatch import Dispatcher
    from cli_helpers import make_test_video

    standin_render._busy(0.01)   # calibrate once here: every worker then does the same amount of work per reel
    rate = standin_render._ROUNDS_PER_S
    results: dict[int, float] = {}
    lines = []
    with ScratchDatabase() as db_url, tempfile.TemporaryDirectory() as folder:
        project = Path(folder)
        settings = _settings(project, db_url, imports=["standin_render"], renderer="standin")
        video = make_test_video(settings.data_dir / "standin.mp4")
        env = {key: value for key, value in os.environ.items() if not key.startswith("REELTWIN_")}
        env.update(PYTHONPATH=os.pathsep.join([str(REPO / "tests"), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
                   REELTWIN_TEST_STANDIN_VIDEO=str(video), REELTWIN_TEST_STANDIN_SECONDS=str(render_seconds),
                   REELTWIN_TEST_STANDIN_WORK="cpu", REELTWIN_TEST_STANDIN_ROUNDS_PER_S=str(rate))
        engine = make_engine(db_url)
        now = utcnow()
        with Session(engine) as session:
            creator = Creator(handle="bench", timezone="UTC", persona={})
            session.add(creator)
            session.commit()
            session.add(Avatar(name="bench", creator_id=creator.id, photo_path=str(video), photo_sha256="0" * 64, consent_at=now,
                               consent_by="bench", consent_text="bench"))
            session.commit()
            creator_id = creator.id
        for count in (1, 2):
            _flush_redis()
            with Session(engine) as session:
                session.execute(text("TRUNCATE reelevent, scriptversion, reel RESTART IDENTITY CASCADE"))
                session.add_all([Reel(creator_id=creator_id, status=ReelStatus.APPROVED, script=f"Reel {n}.", caption=f"Reel {n}.",
                                      publish_at=now, approved_at=now, approved_by="bench") for n in range(renders)])
                session.commit()
            log = project / f"workers-{count}.log"
            workers = [_start_worker(project, env, log) for _ in range(count)]
            try:
                deadline = time.monotonic() + 120
                while log.read_text(errors="replace").count(" ready.") < count and time.monotonic() < deadline:
                    time.sleep(0.1)
                dispatcher = Dispatcher(settings, worker="bench:scheduler")
                cpu_before = _cpu_use([worker.pid for worker in workers])
                started = time.perf_counter()
                with Session(engine) as session:
                    dispatcher.sweep_render(session, now=utcnow())
                dispatcher.close()
                done = 0
                deadline = time.monotonic() + max(120.0, renders * render_seconds * 4)
                # One connection and a count every 50 ms: the bench's own share of the two cores stays small (a new
                # session per look, with the pool's ping and every id fetched, took CPU the workers then lacked).
                counting = select(func.count()).select_from(Reel).where(Reel.status == ReelStatus.RENDERED)
                with engine.connect() as connection:
                    while done < renders and time.monotonic() < deadline:
                        time.sleep(0.05)
                        done = connection.execute(counting).scalar_one()
                        connection.rollback()   # no snapshot held open between looks
                elapsed = time.perf_counter() - started
                cpu_after = _cpu_use([worker.pid for worker in workers])
            finally:
                for worker in workers:
                    os.killpg(worker.pid, signal.SIGTERM)
                for worker in workers:
                    try:
                        worker.wait(timeout=20)
                    except subprocess.TimeoutExpired:
                        os.killpg(worker.pid, signal.SIGKILL)
            if done < renders:
                lines.append(f"| {count} worker(s) | only {done} of {renders} rendered in {elapsed:.0f} s | | |")
                continue
            results[count] = renders / elapsed
            share = ""
            if cpu_before is not None and cpu_after is not None:
                busy, mine = cpu_after[0] - cpu_before[0], cpu_after[1] - cpu_before[1]
                share = (f"; the workers used {mine:.1f} CPU-s, everything else on the machine {max(0.0, busy - mine):.1f} CPU-s "
                         f"(of {elapsed * (os.cpu_count() or 1):.1f})")
            lines.append(f"| stand-in renders, {count} worker(s) | {results[count]:.2f} reels/s ({renders} reels in {elapsed:.1f} s, "
                         f"{render_seconds:.2f} s CPU each) | ideal {count / render_seconds:.2f} reels/s{share} | |")
        _flush_redis()
    ratio = results[2] / results[1] if 1 in results and 2 in results else None
    if ratio is not None:
        lines.append(f"| speed-up with 2 workers | {ratio:.2f}× | | ≥ 1.8× |")
    return lines, ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1,000 creators, 40 renders, 1,000 calendars planned")
    parser.add_argument("--creators", type=int, default=None)
    parser.add_argument("--slots", type=int, default=7)
    parser.add_argument("--plan-creators", type=int, default=None)
    parser.add_argument("--renders", type=int, default=None)
    parser.add_argument("--render-seconds", type=float, default=0.25)
    parser.add_argument("--only", choices=("sweep", "planning", "drafting", "throughput"), action="append", default=None,
                        help="run only this part (repeatable); the table then holds only it")
    parser.add_argument("--out", type=Path, default=None, help="write the table here (default bench/results/scale.md; --quick: scale-quick.md)")
    args = parser.parse_args()
    reason = _unavailable()
    if reason:
        print(f"bench/scale.py skipped: {reason}")
        return
    creators = args.creators or (1_000 if args.quick else 10_000)
    plan_creators = args.plan_creators or (1_000 if args.quick else 10_000)
    renders = args.renders or (40 if args.quick else 80)
    load_start = os.getloadavg()
    parts = set(args.only or ("sweep", "planning", "drafting", "throughput"))
    rows = []
    if "sweep" in parts:
        print("running the dispatch sweep ...", file=sys.stderr, flush=True)
        rows += bench_sweep(creators, args.slots)
    if "planning" in parts:
        print("running planning ...", file=sys.stderr, flush=True)
        rows += bench_planning(plan_creators, baseline_creators=min(plan_creators, 1_000))
    if "drafting" in parts:
        print("running the draft and policy sweeps ...", file=sys.stderr, flush=True)
        rows += bench_drafting(plan_creators, baseline_creators=min(plan_creators, 1_000))
    if "throughput" in parts:
        print("running throughput ...", file=sys.stderr, flush=True)
        throughput, _ratio = bench_throughput(renders, args.render_seconds)
        rows += throughput
    load_end = os.getloadavg()
    header = (f"ReelTwin scale benchmark — {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.processor() or platform.machine()}, "
              f"{os.cpu_count()} CPUs, Python {platform.python_version()}; load average {load_start[0]:.2f} at start, {load_end[0]:.2f} at end")
    table = "\n".join([header, "", "| what | measured | for comparison | target |", "|---|---|---|---|", *rows]) + "\n"
    print(table)
    out = args.out or REPO / "bench" / "results" / ("scale-quick.md" if args.quick or args.only else "scale.md")
    out.parent.mkdir(exist_ok=True)
    out.write_text(table, encoding="utf-8")


if __name__ == "__main__":
    main()
