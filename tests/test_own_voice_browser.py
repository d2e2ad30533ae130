"""A reel read in the creator's own voice, in a real browser: record with MediaRecorder, listen, send; upload a file; remove.

Chromium's fake capture device plays a WAV made here (Piper reading the script) into the microphone, so the
recorder, the WebM/Opus it writes, the checks and the storage run for real. Phone (390×844) and desktop (1280×900);
screenshots go to $REELTWIN_TEST_SCREENSHOTS if set, else the test's tmp folder.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from agent.approval.queue import add_draft
from agent.db.engine import open_session
from agent.db.models import Creator, Reel
from agent.settings import load_settings
from browser_support import DESKTOP, MARKS, add_login, chromium, login, new_project, server, shots  # noqa: F401 - fixtures

SCRIPT = ("Pre-cut vegetables cost you twice. Once at the till, and once when they go soft by Wednesday. "
          "A whole onion keeps for weeks and takes one minute to chop.")

pytestmark = [
    *MARKS,  # and real speech checks
    pytest.mark.skipif(importlib.util.find_spec("faster_whisper") is None or importlib.util.find_spec("piper") is None,
                       reason="the offline voice and recogniser are not installed"),
]


@pytest.fixture(scope="module")
def readings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Piper reading the script (what the fake microphone hears, 48 kHz 16-bit mono), and a reading that stops early."""
    from render.media.audio import resample, write_wav
    from render.voice import base
    from render.voice.sample_checks import read_sample

    folder = tmp_path_factory.mktemp("readings")
    made = {}
    for name, text in (("script", SCRIPT), ("stops", "Pre-cut vegetables cost you twice. Once at the till.")):
        base.get("piper").speak(text, folder / f"{name}-piper.wav")
        samples, rate, _info = read_sample(folder / f"{name}-piper.wav")
        speech = resample(samples, rate, 48000) * 0.5
        room = np.zeros(24000)
        signal = np.concatenate([room, speech, room]) + np.random.default_rng(2).normal(0.0, 10 ** (-62 / 20), speech.size + 48000)
        made[name] = write_wav(folder / f"{name}.wav", np.clip(signal, -1, 1).astype(np.float32), 48000)
    return made


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("web")
    settings = new_project(directory, handle=None)
    with open_session(settings.database_url) as db:
        creator = Creator(handle="cook", timezone="UTC")
        db.add(creator)
        db.commit()
        for index in range(3):
            add_draft(db, creator, slot=None, script=SCRIPT, hook=f"Pre-cut vegetables cost you twice ({index + 1}).",
                      on_screen_title="Stop buying pre-cut veg", caption="Whole vegetables, half the price.", hashtags=["#cookingtips"])
        add_login(db)
        db.commit()
    return directory


@pytest.fixture(scope="module")
def browser(readings: dict[str, Path]) -> Iterator:
    """Chromium whose fake microphone plays Piper reading the script, once."""
    with chromium("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                  f"--use-file-for-fake-audio-capture={readings['script']}%noloop", "--autoplay-policy=no-user-gesture-required") as instance:
        yield instance


def _recording(project: Path, reel_id: int) -> dict | None:
    settings = load_settings(project).settings
    with open_session(settings.database_url, migrate=False) as db:
        reel = db.execute(select(Reel).where(Reel.id == reel_id)).scalar_one()
        return (reel.artifacts or {}).get("own_audio")


@pytest.mark.parametrize(("width", "height", "reel_id"), [(390, 844, 1), (1280, 900, 2)])
def test_record_in_the_browser_listen_and_send(browser, server: str, project: Path, shots: Path, readings: dict[str, Path],
                                              width: int, height: int, reel_id: int) -> None:  # noqa: ANN001
    import wave

    phone = width < 600
    context = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=2 if phone else 1,
                                  is_mobile=phone, has_touch=phone)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    login(page, server)
    page.goto(f"{server}/reels/{reel_id}")
    card = page.locator("#own-voice")
    assert "The synthetic voice reads this script" in card.inner_text()
    assert page.locator(".recorder").is_visible()   # MediaRecorder and the microphone are allowed for this site
    card.scroll_into_view_if_needed()
    card.screenshot(path=shots / f"own-voice-{width}-before.png")

    with wave.open(str(readings["script"])) as reading:
        seconds = reading.getnframes() / reading.getframerate()
    page.get_by_role("button", name="Record", exact=True).click()
    levels = []
    for _ in range(40):   # the level meter moves (polled: the CSP forbids the eval wait_for_function needs)
        levels.append(page.evaluate("() => document.querySelector('.record-level').value"))
        if levels[-1] > 0.3:
            break
        page.wait_for_timeout(100)
    assert max(levels) > 0.3, levels   # speech, not silence, on the decibel scale
    page.wait_for_timeout(int(seconds * 1000 * 0.5))
    card.screenshot(path=shots / f"own-voice-{width}-recording.png")
    assert page.locator(".record-status").inner_text().startswith("Recording")
    page.wait_for_timeout(int(seconds * 1000 * 0.5) + 1200)
    page.get_by_role("button", name="Stop", exact=True).click()
    playback = page.locator(".record-playback")
    playback.wait_for(state="visible")
    assert page.locator(".record-time").inner_text() != "0:00"
    assert "Listen to it" in page.locator(".record-status").inner_text()
    # The recording can be played back before it is sent (a blob: URL, allowed by the CSP's media-src).
    duration = page.evaluate("""async () => { const a = document.querySelector('.record-playback');
        if (!isFinite(a.duration)) { a.currentTime = 1e9; await new Promise(r => setTimeout(r, 300)); } return a.duration; }""")
    assert duration and duration > seconds * 0.7, duration
    assert page.evaluate("document.querySelector('#recording').files.length") == 1
    card.screenshot(path=shots / f"own-voice-{width}-recorded.png")

    page.get_by_role("button", name="Use this recording").click()
    page.wait_for_url(f"{server}/reels/{reel_id}", timeout=120_000)
    assert "Your recording is stored" in page.locator(".flash").inner_text()
    record = _recording(project, reel_id)
    assert record is not None and record["source"]["codec"] == "opus" and record["match_ratio"] >= 0.8, record
    card = page.locator("#own-voice")
    assert "This reel is read in your own voice" in card.inner_text()
    assert page.get_by_role("button", name="Remove my recording").is_visible()
    page.screenshot(path=shots / f"own-voice-{width}-stored.png", full_page=True)
    assert not [text for text in problems if "Content Security Policy" in text or "Permissions policy" in text], problems
    context.close()


def test_upload_a_file_refusal_then_remove(browser, server: str, project: Path, shots: Path, readings: dict[str, Path]) -> None:  # noqa: ANN001
    page = browser.new_page(**DESKTOP)
    login(page, server)
    page.goto(f"{server}/reels/3")
    page.set_input_files("#recording", str(readings["stops"]))
    page.get_by_role("button", name="Use this recording").click()
    page.wait_for_load_state()
    error = page.locator(".error").inner_text()
    assert "stops.wav' stops after 'Once at the till'" in error and "read the whole script" in error
    assert _recording(project, 3) is None
    page.screenshot(path=shots / "own-voice-1280-refused.png")

    page.goto(f"{server}/reels/3")
    page.set_input_files("#recording", str(readings["script"]))
    page.get_by_role("button", name="Use this recording").click()
    page.wait_for_url(f"{server}/reels/3", timeout=120_000)
    assert "Your recording is stored" in page.locator(".flash").inner_text()
    # the page's player can fetch it (a range request for its metadata answers 206)
    assert page.evaluate("fetch('/reels/3/audio').then(r => [r.status, r.headers.get('content-type')])") in ([200, "audio/wav"], [206, "audio/wav"])
    page.get_by_role("button", name="Remove my recording").click()
    page.wait_for_url(f"{server}/reels/3")
    assert "Your recording is removed" in page.locator(".flash").inner_text()
    assert _recording(project, 3) is None
    page.close()
