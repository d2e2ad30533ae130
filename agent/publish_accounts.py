"""Each creator's own publishing account: stored with its secret encrypted, chosen for the creator's reels,
checked with Instagram, and (Graph tokens) refreshed before they lapse.

A creator is a calendar handle; its :class:`~agent.db.models.PublishAccount` row names the backend
(graph, instagrapi or outbox) and holds the access token or password as a Fernet token made with
``accounts.secret_key`` (from ``.env``). The plain secret lives only in memory, inside the publisher
that uses it; it is never logged, printed, put in JSON or shown on the web.

While no account is connected at all, the single account in the settings (``publishing.*``) publishes
for the install as before; a real one (graph, instagrapi) only while there is one creator, so two
creators never share an Instagram account by accident. Once any account is connected, a creator
without one gets a clear error on its reel, never another creator's account.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlmodel import Session

from agent.db.models import Creator, PublishAccount, utcnow
from agent.errors import AgentError, ValidationFailed

if TYPE_CHECKING:
    from agent.settings import Settings

log = logging.getLogger(__name__)

BACKENDS = ("graph", "instagrapi", "outbox")
KEY_VARIABLE = "REELTWIN_ACCOUNTS__SECRET_KEY"
#: what Meta documents for a long-lived token where it tells us nothing (Instagram Login has no debug_token)
LONG_LIVED_TOKEN_DAYS = 60
_HANDLE = re.compile(r"^[A-Za-z0-9._]{1,30}$")


class AccountError(AgentError):
    """A publishing account cannot be used as it is; the message names the fix."""


class NoPublishAccount(AccountError):
    """The creator has no publishing account of its own (and may not use another's)."""


class SecretKeyError(AccountError):
    """``accounts.secret_key`` is missing, lost or not the key the secrets were stored with."""


def connect_hint(handle: str) -> str:
    """The command that gives ``handle`` an account."""
    return (f"reeltwin account connect {handle} --backend graph --ig-user-id ID --token-stdin "
            f"(or --backend instagrapi --username U, or --backend outbox)")


def check_handle(handle: str) -> str:
    """``handle`` without '@', or a one-line refusal."""
    value = (handle or "").strip().lstrip("@")
    if not _HANDLE.match(value):
        raise ValidationFailed(f"creator {handle!r} is not a calendar handle; use up to 30 letters, digits, '.' or '_' (as in calendar/<handle>.yaml)")
    return value


def check_api_base(value: str | None) -> str | None:
    """A Graph API address for an account: https (the token travels in it), plain http only to this machine (a local test server)."""
    from urllib.parse import urlsplit

    if value is None or not value.strip():
        return None
    value = value.strip().rstrip("/")
    parts = urlsplit(value)
    local = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if not parts.hostname or parts.scheme not in ("https", "http") or (parts.scheme == "http" and not local):
        raise ValidationFailed(f"API address {value!r} is not an https URL; e.g. https://graph.instagram.com for Instagram Login tokens, "
                               "or leave it out for publishing.graph_api_base")
    return value


# --------------------------------------------------------------------------- the secrets


class SecretBox:
    """Fernet encryption with the key(s) of ``accounts.secret_key``: the first encrypts, every one decrypts (rotation)."""

    def __init__(self, keys: str):
        from cryptography.fernet import Fernet, MultiFernet

        try:
            self._fernet = MultiFernet([Fernet(key.strip().encode("ascii")) for key in keys.split(",") if key.strip()])
        except (ValueError, UnicodeEncodeError):
            raise SecretKeyError(f"accounts.secret_key is not a Fernet key; restore the key the accounts were stored with in .env ({KEY_VARIABLE})") from None

    def __repr__(self) -> str:
        return "SecretBox(***)"

    def encrypt(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str, *, handle: str) -> str:
        """The plain secret of ``handle``'s account; a wrong or lost key is one line naming the fix."""
        from cryptography.fernet import InvalidToken

        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError, UnicodeError):
            raise SecretKeyError(
                f"the secret of @{handle}'s publishing account cannot be decrypted with accounts.secret_key ({KEY_VARIABLE}): "
                f"the key changed or was lost; put the old key back in .env, or connect the account again: {connect_hint(handle)}"
            ) from None

    @staticmethod
    def new_key() -> str:
        from cryptography.fernet import Fernet

        return Fernet.generate_key().decode("ascii")


class _SessionCipher:
    """The accounts key as the instagrapi publisher's SessionCipher: its saved login session encrypted like the secrets."""

    def __init__(self, box: SecretBox):
        self._box = box

    def __repr__(self) -> str:
        return "SessionCipher(***)"

    def encrypt(self, plain: str) -> str:
        return self._box.encrypt(plain)

    def decrypt(self, token: str) -> str:
        from cryptography.fernet import InvalidToken

        try:
            return self._box._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError) as error:
            raise ValueError("the key does not open it") from error


def session_cipher(settings: Settings) -> _SessionCipher | None:
    """What encrypts saved instagrapi sessions: the accounts key when one is set (None: saved as plain JSON, mode 600)."""
    key = settings.accounts.secret_key
    if key is None or not key.get_secret_value().strip():
        return None
    return _SessionCipher(SecretBox(key.get_secret_value()))


def secret_box(settings: Settings) -> SecretBox:
    """The box for the configured key; no key is one line naming the fix."""
    key = settings.accounts.secret_key
    if key is None or not key.get_secret_value().strip():
        raise SecretKeyError(f"accounts.secret_key is not set, so the stored account secrets cannot be read; put the key back in .env "
                             f"({KEY_VARIABLE}=...), or connect the accounts again with a new one")
    return SecretBox(key.get_secret_value())


def ensure_secret_key(settings: Settings, project_dir: Path) -> tuple[SecretBox, Path | None]:
    """The box for the configured key; without one, a new key appended to the project's ``.env`` (mode 600).

    Returns (box, the .env written) — the path only when a key was created, so the caller says so once."""
    if settings.accounts.secret_key is not None:
        return secret_box(settings), None
    from pydantic import SecretStr

    key = SecretBox.new_key()
    dotenv = project_dir / ".env"
    try:
        text = dotenv.read_text(encoding="utf-8") if dotenv.exists() else ""
        pattern = re.compile(rf"^{KEY_VARIABLE}=\s*$", re.M)
        if pattern.search(text):   # an empty `KEY=` line (as the example has) is filled in
            text = pattern.sub(f"{KEY_VARIABLE}={key}", text, count=1)
        else:
            text = (text if not text or text.endswith("\n") else text + "\n") + (
                "# Encrypts the publishing accounts' tokens and passwords (reeltwin account connect). Keep a copy:\n"
                f"# without it the stored secrets cannot be read and every account must be connected again.\n{KEY_VARIABLE}={key}\n")
        dotenv.write_text(text, encoding="utf-8")
        os.chmod(dotenv, 0o600)
    except OSError as error:
        raise AccountError(f"{dotenv}: cannot write the accounts key there ({error.strerror}); set {KEY_VARIABLE} yourself "
                           "(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')") from None
    settings.accounts.secret_key = SecretStr(key)
    return SecretBox(key), dotenv


def plain_secret(settings: Settings, account: PublishAccount) -> str | None:
    """The account's token or password, decrypted (None if it has none)."""
    if not account.secret:
        return None
    return secret_box(settings).decrypt(account.secret, handle=account.handle)


# --------------------------------------------------------------------------- the rows


def get_account(session: Session, handle: str) -> PublishAccount | None:
    return session.execute(select(PublishAccount).where(PublishAccount.handle == handle)).scalar_one_or_none()


def list_accounts(session: Session) -> list[PublishAccount]:
    return list(session.execute(select(PublishAccount).order_by(PublishAccount.handle)).scalars())


def any_accounts(session: Session) -> bool:
    return session.execute(select(func.count()).select_from(PublishAccount)).scalar_one() > 0


def settings_account_is_real(settings: Settings) -> bool:
    """The settings name an Instagram account (not the outbox, which any number of creators may share)."""
    return settings.publishing.backend in ("graph", "instagrapi")


def resolve_account(session: Session, settings: Settings, handle: str) -> PublishAccount | None:
    """The account ``handle``'s reels go to: its row, or None for the settings' account (no account connected at all).

    Raises :class:`NoPublishAccount` where that would be someone else's account."""
    account = get_account(session, handle)
    if account is not None:
        return account
    if any_accounts(session):
        raise NoPublishAccount(f"@{handle} has no publishing account, and the other creators' accounts are theirs; connect an account: {connect_hint(handle)}")
    if settings_account_is_real(settings):
        others = [name for name in session.execute(select(Creator.handle)).scalars() if name != handle]
        if others:
            raise NoPublishAccount(
                f"@{handle}: publishing.{settings.publishing.backend} holds one Instagram account but {len(others) + 1} creators exist, "
                f"so it is not used for any; connect each creator's account (reeltwin account connect HANDLE --from-settings for its owner), "
                f"then: {connect_hint(handle)}")
    return None


def account_key(account: PublishAccount) -> str:
    """Which publisher a long-running process keeps for this row (a new one after a refresh or a reconnect)."""
    changed = account.updated_at.isoformat() if account.updated_at else ""
    return f"account:{account.handle}:{account.backend}:{changed}"


def save_account(
    session: Session,
    settings: Settings,
    handle: str,
    backend: str,
    *,
    box: SecretBox | None = None,
    secret: str | None = None,
    ig_user_id: str | None = None,
    username: str | None = None,
    api_base: str | None = None,
    outbox_dir: str | None = None,
    token_expires_at: datetime | None = None,
    check_result: str | None = None,
) -> PublishAccount:
    """Create or replace ``handle``'s account (commits). The secret is encrypted with ``box`` before it is stored."""
    handle = check_handle(handle)
    if backend not in BACKENDS:
        raise ValidationFailed(f"backend {backend!r} is not one of {', '.join(BACKENDS)}; e.g. --backend graph")
    if secret and box is None:
        raise AccountError("internal: a secret needs the accounts key to be stored")
    now = utcnow()
    account = get_account(session, handle) or PublishAccount(handle=handle, backend=backend, created_at=now)
    account.backend = backend
    account.ig_user_id = ig_user_id
    account.username = username
    account.api_base = api_base
    account.outbox_dir = outbox_dir
    account.secret = box.encrypt(secret) if secret and box is not None else None
    account.token_expires_at = token_expires_at
    account.token_refreshed_at = None
    account.refresh_error = None
    account.checked_at = now if check_result else None
    account.check_result = check_result
    account.updated_at = now
    session.add(account)
    session.commit()
    log.info("@%s: publishing account set (%s)", handle, describe(account))
    return account


def remove_account(session: Session, handle: str) -> bool:
    """Delete ``handle``'s account row (commits); False if it had none. A saved instagrapi session file stays."""
    account = get_account(session, check_handle(handle))
    if account is None:
        return False
    session.delete(account)
    session.commit()
    log.info("@%s: publishing account removed", account.handle)
    return True


def describe(account: PublishAccount) -> str:
    """Who the account publishes as, without its secret: "graph 1784… (@name)", "instagrapi @name", "outbox DIR"."""
    if account.backend == "graph":
        return f"graph {account.ig_user_id}" + (f" (@{account.username})" if account.username else "")
    if account.backend == "instagrapi":
        return f"instagrapi @{account.username}"
    return "outbox" + (f" {account.outbox_dir}" if account.outbox_dir else "")


def outbox_folder(settings: Settings, account: PublishAccount) -> Path:
    """An outbox account's folder: its own, else ``<outbox>/<handle>``."""
    if account.outbox_dir:
        path = Path(account.outbox_dir)
        return path if path.is_absolute() else settings.data_dir.parent / path
    return settings.outbox_dir / account.handle


# --------------------------------------------------------------------------- what to tell people


@dataclass(frozen=True)
class AccountNotice:
    """A problem with an account worth a notification and a banner."""

    handle: str
    message: str


def notices(accounts: list[PublishAccount], settings: Settings, *, now: datetime | None = None, web: bool = False) -> list[AccountNotice]:
    """Tokens that run out within ``accounts.warn_days`` (or have), and refreshes that failed. ``web``: in the web's
    words (connect one on the Accounts page), not the command line's."""
    now = now or utcnow()
    found = []
    for account in accounts:
        if account.backend != "graph":
            continue
        expires = account.token_expires_at
        how = "on the Accounts page" if web else f"with: {connect_hint(account.handle)}"
        if account.refresh_error:
            found.append(AccountNotice(account.handle, f"@{account.handle}: refreshing the Instagram token failed: {account.refresh_error}"
                                                      + (f"; connect a new one {how}" if web else "")))
        elif expires is not None and expires <= now:
            found.append(AccountNotice(account.handle, f"@{account.handle}: the Instagram token expired on {expires:%Y-%m-%d}; "
                                                      f"reels cannot be published until you connect a new one {how}"))
        elif expires is not None and expires - now <= timedelta(days=settings.accounts.warn_days):
            hours = max(0.0, (expires - now).total_seconds() / 3600)
            within = f"in {round(hours / 24)} days" if hours >= 36 else "within a day" if hours >= 1 else "within the hour"
            found.append(AccountNotice(account.handle, f"@{account.handle}: the Instagram token expires {within} ({expires:%Y-%m-%d}); "
                                                      f"it is refreshed automatically where it can be, else connect a new one {how}"))
    return found


def public_view(account: PublishAccount, settings: Settings, *, now: datetime | None = None, web: bool = False) -> dict[str, Any]:
    """The account as the CLI's JSON and the web show it: never the secret, only whether there is one. ``web``: the
    warning in the web's words and the outbox folder inside the data folder, not the server's path."""
    now = now or utcnow()
    expires = account.token_expires_at
    warning = next((notice.message for notice in notices([account], settings, now=now, web=web)), None)
    outbox = outbox_folder(settings, account) if account.backend == "outbox" else None
    if outbox is not None and web:
        try:
            outbox = outbox.resolve().relative_to(settings.data_dir.resolve())
        except ValueError:
            outbox = Path(outbox.name)
    return {
        "handle": account.handle, "backend": account.backend, "ig_user_id": account.ig_user_id, "username": account.username,
        "api_base": account.api_base, "outbox_dir": str(outbox) if outbox is not None else None,
        "has_secret": bool(account.secret),
        "token_expires_at": expires.isoformat() if expires else None,
        "token_expires_in_days": round((expires - now).total_seconds() / 86400) if expires else None,   # as the warning says it
        "token_refreshed_at": account.token_refreshed_at.isoformat() if account.token_refreshed_at else None,
        "refresh_error": account.refresh_error,
        "checked_at": account.checked_at.isoformat() if account.checked_at else None,
        "check_result": account.check_result,
        "warning": warning,
        "created_at": account.created_at.isoformat() if account.created_at else None,
        "updated_at": account.updated_at.isoformat() if account.updated_at else None,
    }


# --------------------------------------------------------------------------- asking Instagram


@dataclass(frozen=True)
class CheckResult:
    """What ``account check`` learnt: ok, who the account is, and in words."""

    ok: bool
    username: str | None
    detail: str
    token_expires_at: datetime | None = None


def _graph_publisher(settings: Settings, account: PublishAccount, token: str):  # noqa: ANN202 - publishing imported lazily
    from publishing.graph import GraphPublisher

    return GraphPublisher(ig_user_id=account.ig_user_id or "", access_token=token, media_url_for=_no_media,
                          api_base=account.api_base or settings.publishing.graph_api_base, api_version=settings.publishing.graph_api_version)


def _no_media(path: Path) -> str:
    raise AccountError(f"internal: {path} cannot be hosted by an account check")


def _app_credentials(settings: Settings) -> dict[str, str | None]:
    secret = settings.accounts.graph_app_secret
    return {"app_id": settings.accounts.graph_app_id, "app_secret": secret.get_secret_value() if secret else None}


def ask_graph(settings: Settings, account: PublishAccount, token: str, *, now: datetime | None = None) -> CheckResult:
    """Who ``token`` publishes as (``GET /{ig-user-id}?fields=username``) and, with Facebook Login, until when (``debug_token``)."""
    from publishing import PublishError

    now = now or utcnow()
    with _graph_publisher(settings, account, token) as publisher:
        try:
            username = publisher.account_username()
        except PublishError as error:
            return CheckResult(False, None, f"Instagram refused: {error}")
        expires_at = account.token_expires_at
        if publisher.instagram_login:
            expires_at = expires_at or now + timedelta(days=LONG_LIVED_TOKEN_DAYS)   # no debug_token: the documented lifetime
        else:
            try:
                status = publisher.token_status(**_app_credentials(settings))
                expires_at = status.expires_at
                if not status.valid:
                    return CheckResult(False, username, "Meta says the token is not valid (debug_token); connect a new one", expires_at)
            except PublishError as error:   # the account answered; the expiry stays unknown
                log.info("@%s: the token's expiry could not be read: %s", account.handle, error)
    return CheckResult(True, username, f"ok: publishes as @{username}", expires_at)


def check_account(session: Session, settings: Settings, account: PublishAccount, *, now: datetime | None = None) -> CheckResult:
    """Ask Instagram who the account is (nothing is posted); the answer is stored on the row (commits)."""
    now = now or utcnow()
    if account.backend == "graph":
        token = plain_secret(settings, account)
        if not token:
            result = CheckResult(False, None, f"no token stored; connect one: {connect_hint(account.handle)}")
        else:
            result = ask_graph(settings, account, token, now=now)
            if result.ok:
                account.username = result.username
                account.token_expires_at = result.token_expires_at
    elif account.backend == "instagrapi":
        result = _check_instagrapi(settings, account)
    else:
        folder = outbox_folder(settings, account)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            result = CheckResult(os.access(folder, os.W_OK), None, f"ok: reels go to {folder}" if os.access(folder, os.W_OK) else f"{folder} is not writable")
        except OSError as error:
            result = CheckResult(False, None, f"{folder}: cannot create it ({error.strerror})")
    account.checked_at = now
    account.check_result = result.detail[:500]
    session.add(account)
    session.commit()
    return result


def _check_instagrapi(settings: Settings, account: PublishAccount) -> CheckResult:
    from publishing import PublishError

    try:
        from publishing.instagrapi_publisher import InstagrapiPublisher, session_file_for
    except ImportError:
        return CheckResult(False, account.username, "the instagrapi publisher needs the instagram extra: pip install 'reeltwin[instagram]'")
    try:
        session_file = session_file_for(settings.data_dir, account.username or "")
    except PublishError as error:
        return CheckResult(False, account.username, str(error))
    # Only the saved session is asked about (never a new login): the password is not needed here.
    with InstagrapiPublisher(username=account.username or "", session_file=session_file, cipher=session_cipher(settings)) as publisher:
        state = publisher.check_session(online=True)
    if state.valid:
        return CheckResult(True, account.username, f"ok: logged in as @{account.username} (user id {state.user_id})")
    if state.valid is None and state.exists:
        return CheckResult(False, account.username, f"session saved, but Instagram could not be asked: {state.detail}")
    return CheckResult(False, account.username, state.detail)


# --------------------------------------------------------------------------- the daily refresh


@dataclass(frozen=True)
class RefreshOutcome:
    handle: str
    result: str        # "refreshed" | "failed" | "not due" | "unknown expiry"
    detail: str = ""


def refresh_tokens(session: Session, settings: Settings, *, now: datetime | None = None, force: bool = False,
                   handles: list[str] | None = None) -> list[RefreshOutcome]:
    """Refresh every Graph token that expires within ``accounts.refresh_days`` (``force``: every one); commits each.

    A failure is stored on the account (``refresh_error``: the banner and the notification say it) and never raises;
    a lost or wrong key raises :class:`SecretKeyError` once, before anything is asked."""
    from publishing import PublishError

    now = now or utcnow()
    due_within = timedelta(days=settings.accounts.refresh_days)
    outcomes = []
    accounts = [account for account in list_accounts(session) if account.backend == "graph" and account.secret
                and (handles is None or account.handle in handles)]
    if accounts:
        box = secret_box(settings)
    for account in accounts:
        expires = account.token_expires_at
        if not force and expires is None:
            outcomes.append(RefreshOutcome(account.handle, "unknown expiry"))
            continue
        if not force and expires - now > due_within:
            outcomes.append(RefreshOutcome(account.handle, "not due", f"expires {expires:%Y-%m-%d}"))
            continue
        token = box.decrypt(account.secret, handle=account.handle)
        try:
            with _graph_publisher(settings, account, token) as publisher:
                fresh = publisher.refresh_token(**_app_credentials(settings), now=now)
                expires_at = fresh.expires_at
                if expires_at is None and not publisher.instagram_login:
                    try:
                        expires_at = publisher.token_status(**_app_credentials(settings)).expires_at
                    except PublishError:
                        expires_at = None
        except PublishError as error:
            account.refresh_error = str(error)[:500]
            session.add(account)
            session.commit()
            log.warning("@%s: the Instagram token was not refreshed: %s", account.handle, error)
            outcomes.append(RefreshOutcome(account.handle, "failed", str(error)))
            continue
        account.secret = box.encrypt(fresh.access_token)
        account.token_expires_at = expires_at
        account.token_refreshed_at = now
        account.refresh_error = None
        account.updated_at = utcnow()
        session.add(account)
        session.commit()
        log.info("@%s: Instagram token refreshed; it expires %s", account.handle, f"{expires_at:%Y-%m-%d}" if expires_at else "never (or Meta did not say)")
        outcomes.append(RefreshOutcome(account.handle, "refreshed", f"expires {expires_at:%Y-%m-%d}" if expires_at else ""))
    return outcomes


# --------------------------------------------------------------------------- from the settings


def from_settings(settings: Settings) -> dict[str, Any]:
    """The account the settings hold (``publishing.*``), as ``save_account`` keywords; the secret under "secret"."""
    publishing = settings.publishing
    if publishing.backend == "graph":
        missing = [name for name, value in (("graph_ig_user_id", publishing.graph_ig_user_id), ("graph_access_token", publishing.graph_access_token)) if not value]
        if missing:
            raise ValidationFailed(f"--from-settings: publishing.backend is graph but {', '.join('publishing.' + m for m in missing)} is not set; "
                                   "set it, or connect with --backend graph --ig-user-id ID --token-stdin")
        api_base = publishing.graph_api_base if publishing.graph_api_base.rstrip("/") != "https://graph.facebook.com" else None
        return {"backend": "graph", "ig_user_id": publishing.graph_ig_user_id, "api_base": api_base,
                "secret": publishing.graph_access_token.get_secret_value()}
    if publishing.backend == "instagrapi":
        if not publishing.instagrapi_username:
            raise ValidationFailed("--from-settings: publishing.backend is instagrapi but publishing.instagrapi_username is not set; "
                                   "connect with --backend instagrapi --username U")
        password = publishing.instagrapi_password.get_secret_value() if publishing.instagrapi_password else None
        return {"backend": "instagrapi", "username": publishing.instagrapi_username.strip().lstrip("@"), "secret": password}
    return {"backend": "outbox", "outbox_dir": str(settings.outbox_dir)}   # the same folder as before, not a new one
