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

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
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
    report = PolicyReport(handle=calendar.handle)
    if calendar.approval == "manual":
        return report   # before any query: most creators approve by hand, and a sweep visits every creator
    creator = session.execute(select(Creator).where(Creator.handle == calendar.handle)).scalar_one_or_none()
    if creator is None:
        return report
    drafts = session.execute(
        select(Reel, Slot).outerjoin(Slot, Reel.slot_id == Slot.id).where(Reel.creator_id == creator.id, Reel.status == ReelStatus.DRAFTED).order_by(Reel.id)
    ).all()
    policy = calendar.approval
    for reel, slot in drafts:
        try:
            if isinstance(policy, AutoAfter):
                if reel.updated_at <= now - timedelta(hours=policy.auto_after_hours):
                    transition(session, reel, ReelStatus.APPROVED, actor="policy", reason=f"auto_after_hours: {policy.auto_after_hours}; nobody acted on the draft",
                               approved_at=now, approved_by="policy:auto_after_hours")
                    report.approved.append(reel.id)
            elif policy == "skip_if_unapproved" and slot is not None and slot.scheduled_at - render_lead <= now:
                transition(session, reel, ReelStatus.SKIPPED, actor="policy", reason="skip_if_unapproved: not approved before its render lead time")
                report.skipped.append(reel.id)
            session.commit()
        except ConcurrentChangeError:
            session.rollback()  # the creator (or another process) acted first: theirs wins
    return report
