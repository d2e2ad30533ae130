"""Calendar planning: DST-correct expansion, weighted pillar rotation, stable slot ids, briefs,
and sync_plan() against a real database (SQLite and PostgreSQL via the ``session`` fixture).
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta, timezone
from fractions import Fraction
from itertools import groupby
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from agent.content_calendar.planner import preview, sync_plan
from agent.content_calendar.slots import (
    DEFAULT_PEAK_TIME,
    PlannedSlot,
    assign_briefs,
    expand,
    local_to_utc,
    pillar_sequence,
)
from agent.content_calendar.schema import BacklogItem, Calendar
from agent.db.models import Creator, Reel, ReelEvent, Slot
from agent.approval.queue import add_draft, approve

UTC = timezone.utc
PILLARS_321 = [{"name": "recipes", "weight": 3}, {"name": "skills", "weight": 2}, {"name": "bts", "weight": 1}]


def make_calendar(**fields: Any) -> Calendar:
    data: dict[str, Any] = {
        "handle": "ana",
        "timezone": "Europe/Berlin",
        "persona": {"name": "Ana", "niche": "budget cooking"},
        "pillars": PILLARS_321,
        "cadence": [{"days": ["mon"], "time": "12:30"}, {"days": ["thu"], "time": "12:30"}, {"days": ["sat"], "time": "10:00"}],
    }
    data.update(fields)
    return Calendar.model_validate(data)


def local_midnight(day: date, zone: str) -> datetime:
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(zone)).astimezone(UTC)


def runs(values: list[str]) -> dict[str, int]:
    """The longest run of each value."""
    longest: dict[str, int] = {}
    for value, group in groupby(values):
        longest[value] = max(longest.get(value, 0), len(list(group)))
    return longest


# --------------------------------------------------------------------------- daylight saving

# zone, spring-forward day, fall-back day, a time in the spring gap, a time repeated in the fall,
# UTC time of 09:00 local in winter and in summer
DST_ZONES = [
    ("Europe/Berlin", date(2026, 3, 29), date(2026, 10, 25), time(2, 30), time(2, 30), time(8, 0), time(7, 0)),
    ("America/New_York", date(2026, 3, 8), date(2026, 11, 1), time(2, 30), time(1, 30), time(14, 0), time(13, 0)),
]


@pytest.mark.parametrize(("zone", "spring", "fall", "gap", "repeated", "winter_utc", "summer_utc"), DST_ZONES, ids=[z[0] for z in DST_ZONES])
def test_spring_forward_keeps_wall_time_and_moves_the_gap_slot(zone: str, spring: date, fall: date, gap: time, repeated: time, winter_utc: time, summer_utc: time) -> None:
    times = sorted({time(9, 0), gap, repeated})
    calendar = make_calendar(timezone=zone, cadence=[{"days": ["daily"], "time": t.strftime("%H:%M")} for t in times])
    first, last = spring - timedelta(days=3), spring + timedelta(days=3)
    slots = expand(calendar, local_midnight(first, zone), local_midnight(last + timedelta(days=1), zone))

    per_day = Counter(slot.local.date() for slot in slots)
    assert per_day == {first + timedelta(days=n): len(times) for n in range(7)}, "a slot was lost or doubled around the change"
    assert len({slot.slot_id for slot in slots}) == len(slots)
    assert len({slot.utc for slot in slots}) == len(slots)

    nine = [slot for slot in slots if slot.local.time() == time(9, 0)]
    assert [slot.local.date() for slot in nine] == [first + timedelta(days=n) for n in range(7)]
    for slot in nine:
        assert slot.local.tzinfo is not None and slot.utc.tzinfo is not None
        assert slot.utc.time() == (winter_utc if slot.local.date() < spring else summer_utc)
        assert slot.note is None
    gaps = [b.utc - a.utc for a, b in zip(nine, nine[1:])]
    assert gaps.count(timedelta(hours=23)) == 1 and gaps.count(timedelta(hours=24)) == 5

    [moved] = [slot for slot in slots if slot.note]
    assert moved.local.date() == spring
    assert moved.local.time() == (datetime.combine(spring, gap) + timedelta(hours=1)).time()
    assert moved.note == f"{gap:%H:%M} does not exist on {spring} (clocks go forward); posting at {moved.local:%H:%M}"
    # The moved slot keeps its id (it is still that day's entry); its instant is the gap time read with the old offset.
    assert moved.slot_id == f"ana:{spring}:w{times.index(gap) + 1}"
    assert moved.utc == datetime.combine(spring, gap, tzinfo=ZoneInfo(zone)).astimezone(UTC)


@pytest.mark.parametrize(("zone", "spring", "fall", "gap", "repeated", "winter_utc", "summer_utc"), DST_ZONES, ids=[z[0] for z in DST_ZONES])
def test_fall_back_keeps_wall_time_and_posts_the_repeated_time_once(zone: str, spring: date, fall: date, gap: time, repeated: time, winter_utc: time, summer_utc: time) -> None:
    times = sorted({time(9, 0), gap, repeated})
    calendar = make_calendar(timezone=zone, cadence=[{"days": ["daily"], "time": t.strftime("%H:%M")} for t in times])
    first, last = fall - timedelta(days=3), fall + timedelta(days=3)
    slots = expand(calendar, local_midnight(first, zone), local_midnight(last + timedelta(days=1), zone))

    per_day = Counter(slot.local.date() for slot in slots)
    assert per_day == {first + timedelta(days=n): len(times) for n in range(7)}
    assert len({slot.slot_id for slot in slots}) == len(slots)
    assert all(slot.note is None for slot in slots)

    nine = [slot for slot in slots if slot.local.time() == time(9, 0)]
    assert len(nine) == 7
    for slot in nine:
        assert slot.utc.time() == (summer_utc if slot.local.date() < fall else winter_utc)
    gaps = [b.utc - a.utc for a, b in zip(nine, nine[1:])]
    assert gaps.count(timedelta(hours=25)) == 1 and gaps.count(timedelta(hours=24)) == 5

    on_fall_day = [slot for slot in slots if slot.local.date() == fall and slot.local.time() == repeated]
    assert len(on_fall_day) == 1, "the repeated hour must be posted exactly once"
    [once] = on_fall_day
    # The first occurrence (still summer time).
    assert once.local.fold == 0
    assert once.local.utcoffset() == nine[0].local.utcoffset()
    assert once.utc == datetime.combine(fall, repeated, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def test_local_to_utc_directly() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    local, note = local_to_utc(date(2026, 3, 29), time(2, 30), berlin)
    assert (local.hour, local.minute, note) == (3, 30, "02:30 does not exist on 2026-03-29 (clocks go forward); posting at 03:30")
    assert local.astimezone(UTC) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    local, note = local_to_utc(date(2026, 10, 25), time(2, 30), berlin)
    assert note is None and local.astimezone(UTC) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    local, note = local_to_utc(date(2026, 7, 1), time(12, 30), berlin)
    assert note is None and local.isoformat() == "2026-07-01T12:30:00+02:00"


def test_a_zone_without_dst_never_notes_anything() -> None:
    calendar = make_calendar(timezone="Asia/Tokyo", cadence=[{"days": ["daily"], "time": "02:30"}])
    slots = expand(calendar, datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 11, 30, tzinfo=UTC))
    assert all(slot.note is None and slot.local.time() == time(2, 30) and slot.utc.time() == time(17, 30) for slot in slots)
    assert len(slots) == (date(2026, 11, 30) - date(2026, 3, 1)).days


# --------------------------------------------------------------------------- pillar rotation


def test_pillar_sequence_for_3_2_1_is_one_smooth_period() -> None:
    sequence = pillar_sequence(make_calendar())
    assert len(sequence) == 6
    assert Counter(sequence) == {"recipes": 3, "skills": 2, "bts": 1}
    assert runs(sequence + sequence)["recipes"] <= 2


@pytest.mark.parametrize(
    ("weights", "period"),
    [((1, 1, 1), 3), ((2, 4), 3), ((0.5, 1.5), 4), ((1.5, 1, 0.5), 6), ((7, 1), 8)],
)
def test_pillar_sequence_matches_any_weights(weights: tuple[float, ...], period: int) -> None:
    pillars = [{"name": f"p{i}", "weight": weight} for i, weight in enumerate(weights)]
    sequence = pillar_sequence(make_calendar(pillars=pillars))
    assert len(sequence) == period
    total = sum(Fraction(str(w)) for w in weights)
    for i, weight in enumerate(weights):
        assert Fraction(sequence.count(f"p{i}"), period) == Fraction(str(weight)) / total


CADENCES = {
    "2 a week": [{"days": ["mon", "thu"], "time": "12:30"}],
    "3 a week": [{"days": ["mon"], "time": "12:30"}, {"days": ["thu"], "time": "12:30"}, {"days": ["sat"], "time": "peak"}],
    "weekdays": [{"days": ["weekdays"], "time": "08:00"}],
    "twice daily": [{"days": ["daily"], "time": "08:00"}, {"days": ["daily"], "time": "19:00"}],
}


@pytest.mark.parametrize("cadence", list(CADENCES.values()), ids=list(CADENCES))
def test_pillars_share_slots_by_weight_and_rotate_smoothly(cadence: list[dict[str, Any]]) -> None:
    calendar = make_calendar(cadence=cadence)
    start = local_midnight(date(2026, 1, 5), "Europe/Berlin")  # a Monday; the span crosses both DST changes
    slots = expand(calendar, start, start + timedelta(weeks=54))
    per_week = len(slots) // 54
    assert per_week * 54 == len(slots)
    whole = [slot.pillar for slot in slots[: len(slots) // 6 * 6]]
    assert len(whole) >= 100
    shares = {name: Fraction(count, len(whole)) for name, count in Counter(whole).items()}
    assert shares == {"recipes": Fraction(1, 2), "skills": Fraction(1, 3), "bts": Fraction(1, 6)}
    longest = runs([slot.pillar for slot in slots])
    assert longest["recipes"] <= 2 and longest["skills"] == 1 and longest["bts"] == 1
    # Any six consecutive slots hold exactly one period.
    for i in range(len(slots) - 6):
        assert Counter(slot.pillar for slot in slots[i : i + 6]) == {"recipes": 3, "skills": 2, "bts": 1}


@pytest.mark.parametrize("offset", [timedelta(days=7), timedelta(days=3, hours=5), timedelta(days=40, minutes=1)])
def test_a_slots_pillar_does_not_depend_on_the_window(offset: timedelta) -> None:
    calendar = make_calendar()
    t0 = datetime(2026, 6, 3, 9, 15, tzinfo=UTC)
    first = {slot.slot_id: slot for slot in expand(calendar, t0, t0 + timedelta(days=60))}
    second = {slot.slot_id: slot for slot in expand(calendar, t0 + offset, t0 + offset + timedelta(days=28))}
    common = first.keys() & second.keys()
    assert len(common) >= 8
    for slot_id in common:
        assert first[slot_id].pillar == second[slot_id].pillar
        assert first[slot_id].utc == second[slot_id].utc


def test_the_window_is_half_open_and_in_time_order() -> None:
    calendar = make_calendar()
    slots = expand(calendar, datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 6, 29, tzinfo=UTC))
    assert [slot.utc for slot in slots] == sorted(slot.utc for slot in slots)
    at = slots[3].utc
    assert expand(calendar, at, at + timedelta(days=1))[0].slot_id == slots[3].slot_id
    assert slots[3].slot_id not in {slot.slot_id for slot in expand(calendar, at - timedelta(days=1), at)}
    assert expand(calendar, at, at) == []


# --------------------------------------------------------------------------- slot ids


def test_slot_ids_are_stable_unique_and_use_the_local_date() -> None:
    calendar = make_calendar(cadence=[{"days": ["mon"], "time": "00:30"}, {"days": ["mon"], "time": "18:00"}, {"days": ["fri"], "time": "peak"}])
    start = datetime(2026, 1, 1, tzinfo=UTC)
    slots = expand(calendar, start, start + timedelta(weeks=60))
    assert [slot.slot_id for slot in slots] == [slot.slot_id for slot in expand(calendar, start, start + timedelta(weeks=60))]
    assert len({slot.slot_id for slot in slots}) == len(slots) == 60 * 3
    for slot in slots:
        assert slot.slot_id == f"ana:{slot.local.date().isoformat()}:w{1 if slot.local.time() == time(0, 30) or slot.local.weekday() == 4 else 2}"
        assert slot.kind == "weekly"
    # 00:30 in Berlin is the previous day in UTC; the id names the creator's day.
    early = next(slot for slot in slots if slot.local.time() == time(0, 30))
    assert early.utc.date() == early.local.date() - timedelta(days=1)
    assert early.slot_id.endswith(f"{early.local.date()}:w1")
    peak = next(slot for slot in slots if slot.peak)
    assert peak.local.time() == DEFAULT_PEAK_TIME
    custom = expand(calendar, start, start + timedelta(days=14), peak_time=lambda day: time(20, 15))
    assert {slot.local.time() for slot in custom if slot.peak} == {time(20, 15)}
    assert {slot.slot_id for slot in custom} == {slot.slot_id for slot in slots if slot.utc < start + timedelta(days=14)}


def test_two_slots_on_one_day_are_w1_and_w2() -> None:
    calendar = make_calendar(cadence=[{"days": ["mon", "wed"], "time": "09:00"}, {"days": ["mon"], "time": "18:00"}])
    slots = expand(calendar, datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 6, 8, tzinfo=UTC))
    assert [(slot.slot_id, slot.local.strftime("%H:%M")) for slot in slots] == [
        ("ana:2026-06-01:w1", "09:00"),
        ("ana:2026-06-01:w2", "18:00"),
        ("ana:2026-06-03:w1", "09:00"),
    ]


def test_one_offs_get_d_ids_their_own_brief_and_come_on_top() -> None:
    one_offs = [
        {"date": "2026-06-04", "time": "09:00", "pillar": "skills", "brief": "knife skills live"},
        {"date": "2026-06-04", "brief": "evening special"},
        {"date": "2026-06-06", "time": "07:00", "pillar": "bts", "brief": "a morning at the market"},
    ]
    calendar = make_calendar(one_offs=one_offs, backlog=[{"brief": f"brief {i}"} for i in range(10)])
    window = (datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 6, 8, tzinfo=UTC))
    plain = expand(make_calendar(), *window)
    slots = preview(calendar, window[0], 7)
    weekly = [slot for slot in slots if slot.kind == "weekly"]
    dated = [slot for slot in slots if slot.kind == "one_off"]
    assert [slot.slot_id for slot in weekly] == [slot.slot_id for slot in plain]
    assert [slot.pillar for slot in weekly] == [slot.pillar for slot in plain], "one-offs must not shift the rotation"
    assert [(slot.slot_id, slot.local.strftime("%H:%M"), slot.pillar, slot.brief, slot.brief_key, slot.peak) for slot in dated] == [
        ("ana:2026-06-04:d1", "09:00", "skills", "knife skills live", "one_off:2026-06-04:1", False),
        ("ana:2026-06-04:d2", "18:00", "recipes", "evening special", "one_off:2026-06-04:2", True),  # no pillar: the heaviest
        ("ana:2026-06-06:d1", "07:00", "bts", "a morning at the market", "one_off:2026-06-06:1", False),
    ]
    # Weekly slots take the backlog in order; one-offs never consume a backlog brief.
    assert [slot.brief for slot in weekly] == [f"brief {i}" for i in range(len(weekly))]


# --------------------------------------------------------------------------- briefs


def weekly_slots(pillars: list[str]) -> list[PlannedSlot]:
    base = datetime(2026, 6, 1, 10, tzinfo=UTC)
    return [
        PlannedSlot(slot_id=f"ana:s{i}", handle="ana", local=base + timedelta(days=i), utc=base + timedelta(days=i), kind="weekly", peak=False, pillar=pillar)
        for i, pillar in enumerate(pillars)
    ]


def backlog(*items: tuple[str, str | None]) -> list[BacklogItem]:
    return [BacklogItem(brief=brief, pillar=pillar) for brief, pillar in items]


def test_briefs_are_used_in_order_and_never_twice() -> None:
    items = backlog(("one", None), ("two", None), ("three", None))
    result = assign_briefs(weekly_slots(["recipes"] * 5), items)
    assert [slot.brief for slot in result] == ["one", "two", "three", None, None]
    assert [slot.brief_key for slot in result][:3] == [item.key for item in items]
    assert result[3].brief_key is None


def test_a_brief_naming_a_pillar_waits_for_a_slot_of_that_pillar() -> None:
    items = backlog(("skill first", "skills"), ("any one", None), ("a recipe", "recipes"), ("any two", None))
    result = assign_briefs(weekly_slots(["recipes", "recipes", "bts", "skills", "recipes"]), items)
    assert [(slot.pillar, slot.brief) for slot in result] == [
        ("recipes", "any one"),
        ("recipes", "a recipe"),
        ("bts", "any two"),
        ("skills", "skill first"),
        ("recipes", None),
    ]


def test_assign_briefs_honours_used_and_keep() -> None:
    items = backlog(("one", None), ("two", None), ("three", None), ("four", None), ("skills only", "skills"))
    keys = [item.key for item in items]
    slots = weekly_slots(["recipes", "recipes", "recipes", "skills"])
    # "one" is spent; s2 keeps "four"; "three" is promised to a slot outside the list (kept, so not handed out).
    result = assign_briefs(slots, items, used=[keys[0]], keep={"ana:s2": keys[3], "ana:later": keys[2]})
    assert [slot.brief for slot in result] == ["two", None, "four", "skills only"]
    # A keep naming a spent brief, or a brief no longer in the backlog, is ignored.
    result = assign_briefs(slots, items, used=[keys[3]], keep={"ana:s0": keys[3], "ana:s1": "b:gone"})
    assert [slot.brief for slot in result] == ["one", "two", "three", "skills only"]


def test_a_kept_brief_leaves_a_slot_whose_pillar_changed() -> None:
    items = backlog(("for skills", "skills"), ("for recipes", "recipes"))
    keys = [item.key for item in items]
    # Slot s0 held "for skills" when it was a skills slot; a re-plan made it a recipes slot.
    result = assign_briefs(weekly_slots(["recipes", "skills"]), items, keep={"ana:s0": keys[0], "ana:s1": keys[1]})
    assert [(slot.pillar, slot.brief) for slot in result] == [("recipes", "for recipes"), ("skills", "for skills")]


def test_briefs_with_an_id_keep_their_identity_when_reworded() -> None:
    before = BacklogItem(id="soup", brief="a creamy tomato soup")
    after = BacklogItem(id="soup", brief="a creamy tomato soup with no cream")
    assert before.key == after.key == "id:soup"
    assert BacklogItem(brief="Three  Lunches").key == BacklogItem(brief="three lunches").key
    assert BacklogItem(brief="three lunches").key != BacklogItem(brief="four lunches").key
    slots = weekly_slots(["recipes", "recipes"])
    result = assign_briefs(slots, [BacklogItem(brief="new idea"), after], keep={"ana:s1": before.key})
    assert [slot.brief for slot in result] == ["new idea", "a creamy tomato soup with no cream"]


# --------------------------------------------------------------------------- sync_plan on a real database

NOW = datetime(2026, 6, 1, 6, 0, tzinfo=UTC)  # Monday 08:00 in Berlin
DAYS = 21


def db_calendar(**fields: Any) -> Calendar:
    fields.setdefault("backlog", [{"brief": f"brief number {i}"} for i in range(30)])
    fields.setdefault("one_offs", [{"date": "2026-06-10", "time": "19:00", "pillar": "bts", "brief": "a live Q&A"}])
    return make_calendar(**fields)


def rows(session: Session) -> dict[str, dict[str, Any]]:
    """Every slot row as stored, read past the identity map."""
    table = Slot.__table__
    return {row["id"]: dict(row) for row in session.execute(sa.select(table)).mappings()}


def slot_count(session: Session) -> int:
    return session.execute(sa.select(sa.func.count()).select_from(Slot.__table__)).scalar_one()


def creator_of(session: Session) -> Creator:
    return session.execute(select(Creator).where(Creator.handle == "ana")).scalar_one()


def draft_on(session: Session, slot_id: str, *, approved: bool = False) -> int:
    slot = session.get(Slot, slot_id)
    assert slot is not None, slot_id
    reel = add_draft(session, creator_of(session), slot=slot, script=f"a script for {slot_id}")
    session.commit()
    if approved:
        assert approve(session, [reel.id]) == [(reel.id, "approved")]
    return reel.id


def reel_status(session: Session, reel_id: int) -> str:
    return session.execute(sa.select(Reel.__table__.c.status).where(Reel.__table__.c.id == reel_id)).scalar_one()


def assert_briefs_unique(session: Session) -> None:
    keys = [row["brief_key"] for row in rows(session).values() if row["brief_key"]]
    assert len(keys) == len(set(keys)), f"a brief is on two slots: {sorted(keys)}"


def test_first_sync_creates_the_plan_and_a_second_changes_nothing(session: Session) -> None:
    calendar = db_calendar()
    expected = preview(calendar, NOW, DAYS)
    assert len(expected) == 10  # 3 weeks x (mon, thu, sat) + the one-off

    first = sync_plan(session, calendar, now=NOW, days=DAYS, path="calendar/ana.yaml")
    assert sorted(first.created) == sorted(slot.slot_id for slot in expected)
    assert first.updated == first.removed == first.kept == []
    assert [slot.id for slot in first.slots] == [slot.slot_id for slot in expected]
    creator = creator_of(session)
    assert (creator.timezone, creator.calendar_path, creator.persona["name"], creator.reel_length_s) == ("Europe/Berlin", "calendar/ana.yaml", "Ana", 30)

    stored = rows(session)
    assert len(stored) == slot_count(session) == 10
    for slot in expected:
        row = stored[slot.slot_id]
        assert row["creator_id"] == creator.id
        assert row["scheduled_at"].replace(tzinfo=UTC) == slot.utc
        assert row["local_time"] == slot.local.isoformat()
        assert (row["kind"], row["peak"], row["pillar"], row["brief"], row["brief_key"]) == (slot.kind, slot.peak, slot.pillar, slot.brief, slot.brief_key)
    assert stored["ana:2026-06-01:w1"]["local_time"] == "2026-06-01T12:30:00+02:00"
    assert stored["ana:2026-06-10:d1"]["brief"] == "a live Q&A"
    assert [stored[slot.slot_id]["brief"] for slot in expected if slot.kind == "weekly"] == [f"brief number {i}" for i in range(9)]

    second = sync_plan(session, calendar, now=NOW, days=DAYS, path="calendar/ana.yaml")
    assert (second.created, second.updated, second.removed, second.kept) == ([], [], [], [])
    assert [slot.id for slot in second.slots] == [slot.id for slot in first.slots]
    assert rows(session) == stored, "an identical sync must not write anything (not even updated_at)"
    assert slot_count(session) == 10
    assert session.execute(sa.select(sa.func.count()).select_from(Creator.__table__)).scalar_one() == 1


def test_a_time_edit_moves_open_slots_but_never_an_approved_one(session: Session) -> None:
    sync_plan(session, db_calendar(), now=NOW, days=DAYS)
    open_id, drafted_id, approved_id = "ana:2026-06-01:w1", "ana:2026-06-08:w1", "ana:2026-06-15:w1"
    drafted_reel = draft_on(session, drafted_id)
    approved_reel = draft_on(session, approved_id, approved=True)
    before = rows(session)

    edited = db_calendar(cadence=[{"days": ["mon"], "time": "14:00"}, {"days": ["thu"], "time": "12:30"}, {"days": ["sat"], "time": "10:00"}])
    report = sync_plan(session, edited, now=NOW, days=DAYS)
    after = rows(session)

    assert sorted(report.updated) == sorted([open_id, drafted_id])
    assert report.kept == [approved_id]
    assert report.created == report.removed == []
    assert len(after) == len(before) == slot_count(session)
    for slot_id, day in ((open_id, "2026-06-01"), (drafted_id, "2026-06-08")):
        assert after[slot_id]["local_time"] == f"{day}T14:00:00+02:00"
        assert after[slot_id]["scheduled_at"].replace(tzinfo=UTC) == datetime.fromisoformat(f"{day}T12:00:00+00:00")
        assert (after[slot_id]["pillar"], after[slot_id]["brief"], after[slot_id]["brief_key"]) == (
            before[slot_id]["pillar"],
            before[slot_id]["brief"],
            before[slot_id]["brief_key"],
        ), "a moved slot keeps its pillar and brief"
    assert after[approved_id] == before[approved_id], "an approved slot keeps its time, pillar and brief exactly"
    assert after[approved_id]["local_time"] == "2026-06-15T12:30:00+02:00"
    for slot_id in set(before) - {open_id, drafted_id}:
        assert after[slot_id] == before[slot_id]
    assert reel_status(session, drafted_reel) == "drafted"
    assert reel_status(session, approved_reel) == "approved"
    assert [slot.id for slot in report.slots] == sorted(after, key=lambda slot_id: (after[slot_id]["scheduled_at"], slot_id))

    again = sync_plan(session, edited, now=NOW, days=DAYS)
    assert (again.created, again.updated, again.removed) == ([], [], [])
    assert again.kept == [approved_id]
    assert rows(session) == after
    assert_briefs_unique(session)


def test_removing_a_day_deletes_open_slots_skips_drafts_and_keeps_approved(session: Session) -> None:
    sync_plan(session, db_calendar(), now=NOW, days=DAYS)
    open_id, drafted_id, approved_id = "ana:2026-06-04:w1", "ana:2026-06-11:w1", "ana:2026-06-18:w1"
    drafted_reel = draft_on(session, drafted_id)
    approved_reel = draft_on(session, approved_id, approved=True)
    before = rows(session)
    events_before = session.execute(sa.select(sa.func.count()).select_from(ReelEvent.__table__)).scalar_one()

    no_thursday = db_calendar(cadence=[{"days": ["mon"], "time": "12:30"}, {"days": ["sat"], "time": "10:00"}])
    report = sync_plan(session, no_thursday, now=NOW, days=DAYS)
    after = rows(session)

    assert sorted(report.removed) == sorted([open_id, drafted_id])
    assert report.kept == [approved_id]
    assert report.created == []
    assert open_id not in after
    assert after[drafted_id]["brief_key"] is None, "the skipped slot gives its brief back"
    assert after[drafted_id]["scheduled_at"] == before[drafted_id]["scheduled_at"]
    assert after[approved_id] == before[approved_id]
    assert reel_status(session, drafted_reel) == "skipped"
    assert reel_status(session, approved_reel) == "approved"
    [event] = session.execute(select(ReelEvent).where(ReelEvent.reel_id == drafted_reel).order_by(ReelEvent.id.desc()).limit(1)).scalars()
    assert (event.from_status, event.to_status, event.actor) == ("drafted", "skipped", "planner")
    assert "calendar" in event.reason and drafted_id in event.reason
    upcoming = [slot.id for slot in report.slots]
    assert approved_id in upcoming and drafted_id not in upcoming and open_id not in upcoming
    assert not any(slot_id.startswith(("ana:2026-06-04", "ana:2026-06-11")) for slot_id in upcoming)
    assert len(after) == slot_count(session) == len(before) - 1
    assert_briefs_unique(session)

    again = sync_plan(session, no_thursday, now=NOW, days=DAYS)
    assert (again.created, again.updated, again.removed) == ([], [], []), "a repeated sync must report nothing new"
    assert again.kept == [approved_id]
    assert rows(session) == after
    assert session.execute(sa.select(sa.func.count()).select_from(ReelEvent.__table__)).scalar_one() == events_before + 1


def test_past_slots_are_history_and_their_briefs_stay_spent(session: Session) -> None:
    calendar = db_calendar()
    sync_plan(session, calendar, now=NOW, days=DAYS)
    approved_id = "ana:2026-06-11:w1"
    draft_on(session, "ana:2026-06-04:w1")  # a draft whose slot will pass
    draft_on(session, approved_id, approved=True)

    # Eight days later, with the same calendar: history stays, the window grows, nothing is rewritten.
    later = NOW + timedelta(days=8)
    before = rows(session)
    past_ids = {slot_id for slot_id, row in before.items() if row["scheduled_at"].replace(tzinfo=UTC) < later}
    assert past_ids == {"ana:2026-06-01:w1", "ana:2026-06-04:w1", "ana:2026-06-06:w1", "ana:2026-06-08:w1"}
    report = sync_plan(session, calendar, now=later, days=DAYS)
    assert report.updated == report.removed == []
    assert sorted(report.created) == sorted(slot.slot_id for slot in expand(calendar, NOW + timedelta(days=DAYS), later + timedelta(days=DAYS)))
    after = rows(session)
    assert {slot_id: after[slot_id] for slot_id in before} == before

    # Then an edit that changes every time, drops Saturdays and flips the weights.
    edited = db_calendar(
        pillars=[{"name": "recipes", "weight": 1}, {"name": "skills", "weight": 1}, {"name": "bts", "weight": 4}],
        cadence=[{"days": ["mon"], "time": "07:00"}, {"days": ["thu"], "time": "21:00"}],
        one_offs=[],
    )
    before = rows(session)
    report = sync_plan(session, edited, now=later, days=DAYS)
    after = rows(session)
    for slot_id in past_ids:
        assert after[slot_id] == before[slot_id], f"past slot {slot_id} was modified"
    assert not set(report.updated + report.removed + report.created) & past_ids
    assert report.kept == [approved_id]
    assert after[approved_id] == before[approved_id]
    # The one-off of 2026-06-10 left the calendar before it happened: removed. Saturdays too.
    assert "ana:2026-06-10:d1" in report.removed and "ana:2026-06-10:d1" not in after
    future = {slot_id: row for slot_id, row in after.items() if slot_id not in past_ids}
    assert not any(date.fromisoformat(slot_id.split(":")[1]).weekday() == 5 for slot_id in future)
    for slot_id, row in future.items():
        local = datetime.fromisoformat(row["local_time"])
        assert local.time() == (time(12, 30) if slot_id == approved_id else time(7, 0) if local.weekday() == 0 else time(21, 0))

    # Briefs: the past slots' and the approved slot's stay spent; nothing is handed out twice.
    assert_briefs_unique(session)
    spent = {after[slot_id]["brief_key"] for slot_id in past_ids | {approved_id}}
    open_keys = {row["brief_key"] for slot_id, row in future.items() if slot_id != approved_id}
    assert None not in spent and None not in open_keys and not spent & open_keys
    order = [item.key for item in edited.backlog]
    assert sorted(order.index(key) for key in spent) == [0, 1, 2, 3, 4]
    # The dropped Saturdays (briefs 5, 8 and 11) gave theirs back; open slots kept theirs.
    assert sorted(order.index(key) for key in open_keys) == [6, 7, 9, 10, 12]

    # And once more with the same edit: idempotent.
    again = sync_plan(session, edited, now=later, days=DAYS)
    assert (again.created, again.updated, again.removed) == ([], [], [])
    assert rows(session) == after

    # A longer window: the new slots take the freed briefs first, in backlog order, then the next unused one.
    longer = sync_plan(session, edited, now=later, days=DAYS + 14)
    assert longer.updated == longer.removed == []
    new_rows = sorted((rows(session)[slot_id] for slot_id in longer.created), key=lambda row: row["scheduled_at"])
    assert [order.index(row["brief_key"]) for row in new_rows] == [5, 8, 11, 13]
    assert_briefs_unique(session)


def test_a_re_plan_never_reassigns_a_spent_brief(session: Session) -> None:
    # Three briefs: the first two end up on past slots, the third on an approved one; a fourth is added later.
    calendar = db_calendar(backlog=[{"brief": "first brief"}, {"brief": "second brief"}, {"brief": "third brief"}], one_offs=[])
    sync_plan(session, calendar, now=NOW, days=DAYS)
    stored = rows(session)
    assert [stored[f"ana:2026-06-{d}:w1"]["brief"] for d in ("01", "04", "06")] == ["first brief", "second brief", "third brief"]
    draft_on(session, "ana:2026-06-06:w1", approved=True)

    later = NOW + timedelta(days=4)  # 06-01 and 06-04 are now past
    extended = db_calendar(backlog=[{"brief": "first brief"}, {"brief": "second brief"}, {"brief": "third brief"}, {"brief": "fourth brief"}], one_offs=[])
    sync_plan(session, extended, now=later, days=DAYS)
    after = rows(session)
    future = sorted((row for row in after.values() if row["scheduled_at"].replace(tzinfo=UTC) >= later), key=lambda row: row["scheduled_at"])
    assert [row["brief"] for row in future][:3] == ["third brief", "fourth brief", None]
    assert after["ana:2026-06-01:w1"]["brief"] == "first brief" and after["ana:2026-06-04:w1"]["brief"] == "second brief"
    assert sum(1 for row in after.values() if row["brief"] is not None) == 4
    assert_briefs_unique(session)


def test_sync_stores_dst_correct_times(session: Session) -> None:
    calendar = db_calendar(cadence=[{"days": ["daily"], "time": "02:30"}, {"days": ["daily"], "time": "09:00"}], one_offs=[])
    now = datetime(2026, 3, 27, tzinfo=UTC)
    report = sync_plan(session, calendar, now=now, days=5)
    stored = rows(session)
    assert stored["ana:2026-03-29:w1"]["local_time"] == "2026-03-29T03:30:00+02:00"
    assert stored["ana:2026-03-29:w2"]["local_time"] == "2026-03-29T09:00:00+02:00"
    assert stored["ana:2026-03-28:w2"]["scheduled_at"].replace(tzinfo=UTC) == datetime(2026, 3, 28, 8, tzinfo=UTC)
    assert stored["ana:2026-03-29:w2"]["scheduled_at"].replace(tzinfo=UTC) == datetime(2026, 3, 29, 7, tzinfo=UTC)
    assert Counter(slot_id.split(":")[1] for slot_id in stored) == {f"2026-03-{d}": 2 for d in range(27, 32)}
    assert [slot.id for slot in report.slots] == sorted(stored, key=lambda slot_id: stored[slot_id]["scheduled_at"])
