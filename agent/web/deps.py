"""What the web routes share: typed dependencies and the flash, page and redirect helpers.

The app's parts (settings, engine, session signer, login limiter, drafter,
templates) live on ``app.state``, set once by :func:`agent.web.app.create_app`;
everything here reaches them through the request.

No `from __future__ import annotations` here: FastAPI reads the dependency
aliases (SessionDep, CurrentUser, ...) from the live annotations.
"""

from collections.abc import Iterator
from typing import Annotated, Any
from urllib.parse import urlparse

from fastapi import Depends, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from sqlmodel import Session

from agent.settings import Settings
from agent.web.drafter import BackgroundDrafter
from agent.web.security import ClientAddress, LoginLimiter, SessionData, SessionSigner, same_text


class LoginRequired(Exception):
    """A page asked for without a login: the app answers with a redirect to the login page."""


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_db(request: Request) -> Iterator[Session]:
    with Session(request.app.state.engine, expire_on_commit=False) as db:
        yield db


def get_signer(request: Request) -> SessionSigner:
    return request.app.state.signer


def get_limiter(request: Request) -> LoginLimiter:
    return request.app.state.limiter


def client_address(request: Request) -> str:
    """Who is asking: the peer, or the client a trusted proxy (``web.trusted_proxies``) names in X-Forwarded-For."""
    resolve: ClientAddress = request.app.state.client_address
    return resolve(request.client.host if request.client else None, request.headers.getlist("x-forwarded-for"))


def get_drafter(request: Request) -> BackgroundDrafter:
    return request.app.state.drafter


def get_current_user(request: Request) -> str:
    """The logged-in user; a page without one redirects to the login, a form post is refused."""
    if not request.state.session.user:
        if request.method != "GET":
            raise HTTPException(403, "log in first")
        raise LoginRequired()
    return request.state.session.user


async def check_csrf(request: Request) -> None:
    """Every POST carries the session's token, and comes from this site."""
    form = await request.form()
    token = str(form.get("csrf", ""))
    if not token or not same_text(token, request.state.session.csrf):
        raise HTTPException(403, "this form has expired or came from another site; reload the page and try again")
    origin = request.headers.get("origin") or request.headers.get("referer")
    # "null" is what a sandboxed frame or a file:// page sends: never this site.
    if origin and (origin.strip().lower() == "null" or urlparse(origin).netloc not in ("", request.url.netloc)):
        raise HTTPException(403, "cross-site request refused")


async def sent_form_fields(request: Request) -> frozenset[str]:
    """The names of the fields the form really sent (FastAPI gives an empty field the default, so absent and empty look alike)."""
    return frozenset((await request.form()).keys())


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_db)]
SignerDep = Annotated[SessionSigner, Depends(get_signer)]
LimiterDep = Annotated[LoginLimiter, Depends(get_limiter)]
DrafterDep = Annotated[BackgroundDrafter, Depends(get_drafter)]
CurrentUser = Annotated[str, Depends(get_current_user)]
SentFields = Annotated[frozenset[str], Depends(sent_form_fields)]
#: A reel id in a URL: beyond the id column's range (32-bit INTEGER on PostgreSQL) it is a 422 page, not a 500.
ReelId = Annotated[int, Path(ge=1, le=2**31 - 1)]
#: For a route's ``dependencies=[CsrfChecked]``: it has no value to hand over.
CsrfChecked = Depends(check_csrf)


def flash(request: Request, message: str) -> None:
    """A one-line message for the next page shown (after the redirect)."""
    request.state.session.flash = message
    request.state.session_changed = True


def render_page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A template with the session's CSRF token, user and pending flash message (shown once)."""
    session: SessionData = request.state.session
    message = session.flash
    if message:
        session.flash = None
        request.state.session_changed = True
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(request, template, {"csrf": session.csrf, "user": session.user, "flash": message, **context}, status_code=status_code)


def redirect_back(target: str | None, fallback: str) -> RedirectResponse:
    """303 to ``target`` if it is a local path, else to ``fallback``."""
    # Only local paths: an attacker cannot turn "next" into an open redirect.
    if not target or not target.startswith("/") or target.startswith("//"):
        target = fallback
    return RedirectResponse(target, status_code=303)


def max_upload_bytes(settings: Settings) -> int:
    return settings.web.max_upload_mb * 1024 * 1024
