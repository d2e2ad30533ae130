"""When one reel goes out: "publish now" and "reschedule", for the CLI and the web alike.

Both only set the reel's own time (``Reel.publish_at``, which overrides its slot's time) and record the change in
its history; the publisher still finds the reel through its sweep ("every rendered reel whose time has come") and
claims it with the conditional update of :mod:`agent.db.states`, so a reel is never posted twice however often the
buttons are pressed. A new time keeps the calendar's rules (``quiet_hours``, ``min_gap_hours`` of the creator's
calendar file, read through :func:`rules_for`), tested as the calendar grid tests a move: the gap to every other post,
planned or not yet in the database, skipped slots left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlmodel import Session

from agent.approval.queue import get_reel
from agent.content_calendar.changes import posts_near
from agent.content_calendar.schema import Calendar, in_quiet_hours
from agent.db.models import Creator, Reel, ReelEvent, ReelStatus, Slot, utcnow
from agent.errors import CalendarError, ValidationFailed

#: States whose time can still be changed: not yet being posted, not given up.
RESCHEDULABLE = frozenset({ReelStatus.DRAFTED, ReelStatus.APPROVED, ReelStatus.RENDERING, ReelStatus.RENDERED, ReelStatus.FAILED})
#: A new time at least this far ahead (a sooner one is what "publish now" is for).
MIN_LEAD = timedelta(minutes=5)
#: ... and at most this far.
MAX_AHEAD = timedelta(days=366)


@dataclass(frozen=True)
class ScheduleRules:
    """The calendar's rules for a posting time: no post in the quiet hours, posts at least ``min_gap_hours`` apart.

    The tests themselves are the calendar's (:meth:`Calendar.is_quiet`, :func:`agent.content_calendar.changes.posts_near`),
    the ones its grid's moves and added reels keep; ``calendar`` (with its overrides) is what the gap is measured in."""

    quiet_hours: tuple[int, int]    # (22, 7): no post from 22:00 up to 07:00 local; (a, a): none
    min_gap_hours: float
    source: str                     # the calendar file, as messages name it
    calendar: Calendar | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, calendar: Calendar, source: str) -> ScheduleRules:
        return cls(calendar.quiet_hour_range(), calendar.min_gap_hours, source, calendar)

    def is_quiet(self, hour: int) -> bool:
        return in_quiet_hours(hour, self.quiet_hours)

    def describe(self) -> str:
        """"quiet hours 22:00–07:00, at least 3 h between posts" (for the page and messages)."""
        start, end = self.quiet_hours
        parts = [] if start == end else [f"quiet hours {start:02d}:00–{end:02d}:00"]
        if self.min_gap_hours:
            parts.append(f"at least {self.min_gap_hours:g} h between posts")
        return ", ".join(parts) or "no quiet hours and no minimum gap"


def rules_for(calendar_dir: Path, handle: str) -> tuple[ScheduleRules | None, str | None]:
    """(the rules of ``handle``'s calendar, None) or (None, why there are none: no calendar file, or a broken one)."""
    from agent.content_calendar.loader import calendar_files, load_calendar

    files = calendar_files(calendar_dir, include_templates=False)
    # A calendar file is named after its handle; look at that one first, the others only if it is not there.
    files.sort(key=lambda path: path.stem != handle)
    broken = None
    for path in files:
        try:
            calendar = load_calendar(path, base=calendar_dir.parent).calendar
        except CalendarError:
            if path.stem == handle:
                broken = path.name
            continue
        if calendar.handle == handle:
            return ScheduleRules.of(calendar, path.name), None
    if broken:
        return None, f"the calendar file {broken} has problems, so its quiet hours and minimum gap were not checked"
    return None, f"@{handle} has no calendar file, so no quiet hours or minimum gap apply"


def parse_local_time(text: str, zone: str, *, field: str = "time") -> datetime:
    """A time typed by a person (``2026-12-08 18:30``, ``2026-12-08T18:30``, with an optional offset) as an aware UTC datetime.

    Without an offset it is the creator's local time (``zone``); a local time the clocks skip is refused."""
    value = " ".join((text or "").split())
    if not value:
        raise ValidationFailed(f"no {field} given; write it like 2026-12-08 18:30")
    try:
        moment = datetime.fromisoformat(value.replace(" ", "T", 1) if len(value) > 10 else value)
    except ValueError:
        raise ValidationFailed(f"{value[:40]!r} is not a date and time; write it like 2026-12-08 18:30") from None
    if len(value) <= 10:
        raise ValidationFailed(f"{value!r} has no time of day; write it like {value} 18:30")
    if moment.tzinfo is not None:
        return moment.astimezone(timezone.utc)
    local_zone = ZoneInfo(zone)
    wall = moment.replace(tzinfo=local_zone, fold=0)
    instant = wall.astimezone(timezone.utc)
    if instant.astimezone(local_zone).replace(tzinfo=None) != moment:
        raise ValidationFailed(f"{moment:%H:%M} does not exist on {moment:%Y-%m-%d} in {zone} (the clocks go forward); pick another time")
    return instant


def planned_time(session: Session, reel: Reel) -> datetime | None:
    """When the reel goes out now: its own time, else its slot's; None for an ad-hoc reel without one."""
    if reel.publish_at is not None:
        return reel.publish_at
    slot = session.get(Slot, reel.slot_id) if reel.slot_id else None
    return slot.scheduled_at if slot else None


def _local(moment: datetime | None, zone: str) -> str:
    return moment.astimezone(ZoneInfo(zone)).strftime("%a %d %b %Y, %H:%M") if moment else "no time (ad hoc)"


def publish_now(session: Session, reel_id: int, *, actor: str, now: datetime | None = None) -> Reel:
    """A rendered reel becomes due now: the next publish sweep posts it (its claim makes sure only once); commits."""
    now = now or utcnow()
    reel = get_reel(session, reel_id)
    status = ReelStatus(reel.status)
    if status != ReelStatus.RENDERED:
        raise ValidationFailed(f"reel {reel_id}: {_not_rendered(status)}")
    creator = session.get(Creator, reel.creator_id)
    before = planned_time(session, reel)
    # Only while it is still waiting: a publisher that claimed it meanwhile is posting it already.
    changed = session.execute(
        update(Reel).where(Reel.id == reel_id, Reel.status == ReelStatus.RENDERED)
        .values(publish_at=now, next_attempt_at=None, updated_at=now).execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        session.rollback()
        raise ValidationFailed(f"reel {reel_id}: {_not_rendered(ReelStatus(get_reel(session, reel_id).status))}")
    session.add(ReelEvent(reel_id=reel_id, from_status=status.value, to_status=status.value, actor=actor, at=now,
                          reason=f"publish now (was planned for {_local(before, creator.timezone)})"))
    session.commit()
    return get_reel(session, reel_id)


def _not_rendered(status: ReelStatus) -> str:
    return {
        ReelStatus.PUBLISHING: "it is being posted right now",
        ReelStatus.PUBLISHED: "it is already published",
        ReelStatus.FAILED: "it failed; retry it first",
    }.get(status, f"it is {status.value}, not rendered yet, so there is nothing to post; it goes out at its time once rendered")


def reschedule(session: Session, reel_id: int, when: datetime, *, actor: str, rules: ScheduleRules | None,
               now: datetime | None = None) -> Reel:
    """Move the reel to ``when`` (aware), inside the calendar's ``rules`` when given; commits. ValidationFailed says why not."""
    now = now or utcnow()
    reel = get_reel(session, reel_id)
    status = ReelStatus(reel.status)
    creator = session.get(Creator, reel.creator_id)
    zone = creator.timezone
    if status not in RESCHEDULABLE:
        raise ValidationFailed(f"reel {reel_id}: is {status.value}; only a reel that is not yet being posted can get another time")
    if when.tzinfo is None:
        raise ValueError(f"naive datetime {when!r}: pass an aware datetime")
    if when < now + MIN_LEAD:
        raise ValidationFailed(f"{_local(when, zone)} is in the past or less than {MIN_LEAD.seconds // 60} minutes away; "
                               "pick a later time" + (", or publish it now" if status == ReelStatus.RENDERED else ""))
    if when > now + MAX_AHEAD:
        raise ValidationFailed(f"{_local(when, zone)} is more than a year away; pick a sooner time")
    if rules is not None:
        _check_rules(session, reel, creator, when, rules)
    before = planned_time(session, reel)
    changed = session.execute(
        update(Reel).where(Reel.id == reel_id, Reel.status == status)
        .values(publish_at=when, updated_at=now).execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        session.rollback()
        raise ValidationFailed(f"reel {reel_id}: changed a moment ago (it is {get_reel(session, reel_id).status} now); reload and try again")
    session.add(ReelEvent(reel_id=reel_id, from_status=status.value, to_status=status.value, actor=actor, at=now,
                          reason=f"rescheduled from {_local(before, zone)} to {_local(when, zone)}"))
    session.commit()
    return get_reel(session, reel_id)


def _check_rules(session: Session, reel: Reel, creator: Creator, when: datetime, rules: ScheduleRules) -> None:
    local = when.astimezone(ZoneInfo(creator.timezone))
    if rules.is_quiet(local.hour):
        start, end = rules.quiet_hours
        raise ValidationFailed(f"{local:%H:%M} is in @{creator.handle}'s quiet hours ({start:02d}:00–{end:02d}:00, from {rules.source}); "
                               f"pick a time between {end:02d}:00 and {start:02d}:00")
    if not rules.min_gap_hours or rules.calendar is None:
        return
    # The reel's own post (its slot, or ``reel:<id>`` for an ad-hoc reel) is the one being moved.
    near = posts_near(session, rules.calendar, when, apart=timedelta(hours=rules.min_gap_hours), ignore=reel.slot_id or f"reel:{reel.id}")
    if near:
        at, _slot_id, other = near[0]
        what = f"reel {other.id}" if other is not None else "a planned slot"
        raise ValidationFailed(f"{local:%H:%M} is less than {rules.min_gap_hours:g} h from {what} at "
                               f"{_local(at, creator.timezone)} ({rules.source} keeps posts {rules.min_gap_hours:g} h apart); pick another time")
