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
from functools import reduce
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
    weights = [Fraction(str(pillar.weight)).limit_denominator(100) for pillar in calendar.pillars]
    denominator = reduce(lambda a, b: a * b // gcd(a, b), (w.denominator for w in weights), 1)
    integers = [int(w * denominator) for w in weights]
    divisor = reduce(gcd, integers)
    integers = [value // divisor for value in integers]
    if sum(integers) > 10_000:  # absurd precision: fall back to whole-number weights
        integers = [max(1, round(float(w))) for w in weights]
    names = calendar.pillar_names()
    current = [0] * len(integers)
    total = sum(integers)
    sequence = []
    for _ in range(total):
        current = [c + w for c, w in zip(current, integers)]
        best = max(range(len(current)), key=lambda i: (current[i], -i))
        current[best] -= total
        sequence.append(names[best])
    return sequence


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
) -> list[PlannedSlot]:
    """Every slot with ``start <= utc < end``, in time order; briefs not yet assigned (see :func:`assign_briefs`)."""
    zone = ZoneInfo(calendar.timezone)
    peak_time = peak_time or (lambda _day: DEFAULT_PEAK_TIME)
    pattern = _weekly_pattern(calendar)
    pillars = pillar_sequence(calendar)
    fallback_pillar = max(calendar.pillars, key=lambda pillar: pillar.weight).name
    slots: list[PlannedSlot] = []
    # One day of margin on both sides: local dates near the edges may still fall inside [start, end).
    first, last = start.astimezone(zone).date() - timedelta(days=1), end.astimezone(zone).date() + timedelta(days=1)
    day = first
    while day <= last:
        week = (day - ANCHOR_MONDAY).days // 7
        ordinal_on_day = 0
        for position, (weekday, _entry, at) in enumerate(pattern):
            if weekday != day.weekday():
                continue
            ordinal_on_day += 1
            wall = peak_time(day) if at == "peak" else at
            local, note = local_to_utc(day, wall, zone)
            rotation = (week * len(pattern) + position) % len(pillars)
            slots.append(
                PlannedSlot(
                    slot_id=f"{calendar.handle}:{day.isoformat()}:w{ordinal_on_day}",
                    handle=calendar.handle,
                    local=local,
                    utc=local.astimezone(timezone.utc),
                    kind="weekly",
                    peak=at == "peak",
                    pillar=pillars[rotation],
                    note=note,
                )
            )
        ordinal_on_day = 0
        for item in calendar.one_offs:
            if item.date != day:
                continue
            ordinal_on_day += 1
            wall = peak_time(day) if item.time == "peak" else item.time
            local, note = local_to_utc(day, wall, zone)
            slots.append(
                PlannedSlot(
                    slot_id=f"{calendar.handle}:{day.isoformat()}:d{ordinal_on_day}",
                    handle=calendar.handle,
                    local=local,
                    utc=local.astimezone(timezone.utc),
                    kind="one_off",
                    peak=item.time == "peak",
                    pillar=item.pillar or fallback_pillar,
                    brief=item.brief,
                    brief_key=f"one_off:{day.isoformat()}:{ordinal_on_day}",
                    note=note,
                )
            )
        day += timedelta(days=1)
    inside = [slot for slot in slots if start <= slot.utc < end]
    return sorted(inside, key=lambda slot: (slot.utc, slot.slot_id))


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
        if slot.kind != "weekly":
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
