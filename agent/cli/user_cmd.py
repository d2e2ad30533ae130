"""``reeltwin user``: the web's users, each with every creator or a list of them (see ARCHITECTURE.md, "Creators, accounts, people").

The first user, "creator", is the one `reeltwin password` sets; it sees every creator, so a one-creator install
needs nothing from here.
"""

from __future__ import annotations

import getpass
import re
import secrets
import sys
from typing import TYPE_CHECKING, Any

import typer

from agent.cli.context import interactive, out, print_json
from agent.errors import AgentError, NotFoundError, ValidationFailed

if TYPE_CHECKING:
    from sqlmodel import Session

    from agent.db.models import WebAccount

app = typer.Typer(no_args_is_help=True, help="Web users: who may log in, and which creators each one sees and approves.")

#: A user name: it is typed on the login page and recorded in every decision (``creator:web:<name>``), so no spaces or colons.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@app.command("add")
def add(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The user name typed on the login page (letters, digits, '.', '_', '-')."),
    creators: str = typer.Option(None, "--creators", help="The creators (calendar handles) this user sees, comma-separated: a,b."),
    all_creators: bool = typer.Option(False, "--all", help="This user sees every creator, present and future."),
    from_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input (for scripts)."),
    generate: bool = typer.Option(False, "--generate", help="Make up a password and print it once."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Add a web user who sees the given creators only (--creators a,b) or every creator (--all)."""
    from sqlalchemy import select

    from agent.db.models import WebAccount
    from agent.web.security import hash_password

    session = ctx.obj.session
    check_user_name(name)
    handles = _chosen_creators(session, ctx.obj.settings, creators, all_creators)
    if session.execute(select(WebAccount.id).where(WebAccount.username == name)).first() is not None:
        raise AgentError(f"user {name!r} already exists; change its password with `reeltwin user password {name}`, "
                         f"its creators with `reeltwin user set {name}`, or choose another name")
    secret, generated = _new_password(from_stdin, generate, prompt=f"Password for {name}: ")
    account = WebAccount(username=name, password_hash=hash_password(secret), all_creators=handles is None)
    session.add(account)
    session.flush()
    _set_creators(session, account, handles)
    session.commit()
    _report(f"user {name!r} added; they see {_scope(handles)}", account, handles, secret if generated else None, as_json)


@app.command("set")
def set_creators(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The user name."),
    creators: str = typer.Option(None, "--creators", help="The creators (calendar handles) this user sees from now on: a,b."),
    all_creators: bool = typer.Option(False, "--all", help="This user sees every creator."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Change which creators a user sees (their pages change on their next click; no new login needed)."""
    session = ctx.obj.session
    account = _account(session, name)
    handles = _chosen_creators(session, ctx.obj.settings, creators, all_creators)
    account.all_creators = handles is None
    session.add(account)
    _set_creators(session, account, handles)
    session.commit()
    _report(f"user {name!r} now sees {_scope(handles)}", account, handles, None, as_json)


@app.command("list")
def list_users(ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """The web users and the creators each one sees."""
    from sqlalchemy import select

    from agent.db.models import WebAccount

    session = ctx.obj.session
    rows = [_user_json(session, account) for account in session.execute(select(WebAccount).order_by(WebAccount.username)).scalars()]
    if as_json:
        print_json({"users": rows})
        return
    if not rows:
        out.print("no web users yet; add one with `reeltwin user add NAME --all` (or set the first one with `reeltwin password`)")
        return
    from rich.table import Table

    table = Table("user", "creators", "password changed")
    for row in rows:
        table.add_row(row["name"], "all" if row["all_creators"] else ", ".join(f"@{h}" for h in row["creators"]) or "(none)",
                      row["password_changed_at"][:16].replace("T", " ") + " UTC")
    out.print(table)


@app.command("remove")
def remove(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The user name."),
    yes: bool = typer.Option(False, "--yes", help="Remove without asking."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Remove a web user: they are logged out at once; what they approved keeps their name."""
    session = ctx.obj.session
    account = _account(session, name)
    if not yes:
        if not interactive():
            raise AgentError(f"removing user {name!r} needs a confirmation; run it in a terminal or pass --yes")
        typer.confirm(f"Remove web user {name!r}? They are logged out at once.", abort=True)
    session.delete(account)  # its creators go with it (ON DELETE CASCADE)
    session.commit()
    if as_json:
        print_json({"name": name, "removed": True})
        return
    out.print(f"user {name!r} removed")


@app.command("password")
def password(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The user name."),
    from_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input (for scripts)."),
    generate: bool = typer.Option(False, "--generate", help="Make up a password and print it once."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Set a user's password; their sessions on other devices end."""
    from agent.db.models import utcnow
    from agent.web.security import hash_password

    session = ctx.obj.session
    account = _account(session, name)
    secret, generated = _new_password(from_stdin, generate, prompt=f"New password for {name}: ")
    account.password_hash, account.updated_at = hash_password(secret), utcnow()
    session.add(account)
    session.commit()
    if as_json:
        print_json({"name": name, "password_set": True} | ({"password": secret} if generated else {}))
        return
    out.print(f"password of user {name!r} set" + (f"; it is [bold]{secret}[/] (shown only now)" if generated else ""))


def check_user_name(name: str) -> None:
    """A user name one can type and that fits the decisions' records; else a ValidationFailed naming the rule."""
    if not _NAME.fullmatch(name):
        raise ValidationFailed(f"user name {name!r}: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")


def known_handles(session: Session, settings: Any) -> set[str]:
    """The creators one can give a user: those in the database and those with a calendar file (not planned yet)."""
    from sqlalchemy import select

    from agent.content_calendar.loader import calendar_files
    from agent.db.models import Creator

    handles = set(session.execute(select(Creator.handle)).scalars())
    if settings.calendar_dir.is_dir():
        handles |= {path.stem for path in calendar_files(settings.calendar_dir, include_templates=False)}
    return handles


def _chosen_creators(session: Session, settings: Any, creators: str | None, all_creators: bool) -> list[str] | None:
    """The handles of --creators (checked), or None for --all; exactly one of the two."""
    if all_creators == (creators is not None):
        raise AgentError("give the user's creators: --creators a,b (those only) or --all (every creator)")
    if all_creators:
        return None
    handles = sorted({part.strip().lstrip("@") for part in creators.split(",") if part.strip().lstrip("@")})
    if not handles:
        raise AgentError(f"--creators {creators!r}: name at least one creator (calendar handle), e.g. --creators your.handle")
    known = known_handles(session, settings)
    unknown = [handle for handle in handles if handle not in known]
    if unknown:
        listing = ", ".join(sorted(known)) or "none yet"
        raise AgentError(f"--creators: no creator {', '.join(repr(h) for h in unknown)} (known: {listing}); "
                         "check the spelling, or add calendar/<handle>.yaml first")
    return handles


def _set_creators(session: Session, account: WebAccount, handles: list[str] | None) -> None:
    from sqlalchemy import delete

    from agent.db.models import WebAccountCreator

    session.execute(delete(WebAccountCreator).where(WebAccountCreator.account_id == account.id))
    for handle in handles or ():
        session.add(WebAccountCreator(account_id=account.id, handle=handle))


def _account(session: Session, name: str) -> WebAccount:
    from sqlalchemy import select

    from agent.db.models import WebAccount

    account = session.execute(select(WebAccount).where(WebAccount.username == name)).scalar_one_or_none()
    if account is None:
        known = ", ".join(session.execute(select(WebAccount.username).order_by(WebAccount.username)).scalars()) or "none yet"
        raise NotFoundError(f"user {name!r} does not exist (users: {known}); add it with `reeltwin user add {name} --creators HANDLE`")
    return account


def _new_password(from_stdin: bool, generate: bool, *, prompt: str) -> tuple[str, bool]:
    """(password, whether it was generated): from stdin, made up, or asked twice on a terminal."""
    from agent.web.security import MIN_PASSWORD_CHARS, hash_password

    if from_stdin and generate:
        raise AgentError("--password-stdin and --generate: choose one")
    if generate:
        return secrets.token_urlsafe(15), True
    if from_stdin:
        secret = sys.stdin.readline().rstrip("\n")
    elif sys.stdin.isatty():
        secret = getpass.getpass(prompt)
        if len(secret) >= MIN_PASSWORD_CHARS and getpass.getpass("Again: ") != secret:
            raise ValidationFailed("the two passwords differ; nothing changed")
    else:
        raise AgentError("no terminal to ask for the password; use --password-stdin, or --generate to have one made up")
    hash_password(secret)  # the length check, before anything is stored
    return secret, False


def _scope(handles: list[str] | None) -> str:
    return "every creator" if handles is None else ", ".join(f"@{handle}" for handle in handles)


def _user_json(session: Session, account: WebAccount) -> dict[str, Any]:
    from sqlalchemy import select

    from agent.db.models import WebAccountCreator

    handles = [] if account.all_creators else list(session.execute(
        select(WebAccountCreator.handle).where(WebAccountCreator.account_id == account.id).order_by(WebAccountCreator.handle)).scalars())
    return {"name": account.username, "all_creators": account.all_creators, "creators": handles,
            "password_changed_at": account.updated_at.isoformat()}


def _report(message: str, account: WebAccount, handles: list[str] | None, generated: str | None, as_json: bool) -> None:
    if as_json:
        payload = {"name": account.username, "all_creators": handles is None, "creators": handles or []}
        print_json(payload | ({"password": generated} if generated else {}))
        return
    out.print(message)
    if generated:
        out.print(f"password: [bold]{generated}[/]  (shown only now; change it with `reeltwin user password {account.username}`)")


def register(root: typer.Typer) -> None:
    """Add the `user` command group to the root command."""
    root.add_typer(app, name="user")
