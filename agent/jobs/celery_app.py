"""Render and publish work on Celery workers (``workers.backend = "celery"``), over Redis or RabbitMQ.

The database stays the schedule. The scheduler (`reeltwin run`) only plans and
sends work to the ``draft`` (a slot id and its calendar), ``render`` and ``publish``
(reel ids) queues (:mod:`agent.jobs.dispatch`);
a worker (`reeltwin worker`) runs the same job functions `reeltwin run` runs in
the local mode, and those claim the reel in the database first. So a task is
idempotent: delivered twice, redelivered after its worker died, or sent again by
the next sweep, it finds the reel already claimed by a live worker, or done, and
does nothing. Tasks are acknowledged late (after they ran) and handed back when
their worker dies, so a SIGKILL mid-render loses no work; the render lease and
the publish take-over (:mod:`agent.jobs.leases`) finish what the dead worker held.

Each reel goes to its own creator's account (:func:`agent.backends.make_publisher_for`).
Publishes of one account are serialized across all workers with a PostgreSQL
advisory lock: the publisher's check of the account's 24-hour publishing limit
and the post that follows it are one step, never two workers' interleaved steps.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, text
from sqlmodel import Session

from agent.errors import AgentError

if TYPE_CHECKING:
    from celery import Celery

    from agent.settings import Settings
    from publishing.base import Publisher

log = logging.getLogger(__name__)

DRAFT_TASK = "reeltwin.draft_slot"
RENDER_TASK = "reeltwin.render_reel"
PUBLISH_TASK = "reeltwin.publish_reel"
#: queue -> the task sent to it
QUEUES = {"draft": DRAFT_TASK, "render": RENDER_TASK, "publish": PUBLISH_TASK}


def require_postgres(settings: Settings) -> None:
    """Celery workers share one database: refuse SQLite (one machine's file) with the fix."""
    if not settings.database_url.startswith("postgresql"):
        raise AgentError('workers.backend = "celery" needs PostgreSQL: set database.url = "postgresql+psycopg://user:password@host/reeltwin" '
                         '(SQLite is one machine\'s file, and workers run elsewhere), or set workers.backend = "local"')


def broker_display(settings: Settings) -> str:
    """The broker URL with its password hidden, for messages and logs."""
    from agent.settings import redact_url

    return redact_url(settings.workers.broker_url.get_secret_value())


def make_app(settings: Settings) -> Celery:
    """The Celery app for these settings, with the draft, render and publish tasks registered on it."""
    try:
        from celery import Celery
        from kombu import Exchange, Queue
    except ImportError:
        raise AgentError("workers.backend = \"celery\" needs Celery: pip install 'reeltwin[workers]'") from None
    workers = settings.workers
    app = Celery("reeltwin", broker=workers.broker_url.get_secret_value(), set_as_current=False)
    app.conf.update(
        # A task is acknowledged after it ran, and handed back to the queue when its worker dies (SIGKILL, OOM):
        # the database claim makes running it again harmless.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,           # a worker holds one task at a time: a long render never hoards others
        # Redis: a task taken but not acknowledged within this is delivered again (longer than the longest render)
        broker_transport_options={"visibility_timeout": workers.visibility_timeout_s},
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,                 # the database holds every result
        task_queues=[Queue(name, Exchange(name, type="direct"), routing_key=name) for name in QUEUES],
        task_routes={DRAFT_TASK: {"queue": "draft"}, RENDER_TASK: {"queue": "render"}, PUBLISH_TASK: {"queue": "publish"}},
        task_default_queue="render",
        broker_connection_retry_on_startup=True,
        # A lost broker connection must not abort a render half-way: its message is redelivered and finds the claim.
        worker_cancel_long_running_tasks_on_connection_loss=False,
        # ReelTwin's own logging (stderr, secrets redacted) stays: Celery neither replaces it nor swallows stderr
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        worker_concurrency=workers.concurrency,
        enable_utc=True,
    )
    _register_tasks(app, settings)
    return app


def _register_tasks(app: Celery, settings: Settings) -> None:
    publishers = _Publishers(settings)
    drafter = Drafter(settings)

    @app.task(name=DRAFT_TASK, acks_late=True, reject_on_worker_lost=True)
    def draft_slot_task(key: str, calendar_file: dict) -> str:
        """Draft one open slot (or redraft a rejected reel) of the calendar file sent along (a no-op when it is done or taken)."""
        return run_draft(settings, str(key), calendar_file, drafter=drafter)

    @app.task(name=RENDER_TASK, acks_late=True, reject_on_worker_lost=True)
    def render_reel_task(reel_id: int) -> str:
        """Render one approved reel (a no-op when another worker has it or it is done)."""
        return run_render(settings, int(reel_id))

    @app.task(name=PUBLISH_TASK, acks_late=True, reject_on_worker_lost=True)
    def publish_reel_task(reel_id: int) -> str:
        """Publish one rendered, due reel, or resume an abandoned attempt (a no-op when it is not ours to do)."""
        return run_publish(settings, int(reel_id), publishers=publishers)

    from celery import signals

    @signals.worker_process_shutdown.connect(weak=False)
    @signals.worker_shutdown.connect(weak=False)
    def _release_model(**_: Any) -> None:
        drafter.close()    # the embedded model's server stops with the worker

    @signals.worker_process_init.connect(weak=False)
    def _fresh_connections(**_: Any) -> None:
        # A forked pool process must not share the parent's database sockets.
        from agent.db.engine import make_engine

        make_engine(settings.database_url).dispose(close=False)


def worker_name() -> str:
    """Who holds a claim: this machine and process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _notifier(settings: Settings):  # noqa: ANN202 - agent.notify.Notifier
    from agent.notify import Notifier

    scheduler = settings.scheduler
    return Notifier(scheduler.webhook_url.get_secret_value() if scheduler.webhook_url else None, web_base=scheduler.public_web_url)


def run_render(settings: Settings, reel_id: int) -> str:
    """The render task's body: the render job, which claims the reel first; returns how it ended."""
    from agent.db.engine import open_session
    from agent.db.models import Creator, Reel
    from agent.jobs.render import RenderJobResult, render_reel

    with open_session(settings.database_url, migrate=False) as session:
        outcome = render_reel(session, settings, reel_id, worker=worker_name())
        for warning in outcome.rendered.warnings if outcome.rendered is not None else ():
            log.warning("reel %d: %s", reel_id, warning)
        if outcome.result == RenderJobResult.FAILED:
            creator = session.get(Creator, session.get(Reel, reel_id).creator_id)
            _notifier(settings).failed(reel_id, creator.handle, outcome.detail)
    log.info("reel %d: render task: %s", reel_id, outcome.result)
    return str(outcome.result)


class Drafter:
    """The drafting model of a worker process: started on the first draft task (a render-only worker never loads
    it), kept for the next ones, stopped with the worker. Failures per slot are counted, as the local scheduler
    counts them: a retry samples anew, and a slot the model keeps failing waits ``scheduler.backoff_base_s``
    doubled per failure (at most ``scheduler.backoff_cap_s``) before this worker tries it again."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._stack: ExitStack | None = None
        self._provider: Any = None
        self.failures: dict[str, tuple[int, datetime]] = {}    # work key -> (failures so far, not before)
        self._lock = threading.Lock()

    def backing_off(self, key: str, now: datetime) -> bool:
        """Whether ``key`` failed here lately and its back-off has not run out."""
        failures = self.failures.get(key)
        return failures is not None and failures[1] > now

    def failed(self, key: str, now: datetime) -> tuple[int, int]:
        """Count a failure of ``key``; returns (failures so far, seconds until this worker tries it again)."""
        scheduler = self.settings.scheduler
        count = self.failures.get(key, (0, now))[0] + 1
        wait = min(scheduler.backoff_base_s * 2 ** (count - 1), scheduler.backoff_cap_s)
        self.failures[key] = (count, now + timedelta(seconds=wait))
        return count, wait

    def provider(self) -> Any:
        """The open provider (agent.drafting.provider.ChatProvider)."""
        with self._lock:
            if self._provider is None:
                from agent.drafting.service import open_provider

                stack = ExitStack()
                self._provider = stack.enter_context(open_provider(self.settings))
                self._stack = stack
            return self._provider

    def close(self) -> None:
        with self._lock:
            stack, self._stack, self._provider = self._stack, None, None
        if stack is not None:
            stack.close()


def _draft_lock_key(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(f"reeltwin-draft:{key}".encode(), digest_size=8).digest(), "big", signed=True)


@contextmanager
def draft_lock(engine: Engine, key: str) -> Iterator[bool]:
    """Try to take the lock on one piece of drafting work (a PostgreSQL session advisory lock on its own connection):
    yields False when another worker holds it. A worker that dies loses its connection and with it the lock."""
    if engine.dialect.name != "postgresql":
        yield True
        return
    lock = _draft_lock_key(key)
    with engine.connect() as connection:
        got = bool(connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": lock}).scalar())
        connection.commit()
        try:
            yield got
        finally:
            if got:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": lock})
                connection.commit()


def run_draft(settings: Settings, key: str, calendar_file: dict, *, drafter: Drafter) -> str:
    """The draft task's body: draft the slot (or rejected reel) ``key`` names with the calendar file the scheduler sent
    (``{"file": name, "text": its YAML}``: workers need no calendar files), unless it is drafted already or another
    worker is drafting it. Returns how it ended."""
    from pathlib import Path

    from agent.content_calendar.loader import parse_calendar
    from agent.db.engine import open_session
    from agent.db.models import utcnow
    from agent.drafting.service import DraftResult, draft_all, work_for
    from agent.errors import CalendarError

    try:
        name = str(calendar_file["file"])
        extra = calendar_file.get("overrides")   # the calendar grid's changes (moves, skips, added reels), when it has any
        calendar = parse_calendar(str(calendar_file["text"]), Path(name), name, overrides_text=str(extra) if extra else None).calendar
    except (KeyError, TypeError):
        log.error("draft task %s: it came without its calendar file; the scheduler sends it again", key)
        return "bad calendar"
    except CalendarError as error:
        log.error("draft task %s: %s; the scheduler sends it again once the file is fixed", key, error.problems[0] if error.problems else error)
        return "bad calendar"
    if drafter.backing_off(key, utcnow()):
        return "backing off"       # it failed here lately; the scheduler sends it again after RESEND_AFTER
    with open_session(settings.database_url, migrate=False) as session:
        if work_for(session, calendar, key) is None:
            return "nothing to do"
        session.commit()   # no transaction stays open while the model writes
        with draft_lock(session.get_bind(), key) as mine:
            if not mine:
                return "another worker is drafting it"
            item = work_for(session, calendar, key)     # again, under the lock: it may have been drafted meanwhile
            if item is None:
                return "nothing to do"
            provider = drafter.provider()
            provider.seed_offset = 1000 * drafter.failures.get(key, (0, None))[0]
            [outcome] = draft_all(session, settings, provider, [item])
    if outcome.result == DraftResult.FAILED:
        failures, wait = drafter.failed(key, utcnow())
        log.warning("@%s %s: drafting failed %d time(s) on this worker; it tries again in %d s at the earliest, when the "
                    "scheduler sends it again: %s", outcome.handle, key, failures, wait, outcome.error)
    else:
        drafter.failures.pop(key, None)
        if outcome.result in (DraftResult.DRAFTED, DraftResult.REDRAFTED):
            log.info("@%s: reel %s %s for %s, waiting for approval", outcome.handle, outcome.reel_id, outcome.result, outcome.slot_id or "ad hoc")
            _notifier(settings).drafts_waiting(outcome.handle, [outcome.reel_id])
    return str(outcome.result)


class _Publishers:
    """One publisher per account in a worker process (each creator's own, or the settings' one while none is
    connected), made on first use and kept (its HTTP client stays open); made again when the account changes."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._made: dict[str, Publisher] = {}
        self._keys: dict[str, str] = {}        # creator handle -> the key of its account's publisher
        self._lock = threading.Lock()

    def account(self, session: Session, handle: str) -> str:
        """The name of the account ``handle``'s reels go to (what the publishing lock is taken on); raises NoPublishAccount."""
        from agent.backends import publishing_account_for

        key = publishing_account_for(session, self.settings, handle)
        # a connected account's key changes with every token refresh; the account itself does not
        return key.rsplit(":", 1)[0] if key.startswith("account:") else key

    def get(self, handle: str) -> Publisher:
        from agent.backends import make_publisher_for, publishing_account_for
        from agent.db.engine import open_session

        with open_session(self.settings.database_url, migrate=False) as session, self._lock:
            key = publishing_account_for(session, self.settings, handle)
            if key not in self._made:
                self._made[key] = make_publisher_for(session, self.settings, handle)
            old = self._keys.get(handle)
            self._keys[handle] = key
            stale = self._made.pop(old, None) if old and old != key and old not in self._keys.values() else None
            publisher = self._made[key]
        if stale is not None:
            stale.close()
        return publisher

    def close(self) -> None:
        with self._lock:
            made, self._made = list(self._made.values()), {}
        for publisher in made:
            publisher.close()


def _lock_key(account: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_lock`` from the account's name."""
    return int.from_bytes(hashlib.blake2b(f"reeltwin-publish:{account}".encode(), digest_size=8).digest(), "big", signed=True)


@contextmanager
def account_lock(engine: Engine, account: str) -> Iterator[None]:
    """Hold the account's publishing lock (a PostgreSQL session advisory lock on its own connection) for the block.

    A worker that dies loses its connection and with it the lock; nothing is left to clean up.
    """
    if engine.dialect.name != "postgresql":
        yield
        return
    key = _lock_key(account)
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
        connection.commit()
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            connection.commit()


#: a publish task may run this long before its reel's time (clocks of the scheduler and a worker differ)
CLOCK_SKEW_S = 300


def run_publish(settings: Settings, reel_id: int, *, publishers: _Publishers) -> str:
    """The publish task's body: publish a rendered reel whose time has come, or take over and resume an attempt
    a dead worker left (after the publish lease); anything else is not this task's to do. Returns how it ended."""
    from datetime import timedelta

    from agent.db.engine import open_session
    from agent.db.models import Creator, Reel, ReelStatus, Slot, utcnow
    from agent.errors import ValidationFailed
    from agent.jobs import leases
    from agent.jobs.publish import PublishJobResult, creator_handle, publish_reel

    worker = worker_name()
    with open_session(settings.database_url, migrate=False) as session:
        reel = session.get(Reel, reel_id)
        if reel is None:
            return "no such reel"
        now = utcnow()
        if reel.status == ReelStatus.RENDERED:
            slot = session.get(Slot, reel.slot_id) if reel.slot_id else None
            when = leases.due_time(reel, slot)
            if when is None or when > now + timedelta(seconds=CLOCK_SKEW_S):
                return "not due"          # published on request only, or moved later since it was sent
            if reel.next_attempt_at is not None and reel.next_attempt_at > now + timedelta(seconds=CLOCK_SKEW_S):
                return "backing off"
        elif reel.status != ReelStatus.PUBLISHING:
            return f"nothing to do ({reel.status})"
        resume = reel.status == ReelStatus.PUBLISHING
        handle = creator_handle(session, reel_id)
        try:
            account = publishers.account(session, handle)
        except AgentError:
            account = f"none:{handle}"   # no account may be used: publish_reel fails the reel with the command that connects one
        session.commit()  # no transaction stays open while waiting for the account's lock
        with account_lock(session.get_bind(), account):
            if resume:
                if not leases.take_over(session, leases.publish_stage(settings), reel_id, now=utcnow(), worker=worker):
                    return "another worker is publishing it"
                log.warning("reel %d: resuming an abandoned publish attempt (checking Instagram before uploading)", reel_id)
                outcome = publish_reel(session, settings, reel_id, publisher_for=publishers.get, worker=worker, resume_claimed=True)
            else:
                try:
                    outcome = publish_reel(session, settings, reel_id, publisher_for=publishers.get, worker=worker)
                except ValidationFailed:
                    return "not claimed (another worker has it, or it changed)"
        if outcome.result in (PublishJobResult.PUBLISHED, PublishJobResult.FAILED):
            creator = session.get(Creator, session.get(Reel, reel_id).creator_id)
            if outcome.result == PublishJobResult.PUBLISHED:
                _notifier(settings).published(reel_id, creator.handle, outcome.permalink)
            else:
                _notifier(settings).failed(reel_id, creator.handle, outcome.detail)
    log.info("reel %d: publish task: %s", reel_id, outcome.result)
    return str(outcome.result)


def check_broker(app: Celery, settings: Settings, *, timeout_s: float = 5.0) -> None:
    """Connect to the broker once, so an unreachable or mistyped ``workers.broker_url`` is one line, not endless retries."""
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=timeout_s)
    except Exception as error:  # kombu raises the transport's own errors
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise AgentError(f"workers.broker_url {broker_display(settings)}: cannot connect ({reason}); start Redis or RabbitMQ there, "
                         "or fix workers.broker_url") from None
