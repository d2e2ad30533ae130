"""The Graph API publisher against a real local HTTP fake of Instagram: the flow, error translation, exactly-once."""

from __future__ import annotations

import itertools
import logging
import random
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from publishing.base import (
    LoginRequired,
    Publisher,
    PublishProgress,
    PublishRefused,
    PublishRequest,
    PublishResult,
    PublishRetryable,
    QuotaExceeded,
)
from publishing.graph import RETRYABLE_SUBCODES, GraphPublisher
from tests.fake_graph import FakeGraph, Fault

CLIENT_TIMEOUT_S = 5.0         # generous: a loaded CI machine must not turn ordinary calls into timeouts
SHORT_TIMEOUT_S = 0.3          # only where a test wants a timeout
SLOW_S = 0.8                   # a fake answer this late is past SHORT_TIMEOUT_S


class SimulatedCrash(BaseException):
    """The process dies here: nothing in the publisher may catch it (a BaseException, like a kill)."""


class RecordingSleep:
    def __init__(self) -> None:
        self.calls: list[float] = []
        self.crash_on_call: int | None = None

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        if self.crash_on_call is not None and len(self.calls) == self.crash_on_call:
            self.crash_on_call = None
            raise SimulatedCrash("during polling")


@pytest.fixture
def graph() -> Iterator[FakeGraph]:
    with FakeGraph() as fake:
        yield fake


@pytest.fixture
def video(tmp_path: Path) -> Path:
    path = tmp_path / "reel.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42 not really a video")
    return path


@pytest.fixture
def cover(tmp_path: Path) -> Path:
    path = tmp_path / "cover.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return path


def make_request(video: Path, *, key: str = "reel-1-a1", caption: str = "Three habits that doubled my focus.\n\n#focus #habits",
                 cover: Path | None = None, ai_generated: bool = True) -> PublishRequest:
    return PublishRequest(publish_key=key, video_path=video, cover_path=cover, caption=caption, ai_generated=ai_generated, handle="coach.anna")


def make_publisher(graph: FakeGraph, sleep: RecordingSleep | None = None, **overrides: object) -> GraphPublisher:
    options: dict[str, object] = {
        "ig_user_id": graph.ig_user_id,
        "access_token": graph.access_token,
        "media_url_for": lambda path: f"https://media.example.test/reels/{path.name}",
        "api_base": graph.base_url,
        "api_version": graph.api_version,
        "timeout_s": CLIENT_TIMEOUT_S,
        "poll_interval_s": 5,
        "poll_timeout_s": 600,
        "sleep": sleep if sleep is not None else RecordingSleep(),
    }
    options.update(overrides)
    return GraphPublisher(**options)  # type: ignore[arg-type]


def assert_no_token(graph: FakeGraph, *texts: object) -> None:
    for text in texts:
        assert graph.access_token not in str(text)
        assert "access_token=" not in str(text).replace("access_token=***", "")


def publish_collecting(publisher: GraphPublisher, request: PublishRequest, stored: dict[str, str]) -> PublishResult:
    def on_progress(progress: PublishProgress) -> None:
        stored[progress.stage] = progress.value
    return publisher.publish(request, dict(stored), on_progress)


# -- the flow -------------------------------------------------------------------------------------


def test_is_a_publisher(graph: FakeGraph) -> None:
    publisher = make_publisher(graph)
    assert isinstance(publisher, Publisher)
    assert publisher.name == "graph"
    assert graph.access_token not in repr(publisher)


def test_happy_path_creates_polls_publishes_and_reads_the_permalink(graph: FakeGraph, video: Path, cover: Path) -> None:
    graph.polls_to_finish = 2
    sleep = RecordingSleep()
    publisher = make_publisher(graph, sleep)
    progress: list[tuple[str, str, int]] = []

    def on_progress(item: PublishProgress) -> None:
        progress.append((item.stage, item.value, len(graph.calls("container"))))

    request = make_request(video, cover=cover)
    result = publisher.publish(request, {}, on_progress)

    [media] = graph.published()
    assert result.media_id == media.id
    assert result.permalink == media.permalink
    assert result.backend == "graph" and not result.already_published
    assert abs((result.published_at - media.timestamp).total_seconds()) < 1

    [create] = graph.calls("create")
    assert create.params["media_type"] == "REELS"
    assert create.params["video_url"] == "https://media.example.test/reels/reel.mp4"
    assert create.params["cover_url"] == "https://media.example.test/reels/cover.jpg"
    assert create.params["caption"] == request.caption
    assert create.params["share_to_feed"] == "true"
    assert create.params["is_ai_generated"] == "true"
    assert not create.token_in_query, "POSTs carry the token in the form body"

    stages = [stage for stage, _, _ in progress]
    assert stages == ["container_requested_at", "container", "media"]
    container_progress = progress[1]
    assert container_progress[1] == media.container_id
    assert container_progress[2] == 0, "the container id is reported before the first status poll"
    assert progress[2][1] == media.id
    assert sleep.calls == [5, 7.5], "IN_PROGRESS twice: wait 5 s, then 1.5 times longer"
    order = [recorded.endpoint for recorded in graph.requests]
    assert order == ["quota", "create", "container", "container", "container", "publish", "media"]


def test_no_ai_label_when_the_reel_is_not_ai_generated(graph: FakeGraph, video: Path) -> None:
    make_publisher(graph).publish(make_request(video, ai_generated=False), {}, lambda _: None)
    [create] = graph.calls("create")
    assert "is_ai_generated" not in create.params
    assert "cover_url" not in create.params


def test_an_api_without_the_ai_parameter_gets_the_container_once_more_without_it(graph: FakeGraph, video: Path, caplog: pytest.LogCaptureFixture) -> None:
    graph.accept_ai_label = False
    with caplog.at_level(logging.WARNING, logger="publishing.graph"):
        result = make_publisher(graph).publish(make_request(video), {}, lambda _: None)
    first, second = graph.calls("create")
    assert first.params["is_ai_generated"] == "true"
    assert "is_ai_generated" not in second.params
    assert [m.id for m in graph.published()] == [result.media_id]
    assert any("is_ai_generated" in record.getMessage() for record in caplog.records if record.levelno == logging.WARNING)


def test_find_published_without_progress_is_none_and_asks_nothing(graph: FakeGraph, video: Path) -> None:
    assert make_publisher(graph).find_published(make_request(video), {}) is None
    assert graph.requests == []


def test_find_published_with_a_container_still_processing_is_none(graph: FakeGraph, video: Path) -> None:
    graph.polls_to_finish = 50
    stored: dict[str, str] = {}
    with pytest.raises(PublishRetryable, match="still processing"):
        publish_collecting(make_publisher(graph, poll_timeout_s=10), make_request(video), stored)
    assert make_publisher(graph).find_published(make_request(video), stored) is None


def test_find_published_with_a_media_id_reads_it(graph: FakeGraph, video: Path) -> None:
    first = make_publisher(graph).publish(make_request(video), {}, lambda _: None)
    found = make_publisher(graph).find_published(make_request(video), {"media": first.media_id})
    assert found is not None and found.already_published
    assert (found.media_id, found.permalink) == (first.media_id, first.permalink)


def test_resuming_a_finished_container_publishes_it_without_a_new_one(graph: FakeGraph, video: Path) -> None:
    graph.add_fault("publish", Fault.drop())
    stored: dict[str, str] = {}
    with pytest.raises(PublishRetryable):
        publish_collecting(make_publisher(graph), make_request(video), stored)
    assert graph.containers[stored["container"]].status_code == "FINISHED"
    result = publish_collecting(make_publisher(graph), make_request(video), stored)
    assert len(graph.calls("create")) == 1
    assert [m.id for m in graph.published()] == [result.media_id]
    assert stored["media"] == result.media_id


def test_polling_backs_off_to_a_minute_and_times_out_retryably_then_resumes(graph: FakeGraph, video: Path) -> None:
    graph.next_container(polls=25)
    sleep = RecordingSleep()
    stored: dict[str, str] = {}
    with pytest.raises(PublishRetryable, match="still processing") as caught:
        publish_collecting(make_publisher(graph, sleep, poll_timeout_s=600), make_request(video), stored)
    intervals = sleep.calls
    assert intervals[:4] == [5, 7.5, 11.25, 16.875]
    assert max(intervals) == 60
    assert all(later >= earlier for earlier, later in itertools.pairwise(intervals[:-1]))
    assert sum(intervals) == pytest.approx(600)
    assert_no_token(graph, caught.value)
    # The next attempt waits on the same container instead of uploading again.
    result = publish_collecting(make_publisher(graph), make_request(video), stored)
    assert len(graph.calls("create")) == 1
    assert [m.id for m in graph.published()] == [result.media_id]


# -- errors, translated at the boundary -----------------------------------------------------------


def test_quota_used_up_refuses_before_any_upload(graph: FakeGraph, video: Path) -> None:
    graph.quota_usage = graph.quota_total = 100
    with pytest.raises(QuotaExceeded, match="100 of 100") as caught:
        make_publisher(graph).publish(make_request(video), {}, lambda _: None)
    assert isinstance(caught.value, PublishRetryable)
    assert graph.calls("create") == []
    assert_no_token(graph, caught.value)


def test_quota_error_from_media_publish_is_quota_exceeded(graph: FakeGraph, video: Path) -> None:
    graph.add_fault("publish", Fault.graph_error(9, "Application request limit reached", subcode=2207042))
    with pytest.raises(QuotaExceeded, match="publishing limit"):
        make_publisher(graph).publish(make_request(video), {}, lambda _: None)


def test_expired_token_asks_for_a_new_one(graph: FakeGraph, video: Path) -> None:
    graph.token_valid = False
    with pytest.raises(LoginRequired, match="REELTWIN_PUBLISHING__GRAPH_ACCESS_TOKEN") as caught:
        make_publisher(graph).publish(make_request(video), {}, lambda _: None)
    assert "expired" in str(caught.value)
    assert_no_token(graph, caught.value)


def test_code_190_from_any_call_is_login_required(graph: FakeGraph, video: Path) -> None:
    graph.add_fault("create", Fault.graph_error(190, "Error validating access token: The user has not authorized application.", subcode=458))
    with pytest.raises(LoginRequired, match="GRAPH_ACCESS_TOKEN"):
        make_publisher(graph).publish(make_request(video), {}, lambda _: None)


@pytest.mark.parametrize("code", [10, 200])
def test_missing_permission_names_it(graph: FakeGraph, video: Path, code: int) -> None:
    graph.add_fault("create", Fault.graph_error(code, "(#10) Application does not have permission for this action"))
    with pytest.raises(PublishRefused, match="instagram_content_publish") as caught:
        make_publisher(graph).publish(make_request(video), {}, lambda _: None)
    assert not isinstance(caught.value, PublishRetryable)


TRANSIENT_FAULTS = {
    "http 500 with Meta's JSON": ("quota", Fault.graph_error(2, "An unexpected error has occurred. Please retry your request later.", status=500), None),
    "http 503 with an HTML page": ("create", Fault.http(503, body=b"<html>Service Unavailable</html>"), None),
    "http 429 with Retry-After": ("quota", Fault.http(429, body=b"", headers={"Retry-After": "30"}), 30.0),
    "code 4 app rate limit": ("create", Fault.graph_error(4, "(#4) Application request limit reached", headers={"Retry-After": "120"}), 120.0),
    "code 17 user rate limit": ("publish", Fault.graph_error(17, "(#17) User request limit reached"), None),
    "code 32 page rate limit": ("container", Fault.graph_error(32, "(#32) Page request limit reached"), None),
    "code 613 calls limit": ("quota", Fault.graph_error(613, "(#613) Calls to this api have exceeded the rate limit."), None),
    "media not ready (9007)": ("publish", Fault.graph_error(9007, "Media ID is not available", subcode=2207027), None),
    "dropped connection": ("create", Fault.drop(), None),
    "timeout": ("quota", Fault.hang(SLOW_S), None),
}


@pytest.mark.parametrize("endpoint, fault, retry_after_s", TRANSIENT_FAULTS.values(), ids=TRANSIENT_FAULTS.keys())
def test_temporary_failures_are_retryable_and_the_retry_publishes_once(graph: FakeGraph, video: Path, endpoint: str, fault: Fault,
                                                                       retry_after_s: float | None) -> None:
    graph.add_fault(endpoint, fault)
    stored: dict[str, str] = {}
    with pytest.raises(PublishRetryable) as caught:
        publish_collecting(make_publisher(graph, timeout_s=SHORT_TIMEOUT_S if fault.kind == "hang" else CLIENT_TIMEOUT_S), make_request(video), stored)
    assert not isinstance(caught.value, QuotaExceeded)
    assert caught.value.retry_after_s == retry_after_s
    assert_no_token(graph, caught.value, repr(caught.value))
    assert caught.value.__cause__ is None and (caught.value.__context__ is None or caught.value.__suppress_context__)
    result = publish_collecting(make_publisher(graph), make_request(video), stored)
    assert [m.id for m in graph.published()] == [result.media_id]


def test_video_url_instagram_cannot_fetch_is_refused_with_the_fix(graph: FakeGraph, video: Path) -> None:
    graph.add_fault("create", Fault.graph_error(9004, "Only photo or video can be accepted as media type.", subcode=2207052,
                                                user_msg="The media could not be fetched from this URI: https://media.example.test/reels/reel.mp4"))
    with pytest.raises(PublishRefused, match="media_base_url") as caught:
        make_publisher(graph).publish(make_request(video), {}, lambda _: None)
    assert "could not be fetched" in str(caught.value)
    assert_no_token(graph, caught.value)


def test_container_error_is_refused_with_metas_status_text_and_the_fix(graph: FakeGraph, video: Path) -> None:
    graph.next_container(polls=1, outcome="ERROR", status_text="Error: Media upload has failed with error code 2207026")
    with pytest.raises(PublishRefused) as caught:
        make_publisher(graph).publish(make_request(video), {}, lambda _: None)
    message = str(caught.value)
    assert "Media upload has failed with error code 2207026" in message
    assert "H.264" in message and "9:16" in message
    assert graph.published() == []


def test_container_error_then_a_new_attempt_makes_a_new_container(graph: FakeGraph, video: Path) -> None:
    graph.next_container(polls=0, outcome="ERROR", status_text="Error: something Instagram did not like")
    stored: dict[str, str] = {}
    with pytest.raises(PublishRefused, match="something Instagram did not like"):
        publish_collecting(make_publisher(graph), make_request(video), stored)
    result = publish_collecting(make_publisher(graph), make_request(video), stored)
    assert len(graph.calls("create")) == 2
    assert [m.id for m in graph.published()] == [result.media_id]


@pytest.mark.parametrize("subcode", sorted(RETRYABLE_SUBCODES))
def test_a_container_error_with_a_retryable_subcode_is_retried_with_a_new_container(graph: FakeGraph, video: Path, subcode: int) -> None:
    graph.next_container(polls=1, outcome="ERROR", status_text=f"Error: Media upload has failed with error code {subcode}")
    stored: dict[str, str] = {}
    with pytest.raises(PublishRetryable, match="temporary problem.*new container will be created") as caught:
        publish_collecting(make_publisher(graph), make_request(video), stored)
    assert "\n" not in str(caught.value) and str(subcode) in str(caught.value)
    first_container = stored["container"]
    result = publish_collecting(make_publisher(graph), make_request(video), stored)
    assert stored["container"] != first_container
    assert [m.id for m in graph.published()] == [result.media_id]   # exactly one post
    assert_no_token(graph, caught.value)


def test_a_container_error_with_a_media_subcode_is_not_retried(graph: FakeGraph, video: Path) -> None:
    graph.next_container(polls=1, outcome="ERROR", status_text="Error: Media upload has failed with error code 2207026")
    with pytest.raises(PublishRefused) as caught:
        make_publisher(graph).publish(make_request(video), {}, lambda _: None)
    assert not isinstance(caught.value, PublishRetryable) and "render it again" in str(caught.value)


def test_expired_container_is_retryable_and_the_retry_makes_a_new_one(graph: FakeGraph, video: Path) -> None:
    graph.next_container(polls=1, outcome="EXPIRED")
    stored: dict[str, str] = {}
    with pytest.raises(PublishRetryable, match="new container will be created") as caught:
        publish_collecting(make_publisher(graph), make_request(video), stored)
    first_container = stored["container"]
    assert make_publisher(graph).find_published(make_request(video), stored) is None
    result = publish_collecting(make_publisher(graph), make_request(video), stored)
    assert stored["container"] != first_container
    assert len(graph.containers) == 2
    assert [m.id for m in graph.published()] == [result.media_id]
    assert_no_token(graph, caught.value)


def test_a_published_container_whose_post_is_gone_is_not_uploaded_again(graph: FakeGraph, video: Path) -> None:
    graph.add_fault("publish", Fault.lost_response())
    stored: dict[str, str] = {}
    with pytest.raises(PublishRetryable):
        publish_collecting(make_publisher(graph), make_request(video), stored)
    graph.media.clear()   # the creator deleted the post on Instagram meanwhile
    with pytest.raises(PublishRefused, match="mark the reel published by hand"):
        make_publisher(graph).find_published(make_request(video), stored)
    with pytest.raises(PublishRefused, match="avoid a duplicate"):
        publish_collecting(make_publisher(graph), make_request(video), stored)
    assert len(graph.calls("create")) == 1 and len(graph.calls("publish")) == 1


def test_the_lookup_pages_through_recent_media_by_cursor(graph: FakeGraph, video: Path) -> None:
    graph.add_fault("publish", Fault.lost_response())
    stored: dict[str, str] = {}
    with pytest.raises(PublishRetryable):
        publish_collecting(make_publisher(graph), make_request(video), stored)
    for minute in range(1, 61):   # the creator posted a lot by hand since: ours is on the second page
        graph.add_existing_media(f"posted by hand {minute}", age=-timedelta(minutes=minute))
    found = make_publisher(graph).find_published(make_request(video), stored)
    assert found is not None and found.already_published
    assert [m.id for m in graph.published()] == [found.media_id]
    first, second = graph.calls("list")
    assert "after" not in first.params and second.params["after"] == "50"


def test_missing_video_is_refused_before_any_upload(graph: FakeGraph, tmp_path: Path) -> None:
    with pytest.raises(PublishRefused, match="render the reel again"):
        make_publisher(graph).publish(make_request(tmp_path / "gone.mp4"), {}, lambda _: None)
    assert graph.calls("create") == []


def test_the_token_never_reaches_the_logs(graph: FakeGraph, video: Path, caplog: pytest.LogCaptureFixture) -> None:
    graph.add_existing_media("older post", age=timedelta(days=1))
    graph.add_fault("publish", Fault.lost_response())
    graph.add_fault("quota", Fault.graph_error(2, "Service temporarily unavailable", status=500))
    stored: dict[str, str] = {}
    # Another test may have run `configure_logging`, which quiets httpx: listen to it explicitly.
    caplog.set_level(logging.DEBUG, logger="httpx")
    with caplog.at_level(logging.DEBUG):
        for _ in range(4):
            try:
                if make_publisher(graph).find_published(make_request(video), stored) or publish_collecting(make_publisher(graph), make_request(video), stored):
                    break
            except PublishRetryable as error:
                assert_no_token(graph, error)
    messages = [record.getMessage() for record in caplog.records]
    assert any(message.startswith("HTTP Request:") and "access_token=***" in message for message in messages), "httpx's lines are kept, masked"
    assert_no_token(graph, *messages)
    assert len(graph.published()) == 1


# -- exactly-once under crashes and lost answers ----------------------------------------------------
#
# Each run publishes one reel (and, first, another reel with another caption) through a
# driver that behaves like the caller: it stores every on_progress value, and on any
# retryable failure or crash tries again with what it stored, asking find_published first.

FAULT_POINTS = [
    "crash after container created",            # on_progress("container") stored, then the process dies
    "crash while polling",                      # dies in the first wait between status polls
    "create answer lost",                       # the container exists on Instagram, its id never reached us
    "crash after finished, before publish",     # media_publish never reaches Instagram
    "publish answer lost",                      # media_publish done on Instagram, connection closed before the answer
    "publish answer too late",                  # media_publish done at once, answered after our timeout
    "publish processed late",                   # media_publish reaches Instagram only after our timeout
    "crash after media id stored",              # on_progress("media") stored, then the process dies
    "permalink read fails",                     # published fine, reading the permalink fails
    "container expired",                        # the first container expires: a second one goes out
]
RUNS_PER_FAULT = 5
FAULT_OUTCOMES: Counter[str] = Counter()


def run_like_the_caller(publisher: GraphPublisher, request: PublishRequest, stored: dict[str, str], *, crash_stage: str | None,
                        max_attempts: int = 6) -> tuple[PublishResult, list[str]]:
    history: list[str] = []
    crashed: list[str] = []

    def on_progress(progress: PublishProgress) -> None:
        stored[progress.stage] = progress.value
        if progress.stage == crash_stage and not crashed:
            crashed.append(progress.stage)
            raise SimulatedCrash(progress.stage)

    for _ in range(max_attempts):
        found = publisher.find_published(request, dict(stored))
        if found is not None:
            history.append("found")
            return found, history
        try:
            result = publisher.publish(request, dict(stored), on_progress)
        except SimulatedCrash:
            history.append("crash")
            continue
        except PublishRetryable as error:
            assert publisher._access_token not in str(error)
            history.append("retryable")
            continue
        history.append("already published" if result.already_published else "published")
        return result, history
    raise AssertionError(f"not published after {max_attempts} attempts: {history}")


@pytest.fixture(scope="module")
def fault_summary(request: pytest.FixtureRequest) -> Iterator[Counter[str]]:
    """Counts the fault runs and how each went; printed at the end of the module."""
    yield FAULT_OUTCOMES
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None or not FAULT_OUTCOMES:
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(f"\nGraph publisher fault runs: {sum(FAULT_OUTCOMES.values())}")
        for outcome, count in sorted(FAULT_OUTCOMES.items()):
            reporter.write_line(f"  {count} x {outcome}")


@pytest.mark.parametrize("run", range(RUNS_PER_FAULT))
@pytest.mark.parametrize("fault_point", FAULT_POINTS)
def test_exactly_one_post_per_reel_whatever_fails(video: Path, fault_point: str, run: int, fault_summary: Counter[str]) -> None:
    rng = random.Random(f"{fault_point}/{run}")
    with FakeGraph(polls_to_finish=rng.randint(1, 3)) as graph:
        request = make_request(video, key=f"reel-{run}", caption=f"Reel {run}: the one habit that stuck.\n#habits #run{run}")
        decoy = graph.add_existing_media(request.caption, age=timedelta(days=rng.randint(1, 20))) if rng.random() < 0.6 else None
        for index in range(rng.randint(0, 70)):
            graph.add_existing_media(f"older post {index}", age=timedelta(days=30, hours=index))
        sleep = RecordingSleep()
        slow_faults = ("publish answer too late", "publish processed late")
        publisher = make_publisher(graph, sleep, timeout_s=SHORT_TIMEOUT_S if fault_point in slow_faults else CLIENT_TIMEOUT_S)
        other, _ = run_like_the_caller(publisher, make_request(video, key="other", caption="Another reel entirely"), {}, crash_stage=None)

        crash_stage = None
        if fault_point == "crash after container created":
            crash_stage = "container"
        elif fault_point == "crash while polling":
            sleep.crash_on_call = len(sleep.calls) + 1
        elif fault_point == "create answer lost":
            graph.add_fault("create", Fault.lost_response())
        elif fault_point == "crash after finished, before publish":
            graph.add_fault("publish", Fault.drop())
        elif fault_point == "publish answer lost":
            graph.add_fault("publish", Fault.lost_response())
        elif fault_point == "publish answer too late":
            graph.add_fault("publish", Fault.slow_response(SLOW_S))
        elif fault_point == "publish processed late":
            graph.add_fault("publish", Fault.hang(SLOW_S))
        elif fault_point == "crash after media id stored":
            crash_stage = "media"
        elif fault_point == "permalink read fails":
            graph.add_fault("media", Fault.drop())
        elif fault_point == "container expired":
            graph.next_container(polls=rng.randint(0, 2), outcome="EXPIRED")

        stored: dict[str, str] = {}
        result, history = run_like_the_caller(publisher, request, stored, crash_stage=crash_stage)

        if fault_point == "publish processed late":
            time.sleep(SLOW_S)   # the late media_publish is still on its way: let it land before counting

        ours = graph.published(request.caption)
        assert len(ours) == 1, f"{fault_point}: {len(ours)} posts for one reel ({history})"
        assert result.media_id == ours[0].id
        assert decoy is None or result.media_id != decoy.id
        assert [m.id for m in graph.published("Another reel entirely")] == [other.media_id]
        assert graph.pending_faults("publish") == graph.pending_faults("create") == graph.pending_faults("media") == 0
        if fault_point in ("publish answer lost", "publish answer too late", "crash after media id stored"):
            assert result.already_published and "found" in history
        if fault_point == "container expired":
            assert len([c for c in graph.containers.values() if c.params["caption"] == request.caption]) == 2
        if fault_point == "permalink read fails":
            assert result.permalink is None and history == ["published"]
        fault_summary[f"{fault_point}: {' -> '.join(history)}"] += 1
