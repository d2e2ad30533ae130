"""The accounts page: each creator's own publishing account (backend, who, token expiry, last check — never the
secret), with connect, check and remove; and the banner every page shows while a token runs out or a refresh failed.

The same functions as ``reeltwin account`` (:mod:`agent.publish_accounts`). The web never creates the
accounts key: a key written into ``.env`` here would be unknown to a ``reeltwin run`` started before.
"""

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlmodel import Session

from agent.db.models import Creator
from agent.errors import AgentError
from agent.settings import Settings
from agent.web.deps import CsrfChecked, SessionDep, SettingsDep, Viewer, flash, load_web_user, render_page, require_creator

log = logging.getLogger(__name__)
router = APIRouter()


@router.get("/accounts", response_class=HTMLResponse)
def accounts_page(request: Request, db: SessionDep, _user: Viewer, settings: SettingsDep) -> HTMLResponse:
    return account_page(request, db, settings)


@router.post("/accounts/{handle}/connect", dependencies=[CsrfChecked])
def account_connect(
    request: Request, handle: str, db: SessionDep, user: Viewer, settings: SettingsDep,
    backend: Annotated[str, Form()] = "", ig_user_id: Annotated[str, Form()] = "", token: Annotated[str, Form()] = "",
    api_base: Annotated[str, Form()] = "", username: Annotated[str, Form()] = "", password: Annotated[str, Form()] = "",
) -> Response:
    """Connect (or replace) ``handle``'s account. A Graph token is checked with Instagram before it is stored."""
    from agent.publish_accounts import ask_graph, check_api_base, check_handle, describe, save_account

    require_creator(user, handle)  # another user's creator: the 404 page, as if there were none
    form = {"handle": handle, "backend": backend, "ig_user_id": ig_user_id.strip(), "api_base": api_base.strip(), "username": username.strip()}
    try:
        handle = check_handle(handle)
        backend = backend.strip().lower()
        if backend == "graph":
            if not ig_user_id.strip().isdigit():
                raise AgentError(f"Instagram user id {ig_user_id.strip()!r} is not a number; it is the professional account's id (digits)")
            if not token.strip():
                raise AgentError("paste the account's long-lived access token")
            box = _box(settings)
            fields = {"ig_user_id": ig_user_id.strip(), "api_base": check_api_base(api_base)}
            from agent.db.models import PublishAccount

            result = ask_graph(settings, PublishAccount(handle=handle, backend="graph", **fields), token.strip())
            if not result.ok:
                raise AgentError(f"@{handle}: not connected: {result.detail}")
            account = save_account(db, settings, handle, "graph", box=box, secret=token.strip(), username=result.username,
                                   token_expires_at=result.token_expires_at, check_result=result.detail, **fields)
        elif backend == "instagrapi":
            name = username.strip().lstrip("@")
            if not name:
                raise AgentError("enter the Instagram username to log in as")
            box = _box(settings) if password else None
            # Logging in (and a two-factor code) happens on the command line; the web stores what it is given.
            account = save_account(db, settings, handle, "instagrapi", box=box, secret=password or None, username=name)
        elif backend == "outbox":
            account = save_account(db, settings, handle, "outbox")
        else:
            raise AgentError(f"choose graph, instagrapi or outbox (not {backend!r})")
    except AgentError as error:
        db.rollback()
        return account_page(request, db, settings, status_code=422, error=str(error), form=form)
    note = f" Log in once on the command line: reeltwin instagram login --username {account.username}" if account.backend == "instagrapi" else ""
    flash(request, f"@{account.handle} publishes to {describe(account)}.{note}")
    return RedirectResponse(f"/accounts#account-{account.handle}", status_code=303)


@router.post("/accounts/{handle}/check", dependencies=[CsrfChecked])
def account_check(request: Request, handle: str, db: SessionDep, user: Viewer, settings: SettingsDep) -> Response:
    """Ask Instagram who ``handle``'s account is; the answer is kept on the account."""
    from agent.publish_accounts import check_account, get_account

    require_creator(user, handle)

    account = get_account(db, handle)
    if account is None:
        return account_page(request, db, settings, status_code=404, error=f"@{handle} has no publishing account (any more); reload the page")
    try:
        result = check_account(db, settings, account)
    except AgentError as error:
        db.rollback()
        return account_page(request, db, settings, status_code=422, error=str(error))
    flash(request, f"@{account.handle}: {result.detail}")
    return RedirectResponse(f"/accounts#account-{account.handle}", status_code=303)


@router.post("/accounts/{handle}/remove", dependencies=[CsrfChecked])
def account_remove(request: Request, handle: str, db: SessionDep, user: Viewer, settings: SettingsDep) -> Response:
    """Forget ``handle``'s account and its secret; its reels fail until another is connected."""
    from agent.publish_accounts import remove_account

    require_creator(user, handle)

    try:
        removed = remove_account(db, handle)
    except AgentError as error:
        return account_page(request, db, settings, status_code=422, error=str(error))
    if not removed:
        return account_page(request, db, settings, status_code=404, error=f"@{handle} has no publishing account (any more); reload the page")
    flash(request, f"@{handle}'s account is removed; its reels wait for a new one.")
    return RedirectResponse("/accounts", status_code=303)


def _box(settings: Settings):  # noqa: ANN202 - SecretBox
    from agent.publish_accounts import KEY_VARIABLE, SecretKeyError, secret_box

    if settings.accounts.secret_key is None:
        raise AgentError(f"the key that encrypts account secrets is not set: connect one account with `reeltwin account connect` on the "
                         f"command line (it writes {KEY_VARIABLE} into .env), or set it yourself, then restart ReelTwin")
    try:
        return secret_box(settings)
    except SecretKeyError as error:
        raise AgentError(str(error)) from None


def account_page(request: Request, db: Session, settings: Settings, status_code: int = 200, **context: Any) -> HTMLResponse:
    """accounts.html: one card per creator (known from the database, the calendars or an account)."""
    from agent.publish_accounts import list_accounts, public_view, settings_account_is_real

    accounts = {account.handle: account for account in list_accounts(db)}
    handles = set(db.execute(select(Creator.handle)).scalars()) | set(accounts) | set(_calendar_handles(settings))
    viewer = load_web_user(db, request.state.session.user or "")  # every page behind a login: only the user's creators
    handles = {handle for handle in handles if viewer is not None and viewer.may_see(handle)}
    rows = [{"handle": handle, "account": public_view(accounts[handle], settings, web=True) if handle in accounts else None} for handle in sorted(handles)]
    fallback = None
    if not accounts:
        shared = not settings_account_is_real(settings) or len(handles) <= 1
        fallback = {"backend": settings.publishing.backend, "shared": shared}
    context.setdefault("form", {})
    return render_page(request, "accounts.html", status_code=status_code, rows=rows, fallback=fallback,
                       key_set=settings.accounts.secret_key is not None, **context)


def _calendar_handles(settings: Settings) -> list[str]:
    """The handles of the valid calendars (a creator may get its account before its first plan)."""
    from agent.content_calendar.loader import calendar_files, load_calendar
    from agent.errors import CalendarError

    handles = []
    for path in calendar_files(settings.calendar_dir, include_templates=False):
        try:
            handles.append(load_calendar(path, base=settings.calendar_dir.parent).calendar.handle)
        except CalendarError:
            continue   # the calendar page shows its problems
    return handles


def banner_notices(request: Request) -> list[str]:
    """The account problems every page shows (tokens that run out within accounts.warn_days, failed refreshes)."""
    from agent.publish_accounts import list_accounts, notices

    try:
        with Session(request.app.state.engine, expire_on_commit=False) as db:
            viewer = load_web_user(db, request.state.session.user or "")  # only the user's creators' accounts
            return [notice.message for notice in notices(list_accounts(db), request.app.state.settings, web=True)
                    if viewer is not None and viewer.may_see(notice.handle)]
    except Exception:  # a banner must never break the page it is on
        log.exception("web: account notices could not be read")
        return []
