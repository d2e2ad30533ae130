"""The plan sweep's bulk path (issue 15, scale): :func:`sync_plans` plans many creators at once with the same result as
:func:`sync_plan` one creator at a time, from a first plan through drafts, approvals, calendar edits and overrides,
and a re-run changes nothing. Runs on SQLite and, when reachable, PostgreSQL (the ``db_url`` fixture)."""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from agent.approval.queue import add_draft, approve
from agent.content_calendar import planner
from agent.content_calendar.loader import display_path, load_calendar
from agent.content_calendar.overrides import Add, Move, Overrides, Skip
from agent.content_calendar.planner import preview, sync_plan, sync_plans
from agent.content_calendar.schema import Calendar
from agent.db.engine import make_engine
from agent.db.models import Creator, Reel, ReelEvent, ReelStatus, Slot, utcnow
from agent.db.states import transition
from agent.scheduler.service import Service
from agent.settings import load_settings

UTC = timezone.utc
NOW = datetime(2026, 6, 1, 6, 0, tzinfo=UTC)     # a Monday
LATER = NOW + timedelta(days=2, hours=3)          # the second plan: the first Monday is history by then
DAYS = 15
REPO = Path(__file__).resolve().parent.parent
PILLARS = [{"name": "recipes", "weight": 3}, {"name": "skills", "weight": 2}, {"name": "bts", "weight": 1}]


def calendar(handle: str, **fields: Any) -> Calendar:
    data: dict[str, Any] = {
        "handle": handle,
        "timezone": "Europe/Berlin",
        "persona": {"name": handle.title(), "niche": "budget cooking"},
        "pillars": PILLARS,
        "cadence": [{"days": ["mon", "thu"], "time": "12:30"}, {"days": ["sat"], "time": "peak"}],
        "backlog": [{"brief": f"{handle} brief {n}", **({"pillar": "skills"} if n % 4 == 1 else {})} for n in range(12)],
        "one_offs": [{"date": "2026-06-10", "time": "19:00", "pillar": "bts", "brief": f"a live Q&A with {handle}"}],
    }
    data.update(fields)
    return Calendar.model_validate(data)


def first_calendars() -> list[Calendar]:
    return [
        calendar("ana"),
        calendar("ben", timezone="America/New_York", cadence=[{"days": ["daily"], "time": "09:00"}]),
        calendar("cho", timezone="Asia/Tokyo", cadence=[{"days": ["weekdays"], "time": "peak"}], one_offs=[]),
        calendar("dan", timezone="Europe/London", cadence=[{"days": ["tue", "fri"], "time": "18:00"}, {"days": ["sun"], "time": "11:00"}]),
        calendar("eve"),
        calendar("fay", timezone="Australia/Sydney"),
    ]


def upcoming(session: Session, handle: str, after: datetime) -> list[Slot]:
    creator = session.execute(select(Creator).where(Creator.handle == handle)).scalar_one()
    return list(session.execute(select(Slot).where(Slot.creator_id == creator.id, Slot.scheduled_at > after)
                                .order_by(Slot.scheduled_at, Slot.id)).scalars())


def draft(session: Session, slot: Slot, status: ReelStatus) -> None:
    creator = session.get(Creator, slot.creator_id)
    reel = add_draft(session, creator, slot=slot, script=f"A script for {slot.id}.")
    session.commit()
    if status == ReelStatus.APPROVED:
        approve(session, [reel.id], actor="test")
    elif status == ReelStatus.REJECTED:
        transition(session, reel, ReelStatus.REJECTED, actor="test", reason="not this one")
        session.commit()


def second_calendars(session: Session) -> list[Calendar]:
    """The calendars edited (times, days, persona, backlog order), with overrides, and a new creator."""
    first = {item.handle: item for item in first_calendars()}
    zone = ZoneInfo("Europe/Berlin")
    eve = upcoming(session, "eve", LATER)
    moved_to = datetime.combine(eve[3].scheduled_at.astimezone(zone).date() + timedelta(days=1), time(15, 0))
    added_at = datetime.combine(eve[5].scheduled_at.astimezone(zone).date() + timedelta(days=1), time(16, 0))
    eve_overrides = Overrides(
        moves=[Move(slot=eve[1].id, to=moved_to, by="tester")],            # the drafted reel's slot goes to another day
        skips=[Skip(slot=eve[0].id, by="tester"), Skip(slot=eve[4].id)],   # the approved reel's slot, and an open one
        adds=[Add(slot=f"eve:{added_at.date().isoformat()}:a1", at=added_at, pillar="bts")],
    )
    return [
        calendar("ana", cadence=[{"days": ["mon", "thu"], "time": "14:15"}, {"days": ["sat"], "time": "peak"}]),   # a time edit
        calendar("ben", timezone="America/New_York", cadence=[{"days": ["mon", "wed", "fri", "sun"], "time": "09:00"}]),  # days removed
        first["cho"],                                                                                              # unchanged
        calendar("dan", timezone="Europe/London", persona={"name": "Dan", "niche": "baking"},                     # the row changes
                 cadence=[{"days": ["tue", "fri"], "time": "18:00"}, {"days": ["sun"], "time": "11:00"}]),
        first["eve"].with_overrides(eve_overrides),
        calendar("fay", timezone="Australia/Sydney", backlog=[{"brief": f"fay brief {n}"} for n in reversed(range(12))]),  # briefs
        calendar("gus", timezone="America/Sao_Paulo"),                                                             # a new creator
    ]


def snapshot(session: Session, since: datetime) -> dict[str, Any]:
    """Everything planning writes, by natural keys (not row ids), and which rows were written since ``since``."""
    session.expire_all()
    creators = {row.id: row for row in session.execute(sa.select(Creator.__table__)).all()}
    slots = {row.id: (creators[row.creator_id].handle, row.scheduled_at, row.local_time, row.kind, row.peak, row.pillar, row.brief,
                      row.brief_key, row.updated_at >= since) for row in session.execute(sa.select(Slot.__table__)).all()}
    reels = {row.id: row for row in session.execute(sa.select(Reel.__table__)).all()}
    return {
        "creators": {row.handle: (row.timezone, row.language, row.persona, row.calendar_path, row.reel_length_s, row.updated_at >= since)
                     for row in creators.values()},
        "slots": slots,
        "reels": sorted((row.slot_id, row.script, row.status) for row in reels.values()),
        "events": sorted((reels[row.reel_id].slot_id, row.from_status or "", row.to_status, row.actor, row.reason)
                         for row in session.execute(sa.select(ReelEvent.__table__)).all()),
    }


def summary(reports: list[planner.SyncReport]) -> dict[str, tuple[list[str], ...]]:
    return {report.handle: (sorted(report.created), sorted(report.updated), sorted(report.removed), sorted(report.kept)) for report in reports}


def one_by_one(session: Session, calendars: list[Calendar], *, now: datetime) -> list[planner.SyncReport]:
    return [sync_plan(session, item, now=now, days=DAYS, path=f"calendar/{item.handle}.yaml", actor="planner:test") for item in calendars]


def in_bulk(session: Session, calendars: list[Calendar], *, now: datetime) -> list[planner.SyncReport]:
    return sync_plans(session, [(item, f"calendar/{item.handle}.yaml") for item in calendars], now=now, days=DAYS, actor="planner:test")


def scenario(session: Session, plan: Any) -> list[Any]:
    """Plan, draft and approve, edit the calendars, plan again, plan once more: what each step left, and its reports."""
    results = []
    since = utcnow()
    results.append((summary(plan(session, first_calendars(), now=NOW)), snapshot(session, since)))
    for handle in ("ana", "ben", "dan", "eve", "fay"):
        slots = upcoming(session, handle, LATER)
        draft(session, slots[0], ReelStatus.APPROVED)
        draft(session, slots[1], ReelStatus.DRAFTED)
        draft(session, slots[2], ReelStatus.REJECTED)
    edited = second_calendars(session)
    since = utcnow()
    results.append((summary(plan(session, edited, now=LATER)), snapshot(session, since)))
    since = utcnow()
    results.append((summary(plan(session, edited, now=LATER)), snapshot(session, since)))
    return results


def truncate(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(sa.text("TRUNCATE reelevent, scriptversion, reel, slot, creator RESTART IDENTITY CASCADE"))
        else:
            for table in ("reelevent", "scriptversion", "reel", "slot", "creator"):
                connection.execute(sa.text(f"DELETE FROM {table}"))


def test_bulk_planning_gives_the_same_slots_reels_and_history_as_one_by_one(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(planner, "BULK_CHUNK", 3)   # three chunks: rows of one creator never leak into another's plan
    engine = make_engine(db_url)
    with Session(engine, expire_on_commit=False) as session:
        expected = scenario(session, one_by_one)
    truncate(engine)
    with Session(engine, expire_on_commit=False) as session:
        got = scenario(session, in_bulk)

    (first_reports, first_rows), (second_reports, second_rows), (third_reports, third_rows) = expected
    # The scenario does what it should (else the comparison below proves little): a first plan of every creator; then
    # moved, changed, removed and kept slots, skipped drafts, an updated creator row and a new creator; then nothing.
    assert len(first_rows["slots"]) > 40 and all(created for created, *_ in first_reports.values())
    assert second_reports["ana"][1] and second_reports["ben"][2] and second_reports["eve"][2] and second_reports["gus"][0]
    assert second_reports["cho"][1:] == ([], [], [])    # unchanged: only the days new to the window are created
    assert all(report[3] for handle, report in second_reports.items() if handle not in ("cho", "gus"))      # approved slots kept
    assert {status for *_, status in second_rows["reels"]} == {"approved", "drafted", "rejected", "skipped"}
    assert second_rows["creators"]["dan"][5] and not second_rows["creators"]["cho"][5]
    assert any(touched for *_, touched in second_rows["slots"].values())
    assert all(report == ([], [], [], report[3]) for report in third_reports.values())
    assert not any(touched for *_, touched in third_rows["slots"].values()) and not any(row[5] for row in third_rows["creators"].values())
    assert third_rows["reels"] == second_rows["reels"] and third_rows["events"] == second_rows["events"]

    for step, (want, have) in enumerate(zip(expected, got, strict=True), start=1):
        assert have[0] == want[0], f"step {step}: the reports differ"
        assert have[1]["slots"] == want[1]["slots"], f"step {step}: the slots differ"
        assert have[1] == want[1], f"step {step}: the creators, reels or their history differ"


def test_a_sweep_plans_in_bulk_what_sync_plan_plans_and_a_rerun_changes_nothing(db_url: str, tmp_path: Path,
                                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(planner, "BULK_CHUNK", 4)
    example = (REPO / "calendar" / "example.yaml").read_text(encoding="utf-8")
    project = tmp_path
    (project / "calendar").mkdir()
    zones = ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "UTC"]
    for n in range(9):
        text = example.replace("handle: your.handle", f"handle: creator{n}").replace("timezone: Europe/Berlin", f"timezone: {zones[n % 4]}")
        if n % 3 == 1:
            text = text.replace('time: "12:30"', 'time: "08:45"')
        (project / "calendar" / f"creator{n}.yaml").write_text(text, encoding="utf-8")
    (project / "config").mkdir()
    (project / "config" / "settings.toml").write_text(f'[database]\nurl = "{db_url}"\n[scheduler]\ndraft_ahead = false\n', encoding="utf-8")
    settings = load_settings(project).settings
    clock = [utcnow()]
    service = Service(settings, project, clock=lambda: clock[0])
    since = utcnow()
    first = service.sweep_plan().summary
    engine = make_engine(db_url)
    with Session(engine, expire_on_commit=False) as session:
        swept = snapshot(session, since)
        assert len(swept["slots"]) >= 9 * 5 and first == f"{len(swept['slots'])} new, 0 changed, 0 removed slots"
        planned_basis = dict(session.execute(sa.select(Creator.handle, Creator.planned_basis)).all())
        assert len(planned_basis) == 9 and all(planned_basis.values())
        # Planned again directly, with the same clock: nothing to create, change or remove, no row written.
        days = max(14, settings.drafting.lead_days + 7) + Service.REPLAN_EVERY.days
        calendars = [(load_calendar(path, base=project).calendar, display_path(path, project)) for path in sorted((project / "calendar").glob("*.yaml"))]
        rerun = utcnow()
        again = sync_plans(session, calendars, now=clock[0], days=days, actor="planner:test")
        assert [(r.created, r.updated, r.removed) for r in again] == [([], [], [])] * 9
        assert snapshot(session, since) == swept
        untouched = snapshot(session, rerun)
        assert not any(row[-1] for row in untouched["slots"].values()) and not any(row[-1] for row in untouched["creators"].values())
    # A restarted scheduler plans nothing; a day later it plans every calendar again and finds nothing to change.
    assert Service(settings, project, clock=lambda: clock[0]).sweep_plan().summary == \
        "0 new, 0 changed, 0 removed slots (9 unchanged calendars not re-planned)"
    clock[0] += timedelta(days=1, minutes=1)
    later = Service(settings, project, clock=lambda: clock[0]).sweep_plan().summary
    assert later.endswith(" new, 0 changed, 0 removed slots"), later

    # The same calendars planned one by one from nothing give the same rows as the sweep's first plan.
    truncate(engine)
    with Session(engine, expire_on_commit=False) as session:
        for item, path in calendars:
            sync_plan(session, item, now=clock[0] - timedelta(days=1, minutes=1), days=days, path=path, actor="planner:test")
        one = snapshot(session, since)
    assert one["slots"] == swept["slots"] and one["creators"] == swept["creators"]


@pytest.mark.postgres
def test_a_bulk_plan_that_collides_with_another_scheduler_plans_one_by_one_and_converges(postgres_url: str, tmp_path: Path,
                                                                                         monkeypatch: pytest.MonkeyPatch,
                                                                                         caplog: pytest.LogCaptureFixture) -> None:
    """Another scheduler inserts one of the slots between the bulk path's reads and its writes: the chunk is rolled back
    and planned one by one, which takes that slot as it finds it; every calendar ends up planned, each slot once."""
    from agent.db.engine import upgrade

    engine = make_engine(postgres_url)
    upgrade(engine)
    truncate(engine)
    project = tmp_path
    (project / "calendar").mkdir()
    example = (REPO / "calendar" / "example.yaml").read_text(encoding="utf-8")
    for n in range(3):
        (project / "calendar" / f"racer{n}.yaml").write_text(example.replace("handle: your.handle", f"handle: racer{n}"), encoding="utf-8")
    (project / "config").mkdir()
    (project / "config" / "settings.toml").write_text(f'[database]\nurl = "{postgres_url}"\n[scheduler]\ndraft_ahead = false\n', encoding="utf-8")
    settings = load_settings(project).settings
    now = utcnow()
    # The creators exist already (an earlier sweep of another scheduler): the race is on the slots only.
    with Session(engine) as session:
        for n in range(3):
            planner.upsert_creator(session, load_calendar(project / "calendar" / f"racer{n}.yaml").calendar, f"calendar/racer{n}.yaml")
        session.commit()
    real_peak_time_for = planner.peak_time_for
    raced: list[str] = []

    def peak_time_for(item: Calendar, start: datetime, days: int, *args: Any, **kwargs: Any) -> Any:
        peak_time = real_peak_time_for(item, start, days, *args, **kwargs)
        if item.handle == "racer1" and not raced:
            slot = preview(item, start, days, peak_time=peak_time)[0]
            with engine.begin() as other:   # another scheduler's connection, committed at once
                creator_id = other.execute(sa.select(Creator.id).where(Creator.handle == "racer1")).scalar_one()
                other.execute(sa.insert(Slot.__table__).values(id=slot.slot_id, creator_id=creator_id, scheduled_at=slot.utc,
                                                               local_time=slot.local.isoformat(), kind=slot.kind, peak=slot.peak,
                                                               pillar=slot.pillar, created_at=utcnow(), updated_at=utcnow()))
            raced.append(slot.slot_id)
        return peak_time

    monkeypatch.setattr(planner, "peak_time_for", peak_time_for)
    service = Service(settings, project, clock=lambda: now)
    with caplog.at_level(logging.INFO, logger="reeltwin.service"):
        result = service.sweep_plan().summary
    assert raced and "collided with another process" in caplog.text
    with Session(engine) as session:
        ids = [row[0] for row in session.execute(sa.select(Slot.id)).all()]
        per_creator = dict(session.execute(sa.select(Creator.handle, sa.func.count(Slot.id)).join(Slot, Slot.creator_id == Creator.id)
                                           .group_by(Creator.handle)).all())
        raced_row = session.get(Slot, raced[0])
    assert len(ids) == len(set(ids)) and raced[0] in ids
    assert per_creator["racer0"] == per_creator["racer1"] == per_creator["racer2"] > 0
    assert raced_row.brief_key is not None, "the one-by-one plan took the other scheduler's row over and gave it its brief"
    assert result == f"{sum(per_creator.values()) - 1} new, 1 changed, 0 removed slots"
    assert "not re-planned" in Service(settings, project, clock=lambda: now).sweep_plan().summary


def test_sync_plans_plans_a_handle_named_twice_in_order_as_one_by_one(db_url: str) -> None:
    """``ana.yaml`` and ``ana.yml`` both name @ana: the bulk path plans them one after the other, the later one last."""
    with Session(make_engine(db_url), expire_on_commit=False) as session:
        reports = in_bulk(session, [calendar("ana"), calendar("ana", cadence=[{"days": ["tue"], "time": "10:00"}])], now=NOW)
        assert len(reports) == 2 and reports[0].created and reports[1].removed
        got = snapshot(session, NOW)
    truncate(make_engine(db_url))
    with Session(make_engine(db_url), expire_on_commit=False) as session:
        one_by_one(session, [calendar("ana"), calendar("ana", cadence=[{"days": ["tue"], "time": "10:00"}])], now=NOW)
        assert snapshot(session, NOW) == got
    assert {row[3] for row in got["slots"].values()} == {"weekly", "one_off"}
    assert all(datetime.fromisoformat(row[2]).weekday() == 1 for row in got["slots"].values() if row[3] == "weekly")


def test_the_scheduler_sweep_uses_the_bulk_path(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Not sync_plan per creator: with thousands of creators that is minutes of single-row statements."""
    (tmp_path / "calendar").mkdir()
    (tmp_path / "calendar" / "your.handle.yaml").write_text((REPO / "calendar" / "example.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "settings.toml").write_text(f'[database]\nurl = "{db_url}"\n[scheduler]\ndraft_ahead = false\n', encoding="utf-8")
    import agent.scheduler.service as service_module

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("the sweep planned one creator at a time")

    monkeypatch.setattr(service_module, "sync_plan", refuse)
    assert " new" in Service(load_settings(tmp_path).settings, tmp_path).sweep_plan().summary
    with Session(make_engine(db_url)) as session:
        assert session.execute(sa.select(sa.func.count()).select_from(Slot.__table__)).scalar_one() > 0
