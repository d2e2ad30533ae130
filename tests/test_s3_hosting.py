"""S3-compatible media hosting: real S3 requests against moto's S3 server on 127.0.0.1, presigned URLs fetched over HTTP."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from sqlalchemy import select

from agent.backends import make_media_host, make_publisher
from agent.jobs.publish import publish_reel
from agent.settings import load_settings, public_view
from publishing.base import MediaHosting, PublishProgress, PublishRefused, PublishRequest, PublishRetryable
from publishing.graph import GraphPublisher
from publishing.hosting import MediaHost
from publishing.s3_hosting import S3MediaHost
from tests.fake_graph import FakeGraph

REPO = Path(__file__).resolve().parent.parent
from moto_s3 import endpoint, free_port, moto_endpoint  # noqa: E402,F401 - shared fixtures

BUCKET = "reeltwin-test-reels"
KEY_ID = "AKIAREELTWINTEST0001"
SECRET = "s3-SECRET-value-do-not-print-0123456789"


def s3_client(endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET)


@pytest.fixture
def bucket(endpoint: str) -> str:
    s3_client(endpoint).create_bucket(Bucket=BUCKET)
    return BUCKET


def make_host(endpoint: str, **overrides: Any) -> S3MediaHost:
    options: dict[str, Any] = {"bucket": BUCKET, "endpoint_url": endpoint, "region": "us-east-1", "access_key_id": KEY_ID,
                               "secret_access_key": SECRET, "url_lifetime_s": 3600, "max_attempts": 1, "timeout_s": 5}
    options.update(overrides)
    return S3MediaHost(**options)


@pytest.fixture
def video(tmp_path: Path) -> Path:
    path = tmp_path / "reel.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 64)
    return path


@pytest.fixture
def cover(tmp_path: Path) -> Path:
    path = tmp_path / "cover.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0 a small cover")
    return path


def our_log_lines(caplog: pytest.LogCaptureFixture) -> str:
    """What ReelTwin itself logged (not moto's server, nor the test's own fetches)."""
    return "\n".join(caplog.handler.format(record) for record in caplog.records if record.name.split(".")[0] in ("publishing", "agent"))


def keys_in(endpoint: str) -> list[str]:
    return sorted(item["Key"] for item in s3_client(endpoint).list_objects_v2(Bucket=BUCKET).get("Contents") or [])


# -- upload, presigned URL, idempotence, cleanup -------------------------------------------------------------------------


def test_both_hosts_share_the_media_hosting_interface(tmp_path: Path, endpoint: str) -> None:
    assert isinstance(make_host(endpoint), MediaHosting)
    assert isinstance(MediaHost(base_url="https://x.example/public", secret="a-web-secret", root=tmp_path), MediaHosting)


def test_upload_and_the_presigned_url_serves_the_same_bytes(endpoint: str, bucket: str, video: Path, cover: Path) -> None:
    host = make_host(endpoint)
    url = host.url_for(video, publish_key="rt12-a1b2c3")
    cover_url = host.url_for(cover, publish_key="rt12-a1b2c3")
    assert url.startswith(f"{endpoint}/{BUCKET}/reeltwin/rt12-a1b2c3/") and "X-Amz-Signature=" in url and "X-Amz-Expires=3600" in url
    assert SECRET not in url
    response = httpx.get(url)
    assert response.status_code == 200 and response.content == video.read_bytes()
    assert response.headers["content-type"] == "video/mp4"
    assert httpx.get(cover_url).headers["content-type"] == "image/jpeg"
    [video_key] = [key for key in keys_in(endpoint) if key.endswith("-reel.mp4")]
    head = s3_client(endpoint).head_object(Bucket=BUCKET, Key=video_key)
    assert head["ContentLength"] == video.stat().st_size and len(head["Metadata"]["sha256"]) == 64
    assert video_key == f"reeltwin/rt12-a1b2c3/{head['Metadata']['sha256'][:16]}-reel.mp4"


def test_a_retry_reuses_the_uploaded_object_and_new_content_gets_a_new_key(endpoint: str, bucket: str, video: Path, caplog: pytest.LogCaptureFixture) -> None:
    host = make_host(endpoint)
    host.url_for(video, publish_key="rt12-a1b2c3")
    before = s3_client(endpoint).head_object(Bucket=BUCKET, Key=keys_in(endpoint)[0])["LastModified"]
    caplog.set_level(logging.INFO, logger="publishing.s3_hosting")
    again = make_host(endpoint)   # a new process after a crash
    url = again.url_for(video, publish_key="rt12-a1b2c3")
    assert "already uploaded" in caplog.text
    assert len(keys_in(endpoint)) == 1
    assert s3_client(endpoint).head_object(Bucket=BUCKET, Key=keys_in(endpoint)[0])["LastModified"] == before
    assert httpx.get(url).content == video.read_bytes()
    video.write_bytes(video.read_bytes() + b"re-rendered")
    again.url_for(video, publish_key="rt12-a1b2c3")
    assert len(keys_in(endpoint)) == 2


def test_a_partial_object_under_the_key_is_overwritten(endpoint: str, bucket: str, video: Path) -> None:
    host = make_host(endpoint)
    key = host.key_for(video, publish_key="rt5-x")
    s3_client(endpoint).put_object(Bucket=BUCKET, Key=key, Body=b"half an upload")
    url = host.url_for(video, publish_key="rt5-x")
    assert httpx.get(url).content == video.read_bytes()


def test_cleanup_deletes_the_reels_objects_and_only_them(endpoint: str, bucket: str, video: Path, cover: Path) -> None:
    host = make_host(endpoint)
    url = host.url_for(video, publish_key="rt12-a1b2c3")
    host.url_for(cover, publish_key="rt12-a1b2c3")
    make_host(endpoint).url_for(video, publish_key="rt13-d4e5f6")
    s3_client(endpoint).put_object(Bucket=BUCKET, Key="someone-else/file.txt", Body=b"keep me")
    fresh = make_host(endpoint)   # remembers nothing: the keys follow from the files and the reel's folder
    fresh.cleanup([video, cover], publish_key="rt12-a1b2c3")
    assert keys_in(endpoint) == sorted(["someone-else/file.txt", make_host(endpoint).key_for(video, publish_key="rt13-d4e5f6")])
    assert httpx.get(url).status_code == 404
    make_host(endpoint, delete_after_publish=False).cleanup([video], publish_key="rt13-d4e5f6")
    assert len(keys_in(endpoint)) == 2


# -- errors: refused (naming the setting) or retryable; never a secret --------------------------------------------------


def test_a_missing_bucket_is_refused_naming_the_setting(endpoint: str, video: Path) -> None:
    with pytest.raises(PublishRefused) as refused:
        make_host(endpoint, bucket="no-such-bucket").url_for(video, publish_key="rt1-a")
    message = str(refused.value)
    assert "S3 bucket 'no-such-bucket' does not exist" in message and "REELTWIN_PUBLISHING__S3__BUCKET" in message
    assert "\n" not in message and SECRET not in message and KEY_ID not in message


@pytest.fixture
def signed_requests_only(endpoint: str, bucket: str) -> tuple[str, str]:
    """moto checking signatures, with one known IAM access key (id, secret)."""
    iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET)
    iam.create_user(UserName="reeltwin")
    iam.put_user_policy(UserName="reeltwin", PolicyName="reels",
                        PolicyDocument='{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}')
    key = iam.create_access_key(UserName="reeltwin")["AccessKey"]
    httpx.post(f"{endpoint}/moto-api/reset-auth", content=b"0").raise_for_status()
    return key["AccessKeyId"], key["SecretAccessKey"]


def test_credentials_are_checked_and_wrong_ones_refused_without_printing_them(signed_requests_only: tuple[str, str], endpoint: str, video: Path,
                                                                                caplog: pytest.LogCaptureFixture) -> None:
    key_id, secret = signed_requests_only
    caplog.set_level(logging.DEBUG)
    host = make_host(endpoint, access_key_id=key_id, secret_access_key=secret)
    host.url_for(video, publish_key="rt1-a")   # (moto cannot check a presigned URL's signature: fetched in the tests above)
    signed = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key_id, aws_secret_access_key=secret)
    assert signed.get_object(Bucket=BUCKET, Key=host.key_for(video, publish_key="rt1-a"))["Body"].read() == video.read_bytes()

    with pytest.raises(PublishRefused) as unknown_key:
        make_host(endpoint, access_key_id="AKIAUNKNOWNKEY000000", secret_access_key=SECRET).url_for(video, publish_key="rt2-a")
    assert "REELTWIN_PUBLISHING__S3__ACCESS_KEY_ID" in str(unknown_key.value) and "InvalidAccessKeyId" in str(unknown_key.value)

    with pytest.raises(PublishRefused) as wrong_secret:
        make_host(endpoint, access_key_id=key_id, secret_access_key=SECRET).url_for(video, publish_key="rt3-a")
    assert "REELTWIN_PUBLISHING__S3__SECRET_ACCESS_KEY" in str(wrong_secret.value) and "SignatureDoesNotMatch" in str(wrong_secret.value)

    for text in (str(unknown_key.value), str(wrong_secret.value), our_log_lines(caplog)):
        assert SECRET not in text and secret not in text and "AKIAUNKNOWNKEY000000" not in text
    assert SECRET not in caplog.text and secret not in caplog.text   # not even botocore's debug lines hold a secret key
    assert "\n" not in str(wrong_secret.value)


class ErrorS3(ThreadingHTTPServer):
    """A stand-in S3 endpoint: HEAD finds nothing (404), every other request gets one status and S3's error XML."""

    def __init__(self, status: int, code: str) -> None:
        self.status, self.code, self.requests = status, code, 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                server.requests += 1
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                body = (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{server.code}</Code>'
                        f"<Message>{server.code} from the stand-in</Message><RequestId>r1</RequestId></Error>").encode()
                self.send_response(404 if self.command == "HEAD" else server.status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", "0" if self.command == "HEAD" else str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_PUT = do_HEAD = do_DELETE = do_POST = _answer

        super().__init__(("127.0.0.1", 0), Handler)
        self.daemon_threads = True
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.mark.parametrize(("status", "code", "expected", "names"), [
    (503, "SlowDown", PublishRetryable, "will retry"),
    (500, "InternalError", PublishRetryable, "will retry"),
    (403, "AccessDenied", PublishRefused, "s3:PutObject"),
    (400, "AuthorizationHeaderMalformed", PublishRefused, "REELTWIN_PUBLISHING__S3__REGION"),
    (400, "ExpiredToken", PublishRefused, "REELTWIN_PUBLISHING__S3__ACCESS_KEY_ID"),
])
def test_service_errors_are_translated(status: int, code: str, expected: type, names: str, video: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    server = ErrorS3(status, code)
    try:
        with pytest.raises(expected) as raised:
            make_host(server.url, max_attempts=1).url_for(video, publish_key="rt1-a")
    finally:
        server.shutdown()
        server.server_close()
    assert type(raised.value) is expected and names in str(raised.value) and code in str(raised.value)
    assert SECRET not in str(raised.value) and SECRET not in caplog.text and KEY_ID not in str(raised.value) + our_log_lines(caplog)


def test_the_client_retries_a_503_before_giving_up(video: Path) -> None:
    server = ErrorS3(503, "SlowDown")
    try:
        with pytest.raises(PublishRetryable):
            make_host(server.url, max_attempts=2).url_for(video, publish_key="rt1-a")
    finally:
        server.shutdown()
        server.server_close()
    assert server.requests == 1 + 2   # the HEAD (404: not uploaded yet), then the PUT and its one retry


def test_an_unreachable_endpoint_is_retryable(video: Path) -> None:
    with pytest.raises(PublishRetryable, match="network error"):
        make_host(f"http://127.0.0.1:{free_port()}", timeout_s=2).url_for(video, publish_key="rt1-a")


def test_configuration_mistakes_are_refused_before_any_request(endpoint: str, video: Path) -> None:
    with pytest.raises(PublishRefused, match="REELTWIN_PUBLISHING__S3__SECRET_ACCESS_KEY"):
        make_host(endpoint, secret_access_key=None)
    with pytest.raises(PublishRefused, match="REELTWIN_PUBLISHING__S3__BUCKET"):
        make_host(endpoint, bucket="")
    with pytest.raises(PublishRefused, match="no such file"):
        make_host(endpoint).url_for(video.with_name("missing.mp4"))
    assert SECRET not in repr(make_host(endpoint))


# -- settings -----------------------------------------------------------------------------------------------------------


def write_project(root: Path, toml: str, dotenv: str = "") -> None:
    (root / "config").mkdir(parents=True, exist_ok=True)
    (root / "config" / "settings.toml").write_text(toml, encoding="utf-8")
    (root / ".env").write_text(dotenv, encoding="utf-8")


def test_settings_nest_under_publishing_s3_and_hide_the_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_project(tmp_path, '[publishing]\nmedia_hosting = "s3"\n[publishing.s3]\nbucket = "reels"\nregion = "auto"\nprefix = "rt"\n',
                  f"REELTWIN_PUBLISHING__S3__ACCESS_KEY_ID={KEY_ID}\nREELTWIN_PUBLISHING__S3__SECRET_ACCESS_KEY={SECRET}\n")
    monkeypatch.setenv("REELTWIN_PUBLISHING__S3__URL_LIFETIME_S", "7200")
    loaded = load_settings(tmp_path)
    s3 = loaded.settings.publishing.s3
    assert (s3.bucket, s3.region, s3.prefix, s3.url_lifetime_s, s3.delete_after_publish) == ("reels", "auto", "rt/", 7200, True)
    assert s3.secret_access_key.get_secret_value() == SECRET and SECRET not in repr(loaded.settings)
    rows = {key: (value, source) for key, value, source in public_view(loaded)}
    assert rows["publishing.s3.secret_access_key"] == ("***", ".env") and rows["publishing.s3.access_key_id"] == ("***", ".env")
    assert rows["publishing.s3.url_lifetime_s"] == (7200, "environment (REELTWIN_PUBLISHING__S3__URL_LIFETIME_S)")
    assert SECRET in loaded.settings.secret_values() and KEY_ID in loaded.settings.secret_values()
    assert load_settings(tmp_path / "nowhere").settings.publishing.media_hosting == "self"


def test_settings_typos_and_bad_values_fail_loudly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from agent.errors import ConfigError

    write_project(tmp_path, '[publishing.s3]\nbuckett = "reels"\n')
    with pytest.raises(ConfigError, match=r"publishing\.s3\.buckett: unknown setting; did you mean 'bucket'"):
        load_settings(tmp_path)
    write_project(tmp_path, '[publishing.s3]\nurl_lifetime_s = 9999999\n')
    with pytest.raises(ConfigError, match="url_lifetime_s"):
        load_settings(tmp_path)
    write_project(tmp_path, "")
    monkeypatch.setenv("REELTWIN_PUBLISHING__S3__SECRET_ACESS_KEY", SECRET)
    with pytest.raises(ConfigError, match="did you mean REELTWIN_PUBLISHING__S3__SECRET_ACCESS_KEY") as typo:
        load_settings(tmp_path)
    assert SECRET not in str(typo.value)


def test_the_factory_picks_the_host_from_settings(tmp_path: Path) -> None:
    from agent.errors import AgentError

    write_project(tmp_path, '[publishing]\nmedia_hosting = "s3"\n[publishing.s3]\nbucket = "reels"\nendpoint_url = "http://127.0.0.1:9"\n')
    host = make_media_host(load_settings(tmp_path).settings)
    assert isinstance(host, S3MediaHost) and host.bucket == "reels" and host.url_lifetime_s == 6 * 3600
    write_project(tmp_path, '[publishing]\nmedia_hosting = "s3"\n')
    with pytest.raises(AgentError, match="publishing.s3.bucket is not set"):
        make_media_host(load_settings(tmp_path).settings)
    write_project(tmp_path, '[publishing]\nmedia_hosting = "s3"\n[publishing.s3]\nbucket = "reels"\n', f"REELTWIN_PUBLISHING__S3__SECRET_ACCESS_KEY={SECRET}\n")
    with pytest.raises(AgentError, match="REELTWIN_PUBLISHING__S3__ACCESS_KEY_ID") as half:
        make_media_host(load_settings(tmp_path).settings)
    assert SECRET not in str(half.value)
    write_project(tmp_path, '[publishing]\nmedia_base_url = "https://x.example/public"\n[web]\nsecret_key = "a-web-secret-0123456789"\n')
    assert isinstance(make_media_host(load_settings(tmp_path).settings), MediaHost)


# -- end to end: the Graph publisher, the fake Graph API, moto's S3 --------------------------------------------------------


def graph_settings(root: Path, graph: FakeGraph, endpoint: str, db_url: str) -> Any:
    write_project(root, f'[database]\nurl = "{db_url}"\n'
                        f'[publishing]\nbackend = "graph"\ngraph_ig_user_id = "{graph.ig_user_id}"\ngraph_api_base = "{graph.base_url}"\n'
                        f'media_hosting = "s3"\n[publishing.s3]\nbucket = "{BUCKET}"\nendpoint_url = "{endpoint}"\nregion = "us-east-1"\n',
                  f"REELTWIN_PUBLISHING__GRAPH_ACCESS_TOKEN={graph.access_token}\n"
                  f"REELTWIN_PUBLISHING__S3__ACCESS_KEY_ID={KEY_ID}\nREELTWIN_PUBLISHING__S3__SECRET_ACCESS_KEY={SECRET}\n")
    return load_settings(root).settings


def rendered_reel(session: Any, video: Path, cover: Path) -> int:
    from agent.content_calendar.loader import load_calendar
    from agent.content_calendar.planner import sync_plan
    from agent.db.models import Creator, Reel, utcnow
    from agent.approval.queue import add_draft, approve

    calendar = load_calendar(REPO / "calendar" / "example.yaml").calendar
    report = sync_plan(session, calendar, now=utcnow() - timedelta(days=1), days=14)
    creator = session.execute(select(Creator)).scalar_one()
    reel = add_draft(session, creator, slot=report.slots[0], script="Pre-cut vegetables cost you twice.", caption="Whole veg, half price.",
                     hashtags=["#cookingtips"])
    session.commit()
    approve(session, [reel.id])
    session.execute(Reel.__table__.update().where(Reel.id == reel.id).values(
        status="rendered", artifacts={"video": str(video), "cover": str(cover)}, publish_at=utcnow() - timedelta(minutes=1)))
    session.commit()
    return reel.id


class Crash(BaseException):
    """The process dies here (not an Exception: nothing catches it)."""


def test_graph_publishing_with_s3_hosting_posts_once_and_deletes_after_publishing(session: Any, db_url: str, tmp_path: Path, endpoint: str,
                                                                                  bucket: str, video: Path, cover: Path,
                                                                                  caplog: pytest.LogCaptureFixture) -> None:
    from agent.db.models import Reel, ReelStatus

    caplog.set_level(logging.DEBUG)
    reel_id = rendered_reel(session, video, cover)
    with FakeGraph(polls_to_finish=1) as graph:
        settings = graph_settings(tmp_path / "project", graph, endpoint, db_url)
        assert isinstance(make_publisher(settings), GraphPublisher)
        fetched: list[bytes] = []

        def crash_while_polling(_seconds: float) -> None:
            # Instagram holds the container; the process dies before media_publish. The URL must still work.
            [create] = graph.calls("create")
            fetched.append(httpx.get(create.params["video_url"]).content)
            raise Crash()

        first = GraphPublisher(ig_user_id=graph.ig_user_id, access_token=graph.access_token, media_host=make_media_host(settings),
                               api_base=graph.base_url, sleep=crash_while_polling)
        with pytest.raises(Crash):
            publish_reel(session, settings, reel_id, publisher=first, worker="w1")
        session.rollback()
        assert fetched == [video.read_bytes()]
        assert len(keys_in(endpoint)) == 2   # video and cover, kept for the retry

        retry = GraphPublisher(ig_user_id=graph.ig_user_id, access_token=graph.access_token, media_host=make_media_host(settings),
                               api_base=graph.base_url, sleep=lambda _s: None)
        outcome = publish_reel(session, settings, reel_id, publisher=retry, worker="w2", resume_claimed=True)

        assert outcome.result == "published"
        assert len(graph.calls("create")) == 1 and len(graph.published()) == 1
        [create] = graph.calls("create")
        video_url, cover_url = create.params["video_url"], create.params["cover_url"]
        assert video_url.startswith(f"{endpoint}/{BUCKET}/reeltwin/rt{reel_id}-") and "X-Amz-Signature=" in video_url
        assert "-reel.mp4?" in video_url and "-cover.jpg?" in cover_url
        assert keys_in(endpoint) == []   # deleted once the reel was out
        assert httpx.get(video_url).status_code == 404

        session.expire_all()
        reel = session.get(Reel, reel_id)
        assert reel.status == ReelStatus.PUBLISHED
        stored = f"{reel.publish_state} {reel.last_error} {reel.artifacts}"
        assert SECRET not in stored and KEY_ID not in stored and "X-Amz-Signature" not in stored
        assert SECRET not in caplog.text
        assert KEY_ID not in our_log_lines(caplog) and "X-Amz-Signature" not in our_log_lines(caplog) and "deleted s3://" in our_log_lines(caplog)


def test_an_s3_failure_during_publishing_becomes_a_retry_with_a_clean_message(session: Any, db_url: str, tmp_path: Path, endpoint: str,
                                                                               video: Path, cover: Path) -> None:
    from agent.db.models import Reel, ReelStatus

    reel_id = rendered_reel(session, video, cover)   # no bucket created: the upload is refused
    with FakeGraph() as graph:
        settings = graph_settings(tmp_path / "project", graph, endpoint, db_url)
        outcome = publish_reel(session, settings, reel_id, publisher=make_publisher(settings), worker="w1")
        assert outcome.result == "failed" and "REELTWIN_PUBLISHING__S3__BUCKET" in outcome.detail
        assert graph.calls("create") == []
        session.expire_all()
        reel = session.get(Reel, reel_id)
        assert reel.status == ReelStatus.FAILED and SECRET not in reel.last_error and KEY_ID not in reel.last_error
