"""Decisions on several reels at once, and taking one back: approve each of a selection, undo an approval.

:func:`approve_each` runs the one approval (:func:`agent.approval.queue.approve`) reel by reel, so a reel that cannot
be approved (stale fields, no longer waiting, another creator's) is reported with its reason and the others are
approved anyway; ``reeltwin approve 3 4 5`` stays all or nothing.

:func:`unapprove` takes an approval back while no render worker has claimed the reel. Both the undo and the render
claim are a conditional ``UPDATE … WHERE status = 'approved'`` (:mod:`agent.db.states`): whichever commits first
wins, the other changes nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel import Session

from agent.approval.queue import approve, get_reel, missing_reel
from agent.db.models import Creator, Reel, ReelStatus
from agent.db.states import ConcurrentChangeError, transition
from agent.errors import AgentError, ValidationFailed

#: How many reels one "Approve selected" may name (a queue page never shows more waiting reels than this).
MAX_SELECTED = 200


@dataclass(frozen=True)
class ApprovalResult:
    """One reel of a selection: approved (or already was), or why not (``error``)."""

    reel_id: int
    approved: bool
    detail: str = ""                 # "approved" | "already approved" when approved
    error: AgentError | None = None


def approve_each(session: Session, reel_ids: Iterable[int], *, actor: str, handles: Collection[str] | None = None) -> list[ApprovalResult]:
    """Approve every reel of ``reel_ids`` that can be, each in its own transaction; the others come back with their reason.

    With ``handles``, a reel of another creator is answered like one that does not exist. Stale fields are never kept
    here: such a reel is refused until the creator has looked at it (its own page asks)."""
    wanted = list(dict.fromkeys(reel_ids))
    if len(wanted) > MAX_SELECTED:
        raise ValidationFailed(f"{len(wanted)} reels selected; approve at most {MAX_SELECTED} at a time")
    results = []
    for reel_id in wanted:
        if handles is not None and not _belongs_to(session, reel_id, handles):
            results.append(ApprovalResult(reel_id, False, error=missing_reel(reel_id)))
            continue
        try:
            [(_id, outcome)] = approve(session, [reel_id], actor=actor)
        except AgentError as error:
            session.rollback()
            results.append(ApprovalResult(reel_id, False, error=error))
        else:
            results.append(ApprovalResult(reel_id, True, detail=outcome))
    return results


def _belongs_to(session: Session, reel_id: int, handles: Collection[str]) -> bool:
    handle = session.execute(select(Creator.handle).join(Reel, Reel.creator_id == Creator.id).where(Reel.id == reel_id)).scalar_one_or_none()
    return handle is not None and handle in handles


#: Why an approval cannot be undone, by the reel's state.
_CANNOT_UNDO = {
    ReelStatus.DRAFTED: "it is not approved, so there is nothing to undo",
    ReelStatus.RENDERING: "rendering has started, so the approval can no longer be undone; once it is rendered, edit or reject it",
    ReelStatus.RENDERED: "it is already rendered, so the approval can no longer be undone; edit or reject it to change it",
    ReelStatus.PUBLISHING: "it is being posted right now",
    ReelStatus.PUBLISHED: "it is already published",
    ReelStatus.REJECTED: "it was rejected and is being redrafted",
    ReelStatus.SKIPPED: "it was skipped and will not be posted",
    ReelStatus.FAILED: "it failed; retry it or reject it instead",
}


def unapprove(session: Session, reel_id: int, *, actor: str) -> Reel:
    """An approved reel back to ``drafted`` before any render worker has claimed it; commits. ValidationFailed once it has."""
    reel = get_reel(session, reel_id)
    status = ReelStatus(reel.status)
    if status != ReelStatus.APPROVED:
        raise ValidationFailed(f"reel {reel_id}: {_CANNOT_UNDO[status]}")
    try:
        # The same conditional update as a render claim: only one of the two finds the reel still approved.
        transition(session, reel, ReelStatus.DRAFTED, actor=actor, reason="approval undone before rendering", expected=ReelStatus.APPROVED,
                   approved_at=None, approved_by=None, next_attempt_at=None)
    except ConcurrentChangeError:
        session.rollback()
        now = ReelStatus(get_reel(session, reel_id).status)
        raise ValidationFailed(f"reel {reel_id}: {_CANNOT_UNDO.get(now, 'it changed a moment ago; reload and try again')}") from None
    session.commit()
    return get_reel(session, reel_id)
