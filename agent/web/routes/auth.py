"""Logging in and out (one account, "creator", whose password `reeltwin password` sets)."""

import logging
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from agent.db.models import WebAccount
from agent.web.deps import CsrfChecked, LimiterDep, SessionDep, SignerDep, redirect_back, render_page
from agent.web.security import verify_password

log = logging.getLogger(__name__)
router = APIRouter()


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, db: SessionDep, next: str = "/") -> HTMLResponse:  # noqa: A002
    has_password = db.execute(select(WebAccount.id)).first() is not None
    return render_page(request, "login.html", next=next, has_password=has_password)


@router.post("/login", dependencies=[CsrfChecked])
def login(
    request: Request, db: SessionDep, signer: SignerDep, limiter: LimiterDep,
    password: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/",  # noqa: A002
) -> Response:
    client = request.client.host if request.client else "unknown"
    wait = limiter.blocked_for(client)
    if wait:
        return render_page(request, "login.html", status_code=429, next=next, has_password=True,
                           error=f"Too many attempts. Try again in {int(wait // 60) + 1} minutes.")
    account = db.execute(select(WebAccount).where(WebAccount.username == "creator")).scalar_one_or_none()
    if account is None:
        return render_page(request, "login.html", status_code=403, next=next, has_password=False)
    if not verify_password(password, account.password_hash):
        limiter.failed(client)
        log.warning("web: failed login from %s", client)
        return render_page(request, "login.html", status_code=401, next=next, has_password=True, error="Wrong password.")
    session = signer.new()  # a new token on login: no session fixation
    session.user = account.username
    request.state.session = session
    request.state.session_changed = True
    return redirect_back(next, "/")


@router.post("/logout", dependencies=[CsrfChecked])
def logout(request: Request, signer: SignerDep) -> RedirectResponse:
    request.state.session = signer.new()
    request.state.session_changed = True
    return RedirectResponse("/login", status_code=303)
