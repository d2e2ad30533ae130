"""The instagrapi publisher: Instagram's private (mobile app) API through a saved login session.

For personal accounts the Graph API cannot reach. instagrapi is wrapped here and
nowhere else: its exceptions are translated at this boundary into ours
(:class:`LoginRequired`, :class:`PublishRetryable`, :class:`PublishRefused`), each
naming the fix.

Login. A scheduled job never logs in interactively. It loads the session saved by
``reeltwin instagram login`` (``<data_dir>/instagram/<username>.json``, mode 0600);
with a password configured it lets instagrapi validate that session and log in
again if Instagram dropped it (the documented ``load_settings`` + ``login`` pattern),
without one a missing or rejected session is :class:`LoginRequired` naming the
command. instagrapi's own challenge flow, which would wait on ``input()``, is
switched off except where a terminal prompt is handed in.

Exactly-once (see :mod:`publishing.base`). Uploading a reel is one call
(``clip_upload``) with nothing to resume in between, so the time is stored through
``on_progress("uploading", <ISO time>)`` just before it, and ``permalink`` and
``media`` right after it. A retry with ``media`` stored reports that media; with only
``uploading`` stored it looks among the account's recent reels (then posts) for one
whose caption equals the request's (whitespace folded) taken no earlier than the
upload began, less a clock-skew allowance, and reports it instead of uploading again.
An older post with the same caption is not taken for this one.

Secrets. The password and TOTP secret never appear in exception messages or in
this module's or instagrapi's log lines; the session file (it holds the session
cookie) is written with mode 0600 and, given a ``cipher`` (ReelTwin passes one made
from ``accounts.secret_key``), encrypted: instagrapi's settings as JSON inside a
Fernet token. A plain JSON session file from before is still read, and written
encrypted the next time it is saved.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from publishing import redaction
from publishing.base import (
    Capability,
    LoginRequired,
    PublishProgress,
    PublishRefused,
    PublishRequest,
    PublishResult,
    PublishRetryable,
    Publisher,
)
from publishing.media_lookup import fold_caption, parse_time

logger = logging.getLogger(__name__)

LOGIN_COMMAND = "reeltwin instagram login"
# Our clock and Instagram's may disagree; a reel this much older than our upload start still counts.
CLOCK_SKEW = timedelta(minutes=5)
RECENT_MEDIA_AMOUNT = 20
# find_published() just found nothing: publish() called within this long does not ask Instagram again.
LOOKUP_REUSE = timedelta(seconds=60)
DEFAULT_TIMEOUT_S = 60.0
SESSION_FILE_MODE = 0o600
SESSION_DIR_MODE = 0o700
# How long Instagram's soft blocks usually last: the caller waits at least this long before retrying.
PLEASE_WAIT_S = 5 * 60
RATE_LIMIT_WAIT_S = 15 * 60
FEEDBACK_BLOCK_WAIT_S = 6 * 60 * 60
VIDEO_FIX = "render the reel again as a standard MP4 (H.264 video, AAC audio, 9:16, 3 s to 3 min) and publish again"
_MAX_DETAIL = 240


class SessionCipher(Protocol):
    """Encrypts the saved session (ReelTwin's accounts key); ``decrypt`` raises ValueError when the key does not fit."""

    def encrypt(self, plain: str) -> str: ...

    def decrypt(self, token: str) -> str: ...


class TwoFactorCodeRequired(LoginRequired):
    """Instagram asks for a two-factor code: pass one (or a TOTP secret) to :meth:`InstagrapiPublisher.login`."""


@dataclass(frozen=True)
class SessionState:
    """What ``reeltwin instagram status`` reports about a saved session."""

    username: str
    session_file: Path
    exists: bool
    valid: bool | None               # None: could not ask Instagram (offline, rate limited, not checked)
    user_id: str | None = None
    saved_at: datetime | None = None
    detail: str = ""


def session_file_for(data_dir: Path, username: str) -> Path:
    """Where the session of ``username`` lives: ``<data_dir>/instagram/<username>.json``."""
    name = username.strip().lstrip("@").lower()
    if not name or "/" in name or "\\" in name or name in (".", ".."):
        raise PublishRefused(f"Instagram username {username!r} is not a username; pass the account's handle without '@'")
    return data_dir / "instagram" / f"{name}.json"


def _install_mask(target: logging.Logger, secrets: Iterable[str]) -> None:
    """instagrapi logs request lines and answers: make sure a password or TOTP secret never gets through."""
    redaction.install(target, redaction.RedactSecrets(secrets, min_length=1))


def _with_default_timeout(session: Any, timeout_s: float) -> None:
    """instagrapi's private and upload requests pass no timeout (requests then waits forever): give them one."""
    if getattr(session, "_reeltwin_timeout_s", None) is not None:
        session._reeltwin_timeout_s = timeout_s
        return
    send = session.request

    def request(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("timeout") is None and len(args) < 7:   # timeout is request()'s 7th parameter after the URL
            kwargs["timeout"] = session._reeltwin_timeout_s
        return send(method, url, *args, **kwargs)

    session._reeltwin_timeout_s = timeout_s
    session.request = request


def default_client() -> Any:
    """A real ``instagrapi.Client`` (imported here: the package is the optional ``instagram`` extra)."""
    try:
        from instagrapi import Client
    except ImportError:
        raise PublishRefused("publishing.backend is instagrapi but instagrapi is not installed; pip install 'reeltwin[instagram]'") from None
    return Client()


def _exceptions() -> Any:
    from instagrapi import exceptions

    return exceptions


class InstagrapiPublisher(Publisher):
    """Publishes reels through instagrapi with a saved login session (kept logged in until :meth:`close`)."""

    name = "instagrapi"
    capabilities: frozenset[Capability] = frozenset()   # no audience insights; no per-reel AI label (see publish())

    def __init__(
        self,
        *,
        username: str,
        session_file: Path,
        password: str | None = None,
        totp_secret: str | None = None,
        proxy: str | None = None,
        delay_range: tuple[float, float] = (2, 5),
        client_factory: Callable[[], Any] | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        cipher: SessionCipher | None = None,
    ):
        username = (username or "").strip().lstrip("@")
        if not username:
            raise LoginRequired(f"Instagram (instagrapi): no username given; set publishing.instagrapi_username and run `{LOGIN_COMMAND}`")
        low, high = delay_range
        if not 0 <= low <= high:
            raise PublishRefused(f"instagrapi delay_range {delay_range!r}: give (min, max) seconds with 0 <= min <= max")
        self.username = username
        self.session_file = Path(session_file)
        self._password = password or None
        self._totp_secret = "".join((totp_secret or "").split()) or None
        self.proxy = proxy or None
        self.delay_range = (float(low), float(high))
        self.timeout_s = timeout_s
        self._client_factory = client_factory or default_client
        self._clock = clock
        self._cipher = cipher
        self._session_problem: str | None = None     # why the saved session could not be read, for the message
        self._client: Any = None
        # (publish_key, uploading, when): just searched without a match, so publish() right after need not search again.
        self._looked_up: tuple[str, str, datetime] | None = None
        _install_mask(logger, self._secrets())

    def __repr__(self) -> str:
        # No password, no TOTP secret, no proxy (its URL may carry credentials).
        return f"InstagrapiPublisher(username={self.username!r}, session_file={str(self.session_file)!r})"

    def close(self) -> None:
        """Close the logged-in client's HTTP sessions; the next call loads the saved session again."""
        client, self._client = self._client, None
        for attribute in ("private", "public", "graphql"):
            session = getattr(client, attribute, None)
            if session is not None and callable(getattr(session, "close", None)):
                session.close()

    # -- the Publisher protocol ---------------------------------------------------------------

    def find_published(self, request: PublishRequest, resume: Mapping[str, str]) -> PublishResult | None:
        """Did an earlier attempt go out? ``media`` stored: yes; ``uploading`` stored: look among the recent reels."""
        if resume.get("media"):
            return PublishResult(
                media_id=str(resume["media"]), permalink=resume.get("permalink") or None,
                published_at=parse_time(resume.get("uploading")) or self._clock(),
                backend=self.name, already_published=True,
            )
        uploading = resume.get("uploading")
        if not uploading:
            return None
        found = self._find_recent(request, uploading)
        self._looked_up = None if found else (request.publish_key, uploading, self._clock())
        return found

    def publish(
        self,
        request: PublishRequest,
        resume: Mapping[str, str],
        on_progress: Callable[[PublishProgress], None],
    ) -> PublishResult:
        """Upload the reel, unless an earlier attempt (``resume``) already went out."""
        if resume.get("media"):
            return self.find_published(request, resume)  # type: ignore[return-value]
        uploading = resume.get("uploading")
        if uploading and not self._just_looked_up(request.publish_key, uploading):
            found = self._find_recent(request, uploading)
            if found is not None:
                return found
        self._looked_up = None

        if not request.video_path.is_file():
            raise PublishRefused(f"video {str(request.video_path)!r}: no such file; render the reel again")
        cover = request.cover_path
        if cover is not None and not cover.is_file():
            logger.warning("cover %r: no such file; instagrapi makes a cover from the video", str(cover))
            cover = None
        # AI label: instagrapi documents no per-media "AI info" field for clip_upload (nor does the
        # private configure call it wraps, as far as instagrapi knows), so none is sent and none is
        # faked through extra_data. Its account_set_ai_info() labels the whole profile, which is the
        # creator's decision to make in the app, not something a publish should change.
        if request.ai_generated:
            logger.info("instagrapi cannot set Instagram's AI label on a reel; add it in the Instagram app if you want it shown")

        client = self._ready_client()
        on_progress(PublishProgress("uploading", self._clock().isoformat()))
        # instagrapi print()s progress lines; stdout belongs to the commands' output (--json).
        with contextlib.redirect_stdout(sys.stderr):
            media = self._call(
                lambda: client.clip_upload(request.video_path, request.caption, thumbnail=cover, show_preview_in_feed=request.share_to_feed),
                action="upload the reel", uploading=True,
            )
        result = self._result(media, already_published=False)
        logger.info("reel uploaded to Instagram account %r as media %s", self.username, result.media_id)
        if result.permalink:
            on_progress(PublishProgress("permalink", result.permalink))
        on_progress(PublishProgress("media", result.media_id))   # last: its presence means "out"
        self._save_session(client, strict=False)
        return result

    def _just_looked_up(self, publish_key: str, uploading: str) -> bool:
        if self._looked_up is None:
            return False
        key, stored_uploading, when = self._looked_up
        return (key, stored_uploading) == (publish_key, uploading) and timedelta(0) <= self._clock() - when <= LOOKUP_REUSE

    # -- login and session --------------------------------------------------------------------

    def login(self, *, verification_code: str | None = None, challenge_code: Callable[[str], str] | None = None) -> str:
        """Log in with the password (and a 2FA code or the TOTP secret), save the session; returns the user id.

        ``challenge_code`` (a terminal prompt) answers an email/SMS security-code challenge;
        without it a challenge is :class:`LoginRequired`. Raises :class:`TwoFactorCodeRequired`
        when Instagram wants a two-factor code that was not given.
        """
        if not self._password:
            raise LoginRequired(f"Instagram account {self.username!r}: no password given; run `{LOGIN_COMMAND} --username {self.username}` on a terminal")
        client = self._new_client(challenge_code=challenge_code)
        self._load_session(client)   # keeps the device identity Instagram already knows: fewer challenges
        self._call(lambda: self._login(client, verification_code), action="log in", retried=False)
        user_id = getattr(client, "user_id", None)
        if not user_id:
            raise PublishRetryable(f"Instagram account {self.username!r}: the login returned no user id; try `{LOGIN_COMMAND}` again")
        self._save_session(client, strict=True)
        self._client = client
        logger.debug("logged in to Instagram as %r (user id %s); session saved", self.username, user_id)
        return str(user_id)

    def check_session(self, *, online: bool = True) -> SessionState:
        """Is there a saved session, and does Instagram still accept it? Never logs in."""
        saved_at = None
        if self.session_file.is_file():
            saved_at = datetime.fromtimestamp(self.session_file.stat().st_mtime, UTC)
        state = {"username": self.username, "session_file": self.session_file, "saved_at": saved_at}
        if saved_at is None:
            return SessionState(**state, exists=False, valid=False, detail=f"no saved session; run `{LOGIN_COMMAND} --username {self.username}`")
        client = self._new_client()
        if not self._load_session(client):
            return SessionState(**state, exists=True, valid=False,
                                detail=self._session_problem or f"the session file cannot be read; run `{LOGIN_COMMAND} --username {self.username}`")
        user_id = str(client.user_id) if getattr(client, "user_id", None) else None
        if user_id is None:
            return SessionState(**state, exists=True, valid=False, detail=f"the session holds no login; run `{LOGIN_COMMAND} --username {self.username}`")
        if not online:
            return SessionState(**state, exists=True, valid=None, user_id=user_id, detail="not checked with Instagram")
        try:
            self._call(client.account_info, action="check the session", retried=False)
        except LoginRequired as error:
            return SessionState(**state, exists=True, valid=False, user_id=user_id, detail=str(error))
        except (PublishRetryable, PublishRefused) as error:
            return SessionState(**state, exists=True, valid=None, user_id=user_id, detail=str(error))
        self._save_session(client, strict=False)
        self._client = client
        return SessionState(**state, exists=True, valid=True, user_id=user_id, detail="Instagram accepts it")

    def _login(self, client: Any, verification_code: str | None) -> None:
        code = (verification_code or "").strip() or self._totp_code(client)
        try:
            client.login(self.username, self._password, verification_code=code)
        except _exceptions().TwoFactorRequired:
            if not self._totp_secret:
                raise
            # The code sent first may have expired on the way (30 s windows): one fresh try.
            client.login(self.username, self._password, verification_code=self._totp_code(client))

    def _totp_code(self, client: Any) -> str:
        if not self._totp_secret:
            return ""
        try:
            return str(client.totp_generate_code(self._totp_secret))
        except (ValueError, TypeError):   # binascii.Error is a ValueError: not base32
            raise PublishRefused("the TOTP secret is not a valid base32 key; copy it again from Instagram's two-factor settings") from None

    def _new_client(self, *, challenge_code: Callable[[str], str] | None = None) -> Any:
        client = self._client_factory()
        client.delay_range = list(self.delay_range)
        if self.proxy:
            client.set_proxy(self.proxy)
        for attribute in ("private", "public", "graphql"):
            session = getattr(client, attribute, None)
            if session is not None and callable(getattr(session, "request", None)):
                _with_default_timeout(session, self.timeout_s)
        if hasattr(client, "read_timeout"):
            client.read_timeout = self.timeout_s
        # instagrapi answers a challenge by prompting on stdin (input()): a scheduled job would hang.
        client.with_challenge_flow = challenge_code is not None
        if challenge_code is not None:
            client.challenge_code_handler = lambda _username, choice=None: challenge_code(str(getattr(choice, "name", choice) or "email or SMS"))

            def refuse_password_change(_username: str) -> str:
                raise _exceptions().ChallengeRequired("Instagram asks for a new password; change it in the Instagram app, then log in again")

            client.change_password_handler = refuse_password_change
        if isinstance(getattr(client, "logger", None), logging.Logger):
            _install_mask(client.logger, self._secrets())
        return client

    def _load_session(self, client: Any) -> bool:
        self._session_problem = None
        if not self.session_file.is_file():
            return False
        mode = self.session_file.stat().st_mode & 0o777
        if mode & 0o077:
            logger.warning("session file %r is readable by others (mode %o); it holds the login cookie: chmod 600 it", str(self.session_file), mode)
        try:
            text = self.session_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeError) as error:
            logger.warning("session file %r cannot be read (%s); a new login is needed", str(self.session_file), type(error).__name__)
            return False
        plain = text.startswith("{")
        if not plain:
            if self._cipher is None:
                self._session_problem = (f"the saved session {str(self.session_file)!r} is encrypted and no accounts.secret_key is set to open it; "
                                         f"put the key back in .env, or log in again: `{LOGIN_COMMAND} --username {self.username}`")
                logger.warning("%s", self._session_problem)
                return False
            try:
                text = self._cipher.decrypt(text)
            except ValueError:
                self._session_problem = (f"the saved session {str(self.session_file)!r} cannot be decrypted with accounts.secret_key (the key changed?); "
                                         f"put the old key back in .env, or log in again: `{LOGIN_COMMAND} --username {self.username}`")
                logger.warning("%s", self._session_problem)
                return False
        try:
            settings = json.loads(text)
            if not isinstance(settings, dict):
                raise ValueError("not an object")
            client.set_settings(settings)
        except (ValueError, KeyError, TypeError) as error:
            logger.warning("session file %r cannot be read (%s); a new login is needed", str(self.session_file), type(error).__name__)
            return False
        if plain and self._cipher is not None:
            self._save_session(client, strict=False)      # a plain session from before: encrypted from now on
        return True

    def _ready_client(self) -> Any:
        """The logged-in client: the saved session, checked with Instagram, or a fresh login with the password."""
        if self._client is not None:
            return self._client
        client = self._new_client()
        loaded = self._load_session(client)
        if self._password:
            # instagrapi validates the loaded session (account_info) and logs in again only if Instagram rejects it.
            self._call(lambda: self._login(client, None), action="log in")
            self._save_session(client, strict=False)
        elif not loaded:
            raise LoginRequired(
                f"Instagram account {self.username!r}: " + (self._session_problem or f"no saved session at {str(self.session_file)!r}; "
                                                             f"run `{LOGIN_COMMAND} --username {self.username}`")
            )
        elif not getattr(client, "user_id", None):
            raise LoginRequired(f"Instagram account {self.username!r}: the saved session holds no login; run `{LOGIN_COMMAND} --username {self.username}`")
        else:
            # One light call before uploading: an expired session fails here, before anything is sent.
            self._call(client.account_info, action="check the session before uploading")
        self._client = client
        return client

    def _save_session(self, client: Any, *, strict: bool) -> None:
        """``dump_settings`` into a 0600 temporary file next to the session file, then rename it into place."""
        target = self.session_file
        temporary: str | None = None
        try:
            if not target.parent.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                os.chmod(target.parent, SESSION_DIR_MODE)
            elif strict and target.parent.stat().st_mode & 0o077:
                os.chmod(target.parent, SESSION_DIR_MODE)   # a login tightens the sessions folder: only its owner gets in
            handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)  # mode 0600
            os.close(handle)
            if self._cipher is not None:
                Path(temporary).write_text(self._cipher.encrypt(json.dumps(client.get_settings())), encoding="utf-8")
            else:
                client.dump_settings(Path(temporary))
            os.chmod(temporary, SESSION_FILE_MODE)
            os.replace(temporary, target)
            temporary = None
        except OSError as error:
            message = f"cannot save the Instagram session to {str(target)!r} ({error.strerror or type(error).__name__}); check the folder's permissions and free space"
            if strict:
                raise PublishRefused(message) from None
            logger.warning("%s", message)
        finally:
            if temporary is not None:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)

    # -- finding an earlier upload ------------------------------------------------------------

    def _find_recent(self, request: PublishRequest, uploading: str) -> PublishResult | None:
        started = parse_time(uploading)
        not_before = started - CLOCK_SKEW if started else None
        if started is None:
            logger.warning("stored upload time %r is not a time; matching recent reels by caption alone", uploading)
        client = self._ready_client()
        user_id = client.user_id
        caption = fold_caption(request.caption)
        # Reels first (a reel kept off the profile grid is only there), then posts, which also list reels.
        for lister in (client.user_clips, client.user_medias):
            medias = self._call(lambda lister=lister: lister(user_id, amount=RECENT_MEDIA_AMOUNT), action="list recent reels")
            candidates = []
            for media in medias or []:
                taken_at = parse_time(getattr(media, "taken_at", None))
                if fold_caption(getattr(media, "caption_text", "")) != caption:
                    continue
                if not_before is None or (taken_at is not None and taken_at >= not_before):
                    candidates.append((taken_at or datetime.max.replace(tzinfo=UTC), media))
            if candidates:
                # The earliest match after our upload began: a later identical caption would be another reel.
                _, media = min(candidates, key=lambda pair: pair[0])
                result = self._result(media, already_published=True)
                logger.info("reel %s was already published by an earlier attempt as media %s", request.publish_key, result.media_id)
                return result
        return None

    def _result(self, media: Any, *, already_published: bool) -> PublishResult:
        code = getattr(media, "code", None)
        return PublishResult(
            media_id=str(getattr(media, "pk", None) or getattr(media, "id", "")),
            permalink=f"https://www.instagram.com/reel/{code}/" if code else None,
            published_at=parse_time(getattr(media, "taken_at", None)) or self._clock(),
            backend=self.name,
            already_published=already_published,
        )

    # -- error translation --------------------------------------------------------------------

    def _secrets(self) -> list[str]:
        return [secret for secret in (self._password, self._totp_secret) if secret]

    def _redact(self, text: str) -> str:
        return redaction.RedactSecrets(self._secrets(), min_length=1).redact(text)

    def _call(self, function: Callable[[], Any], *, action: str, uploading: bool = False, retried: bool = True) -> Any:
        """Run one instagrapi call; its exceptions leave as ours (without the instagrapi traceback chained).

        ``retried``: the caller (the publish sweep) tries again by itself after a temporary failure.
        """
        try:
            return function()
        except Exception as error:
            translated = self._translate(error, action=action, uploading=uploading, retried=retried)
            if translated is None:
                raise
        if isinstance(translated, LoginRequired):
            self._client = None   # the next call loads the session file again (a new `reeltwin instagram login` may have saved one)
        raise translated from None

    def _detail(self, error: BaseException) -> str:
        text = str(getattr(error, "message", "") or error or type(error).__name__)
        text = " ".join(self._redact(text).split())
        return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 1] + "…"

    def _translate(self, error: Exception, *, action: str, uploading: bool, retried: bool = True) -> Exception | None:
        """instagrapi's (and requests') exceptions as ours, each naming the fix; None: not ours to translate."""
        import requests

        ig = _exceptions()
        account = f"Instagram account {self.username!r}"
        login = f"run `{LOGIN_COMMAND} --username {self.username}`"
        name = type(error).__name__
        said = f"({name}: {self._detail(error)})"
        maybe_out = " (the next attempt checks whether the reel went out before uploading again)" if uploading else ""
        again = "will retry" if retried else "try again later"

        if isinstance(error, ig.TwoFactorRequired):
            return TwoFactorCodeRequired(f"{account}: Instagram asks for a two-factor code to log in; {login} on a terminal, or give it the TOTP secret")
        if isinstance(error, (ig.BadPassword, ig.BadCredentials)):
            return LoginRequired(f"{account}: Instagram rejected the username or password trying to {action}; {login} with the right password")
        if isinstance(error, ig.AccountSuspended):
            return LoginRequired(f"{account}: Instagram says the account is suspended; open the Instagram app and follow its steps, then {login}")
        if isinstance(error, (ig.ChallengeError, ig.CaptchaChallengeRequired)):
            return LoginRequired(
                f"{account}: Instagram wants this login confirmed (a security challenge) trying to {action}; open the Instagram app "
                f"on your phone, confirm it was you, then {login}"
            )
        if isinstance(error, (ig.LoginRequired, ig.ClientLoginRequired, ig.ReloginAttemptExceeded, ig.ClientUnauthorizedError, ig.ClientForbiddenError)):
            return LoginRequired(f"{account}: Instagram logged this session out or no longer accepts it trying to {action} {said}; {login}")
        if isinstance(error, ig.FeedbackRequired):
            return PublishRetryable(
                f"{account}: Instagram is blocking actions on this account for now (feedback_required: "
                f"{self._detail(getattr(error, 'feedback_message', '') or error)}); such blocks usually lift within hours to days. "
                f"The reel stays queued; post less often from this account and check it in the Instagram app{maybe_out}",
                retry_after_s=FEEDBACK_BLOCK_WAIT_S,
            )
        if isinstance(error, ig.PleaseWaitFewMinutes):
            return PublishRetryable(f"{account}: Instagram asks to wait a few minutes trying to {action}; {again}{maybe_out}", retry_after_s=PLEASE_WAIT_S)
        if isinstance(error, (ig.RateLimitError, ig.ClientThrottledError)):
            return PublishRetryable(f"{account}: rate limited by Instagram trying to {action} {said}; {again}{maybe_out}", retry_after_s=RATE_LIMIT_WAIT_S)
        if isinstance(error, ig.ProxyAddressIsBlocked):
            return PublishRefused(f"{account}: Instagram blocks requests from this IP address; publish through a steady residential proxy (one per account)")
        if isinstance(error, ig.SentryBlock):
            return PublishRefused(f"{account}: Instagram flagged this account or IP as spam trying to {action} {said}; check the account in the Instagram app before publishing again")
        if isinstance(error, ig.VideoTooLongException):
            return PublishRefused(f"Instagram refused the reel: the video is too long for a reel {said}; render a shorter reel (3 min at most)")
        if isinstance(error, (ig.ClipConfigureError, ig.VideoConfigureError)):
            return PublishRetryable(f"{account}: Instagram took the video but did not confirm the reel trying to {action} {said}{maybe_out}")
        if isinstance(error, (ig.ClipNotUpload, ig.VideoNotUpload)):
            status = getattr(error, "status_code", None) or getattr(error, "code", None)
            if status in (401, 403):
                return LoginRequired(f"{account}: Instagram refused the upload (HTTP {status}): the session is no longer accepted; {login}")
            if status == 429:
                return PublishRetryable(f"{account}: rate limited by Instagram trying to {action} (HTTP 429); {again}{maybe_out}", retry_after_s=RATE_LIMIT_WAIT_S)
            if not isinstance(status, int) or status >= 500:
                return PublishRetryable(f"{account}: Instagram failed trying to {action} {said}; {again}{maybe_out}")
            return PublishRefused(f"Instagram refused the video {said}; {VIDEO_FIX}")
        if isinstance(error, (ig.ClientConnectionError, ig.ClientRequestTimeout, ig.ClientIncompleteReadError, ig.ClientJSONDecodeError)):
            return PublishRetryable(f"{account}: network trouble trying to {action} {said}; {again}{maybe_out}")
        if isinstance(error, ig.ClientError):
            status = getattr(error, "code", None)
            if uploading or not isinstance(status, int) or status >= 500 or status < 400:
                return PublishRetryable(f"{account}: Instagram answered with an error trying to {action} {said}; {again}{maybe_out}")
            return PublishRefused(f"{account}: Instagram refused to {action} {said}; fix what Instagram names, then publish again")
        if isinstance(error, requests.Timeout | TimeoutError):
            return PublishRetryable(f"{account}: no answer from Instagram within {self.timeout_s:g} s trying to {action} ({name}); {again}{maybe_out}")
        if isinstance(error, requests.RequestException | ConnectionError):
            return PublishRetryable(f"{account}: network error trying to {action} ({name}); {again}{maybe_out}")

        from pydantic import ValidationError

        if isinstance(error, ValidationError):
            # instagrapi could not read Instagram's answer into its models: nothing to fix on our side.
            return PublishRetryable(f"{account}: Instagram's answer could not be read trying to {action} ({name}); {again}{maybe_out}")
        if uploading and isinstance(error, ValueError | OSError):
            # instagrapi reads the MP4's size and duration (and makes a cover) before sending anything.
            return PublishRefused(f"instagrapi cannot read the video before uploading it ({name}: {self._detail(error)}); {VIDEO_FIX}")
        if uploading and isinstance(error, RuntimeError) and ("moviepy" in str(error).lower() or "ffmpeg" in str(error).lower()):
            return PublishRefused(
                "instagrapi needs MoviePy and ffmpeg for this video (its MP4 header could not be read, or there is no cover image); "
                "render the reel again as a standard MP4 with a cover, or install MoviePy"
            )
        return None

