"""``reeltwin account connect|list|check|refresh|remove``: each creator's own publishing account.

A creator (calendar handle) publishes to its own account only. Tokens and passwords are read from
standard input or a hidden prompt, never from the command line, and stored encrypted with
``accounts.secret_key`` (``.env``); no command prints them, in text or JSON.
"""

from __future__ import annotations

import getpass
import sys
from typing import TYPE_CHECKING

import typer

from agent.cli.context import announce_secret_key, err, interactive, out, print_json
from agent.errors import AgentError, ValidationFailed

if TYPE_CHECKING:
    from agent.db.models import PublishAccount

app = typer.Typer(no_args_is_help=True, help="Each creator's own publishing account: connect, list, check, refresh, remove.")


def _read_secret(what: str, option: str, *, from_stdin: bool) -> str:
    """A token or password: the first line of stdin (``--…-stdin``), else a hidden prompt on a terminal."""
    if from_stdin:
        line = sys.stdin.readline()
        if not line.strip():
            raise ValidationFailed(f"{option} given but standard input is empty; pipe the {what} in (e.g. `… {option} < file`)")
        return line.strip()
    if sys.stdin.isatty():
        value = getpass.getpass(f"{what[:1].upper()}{what[1:]}: ").strip()
        if value:
            return value
    raise ValidationFailed(f"no {what} given; pipe it in with {option} (never on the command line)")


def _hide_in_logs(*secrets: str | None) -> None:
    """Values typed or piped in here are not in the settings, so the log filter does not know them yet."""
    import logging

    from agent.logging_setup import RedactSecrets

    values = [secret for secret in secrets if secret]
    if values:
        for handler in logging.getLogger().handlers:
            handler.addFilter(RedactSecrets(values))


@app.command("connect")
def connect(
    ctx: typer.Context,
    handle: str = typer.Argument(..., metavar="HANDLE", help="The creator (calendar handle) whose reels go to this account."),
    backend: str = typer.Option(None, "--backend", "-b", help="graph (official API), instagrapi (private API) or outbox (a folder)."),
    ig_user_id: str = typer.Option(None, "--ig-user-id", help="graph: the Instagram professional account's id."),
    token_stdin: bool = typer.Option(False, "--token-stdin", help="graph: read the long-lived access token from standard input."),
    api_base: str = typer.Option(None, "--api-base", help="graph: https://graph.instagram.com for Instagram Login tokens (default: publishing.graph_api_base)."),
    username: str = typer.Option(None, "--username", "-u", help="instagrapi: the Instagram username to log in as."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="instagrapi: read the password from standard input."),
    totp_secret_stdin: bool = typer.Option(False, "--totp-secret-stdin", help="instagrapi: read the 2FA TOTP secret from standard input, after the password line."),
    outbox_dir: str = typer.Option(None, "--outbox-dir", help="outbox: the folder (default: <outbox>/<handle>)."),
    from_settings: bool = typer.Option(False, "--from-settings", help="Make the account in the settings (publishing.*) this creator's own."),
    no_check: bool = typer.Option(False, "--no-check", help="Store it without asking Instagram first (graph), or without logging in (instagrapi)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object (never the secret)."),
) -> None:
    """Give a creator its own publishing account; it replaces the one it had. Secrets come from stdin or a prompt."""
    from agent.publish_accounts import check_handle, ensure_secret_key, from_settings as settings_account, public_view, save_account

    settings = ctx.obj.settings
    session = ctx.obj.session
    handle = check_handle(handle)
    say = err if as_json else out
    fields: dict = {}
    secret: str | None = None
    if from_settings:
        if backend or ig_user_id or token_stdin or username or password_stdin or outbox_dir:
            raise ValidationFailed("--from-settings takes the account from publishing.*; leave out --backend and the account options")
        fields = settings_account(settings)
        secret = fields.pop("secret", None)
        backend = fields.pop("backend")
    elif backend is None:
        raise ValidationFailed(f"no --backend given; e.g. reeltwin account connect {handle} --backend graph --ig-user-id ID --token-stdin")
    backend = backend.strip().lower()
    check_result = None
    expires_at = None
    if backend == "graph":
        if not from_settings:
            if not ig_user_id:
                raise ValidationFailed(f"--backend graph needs --ig-user-id ID (the Instagram professional account's id); e.g. "
                                       f"reeltwin account connect {handle} --backend graph --ig-user-id 17841400000000000 --token-stdin")
            if not ig_user_id.strip().isdigit():
                raise ValidationFailed(f"--ig-user-id {ig_user_id!r} is not an Instagram user id (digits); find it with the Graph API Explorer "
                                       "(me/accounts?fields=instagram_business_account) and pass it")
            from agent.publish_accounts import check_api_base

            base = check_api_base(api_base)
            secret = _read_secret("access token", "--token-stdin", from_stdin=token_stdin)
            fields = {"ig_user_id": ig_user_id.strip(), "api_base": base}
        _hide_in_logs(secret)
        if not no_check:
            from agent.db.models import PublishAccount
            from agent.publish_accounts import ask_graph

            probe = PublishAccount(handle=handle, backend="graph", ig_user_id=fields["ig_user_id"], api_base=fields.get("api_base"))
            with err.status("asking Instagram whose token this is…"):
                result = ask_graph(settings, probe, secret or "")
            if not result.ok:
                raise AgentError(f"@{handle}: not connected: {result.detail}")
            fields["username"] = result.username
            check_result, expires_at = result.detail, result.token_expires_at
    elif backend == "instagrapi":
        if not from_settings:
            name = (username or "").strip().lstrip("@")
            if not name:
                raise ValidationFailed(f"--backend instagrapi needs --username; e.g. reeltwin account connect {handle} --backend instagrapi --username {handle}")
            fields = {"username": name}
            if password_stdin or not no_check:
                secret = _read_secret("Instagram password", "--password-stdin", from_stdin=password_stdin)
        totp = _read_secret("TOTP secret", "--totp-secret-stdin", from_stdin=True) if totp_secret_stdin else None
        _hide_in_logs(secret, totp)
        if not no_check and not from_settings:   # --from-settings: the session `reeltwin instagram login` saved is used as it is
            # the key first: the session the login saves is encrypted with it
            _box, created = ensure_secret_key(settings, ctx.obj.loaded.project_dir)
            if created:
                announce_secret_key(created, as_json=as_json)
            check_result = _instagrapi_login(settings, fields["username"], secret, totp, as_json=as_json)
    elif backend == "outbox":
        if not from_settings:
            fields = {"outbox_dir": outbox_dir}
    else:
        raise ValidationFailed(f"--backend {backend!r} is not one of graph, instagrapi, outbox")

    box = created = None
    if secret:
        box, created = ensure_secret_key(settings, ctx.obj.loaded.project_dir)
        if created:
            announce_secret_key(created, as_json=as_json)
    account = save_account(session, settings, handle, backend, box=box, secret=secret, token_expires_at=expires_at, check_result=check_result, **fields)
    if as_json:
        print_json(public_view(account, settings))
        return
    _print_connected(account, settings)
    if from_settings:
        say.print("the settings' account is now this creator's; other creators need their own (reeltwin account connect HANDLE …)")


def _print_connected(account: PublishAccount, settings) -> None:  # noqa: ANN001 - Settings
    from agent.publish_accounts import describe

    expiry = f"; token expires {account.token_expires_at:%Y-%m-%d}" if account.token_expires_at else ""
    out.print(f"@{account.handle} publishes to {describe(account)}{expiry}" + (f" ({account.check_result})" if account.check_result else ""))


def _instagrapi_login(settings, username: str, password: str | None, totp: str | None, *, as_json: bool) -> str:  # noqa: ANN001
    """Log in as ``reeltwin instagram login`` does (a 2FA code asked on a terminal); the session is saved for publishing."""
    from publishing.base import LoginRequired, PublishError
    from publishing.instagrapi_publisher import TwoFactorCodeRequired

    from agent.cli.instagram_cmd import _publisher

    terminal = sys.stdin.isatty() and totp is None
    publisher = _publisher(settings, username, password=password, totp_secret=totp)
    challenge = (lambda channel: typer.prompt(f"Security code Instagram sent you ({channel})", err=as_json).strip()) if terminal else None
    code: str | None = None
    try:
        for _ in range(3):
            try:
                user_id = publisher.login(verification_code=code, challenge_code=challenge)
                break
            except TwoFactorCodeRequired:
                if totp or not terminal:
                    raise ValidationFailed(f"Instagram asks for a two-factor code for {username!r}; run this on a terminal, or pass --totp-secret-stdin") from None
                code = typer.prompt("Two-factor code (from your authenticator app or SMS)", err=as_json).strip()
        else:
            raise ValidationFailed(f"Instagram did not accept the two-factor codes for {username!r}; try again")
    except LoginRequired as error:
        raise ValidationFailed(f"not connected: {error}") from None
    except PublishError as error:
        raise AgentError(f"not connected: {error}") from None
    finally:
        publisher.close()
    return f"ok: logged in as @{username} (user id {user_id})"


@app.command("list")
def list_(ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print one JSON object (never a secret).")) -> None:
    """Every creator's publishing account: backend, who, token expiry, last check. Never a secret."""
    from sqlalchemy import select

    from agent.db.models import Creator
    from agent.publish_accounts import list_accounts, public_view, settings_account_is_real

    settings = ctx.obj.settings
    session = ctx.obj.session
    accounts = list_accounts(session)
    connected = {account.handle for account in accounts}
    creators = sorted(set(session.execute(select(Creator.handle)).scalars()) - connected)
    fallback = None
    if not accounts:
        shared = not settings_account_is_real(settings) or len(creators) <= 1
        fallback = {"backend": settings.publishing.backend, "used_for": "every creator" if shared else "nobody (several creators: connect each one's account)"}
    if as_json:
        print_json({"accounts": [public_view(account, settings) for account in accounts], "creators_without_account": creators,
                    "settings_account": fallback})
        return
    if not accounts:
        out.print(f"no accounts connected; the settings' account (publishing.backend = {settings.publishing.backend}) is used for {fallback['used_for']}")
    from rich.table import Table

    if accounts:
        table = Table(title="publishing accounts", title_justify="left")
        for column in ("creator", "backend", "account", "token expires", "last check", "note"):
            table.add_column(column)
        for account in accounts:
            view = public_view(account, settings)
            who = {"graph": f"{account.ig_user_id}" + (f" @{account.username}" if account.username else ""),
                   "instagrapi": f"@{account.username}", "outbox": view["outbox_dir"] or ""}.get(account.backend, "")
            expires = f"{account.token_expires_at:%Y-%m-%d}" if account.token_expires_at else ("-" if account.backend != "graph" else "unknown")
            checked = f"{account.checked_at:%Y-%m-%d %H:%M} {account.check_result or ''}" if account.checked_at else "never"
            table.add_row(f"@{account.handle}", account.backend, who, expires, checked, view["warning"] or "")
        out.print(table)
        if creators:
            out.print("without an account (their reels fail until one is connected): " + ", ".join(f"@{handle}" for handle in creators))


def _account(ctx: typer.Context, handle: str) -> PublishAccount:
    from agent.publish_accounts import check_handle, connect_hint, get_account

    handle = check_handle(handle)
    account = get_account(ctx.obj.session, handle)
    if account is None:
        raise ValidationFailed(f"@{handle} has no publishing account; connect one: {connect_hint(handle)}")
    return account


@app.command("check")
def check(
    ctx: typer.Context,
    handle: str = typer.Argument(..., metavar="HANDLE"),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Ask Instagram who the creator's account is (nothing is posted). Exit status 2 if it is not usable."""
    from agent.cli.context import exit_user_error
    from agent.publish_accounts import check_account, public_view

    settings = ctx.obj.settings
    account = _account(ctx, handle)
    with err.status(f"asking Instagram about @{account.handle}'s account…"):
        result = check_account(ctx.obj.session, settings, account)
    if as_json:
        print_json({**public_view(account, settings), "ok": result.ok})
        if not result.ok:
            exit_user_error()
        return
    if not result.ok:
        raise AgentError(f"@{account.handle}: {result.detail}")
    _print_connected(account, settings)


@app.command("refresh")
def refresh(
    ctx: typer.Context,
    handle: str = typer.Argument(None, metavar="[HANDLE]", help="One creator (default: every Graph account)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Refresh long-lived Graph tokens now (`reeltwin run` does it daily, accounts.refresh_days before they expire)."""
    from agent.publish_accounts import refresh_tokens

    handles = [_account(ctx, handle).handle] if handle else None
    outcomes = refresh_tokens(ctx.obj.session, ctx.obj.settings, force=True, handles=handles)
    if as_json:
        print_json({"refreshed": [{"handle": o.handle, "result": o.result, "detail": o.detail} for o in outcomes]})
    else:
        for outcome in outcomes:
            out.print(f"@{outcome.handle}: {outcome.result}" + (f" ({outcome.detail})" if outcome.detail else ""))
        if not outcomes:
            out.print("no Graph account with a token to refresh")
    failed = [o for o in outcomes if o.result == "failed"]
    if failed and not as_json:
        raise AgentError(f"@{failed[0].handle}: the token was not refreshed: {failed[0].detail}")
    if failed:
        from agent.cli.context import exit_user_error

        exit_user_error()


@app.command("remove")
def remove(
    ctx: typer.Context,
    handle: str = typer.Argument(..., metavar="HANDLE"),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Forget a creator's account (its encrypted secret with it); its reels fail until another is connected."""
    from agent.publish_accounts import describe, remove_account

    account = _account(ctx, handle)
    if not yes:
        if not interactive():
            raise ValidationFailed(f"removing @{account.handle}'s account needs confirmation; add --yes")
        if not typer.confirm(f"Forget @{account.handle}'s account ({describe(account)})?"):
            raise typer.Exit(1)
    remove_account(ctx.obj.session, account.handle)
    if as_json:
        print_json({"handle": account.handle, "removed": True, "backend": account.backend})
        return
    out.print(f"@{account.handle}: account removed; connect another with `reeltwin account connect {account.handle} …`")


def register(root: typer.Typer) -> None:
    """Add the `account` command group to the root command."""
    root.add_typer(app, name="account")
