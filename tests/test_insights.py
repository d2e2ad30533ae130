"""The daily insights sweep: the Graph API audience lands on the creator and moves the peak slots."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fake_graph import FakeGraph
from sqlalchemy import select

from agent.content_calendar.loader import load_calendar
from agent.content_calendar.planner import sync_plan
from agent.db.models import Creator, utcnow
from agent.scheduler.service import Service
from agent.settings import load_settings

REPO = Path(__file__).resolve().parent.parent


def _online_followers(best_utc_hour: int) -> list[dict]:
    """28 days of the insight with one clearly best UTC hour."""
    end = datetime.now(UTC).replace(hour=7, minute=0, second=0, microsecond=0)
    values = []
    for back in range(28):
        counts = {str(hour): 100 for hour in range(24)}
        counts[str(best_utc_hour)] = 900
        values.append({"value": counts, "end_time": (end - timedelta(days=back)).strftime("%Y-%m-%dT%H:%M:%S+0000")})
    return values


def test_the_insights_sweep_feeds_peak_times(db_url: str, tmp_path: Path, session) -> None:
    with FakeGraph() as graph:
        graph.online_followers = _online_followers(14)  # 14:00 UTC = 15:00 in Berlin in winter
        graph.add_existing_media("an older reel", age=timedelta(days=3), likes=40, comments=5)
        (tmp_path / "calendar").mkdir()
        shutil.copy(REPO / "calendar" / "example.yaml", tmp_path / "calendar" / "your.handle.yaml")
        (tmp_path / "config").mkdir()
        (tmp_path / "config" / "settings.toml").write_text(
            f'[database]\nurl = "{db_url}"\n[scheduler]\ndraft_ahead = false\n[web]\nsecret_key = "insights-secret-0123456789"\n'
            f'[publishing]\nbackend = "graph"\ngraph_ig_user_id = "{graph.ig_user_id}"\ngraph_api_base = "{graph.base_url}"\n'
            f'graph_api_version = "{graph.api_version}"\nmedia_base_url = "https://reels.example.test/public"\n',
            encoding="utf-8")
        (tmp_path / ".env").write_text(f"REELTWIN_PUBLISHING__GRAPH_ACCESS_TOKEN={graph.access_token}\n", encoding="utf-8")
        settings = load_settings(tmp_path).settings
        service = Service(settings, tmp_path)
        summary = service.sweep_insights().summary
        assert summary == "@your.handle: online_followers, 1 posts"
        assert service.sweep_insights().summary == "fresh"  # once a day
        creator = session.execute(select(Creator)).scalar_one()
        session.refresh(creator)
        assert creator.audience["online_followers"] and creator.audience["posts"][0][1] == 50.0
        calendar = load_calendar(tmp_path / "calendar" / "your.handle.yaml").calendar
        slots = sync_plan(session, calendar, now=utcnow(), days=21).slots
        peaks = [slot for slot in slots if slot.peak]
        assert peaks and all(slot.scheduled_at.astimezone(UTC).hour == 14 for slot in peaks)
        assert graph.access_token not in str(creator.audience)
