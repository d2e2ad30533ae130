"""The calendar's approval policy, applied to drafts nobody has acted on.

- ``manual``: nothing happens by itself; a draft approved after its slot passed
  goes out at the next free slot (the publisher's job).
- ``auto_after_hours: N``: a draft untouched for N hours since it was drafted or
  last edited is approved, recorded as the policy's decision.
- ``skip_if_unapproved``: a draft still unapproved when its render lead time
  starts (``scheduler.render_lead_hours`` before the slot) is skipped: it could
  not be rendered in time, and it is never published.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlmodel import Session

from agent.content_calendar.schema import AutoAfter, Calendar
from agent.db.models import Creator, Reel, ReelStatus, Slot
from agent.db.states import ConcurrentChangeError, transition


@dataclass
class PolicyReport:
    handle: str
    approved: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)


def apply_approval_policy(session: Session, calendar: Calendar, *, now: datetime, render_lead: timedelta = timedelta(0)) -> PolicyReport:
    """Approve or skip this creator's waiting drafts as the calendar's policy says; commits."""
    return apply_approval_policies(session, [calendar], now=now, render_lead=render_lead)[0]


#: Above this many handles, :func:`apply_approval_policies` reads the waiting drafts of every creator with one query
#: (and keeps the wanted ones) instead of naming the handles.
READ_ALL_ABOVE = 400


def apply_approval_policies(session: Session, calendars: Sequence[Calendar], *, now: datetime,
                            render_lead: timedelta = timedelta(0)) -> list[PolicyReport]:
    """:func:`apply_approval_policy` for many calendars (one report each, in order) with the same result, in bulk: one
    query reads the drafts any of the policies could act on now (drafts untouched for the shortest ``auto_after_hours``
    and drafts whose slot's render lead time began), and only the drafts a policy acts on are written, each move its own
    commit as before. Calendars on ``manual`` cost nothing. A move re-reads its reel: what the creator (or another
    process, or a second file naming the same creator) did meanwhile wins."""
    reports = [PolicyReport(handle=calendar.handle) for calendar in calendars]
    acting = [(report, calendar) for report, calendar in zip(reports, calendars) if calendar.approval != "manual"]
    if not acting:
        return reports   # before any query: most creators approve by hand
    creators, reels, slots = Creator.__table__, Reel.__table__, Slot.__table__
    hours = [calendar.approval.auto_after_hours for _report, calendar in acting if isinstance(calendar.approval, AutoAfter)]
    due = []
    if hours:
        due.append(reels.c.updated_at <= now - timedelta(hours=min(hours)))
    if any(calendar.approval == "skip_if_unapproved" for _report, calendar in acting):
        due.append(slots.c.scheduled_at <= now + render_lead)
    handles = {calendar.handle for _report, calendar in acting}
    query = (select(reels.c.id, creators.c.handle, reels.c.updated_at, slots.c.scheduled_at)
             .join(creators, creators.c.id == reels.c.creator_id).outerjoin(slots, slots.c.id == reels.c.slot_id)
             .where(reels.c.status == ReelStatus.DRAFTED.value, or_(*due)).order_by(reels.c.id))
    if len(handles) <= READ_ALL_ABOVE:
        query = query.where(creators.c.handle.in_(handles))
    drafts: dict[str, list[Any]] = {}
    for row in session.execute(query):
        if row.handle in handles:
            drafts.setdefault(row.handle, []).append(row)
    for report, calendar in acting:
        policy = calendar.approval
        if isinstance(policy, AutoAfter):
            cutoff = now - timedelta(hours=policy.auto_after_hours)
            for row in drafts.get(calendar.handle, []):
                if row.updated_at <= cutoff:
                    _move(session, row.id, report.approved, ReelStatus.APPROVED, actor="policy",
                          reason=f"auto_after_hours: {policy.auto_after_hours}; nobody acted on the draft",
                          still=lambda reel, cutoff=cutoff: reel.updated_at <= cutoff, approved_at=now, approved_by="policy:auto_after_hours")
        elif policy == "skip_if_unapproved":
            for row in drafts.get(calendar.handle, []):
                if row.scheduled_at is not None and row.scheduled_at - render_lead <= now:
                    _move(session, row.id, report.skipped, ReelStatus.SKIPPED, actor="policy",
                          reason="skip_if_unapproved: not approved before its render lead time")
    return reports


def _move(session: Session, reel_id: int, done: list[int], target: ReelStatus, *, actor: str, reason: str,
          still: Callable[[Reel], bool] | None = None, **changes: Any) -> None:
    """Move one waiting draft (as read) to ``target`` and commit, unless it is no longer waiting (or ``still`` says the
    policy no longer applies): the creator (or another process) acted first, and theirs wins."""
    try:
        reel = session.get(Reel, reel_id, populate_existing=True)
        if reel is None or ReelStatus(reel.status) != ReelStatus.DRAFTED or (still is not None and not still(reel)):
            return
        transition(session, reel, target, actor=actor, reason=reason, expected=ReelStatus.DRAFTED, **changes)
        session.commit()
        done.append(reel_id)
    except ConcurrentChangeError:
        session.rollback()  # the creator (or another process) acted first: theirs wins
