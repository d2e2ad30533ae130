"""Publishing exactly once: the outbox publisher, crashes at every step, retries, refusals, the grace window."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path

import pytest
from cli_helpers import make_test_video, reeltwin
from sqlalchemy import select

from agent.content_calendar.loader import load_calendar
from agent.content_calendar.planner import sync_plan
from agent.db.models import Creator, Reel, ReelEvent, ReelStatus, utcnow
from agent.errors import ValidationFailed
from agent.jobs.leases import PUBLISH_LEASE as LEASE
from agent.jobs.publish import publish_due, publish_reel
from agent.approval.queue import add_draft, approve
from agent.settings import load_settings
from publishing.base import PublishProgress, PublishRefused, PublishRequest, PublishResult, PublishRetryable
from publishing.outbox import OutboxPublisher

REPO = Path(__file__).resolve().parent.parent


class Crash(BaseException):
    """Stands for the process dying: nothing after it runs (not an Exception, so nothing catches it)."""


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_test_video(tmp_path_factory.mktemp("media") / "reel.mp4")


@pytest.fixture
def project(tmp_path: Path, db_url: str, video: Path):  # noqa: ANN201
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "settings.toml").write_text(
        f'[database]\nurl = "{db_url}"\n[scheduler]\nmax_attempts = 3\nbackoff_base_s = 60\npublish_grace_minutes = 120\n', encoding="utf-8")
    settings = load_settings(tmp_path).settings
    media = settings.data_dir / "renders"
    media.mkdir(parents=True)
    shutil.copy(video, media / "reel.mp4")
    return tmp_path, settings, media / "reel.mp4"


def _rendered_reel(session, video: Path, *, due_in: timedelta = timedelta(minutes=-1)) -> int:
    calendar = load_calendar(REPO / "calendar" / "example.yaml").calendar
    now = utcnow()
    report = sync_plan(session, calendar, now=now - timedelta(days=1), days=14)
    creator = session.execute(select(Creator)).scalar_one()
    taken = {r.slot_id for r in session.execute(select(Reel)).scalars()}
    slot = next(s for s in report.slots if s.id not in taken)
    reel = add_draft(session, creator, slot=slot, script="Pre-cut vegetables cost you twice.", caption="Whole veg, half price.", hashtags=["#cookingtips"])
    session.commit()
    approve(session, [reel.id])
    session.execute(Reel.__table__.update().where(Reel.id == reel.id).values(status="rendered", artifacts={"video": str(video)}, publish_at=now + due_in))
    session.commit()
    return reel.id


def _state(session, reel_id: int) -> Reel:
    session.expire_all()
    return session.get(Reel, reel_id)


class FaultyOutbox(OutboxPublisher):
    """The real outbox, with the process 'dying' at a chosen point."""

    def __init__(self, folder: Path, crash_at: str | None):
        super().__init__(folder)
        self.crash_at = crash_at

    def publish(self, request: PublishRequest, resume: Mapping[str, str], on_progress: Callable[[PublishProgress], None]) -> PublishResult:
        if self.crash_at == "before upload":
            raise Crash()
        result = super().publish(request, resume, on_progress if self.crash_at != "after upload" else lambda _p: None)
        if self.crash_at in ("after upload", "before the database write"):
            raise Crash()
        return result


def test_publish_to_outbox_once(session, project) -> None:
    _project, settings, video = project
    reel_id = _rendered_reel(session, video)
    outcome = publish_reel(session, settings, reel_id, publisher=OutboxPublisher(settings.outbox_dir), worker="test")
    assert outcome.result == "published"
    reel = _state(session, reel_id)
    assert reel.status == ReelStatus.PUBLISHED and reel.media_id and reel.permalink and reel.published_at
    [folder] = [p for p in settings.outbox_dir.iterdir()]
    assert {p.name for p in folder.iterdir()} >= {"reel.mp4", "caption.txt", "metadata.json", "published.json"}
    meta = json.loads((folder / "metadata.json").read_text())
    assert meta["ai_generated"] is True and "#cookingtips" in (folder / "caption.txt").read_text()
    with pytest.raises(ValidationFailed, match="not rendered"):
        publish_reel(session, settings, reel_id, publisher=OutboxPublisher(settings.outbox_dir), worker="test")
    assert len(list(settings.outbox_dir.iterdir())) == 1


def test_the_publish_lease_is_a_setting(session, project) -> None:
    _project, settings, video = project
    settings = settings.model_copy(update={"scheduler": settings.scheduler.model_copy(update={"publish_lease_minutes": 5})})
    reel_id = _rendered_reel(session, video)
    with pytest.raises(Crash):
        publish_reel(session, settings, reel_id, publisher=FaultyOutbox(settings.outbox_dir, "after upload"), worker="dying")
    session.rollback()
    outbox = OutboxPublisher(settings.outbox_dir)
    # Four minutes on, the 5-minute lease still holds the claim; six minutes on, it is taken over and completed.
    assert publish_due(session, settings, publisher=outbox, worker="w2", now=utcnow() + timedelta(minutes=4)) == []
    assert _state(session, reel_id).status == ReelStatus.PUBLISHING
    [outcome] = publish_due(session, settings, publisher=outbox, worker="w2", now=utcnow() + timedelta(minutes=6))
    assert outcome.result == "already published"
    assert len(list(settings.outbox_dir.iterdir())) == 1


def test_the_default_publish_lease_is_thirty_minutes(project) -> None:
    _project, settings, _video = project
    assert settings.scheduler.publish_lease_minutes == 30 and LEASE == timedelta(minutes=30)


@pytest.mark.parametrize("crash_at", ["before upload", "after upload", "before the database write"])
def test_a_crash_at_any_step_publishes_exactly_once(session, project, crash_at: str) -> None:
    _project, settings, video = project
    reel_id = _rendered_reel(session, video)
    with pytest.raises(Crash):
        publish_reel(session, settings, reel_id, publisher=FaultyOutbox(settings.outbox_dir, crash_at), worker="dying")
    session.rollback()
    reel = _state(session, reel_id)
    assert reel.status == ReelStatus.PUBLISHING and reel.publish_key  # the attempt was recorded before the upload
    # Within the lease nobody touches it; after it, the next sweep resumes and checks before uploading.
    assert publish_due(session, settings, publisher=OutboxPublisher(settings.outbox_dir), worker="w2", now=utcnow()) == []
    [outcome] = publish_due(session, settings, publisher=OutboxPublisher(settings.outbox_dir), worker="w2", now=utcnow() + LEASE + timedelta(minutes=1))
    expected = "published" if crash_at == "before upload" else "already published"
    assert outcome.result == expected
    reel = _state(session, reel_id)
    assert reel.status == ReelStatus.PUBLISHED
    assert [p.name for p in settings.outbox_dir.iterdir()] == [reel.publish_key]  # one folder: never posted twice


class Flaky:
    name = "flaky"

    def __init__(self, error: Exception):
        self.error = error
        self.calls = 0

    def find_published(self, request, resume):  # noqa: ANN001, ANN201
        return None

    def publish(self, request, resume, on_progress):  # noqa: ANN001, ANN201
        self.calls += 1
        raise self.error


def test_temporary_failures_are_retried_with_backoff_then_fail(session, project) -> None:
    _project, settings, video = project
    reel_id = _rendered_reel(session, video)
    flaky = Flaky(PublishRetryable("Instagram answered 503"))
    assert publish_reel(session, settings, reel_id, publisher=flaky, worker="w").result == "retry later"
    reel = _state(session, reel_id)
    assert reel.status == ReelStatus.RENDERED and reel.last_error == "Instagram answered 503"
    assert timedelta(seconds=50) < reel.next_attempt_at - utcnow() <= timedelta(seconds=60)
    # Not due again until the backoff has passed.
    assert publish_due(session, settings, publisher=flaky, worker="w", now=utcnow()) == []
    later = utcnow() + timedelta(hours=2)
    assert publish_due(session, settings, publisher=flaky, worker="w", now=later)[0].result == "retry later"
    [final] = publish_due(session, settings, publisher=flaky, worker="w", now=later + timedelta(hours=2))
    assert final.result == "failed" and "gave up after 3 attempts" in final.detail
    reel = _state(session, reel_id)
    assert reel.status == ReelStatus.FAILED and reel.failed_stage == "publish" and flaky.calls == 3


def test_a_refusal_fails_with_the_reason(session, project) -> None:
    _project, settings, video = project
    reel_id = _rendered_reel(session, video)
    outcome = publish_reel(session, settings, reel_id, publisher=Flaky(PublishRefused("the video has no audio track; render it again")), worker="w")
    assert outcome.result == "failed"
    reel = _state(session, reel_id)
    assert reel.status == ReelStatus.FAILED and reel.last_error == "the video has no audio track; render it again"


def test_a_reel_missed_beyond_the_grace_window_is_moved_and_recorded(session, project) -> None:
    _project, settings, video = project
    late = _rendered_reel(session, video, due_in=timedelta(minutes=-30))       # within the 120 min grace
    missed = _rendered_reel(session, video, due_in=timedelta(hours=-5))        # beyond it
    future = _rendered_reel(session, video, due_in=timedelta(hours=3))         # not due
    new_time = utcnow() + timedelta(hours=20)
    outcomes = publish_due(session, settings, publisher=OutboxPublisher(settings.outbox_dir), worker="w", now=utcnow(), next_time=lambda _id: new_time)
    assert [o.reel_id for o in outcomes] == [late]
    assert _state(session, missed).status == ReelStatus.RENDERED and abs(_state(session, missed).publish_at - new_time) < timedelta(seconds=1)
    note = session.execute(select(ReelEvent).where(ReelEvent.reel_id == missed).order_by(ReelEvent.id.desc())).scalars().first()
    assert "moved to" in note.reason and "not running" in note.reason
    assert _state(session, future).status == ReelStatus.RENDERED


# -- the Graph API publisher through the whole exactly-once path (local fake Graph server) --------

@pytest.mark.parametrize("fault", [None, "lost", "crash after container"])
def test_graph_publishing_through_the_database_is_exactly_once(session, project, fault: str | None) -> None:
    from fake_graph import Fault, FakeGraph

    from publishing.graph import GraphPublisher
    from publishing.hosting import MediaHost

    _project, settings, video = project
    reel_id = _rendered_reel(session, video)
    with FakeGraph() as graph:
        host = MediaHost(base_url="https://reels.example.test/public", secret="media-secret-0123", root=settings.data_dir)

        def publisher(crash: bool = False) -> GraphPublisher:
            def on_sleep(_seconds: float) -> None:
                if crash:
                    raise Crash()

            return GraphPublisher(ig_user_id=graph.ig_user_id, access_token=graph.access_token, media_url_for=host.url_for,
                                  api_base=graph.base_url, api_version=graph.api_version, timeout_s=2, sleep=on_sleep)

        if fault == "lost":
            graph.add_fault("publish", Fault.lost_response())
            first = publish_reel(session, settings, reel_id, publisher=publisher(), worker="w1")
            assert first.result == "retry later"
            [outcome] = publish_due(session, settings, publisher=publisher(), worker="w2", now=utcnow() + timedelta(hours=1))
            assert outcome.result == "already published"
        elif fault == "crash after container":
            with pytest.raises(Crash):  # dies while waiting for the container, after its id was stored
                publish_reel(session, settings, reel_id, publisher=publisher(crash=True), worker="w1")
            session.rollback()
            assert "container" in _state(session, reel_id).publish_state
            [outcome] = publish_due(session, settings, publisher=publisher(), worker="w2", now=utcnow() + LEASE + timedelta(minutes=1))
            assert outcome.result == "published"
            assert len(graph.calls("create")) == 1  # the stored container was reused, not created again
        else:
            assert publish_reel(session, settings, reel_id, publisher=publisher(), worker="w1").result == "published"
        reel = _state(session, reel_id)
        assert reel.status == ReelStatus.PUBLISHED and reel.media_id
        assert len(graph.published()) == 1
        [create] = graph.calls("create")[-1:]
        assert "public/" in str(create) and graph.access_token not in (reel.last_error or "")


def test_make_publisher_picks_and_checks_the_configured_backend(tmp_path: Path) -> None:
    from agent.errors import AgentError
    from agent.backends import make_publisher
    from publishing.graph import GraphPublisher
    from publishing.instagrapi_publisher import InstagrapiPublisher

    def settings_with(toml: str):  # noqa: ANN202
        (tmp_path / "config").mkdir(exist_ok=True)
        (tmp_path / "config" / "settings.toml").write_text(toml, encoding="utf-8")
        return load_settings(tmp_path).settings

    assert isinstance(make_publisher(settings_with("")), OutboxPublisher)
    with pytest.raises(AgentError, match="graph_ig_user_id, publishing.graph_access_token, publishing.media_base_url"):
        make_publisher(settings_with('[publishing]\nbackend = "graph"\n'))
    graph = make_publisher(settings_with('[publishing]\nbackend = "graph"\ngraph_ig_user_id = "1784"\nmedia_base_url = "https://x.example/public"\n'
                                         'graph_access_token = "EAAG-token-value"\n[web]\nsecret_key = "a-web-secret-0123456789"\n'))
    assert isinstance(graph, GraphPublisher)
    with pytest.raises(AgentError, match="instagrapi_username is not set"):
        make_publisher(settings_with('[publishing]\nbackend = "instagrapi"\n'))
    insta = make_publisher(settings_with('[publishing]\nbackend = "instagrapi"\ninstagrapi_username = "your.handle"\n'))
    assert isinstance(insta, InstagrapiPublisher)


def test_a_dry_run_shows_what_would_be_posted_and_posts_nothing(session, project) -> None:
    folder, settings, video = project
    reel_id = _rendered_reel(session, video)
    shown = reeltwin(folder, "publish", str(reel_id), "--dry-run", "--json")
    assert shown.returncode == 0, shown.stderr
    payload = json.loads(shown.stdout)
    assert payload["would_publish"] is True and payload["video"] == str(video) and "#cookingtips" in payload["caption"]
    assert _state(session, reel_id).status == ReelStatus.RENDERED
    assert not settings.outbox_dir.exists() or list(settings.outbox_dir.iterdir()) == []


def test_a_dry_run_of_an_unrendered_reel_is_one_line_and_exit_2(session, project) -> None:
    folder, _settings, video = project
    reel_id = _rendered_reel(session, video)
    session.execute(Reel.__table__.update().where(Reel.id == reel_id).values(status="drafted", artifacts={}))
    session.commit()
    refused = reeltwin(folder, "publish", str(reel_id), "--dry-run")
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.strip().splitlines() == [f"error: reel {reel_id}: is drafted, not rendered; nothing would be posted: "
                                                   f"approve and render it first (`reeltwin render {reel_id}`), then publish"]
