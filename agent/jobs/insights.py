"""Refreshing what Instagram knows about the audience (for peak times), once a day."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlmodel import Session

from agent.content_calendar.schema import Calendar
from agent.db.models import Creator, utcnow
from publishing import PublishError
from publishing.base import AudienceInsights, Capability, Publisher

log = logging.getLogger(__name__)


def refresh_audience(session: Session, publisher: Publisher, calendars: list[Calendar]) -> dict[str, str]:
    """Fetch the account's audience data and store it on the creators; returns handle -> what was stored.

    One publishing account is configured per ReelTwin install, so its audience applies to
    every active calendar. A publisher without audience insights: nothing is fetched.
    """
    if Capability.AUDIENCE_INSIGHTS not in publisher.capabilities or not calendars:
        return {}
    if not isinstance(publisher, AudienceInsights):
        raise TypeError(f"{publisher!r} claims audience insights but has no fetch_audience()")
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
