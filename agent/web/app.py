"""The web approval queue. Thin routes over the same functions the CLI calls (agent.approval.queue).

:func:`create_app` builds the app: its parts on ``app.state`` (read by
:mod:`agent.web.deps`), the middleware, the static files, the error pages and
the routers of :mod:`agent.web.routes`, one per area.

No `from __future__ import annotations` here: FastAPI reads the handlers'
and the routes' annotations live.
"""


import hashlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent.db.engine import ensure_schema, make_engine
from agent.errors import AgentError, NotFoundError
from agent.approval.queue import FIELD_LABELS
from agent.approval.thumbnails import prune_thumbnails
from agent.settings import Settings
from agent.web.deps import LoginRequired, load_web_user, render_page
from agent.web.messages import destination, error_message
from agent.web.drafter import BackgroundDrafter
from agent.web.routes import accounts, auth, avatars, calendar, health, history, media, reels, voices
from agent.web.routes import reel_extras
from agent.web.routes import reel_audio
from agent.web.security import ClientAddress, LoginLimiter, SessionSigner
from agent.web.uploads import FORM_OVERHEAD_BYTES, BodyLimit, BodyTooLarge, sweep

__all__ = ["COOKIE", "SECURITY_HEADERS", "STATUS_LABEL", "BackgroundDrafter", "LoginRequired", "create_app"]

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
COOKIE = "reeltwin_session"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; media-src 'self' blob:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    # The microphone for this site only: the reel page records the creator reading the script (blob: plays it back first).
    "Permissions-Policy": "camera=(), microphone=(self), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}
STATUS_LABEL = {
    "drafted": "waiting for you", "approved": "approved", "rendering": "rendering", "rendered": "scheduled",
    "publishing": "publishing", "published": "published", "rejected": "redrafting", "skipped": "skipped", "failed": "failed",
}
#: Static files carry ``?v=<hash of their content>`` in the pages, so a browser may keep them for a year.
STATIC_MAX_AGE = "public, max-age=31536000, immutable"


def create_app(settings: Settings, project_dir: Path) -> FastAPI:
    """The web app for one project. Refuses to start without a session secret."""
    if settings.web.secret_key is None:
        raise AgentError("web.secret_key is not set; run `reeltwin init` (it writes one into .env) or set REELTWIN_WEB__SECRET_KEY")
    signer = SessionSigner(settings.web.secret_key.get_secret_value(), settings.web.session_hours * 3600)
    limiter = LoginLimiter(attempts=settings.web.login_attempts_per_15_min)
    engine = make_engine(settings.database_url)
    ensure_schema(engine)
    drafter = BackgroundDrafter(settings, project_dir)
    if removed := sweep(settings.data_dir):
        log.info("web: removed %d upload(s) left behind in %s", removed, settings.data_dir / "uploads")
    with Session(engine) as db:
        if removed := prune_thumbnails(db, settings.data_dir, remote_media=settings.storage.backend != "local"):
            log.info("web: removed %d cover thumbnail(s) no reel shows any more from %s", removed, settings.data_dir / "thumbs")

    app = FastAPI(title="ReelTwin", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.project_dir = project_dir
    app.state.engine = engine
    app.state.signer = signer
    app.state.limiter = limiter
    app.state.client_address = ClientAddress(settings.web.trusted_proxies)
    app.state.drafter = drafter
    app.state.templates = make_templates()

    max_upload_bytes = settings.web.max_upload_mb * 1024 * 1024
    # Outermost: a body over the limit stops while it is read, before the form parser spools it anywhere.
    app.add_middleware(BodyLimit, max_bytes=max_upload_bytes + FORM_OVERHEAD_BYTES)
    app.add_middleware(HeadAsGet)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.middleware("http")(sessions_and_headers)

    app.add_exception_handler(LoginRequired, to_login)
    app.add_exception_handler(BodyTooLarge, too_large)
    app.add_exception_handler(NotFoundError, not_found)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(StarletteHTTPException, http_error)  # the router's own 404 and 405: a page, not JSON
    app.add_exception_handler(RequestValidationError, malformed)

    for area in (auth, reels, media, avatars, voices, calendar, history, accounts, health):
        app.include_router(area.router)
    app.include_router(reel_extras.router)   # the queue's "Approve selected", undo, publish now, reschedule, compare, thumbnails
    app.include_router(reel_audio.router)   # a reel read in the creator's own voice
    return app


def make_templates() -> Jinja2Templates:
    """The pages' templates, with the status labels and the degree and local-time filters they use."""
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.globals["status_label"] = STATUS_LABEL
    templates.env.filters["degrees"] = lambda value: f"{round(value or 0)}°"  # round() gives an int: never "-0°"
    templates.env.filters["local"] = lambda moment, zone: moment.astimezone(ZoneInfo(zone)).strftime("%a %d %b, %H:%M") if moment else ""
    templates.env.filters["field_labels"] = lambda names: ", ".join(FIELD_LABELS[name] for name in names)
    templates.env.filters["who"] = _consent_label
    templates.env.globals["destination"] = destination
    templates.env.globals["account_notices"] = accounts.banner_notices   # the banner while a token runs out or a refresh failed
    versions = {path.name: hashlib.sha256(path.read_bytes()).hexdigest()[:12] for path in (HERE / "static").iterdir() if path.is_file()}
    templates.env.globals["static_url"] = lambda name: f"/static/{name}?v={versions[name]}"
    return templates


class HeadAsGet:
    """HEAD is answered like GET, without the body (FastAPI's routes list GET only, so HEAD would be 405)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)


async def sessions_and_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """The signed session cookie in (a new session if none or a bad one) and out when changed; security headers on every answer."""
    signer: SessionSigner = request.app.state.signer
    settings: Settings = request.app.state.settings
    session = signer.load(request.cookies.get(COOKIE))
    if session is not None and session.user and not request.url.path.startswith("/static/"):
        # Logged out since, or the password changed since: a saved copy of the cookie is a stranger's.
        if not await run_in_threadpool(auth.session_is_live, request.app.state.engine, session):
            session = None
    fresh = session is None
    request.state.session = session or signer.new()
    request.state.session_changed = fresh
    response: Response = await call_next(request)
    if request.state.session_changed:
        response.set_cookie(COOKIE, signer.dump(request.state.session), max_age=settings.web.session_hours * 3600,
                            httponly=True, samesite="lax", secure=settings.web.cookie_secure, path="/")
    for header, value in SECURITY_HEADERS.items():
        response.headers.setdefault(header, value)
    if request.url.path.startswith("/static/") and response.status_code == 200:
        # The pages name each static file with its content's hash: a new version is a new URL.
        response.headers.setdefault("Cache-Control", STATIC_MAX_AGE if request.query_params.get("v") else "no-cache")
    response.headers.setdefault("Cache-Control", "no-store")
    return response


async def to_login(request: Request, _exc: LoginRequired) -> RedirectResponse:
    return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)


async def too_large(request: Request, error: BodyTooLarge) -> HTMLResponse:
    # Shown on the upload's own page, with its form, like the other upload refusals.
    pages = {"/avatars": avatars.avatar_page, "/voices": voices.voice_page}
    if request.url.path in pages and request.state.session.user:
        with Session(request.app.state.engine, expire_on_commit=False) as db:
            user = load_web_user(db, request.state.session.user)
            if user is not None:
                return pages[request.url.path](request, db, request.app.state.settings, user, status_code=413, error=error.detail)
    return render_page(request, "error.html", status_code=413, message=error.detail)


async def not_found(request: Request, error: NotFoundError) -> HTMLResponse:
    return render_page(request, "error.html", status_code=404, message=error_message(error))


#: The router's own refusals, worded for a person (its detail is "Not Found", "Method Not Allowed").
_ROUTER_MESSAGES = {404: "There is no page at this address.", 405: "This address cannot be used that way; go back and use the page's buttons."}


async def http_error(request: Request, error: StarletteHTTPException) -> HTMLResponse:
    message: Any = error.detail
    if not isinstance(error, HTTPException) or message in ("Not Found", "Method Not Allowed"):
        message = _ROUTER_MESSAGES.get(error.status_code, str(message))
    response = render_page(request, "error.html", status_code=error.status_code, message=str(message))
    if error.headers:
        response.headers.update(error.headers)
    return response


async def malformed(request: Request, error: RequestValidationError) -> HTMLResponse:
    # Only a hand-made request gets here (the pages' own forms send what the routes expect): a page, not JSON.
    fields = sorted({str(problem["loc"][-1]) for problem in error.errors() if problem.get("loc")})
    return render_page(request, "error.html", status_code=422,
                       message=f"the request was not understood ({', '.join(fields) or 'its form'}); go back, reload the page and try again")


def _consent_label(consent_by: str | None, viewer: str | None = None) -> str:
    """Who consented, as the web user ``viewer`` reads it: "you (on the web)", "ana (on the web)",
    "you (command line, user ana)", "the demo"."""
    from agent.web.messages import actor_label

    by = consent_by or ""
    if by.startswith("cli:"):
        return f"you (command line, user {by.split(':', 1)[1]})" if by.split(":", 1)[1] else "you (command line)"
    if by == "demo":
        return "the demo"
    return actor_label(by, viewer)
