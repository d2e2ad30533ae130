"""Moving a slot, skipping it, putting it back and adding a reel: what the calendar grid and ``reeltwin calendar
move|skip|add`` do, one function each.

Each change is checked against the calendar's rules (not in the past, not in its quiet hours, at least
``min_gap_hours`` from every other post), written to ``<handle>.overrides.yaml`` beside the calendar (the calendar
file itself is never rewritten), planned at once, and recorded in the history of the reel on the slot.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select, update
from sqlmodel import Session

from agent.content_calendar import overrides as files
from agent.content_calendar.loader import LoadedCalendar, display_path, load_overrides
from agent.content_calendar.overrides import Add, Move, Overrides, Skip, show_local, slot_id_parts
from agent.content_calendar.planner import SyncReport, sync_plan
from agent.content_calendar.schema import Calendar
from agent.content_calendar.slots import PlannedSlot, expand, find_slot, local_to_utc
from agent.db.models import Creator, Reel, ReelEvent, ReelStatus, Slot, utcnow
from agent.db.states import LIVE, transition
from agent.errors import AgentError, NotFoundError, ValidationFailed

#: How far ahead a slot may be moved or a reel added.
MAX_DAYS_AHEAD = 366
_SKIPPABLE = frozenset({ReelStatus.DRAFTED, ReelStatus.APPROVED, ReelStatus.RENDERED, ReelStatus.FAILED, ReelStatus.REJECTED})
_LIST_SLOTS = "list the slots with `reeltwin calendar show --json`"


class ScheduleConflict(AgentError, ValueError):
    """A move or an added reel the calendar's rules refuse: in the past, in the quiet hours, too close to another post,
    or a reel that is being posted or is published."""


@dataclass(frozen=True)
class Change:
    """What a change did, in one line a person reads (the same words on the web and in the terminal)."""

    slot_id: str
    message: str
    reel_id: int | None = None
    local: datetime | None = None     # the slot's (new) local time


@dataclass(frozen=True)
class SlotState:
    """A slot as the plan has it now, with the reel on it."""

    slot_id: str
    local: datetime                   # aware, in the calendar's zone
    planned: PlannedSlot | None
    row: Slot | None
    reel: Reel | None                 # the live reel on the slot (not a skipped or rejected one)
    skipped: bool
    added: bool


def when(moment: datetime) -> str:
    """``Tue 8 Dec 18:00``: how a slot's time is named in messages."""
    return f"{moment:%a} {moment.day} {moment:%b %H:%M}"


def _duration(delta: timedelta) -> str:
    minutes = max(0, math.floor(abs(delta).total_seconds() / 60))
    hours, minutes = divmod(minutes, 60)
    if hours and minutes:
        return f"{hours} h {minutes} min"
    return f"{hours} h" if hours else f"{minutes} min"


def _hours(value: float) -> str:
    return f"{value:g} h"


# --------------------------------------------------------------------------- finding slots


def creator_of(session: Session, calendar: Calendar) -> Creator | None:
    return session.execute(select(Creator).where(Creator.handle == calendar.handle)).scalar_one_or_none()


def live_reel(session: Session, slot_id: str) -> Reel | None:
    # populate_existing: the decision needs the row's state now, not a copy this session loaded earlier
    reels = session.execute(select(Reel).where(Reel.slot_id == slot_id).order_by(Reel.id.desc()).execution_options(populate_existing=True)).scalars()
    return next((reel for reel in reels if ReelStatus(reel.status) in LIVE), None)


def resolve_slot(session: Session, calendar: Calendar, reference: str) -> str:
    """A slot id from what the user typed: a slot id of this calendar, or the id of a reel on one of its slots."""
    text = str(reference).strip()
    if text.isdigit():
        reel = session.get(Reel, int(text)) if int(text) < 2**31 else None
        creator = creator_of(session, calendar)
        if reel is None or creator is None or reel.creator_id != creator.id:
            raise NotFoundError(f"reel {text} is not one of @{calendar.handle}'s reels; list reels with `reeltwin queue`")
        if reel.slot_id is None:
            raise ValidationFailed(f"reel {text} has no calendar slot (it was drafted on its own); publish it with `reeltwin publish {text}`")
        return reel.slot_id
    parts = slot_id_parts(text)
    if parts is None or parts[0] != calendar.handle:
        raise NotFoundError(f"slot {text!r} is not on @{calendar.handle}'s calendar; give a slot id such as "
                            f"{calendar.handle}:2026-12-10:w1 or a reel id; {_LIST_SLOTS}")
    return text


def slot_state(session: Session, calendar: Calendar, slot_id: str) -> SlotState:
    """Where slot ``slot_id`` is now and which reel is on it; NotFoundError when the calendar has no such slot."""
    zone = ZoneInfo(calendar.timezone)
    creator = creator_of(session, calendar)
    row = session.get(Slot, slot_id)
    if row is not None and (creator is None or row.creator_id != creator.id):
        row = None
    planned = find_slot(calendar, slot_id)
    skip = calendar.overrides.skip_of(slot_id)
    if row is None and planned is None:
        raise NotFoundError(f"slot {slot_id!r} is not on @{calendar.handle}'s calendar (it may have been removed from the file); {_LIST_SLOTS}")
    if row is not None:
        local = row.scheduled_at.astimezone(zone)
    else:
        assert planned is not None
        local = planned.local
    reel = live_reel(session, slot_id) if row is not None else None
    if reel is not None and reel.publish_at is not None and ReelStatus(reel.status) not in (ReelStatus.PUBLISHING, ReelStatus.PUBLISHED):
        local = reel.publish_at.astimezone(zone)   # rescheduled on its reel page: that is when it goes out now
    return SlotState(slot_id=slot_id, local=local, planned=planned, row=row, reel=reel, skipped=skip is not None,
                     added=calendar.overrides.add_of(slot_id) is not None)


def _refuse_posted(state: SlotState, doing: str) -> None:
    reel = state.reel
    if reel is None:
        return
    status = ReelStatus(reel.status)
    if status == ReelStatus.PUBLISHED:
        raise ScheduleConflict(f"reel {reel.id} on {when(state.local)} is already published, so it cannot be {doing}")
    if status == ReelStatus.PUBLISHING:
        raise ScheduleConflict(f"reel {reel.id} on {when(state.local)} is being posted right now, so it cannot be {doing}")


# --------------------------------------------------------------------------- the rules


def posts_near(session: Session, calendar: Calendar, center: datetime, *, apart: timedelta, ignore: str | None = None) -> list[tuple[datetime, str, Reel | None]]:
    """Every post of the creator within ``apart`` of ``center`` (UTC): (time, slot id, its reel), nearest first.
    The plan's slots (planned in the database or not yet; skipped ones left out), with their stored times where planned,
    reels given a time of their own (rescheduled) and ad-hoc reels with a time (id ``reel:<id>``). ``ignore`` leaves out
    one slot id or ``reel:<id>``: the post being moved. The one minimum-gap search (:func:`check_time`, and
    :func:`agent.approval.timing.reschedule` for one reel)."""
    from agent.content_calendar.peaks import peak_time_for

    creator = creator_of(session, calendar)
    low, high = center - apart - timedelta(days=1), center + apart + timedelta(days=1)
    peak_time = peak_time_for(calendar, low, 3 + math.ceil(apart.total_seconds() / 86400) * 2, audience=creator.audience if creator else None)
    posts: dict[str, tuple[datetime, Reel | None]] = {slot.slot_id: (slot.utc, None) for slot in expand(calendar, low, high, peak_time=peak_time)}
    if creator is not None:
        skipped = calendar.overrides.skipped()
        # Slots planned in the window, and slots whose reel was given a time in it (far from the slot's own).
        timed_here = select(Reel.slot_id).where(Reel.creator_id == creator.id, Reel.slot_id.is_not(None),
                                                or_(and_(Reel.publish_at >= low, Reel.publish_at < high),
                                                    and_(Reel.published_at >= low, Reel.published_at < high)))
        rows = session.execute(select(Slot).where(Slot.creator_id == creator.id,
                                                  or_(and_(Slot.scheduled_at >= low, Slot.scheduled_at < high), Slot.id.in_(timed_here)))).scalars()
        for row in rows:
            reel = live_reel(session, row.id)
            at = row.scheduled_at
            if reel is not None and reel.published_at is not None and ReelStatus(reel.status) == ReelStatus.PUBLISHED:
                at = reel.published_at
            elif reel is not None and reel.publish_at is not None:
                at = reel.publish_at
            if row.id in posts or (reel is not None and row.id not in skipped):
                posts[row.id] = (at, reel)
        loose = session.execute(select(Reel).where(Reel.creator_id == creator.id, Reel.slot_id.is_(None),
                                                   Reel.status.in_([status.value for status in LIVE]))).scalars()
        for reel in loose:
            at = reel.published_at if ReelStatus(reel.status) == ReelStatus.PUBLISHED else reel.publish_at
            if at is not None and low <= at < high:
                posts[f"reel:{reel.id}"] = (at, reel)
    posts.pop(ignore or "", None)
    near = [(at, slot_id, reel) for slot_id, (at, reel) in posts.items() if abs(at - center) < apart]
    return sorted(near, key=lambda item: (abs(item[0] - center), item[0]))


def check_time(session: Session, calendar: Calendar, at: datetime, *, slot_id: str | None = None, now: datetime | None = None) -> datetime:
    """The aware local time of the wall time ``at`` (naive, the calendar's zone) if a post may go there; else
    :class:`ScheduleConflict` naming the rule: the past, the quiet hours, the minimum gap to the nearest post."""
    now = now or utcnow()
    zone = ZoneInfo(calendar.timezone)
    local, _note = local_to_utc(at.date(), at.time(), zone)
    if local <= now:
        raise ScheduleConflict(f"{when(local)} has already passed; pick a later time")
    if local - now > timedelta(days=MAX_DAYS_AHEAD):
        raise ScheduleConflict(f"{when(local)} is more than a year ahead; pick a time within the next {MAX_DAYS_AHEAD} days")
    if calendar.is_quiet(local.hour):
        start, end = calendar.quiet_hour_range()
        raise ScheduleConflict(f"{when(local)} is in the calendar's quiet hours ({calendar.quiet_hours.replace('-', '–')}), when nothing is posted; "
                               f"pick a time from {end:02d}:00 to {start:02d}:00")
    gap = timedelta(hours=calendar.min_gap_hours)
    if gap > timedelta(0):
        near = posts_near(session, calendar, local.astimezone(now.tzinfo), apart=gap, ignore=slot_id)
        if near:
            other_at, _other_id, reel = near[0]
            other = when(other_at.astimezone(zone))
            what = f"{other}'s reel" + (f" (reel {reel.id})" if reel is not None else "")
            distance = abs(other_at - local)
            if distance < timedelta(minutes=1):
                raise ScheduleConflict(f"{when(local)} is the time of {what}; the minimum gap between posts is "
                                       f"{_hours(calendar.min_gap_hours)}, so pick a time at least that far from it")
            raise ScheduleConflict(f"{when(local)} is within {_duration(distance)} of {what}; the minimum gap between posts is "
                                   f"{_hours(calendar.min_gap_hours)}, so pick a time at least that far from it")
    return local


# --------------------------------------------------------------------------- the changes


def _overrides_file(loaded: LoadedCalendar):  # noqa: ANN202
    return files.overrides_path(loaded.path)


class _Writable:
    """The overrides file's lock, turning a folder ReelTwin may not write to into one clear line instead of a traceback."""

    def __init__(self, loaded: LoadedCalendar):
        self.path = _overrides_file(loaded)
        self._lock = None

    def __enter__(self) -> None:
        try:
            self._lock = files.locked(self.path)
            self._lock.__enter__()
        except OSError as error:
            raise _unwritable(self.path, error) from None

    def __exit__(self, *exc_info: object) -> None:
        if self._lock is not None:
            self._lock.__exit__(*exc_info)


def _unwritable(path, error: OSError) -> AgentError:  # noqa: ANN001
    return AgentError(f"{display_path(path)} cannot be written ({error.strerror or error}); "
                      f"let ReelTwin write to the calendar folder, where it keeps the calendar's moves, skips and added reels")


def _current(loaded: LoadedCalendar) -> Overrides:
    path = _overrides_file(loaded)
    return load_overrides(path, shown=display_path(path), handle=loaded.calendar.handle, pillars=loaded.calendar.pillar_names())


#: Entries for times longer ago than this are dropped when the file is written: the slots' rows and the reels'
#: histories keep what happened, and the file stays short enough to read.
KEEP_PAST = timedelta(days=60)


def _save(loaded: LoadedCalendar, overrides: Overrides) -> Calendar:
    calendar = loaded.calendar
    cutoff = (utcnow().astimezone(ZoneInfo(calendar.timezone)) - KEEP_PAST).replace(tzinfo=None)

    def recent(text: str) -> bool:
        try:
            return datetime.fromisoformat(text) >= cutoff
        except ValueError:
            return True

    overrides = Overrides(moves=[m for m in overrides.moves if m.to >= cutoff], skips=[s for s in overrides.skips if recent(s.at)],
                          adds=[a for a in overrides.adds if a.at >= cutoff])
    try:
        files.write_overrides(_overrides_file(loaded), overrides, handle=calendar.handle, timezone=calendar.timezone)
    except OSError as error:
        raise _unwritable(_overrides_file(loaded), error) from None
    return calendar.with_overrides(overrides)


def _replan(session: Session, calendar: Calendar, loaded: LoadedCalendar, *, now: datetime, reaching: datetime | None = None) -> SyncReport:
    """Plan at once, far enough ahead to reach ``reaching``: the grid and the queue show the change now."""
    days = 14
    if reaching is not None:
        days = max(days, (reaching - now).days + 2)
    return sync_plan(session, calendar, now=now, days=days, path=display_path(loaded.path))


def _event(session: Session, reel: Reel | None, actor: str, reason: str, *, at: datetime | None = None) -> None:
    """A line in the reel's history for a change that is not a change of state (a move)."""
    if reel is None:
        return
    status = ReelStatus(reel.status).value
    session.add(ReelEvent(reel_id=reel.id, from_status=status, to_status=status, actor=actor, reason=reason, at=at or utcnow()))


def _stamp(actor: str) -> dict[str, str]:
    return {"by": actor, "made_at": utcnow().replace(microsecond=0).isoformat().replace("+00:00", "Z")}


def move_slot(session: Session, loaded: LoadedCalendar, slot_id: str, to: datetime, *, actor: str, now: datetime | None = None) -> Change:
    """Move slot ``slot_id`` (its reel goes with it) to the local wall time ``to``."""
    now = now or utcnow()
    calendar = loaded.calendar
    with _Writable(loaded):
        current = _current(loaded)
        calendar = calendar.with_overrides(current)
        state = slot_state(session, calendar, slot_id)
        if state.skipped:
            raise ScheduleConflict(f"{when(state.local)} is skipped; put it back on the calendar before moving it")
        _refuse_posted(state, "moved")
        if state.local <= now:
            raise ScheduleConflict(f"{when(state.local)} has already passed, so it cannot be moved")
        target = check_time(session, calendar, to, slot_id=slot_id, now=now)
        if target == state.local:
            return Change(slot_id, f"{when(target)} is where it already is; nothing changed.", state.reel.id if state.reel else None, target)
        stamp = _stamp(actor)
        updated = current.without(slot_id)
        add = current.add_of(slot_id)
        if add is not None:
            updated = Overrides(moves=updated.moves, skips=updated.skips,
                                adds=[*updated.adds, add.model_copy(update={"at": to.replace(second=0, microsecond=0), **stamp})])
        else:
            original = find_slot(calendar, slot_id, with_overrides=False)
            if original is None or original.local != target:   # back where the calendar puts it: no entry needed
                moved_from = show_local(original.local) if original is not None else ""
                updated = Overrides(moves=[*updated.moves, Move(slot=slot_id, to=to, **{"from": moved_from}, **stamp)],
                                    skips=updated.skips, adds=updated.adds)
        new_calendar = _save(loaded, updated)
    reel = state.reel
    if state.row is not None:
        state.row.scheduled_at, state.row.local_time, state.row.peak, state.row.updated_at = target.astimezone(now.tzinfo), target.isoformat(), False, utcnow()
    if reel is not None:
        # A time set for a late reel gives way to the creator's own choice.
        session.execute(update(Reel).where(Reel.id == reel.id).values(publish_at=None, updated_at=utcnow()).execution_options(synchronize_session=False))
        _event(session, reel, actor, f"moved from {when(state.local)} to {when(target)} on the calendar")
    session.commit()
    _replan(session, new_calendar, loaded, now=now, reaching=target)
    message = f"Moved {when(state.local)} to {when(target)}" + (f"; reel {reel.id} goes with it." if reel is not None else ".")
    return Change(slot_id, message, reel.id if reel is not None else None, target)


def skip_slot(session: Session, loaded: LoadedCalendar, slot_id: str, *, actor: str, now: datetime | None = None) -> Change:
    """Post nothing in slot ``slot_id``; its reel, if it has one, is skipped (an added reel is removed)."""
    now = now or utcnow()
    with _Writable(loaded):
        current = _current(loaded)
        calendar = loaded.calendar.with_overrides(current)
        state = slot_state(session, calendar, slot_id)
        if state.skipped:
            return Change(slot_id, f"{when(state.local)} is skipped already; nothing changed.", None, state.local)
        _refuse_posted(state, "skipped")
        reel = state.reel
        if reel is not None and ReelStatus(reel.status) == ReelStatus.RENDERING:
            raise ScheduleConflict(f"reel {reel.id} on {when(state.local)} is being rendered right now; skip it once the render ends (a few minutes)")
        if state.local <= now:
            raise ScheduleConflict(f"{when(state.local)} has already passed, so it cannot be skipped")
        updated = current.without(slot_id)
        if not state.added:
            updated = Overrides(moves=updated.moves, skips=[*updated.skips, Skip(slot=slot_id, at=show_local(state.local), **_stamp(actor))],
                                adds=updated.adds)
        new_calendar = _save(loaded, updated)
    if reel is not None and ReelStatus(reel.status) in _SKIPPABLE:
        transition(session, reel, ReelStatus.SKIPPED, actor=actor,
                   reason=f"{'removed' if state.added else 'skipped'} on the calendar (was {when(state.local)})")
    session.commit()
    _replan(session, new_calendar, loaded, now=now, reaching=state.local)
    what = f"Removed the reel added for {when(state.local)}" if state.added else f"Skipped {when(state.local)}"
    return Change(slot_id, what + (f"; reel {reel.id} is set aside." if reel is not None else "; nothing is posted then."),
                  reel.id if reel is not None else None, state.local)


def unskip_slot(session: Session, loaded: LoadedCalendar, slot_id: str, *, actor: str, now: datetime | None = None) -> Change:
    """Put a skipped slot back on the calendar; it is drafted again like any open slot."""
    now = now or utcnow()
    with _Writable(loaded):
        current = _current(loaded)
        skip = current.skip_of(slot_id)
        if skip is None:
            raise NotFoundError(f"slot {slot_id!r} is not skipped; {_LIST_SLOTS}")
        calendar = loaded.calendar.with_overrides(current.without(slot_id))
        state = slot_state(session, calendar, slot_id)
        if state.local <= now:
            raise ScheduleConflict(f"{when(state.local)} has already passed, so it cannot be put back")
        check_time(session, calendar, state.local.replace(tzinfo=None), slot_id=slot_id, now=now)
        new_calendar = _save(loaded, current.without(slot_id))
    skipped = session.execute(select(Reel).where(Reel.slot_id == slot_id, Reel.status == ReelStatus.SKIPPED).order_by(Reel.id.desc())).scalars().first()
    _event(session, skipped, actor, f"{when(state.local)} put back on the calendar; it gets a new draft")
    session.commit()
    _replan(session, new_calendar, loaded, now=now, reaching=state.local)
    return Change(slot_id, f"{when(state.local)} is back on the calendar; a new draft is written for it ahead of time.", None, state.local)


def add_slot(session: Session, loaded: LoadedCalendar, at: datetime, *, actor: str, pillar: str | None = None, brief: str | None = None,
             now: datetime | None = None) -> Change:
    """Add a one-off reel at the local wall time ``at`` (drafted ahead of time like the calendar's own slots)."""
    from agent.approval.queue import clean_text

    now = now or utcnow()
    calendar = loaded.calendar
    pillar = (pillar or "").strip() or None
    if pillar is not None and pillar not in calendar.pillar_names():
        raise ValidationFailed(f"pillar {pillar!r} is not one of @{calendar.handle}'s pillars; use one of: {', '.join(calendar.pillar_names())}")
    brief = clean_text(brief or "", field="brief", limit=2000) or None
    if brief is not None and len(brief) < 3:
        raise ValidationFailed(f"the brief {brief!r} is too short to write a reel from; say in a few words what the reel is about, or leave it empty")
    at = at.replace(second=0, microsecond=0, tzinfo=None)
    with _Writable(loaded):
        current = _current(loaded)
        calendar = calendar.with_overrides(current)
        local = check_time(session, calendar, at, now=now)
        slot_id = current.next_added_id(calendar.handle, at.date())
        updated = Overrides(moves=current.moves, skips=current.skips,
                            adds=[*current.adds, Add(slot=slot_id, at=at, pillar=pillar, brief=brief, **_stamp(actor))])
        new_calendar = _save(loaded, updated)
    _replan(session, new_calendar, loaded, now=now, reaching=local)
    return Change(slot_id, f"Added a reel on {when(local)}" + (f" ({pillar})" if pillar else "") + "; it is drafted ahead of time like the others.",
                  None, local)


def record_addition(session: Session, calendar: Calendar, reel: Reel) -> None:
    """Write into the history of a reel just drafted for a one-off reel added on the calendar who added it, when and
    for when (the addition has no reel to be recorded on until its slot is drafted); the caller commits."""
    add = calendar.overrides.add_of(reel.slot_id) if reel.slot_id else None
    if add is None:
        return
    try:
        made_at = datetime.fromisoformat(add.made_at) if add.made_at else None
    except ValueError:
        made_at = None
    if made_at is not None and made_at.tzinfo is None:
        made_at = None   # a hand-written entry's odd stamp: the line is written all the same, at the draft's time
    local, _note = local_to_utc(add.at.date(), add.at.time(), ZoneInfo(calendar.timezone))
    details = "".join(f"; {label}: {value}" for label, value in (("pillar", add.pillar), ("brief", add.brief)) if value)
    _event(session, reel, add.by or "creator", f"added on the calendar for {when(local)}{details}", at=made_at)


def clear_overrides(session: Session, loaded: LoadedCalendar, *, now: datetime | None = None) -> int:
    """Remove every move, skip and added reel; the calendar file alone plans again. Returns how many entries went."""
    now = now or utcnow()
    with _Writable(loaded):
        current = _current(loaded)
        count = len(current.moves) + len(current.skips) + len(current.adds)
        calendar = _save(loaded, files.EMPTY)
    _replan(session, calendar, loaded, now=now)
    return count
