"""What the drafting checks still found wrong with a draft is shown before the creator reads it (issue 20):
on the queue card and the reel page; rewriting the script clears it (it was about the model's words)."""

from __future__ import annotations

from sqlmodel import Session

from agent.approval.queue import draft_warnings, edit, get_reel
from agent.db.models import Reel
from test_web import PASSWORD, account, app, client, logged_in, project, seeded, settings  # noqa: F401 - fixtures


def _warn(session: Session, reel_id: int, notes: list[str]) -> None:
    reel = session.get(Reel, reel_id)
    reel.artifacts = {**(reel.artifacts or {}), "draft_warnings": notes}
    session.add(reel)
    session.commit()


def test_queue_card_and_reel_page_show_the_draft_warnings(logged_in, seeded, session: Session) -> None:  # noqa: ANN001, F811
    reel_id = seeded.reel_ids[0]
    _warn(session, reel_id, ["off brief: missing 'soup'", "repeated sentence: 'This recipe is for you.'"])
    queue = logged_in.get("/")
    assert queue.status_code == 200
    assert "check: off brief: missing" in queue.text and "(+1)" in queue.text
    page = logged_in.get(f"/reels/{reel_id}")
    assert "The draft checks found:" in page.text and "repeated sentence" in page.text
    other = logged_in.get(f"/reels/{seeded.reel_ids[1]}")
    assert "The draft checks found:" not in other.text


def test_rewriting_the_script_clears_the_draft_warnings_but_other_edits_keep_them(seeded, session: Session) -> None:  # noqa: ANN001, F811
    reel_id = seeded.reel_ids[0]
    _warn(session, reel_id, ["off brief: missing 'soup'"])
    edit(session, reel_id, caption="A new caption about the soup.")
    assert draft_warnings(get_reel(session, reel_id)) == ["off brief: missing 'soup'"]
    edit(session, reel_id, script="Tomato soup needs no cream: blend in bread. Follow for a cheap dinner every week.")
    assert draft_warnings(get_reel(session, reel_id)) == []
