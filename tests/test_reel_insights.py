"""Learning from the audience (issue 20): per-reel metrics from the Graph API (a local fake over real HTTP, with
missing metrics and permission errors), kept on each reel, summarized per pillar and hook style in
`reeltwin insights` and on the History page, and the best hooks handed to the drafter."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from fake_graph import FakeGraph
from sqlmodel import Session

from agent.db.models import Creator, Reel, ReelStatus, Slot, utcnow
from agent.jobs.insights import engagement, hook_style, refresh_reel_insights, summarize
from publishing.base import PublishRefused
from publishing.graph import GraphPublisher


def _publisher(graph: FakeGraph) -> GraphPublisher:
    return GraphPublisher(ig_user_id=graph.ig_user_id, access_token=graph.access_token, media_url_for=lambda path: "https://x.test/v.mp4",
                          api_base=graph.base_url, api_version=graph.api_version, timeout_s=2)


def _published(session: Session, creator: Creator, graph: FakeGraph, *, hook: str, pillar: str | None, metrics: dict, days_ago: float = 2) -> Reel:
    media = graph.add_existing_media(hook, age=timedelta(days=days_ago))
    media.metrics = dict(metrics)
    slot = None
    if pillar:
        slot = Slot(id=f"{creator.handle}:{media.id}", creator_id=creator.id, scheduled_at=utcnow() - timedelta(days=days_ago),
                    local_time="", kind="regular", peak=False, pillar=pillar)
        session.add(slot)
        session.flush()
    reel = Reel(creator_id=creator.id, slot_id=slot.id if slot else None, status=ReelStatus.PUBLISHED, hook=hook, script=hook + " More words.",
                media_id=media.id, published_at=utcnow() - timedelta(days=days_ago))
    session.add(reel)
    session.commit()
    return reel


@pytest.fixture
def creator(session: Session) -> Creator:
    creator = Creator(handle="chef", timezone="UTC", persona={})
    session.add(creator)
    session.commit()
    return creator


def test_the_graph_publisher_reads_a_reels_metrics_and_copes_with_missing_ones() -> None:
    with FakeGraph() as graph:
        media = graph.add_existing_media("a reel", age=timedelta(days=1))
        media.metrics = {"views": 1200, "reach": 900, "likes": 80, "comments": 9, "saved": 30, "shares": 12, "total_interactions": 131}
        publisher = _publisher(graph)
        assert publisher.fetch_media_insights(media.id) == {k: float(v) for k, v in media.metrics.items()}
        # an API version that does not know "views": the rest are asked one by one
        graph.unsupported_metrics = {"views", "total_interactions"}
        got = publisher.fetch_media_insights(media.id)
        assert "views" not in got and got["reach"] == 900.0 and got["shares"] == 12.0
        # too few viewers yet: no metrics, not an error
        fresh = graph.add_existing_media("brand new", age=timedelta(hours=1))
        assert publisher.fetch_media_insights(fresh.id) == {}
        # the token lacks the insights permission: one clear refusal naming the fix, without the token
        graph.insights_permission = False
        with pytest.raises(PublishRefused) as refused:
            publisher.fetch_media_insights(media.id)
        assert "instagram_manage_insights" in str(refused.value) and graph.access_token not in str(refused.value)


def test_refresh_keeps_the_metrics_on_each_recent_reel_and_stops_on_a_refusal(session: Session, creator: Creator) -> None:
    with FakeGraph() as graph:
        fresh = _published(session, creator, graph, hook="Stop buying pre-cut onions", pillar="savings", metrics={"views": 1000, "likes": 50, "saved": 20})
        old = _published(session, creator, graph, hook="An old one", pillar="savings", metrics={"views": 10}, days_ago=90)
        done = refresh_reel_insights(session, _publisher(graph))
        assert fresh.id in done and old.id not in done
        session.refresh(fresh)
        insights = fresh.artifacts["insights"]
        assert insights["views"] == 1000.0 and insights["saved"] == 20.0 and "fetched_at" in insights
        graph.insights_permission = False
        done = refresh_reel_insights(session, _publisher(graph))
        assert done[fresh.id].startswith("refused:")
        session.refresh(fresh)
        assert fresh.artifacts["insights"]["views"] == 1000.0      # nothing lost on a refusal


def test_summary_per_pillar_and_hook_with_suggested_weights(session: Session, creator: Creator) -> None:
    with FakeGraph() as graph:
        for n in range(3):
            _published(session, creator, graph, hook=f"Why your rice is mushy {n}?", pillar="technique",
                       metrics={"views": 1000, "likes": 100, "comments": 10, "saved": 20, "shares": 5})
        for n in range(3):
            _published(session, creator, graph, hook=f"Five euro dinners, {n} ways", pillar="savings", metrics={"views": 1000, "likes": 20, "comments": 2})
        _published(session, creator, graph, hook="No numbers yet", pillar="savings", metrics={})
        refresh_reel_insights(session, _publisher(graph))
    summary = summarize(session, creator, current_weights={"technique": 1.0, "savings": 1.0})
    assert summary.reels_with_metrics == 6
    assert [g.name for g in summary.by_pillar] == ["technique", "savings"]
    technique = summary.by_pillar[0]
    assert technique.reels == 3 and technique.views == 1000 and technique.engagement == pytest.approx((100 + 10 + 40 + 10) / 1000)
    assert {g.name for g in summary.by_hook} == {"question", "number"}
    assert summary.best[0]["hook"].startswith("Why your rice")
    # halfway toward each pillar's share of engagement; the weights still add up to what they were
    weights = summary.suggested_weights
    assert weights["technique"] > 1.0 > weights["savings"] and sum(weights.values()) == pytest.approx(2.0, abs=0.02)
    assert engagement({"reach": 100, "likes": 5}) == 0.05 and engagement({"likes": 5}) is None
    assert hook_style("How to keep herbs fresh") == "how-to / warning" and hook_style("This is it") == "statement"


def test_the_drafter_is_shown_the_hooks_this_audience_liked_most(session: Session, creator: Creator) -> None:
    from agent.drafting.base import DraftRequest
    from agent.drafting.writer import build_messages
    from agent.jobs.insights import best_examples

    with FakeGraph() as graph:
        _published(session, creator, graph, hook="Why your rice is mushy?", pillar="technique", metrics={"views": 100, "likes": 30})
        _published(session, creator, graph, hook="Dinner for two euros", pillar="savings", metrics={"views": 100, "likes": 3})
        refresh_reel_insights(session, _publisher(graph))
    best = best_examples(session, creator.id)
    assert [b["hook"] for b in best] == ["Why your rice is mushy?", "Dinner for two euros"]
    request = DraftRequest(handle="chef", language="en", persona={}, pillar=None, pillar_description="", example_topics=[], brief="rice",
                           call_to_action="", word_budget=60, hashtag_set=[], max_hashtags=5, avoid_words=[], best_hooks=[b["hook"] for b in best])
    prompt = json.dumps(build_messages(request), ensure_ascii=False)
    assert "hooks_this_audience_liked_most" in prompt and "Why your rice is mushy?" in prompt and "never a copy" in prompt


def test_insights_command_and_history_chart(tmp_path: Path, db_url: str, session: Session, creator: Creator) -> None:
    from cli_helpers import reeltwin

    with FakeGraph() as graph:
        for n in range(2):
            _published(session, creator, graph, hook=f"Why your rice is mushy {n}?", pillar="technique", metrics={"views": 500, "likes": 50})
        refresh_reel_insights(session, _publisher(graph))
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "settings.toml").write_text(f'[database]\nurl = "{db_url}"\n', encoding="utf-8")
    result = reeltwin(tmp_path, "insights", "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    [chef] = payload["creators"]
    assert chef["reels_with_metrics"] == 2 and chef["by_pillar"][0]["name"] == "technique" and chef["by_pillar"][0]["engagement"] == 0.1
    plain = reeltwin(tmp_path, "insights")
    assert "by pillar" in plain.stdout and "technique" in plain.stdout

    from fastapi.testclient import TestClient

    from agent.settings import load_settings
    from agent.web.app import create_app

    (tmp_path / "config" / "settings.toml").write_text(f'[database]\nurl = "{db_url}"\n[web]\nsecret_key = "history-secret-0123456789abcdef"\n', encoding="utf-8")
    settings = load_settings(tmp_path).settings
    app = create_app(settings, tmp_path)
    from agent.db.models import WebAccount
    from agent.web.security import hash_password

    session.add(WebAccount(username="creator", password_hash=hash_password("correct horse battery")))
    session.commit()
    client = TestClient(app, base_url="http://testserver")
    from test_web import login

    assert login(client, "correct horse battery").status_code == 303
    page = client.get("/history")
    assert page.status_code == 200 and "<svg" in page.text and "technique" in page.text and "10.0%" in page.text
    app.state.drafter.wait(10)
