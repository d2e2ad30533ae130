"""``reeltwin instagram login|status``: the saved Instagram session the instagrapi publisher uses.

The session lives at ``<data_dir>/instagram/<username>.json`` (mode 0600, folder 0700);
scheduled publishing only ever loads it, so logging in (password, two-factor code,
a security challenge) happens here, on a terminal or from a script's stdin.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from agent.cli.context import announce_secret_key, err, exit_user_error, out, print_json
from agent.errors import AgentError, ValidationFailed

if TYPE_CHECKING:
    from publishing.instagrapi_publisher import InstagrapiPublisher

    from agent.settings import Settings

app = typer.Typer(no_args_is_help=True, help="Log in to Instagram for the instagrapi publisher and check the saved session.")

#: Builds the instagrapi client; ``None`` means the real ``instagrapi.Client``. Tests put a fake here.
client_factory: Callable[[], Any] | None = None


def _username(settings: Settings, given: str | None, *, ask: bool, prompt_on_stderr: bool = False) -> str:
    username = (given or settings.publishing.instagrapi_username or "").strip().lstrip("@")
    if not username and ask and sys.stdin.isatty():
        username = typer.prompt("Instagram username", err=prompt_on_stderr).strip().lstrip("@")
    if not username:
        raise AgentError("no Instagram username: pass --username or set publishing.instagrapi_username")
    return username


def _session_file(settings: Settings, username: str) -> Path:
    from publishing.base import PublishError
    from publishing.instagrapi_publisher import session_file_for

    try:
        return session_file_for(settings.data_dir, username)
    except PublishError as error:
        raise ValidationFailed(str(error)) from None


def _publisher(settings: Settings, username: str, *, password: str | None = None, totp_secret: str | None = None) -> InstagrapiPublisher:
    from publishing.instagrapi_publisher import InstagrapiPublisher

    from agent.publish_accounts import session_cipher

    return InstagrapiPublisher(username=username, session_file=_session_file(settings, username), password=password,
                               totp_secret=totp_secret, client_factory=client_factory, cipher=session_cipher(settings))


def _read_line(what: str) -> str:
    line = sys.stdin.readline()
    if not line:
        raise AgentError(f"--{what}-stdin given but standard input is empty; pipe the {what.replace('-', ' ')} in")
    return line.rstrip("\r\n")


def _hide_in_logs(*secrets: str | None) -> None:
    """Values typed or piped in here are not in the settings, so the log filter does not know them yet."""
    import logging

    from agent.logging_setup import RedactSecrets

    values = [secret for secret in secrets if secret]
    if values:
        for handler in logging.getLogger().handlers:
            handler.addFilter(RedactSecrets(values))


@app.command("login")
def login(
    ctx: typer.Context,
    username: str = typer.Option(None, "--username", "-u", help="The Instagram handle (default: publishing.instagrapi_username)."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from the first line of standard input."),
    totp_secret_stdin: bool = typer.Option(
        False, "--totp-secret-stdin",
        help="Read the two-factor TOTP secret (the key behind your authenticator app's codes) from standard input, after the password line if both.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object (questions and notes go to stderr)."),
) -> None:
    """Log in to Instagram and save the session the instagrapi publisher uses (asks for the password and a 2FA code on a terminal)."""
    from publishing.base import LoginRequired, PublishError
    from publishing.instagrapi_publisher import TwoFactorCodeRequired

    settings = ctx.obj.settings
    say = err if as_json else out  # with --json, stdout carries the JSON object only
    username = _username(settings, username, ask=not (password_stdin or totp_secret_stdin), prompt_on_stderr=as_json)
    terminal = sys.stdin.isatty() and not (password_stdin or totp_secret_stdin)

    if password_stdin:
        password = _read_line("password")
    elif settings.publishing.instagrapi_password is not None:
        password = settings.publishing.instagrapi_password.get_secret_value()
        say.print("using the password in publishing.instagrapi_password")
    elif terminal:
        password = getpass.getpass(f"Instagram password for {username}: ")
    else:
        raise AgentError("no terminal to ask for the Instagram password; use --password-stdin (or set publishing.instagrapi_password)")
    if not password:
        raise ValidationFailed("the Instagram password is empty; nothing changed")
    totp_secret = _read_line("totp-secret") if totp_secret_stdin else None
    _hide_in_logs(password, totp_secret)
    # The saved session holds the login cookie: it is encrypted with the accounts key (made here if there is none yet).
    from agent.publish_accounts import ensure_secret_key

    _box, created = ensure_secret_key(settings, ctx.obj.loaded.project_dir)
    if created:
        announce_secret_key(created, as_json=as_json)

    publisher = _publisher(settings, username, password=password, totp_secret=totp_secret)
    challenge_code = (lambda channel: typer.prompt(f"Security code Instagram sent you ({channel})", err=as_json).strip()) if terminal else None
    code: str | None = None
    try:
        for _ in range(3):
            try:
                user_id = publisher.login(verification_code=code, challenge_code=challenge_code)
                break
            except TwoFactorCodeRequired:
                if totp_secret:
                    raise ValidationFailed(f"Instagram did not accept the code made from the TOTP secret for {username!r}; check the secret (and this machine's clock)") from None
                if not terminal:
                    raise ValidationFailed(f"Instagram asks for a two-factor code for {username!r}; run `reeltwin instagram login` on a terminal, or pass --totp-secret-stdin") from None
                if code:
                    say.print("Instagram did not accept that code; try the current one.")
                code = typer.prompt("Two-factor code (from your authenticator app or SMS)", err=as_json).strip()
        else:
            raise ValidationFailed(f"Instagram did not accept the two-factor codes for {username!r}; run `reeltwin instagram login` again")
    except LoginRequired as error:
        raise ValidationFailed(str(error)) from None
    except PublishError as error:
        raise AgentError(f"not logged in: {error}") from None
    finally:
        publisher.close()
    if as_json:
        print_json({"username": username, "user_id": user_id, "session_file": str(publisher.session_file)})
        return
    out.print(f"logged in to Instagram as {username} (user id {user_id}); session saved to {publisher.session_file}")


@app.command("status")
def status(
    ctx: typer.Context,
    username: str = typer.Option(None, "--username", "-u", help="The Instagram handle (default: publishing.instagrapi_username)."),
    offline: bool = typer.Option(False, "--offline", help="Only look at the saved file; do not ask Instagram."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Is there a saved Instagram session, and does Instagram still accept it? Exit status 2 if it is missing or rejected."""
    settings = ctx.obj.settings
    username = _username(settings, username, ask=False)
    with _publisher(settings, username) as publisher:
        state = publisher.check_session(online=not offline)
    if as_json:
        print_json({
            "username": state.username, "session_file": str(state.session_file), "exists": state.exists, "valid": state.valid,
            "user_id": state.user_id, "saved_at": state.saved_at.isoformat() if state.saved_at else None, "detail": state.detail,
        })
        if state.valid is False:
            exit_user_error()  # the JSON report says why
        return
    if not state.exists:
        raise AgentError(f"no Instagram session for {username!r} at {str(state.session_file)!r}; run `reeltwin instagram login --username {username}`")
    if state.valid is False:
        raise AgentError(f"the Instagram session for {username!r} is not usable: {state.detail}")
    saved = state.saved_at.strftime("%Y-%m-%d %H:%M UTC") if state.saved_at else "unknown"
    who = f"{username} (user id {state.user_id})"
    if state.valid:
        out.print(f"Instagram session for {who}: valid; saved {saved} in {state.session_file}")
    elif offline:
        out.print(f"Instagram session for {who}: saved {saved} in {state.session_file}; not checked with Instagram (--offline)")
    else:
        out.print(f"Instagram session for {who}: saved {saved} in {state.session_file}; cannot check whether Instagram still accepts it: {state.detail}")


def register(root: typer.Typer) -> None:
    """Add the `instagram` command group to the root command."""
    root.add_typer(app, name="instagram")
