"""The reel state machine: one transition table, one function that moves a reel, atomic claims.

Every move is a conditional ``UPDATE ... WHERE id = ? AND status = <expected>``:
if another process moved the reel first, nothing is written and
:class:`ConcurrentChangeError` says so. Every move writes a :class:`ReelEvent`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlmodel import Session

from agent.db.models import Reel, ReelEvent, ReelStatus, utcnow
from agent.errors import AgentError, InvalidTransitionError

S = ReelStatus

#: from -> the states it may move to. The only place the rules live.
TRANSITIONS: dict[ReelStatus, frozenset[ReelStatus]] = {
    S.DRAFTED: frozenset({S.APPROVED, S.REJECTED, S.SKIPPED}),
    S.APPROVED: frozenset({S.RENDERING, S.DRAFTED, S.REJECTED, S.SKIPPED}),
    S.RENDERING: frozenset({S.RENDERED, S.FAILED, S.APPROVED}),          # -> approved: its worker died (jobs.leases.release_stale)
    S.RENDERED: frozenset({S.PUBLISHING, S.APPROVED, S.DRAFTED, S.REJECTED, S.SKIPPED}),  # -> approved: its audio changed, render again
    S.PUBLISHING: frozenset({S.PUBLISHED, S.FAILED, S.RENDERED}),       # -> rendered: released, confirmed not posted
    S.PUBLISHED: frozenset(),
    S.REJECTED: frozenset({S.DRAFTED, S.SKIPPED}),                       # -> drafted: redrafted with the feedback
    S.SKIPPED: frozenset({S.DRAFTED}),                                   # revived by the creator
    S.FAILED: frozenset({S.APPROVED, S.RENDERED, S.DRAFTED, S.REJECTED, S.SKIPPED}),
}

#: States in which the creator may still change the words (an edit sends the reel back to drafted).
EDITABLE = frozenset({S.DRAFTED, S.APPROVED, S.RENDERED, S.FAILED, S.REJECTED})
#: States whose reel is committed to its slot: planning never moves or drops such a slot.
COMMITTED = frozenset({S.APPROVED, S.RENDERING, S.RENDERED, S.PUBLISHING, S.PUBLISHED, S.FAILED})
#: A slot with a reel in one of these has a live draft and is not drafted again.
LIVE = frozenset(set(ReelStatus) - {S.REJECTED, S.SKIPPED})

_HINTS = {
    (S.PUBLISHED, None): "it is already published",
    (S.DRAFTED, S.RENDERING): "approve it first",
    (S.DRAFTED, S.PUBLISHING): "approve and render it first",
    (S.APPROVED, S.PUBLISHING): "render it first",
    (S.RENDERING, None): "a worker is rendering it; wait or let it fail",
    (S.PUBLISHING, None): "a publisher is posting it; wait for the result",
}


class ConcurrentChangeError(AgentError, RuntimeError):
    """Another process changed the reel between reading and writing it."""


def allowed(current: ReelStatus, target: ReelStatus) -> bool:
    return target in TRANSITIONS[ReelStatus(current)]


def check_transition(current: ReelStatus | str, target: ReelStatus | str, reel_id: int | None = None) -> None:
    """Raise :class:`InvalidTransitionError` naming both states unless the table allows the move."""
    current, target = ReelStatus(current), ReelStatus(target)
    if not allowed(current, target):
        hint = _HINTS.get((current, target)) or _HINTS.get((current, None), "")
        raise InvalidTransitionError(reel_id, current.value, target.value, hint)


def transition(
    session: Session,
    reel: Reel,
    target: ReelStatus,
    *,
    actor: str,
    reason: str = "",
    expected: ReelStatus | None = None,
    **changes: Any,
) -> ReelEvent:
    """Move ``reel`` to ``target`` and record the event; the caller commits.

    ``expected`` is the state the caller believes the reel is in (default: the
    loaded ``reel.status``); the write only happens if the row is still in it.
    """
    if "status" in changes:
        raise TypeError("transition(): pass the new state as `target`, not as a field change")
    current = ReelStatus(expected if expected is not None else reel.status)
    check_transition(current, target, reel.id)
    now = utcnow()
    values = {**changes, "status": ReelStatus(target), "updated_at": now}
    result = session.execute(
        update(Reel)
        .where(Reel.id == reel.id, Reel.status == current)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise ConcurrentChangeError(f"reel {reel.id}: changed by another process (no longer {current.value!r}); reload and try again")
    event = ReelEvent(reel_id=reel.id, from_status=current.value, to_status=ReelStatus(target).value, actor=actor, reason=reason, at=now)
    session.add(event)
    session.flush()
    session.expire(reel)
    return event


def claim(session: Session, reel_id: int, source: ReelStatus, target: ReelStatus, *, worker: str, reason: str = "claimed") -> Reel | None:
    """Atomically move one reel from ``source`` to ``target`` for ``worker``; commits.

    Returns the claimed reel, or ``None`` if it is not (or no longer) in ``source``
    or another worker holds it. Exactly one of several racing workers wins.
    """
    check_transition(source, target, reel_id)
    session.commit()  # a claim is its own transaction: its first statement takes the lock
    if session.get_bind().dialect.name == "postgresql":
        locked = session.execute(
            select(Reel.id).where(Reel.id == reel_id, Reel.status == source).with_for_update(skip_locked=True)
        ).scalar_one_or_none()
        if locked is None:
            session.rollback()
            return None
    return _claim_locked(session, reel_id, source, target, worker, reason)


def claim_next(
    session: Session,
    source: ReelStatus,
    target: ReelStatus,
    *,
    worker: str,
    due_before: datetime | None = None,
    reason: str = "claimed",
) -> Reel | None:
    """Claim the next reel waiting in ``source`` (oldest ``next_attempt_at``/``created_at`` first); commits.

    PostgreSQL: ``SELECT ... FOR UPDATE SKIP LOCKED``, so workers never wait on
    each other. SQLite: the conditional update, trying the next candidate when
    another worker took one first.
    """
    check_transition(source, target)
    session.commit()
    query = select(Reel.id).where(Reel.status == source).order_by(func.coalesce(Reel.next_attempt_at, Reel.created_at), Reel.id)
    if due_before is not None:
        query = query.where((Reel.next_attempt_at.is_(None)) | (Reel.next_attempt_at <= due_before))
    if session.get_bind().dialect.name == "postgresql":
        reel_id = session.execute(query.limit(1).with_for_update(skip_locked=True)).scalar_one_or_none()
        if reel_id is None:
            session.rollback()
            return None
        return _claim_locked(session, reel_id, source, target, worker, reason)
    while True:
        candidates = list(session.execute(query.limit(20)).scalars())
        session.rollback()
        if not candidates:
            return None
        for reel_id in candidates:
            reel = _claim_locked(session, reel_id, source, target, worker, reason)
            if reel is not None:
                return reel
        # Other workers took all of these in the meantime; look again (the set only shrinks).


def _claim_locked(session: Session, reel_id: int, source: ReelStatus, target: ReelStatus, worker: str, reason: str) -> Reel | None:
    now = utcnow()
    result = session.execute(
        update(Reel)
        .where(Reel.id == reel_id, Reel.status == source)
        .values(status=target, claimed_by=worker, claimed_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        session.rollback()
        return None
    session.add(ReelEvent(reel_id=reel_id, from_status=source.value, to_status=target.value, actor=worker, reason=reason, at=now))
    session.commit()
    # One SELECT: loads the reel, or refreshes the copy this session already holds (get() alone would return that
    # copy unchanged, and get() then refresh() read the row twice).
    return session.get(Reel, reel_id, populate_existing=True)
