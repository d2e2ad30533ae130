"""Logging in and out: a user name and password (`reeltwin user add`; the first user, "creator", is `reeltwin password`'s)."""

import logging
import secrets
from datetime import datetime, timezone
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import delete, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from agent.db.models import RevokedSession, WebAccount, utcnow
from agent.web.deps import CsrfChecked, LimiterDep, SessionDep, SignerDep, client_address, redirect_back, render_page
from agent.web.security import SessionData, hash_password, verify_password

log = logging.getLogger(__name__)
router = APIRouter()


def _only_user(db: Session) -> str | None:
    """The user name of a single-user install (the login form fills it in); None with none or several users."""
    names = db.execute(select(WebAccount.username).limit(2)).scalars().all()
    return names[0] if len(names) == 1 else None


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, db: SessionDep, next: str = "/") -> HTMLResponse:  # noqa: A002
    has_password = db.execute(select(WebAccount.id)).first() is not None
    return render_page(request, "login.html", next=next, has_password=has_password, username=_only_user(db) or "")


@router.post("/login", dependencies=[CsrfChecked])
def login(
    request: Request, db: SessionDep, signer: SignerDep, limiter: LimiterDep,
    password: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/",  # noqa: A002
    username: Annotated[str, Form()] = "",
) -> Response:
    client = client_address(request)
    wait = limiter.blocked_for(client)
    if wait:
        return render_page(request, "login.html", status_code=429, next=next, has_password=True, username=username,
                           error=f"Too many attempts. Try again in {int(wait // 60) + 1} minutes.")
    if db.execute(select(WebAccount.id)).first() is None:
        return render_page(request, "login.html", status_code=403, next=next, has_password=False)
    # No name given: the only user of a single-user install (a form from before there were names, a password manager).
    name = username.strip() or _only_user(db) or ""
    if not name:
        return render_page(request, "login.html", status_code=401, next=next, has_password=True, error="Enter your user name and password.")
    account = db.execute(select(WebAccount).where(WebAccount.username == name)).scalar_one_or_none()
    # An unknown name costs the same scrypt as a wrong password: the answer's timing does not tell which names exist.
    if not verify_password(password, account.password_hash if account is not None else _decoy_hash()) or account is None:
        limiter.failed(client)
        log.warning("web: failed login from %s", client)
        return render_page(request, "login.html", status_code=401, next=next, has_password=True, username=username,
                           error="Wrong password or user name." if username.strip() else "Wrong password.")
    request.state.session = signer.logged_in(account.username)  # a new token on login: no session fixation
    request.state.session_changed = True
    return redirect_back(next, "/")


@router.post("/logout", dependencies=[CsrfChecked])
def logout(request: Request, db: SessionDep, signer: SignerDep) -> RedirectResponse:
    ended: SessionData = request.state.session
    if ended.user and ended.sid:
        # The cookie stays valid-looking until it expires: refuse its id until then (a copy saved before logging out).
        now = utcnow()
        db.execute(delete(RevokedSession).where(RevokedSession.expires_at < now))
        if db.get(RevokedSession, ended.sid) is None:
            db.add(RevokedSession(session_id=ended.sid, expires_at=datetime.fromtimestamp(ended.expires, timezone.utc)))
        db.commit()
    request.state.session = signer.new()
    request.state.session_changed = True
    return RedirectResponse("/login", status_code=303)


def session_is_live(engine: Engine, session: SessionData) -> bool:
    """A logged-in session still counts: not logged out, and started after the password's last change."""
    if not session.user or not session.sid:
        return False  # a cookie from before sessions had ids: log in again
    with Session(engine) as db:
        if db.get(RevokedSession, session.sid) is not None:
            return False
        account = db.execute(select(WebAccount).where(WebAccount.username == session.user)).scalar_one_or_none()
    return account is not None and account.updated_at.timestamp() <= session.issued


_DECOY: list[str] = []


def _decoy_hash() -> str:
    """A hash no password matches (made once), checked for an unknown user name."""
    if not _DECOY:
        _DECOY.append(hash_password(secrets.token_urlsafe(24)))
    return _DECOY[0]
