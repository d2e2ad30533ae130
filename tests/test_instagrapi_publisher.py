"""The instagrapi publisher: session handling, error translation, exactly-once, and `reeltwin instagram login|status`.

Instagram is played by ``FakeInstagram`` (the account's media, its accepted sessions,
queued faults) and reached through ``FakeClient``, which stands in for
``instagrapi.Client`` where the publisher's ``client_factory`` asks for one. Its answers
are real instagrapi objects: ``Media`` built by instagrapi's own extractor from a
recorded-style configure answer, and instagrapi's exception classes built from
recorded-style error bodies (``tests/fixtures/instagrapi``). A few tests run the real
``instagrapi.Client`` against a requests adapter replaying recorded HTTP answers.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import stat
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("instagrapi", reason="the instagram extra is not installed (pip install 'reeltwin[instagram]')")

import requests
import typer
from instagrapi import Client
from instagrapi import exceptions as ig
from instagrapi.extractors import extract_media_v1
from instagrapi.mixins.totp import TOTPMixin
from instagrapi.types import Media
from sqlalchemy import select
from typer.testing import CliRunner

from publishing.base import (
    LoginRequired,
    Publisher,
    PublishProgress,
    PublishRefused,
    PublishRequest,
    PublishRetryable,
)
from publishing.instagrapi_publisher import (
    LOGIN_COMMAND,
    InstagrapiPublisher,
    TwoFactorCodeRequired,
    session_file_for,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "instagrapi"
REPO = Path(__file__).resolve().parent.parent
CONFIGURE_ANSWER = json.loads((FIXTURES / "clip_configure.json").read_text(encoding="utf-8"))
ERROR_BODIES = json.loads((FIXTURES / "errors.json").read_text(encoding="utf-8"))

USERNAME = "reeltwin.demo"
USER_ID = "5512345678"
PASSWORD = "Corr3ct-Horse-Battery!"
TOTP_SEED = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
CAPTION = "Pre-cut vegetables cost you twice.\n\n#cookingtips #budget"


class SimulatedCrash(BaseException):
    """The process dies here: nothing in the publisher may catch it (a BaseException, like a kill)."""


def recorded(name: str, **changes: Any) -> ig.ClientError:
    """instagrapi's exception ``name``, built the way instagrapi builds it from Instagram's error body."""
    return getattr(ig, name)(**{**ERROR_BODIES[name], **changes})


# -- the fake Instagram and the fake instagrapi client ----------------------------------------------


class FakeInstagram:
    """Instagram's side, shared by every client (every 'process') in a test."""

    def __init__(self, *, totp_seed: str | None = None):
        self.username, self.password, self.user_id, self.totp_seed = USERNAME, PASSWORD, USER_ID, totp_seed
        self.medias: list[Media] = []                  # oldest first
        self.sessions: set[str] = set()                # session ids Instagram accepts
        self.faults: dict[str, deque[BaseException]] = defaultdict(deque)
        self.calls: list[str] = []
        self._numbers = itertools.count(1)

    def fail(self, endpoint: str, error: BaseException) -> None:
        """The next call to ``endpoint`` raises ``error`` (``after_upload``: once the reel is already out)."""
        self.faults[endpoint].append(error)

    def answer(self, endpoint: str) -> None:
        self.calls.append(endpoint)
        if self.faults[endpoint]:
            raise self.faults[endpoint].popleft()

    def issue_session(self) -> dict[str, str]:
        session_id = f"{self.user_id}%3AfakeSession{next(self._numbers)}%3A27"
        self.sessions.add(session_id)
        return {"sessionid": session_id, "ds_user_id": self.user_id, "csrftoken": "fakeCsrfToken0123456789", "mid": "ZfakeMid"}

    def add_media(self, caption: str, taken_at: datetime) -> Media:
        number = next(self._numbers)
        media = dict(CONFIGURE_ANSWER["media"])
        pk = str(3500000000000000000 + number)
        media.update(pk=pk, id=f"{pk}_{self.user_id}", code=f"DRtw{number:07d}", taken_at=int(taken_at.timestamp()),
                     caption={**media["caption"], "text": caption})
        built = extract_media_v1(media)
        self.medias.append(built)
        return built

    @property
    def uploads(self) -> int:
        return self.calls.count("clip_upload")


class FakeClient:
    """Stands in for ``instagrapi.Client``: the calls the publisher makes, answered from FakeInstagram."""

    totp_generate_code = staticmethod(TOTPMixin.totp_generate_code)

    def __init__(self, instagram: FakeInstagram):
        self.instagram = instagram
        self.cookies: dict[str, str] = {}
        self.uuids = {"phone_id": "0f0e0d0c-aaaa-bbbb-cccc-000000000001", "uuid": "0f0e0d0c-aaaa-bbbb-cccc-000000000002"}
        self.delay_range: list[float] | None = None
        self.proxy: str | None = None
        self.logger = logging.getLogger("instagrapi")
        self.with_challenge_flow = True
        self.uploaded: list[dict[str, Any]] = []

    @property
    def user_id(self) -> int | None:
        return int(self.cookies["ds_user_id"]) if self.cookies.get("ds_user_id") else None

    def set_proxy(self, dsn: str) -> bool:
        self.proxy = dsn
        return True

    def get_settings(self) -> dict[str, Any]:
        return {"uuids": dict(self.uuids), "cookies": dict(self.cookies), "authorization_data": {}, "last_login": 1767225600.0,
                "device_settings": {"app_version": "385.0.0.47.74", "manufacturer": "OnePlus", "model": "devitron"}}

    def set_settings(self, settings: dict[str, Any]) -> bool:
        self.uuids, self.cookies = settings["uuids"], dict(settings.get("cookies") or {})
        return True

    def load_settings(self, path: Path) -> dict[str, Any]:
        with open(path) as fp:
            settings = json.load(fp)
        self.set_settings(settings)
        return settings

    def dump_settings(self, path: Path) -> bool:
        with open(path, "w") as fp:
            json.dump(self.get_settings(), fp, indent=4)
        return True

    def _logged_in(self) -> None:
        if self.cookies.get("sessionid") not in self.instagram.sessions:
            raise recorded("LoginRequired")

    def login(self, username: str, password: str, relogin: bool = False, verification_code: str = "") -> bool:
        self.instagram.answer("login")
        if self.user_id and not relogin:   # as instagrapi: a saved session Instagram accepts is kept
            try:
                self.account_info()
                return True
            except ig.LoginRequired:
                pass
        if username != self.instagram.username or password != self.instagram.password:
            raise recorded("BadPassword")
        if self.instagram.totp_seed and verification_code != self.totp_generate_code(self.instagram.totp_seed):
            raise recorded("TwoFactorRequired")
        self.cookies = self.instagram.issue_session()
        return True

    def account_info(self) -> dict[str, str]:
        self.instagram.answer("account_info")
        self._logged_in()
        return {"pk": self.instagram.user_id, "username": self.instagram.username}

    def clip_upload(self, path: Path, caption: str, thumbnail: Path | None = None, **options: Any) -> Media:
        self.uploaded.append({"path": Path(path), "caption": caption, "thumbnail": thumbnail, **options})
        self.instagram.answer("clip_upload")
        self._logged_in()
        media = self.instagram.add_media(caption, datetime.now(UTC))
        self.instagram.answer("after_upload")
        return media

    def _recent(self, endpoint: str, user_id: int, amount: int) -> list[Media]:
        self.instagram.answer(endpoint)
        self._logged_in()
        assert str(user_id) == self.instagram.user_id
        return list(reversed(self.instagram.medias))[: amount or None]

    def user_clips(self, user_id: int, amount: int = 0) -> list[Media]:
        return self._recent("user_clips", user_id, amount)

    def user_medias(self, user_id: int, amount: int = 0) -> list[Media]:
        return self._recent("user_medias", user_id, amount)


class Progress(list):
    """The caller's store: what on_progress reported, in order."""

    def __call__(self, progress: PublishProgress) -> None:
        self.append((progress.stage, progress.value))

    @property
    def resume(self) -> dict[str, str]:
        return dict(self)


# -- fixtures -----------------------------------------------------------------------------------------


@pytest.fixture
def instagram() -> FakeInstagram:
    return FakeInstagram()


@pytest.fixture
def clients(instagram: FakeInstagram) -> list[FakeClient]:
    """Every client the publishers under test made, in order."""
    return []


@pytest.fixture
def factory(instagram: FakeInstagram, clients: list[FakeClient]) -> Callable[[], FakeClient]:
    def make() -> FakeClient:
        client = FakeClient(instagram)
        clients.append(client)
        return client

    return make


@pytest.fixture
def session_file(tmp_path: Path) -> Path:
    return session_file_for(tmp_path / "data", USERNAME)


@pytest.fixture
def saved_session(instagram: FakeInstagram, session_file: Path) -> Path:
    """A session saved by an earlier `reeltwin instagram login`."""
    client = FakeClient(instagram)
    client.cookies = instagram.issue_session()
    session_file.parent.mkdir(parents=True, mode=0o700)
    client.dump_settings(session_file)
    session_file.chmod(0o600)
    return session_file


@pytest.fixture
def request_(tmp_path: Path) -> PublishRequest:
    video = tmp_path / "renders" / "reel.mp4"
    video.parent.mkdir(parents=True)
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42 not really a video")
    cover = video.with_name("cover.jpg")
    cover.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return PublishRequest(publish_key="rt1-abc123", video_path=video, cover_path=cover, caption=CAPTION)


def make_publisher(factory: Callable[[], Any], session_file: Path, **options: Any) -> InstagrapiPublisher:
    return InstagrapiPublisher(username=USERNAME, session_file=session_file, delay_range=(0, 0), client_factory=factory, **options)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- publishing ---------------------------------------------------------------------------------------


def test_publishes_a_reel_with_the_saved_session(instagram, clients, factory, saved_session, request_) -> None:
    publisher = make_publisher(factory, saved_session, proxy="http://proxy.example.test:8080")
    assert isinstance(publisher, Publisher) and publisher.name == "instagrapi"
    progress = Progress()
    before = datetime.now(UTC)

    result = publisher.publish(request_, {}, progress)

    [media] = instagram.medias
    assert result.media_id == media.pk and not result.already_published and result.backend == "instagrapi"
    assert result.permalink == f"https://www.instagram.com/reel/{media.code}/"
    assert result.published_at == media.taken_at
    # The upload time is stored before anything is sent, the media last: its presence means "out".
    assert [stage for stage, _ in progress] == ["uploading", "permalink", "media"]
    uploading = datetime.fromisoformat(progress.resume["uploading"])
    assert before <= uploading <= datetime.now(UTC)
    assert progress.resume["media"] == media.pk and progress.resume["permalink"] == result.permalink
    [client] = clients
    [upload] = client.uploaded
    assert upload["path"] == request_.video_path and upload["caption"] == CAPTION and upload["thumbnail"] == request_.cover_path
    assert client.delay_range == [0.0, 0.0] and client.proxy == "http://proxy.example.test:8080"
    assert client.with_challenge_flow is False          # instagrapi would otherwise prompt on stdin
    assert instagram.calls == ["account_info", "clip_upload", "after_upload"]   # the session is checked before uploading
    assert mode_of(saved_session) == 0o600 and json.loads(saved_session.read_text())["cookies"]["ds_user_id"] == USER_ID


def test_a_missing_cover_lets_instagram_pick_one(clients, factory, saved_session, request_) -> None:
    request_.cover_path.unlink()
    make_publisher(factory, saved_session).publish(request_, {}, Progress())
    assert clients[0].uploaded[0]["thumbnail"] is None


def test_a_missing_video_is_refused_before_anything_is_sent(instagram, factory, saved_session, request_) -> None:
    request_.video_path.unlink()
    progress = Progress()
    with pytest.raises(PublishRefused, match="no such file; render the reel again"):
        make_publisher(factory, saved_session).publish(request_, {}, progress)
    assert progress == [] and instagram.uploads == 0


def test_no_saved_session_and_no_password_is_login_required(instagram, clients, factory, session_file, request_) -> None:
    progress = Progress()
    with pytest.raises(LoginRequired) as caught:
        make_publisher(factory, session_file).publish(request_, {}, progress)
    message = str(caught.value)
    assert f"`{LOGIN_COMMAND} --username {USERNAME}`" in message and str(session_file) in message
    assert progress == [] and instagram.calls == []     # never logs in by itself, never uploads


def test_an_expired_session_without_password_is_login_required_before_uploading(instagram, factory, saved_session, request_) -> None:
    instagram.sessions.clear()      # Instagram logged the session out
    progress = Progress()
    with pytest.raises(LoginRequired, match=f"logged this session out.*{LOGIN_COMMAND}"):
        make_publisher(factory, saved_session).publish(request_, {}, progress)
    assert progress == [] and instagram.uploads == 0


def test_an_unreadable_session_file_is_login_required(instagram, factory, session_file, request_) -> None:
    session_file.parent.mkdir(parents=True)
    session_file.write_text("{not json", encoding="utf-8")
    with pytest.raises(LoginRequired, match=LOGIN_COMMAND):
        make_publisher(factory, session_file).publish(request_, {}, Progress())
    assert instagram.uploads == 0


@pytest.mark.parametrize("endpoint", ["account_info", "clip_upload"])
def test_a_challenge_is_login_required_naming_the_command(instagram, factory, saved_session, request_, endpoint: str) -> None:
    instagram.fail(endpoint, recorded("ChallengeRequired"))
    with pytest.raises(LoginRequired) as caught:
        make_publisher(factory, saved_session).publish(request_, {}, Progress())
    message = str(caught.value)
    assert f"`{LOGIN_COMMAND} --username {USERNAME}`" in message and "confirm it was you" in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__   # instagrapi's traceback stays behind


@pytest.mark.parametrize(
    ("error", "expected", "words", "retry_after_s"),
    [
        (recorded("PleaseWaitFewMinutes"), PublishRetryable, "asks to wait a few minutes", 300),
        (recorded("RateLimitError"), PublishRetryable, "rate limited", 900),
        (ig.ClientThrottledError("429 Client Error: Too Many Requests"), PublishRetryable, "rate limited", 900),
        (recorded("FeedbackRequired"), PublishRetryable, "blocking actions on this account", 6 * 3600),
        (ig.ClientConnectionError("ConnectionError HTTPSConnectionPool(host='i.instagram.com', port=443)"), PublishRetryable, "network trouble", None),
        (requests.ReadTimeout("HTTPSConnectionPool(host='i.instagram.com', port=443): Read timed out."), PublishRetryable, "no answer from Instagram within 60 s", None),
        (ig.ClipConfigureError(message="Transcode not finished yet.", status="fail"), PublishRetryable, "did not confirm the reel", None),
        (ig.ClipNotUpload("Clip upload failed during rupload_upload: HTTP 503", stage="rupload_upload", status_code=503), PublishRetryable, "will retry", None),
        (ig.ClipNotUpload("Clip upload failed during rupload_init: HTTP 400", stage="rupload_init", status_code=400), PublishRefused, "render the reel again as a standard MP4", None),
        (ig.ClipNotUpload("Clip upload failed during upload_settings: HTTP 403", stage="upload_settings", status_code=403), LoginRequired, LOGIN_COMMAND, None),
        (ig.VideoTooLongException(message="VideoTooLongException: video too long", status="fail"), PublishRefused, "render a shorter reel", None),
        (ValueError("MP4 metadata box 'moov' was not found"), PublishRefused, "cannot read the video", None),
        (recorded("LoginRequired"), LoginRequired, LOGIN_COMMAND, None),
        (ig.ProxyAddressIsBlocked(message="Instagram has blocked your IP address"), PublishRefused, "residential proxy", None),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else None,
)
def test_upload_errors_are_translated_with_the_fix(instagram, factory, saved_session, request_, error, expected, words, retry_after_s) -> None:
    instagram.fail("clip_upload", error)
    with pytest.raises(PublishRefused if expected is LoginRequired else expected) as caught:
        make_publisher(factory, saved_session).publish(request_, {}, Progress())
    assert type(caught.value) is expected and words in str(caught.value)
    if retry_after_s is not None:
        assert caught.value.retry_after_s == retry_after_s
    if expected is PublishRetryable:
        assert "the next attempt checks whether the reel went out" in str(caught.value)


def test_feedback_required_explains_the_block(instagram, factory, saved_session, request_) -> None:
    instagram.fail("clip_upload", recorded("FeedbackRequired"))
    with pytest.raises(PublishRetryable) as caught:
        make_publisher(factory, saved_session).publish(request_, {}, Progress())
    message = str(caught.value)
    assert "We limit how often you can do certain things" in message and "hours to days" in message


def test_an_unexpected_error_keeps_its_traceback(instagram, factory, saved_session, request_) -> None:
    instagram.fail("clip_upload", KeyError("configure"))     # a bug somewhere: not ours to disguise
    with pytest.raises(KeyError):
        make_publisher(factory, saved_session).publish(request_, {}, Progress())


# -- exactly once ---------------------------------------------------------------------------------------


def test_a_crash_after_the_upload_is_found_and_not_uploaded_again(instagram, factory, saved_session, request_) -> None:
    instagram.fail("after_upload", SimulatedCrash("killed after Instagram stored the reel, before publish() returned"))
    stored = Progress()
    with pytest.raises(SimulatedCrash):
        make_publisher(factory, saved_session).publish(request_, {}, stored)
    assert [stage for stage, _ in stored] == ["uploading"]     # all the caller kept
    [media] = instagram.medias

    # The next process: a new publisher and client, with what the caller stored.
    retry = make_publisher(factory, saved_session)
    found = retry.find_published(request_, stored.resume)
    assert found is not None and found.already_published
    assert found.media_id == media.pk and found.permalink == f"https://www.instagram.com/reel/{media.code}/"
    # publish() called with the same resume (without find_published first) does not upload either.
    again = make_publisher(factory, saved_session).publish(request_, stored.resume, Progress())
    assert again.already_published and again.media_id == media.pk
    assert instagram.uploads == 1 and len(instagram.medias) == 1


def test_an_older_post_with_the_same_caption_is_not_taken_for_this_one(instagram, factory, saved_session, request_) -> None:
    decoy = instagram.add_media(CAPTION, datetime.now(UTC) - timedelta(days=2))            # last week's identical caption
    instagram.add_media("Something else entirely.", datetime.now(UTC))                      # a newer post, another caption
    resume = {"uploading": datetime.now(UTC).isoformat()}    # the earlier attempt died before its upload reached Instagram

    publisher = make_publisher(factory, saved_session)
    assert publisher.find_published(request_, resume) is None
    progress = Progress()
    result = publisher.publish(request_, resume, progress)

    assert not result.already_published and result.media_id != decoy.pk
    assert instagram.uploads == 1 and len(instagram.medias) == 3
    # find_published just looked: publish() right after did not ask Instagram a second time.
    assert instagram.calls.count("user_clips") == 1 and instagram.calls.count("user_medias") == 1


def test_captions_match_with_whitespace_folded_and_reels_off_the_grid_are_found(instagram, factory, saved_session, request_) -> None:
    uploading = datetime.now(UTC)
    media = instagram.add_media(CAPTION.replace("\n\n", "\r\n\r\n") + " ", uploading + timedelta(seconds=20))
    found = make_publisher(factory, saved_session).find_published(request_, {"uploading": uploading.isoformat()})
    assert found is not None and found.media_id == media.pk
    assert instagram.calls[-1] == "user_clips"     # the reels list answered: no second listing


def test_a_publisher_kept_running_picks_up_a_new_login(instagram, factory, saved_session, request_) -> None:
    publisher = make_publisher(factory, saved_session)
    publisher.publish(request_, {}, Progress())
    instagram.sessions.clear()                   # Instagram logs the session out between two reels
    with pytest.raises(LoginRequired, match=LOGIN_COMMAND):
        publisher.publish(request_, {}, Progress())
    relogged = FakeClient(instagram)             # the creator runs `reeltwin instagram login`
    relogged.cookies = instagram.issue_session()
    relogged.dump_settings(saved_session)
    assert not publisher.publish(request_, {}, Progress()).already_published
    assert instagram.uploads == 3 and len(instagram.medias) == 2


def test_a_stored_media_is_reported_without_asking_instagram(instagram, clients, factory, saved_session, request_) -> None:
    resume = {"uploading": "2026-01-01T00:00:00+00:00", "permalink": "https://www.instagram.com/reel/DRtw0000042/", "media": "3500000000000000042"}
    publisher = make_publisher(factory, saved_session)
    for result in (publisher.find_published(request_, resume), publisher.publish(request_, resume, Progress())):
        assert result.already_published and result.media_id == "3500000000000000042"
        assert result.permalink == "https://www.instagram.com/reel/DRtw0000042/"
    assert clients == [] and instagram.calls == []


def test_nothing_stored_means_nothing_published(instagram, clients, factory, saved_session, request_) -> None:
    assert make_publisher(factory, saved_session).find_published(request_, {}) is None
    assert clients == []


def test_a_failed_lookup_is_translated_too(instagram, factory, saved_session, request_) -> None:
    instagram.fail("user_clips", recorded("PleaseWaitFewMinutes"))
    with pytest.raises(PublishRetryable, match="list recent reels"):
        make_publisher(factory, saved_session).find_published(request_, {"uploading": datetime.now(UTC).isoformat()})


# -- logging in with a password (scheduled jobs with publishing.instagrapi_password) --------------------


def test_with_a_password_a_rejected_session_is_replaced_by_a_fresh_login(instagram, factory, saved_session, request_) -> None:
    old = json.loads(saved_session.read_text())["cookies"]["sessionid"]
    instagram.sessions.clear()
    result = make_publisher(factory, saved_session, password=PASSWORD).publish(request_, {}, Progress())
    assert not result.already_published
    saved = json.loads(saved_session.read_text())
    assert saved["cookies"]["sessionid"] != old and saved["cookies"]["sessionid"] in instagram.sessions
    assert saved["uuids"]["phone_id"].endswith("0001")     # the device Instagram knows is kept
    assert mode_of(saved_session) == 0o600 and PASSWORD not in saved_session.read_text()


def test_login_with_a_totp_secret_writes_a_private_session_file(factory, session_file) -> None:
    instagram_with_2fa = FakeInstagram(totp_seed=TOTP_SEED)
    publisher = make_publisher(lambda: FakeClient(instagram_with_2fa), session_file, password=PASSWORD, totp_secret=TOTP_SEED.lower())
    assert publisher.login() == USER_ID
    assert mode_of(session_file) == 0o600 and mode_of(session_file.parent) == 0o700
    text = session_file.read_text()
    assert PASSWORD not in text and TOTP_SEED not in text
    assert [p.name for p in session_file.parent.iterdir()] == [session_file.name]     # no temporary file left behind


class FernetCipher:
    """The SessionCipher ReelTwin hands in (agent.publish_accounts.session_cipher), made from a key of its own."""

    def __init__(self, key: bytes | None = None):
        from cryptography.fernet import Fernet

        self.fernet = Fernet(key or Fernet.generate_key())

    def encrypt(self, plain: str) -> str:
        return self.fernet.encrypt(plain.encode()).decode()

    def decrypt(self, token: str) -> str:
        from cryptography.fernet import InvalidToken

        try:
            return self.fernet.decrypt(token.encode()).decode()
        except InvalidToken as error:
            raise ValueError("wrong key") from error


def test_with_a_cipher_the_session_is_encrypted_and_only_that_key_opens_it(instagram, factory, session_file, request_) -> None:
    cipher = FernetCipher()
    make_publisher(factory, session_file, password=PASSWORD, cipher=cipher).login()
    text = session_file.read_text()
    assert mode_of(session_file) == 0o600
    assert "sessionid" not in text and USER_ID not in text and PASSWORD not in text      # nothing of the login is readable
    saved = json.loads(cipher.decrypt(text))
    assert saved["cookies"]["sessionid"] in instagram.sessions
    # a scheduled publish loads it with the same key, no password needed
    result = make_publisher(factory, session_file, cipher=cipher).publish(request_, {}, Progress())
    assert not result.already_published and len(instagram.medias) == 1
    # another key, or none: one line naming the key and the fix, and the file is left as it was
    for other, words in ((FernetCipher(), "cannot be decrypted with accounts.secret_key"), (None, "no accounts.secret_key is set")):
        before = session_file.read_text()
        with pytest.raises(LoginRequired) as caught:
            make_publisher(factory, session_file, cipher=other).publish(request_, {}, Progress())
        message = str(caught.value)
        assert words in message and LOGIN_COMMAND in message and "\n" not in message
        assert session_file.read_text() == before
        state = make_publisher(factory, session_file, cipher=other).check_session(online=False)
        assert state.exists and state.valid is False and words in state.detail
    assert len(instagram.medias) == 1


def test_a_plain_session_from_before_is_read_and_saved_encrypted(instagram, factory, saved_session, request_) -> None:
    sessionid = json.loads(saved_session.read_text())["cookies"]["sessionid"]
    cipher = FernetCipher()
    result = make_publisher(factory, saved_session, cipher=cipher).publish(request_, {}, Progress())
    assert not result.already_published
    text = saved_session.read_text()
    assert not text.lstrip().startswith("{") and json.loads(cipher.decrypt(text))["cookies"]["sessionid"] == sessionid
    assert mode_of(saved_session) == 0o600 and [p.name for p in saved_session.parent.iterdir()] == [saved_session.name]


def test_a_needed_two_factor_code_is_asked_for(session_file) -> None:
    instagram_with_2fa = FakeInstagram(totp_seed=TOTP_SEED)
    publisher = make_publisher(lambda: FakeClient(instagram_with_2fa), session_file, password=PASSWORD)
    with pytest.raises(TwoFactorCodeRequired, match=LOGIN_COMMAND):
        publisher.login()
    assert publisher.login(verification_code=TOTPMixin.totp_generate_code(TOTP_SEED)) == USER_ID


def test_the_password_never_appears_in_messages_or_logs(instagram, factory, session_file, request_, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "Wr0ng-Secret-Pass!"
    publisher = make_publisher(factory, session_file, password=wrong)
    assert wrong not in repr(publisher)
    with pytest.raises(LoginRequired) as caught:
        publisher.publish(request_, {}, Progress())
    assert "rejected the username or password" in str(caught.value) and LOGIN_COMMAND in str(caught.value)
    # Even where an answer echoes it back (or instagrapi logs it), it is masked.
    instagram.password = wrong
    instagram.fail("clip_upload", ig.ClientError(f"bad request: enc_password={wrong}", code=400))
    logging.getLogger("instagrapi").info("private_request body enc_password=%s", wrong)
    with pytest.raises(PublishRetryable) as echoed:
        make_publisher(factory, session_file, password=wrong).publish(request_, {}, Progress())
    assert "***" in str(echoed.value)
    for text in (str(caught.value), str(echoed.value), caplog.text):
        assert wrong not in text


# -- the real instagrapi.Client against recorded HTTP answers -----------------------------------------


class RecordedHTTP(requests.adapters.BaseAdapter):
    """A requests transport that answers from a list instead of the network, recording what was asked."""

    def __init__(self, answers: list[tuple[int, dict[str, Any]] | BaseException]):
        super().__init__()
        self.answers = deque(answers)
        self.sent: list[tuple[str, str, Any]] = []

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        self.sent.append((request.method, request.url, timeout))
        answer = self.answers.popleft()
        if isinstance(answer, BaseException):
            raise answer
        status, body = answer
        response = requests.Response()
        response.status_code, response.reason, response.url, response.request = status, "Recorded", request.url, request
        response._content = json.dumps(body).encode()
        response.headers["Content-Type"] = "application/json; charset=utf-8"
        response.encoding = "utf-8"
        return response

    def close(self) -> None:
        pass


@pytest.fixture
def real_session(session_file: Path) -> Path:
    settings = Client().get_settings()
    settings.update(request_timeout=0, cookies={"sessionid": f"{USER_ID}%3AfakeSession%3A27", "ds_user_id": USER_ID, "csrftoken": "fakeCsrfToken0123456789"})
    session_file.parent.mkdir(parents=True, mode=0o700)
    session_file.write_text(json.dumps(settings), encoding="utf-8")
    session_file.chmod(0o600)
    return session_file


def real_client_with(http: RecordedHTTP) -> Callable[[], Client]:
    def make() -> Client:
        client = Client()
        client.private.mount("https://", http)
        return client

    return make


@pytest.mark.parametrize(
    ("answer", "valid", "words"),
    [
        ((400, ERROR_BODIES["ChallengeRequired"]), False, f"confirm it was you, then run `{LOGIN_COMMAND}"),
        ((403, ERROR_BODIES["LoginRequired"]), False, f"logged this session out or no longer accepts it trying to check the session (LoginRequired: login_required); run `{LOGIN_COMMAND}"),
        ((429, ERROR_BODIES["PleaseWaitFewMinutes"]), None, "asks to wait a few minutes trying to check the session; try again later"),
        (requests.ReadTimeout("Read timed out. (read timeout=7)"), None, "no answer from Instagram within 7 s"),
        (requests.ConnectionError("Failed to resolve 'i.instagram.com'"), None, "network trouble trying to check the session"),
    ],
    ids=["challenge", "logged out", "please wait", "timeout", "offline"],
)
def test_session_check_through_the_real_client(real_session: Path, answer, valid, words: str) -> None:
    http = RecordedHTTP([answer])
    publisher = InstagrapiPublisher(username=USERNAME, session_file=real_session, delay_range=(0, 0), timeout_s=7,
                                    client_factory=real_client_with(http))
    state = publisher.check_session()
    assert state.exists and state.user_id == USER_ID and state.valid is valid and words in state.detail
    [(_method, url, timeout)] = http.sent
    assert url == "https://i.instagram.com/api/v1/accounts/current_user/?edit=true" and timeout == 7   # never waits forever


def test_the_real_client_never_prompts_on_a_challenge(real_session: Path, request_, monkeypatch) -> None:
    monkeypatch.setattr("builtins.input", lambda *_: pytest.fail("instagrapi prompted on stdin"))
    http = RecordedHTTP([(400, ERROR_BODIES["ChallengeRequired"])])
    publisher = InstagrapiPublisher(username=USERNAME, session_file=real_session, delay_range=(0, 0), client_factory=real_client_with(http))
    with pytest.raises(LoginRequired, match=LOGIN_COMMAND):
        publisher.publish(request_, {}, Progress())
    assert len(http.sent) == 1


def test_the_default_client_is_instagrapis_with_a_timeout_and_no_prompts(real_session: Path) -> None:
    publisher = InstagrapiPublisher(username=USERNAME, session_file=real_session, delay_range=(1, 3), timeout_s=9)
    assert publisher.check_session(online=False).valid is None      # offline: the file is there, nothing asked
    client = publisher._new_client()
    assert isinstance(client, Client) and client.delay_range == [1.0, 3.0] and client.with_challenge_flow is False
    http = RecordedHTTP([(200, {"status": "ok"}), (200, {"status": "ok"})])
    for session in (client.private, client.public):
        session.mount("https://", http)
        session.get("https://i.instagram.com/api/v1/launcher/sync/")
    assert [timeout for _method, _url, timeout in http.sent] == [9, 9]


def test_session_files_are_named_for_the_account(tmp_path: Path) -> None:
    assert session_file_for(tmp_path, "@ReelTwin.Demo") == tmp_path / "instagram" / "reeltwin.demo.json"
    with pytest.raises(PublishRefused, match="not a username"):
        session_file_for(tmp_path, "../etc")


# -- through the database: publish_reel, a crash, the sweep that resumes --------------------------------


def _rendered_reel(session, video: Path) -> int:
    from agent.content_calendar.loader import load_calendar
    from agent.content_calendar.planner import sync_plan
    from agent.db.models import Creator, Reel, utcnow
    from agent.approval.queue import add_draft, approve

    calendar = load_calendar(REPO / "calendar" / "example.yaml").calendar
    now = utcnow()
    report = sync_plan(session, calendar, now=now - timedelta(days=1), days=14)
    creator = session.execute(select(Creator)).scalar_one()
    reel = add_draft(session, creator, slot=report.slots[0], script="Pre-cut vegetables cost you twice.", caption="Whole veg, half price.", hashtags=["#cookingtips"])
    session.commit()
    approve(session, [reel.id])
    session.execute(Reel.__table__.update().where(Reel.id == reel.id).values(status="rendered", artifacts={"video": str(video)}, publish_at=now - timedelta(minutes=1)))
    session.commit()
    return reel.id


def test_publish_reel_after_a_crash_posts_exactly_once(session, tmp_path: Path, instagram, factory, saved_session, request_) -> None:
    from agent.db.models import Reel, ReelStatus, utcnow
    from agent.jobs.leases import PUBLISH_LEASE as LEASE
    from agent.jobs.publish import publish_due, publish_reel
    from agent.settings import load_settings

    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "settings.toml").write_text(f'[database]\nurl = "{session.get_bind().url.render_as_string(hide_password=False)}"\n', encoding="utf-8")
    settings = load_settings(tmp_path).settings
    reel_id = _rendered_reel(session, request_.video_path)

    instagram.fail("after_upload", SimulatedCrash("killed right after the upload"))
    with pytest.raises(SimulatedCrash):
        publish_reel(session, settings, reel_id, publisher=make_publisher(factory, saved_session), worker="dying")
    session.rollback()
    session.expire_all()
    reel = session.get(Reel, reel_id)
    assert reel.status == ReelStatus.PUBLISHING and set(reel.publish_state) == {"uploading"}

    [outcome] = publish_due(session, settings, publisher=make_publisher(factory, saved_session), worker="w2", now=utcnow() + LEASE + timedelta(minutes=1))
    assert outcome.result == "already published"
    session.expire_all()
    reel = session.get(Reel, reel_id)
    [media] = instagram.medias
    assert reel.status == ReelStatus.PUBLISHED and reel.media_id == media.pk and reel.permalink.endswith(f"/reel/{media.code}/")
    assert instagram.uploads == 1


# -- the command line: reeltwin instagram login | status ------------------------------------------------


@pytest.fixture
def cli(tmp_path: Path, instagram: FakeInstagram, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Any]]:
    """`reeltwin instagram ...` in-process, in a fresh project, with the fake client behind the command."""
    from agent.cli import instagram_cmd
    from agent.cli.context import AppContext
    from agent.cli.main import ReelTwinGroup

    for name in list(os.environ):
        if name.upper().startswith("REELTWIN_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("NO_COLOR", "1")
    project = tmp_path / "project"
    (project / "config").mkdir(parents=True)
    (project / "config" / "settings.toml").write_text('[publishing]\nbackend = "instagrapi"\n', encoding="utf-8")
    made: list[FakeClient] = []
    monkeypatch.setattr(instagram_cmd, "client_factory", lambda: made.append(FakeClient(instagram)) or made[-1])

    root = typer.Typer(cls=ReelTwinGroup, no_args_is_help=True, pretty_exceptions_enable=False)

    @root.callback()
    def _root(ctx: typer.Context) -> None:
        ctx.obj = AppContext(project)
        ctx.call_on_close(ctx.obj.close)

    root.add_typer(instagram_cmd.app, name="instagram")
    runner = CliRunner()
    logger = logging.getLogger()
    level = logger.level

    def invoke(*args: str, input: str | None = None) -> Any:
        result = runner.invoke(root, ["instagram", *args], input=input)
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        return result

    invoke.session_file = session_file_for(project / "data", USERNAME)  # type: ignore[attr-defined]
    try:
        yield invoke
    finally:
        for handler in [h for h in logger.handlers if getattr(h, "_reeltwin", False)]:
            logger.removeHandler(handler)
        logger.setLevel(level)


def test_cli_login_with_password_stdin_saves_a_private_session(cli, instagram) -> None:
    result = cli("login", "--username", USERNAME, "--password-stdin", input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    session_file = cli.session_file
    assert f"logged in to Instagram as {USERNAME} (user id {USER_ID}); session saved to {session_file}" in " ".join(result.output.split())
    assert mode_of(session_file) == 0o600 and mode_of(session_file.parent) == 0o700
    assert PASSWORD not in session_file.read_text() and PASSWORD not in result.output
    # the first login made the accounts key (.env, mode 600) and the session is encrypted with it
    assert "created the key that encrypts account secrets" in " ".join(result.output.split())
    dotenv = session_file.parents[2] / ".env"      # <project>/data/instagram/<user>.json
    [key] = [line.split("=", 1)[1] for line in dotenv.read_text().splitlines() if line.startswith("REELTWIN_ACCOUNTS__SECRET_KEY=")]
    assert mode_of(dotenv) == 0o600 and "sessionid" not in session_file.read_text()
    assert json.loads(FernetCipher(key.encode()).decrypt(session_file.read_text()))["cookies"]["sessionid"] in instagram.sessions

    status = cli("status", "--username", USERNAME)
    assert status.exit_code == 0 and "valid" in status.output
    as_json = json.loads(cli("status", "--username", USERNAME, "--json").stdout)
    assert as_json["valid"] is True and as_json["user_id"] == USER_ID


def test_cli_login_with_a_totp_secret_from_stdin(cli, instagram) -> None:
    instagram.totp_seed = TOTP_SEED
    cli.session_file.parent.mkdir(parents=True, mode=0o755)
    cli.session_file.parent.chmod(0o755)             # a sessions folder others can read gets tightened
    result = cli("login", "-u", USERNAME, "--password-stdin", "--totp-secret-stdin", input=f"{PASSWORD}\n{TOTP_SEED}\n")
    assert result.exit_code == 0, result.output
    assert TOTP_SEED not in cli.session_file.read_text() and TOTP_SEED not in result.output
    assert mode_of(cli.session_file) == 0o600 and mode_of(cli.session_file.parent) == 0o700


def test_cli_login_without_a_terminal_asks_for_the_2fa_secret(cli, instagram) -> None:
    instagram.totp_seed = TOTP_SEED
    result = cli("login", "-u", USERNAME, "--password-stdin", input=PASSWORD + "\n")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "--totp-secret-stdin" in result.stderr and "two-factor code" in result.stderr
    assert not cli.session_file.exists()


def test_cli_login_with_a_wrong_password_is_one_line_without_the_password(cli) -> None:
    wrong = "Wr0ng-Secret-Pass!"
    result = cli("login", "-u", USERNAME, "--password-stdin", input=wrong + "\n")
    assert result.exit_code == 2 and result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert "rejected the username or password" in result.stderr and wrong not in result.output + result.stderr


def test_cli_login_challenge_names_the_fix(cli, instagram) -> None:
    instagram.fail("login", recorded("ChallengeRequired"))
    result = cli("login", "-u", USERNAME, "--password-stdin", input=PASSWORD + "\n")
    assert result.exit_code == 2 and "confirm it was you" in result.stderr and LOGIN_COMMAND in result.stderr


def test_cli_login_without_password_or_terminal_says_how(cli) -> None:
    result = cli("login", "-u", USERNAME)
    assert result.exit_code == 2 and "--password-stdin" in result.stderr


def test_cli_login_needs_a_username(cli) -> None:
    result = cli("login", "--password-stdin", input=PASSWORD + "\n")
    assert result.exit_code == 2 and "--username" in result.stderr


def test_cli_status_without_a_session_names_the_login_command(cli) -> None:
    result = cli("status", "-u", USERNAME)
    assert result.exit_code == 2 and f"`{LOGIN_COMMAND} --username {USERNAME}`" in result.stderr


def test_cli_status_offline_says_it_cannot_check(cli, instagram) -> None:
    assert cli("login", "-u", USERNAME, "--password-stdin", input=PASSWORD + "\n").exit_code == 0
    instagram.fail("account_info", ig.ClientConnectionError("ConnectionError Failed to resolve 'i.instagram.com'"))
    result = cli("status", "-u", USERNAME)
    assert result.exit_code == 0 and "cannot check whether Instagram still accepts it" in " ".join(result.output.split())
    offline = cli("status", "-u", USERNAME, "--offline", "--json")
    assert json.loads(offline.stdout)["valid"] is None


def test_cli_status_of_a_logged_out_session(cli, instagram) -> None:
    assert cli("login", "-u", USERNAME, "--password-stdin", input=PASSWORD + "\n").exit_code == 0
    instagram.sessions.clear()
    result = cli("status", "-u", USERNAME)
    assert result.exit_code == 2 and "not usable" in result.stderr and LOGIN_COMMAND in result.stderr
