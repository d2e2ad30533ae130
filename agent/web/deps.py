"""What the web routes share: typed dependencies and the flash, page and redirect helpers.

The app's parts (settings, engine, session signer, login limiter, drafter,
templates) live on ``app.state``, set once by :func:`agent.web.app.create_app`;
everything here reaches them through the request.

Access: a web user (:class:`WebUser`) sees and acts on their creators only, and everything of another
creator answers the same 404 page as something that does not exist. The rule is :meth:`WebUser.may_see`,
applied here only: :data:`OwnReelId` for every ``{reel_id}``, :func:`visible_avatar` / :func:`visible_voice`
for names, :func:`require_creator` for handles, and :func:`creators_of` / :func:`enrollments_of` for lists
(filtered in SQL). tests/test_web_users.py walks the app's route table to hold every route to it.

No `from __future__ import annotations` here: FastAPI reads the dependency
aliases (SessionDep, CurrentUser, ...) from the live annotations.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlparse

import sqlalchemy as sa
from fastapi import Depends, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from sqlmodel import Session

from agent.approval.queue import missing_reel
from agent.db.models import Avatar, Creator, Reel, VoiceProfile, WebAccount, WebAccountCreator
from agent.errors import NotFoundError
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


@dataclass(frozen=True)
class WebUser:
    """The logged-in web user and the creators (calendar handles) they may see and act on."""

    name: str
    #: The handles this user is given; ``None``: every creator.
    handles: frozenset[str] | None

    @property
    def actor(self) -> str:
        """Who did it, as approvals, edits, rejections and consents record it (``creator:web:<name>``)."""
        return f"creator:web:{self.name}"

    def may_see(self, handle: str | None) -> bool:
        """Whether this user sees ``handle``'s reels and enrollments; ``None`` (belongs to no creator): only a user with every creator."""
        return self.handles is None or (handle is not None and handle in self.handles)


def load_web_user(db: Session, name: str) -> WebUser | None:
    """``name``'s account with its creators; ``None`` once the account is gone."""
    account = db.execute(select(WebAccount).where(WebAccount.username == name)).scalar_one_or_none()
    if account is None:
        return None
    if account.all_creators:
        return WebUser(name=account.username, handles=None)
    handles = db.execute(select(WebAccountCreator.handle).where(WebAccountCreator.account_id == account.id)).scalars()
    return WebUser(name=account.username, handles=frozenset(handles))


def get_web_user(request: Request, db: Annotated[Session, Depends(get_db)]) -> WebUser:
    """The logged-in user with their creators (read once per request)."""
    name = get_current_user(request)
    user = load_web_user(db, name)
    if user is None:  # removed while logged in: the session middleware ends such a session on the next request
        if request.method != "GET":
            raise HTTPException(403, "log in first")
        raise LoginRequired()
    return user


#: What a page of another user's creator answers: the router's own words for an unknown address, so nothing reveals it exists.
NO_PAGE = "There is no page at this address."


def require_creator(user: WebUser, handle: str | None, missing: str = NO_PAGE) -> None:
    """The one access check: a creator this user is not given is a 404 page (not 403: its existence stays private)."""
    if not user.may_see(handle):
        raise NotFoundError(missing)


def creators_of(user: WebUser) -> Any:
    """SQL condition on :class:`Creator`: one of ``user``'s creators."""
    return sa.true() if user.handles is None else Creator.handle.in_(sorted(user.handles))


def enrollments_of(model: type[Avatar] | type[VoiceProfile], user: WebUser) -> Any:
    """SQL condition on avatars or voices: they belong to one of ``user``'s creators (linked to it, or unlinked and named
    like its handle, as renders pick them)."""
    if user.handles is None:
        return sa.true()
    handles = sorted(user.handles)
    linked = select(Creator.id).where(Creator.handle.in_(handles))
    return sa.or_(model.creator_id.in_(linked), sa.and_(model.creator_id.is_(None), model.name.in_(handles)))


def enrollment_handle(db: Session, row: Avatar | VoiceProfile) -> str | None:
    """The handle of the creator an avatar or voice belongs to: the one it is linked to, else the one named like it; else None."""
    if row.creator_id is not None:
        return db.execute(select(Creator.handle).where(Creator.id == row.creator_id)).scalar_one_or_none()
    return db.execute(select(Creator.handle).where(Creator.handle == row.name)).scalar_one_or_none()


def visible_avatar(db: Session, user: WebUser, name: str) -> Avatar | None:
    """The avatar ``name`` if this user may see it; another creator's is ``None``, like one that does not exist."""
    avatar = db.execute(select(Avatar).where(Avatar.name == name)).scalar_one_or_none()
    return avatar if avatar is not None and user.may_see(enrollment_handle(db, avatar)) else None


def visible_voice(db: Session, user: WebUser, name: str) -> VoiceProfile | None:
    """The voice ``name`` if this user may see it; another creator's is ``None``, like one that does not exist."""
    profile = db.execute(select(VoiceProfile).where(VoiceProfile.name == name)).scalars().first()
    return profile if profile is not None and user.may_see(enrollment_handle(db, profile)) else None


def own_reel_id(reel_id: Annotated[int, Path(ge=1, le=2**31 - 1)], user: Annotated[WebUser, Depends(get_web_user)],
                db: Annotated[Session, Depends(get_db)]) -> int:
    """A reel id from the URL, of one of the user's creators; any other (or none) is the same 404 page."""
    handle = db.execute(select(Creator.handle).join(Reel, Reel.creator_id == Creator.id).where(Reel.id == reel_id)).scalar_one_or_none()
    if handle is None or not user.may_see(handle):
        raise missing_reel(reel_id)
    return reel_id


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_db)]
SignerDep = Annotated[SessionSigner, Depends(get_signer)]
LimiterDep = Annotated[LoginLimiter, Depends(get_limiter)]
DrafterDep = Annotated[BackgroundDrafter, Depends(get_drafter)]
CurrentUser = Annotated[str, Depends(get_current_user)]
#: The logged-in user and their creators: every route that shows or changes a creator's things takes this.
Viewer = Annotated[WebUser, Depends(get_web_user)]
SentFields = Annotated[frozenset[str], Depends(sent_form_fields)]
#: A reel id in a URL: beyond the id column's range (32-bit INTEGER on PostgreSQL) it is a 422 page, not a 500.
ReelId = Annotated[int, Path(ge=1, le=2**31 - 1)]
#: A reel id of one of the logged-in user's creators (:func:`own_reel_id`): every route with ``{reel_id}`` takes this.
OwnReelId = Annotated[int, Depends(own_reel_id)]
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
