"""The queue's and the reel page's extras (issue 19): approve a selection, undo an approval (and its race with a render
claim), publish now and reschedule, compare two versions, the Instagram preview, the cover's thumbnail, the app's
manifest and icons, and the CLI's `unapprove` and `reschedule`.

The fixtures are test_web.py's: a real database (SQLite, then PostgreSQL when reachable) and the real app.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select
from sqlmodel import Session

from agent.approval.compare import Piece, word_diff
from agent.approval.decisions import unapprove
from agent.approval.queue import add_draft, approve, edit
from agent.approval.timing import ScheduleRules, parse_local_time, publish_now
from agent.db.models import Creator, Reel, ReelEvent, ReelStatus, Slot, utcnow
from agent.errors import ValidationFailed
from agent.jobs import leases
from agent.jobs.publish import due_reels
from agent.settings import Settings
from agent.web.reel_preview import caption_cut, centre_crop, reels_overlay
from cli_helpers import reeltwin
from test_web import (  # noqa: F401 - fixtures
    REPO, SCRIPTS, Seeded, account, app, client, csrf_of, force, logged_in, project, reel_of, seeded, settings, snapshot, text_of,
)
from test_web_users import ANA_PASSWORD, add_user, login_as

ZONE = ZoneInfo("Europe/Berlin")
STATIC = REPO / "agent" / "web" / "static"
MISSING = 2**31 - 1


def plain(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text_of(response)))


def events_of(session: Session, reel_id: int) -> list[ReelEvent]:
    session.rollback()
    return list(session.execute(select(ReelEvent).where(ReelEvent.reel_id == reel_id).order_by(ReelEvent.id)).scalars())


@pytest.fixture
def other_reel(session: Session, seeded: Seeded) -> int:
    """A draft of another creator ("other.handle"), whom user "ana" is not given."""
    creator = Creator(handle="other.handle", timezone="Europe/Berlin")
    session.add(creator)
    session.flush()
    reel = add_draft(session, creator, slot=None, hook="Theirs.", script=SCRIPTS[2], caption="Theirs.")
    session.commit()
    return reel.id


@pytest.fixture
def ana(app, session: Session, account: None, other_reel: int) -> TestClient:
    add_user(session, "ana", ANA_PASSWORD, ["your.handle"])
    user = TestClient(app, base_url="http://testserver")
    assert login_as(user, "ana", ANA_PASSWORD).status_code == 303
    return user


def rendered(session: Session, settings: Settings, reel_id: int, *, cover: bool = True) -> None:
    """Make a reel rendered, with a real JPEG cover (a 9:16 frame with a marker in its middle) and a video file."""
    folder = settings.data_dir / "renders" / f"reel-{reel_id}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "reel.mp4").write_bytes(b"not really a video")
    artifacts = {"video": str(folder / "reel.mp4")}
    if cover:
        image = Image.new("RGB", (1080, 1920), (20, 30, 200))
        image.paste((250, 250, 20), (440, 860, 640, 1060))
        image.save(folder / "cover.jpg", "JPEG")
        artifacts["cover"] = str(folder / "cover.jpg")
    force(session, reel_id, status=ReelStatus.RENDERED, artifacts=artifacts)


# -- approving a selection ---------------------------------------------------------------------------------------------

def test_approve_selected_approves_the_good_ones_and_lists_the_others_with_their_reason(
        ana: TestClient, seeded: Seeded, session: Session, other_reel: int) -> None:
    good, stale, already = seeded.reel_ids
    force(session, stale, artifacts={"stale_fields": ["caption"]})
    approve(session, [already], actor="creator:cli")
    theirs_before = snapshot(session, other_reel)
    stale_before = snapshot(session, stale)

    token = csrf_of(ana, "/")
    queue = ana.get("/").text
    assert 'form="bulk-approve"' in queue and 'action="/queue/approve"' in queue and "Approve selected" in queue
    response = ana.post("/queue/approve", data={"csrf": token, "reel": [str(good), str(stale), str(already), str(other_reel), str(MISSING), "x1"]},
                        follow_redirects=False)
    # POST-redirect-GET: the result is a message on the queue, so a reload of the page does not send the form again.
    assert response.status_code == 303 and response.headers["location"] == "/"
    queue = ana.get("/")
    flashed = plain(queue)
    assert (f"Approved 1 of 6 selected: reel {good} (rendered before its time). Already approved: reel {already}. "
            f"Not approved, nothing of theirs changed: Reel {stale}: The caption was written for an earlier script; "
            "open it to check it, then approve.") in flashed, flashed[:800]
    # Another creator's reel reads exactly like one that does not exist; refusals with one reason are listed together.
    assert f"Reels {other_reel}, {MISSING}: There is no such reel." in flashed and "Reel x1: This is not a reel number." in flashed
    assert "Approved 1 of 6" not in plain(ana.get("/"))   # shown once

    assert reel_of(session, good).status == ReelStatus.APPROVED and reel_of(session, good).approved_by == "creator:web:ana"
    assert reel_of(session, already).status == ReelStatus.APPROVED and reel_of(session, already).approved_by == "creator:cli"
    assert snapshot(session, stale) == stale_before and snapshot(session, other_reel) == theirs_before

    # All good: straight back to the queue with one line.
    approve_all = ana.post("/queue/approve", data={"csrf": token, "reel": [str(good)]}, follow_redirects=False)
    assert approve_all.status_code == 303 and f"Approved 0 of 1 selected. Already approved: reel {good}." in ana.get("/").text
    nothing = ana.post("/queue/approve", data={"csrf": token}, follow_redirects=False)
    assert nothing.status_code == 303 and "Nothing was selected" in text_of(ana.get("/"))
    # Without the form's token: refused, nothing approved.
    assert ana.post("/queue/approve", data={"reel": [str(stale)]}, follow_redirects=False).status_code == 403
    assert snapshot(session, stale) == stale_before


def test_a_long_bulk_result_is_cut_short_to_fit_the_session_cookie() -> None:
    from agent.web.routes.reel_extras import BULK_MESSAGE_CHARS, _bulk_message

    refused = [(str(reel_id), f"Reel {reel_id}: it is being posted right now.") for reel_id in range(1000, 1200)]
    message = _bulk_message([1, 2], [], refused)
    assert message.startswith("Approved 2 of 202 selected: reels 1, 2 (rendered before their time). Not approved")
    assert len(message) < BULK_MESSAGE_CHARS + 80 and "Reel 1000: Reel 1000: it is being posted right now." in message
    shown = len(re.findall(r"Reel \d+: Reel", message))
    assert message.endswith(f"… and {200 - shown} more; each reel's page says why.")


def test_the_cli_approves_several_ids_all_or_nothing(project: Path, seeded: Seeded, session: Session) -> None:
    first, second, _third = seeded.reel_ids
    refused = reeltwin(project, "approve", str(first), str(MISSING))
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1 and "does not exist" in refused.stderr
    assert reel_of(session, first).status == ReelStatus.DRAFTED
    done = reeltwin(project, "approve", str(first), str(second))
    assert done.returncode == 0, done.stderr
    assert {reel_of(session, first).status, reel_of(session, second).status} == {ReelStatus.APPROVED}


# -- undoing an approval -----------------------------------------------------------------------------------------------

def test_undo_approval_from_the_reel_page_and_the_queue(logged_in: TestClient, seeded: Seeded, session: Session) -> None:
    reel_id = seeded.reel_ids[0]
    approve(session, [reel_id], actor="creator:web:creator")
    page = logged_in.get(f"/reels/{reel_id}").text
    assert f'action="/reels/{reel_id}/unapprove"' in page and "Undo approval" in page
    queue = logged_in.get("/").text.partition("Everything else")[2]
    assert f'action="/reels/{reel_id}/unapprove"' in queue and f'aria-label="Undo the approval of reel {reel_id}"' in queue

    token = csrf_of(logged_in, "/")
    response = logged_in.post(f"/reels/{reel_id}/unapprove", data={"csrf": token, "next": "/"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/"
    reel = reel_of(session, reel_id)
    assert reel.status == ReelStatus.DRAFTED and reel.approved_at is None and reel.approved_by is None
    last = events_of(session, reel_id)[-1]
    assert (last.from_status, last.to_status, last.actor, last.reason) == ("approved", "drafted", "creator:web:creator", "approval undone before rendering")
    assert "the approval is undone" in text_of(logged_in.get("/"))

    # Again: nothing to undo, nothing written.
    before = snapshot(session, reel_id)
    logged_in.post(f"/reels/{reel_id}/unapprove", data={"csrf": token}, follow_redirects=False)
    assert snapshot(session, reel_id) == before
    assert f"Reel {reel_id}: it is not approved, so there is nothing to undo." in text_of(logged_in.get(f"/reels/{reel_id}"))


def test_undo_is_refused_once_a_render_worker_has_claimed_the_reel(logged_in: TestClient, seeded: Seeded, session: Session) -> None:
    reel_id = seeded.reel_ids[0]
    approve(session, [reel_id], actor="creator:cli")
    assert leases.claim_reel(session, leases.RENDER, reel_id, worker="worker-1") is not None
    before = snapshot(session, reel_id)
    token = csrf_of(logged_in, "/")
    logged_in.post(f"/reels/{reel_id}/unapprove", data={"csrf": token}, follow_redirects=False)
    assert snapshot(session, reel_id) == before and reel_of(session, reel_id).status == ReelStatus.RENDERING
    assert f"Reel {reel_id}: rendering has started, so the approval can no longer be undone" in text_of(logged_in.get(f"/reels/{reel_id}"))


def test_undo_and_render_claim_race_exactly_one_wins(seeded: Seeded, session: Session, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The claim lands between the undo's read and its write: the undo changes nothing and says rendering started."""
    from agent.approval import decisions
    from agent.db.engine import make_engine

    reel_id, other_id = seeded.reel_ids[:2]
    approve(session, [reel_id, other_id], actor="creator:cli")
    real_get = decisions.get_reel
    raced = []

    def claimed_meanwhile(db: Session, wanted: int) -> Reel:
        reel = real_get(db, wanted)
        if not raced:   # a render worker in another process claims it right after the undo has read it
            with Session(make_engine(db_url), expire_on_commit=False) as worker:
                raced.append(leases.claim_reel(worker, leases.RENDER, wanted, worker="worker-2"))
        return reel

    monkeypatch.setattr(decisions, "get_reel", claimed_meanwhile)
    with pytest.raises(ValidationFailed, match="rendering has started"):
        unapprove(session, reel_id, actor="creator:web:creator")
    assert raced[0] is not None and reel_of(session, reel_id).status == ReelStatus.RENDERING
    assert [event.to_status for event in events_of(session, reel_id)][-2:] == ["approved", "rendering"]   # no undo recorded
    monkeypatch.undo()

    # The other order: the undo first, then the worker's claim finds nothing to take.
    unapprove(session, other_id, actor="creator:web:creator")
    assert leases.claim_reel(session, leases.RENDER, other_id, worker="worker-3") is None
    assert reel_of(session, other_id).status == ReelStatus.DRAFTED


def test_cli_unapprove(project: Path, seeded: Seeded, session: Session) -> None:
    reel_id = seeded.reel_ids[0]
    approve(session, [reel_id], actor="creator:cli")
    done = reeltwin(project, "unapprove", str(reel_id), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"id": reel_id, "status": "drafted"}
    again = reeltwin(project, "unapprove", str(reel_id))
    assert again.returncode == 2 and again.stderr.strip() == f"error: reel {reel_id}: it is not approved, so there is nothing to undo"
    assert events_of(session, reel_id)[-1].actor == "creator:cli"


# -- publish now, another time -------------------------------------------------------------------------------------------

def _free_local_time(session: Session, creator_id: int, *, gap_hours: float = 3) -> datetime:
    """A local time 2-6 days ahead, between 08:00 and 21:00, at least ``gap_hours`` from every planned slot."""
    slots = list(session.execute(select(Slot.scheduled_at).where(Slot.creator_id == creator_id)).scalars())
    today = utcnow().astimezone(ZONE).date()
    for days in range(2, 7):
        for hour in range(8, 21):
            local = datetime(today.year, today.month, today.day, hour, 15, tzinfo=ZONE) + timedelta(days=days)
            if all(abs(local - at) >= timedelta(hours=gap_hours) for at in slots):
                return local
    raise AssertionError("no free time in the example calendar's week")


def test_publish_now_marks_a_rendered_reel_due_and_is_recorded(logged_in: TestClient, seeded: Seeded, session: Session, settings: Settings) -> None:
    reel_id = seeded.reel_ids[2]
    rendered(session, settings, reel_id)
    assert due_reels(session, utcnow(), timedelta(minutes=120)) == ([], [])   # its slot is days away
    page = logged_in.get(f"/reels/{reel_id}").text
    assert f'action="/reels/{reel_id}/publish-now#when"' in page
    token = csrf_of(logged_in, "/")
    response = logged_in.post(f"/reels/{reel_id}/publish-now", data={"csrf": token}, follow_redirects=False)
    assert response.status_code == 303
    reel = reel_of(session, reel_id)
    assert reel.status == ReelStatus.RENDERED and abs((reel.publish_at - utcnow()).total_seconds()) < 60
    assert due_reels(session, utcnow(), timedelta(minutes=120))[0] == [reel_id]
    last = events_of(session, reel_id)[-1]
    assert last.from_status == last.to_status == "rendered" and last.reason.startswith("publish now (was planned for ")
    assert "is due now: it is posted in the next publishing round (every minute while ReelTwin runs)" in text_of(logged_in.get(f"/reels/{reel_id}"))

    # The publisher's claim decides: two sweeps, one claim.
    assert leases.claim_reel(session, leases.PUBLISH, reel_id, worker="sweep-1") is not None
    assert leases.claim_reel(session, leases.PUBLISH, reel_id, worker="sweep-2") is None
    # Being posted: "publish now" changes nothing.
    before = reel_of(session, reel_id).publish_at
    logged_in.post(f"/reels/{reel_id}/publish-now", data={"csrf": token}, follow_redirects=False)
    assert reel_of(session, reel_id).publish_at == before and f"Reel {reel_id}: it is being posted right now." in text_of(logged_in.get(f"/reels/{reel_id}"))
    with pytest.raises(ValidationFailed, match="not rendered yet"):
        publish_now(session, seeded.reel_ids[0], actor="creator:cli")


def test_reschedule_keeps_the_calendars_quiet_hours_and_gap(logged_in: TestClient, seeded: Seeded, session: Session, settings: Settings) -> None:
    reel_id, neighbour = seeded.reel_ids[0], seeded.reel_ids[1]
    rendered(session, settings, reel_id)
    page = logged_in.get(f"/reels/{reel_id}").text
    assert 'type="datetime-local"' in page and "The calendar asks for quiet hours 22:00–07:00, at least 3 h between posts." in text_of(logged_in.get(f"/reels/{reel_id}"))
    token = csrf_of(logged_in, "/")
    before = snapshot(session, reel_id)
    free = _free_local_time(session, seeded.creator.id)
    neighbour_at = session.get(Slot, reel_of(session, neighbour).slot_id).scheduled_at.astimezone(ZONE)

    def move(when: str):
        return logged_in.post(f"/reels/{reel_id}/reschedule", data={"csrf": token, "when": when}, follow_redirects=False)

    refusals = {
        (free.replace(hour=23, minute=30)).strftime("%Y-%m-%dT%H:%M"): "23:30 is in @your.handle's quiet hours (22:00–07:00, from your.handle.yaml); pick a time between 07:00 and 22:00.",
        (neighbour_at + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"): f"is less than 3 h from reel {neighbour} at",
        (utcnow().astimezone(ZONE) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"): "is in the past or less than 5 minutes away; pick a later time, or publish it now.",
        "tomorrow at six": "'tomorrow at six' is not a date and time; write it like 2026-12-08 18:30.",
        "": "No new time given; write it like 2026-12-08 18:30.",
    }
    for when, reason in refusals.items():
        response = move(when)
        assert response.status_code == 422, when
        assert "Not moved: " in plain(response) and reason in plain(response), (when, plain(response)[:600])
        assert f'value="{when}"' in response.text  # the typed time stays in the field
    assert snapshot(session, reel_id) == before

    response = move(free.strftime("%Y-%m-%dT%H:%M"))
    assert response.status_code == 303, plain(response)[:400]
    reel = reel_of(session, reel_id)
    assert reel.publish_at == free.astimezone(ZoneInfo("UTC")) and reel.status == ReelStatus.RENDERED
    last = events_of(session, reel_id)[-1]
    assert last.reason.startswith("rescheduled from ") and last.reason.endswith(f"to {free:%a %d %b %Y, %H:%M}") and last.actor == "creator:web:creator"
    shown = text_of(logged_in.get(f"/reels/{reel_id}"))
    assert f"now goes out {free:%a %d %b, %H:%M} (Europe/Berlin)" in shown and "moved from its slot" in shown
    assert f"{free:%a %d %b, %H:%M}" in text_of(logged_in.get("/")).partition("Everything else")[2]   # the queue shows the new time


def test_a_published_reel_cannot_be_moved_and_a_reel_without_calendar_says_so(
        logged_in: TestClient, seeded: Seeded, session: Session, project: Path) -> None:
    reel_id = seeded.reel_ids[0]
    force(session, reel_id, status=ReelStatus.PUBLISHED, published_at=utcnow())
    page = logged_in.get(f"/reels/{reel_id}").text
    assert f'action="/reels/{reel_id}/reschedule"' not in page
    token = csrf_of(logged_in, "/")
    response = logged_in.post(f"/reels/{reel_id}/reschedule", data={"csrf": token, "when": "2099-01-01T12:00"}, follow_redirects=False)
    assert response.status_code == 422 and "only a reel that is not yet being posted can get another time" in plain(response)

    # Without its calendar file there are no rules to keep, and the page says so.
    (project / "calendar" / "your.handle.yaml").unlink()
    other = seeded.reel_ids[1]
    free = (utcnow() + timedelta(days=3)).astimezone(ZONE).replace(hour=23, minute=0, second=0, microsecond=0)
    assert "@your.handle has no calendar file, so no quiet hours or minimum gap apply" in text_of(logged_in.get(f"/reels/{other}"))
    response = logged_in.post(f"/reels/{other}/reschedule", data={"csrf": token, "when": free.strftime("%Y-%m-%dT%H:%M")}, follow_redirects=False)
    assert response.status_code == 303 and reel_of(session, other).publish_at == free.astimezone(ZoneInfo("UTC"))


def test_cli_reschedule(project: Path, seeded: Seeded, session: Session, settings: Settings) -> None:
    reel_id = seeded.reel_ids[0]
    free = _free_local_time(session, seeded.creator.id)
    done = reeltwin(project, "reschedule", str(reel_id), "--to", free.strftime("%Y-%m-%d %H:%M"), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["publish_at_local"] == free.isoformat()
    quiet = reeltwin(project, "reschedule", str(reel_id), "--to", free.strftime("%Y-%m-%d 03:00"))
    assert quiet.returncode == 2 and len(quiet.stderr.strip().splitlines()) == 1 and "quiet hours" in quiet.stderr
    bad = reeltwin(project, "reschedule", str(reel_id), "--to", "soon")
    assert bad.returncode == 2 and "'soon' is not a date and time" in bad.stderr
    not_rendered = reeltwin(project, "reschedule", str(reel_id), "--to", "now")
    assert not_rendered.returncode == 2 and "not rendered yet" in not_rendered.stderr
    assert reel_of(session, reel_id).publish_at == free.astimezone(ZoneInfo("UTC"))


def test_reschedule_keeps_the_gap_to_slots_not_yet_planned_and_not_to_itself_or_skipped_slots(
        seeded: Seeded, session: Session, settings: Settings) -> None:
    """A reel's new time is tested by the calendar grid's gap search (changes.posts_near): it sees the calendar's slots the
    database has no row for yet and leaves out skipped slots and the reel's own slot (``reel:<id>`` for an ad-hoc reel)."""
    from agent.approval.timing import reschedule, rules_for
    from agent.content_calendar import changes
    from agent.content_calendar.loader import load_calendar
    from agent.content_calendar.slots import expand

    rules, note = rules_for(settings.calendar_dir, "your.handle")
    assert note is None
    weekly = [(reel_id, slot) for reel_id, slot in zip(seeded.reel_ids, seeded.slots) if not slot.peak]
    (reel_id, own_slot), (_skipped_reel, skipped_slot) = weekly[0], weekly[1]
    # A weekly slot three weeks ahead: the plan (two weeks) has not reached it, so it has no row yet.
    ahead = utcnow() + timedelta(days=17)
    calendar = load_calendar(settings.calendar_dir / "your.handle.yaml").calendar
    unplanned = next(slot for slot in expand(calendar, ahead, ahead + timedelta(days=7)) if not slot.peak)
    assert session.get(Slot, unplanned.slot_id) is None
    with pytest.raises(ValidationFailed, match=rf"is less than 3 h from a planned slot at {unplanned.local:%a %d %b %Y, %H:%M}"):
        reschedule(session, reel_id, unplanned.utc + timedelta(hours=1), actor="creator:cli", rules=rules)
    assert reel_of(session, reel_id).publish_at is None

    # An hour after its own slot: the slot it leaves is no neighbour.
    moved = reschedule(session, reel_id, own_slot.scheduled_at + timedelta(hours=1), actor="creator:cli", rules=rules)
    assert moved.publish_at == own_slot.scheduled_at + timedelta(hours=1)

    # An ad-hoc reel with a time of its own: a neighbour of the others, not of itself.
    free = _free_local_time(session, seeded.creator.id).astimezone(ZoneInfo("UTC"))
    loose = add_draft(session, seeded.creator, slot=None, hook="A reel of its own.", script=SCRIPTS[2])
    session.commit()
    approve(session, [loose.id], actor="creator:cli")
    reschedule(session, loose.id, free, actor="creator:cli", rules=rules)
    assert reschedule(session, loose.id, free + timedelta(hours=1), actor="creator:cli", rules=rules).publish_at == free + timedelta(hours=1)
    with pytest.raises(ValidationFailed, match=rf"is less than 3 h from reel {loose.id} at"):
        reschedule(session, reel_id, free + timedelta(minutes=30), actor="creator:cli", rules=rules)

    # A skipped slot posts nothing: a time next to it is free.
    changes.skip_slot(session, load_calendar(settings.calendar_dir / "your.handle.yaml"), skipped_slot.id, actor="creator:cli")
    rules, _note = rules_for(settings.calendar_dir, "your.handle")   # the calendar as its overrides file has it now
    near_skipped = skipped_slot.scheduled_at + timedelta(hours=1)
    assert reschedule(session, reel_id, near_skipped, actor="creator:cli", rules=rules).publish_at == near_skipped


def test_parse_local_time_and_rules() -> None:
    utc = ZoneInfo("UTC")
    assert parse_local_time("2026-07-01 18:30", "Europe/Berlin") == datetime(2026, 7, 1, 16, 30, tzinfo=utc)
    assert parse_local_time("2026-07-01T18:30+00:00", "Europe/Berlin") == datetime(2026, 7, 1, 18, 30, tzinfo=utc)
    with pytest.raises(ValidationFailed, match="does not exist on 2026-03-29 in Europe/Berlin"):
        parse_local_time("2026-03-29 02:30", "Europe/Berlin")   # the clocks jump from 02:00 to 03:00
    with pytest.raises(ValidationFailed, match="has no time of day"):
        parse_local_time("2026-07-01", "Europe/Berlin")
    rules = ScheduleRules((22, 7), 3, "x.yaml")
    assert [hour for hour in range(24) if rules.is_quiet(hour)] == [0, 1, 2, 3, 4, 5, 6, 22, 23]
    assert not any(ScheduleRules((0, 0), 0, "x").is_quiet(hour) for hour in range(24))
    assert ScheduleRules((0, 0), 0, "x").describe() == "no quiet hours and no minimum gap"


# -- comparing versions ------------------------------------------------------------------------------------------------------

def test_word_diff_marks_words_not_spacing() -> None:
    left, right = word_diff("Onions keep for weeks.\nBuy a net.", "Onions keep  for months.\nBuy a whole net.")
    assert left == [Piece("same", "Onions keep for "), Piece("removed", "weeks."), Piece("same", "\nBuy a net.")]
    assert right == [Piece("same", "Onions keep  for "), Piece("added", "months."), Piece("same", "\nBuy a "), Piece("added", "whole"), Piece("same", " net.")]
    assert word_diff("same words", "same  words") == ([Piece("same", "same words")], [Piece("same", "same  words")])
    left, right = word_diff("a b c", "x y c")
    assert left[0] == Piece("removed", "a b") and right[0] == Piece("added", "x y")   # a changed run is one mark, spaces included


def test_compare_two_versions_side_by_side(logged_in: TestClient, seeded: Seeded, session: Session, ana: TestClient, other_reel: int) -> None:
    reel_id = seeded.reel_ids[0]
    assert "one version so far" in plain(logged_in.get(f"/reels/{reel_id}/compare"))
    edit(session, reel_id, script=SCRIPTS[0].replace("a whole net", "a big net"), caption="Onions for a month.", actor="creator:cli")
    page = logged_in.get(f"/reels/{reel_id}").text
    assert f'action="/reels/{reel_id}/compare"' in page and 'name="a"' in page and 'name="b"' in page

    response = logged_in.get(f"/reels/{reel_id}/compare?a=1&b=2")
    assert response.status_code == 200
    assert '<del class="diff-removed">whole</del>' in response.text and '<ins class="diff-added">big</ins>' in response.text
    # Word by word: "for" is in both captions.
    assert '<del class="diff-removed">Dinner</del> for <del class="diff-removed">two euros.</del>' in response.text
    assert '<ins class="diff-added">Onions</ins> for <ins class="diff-added">a month.</ins>' in response.text
    assert "The same in both: hook, on-screen title, hashtags." in plain(response)
    assert logged_in.get(f"/reels/{reel_id}/compare").text == response.text   # the last two by default

    missing = logged_in.get(f"/reels/{reel_id}/compare?a=1&b=9")
    assert missing.status_code == 404 and f"Reel {reel_id} has no version 9; it has versions 1 to 2." in plain(missing)
    assert logged_in.get(f"/reels/{reel_id}/compare?a=one").status_code == 422
    assert ana.get(f"/reels/{other_reel}/compare").status_code == 404


# -- the preview as Instagram shows it ------------------------------------------------------------------------------------

def test_caption_cut_and_the_geometry() -> None:
    cut = caption_cut("Line one\nLine two\nLine three")
    assert (cut.shown, cut.more) == ("Line one\nLine two", True)
    long = "word " * 60
    cut = caption_cut(long)
    assert cut.more and len(cut.shown) <= 125 and not cut.shown.endswith(" ") and cut.shown.endswith("word")
    assert caption_cut("Short.") .more is False
    overlay = reels_overlay()
    assert (overlay.top.height, overlay.bottom.y, overlay.side.x, overlay.side.width) == (269, 1248, 1015, 65)   # 14 %, 35 %, 6 % of 1080×1920
    assert all(overlay.side.x <= x <= 1080 and overlay.top.height < y < overlay.bottom.y for x, y in overlay.buttons)
    assert overlay.bottom.y <= overlay.caption_box.y and overlay.caption_box.y + overlay.caption_box.height <= 1920
    assert centre_crop((3, 4)).view_box == "0 240 1080 1440" and centre_crop((1, 1)).view_box == "0 420 1080 1080"
    assert centre_crop((16, 9), 1080, 1080).view_box == "0 236 1080 608"


def test_the_reel_page_previews_the_reel_as_instagram_shows_it(logged_in: TestClient, seeded: Seeded, session: Session, settings: Settings) -> None:
    reel_id = seeded.reel_ids[0]
    caption = "Onions keep for weeks if you store them dry, in the dark, in a net that lets them breathe. Here is how I do it every week for two euros."
    force(session, reel_id, caption=caption)
    assert 'class="ig-overlay"' not in logged_in.get(f"/reels/{reel_id}").text   # nothing to preview before the render
    rendered(session, settings, reel_id)
    response = logged_in.get(f"/reels/{reel_id}")
    page = response.text
    assert 'id="ig-screen" class="ig-toggle" checked' in page and 'for="ig-screen"' in page
    assert re.search(r'<rect class="ig-band" x="0" y="0" width="1080" height="269"', page)
    assert re.search(r'<rect class="ig-band" x="0" y="1248" width="1080" height="672"', page)
    assert f'src="/media/{reel_id}/video"' in page and page.count(f'href="/media/{reel_id}/cover"') == 2
    assert 'viewBox="0 240 1080 1440"' in page and 'viewBox="0 420 1080 1080"' in page
    shown = caption_cut(caption + "\n\n#budgetrecipes")
    assert shown.more and f"{shown.shown}" in text_of(response) and "… more" in text_of(response)
    assert f"({len(shown.shown)} of {len(caption) + len(chr(10) * 2 + '#budgetrecipes')} characters)" in text_of(response)
    assert " style=" not in page and not re.search(r"\son[a-z]+=", page)


# -- the queue's thumbnails --------------------------------------------------------------------------------------------------

def test_queue_thumbnails_are_small_lazy_cached_and_scoped(ana: TestClient, seeded: Seeded, session: Session, settings: Settings, other_reel: int,
                                                           client: TestClient) -> None:
    reel_id = seeded.reel_ids[1]
    rendered(session, settings, reel_id)
    rendered(session, settings, other_reel)
    rest = ana.get("/").text.partition("Everything else")[2]
    match = re.search(rf'<img class="thumb" src="(/reels/{reel_id}/thumb\?v=\d+)" loading="lazy"', rest)
    assert match, rest[:800]
    response = ana.get(match.group(1))
    assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
    assert response.headers["cache-control"] == "private, max-age=604800"
    image = Image.open(io.BytesIO(response.content))
    assert image.size == (108, 192) and image.getpixel((54, 96))[0] > 200   # the cover's middle, scaled down
    assert ana.get(match.group(1)).content == response.content                # made once, served again
    assert len(list((settings.data_dir / "thumbs").iterdir())) == 1

    # Another creator's, or none: the same 404 page.
    theirs, nothing = ana.get(f"/reels/{other_reel}/thumb"), ana.get(f"/reels/{MISSING}/thumb")
    assert theirs.status_code == nothing.status_code == 404
    assert plain(theirs).replace(str(other_reel), "N") == plain(nothing).replace(str(MISSING), "N")
    assert f"/reels/{other_reel}/thumb" not in ana.get("/").text
    assert ana.get(f"/reels/{seeded.reel_ids[0]}/thumb").status_code == 404   # not rendered: no cover
    anonymous = TestClient(client.app, base_url="http://testserver")
    assert anonymous.get(match.group(1), follow_redirects=False).status_code == 303


def test_a_reels_thumbnail_goes_with_its_render_and_the_app_prunes_the_rest(
        ana: TestClient, seeded: Seeded, session: Session, settings: Settings, project: Path, other_reel: int, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """data/thumbs keeps one thumbnail per reel that shows one: a new cover replaces it, a new render or a rejection removes
    it, and the web app, when it starts, deletes those of reels that are gone or set aside or whose video is gone."""
    import os

    from agent.db.models import Avatar
    from agent.jobs.render import render_reel
    from agent.web.app import create_app
    from cli_helpers import make_test_video

    thumbs = settings.data_dir / "thumbs"
    first, second, third = seeded.reel_ids

    def thumbs_of(reel_id: int) -> list[str]:
        return sorted(path.name for path in thumbs.glob(f"{reel_id}-*.jpg"))

    # A new cover (a render elsewhere, the same path): its thumbnail replaces the old one.
    rendered(session, settings, first)
    assert ana.get(f"/reels/{first}/thumb").status_code == 200
    [old] = thumbs_of(first)
    cover = settings.data_dir / "renders" / f"reel-{first}" / "cover.jpg"
    os.utime(cover, ns=(cover.stat().st_atime_ns, cover.stat().st_mtime_ns + 10**9))
    assert ana.get(f"/reels/{first}/thumb").status_code == 200
    [new] = thumbs_of(first)
    assert new != old

    # Rendered again here (the render job, with the stand-in renderer): the old render's thumbnail goes.
    monkeypatch.setenv("REELTWIN_TEST_STANDIN_VIDEO", str(make_test_video(tmp_path / "standin.mp4")))
    session.add(Avatar(name="your.handle", creator_id=seeded.creator.id, photo_path=str(tmp_path / "photo.png"), photo_sha256="0" * 64,
                       consent_by="test", consent_text="test", kind="photo", analysis={}, consent_at=utcnow()))
    session.commit()
    force(session, first, status=ReelStatus.APPROVED)
    standin = settings.model_copy(update={"workers": settings.workers.model_copy(update={"renderer": "standin", "imports": ["standin_render"]})})
    assert render_reel(session, standin, first, worker="test").result == "rendered"
    assert thumbs_of(first) == []

    # Rejected on its page: its render is not the reel's any more; no thumbnail is kept or shown.
    rendered(session, settings, second)
    assert ana.get(f"/reels/{second}/thumb").status_code == 200 and len(thumbs_of(second)) == 1
    token = csrf_of(ana, "/")
    assert ana.post(f"/reels/{second}/reject", data={"csrf": token, "feedback": "a shorter hook"}, follow_redirects=False).status_code == 303
    assert thumbs_of(second) == [] and reel_of(session, second).status in (ReelStatus.REJECTED, ReelStatus.DRAFTED)
    assert ana.get(f"/reels/{second}/thumb").status_code == 404 and f"/reels/{second}/thumb" not in ana.get("/").text
    assert thumbs_of(second) == []

    # The web app's start prunes the rest; a reel's current thumbnail and a young half-written file stay.
    rendered(session, settings, third)
    assert ana.get(f"/reels/{third}/thumb").status_code == 200
    [kept] = thumbs_of(third)
    rendered(session, settings, other_reel)
    (settings.data_dir / "renders" / f"reel-{other_reel}" / "reel.mp4").unlink()   # its video is gone
    stray = [f"{other_reel}-{'b' * 20}.jpg", f"{MISSING}-{'c' * 20}.jpg", f"{'d' * 20}.jpg", f"{second}-{'e' * 20}.jpg"]
    for name in [*stray, f"{third}-{'f' * 20}.123-456.part"]:
        (thumbs / name).write_bytes(b"jpeg")
    create_app(settings, project).state.drafter.wait(10)
    assert sorted(path.name for path in thumbs.iterdir()) == sorted([kept, f"{third}-{'f' * 20}.123-456.part"])


def test_other_creators_reels_cannot_be_moved_undone_or_published(ana: TestClient, other_reel: int, session: Session, settings: Settings) -> None:
    rendered(session, settings, other_reel)
    before = snapshot(session, other_reel)
    token = csrf_of(ana, "/")
    for action, data in (("unapprove", {}), ("publish-now", {}), ("reschedule", {"when": "2099-01-01T12:00"})):
        response = ana.post(f"/reels/{other_reel}/{action}", data={"csrf": token, **data}, follow_redirects=False)
        assert response.status_code == 404, action
    assert snapshot(session, other_reel) == before and reel_of(session, other_reel).publish_at is None


# -- the app's manifest and icons ----------------------------------------------------------------------------------------------

def _css_colour(name: str) -> str:
    return re.search(rf"{name}:\s*(#[0-9a-fA-F]{{6}})", (STATIC / "style.css").read_text(encoding="utf-8")).group(1).lower()


def test_manifest_and_icons_are_served_without_login_and_cached(client: TestClient) -> None:
    login_page = client.get("/login").text   # not logged in: the browser reads the manifest from here
    manifest_url = re.search(r'<link rel="manifest" href="(/static/manifest\.webmanifest\?v=[0-9a-f]{12})">', login_page).group(1)
    touch_url = re.search(r'<link rel="apple-touch-icon" href="(/static/apple-touch-icon\.png\?v=[0-9a-f]{12})">', login_page).group(1)
    response = client.get(manifest_url)
    assert response.status_code == 200 and response.headers["content-type"] == "application/manifest+json"
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "set-cookie" not in response.headers
    manifest = response.json()
    assert (manifest["name"], manifest["short_name"], manifest["start_url"], manifest["display"]) == ("ReelTwin", "ReelTwin", "/", "standalone")
    assert manifest["theme_color"] == _css_colour("--card") and manifest["background_color"] == _css_colour("--bg")

    kinds = set()
    for entry in manifest["icons"]:
        name, version = re.fullmatch(r"/static/([\w.-]+)\?v=([0-9a-f]{12})", entry["src"]).groups()
        assert version == hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12], f"{name}: run scripts/make_app_icons.py again"
        icon = client.get(entry["src"])
        assert icon.status_code == 200 and icon.headers["content-type"] == "image/png"
        assert icon.headers["cache-control"] == "public, max-age=31536000, immutable"
        image = Image.open(io.BytesIO(icon.content)).convert("RGBA")
        size = int(entry["sizes"].split("x")[0])
        assert image.size == (size, size)
        corner = image.getpixel((0, 0))[3]
        # Maskable: full bleed (the launcher cuts it); "any": a rounded square on a clear background.
        assert corner == 255 if entry["purpose"] == "maskable" else corner == 0, (name, corner)
        kinds.add((size, entry["purpose"]))
    assert {(192, "any"), (512, "any"), (512, "maskable")} <= kinds
    touch = client.get(touch_url)
    assert touch.status_code == 200 and Image.open(io.BytesIO(touch.content)).size == (180, 180)
