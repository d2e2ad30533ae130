"""The peak-time model: insight conversion across daylight saving, engagement scoring, priors,
the planner's choices (quiet hours, gaps, DST days) and its fit with the calendar planner.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from agent.content_calendar.slots import expand
from agent.content_calendar.schema import Calendar
from publishing.peak_times import (
    HourScores,
    PeakPlanner,
    PeakTimeError,
    best_scores,
    from_engagement,
    from_online_followers,
    heat_map_rows,
    priors,
)

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"


def online_followers(days: dict[date, dict[int, int]]) -> dict[str, Any]:
    """A Graph API response for ``online_followers``: each day's hours (UTC), periods ending at 07:00 UTC the next day."""
    values = [
        {"value": {str(hour): count for hour, count in hours.items()}, "end_time": f"{day + timedelta(days=1):%Y-%m-%d}T07:00:00+0000"}
        for day, hours in sorted(days.items())
    ]
    return {"data": [{"name": "online_followers", "period": "lifetime", "values": values, "id": "1/insights/online_followers/lifetime"}]}


def spike(utc_hour: int, high: int = 500, low: int = 100) -> dict[int, int]:
    return {hour: high if hour == utc_hour else low for hour in range(24)}


def grid_with(peaks: dict[int, float], base: float = 0.1, weekdays: range = range(7)) -> HourScores:
    """Every weekday in ``weekdays`` scores ``peaks`` (hour -> score), ``base`` elsewhere."""
    return HourScores(grid=[[peaks.get(hour, base) if day in weekdays else base for hour in range(24)] for day in range(7)], source="priors")


def local(day: date, hour: int, zone: str, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(zone))


# --------------------------------------------------------------------------- online_followers


# zone, a week around a spring-forward change (first day, change day), the spiking UTC hour,
# its local hour before and after the change
SPRING_WEEKS = [
    (BERLIN, date(2026, 3, 26), date(2026, 3, 29), 10, 11, 12),        # CET (+1) -> CEST (+2)
    (NEW_YORK, date(2026, 3, 5), date(2026, 3, 8), 17, 12, 13),        # EST (-5) -> EDT (-4)
]


@pytest.mark.parametrize(("zone", "first", "change", "utc_hour", "before", "after"), SPRING_WEEKS, ids=[week[0] for week in SPRING_WEEKS])
def test_online_followers_map_each_utc_hour_to_the_local_hour_of_its_own_date(zone: str, first: date, change: date, utc_hour: int, before: int, after: int) -> None:
    # One week, one day per weekday: a weekday's best hour shows where that date's UTC hour landed.
    week = [first + timedelta(days=n) for n in range(7)]
    scores = from_online_followers(online_followers({day: spike(utc_hour) for day in week}), zone)

    assert scores is not None and scores.source == "online_followers"
    for day in week:
        expected = before if day < change else after
        assert scores.best_hour(day.weekday()) == expected, f"{day} ({day:%a}): UTC {utc_hour:02d}:00 is local {expected:02d}:00 in {zone}"
        assert scores.grid[day.weekday()][expected] == 1.0


def test_online_followers_fall_back_moves_the_peak_an_hour_earlier() -> None:
    week = [date(2026, 10, 22) + timedelta(days=n) for n in range(7)]     # Thu..Wed, change on Sun 25 Oct
    scores = from_online_followers(online_followers({day: spike(10) for day in week}), BERLIN)

    assert scores is not None
    assert [scores.best_hour(day.weekday()) for day in week] == [12, 12, 12, 11, 11, 11, 11]


def test_online_followers_constant_local_habit_survives_the_change_in_a_four_week_average() -> None:
    # Followers who are online at 12:00 New York time every day: UTC 17 in winter, UTC 16 in summer.
    change = date(2026, 3, 8)
    days = {change + timedelta(days=n): spike(16 if n >= 0 else 17) for n in range(-14, 14)}
    scores = from_online_followers(online_followers(days), NEW_YORK)

    assert scores is not None
    for weekday in range(7):
        assert scores.best_hour(weekday) == 12
        assert scores.grid[weekday][12] == 1.0
        # A fixed-offset conversion would have smeared half of the spike onto 11:00 or 13:00.
        assert scores.grid[weekday][11] < 0.05 and scores.grid[weekday][13] < 0.05
    assert "28 days" in scores.explanation


def test_online_followers_accepts_the_metric_object_or_the_values_list() -> None:
    response = online_followers({date(2026, 5, 4): spike(8)})
    metric = response["data"][0]
    for data in (response, metric, metric["values"]):
        scores = from_online_followers(data, BERLIN)
        assert scores is not None and scores.best_hour(0) == 10      # Monday, CEST


def test_online_followers_without_counts_is_none() -> None:
    # Accounts under 100 followers get empty values; a response may also have no values at all.
    empty = {"data": [{"name": "online_followers", "period": "lifetime", "values": [{"value": {}, "end_time": "2026-05-05T07:00:00+0000"}]}]}
    assert from_online_followers(empty, BERLIN) is None
    assert from_online_followers({"data": []}, BERLIN) is None


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ([{"value": {"25": 3}, "end_time": "2026-05-05T07:00:00+0000"}], "'25' is not 0..23"),
        ([{"value": {"3": "many"}, "end_time": "2026-05-05T07:00:00+0000"}], "'many'"),
        ([{"value": {"3": 4}, "end_time": "yesterday"}], "'yesterday'"),
        ("online_followers", "got str"),
    ],
)
def test_online_followers_malformed_input_names_the_value(data: Any, fragment: str) -> None:
    with pytest.raises(PeakTimeError, match=fragment):
        from_online_followers(data, BERLIN)
    with pytest.raises(ValueError):  # PeakTimeError is also a ValueError
        from_online_followers(data, BERLIN)


def test_unknown_zone_is_refused() -> None:
    with pytest.raises(PeakTimeError, match="'Europe/Berln' is not a time zone"):
        from_online_followers([], "Europe/Berln")


# --------------------------------------------------------------------------- engagement

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def posts_at(zone: str, items: list[tuple[int, int, float]]) -> list[tuple[datetime, float]]:
    """(days ago, local hour, engagement) -> (published_at, engagement), published at hh:20 local."""
    result = []
    for days_ago, hour, engagement in items:
        day = (NOW - timedelta(days=days_ago)).date()
        result.append((local(day, hour, zone, 20), engagement))
    return result


def test_engagement_favours_the_hours_of_the_best_posts() -> None:
    # Two weeks of daily posts at 08, 12 or 19 local; the evening posts do three times as well.
    items = [(days_ago, (8, 12, 19)[days_ago % 3], 0.09 if days_ago % 3 == 2 else 0.03) for days_ago in range(1, 22)]
    scores = from_engagement(posts_at(BERLIN, items), BERLIN, NOW)

    assert scores is not None and scores.source == "engagement"
    best_weekday_hour = max(((day, hour) for day in range(7) for hour in range(24)), key=lambda cell: scores.grid[cell[0]][cell[1]])
    assert best_weekday_hour[1] == 19
    for weekday in range(7):
        row = scores.grid[weekday]
        assert row[19] > row[12] and row[19] > row[8], heat_map_rows(scores)[weekday]
        assert row[19] > row[3]                                    # never tried: below a proven hour
    assert "21 posts" in scores.explanation


@pytest.mark.parametrize("recent_hour", [12, 19])
def test_engagement_recent_posts_outweigh_old_ones(recent_hour: int) -> None:
    old_hour = 19 if recent_hour == 12 else 12
    # Half a year ago the old hour did well and the other badly; the last weeks say the opposite.
    old = [(180 + n, old_hour, 0.10) for n in range(6)] + [(180 + n, recent_hour, 0.01) for n in range(6)]
    recent = [(2 + n, recent_hour, 0.10) for n in range(6)] + [(2 + n, old_hour, 0.01) for n in range(6)]
    scores = from_engagement(posts_at(NEW_YORK, old + recent), NEW_YORK, NOW)

    assert scores is not None
    days_with_posts = {(NOW - timedelta(days=days_ago)).date().weekday() for days_ago, _, _ in old + recent}
    for weekday in days_with_posts:
        assert scores.grid[weekday][recent_hour] > scores.grid[weekday][old_hour]


def test_engagement_uses_the_local_hour_of_each_post() -> None:
    # 18:00 in New York is 23:00 UTC in winter and 22:00 UTC in summer; the evening posts do best either way.
    winter = [(datetime(2026, 1, 5 + n, 23, 0, tzinfo=UTC), 0.2) for n in range(7)] + [(datetime(2026, 1, 5 + n, 17, 0, tzinfo=UTC), 0.05) for n in range(7)]
    summer = [(datetime(2026, 6, 1 + n, 22, 0, tzinfo=UTC), 0.2) for n in range(7)] + [(datetime(2026, 6, 1 + n, 16, 0, tzinfo=UTC), 0.05) for n in range(7)]
    for posts, now in ((winter, datetime(2026, 1, 13, tzinfo=UTC)), (summer, datetime(2026, 6, 9, tzinfo=UTC))):
        scores = from_engagement(posts, NEW_YORK, now)
        assert scores is not None
        assert [scores.best_hour(weekday) for weekday in range(7)] == [18] * 7
        assert all(scores.grid[weekday][12] < 0.5 for weekday in range(7))


def test_engagement_prefers_a_proven_hour_to_an_untried_one() -> None:
    # Every post at 18:00 did the same: nothing says another hour would do better.
    posts = [(datetime(2026, 6, 1 + n, 22, 0, tzinfo=UTC), 0.2) for n in range(10)]       # 18:00 EDT
    scores = from_engagement(posts, NEW_YORK, datetime(2026, 6, 12, tzinfo=UTC))
    assert scores is not None
    assert [scores.best_hour(weekday) for weekday in range(7)] == [18] * 7


def test_engagement_needs_enough_posts() -> None:
    few = posts_at(BERLIN, [(n, 19, 0.1) for n in range(1, 8)])
    assert from_engagement(few, BERLIN, NOW) is None
    assert from_engagement(few, BERLIN, NOW, min_posts=7) is not None


def test_engagement_refuses_naive_datetimes() -> None:
    with pytest.raises(PeakTimeError, match="no time zone"):
        from_engagement([(datetime(2026, 6, 1, 19), 0.1)] * 8, BERLIN, NOW)
    with pytest.raises(PeakTimeError, match="no time zone"):
        from_engagement([], BERLIN, datetime(2026, 6, 1))


# --------------------------------------------------------------------------- priors and choosing a source


def test_priors_follow_the_documented_habits() -> None:
    grid = priors().grid
    for weekday in range(5):
        night = max(grid[weekday][hour] for hour in range(7))
        for hour in (11, 12, 13, 18, 19, 20, 21):
            assert grid[weekday][hour] > 0.75 > night
        assert priors().best_hour(weekday) in range(18, 22)
    for weekend in (5, 6):
        assert min(grid[weekend][hour] for hour in (10, 11, 12, 13, 18, 19, 20)) > max(grid[weekend][hour] for hour in range(9))
    assert min(value for row in grid for value in row) == 0.0 and max(value for row in grid for value in row) == 1.0


def test_best_scores_takes_the_first_source_with_data() -> None:
    insights = online_followers({date(2026, 6, 1) + timedelta(days=n): spike(6) for n in range(7)})
    posts = posts_at(BERLIN, [(n, 19, 0.1) for n in range(1, 12)])
    empty = {"data": [{"name": "online_followers", "values": [{"value": {}, "end_time": "2026-06-02T07:00:00+0000"}]}]}

    assert best_scores(insights, posts, timezone=BERLIN, now=NOW).source == "online_followers"
    assert best_scores(insights, posts, timezone=BERLIN, now=NOW).best_hour(0) == 8
    assert best_scores(empty, posts, timezone=BERLIN, now=NOW).source == "engagement"
    assert best_scores(None, posts, timezone=BERLIN, now=NOW).source == "engagement"
    assert best_scores(empty, posts[:5], timezone=BERLIN, now=NOW) == priors()
    assert best_scores(timezone=BERLIN) == priors()


def test_hour_scores_validate_their_grid() -> None:
    with pytest.raises(PeakTimeError, match="7 weekdays x 24 hours"):
        HourScores(grid=[[0.5] * 24] * 6, source="priors")
    with pytest.raises(PeakTimeError, match="1.5 at Wed 04:00"):
        HourScores(grid=[[1.5 if (day, hour) == (2, 4) else 0.5 for hour in range(24)] for day in range(7)], source="priors")
    with pytest.raises(PeakTimeError, match="'guess'"):
        HourScores(grid=[[0.5] * 24] * 7, source="guess")
    scores = HourScores(grid=[[0.5] * 24] * 7, source="priors")
    assert isinstance(scores.grid, tuple) and hash(scores) == hash(HourScores(grid=[[0.5] * 24] * 7, source="priors"))


def test_heat_map_rows() -> None:
    scores = grid_with({19: 1.0}, base=0.25)
    rows = heat_map_rows(scores)
    assert [name for name, _ in rows] == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert all(len(values) == 24 and values[19] == 1.0 and values[3] == 0.25 for _, values in rows)


# --------------------------------------------------------------------------- PeakPlanner


def test_planner_picks_the_argmax_of_each_weekday() -> None:
    grid = [[0.1] * 24 for _ in range(7)]
    for weekday, hour in enumerate((9, 12, 13, 17, 18, 11, 20)):
        grid[weekday][hour] = 1.0
        grid[weekday][(hour + 4) % 24] = 0.9
    planner = PeakPlanner(scores=HourScores(grid=grid, source="engagement"), timezone=BERLIN)
    monday = date(2026, 6, 1)
    assert [planner.best_time(monday + timedelta(days=n), []) for n in range(7)] == [time(h) for h in (9, 12, 13, 17, 18, 11, 20)]


@pytest.mark.parametrize("quiet", [(22, 7), (23, 6), (1, 9), (20, 10)])
def test_planner_never_posts_in_quiet_hours(quiet: tuple[int, int]) -> None:
    start, end = quiet
    rng = random.Random(sum(quiet))
    for _ in range(20):
        grid = [[rng.random() for _ in range(24)] for _ in range(7)]
        grid[rng.randrange(7)][start] = 1.0                     # tempt it with the first quiet hour
        planner = PeakPlanner(scores=HourScores(grid=grid, source="engagement"), timezone=NEW_YORK, quiet_hours=quiet)
        for day in (date(2026, 3, 2) + timedelta(days=n) for n in range(14)):
            hour = planner.best_time(day, []).hour
            quiet_hour = (start <= hour or hour < end) if start > end else start <= hour < end
            assert not quiet_hour, f"{day}: {hour:02d}:00 is inside quiet hours {quiet}"


def test_planner_night_peak_moves_to_the_best_allowed_hour() -> None:
    planner = PeakPlanner(scores=grid_with({23: 1.0, 2: 1.0, 21: 0.6, 7: 0.5}), timezone=BERLIN)
    assert planner.best_time(date(2026, 6, 3), []) == time(21)
    assert PeakPlanner(scores=grid_with({23: 1.0, 21: 0.6}), timezone=BERLIN, quiet_hours=(0, 0)).best_time(date(2026, 6, 3), []) == time(23)


def test_planner_keeps_the_gap_to_taken_slots_on_the_same_day() -> None:
    scores = grid_with({19: 1.0, 20: 0.9, 12: 0.8, 21: 0.3})
    planner = PeakPlanner(scores=scores, timezone=BERLIN, min_gap_hours=3)
    day = date(2026, 6, 3)

    assert planner.best_time(day, []) == time(19)
    assert planner.best_time(day, [local(day, 18, BERLIN)]) == time(12)                # 19, 20 too close; 21 scores lower
    assert planner.best_time(day, [local(day, 18, BERLIN).astimezone(UTC)]) == time(12)  # any aware zone
    assert planner.best_time(day, [local(day, 17, BERLIN)]) == time(20)                # exactly 3 h is enough
    assert planner.best_time(day, [local(day, 18, BERLIN), local(day, 11, BERLIN)]) == time(21)
    # Yesterday's or another week's slots do not block today.
    assert planner.best_time(day, [local(day - timedelta(days=1), 19, BERLIN), local(day + timedelta(days=7), 19, BERLIN)]) == time(19)


def test_planner_keeps_the_gap_across_midnight() -> None:
    planner = PeakPlanner(scores=grid_with({7: 1.0, 10: 0.5}), timezone=BERLIN, quiet_hours=(0, 0), min_gap_hours=9)
    day = date(2026, 6, 3)
    assert planner.best_time(day, [local(day - timedelta(days=1), 23, BERLIN)]) == time(10)     # 07:00 is only 8 h later
    assert planner.best_time(day, [local(day - timedelta(days=1), 22, BERLIN)]) == time(7)


def test_planner_with_a_full_day_stays_outside_quiet_hours() -> None:
    planner = PeakPlanner(scores=priors(), timezone=BERLIN, min_gap_hours=3)
    day = date(2026, 6, 3)
    taken = [local(day, hour, BERLIN) for hour in range(7, 22, 2)]
    chosen = planner.best_time(day, taken)
    assert 7 <= chosen.hour < 22
    assert min(abs(local(day, chosen.hour, BERLIN) - moment) for moment in taken) == timedelta(hours=1)


@pytest.mark.parametrize("peak", range(24))
def test_planner_never_returns_the_hour_spring_forward_skips(peak: int) -> None:
    spring = date(2026, 3, 29)          # Berlin: 02:00 -> 03:00
    scores = grid_with({peak: 1.0, 2: 0.99, 3: 0.98})
    planner = PeakPlanner(scores=scores, timezone=BERLIN, quiet_hours=(0, 0))
    chosen = planner.best_time(spring, [])
    assert chosen.hour != 2
    wall = datetime.combine(spring, chosen, tzinfo=ZoneInfo(BERLIN))
    assert wall.astimezone(UTC).astimezone(ZoneInfo(BERLIN)).time() == chosen, "the chosen time must exist that day"
    assert chosen == time(3 if peak == 2 else peak)


def test_planner_may_use_the_repeated_hour_on_fall_back_day() -> None:
    planner = PeakPlanner(scores=grid_with({2: 1.0}), timezone=BERLIN, quiet_hours=(0, 0), min_gap_hours=2)
    fall = date(2026, 10, 25)           # Berlin: 03:00 -> 02:00
    assert planner.best_time(fall, []) == time(2)
    # The repeated hour is a candidate once: a slot at its first occurrence blocks it.
    first = datetime(2026, 10, 25, 2, 0, tzinfo=ZoneInfo(BERLIN), fold=0)
    assert planner.best_time(fall, [first]).hour not in (1, 2, 3)


def test_planner_refuses_bad_configuration() -> None:
    with pytest.raises(PeakTimeError, match=r"quiet_hours \(22, 24\)"):
        PeakPlanner(scores=priors(), timezone=BERLIN, quiet_hours=(22, 24))
    with pytest.raises(PeakTimeError, match="'Mars/Olympus'"):
        PeakPlanner(scores=priors(), timezone="Mars/Olympus")
    with pytest.raises(PeakTimeError, match="min_gap_hours -1"):
        PeakPlanner(scores=priors(), timezone=BERLIN, min_gap_hours=-1)
    with pytest.raises(TypeError):
        PeakPlanner(priors(), BERLIN)  # type: ignore[misc]  # keyword-only
    with pytest.raises(PeakTimeError, match="no time zone"):
        PeakPlanner(scores=priors(), timezone=BERLIN).as_peak_time([datetime(2026, 6, 3, 18)])


# --------------------------------------------------------------------------- with the calendar planner


def peak_calendar(zone: str) -> Calendar:
    return Calendar.model_validate({
        "handle": "ana",
        "timezone": zone,
        "persona": {"name": "Ana", "niche": "budget cooking"},
        "pillars": [{"name": "recipes", "weight": 1}],
        "cadence": [{"days": ["daily"], "time": "peak"}, {"days": ["mon"], "time": "09:00"}],
    })


def test_as_peak_time_puts_the_calendars_peak_slots_on_the_best_hours() -> None:
    best = {0: 8, 1: 12, 2: 19, 3: 13, 4: 18, 5: 11, 6: 20}           # weekday -> best hour
    grid = [[0.2] * 24 for _ in range(7)]
    for weekday, hour in best.items():
        grid[weekday][hour] = 1.0
        grid[weekday][17] = max(grid[weekday][17], 0.7)
    planner = PeakPlanner(scores=HourScores(grid=grid, source="online_followers"), timezone=NEW_YORK)
    start = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)                     # Monday 00:00 EST; the change is on the 8th

    slots = expand(peak_calendar(NEW_YORK), start, start + timedelta(days=14), peak_time=planner.as_peak_time())
    peak = [slot for slot in slots if slot.peak]
    assert len(peak) == 14
    for slot in peak:
        assert slot.local.hour == best[slot.local.weekday()] and slot.local.minute == 0 and slot.note is None
    assert [slot.local.time() for slot in slots if not slot.peak] == [time(9), time(9)]

    # With the fixed Monday 09:00 slots taken, Monday's peak keeps three hours away from them.
    mondays = [slot.local for slot in slots if not slot.peak]
    slots = expand(peak_calendar(NEW_YORK), start, start + timedelta(days=14), peak_time=planner.as_peak_time(mondays))
    assert {slot.local.time() for slot in slots if slot.peak and slot.local.weekday() == 0} == {time(17)}
    assert all(slot.local.hour == best[slot.local.weekday()] for slot in slots if slot.peak and slot.local.weekday() != 0)


def test_as_peak_time_on_the_berlin_spring_forward_sunday() -> None:
    planner = PeakPlanner(scores=grid_with({2: 1.0, 10: 0.8}, weekdays=range(6, 7)), timezone=BERLIN, quiet_hours=(0, 0))
    start = datetime(2026, 3, 28, tzinfo=UTC)
    slots = expand(peak_calendar(BERLIN), start, start + timedelta(days=2), peak_time=planner.as_peak_time())
    sunday = [slot for slot in slots if slot.local.date() == date(2026, 3, 29)]
    assert len(sunday) == 1
    assert sunday[0].local.hour == 10 and sunday[0].note is None        # not 02:xx, and not moved by the planner's gap rule


def test_peak_times_command_shows_the_heat_map_and_slot_placement(tmp_path) -> None:  # noqa: ANN001
    import json as _json

    from cli_helpers import reeltwin

    assert reeltwin(tmp_path, "init", ".").returncode == 0
    result = reeltwin(tmp_path, "peak-times", "--days", "14", "--json")
    assert result.returncode == 0, result.stderr
    [entry] = _json.loads(result.stdout)["calendars"]
    assert entry["source"] == "priors" and list(entry["heat_map"]) == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert all(len(values) == 24 for values in entry["heat_map"].values())
    peaks = [slot for slot in entry["slots"] if slot["peak"]]
    assert peaks
    for slot in peaks:
        hour = int(slot["local_time"][11:13])
        assert 7 <= hour < 22  # never in the example's quiet hours


def test_the_source_is_logged_once_per_account_and_again_when_it_changes(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    import publishing.peak_times as peak_times
    from agent.content_calendar.peaks import next_good_time, peak_time_for, scores_for

    monkeypatch.setattr(peak_times, "_announced", {})
    calendar = peak_calendar(BERLIN)
    other = calendar.model_copy(update={"handle": "bo"})
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def told() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == "publishing.peak_times" and r.levelname == "INFO"]

    with caplog.at_level("INFO", logger="publishing.peak_times"):
        for _sweep in range(3):  # what `reeltwin run` does every sweep: plan, then find the next good time
            peak_time_for(calendar, now, 14)
            next_good_time(calendar, now)
        assert told() == ["@ana: peak times from generic priors: no usable insights or post history"]
        scores_for(other, now=now)
        assert len(told()) == 2 and told()[1].startswith("@bo: peak times from generic priors")
        online = online_followers({date(2026, 2, 20) + timedelta(days=n): spike(6) for n in range(7)})
        assert scores_for(calendar, audience={"online_followers": online}, now=now).source == "online_followers"
        assert len(told()) == 3 and told()[2].startswith("@ana: peak times from online_followers")  # insights arrived: news, told once
        scores_for(calendar, audience={"online_followers": online}, now=now)
        assert len(told()) == 3
        before = len(told())
        best_scores(timezone=BERLIN)
        best_scores(timezone=BERLIN)  # without an account: every time, as before
        assert len(told()) == before + 2
