"""The plan: a calendar's slots (expanded by :mod:`agent.content_calendar.slots`, peaks placed by
:mod:`agent.content_calendar.peaks`) previewed, or synced into the database.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from agent.content_calendar.peaks import peak_time_for
from agent.content_calendar.schema import Calendar
from agent.content_calendar.slots import PeakTime, PlannedSlot, assign_briefs, expand, find_slot
from agent.db.models import Creator, Reel, ReelStatus, Slot, utcnow
from agent.db.states import COMMITTED, ConcurrentChangeError, transition

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
    fields = _creator_fields(calendar)
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
    (:func:`sync_plans` does the same for many calendars at once.)
    """
    now = now or utcnow()
    creator = upsert_creator(session, calendar, path)
    if peak_time is None:
        peak_time = peak_time_for(calendar, now, days, audience=creator.audience)
    end = now + timedelta(days=days)
    existing = {slot.id: slot for slot in session.execute(select(Slot).where(Slot.creator_id == creator.id)).scalars()}
    reels_by_slot: dict[str, list[Reel]] = {}
    for reel in session.execute(select(Reel).where(Reel.creator_id == creator.id, Reel.slot_id.is_not(None)).order_by(Reel.id)).scalars():
        reels_by_slot.setdefault(reel.slot_id, []).append(reel)
    changes = _decide(calendar, existing, reels_by_slot, planned=expand(calendar, now, end, peak_time=peak_time), now=now, end=end, actor=actor)

    for values in changes.create:
        session.add(Slot(creator_id=creator.id, **values))
    for slot_id, values in changes.update.items():
        row = existing[slot_id]
        for key, value in values.items():
            setattr(row, key, value)
    for slot_id in changes.delete:
        session.delete(existing[slot_id])
    for reel, reel_actor, reason in changes.skip:
        transition(session, reel, ReelStatus.SKIPPED, actor=reel_actor, reason=reason)
    session.commit()

    report = changes.report
    report.slots = list(
        session.execute(
            select(Slot).where(Slot.creator_id == creator.id, Slot.scheduled_at >= now, Slot.scheduled_at < end).order_by(Slot.scheduled_at, Slot.id)
        ).scalars()
    )
    # A slot that left the calendar but keeps a skipped draft is history, not upcoming.
    # A slot skipped on the calendar is neither (its reel, if it had one, is skipped).
    report.slots = [slot for slot in report.slots if (slot.id in changes.planned_ids or slot.id in changes.frozen_in_window)
                    and slot.id not in changes.skipped]
    return report


#: Calendars planned in one transaction by :func:`sync_plans` (and one ``IN (…)`` list of creators per query).
BULK_CHUNK = 400


def sync_plans(session: Session, calendars: Sequence[tuple[Calendar, str | None]], *, now: datetime, days: int = 14,
               actor: str = "planner") -> list[SyncReport]:
    """:func:`sync_plan` for many calendars (``(calendar, path)`` pairs, one per creator) with the same result, in bulk:
    per chunk of :data:`BULK_CHUNK` creators their rows, slots and reels are read in one query each, and the new and
    changed rows written with one multi-row statement each, in one transaction (committed). The reports carry no
    ``slots``. If another process changes the same rows meanwhile (a duplicate slot, a reel that moved on), the
    chunk is rolled back and the error raised; the caller plans those calendars one by one with :func:`sync_plan`."""
    reports: list[SyncReport] = []
    for chunk in _chunks(calendars):
        try:
            reports.extend(_sync_chunk(session, chunk, now=now, days=days, actor=actor))
        except BaseException:
            session.rollback()
            raise
    return reports


def sync_plans_or_one_by_one(session: Session, calendars: Sequence[tuple[Calendar, str | None]], *, now: datetime, days: int = 14,
                             actor: str = "planner", logger: logging.Logger | None = None,
                             one_by_one: Callable[..., SyncReport] | None = None,
                             left_out: Callable[[Calendar], None] | None = None) -> list[SyncReport | None]:
    """:func:`sync_plans`, and where another process wrote the same rows meanwhile (the chunk is rolled back), the same
    calendars one by one with :func:`sync_plan` (``one_by_one``), leaving out a calendar whose plan collided again (the
    next sweep converges; ``left_out`` hears of it). Returns each calendar's report, None where it was left out; the
    reports of the bulk path carry no ``slots``. What the scheduler's plan sweep and the draft sweep plan with."""
    logger = logger or log
    one_by_one = one_by_one or sync_plan
    try:
        return list(sync_plans(session, calendars, now=now, days=days, actor=actor))
    except (IntegrityError, ConcurrentChangeError) as error:
        logger.info("planning %d calendars at once collided with another process (%s); planning them one by one",
                    len(calendars), type(error).__name__)
    reports: list[SyncReport | None] = []
    for calendar, path in calendars:
        try:
            reports.append(one_by_one(session, calendar, now=now, days=days, path=path, actor=actor))
        except IntegrityError:
            session.rollback()  # another process planned the same slot first; the next sweep converges
            reports.append(None)
            if left_out is not None:
                left_out(calendar)
            logger.info("@%s: another process planned at the same moment; retrying next sweep", calendar.handle)
    return reports


def chunks(calendars: Sequence[tuple[Calendar, str | None]]) -> list[list[tuple[Calendar, str | None]]]:
    """The chunks :func:`sync_plans` plans one transaction each (see :func:`_chunks`)."""
    return _chunks(calendars)


def _chunks(calendars: Sequence[tuple[Calendar, str | None]]) -> list[list[tuple[Calendar, str | None]]]:
    """Chunks of at most :data:`BULK_CHUNK`, in order, a handle at most once in each (``ana.yaml`` and ``ana.yml``
    both name @ana: the later one is planned after the earlier, as one by one)."""
    chunks: list[list[tuple[Calendar, str | None]]] = [[]]
    handles: set[str] = set()
    for item in calendars:
        if len(chunks[-1]) >= BULK_CHUNK or item[0].handle in handles:
            chunks.append([])
            handles = set()
        chunks[-1].append(item)
        handles.add(item[0].handle)
    return [chunk for chunk in chunks if chunk]


_CREATOR_FIELDS = ("timezone", "language", "persona", "reel_length_s")


def _creator_fields(calendar: Calendar) -> dict[str, Any]:
    return dict(timezone=calendar.timezone, language=calendar.language, persona=calendar.persona.model_dump(), reel_length_s=calendar.reel_length_s)


def _sync_chunk(session: Session, chunk: Sequence[tuple[Calendar, str | None]], *, now: datetime, days: int, actor: str) -> list[SyncReport]:
    creators, slots, reels = Creator.__table__, Slot.__table__, Reel.__table__
    handles = [calendar.handle for calendar, _path in chunk]
    # The creators' rows: inserted when new, updated when the calendar changed their fields (as upsert_creator does).
    rows = {row.handle: row for row in session.execute(
        select(creators.c.id, creators.c.handle, creators.c.calendar_path, creators.c.audience, *[creators.c[name] for name in _CREATOR_FIELDS])
        .where(creators.c.handle.in_(handles))).all()}
    stamp = utcnow()
    new, changed = [], []
    for calendar, path in chunk:
        fields = _creator_fields(calendar)
        row = rows.get(calendar.handle)
        if row is None:
            new.append({"handle": calendar.handle, "calendar_path": path, **fields, "audience": {}, "created_at": stamp, "updated_at": stamp})
        elif any(getattr(row, key) != value for key, value in fields.items()) or row.calendar_path != path:
            changed.append({"_handle": calendar.handle, "calendar_path": path, **fields, "updated_at": stamp})
    if new:
        session.execute(insert(creators), new)
    if changed:
        session.execute(update(creators).where(creators.c.handle == bindparam("_handle")), changed)   # SET: the other keys
    ids = dict(session.execute(select(creators.c.handle, creators.c.id).where(creators.c.handle.in_(handles))).all()) if new else \
        {handle: row.id for handle, row in rows.items()}
    audience = {handle: row.audience for handle, row in rows.items()}
    # Their slots and the reels on them, one query each (a new creator has neither).
    known = [ids[handle] for handle in rows]
    existing: dict[int, dict[str, Any]] = {creator_id: {} for creator_id in ids.values()}
    reels_by_slot: dict[int, dict[str, list[Any]]] = {creator_id: {} for creator_id in ids.values()}
    if known:
        for row in session.execute(select(slots).where(slots.c.creator_id.in_(known))).all():
            existing[row.creator_id][row.id] = row
        for row in session.execute(select(reels.c.id, reels.c.creator_id, reels.c.slot_id, reels.c.status)
                                   .where(reels.c.creator_id.in_(known), reels.c.slot_id.is_not(None)).order_by(reels.c.id)).all():
            reels_by_slot[row.creator_id].setdefault(row.slot_id, []).append(row)
    end = now + timedelta(days=days)
    create: list[dict[str, Any]] = []
    updates: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    deletes: list[str] = []
    skips: list[tuple[Any, str, str]] = []
    reports = []
    for calendar, _path in chunk:
        creator_id = ids[calendar.handle]
        peak_time = peak_time_for(calendar, now, days, audience=audience.get(calendar.handle))
        changes = _decide(calendar, existing[creator_id], reels_by_slot[creator_id], planned=expand(calendar, now, end, peak_time=peak_time),
                          now=now, end=end, actor=actor)
        create.extend({**values, "creator_id": creator_id, "created_at": stamp, "updated_at": stamp} for values in changes.create)
        for slot_id, values in changes.update.items():
            updates.setdefault(tuple(sorted(values)), []).append({**values, "_id": slot_id})
        deletes.extend(changes.delete)
        skips.extend(changes.skip)
        reports.append(changes.report)
    if create:
        session.execute(insert(slots), create)
    for keys, params in updates.items():
        session.execute(update(slots).where(slots.c.id == bindparam("_id")), params)   # SET: the other keys (the same in a group)
    for start in range(0, len(deletes), BULK_CHUNK):
        session.execute(delete(slots).where(slots.c.id.in_(deletes[start:start + BULK_CHUNK])))
    for row, reel_actor, reason in skips:
        reel = session.get(Reel, row.id)
        if reel is None:
            raise ConcurrentChangeError(f"reel {row.id}: deleted by another process while its slot was planned")
        transition(session, reel, ReelStatus.SKIPPED, actor=reel_actor, reason=reason, expected=ReelStatus(row.status))
    session.commit()
    return reports


@dataclass
class _Changes:
    """What one sync does to one creator's slots and reels, decided from the rows as they were read."""

    report: SyncReport
    create: list[dict[str, Any]] = field(default_factory=list)      # a new slot's values (with its id)
    update: dict[str, dict[str, Any]] = field(default_factory=dict)  # slot id -> the values it gets
    delete: list[str] = field(default_factory=list)                  # slots gone from the calendar, with no reel
    skip: list[tuple[Any, str, str]] = field(default_factory=list)   # (reel, actor, reason): reels to move to skipped
    planned_ids: set[str] = field(default_factory=set)
    frozen_in_window: set[str] = field(default_factory=set)
    skipped: frozenset[str] = frozenset()


def _decide(calendar: Calendar, existing: dict[str, Any], reels_by_slot: dict[str, list[Any]], *, planned: list[PlannedSlot],
            now: datetime, end: datetime, actor: str) -> _Changes:
    """The changes that bring ``existing`` (slot id -> its row: an ORM ``Slot`` or a row with the same columns) in line
    with ``planned``; ``reels_by_slot`` (slot id -> its reels, anything with ``id``, ``status``) says which are
    committed. Reads only; the caller writes (:func:`sync_plan` through the ORM, :func:`sync_plans` in bulk)."""

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
    changes = _Changes(SyncReport(handle=calendar.handle), planned_ids=planned_ids, frozen_in_window=frozen_in_window, skipped=frozenset(skips))
    report = changes.report

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
            changes.create.append({"id": item.slot_id, **values})
            report.created.append(item.slot_id)
        elif any(getattr(row, key) != value for key, value in values.items()):
            changes.update[item.slot_id] = {**values, "updated_at": utcnow()}
            report.updated.append(item.slot_id)
        if item.note:
            log.info("%s: %s", item.slot_id, item.note)

    _decide_moves(calendar, existing, moves, planned_ids, frozen, reels_by_slot, now, changes)
    _decide_skips(existing, skips, frozen, reels_by_slot, now, changes)

    for slot_id, row in existing.items():
        if slot_id in frozen or slot_id in planned_ids or slot_id in moves or not (now <= row.scheduled_at < end):
            continue
        reels = reels_by_slot.get(slot_id, [])
        if not reels:
            changes.delete.append(slot_id)
        else:
            # Drafts and rejected drafts would otherwise be (re)drafted for a slot that no longer exists.
            waiting = [reel for reel in reels if ReelStatus(reel.status) in (ReelStatus.DRAFTED, ReelStatus.REJECTED)]
            if not waiting and row.brief_key is None:
                continue  # taken off the calendar by an earlier sync; nothing left to do
            skip = skips.get(slot_id)
            for reel in waiting:
                if skip is not None:
                    changes.skip.append((reel, skip.by or actor, "skipped on the calendar"))
                else:
                    changes.skip.append((reel, actor, f"slot {slot_id} left the calendar"))
            changes.update.setdefault(slot_id, {})["brief_key"] = None  # the brief goes back to the backlog
        report.removed.append(slot_id)
    report.kept = sorted(frozen_in_window)
    return changes


#: A reel in one of these is out of the planner's hands: its slot is neither moved nor skipped any more.
_POSTING = frozenset({ReelStatus.PUBLISHING, ReelStatus.PUBLISHED})


def _decide_moves(calendar: Calendar, existing: dict[str, Any], moves: dict, planned_ids: set[str], frozen: set[str],
                  reels_by_slot: dict[str, list[Any]], now: datetime, changes: _Changes) -> None:
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
        changes.update.setdefault(slot_id, {}).update(scheduled_at=local.astimezone(row.scheduled_at.tzinfo), local_time=local.isoformat(),
                                                      peak=False, updated_at=utcnow())
        if slot_id not in changes.report.updated:
            changes.report.updated.append(slot_id)


def _decide_skips(existing: dict[str, Any], skips: dict, frozen: set[str], reels_by_slot: dict[str, list[Any]], now: datetime,
                  changes: _Changes) -> None:
    """A skipped slot whose reel was approved (or rendered) is skipped too: its reel goes to ``skipped``; one being
    rendered is skipped on a later plan, once its render ended; one being posted or published is not."""
    for slot_id, skip in skips.items():
        row = existing.get(slot_id)
        if row is None or row.scheduled_at < now or slot_id not in frozen:
            continue
        for reel in reels_by_slot.get(slot_id, []):
            if ReelStatus(reel.status) in (ReelStatus.APPROVED, ReelStatus.RENDERED, ReelStatus.FAILED):
                changes.skip.append((reel, skip.by or "planner", "skipped on the calendar"))
        changes.update.setdefault(slot_id, {})["brief_key"] = None
        if slot_id not in changes.report.removed:
            changes.report.removed.append(slot_id)
