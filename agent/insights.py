"""Refreshing what Instagram knows about the audience (for peak times), once a day."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlmodel import Session

from agent.content_calendar.schema import Calendar
from agent.db.models import Creator, utcnow
from agent.settings import Settings
from publishing import PublishError

log = logging.getLogger(__name__)


def refresh_audience(session: Session, settings: Settings, calendars: list[Calendar]) -> dict[str, str]:
    """Fetch the Graph API audience data and store it on the creators; returns handle -> what was stored.

    One Graph account is configured per ReelTwin install, so its audience applies to
    every active calendar. Other publishers have no insights: nothing is fetched.
    """
    if settings.publishing.backend != "graph" or not calendars:
        return {}
    from agent.publish import make_publisher

    publisher = make_publisher(settings)
    try:
        audience = publisher.fetch_audience()
    except PublishError as error:
        log.warning("audience insights not refreshed: %s", error)
        return {}
    stored = {"fetched_at": utcnow().isoformat(), **audience}
    result = {}
    for calendar in calendars:
        creator = session.execute(select(Creator).where(Creator.handle == calendar.handle)).scalar_one_or_none()
        if creator is None:
            from agent.content_calendar.planner import upsert_creator

            creator = upsert_creator(session, calendar, None)  # the plan sweep fills in the rest
        if creator is not None:
            creator.audience = stored
            result[calendar.handle] = f"{'online_followers' if audience.get('online_followers') else 'no insight'}, {len(audience.get('posts') or [])} posts"
    session.commit()
    return result
