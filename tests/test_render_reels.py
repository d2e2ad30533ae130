"""The render sweep: approved reels become rendered MP4s with the creator's avatar, or fail with a reason; nothing is lost."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

pytest.importorskip("mediapipe")

from PIL import Image  # noqa: E402
from sqlmodel import Session, select  # noqa: E402

from agent.enrollment.avatars import enroll  # noqa: E402
from agent.db.models import Creator, Reel, ReelEvent, utcnow  # noqa: E402
from agent.db.states import ReelStatus, claim  # noqa: E402
from agent.approval.queue import add_draft, approve  # noqa: E402
from agent.jobs.leases import RENDER_LEASE  # noqa: E402
from agent.jobs.render import render_due  # noqa: E402
from agent.settings import load_settings  # noqa: E402


@pytest.fixture
def setup(tmp_path: Path, db_url: str, session: Session):
    from skimage import data

    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "settings.toml").write_text(f'[database]\nurl = "{db_url}"\n', encoding="utf-8")
    settings = load_settings(tmp_path).settings
    photo = tmp_path / "me.png"
    Image.fromarray(data.astronaut()).save(photo)
    creator = Creator(handle="astro", timezone="UTC")
    session.add(creator)
    session.commit()
    return settings, creator, photo


def _approved(session: Session, creator: Creator, script: str) -> int:
    reel = add_draft(session, creator, slot=None, script=script, on_screen_title="Tiny habits")
    approve(session, [reel.id])
    return reel.id


def test_an_approved_reel_is_rendered_with_the_creators_avatar(setup, session: Session) -> None:
    settings, creator, photo = setup
    enroll(session, settings.data_dir, photo, name="astro", consent=True)
    reel_id = _approved(session, creator, "Pick one habit. Keep it small, and do it every day.")
    outcomes = render_due(session, settings, worker="test", now=utcnow())
    assert [(o.reel_id, o.result) for o in outcomes] == [(reel_id, "rendered")], outcomes
    session.expire_all()
    reel = session.get(Reel, reel_id)
    assert reel.status == ReelStatus.RENDERED and reel.claimed_by is None
    video = Path(reel.artifacts["video"])
    assert video.exists() and video.stat().st_size > 10_000
    assert Path(reel.artifacts["cover"]).exists() and Path(reel.artifacts["srt"]).read_text().strip()
    assert reel.artifacts["avatar"] == "astro"
    # A second sweep finds nothing: a rendered reel is never rendered twice.
    assert render_due(session, settings, worker="test", now=utcnow()) == []


def test_no_avatar_fails_the_reel_with_the_fix_and_keeps_it(setup, session: Session) -> None:
    settings, creator, _photo = setup
    reel_id = _approved(session, creator, "Nothing to show yet.")
    outcomes = render_due(session, settings, worker="test", now=utcnow())
    assert outcomes[0].result == "failed" and "reeltwin avatar enroll" in outcomes[0].detail
    session.expire_all()
    reel = session.get(Reel, reel_id)
    assert reel.status == ReelStatus.FAILED and reel.failed_stage == "render" and reel.script == "Nothing to show yet."


def test_a_render_abandoned_by_a_dead_worker_is_released_and_not_lost(setup, session: Session) -> None:
    settings, creator, _photo = setup
    reel_id = _approved(session, creator, "Still here after a crash.")
    assert claim(session, reel_id, ReelStatus.APPROVED, ReelStatus.RENDERING, worker="died") is not None
    # Within the lease nobody touches it; after the lease it is approved again (and then rendered, or failed for lack of an avatar).
    assert render_due(session, settings, worker="test", now=utcnow()) == []
    later = utcnow() + RENDER_LEASE + timedelta(minutes=1)
    render_due(session, settings, worker="test", now=later)
    session.expire_all()
    events = [(e.from_status, e.to_status) for e in session.exec(select(ReelEvent).where(ReelEvent.reel_id == reel_id).order_by(ReelEvent.id))]
    assert ("rendering", "approved") in events
    assert session.get(Reel, reel_id).status in (ReelStatus.FAILED, ReelStatus.RENDERED)


def test_render_id_asks_to_approve_first_then_prints_the_qa_verdict_and_timing(setup, session: Session, tmp_path: Path) -> None:
    from cli_helpers import reeltwin

    settings, creator, photo = setup
    enroll(session, settings.data_dir, photo, name="astro", consent=True)
    draft = add_draft(session, creator, slot=None, script="Pick one habit. Keep it small, and do it every day.", on_screen_title="Tiny habits")
    session.commit()

    refused = reeltwin(tmp_path, "render", str(draft.id))
    assert refused.returncode == 2 and "Traceback" not in refused.stderr, refused.stderr
    (line,) = refused.stderr.splitlines()
    assert line == f"error: reel {draft.id} is a draft: approve it first (`reeltwin approve {draft.id}`), then render it"
    session.expire_all()
    assert session.get(Reel, draft.id).status == ReelStatus.DRAFTED  # nothing claimed, nothing failed

    approve(session, [draft.id])
    session.commit()
    result = reeltwin(tmp_path, "render", str(draft.id), timeout=240)
    assert result.returncode == 0, result.stderr
    assert f"reel {draft.id}: rendered" in result.stdout
    assert "rendered in" in result.stdout and "x real time)" in result.stdout  # the timing, as file mode prints it
    assert re.search(r"^QA: passed \(\d+ checks", result.stdout, re.M), result.stdout

    again = reeltwin(tmp_path, "render", str(draft.id))
    (line,) = again.stderr.splitlines()
    assert again.returncode == 2 and line.startswith(f"error: reel {draft.id} is already rendered")
