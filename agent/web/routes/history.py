"""The history page: published reels, newest first."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from agent.approval.queue import list_queue
from agent.db.models import ReelStatus, utcnow
from agent.web.deps import CurrentUser, SessionDep, render_page

router = APIRouter()


@router.get("/history", response_class=HTMLResponse)
def history_page(request: Request, db: SessionDep, _user: CurrentUser) -> HTMLResponse:
    items = list_queue(db, ReelStatus.PUBLISHED)
    items.sort(key=lambda item: item.reel.published_at or utcnow(), reverse=True)
    return render_page(request, "history.html", items=items)
