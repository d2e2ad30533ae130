"""The web approval queue, through its routes: login, sessions, CSRF, the queue actions, the pages, media, headers.

Every route test runs on SQLite and on PostgreSQL (the ``db_url`` fixture).
Background redrafts point at a dead local port, so they fail fast without network.
"""

from __future__ import annotations

import html
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlmodel import Session

from agent.content_calendar.loader import load_calendar
from agent.content_calendar.planner import sync_plan
from agent.db.models import Creator, Reel, ReelEvent, ReelStatus, ScriptVersion, Slot, WebAccount, utcnow
from agent.errors import ValidationFailed
from agent.approval.queue import MAX_CAPTION_CHARS, add_draft, word_count
from agent.settings import Settings, load_settings
from agent.web import security
from agent.web.app import COOKIE, create_app
from agent.web.security import LoginLimiter, SessionSigner, hash_password, verify_password

REPO = Path(__file__).resolve().parent.parent
SECRET = "test-secret-0123456789abcdef"
PASSWORD = "correct horse battery"
ZONE = ZoneInfo("Europe/Berlin")  # calendar/example.yaml's time zone
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')

HOOKS = ["Onions keep for weeks if you store them dry.", "Tomato soup needs no cream at all.", "One tray gives you three lunches."]
SCRIPTS = [
    "Onions keep for weeks if you store them dry. Buy a whole net and chop as you go. Follow for a cheap dinner every week.",
    "Tomato soup needs no cream at all. Blend in a slice of bread and it turns velvety. Follow for a cheap dinner every week.",
    "One tray gives you three lunches. Roast everything on Sunday and split it into boxes. Follow for a cheap dinner every week.",
]


# -- fixtures ----------------------------------------------------------------------

@pytest.fixture
def project(tmp_path: Path, db_url: str) -> Path:
    root = tmp_path / "project"
    (root / "calendar").mkdir(parents=True)
    (root / "calendar" / "your.handle.yaml").write_text((REPO / "calendar" / "example.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    (root / "config").mkdir()
    (root / "config" / "settings.toml").write_text(
        f'[database]\nurl = "{db_url}"\n'
        f'[web]\nsecret_key = "{SECRET}"\nlogin_attempts_per_15_min = 3\n'
        '[drafting]\nprovider = "openai"\nbase_url = "http://127.0.0.1:9/v1"\nmodel = "test-model"\nmax_retries = 0\ntimeout_s = 2\n',
        encoding="utf-8",
    )
    return root


@pytest.fixture
def settings(project: Path) -> Settings:
    return load_settings(project).settings


@dataclass
class Seeded:
    reel_ids: list[int]
    slots: list[Slot]        # every upcoming slot after the sync, in time order
    creator: Creator


@pytest.fixture
def seeded(session: Session, project: Path) -> Seeded:
    """Two weeks of slots planned from the example calendar, and three drafts on the first three."""
    calendar = load_calendar(project / "calendar" / "your.handle.yaml").calendar
    report = sync_plan(session, calendar, now=utcnow(), days=14)
    assert len(report.slots) >= 3
    creator = session.execute(select(Creator).where(Creator.handle == "your.handle")).scalar_one()
    ids = []
    for slot, hook, script in zip(report.slots, HOOKS, SCRIPTS):
        reel = add_draft(session, creator, slot=slot, hook=hook, script=script, on_screen_title="Cheap dinners",
                         caption="Dinner for two euros.", hashtags=["#budgetrecipes"], cta="Follow for a cheap dinner every week.")
        ids.append(reel.id)
    session.commit()
    return Seeded(reel_ids=ids, slots=list(report.slots), creator=creator)


@pytest.fixture
def account(session: Session) -> None:
    session.add(WebAccount(username="creator", password_hash=hash_password(PASSWORD)))
    session.commit()


@pytest.fixture
def app(settings: Settings, project: Path, seeded: Seeded):
    application = create_app(settings, project)
    yield application
    application.state.drafter.wait(10)  # no redraft thread outlives its test database


@pytest.fixture
def client(app) -> TestClient:
    return TestClient(app, base_url="http://testserver")


@pytest.fixture
def logged_in(client: TestClient, account: None) -> TestClient:
    response = login(client, PASSWORD)
    assert response.status_code == 303, response.text
    return client


# -- helpers -----------------------------------------------------------------------

def csrf_of(client: TestClient, path: str = "/login") -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    match = CSRF_FIELD.search(response.text)
    assert match, f"no csrf field on {path}"
    return match.group(1)


def login(client: TestClient, password: str, next_path: str = "/"):
    token = csrf_of(client, f"/login?next={next_path}")
    return client.post("/login", data={"csrf": token, "password": password, "next": next_path}, follow_redirects=False)


def text_of(response) -> str:
    return html.unescape(response.text)


def reel_of(session: Session, reel_id: int) -> Reel:
    session.rollback()  # a fresh look at what the app committed
    session.expire_all()
    reel = session.get(Reel, reel_id)
    session.refresh(reel)
    return reel


def event_count(session: Session, reel_id: int) -> int:
    session.rollback()
    return session.execute(select(func.count()).select_from(ReelEvent).where(ReelEvent.reel_id == reel_id)).scalar_one()


def version_count(session: Session, reel_id: int) -> int:
    session.rollback()
    return session.execute(select(func.count()).select_from(ScriptVersion).where(ScriptVersion.reel_id == reel_id)).scalar_one()


def snapshot(session: Session, reel_id: int) -> tuple:
    reel = reel_of(session, reel_id)
    return (str(reel.status), reel.version, reel.script, reel.caption, event_count(session, reel_id), version_count(session, reel_id))


def force(session: Session, reel_id: int, **fields) -> None:
    """Put a reel into a state the routes cannot reach by themselves (failed, published, with artifacts)."""
    reel = reel_of(session, reel_id)
    for key, value in fields.items():
        setattr(reel, key, value)
    session.add(reel)
    session.commit()


def set_cookies(response) -> list[str]:
    return [value for value in response.headers.get_list("set-cookie") if value.startswith(COOKIE + "=")]


def local(moment) -> str:
    return moment.astimezone(ZONE).strftime("%a %d %b, %H:%M")


# -- logging in ----------------------------------------------------------------------

def test_protected_pages_redirect_and_posts_are_refused_when_logged_out(client: TestClient, seeded: Seeded, session: Session, account: None) -> None:
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login?next=/"
    for path in ("/calendar", "/history", f"/reels/{seeded.reel_ids[0]}", f"/media/{seeded.reel_ids[0]}/video"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == f"/login?next={path}", path

    reel_id = seeded.reel_ids[0]
    before = snapshot(session, reel_id)
    token = csrf_of(client)  # a genuine token of this (anonymous) session
    for action, data in (("approve", {}), ("reject", {"feedback": "shorter"}), ("edit", {"script": "Hacked words."}), ("retry", {})):
        response = client.post(f"/reels/{reel_id}/{action}", data={"csrf": token, **data}, follow_redirects=False)
        assert response.status_code == 403, action
        assert "log in first" in response.text
    assert snapshot(session, reel_id) == before
    assert client.get("/healthz").json() == {"ok": True}


def test_login_page_says_how_to_set_a_password_when_there_is_none(client: TestClient) -> None:
    response = client.get("/login")
    assert response.status_code == 200
    assert "reeltwin password" in response.text and 'type="password"' not in response.text
    assert CSRF_FIELD.search(response.text) is None  # no login form to fill in
    # Even a hand-made POST with the session's own token cannot log in without an account.
    token = SessionSigner(SECRET, 3600).load(client.cookies.get(COOKIE)).csrf
    response = client.post("/login", data={"csrf": token, "password": PASSWORD}, follow_redirects=False)
    assert response.status_code == 403 and "reeltwin password" in response.text
    assert client.get("/", follow_redirects=False).status_code == 303


def test_wrong_password_then_rate_limit_even_for_the_right_one(app, client: TestClient, account: None) -> None:
    for _ in range(3):  # login_attempts_per_15_min = 3
        response = login(client, "wrong password!")
        assert response.status_code == 401 and "Wrong password" in response.text
    response = login(client, PASSWORD)
    assert response.status_code == 429 and "Too many attempts" in response.text
    assert client.get("/", follow_redirects=False).status_code == 303  # still logged out
    # The limit is per client address: someone else can still log in.
    other = TestClient(app, base_url="http://testserver", client=("10.0.0.2", 50000))
    assert login(other, PASSWORD).status_code == 303
    assert other.get("/").status_code == 200


def test_correct_login_sets_a_new_httponly_lax_session(app, account: None) -> None:
    client = TestClient(app, base_url="http://testserver")
    page = client.get("/login?next=/calendar")
    assert 'name="next" value="/calendar"' in page.text
    [anonymous_cookie] = set_cookies(page)
    assert "httponly" in anonymous_cookie.lower() and "samesite=lax" in anonymous_cookie.lower()
    before = SessionSigner(SECRET, 3600).load(client.cookies.get(COOKIE))
    assert before is not None and before.user is None

    response = client.post("/login", data={"csrf": before.csrf, "password": PASSWORD, "next": "/calendar"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/calendar"
    [cookie] = set_cookies(response)
    attributes = [part.strip().lower() for part in cookie.split(";")]
    assert "httponly" in attributes and "samesite=lax" in attributes and "path=/" in attributes
    after = SessionSigner(SECRET, 3600).load(client.cookies.get(COOKIE))
    assert after.user == "creator"
    assert after.csrf != before.csrf  # a new session on login: no fixation
    assert client.get("/calendar").status_code == 200

    # The token from before the login is worthless now.
    refused = client.post("/logout", data={"csrf": before.csrf}, follow_redirects=False)
    assert refused.status_code == 403
    # Log out: a fresh anonymous session again.
    response = client.post("/logout", data={"csrf": after.csrf}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert SessionSigner(SECRET, 3600).load(client.cookies.get(COOKIE)).user is None
    assert client.get("/", follow_redirects=False).status_code == 303


def test_next_cannot_be_an_open_redirect(client: TestClient, seeded: Seeded, account: None) -> None:
    response = login(client, PASSWORD, next_path="//evil.example/phish")
    assert response.status_code == 303 and response.headers["location"] == "/"
    token = csrf_of(client, "/")
    reel_id = seeded.reel_ids[0]
    for target, location in (("https://evil.example/", f"/reels/{reel_id}"), ("//evil.example", f"/reels/{reel_id}"),
                             ("/\\evil.example", "/%5Cevil.example"), ("/\t/evil.example", "/%09/evil.example")):
        response = client.post(f"/reels/{reel_id}/approve", data={"csrf": token, "next": target}, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == location, target  # stays on this site


def test_a_tampered_session_cookie_counts_as_logged_out(app, logged_in: TestClient) -> None:
    good = logged_in.cookies.get(COOKIE)
    payload, signature = good.rsplit(".", 1)
    middle = len(signature) // 2
    flipped = signature[:middle] + ("A" if signature[middle] != "A" else "B") + signature[middle + 1:]

    def visit(cookie: str):
        return TestClient(app, base_url="http://testserver").get("/", headers={"Cookie": f"{COOKIE}={cookie}"}, follow_redirects=False)

    assert visit(good).status_code == 200  # the control: the real cookie works from a fresh client
    assert visit(f"{payload}.{flipped}").status_code == 303
    assert visit(payload[:-2] + "xx." + signature).status_code == 303
    assert visit("garbage").status_code == 303
    # A forged payload claiming to be the creator, signed with another secret.
    forged = SessionSigner("another-secret-0123456789", 3600)
    session = forged.new()
    session.user = "creator"
    assert visit(forged.dump(session)).status_code == 303


# -- CSRF and origin ------------------------------------------------------------------

def test_posts_need_the_session_token_and_this_origin(logged_in: TestClient, seeded: Seeded, session: Session) -> None:
    reel_id = seeded.reel_ids[0]
    token = csrf_of(logged_in, "/")
    before = snapshot(session, reel_id)
    attempts = [
        ({}, {}),
        ({"csrf": ""}, {}),
        ({"csrf": token[:-1] + ("x" if token[-1] != "x" else "y")}, {}),
        ({"csrf": SessionSigner(SECRET, 3600).new().csrf}, {}),
        ({"csrf": token}, {"Origin": "http://evil.example"}),
        ({"csrf": token}, {"Referer": "https://evil.example/page"}),
        ({"csrf": token}, {"Origin": "http://testserver.evil.example"}),
    ]
    for data, headers in attempts:
        response = logged_in.post(f"/reels/{reel_id}/approve", data=data, headers=headers, follow_redirects=False)
        assert response.status_code == 403, (data, headers)
        assert snapshot(session, reel_id) == before, (data, headers)
    for data, headers in attempts[:3]:
        response = logged_in.post(f"/reels/{reel_id}/reject", data={**data, "feedback": "make it shorter"}, headers=headers, follow_redirects=False)
        assert response.status_code == 403
    assert snapshot(session, reel_id) == before
    # The control: the same request from this site goes through.
    response = logged_in.post(f"/reels/{reel_id}/approve", data={"csrf": token}, headers={"Origin": "http://testserver"}, follow_redirects=False)
    assert response.status_code == 303 and reel_of(session, reel_id).status == ReelStatus.APPROVED


# -- the queue actions -----------------------------------------------------------------

def test_approve_from_the_queue(logged_in: TestClient, seeded: Seeded, session: Session) -> None:
    reel_id = seeded.reel_ids[1]
    events_before = event_count(session, reel_id)
    token = csrf_of(logged_in, "/")
    response = logged_in.post(f"/reels/{reel_id}/approve", data={"csrf": token, "next": "/"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/"
    reel = reel_of(session, reel_id)
    assert reel.status == ReelStatus.APPROVED and reel.approved_at is not None and reel.approved_by == "creator:web:creator"
    session.rollback()
    last = session.execute(select(ReelEvent).where(ReelEvent.reel_id == reel_id).order_by(ReelEvent.id.desc())).scalars().first()
    assert event_count(session, reel_id) == events_before + 1
    assert last.to_status == "approved" and last.actor.startswith("creator:web")
    assert f"Reel {reel_id} approved." in logged_in.get("/").text  # the flash, once
    assert f"Reel {reel_id} approved." not in logged_in.get("/").text
    # Approving twice is harmless; the other drafts are untouched.
    response = logged_in.post(f"/reels/{reel_id}/approve", data={"csrf": token, "next": "/"}, follow_redirects=False)
    assert response.status_code == 303 and event_count(session, reel_id) == events_before + 1
    assert [reel_of(session, other).status for other in seeded.reel_ids if other != reel_id] == [ReelStatus.DRAFTED, ReelStatus.DRAFTED]


def test_unknown_reel_is_a_404_page(logged_in: TestClient) -> None:
    response = logged_in.get("/reels/99999")
    # In the web's words: no "list reels with `reeltwin queue`" on a page.
    assert response.status_code == 404 and "Reel 99999 does not exist." in response.text and "reeltwin" not in response.text
    # An action on it is the same page (a reel of a creator the user is not given looks exactly like this: test_web_users.py).
    response = logged_in.post("/reels/99999/approve", data={"csrf": csrf_of(logged_in, "/")}, follow_redirects=False)
    assert response.status_code == 404 and "Reel 99999 does not exist." in response.text and "reeltwin" not in response.text


def test_an_overlong_caption_is_refused_and_the_text_kept_on_the_page(logged_in: TestClient, seeded: Seeded, session: Session) -> None:
    reel_id = seeded.reel_ids[0]
    before = snapshot(session, reel_id)
    token = csrf_of(logged_in, f"/reels/{reel_id}")
    caption = "Long caption marker " + "x" * MAX_CAPTION_CHARS
    script = "My edited script stays in the box. Follow for a cheap dinner every week."
    response = logged_in.post(f"/reels/{reel_id}/edit", data={"csrf": token, "script": script, "caption": caption, "on_screen_title": "New title",
                                                               "hashtags": "#budgetrecipes"}, follow_redirects=False)
    assert response.status_code == 422
    page = text_of(response)
    assert f"The caption is {len(caption)} characters; Instagram allows {MAX_CAPTION_CHARS}." in page
    assert caption in page and script in page and ">New title</textarea>" in response.text  # nothing the creator typed is lost
    assert snapshot(session, reel_id) == before  # nothing stored: same version, no new ScriptVersion, no event


def test_a_valid_edit_adds_a_version_and_sends_an_approved_reel_back(logged_in: TestClient, seeded: Seeded, session: Session) -> None:
    reel_id = seeded.reel_ids[0]
    token = csrf_of(logged_in, f"/reels/{reel_id}")
    assert logged_in.post(f"/reels/{reel_id}/approve", data={"csrf": token}, follow_redirects=False).status_code == 303
    assert reel_of(session, reel_id).status == ReelStatus.APPROVED
    script = "Whole onions last a month in a dry basket. Chop one a day. Follow for a cheap dinner every week."
    response = logged_in.post(f"/reels/{reel_id}/edit", data={"csrf": token, "script": script, "caption": "Two euro dinner.",
                                                               "on_screen_title": "Onions", "hashtags": "budgetrecipes, #easydinner"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == f"/reels/{reel_id}"
    reel = reel_of(session, reel_id)
    assert reel.status == ReelStatus.DRAFTED and reel.version == 2
    assert reel.script == script and reel.caption == "Two euro dinner." and reel.hashtags == ["#budgetrecipes", "#easydinner"]
    assert version_count(session, reel_id) == 2
    session.rollback()
    newest = session.execute(select(ScriptVersion).where(ScriptVersion.reel_id == reel_id, ScriptVersion.version == 2)).scalar_one()
    assert newest.source == "edit" and newest.author == "creator:web:creator" and newest.script == script
    page = text_of(logged_in.get(f"/reels/{reel_id}"))
    assert "Saved as version 2." in page and "Approve it again" in page
    assert "v2 · edit" in page and "v1 · llm" in page
    # Who did it in the web's words, not "by creator:web:creator".
    assert "approved → waiting for you by you (on the web) — edited; approve again" in re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", page))
    assert "creator:web" not in page


def test_reject_needs_feedback_and_a_failed_redraft_loses_nothing(app, logged_in: TestClient, seeded: Seeded, session: Session,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    reel_id = seeded.reel_ids[0]
    before = snapshot(session, reel_id)
    token = csrf_of(logged_in, f"/reels/{reel_id}")
    response = logged_in.post(f"/reels/{reel_id}/reject", data={"csrf": token, "feedback": "   "}, follow_redirects=False)
    assert response.status_code == 422 and "Say what to change before rejecting" in text_of(response) and "--feedback" not in response.text
    assert snapshot(session, reel_id) == before

    caplog.set_level(logging.INFO, logger="agent.web")
    started = time.monotonic()
    response = logged_in.post(f"/reels/{reel_id}/reject", data={"csrf": token, "feedback": "shorter hook,  talk about the price"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == f"/reels/{reel_id}"
    app.state.drafter.wait(10)
    assert not app.state.drafter.busy() and time.monotonic() - started < 10  # the dead drafting server failed fast
    reel = reel_of(session, reel_id)
    assert reel.status == ReelStatus.REJECTED and reel.feedback == "shorter hook, talk about the price"
    assert reel.version == 1 and reel.script == SCRIPTS[0] and version_count(session, reel_id) == 1  # nothing lost
    assert event_count(session, reel_id) == before[4] + 1
    assert any(f"reel {reel_id}" in record.getMessage() and "redraft" in record.getMessage() for record in caplog.records), caplog.text
    page = text_of(logged_in.get(f"/reels/{reel_id}"))
    assert "Rejected: shorter hook, talk about the price" in page and "A new version is being written" in page

    # A second click on "Reject" (or a stale tab) is a conflict shown on the page, not a server error; no second redraft.
    before = snapshot(session, reel_id)
    response = logged_in.post(f"/reels/{reel_id}/reject", data={"csrf": token, "feedback": "again"}, follow_redirects=False)
    assert response.status_code == 409 and f"Reel {reel_id} is already being redrafted." in text_of(response)
    assert not app.state.drafter.busy() and snapshot(session, reel_id) == before
    assert reel_of(session, reel_id).feedback == "shorter hook, talk about the price"
    other = seeded.reel_ids[1]
    force(session, other, status=ReelStatus.PUBLISHED, published_at=utcnow())
    response = logged_in.post(f"/reels/{other}/reject", data={"csrf": token, "feedback": "too late"}, follow_redirects=False)
    assert response.status_code == 409 and reel_of(session, other).status == ReelStatus.PUBLISHED


@pytest.mark.parametrize(("stage", "expected"), [("render", ReelStatus.APPROVED), ("publish", ReelStatus.RENDERED)])
def test_retry_sends_a_failed_reel_back_to_the_step_that_failed(logged_in: TestClient, seeded: Seeded, session: Session,
                                                                stage: str, expected: ReelStatus) -> None:
    reel_id = seeded.reel_ids[2]
    force(session, reel_id, status=ReelStatus.FAILED, failed_stage=stage, last_error=f"{stage} crashed: out of disk")
    page = logged_in.get(f"/reels/{reel_id}").text
    assert "It failed" in page and f"{stage} crashed: out of disk" in page and f'action="/reels/{reel_id}/retry"' in page
    events_before = event_count(session, reel_id)
    token = csrf_of(logged_in, f"/reels/{reel_id}")
    response = logged_in.post(f"/reels/{reel_id}/retry", data={"csrf": token}, follow_redirects=False)
    assert response.status_code == 303
    reel = reel_of(session, reel_id)
    assert reel.status == expected and event_count(session, reel_id) == events_before + 1
    # A reel that has not failed has nothing to retry; it says so and changes nothing.
    before = snapshot(session, reel_id)
    logged_in.post(f"/reels/{reel_id}/retry", data={"csrf": token}, follow_redirects=False)
    assert snapshot(session, reel_id) == before
    assert "nothing to retry" in logged_in.get(f"/reels/{reel_id}").text


# -- the pages ---------------------------------------------------------------------------

def test_queue_lists_drafts_first_with_hook_words_and_local_time(logged_in: TestClient, seeded: Seeded, session: Session) -> None:
    token = csrf_of(logged_in, "/")
    first = seeded.reel_ids[0]
    assert logged_in.post(f"/reels/{first}/approve", data={"csrf": token}, follow_redirects=False).status_code == 303
    page = text_of(logged_in.get("/"))
    waiting, _, rest = page.partition("Everything else")
    assert rest, "the approved reel should be listed under 'Everything else'"
    assert re.search(r"Waiting for you <span class=\"count\">2</span>", page)
    for reel_id, slot, hook, script in zip(seeded.reel_ids[1:], seeded.slots[1:], HOOKS[1:], SCRIPTS[1:]):
        [card] = [card for card in waiting.split('class="card reel-card"')[1:] if hook in card]
        assert local(slot.scheduled_at) in card and f"{word_count(script)} words" in card and "@your.handle" in card
        assert f'/reels/{reel_id}/approve' in card
    assert waiting.index(HOOKS[1]) < waiting.index(HOOKS[2])  # in slot order
    assert HOOKS[0] not in waiting and HOOKS[0] in rest and "approved" in rest and local(seeded.slots[0].scheduled_at) in rest


def test_reel_page_shows_versions_and_history(logged_in: TestClient, seeded: Seeded) -> None:
    reel_id = seeded.reel_ids[1]
    page = text_of(logged_in.get(f"/reels/{reel_id}"))
    assert f"Reel {reel_id}" in page and "version 1" in page and "@your.handle" in page
    assert SCRIPTS[1] in page and "Dinner for two euros." in page and "#budgetrecipes" in page
    assert local(seeded.slots[1].scheduled_at) in page and seeded.slots[1].brief in page
    assert "v1 · llm" in page and "new → waiting for you" in re.sub(r"<[^>]+>", "", page)
    assert f'formaction="/reels/{reel_id}/approve"' in page and f'action="/reels/{reel_id}/reject"' in page


def test_calendar_lists_the_slots(logged_in: TestClient, seeded: Seeded) -> None:
    # The week grid of each planned slot's week: its time, its reel (linked) or its brief.
    assert "@your.handle" in text_of(logged_in.get("/calendar")) and "calendar/your.handle.yaml" in text_of(logged_in.get("/calendar"))
    reel_of_slot = dict(zip((slot.id for slot in seeded.slots), seeded.reel_ids))
    for slot in seeded.slots:
        moment = slot.scheduled_at.astimezone(ZONE)
        page = text_of(logged_in.get(f"/calendar?view=week&on={moment.date().isoformat()}"))
        anchor = "slot-" + slot.id.replace(":", "-").replace(".", "-")
        cell = page[page.index(f'id="{anchor}"'):]
        cell = cell[:cell.index("</li>")]
        assert moment.strftime("%H:%M") in cell
        if slot.id in reel_of_slot:
            assert f'href="/reels/{reel_of_slot[slot.id]}"' in cell
        elif slot.brief:
            assert slot.brief in cell
        else:
            assert "not drafted yet" in cell  # slots without a reel


def test_calendar_shows_file_and_line_of_problems(logged_in: TestClient, project: Path) -> None:
    path = project / "calendar" / "your.handle.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("timezone: Europe/Berlin", "timezone: Mars/Olympus_Mons"), encoding="utf-8")
    (project / "calendar" / "second.yaml").write_text("handle: second\ncadence: [\n", encoding="utf-8")
    response = logged_in.get("/calendar")
    assert response.status_code == 200
    page = text_of(response)
    assert "This file has problems" in page
    assert re.search(r"calendar/your\.handle\.yaml:\d+: [^<]*Mars/Olympus_Mons", page), page
    assert re.search(r"calendar/second\.yaml:\d+: ", page)


def test_history_lists_published_reels_with_their_permalink(logged_in: TestClient, seeded: Seeded, session: Session) -> None:
    assert "Nothing published yet." in logged_in.get("/history").text
    reel_id = seeded.reel_ids[0]
    published = utcnow()
    permalink = "https://www.instagram.com/reel/C0ffee123/"
    force(session, reel_id, status=ReelStatus.PUBLISHED, published_at=published, permalink=permalink, media_id="178900001")
    page = text_of(logged_in.get("/history"))
    assert HOOKS[0] in page and f'href="{permalink}"' in page and local(published) in page
    assert f'href="/reels/{reel_id}"' in page and HOOKS[1] not in page  # drafts are not history


def test_security_headers_on_every_response(client: TestClient, logged_in: TestClient, seeded: Seeded) -> None:
    responses = [
        client.get("/login"), client.get("/"), client.get(f"/reels/{seeded.reel_ids[0]}"), client.get("/calendar"), client.get("/history"),
        client.get("/reels/99999"), client.post(f"/reels/{seeded.reel_ids[0]}/approve", data={}, follow_redirects=False),
        TestClient(client.app).get("/", follow_redirects=False),
    ]
    for response in responses:
        csp = response.headers["content-security-policy"]
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"
        assert response.headers["cache-control"] == "no-store"
    # Static files: named by their content's hash in the pages, so kept for a year (a change is a new URL); asked for without it, revalidated.
    stylesheet = re.search(r'href="(/static/style\.css\?v=[0-9a-f]{12})"', client.get("/").text).group(1)
    for response in (client.get(stylesheet), client.head(stylesheet)):
        assert response.status_code == 200 and response.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert response.headers["content-security-policy"] and response.headers["x-content-type-options"] == "nosniff"
    assert client.get("/static/style.css").headers["cache-control"] == "no-cache"
    page = client.get("/").text
    # Nothing inline that the CSP would have to allow.
    assert "<script" not in page and " style=" not in page and not re.search(r"\son[a-z]+=", page)


# -- media ------------------------------------------------------------------------------

def test_media_serves_only_files_inside_the_data_directory(logged_in: TestClient, seeded: Seeded, session: Session, settings: Settings,
                                                           tmp_path: Path) -> None:
    reel_id = seeded.reel_ids[0]
    force(session, reel_id, artifacts={"video": "/etc/passwd"})
    response = logged_in.get(f"/media/{reel_id}/video")
    assert response.status_code == 404 and "root:" not in response.text

    outside = tmp_path / "outside.txt"
    outside.write_text("secret outside data_dir", encoding="utf-8")
    (settings.data_dir / "renders").mkdir(parents=True, exist_ok=True)
    link = settings.data_dir / "renders" / "link.mp4"
    link.symlink_to(outside)
    for path in (str(settings.data_dir / ".." / "config" / "settings.toml"), str(link), str(settings.data_dir), str(settings.data_dir / "missing.mp4")):
        force(session, reel_id, artifacts={"video": path})
        response = logged_in.get(f"/media/{reel_id}/video")
        assert response.status_code == 404, path
        assert SECRET not in response.text and "secret outside" not in response.text

    video = settings.data_dir / "renders" / f"reel-{reel_id}.mp4"
    content = b"\x00\x00\x00\x18ftypmp42 not really a video \xff\xfe"
    video.write_bytes(content)
    force(session, reel_id, artifacts={"video": str(video), "cover": ""})
    response = logged_in.get(f"/media/{reel_id}/video")
    assert response.status_code == 200 and response.content == content
    assert response.headers["content-type"] == "video/mp4" and response.headers["x-content-type-options"] == "nosniff"
    assert logged_in.get(f"/media/{reel_id}/cover").status_code == 404  # empty path
    assert logged_in.get(f"/media/{reel_id}/report").status_code == 404  # no such artifact
    assert f'src="/media/{reel_id}/video"' in logged_in.get(f"/reels/{reel_id}").text


# -- agent.web.security, unit by unit -------------------------------------------------------

def test_password_hash_round_trip() -> None:
    stored = hash_password(PASSWORD)
    assert stored.startswith("scrypt$") and PASSWORD not in stored
    assert verify_password(PASSWORD, stored)
    assert not verify_password("correct horse battery!", stored)
    assert not verify_password("", stored)
    assert hash_password(PASSWORD) != stored  # salted
    assert not verify_password(PASSWORD, "not-a-hash") and not verify_password(PASSWORD, "md5$1$2$3$abc$def")


def test_short_passwords_are_refused() -> None:
    with pytest.raises(ValidationFailed, match="use at least 10"):
        hash_password("short")
    with pytest.raises(ValidationFailed):
        hash_password("x" * (security.MIN_PASSWORD_CHARS - 1))
    assert verify_password("y" * security.MIN_PASSWORD_CHARS, hash_password("y" * security.MIN_PASSWORD_CHARS))


def test_session_signer_round_trip_and_refusals() -> None:
    signer = SessionSigner(SECRET, 3600)
    session = signer.new()
    session.user, session.flash = "creator", "hello"
    cookie = signer.dump(session)
    loaded = signer.load(cookie)
    assert (loaded.csrf, loaded.user, loaded.flash) == (session.csrf, "creator", "hello")
    assert signer.new().csrf != session.csrf

    payload, signature = cookie.rsplit(".", 1)
    tampered_signature = signature[:5] + ("A" if signature[5] != "A" else "B") + signature[6:]
    forged_payload = security._b64(b'{"c":"x","u":"creator","e":9999999999,"f":null}')
    for bad in (None, "", "no-dot", f"{payload}.{tampered_signature}", f"{forged_payload}.{signature}", f"{payload}.", cookie + "x"):
        assert signer.load(bad) is None, bad
    assert SessionSigner("a different secret 123", 3600).load(cookie) is None

    expired = SessionSigner(SECRET, -1)
    assert expired.load(expired.dump(expired.new())) is None
    assert signer.load(expired.dump(expired.new())) is None  # the expiry is inside the signed payload


def test_login_limiter_counts_only_recent_failures(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]

    class FakeTime:
        @staticmethod
        def monotonic() -> float:
            return clock[0]

        @staticmethod
        def time() -> float:
            return clock[0]

    monkeypatch.setattr(security, "time", FakeTime)
    limiter = LoginLimiter(attempts=3, window_s=60)
    assert limiter.blocked_for("a") == 0
    limiter.failed("a")
    limiter.failed("a")
    for _ in range(10):  # asking (as every login does, successful or not) is not a failure
        assert limiter.blocked_for("a") == 0
    clock[0] += 10
    limiter.failed("a")
    assert limiter.blocked_for("a") == pytest.approx(50)  # until the oldest failure leaves the window
    assert limiter.blocked_for("b") == 0  # per client
    clock[0] += 49
    assert limiter.blocked_for("a") == pytest.approx(1)
    clock[0] += 2  # the first two failures are older than the window now
    assert limiter.blocked_for("a") == 0
    limiter.failed("a")
    assert limiter.blocked_for("a") == 0  # two recent failures, below the limit of 3
    limiter.failed("a")
    assert limiter.blocked_for("a") > 0


# -- bad input never answers 500 (issue 17) ------------------------------------------

def test_a_non_ascii_csrf_token_is_refused_not_a_server_error(client: TestClient, account: None) -> None:
    csrf_of(client)  # a session cookie exists
    for path in ("/login", "/logout"):
        response = client.post(path, data={"csrf": "tok\u00e9n\u2603", "password": "x"}, follow_redirects=False)
        assert response.status_code == 403, (path, response.status_code)
        assert "reload the page" in text_of(response)


def test_a_session_cookie_with_a_non_ascii_signature_is_ignored(client: TestClient, account: None) -> None:
    cookie = f"{COOKIE}=eyJjIjoiYSJ9.sig\u00e9\u00e8".encode("latin-1")
    for path in ("/healthz", "/login"):
        response = client.get(path, headers={"cookie": cookie})
        assert response.status_code == 200, (path, response.status_code)
    assert client.get("/", headers={"cookie": cookie}, follow_redirects=False).status_code in (302, 303, 307)


def test_a_public_media_url_with_a_non_ascii_signature_is_not_found(client: TestClient) -> None:
    assert client.get("/public/cmVlbHMvMS9yZWVsLm1wNHw5OTk5OTk5OTk5.\u00e9\u00e9/reel.mp4").status_code == 404


def test_a_reel_id_beyond_64_bits_is_a_4xx_page(logged_in: TestClient) -> None:
    huge = 2**64
    page = logged_in.get(f"/reels/{huge}")
    assert page.status_code == 422 and "not understood" in text_of(page)
    assert logged_in.get(f"/media/{huge}/video").status_code == 422
    token = csrf_of(logged_in, "/")
    for action in ("approve", "reject", "retry", "edit"):
        response = logged_in.post(f"/reels/{huge}/{action}", data={"csrf": token, "feedback": "x", "script": "x"}, follow_redirects=False)
        assert 400 <= response.status_code < 500, (action, response.status_code)
    assert logged_in.get(f"/reels/{2**31 - 1}").status_code == 404   # the largest id the column holds is a real lookup
    assert logged_in.get(f"/reels/{2**31}").status_code == 422


def test_origin_null_is_a_cross_site_post(logged_in: TestClient, seeded) -> None:
    token = csrf_of(logged_in, "/")
    response = logged_in.post(f"/reels/{seeded.reel_ids[0]}/approve", data={"csrf": token}, headers={"origin": "null"}, follow_redirects=False)
    assert response.status_code == 403 and "cross-site" in text_of(response)


def test_an_edit_that_sends_only_some_fields_keeps_the_others(logged_in: TestClient, seeded: Seeded, session: Session) -> None:
    reel_id = seeded.reel_ids[0]
    before = reel_of(session, reel_id)
    caption, title, tags = before.caption, before.on_screen_title, list(before.hashtags)
    assert caption and tags  # the seeded draft has them: there is something to lose
    session.rollback()
    token = csrf_of(logged_in, f"/reels/{reel_id}")
    script = "Whole onions last a month in a dry basket. Chop one a day. Follow for a cheap dinner every week."
    response = logged_in.post(f"/reels/{reel_id}/edit", data={"csrf": token, "script": script}, follow_redirects=False)
    assert response.status_code == 303
    reel = reel_of(session, reel_id)
    assert reel.script == script and reel.caption == caption and reel.on_screen_title == title and reel.hashtags == tags
    session.rollback()
    # An explicit empty field still clears it.
    logged_in.post(f"/reels/{reel_id}/edit", data={"csrf": token, "script": script, "hashtags": ""}, follow_redirects=False)
    assert reel_of(session, reel_id).hashtags == []


# -- issue 19: what you approve is what ships -------------------------------------------------------

def form_of(response_or_text) -> dict[str, str]:
    """The reel page's form as a browser would send it: every field with what the page shows."""
    page = response_or_text if isinstance(response_or_text, str) else response_or_text.text
    fields = {name: html.unescape(value) for name, value in re.findall(r'<textarea id="[^"]+" name="([^"]+)"[^>]*>(.*?)</textarea>', page, re.S)}
    fields.pop("feedback", None)  # the reject form's
    fields["csrf"] = CSRF_FIELD.search(page).group(1)
    return fields


def test_a_new_script_marks_the_old_fields_stale_and_approving_asks(logged_in: TestClient, seeded: Seeded, session: Session) -> None:
    reel_id = seeded.reel_ids[0]
    form = form_of(logged_in.get(f"/reels/{reel_id}"))
    assert set(form) == {"csrf", "script", "hook", "on_screen_title", "caption", "hashtags"}  # every field can be edited on the page
    herbs = "Keep herbs in a glass of water in the fridge. They last two weeks. Follow for a cheap dinner every week."
    response = logged_in.post(f"/reels/{reel_id}/edit", data={**form, "script": herbs}, follow_redirects=False)
    assert response.status_code == 303
    reel = reel_of(session, reel_id)
    assert reel.script == herbs and reel.artifacts["stale_fields"] == ["hook", "on_screen_title", "caption", "hashtags"]

    page = logged_in.get(f"/reels/{reel_id}").text
    assert page.count('class="badge stale"') == 4 and "The script changed after the hook, on-screen title, caption, hashtags were written" in html.unescape(page)
    assert 'name="keep_stale"' in page  # the explicit "approve anyway" control
    queue = logged_in.get("/").text
    [card] = [card for card in queue.split('class="card reel-card"')[1:] if f"/reels/{reel_id}" in card]
    assert "stale hook, on-screen title, caption, hashtags" in card and f"/reels/{reel_id}/approve" not in card and "Check, then approve" in card

    # Approve without the box ticked: asked, not approved; from the queue's button: sent to the page that shows the fields.
    before = snapshot(session, reel_id)
    response = logged_in.post(f"/reels/{reel_id}/approve", data=form_of(page), follow_redirects=False)
    assert response.status_code == 409 and snapshot(session, reel_id) == before
    assert "Not approved yet. The hook, on-screen title, caption and hashtags were written for the earlier script." in text_of(response)
    response = logged_in.post(f"/reels/{reel_id}/approve", data={"csrf": form["csrf"], "next": "/"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == f"/reels/{reel_id}" and snapshot(session, reel_id) == before

    # Editing a field clears its mark; the rest stay.
    response = logged_in.post(f"/reels/{reel_id}/edit", data={**form_of(page), "caption": "Herbs that last two weeks."}, follow_redirects=False)
    assert response.status_code == 303
    assert reel_of(session, reel_id).artifacts["stale_fields"] == ["hook", "on_screen_title", "hashtags"]

    # Ticked: approved, and the history says what was kept.
    response = logged_in.post(f"/reels/{reel_id}/approve", data={**form_of(logged_in.get(f"/reels/{reel_id}")), "keep_stale": "1"}, follow_redirects=False)
    assert response.status_code == 303
    reel = reel_of(session, reel_id)
    assert reel.status == ReelStatus.APPROVED and "stale_fields" not in reel.artifacts
    last = session.execute(select(ReelEvent).where(ReelEvent.reel_id == reel_id).order_by(ReelEvent.id.desc())).scalars().first()
    assert last.reason == "approved; kept hook, on-screen title, hashtags from the earlier script"


def test_approve_saves_what_is_on_the_screen_first(logged_in: TestClient, seeded: Seeded, session: Session) -> None:
    reel_id = seeded.reel_ids[1]
    form = form_of(logged_in.get(f"/reels/{reel_id}"))
    response = logged_in.post(f"/reels/{reel_id}/approve", data={**form, "caption": "Velvety soup, no cream.", "on_screen_title": "No cream needed"},
                              follow_redirects=False)
    assert response.status_code == 303
    reel = reel_of(session, reel_id)
    assert (reel.status, reel.version, reel.caption, reel.on_screen_title) == (ReelStatus.APPROVED, 2, "Velvety soup, no cream.", "No cream needed")
    assert "Your changes are saved as version 2. Reel 2 approved." in text_of(logged_in.get(f"/reels/{reel_id}")).replace(f"Reel {reel_id}", "Reel 2")

    # Unchanged fields: approved as it is, no empty version.
    other = seeded.reel_ids[2]
    response = logged_in.post(f"/reels/{other}/approve", data=form_of(logged_in.get(f"/reels/{other}")), follow_redirects=False)
    assert response.status_code == 303 and reel_of(session, other).status == ReelStatus.APPROVED and version_count(session, other) == 1


def test_approve_with_an_invalid_edit_refuses_and_keeps_the_text(logged_in: TestClient, seeded: Seeded, session: Session) -> None:
    reel_id = seeded.reel_ids[1]
    before = snapshot(session, reel_id)
    caption = "Typed on the phone " + "x" * MAX_CAPTION_CHARS
    response = logged_in.post(f"/reels/{reel_id}/approve", data={**form_of(logged_in.get(f"/reels/{reel_id}")), "caption": caption}, follow_redirects=False)
    assert response.status_code == 422 and snapshot(session, reel_id) == before
    page = text_of(response)
    assert f"Not approved: The caption is {len(caption)} characters; Instagram allows {MAX_CAPTION_CHARS}." in page and caption in page


def test_the_quality_report_is_a_page_without_server_paths(logged_in: TestClient, seeded: Seeded, session: Session, settings: Settings) -> None:
    from render.qa import write_report
    from render.types import Check, QAReport

    reel_id = seeded.reel_ids[2]
    video = settings.data_dir / "renders" / f"reel-{reel_id}" / "reel.mp4"
    report = QAReport(path=video, duration_s=28.4, loudness_lufs=-19.5, checks=(
        Check("resolution", "1080x1920", "1080x1920", True, True),
        Check("loudness", -19.5, "-14 ± 2 LUFS", False, True, f"{video}: -19.5 LUFS is too quiet; normalise it"),
        Check("keyframe_interval", 2.5, "<= 2 s", False, False, "keyframes 2.5 s apart"),
    ))
    path = write_report(report, video.with_name("qa.json"))
    force(session, reel_id, status=ReelStatus.RENDERED, artifacts={"video": str(video), "report": str(path)})

    page = logged_in.get(f"/reels/{reel_id}/qa")
    assert page.status_code == 200
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text_of(page)))
    assert text.index("Failed: 1 check did not pass") < text.index("Loudness") < text.index("Keyframe interval") < text.index("Resolution")
    assert "The voice is as loud as other reels" in text and "measured -19.5 · expected -14 ± 2 LUFS" in text
    assert "reel.mp4: -19.5 LUFS is too quiet" in text
    assert str(settings.data_dir) not in page.text and "/renders/" not in page.text

    assert f'href="/reels/{reel_id}/qa"' in logged_in.get(f"/reels/{reel_id}").text and "QA failed" in logged_in.get(f"/reels/{reel_id}").text
    rest = logged_in.get("/").text.partition("Everything else")[2]
    assert "QA failed" in rest and "@your.handle" in rest  # the rows name their handle
    assert logged_in.get(f"/media/{reel_id}/report").status_code == 404  # the raw JSON (with paths) is not served
    assert logged_in.get(f"/reels/{seeded.reel_ids[0]}/qa").status_code == 404


def test_history_says_the_outbox_not_instagram(logged_in: TestClient, seeded: Seeded, session: Session, settings: Settings) -> None:
    reel_id = seeded.reel_ids[0]
    folder = settings.data_dir / "outbox" / "2026-12-05T1800Z-your.handle-1"
    force(session, reel_id, status=ReelStatus.PUBLISHED, published_at=utcnow(), permalink=(folder / "reel.mp4").as_uri(), media_id="outbox:abc")
    page = logged_in.get("/history").text
    assert "In the outbox, folder 2026-12-05T1800Z-your.handle-1 (not posted)" in html.unescape(page)
    assert "file://" not in page and "On Instagram" not in page and str(settings.data_dir) not in page


def test_unknown_urls_are_a_page_and_head_works(client: TestClient, logged_in: TestClient, seeded: Seeded) -> None:
    response = logged_in.get("/no/such/page")
    assert response.status_code == 404 and response.headers["content-type"].startswith("text/html")
    assert "There is no page at this address." in response.text and "Not Found" not in response.text
    assert logged_in.post("/", data={}).status_code == 405 and "<!doctype html>" in logged_in.post("/", data={}).text
    for path in ("/", f"/reels/{seeded.reel_ids[0]}", "/history", "/login"):
        head = logged_in.head(path, follow_redirects=False)
        assert head.status_code == 200 and head.content == b"" and head.headers["content-type"].startswith("text/html"), path
    assert TestClient(client.app).head("/", follow_redirects=False).status_code == 303  # logged out: to the login, like GET


# -- sessions end on logout and on a password change; the login limit behind a proxy (issue 19) --------

def visit_with(app, cookie: str):
    return TestClient(app, base_url="http://testserver").get("/", headers={"Cookie": f"{COOKIE}={cookie}"}, follow_redirects=False)


def test_logging_out_ends_that_session_and_only_that_one(app, logged_in: TestClient, session: Session) -> None:
    saved = logged_in.cookies.get(COOKIE)
    other = TestClient(app, base_url="http://testserver")
    assert login(other, PASSWORD).status_code == 303  # a second device
    assert visit_with(app, saved).status_code == 200  # the control: the saved copy works before logging out

    response = logged_in.post("/logout", data={"csrf": csrf_of(logged_in, "/")}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    refused = visit_with(app, saved)
    assert refused.status_code == 303 and refused.headers["location"].startswith("/login")
    assert set_cookies(refused)  # the dead cookie is replaced by an anonymous one
    token = SessionSigner(SECRET, 3600).load(saved).csrf
    posted = TestClient(app, base_url="http://testserver").post(
        "/logout", data={"csrf": token}, headers={"Cookie": f"{COOKIE}={saved}"}, follow_redirects=False)
    assert posted.status_code == 403  # its CSRF token died with it
    assert other.get("/", follow_redirects=False).status_code == 200  # the other device stays logged in
    assert login(logged_in, PASSWORD).status_code == 303 and logged_in.get("/").status_code == 200  # and logging in again works


def test_a_cookie_from_before_sessions_had_ids_must_log_in_again(app, logged_in: TestClient) -> None:
    signer = SessionSigner(SECRET, 3600)
    old = signer.new()
    old.user = "creator"  # signed with the right secret, but no session id nor issue time
    assert visit_with(app, signer.dump(old)).status_code == 303


def test_changing_the_password_with_the_cli_ends_every_earlier_session(app, logged_in: TestClient, project: Path) -> None:
    import subprocess

    from cli_helpers import REELTWIN, clean_env

    other = TestClient(app, base_url="http://testserver")
    assert login(other, PASSWORD).status_code == 303
    saved = logged_in.cookies.get(COOKIE)
    result = subprocess.run([*REELTWIN, "password", "--password-stdin"], cwd=project, env=clean_env(), input="a brand new password\n",
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    for client in (logged_in, other):
        assert client.get("/", follow_redirects=False).status_code == 303
    assert visit_with(app, saved).status_code == 303
    assert login(logged_in, PASSWORD).status_code == 401
    assert login(logged_in, "a brand new password").status_code == 303 and logged_in.get("/").status_code == 200


def proxied_app(settings: Settings, project: Path, trusted: list[str]):
    settings.web.trusted_proxies = trusted
    return create_app(settings, project)


def test_behind_a_trusted_proxy_each_client_is_limited_on_its_own(settings: Settings, project: Path, account: None) -> None:
    application = proxied_app(settings, project, ["127.0.0.1", "10.1.0.0/16"])
    try:
        def via_proxy(client_ip: str, proxy: str = "127.0.0.1") -> TestClient:
            return TestClient(application, base_url="http://testserver", client=(proxy, 40000),
                              headers={"X-Forwarded-For": f"203.0.113.77, {client_ip}"})  # the left entry is the client's own claim

        guesser = via_proxy("198.51.100.1")
        for _ in range(3):  # login_attempts_per_15_min = 3
            assert login(guesser, "wrong password!").status_code == 401
        assert login(guesser, PASSWORD).status_code == 429
        # Another visitor through the same proxy is not locked out.
        creator = via_proxy("198.51.100.2")
        assert login(creator, PASSWORD).status_code == 303 and creator.get("/").status_code == 200
        # Two proxies in a row (both trusted): the address the outer one saw is the client.
        chained = TestClient(application, base_url="http://testserver", client=("127.0.0.1", 40000),
                             headers={"X-Forwarded-For": "198.51.100.1, 10.1.2.3"})
        assert login(chained, PASSWORD).status_code == 429
    finally:
        application.state.drafter.wait(10)


def test_an_untrusted_peers_forwarded_for_is_ignored(settings: Settings, project: Path, account: None) -> None:
    for trusted in ([], ["10.9.9.9"]):
        application = proxied_app(settings, project, trusted)
        try:
            guesser = TestClient(application, base_url="http://testserver", client=("192.0.2.10", 40000),
                                 headers={"X-Forwarded-For": "198.51.100.1"})
            for attempt in range(3):
                # A new made-up address each time does not buy new guesses.
                guesser.headers["X-Forwarded-For"] = f"198.51.100.{attempt + 10}"
                assert login(guesser, "wrong password!").status_code == 401
            guesser.headers["X-Forwarded-For"] = "198.51.100.99"
            assert login(guesser, PASSWORD).status_code == 429, trusted
        finally:
            application.state.drafter.wait(10)


@pytest.mark.parametrize(("peer", "forwarded", "expected"), [
    ("127.0.0.1", [], "127.0.0.1"),
    ("127.0.0.1", ["198.51.100.1"], "198.51.100.1"),
    ("127.0.0.1", ["1.1.1.1, 198.51.100.1"], "198.51.100.1"),                 # the client's own claim on the left is not believed
    ("127.0.0.1", ["1.1.1.1", "10.0.0.5, 198.51.100.1"], "198.51.100.1"),     # several headers are one list
    ("127.0.0.1", ["198.51.100.1, 10.0.0.5"], "198.51.100.1"),                # through two trusted proxies
    ("127.0.0.1", ["10.0.0.5"], "10.0.0.5"),                                  # every hop trusted: the leftmost
    ("192.0.2.1", ["198.51.100.1"], "192.0.2.1"),                             # an untrusted peer's header is ignored
    ("::ffff:127.0.0.1", ["198.51.100.1"], "198.51.100.1"),
    ("127.0.0.1", ["[2001:db8::1]:4711"], "2001:db8::1"),
    ("127.0.0.1", ["198.51.100.1:4711"], "198.51.100.1"),
    (None, ["198.51.100.1"], "unknown"),
])
def test_client_address_reads_forwarded_for_only_from_trusted_hops(peer, forwarded, expected) -> None:
    resolve = security.ClientAddress(["127.0.0.1", "10.0.0.0/8"])
    assert resolve(peer, forwarded) == expected
    assert security.ClientAddress([])("192.0.2.1", ["198.51.100.1"]) == "192.0.2.1"


def test_trusted_proxies_must_be_addresses(project: Path) -> None:
    from agent.errors import ConfigError

    (project / "config" / "settings.toml").write_text(
        (project / "config" / "settings.toml").read_text(encoding="utf-8").replace("[web]\n", '[web]\ntrusted_proxies = ["127.0.0.1", "proxy.lan"]\n'),
        encoding="utf-8")
    with pytest.raises(ConfigError, match="'proxy.lan' is not an address or CIDR"):
        load_settings(project)
