"""``reeltwin web`` (the approval queue in a browser) and ``reeltwin password`` (its login)."""

from __future__ import annotations

import getpass
import sys

import typer

from agent.cli.context import out, print_json
from agent.errors import AgentError, ValidationFailed


def web(
    ctx: typer.Context,
    host: str = typer.Option(None, "--host", help="Address to bind (default: web.host, 127.0.0.1)."),
    port: int = typer.Option(None, "--port", min=1, max=65535, help="Port (default: web.port, 8000)."),
) -> None:
    """Serve the web approval queue (log in with the password set by `reeltwin password`)."""
    import uvicorn

    from agent.web.app import create_app

    settings = ctx.obj.settings
    application = create_app(settings, ctx.obj.loaded.project_dir)
    host, port = host or settings.web.host, port or settings.web.port
    listener = _bind(host, port)
    if host not in ("127.0.0.1", "localhost", "::1"):
        out.print(f"[yellow]listening on {host}: put it behind HTTPS (see README) and set web.cookie_secure = true[/]")
    out.print(f"ReelTwin web on http://{host}:{port}/  (Ctrl-C stops)")
    # proxy_headers off: the app reads X-Forwarded-For itself, from web.trusted_proxies only (uvicorn would trust 127.0.0.1).
    config = uvicorn.Config(application, log_level="warning", proxy_headers=False, server_header=False)
    uvicorn.Server(config).run(sockets=[listener])


def _bind(host: str, port: int):  # noqa: ANN202 - socket.socket
    """The listening socket, bound before the address is announced: a busy port or an address this machine does
    not have is one line naming the fix (exit 2), not uvicorn's raw error after a misleading start message."""
    import errno
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise AgentError(f"--host {host!r}: not an address of this machine ({error.strerror}); use 127.0.0.1, or 0.0.0.0 for every address") from None
    family, kind, proto, _name, address = infos[0]
    listener = socket.socket(family, kind, proto)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(address)
        listener.listen(128)
    except OSError as error:
        listener.close()
        if error.errno == errno.EADDRINUSE:
            raise AgentError(f"port {port} on {host} is already in use (another `reeltwin web`?); stop that, or pick another with --port") from None
        if error.errno == errno.EACCES:
            raise AgentError(f"port {port} on {host} needs administrator rights; use a port above 1023 with --port") from None
        if error.errno == errno.EADDRNOTAVAIL:
            raise AgentError(f"--host {host!r}: not an address of this machine; use 127.0.0.1, or 0.0.0.0 for every address") from None
        raise AgentError(f"cannot listen on {host}:{port} ({error.strerror}); pick another --port or --host") from None
    listener.set_inheritable(True)
    return listener


def password(
    ctx: typer.Context,
    from_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input (for scripts)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Set the web login password: the first user's, "creator", who sees every creator (more users: `reeltwin user add`).

    Stored only as a scrypt hash."""
    from sqlalchemy import select

    from agent.db.models import WebAccount, utcnow
    from agent.web.security import hash_password

    if from_stdin:
        secret = sys.stdin.readline().rstrip("\n")
    elif sys.stdin.isatty():
        secret = getpass.getpass("New web password: ")
        if getpass.getpass("Again: ") != secret:
            raise ValidationFailed("the two passwords differ; nothing changed")
    else:
        raise AgentError("no terminal to ask for the password; use --password-stdin")
    hashed = hash_password(secret)
    session = ctx.obj.session
    account = session.execute(select(WebAccount).where(WebAccount.username == "creator")).scalar_one_or_none()
    if account is None:
        session.add(WebAccount(username="creator", password_hash=hashed))
    else:
        account.password_hash, account.updated_at = hashed, utcnow()
    session.commit()
    if as_json:
        print_json({"username": "creator", "password_set": True, "created": account is None})
        return
    out.print("web password set; log in at the address `reeltwin web` prints")


def register(root: typer.Typer) -> None:
    """Add `web`, `password` to the root command."""
    root.command("web")(web)
    root.command("password")(password)
