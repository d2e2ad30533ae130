"""Where "peak" lands for a creator: the peak-time model applied to the calendar's fixed slots."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from agent.content_calendar.schema import Calendar
from agent.content_calendar.slots import PeakTime, expand, local_to_utc
from publishing.peak_times import HourScores, PeakPlanner, best_scores


def scores_for(calendar: Calendar, *, audience: dict | None = None, now: datetime | None = None) -> HourScores:
    """The best hour scores we have for the account: its ``online_followers`` insight, then its own posts'
    engagement by hour, then priors (``audience`` is what :func:`agent.jobs.insights.refresh_audience` stored)."""
    audience = audience or {}
    posts = [(datetime.fromisoformat(when), float(value)) for when, value in audience.get("posts") or []]
    return best_scores(online_followers=audience.get("online_followers"), posts=posts or None, timezone=calendar.timezone, now=now,
                       account=calendar.handle)


def peak_time_for(calendar: Calendar, start: datetime, days: int, scores: HourScores | None = None, *, audience: dict | None = None) -> PeakTime:
    """A ``peak_time`` for :func:`expand`: the best free hour per day, clear of quiet hours and the fixed slots."""
    scores = scores or scores_for(calendar, audience=audience, now=start)
    # The fixed ("HH:MM") slots of the window are what peak slots keep their distance from.
    sentinel = time(0, 0)
    fixed = [slot.utc for slot in expand(calendar, start - timedelta(days=1), start + timedelta(days=days + 1), peak_time=lambda _day: sentinel) if not slot.peak]
    planner = PeakPlanner(scores=scores, timezone=calendar.timezone, quiet_hours=calendar.quiet_hour_range(), min_gap_hours=calendar.min_gap_hours)
    return planner.as_peak_time(fixed)


def next_good_time(calendar: Calendar, now: datetime, *, taken: list[datetime] | None = None, scores: HourScores | None = None,
                   audience: dict | None = None) -> datetime:
    """The next best free hour from ``now`` on (for a reel whose own time passed while ReelTwin was down)."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(calendar.timezone)
    scores = scores or scores_for(calendar, audience=audience, now=now)
    planner = PeakPlanner(scores=scores, timezone=calendar.timezone, quiet_hours=calendar.quiet_hour_range(), min_gap_hours=calendar.min_gap_hours)
    fixed = [slot.utc for slot in expand(calendar, now - timedelta(days=1), now + timedelta(days=4), peak_time=lambda _day: time(0, 0)) if not slot.peak]
    taken = fixed + list(taken or [])
    today = now.astimezone(zone).date()
    for offset in range(4):
        day = today + timedelta(days=offset)
        local, _note = local_to_utc(day, planner.best_time(day, taken), zone)
        if local > now + timedelta(minutes=10):
            return local.astimezone(now.tzinfo)
    return now
