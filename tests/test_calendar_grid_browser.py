"""The calendar grid in a real browser (issue 19): week and month views at phone and desktop sizes; move, skip and add
through the page, against a real server. Headless Debian Chromium driven by Playwright.

Screenshots go to $REELTWIN_TEST_SCREENSHOTS if set, else the test's tmp folder.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from agent.approval.queue import add_draft
from agent.content_calendar.loader import load_calendar
from agent.content_calendar.overrides import overrides_path
from agent.content_calendar.planner import sync_plan
from agent.db.engine import open_session
from agent.db.models import Creator, Reel, ReelEvent, ReelStatus, Slot, utcnow
from agent.settings import load_settings
from browser_support import DESKTOP, MARKS, PHONE, add_login, browser, login, new_project, server, shots  # noqa: F401 - fixtures

HANDLE = "your.handle"
ZONE = ZoneInfo("Europe/Berlin")

pytestmark = MARKS


def _cover(path: Path, label: str) -> Path:
    """A real 9:16 JPEG, as a render's cover frame is."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (270, 480), (214, 92, 60))
    draw = ImageDraw.Draw(image)
    for y in range(0, 480, 8):
        draw.rectangle([0, y, 270, y + 4], fill=(240 - y // 4, 120 + y // 8, 70))
    draw.rectangle([30, 180, 240, 300], fill=(255, 255, 255))
    draw.text((60, 225), label, fill=(20, 20, 20))
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, "JPEG", quality=85)
    return path


def anchor(slot_id: str) -> str:
    return "slot-" + slot_id.replace(":", "-").replace(".", "-")


def _tuesday_after(day: date, *, at_least: int) -> date:
    day += timedelta(days=at_least)
    while day.weekday() != 1:
        day += timedelta(days=1)
    return day


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("grid")
    settings = new_project(directory, handle=HANDLE)
    with open_session(settings.database_url) as db:
        calendar = load_calendar(directory / "calendar" / f"{HANDLE}.yaml").calendar
        report = sync_plan(db, calendar, now=utcnow(), days=21)
        creator = db.execute(select(Creator)).scalar_one()
        future = [slot for slot in report.slots if slot.scheduled_at > utcnow() + timedelta(days=1)]
        for index, slot in enumerate(future[:4]):
            reel = add_draft(db, creator, slot=slot, script="Whole onions keep for weeks. Chop as you go. Follow for a cheap dinner every week.",
                             hook=f"Onions keep for weeks ({index + 1})", on_screen_title="Whole veg", caption="Half the price.", hashtags=["#cookingtips"])
            if index == 0:   # a rendered reel: the grid shows its cover
                cover = _cover(settings.data_dir / "reels" / str(reel.id) / "cover.jpg", "Onions")
                reel.status = ReelStatus.RENDERED
                reel.artifacts = {"cover": str(cover)}
                db.add(reel)
        add_login(db)
        db.commit()
    return directory


def _db(project: Path):  # noqa: ANN202
    return open_session(load_settings(project).settings.database_url, migrate=False)


def _reels(project: Path) -> list[tuple[int, str, str]]:
    """(reel id, its state, its slot id) of the seeded reels on slots, in slot time order."""
    with _db(project) as db:
        rows = db.execute(select(Reel, Slot).join(Slot, Reel.slot_id == Slot.id).order_by(Slot.scheduled_at)).all()
        return [(reel.id, str(ReelStatus(reel.status)), slot.id) for reel, slot in rows]


def _slot_time(project: Path, slot_id: str) -> datetime:
    with _db(project) as db:
        return db.get(Slot, slot_id).scheduled_at.astimezone(ZONE)


def _last_event(project: Path, reel_id: int) -> ReelEvent:
    with _db(project) as db:
        return db.execute(select(ReelEvent).where(ReelEvent.reel_id == reel_id).order_by(ReelEvent.id.desc())).scalars().first()


def _week(page, server: str, day: date) -> None:  # noqa: ANN001
    page.goto(f"{server}/calendar?view=week&on={day.isoformat()}&creator={HANDLE}")


def _no_overflow(page) -> None:  # noqa: ANN001
    """Nothing sticks out sideways: the page never scrolls horizontally."""
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.evaluate("window.innerWidth")
    assert width <= viewport + 1, (width, viewport)


def test_phone_week_month_move_skip_and_add(browser, server: str, project: Path, shots: Path) -> None:  # noqa: ANN001
    page = browser.new_page(**PHONE)
    page.on("dialog", lambda dialog: dialog.accept())   # the skip's "are you sure"
    login(page, server)
    reels = _reels(project)
    rendered_id, _, rendered_slot = reels[0]
    first_day = _slot_time(project, rendered_slot).date()

    # The week: each slot with its time and state; the rendered reel with its cover.
    _week(page, server, first_day)
    cell = page.locator(f"#{anchor(rendered_slot)}")
    assert cell.locator(".badge").inner_text() == "scheduled"
    assert cell.locator("img").evaluate("img => img.complete && img.naturalWidth > 0")
    _no_overflow(page)
    page.screenshot(path=shots / "phone-calendar-week.png", full_page=True)

    # Move a drafted reel's slot to a free Tuesday afternoon.
    moved_id, _, moved_slot = reels[1]
    target_day = _tuesday_after(_slot_time(project, moved_slot).date(), at_least=1)
    _week(page, server, _slot_time(project, moved_slot).date())
    cell = page.locator(f"#{anchor(moved_slot)}")
    cell.locator("summary", has_text="Move").click()
    cell.locator("input[name=day]").fill(target_day.isoformat())
    cell.locator("input[name=at]").fill("15:00")
    page.screenshot(path=shots / "phone-calendar-move-open.png", full_page=False)
    cell.get_by_role("button", name="Move here").click()
    assert "Moved" in page.locator(".flash").inner_text()
    assert _slot_time(project, moved_slot).replace(tzinfo=None) == datetime.combine(target_day, datetime.min.time()).replace(hour=15)
    event = _last_event(project, moved_id)
    assert event.actor == "creator:web:creator" and "moved from" in event.reason
    _week(page, server, target_day)
    moved_cell = page.locator(f"#{anchor(moved_slot)}")
    assert "15:00" in moved_cell.inner_text() and "moved from" in moved_cell.inner_text()

    # Into the quiet hours: refused with the rule named, nothing changed.
    moved_cell.locator("summary", has_text="Move").click()
    moved_cell.locator("input[name=at]").fill("23:15")
    moved_cell.get_by_role("button", name="Move here").click()
    refusal = page.locator(f"#{anchor(moved_slot)} .cal-error").inner_text()
    assert refusal.startswith("Not moved:") and "quiet hours" in refusal, refusal
    assert page.locator(f"#{anchor(moved_slot)} input[name=at]").input_value() == "23:15"   # what was typed is kept
    assert _slot_time(project, moved_slot).hour == 15
    page.screenshot(path=shots / "phone-calendar-refused.png", full_page=False)

    # Skip another drafted reel's slot (with the dialog's confirmation).
    skipped_id, _, skipped_slot = reels[2]
    _week(page, server, _slot_time(project, skipped_slot).date())
    cell = page.locator(f"#{anchor(skipped_slot)}")
    cell.locator("summary", has_text="Skip").click()
    cell.get_by_role("button", name="Skip this post").click()
    assert "Skipped" in page.locator(".flash").inner_text()
    assert dict((reel_id, state) for reel_id, state, _ in _reels(project))[skipped_id] == "skipped"
    assert page.locator(f"#{anchor(skipped_slot)}").get_by_role("button", name="Put it back").is_visible()

    # Add a reel on the Tuesday after the move.
    add_day = target_day + timedelta(days=7)
    _week(page, server, add_day)
    add = page.locator(f"#add-{add_day.isoformat()}")
    add.locator("summary").click()
    add.locator("input[name=at]").fill("16:30")
    add.locator("select[name=pillar]").select_option("skills")
    add.locator("input[name=brief]").fill("sharpening a knife on a mug")
    add.get_by_role("button", name="Add the reel").click()
    assert "Added a reel" in page.locator(".flash").inner_text()
    added = page.locator(f"#day-{add_day.isoformat()} .cal-slot", has_text="sharpening a knife on a mug")
    assert added.count() == 1 and "16:30" in added.inner_text()
    text = overrides_path(project / "calendar" / f"{HANDLE}.yaml").read_text(encoding="utf-8")
    assert "sharpening a knife on a mug" in text and moved_slot in text and skipped_slot in text
    page.screenshot(path=shots / "phone-calendar-added.png", full_page=True)

    # The month: compact cells that fit the phone, each slot's time coloured by its state.
    page.goto(f"{server}/calendar?view=month&on={first_day.isoformat()}&creator={HANDLE}")
    assert page.locator(".cal-chip").count() >= 3
    _no_overflow(page)
    page.screenshot(path=shots / "phone-calendar-month.png", full_page=True)
    page.close()


def test_desktop_week_and_month(browser, server: str, project: Path, shots: Path) -> None:  # noqa: ANN001
    page = browser.new_page(**DESKTOP)
    login(page, server)
    reels = _reels(project)
    rendered_id, _, rendered_slot = reels[0]
    first_day = _slot_time(project, rendered_slot).date()
    _week(page, server, first_day)
    columns = page.locator(".cal-week > li")
    assert columns.count() == 7
    boxes = [columns.nth(index).bounding_box() for index in range(7)]
    assert len({round(box["y"]) for box in boxes}) == 1, "the week's seven days sit side by side"
    _no_overflow(page)
    page.screenshot(path=shots / "desktop-calendar-week.png", full_page=True)

    # Move the last seeded drafted reel by two hours from the desktop grid.
    reel_id, state, slot_id = next(item for item in reversed(reels) if item[1] == "drafted")
    before = _slot_time(project, slot_id)
    _week(page, server, before.date())
    cell = page.locator(f"#{anchor(slot_id)}")
    cell.locator("summary", has_text="Move").click()
    new_time = (before + timedelta(hours=2)).strftime("%H:%M")
    cell.locator("input[name=at]").fill(new_time)
    page.screenshot(path=shots / "desktop-calendar-move-open.png", full_page=False)
    cell.get_by_role("button", name="Move here").click()
    flash = page.locator(".flash").inner_text()
    assert "Moved" in flash, flash
    assert _slot_time(project, slot_id) == before + timedelta(hours=2)

    page.goto(f"{server}/calendar?view=month&on={first_day.isoformat()}&creator={HANDLE}")
    assert page.locator(f".cal-chip img[src='/media/{rendered_id}/cover']").count() == 1
    _no_overflow(page)
    page.screenshot(path=shots / "desktop-calendar-month.png", full_page=True)
    page.close()


def test_without_javascript_add_and_skip_work(browser, server: str, project: Path, shots: Path) -> None:  # noqa: ANN001
    context = browser.new_context(java_script_enabled=False, **PHONE)
    page = context.new_page()
    login(page, server)
    day = _tuesday_after(utcnow().astimezone(ZONE).date(), at_least=21)
    _week(page, server, day)
    add = page.locator(f"#add-{day.isoformat()}")
    add.locator("summary").click()
    add.locator("input[name=at]").fill("11:00")
    add.get_by_role("button", name="Add the reel").click()
    assert "Added a reel" in page.locator(".flash").inner_text()
    cell = page.locator(f"#day-{day.isoformat()} .cal-slot", has_text="11:00")
    assert cell.count() == 1 and "added by you (on the web)" in cell.inner_text()
    # Skipping takes two taps, no dialog: "Skip", then the button that says what happens.
    cell.locator("summary", has_text="Skip").click()
    cell.get_by_role("button", name="Remove this reel").click()
    assert "Removed the reel added for" in page.locator(".flash").inner_text()
    assert page.locator(f"#day-{day.isoformat()} .cal-slot", has_text="11:00").count() == 0
    page.screenshot(path=shots / "phone-calendar-nojs.png", full_page=False)
    context.close()
