"""`reeltwin run`: the sweeps are idempotent, policies act, SIGTERM stops it cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from agent.approval.policies import apply_approval_policy
from agent.content_calendar.loader import load_calendar
from agent.content_calendar.planner import sync_plan
from agent.db.models import Creator, Reel, ReelEvent, ReelStatus, Slot, utcnow
from agent.approval.queue import add_draft
from agent.scheduler.service import Service
from agent.settings import load_settings

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = (REPO / "calendar" / "example.yaml").read_text(encoding="utf-8")


def _calendar(tmp_path: Path, approval: str = "manual"):
    path = tmp_path / "your.handle.yaml"
    path.write_text(EXAMPLE.replace("approval: manual", f"approval: {approval}"), encoding="utf-8")
    return load_calendar(path).calendar


def _draft_on_first_slot(session, calendar, now):
    report = sync_plan(session, calendar, now=now, days=14)
    creator = session.execute(select(Creator).where(Creator.handle == calendar.handle)).scalar_one()
    slot = report.slots[0]
    reel = add_draft(session, creator, slot=slot, script="Hello there. This is a test script.")
    session.commit()
    return reel, slot


def test_auto_after_hours_approves_only_untouched_drafts(session, tmp_path: Path) -> None:
    calendar = _calendar(tmp_path, "\n  auto_after_hours: 12")
    now = utcnow()
    reel, _slot = _draft_on_first_slot(session, calendar, now)
    assert apply_approval_policy(session, calendar, now=now + timedelta(hours=11)).approved == []
    report = apply_approval_policy(session, calendar, now=now + timedelta(hours=12, minutes=1))
    assert report.approved == [reel.id]
    session.refresh(reel)
    assert reel.status == ReelStatus.APPROVED and reel.approved_by == "policy:auto_after_hours"
    event = session.execute(select(ReelEvent).where(ReelEvent.reel_id == reel.id).order_by(ReelEvent.id.desc())).scalars().first()
    assert event.actor == "policy" and "auto_after_hours" in event.reason
    # Idempotent: nothing more to do.
    assert apply_approval_policy(session, calendar, now=now + timedelta(hours=13)).approved == []


def test_skip_if_unapproved_skips_only_after_the_slot(session, tmp_path: Path) -> None:
    calendar = _calendar(tmp_path, "skip_if_unapproved")
    now = utcnow()
    reel, slot = _draft_on_first_slot(session, calendar, now)
    assert apply_approval_policy(session, calendar, now=slot.scheduled_at - timedelta(minutes=1)).skipped == []
    assert apply_approval_policy(session, calendar, now=slot.scheduled_at).skipped == [reel.id]
    session.refresh(reel)
    assert reel.status == ReelStatus.SKIPPED


def test_manual_policy_never_acts(session, tmp_path: Path) -> None:
    calendar = _calendar(tmp_path, "manual")
    now = utcnow()
    reel, slot = _draft_on_first_slot(session, calendar, now)
    report = apply_approval_policy(session, calendar, now=slot.scheduled_at + timedelta(days=3))
    assert (report.approved, report.skipped) == ([], [])
    session.refresh(reel)
    assert reel.status == ReelStatus.DRAFTED


def _project(tmp_path: Path, db_url: str) -> Path:
    (tmp_path / "calendar").mkdir()
    (tmp_path / "calendar" / "your.handle.yaml").write_text(EXAMPLE, encoding="utf-8")
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "settings.toml").write_text(f'[database]\nurl = "{db_url}"\n[scheduler]\nsweep_interval_s = 5\ndraft_ahead = false\n', encoding="utf-8")
    return tmp_path


def test_run_once_twice_plans_once_and_picks_up_edits(db_url: str, tmp_path: Path, session) -> None:
    project = _project(tmp_path, db_url)
    service = Service(load_settings(project).settings, project)
    first = {r.name: r.summary for r in service.run_once()}
    count = session.execute(select(func.count()).select_from(Slot)).scalar_one()
    assert count > 0 and first["plan"].startswith(f"{count} new")
    second = {r.name: r.summary for r in service.run_once()}
    assert second["plan"] == "0 new, 0 changed, 0 removed slots (1 unchanged calendars not re-planned)"
    assert session.execute(select(func.count()).select_from(Slot)).scalar_one() == count
    # An edit is picked up by the next sweep, without a restart.
    path = project / "calendar" / "your.handle.yaml"
    path.write_text(path.read_text().replace('time: "12:30"', 'time: "14:15"'), encoding="utf-8")
    third = {r.name: r.summary for r in service.run_once()}
    assert "0 new" in third["plan"] and " 0 changed" not in third["plan"]
    session.expire_all()
    locals_ = [s.local_time for s in session.execute(select(Slot).where(Slot.peak.is_(False))).scalars() if s.scheduled_at > utcnow()]
    assert locals_ and all("T14:15:00" in value for value in locals_)


def test_an_unchanged_calendar_is_planned_again_when_its_row_changes_or_a_day_passes(db_url: str, tmp_path: Path, session) -> None:
    from agent.content_calendar.loader import load_calendar
    from agent.content_calendar.planner import sync_plan
    from agent.db.models import Creator

    project = _project(tmp_path, db_url)
    settings = load_settings(project).settings
    clock = [utcnow()]
    service = Service(settings, project, clock=lambda: clock[0])
    service.sweep_plan()
    assert "not re-planned" in service.sweep_plan().summary
    # New audience insights (another process stored them): the creator's row changed, so its peak slots are re-planned.
    creator = session.execute(select(Creator).where(Creator.handle == "your.handle")).scalar_one()
    creator.audience = {"fetched_at": utcnow().isoformat(), "online_followers": {str(h): (100 if h == 6 else 1) for h in range(24)}}
    creator.updated_at = utcnow()
    session.commit()
    assert "not re-planned" not in service.sweep_plan().summary
    assert "not re-planned" in service.sweep_plan().summary
    # Three days later, with nothing changed: the plan moved with the window, as a fresh plan would have it.
    clock[0] += timedelta(days=3, hours=5)
    assert "not re-planned" not in service.sweep_plan().summary
    days = max(14, settings.drafting.lead_days + 7)
    end = clock[0] + timedelta(days=days)
    session.expire_all()
    planned = {slot.id: slot.scheduled_at for slot in session.execute(select(Slot)).scalars() if clock[0] <= slot.scheduled_at < end}
    fresh = sync_plan(session, load_calendar(project / "calendar" / "your.handle.yaml").calendar, now=clock[0], days=days,
                     path="calendar/your.handle.yaml")   # the path the service records: the row stays unchanged
    assert fresh.created == [] and fresh.updated == [] and fresh.removed == []
    assert planned == {slot.id: slot.scheduled_at for slot in fresh.slots} and len(planned) >= 4
    # Within the day the skip holds, even though the window moved by hours.
    clock[0] += timedelta(hours=6)
    assert "not re-planned" in service.sweep_plan().summary


def test_a_restarted_scheduler_does_not_plan_unchanged_calendars_again(db_url: str, tmp_path: Path, session) -> None:
    """The plan's basis is kept on the creator's row: a new process (a restart, or a second scheduler) skips the
    calendars nothing changed since, and still re-plans an edited one and, a day later, every one."""
    from agent.db.models import Creator

    project = _project(tmp_path, db_url)
    settings = load_settings(project).settings
    clock = [utcnow()]
    first = Service(settings, project, clock=lambda: clock[0])
    assert "not re-planned" not in first.sweep_plan().summary
    row = session.execute(select(Creator).where(Creator.handle == "your.handle")).scalar_one()
    assert row.planned_basis and row.planned_until is not None and row.planned_until > clock[0]
    changed_at = row.updated_at
    restarted = Service(settings, project, clock=lambda: clock[0])
    assert restarted.sweep_plan().summary == "0 new, 0 changed, 0 removed slots (1 unchanged calendars not re-planned)"
    session.expire_all()
    assert session.execute(select(Creator.updated_at).where(Creator.handle == "your.handle")).scalar_one() == changed_at
    # the calendar file edited while the scheduler was down: planned again by the next process
    calendar = project / "calendar" / "your.handle.yaml"
    calendar.write_text(calendar.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    assert "not re-planned" not in Service(settings, project, clock=lambda: clock[0]).sweep_plan().summary
    assert "not re-planned" in Service(settings, project, clock=lambda: clock[0]).sweep_plan().summary
    # a day later every calendar is planned again, restart or not
    clock[0] += timedelta(days=1, minutes=1)
    assert "not re-planned" not in Service(settings, project, clock=lambda: clock[0]).sweep_plan().summary


def test_broken_calendar_keeps_existing_slots(db_url: str, tmp_path: Path, session, caplog: pytest.LogCaptureFixture) -> None:
    project = _project(tmp_path, db_url)
    service = Service(load_settings(project).settings, project)
    service.run_once()
    before = session.execute(select(func.count()).select_from(Slot)).scalar_one()
    path = project / "calendar" / "your.handle.yaml"
    path.write_text(path.read_text().replace("timezone: Europe/Berlin", "timezone: Mars/Olympus"), encoding="utf-8")
    with caplog.at_level("ERROR"):
        service.run_once()
    assert session.execute(select(func.count()).select_from(Slot)).scalar_one() == before
    assert any("your.handle.yaml" in record.getMessage() and "Mars/Olympus" in record.getMessage() for record in caplog.records)


def test_sigterm_stops_the_service_cleanly(tmp_path: Path) -> None:
    project = _project(tmp_path, f"sqlite:///{tmp_path / 'run.db'}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("REELTWIN_")} | {"NO_COLOR": "1", "COLUMNS": "200"}
    process = subprocess.Popen([sys.executable, "-m", "agent", "run"], cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        # Wait until the first plan sweep has written slots.
        import sqlite3

        while time.monotonic() < deadline:
            try:
                with sqlite3.connect(tmp_path / "run.db") as db:
                    if db.execute("select count(*) from slot").fetchone()[0] > 0:
                        break
            except sqlite3.OperationalError:
                pass
            assert process.poll() is None, process.stdout.read()
            time.sleep(0.2)
        else:
            pytest.fail("the service planned nothing within 30 s")
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert "stopped cleanly" in output
    assert "Traceback" not in output


def test_draft_sweep_backs_off_a_failing_provider_and_changes_nothing(db_url: str, tmp_path: Path, session) -> None:
    project = _project(tmp_path, db_url)
    settings_file = project / "config" / "settings.toml"
    settings_file.write_text(
        settings_file.read_text().replace("draft_ahead = false", "draft_ahead = true")
        + '[drafting]\nprovider = "openai"\nbase_url = "http://127.0.0.1:9/v1"\nmax_retries = 0\ntimeout_s = 2\n',
        encoding="utf-8",
    )
    service = Service(load_settings(project).settings, project)
    first = {r.name: r.summary for r in service.run_once()}
    assert first["draft"].startswith("0 drafted, ") and not first["draft"].endswith(" 0 failed")
    assert session.execute(select(func.count()).select_from(Reel)).scalar_one() == 0
    # Within the backoff window the failing slots are not tried again.
    second = {r.name: r.summary for r in service.run_once()}
    assert second["draft"] == "nothing to draft"
    assert all(failures == 1 for failures, _when in service._draft_backoff.values())
