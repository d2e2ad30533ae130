"""The scheduler's side of the Celery mode: find the drafting, render and publish work that is due and send it to the queues.

Drafting: the open slots within ``drafting.lead_days`` (what the local draft sweep would draft) go to the
``draft`` queue with their calendar; a worker drafts each under a lock of its own and stores it only if the slot is
still open, so a slot sent twice gets one draft.

The same decisions as the local sweeps (:func:`agent.jobs.render.render_due`,
:func:`agent.jobs.publish.publish_due`): renders within ``scheduler.render_lead_hours``
of their time, publishes whose time has come (late ones within the grace window,
the rest moved to the next good time), abandoned renders released after the
lease, abandoned publishes handed to a worker to take over. Only reel ids go on
the queue; the worker's database claim decides who works on a reel, so sending
one twice is harmless. Still, a reel is sent again only when it changed (its
state, its claim) or after :data:`RESEND_AFTER`, so a backlog does not fill the
queue with copies, and at most ``workers.max_queued`` reels wait on a queue at
once (soonest first; the next sweep tops it up).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, or_, select
from sqlmodel import Session

from agent.db.models import Reel, ReelStatus, Slot
from agent.jobs import leases
from agent.jobs.celery_app import QUEUES, make_app

if TYPE_CHECKING:
    from celery import Celery

    from agent.settings import Settings

log = logging.getLogger(__name__)

#: a reel that is still waiting this long after it was sent, unchanged, is sent again (its message may be lost)
RESEND_AFTER = timedelta(minutes=10)
#: messages published per broker round trip (a Redis pipeline; other transports send each at once)
SEND_BATCH = 500


@dataclass(frozen=True)
class DispatchReport:
    """One sweep: reels sent to the queue, reels already on it (unchanged since sent), stale claims released or moved."""

    queue: str
    sent: int
    queued: int
    released: int = 0
    rescheduled: int = 0
    held_back: int = 0

    def summary(self) -> str:
        parts = [f"{self.sent} sent to the {self.queue} queue", f"{self.queued} already queued"]
        if self.held_back:
            parts.append(f"{self.held_back} held back (workers.max_queued)")
        if self.released:
            parts.append(f"{self.released} abandoned renders released")
        if self.rescheduled:
            parts.append(f"{self.rescheduled} missed reels moved")
        return ", ".join(parts)


class Dispatcher:
    """Sends due work to the Celery queues; keeps what it sent (and the reel's state then) to skip copies."""

    def __init__(self, settings: Settings, *, worker: str, app: Celery | None = None):
        self.settings = settings
        self.worker = worker
        self.app = app if app is not None else make_app(settings)
        self._sent: dict[tuple[str, Any], tuple[Any, datetime]] = {}

    # -- what is due ---------------------------------------------------------------------------------------------

    def due_renders(self, session: Session, *, now: datetime) -> list[tuple[int, Any]]:
        """(reel id, state marker) of approved reels due for rendering, soonest first (columns only: fast on 10^5 reels)."""
        when = func.coalesce(Reel.publish_at, Slot.scheduled_at)
        lead = timedelta(hours=self.settings.scheduler.render_lead_hours)
        rows = session.execute(
            select(Reel.id, Reel.updated_at).outerjoin(Slot, Reel.slot_id == Slot.id)
            .where(Reel.status == ReelStatus.APPROVED, or_(Reel.next_attempt_at.is_(None), Reel.next_attempt_at <= now))
            .where(or_(when.is_(None), when <= now + lead))
            .order_by(when.asc().nulls_first(), Reel.id)
        ).all()
        return [(reel_id, ("approved", updated)) for reel_id, updated in rows]

    def due_publishes(self, session: Session, *, now: datetime) -> tuple[list[tuple[int, Any]], list[int]]:
        """(due: (reel id, marker), missed: reel ids whose time passed beyond the grace window) of rendered reels."""
        when = func.coalesce(Reel.publish_at, Slot.scheduled_at)
        grace = timedelta(minutes=self.settings.scheduler.publish_grace_minutes)
        rows = session.execute(
            select(Reel.id, Reel.updated_at, Reel.attempts, when).outerjoin(Slot, Reel.slot_id == Slot.id)
            .where(Reel.status == ReelStatus.RENDERED, or_(Reel.next_attempt_at.is_(None), Reel.next_attempt_at <= now))
            .where(when.is_not(None), when <= now)
            .order_by(when, Reel.id)
        ).all()
        due, missed = [], []
        for reel_id, updated, attempts, at in rows:
            if at.tzinfo is None:   # coalesce() loses the column type on some drivers: stored values are UTC
                from datetime import UTC

                at = at.replace(tzinfo=UTC)
            if now - at <= grace or (attempts or 0) > 0:
                due.append((reel_id, ("rendered", updated)))
            else:
                missed.append(reel_id)
        return due, missed

    # -- sweeps --------------------------------------------------------------------------------------------------

    def sweep_render(self, session: Session, *, now: datetime) -> DispatchReport:
        """Release renders a dead worker left (after the lease), then send every approved reel due for rendering."""
        released = leases.release_stale(session, leases.render_stage(self.settings), now=now, worker=self.worker,
                                        reason="render abandoned by a worker that stopped; rendering again")
        sent, queued, held_back = self._send("render", self.due_renders(session, now=now), now)
        return DispatchReport("render", sent, queued, released=len(released), held_back=held_back)

    def sweep_publish(self, session: Session, *, now: datetime, next_time: Callable[[int], datetime] | None = None) -> DispatchReport:
        """Send publish attempts a dead worker left (a worker takes them over), due reels, and missed ones once moved."""
        from agent.jobs.publish import reschedule_missed

        stage = leases.publish_stage(self.settings)
        abandoned = [(reel_id, ("publishing", claimed)) for reel_id, claimed in session.execute(
            select(Reel.id, Reel.claimed_at).where(Reel.id.in_(leases.stale(session, stage, now=now)))).all()]
        due, missed = self.due_publishes(session, now=now)
        for reel_id in missed:
            when = next_time(reel_id) if next_time else now
            reschedule_missed(session, reel_id, when=when, actor=self.worker)
            if when <= now:
                due.append((reel_id, ("rendered", when)))
        sent, queued, held_back = self._send("publish", abandoned + due, now)
        return DispatchReport("publish", sent, queued, rescheduled=len(missed), held_back=held_back)

    def sweep_draft(self, session: Session, work: list[Any], *, now: datetime, sources: dict[str, Path]) -> DispatchReport:
        """Send each open slot (and rejected reel) of ``work`` (agent.drafting.service.find_work's items) to the draft
        queue with its calendar file's text (``sources``: handle -> the file; workers need no calendar files of their
        own); a slot is sent again only when its calendar changed or after :data:`RESEND_AFTER` (which also spaces
        out the retries of a slot the model keeps failing)."""
        from agent.drafting.service import work_key

        items = []
        calendars: dict[str, tuple[str, dict]] = {}
        for item in work:
            handle = item.calendar.handle
            if handle not in calendars:
                path = sources[handle]
                try:
                    text = path.read_text(encoding="utf-8")
                except OSError as error:
                    log.warning("@%s: %s cannot be read (%s); its slots are sent when it can", handle, path, error.strerror or error)
                    calendars[handle] = ("", {})
                    continue
                # The grid's moves, skips and added reels travel with the calendar: the worker plans with both files.
                from agent.content_calendar.overrides import overrides_path

                try:
                    extra = overrides_path(path).read_text(encoding="utf-8")
                except FileNotFoundError:
                    extra = ""
                except OSError as error:
                    log.warning("@%s: %s cannot be read (%s); its slots are sent when it can", handle, overrides_path(path), error.strerror or error)
                    calendars[handle] = ("", {})
                    continue
                data = {"file": path.name, "text": text, **({"overrides": extra} if extra else {})}
                calendars[handle] = (hashlib.blake2b((text + "\0" + extra).encode(), digest_size=12).hexdigest(), data)
            fingerprint, data = calendars[handle]
            if not data:
                continue
            key = work_key(item)
            items.append((key, ("open", item.reel_id, fingerprint), [key, data]))
        sent, queued, held_back = self._send("draft", items, now)
        return DispatchReport("draft", sent, queued, held_back=held_back)

    def _send(self, queue: str, items: list[tuple[Any, ...]], now: datetime) -> tuple[int, int, int]:
        """Send each item (key, marker[, task args]; args default to [key]) not already on the queue unchanged, up to
        ``workers.max_queued`` waiting; returns (sent, already queued, held back)."""
        task = QUEUES[queue]
        fresh, waiting_on_queue = [], 0
        for key, marker, *rest in items:
            previous = self._sent.get((queue, key))
            if previous is not None and previous[0] == marker and now - previous[1] < RESEND_AFTER:
                waiting_on_queue += 1
                continue
            fresh.append((key, marker, rest[0] if rest else [key]))
        room = max(0, self.settings.workers.max_queued - waiting_on_queue)
        held_back = max(0, len(fresh) - room)
        fresh = fresh[:room]    # items come soonest first: the rest waits for a later sweep
        if fresh:
            with self.app.producer_or_acquire() as producer:
                for start in range(0, len(fresh), SEND_BATCH):
                    batch = fresh[start:start + SEND_BATCH]
                    # kombu's publish batch (kombu 5.7+): on Redis one pipelined round trip for the lot instead of one per
                    # message (other transports, older kombu: each at once). A reel counts as sent once its batch went out.
                    with producer.batch(max_size=SEND_BATCH) if hasattr(producer, "batch") else nullcontext():
                        for index, (_key, _marker, args) in enumerate(batch):
                            # The queue is declared with the batch's first message (kombu remembers it per connection);
                            # declaring it again for each of thousands of messages was a third of a sweep's time.
                            self.app.send_task(task, args=args, queue=queue, producer=producer, **({} if index == 0 else {"declare": []}))
                    for key, marker, _args in batch:
                        self._sent[(queue, key)] = (marker, now)
            log.info("sent %d %s to the %s queue", len(fresh), "slot(s)" if queue == "draft" else "reel(s)", queue)
        waiting = {item[0] for item in items}
        for sent_key in [sent_key for sent_key in self._sent if sent_key[0] == queue and sent_key[1] not in waiting]:
            del self._sent[sent_key]   # done, or moved on: forget it
        return len(fresh), waiting_on_queue, held_back

    def close(self) -> None:
        """Close the broker connections."""
        self.app.close()
