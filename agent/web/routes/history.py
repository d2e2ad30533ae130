"""The history page: published reels, newest first."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from agent.approval.queue import list_queue
from agent.db.models import ReelStatus, utcnow
from agent.web.deps import SessionDep, Viewer, WebUser, creators_of, render_page

router = APIRouter()


@router.get("/history", response_class=HTMLResponse)
def history_page(request: Request, db: SessionDep, user: Viewer) -> HTMLResponse:
    items = list_queue(db, ReelStatus.PUBLISHED, handles=user.handles)
    items.sort(key=lambda item: item.reel.published_at or utcnow(), reverse=True)
    return render_page(request, "history.html", items=items, charts=_charts(db, user))


def _charts(db, user: WebUser) -> list[dict]:  # noqa: ANN001 - Session
    """Per creator with metrics: one bar per pillar (engagement per view), scaled to the best pillar, as SVG geometry
    (the page's CSP allows no inline style, so the bars are SVG attributes)."""
    from sqlalchemy import select

    from agent.db.models import Creator
    from agent.jobs.insights import summarize

    charts = []
    for creator in db.execute(select(Creator).where(creators_of(user)).order_by(Creator.handle)).scalars():
        summary = summarize(db, creator)
        groups = [g for g in summary.by_pillar if g.engagement is not None]
        if not groups:
            continue
        top = max(g.engagement for g in groups) or 1.0
        bars = [{"name": g.name, "reels": g.reels, "rate": g.engagement, "views": g.views,
                 "y": 8 + 34 * index, "width": max(2, round(160 * g.engagement / top))} for index, g in enumerate(groups)]
        charts.append({"handle": creator.handle, "reels": summary.reels_with_metrics, "bars": bars, "height": 16 + 34 * len(bars),
                       "best": summary.best[:3]})
    return charts
