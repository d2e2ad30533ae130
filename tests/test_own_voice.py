"""A reel read in the creator's own voice (issue 19): the recording's checks, its storage and state rules, the CLI and the
web routes, and a real render that speaks with it.

The "recordings" are made here: the bundled Piper voice reads the script (or part of it, or something else), with
a little room noise and silence around it; bad ones are clipped, drowned in noise, cut short or read another text.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlmodel import Session

pytest.importorskip("faster_whisper")
pytest.importorskip("piper")

from agent.approval.queue import add_draft, approve, edit  # noqa: E402
from agent.db.models import Creator, Reel, ReelEvent, ReelStatus, WebAccount, WebAccountCreator  # noqa: E402
from agent.db.states import transition  # noqa: E402
from agent.enrollment import reel_audio  # noqa: E402
from agent.enrollment.reel_audio import RecordingNotNow, RecordingRefused  # noqa: E402
from agent.settings import Settings, load_settings  # noqa: E402
from agent.web.uploads import sniff_recording  # noqa: E402
from render.media.audio import write_wav  # noqa: E402
from render.voice.sample_checks import read_sample  # noqa: E402
from tests.cli_helpers import reeltwin  # noqa: E402

SCRIPT = ("Pre-cut vegetables cost you twice. Once at the till, and once when they go soft by Wednesday. "
          "A whole onion keeps for weeks and takes one minute to chop.")
SECRET = "own-voice-test-secret-0123456789"
PASSWORD = "correct horse battery"
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')


# -- recordings ------------------------------------------------------------------------------------


def _speak(text: str, path: Path) -> tuple[np.ndarray, int]:
    from render.voice import base

    base.get("piper").speak(text, path)
    samples, rate, _info = read_sample(path)
    return samples, rate


def _as_recorded(speech: np.ndarray, rate: int, path: Path, *, gain: float = 0.5, noise: float = 10 ** (-62 / 20),
                 seed: int = 1) -> Path:
    """Speech as a microphone gives it: a second of room before and after, and a faint noise floor throughout."""
    rng = np.random.default_rng(seed)
    room = np.zeros(int(rate * 1.0))
    signal = np.concatenate([room, speech * gain, room])
    write_wav(path, np.clip(signal + rng.normal(0.0, noise, signal.size), -1.0, 1.0).astype(np.float32), rate)
    return path


@pytest.fixture(scope="module")
def voice(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[np.ndarray, int]]:
    """Piper reading the script, part of it, a short greeting and another text (made once per module)."""
    folder = tmp_path_factory.mktemp("piper")
    texts = {
        "script": SCRIPT,
        "stops": "Pre-cut vegetables cost you twice. Once at the till.",
        "skips": "Pre-cut vegetables cost you twice. A whole onion keeps for weeks and takes one minute to chop.",
        "short": "Hello there.",
        "other": "The weather today is sunny with a light breeze from the west, perfect for a walk in the park with friends.",
        "edited": "Pre-cut vegetables cost you twice. A whole onion keeps for weeks and costs a fraction.",
    }
    return {name: _speak(text, folder / f"{name}.wav") for name, text in texts.items()}


@pytest.fixture
def good(voice, tmp_path: Path) -> Path:
    speech, rate = voice["script"]
    return _as_recorded(speech, rate, tmp_path / "me reading.wav")


# -- the checks (no database) ------------------------------------------------------------------------


def test_a_good_reading_passes_and_is_trimmed_mono_48k_at_reel_loudness(good: Path) -> None:
    from render.compose import AUDIO_RATE_HZ, TARGET_LUFS
    from render.media.audio import integrated_loudness

    checked = reel_audio.check_recording(good, SCRIPT)
    assert checked.words.match_ratio >= 0.9 and not checked.words.missing
    assert checked.rate_hz == AUDIO_RATE_HZ and checked.samples.ndim == 1
    source_s = read_sample(good)[0].size / read_sample(good)[1]
    duration_s = checked.samples.size / checked.rate_hz
    # The second of room before and after is gone (150 ms is kept either side of the speech).
    assert source_s - 2.0 <= duration_s <= source_s - 1.4, (source_s, duration_s)
    # at the reels' loudness, or as near as peaks held at -1 dBFS allow (the render's master brings it the rest of the way)
    assert -2.0 < integrated_loudness(checked.samples, checked.rate_hz) - TARGET_LUFS < 0.5
    assert np.abs(checked.samples).max() <= 10 ** (-1 / 20) + 1e-6


@pytest.mark.parametrize(("case", "expected"), [
    ("short", r"recording 'take\.wav': only \d\.\d s of speech; record yourself reading the whole script, 3 s to 15 min"),
    ("clipped", r"recording 'take\.wav': \d+\.\d% of it is clipped \(distorted\); record again with the input level turned down"),
    ("noisy", r"recording 'take\.wav': too noisy \(SNR -?\d+ dB, need 15\); record again in a quiet room"),
    ("stops", r"recording 'take\.wav' stops after 'Once at the till'; the script goes on with 'and once when they go soft…'"),
    ("skips", r"words of the script are missing \(\d+% heard\): 'Once at the till, and once…'; read them and record again"),
    ("other", r"it does not read this reel's script \(it says 'The weather today is sunny"),
])
def test_bad_recordings_are_refused_with_what_to_do(voice, tmp_path: Path, case: str, expected: str) -> None:
    speech, rate = voice["script"]
    path = tmp_path / "take.wav"
    if case == "clipped":
        _as_recorded(np.clip(speech * 12, -1.0, 1.0), rate, path, gain=1.0)
    elif case == "noisy":
        rng = np.random.default_rng(3)
        signal = np.concatenate([np.zeros(rate), speech * 0.3, np.zeros(rate)])
        write_wav(path, np.clip(signal + rng.normal(0.0, 0.08, signal.size), -1, 1).astype(np.float32), rate)
    else:
        other, other_rate = voice[case]
        _as_recorded(other, other_rate, path)
    with pytest.raises(RecordingRefused, match=expected):
        reel_audio.check_recording(path, SCRIPT)


def test_not_audio_and_too_long_are_refused(tmp_path: Path) -> None:
    text = tmp_path / "notes.wav"
    text.write_text("not audio at all", encoding="utf-8")
    with pytest.raises(RecordingRefused, match=r"recording 'notes\.wav': not an audio file ffmpeg can read"):
        reel_audio.check_recording(text, SCRIPT)
    rate = 8000
    long = tmp_path / "long.wav"
    write_wav(long, np.zeros(int(rate * (reel_audio.MAX_FILE_S + 5)), dtype=np.float32), rate)
    with pytest.raises(RecordingRefused, match=r"recording 'long\.wav': is 16 min \d+ s long"):
        reel_audio.check_recording(long, SCRIPT)


def test_what_a_browser_records_is_recognised_and_decoded(good: Path, tmp_path: Path) -> None:
    """Chromium's MediaRecorder writes audio/webm;codecs=opus: recognised by its first bytes, decoded by ffmpeg."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        pytest.skip("Debian's ffmpeg (with libopus) is not installed")
    webm = tmp_path / "blob"
    subprocess.run([ffmpeg, "-v", "error", "-i", str(good), "-ac", "1", "-ar", "48000", "-c:a", "libopus", "-b:a", "64k", "-f", "webm", str(webm)],
                   check=True)
    assert sniff_recording(webm.read_bytes()[:64]) == ".webm"
    assert sniff_recording(good.read_bytes()[:64]) == ".wav"
    assert sniff_recording(b"%PDF-1.7 not audio") is None
    checked = reel_audio.check_recording(webm, SCRIPT, name="recording.webm")
    assert checked.source["codec"] == "opus" and checked.words.match_ratio >= 0.9


# -- storing, state rules, render refusal (a real database) ------------------------------------------


@pytest.fixture
def project(tmp_path: Path, db_url: str) -> Path:
    root = tmp_path / "project"
    (root / "config").mkdir(parents=True)
    (root / "config" / "settings.toml").write_text(
        f'[database]\nurl = "{db_url}"\n[web]\nsecret_key = "{SECRET}"\n', encoding="utf-8")
    return root


@pytest.fixture
def settings(project: Path) -> Settings:
    return load_settings(project).settings


@pytest.fixture
def reel_id(session: Session) -> int:
    creator = Creator(handle="cook", timezone="UTC")
    other = Creator(handle="other.cook", timezone="UTC")
    session.add_all([creator, other])
    session.commit()
    reel = add_draft(session, creator, slot=None, script=SCRIPT, hook="Pre-cut vegetables cost you twice.", on_screen_title="Stop buying pre-cut veg")
    add_draft(session, other, slot=None, script="Someone else's reel, read by someone else.", hook="Another reel.")
    session.commit()
    return reel.id


def _fresh(session: Session, reel_id: int) -> Reel:
    session.rollback()
    session.expire_all()
    return session.get(Reel, reel_id)


def _events(session: Session, reel_id: int) -> list[ReelEvent]:
    session.rollback()
    return list(session.execute(select(ReelEvent).where(ReelEvent.reel_id == reel_id).order_by(ReelEvent.id)).scalars())


def test_a_recording_is_stored_replaced_and_removed_with_events(session: Session, settings: Settings, reel_id: int, good: Path, voice, tmp_path: Path) -> None:
    change = reel_audio.set_recording(session, settings, reel_id, good, actor="creator:test")
    first = Path(change.record["path"])
    assert first.is_file() and first.parent == settings.data_dir / "reels" / str(reel_id)
    reel = _fresh(session, reel_id)
    assert reel.status == ReelStatus.DRAFTED and reel_audio.recording_of(reel)["script"] == SCRIPT and not reel_audio.is_stale(reel)
    assert "own voice recording added" in _events(session, reel_id)[-1].reason
    # Replaced: the new file is kept, the old one is gone.
    speech, rate = voice["script"]
    again = reel_audio.set_recording(session, settings, reel_id, _as_recorded(speech, rate, tmp_path / "again.wav", seed=9), actor="creator:test")
    assert Path(again.record["path"]).is_file() and not first.exists()
    assert "replaced" in _events(session, reel_id)[-1].reason
    removed = reel_audio.remove_recording(session, settings, reel_id, actor="creator:test")
    assert removed.record is None and not Path(again.record["path"]).exists()
    assert reel_audio.recording_of(_fresh(session, reel_id)) is None
    with pytest.raises(reel_audio.AgentError, match="has no recording of your voice to remove"):
        reel_audio.remove_recording(session, settings, reel_id, actor="creator:test")


def test_a_refused_recording_changes_nothing(session: Session, settings: Settings, reel_id: int, good: Path, voice, tmp_path: Path) -> None:
    stored = reel_audio.set_recording(session, settings, reel_id, good, actor="creator:test").record
    events = len(_events(session, reel_id))
    other, rate = voice["stops"]
    with pytest.raises(RecordingRefused, match="stops after"):
        reel_audio.set_recording(session, settings, reel_id, _as_recorded(other, rate, tmp_path / "cut.wav"), actor="creator:test")
    reel = _fresh(session, reel_id)
    assert reel_audio.recording_of(reel) == stored and Path(stored["path"]).is_file()
    assert len(_events(session, reel_id)) == events
    assert sorted(p.name for p in (settings.data_dir / "reels" / str(reel_id)).iterdir()) == [Path(stored["path"]).name]


def test_state_rules_rendered_goes_back_to_approved_rendering_refuses(session: Session, settings: Settings, reel_id: int, good: Path) -> None:
    approve(session, [reel_id], actor="creator:test")
    reel = _fresh(session, reel_id)
    transition(session, reel, ReelStatus.RENDERING, actor="worker")
    session.commit()
    with pytest.raises(RecordingNotNow, match=r"reel \d+ is rendering: cannot change its recording now; it is being rendered"):
        reel_audio.set_recording(session, settings, reel_id, good, actor="creator:test")
    reel = _fresh(session, reel_id)
    transition(session, reel, ReelStatus.RENDERED, actor="worker", artifacts={"video": "/nowhere/reel.mp4"})
    session.commit()
    change = reel_audio.set_recording(session, settings, reel_id, good, actor="creator:test")
    assert change.render_again and _fresh(session, reel_id).status == ReelStatus.APPROVED
    last = _events(session, reel_id)[-1]
    assert (last.from_status, last.to_status) == ("rendered", "approved") and "rendered again" in last.reason
    reel = _fresh(session, reel_id)
    for status in (ReelStatus.RENDERING, ReelStatus.RENDERED, ReelStatus.PUBLISHING, ReelStatus.PUBLISHED):
        transition(session, reel, status, actor="worker")
        session.commit()
        reel = _fresh(session, reel_id)
    with pytest.raises(RecordingNotNow, match="already published"):
        reel_audio.remove_recording(session, settings, reel_id, actor="creator:test")
    assert reel_audio.recording_of(_fresh(session, reel_id)) is not None


def test_editing_the_script_makes_the_recording_stale_and_the_render_refuses_it(session: Session, settings: Settings, reel_id: int, good: Path) -> None:
    from agent.jobs.render import render_reel
    from agent.storage import media_storage

    approve(session, [reel_id], actor="creator:test")
    reel_audio.set_recording(session, settings, reel_id, good, actor="creator:test")
    edit(session, reel_id, script=SCRIPT.replace("one minute", "two minutes"), actor="creator:test")
    reel = _fresh(session, reel_id)
    assert reel.status == ReelStatus.DRAFTED and reel_audio.is_stale(reel)   # kept through the edit, no longer matching
    with pytest.raises(reel_audio.AgentError, match="your recording reads an earlier script"):
        reel_audio.audio_for_render(reel, media_storage(settings))
    approve(session, [reel_id], actor="creator:test", keep_stale=True)
    outcome = render_reel(session, settings, reel_id, worker="test")
    assert outcome.result == "failed" and "reads an earlier script" in outcome.detail and "--remove" in outcome.detail
    reel = _fresh(session, reel_id)
    assert reel.status == ReelStatus.FAILED and "record it again for this script" in reel.last_error


# -- the command line ----------------------------------------------------------------------------------


def test_cli_reel_audio_stores_refuses_with_exit_2_and_removes(session: Session, settings: Settings, project: Path, reel_id: int,
                                                                 good: Path, voice, tmp_path: Path) -> None:
    other, rate = voice["other"]
    wrong = _as_recorded(other, rate, tmp_path / "wrong.wav")
    refused = reeltwin(project, "reel", "audio", str(reel_id), str(wrong))
    assert refused.returncode == 2 and refused.stdout == ""
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: recording 'wrong.wav': it does not read this reel's script"), refused.stderr
    assert reel_audio.recording_of(_fresh(session, reel_id)) is None

    stored = reeltwin(project, "reel", "audio", str(reel_id), str(good), "--json")
    assert stored.returncode == 0, stored.stderr
    import json

    payload = json.loads(stored.stdout)
    assert payload["recording"]["stale"] is False and payload["recording"]["match_ratio"] >= 0.9 and payload["status"] == "drafted"
    missing = reeltwin(project, "reel", "audio", str(reel_id), str(tmp_path / "nope.wav"))
    assert missing.returncode == 2 and "no such file" in missing.stderr and "check the path" in missing.stderr
    neither = reeltwin(project, "reel", "audio", str(reel_id))
    assert neither.returncode == 2 and "or --remove" in neither.stderr
    unknown = reeltwin(project, "reel", "audio", "999", str(good))
    assert unknown.returncode == 2 and "reel 999 does not exist" in unknown.stderr
    assert reel_audio.recording_of(_fresh(session, reel_id))["path"] == payload["recording"]["path"]   # intact after the refusals
    removed = reeltwin(project, "reel", "audio", str(reel_id), "--remove")
    assert removed.returncode == 0 and "synthetic voice" in removed.stdout
    assert reel_audio.recording_of(_fresh(session, reel_id)) is None and not Path(payload["recording"]["path"]).exists()


def test_show_says_which_voice_reads_the_reel(session: Session, settings: Settings, project: Path, reel_id: int, good: Path) -> None:
    import json

    synthetic = reeltwin(project, "show", str(reel_id))
    assert synthetic.returncode == 0, synthetic.stderr
    assert f"voice: synthetic (read your own with `reeltwin reel audio {reel_id} FILE`)" in synthetic.stdout
    assert json.loads(reeltwin(project, "show", str(reel_id), "--json").stdout)["own_voice"] is None

    record = reel_audio.set_recording(session, settings, reel_id, good, actor="creator:cli").record
    own = reeltwin(project, "show", str(reel_id))
    assert f"voice: your own recording ({record['duration_s']:.1f} s, read for version 1, by creator:cli)" in own.stdout, own.stdout
    assert "stale:" not in own.stdout
    payload = json.loads(reeltwin(project, "show", str(reel_id), "--json").stdout)["own_voice"]
    assert payload["path"] == record["path"] and payload["duration_s"] == record["duration_s"] and payload["stale"] is False

    edit(session, reel_id, script=SCRIPT.replace("one minute", "two minutes"), actor="creator:cli")
    stale = " ".join(reeltwin(project, "show", str(reel_id)).stdout.partition("voice: your own recording")[2].split())
    assert stale.startswith(f"({record['duration_s']:.1f} s, read for version 1, by creator:cli) stale: reel {reel_id}: your recording reads an earlier script")
    assert f"(`reeltwin reel audio {reel_id} --remove`)" in stale
    assert json.loads(reeltwin(project, "show", str(reel_id), "--json").stdout)["own_voice"]["stale"] is True


# -- the web routes ---------------------------------------------------------------------------------------


@pytest.fixture
def client(settings: Settings, project: Path, session: Session, reel_id: int):
    from agent.web.app import create_app
    from agent.web.security import hash_password

    account = WebAccount(username="cook", password_hash=hash_password(PASSWORD), all_creators=False)
    session.add(account)
    session.flush()
    session.add(WebAccountCreator(account_id=account.id, handle="cook"))
    session.commit()
    app = create_app(settings, project)
    client = TestClient(app, base_url="http://testserver")
    token = CSRF_FIELD.search(client.get("/login").text).group(1)
    assert client.post("/login", data={"csrf": token, "username": "cook", "password": PASSWORD, "next": "/"}, follow_redirects=False).status_code == 303
    yield client
    app.state.drafter.wait(10)


def _csrf(client: TestClient, reel_id: int) -> str:
    return CSRF_FIELD.search(client.get(f"/reels/{reel_id}").text).group(1)


def test_web_upload_play_remove_and_scoping(client: TestClient, session: Session, reel_id: int, good: Path, voice, tmp_path: Path) -> None:
    page = client.get(f"/reels/{reel_id}")
    assert page.status_code == 200 and 'id="own-voice"' in page.text and "The synthetic voice reads this script" in page.text
    assert "microphone=(self)" in page.headers["permissions-policy"] and "media-src 'self' blob:" in page.headers["content-security-policy"]
    token = _csrf(client, reel_id)
    # Without the CSRF token: refused, nothing stored.
    assert client.post(f"/reels/{reel_id}/audio", files={"recording": ("me.wav", good.read_bytes(), "audio/wav")}).status_code == 403
    other, rate = voice["stops"]
    cut = _as_recorded(other, rate, tmp_path / "cut.wav").read_bytes()
    refused = client.post(f"/reels/{reel_id}/audio", data={"csrf": token}, files={"recording": ("cut.wav", cut, "audio/wav")})
    assert refused.status_code == 422
    assert "Recording 'cut.wav' stops after 'Once at the till'" in html.unescape(refused.text)
    assert reel_audio.recording_of(_fresh(session, reel_id)) is None
    not_audio = client.post(f"/reels/{reel_id}/audio", data={"csrf": token}, files={"recording": ("me.wav", b"hello, not audio", "audio/wav")})
    assert not_audio.status_code == 422 and "not a WAV, MP3, M4A, OGG or WebM file" in html.unescape(not_audio.text)

    sent = client.post(f"/reels/{reel_id}/audio", data={"csrf": token}, files={"recording": ("me reading.wav", good.read_bytes(), "audio/wav")},
                       follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"] == f"/reels/{reel_id}"
    shown = html.unescape(client.get(f"/reels/{reel_id}").text)
    assert "Your recording is stored" in shown and "This reel is read in your own voice" in shown and "Remove my recording" in shown
    played = client.get(f"/reels/{reel_id}/audio")
    assert played.status_code == 200 and played.content[:4] == b"RIFF" and played.headers["content-type"] == "audio/wav"
    assert _events(session, reel_id)[-1].actor == "creator:web:cook"

    # Another creator's reel: the same 404 as a reel that does not exist, for every route.
    foreign = session.execute(select(Reel.id).where(Reel.id != reel_id)).scalar_one()
    assert client.get(f"/reels/{foreign}/audio").status_code == 404
    assert client.post(f"/reels/{foreign}/audio", data={"csrf": token}, files={"recording": ("me.wav", good.read_bytes(), "audio/wav")}).status_code == 404
    assert client.post(f"/reels/{foreign}/audio/remove", data={"csrf": token}).status_code == 404
    assert reel_audio.recording_of(_fresh(session, foreign)) is None

    # An edit of the script: the page says the recording no longer matches.
    client.post(f"/reels/{reel_id}/edit", data={"csrf": token, "script": SCRIPT + " Follow for more."})
    assert "no longer matches" in html.unescape(client.get(f"/reels/{reel_id}").text)
    removed = client.post(f"/reels/{reel_id}/audio/remove", data={"csrf": token})
    assert removed.status_code == 200 and "Your recording is removed" in html.unescape(removed.text)
    assert reel_audio.recording_of(_fresh(session, reel_id)) is None
    assert client.get(f"/reels/{reel_id}/audio").status_code == 404
    count = session.execute(select(func.count()).select_from(ReelEvent).where(ReelEvent.reel_id == reel_id)).scalar_one()
    assert count == 3   # drafted, recording added, recording removed


# -- a real render with the creator's own recording ---------------------------------------------------------


@pytest.mark.slow   # a real render: about 20 s on 2 cores
def test_a_reel_renders_with_its_own_recording_aligned_for_captions_and_lips(session: Session, settings: Settings, reel_id: int,
                                                                            good: Path, tmp_path: Path) -> None:
    """The whole pipeline, on the creator's recording: no synthesis, captions and lip sync from aligning it, QA as usual."""
    pytest.importorskip("mediapipe")
    import json

    from PIL import Image
    from skimage import data

    from agent.enrollment.avatars import enroll
    from agent.jobs.render import render_reel

    photo = tmp_path / "me.png"
    Image.fromarray(data.astronaut()).save(photo)
    enroll(session, settings.data_dir, photo, name="cook", consent=True)
    change = reel_audio.set_recording(session, settings, reel_id, good, actor="creator:test")
    approve(session, [reel_id], actor="creator:test")
    outcome = render_reel(session, settings, reel_id, worker="test")
    assert outcome.result == "rendered", outcome.detail
    rendered = outcome.rendered
    assert [stage.stage for stage in rendered.stages][0] == "align" and "voice" not in [stage.stage for stage in rendered.stages]
    assert rendered.qa_passed, rendered.qa_failures()
    reel = _fresh(session, reel_id)
    assert reel.status == ReelStatus.RENDERED and reel.artifacts["voice"] == "own recording"
    assert reel_audio.recording_of(reel)["path"] == change.record["path"]   # kept for the next render
    # The reel's voice is the recording: same length (the render adds no synthesis), the copy beside the video is the same file.
    voice_copy = Path(reel.artifacts["audio"])
    assert voice_copy.read_bytes() == Path(change.record["path"]).read_bytes()
    assert abs(rendered.duration_s - change.record["duration_s"]) < 0.2, (rendered.duration_s, change.record["duration_s"])
    # Captions and lips follow the recording: word times inside it, in order; phonemes for the mouth (p/b/m included).
    words = rendered.words
    assert [w["word"] for w in words][:3] == ["Pre-cut", "vegetables", "cost"] and len(words) == len(SCRIPT.split())
    starts = [w["start_s"] for w in words]
    assert starts == sorted(starts) and 0.0 <= starts[0] < 0.6 and words[-1]["end_s"] <= change.record["duration_s"] + 0.05
    timing = json.loads(Path(reel.artifacts["video"]).with_suffix(".timing.json").read_text(encoding="utf-8"))
    phonemes = [p[0].lstrip("ˈˌ") for p in timing["phonemes"]]
    assert len(phonemes) > 60 and {"p", "w", "m"} <= {p[0] for p in phonemes}
    srt = Path(reel.artifacts["srt"]).read_text(encoding="utf-8")
    assert "Wednesday" in srt and "onion" in srt
    lipsync = {check.name: check for check in rendered.qa.checks}
    assert "lip_sync" in lipsync or any("lip" in name for name in lipsync)
