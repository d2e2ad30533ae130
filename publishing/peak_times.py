"""When to post: a score for every local weekday x hour, and a planner that picks a free peak hour per day.

Three sources of scores, best first (see :func:`best_scores`):

1. ``online_followers`` -- the Graph API insight: how many followers were online in
   each hour of each of the last ~30 days. Averaged per local weekday and hour.
2. ``engagement`` -- how the account's own posts did, by the local hour they went
   out, recent posts counting more (half-life 30 days), smoothed over neighbouring
   hours so a handful of posts still gives a usable shape.
3. ``priors`` -- generic Instagram habits for reels, for accounts with neither.

Every grid is 7 x 24 (Monday=0 .. Sunday=6 x local hour 0..23) in the creator's
own time zone, scaled so the weakest hour of the week is 0 and the strongest 1.
:class:`PeakPlanner` turns a grid into one posting time per local date that keeps
out of quiet hours, away from slots already taken, and off hours that daylight
saving skips; :meth:`PeakPlanner.as_peak_time` plugs into the calendar planner's
``peak_time`` parameter (a ``Callable[[date], time]``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from publishing import PublishError

log = logging.getLogger(__name__)

DAYS = 7
HOURS = 24
WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
SOURCES = ("online_followers", "engagement", "priors")

#: Fewer posts than this and engagement says more about chance than about the audience.
MIN_POSTS = 8
HALF_LIFE_DAYS = 30.0
#: Smoothing of engagement: weight of a post on hours ``0, ±1, ±2`` away (circular over the week)...
_HOUR_KERNEL = {0: 1.0, 1: 0.5, -1: 0.5, 2: 0.15, -2: 0.15}
#: ...and on the same hours of the neighbouring weekdays (a lighter blend: weekdays differ more than hours).
_DAY_BLEND = 0.25
#: How many (recency-weighted) posts a cell needs before its own data outweighs the baseline.
_PSEUDO_POSTS = 1.0

Grid = tuple[tuple[float, ...], ...]
PeakTime = Callable[[date], time]


class PeakTimeError(PublishError, ValueError):
    """Input the peak-time model cannot use (a malformed insight, a naive datetime, an unknown zone); the message names it."""


@dataclass(frozen=True)
class HourScores:
    """Scores per local weekday (Monday=0) x hour, 0 = weakest hour of the week, 1 = strongest."""

    grid: Grid
    source: str                 # online_followers | engagement | priors
    explanation: str = ""

    def __post_init__(self) -> None:
        rows = tuple(tuple(float(value) for value in row) for row in self.grid)
        if len(rows) != DAYS or any(len(row) != HOURS for row in rows):
            shape = f"{len(rows)} x {sorted({len(row) for row in rows})}"
            raise PeakTimeError(f"hour scores must be 7 weekdays x 24 hours, got {shape}; build them with from_online_followers(), from_engagement() or priors()")
        bad = [(WEEKDAY_NAMES[day], hour, value) for day, row in enumerate(rows) for hour, value in enumerate(row) if not 0.0 <= value <= 1.0]
        if bad:
            raise PeakTimeError(f"hour score {bad[0][2]!r} at {bad[0][0]} {bad[0][1]:02d}:00 is outside 0..1; normalise the grid first")
        if self.source not in SOURCES:
            raise PeakTimeError(f"source {self.source!r} is not one of {', '.join(SOURCES)}")
        object.__setattr__(self, "grid", rows)

    def score(self, weekday: int, hour: int) -> float:
        return self.grid[weekday][hour]

    def best_hour(self, weekday: int) -> int:
        """The strongest hour of a weekday (the earliest on a tie), ignoring quiet hours."""
        row = self.grid[weekday]
        return max(range(HOURS), key=lambda hour: (row[hour], -hour))


def heat_map_rows(scores: HourScores) -> list[tuple[str, list[float]]]:
    """(weekday name, 24 scores) per weekday, Monday first: the rows of a heat-map table."""
    return [(WEEKDAY_NAMES[day], list(scores.grid[day])) for day in range(DAYS)]


# --------------------------------------------------------------------------- helpers


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder of zones such as "Europe"
        raise PeakTimeError(f"{name!r} is not a time zone; use an IANA name such as Europe/Berlin or America/New_York") from None


def _aware(value: datetime, what: str) -> datetime:
    if not isinstance(value, datetime):
        raise PeakTimeError(f"{what} {value!r} is not a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise PeakTimeError(f"{what} {value.isoformat()!r} has no time zone; pass an aware datetime (e.g. with tzinfo=UTC)")
    return value


def _normalise(raw: Sequence[Sequence[float]]) -> Grid:
    """Scale so the weakest cell is 0 and the strongest 1; a flat grid (no preference) becomes all 1."""
    values = [value for row in raw for value in row]
    low, high = min(values), max(values)
    if high - low <= 1e-12 * max(1.0, abs(high)):
        return tuple(tuple(1.0 for _ in row) for row in raw)
    return tuple(tuple(min(1.0, max(0.0, (value - low) / (high - low))) for value in row) for row in raw)


def _peaks(grid: Grid, count: int = 3) -> str:
    """The ``count`` strongest cells, for explanations: "Tue 19:00, Wed 19:00, Mon 12:00"."""
    cells = sorted(((day, hour) for day in range(DAYS) for hour in range(HOURS)), key=lambda cell: -grid[cell[0]][cell[1]])[:count]
    return ", ".join(f"{WEEKDAY_NAMES[day]} {hour:02d}:00" for day, hour in cells)


# --------------------------------------------------------------------------- online_followers


def _online_values(data: Any) -> list[Any]:
    """The ``values`` list, whether given the whole Graph response, the metric object, or the list itself."""
    if isinstance(data, Mapping) and "data" in data:
        metrics = data["data"]
        if not isinstance(metrics, list):
            raise PeakTimeError(f"insights response: 'data' is {type(metrics).__name__}, not a list; pass the JSON of GET /<ig-user-id>/insights?metric=online_followers")
        named = [metric for metric in metrics if isinstance(metric, Mapping) and metric.get("name") == "online_followers"]
        return [value for metric in named for value in _online_values(metric)]
    if isinstance(data, Mapping):
        values = data.get("values", [])
        if not isinstance(values, list):
            raise PeakTimeError(f"online_followers: 'values' is {type(values).__name__}, not a list")
        return values
    if isinstance(data, list):
        return data
    raise PeakTimeError(f"online_followers: expected the insights JSON (a dict or a list), got {type(data).__name__}")


def _end_time(entry: Mapping[str, Any]) -> datetime:
    raw = entry.get("end_time")
    try:
        end = datetime.fromisoformat(str(raw))
    except ValueError:
        raise PeakTimeError(f"online_followers: end_time {raw!r} is not an ISO 8601 time such as '2026-03-02T07:00:00+0000'") from None
    return end if end.tzinfo is not None else end.replace(tzinfo=UTC)


def from_online_followers(data: Any, timezone: str) -> HourScores | None:
    """Average followers online per local weekday x hour from the ``online_followers`` insight; None if it holds no numbers.

    Each value covers the 24 hours of the day before its ``end_time`` (Instagram
    closes lifetime periods at midnight Pacific, e.g. ``...T07:00:00+0000``); its
    keys ``"0".."23"`` are hours of that date in ``end_time``'s offset (UTC). Every
    hour is converted to the creator's zone on its own, so the weeks either side of
    a daylight-saving change land on the right local hours, and on a fall-back
    day both occurrences of the repeated hour count towards it. Accounts under 100
    followers get empty values (``{}``): that, or no values at all, gives None.
    """
    zone = _zone(timezone)
    sums = [[0.0] * HOURS for _ in range(DAYS)]
    counts = [[0] * HOURS for _ in range(DAYS)]
    dates: list[date] = []
    for entry in _online_values(data):
        if not isinstance(entry, Mapping):
            raise PeakTimeError(f"online_followers: value {entry!r} is not an object with 'value' and 'end_time'")
        value = entry.get("value")
        if not value:  # {} for small accounts, or missing
            continue
        if not isinstance(value, Mapping):
            raise PeakTimeError(f"online_followers: value {value!r} is not an hour -> count mapping")
        end = _end_time(entry)
        start = datetime.combine((end - timedelta(days=1)).date(), time(0), tzinfo=end.tzinfo)
        used = False
        for key, count in value.items():
            try:
                hour = int(key)
            except (TypeError, ValueError):
                raise PeakTimeError(f"online_followers: hour {key!r} is not 0..23") from None
            if not 0 <= hour < HOURS:
                raise PeakTimeError(f"online_followers: hour {key!r} is not 0..23")
            if count is None:
                continue
            if isinstance(count, bool) or not isinstance(count, (int, float)) or not math.isfinite(count) or count < 0:
                raise PeakTimeError(f"online_followers: count {count!r} at hour {key!r} is not a number of followers")
            local = (start + timedelta(hours=hour)).astimezone(zone)
            sums[local.weekday()][local.hour] += float(count)
            counts[local.weekday()][local.hour] += 1
            used = True
        if used:
            dates.append(start.date())
    if not dates:
        log.info("online_followers holds no hourly counts (fewer than 100 followers, or no data yet)")
        return None

    # Cells no day reached (less than a week of data): the same hour's mean on the other weekdays.
    means = [[sums[d][h] / counts[d][h] if counts[d][h] else None for h in range(HOURS)] for d in range(DAYS)]
    seen = [value for row in means for value in row if value is not None]
    overall = sum(seen) / len(seen)
    filled = []
    for day in range(DAYS):
        row = []
        for hour in range(HOURS):
            value = means[day][hour]
            if value is None:
                column = [means[d][hour] for d in range(DAYS) if means[d][hour] is not None]
                value = sum(column) / len(column) if column else overall
            row.append(value)
        filled.append(row)
    grid = _normalise(filled)
    explanation = (f"followers online per local hour, averaged over {len(dates)} days of Instagram insights "
                   f"({min(dates)} to {max(dates)}) in {timezone}; strongest: {_peaks(grid)}")
    return HourScores(grid=grid, source="online_followers", explanation=explanation)


# --------------------------------------------------------------------------- engagement


def from_engagement(
    posts: Iterable[tuple[datetime, float]],
    timezone: str,
    now: datetime,
    *,
    half_life_days: float = HALF_LIFE_DAYS,
    min_posts: int = MIN_POSTS,
) -> HourScores | None:
    """Score local weekday x hour by how the account's posts did when they went out there; None with fewer than ``min_posts``.

    ``posts`` are ``(published_at, engagement)`` with aware datetimes and a
    comparable rate (e.g. likes + comments + saves + shares per reach). A post
    counts ``0.5 ** (age_days / half_life_days)``. Each cell's score is the
    weighted mean engagement of the posts near it (same hour 1, ±1 h 0.5, ±2 h
    0.15, circular over the week; the same hours on neighbouring weekdays 0.25),
    pulled towards a baseline where few posts are near: the account's overall mean
    shaped by :func:`priors` (half of it at night, 0.9 of it at generic peak hours),
    so an hour never tried stays below one where posts did as well as usual.
    """
    zone = _zone(timezone)
    now = _aware(now, "now")
    if half_life_days <= 0:
        raise PeakTimeError(f"half_life_days {half_life_days!r} must be positive")
    usable: list[tuple[int, float, float]] = []   # (hour of the week, recency weight, engagement)
    for published_at, engagement in posts:
        published_at = _aware(published_at, "published_at")
        if engagement is None or not math.isfinite(float(engagement)):
            continue
        age_days = max(0.0, (now - published_at).total_seconds() / 86400)
        local = published_at.astimezone(zone)
        usable.append((local.weekday() * HOURS + local.hour, 0.5 ** (age_days / half_life_days), float(engagement)))
    if len(usable) < min_posts:
        log.info("engagement: %d usable posts, %d needed for a per-hour score", len(usable), min_posts)
        return None

    week = DAYS * HOURS
    numerator = [0.0] * week
    denominator = [0.0] * week
    for cell, weight, engagement in usable:
        for day_offset, day_weight in ((0, 1.0), (-1, _DAY_BLEND), (1, _DAY_BLEND)):
            for hour_offset, hour_weight in _HOUR_KERNEL.items():
                target = (cell + day_offset * HOURS + hour_offset) % week
                numerator[target] += weight * day_weight * hour_weight * engagement
                denominator[target] += weight * day_weight * hour_weight
    total_weight = sum(weight for _, weight, _ in usable)
    mean = sum(weight * engagement for _, weight, engagement in usable) / total_weight
    shape = priors().grid
    raw = [
        [
            (numerator[day * HOURS + hour] + _PSEUDO_POSTS * mean * (0.5 + 0.4 * shape[day][hour]))
            / (denominator[day * HOURS + hour] + _PSEUDO_POSTS)
            for hour in range(HOURS)
        ]
        for day in range(DAYS)
    ]
    grid = _normalise(raw)
    explanation = (f"engagement of {len(usable)} posts by local hour in {timezone} (recent posts count more, half-life "
                   f"{half_life_days:g} days; smoothed over neighbouring hours); strongest: {_peaks(grid)}")
    return HourScores(grid=grid, source="engagement", explanation=explanation)


# --------------------------------------------------------------------------- priors

# Generic habits of Instagram audiences for reels, local time, 0..1. Weekdays (Mon-Fri):
# lunch 11-13 and the evening 18-21 are strongest (18:00, the planner's old default,
# the single best), mornings and afternoons middling, night (0-6) lowest. Weekends
# (Sat, Sun): people get up later, so late morning 10-13 and the evening 18-21 lead.
_WEEKDAY_PRIOR = (
    0.10, 0.05, 0.02, 0.00, 0.00, 0.03,   # 00-05 night
    0.15, 0.35, 0.45, 0.50, 0.60,         # 06-10 commute, work
    0.85, 0.95, 0.85,                     # 11-13 lunch
    0.60, 0.55, 0.60, 0.75,               # 14-17 afternoon
    1.00, 0.98, 0.92, 0.82,               # 18-21 evening
    0.55, 0.30,                           # 22-23
)
_WEEKEND_PRIOR = (
    0.15, 0.10, 0.05, 0.00, 0.00, 0.02,   # 00-05 night (a little later than on weekdays)
    0.08, 0.20, 0.35, 0.55,               # 06-09 slow start
    0.80, 0.90, 0.90, 0.82,               # 10-13 late morning, brunch
    0.60, 0.55, 0.60, 0.70,               # 14-17 out and about
    0.85, 0.92, 0.90, 0.80,               # 18-21 evening
    0.55, 0.30,                           # 22-23
)


def priors() -> HourScores:
    """Generic Instagram reel habits: weekday lunch 11-13 and evening 18-21, weekend late morning 10-13 and evening; night lowest."""
    grid = tuple(_WEEKDAY_PRIOR if day < 5 else _WEEKEND_PRIOR for day in range(DAYS))
    return HourScores(
        grid=grid,
        source="priors",
        explanation="generic Instagram habits for reels (no insights or post history yet): weekday lunch 11-13 and "
                    "evening 18-21, weekend late morning 10-13 and evening; night lowest",
    )


#: The source last announced per account in this process: a service asks every sweep, the log says it once (and again when it changes).
_announced: dict[str, str] = {}


def _announce(account: str | None, source: str, message: str, *args: Any) -> None:
    if account is not None and _announced.get(account) == source:
        log.debug(message, *args)
        return
    if account is not None:
        _announced[account] = source
    log.info(message, *args)


def best_scores(
    online_followers: Any = None,
    posts: Iterable[tuple[datetime, float]] | None = None,
    *,
    timezone: str,
    now: datetime | None = None,
    account: str | None = None,
) -> HourScores:
    """The first source that has enough data: ``online_followers``, then ``posts``' engagement, then :func:`priors`.

    With ``account`` the source is logged once per account per process (and again when it changes); without, every time.
    """
    _zone(timezone)
    prefix = f"@{account}: " if account else ""
    if online_followers is not None:
        scores = from_online_followers(online_followers, timezone)
        if scores is not None:
            _announce(account, scores.source, "%speak times from online_followers: %s", prefix, scores.explanation)
            return scores
    if posts is not None:
        scores = from_engagement(posts, timezone, now or datetime.now(tz=UTC))
        if scores is not None:
            _announce(account, scores.source, "%speak times from engagement: %s", prefix, scores.explanation)
            return scores
    _announce(account, "priors", "%speak times from generic priors: no usable insights or post history", prefix)
    return priors()


# --------------------------------------------------------------------------- planner


@lru_cache(maxsize=2048)
def _existing_hours(timezone: str, day: date) -> tuple[tuple[int, datetime], ...]:
    """(hour, UTC instant) for each local hour that exists on ``day`` in ``timezone`` (the first occurrence of a
    repeated hour); the same for every creator in that zone, so it is worked out once per zone and day."""
    zone = ZoneInfo(timezone)
    hours = []
    for hour in range(HOURS):
        wall = datetime.combine(day, time(hour), tzinfo=zone)  # fold=0: the first of a repeated hour
        instant = wall.astimezone(UTC)
        if instant.astimezone(zone).replace(tzinfo=None) == wall.replace(tzinfo=None):
            hours.append((hour, instant))
    return tuple(hours)


@dataclass(frozen=True, kw_only=True)
class PeakPlanner:
    """Picks the best free whole hour of a local date from ``scores``.

    ``quiet_hours=(22, 7)`` means no post from 22:00 up to 07:00 local (``(a, a)``:
    no quiet hours). ``min_gap_hours`` keeps a chosen time that far from every
    taken slot. On a spring-forward day the skipped hour is never chosen; on a
    fall-back day the repeated hour may be, meaning its first occurrence (as the
    calendar planner reads it).
    """

    scores: HourScores
    timezone: str
    quiet_hours: tuple[int, int] = (22, 7)
    min_gap_hours: float = 3.0

    def __post_init__(self) -> None:
        if not isinstance(self.scores, HourScores):
            raise PeakTimeError(f"scores {self.scores!r} is not HourScores; build it with best_scores()")
        _zone(self.timezone)
        start, end = self.quiet_hours
        if not all(isinstance(hour, int) and 0 <= hour < HOURS for hour in (start, end)):
            raise PeakTimeError(f"quiet_hours {self.quiet_hours!r} must be two whole hours 0..23, such as (22, 7)")
        if not (math.isfinite(self.min_gap_hours) and 0 <= self.min_gap_hours < HOURS):
            raise PeakTimeError(f"min_gap_hours {self.min_gap_hours!r} must be between 0 and 24")

    def is_quiet(self, hour: int) -> bool:
        start, end = self.quiet_hours
        if start == end:
            return False
        if start < end:
            return start <= hour < end
        return hour >= start or hour < end

    def _existing_hours(self, day: date) -> list[tuple[int, datetime]]:
        """(hour, UTC instant) for each local hour that exists on ``day``; the first occurrence of a repeated hour."""
        return list(_existing_hours(self.timezone, day))

    def best_time(self, day: date, taken: Sequence[datetime] = ()) -> time:
        """The best-scoring hour of local ``day`` outside quiet hours and at least ``min_gap_hours`` from every ``taken``."""
        row = self.scores.grid[day.weekday()]
        gap = timedelta(hours=self.min_gap_hours)
        existing = self._existing_hours(day)
        allowed = [(hour, instant) for hour, instant in existing if not self.is_quiet(hour)]
        if not allowed:  # only when every non-quiet hour is one daylight saving skips
            log.warning("%s: no allowed hour exists in %s (quiet hours %s); ignoring quiet hours", day, self.timezone, self.quiet_hours)
            allowed = existing
        # Only slots within the gap of the day's hours can decide anything: one farther from every allowed hour is
        # never the nearest one under the gap (the only distances compared when no hour is free), and never makes an
        # hour less than the gap away. Leaving them out keeps the answer and spares 24 x len(taken) subtractions.
        low, high = min(instant for _hour, instant in allowed) - gap, max(instant for _hour, instant in allowed) + gap
        every = [_aware(moment, "taken slot").astimezone(UTC) for moment in taken]
        takenUTC = [moment for moment in every if low <= moment <= high]

        def distance(instant: datetime) -> timedelta:
            return min((abs(instant - moment) for moment in takenUTC), default=timedelta.max)

        free = [(hour, instant) for hour, instant in allowed if distance(instant) >= gap]
        if free:
            hour = max(free, key=lambda item: (row[item[0]], -item[0]))[0]
        else:
            # The day is full: the hour farthest from the taken slots, the better score on a tie.
            hour = max(allowed, key=lambda item: (distance(item[1]), row[item[0]], -item[0]))[0]
            log.warning("%s: no hour is %g h from the %d taken slots; posting at %02d:00", day, self.min_gap_hours, len(every), hour)
        return time(hour)

    def as_peak_time(self, taken: Sequence[datetime] = ()) -> PeakTime:
        """A ``Callable[[date], time]`` for the calendar planner's ``peak_time``, avoiding the ``taken`` slots.

        One time per date (the planner's contract), the same on every call, so
        re-planning is stable.
        """
        snapshot = tuple(_aware(moment, "taken slot") for moment in taken)

        def peak_time(day: date) -> time:
            return self.best_time(day, snapshot)

        return peak_time
