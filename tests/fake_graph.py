"""A local fake of the Instagram Graph API's publishing endpoints, served over real HTTP.

``FakeGraph`` runs a ``ThreadingHTTPServer`` on 127.0.0.1 (a free port) with in-memory
state: containers that finish after a configurable number of status polls, the
account's media, the publishing quota. Faults are queued per endpoint and consumed
one per request: HTTP errors, Meta error JSON, dropped connections, slow answers,
and "the server did the work but the answer was lost". Every request is recorded.

Endpoints (``/<version>/...``), named for fault queues and ``calls()``:

=========  ===============================================
quota      GET  /{ig-user-id}/content_publishing_limit
create     POST /{ig-user-id}/media
publish    POST /{ig-user-id}/media_publish
list       GET  /{ig-user-id}/media
container  GET  /{container-id}?fields=status_code,status
media      GET  /{media-id}?fields=...
=========  ===============================================

Use it as a context manager::

    with FakeGraph() as graph:
        publisher = GraphPublisher(api_base=graph.base_url, access_token=graph.access_token, ...)
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from collections.abc import Callable
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

ENDPOINTS = ("quota", "create", "publish", "list", "container", "media", "insights", "media_insights")


def graph_time(when: datetime) -> str:
    """Instagram's timestamp format: second resolution, ``+0000``."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


@dataclass(frozen=True)
class Fault:
    """One injected misbehaviour, consumed by the next request to its endpoint."""

    kind: str                          # "respond" | "drop" | "hang" | "lost_response" | "slow_response"
    status: int = 500
    body: Any = None
    headers: tuple[tuple[str, str], ...] = ()
    seconds: float = 0.0

    @classmethod
    def http(cls, status: int, *, body: Any = None, headers: dict[str, str] | None = None) -> Fault:
        """Answer with this status (and body) instead of handling the request."""
        return cls("respond", status=status, body=body, headers=tuple((headers or {}).items()))

    @classmethod
    def graph_error(cls, code: int, message: str, *, subcode: int | None = None, error_type: str = "OAuthException",
                    status: int = 400, headers: dict[str, str] | None = None, user_msg: str | None = None) -> Fault:
        """Answer with Meta's error JSON instead of handling the request."""
        error: dict[str, Any] = {"message": message, "type": error_type, "code": code, "fbtrace_id": "AbCdEfFakeTrace"}
        if subcode is not None:
            error["error_subcode"] = subcode
        if user_msg is not None:
            error["error_user_msg"] = user_msg
        return cls("respond", status=status, body={"error": error}, headers=tuple((headers or {}).items()))

    @classmethod
    def drop(cls) -> Fault:
        """Close the connection without handling the request or answering."""
        return cls("drop")

    @classmethod
    def hang(cls, seconds: float) -> Fault:
        """Wait (past the client's timeout), then handle the request; the answer goes nowhere."""
        return cls("hang", seconds=seconds)

    @classmethod
    def lost_response(cls) -> Fault:
        """Handle the request (state changes), then close the connection without answering."""
        return cls("lost_response")

    @classmethod
    def slow_response(cls, seconds: float) -> Fault:
        """Handle the request at once, but answer only after ``seconds`` (past the client's timeout)."""
        return cls("slow_response", seconds=seconds)


@dataclass
class Container:
    id: str
    params: dict[str, str]
    created_at: datetime
    polls_left: int
    outcome: str                       # what it becomes after polls_left IN_PROGRESS answers
    status_text: str
    status_code: str = "IN_PROGRESS"
    media_id: str | None = None


@dataclass
class Media:
    id: str
    caption: str
    timestamp: datetime
    permalink: str
    container_id: str | None           # None for media that existed before the test
    params: dict[str, str] = field(default_factory=dict)
    like_count: int = 0
    comments_count: int = 0
    #: what GET /{media-id}/insights reports (Instagram's metric names); empty: "not enough viewers"
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    endpoint: str
    params: dict[str, str]             # query and form fields, access_token included
    token_in_query: bool


class FakeGraph:
    """In-memory Instagram Graph API for one professional account, over real local HTTP."""

    def __init__(self, *, access_token: str = "EAAGfake-SECRET-token-0123456789", ig_user_id: str = "17841400000000001",
                 api_version: str = "v21.0", quota_total: int = 100, quota_usage: int = 0, polls_to_finish: int = 1,
                 accept_ai_label: bool = True):
        self.access_token = access_token
        self.ig_user_id = ig_user_id
        self.api_version = api_version
        self.quota_total = quota_total
        self.quota_usage = quota_usage
        self.polls_to_finish = polls_to_finish
        self.accept_ai_label = accept_ai_label
        self.token_valid = True
        #: metrics this fake's API version rejects with (#100), as an older or newer version would
        self.unsupported_metrics: set[str] = set()
        #: media insights need instagram_manage_insights: False answers (#10) permission denied
        self.insights_permission = True
        self.online_followers: list[dict[str, Any]] | None = None   # the insight's "values"; None: not enough followers
        self.containers: dict[str, Container] = {}
        self.media: dict[str, Media] = {}
        self.requests: list[Recorded] = []
        self._faults: dict[str, deque[Fault]] = {name: deque() for name in ENDPOINTS}
        self._next_containers: deque[tuple[int | None, str, str]] = deque()
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        #: random faults for soaks: called per request whose endpoint has no queued fault; returns a Fault or None
        self.chaos: Callable[[str], Fault | None] | None = None
        #: random container outcomes for soaks: called per created container when none is queued; (polls, outcome, text) or None
        self.container_chaos: Callable[[], tuple[int | None, str, str] | None] | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> FakeGraph:
        fake = self

        class Handler(_Handler):
            graph = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True, name="fake-graph")
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "FakeGraph is not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- test controls --------------------------------------------------------------------------

    def add_fault(self, endpoint: str, *faults: Fault) -> None:
        """Queue faults for ``endpoint``; each request to it consumes one."""
        if endpoint not in self._faults:
            raise ValueError(f"endpoint {endpoint!r}: not one of {', '.join(ENDPOINTS)}")
        with self._lock:
            self._faults[endpoint].extend(faults)

    def pending_faults(self, endpoint: str) -> int:
        with self._lock:
            return len(self._faults[endpoint])

    def next_container(self, *, polls: int | None = None, outcome: str = "FINISHED", status_text: str = "") -> None:
        """How the next created container behaves: IN_PROGRESS for ``polls`` status reads, then ``outcome``."""
        if outcome not in ("FINISHED", "ERROR", "EXPIRED"):
            raise ValueError(f"outcome {outcome!r}: use FINISHED, ERROR or EXPIRED")
        with self._lock:
            self._next_containers.append((polls, outcome, status_text))

    def add_existing_media(self, caption: str, *, age: timedelta, likes: int = 0, comments: int = 0, at: datetime | None = None) -> Media:
        """A post that was on the account before the test (published ``age`` ago, or ``at``)."""
        with self._lock:
            media = self._new_media(caption, at or datetime.now(UTC) - age, container_id=None)
            media.like_count, media.comments_count = likes, comments
            return media

    def calls(self, endpoint: str) -> list[Recorded]:
        with self._lock:
            return [recorded for recorded in self.requests if recorded.endpoint == endpoint]

    def published(self, caption: str | None = None) -> list[Media]:
        """Media published through this fake (not the pre-existing ones), optionally with this caption."""
        with self._lock:
            return [m for m in self.media.values() if m.container_id is not None and (caption is None or m.caption == caption)]

    # -- state changes (called by the handler, under the lock) --------------------------------

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):06d}"

    def _new_media(self, caption: str, when: datetime, *, container_id: str | None, params: dict[str, str] | None = None) -> Media:
        media_id = self._new_id("1800000000")
        media = Media(id=media_id, caption=caption, timestamp=when, permalink=f"https://www.instagram.com/reel/FAKE{media_id}/",
                      container_id=container_id, params=dict(params or {}))
        self.media[media_id] = media
        return media

    def _create_container(self, params: dict[str, str]) -> Container:
        chosen = self.container_chaos() if self.container_chaos is not None and not self._next_containers else None
        polls, outcome, status_text = self._next_containers.popleft() if self._next_containers else (chosen or (None, "FINISHED", ""))
        container = Container(
            id=self._new_id("1790000000"), params=dict(params), created_at=datetime.now(UTC),
            polls_left=self.polls_to_finish if polls is None else polls, outcome=outcome,
            status_text=status_text or {"FINISHED": "Finished: Media has been uploaded and it is ready to be published.",
                                         "ERROR": "Error: Media upload has failed with error code 2207026",
                                         "EXPIRED": "Expired: the container was not published within 24 hours."}[outcome],
        )
        self.containers[container.id] = container
        return container

    def _read_status(self, container: Container) -> Container:
        if container.status_code == "IN_PROGRESS":
            if container.polls_left > 0:
                container.polls_left -= 1
            else:
                container.status_code = container.outcome
        return container


class _Handler(BaseHTTPRequestHandler):
    graph: FakeGraph
    server_version = "FakeGraph/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    # -- plumbing ---------------------------------------------------------------------------------

    def _handle(self, method: str) -> None:
        graph = self.graph
        url = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(url.query, keep_blank_values=True).items()}
        form: dict[str, str] = {}
        if method == "POST":
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode("utf-8") if length else ""
            form = {key: values[-1] for key, values in parse_qs(raw, keep_blank_values=True).items()}
        params = {**query, **form}
        parts = [part for part in url.path.split("/") if part]
        endpoint = self._endpoint(method, parts)
        with graph._lock:
            graph.requests.append(Recorded(method, url.path, endpoint, params, "access_token" in query))
            fault = graph._faults[endpoint].popleft() if graph._faults.get(endpoint) else None
            if fault is None and graph.chaos is not None:
                fault = graph.chaos(endpoint)

        if fault is not None and fault.kind == "drop":
            self.close_connection = True
            return
        if fault is not None and fault.kind == "respond":
            self._send(fault.status, fault.body, dict(fault.headers))
            return
        if fault is not None and fault.kind == "hang":
            time.sleep(fault.seconds)

        status, body = self._route(method, parts, endpoint, params)

        if fault is not None and fault.kind == "lost_response":
            self.close_connection = True
            return
        if fault is not None and fault.kind == "slow_response":
            time.sleep(fault.seconds)
        self._send(status, body)

    def _endpoint(self, method: str, parts: list[str]) -> str:
        graph = self.graph
        if len(parts) == 3 and parts[1] == graph.ig_user_id:
            return {("GET", "content_publishing_limit"): "quota", ("POST", "media"): "create",
                    ("POST", "media_publish"): "publish", ("GET", "media"): "list", ("GET", "insights"): "insights"}.get((method, parts[2]), "unknown")
        if len(parts) == 3 and parts[2] == "insights" and method == "GET":
            return "media_insights"
        if len(parts) == 2 and method == "GET":
            with graph._lock:
                return "container" if parts[1] in graph.containers else "media"
        return "unknown"

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        payload = (body if isinstance(body, (bytes, bytearray)) else json.dumps(body if body is not None else {"error": {"message": "An unknown error occurred", "type": "OAuthException", "code": 1}}).encode())
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass   # the client gave up (its timeout); that is the point of slow faults

    @staticmethod
    def _error(code: int, message: str, *, subcode: int | None = None, status: int = 400, error_type: str = "OAuthException") -> tuple[int, dict[str, Any]]:
        error: dict[str, Any] = {"message": message, "type": error_type, "code": code, "fbtrace_id": "AbCdEfFakeTrace"}
        if subcode is not None:
            error["error_subcode"] = subcode
        return status, {"error": error}

    # -- the API ----------------------------------------------------------------------------------

    def _route(self, method: str, parts: list[str], endpoint: str, params: dict[str, str]) -> tuple[int, Any]:
        graph = self.graph
        if not parts or parts[0] != graph.api_version:
            return self._error(2635, f"(#2635) Unknown API version {parts[0] if parts else ''!r} in this fake", status=400)
        if params.get("access_token") != graph.access_token or not graph.token_valid:
            return self._error(190, "Error validating access token: Session has expired.", subcode=463, status=400)
        with graph._lock:
            if endpoint == "quota":
                return 200, {"data": [{"quota_usage": graph.quota_usage, "config": {"quota_total": graph.quota_total, "quota_duration": 86400}}]}
            if endpoint == "create":
                return self._create(params)
            if endpoint == "publish":
                return self._publish(params)
            if endpoint == "list":
                return self._list(params)
            if endpoint == "insights":
                if params.get("metric") != "online_followers":
                    return self._error(100, "(#100) metric must be one of the supported metrics")
                if graph.online_followers is None:
                    return self._error(10, "(#10) Not enough followers to show insights")
                return 200, {"data": [{"name": "online_followers", "period": "lifetime", "values": graph.online_followers,
                                       "title": "Online followers", "id": f"{graph.ig_user_id}/insights/online_followers/lifetime"}]}
            if endpoint == "media_insights":
                return self._media_insights(parts[1], params)
            if endpoint == "container":
                container = graph._read_status(graph.containers[parts[1]])
                return 200, self._fields({"id": container.id, "status_code": container.status_code, "status": container.status_text}, params)
            if endpoint == "media" and parts[1] in graph.media:
                return 200, self._fields(self._media_json(graph.media[parts[1]]), params)
        return self._error(100, f"Unsupported {method.lower()} request. Object with ID '{parts[-1]}' does not exist, cannot be loaded "
                                "due to missing permissions, or does not support this operation", subcode=33)

    def _media_insights(self, media_id: str, params: dict[str, str]) -> tuple[int, Any]:
        graph = self.graph
        media = graph.media.get(media_id)
        if media is None:
            return self._error(100, f"Unsupported get request. Object with ID '{media_id}' does not exist", subcode=33)
        if not graph.insights_permission:
            return self._error(10, "(#10) Application does not have permission for this action")
        asked = [name for name in params.get("metric", "").split(",") if name]
        rejected = [name for name in asked if name in graph.unsupported_metrics]
        if rejected:
            return self._error(100, f"(#100) metric[{asked.index(rejected[0])}] must be one of the following values: reach, likes, comments, saved, shares")
        if not media.metrics:
            return self._error(10, "(#10) Not enough viewers for the media to show insights")
        data = [{"name": name, "period": "lifetime", "values": [{"value": media.metrics[name]}], "id": f"{media_id}/insights/{name}/lifetime"}
                for name in asked if name in media.metrics]
        return 200, {"data": data}

    def _create(self, params: dict[str, str]) -> tuple[int, Any]:
        graph = self.graph
        if "is_ai_generated" in params and not graph.accept_ai_label:
            return self._error(100, "(#100) Param is_ai_generated is not a valid parameter", error_type="OAuthException")
        if params.get("media_type") != "REELS" or not params.get("video_url"):
            return self._error(100, "(#100) The parameter video_url is required for media_type REELS")
        container = graph._create_container({key: value for key, value in params.items() if key != "access_token"})
        return 200, {"id": container.id}

    def _publish(self, params: dict[str, str]) -> tuple[int, Any]:
        graph = self.graph
        container = graph.containers.get(params.get("creation_id", ""))
        if container is None:
            return self._error(24, "The requested resource does not exist", subcode=2207006)
        if container.status_code == "EXPIRED":
            return self._error(-2, "The media you are trying to access has expired. Please try to upload again.", subcode=2207020)
        if container.status_code == "PUBLISHED":
            return self._error(-1, "Media has already been published", subcode=2207032)   # the real wording is unknown
        if container.status_code != "FINISHED":
            return self._error(9007, "Media ID is not available", subcode=2207027)
        if graph.quota_usage >= graph.quota_total:
            return self._error(9, "Application request limit reached", subcode=2207042, status=400)
        graph.quota_usage += 1
        media = graph._new_media(container.params.get("caption", ""), datetime.now(UTC), container_id=container.id, params=container.params)
        container.status_code = "PUBLISHED"
        container.status_text = "Published: Media has been successfully published."
        container.media_id = media.id
        return 200, {"id": media.id}

    def _list(self, params: dict[str, str]) -> tuple[int, Any]:
        graph = self.graph
        ordered = sorted(graph.media.values(), key=lambda m: (m.timestamp, m.id), reverse=True)
        start = int(params.get("after") or 0)
        limit = int(params.get("limit") or 25)
        page = ordered[start:start + limit]
        body: dict[str, Any] = {"data": [self._fields(self._media_json(m), params) for m in page]}
        if page:
            body["paging"] = {"cursors": {"before": str(start), "after": str(start + len(page))}}
            if start + len(page) < len(ordered):
                # Like Meta's, the next-page URL carries the access token: clients must not print it.
                body["paging"]["next"] = (f"{graph.base_url}/{graph.api_version}/{graph.ig_user_id}/media?fields={params.get('fields', '')}"
                                          f"&limit={limit}&after={start + len(page)}&access_token={graph.access_token}")
        return 200, body

    @staticmethod
    def _media_json(media: Media) -> dict[str, Any]:
        return {"id": media.id, "caption": media.caption, "timestamp": graph_time(media.timestamp), "permalink": media.permalink,
                "media_type": "VIDEO", "media_product_type": "REELS", "like_count": media.like_count, "comments_count": media.comments_count}

    @staticmethod
    def _fields(record: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
        wanted = {name.strip() for name in params.get("fields", "").split(",") if name.strip()}
        return {key: value for key, value in record.items() if key == "id" or not wanted or key in wanted}
