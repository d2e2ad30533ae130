"""Rendering and publishing on Celery workers (workers.backend = "celery"), against the real services on loopback:
PostgreSQL, Redis, RabbitMQ (each test skips with the reason when its service is unreachable).

The proof: a real `reeltwin run` (the scheduler, which only plans and enqueues) and two real `reeltwin worker`
processes publish 200 reels of 20 creators, rendered by a fast stand-in renderer registered through the real
registry (tests/standin_render.py), to a local fake Graph API, while one worker is SIGKILLed in the middle of a
task and started again. Every reel is published exactly once, and the database agrees with the server.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import signal
import subprocess
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from cli_helpers import REELTWIN, clean_env, make_test_video, reeltwin
from fake_graph import FakeGraph
from sqlalchemy import select
from sqlmodel import Session

from agent.db.engine import make_engine, upgrade
from agent.db.models import Avatar, Creator, Reel, ReelEvent, ReelStatus, utcnow
from agent.settings import Settings, load_settings

TESTS = Path(__file__).resolve().parent
REDIS_URL = os.environ.get("REELTWIN_TEST_REDIS_URL", "redis://127.0.0.1:6379/11")
AMQP_URL = os.environ.get("REELTWIN_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")


def _broker_reason(url: str) -> str | None:
    try:
        import kombu
    except ImportError:
        return "celery is not installed (pip install 'reeltwin[workers]')"
    try:
        with kombu.Connection(url, connect_timeout=3) as connection:
            connection.ensure_connection(max_retries=1, timeout=3)
    except Exception as error:  # any failure means "not available here"
        return f"the broker at {url} is unreachable: {str(error).splitlines()[0] if str(error) else type(error).__name__}"
    return None


@pytest.fixture
def pg(postgres_url: str) -> str:
    """The session's PostgreSQL test database, migrated and emptied."""
    from conftest import _truncate

    engine = make_engine(postgres_url)
    upgrade(engine)
    _truncate(engine)
    return postgres_url


def _settings_toml(db_url: str, broker: str, graph: FakeGraph) -> str:
    return f"""
[database]
url = "{db_url}"
[scheduler]
sweep_interval_s = 5
draft_ahead = false
publish_grace_minutes = 1440
render_lease_minutes = 1
publish_lease_minutes = 1
max_attempts = 40
backoff_base_s = 1
[publishing]
backend = "graph"
graph_ig_user_id = "{graph.ig_user_id}"
graph_access_token = "{graph.access_token}"
graph_api_base = "{graph.base_url}"
media_base_url = "https://reels.example.test/public"
[web]
secret_key = "media-secret-0123456789-abcdef"
[workers]
backend = "celery"
broker_url = "{broker}"
visibility_timeout_s = 60
imports = ["standin_render"]
renderer = "standin"
"""


def _project(tmp_path: Path, db_url: str, broker: str, graph: FakeGraph, *, creators: int, reels: int) -> Settings:
    """A project whose approved reels (``reels``, spread over ``creators``) are all due now."""
    from cryptography.fernet import Fernet

    from agent.publish_accounts import save_account, secret_box

    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "settings.toml").write_text(_settings_toml(db_url, broker, graph), encoding="utf-8")
    (tmp_path / ".env").write_text(f"REELTWIN_ACCOUNTS__SECRET_KEY={Fernet.generate_key().decode()}\n", encoding="utf-8")
    settings = load_settings(tmp_path).settings
    make_test_video(settings.data_dir / "standin.mp4")
    now = utcnow()
    with Session(make_engine(db_url)) as session:
        people = [Creator(handle=f"creator{n:02d}", timezone="UTC", persona={}) for n in range(creators)]
        session.add_all(people)
        session.commit()
        # Each creator publishes to an account of its own (here all on the one fake Graph server and its one user id).
        for creator in people:
            save_account(session, settings, creator.handle, "graph", box=secret_box(settings), secret=graph.access_token,
                         ig_user_id=graph.ig_user_id, api_base=graph.base_url, token_expires_at=now + timedelta(days=50))
        # One enrolled avatar: the render job's inputs (the stand-in renderer does not look at the photo).
        session.add(Avatar(name="agency", photo_path=str(settings.data_dir / "photo.png"), photo_sha256="0" * 64, consent_at=now,
                           consent_by="test", consent_text="test"))
        for n in range(reels):
            creator = people[n % creators]
            session.add(Reel(creator_id=creator.id, status=ReelStatus.APPROVED, script=f"Reel {n} of @{creator.handle}.",
                             caption=f"@{creator.handle} reel #{n:03d}", hashtags=["#agency"], publish_at=now - timedelta(minutes=1),
                             approved_at=now, approved_by="test"))
        session.commit()
    return settings


def _env(settings: Settings) -> dict[str, str]:
    path = os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return clean_env(PYTHONPATH=path, REELTWIN_TEST_STANDIN_VIDEO=str(settings.data_dir / "standin.mp4"), REELTWIN_TEST_STANDIN_SECONDS="0.3")


def _start(project: Path, settings: Settings, args: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen([*REELTWIN, *args], cwd=project, env=_env(settings), stdin=subprocess.DEVNULL, stdout=log.open("a"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _purge(settings: Settings) -> None:
    """Nothing left on the queues by an earlier run."""
    from agent.jobs.celery_app import make_app

    url = settings.workers.broker_url.get_secret_value()
    if url.startswith("redis"):
        import redis

        redis.Redis.from_url(url).flushdb()
    else:
        app = make_app(settings)
        app.control.purge()
        app.close()


def _held_by(engine, pid: int, *, since: timedelta | None = None, status: ReelStatus | None = None) -> tuple[int, str] | None:  # noqa: ANN001
    """The reel the worker with ``pid`` is working on right now (rendering or publishing; claimed within ``since``), if any."""
    statuses = [status] if status is not None else [ReelStatus.RENDERING, ReelStatus.PUBLISHING]
    query = select(Reel.id, Reel.status).where(Reel.status.in_(statuses), Reel.claimed_by.like(f"%:{pid}"))
    if since is not None:
        query = query.where(Reel.claimed_at >= utcnow() - since)
    with Session(engine) as session:
        row = session.execute(query).first()
    return (row[0], str(row[1])) if row else None


def _statuses(engine) -> Counter:  # noqa: ANN001
    with Session(engine) as session:
        return Counter(str(status) for status in session.execute(select(Reel.status)).scalars())


def _prove(tmp_path: Path, db_url: str, broker: str, *, creators: int, reels: int, kill_after: int, budget_s: float,
           kill_in: ReelStatus) -> str:
    """Scheduler + two workers; kill one in the middle of a task (``kill_in``: rendering or publishing) once ``kill_after``
    reels are out, start it again; check exactly-once."""
    from fake_graph import Fault

    log = tmp_path / "processes.log"
    with FakeGraph(polls_to_finish=0, quota_total=100_000) as graph:
        if kill_in == ReelStatus.PUBLISHING:
            # creating a container takes 0.4 s (Instagram fetching the video): a window to kill a publish in
            graph.chaos = lambda endpoint: Fault.hang(0.4) if endpoint == "create" else None
        settings = _project(tmp_path, db_url, broker, graph, creators=creators, reels=reels)
        _purge(settings)
        engine = make_engine(db_url)
        started = time.monotonic()
        deadline = started + budget_s
        scheduler = _start(tmp_path, settings, ["run", "--no-web"], log)
        workers = [_start(tmp_path, settings, ["worker", "--concurrency", "1"], log) for _ in range(2)]
        killed: tuple[int, str] | None = None
        kills = 0
        try:
            while killed is None and time.monotonic() < deadline:
                assert all(p.poll() is None for p in [scheduler, *workers]), log.read_text()[-4000:]
                # a task it started a moment ago (a stand-in render takes 0.3 s): the kill lands inside it
                if len(graph.published()) >= kill_after and _held_by(engine, workers[0].pid, since=timedelta(seconds=0.1), status=kill_in) is not None:
                    os.killpg(workers[0].pid, signal.SIGKILL)
                    workers[0].wait()
                    killed = _held_by(engine, workers[0].pid)       # what it held when it died (still claimed by it)
                    workers[0] = _start(tmp_path, settings, ["worker", "--concurrency", "1"], log)
                    kills += 1
                    assert kills <= 5, "five kills, none inside a task"   # between tasks: harmless, but proves nothing; again
                time.sleep(0.01)
            assert killed is not None, f"no worker was caught mid-task in time; log:\n{log.read_text()[-4000:]}"
            while _statuses(engine).get("published", 0) < reels and time.monotonic() < deadline:
                assert all(p.poll() is None for p in [scheduler, *workers]), log.read_text()[-4000:]
                time.sleep(0.2)
        finally:
            for process in [scheduler, *workers]:
                _stop(process)
        elapsed = time.monotonic() - started
        statuses = _statuses(engine)
        assert statuses == {"published": reels}, f"{statuses} after {elapsed:.0f} s; log:\n{log.read_text()[-4000:]}"

        on_server = {media.id: media for media in graph.published()}
        with Session(engine) as session:
            rows = list(session.execute(select(Reel)).scalars())
            events = list(session.execute(select(ReelEvent).where(ReelEvent.reel_id == killed[0])).scalars())
            actors = {event.actor for event in session.execute(select(ReelEvent).where(ReelEvent.to_status.in_(["rendered", "published"]))).scalars()}
        captions = [media.caption for media in on_server.values()]
        assert len(on_server) == reels and len(set(captions)) == reels, "a reel was published twice"
        assert {reel.media_id for reel in rows} == set(on_server), "the database and the Graph API disagree"
        for reel in rows:
            assert on_server[reel.media_id].caption.startswith(reel.caption), (reel.id, reel.caption)
        # the killed task's reel was finished by another process after the lease: released (render) or taken over (publish)
        reasons = " | ".join(event.reason or "" for event in events)
        if killed[1] == "rendering":
            assert "abandoned" in reasons, reasons
        else:
            assert "resuming an abandoned publish attempt" in log.read_text()
        assert len(actors) >= (3 if killed[1] == "rendering" else 2), actors   # both workers worked (and the restarted one, after a render kill)
        return (f"{reels} reels of {creators} creators published once each in {elapsed:.0f} s; {kills} kill(s), the last while "
                f"{killed[1]} reel {killed[0]}; {len(graph.requests)} Graph requests")


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.timeout(600)
def test_two_workers_over_redis_publish_200_reels_exactly_once_through_a_sigkill(tmp_path: Path, pg: str) -> None:
    reason = _broker_reason(REDIS_URL)
    if reason:
        pytest.skip(reason)
    print(_prove(tmp_path, pg, REDIS_URL, creators=20, reels=200, kill_after=40, budget_s=420, kill_in=ReelStatus.RENDERING))


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.timeout(600)
def test_two_workers_over_rabbitmq_publish_exactly_once_through_a_sigkill_mid_publish(tmp_path: Path, pg: str) -> None:
    reason = _broker_reason(AMQP_URL)
    if reason:
        pytest.skip(reason)
    print(_prove(tmp_path, pg, AMQP_URL, creators=4, reels=24, kill_after=4, budget_s=300, kill_in=ReelStatus.PUBLISHING))


@pytest.mark.postgres
def test_a_redelivered_task_does_nothing_the_claim_decides(tmp_path: Path, pg: str) -> None:
    """The task bodies, in-process: a second delivery of a render or publish task finds the reel done and posts nothing."""
    import standin_render  # noqa: F401 - registers "standin"

    from agent.jobs.celery_app import _Publishers, run_publish, run_render

    with FakeGraph(polls_to_finish=0) as graph:
        settings = _project(tmp_path, pg, REDIS_URL, graph, creators=1, reels=1)
        settings.workers.imports = []
        os.environ["REELTWIN_TEST_STANDIN_VIDEO"] = str(settings.data_dir / "standin.mp4")
        os.environ["REELTWIN_TEST_STANDIN_SECONDS"] = "0"
        try:
            with Session(make_engine(pg)) as session:
                reel_id = session.execute(select(Reel.id)).scalar_one()
            publishers = _Publishers(settings)
            assert run_render(settings, reel_id) == "rendered"
            assert run_render(settings, reel_id) == "not claimed"
            assert run_publish(settings, reel_id, publishers=publishers) == "published"
            assert run_publish(settings, reel_id, publishers=publishers).startswith("nothing to do")
            assert len(graph.published()) == 1
        finally:
            os.environ.pop("REELTWIN_TEST_STANDIN_VIDEO", None)
            os.environ.pop("REELTWIN_TEST_STANDIN_SECONDS", None)
            publishers.close()


@pytest.mark.parametrize("command", [["worker"], ["run", "--once"]])
def test_celery_with_sqlite_is_refused_in_one_line_naming_postgresql(tmp_path: Path, command: list[str]) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "settings.toml").write_text('[workers]\nbackend = "celery"\n', encoding="utf-8")
    result = reeltwin(tmp_path, *command)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "PostgreSQL" in lines[0] and "database.url" in lines[0], result.stderr
    assert not (tmp_path / "data" / "reeltwin.db").exists()   # refused before anything was created


def test_a_worker_names_a_wrong_queue_and_a_local_backend_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "settings.toml").write_text('[workers]\nbackend = "local"\n', encoding="utf-8")
    result = reeltwin(tmp_path, "worker")
    assert result.returncode == 2 and 'workers.backend = "celery"' in result.stderr and len(result.stderr.strip().splitlines()) == 1
    (tmp_path / "config" / "settings.toml").write_text('[workers]\nbackend = "celery"\nbroker_url = "http://127.0.0.1:6379"\n', encoding="utf-8")
    result = reeltwin(tmp_path, "worker")
    assert result.returncode == 2 and "workers.broker_url" in result.stderr and "redis://" in result.stderr


@pytest.mark.postgres
def test_the_scheduler_sends_each_due_reel_once_and_at_most_max_queued(tmp_path: Path, pg: str) -> None:
    """The dispatch sweep: due reels go to the render queue soonest first, a second sweep sends no copies, and no more
    than workers.max_queued wait on the queue (the next sweeps top it up)."""
    reason = _broker_reason(REDIS_URL)
    if reason:
        pytest.skip(reason)
    import redis

    from agent.jobs.dispatch import Dispatcher

    with FakeGraph() as graph:
        settings = _project(tmp_path, pg, REDIS_URL, graph, creators=2, reels=5)
    settings.workers.max_queued = 3
    _purge(settings)
    dispatcher = Dispatcher(settings, worker="test:scheduler")
    try:
        with Session(make_engine(pg)) as session:
            first = dispatcher.sweep_render(session, now=utcnow())
            again = dispatcher.sweep_render(session, now=utcnow())
            publish = dispatcher.sweep_publish(session, now=utcnow())
        assert (first.sent, first.queued, first.held_back) == (3, 0, 2)
        assert (again.sent, again.queued, again.held_back) == (0, 3, 2)
        assert publish.sent == 0                                  # nothing rendered yet
        assert redis.Redis.from_url(REDIS_URL).llen("render") == 3
    finally:
        dispatcher.close()
        _purge(settings)


# -- drafting on workers (the draft queue) ------------------------------------------------------------------------

REPO = TESTS.parent
RECORDED_DRAFT = json.loads((TESTS / "fixtures" / "openai" / "good_draft.json").read_text())["body"]


class _SlowLLM:
    """An OpenAI-compatible server answering every chat request with a recorded good draft after ``delay_s``;
    counts the requests (each one a draft being written) and those answered (the rest are in flight)."""

    def __init__(self, delay_s: float = 0.0):
        self.delay_s = delay_s
        self.requests = 0
        self.answered = 0
        self._lock = threading.Lock()

    def __enter__(self) -> str:
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers["Content-Length"]))
                with fake._lock:
                    fake.requests += 1
                time.sleep(fake.delay_s)
                body = json.dumps(RECORDED_DRAFT).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass     # the worker asking was killed
                with fake._lock:
                    fake.answered += 1

            def log_message(self, *_args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()


def _drafting_project(tmp_path: Path, db_url: str, broker: str, llm_url: str, *, handles: list[str]) -> Settings:
    (tmp_path / "calendar").mkdir()
    example = (REPO / "calendar" / "example.yaml").read_text(encoding="utf-8")
    for handle in handles:
        (tmp_path / "calendar" / f"{handle}.yaml").write_text(example.replace("handle: your.handle", f"handle: {handle}"), encoding="utf-8")
    (tmp_path / "config").mkdir(exist_ok=True)
    (tmp_path / "config" / "settings.toml").write_text(f"""
[database]
url = "{db_url}"
[drafting]
provider = "openai"
base_url = "{llm_url}"
model = "recorded"
lead_days = 7
max_retries = 0
[scheduler]
sweep_interval_s = 5
[workers]
backend = "celery"
broker_url = "{broker}"
visibility_timeout_s = 60
""", encoding="utf-8")
    return load_settings(tmp_path).settings


def _drafts_by_slot(engine) -> dict[str, list[str]]:  # noqa: ANN001
    with Session(engine) as session:
        rows = session.execute(select(Reel.slot_id, Reel.status).where(Reel.slot_id.is_not(None))).all()
    found: dict[str, list[str]] = {}
    for slot_id, status in rows:
        found.setdefault(slot_id, []).append(str(status))
    return found


@pytest.mark.postgres
def test_a_draft_task_delivered_twice_drafts_once_and_waits_for_a_worker_holding_the_slot(tmp_path: Path, pg: str) -> None:
    """The draft task's body in-process: a slot another worker holds is left to it; a second delivery finds the draft."""
    from agent.content_calendar.loader import load_calendar
    from agent.drafting.service import find_work, work_key
    from agent.jobs.celery_app import Drafter, draft_lock, run_draft

    with _SlowLLM() as llm_url:
        settings = _drafting_project(tmp_path, pg, REDIS_URL, llm_url, handles=["ana.cooks"])
        calendar = load_calendar(tmp_path / "calendar" / "ana.cooks.yaml").calendar
        engine = make_engine(pg)
        with Session(engine) as session:
            work = find_work(session, [calendar], now=utcnow(), days=7)
        assert work
        path = tmp_path / "calendar" / "ana.cooks.yaml"
        key, data = work_key(work[0]), {"file": path.name, "text": path.read_text(encoding="utf-8")}
        drafter = Drafter(settings)
        try:
            with draft_lock(engine, key) as mine:       # another worker is drafting it
                assert mine
                assert run_draft(settings, key, data, drafter=drafter) == "another worker is drafting it"
            assert run_draft(settings, key, data, drafter=drafter) == "drafted"
            assert run_draft(settings, key, data, drafter=drafter) == "nothing to do"
            assert run_draft(settings, "no-such-slot", data, drafter=drafter) == "nothing to do"
            assert run_draft(settings, key, {"handle": "x"}, drafter=drafter) == "bad calendar"
            assert run_draft(settings, key, {"file": path.name, "text": "handle: [unclosed"}, drafter=drafter) == "bad calendar"
        finally:
            drafter.close()
        assert _drafts_by_slot(engine) == {key: ["drafted"]}



@pytest.mark.postgres
def test_a_slot_the_model_fails_backs_off_on_the_worker_then_is_tried_with_a_new_seed(tmp_path: Path, pg: str) -> None:
    """The local scheduler's draft back-off, on a worker: a failed slot is not tried again by this worker before
    scheduler.backoff_base_s (doubled per failure), whatever the queue delivers; then it is, sampling anew."""
    import socket

    from agent.content_calendar.loader import load_calendar
    from agent.drafting.service import find_work, work_key
    from agent.jobs.celery_app import Drafter, run_draft

    with socket.socket() as probe:         # a port nothing listens on: every request fails at once
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    settings = _drafting_project(tmp_path, pg, REDIS_URL, f"http://127.0.0.1:{closed}/v1", handles=["ana.cooks"])
    path = tmp_path / "calendar" / "ana.cooks.yaml"
    engine = make_engine(pg)
    with Session(engine) as session:
        work = find_work(session, [load_calendar(path).calendar], now=utcnow(), days=7)
    key, data = work_key(work[0]), {"file": path.name, "text": path.read_text(encoding="utf-8")}
    drafter = Drafter(settings)
    try:
        assert run_draft(settings, key, data, drafter=drafter) == "failed"
        assert run_draft(settings, key, data, drafter=drafter) == "backing off"      # a copy, or the next sweep's send
        failures, not_before = drafter.failures[key]
        assert failures == 1 and 55 <= (not_before - utcnow()).total_seconds() <= 60     # backoff_base_s = 60
        drafter.failures[key] = (1, utcnow())            # its time has come
        assert run_draft(settings, key, data, drafter=drafter) == "failed"
        assert drafter.provider().seed_offset == 1000     # the retry asked with another seed
        failures, not_before = drafter.failures[key]
        assert failures == 2 and 115 <= (not_before - utcnow()).total_seconds() <= 120
    finally:
        drafter.close()
    assert _drafts_by_slot(engine) == {}


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.timeout(600)
def test_draft_workers_over_rabbitmq_draft_every_slot_once_through_a_sigkill_and_duplicates(tmp_path: Path, pg: str) -> None:
    """A real scheduler (which never loads a model in the Celery mode) and two real `reeltwin worker --queues draft`
    processes draft every open slot of two creators exactly once, while one worker is SIGKILLed in the middle of a
    draft (RabbitMQ hands its message to the other at once) and every slot is sent a second time."""
    reason = _broker_reason(AMQP_URL)
    if reason:
        pytest.skip(reason)
    from agent.content_calendar.loader import load_calendar
    from agent.drafting.service import find_work
    from agent.jobs.dispatch import Dispatcher

    log = tmp_path / "processes.log"
    llm = _SlowLLM(delay_s=0.8)
    with llm as llm_url:
        settings = _drafting_project(tmp_path, pg, AMQP_URL, llm_url, handles=["ana.cooks", "bob.lifts"])
        _purge(settings)
        engine = make_engine(pg)
        scheduler = _start(tmp_path, settings, ["run", "--no-web"], log)
        workers = [_start(tmp_path, settings, ["worker", "--queues", "draft", "--concurrency", "1"], log) for _ in range(2)]
        deadline = time.monotonic() + 300
        try:
            # Wait for the first drafts, then kill a worker while its draft request is in flight.
            while not _drafts_by_slot(engine) and time.monotonic() < deadline:
                assert all(p.poll() is None for p in [scheduler, *workers]), log.read_text()[-4000:]
                time.sleep(0.1)
            time.sleep(0.3)   # inside the next 0.8 s request
            os.killpg(workers[0].pid, signal.SIGKILL)
            workers[0].wait()
            workers[0] = _start(tmp_path, settings, ["worker", "--queues", "draft", "--concurrency", "1"], log)
            # Every open slot sent again, as a second scheduler would: the workers find them drafted or drafting.
            calendars = [load_calendar(path).calendar for path in sorted((tmp_path / "calendar").glob("*.yaml"))]
            duplicate = Dispatcher(settings, worker="test:duplicate")
            try:
                with Session(engine) as session:
                    work = find_work(session, calendars, now=utcnow(), days=7)
                    sources = {path.stem: path for path in (tmp_path / "calendar").glob("*.yaml")}
                    sent = duplicate.sweep_draft(session, work, now=utcnow(), sources=sources).sent
            finally:
                duplicate.close()
            with Session(engine) as session:
                expected = {item.slot.id for item in find_work(session, calendars, now=utcnow(), days=7)} | set(_drafts_by_slot(engine))
            assert expected and sent >= 1
            while set(_drafts_by_slot(engine)) != expected and time.monotonic() < deadline:
                assert all(p.poll() is None for p in [scheduler, *workers]), log.read_text()[-4000:]
                time.sleep(0.2)
            time.sleep(3)     # what is still on the queue (the duplicates) is taken and does nothing
        finally:
            for process in [scheduler, *workers]:
                _stop(process)
    drafts = _drafts_by_slot(engine)
    assert set(drafts) == expected, (sorted(expected - set(drafts)), log.read_text()[-3000:])
    assert all(statuses == ["drafted"] for statuses in drafts.values()), {k: v for k, v in drafts.items() if v != ["drafted"]}
    print(f"{len(drafts)} slots of 2 creators drafted once each by draft workers, {llm.requests} model requests, a worker SIGKILLed "
          f"mid-run, {sent} slots sent twice")


def test_compose_yaml_runs_one_scheduler_a_drafter_and_workers_on_queues_that_exist() -> None:
    """compose.yaml cannot be started here (no Docker): at least every command in it is one ReelTwin takes."""
    import yaml

    from agent.cli.worker_cmd import parse_queues

    services = yaml.safe_load((REPO / "compose.yaml").read_text(encoding="utf-8"))["services"]
    taken: set[str] = set()
    for name, service in services.items():
        command = service.get("command") or []
        if command[:2] == ["reeltwin", "worker"]:
            taken |= set(parse_queues(command[command.index("--queues") + 1]))
            assert service["environment"]["REELTWIN_WORKERS__BACKEND"] == "celery", name
    assert taken == {"draft", "render", "publish"}
    assert "exec reeltwin run" in " ".join(services["app"]["command"])


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.timeout(400)
def test_a_draft_worker_over_redis_drafts_each_slot_once_through_duplicates_and_a_sigkill_redelivery(tmp_path: Path, pg: str) -> None:
    """Over Redis (the default broker): two scheduler passes (`reeltwin run --once`, each a fresh process that
    remembers nothing it sent) put every open slot on the draft queue twice; a real `reeltwin worker --queues draft`
    drafts, is SIGKILLed while its model request is in flight and started again. Redis keeps the dead worker's
    message unacknowledged and hands it out again after workers.visibility_timeout_s (60 s here); every slot ends
    with exactly one draft, and the copies and the redelivered message do nothing."""
    reason = _broker_reason(REDIS_URL)
    if reason:
        pytest.skip(reason)
    import redis

    from agent.content_calendar.loader import load_calendar
    from agent.drafting.service import find_work

    log = tmp_path / "processes.log"
    fake = _SlowLLM(delay_s=1.0)
    with fake as llm_url:
        settings = _drafting_project(tmp_path, pg, REDIS_URL, llm_url, handles=["ana.cooks", "bob.lifts"])
        _purge(settings)
        broker = redis.Redis.from_url(REDIS_URL)
        engine = make_engine(pg)
        started = time.monotonic()
        for _ in range(2):
            result = reeltwin(tmp_path, "run", "--once", "--json")
            assert result.returncode == 0, result.stderr[-3000:]
            assert "sent to the draft queue" in result.stdout, result.stdout
        assert fake.requests == 0        # the scheduler never drafts in the Celery mode
        calendars = [load_calendar(path).calendar for path in sorted((tmp_path / "calendar").glob("*.yaml"))]
        with Session(engine) as session:
            expected = {item.slot.id for item in find_work(session, calendars, now=utcnow(), days=7)}
        assert len(expected) >= 4 and broker.llen("draft") == 2 * len(expected), (len(expected), broker.llen("draft"))
        worker = _start(tmp_path, settings, ["worker", "--queues", "draft", "--concurrency", "1"], log)
        deadline = time.monotonic() + 300
        try:
            # kill it while a draft is being written (its model request in flight), after it stored a couple
            while time.monotonic() < deadline:
                assert worker.poll() is None, log.read_text()[-4000:]
                if len(_drafts_by_slot(engine)) >= 2 and fake.requests > fake.answered:
                    break
                time.sleep(0.02)
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
            drafted_at_kill = set(_drafts_by_slot(engine))
            assert drafted_at_kill < expected
            assert broker.hlen("unacked") == 1, "the dead worker's message is not kept for redelivery"
            worker = _start(tmp_path, settings, ["worker", "--queues", "draft", "--concurrency", "1"], log)
            while time.monotonic() < deadline:
                assert worker.poll() is None, log.read_text()[-4000:]
                if set(_drafts_by_slot(engine)) == expected and broker.llen("draft") == 0 and broker.hlen("unacked") == 0:
                    break
                time.sleep(0.5)
        finally:
            _stop(worker)
        elapsed = time.monotonic() - started
    drafts = _drafts_by_slot(engine)
    assert set(drafts) == expected, (sorted(expected - set(drafts)), log.read_text()[-3000:])
    assert all(statuses == ["drafted"] for statuses in drafts.values()), {k: v for k, v in drafts.items() if v != ["drafted"]}
    assert broker.llen("draft") == 0 and broker.hlen("unacked") == 0, log.read_text()[-3000:]
    # What the workers' tasks returned: one draft per slot; every copy, and the dead worker's task delivered a
    # second time (same task id), found the slot drafted.
    text = log.read_text()
    received = Counter(re.findall(r"draft_slot\[([0-9a-f-]+)\] received", text))
    results = dict(re.findall(r"draft_slot\[([0-9a-f-]+)\] succeeded in [0-9.]+s: '([^']+)'", text))
    redelivered = [task for task, times in received.items() if times > 1]
    assert len(redelivered) == 1 and results[redelivered[0]] == "nothing to do", (received, results)
    assert Counter(results.values()) == {"drafted": len(expected), "nothing to do": len(expected)}, results
    print(f"{len(expected)} slots drafted once each over Redis in {elapsed:.0f} s: every slot sent twice, a worker SIGKILLed "
          f"mid-draft and its message redelivered; {fake.requests} model requests")
