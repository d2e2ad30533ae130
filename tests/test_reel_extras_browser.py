"""The queue's and the reel page's extras (issue 19) in a real browser: headless Debian Chromium driven by Playwright,
against a real server, on a phone (390×844) and a desktop (1280×900).

Screenshots go to $REELTWIN_TEST_SCREENSHOTS if set, else the test's tmp folder.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PIL import Image, ImageDraw
from sqlalchemy import select

from agent.approval.queue import add_draft, approve, edit
from agent.content_calendar.loader import load_calendar
from agent.content_calendar.planner import sync_plan
from agent.db.engine import open_session
from agent.db.models import Creator, Reel, ReelStatus, Slot, utcnow
from agent.settings import load_settings
from browser_support import DESKTOP, MARKS, PHONE, add_login, browser, login, new_project, server, shots  # noqa: F401 - fixtures
from cli_helpers import make_test_video

ZONE = ZoneInfo("Europe/Berlin")

pytestmark = MARKS
SCRIPT = ("Pre-cut vegetables cost you twice. Once at the till, and once when they go soft by Wednesday. "
          "A whole onion keeps for weeks and takes one minute to chop. Follow for a cheap dinner every week.")
CAPTION = ("Whole vegetables keep for weeks and cost half as much as the pre-cut bags. Here is how I store onions, carrots and "
           "potatoes so nothing goes soft.\nSave this for your next shop!")


def _cover(path: Path) -> None:
    """A 9:16 cover a person can read: a title band in the middle third (the part every grid crop keeps), a face-like circle."""
    image = Image.new("RGB", (1080, 1920), (34, 45, 60))
    draw = ImageDraw.Draw(image)
    for y in range(1920):   # a soft vertical gradient
        draw.line([(0, y), (1080, y)], fill=(30 + y // 40, 50 + y // 50, 90 + y // 30))
    draw.ellipse((340, 520, 740, 980), fill=(231, 190, 160))
    draw.rectangle((90, 1060, 990, 1260), fill=(225, 48, 108))
    draw.rectangle((0, 0, 1080, 150), fill=(250, 200, 40))       # top edge: cut off by the 3:4 grid crop
    draw.rectangle((0, 1770, 1080, 1920), fill=(250, 200, 40))   # bottom edge: cut off too
    image.save(path, "JPEG", quality=90)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("extras")
    settings = new_project(directory)
    with open_session(settings.database_url) as db:
        report = sync_plan(db, load_calendar(directory / "calendar" / "your.handle.yaml").calendar, now=utcnow(), days=21)
        creator = db.execute(select(Creator)).scalar_one()
        for index, slot in enumerate(report.slots[:5]):
            add_draft(db, creator, slot=slot, script=SCRIPT, hook=f"Pre-cut vegetables cost you twice ({index + 1}).",
                      on_screen_title="Stop buying pre-cut veg", caption=CAPTION, hashtags=["#cookingtips", "#budgetrecipes"])
        add_login(db)
        db.commit()
        # Reel 2: its caption was written for an earlier script (stale). Reel 4: rendered, with a video and a cover.
        # Reel 5: approved, and has two versions.
        db.get(Reel, 2).artifacts = {"stale_fields": ["caption"]}
        folder = settings.data_dir / "renders" / "reel-4"
        make_test_video(folder / "reel.mp4")
        _cover(folder / "cover.jpg")
        reel = db.get(Reel, 4)
        reel.status, reel.artifacts = ReelStatus.RENDERED, {"video": str(folder / "reel.mp4"), "cover": str(folder / "cover.jpg")}
        db.commit()
        edit(db, 5, script=SCRIPT.replace("A whole onion keeps for weeks", "A whole onion keeps for a month"), actor="creator:cli")
        approve(db, [5], actor="creator:cli", keep_stale=True)
    return directory


def _status(project: Path, reel_id: int) -> tuple[str, datetime | None]:
    with open_session(load_settings(project).settings.database_url, migrate=False) as db:
        reel = db.get(Reel, reel_id)
        return str(ReelStatus(reel.status)), reel.publish_at


def test_1_phone_queue_select_approve_and_undo(browser, server: str, project: Path, shots: Path) -> None:  # noqa: ANN001
    page = browser.new_page(**PHONE)
    login(page, server)
    assert page.locator(".reel-card").count() == 3
    page.screenshot(path=shots / "extras-phone-queue.png", full_page=True)
    # The rendered reel's cover, loaded lazily as a small thumbnail.
    thumb = page.locator("img.thumb").first
    thumb.scroll_into_view_if_needed()
    page.wait_for_function("() => [...document.querySelectorAll('img.thumb')].every(img => img.complete && img.naturalWidth > 0)")
    assert thumb.get_attribute("loading") == "lazy" and page.eval_on_selector("img.thumb", "img => img.naturalWidth") == 108
    page.screenshot(path=shots / "extras-phone-queue-rest.png", full_page=True)

    page.locator('input[name="reel"][value="1"]').check()
    page.locator('input[name="reel"][value="2"]').check()
    bar = page.locator(".bulk-bar")
    box = bar.bounding_box()
    assert box is not None and abs(box["y"] + box["height"] - 844) < 2   # on the screen's bottom edge while the cards scroll
    page.get_by_role("button", name="Approve selected").click()
    page.wait_for_url(f"{server}/")   # back on the queue (POST-redirect-GET): a reload does not approve again
    result = page.locator(".flash")
    assert "Approved 1 of 2 selected: reel 1 (rendered before its time)." in result.inner_text()
    assert "Reel 2: The caption was written for an earlier script; open it to check it, then approve." in result.inner_text()
    page.screenshot(path=shots / "extras-phone-bulk-result.png", full_page=True)
    assert _status(project, 1)[0] == "approved" and _status(project, 2)[0] == "drafted"

    # Changed its mind: undo the approval from the queue's list.
    page.reload()
    assert page.locator(".flash").count() == 0   # the message is shown once, and nothing is posted again
    page.get_by_role("button", name="Undo the approval of reel 1").click()
    assert "the approval is undone" in page.locator(".flash").inner_text()
    assert _status(project, 1)[0] == "drafted"
    page.close()


def test_2_phone_preview_as_instagram_shows_it(browser, server: str, project: Path, shots: Path) -> None:  # noqa: ANN001
    page = browser.new_page(**PHONE)
    login(page, server)
    page.goto(f"{server}/reels/4")
    phone = page.locator(".ig-phone")
    phone.scroll_into_view_if_needed()
    overlay, video = page.locator(".ig-overlay"), page.locator(".ig-phone video")
    assert overlay.is_visible()
    frame, drawn, player = page.locator(".ig-frame").bounding_box(), overlay.bounding_box(), video.bounding_box()
    assert frame is not None and drawn is not None and abs(frame["width"] / frame["height"] - 9 / 16) < 0.01
    assert all(abs(frame[key] - drawn[key]) < 1 for key in ("x", "y", "width", "height"))   # the screen lies exactly on the picture
    # The picture fills the top of the player; its controls get a strip of their own below it.
    assert abs(player["y"] - frame["y"]) < 1 and abs(player["width"] - frame["width"]) < 1 and player["height"] >= frame["height"] + 40
    # The top band is 14 % of the frame's height on the page too.
    band = page.locator(".ig-band").first.bounding_box()
    assert abs(band["height"] / frame["height"] - 0.14) < 0.005
    caption = page.locator(".ig-text")
    assert caption.inner_text().endswith("… more") and "Save this" not in caption.inner_text()
    assert caption.bounding_box()["y"] > frame["y"] + frame["height"] * 0.65 - 1   # inside the bottom band
    phone.screenshot(path=shots / "extras-phone-preview-frame.png")
    page.screenshot(path=shots / "extras-phone-preview.png", full_page=True)

    # The toggle hides Instagram's screen (CSS only).
    page.get_by_text("Show Instagram's buttons and text over the video").click()
    assert not overlay.is_visible()
    phone.screenshot(path=shots / "extras-phone-preview-plain.png")
    page.get_by_text("Show Instagram's buttons and text over the video").click()
    assert overlay.is_visible()

    # The grid's crops: 3:4 and square cells, three to a row.
    cells = page.locator(".grid-row").first.locator("svg")
    assert cells.count() == 3
    cell = cells.first.bounding_box()
    assert abs(cell["width"] / cell["height"] - 3 / 4) < 0.02
    square = page.locator(".grid-row").nth(1).locator("svg").first.bounding_box()
    assert abs(square["width"] / square["height"] - 1) < 0.02
    page.locator(".grid-previews").screenshot(path=shots / "extras-phone-grid.png")
    page.close()


def test_3_phone_publish_now_and_reschedule(browser, server: str, project: Path, shots: Path) -> None:  # noqa: ANN001
    page = browser.new_page(**PHONE)
    login(page, server)
    page.goto(f"{server}/reels/4")
    card = page.locator(".when-card")
    card.scroll_into_view_if_needed()
    assert "The calendar asks for quiet hours 22:00–07:00, at least 3 h between posts." in card.inner_text()
    page.screenshot(path=shots / "extras-phone-when.png")

    day = (utcnow() + timedelta(days=2)).astimezone(ZONE).date()
    page.fill("#new-time", f"{day.isoformat()}T23:30")
    page.get_by_role("button", name="Move it").click()
    assert "Not moved: 23:30 is in @your.handle's quiet hours" in page.locator(".error").inner_text()
    shown = page.locator(".when-card .error").bounding_box()
    assert shown is not None and 0 <= shown["y"] and shown["y"] + shown["height"] <= 844   # the page opens at the card, the reason in sight
    assert page.locator("#new-time").input_value() == f"{day.isoformat()}T23:30"
    page.screenshot(path=shots / "extras-phone-reschedule-refused.png")

    with open_session(load_settings(project).settings.database_url, migrate=False) as db:
        taken = list(db.execute(select(Slot.scheduled_at)).scalars())
    free = next(local for local in (datetime.combine(day + timedelta(days=offset), datetime.min.time(), ZONE).replace(hour=hour)
                                    for offset in range(5) for hour in range(8, 21))
                if all(abs(local - at) >= timedelta(hours=3) for at in taken))
    page.fill("#new-time", free.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Move it").click()
    assert f"now goes out {free:%a %d %b, %H:%M}" in page.locator(".flash").inner_text()
    assert _status(project, 4)[1] == free.astimezone(ZoneInfo("UTC"))
    assert "rescheduled from" in page.locator(".events").inner_text()

    page.get_by_role("button", name="Publish now").click()
    assert "is due now" in page.locator(".flash").inner_text()
    assert abs((_status(project, 4)[1] - utcnow()).total_seconds()) < 120
    page.screenshot(path=shots / "extras-phone-published-now.png", full_page=True)
    page.close()


def test_4_compare_versions_stacked_on_a_phone_side_by_side_on_a_desktop(browser, server: str, shots: Path) -> None:  # noqa: ANN001
    for name, options in (("phone", PHONE), ("desktop", DESKTOP)):
        page = browser.new_page(**options)
        login(page, server)
        page.goto(f"{server}/reels/5")
        page.get_by_role("button", name="Compare").click()
        page.wait_for_url("**/reels/5/compare?a=1&b=2")
        assert page.locator(".compare-field del.diff-removed").first.inner_text() == "weeks"
        assert page.locator(".compare-field ins.diff-added").first.inner_text() == "a month"
        left, right = (box.bounding_box() for box in page.locator(".compare-field").first.locator(".compare-side").all())
        if name == "phone":
            assert right["y"] >= left["y"] + left["height"] - 1     # stacked
        else:
            assert abs(right["y"] - left["y"]) < 1 and right["x"] > left["x"] + left["width"]   # side by side
        page.screenshot(path=shots / f"extras-{name}-compare.png", full_page=True)
        page.close()


def test_5_desktop_screens_and_the_manifest_without_login(browser, server: str, shots: Path) -> None:  # noqa: ANN001
    page = browser.new_page(**DESKTOP)
    login(page, server)
    page.screenshot(path=shots / "extras-desktop-queue.png", full_page=True)
    page.goto(f"{server}/reels/4")
    preview = page.locator(".ig-stage")
    notes = page.locator(".ig-notes").bounding_box()
    assert notes["x"] > page.locator(".ig-phone").bounding_box()["x"] + 300   # the notes beside the phone, not under it
    preview.screenshot(path=shots / "extras-desktop-preview.png")
    page.screenshot(path=shots / "extras-desktop-reel.png", full_page=True)
    page.close()

    # A fresh browser, not logged in: what "Add to home screen" fetches.
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{server}/login")
    manifest = page.locator('link[rel="manifest"]').get_attribute("href")
    answer = page.request.get(f"{server}{manifest}")
    assert answer.ok and answer.json()["start_url"] == "/"
    for icon in answer.json()["icons"]:
        fetched = page.request.get(f"{server}{icon['src']}")
        assert fetched.ok and fetched.headers["content-type"] == "image/png"
    page.goto(f"{server}{answer.json()['icons'][1]['src']}")
    page.screenshot(path=shots / "extras-icon.png")
    context.close()
