"""The plan: a calendar's slots (expanded by :mod:`agent.content_calendar.slots`, peaks placed by
:mod:`agent.content_calendar.peaks`) previewed, or synced into the database.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlmodel import Session

from agent.content_calendar.peaks import peak_time_for
from agent.content_calendar.schema import Calendar
from agent.content_calendar.slots import PeakTime, PlannedSlot, assign_briefs, expand, find_slot
from agent.db.models import Creator, Reel, ReelStatus, Slot, utcnow
from agent.db.states import COMMITTED, transition

log = logging.getLogger(__name__)


def preview(calendar: Calendar, start: datetime, days: int, *, peak_time: PeakTime | None = None) -> list[PlannedSlot]:
    """The plan for the next ``days`` days without a database (briefs from the top of the backlog)."""
    if peak_time is None:
        peak_time = peak_time_for(calendar, start, days)
    return assign_briefs(expand(calendar, start, start + timedelta(days=days), peak_time=peak_time), calendar.backlog)


@dataclass
class SyncReport:
    handle: str
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)     # committed slots left exactly as they were
    slots: list[Slot] = field(default_factory=list)   # the upcoming slots after the sync, in time order


def upsert_creator(session: Session, calendar: Calendar, path: str | None) -> Creator:
    creator = session.execute(select(Creator).where(Creator.handle == calendar.handle)).scalar_one_or_none()
    fields = dict(timezone=calendar.timezone, language=calendar.language, persona=calendar.persona.model_dump(), reel_length_s=calendar.reel_length_s)
    if creator is None:
        creator = Creator(handle=calendar.handle, calendar_path=path, **fields)
        session.add(creator)
    elif any(getattr(creator, key) != value for key, value in fields.items()) or creator.calendar_path != path:
        for key, value in fields.items():
            setattr(creator, key, value)
        creator.calendar_path = path
        creator.updated_at = utcnow()
    session.flush()
    return creator


def sync_plan(
    session: Session,
    calendar: Calendar,
    *,
    now: datetime | None = None,
    days: int = 14,
    path: str | None = None,
    peak_time: PeakTime | None = None,
    actor: str = "planner",
) -> SyncReport:
    """Bring the database's future slots in line with the calendar; commits. Idempotent.

    Future slots whose reel is committed (approved onwards) are never moved,
    changed or dropped. Other future slots follow the calendar; a slot that left
    the calendar is deleted, or, if a draft hangs on it, kept and its draft
    skipped with the reason recorded. Past slots are history and never touched.
    """
    now = now or utcnow()
    report = SyncReport(handle=calendar.handle)
    creator = upsert_creator(session, calendar, path)
    if peak_time is None:
        peak_time = peak_time_for(calendar, now, days, audience=creator.audience)
    end = now + timedelta(days=days)
    planned = expand(calendar, now, end, peak_time=peak_time)

    existing = {slot.id: slot for slot in session.execute(select(Slot).where(Slot.creator_id == creator.id)).scalars()}
    reels_by_slot: dict[str, list[Reel]] = {}
    for reel in session.execute(select(Reel).where(Reel.creator_id == creator.id, Reel.slot_id.is_not(None))).scalars():
        reels_by_slot.setdefault(reel.slot_id, []).append(reel)

    def committed(slot_id: str) -> bool:
        return any(ReelStatus(reel.status) in COMMITTED for reel in reels_by_slot.get(slot_id, []))

    overrides = calendar.overrides
    # A move whose slot the calendar file no longer has (its cadence entry was removed) moves nothing: the slot left.
    moves = {move.slot: move for move in overrides.moves if find_slot(calendar, move.slot, with_overrides=False) is not None}
    skips = {skip.slot: skip for skip in overrides.skips}
    frozen = {slot_id for slot_id, slot in existing.items() if slot.scheduled_at < now or committed(slot_id)}
    frozen_in_window = {slot_id for slot_id in frozen if now <= existing[slot_id].scheduled_at < end}
    used = {existing[slot_id].brief_key for slot_id in frozen if existing[slot_id].brief_key}
    planned_ids = {item.slot_id for item in planned}
    keep = {
        slot.id: slot.brief_key
        for slot in existing.values()
        if slot.id not in frozen and slot.brief_key and (slot.id in planned_ids or slot.scheduled_at >= end or slot.id in moves)
    }
    plan = assign_briefs([slot for slot in planned if slot.slot_id not in frozen], calendar.backlog, used=used, keep=keep)

    for item in plan:
        row = existing.get(item.slot_id)
        values = dict(
            scheduled_at=item.utc,
            local_time=item.local.isoformat(),
            kind=item.kind,
            peak=item.peak,
            pillar=item.pillar,
            brief=item.brief,
            brief_key=item.brief_key,
        )
        if row is None:
            session.add(Slot(id=item.slot_id, creator_id=creator.id, **values))
            report.created.append(item.slot_id)
        elif any(getattr(row, key) != value for key, value in values.items()):
            for key, value in values.items():
                setattr(row, key, value)
            row.updated_at = utcnow()
            report.updated.append(item.slot_id)
        if item.note:
            log.info("%s: %s", item.slot_id, item.note)

    _apply_moves(session, calendar, existing, moves, planned_ids, frozen, reels_by_slot, now, report)
    _apply_skips(session, existing, skips, frozen, reels_by_slot, now, report)

    for slot_id, row in existing.items():
        if slot_id in frozen or slot_id in planned_ids or slot_id in moves or not (now <= row.scheduled_at < end):
            continue
        reels = reels_by_slot.get(slot_id, [])
        if not reels:
            session.delete(row)
        else:
            # Drafts and rejected drafts would otherwise be (re)drafted for a slot that no longer exists.
            waiting = [reel for reel in reels if ReelStatus(reel.status) in (ReelStatus.DRAFTED, ReelStatus.REJECTED)]
            if not waiting and row.brief_key is None:
                continue  # taken off the calendar by an earlier sync; nothing left to do
            skip = skips.get(slot_id)
            for reel in waiting:
                if skip is not None:
                    transition(session, reel, ReelStatus.SKIPPED, actor=skip.by or actor, reason="skipped on the calendar")
                else:
                    transition(session, reel, ReelStatus.SKIPPED, actor=actor, reason=f"slot {slot_id} left the calendar")
            row.brief_key = None  # the brief goes back to the backlog
        report.removed.append(slot_id)
    report.kept = sorted(frozen_in_window)
    session.commit()

    report.slots = list(
        session.execute(
            select(Slot).where(Slot.creator_id == creator.id, Slot.scheduled_at >= now, Slot.scheduled_at < end).order_by(Slot.scheduled_at, Slot.id)
        ).scalars()
    )
    # A slot that left the calendar but keeps a skipped draft is history, not upcoming.
    # A slot skipped on the calendar is neither (its reel, if it had one, is skipped).
    report.slots = [slot for slot in report.slots if (slot.id in planned_ids or slot.id in frozen_in_window) and slot.id not in skips]
    return report


#: A reel in one of these is out of the planner's hands: its slot is neither moved nor skipped any more.
_POSTING = frozenset({ReelStatus.PUBLISHING, ReelStatus.PUBLISHED})


def _apply_moves(session: Session, calendar: Calendar, existing: dict[str, Slot], moves: dict, planned_ids: set[str], frozen: set[str],
                 reels_by_slot: dict[str, list[Reel]], now: datetime, report: SyncReport) -> None:
    """Moved slots the plan's loop does not place (their reel is committed, or they moved out of the window) go to
    their new time too; a slot whose reel is being posted or is published stays where it was posted."""
    from zoneinfo import ZoneInfo

    from agent.content_calendar.slots import local_to_utc

    zone = ZoneInfo(calendar.timezone)
    for slot_id, move in moves.items():
        row = existing.get(slot_id)
        if row is None or row.scheduled_at < now or (slot_id in planned_ids and slot_id not in frozen):
            continue
        if any(ReelStatus(reel.status) in _POSTING for reel in reels_by_slot.get(slot_id, [])):
            continue
        local, _note = local_to_utc(move.to.date(), move.to.time(), zone)
        if local <= now or (row.scheduled_at == local and not row.peak):
            continue
        row.scheduled_at, row.local_time, row.peak, row.updated_at = local.astimezone(row.scheduled_at.tzinfo), local.isoformat(), False, utcnow()
        if slot_id not in report.updated:
            report.updated.append(slot_id)


def _apply_skips(session: Session, existing: dict[str, Slot], skips: dict, frozen: set[str], reels_by_slot: dict[str, list[Reel]],
                 now: datetime, report: SyncReport) -> None:
    """A skipped slot whose reel was approved (or rendered) is skipped too: its reel goes to ``skipped``; one being
    rendered is skipped on a later plan, once its render ended; one being posted or published is not."""
    for slot_id, skip in skips.items():
        row = existing.get(slot_id)
        if row is None or row.scheduled_at < now or slot_id not in frozen:
            continue
        for reel in reels_by_slot.get(slot_id, []):
            if ReelStatus(reel.status) in (ReelStatus.APPROVED, ReelStatus.RENDERED, ReelStatus.FAILED):
                transition(session, reel, ReelStatus.SKIPPED, actor=skip.by or "planner", reason="skipped on the calendar")
        row.brief_key = None
        if slot_id not in report.removed:
            report.removed.append(slot_id)
