"""The web approval queue. Thin routes over the same functions the CLI calls (agent.approval.queue).

:func:`create_app` builds the app: its parts on ``app.state`` (read by
:mod:`agent.web.deps`), the middleware, the static files, the error pages and
the routers of :mod:`agent.web.routes`, one per area.

No `from __future__ import annotations` here: FastAPI reads the handlers'
and the routes' annotations live.
"""


import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlmodel import Session

from agent.db.engine import ensure_schema, make_engine
from agent.errors import AgentError, NotFoundError
from agent.settings import Settings
from agent.web.deps import LoginRequired, render_page
from agent.web.drafter import BackgroundDrafter
from agent.web.routes import auth, avatars, calendar, health, history, media, reels, voices
from agent.web.security import LoginLimiter, SessionSigner
from agent.web.uploads import FORM_OVERHEAD_BYTES, BodyLimit, BodyTooLarge, sweep

__all__ = ["COOKIE", "SECURITY_HEADERS", "STATUS_LABEL", "BackgroundDrafter", "LoginRequired", "create_app"]

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
COOKIE = "reeltwin_session"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}
STATUS_LABEL = {
    "drafted": "waiting for you", "approved": "approved", "rendering": "rendering", "rendered": "scheduled",
    "publishing": "publishing", "published": "published", "rejected": "redrafting", "skipped": "skipped", "failed": "failed",
}


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

    app = FastAPI(title="ReelTwin", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.project_dir = project_dir
    app.state.engine = engine
    app.state.signer = signer
    app.state.limiter = limiter
    app.state.drafter = drafter
    app.state.templates = make_templates()

    max_upload_bytes = settings.web.max_upload_mb * 1024 * 1024
    # Outermost: a body over the limit stops while it is read, before the form parser spools it anywhere.
    app.add_middleware(BodyLimit, max_bytes=max_upload_bytes + FORM_OVERHEAD_BYTES)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.middleware("http")(sessions_and_headers)

    app.add_exception_handler(LoginRequired, to_login)
    app.add_exception_handler(BodyTooLarge, too_large)
    app.add_exception_handler(NotFoundError, not_found)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, malformed)

    for area in (auth, reels, media, avatars, voices, calendar, history, health):
        app.include_router(area.router)
    return app


def make_templates() -> Jinja2Templates:
    """The pages' templates, with the status labels and the degree and local-time filters they use."""
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.globals["status_label"] = STATUS_LABEL
    templates.env.filters["degrees"] = lambda value: f"{round(value or 0)}°"  # round() gives an int: never "-0°"
    templates.env.filters["local"] = lambda moment, zone: moment.astimezone(ZoneInfo(zone)).strftime("%a %d %b, %H:%M") if moment else ""
    return templates


async def sessions_and_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """The signed session cookie in (a new session if none or a bad one) and out when changed; security headers on every answer."""
    signer: SessionSigner = request.app.state.signer
    settings: Settings = request.app.state.settings
    session = signer.load(request.cookies.get(COOKIE))
    fresh = session is None
    request.state.session = session or signer.new()
    request.state.session_changed = fresh
    response: Response = await call_next(request)
    if request.state.session_changed:
        response.set_cookie(COOKIE, signer.dump(request.state.session), max_age=settings.web.session_hours * 3600,
                            httponly=True, samesite="lax", secure=settings.web.cookie_secure, path="/")
    for header, value in SECURITY_HEADERS.items():
        response.headers.setdefault(header, value)
    response.headers.setdefault("Cache-Control", "no-store")
    return response


async def to_login(request: Request, _exc: LoginRequired) -> RedirectResponse:
    return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)


async def too_large(request: Request, error: BodyTooLarge) -> HTMLResponse:
    # Shown on the upload's own page, with its form, like the other upload refusals.
    pages = {"/avatars": avatars.avatar_page, "/voices": voices.voice_page}
    if request.url.path in pages and request.state.session.user:
        with Session(request.app.state.engine, expire_on_commit=False) as db:
            return pages[request.url.path](request, db, request.app.state.settings, status_code=413, error=error.detail)
    return render_page(request, "error.html", status_code=413, message=error.detail)


async def not_found(request: Request, error: NotFoundError) -> HTMLResponse:
    return render_page(request, "error.html", status_code=404, message=str(error))


async def http_error(request: Request, error: HTTPException) -> HTMLResponse:
    return render_page(request, "error.html", status_code=error.status_code, message=str(error.detail))


async def malformed(request: Request, error: RequestValidationError) -> HTMLResponse:
    # Only a hand-made request gets here (the pages' own forms send what the routes expect): a page, not JSON.
    fields = sorted({str(problem["loc"][-1]) for problem in error.errors() if problem.get("loc")})
    return render_page(request, "error.html", status_code=422,
                       message=f"the request was not understood ({', '.join(fields) or 'its form'}); go back, reload the page and try again")
