"""Moving, skipping and adding slots from the calendar grid and the CLI (issue 19): the overrides file beside the
calendar (validated like it, written atomically, the calendar itself never rewritten), the planner applying it on
every re-plan, the calendar's quiet hours and minimum gap, the reel's history, the web routes and their scoping.

Runs on SQLite and, when reachable, PostgreSQL (the ``session``/``db_url`` fixtures)."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlmodel import Session

from agent.approval.queue import add_draft, approve
from agent.content_calendar import changes
from agent.content_calendar.changes import ScheduleConflict
from agent.content_calendar.loader import calendar_files, load_calendar, parse_calendar
from agent.content_calendar.overrides import overrides_path
from agent.content_calendar.planner import sync_plan
from agent.db.models import Creator, Reel, ReelEvent, ReelStatus, Slot, utcnow
from agent.db.states import transition
from agent.drafting.service import find_work
from agent.errors import AgentError, CalendarError, ValidationFailed
from cli_helpers import reeltwin
from test_web import (  # noqa: F401 - fixtures
    HOOKS,
    SCRIPTS,
    Seeded,
    account,
    app,
    client,
    csrf_of,
    logged_in,
    project,
    seeded,
    settings,
)
from test_web_users import A, B, World, ana, world  # noqa: F401 - fixtures

ZONE = ZoneInfo("Europe/Berlin")   # calendar/example.yaml's zone; cadence mon+thu 12:30, sat peak; quiet 22-07; gap 3 h


# -- helpers ---------------------------------------------------------------------------


def calendar_file(project: Path) -> Path:
    return project / "calendar" / f"{A}.yaml"


def loaded(project: Path):  # noqa: ANN201
    return load_calendar(calendar_file(project))


def next_day(weekday: int, after: date, *, at_least: int = 2) -> date:
    """The first ``weekday`` (0 = Monday) at least ``at_least`` days after ``after``."""
    day = after + timedelta(days=at_least)
    while day.weekday() != weekday:
        day += timedelta(days=1)
    return day


def free_time(after: datetime, *, at_least: int = 2, hour: int = 15) -> datetime:
    """A naive local time on a Tuesday (no cadence slot) far from every slot: where a move or an added reel may go."""
    return datetime.combine(next_day(1, after.astimezone(ZONE).date(), at_least=at_least), time(hour, 0))


def events(session: Session, reel_id: int) -> list[ReelEvent]:
    session.expire_all()
    return list(session.execute(select(ReelEvent).where(ReelEvent.reel_id == reel_id).order_by(ReelEvent.id)).scalars())


def reel_of(session: Session, reel_id: int) -> Reel:
    session.expire_all()
    return session.get(Reel, reel_id)


def slot_count(session: Session) -> int:
    return session.execute(select(func.count()).select_from(Slot)).scalar_one()


def first_weekly(seeded: Seeded, *, with_reel: bool = True) -> tuple[Slot, int | None]:
    """An upcoming weekly (fixed-time) slot at least a day ahead, and the seeded reel on it (if it has one)."""
    now = utcnow()
    for index, slot in enumerate(seeded.slots):
        reel = seeded.reel_ids[index] if index < len(seeded.reel_ids) else None
        if slot.kind == "weekly" and not slot.peak and slot.scheduled_at > now + timedelta(days=1) and (reel is not None) == with_reel:
            return slot, reel
    pytest.skip("no suitable upcoming slot in the example calendar's window")


# -- the file --------------------------------------------------------------------------


def test_a_move_is_written_beside_the_calendar_which_stays_untouched(session: Session, project: Path, seeded: Seeded) -> None:
    original = calendar_file(project).read_bytes()
    slot, reel_id = first_weekly(seeded)
    target = free_time(slot.scheduled_at)
    change = changes.move_slot(session, loaded(project), slot.id, target, actor="creator:web:maria")
    assert calendar_file(project).read_bytes() == original   # the creator's YAML is never rewritten
    text = overrides_path(calendar_file(project)).read_text(encoding="utf-8")
    assert text.startswith("# Changes to calendar/your.handle.yaml")
    assert f"slot: {slot.id}" in text and f"to: {target:%Y-%m-%d %H:%M}" in text and "by: creator:web:maria" in text
    assert change.reel_id == reel_id and "Moved" in change.message
    # No stray temporary files are left beside it, and the overrides file is not taken for a calendar of its own.
    assert sorted(path.name for path in (project / "calendar").iterdir() if not path.name.startswith(".")) == [f"{A}.overrides.yaml", f"{A}.yaml"]
    assert [path.name for path in calendar_files(project / "calendar")] == [f"{A}.yaml"]


@pytest.mark.parametrize(("body", "line", "words"), [
    ("moves:\n  - slot: your.handle:2026-12-10:w1\n    to: 2026-12-10 25:00\n", 3, "not a time of day"),
    ("moves:\n  - slot: your.handle:2026-12-10:w1\n    too: 2026-12-10 18:00\n", 3, "unknown key"),
    ("skips:\n  - slot: someone.else:2026-12-10:w1\n", 2, "not one of @your.handle's"),
    ("skips:\n  - slot: tomorrow\n", 2, "not a slot id"),
    ("moves:\n  - slot: your.handle:2026-12-10:w1\n    to: 2026-12-11 18:00\nskips:\n  - slot: your.handle:2026-12-10:w1\n", 5, "already listed under moves"),
    ("adds:\n  - slot: your.handle:2026-12-10:a1\n    at: 2026-12-10 18:00\n    pillar: baking\n", 4, "not in the calendar's pillars"),
    ("moves: [\n", 2, "not valid YAML"),
])
def test_a_broken_overrides_file_is_reported_with_file_and_line(project: Path, body: str, line: int, words: str) -> None:
    overrides_path(calendar_file(project)).write_text(body, encoding="utf-8")
    with pytest.raises(CalendarError) as caught:
        loaded(project)
    problem = caught.value.problems[0]
    assert re.match(rf"^.*{A}\.overrides\.yaml:{line}: ", problem), caught.value.problems
    assert words in problem, problem


def test_an_empty_or_comment_only_overrides_file_changes_nothing(project: Path) -> None:
    overrides_path(calendar_file(project)).write_text("# nothing yet\n", encoding="utf-8")
    assert not loaded(project).calendar.overrides


def test_calendar_check_reports_the_overrides_file_and_exits_2(project: Path) -> None:
    overrides_path(calendar_file(project)).write_text("skips:\n  - slot: nope\n", encoding="utf-8")
    result = reeltwin(project, "calendar", "check", f"calendar/{A}.yaml")
    assert result.returncode == 2, result.stderr
    assert re.search(rf"{A}\.overrides\.yaml:2: skips\[0\]\.slot: 'nope' is not a slot id", result.stderr), result.stderr


# -- moves -----------------------------------------------------------------------------


def test_a_moved_slot_keeps_its_id_and_reel_and_stays_moved_on_every_replan(session: Session, project: Path, seeded: Seeded) -> None:
    slot, reel_id = first_weekly(seeded)
    target = free_time(slot.scheduled_at)
    slots_before = slot_count(session)
    changes.move_slot(session, loaded(project), slot.id, target, actor="creator:web:maria")
    for _ in range(2):   # the scheduler's sweeps, `reeltwin draft` and `calendar show` plan again from the files
        report = sync_plan(session, loaded(project).calendar, now=utcnow(), days=21)
        moved = next(row for row in report.slots if row.id == slot.id)
        assert moved.scheduled_at.astimezone(ZONE).replace(tzinfo=None) == target and not moved.peak
    assert slot_count(session) >= slots_before and session.get(Slot, slot.id) is not None
    assert reel_of(session, reel_id).slot_id == slot.id and reel_of(session, reel_id).status == ReelStatus.DRAFTED
    # No second draft: the moved slot still has its reel.
    work = find_work(session, [loaded(project).calendar], now=utcnow(), days=21)
    assert slot.id not in [item.slot.id for item in work if item.slot is not None]
    # The reel's history says who moved it, from when to when.
    last = events(session, reel_id)[-1]
    assert last.actor == "creator:web:maria" and last.from_status == last.to_status == "drafted"
    assert "moved from" in last.reason and f"{target:%H:%M}" in last.reason


def test_a_slot_moved_beyond_the_planning_window_is_not_dropped(session: Session, project: Path, seeded: Seeded) -> None:
    slot, reel_id = first_weekly(seeded)
    target = free_time(slot.scheduled_at, at_least=30)
    changes.move_slot(session, loaded(project), slot.id, target, actor="creator:cli")
    sync_plan(session, loaded(project).calendar, now=utcnow(), days=14)   # a window the new time is outside of
    session.expire_all()
    row = session.get(Slot, slot.id)
    assert row is not None and row.scheduled_at.astimezone(ZONE).replace(tzinfo=None) == target
    assert reel_of(session, reel_id).status == ReelStatus.DRAFTED   # not skipped as "left the calendar"


def test_an_approved_reel_moves_with_its_slot_and_a_published_one_cannot(session: Session, project: Path, seeded: Seeded) -> None:
    slot, reel_id = first_weekly(seeded)
    approve(session, [reel_id], actor="creator:cli")
    session.execute(Reel.__table__.update().where(Reel.id == reel_id).values(publish_at=slot.scheduled_at + timedelta(hours=1)))
    session.commit()
    target = free_time(slot.scheduled_at)
    changes.move_slot(session, loaded(project), slot.id, target, actor="creator:cli")
    sync_plan(session, loaded(project).calendar, now=utcnow(), days=21)   # committed slots are never moved by calendar edits; this one is
    session.expire_all()
    assert session.get(Slot, slot.id).scheduled_at.astimezone(ZONE).replace(tzinfo=None) == target
    assert reel_of(session, reel_id).status == ReelStatus.APPROVED and reel_of(session, reel_id).publish_at is None
    # Published: refused with a clear message, nothing stored changes.
    reel = reel_of(session, reel_id)
    session.execute(Reel.__table__.update().where(Reel.id == reel_id).values(status=ReelStatus.PUBLISHED))
    session.commit()
    before = overrides_path(calendar_file(project)).read_bytes()
    with pytest.raises(ScheduleConflict, match=rf"reel {reel.id} .* is already published, so it cannot be moved"):
        changes.move_slot(session, loaded(project), slot.id, target + timedelta(hours=2), actor="creator:cli")
    with pytest.raises(ScheduleConflict, match="already published, so it cannot be skipped"):
        changes.skip_slot(session, loaded(project), slot.id, actor="creator:cli")
    assert overrides_path(calendar_file(project)).read_bytes() == before


def test_quiet_hours_minimum_gap_and_the_past_are_refused_with_one_clear_line(session: Session, project: Path, seeded: Seeded) -> None:
    slot, reel_id = first_weekly(seeded)
    local = slot.scheduled_at.astimezone(ZONE)
    other = next(row for row in seeded.slots if row.id != slot.id and row.scheduled_at > slot.scheduled_at and not row.peak)
    other_local = other.scheduled_at.astimezone(ZONE)
    path = overrides_path(calendar_file(project))
    cases = [
        (datetime.combine(local.date() + timedelta(days=1), time(23, 0)), r"23:00 is in the calendar's quiet hours \(22:00–07:00\)"),
        (datetime.combine(local.date() + timedelta(days=1), time(5, 30)), r"05:30 is in the calendar's quiet hours"),
        (other_local.replace(tzinfo=None) + timedelta(hours=2),
         rf"{other_local + timedelta(hours=2):%H:%M} is within 2 h of \w+ {other_local.day} {other_local:%b %H:%M}'s reel"
         r"( \(reel \d+\))?; the minimum gap between posts is 3 h"),
        (other_local.replace(tzinfo=None), rf"is the time of \w+ {other_local.day} {other_local:%b %H:%M}'s reel"),
        (datetime.now(ZONE).replace(tzinfo=None, second=0, microsecond=0) - timedelta(hours=3), "has already passed; pick a later time"),
    ]
    for target, message in cases:
        with pytest.raises(ScheduleConflict, match=message):
            changes.move_slot(session, loaded(project), slot.id, target, actor="creator:cli")
        assert not path.exists()   # nothing stored on a refusal
    with pytest.raises(ScheduleConflict, match="quiet hours"):
        changes.add_slot(session, loaded(project), datetime.combine(local.date() + timedelta(days=1), time(22, 30)), actor="creator:cli")
    assert not path.exists() and events(session, reel_id)[-1].to_status == "drafted"


# -- skips -----------------------------------------------------------------------------


def test_a_skip_sets_the_reel_aside_and_survives_replanning_until_put_back(session: Session, project: Path, seeded: Seeded) -> None:
    slot, reel_id = first_weekly(seeded)
    change = changes.skip_slot(session, loaded(project), slot.id, actor="creator:web:maria")
    assert "Skipped" in change.message and change.reel_id == reel_id
    reel = reel_of(session, reel_id)
    assert reel.status == ReelStatus.SKIPPED
    last = events(session, reel_id)[-1]
    assert (last.from_status, last.to_status, last.actor) == ("drafted", "skipped", "creator:web:maria") and "skipped on the calendar" in last.reason
    for _ in range(2):
        report = sync_plan(session, loaded(project).calendar, now=utcnow(), days=21)
        assert slot.id not in [row.id for row in report.slots]
        work = find_work(session, [loaded(project).calendar], now=utcnow(), days=21)
        assert slot.id not in [item.slot.id for item in work if item.slot is not None]   # no new draft for a skipped slot
    change = changes.unskip_slot(session, loaded(project), slot.id, actor="creator:web:maria")
    assert "back on the calendar" in change.message
    work = find_work(session, [loaded(project).calendar], now=utcnow(), days=21)
    assert slot.id in [item.slot.id for item in work if item.slot is not None]   # drafted again like any open slot


def test_a_skip_written_by_hand_skips_an_approved_reel_on_the_next_plan(session: Session, project: Path, seeded: Seeded) -> None:
    slot, reel_id = first_weekly(seeded)
    approve(session, [reel_id], actor="creator:cli")
    overrides_path(calendar_file(project)).write_text(f"skips:\n  - slot: {slot.id}\n    by: creator:cli\n", encoding="utf-8")
    sync_plan(session, loaded(project).calendar, now=utcnow(), days=21)
    assert reel_of(session, reel_id).status == ReelStatus.SKIPPED
    assert events(session, reel_id)[-1].reason == "skipped on the calendar"


def test_a_reel_being_rendered_cannot_be_skipped_yet(session: Session, project: Path, seeded: Seeded) -> None:
    slot, reel_id = first_weekly(seeded)
    approve(session, [reel_id], actor="creator:cli")
    transition(session, reel_of(session, reel_id), ReelStatus.RENDERING, actor="worker")
    session.commit()
    with pytest.raises(ScheduleConflict, match=rf"reel {reel_id} .* is being rendered right now"):
        changes.skip_slot(session, loaded(project), slot.id, actor="creator:cli")
    assert not overrides_path(calendar_file(project)).exists()


# -- added reels -------------------------------------------------------------------------


def test_an_added_reel_is_a_slot_of_its_own_that_is_drafted_and_stays(session: Session, project: Path, seeded: Seeded) -> None:
    at = free_time(utcnow(), at_least=3, hour=16)
    change = changes.add_slot(session, loaded(project), at, actor="creator:web:maria", pillar="skills", brief="sharpening a knife on a mug")
    assert change.slot_id == f"{A}:{at.date().isoformat()}:a1"
    for _ in range(2):
        report = sync_plan(session, loaded(project).calendar, now=utcnow(), days=21)
        row = next(row for row in report.slots if row.id == change.slot_id)
        assert row.kind == "added" and row.pillar == "skills" and row.brief == "sharpening a knife on a mug"
        assert row.scheduled_at.astimezone(ZONE).replace(tzinfo=None) == at
    work = find_work(session, [loaded(project).calendar], now=utcnow(), days=21)
    item = next(item for item in work if item.slot is not None and item.slot.id == change.slot_id)
    # A second one the same day gets the next id; without a brief it takes the backlog's next one.
    second = changes.add_slot(session, loaded(project), at + timedelta(hours=4), actor="creator:cli")
    assert second.slot_id.endswith(":a2") and item.slot.brief == "sharpening a knife on a mug"
    with pytest.raises(ValidationFailed, match="pillar 'baking' is not one of @your.handle's pillars"):
        changes.add_slot(session, loaded(project), at + timedelta(days=1), actor="creator:cli", pillar="baking")
    # Skipping an added reel removes it; its draft, if any, is set aside.
    creator = session.execute(select(Creator).where(Creator.handle == A)).scalar_one()
    draft = add_draft(session, creator, slot=session.get(Slot, change.slot_id), hook=HOOKS[0], script=SCRIPTS[0])
    session.commit()
    changes.skip_slot(session, loaded(project), change.slot_id, actor="creator:cli")
    assert reel_of(session, draft.id).status == ReelStatus.SKIPPED
    assert loaded(project).calendar.overrides.add_of(change.slot_id) is None


def test_an_added_reels_history_starts_with_who_added_it_once_drafted(session: Session, project: Path, seeded: Seeded, settings) -> None:  # noqa: ANN001
    """An addition has no reel to record it on until its slot is drafted; then the reel's history (the reel page, `reeltwin
    show`) starts with it: who added it, when, and for when, before the draft itself."""
    from agent.approval.queue import events as history
    from agent.drafting.base import Draft
    from agent.drafting.service import build_request, store

    at = free_time(utcnow(), at_least=3, hour=16)
    change = changes.add_slot(session, loaded(project), at, actor="creator:web:maria", pillar="skills", brief="sharpening a knife on a mug")
    work = find_work(session, [loaded(project).calendar], now=utcnow(), days=21)
    item = next(item for item in work if item.slot is not None and item.slot.id == change.slot_id)
    draft = Draft(hook=HOOKS[0], script=SCRIPTS[0], on_screen_title="Sharp knives", caption="A mug is a whetstone.", hashtags=["#cookingtips"],
                  cta="", attempts=1, seconds=0.1, first_try_valid=True, trimmed=False, warnings=[], model="test-model")
    outcome = store(session, item, draft, build_request(session, settings, item))
    session.expire_all()
    added, drafted = history(session, outcome.reel_id)   # as the reel page and `show` list it: in time order
    assert (added.actor, added.from_status, added.to_status) == ("creator:web:maria", "drafted", "drafted")
    assert added.reason == f"added on the calendar for {changes.when(at.replace(tzinfo=ZONE))}; pillar: skills; brief: sharpening a knife on a mug"
    assert added.at <= drafted.at and (drafted.actor, drafted.to_status) == ("drafting:test-model", "drafted")
    shown = reeltwin(project, "show", str(outcome.reel_id), "--json")
    assert shown.returncode == 0, shown.stderr
    assert __import__("json").loads(shown.stdout)["events"][0]["reason"].startswith("added on the calendar for ")
    # A calendar slot's reel has no such line.
    other = next(item for item in work if item.slot is not None and item.slot.kind != "added")
    plain_outcome = store(session, other, draft, build_request(session, settings, other))
    assert [event.reason for event in events(session, plain_outcome.reel_id)] == ["test-model: 1 attempt(s), 0.1 s"]


# -- the scheduler and the draft workers ---------------------------------------------------


def test_the_scheduler_notices_a_changed_overrides_file(session: Session, project: Path, seeded: Seeded, settings) -> None:  # noqa: ANN001
    from agent.scheduler.service import Service

    service = Service(settings, project)
    try:
        service.sweep_plan()
        slot, _reel_id = first_weekly(seeded)
        target = free_time(slot.scheduled_at)
        # Written by hand (or by another process): only the file's stat tells the cached plan that it changed.
        overrides_path(calendar_file(project)).write_text(f"moves:\n  - slot: {slot.id}\n    to: {target:%Y-%m-%d %H:%M}\n", encoding="utf-8")
        service.sweep_plan()
        session.expire_all()
        assert session.get(Slot, slot.id).scheduled_at.astimezone(ZONE).replace(tzinfo=None) == target
    finally:
        service.close()


def test_a_draft_task_carries_the_overrides_with_the_calendar(project: Path) -> None:
    text = calendar_file(project).read_text(encoding="utf-8")
    overrides = f"adds:\n  - slot: {A}:2026-12-22:a1\n    at: 2026-12-22 16:00\n    brief: a market haul\n"
    calendar = parse_calendar(text, Path(f"{A}.yaml"), overrides_text=overrides).calendar
    assert calendar.overrides.adds[0].brief == "a market haul"
    with pytest.raises(CalendarError, match=rf"{A}\.overrides\.yaml:2: "):
        parse_calendar(text, Path(f"{A}.yaml"), overrides_text="adds:\n  - slot: x\n")


# -- the web -----------------------------------------------------------------------------


def _post(client: TestClient, path: str, **fields: str):  # noqa: ANN202
    token = csrf_of(client, "/calendar")
    return client.post(path, data={"csrf": token, "handle": A, **fields}, follow_redirects=False)


def test_the_grid_shows_week_and_month_with_state_and_cover(logged_in: TestClient, session: Session, seeded: Seeded, settings) -> None:  # noqa: ANN001
    slot, reel_id = first_weekly(seeded)
    cover = settings.data_dir / "reels" / str(reel_id) / "cover.jpg"
    cover.parent.mkdir(parents=True, exist_ok=True)
    cover.write_bytes(b"\xff\xd8\xff cover")
    session.execute(Reel.__table__.update().where(Reel.id == reel_id).values(status=ReelStatus.RENDERED, artifacts={"cover": str(cover)}))
    session.commit()
    day = slot.scheduled_at.astimezone(ZONE).date()
    week = logged_in.get(f"/calendar?view=week&on={day.isoformat()}&creator={A}")
    assert week.status_code == 200
    assert f'src="/media/{reel_id}/cover"' in week.text and "scheduled" in week.text
    assert 'action="/calendar/move"' in week.text and "Add a reel here" in week.text and "<script" in week.text and "style=" not in week.text
    assert logged_in.get(f"/media/{reel_id}/cover").content == b"\xff\xd8\xff cover"
    month = logged_in.get(f"/calendar?view=month&on={day.isoformat()}&creator={A}")
    assert month.status_code == 200 and day.strftime("%B %Y") in month.text and f'src="/media/{reel_id}/cover"' in month.text


def test_move_skip_and_add_from_the_web_record_the_user(logged_in: TestClient, session: Session, seeded: Seeded, project: Path) -> None:
    slot, reel_id = first_weekly(seeded)
    target = free_time(slot.scheduled_at)
    response = _post(logged_in, "/calendar/move", slot=slot.id, day=target.date().isoformat(), at="15:00", back=f"/calendar?creator={A}")
    assert response.status_code == 303 and response.headers["location"].startswith("/calendar")
    assert "Moved" in logged_in.get(response.headers["location"]).text
    assert events(session, reel_id)[-1].actor == "creator:web:creator"
    # Too close to another post: refused in plain words, nothing changed.
    before = overrides_path(calendar_file(project)).read_bytes()
    response = _post(logged_in, "/calendar/move", slot=slot.id, day=target.date().isoformat(), at="23:30",
                     back=f"/calendar?view=week&on={target.date().isoformat()}&creator={A}")
    assert response.status_code == 422   # the week again, the slot's form open with what was typed and why not
    reason = response.text.split('class="error cal-error" role="alert">')[1].split("</p>")[0]
    assert reason.startswith("Not moved:") and "quiet hours" in reason and "--" not in reason and "reeltwin" not in reason
    assert 'value="23:30"' in response.text and "<details class=\"cal-act cal-move\" open>" in response.text
    assert overrides_path(calendar_file(project)).read_bytes() == before
    response = _post(logged_in, "/calendar/skip", slot=slot.id)
    assert "Skipped" in logged_in.get(response.headers["location"]).text and reel_of(session, reel_id).status == ReelStatus.SKIPPED
    response = _post(logged_in, "/calendar/add", day=(target.date() + timedelta(days=1)).isoformat(), at="16:00", pillar="recipes", brief="")
    assert response.status_code == 303 and "Added a reel" in logged_in.get(response.headers["location"]).text
    # The same time again is too close to it: the add form comes back open, the brief kept.
    response = _post(logged_in, "/calendar/add", day=(target.date() + timedelta(days=1)).isoformat(), at="17:00", pillar="skills",
                     brief="a second one", back=f"/calendar?view=week&on={target.date().isoformat()}&creator={A}")
    assert response.status_code == 422 and "Not added:" in response.text and "minimum gap between posts is 3 h" in response.text
    assert 'value="a second one"' in response.text and "<option selected>skills</option>" in response.text
    assert any(add.pillar == "recipes" for add in loaded(project).calendar.overrides.adds)


def test_another_creators_calendar_and_slots_are_404(app, ana: TestClient, world: World, session: Session, project: Path) -> None:  # noqa: ANN001
    assert ana.get(f"/calendar?creator={B}").status_code == 404
    b_slot = session.get(Reel, world.b_reel).slot_id
    token = csrf_of(ana, "/calendar")
    for path, fields in (("/calendar/move", {"slot": b_slot, "day": "2030-01-08", "at": "15:00"}), ("/calendar/skip", {"slot": b_slot}),
                         ("/calendar/unskip", {"slot": b_slot}), ("/calendar/add", {"day": "2030-01-08", "at": "15:00"})):
        for handle in (B, A):   # B's own handle, or A's handle with B's slot
            if path == "/calendar/add" and handle == A:
                continue
            response = ana.post(path, data={"csrf": token, "handle": handle, **fields}, follow_redirects=False)
            assert response.status_code == 404, (path, handle, response.status_code)
    assert not overrides_path(project / "calendar" / f"{B}.yaml").exists()
    assert reel_of(session, world.b_reel).status == ReelStatus.DRAFTED


# -- the command line ----------------------------------------------------------------------


def test_cli_move_skip_add_and_overrides(session: Session, project: Path, seeded: Seeded) -> None:
    slot, reel_id = first_weekly(seeded)
    target = free_time(slot.scheduled_at)
    result = reeltwin(project, "calendar", "move", A, str(reel_id), "--to", f"{target:%Y-%m-%d %H:%M}")
    assert result.returncode == 0, result.stderr
    assert "Moved" in result.stdout and events(session, reel_id)[-1].actor == "creator:cli"
    before = overrides_path(calendar_file(project)).read_bytes()
    for args, words in (
        (["move", A, slot.id, "--to", "tomorrow 6pm"], "--to 'tomorrow 6pm' is not a date and time"),
        (["move", A, slot.id, "--to", f"{target:%Y-%m-%d} 23:00"], "quiet hours"),
        (["move", A, "nobody:2030-01-01:w1", "--to", f"{target:%Y-%m-%d} 15:00"], "is not on @your.handle's calendar"),
        (["add", A, "--at", f"{target:%Y-%m-%d} 16:00", "--pillar", "baking"], "pillar 'baking' is not one of"),
        (["skip", "nobody", "1"], "no calendar for 'nobody'"),
    ):
        result = reeltwin(project, "calendar", *args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert len(lines) == 1 and words in lines[0], (args, result.stderr)
    assert overrides_path(calendar_file(project)).read_bytes() == before   # refusals store nothing
    listed = reeltwin(project, "calendar", "overrides", A, "--json")
    assert listed.returncode == 0 and '"kind": "move"' in listed.stdout and slot.id in listed.stdout
    cleared = reeltwin(project, "calendar", "overrides", A, "--clear", "--yes")
    assert cleared.returncode == 0 and not overrides_path(calendar_file(project)).exists()
    session.expire_all()
    assert session.get(Slot, slot.id).scheduled_at == slot.scheduled_at   # back where the calendar puts it


def test_changes_long_past_are_dropped_when_the_file_is_next_written(session: Session, project: Path, seeded: Seeded) -> None:
    old = (datetime.now(ZONE) - timedelta(days=90)).replace(tzinfo=None, second=0, microsecond=0)
    overrides_path(calendar_file(project)).write_text(
        f"skips:\n  - slot: {A}:{old.date().isoformat()}:w1\n    at: {old:%Y-%m-%d %H:%M}\n"
        f"adds:\n  - slot: {A}:{old.date().isoformat()}:a1\n    at: {old:%Y-%m-%d %H:%M}\n", encoding="utf-8")
    at = free_time(utcnow(), at_least=3, hour=16)
    changes.add_slot(session, loaded(project), at, actor="creator:cli")
    kept = loaded(project).calendar.overrides
    assert [add.at for add in kept.adds] == [at] and not kept.skips   # the reels' histories and the slots' rows keep the past


def test_a_move_of_a_slot_the_calendar_file_dropped_moves_nothing(session: Session, project: Path, seeded: Seeded) -> None:
    slot, reel_id = first_weekly(seeded)
    weekday = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[slot.scheduled_at.astimezone(ZONE).weekday()]
    changes.move_slot(session, loaded(project), slot.id, free_time(slot.scheduled_at), actor="creator:cli")
    path = calendar_file(project)
    text = path.read_text(encoding="utf-8")
    assert "days: [mon, thu]" in text
    path.write_text(text.replace("days: [mon, thu]", "days: [" + ("thu" if weekday == "mon" else "mon") + "]"), encoding="utf-8")
    report = sync_plan(session, loaded(project).calendar, now=utcnow(), days=21)
    assert slot.id not in [row.id for row in report.slots]
    reel = reel_of(session, reel_id)
    assert reel.status == ReelStatus.SKIPPED and events(session, reel_id)[-1].reason == f"slot {slot.id} left the calendar"


def test_an_overrides_file_reeltwin_cannot_write_is_one_clear_line(session: Session, project: Path, seeded: Seeded) -> None:
    slot, _reel_id = first_weekly(seeded)
    # Something in the way that even root cannot write over (a read-only folder stops everyone but root).
    (project / "calendar" / f".{A}.overrides.yaml.lock").mkdir()
    with pytest.raises(AgentError, match=r"overrides\.yaml cannot be written \(Is a directory\); let ReelTwin write to the calendar folder"):
        changes.move_slot(session, loaded(project), slot.id, free_time(slot.scheduled_at), actor="creator:cli")
    assert not overrides_path(calendar_file(project)).exists()
