"""The web approval queue. Thin routes over the same functions the CLI calls (agent.queue).

No `from __future__ import annotations` here: FastAPI reads the dependency
aliases (DB, User) from the live annotations of the route functions.
"""


import logging
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlparse
from zoneinfo import ZoneInfo

from fastapi import Depends, FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from sqlmodel import Session

from agent.db.engine import ensure_schema, make_engine
from agent.db.models import Avatar, Creator, Reel, ReelStatus, Slot, WebAccount, utcnow
from agent.errors import AgentError, InvalidTransitionError, NotFoundError, ValidationFailed
from agent.queue import MAX_CAPTION_CHARS, approve, edit, events, get_reel, list_queue, reject, retry, versions, word_budget, word_count
from agent.settings import Settings
from agent.web.security import LoginLimiter, SessionData, SessionSigner, verify_password
from agent.web.uploads import FORM_OVERHEAD_BYTES, BodyLimit, BodyTooLarge, UploadRefused, incoming, shown_name, sweep

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


class LoginRequired(Exception):
    pass


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
    app.state.drafter = drafter
    max_upload_bytes = settings.web.max_upload_mb * 1024 * 1024
    # Outermost: a body over the limit stops while it is read, before the form parser spools it anywhere.
    app.add_middleware(BodyLimit, max_bytes=max_upload_bytes + FORM_OVERHEAD_BYTES)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.globals["status_label"] = STATUS_LABEL
    templates.env.filters["degrees"] = lambda value: f"{round(value or 0)}°"  # round() gives an int: never "-0°"
    templates.env.filters["local"] = lambda moment, zone: moment.astimezone(ZoneInfo(zone)).strftime("%a %d %b, %H:%M") if moment else ""

    @app.middleware("http")
    async def sessions_and_headers(request: Request, call_next):  # noqa: ANN202
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

    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, _exc: LoginRequired) -> RedirectResponse:
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)

    def database() -> Iterator[Session]:
        with Session(engine, expire_on_commit=False) as db:
            yield db

    def user(request: Request) -> str:
        if not request.state.session.user:
            if request.method != "GET":
                raise HTTPException(403, "log in first")
            raise LoginRequired()
        return request.state.session.user

    async def csrf(request: Request) -> None:
        """Every POST carries the session's token, and comes from this site."""
        form = await request.form()
        token = str(form.get("csrf", ""))
        import hmac

        if not token or not hmac.compare_digest(token, request.state.session.csrf):
            raise HTTPException(403, "this form has expired or came from another site; reload the page and try again")
        origin = request.headers.get("origin") or request.headers.get("referer")
        if origin and urlparse(origin).netloc not in ("", request.url.netloc):
            raise HTTPException(403, "cross-site request refused")

    DB = Annotated[Session, Depends(database)]
    User = Annotated[str, Depends(user)]
    Csrf = Depends(csrf)

    def flash(request: Request, message: str) -> None:
        request.state.session.flash = message
        request.state.session_changed = True

    def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        session: SessionData = request.state.session
        message = session.flash
        if message:
            session.flash = None
            request.state.session_changed = True
        return templates.TemplateResponse(request, template, {"csrf": session.csrf, "user": session.user, "flash": message, **context}, status_code=status_code)

    def back(target: str | None, fallback: str) -> RedirectResponse:
        # Only local paths: an attacker cannot turn "next" into an open redirect.
        if not target or not target.startswith("/") or target.startswith("//"):
            target = fallback
        return RedirectResponse(target, status_code=303)

    # -- login ------------------------------------------------------------------

    @app.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, db: DB, next: str = "/") -> HTMLResponse:  # noqa: A002
        has_password = db.execute(select(WebAccount.id)).first() is not None
        return render(request, "login.html", next=next, has_password=has_password)

    @app.post("/login", dependencies=[Csrf])
    def login(request: Request, db: DB, password: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/") -> Response:  # noqa: A002
        client = request.client.host if request.client else "unknown"
        wait = limiter.blocked_for(client)
        if wait:
            return render(request, "login.html", status_code=429, next=next, has_password=True,
                          error=f"Too many attempts. Try again in {int(wait // 60) + 1} minutes.")
        account = db.execute(select(WebAccount).where(WebAccount.username == "creator")).scalar_one_or_none()
        if account is None:
            return render(request, "login.html", status_code=403, next=next, has_password=False)
        if not verify_password(password, account.password_hash):
            limiter.failed(client)
            log.warning("web: failed login from %s", client)
            return render(request, "login.html", status_code=401, next=next, has_password=True, error="Wrong password.")
        session = signer.new()  # a new token on login: no session fixation
        session.user = account.username
        request.state.session = session
        request.state.session_changed = True
        return back(next, "/")

    @app.post("/logout", dependencies=[Csrf])
    def logout(request: Request) -> RedirectResponse:
        request.state.session = signer.new()
        request.state.session_changed = True
        return RedirectResponse("/login", status_code=303)

    # -- queue and reels ----------------------------------------------------------

    @app.get("/", response_class=HTMLResponse)
    def queue_page(request: Request, db: DB, _user: User, status: str | None = None) -> HTMLResponse:
        chosen = ReelStatus(status) if status in {s.value for s in ReelStatus} else None
        items = list_queue(db, chosen)
        waiting = [item for item in items if item.reel.status == ReelStatus.DRAFTED]
        others = [item for item in items if item.reel.status not in (ReelStatus.DRAFTED, ReelStatus.SKIPPED)]
        return render(request, "queue.html", waiting=waiting, others=others, word_count=word_count, status=chosen, drafting=drafter.busy())

    @app.get("/reels/{reel_id}", response_class=HTMLResponse)
    def reel_page(request: Request, reel_id: int, db: DB, _user: User) -> HTMLResponse:
        return render(request, "reel.html", **_reel_context(db, reel_id, settings))

    @app.post("/reels/{reel_id}/approve", dependencies=[Csrf])
    def approve_reel(request: Request, reel_id: int, db: DB, who: User, next: Annotated[str, Form()] = "") -> Response:  # noqa: A002
        try:
            [(_id, result)] = approve(db, [reel_id], actor=f"creator:web:{who}")
        except AgentError as error:
            flash(request, str(error))
        else:
            flash(request, f"Reel {reel_id} {result}.")
        return back(next, f"/reels/{reel_id}")

    @app.post("/reels/{reel_id}/edit", dependencies=[Csrf])
    def edit_reel(
        request: Request, reel_id: int, db: DB, who: User,
        script: Annotated[str, Form()] = "", on_screen_title: Annotated[str, Form()] = "",
        caption: Annotated[str, Form()] = "", hashtags: Annotated[str, Form()] = "",
    ) -> Response:
        tags = [tag for tag in hashtags.replace(",", " ").split() if tag]
        try:
            reel, warnings = edit(db, reel_id, script=script, on_screen_title=on_screen_title, caption=caption, hashtags=tags,
                                  actor=f"creator:web:{who}", words_per_minute=settings.drafting.words_per_minute)
        except ValidationFailed as error:
            db.rollback()
            context = _reel_context(db, reel_id, settings)
            context["form"] = {"script": script, "on_screen_title": on_screen_title, "caption": caption, "hashtags": hashtags}
            return render(request, "reel.html", status_code=422, error=str(error), **context)
        flash(request, f"Saved as version {reel.version}." + (" " + " ".join(warnings) if warnings else "")
              + (" Approve it again when you are happy." if reel.status == ReelStatus.DRAFTED else ""))
        return RedirectResponse(f"/reels/{reel_id}", status_code=303)

    @app.post("/reels/{reel_id}/reject", dependencies=[Csrf])
    def reject_reel(request: Request, reel_id: int, db: DB, who: User, feedback: Annotated[str, Form()] = "") -> Response:
        try:
            reject(db, reel_id, feedback, actor=f"creator:web:{who}")
        except (ValidationFailed, InvalidTransitionError) as error:  # e.g. a second click on "Reject": 409, not a 500
            db.rollback()
            return render(request, "reel.html", status_code=409 if isinstance(error, InvalidTransitionError) else 422,
                          error=str(error), **_reel_context(db, reel_id, settings))
        drafter.redraft(reel_id)
        flash(request, "Rejected. A new version is being written from your feedback; it appears here when ready.")
        return RedirectResponse(f"/reels/{reel_id}", status_code=303)

    @app.post("/reels/{reel_id}/retry", dependencies=[Csrf])
    def retry_reel(request: Request, reel_id: int, db: DB, who: User) -> Response:
        try:
            reel = retry(db, reel_id, actor=f"creator:web:{who}")
            flash(request, f"Reel {reel_id} is {reel.status} again and will be retried.")
        except AgentError as error:
            flash(request, str(error))
        return RedirectResponse(f"/reels/{reel_id}", status_code=303)

    def serve(path: str | Path | None) -> FileResponse:
        """A file from the data directory, or 404: never anything outside it, never a folder."""
        if not path:
            raise HTTPException(404, "no such file")
        resolved = Path(path).resolve()
        if not resolved.is_relative_to(settings.data_dir.resolve()) or not resolved.is_file():
            raise HTTPException(404, "no such file")
        return FileResponse(resolved)

    @app.get("/media/{reel_id}/{kind}")
    def media(reel_id: int, kind: str, db: DB, _user: User) -> FileResponse:
        reel = get_reel(db, reel_id)
        return serve((reel.artifacts or {}).get(kind))

    # -- avatar and voice enrollment ---------------------------------------------------

    def avatar_page(request: Request, db: Session, status_code: int = 200, **context: Any) -> HTMLResponse:
        from agent import avatars

        context.setdefault("form", {"name": _default_name(db)})
        return render(request, "avatars.html", status_code=status_code, avatars=[_avatar_row(a) for a in avatars.list_avatars(db)],
                      consent_text=avatars.CONSENT_TEXT, max_upload_mb=settings.web.max_upload_mb, zone=_zone(db), **context)

    def voice_page(request: Request, db: Session, status_code: int = 200, **context: Any) -> HTMLResponse:
        from agent import voices

        context.setdefault("form", {"name": _default_name(db)})
        rows = [_voice_row(profile, voices.preview_path(settings, profile)) for profile in voices.list_voices(db)]
        return render(request, "voices.html", status_code=status_code, voices=rows, consent_text=voices.CONSENT_TEXT,
                      preview_text=voices.PREVIEW_TEXT, backend=settings.voice.backend, max_upload_mb=settings.web.max_upload_mb,
                      zone=_zone(db), **context)

    @app.exception_handler(BodyTooLarge)
    async def too_large(request: Request, error: BodyTooLarge) -> HTMLResponse:
        # Shown on the upload's own page, with its form, like the other upload refusals.
        pages = {"/avatars": avatar_page, "/voices": voice_page}
        if request.url.path in pages and request.state.session.user:
            with Session(engine, expire_on_commit=False) as db:
                return pages[request.url.path](request, db, status_code=413, error=error.detail)
        return render(request, "error.html", status_code=413, message=error.detail)

    @app.get("/avatars", response_class=HTMLResponse)
    def avatars_page(request: Request, db: DB, _user: User) -> HTMLResponse:
        return avatar_page(request, db)

    @app.post("/avatars", dependencies=[Csrf])
    def avatar_enroll(
        request: Request, db: DB, who: User, photo: Annotated[UploadFile | None, File()] = None, name: Annotated[str, Form()] = "",
        consent: Annotated[bool, Form()] = False, replace: Annotated[bool, Form()] = False,
    ) -> Response:
        from agent import avatars

        name = name.strip()
        form = {"name": name, "consent": consent, "replace": replace}
        shown = shown_name(photo.filename if photo else None, "photo")
        warnings: list[str] = []
        try:
            _check_upload_name(name, avatars.NAME_PATTERN)
            if not replace and _avatar_named(db, name) is not None:
                raise AgentError(f"avatar {name!r} already exists; tick “Replace” to enroll a new photo under that name, or choose another name")
            with incoming(photo, settings.data_dir, kind="photo", max_bytes=max_upload_bytes) as path:
                try:
                    if not consent:  # check the photo anyway, so the creator learns of its problems before consenting
                        _face, found = avatars.analyze_photo(path)
                        warnings = [_as_shown(w, path, shown) for w in found]
                        raise AgentError("Nothing was stored: tick “This is my face, or I have the right to use it” to give your consent, then upload again")
                    result = avatars.enroll(db, settings.data_dir, path, name=name, consent=True, consent_by=f"creator:web:{who}", replace=replace)
                except AgentError as error:
                    raise AgentError(_as_shown(str(error), path, shown)) from None
                warnings = [_as_shown(w, path, shown) for w in result.warnings]
                record = result.avatar
                record.analysis = {**record.analysis, "warnings": warnings, "uploaded_as": shown}
                db.add(record)
                db.commit()
        except UploadRefused as error:
            db.rollback()
            return avatar_page(request, db, status_code=error.status_code, error=str(error), form=form)
        except AgentError as error:
            db.rollback()
            return avatar_page(request, db, status_code=422, error=str(error), warnings=warnings, form=form)
        try:
            avatars.framed_preview(record)
        except AgentError as error:  # the avatar is enrolled; the preview is retried when the page shows it
            log.warning("web: no framed preview for avatar %r yet (%s)", record.name, error)
        flash(request, f"Enrolled avatar {record.name!r}." + (" Its notes are below." if warnings else ""))
        return RedirectResponse(f"/avatars#avatar-{quote(record.name)}", status_code=303)

    @app.get("/media/avatar/{name}/{kind}")
    def avatar_media(name: str, kind: str, db: DB, _user: User) -> FileResponse:
        from agent import avatars

        avatar = _avatar_named(db, name)
        if avatar is None or kind not in ("photo", "preview"):
            raise HTTPException(404, "no such file")
        if kind == "photo":
            return serve(avatar.photo_path)
        try:
            return serve(avatars.framed_preview(avatar))
        except AgentError as error:
            raise HTTPException(404, str(error)) from None

    @app.get("/voices", response_class=HTMLResponse)
    def voices_page(request: Request, db: DB, _user: User) -> HTMLResponse:
        return voice_page(request, db)

    @app.post("/voices", dependencies=[Csrf])
    def voice_enroll(
        request: Request, db: DB, who: User, sample: Annotated[UploadFile | None, File()] = None, name: Annotated[str, Form()] = "",
        consent: Annotated[bool, Form()] = False, replace: Annotated[bool, Form()] = False,
    ) -> Response:
        from agent import voices
        from agent.pipeline import voice_config

        name = name.strip()
        form = {"name": name, "consent": consent, "replace": replace}
        shown = shown_name(sample.filename if sample else None, "sample")
        warnings: list[str] = []
        try:
            _check_upload_name(name, voices.NAME_PATTERN.pattern)
            existing = voices.find(db, name)
            if existing is not None and not replace:
                raise AgentError(f"voice {name!r} is already enrolled (since {existing.created_at:%Y-%m-%d}); tick “Replace” to enroll the new sample instead")
            with incoming(sample, settings.data_dir, kind="audio", max_bytes=max_upload_bytes) as path:
                try:
                    report = voices.analyze_sample(path)
                    warnings = [_as_shown(w, path, shown) for w in report.warnings]
                    if not consent:
                        raise AgentError("Nothing was stored: tick “This is my voice, or I have the right to use it” to give your consent, then upload again")
                    backend = settings.voice.backend
                    enrolled = voices.enroll_voice(db, settings, report, name=name, consent=True, consent_by=f"creator:web:{who}", backend=backend,
                                                   replace=replace, backend_config=voice_config(settings, backend))
                except AgentError as error:
                    raise AgentError(_as_shown(str(error), path, shown)) from None
        except UploadRefused as error:
            db.rollback()
            return voice_page(request, db, status_code=error.status_code, error=str(error), form=form)
        except AgentError as error:
            db.rollback()
            return voice_page(request, db, status_code=422, error=str(error), warnings=warnings, form=form)
        stats = enrolled.profile.stats or {}
        flash(request, f"{'Replaced' if enrolled.replaced else 'Enrolled'} voice {name!r}: {stats.get('speech_s', 0):.1f} s of speech."
              + "".join(f" Note: {w}" for w in warnings) + " Press “Preview” to hear it.")
        return RedirectResponse(f"/voices#voice-{quote(name)}", status_code=303)

    @app.post("/voices/{name}/preview", dependencies=[Csrf])
    def preview_voice(request: Request, name: str, db: DB, _user: User) -> Response:
        from agent import voices

        try:
            voices.preview(db, settings, name)
        except AgentError as error:
            db.rollback()
            flash(request, str(error))
        except OSError as error:
            flash(request, f"voice {name!r}: the preview could not be written ({error.strerror}); check data_dir")
        return RedirectResponse(f"/voices#voice-{quote(name)}", status_code=303)

    @app.get("/media/voice/{name}/{kind}")
    def voice_media(name: str, kind: str, db: DB, _user: User) -> FileResponse:
        from agent import voices

        profile = voices.find(db, name)
        if profile is None or kind not in ("preview", "sample"):
            raise HTTPException(404, "no such file")
        path = voices.preview_path(settings, profile) if kind == "preview" else Path(profile.sample_path)
        return serve(path)

    # -- calendar and history --------------------------------------------------------

    @app.get("/calendar", response_class=HTMLResponse)
    def calendar_page(request: Request, db: DB, _user: User) -> HTMLResponse:
        return render(request, "calendar.html", calendars=_calendar_view(db, settings))

    @app.get("/history", response_class=HTMLResponse)
    def history_page(request: Request, db: DB, _user: User) -> HTMLResponse:
        items = list_queue(db, ReelStatus.PUBLISHED)
        items.sort(key=lambda item: item.reel.published_at or utcnow(), reverse=True)
        return render(request, "history.html", items=items)

    @app.exception_handler(NotFoundError)
    async def not_found(request: Request, error: NotFoundError) -> HTMLResponse:
        return render(request, "error.html", status_code=404, message=str(error))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> HTMLResponse:
        return render(request, "error.html", status_code=error.status_code, message=str(error.detail))

    @app.exception_handler(RequestValidationError)
    async def malformed(request: Request, error: RequestValidationError) -> HTMLResponse:
        # Only a hand-made request gets here (the pages' own forms send what the routes expect): a page, not JSON.
        fields = sorted({str(problem["loc"][-1]) for problem in error.errors() if problem.get("loc")})
        return render(request, "error.html", status_code=422,
                      message=f"the request was not understood ({', '.join(fields) or 'its form'}); go back, reload the page and try again")

    @app.get("/public/{token}/{name}")
    def public_media(token: str, name: str) -> FileResponse:
        """Rendered reels for Instagram to fetch (Graph API): signed, expiring, no login, nothing else."""
        from publishing.base import PublishRefused
        from publishing.hosting import MediaHost

        try:
            host = MediaHost(base_url="", secret=settings.web.secret_key.get_secret_value(), root=settings.data_dir)
        except PublishRefused:
            raise HTTPException(404, "no such file") from None
        path = host.resolve(token)
        if path is None or path.name != name:
            raise HTTPException(404, "no such file")
        return FileResponse(path)

    @app.get("/healthz")
    def health() -> dict:
        return {"ok": True}

    return app


def _reel_context(db: Session, reel_id: int, settings: Settings) -> dict[str, Any]:
    reel = get_reel(db, reel_id)
    creator = db.get(Creator, reel.creator_id)
    slot = db.get(Slot, reel.slot_id) if reel.slot_id else None
    budget = word_budget(creator.reel_length_s, settings.drafting.words_per_minute)
    words = word_count(reel.script)
    return {
        "reel": reel, "state": str(ReelStatus(reel.status)), "creator": creator, "slot": slot, "versions": list(reversed(versions(db, reel_id))), "events": list(reversed(events(db, reel_id))),
        "words": words, "budget": budget, "over_budget": words > budget * 1.15, "max_caption": MAX_CAPTION_CHARS,
        "form": {"script": reel.script, "on_screen_title": reel.on_screen_title, "caption": reel.caption, "hashtags": " ".join(reel.hashtags)},
        "editable": reel.status in (ReelStatus.DRAFTED, ReelStatus.APPROVED, ReelStatus.RENDERED, ReelStatus.FAILED, ReelStatus.REJECTED),
        "artifacts": {kind: path for kind, path in (reel.artifacts or {}).items() if path},
    }


def _avatar_named(db: Session, name: str) -> Avatar | None:
    return db.execute(select(Avatar).where(Avatar.name == name)).scalar_one_or_none()


def _check_upload_name(name: str, pattern: str) -> None:
    import re

    if not re.match(pattern, name):
        raise AgentError(f"name {name!r}: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit (e.g. your handle)")


def _as_shown(message: str, path: Path | None, shown: str) -> str:
    """A check's message with the upload's generated path or name replaced by the name the creator chose the file by."""
    if path is not None:
        message = message.replace(str(path), shown).replace(path.name, shown)
    return message


def _default_name(db: Session) -> str:
    """The first creator's handle: reels pick the avatar and voice named after it."""
    handle = db.execute(select(Creator.handle).order_by(Creator.id)).scalars().first()
    return handle or ""


def _zone(db: Session) -> str:
    zone = db.execute(select(Creator.timezone).order_by(Creator.id)).scalars().first()
    return zone or "UTC"


def _avatar_row(avatar: Any) -> dict[str, Any]:
    analysis = avatar.analysis or {}
    pose = analysis.get("pose") or {}
    prefix = f"photo {analysis.get('uploaded_as')!r}: "
    # The card already names the file: its notes need not repeat "photo 'me.png': ".
    notes = [w[len(prefix):][:1].upper() + w[len(prefix) + 1:] if w.startswith(prefix) else w for w in analysis.get("warnings") or []]
    return {"avatar": avatar, "face_height_px": analysis.get("face_height_px"), "image": (analysis.get("image_width"), analysis.get("image_height")),
            "pose": pose, "warnings": notes, "uploaded_as": analysis.get("uploaded_as")}


def _voice_row(profile: Any, preview: Path) -> dict[str, Any]:
    stats = profile.stats or {}
    return {"profile": profile, "speech_s": stats.get("speech_s"), "f0_median_hz": stats.get("f0_median_hz"), "snr_db": stats.get("snr_db"),
            "backends": sorted((profile.artifacts or {}).keys()) or [profile.backend], "has_preview": preview.is_file()}


def _calendar_view(db: Session, settings: Settings) -> list[dict[str, Any]]:
    from agent.content_calendar.loader import calendar_files, display_path, load_calendar
    from agent.errors import CalendarError

    views = []
    now = utcnow()
    for path in calendar_files(settings.calendar_dir, include_templates=False):
        view: dict[str, Any] = {"file": display_path(path, settings.calendar_dir.parent), "problems": [], "slots": []}
        try:
            calendar = load_calendar(path, base=settings.calendar_dir.parent).calendar
        except CalendarError as error:
            view["problems"] = error.problems
            views.append(view)
            continue
        view.update(handle=calendar.handle, timezone=calendar.timezone)
        creator = db.execute(select(Creator).where(Creator.handle == calendar.handle)).scalar_one_or_none()
        if creator is not None:
            rows = db.execute(
                select(Slot, Reel).outerjoin(Reel, (Reel.slot_id == Slot.id) & (Reel.status.not_in([ReelStatus.SKIPPED])))
                .where(Slot.creator_id == creator.id, Slot.scheduled_at >= now, Slot.scheduled_at < now + timedelta(days=21))
                .order_by(Slot.scheduled_at)
            ).all()
            view["slots"] = [{"slot": slot, "reel": reel} for slot, reel in rows]
        views.append(view)
    return views


class BackgroundDrafter:
    """Redrafts a rejected reel in a background thread, one at a time, so the page answers at once."""

    def __init__(self, settings: Settings, project_dir: Path):
        self.settings = settings
        self.project_dir = project_dir
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []

    def busy(self) -> bool:
        return any(thread.is_alive() for thread in self.threads)

    def redraft(self, reel_id: int) -> None:
        thread = threading.Thread(target=self._run, args=(reel_id,), name=f"redraft-{reel_id}", daemon=True)
        self.threads = [t for t in self.threads if t.is_alive()] + [thread]
        thread.start()

    def wait(self, timeout: float | None = None) -> None:
        for thread in list(self.threads):
            thread.join(timeout)

    def _run(self, reel_id: int) -> None:
        from agent.content_calendar.loader import load_calendar
        from agent.drafting.service import WorkItem, draft_all, open_provider

        with self.lock, Session(make_engine(self.settings.database_url), expire_on_commit=False) as db:
            try:
                reel = db.get(Reel, reel_id)
                creator = db.get(Creator, reel.creator_id)
                path = self.settings.calendar_dir / f"{creator.handle}.yaml"
                calendar = load_calendar(path).calendar
                slot = db.get(Slot, reel.slot_id) if reel.slot_id else None
                with open_provider(self.settings) as provider:
                    [outcome] = draft_all(db, self.settings, provider, [WorkItem(calendar, slot, reel_id=reel_id)])
                log.info("web: reel %d %s", reel_id, outcome.result if outcome.result != "failed" else f"not redrafted: {outcome.error}")
            except AgentError as error:
                log.warning("web: reel %d could not be redrafted now (%s); `reeltwin run` or `reeltwin draft` will retry", reel_id, error)
