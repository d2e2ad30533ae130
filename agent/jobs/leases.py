"""Claims and leases of the scheduler's jobs, once for every stage.

A stage (render, publish) takes a reel from its ``waiting`` state into its
``working`` state with an atomic claim (:func:`agent.db.states.claim`: a
conditional update on SQLite, ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL),
so two workers never take the same reel. The claim is a lease: ``claimed_at`` is
refreshed while work goes on, and a reel whose claim is older than the stage's
``lease`` was left by a process that died. What happens to it then is the
stage's choice: a render starts again (:func:`release_stale`), a publish attempt
is taken over and resumed, because it may already have gone out (:func:`take_over`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, select, update
from sqlmodel import Session

from agent.db.models import Reel, ReelStatus, Slot, utcnow
from agent.db.states import claim, transition
from agent.errors import AgentError

if TYPE_CHECKING:
    from agent.settings import Settings

#: A render claim older than this is abandoned (its worker died); the default of ``scheduler.render_lease_minutes``.
RENDER_LEASE = timedelta(minutes=30)
#: A publish claim older than this with no progress is abandoned (its process died); the default of ``scheduler.publish_lease_minutes``.
PUBLISH_LEASE = timedelta(minutes=30)


@dataclass(frozen=True)
class Stage:
    """A job's claim: reels wait in ``waiting``, are worked on in ``working``, and a claim older than ``lease`` is stale."""

    name: str
    waiting: ReelStatus
    working: ReelStatus
    lease: timedelta


RENDER = Stage("render", ReelStatus.APPROVED, ReelStatus.RENDERING, RENDER_LEASE)
PUBLISH = Stage("publish", ReelStatus.RENDERED, ReelStatus.PUBLISHING, PUBLISH_LEASE)


def render_stage(settings: Settings) -> Stage:
    """:data:`RENDER` with the lease the settings give (``scheduler.render_lease_minutes``)."""
    return replace(RENDER, lease=timedelta(minutes=settings.scheduler.render_lease_minutes))


def publish_stage(settings: Settings) -> Stage:
    """:data:`PUBLISH` with the lease the settings give (``scheduler.publish_lease_minutes``)."""
    return replace(PUBLISH, lease=timedelta(minutes=settings.scheduler.publish_lease_minutes))


def due_time(reel: Reel, slot: Slot | None) -> datetime | None:
    """When the reel should go out: its own override, else its slot; ad-hoc reels only on request."""
    return reel.publish_at or (slot.scheduled_at if slot else None)


def waiting(session: Session, stage: Stage, *, now: datetime) -> list[tuple[Reel, Slot | None]]:
    """(reel, slot) of every reel waiting for ``stage`` whose backoff has run out, by reel id."""
    return [tuple(row) for row in session.execute(
        select(Reel, Slot).outerjoin(Slot, Reel.slot_id == Slot.id)
        .where(Reel.status == stage.waiting, (Reel.next_attempt_at.is_(None)) | (Reel.next_attempt_at <= now))
        .order_by(Reel.id)
    ).all()]


def claim_reel(session: Session, stage: Stage, reel_id: int, *, worker: str) -> Reel | None:
    """Atomically move the reel from the stage's waiting state to its working state for ``worker``; ``None`` if it is not ours."""
    return claim(session, reel_id, stage.waiting, stage.working, worker=worker, reason=stage.working.value)


def _is_stale(stage: Stage, now: datetime) -> ColumnElement[bool]:
    return (Reel.claimed_at.is_(None)) | (Reel.claimed_at < now - stage.lease)


def stale(session: Session, stage: Stage, *, now: datetime) -> list[int]:
    """Reels left in the stage's working state by a process that died (claim older than the lease)."""
    return list(session.execute(select(Reel.id).where(Reel.status == stage.working, _is_stale(stage, now))).scalars())


def release_stale(session: Session, stage: Stage, *, now: datetime, worker: str, reason: str) -> list[int]:
    """Hand stale claims back to the waiting state (through :func:`transition`), so the work starts again."""
    released = []
    for reel_id in stale(session, stage, now=now):
        reel = session.get(Reel, reel_id)
        try:
            transition(session, reel, stage.waiting, actor=worker, reason=reason, expected=stage.working, claimed_by=None, claimed_at=None)
            session.commit()
            released.append(reel_id)
        except AgentError:
            session.rollback()
    return released


def take_over(session: Session, stage: Stage, reel_id: int, *, now: datetime, worker: str) -> bool:
    """Take a stale claim over for ``worker`` (to resume the work, not to redo it); commits. False: another process was first."""
    took = session.execute(
        update(Reel).where(Reel.id == reel_id, Reel.status == stage.working, _is_stale(stage, now))
        .values(claimed_by=worker, claimed_at=utcnow())
    ).rowcount
    session.commit()
    return took == 1
