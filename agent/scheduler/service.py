"""``reeltwin run``: one process, APScheduler 3, the database as the schedule.

Every job is an idempotent sweep over the database: running one twice, in two
processes, or after a crash changes nothing more than running it once. The
sweeps here plan slots from the calendars (edits are picked up on the next
sweep, no restart), draft the slots within ``drafting.lead_days`` and apply the
approval policies; rendering and publishing add their own sweeps as those
stages land.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import OperationalError

from agent.approval.policies import apply_approval_policies
from agent.content_calendar.loader import LoadedCalendar, calendar_files, display_path, load_calendar
from agent.content_calendar.planner import BULK_CHUNK, SyncReport, sync_plan, sync_plans_or_one_by_one
from agent.db.engine import make_engine, open_session
from agent.db.models import Creator, utcnow
from agent.drafting.service import DraftResult
from agent.drafting.service import work_key as _work_key
from agent.errors import CalendarError
from agent.jobs.publish import PublishJobResult
from agent.jobs.render import RenderJobResult
from agent.settings import Settings

if TYPE_CHECKING:
    from sqlmodel import Session

    from publishing.base import Publisher

log = logging.getLogger("reeltwin.service")


def _digest(basis: tuple[object, ...]) -> str:
    """What a plan was made from, as stored on the creator's row: the same basis gives the same digest in any process."""
    import hashlib

    path, stamp, changed_at, days = basis
    text = f"{path}|{stamp}|{changed_at.isoformat() if changed_at is not None else ''}|{days}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:64]


def _overrides_stamp(path: Path) -> tuple[int, ...]:
    """The stat of the calendar's ``<handle>.overrides.yaml`` (the grid's moves, skips and added reels), () without one:
    a change there is a change of the calendar."""
    from agent.content_calendar.overrides import overrides_path

    try:
        info = overrides_path(path).stat()
    except OSError:
        return ()
    return (info.st_mtime_ns, info.st_ctime_ns, info.st_size, info.st_ino)


@dataclass
class SweepResult:
    name: str
    summary: str


def _tally(name: str, results: list[StrEnum], *, nothing: str) -> SweepResult:
    """A sweep's summary: how many jobs ended which way ("1 failed, 2 published"), or ``nothing``."""
    counts = Counter(results)
    return SweepResult(name, ", ".join(f"{n} {result}" for result, n in sorted(counts.items())) or nothing)


class Service:
    def __init__(self, settings: Settings, project_dir: Path, *, serve_web: bool = False, clock: Callable[[], datetime] = utcnow):
        self.serve_web = serve_web
        self.clock = clock  # injectable: tests run a week in seconds
        self.settings = settings
        self.project_dir = project_dir
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self.stopping = threading.Event()
        self._reported_problems: dict[Path, tuple[str, ...]] = {}
        # Calendar files parsed once per change (path -> (its stat, the calendar or None when broken)): with
        # thousands of creators, re-reading every YAML file on every sweep is most of a sweep's time.
        self._loaded: dict[Path, tuple[tuple[int, ...], LoadedCalendar | None]] = {}
        # handle -> (what its plan was made from, when it is made again anyway): see sweep_plan
        self._planned: dict[str, tuple[tuple[object, ...], datetime]] = {}
        # slot or reel -> (failures so far, not before): a slot the model keeps failing is retried with backoff
        self._draft_backoff: dict[str, tuple[int, datetime]] = {}
        self._insights_at: datetime | None = None
        self._accounts_at: datetime | None = None
        self._publisher_keys: dict[str, str] = {}   # creator handle -> the key of its account's publisher in _publishers
        # One publisher per account, kept across sweeps (its clients and login stay open) and closed by close().
        self._publishers: dict[str, Publisher] = {}
        self._publishers_lock = threading.Lock()
        from agent.notify import Notifier

        scheduler = settings.scheduler
        self.notifier = Notifier(scheduler.webhook_url.get_secret_value() if scheduler.webhook_url else None, web_base=scheduler.public_web_url)
        # workers.backend = "celery": render and publish sweeps only send due reels to the workers' queues
        self.dispatcher = None
        if settings.workers.backend == "celery":
            from agent.jobs.celery_app import broker_display, check_broker, require_postgres
            from agent.jobs.dispatch import Dispatcher

            require_postgres(settings)
            self.dispatcher = Dispatcher(settings, worker=self.worker)
            check_broker(self.dispatcher.app, settings)
            log.info("workers.backend = celery: render and publish work goes to `reeltwin worker` processes over %s", broker_display(settings))
        open_session(settings.database_url).close()  # migrate once, up front

    # -- publishers -----------------------------------------------------------

    def publisher(self) -> Publisher:
        """The configured account's publisher: made on first use, then the same one every sweep."""
        from agent.backends import make_publisher, publishing_account

        account = publishing_account(self.settings)
        with self._publishers_lock:
            if account not in self._publishers:
                self._publishers[account] = make_publisher(self.settings)
            return self._publishers[account]

    def publisher_for(self, handle: str) -> Publisher:
        """The publisher of creator ``handle``'s own account (or the settings' one while none is connected): kept across
        sweeps, and made again when the account changes (a refreshed token, a reconnect). Raises NoPublishAccount."""
        from agent.backends import make_publisher_for, publishing_account_for

        with open_session(self.settings.database_url, migrate=False) as session:
            key = publishing_account_for(session, self.settings, handle)
            with self._publishers_lock:
                if key not in self._publishers:
                    self._publishers[key] = make_publisher_for(session, self.settings, handle)
                old = self._publisher_keys.get(handle)
                self._publisher_keys[handle] = key
                stale = self._publishers.pop(old, None) if old and old != key and old not in self._publisher_keys.values() else None
                publisher = self._publishers[key]
        if stale is not None:
            stale.close()
        return publisher

    def close(self) -> None:
        """Close the publishers (their HTTP clients and sessions)."""
        with self._publishers_lock:
            publishers, self._publishers = list(self._publishers.values()), {}
        for publisher in publishers:
            try:
                publisher.close()
            except Exception:  # closing must not hide why the service stops
                log.exception("closing the %s publisher failed", publisher.name)
        if self.dispatcher is not None:
            self.dispatcher.close()

    def __enter__(self) -> Service:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- sweeps ---------------------------------------------------------------

    def _calendars(self) -> list[LoadedCalendar]:
        """Valid active calendars; a file is parsed again only when it changed (its size, times or inode), a broken
        one is reported once per change and skipped."""
        loaded = []
        seen = set()
        for path in calendar_files(self.settings.calendar_dir, include_templates=False):
            try:
                info = path.stat()
            except OSError:
                continue  # removed between listing and reading: gone from this sweep
            stamp = (info.st_mtime_ns, info.st_ctime_ns, info.st_size, info.st_ino, *_overrides_stamp(path))
            seen.add(path)
            cached = self._loaded.get(path)
            if cached is not None and cached[0] == stamp:
                if cached[1] is not None:
                    loaded.append(cached[1])
                continue
            try:
                calendar = load_calendar(path, base=self.project_dir)
            except CalendarError as error:
                self._loaded[path] = (stamp, None)
                problems = tuple(error.problems)
                if self._reported_problems.get(path) != problems:
                    for problem in problems:
                        log.error("%s (its existing slots are kept until the file is fixed)", problem)
                    self._reported_problems[path] = problems
                continue
            self._loaded[path] = (stamp, calendar)
            self._reported_problems.pop(path, None)
            loaded.append(calendar)
        for path in set(self._loaded) - seen:
            del self._loaded[path]
        return loaded

    #: an unchanged calendar is planned again at least this often (its plan reaches this far past the window)
    REPLAN_EVERY = timedelta(days=1)

    def sweep_plan(self) -> SweepResult:
        """Bring every calendar's slots in line with its file, skipping creators whose plan cannot have changed.

        A creator is planned again when its calendar file changed, its row changed (new audience insights, a
        calendar edit seen by another process), or a day has passed: each plan reaches :attr:`REPLAN_EVERY` beyond
        the window, so the day's new slots exist before the window gets to them. Approving, rendering or publishing
        a reel never changes the plan of the other slots (their briefs are kept), so it needs no new plan."""
        days = self._plan_days()
        created = updated = removed = 0
        now = self.clock()
        with open_session(self.settings.database_url, migrate=False) as session:
            calendars = self._calendars()
            todo = self._to_plan(session, calendars, now=now)
            skipped = len(calendars) - len(todo)
            # In chunks, each planned in one transaction (sync_plans) and its plans' basis stored right after it.
            for start in range(0, len(todo), BULK_CHUNK):
                chunk = todo[start:start + BULK_CHUNK]
                reports = self._plan(session, chunk, now=now, days=days + self.REPLAN_EVERY.days)
                handles = [report.handle for report in reports if report is not None]
                if not handles:
                    continue
                # What each plan was made from, read after its commit (one query for the chunk).
                changed = dict(session.execute(select(Creator.handle, Creator.updated_at).where(Creator.handle.in_(handles))).all())
                until = now + self.REPLAN_EVERY
                planned: list[dict[str, object]] = []
                for loaded, report in zip(chunk, reports):
                    handle = loaded.calendar.handle
                    if report is None:
                        continue
                    basis = (loaded.path, self._loaded.get(loaded.path, ((),))[0], changed.get(handle), days)
                    self._planned[handle] = (basis, until)
                    planned.append({"key": handle, "basis": _digest(basis), "until": until})
                    created, updated, removed = created + len(report.created), updated + len(report.updated), removed + len(report.removed)
                    if report.created or report.updated or report.removed:
                        log.info("@%s: planned %d new, %d changed, %d removed slots", report.handle, len(report.created), len(report.updated), len(report.removed))
                # One statement for the chunk, leaving updated_at alone (it is part of the basis)
                table = Creator.__table__
                session.execute(update(table).where(table.c.handle == bindparam("key"))
                                .values(planned_basis=bindparam("basis"), planned_until=bindparam("until")), planned)
                session.commit()
        detail = f"{created} new, {updated} changed, {removed} removed slots"
        return SweepResult("plan", detail + (f" ({skipped} unchanged calendars not re-planned)" if skipped else ""))

    def _plan_days(self) -> int:
        """How far the plan sweep's plans reach (and :attr:`REPLAN_EVERY` beyond): past drafting.lead_days."""
        return max(14, self.settings.drafting.lead_days + 7)

    def _to_plan(self, session: Session, calendars: list[LoadedCalendar], *, now: datetime) -> list[LoadedCalendar]:
        """The calendars whose plan may have changed since the plan sweep last planned them (their file, their creator's
        row, or a day passed; see :meth:`sweep_plan`), in order; one query. A plan stored on the creator's row by an
        earlier process (or another scheduler) from the same basis counts as this process's own."""
        if not calendars:
            return []
        days = self._plan_days()
        rows = {handle: (changed_at, stored, until) for handle, changed_at, stored, until in session.execute(
            select(Creator.handle, Creator.updated_at, Creator.planned_basis, Creator.planned_until)).all()}
        todo: list[LoadedCalendar] = []
        for loaded in calendars:
            handle = loaded.calendar.handle
            stamp = self._loaded.get(loaded.path, ((),))[0]
            changed_at, stored, until = rows.get(handle, (None, None, None))
            basis = (loaded.path, stamp, changed_at, days)
            previous = self._planned.get(handle)
            if previous is None and stored is not None and stored == _digest(basis) and until is not None and now < until:
                previous = self._planned[handle] = (basis, until)    # planned so before a restart (or by another scheduler)
            if previous is not None and previous[0] == basis and now < previous[1]:
                continue
            todo.append(loaded)
        return todo

    def _plan(self, session: Session, chunk: list[LoadedCalendar], *, now: datetime, days: int) -> list[SyncReport | None]:
        """Plan ``chunk`` in bulk (:func:`sync_plans`: one transaction, a few statements); when another process wrote
        the same rows meanwhile, one by one (:func:`sync_plan`, as the sweep always did), leaving out a calendar whose
        plan collided (the next sweep converges). Returns each calendar's report, None where it was left out."""
        items = [(loaded.calendar, display_path(loaded.path, self.project_dir)) for loaded in chunk]
        return sync_plans_or_one_by_one(session, items, now=now, days=days, actor=f"planner:{self.worker}", logger=log,
                                        one_by_one=sync_plan, left_out=lambda calendar: self._planned.pop(calendar.handle, None))

    def sweep_policies(self) -> SweepResult:
        """Apply each calendar's approval policy to its waiting drafts (in bulk: a query per chunk of creators, writes
        only for the drafts it approves or skips)."""
        approved = skipped = 0
        with open_session(self.settings.database_url, migrate=False) as session:
            lead = timedelta(hours=self.settings.scheduler.render_lead_hours)
            calendars = [loaded.calendar for loaded in self._calendars()]
            for report in apply_approval_policies(session, calendars, now=self.clock(), render_lead=lead):
                approved, skipped = approved + len(report.approved), skipped + len(report.skipped)
                for reel_id in report.approved:
                    log.info("@%s: reel %d approved by the calendar's auto_after_hours policy", report.handle, reel_id)
                for reel_id in report.skipped:
                    log.info("@%s: reel %d skipped: its slot passed unapproved", report.handle, reel_id)
        return SweepResult("policies", f"{approved} approved, {skipped} skipped by policy")

    def sweep_draft(self) -> SweepResult:
        """Draft every open slot within drafting.lead_days (the model is started only when there is work)."""
        from agent.drafting.service import draft_all, find_work, open_provider

        with open_session(self.settings.database_url, migrate=False) as session:
            calendars = self._calendars()
            now = self.clock()
            # Calendars the plan sweep planned since they last changed are not planned again here (their plan reaches
            # past lead_days); the others (new, edited, or not planned yet) are, as `reeltwin draft` plans them.
            stale = self._to_plan(session, calendars, now=now)
            paths = {loaded.calendar.handle: display_path(loaded.path, self.project_dir) for loaded in stale}
            planned = {loaded.calendar.handle for loaded in calendars} - set(paths)
            work = find_work(session, [loaded.calendar for loaded in calendars], now=now, days=self.settings.drafting.lead_days, paths=paths,
                             planned=planned)
            if self.dispatcher is not None:   # workers draft: the model never loads here
                if self.stopping.is_set():
                    return SweepResult("draft", "stopping")
                sources = {loaded.calendar.handle: loaded.path for loaded in calendars}
                return SweepResult("draft", self.dispatcher.sweep_draft(session, work, now=now, sources=sources).summary())
            work = [item for item in work if self._draft_backoff.get(_work_key(item), (0, now))[1] <= now]
            if not work or self.stopping.is_set():
                return SweepResult("draft", "nothing to draft")
            with open_provider(self.settings) as provider:
                outcomes = []
                for item in work:
                    if self.stopping.is_set():
                        break  # what is drafted is stored; the rest waits for the next sweep
                    key = _work_key(item)
                    provider.seed_offset = 1000 * self._draft_backoff.get(key, (0, now))[0]
                    [outcome] = draft_all(session, self.settings, provider, [item])
                    outcomes.append(outcome)
                    if outcome.result == DraftResult.FAILED:
                        failures = self._draft_backoff.get(key, (0, now))[0] + 1
                        wait = min(self.settings.scheduler.backoff_base_s * 2 ** (failures - 1), self.settings.scheduler.backoff_cap_s)
                        self._draft_backoff[key] = (failures, self.clock() + timedelta(seconds=wait))
                        log.warning("@%s %s: drafting failed %d time(s); next try in %d s: %s", outcome.handle, key, failures, wait, outcome.error)
                    else:
                        self._draft_backoff.pop(key, None)
        drafted = [o for o in outcomes if o.result in (DraftResult.DRAFTED, DraftResult.REDRAFTED)]
        failed = [o for o in outcomes if o.result == DraftResult.FAILED]
        by_handle: dict[str, list[int]] = {}
        for outcome in drafted:
            log.info("@%s: reel %s %s for %s, waiting for approval", outcome.handle, outcome.reel_id, outcome.result, outcome.slot_id or "ad hoc")
            by_handle.setdefault(outcome.handle, []).append(outcome.reel_id)
        for handle, reel_ids in by_handle.items():
            self.notifier.drafts_waiting(handle, reel_ids)
        return SweepResult("draft", f"{len(drafted)} drafted, {len(failed)} failed")

    def sweep_publish(self) -> SweepResult:
        """Publish rendered reels whose time has come (late within the grace window), resume abandoned attempts."""
        from agent.jobs.publish import publish_due

        if self.stopping.is_set():
            return SweepResult("publish", "stopping")
        from agent.db.models import Creator, Reel
        from agent.content_calendar.peaks import next_good_time

        calendars = {loaded.calendar.handle: loaded.calendar for loaded in self._calendars()}
        now = self.clock()
        with open_session(self.settings.database_url, migrate=False) as session:
            def next_time(reel_id: int) -> datetime:
                creator = session.get(Creator, session.get(Reel, reel_id).creator_id)
                calendar = calendars.get(creator.handle) if creator else None
                return next_good_time(calendar, now, audience=creator.audience) if calendar else now

            if self.dispatcher is not None:
                return SweepResult("publish", self.dispatcher.sweep_publish(session, now=now, next_time=next_time).summary())
            outcomes = publish_due(session, self.settings, publisher_for=self.publisher_for, worker=self.worker, now=now, next_time=next_time)
            for outcome in outcomes:
                if outcome.result in (PublishJobResult.PUBLISHED, PublishJobResult.FAILED):
                    reel = session.get(Reel, outcome.reel_id)
                    creator = session.get(Creator, reel.creator_id)
                    if outcome.result == PublishJobResult.PUBLISHED:
                        self.notifier.published(outcome.reel_id, creator.handle, outcome.permalink)
                    else:
                        self.notifier.failed(outcome.reel_id, creator.handle, outcome.detail)
        return _tally("publish", [outcome.result for outcome in outcomes], nothing="nothing due")

    def sweep_render(self) -> SweepResult:
        """Render approved reels whose slot is within scheduler.render_lead_hours; release renders a dead worker left."""
        from agent.db.models import Creator, Reel
        from agent.jobs.render import render_due

        if self.stopping.is_set():
            return SweepResult("render", "stopping")
        with open_session(self.settings.database_url, migrate=False) as session:
            if self.dispatcher is not None:
                return SweepResult("render", self.dispatcher.sweep_render(session, now=self.clock()).summary())
            outcomes = render_due(session, self.settings, worker=self.worker, now=self.clock(), stopping=self.stopping)
            for outcome in outcomes:
                if outcome.result == RenderJobResult.FAILED:
                    reel = session.get(Reel, outcome.reel_id)
                    creator = session.get(Creator, reel.creator_id)
                    self.notifier.failed(outcome.reel_id, creator.handle, outcome.detail)
        return _tally("render", [outcome.result for outcome in outcomes], nothing="nothing to render")

    def sweep_insights(self) -> SweepResult:
        """Once a day, per publishing account: the audience's online hours and the own posts' engagement, for peak times."""
        from agent.backends import publishing_account_for
        from agent.errors import AgentError
        from agent.jobs.insights import refresh_audience

        now = self.clock()
        if self._insights_at is not None and now - self._insights_at < timedelta(hours=24):
            return SweepResult("insights", "fresh")
        stored: dict[str, str] = {}
        with open_session(self.settings.database_url, migrate=False) as session:
            by_account: dict[str, list] = {}
            for loaded in self._calendars():
                try:
                    key = publishing_account_for(session, self.settings, loaded.calendar.handle)
                except AgentError as error:   # no account of its own: no audience to ask for
                    log.info("@%s: no audience insights: %s", loaded.calendar.handle, error)
                    continue
                by_account.setdefault(key, []).append(loaded.calendar)
            for key, calendars in by_account.items():
                try:
                    publisher = self.publisher_for(calendars[0].handle)
                except AgentError as error:   # one account that cannot be used (a lost key, a missing setting) skips only its creators
                    log.warning("%s: no audience insights: %s", ", ".join(f"@{c.handle}" for c in calendars), error)
                    continue
                # A connected account's audience and reels are its creator's only; the settings' account serves the install.
                stored.update(refresh_audience(session, publisher, calendars, own_reels_only=key.startswith("account:")))
        self._insights_at = now
        return SweepResult("insights", "; ".join(f"@{h}: {what}" for h, what in stored.items()) or "no insights for this publisher")

    def sweep_accounts(self) -> SweepResult:
        """Once a day: refresh the Graph tokens that expire within accounts.refresh_days; notify about tokens that run
        out within accounts.warn_days and refreshes that failed."""
        from agent.publish_accounts import AccountError, list_accounts, notices, refresh_tokens

        now = self.clock()
        if self._accounts_at is not None and now - self._accounts_at < timedelta(hours=24):
            return SweepResult("accounts", "fresh")
        self._accounts_at = now
        with open_session(self.settings.database_url, migrate=False) as session:
            try:
                outcomes = refresh_tokens(session, self.settings, now=now)
            except AccountError as error:   # the key is lost or wrong: one line, every day, until it is fixed
                log.error("publishing accounts: %s", error)
                self.notifier.send(f"ReelTwin: {error}")
                return SweepResult("accounts", "secrets unreadable")
            for notice in notices(list_accounts(session), self.settings, now=now):
                log.warning("%s", notice.message)
                self.notifier.account_problem(notice.handle, notice.message)
        return _tally("accounts", [outcome.result for outcome in outcomes], nothing="no tokens to refresh")

    def sweeps(self) -> list[tuple[str, Callable[[], SweepResult]]]:
        drafting = [("draft", self.sweep_draft)] if self.settings.scheduler.draft_ahead else []
        rendering = [("render", self.sweep_render)] if self.settings.scheduler.render_ahead else []
        return [("accounts", self.sweep_accounts), ("insights", self.sweep_insights), ("plan", self.sweep_plan), *drafting, ("policies", self.sweep_policies), *rendering, ("publish", self.sweep_publish)]

    def _guarded(self, name: str, sweep: Callable[[], SweepResult]) -> Callable[[], None]:
        def run() -> None:
            if self.stopping.is_set():
                return
            try:
                sweep()
            except OperationalError as error:
                log.warning("sweep %s: database busy or unreachable (%s); retrying next interval", name, str(error.orig).splitlines()[0] if error.orig else error)
            except Exception:  # one bad sweep must not stop the service; the traceback goes to the log
                log.exception("sweep %s failed; retrying next interval", name)

        return run

    # -- running --------------------------------------------------------------

    def _start_web(self):  # noqa: ANN202 - uvicorn imported lazily
        """The web UI in a thread of this process; without a secret it is skipped with a warning."""
        import uvicorn

        from agent.errors import AgentError
        from agent.web.app import create_app

        try:
            app = create_app(self.settings, self.project_dir)
        except AgentError as error:
            log.warning("web UI not started: %s", error)
            return None
        # proxy_headers off: uvicorn would believe any X-Forwarded-For from 127.0.0.1; the app itself believes
        # only web.trusted_proxies (agent.web.security.ClientAddress), as under `reeltwin web`.
        server = uvicorn.Server(uvicorn.Config(app, host=self.settings.web.host, port=self.settings.web.port, log_level="warning",
                                               proxy_headers=False, server_header=False))
        threading.Thread(target=server.run, name="web", daemon=True).start()
        log.info("web approval queue on http://%s:%d/", self.settings.web.host, self.settings.web.port)
        return server

    def run_once(self) -> list[SweepResult]:
        return [sweep() for _name, sweep in self.sweeps()]

    def run_forever(self) -> None:
        from apscheduler.schedulers.background import BackgroundScheduler

        interval = self.settings.scheduler.sweep_interval_s
        scheduler = BackgroundScheduler(
            timezone="UTC",
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": interval},
        )
        now = self.clock()
        for offset, (name, sweep) in enumerate(self.sweeps()):
            # Staggered first runs: the plan exists before the policies look at it.
            scheduler.add_job(self._guarded(name, sweep), "interval", seconds=interval, id=name, name=name, next_run_time=now + timedelta(seconds=offset))

        def stop(signum: int, _frame: object) -> None:
            log.info("%s received: finishing the running sweep, claiming nothing new", signal.Signals(signum).name)
            self.stopping.set()

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        web = self._start_web() if self.serve_web else None
        scheduler.start()
        log.info("reeltwin run: worker %s, sweeping every %d s (database %s)", self.worker, interval, make_engine(self.settings.database_url).url.render_as_string(hide_password=True))
        try:
            self.stopping.wait()
        finally:
            if web is not None:
                web.should_exit = True
            scheduler.shutdown(wait=True)
            self.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            log.info("reeltwin run: stopped cleanly")
