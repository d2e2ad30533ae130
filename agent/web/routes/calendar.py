"""The calendar page: each calendar file's problems, or its slots for the next three weeks with their reels."""

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlmodel import Session

from agent.db.models import Creator, Reel, ReelStatus, Slot, utcnow
from agent.settings import Settings
from agent.web.deps import SessionDep, SettingsDep, Viewer, WebUser, render_page

router = APIRouter()


@router.get("/calendar", response_class=HTMLResponse)
def calendar_page(request: Request, db: SessionDep, user: Viewer, settings: SettingsDep) -> HTMLResponse:
    return render_page(request, "calendar.html", calendars=calendar_view(db, settings, user))


def calendar_view(db: Session, settings: Settings, user: WebUser | None = None) -> list[dict[str, Any]]:
    """Each calendar file's view; with ``user``, only their creators' calendars (``<handle>.yaml``)."""
    from agent.content_calendar.loader import calendar_files, display_path, load_calendar
    from agent.errors import CalendarError

    views = []
    now = utcnow()
    for path in calendar_files(settings.calendar_dir, include_templates=False):
        if user is not None and not user.may_see(path.stem):  # a calendar file is named after its handle
            continue
        view: dict[str, Any] = {"file": display_path(path, settings.calendar_dir.parent), "problems": [], "slots": []}
        try:
            calendar = load_calendar(path, base=settings.calendar_dir.parent).calendar
        except CalendarError as error:
            view["problems"] = error.problems
            views.append(view)
            continue
        if user is not None and not user.may_see(calendar.handle):
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
