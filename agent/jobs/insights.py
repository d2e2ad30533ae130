"""What Instagram knows about the audience, refreshed once a day: its online hours and posts (for peak times) and
what each published reel did (views, reach, likes, comments, saves, shares), summarized per pillar and hook."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from agent.content_calendar.schema import Calendar
from agent.db.models import Creator, Reel, ReelStatus, Slot, utcnow
from publishing import PublishError
from publishing.base import PublishRefused
from publishing.base import AudienceInsights, Capability, Publisher

log = logging.getLogger(__name__)


def refresh_audience(session: Session, publisher: Publisher, calendars: list[Calendar], *, own_reels_only: bool = False) -> dict[str, str]:
    """Fetch the account's audience data and store it on the creators; returns handle -> what was stored.

    ``calendars`` are the creators who publish through ``publisher``'s account: each creator's own connected
    account, or the settings' single account for the install. ``own_reels_only``: the reel insights are asked
    for these creators' reels only (another account would not know the others). A publisher without
    audience insights: nothing is fetched.
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
            creator.updated_at = utcnow()   # the plan sweep re-plans a creator whose row changed: new peak hours
            result[calendar.handle] = f"{'online_followers' if audience.get('online_followers') else 'no insight'}, {len(audience.get('posts') or [])} posts"
    session.commit()
    creator_ids = None
    if own_reels_only:
        creator_ids = list(session.execute(select(Creator.id).where(Creator.handle.in_([c.handle for c in calendars]))).scalars())
    refresh_reel_insights(session, publisher, creator_ids=creator_ids)
    return result


# --------------------------------------------------------------------------- per reel: what the audience did with it

#: reels older than this are not asked again (their numbers have settled)
INSIGHT_DAYS = 30


def refresh_reel_insights(session: Session, publisher: Publisher, *, now: datetime | None = None, days: int = INSIGHT_DAYS,
                          limit: int = 100, creator_ids: list[int] | None = None) -> dict[int, str]:
    """Fetch Instagram's metrics for the reels published in the last ``days`` and keep them on each reel
    (``reel.artifacts["insights"]``: views, reach, likes, comments, saved, shares, total_interactions and when).
    Returns reel id -> what happened; ``creator_ids``: only these creators' reels. A publisher without media insights: nothing is fetched; one refusal
    (a missing permission) stops the sweep with a warning, a failure on one reel skips that reel."""
    from publishing.base import MediaInsights

    if Capability.MEDIA_INSIGHTS not in publisher.capabilities:
        return {}
    if not isinstance(publisher, MediaInsights):
        raise TypeError(f"{publisher!r} claims media insights but has no fetch_media_insights()")
    now = now or utcnow()
    since = now - timedelta(days=days)
    query = select(Reel).where(Reel.status == ReelStatus.PUBLISHED, Reel.media_id.is_not(None))
    if creator_ids is not None:   # the account's own creators' reels only
        query = query.where(Reel.creator_id.in_(creator_ids))
    reels = list(session.execute(query.order_by(Reel.published_at.desc())).scalars())
    done: dict[int, str] = {}
    for reel in reels[:limit]:
        published = reel.published_at
        if published is not None and published < since:
            continue
        try:
            metrics = publisher.fetch_media_insights(reel.media_id)
        except PublishRefused as error:
            log.warning("reel insights not refreshed: %s", error)
            done[reel.id] = f"refused: {error}"
            break
        except PublishError as error:
            log.info("reel %d: insights not fetched this time (%s)", reel.id, error)
            done[reel.id] = f"skipped: {error}"
            continue
        reel.artifacts = {**(reel.artifacts or {}), "insights": {"fetched_at": now.isoformat(), **metrics}}
        session.add(reel)
        done[reel.id] = ", ".join(f"{name} {value:g}" for name, value in metrics.items()) or "no metrics yet (not enough viewers)"
    session.commit()
    return done


def engagement(metrics: dict) -> float | None:
    """One number per reel to compare reels by: interactions per view (likes, comments, 2 x saves, 2 x shares over
    views, else reach); None without a base to divide by."""
    base = metrics.get("views") or metrics.get("reach")
    if not base:
        return None
    acts = float(metrics.get("likes") or 0) + float(metrics.get("comments") or 0) + 2 * float(metrics.get("saved") or 0) + 2 * float(metrics.get("shares") or 0)
    return acts / float(base)


@dataclass(frozen=True)
class Group:
    """The averages of one pillar's (or hook style's) reels."""

    name: str
    reels: int
    views: float | None
    reach: float | None
    likes: float | None
    comments: float | None
    saved: float | None
    shares: float | None
    engagement: float | None

    def to_dict(self) -> dict[str, Any]:
        return {key: (round(value, 4) if isinstance(value, float) else value) for key, value in self.__dict__.items()}


def _average(rows: list[dict], key: str) -> float | None:
    values = [float(row[key]) for row in rows if isinstance(row.get(key), (int, float))]
    return sum(values) / len(values) if values else None


def _group(name: str, rows: list[dict]) -> Group:
    rates = [rate for rate in (engagement(row) for row in rows) if rate is not None]
    return Group(name=name, reels=len(rows), views=_average(rows, "views"), reach=_average(rows, "reach"), likes=_average(rows, "likes"),
                 comments=_average(rows, "comments"), saved=_average(rows, "saved"), shares=_average(rows, "shares"),
                 engagement=sum(rates) / len(rates) if rates else None)


def hook_style(hook: str) -> str:
    """A coarse kind of opening line, to compare hooks by: a question, a number, "you", a how-to, or a statement."""
    text = (hook or "").strip().lower()
    if text.endswith("?"):
        return "question"
    if any(ch.isdigit() for ch in text):
        return "number"
    if text.startswith(("how ", "why ", "what ", "stop ", "don't ", "never ")):
        return "how-to / warning"
    if " you" in f" {text}":
        return "speaks to 'you'"
    return "statement"


@dataclass(frozen=True)
class InsightsSummary:
    creator: str
    reels_with_metrics: int
    by_pillar: list[Group]
    by_hook: list[Group]
    best: list[dict]                   # the best reels: id, hook, engagement, views
    suggested_weights: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {"creator": self.creator, "reels_with_metrics": self.reels_with_metrics, "by_pillar": [g.to_dict() for g in self.by_pillar],
                "by_hook": [g.to_dict() for g in self.by_hook], "best": self.best, "suggested_weights": self.suggested_weights}


def summarize(session: Session, creator: Creator, *, current_weights: dict[str, float] | None = None) -> InsightsSummary:
    """Averages per pillar and per hook style over the creator's reels with metrics, the best reels, and suggested
    pillar weights: today's weights moved halfway toward each pillar's share of engagement (pillars with fewer than
    three measured reels keep their weight). A suggestion only: the calendar is never edited."""
    rows = []
    for reel, slot in session.execute(select(Reel, Slot).outerjoin(Slot, Reel.slot_id == Slot.id).where(Reel.creator_id == creator.id)).all():
        metrics = (reel.artifacts or {}).get("insights")
        if isinstance(metrics, dict) and any(isinstance(metrics.get(key), (int, float)) for key in ("views", "reach", "likes")):
            rows.append({**metrics, "reel_id": reel.id, "hook": reel.hook or reel.script[:80], "pillar": (slot.pillar if slot else None) or "(no pillar)"})
    pillars: dict[str, list[dict]] = {}
    hooks: dict[str, list[dict]] = {}
    for row in rows:
        pillars.setdefault(row["pillar"], []).append(row)
        hooks.setdefault(hook_style(row["hook"]), []).append(row)
    by_pillar = sorted((_group(name, items) for name, items in pillars.items()), key=lambda g: -(g.engagement or 0))
    by_hook = sorted((_group(name, items) for name, items in hooks.items()), key=lambda g: -(g.engagement or 0))
    ranked = sorted((row for row in rows if engagement(row) is not None), key=lambda row: -engagement(row))
    best = [{"reel_id": row["reel_id"], "hook": row["hook"], "engagement": round(engagement(row), 4), "views": row.get("views")} for row in ranked[:5]]
    suggested: dict[str, float] = {}
    weights = dict(current_weights or {})
    measured = {g.name: g.engagement for g in by_pillar if g.engagement is not None and g.reels >= 3}
    if weights and measured:
        total_weight = sum(weights.values()) or 1.0
        total_rate = sum(measured.get(name, 0.0) for name in weights) or 0.0
        for name, weight in weights.items():
            share = weight / total_weight
            if name in measured and total_rate > 0:
                share = 0.5 * share + 0.5 * measured[name] / total_rate
            suggested[name] = round(share * total_weight, 2)
    return InsightsSummary(creator=creator.handle, reels_with_metrics=len(rows), by_pillar=by_pillar, by_hook=by_hook, best=best,
                           suggested_weights=suggested)


def best_examples(session: Session, creator_id: int, *, count: int = 3) -> list[dict]:
    """The creator's best-performing reels (hook and script) by engagement, for the drafter's prompt."""
    rows = []
    for reel in session.execute(select(Reel).where(Reel.creator_id == creator_id, Reel.status == ReelStatus.PUBLISHED)).scalars():
        metrics = (reel.artifacts or {}).get("insights")
        rate = engagement(metrics) if isinstance(metrics, dict) else None
        if rate is not None:
            rows.append((rate, reel))
    rows.sort(key=lambda pair: -pair[0])
    return [{"hook": reel.hook, "script": reel.script, "engagement": round(rate, 4)} for rate, reel in rows[:count]]
