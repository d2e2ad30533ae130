"""A calendar expanded into slots: pure functions of the calendar and a time window, no database.

Slot ids are stable: ``<handle>:<local date>:w<n>`` for the n-th weekly cadence
slot of that day and ``<handle>:<local date>:d<n>`` for dated one-offs, so a
re-plan after an edit updates the same row instead of adding a second one.
Pillars rotate by weight with a smooth weighted round-robin anchored on a fixed
Monday, so a slot's pillar does not change just because time passed. Where a
"peak" slot lands is the caller's ``peak_time`` (see :mod:`agent.content_calendar.peaks`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, timezone
from fractions import Fraction
from functools import lru_cache, reduce
from math import gcd
from zoneinfo import ZoneInfo

from agent.content_calendar.schema import WEEKDAYS, BacklogItem, Calendar

ANCHOR_MONDAY = date(2024, 1, 1)
#: Until the peak-time model knows the account, "peak" means this local hour.
DEFAULT_PEAK_TIME = time(18, 0)

PeakTime = Callable[[date], time]


@dataclass(frozen=True)
class PlannedSlot:
    slot_id: str
    handle: str
    local: datetime            # aware, in the creator's zone
    utc: datetime              # aware, UTC
    kind: str                  # weekly | one_off
    peak: bool
    pillar: str | None
    brief: str | None = None
    brief_key: str | None = None
    note: str | None = None    # e.g. moved by a daylight-saving gap


def local_to_utc(day: date, at: time, zone: ZoneInfo) -> tuple[datetime, str | None]:
    """Local wall time -> (aware local datetime, note). Gap times move forward; repeated times take the first."""
    wall = datetime.combine(day, at).replace(tzinfo=zone, fold=0)
    instant = wall.astimezone(timezone.utc)
    actual = instant.astimezone(zone)
    note = None
    if actual.replace(tzinfo=None) != wall.replace(tzinfo=None):
        note = f"{at:%H:%M} does not exist on {day} (clocks go forward); posting at {actual:%H:%M}"
    return actual, note


def pillar_sequence(calendar: Calendar) -> list[str]:
    """One period of the smooth weighted round-robin over the pillars (nginx's algorithm)."""
    return list(_pillar_sequence(tuple(pillar.weight for pillar in calendar.pillars), tuple(calendar.pillar_names())))


@lru_cache(maxsize=1024)
def _pillar_sequence(weights_given: tuple[float, ...], names: tuple[str, ...]) -> tuple[str, ...]:
    """:func:`pillar_sequence` of these weights and names (many creators share them: worked out once)."""
    weights = [Fraction(str(weight)).limit_denominator(100) for weight in weights_given]
    denominator = reduce(lambda a, b: a * b // gcd(a, b), (w.denominator for w in weights), 1)
    integers = [int(w * denominator) for w in weights]
    divisor = reduce(gcd, integers)
    integers = [value // divisor for value in integers]
    if sum(integers) > 10_000:  # absurd precision: fall back to whole-number weights
        integers = [max(1, round(float(w))) for w in weights]
    current = [0] * len(integers)
    total = sum(integers)
    sequence = []
    for _ in range(total):
        current = [c + w for c, w in zip(current, integers)]
        best = max(range(len(current)), key=lambda i: (current[i], -i))
        current[best] -= total
        sequence.append(names[best])
    return tuple(sequence)


def _weekly_pattern(calendar: Calendar) -> list[tuple[int, int, time | str]]:
    """(weekday, cadence entry index, time) for one week, in a fixed order."""
    pattern = []
    for index, entry in enumerate(calendar.cadence):
        for day in entry.days:
            pattern.append((WEEKDAYS.index(day), index, entry.time))
    return sorted(pattern, key=lambda item: (item[0], item[1]))


def expand(
    calendar: Calendar,
    start: datetime,
    end: datetime,
    *,
    peak_time: PeakTime | None = None,
    apply_overrides: bool = True,
) -> list[PlannedSlot]:
    """Every slot with ``start <= utc < end``, in time order; briefs not yet assigned (see :func:`assign_briefs`).

    The calendar's overrides (:attr:`Calendar.overrides`) are applied: a moved slot keeps its id at its new time (and
    is found however far it moved), a skipped slot is left out, an added reel is a slot of kind ``added``."""
    zone = ZoneInfo(calendar.timezone)
    peak_time = peak_time or (lambda _day: DEFAULT_PEAK_TIME)
    context = _Context(calendar, zone, peak_time)
    slots: list[PlannedSlot] = []
    # One day of margin on both sides: local dates near the edges may still fall inside [start, end).
    first, last = start.astimezone(zone).date() - timedelta(days=1), end.astimezone(zone).date() + timedelta(days=1)
    day = first
    while day <= last:
        slots.extend(context.day_slots(day))
        day += timedelta(days=1)
    overrides = calendar.overrides if apply_overrides else None
    if overrides:
        by_id = {slot.slot_id: slot for slot in slots}
        skipped = overrides.skipped()
        for move in overrides.moves:
            original = by_id.get(move.slot) or context.slot_by_id(move.slot)
            if original is not None:
                by_id[move.slot] = moved(original, move.to, zone)
        for add in overrides.adds:
            by_id[add.slot] = added_slot(calendar, add, zone)
        slots = [slot for slot_id, slot in by_id.items() if slot_id not in skipped]
    inside = [slot for slot in slots if start <= slot.utc < end]
    return sorted(inside, key=lambda slot: (slot.utc, slot.slot_id))


def moved(slot: PlannedSlot, to: datetime, zone: ZoneInfo) -> PlannedSlot:
    """``slot`` at the local wall time ``to`` (naive): the same id, pillar and kind, a fixed time."""
    local, note = local_to_utc(to.date(), to.time(), zone)
    return replace(slot, local=local, utc=local.astimezone(timezone.utc), peak=False, note=note)


def added_slot(calendar: Calendar, add: object, zone: ZoneInfo) -> PlannedSlot:
    """The slot of a reel added on the grid (an :class:`agent.content_calendar.overrides.Add`)."""
    at: datetime = add.at  # type: ignore[attr-defined]
    local, note = local_to_utc(at.date(), at.time(), zone)
    fallback_pillar = max(calendar.pillars, key=lambda pillar: pillar.weight).name
    brief = add.brief  # type: ignore[attr-defined]
    return PlannedSlot(
        slot_id=add.slot,  # type: ignore[attr-defined]
        handle=calendar.handle,
        local=local,
        utc=local.astimezone(timezone.utc),
        kind="added",
        peak=False,
        pillar=add.pillar or fallback_pillar,  # type: ignore[attr-defined]
        brief=brief,
        brief_key=f"added:{add.slot.split(':', 1)[1]}" if brief else None,  # type: ignore[attr-defined]
        note=note,
    )


class _Context:
    """What expanding one day needs, computed once."""

    def __init__(self, calendar: Calendar, zone: ZoneInfo, peak_time: PeakTime):
        self.calendar, self.zone, self.peak_time = calendar, zone, peak_time
        self.pattern = _weekly_pattern(calendar)
        self.pillars = pillar_sequence(calendar)
        self.fallback_pillar = max(calendar.pillars, key=lambda pillar: pillar.weight).name

    def slot_by_id(self, slot_id: str) -> PlannedSlot | None:
        """The calendar's own slot ``slot_id`` (before any override), or None when the calendar has no such slot."""
        parts = slot_id.split(":")
        if len(parts) != 3:
            return None
        try:
            day = date.fromisoformat(parts[1])
        except ValueError:
            return None
        return next((slot for slot in self.day_slots(day) if slot.slot_id == slot_id), None)

    def day_slots(self, day: date) -> list[PlannedSlot]:
        calendar, zone = self.calendar, self.zone
        slots: list[PlannedSlot] = []
        week = (day - ANCHOR_MONDAY).days // 7
        ordinal_on_day = 0
        for position, (weekday, _entry, at) in enumerate(self.pattern):
            if weekday != day.weekday():
                continue
            ordinal_on_day += 1
            wall = self.peak_time(day) if at == "peak" else at
            local, note = local_to_utc(day, wall, zone)
            rotation = (week * len(self.pattern) + position) % len(self.pillars)
            slots.append(
                PlannedSlot(
                    slot_id=f"{calendar.handle}:{day.isoformat()}:w{ordinal_on_day}",
                    handle=calendar.handle,
                    local=local,
                    utc=local.astimezone(timezone.utc),
                    kind="weekly",
                    peak=at == "peak",
                    pillar=self.pillars[rotation],
                    note=note,
                )
            )
        ordinal_on_day = 0
        for item in calendar.one_offs:
            if item.date != day:
                continue
            ordinal_on_day += 1
            wall = self.peak_time(day) if item.time == "peak" else item.time
            local, note = local_to_utc(day, wall, zone)
            slots.append(
                PlannedSlot(
                    slot_id=f"{calendar.handle}:{day.isoformat()}:d{ordinal_on_day}",
                    handle=calendar.handle,
                    local=local,
                    utc=local.astimezone(timezone.utc),
                    kind="one_off",
                    peak=item.time == "peak",
                    pillar=item.pillar or self.fallback_pillar,
                    brief=item.brief,
                    brief_key=f"one_off:{day.isoformat()}:{ordinal_on_day}",
                    note=note,
                )
            )
        return slots


def assign_briefs(
    slots: Sequence[PlannedSlot],
    backlog: Sequence[BacklogItem],
    *,
    used: Iterable[str] = (),
    keep: dict[str, str] | None = None,
) -> list[PlannedSlot]:
    """Give weekly slots the backlog's briefs in order, each brief once.

    ``used`` are brief keys spent already (past or committed slots); ``keep``
    maps slot id -> brief key a slot already holds and keeps while that brief is
    still in the backlog. A brief naming a pillar waits for a slot of that pillar.
    """
    by_key = {item.key: item for item in backlog}
    spent = set(used)
    pillar_of = {slot.slot_id: slot.pillar for slot in slots}

    def fits(slot_id: str, key: str) -> bool:  # a kept brief naming a pillar leaves a slot whose pillar changed
        return slot_id not in pillar_of or by_key[key].pillar in (None, pillar_of[slot_id])

    keep = {slot_id: key for slot_id, key in (keep or {}).items() if key in by_key and key not in spent and fits(slot_id, key)}
    spent |= set(keep.values())
    assigned = []
    for slot in slots:
        # An added reel without a brief of its own takes the backlog's next one, like a weekly slot.
        if slot.kind != "weekly" and not (slot.kind == "added" and slot.brief is None):
            assigned.append(slot)
            continue
        key = keep.get(slot.slot_id)
        if key is None:
            key = next((item.key for item in backlog if item.key not in spent and item.pillar in (None, slot.pillar)), None)
            if key is not None:
                spent.add(key)
        if key is None:
            assigned.append(replace(slot, brief=None, brief_key=None))
        else:
            assigned.append(replace(slot, brief=by_key[key].brief, brief_key=key))
    return assigned


def find_slot(calendar: Calendar, slot_id: str, *, peak_time: PeakTime | None = None, with_overrides: bool = True) -> PlannedSlot | None:
    """The slot ``slot_id`` wherever it is (skipped or not): with its move or as an added reel when ``with_overrides``,
    else where the calendar file alone puts it. None when the calendar has no such slot."""
    zone = ZoneInfo(calendar.timezone)
    overrides = calendar.overrides
    add = overrides.add_of(slot_id)
    if add is not None:
        return added_slot(calendar, add, zone) if with_overrides else None
    original = _Context(calendar, zone, peak_time or (lambda _day: DEFAULT_PEAK_TIME)).slot_by_id(slot_id)
    move = overrides.move_of(slot_id) if with_overrides else None
    return moved(original, move.to, zone) if original is not None and move is not None else original
