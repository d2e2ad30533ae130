"""The Instagram Graph API publisher (official API; professional accounts).

Publishing a reel takes three calls: create a container (``POST /{ig-user-id}/media``
with ``media_type=REELS`` and a public ``video_url``), wait until Instagram has
fetched and processed the video (``GET /{container-id}?fields=status_code``), then
publish it (``POST /{ig-user-id}/media_publish``).

Exactly-once (see :mod:`publishing.base`). The container id is reported through
``on_progress`` the moment Instagram returns it, before any polling, and the media
id the moment ``media_publish`` answers. A retry with that ``resume`` never creates a
second container for an attempt whose container may still go out:

* ``resume["media"]`` set: the reel is out; fetch it and report it.
* ``resume["container"]`` set: ask Instagram for its ``status_code``. ``PUBLISHED``
  means an earlier ``media_publish`` went through even if its answer was lost; the
  Graph API has no documented field leading from a container to its media, so the
  media is looked up among the account's recent media by caption (whitespace
  folded) and by a timestamp no earlier than when we asked for the container
  (``resume["container_requested_at"]``, less a clock-skew allowance). A media whose
  id equals the container id is taken as well, in case the API ever answers so.
  ``FINISHED``/``IN_PROGRESS`` continue with the same container, ``ERROR``/``EXPIRED``
  (which can never be published) make a new one.

No marker is added to the caption: the creator's caption goes out exactly as
approved, which is why the lookup relies on the stored container and its time.

The video (and cover) reach Instagram through a :class:`publishing.base.MediaHosting`: ReelTwin's
own signed URLs or an S3 bucket's presigned ones. Once the reel is known to be out (published now, or
found published by a retry), the host's ``cleanup`` runs; never before, so a retry after a crash
still has a working URL.

The access token travels as the ``access_token`` query/form parameter. Exception
messages and this module's log lines never contain a URL, and a log filter on the
``httpx`` logger masks ``access_token=...`` in httpx's own request lines.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from publishing import redaction
from publishing.base import (
    Capability,
    LoginRequired,
    MediaHosting,
    PublishProgress,
    PublishRefused,
    PublishRequest,
    PublishResult,
    PublishRetryable,
    Publisher,
    QuotaExceeded,
)
from publishing.media_lookup import fold_caption, parse_time

logger = logging.getLogger(__name__)

TOKEN_SETTING = "REELTWIN_PUBLISHING__GRAPH_ACCESS_TOKEN"
PUBLISH_PERMISSION = "instagram_content_publish"
MAX_POLL_INTERVAL_S = 60.0
POLL_BACKOFF = 1.5
# Our clock and Instagram's may disagree; a media this much older than our container request still counts.
CLOCK_SKEW = timedelta(minutes=10)
RECENT_MEDIA_PAGE_SIZE = 50
RECENT_MEDIA_MAX_PAGES = 4

# Error subcodes from Meta's error-code reference: what the creator has to change.
MEDIA_FIXES: dict[int, str] = {
    2207026: "Instagram does not accept this video; render it again as an MP4 (H.264 video, AAC audio with an audio track, "
             "9:16, 23-60 fps, 3 s to 15 min, under 300 MB) and publish again",
    2207052: "Instagram could not fetch the video from its public URL; check that publishing.media_base_url (or, with "
             "publishing.media_hosting = \"s3\", the bucket's endpoint) serves the file over HTTPS to the internet "
             "(no login, no redirect to a page) and publish again",
    2207004: "the cover image is larger than 8 MiB; export a smaller JPEG cover",
    2207005: "the cover image format is not supported; export the cover as a JPEG",
    2207009: "the aspect ratio is not supported; render the reel 9:16 (1080x1920)",
    2207010: "the caption is too long (at most 2,200 characters, 30 hashtags and 20 @-mentions); shorten it",
    2207057: "the thumbnail offset is outside the video; pick a cover frame inside the video",
    2207023: "the media type was not accepted; this publisher sends media_type=REELS, check the API version",
    2207050: "the Instagram account is inactive, checkpointed or restricted; sign in to the Instagram app, complete what it asks, then retry",
    2207051: "Instagram restricted this action as suspected spam; review the account in the Instagram app before publishing again",
}
# Subcodes Meta documents as temporary: try again (a new container where the container itself failed).
RETRYABLE_SUBCODES = {2207001, 2207003, 2207008, 2207027, 2207032, 2207053}
EXPIRED_SUBCODE = 2207020
QUOTA_SUBCODE = 2207042
RATE_LIMIT_CODES = {4, 17, 32, 613}
LOGIN_CODES = {190, 102}
MEDIA_FETCH_CODE = 9004
VIDEO_FORMAT_CODE = 352

_SUBCODE_IN_TEXT = re.compile(r"\b(22070\d\d)\b")


#: httpx logs every request URL at INFO, query string (and so our token) included: mask it.
_HTTPX_REDACTION = redaction.RedactSecrets(patterns=[redaction.TOKEN_PARAMETERS_IN_TEXT])


class _UrlsOnly:
    """A bare ``Callable[[Path], str]`` as a MediaHosting with nothing to clean up."""

    def __init__(self, url_for: Callable[[Path], str]):
        self._url_for = url_for

    def url_for(self, path: Path, *, publish_key: str = "") -> str:
        return self._url_for(path)

    def cleanup(self, paths: Sequence[Path], *, publish_key: str = "") -> None:
        pass


@dataclass(frozen=True)
class TokenStatus:
    """What Meta says about an access token (``debug_token``)."""

    valid: bool
    expires_at: datetime | None        # None: the token does not expire (a Page or system-user token)
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class RefreshedToken:
    """A long-lived token after a refresh; ``expires_at`` None when Meta gave no lifetime."""

    access_token: str
    expires_at: datetime | None


class GraphPublisher(Publisher):
    """Publishes reels through the Instagram Graph API (professional accounts).

    The media reach Instagram through ``media_host`` (a :class:`publishing.base.MediaHosting`), or
    through ``media_url_for`` (a plain function, nothing to clean up): give exactly one. The HTTP
    client it opens is closed by :meth:`close` (or ``with``); one passed in stays the caller's.
    """

    name = "graph"
    capabilities = frozenset({Capability.AUDIENCE_INSIGHTS, Capability.AI_LABEL, Capability.MEDIA_INSIGHTS})

    def __init__(
        self,
        *,
        ig_user_id: str,
        access_token: str,
        media_host: MediaHosting | None = None,
        media_url_for: Callable[[Path], str] | None = None,
        api_base: str = "https://graph.facebook.com",
        api_version: str = "v21.0",
        timeout_s: float = 30,
        poll_interval_s: float = 5,
        poll_timeout_s: float = 600,
        http_client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        instagram_login: bool | None = None,
    ):
        if not ig_user_id:
            raise PublishRefused("Graph API: no Instagram user id given; set publishing.graph_ig_user_id")
        if not access_token:
            raise LoginRequired(f"Graph API: no access token given; set {TOKEN_SETTING}")
        if (media_host is None) == (media_url_for is None):
            raise TypeError("GraphPublisher needs exactly one of media_host and media_url_for")
        self.ig_user_id = ig_user_id
        self._access_token = access_token
        self.media_host: MediaHosting = media_host if media_host is not None else _UrlsOnly(media_url_for)  # type: ignore[arg-type]
        self.api_base = api_base.rstrip("/")
        self.api_version = api_version.strip("/")
        self.timeout_s = timeout_s
        self.poll_interval_s = poll_interval_s
        self.poll_timeout_s = poll_timeout_s
        self._sleep = sleep
        self._instagram_login = instagram_login   # None: told by api_base (graph.instagram.com)
        self._owns_client = http_client is None
        self._client = http_client if http_client is not None else httpx.Client(timeout=timeout_s)
        self._redaction = redaction.RedactSecrets([access_token], patterns=[redaction.TOKEN_PARAMETERS_IN_TEXT], min_length=1)
        for name in ("httpx", "httpcore"):
            redaction.install(logging.getLogger(name), _HTTPX_REDACTION)

    def __repr__(self) -> str:
        return f"GraphPublisher(ig_user_id={self.ig_user_id!r}, api_version={self.api_version!r})"

    def close(self) -> None:
        """Close the HTTP client this publisher opened."""
        if self._owns_client:
            self._client.close()

    # -- the Publisher protocol ---------------------------------------------------------------

    def find_published(self, request: PublishRequest, resume: Mapping[str, str]) -> PublishResult | None:
        """Did an earlier attempt (its stored container or media id in ``resume``) already go out?"""
        if resume.get("media"):
            return self._fetch_media(resume["media"], already_published=True)
        container_id = resume.get("container")
        if not container_id:
            return None
        status_code, _ = self._container_status(container_id)
        if status_code != "PUBLISHED":
            return None
        return self._cleaned_up(request, self._published_media_of(request, resume, container_id))

    def publish(
        self,
        request: PublishRequest,
        resume: Mapping[str, str],
        on_progress: Callable[[PublishProgress], None],
    ) -> PublishResult:
        """Post the reel, continuing from the stored container where it can still go out."""
        return self._cleaned_up(request, self._publish(request, resume, on_progress))

    def _cleaned_up(self, request: PublishRequest, result: PublishResult) -> PublishResult:
        """The reel is out: the hosted copies may go (a failed clean-up never fails the publish)."""
        paths = [path for path in (request.video_path, request.cover_path) if path is not None]
        try:
            self.media_host.cleanup(paths, publish_key=request.publish_key)
        except Exception as error:  # the host promises not to raise; a reel that is out must still be reported out
            logger.warning("media %s published, but its hosted files could not be cleaned up: %s", result.media_id, type(error).__name__)
        return result

    def _publish(
        self,
        request: PublishRequest,
        resume: Mapping[str, str],
        on_progress: Callable[[PublishProgress], None],
    ) -> PublishResult:
        stored = dict(resume)

        def remember(stage: str, value: str) -> None:
            stored[stage] = value
            on_progress(PublishProgress(stage, value))

        if stored.get("media"):
            return self._fetch_media(stored["media"], already_published=True)

        # Resolve what an earlier attempt left behind before anything that could upload twice.
        container_id = stored.get("container") or None
        if container_id:
            status_code, status_text = self._container_status(container_id)
            if status_code == "PUBLISHED":
                return self._published_media_of(request, stored, container_id)
            if status_code in ("ERROR", "EXPIRED"):
                logger.info("container %s is %s (%s); creating a new one", container_id, status_code, status_text or "no details")
                container_id = None
            else:
                logger.info("resuming container %s (%s)", container_id, status_code)

        self._check_quota()

        if container_id is None:
            if not request.video_path.is_file():
                raise PublishRefused(f"video {str(request.video_path)!r}: no such file; render the reel again")
            remember("container_requested_at", datetime.now(UTC).isoformat())
            container_id = self._create_container(request)
            remember("container", container_id)   # stored before the first poll: a crash from here on resumes it

        if self._wait_until_finished(container_id) == "PUBLISHED":
            return self._published_media_of(request, stored, container_id)

        media_id = self._publish_container(container_id)
        remember("media", media_id)
        try:
            return self._fetch_media(media_id, already_published=False)
        except (PublishRetryable, PublishRefused) as error:
            # The reel is out; a missing permalink is no reason to fail (or retry) the publish.
            logger.warning("media %s published, but its permalink could not be read: %s", media_id, error)
            return PublishResult(media_id=media_id, permalink=None, published_at=datetime.now(UTC), backend=self.name)

    # -- steps --------------------------------------------------------------------------------

    def _check_quota(self) -> None:
        body = self._call("GET", f"{self.ig_user_id}/content_publishing_limit", {"fields": "quota_usage,config"}, action="read the publishing quota")
        entries = body.get("data") or [{}]
        usage = entries[0].get("quota_usage")
        total = (entries[0].get("config") or {}).get("quota_total")
        if not isinstance(usage, int) or not isinstance(total, int):
            logger.debug("publishing quota not reported (%r); publishing anyway", entries[0])
            return
        if usage >= total:
            raise QuotaExceeded(
                f"Instagram account {self.ig_user_id!r}: {usage} of {total} API posts used in the last 24 h; "
                "the reel stays queued and goes out once the oldest of those posts is 24 h old"
            )

    def _create_container(self, request: PublishRequest) -> str:
        params = {
            "media_type": "REELS",
            "video_url": self.media_host.url_for(request.video_path, publish_key=request.publish_key),
            "caption": request.caption,
            "share_to_feed": "true" if request.share_to_feed else "false",
        }
        if request.cover_path is not None:
            if request.cover_path.is_file():
                params["cover_url"] = self.media_host.url_for(request.cover_path, publish_key=request.publish_key)
            else:
                logger.warning("cover %r: no such file; Instagram picks the cover frame", str(request.cover_path))
        if request.ai_generated:
            # The AI info label: sent where the API accepts it (the Content Publishing API's
            # is_ai_generated parameter). An API version or account that does not know the
            # parameter answers "invalid parameter" (code 100 naming it); the container is then
            # created once more without it and a warning logged, so the reel is not held back.
            params["is_ai_generated"] = "true"
        path = f"{self.ig_user_id}/media"
        status, body, headers = self._send("POST", path, params, action="create the reel container")
        if "is_ai_generated" in params and self._rejects_parameter(body, "is_ai_generated"):
            logger.warning("Graph API %s does not accept is_ai_generated; creating the container without the AI label", self.api_version)
            del params["is_ai_generated"]
            status, body, headers = self._send("POST", path, params, action="create the reel container")
        container_id = self._ok_body(status, body, headers, action="create the reel container").get("id")
        if not container_id:
            raise PublishRetryable("Graph API: creating the reel container returned no id; will retry")
        logger.info("container %s created", container_id)
        return str(container_id)

    def _container_status(self, container_id: str) -> tuple[str, str]:
        """``(status_code, status text)``; an expired-and-gone container reads as EXPIRED."""
        status, body, headers = self._send("GET", container_id, {"fields": "status_code,status"}, action=f"read container {container_id}")
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict) and error.get("error_subcode") == EXPIRED_SUBCODE:
            return "EXPIRED", str(error.get("message") or "")
        body = self._ok_body(status, body, headers, action=f"read container {container_id}")
        return str(body.get("status_code") or "").upper(), str(body.get("status") or "")

    def _wait_until_finished(self, container_id: str) -> str:
        """Poll until FINISHED (or PUBLISHED, by an earlier attempt); returns that status code."""
        started = time.monotonic()
        slept_s = 0.0
        interval_s = self.poll_interval_s
        while True:
            status_code, status_text = self._container_status(container_id)
            if status_code in ("FINISHED", "PUBLISHED"):
                return status_code
            if status_code == "ERROR":
                subcode = _subcode_in(status_text)
                if subcode in RETRYABLE_SUBCODES:
                    # A temporary failure on Instagram's side: the next attempt (with backoff) creates a new container.
                    raise PublishRetryable(
                        f"Instagram had a temporary problem processing the reel (container {container_id!r}: "
                        f"{self._redact(status_text)!r}); a new container will be created on the next attempt"
                    )
                raise PublishRefused(self._container_error_message(container_id, status_text))
            if status_code == "EXPIRED":
                raise PublishRetryable(
                    f"Instagram container {container_id!r} expired before it was published; "
                    "a new container will be created on the next attempt"
                )
            if status_code != "IN_PROGRESS":
                logger.warning("container %s: unknown status_code %r; still waiting", container_id, status_code)
            waited_s = max(slept_s, time.monotonic() - started)
            if waited_s >= self.poll_timeout_s:
                raise PublishRetryable(
                    f"Instagram container {container_id!r} still processing after {waited_s:.0f} s; "
                    "the next attempt resumes waiting on the same container",
                    retry_after_s=MAX_POLL_INTERVAL_S,
                )
            pause_s = min(interval_s, max(self.poll_timeout_s - waited_s, 0.0))
            logger.debug("container %s %s; checking again in %.1f s", container_id, status_code, pause_s)
            self._sleep(pause_s)
            slept_s += pause_s
            interval_s = min(interval_s * POLL_BACKOFF, MAX_POLL_INTERVAL_S)

    def _publish_container(self, container_id: str) -> str:
        body = self._call("POST", f"{self.ig_user_id}/media_publish", {"creation_id": container_id}, action=f"publish container {container_id}")
        media_id = body.get("id")
        if not media_id:
            # Unknowable whether it went out: the retry asks the container, which says PUBLISHED if it did.
            raise PublishRetryable(f"Graph API: publishing container {container_id!r} returned no media id; will check and retry")
        logger.info("container %s published as media %s", container_id, media_id)
        return str(media_id)

    def _fetch_media(self, media_id: str, *, already_published: bool) -> PublishResult:
        body = self._call("GET", media_id, {"fields": "id,permalink,timestamp"}, action=f"read media {media_id}")
        return self._result(body, media_id, already_published=already_published)

    def _result(self, media: Mapping[str, Any], media_id: str, *, already_published: bool) -> PublishResult:
        return PublishResult(
            media_id=str(media.get("id") or media_id),
            permalink=media.get("permalink") or None,
            published_at=parse_time(media.get("timestamp")) or datetime.now(UTC),
            backend=self.name,
            already_published=already_published,
        )

    def _published_media_of(self, request: PublishRequest, resume: Mapping[str, str], container_id: str) -> PublishResult:
        """The media a PUBLISHED container became, looked up among the account's recent media."""
        requested_at = parse_time(resume.get("container_requested_at"))
        not_before = requested_at - CLOCK_SKEW if requested_at else None
        caption = fold_caption(request.caption)
        candidates: list[tuple[datetime, Mapping[str, Any]]] = []
        after: str | None = None
        for _ in range(RECENT_MEDIA_MAX_PAGES):
            params = {"fields": "id,caption,timestamp,permalink", "limit": str(RECENT_MEDIA_PAGE_SIZE)}
            if after:
                params["after"] = after   # the cursor, never paging.next: that URL carries the token
            body = self._call("GET", f"{self.ig_user_id}/media", params, action="list recent media")
            page = [item for item in body.get("data") or [] if isinstance(item, dict)]
            for item in page:
                if str(item.get("id")) == container_id:
                    return self._result(item, container_id, already_published=True)
                when = parse_time(item.get("timestamp"))
                if fold_caption(item.get("caption")) == caption and (not_before is None or (when is not None and when >= not_before)):
                    candidates.append((when or datetime.max.replace(tzinfo=UTC), item))
            oldest = min((parse_time(item.get("timestamp")) for item in page), default=None, key=lambda when: when or datetime.max.replace(tzinfo=UTC))
            paging = body.get("paging") or {}
            after = (paging.get("cursors") or {}).get("after")
            # Meta leaves out paging.next on the last page; its presence is all we use of it.
            if not page or not after or not paging.get("next") or (not_before is not None and oldest is not None and oldest < not_before):
                break
        if candidates:
            # The earliest match after our request: a later identical caption would be a second reel.
            _, item = min(candidates, key=lambda pair: pair[0])
            logger.info("container %s was already published as media %s", container_id, item.get("id"))
            return self._result(item, str(item.get("id")), already_published=True)
        raise PublishRefused(
            f"Instagram container {container_id!r} was published, but no recent post of account {self.ig_user_id!r} "
            "has this reel's caption (deleted, or edited on Instagram?); not uploading again to avoid a duplicate: "
            "check the account and mark the reel published by hand"
        )

    # -- the account and its token (``reeltwin account check``, the daily token refresh) ---------------

    @property
    def instagram_login(self) -> bool:
        """A token from Instagram Login (graph.instagram.com), refreshed with ``ig_refresh_token``; else Facebook Login."""
        return self._instagram_login if self._instagram_login is not None else "graph.instagram.com" in self.api_base

    def account_username(self) -> str:
        """Who this token publishes as: ``GET /{ig-user-id}?fields=username`` (raises LoginRequired for a bad token)."""
        body = self._call("GET", self.ig_user_id, {"fields": "username"}, action=f"read Instagram account {self.ig_user_id!r}")
        username = body.get("username")
        if not isinstance(username, str) or not username:
            raise PublishRefused(f"Instagram account {self.ig_user_id!r} has no username in Meta's answer; "
                                 "check that the id is an Instagram professional account's (not a Facebook Page's)")
        return username

    def token_status(self, *, app_id: str | None = None, app_secret: str | None = None) -> TokenStatus:
        """``GET /debug_token``: is the token valid, and when does it expire? With the app's id and secret the app token
        asks (what Meta documents); without, the token inspects itself (accepted for the token's own user)."""
        inspector = f"{app_id}|{app_secret}" if app_id and app_secret else None
        if app_secret:
            self._hide(app_secret)
        body = self._call("GET", "debug_token", {"input_token": self._access_token, "access_token": inspector or self._access_token},
                          action="inspect the access token")
        data = body.get("data") if isinstance(body.get("data"), dict) else {}
        expires = data.get("expires_at")
        expires_at = datetime.fromtimestamp(expires, UTC) if isinstance(expires, (int, float)) and expires > 0 else None
        return TokenStatus(valid=bool(data.get("is_valid")), expires_at=expires_at,
                           scopes=tuple(str(scope) for scope in data.get("scopes") or []))

    def refresh_token(self, *, app_id: str | None = None, app_secret: str | None = None, now: datetime | None = None) -> RefreshedToken:
        """A fresh long-lived token for this one (which stays usable until its own expiry). Instagram Login:
        ``GET /refresh_access_token?grant_type=ig_refresh_token`` (the token must be a day old and unexpired);
        Facebook Login: ``GET /oauth/access_token?grant_type=fb_exchange_token`` with the app's id and secret.
        This publisher uses the new token from then on."""
        now = now or datetime.now(UTC)
        if self.instagram_login:
            body = self._call("GET", "refresh_access_token", {"grant_type": "ig_refresh_token"}, action="refresh the access token", versioned=False)
        elif app_id and app_secret:
            self._hide(app_secret)
            body = self._call("GET", "oauth/access_token", {"grant_type": "fb_exchange_token", "client_id": app_id, "client_secret": app_secret,
                                                            "fb_exchange_token": self._access_token, "access_token": None},
                              action="refresh the access token")
        else:
            raise PublishRefused("a Facebook Login token is refreshed with the app's id and secret: set accounts.graph_app_id and "
                                 "REELTWIN_ACCOUNTS__GRAPH_APP_SECRET in .env, or connect a new long-lived token before this one expires")
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise PublishRetryable("Graph API: refreshing the access token returned no token; will retry")
        lifetime = body.get("expires_in")
        expires_at = now + timedelta(seconds=float(lifetime)) if isinstance(lifetime, (int, float)) and lifetime > 0 else None
        self._hide(token)
        self._access_token = token
        return RefreshedToken(access_token=token, expires_at=expires_at)

    def _hide(self, secret: str) -> None:
        """Mask one more secret in this publisher's messages."""
        self._redaction = redaction.RedactSecrets([*self._redaction.secrets, secret], patterns=[redaction.TOKEN_PARAMETERS_IN_TEXT], min_length=1)

    # -- audience (for the peak-time model) ---------------------------------------------------------

    def fetch_audience(self, *, posts: int = 50) -> dict[str, Any]:
        """The ``online_followers`` insight (None where Instagram has none, e.g. under 100 followers) and the
        recent posts' engagement as ``[[timestamp, likes + 2 × comments], ...]`` for :mod:`publishing.peak_times`."""
        online: Any = None
        try:
            online = self._call("GET", f"{self.ig_user_id}/insights", {"metric": "online_followers", "period": "lifetime"}, action="read audience insights")
        except PublishRefused as error:  # no insight for this account: the next source will do
            logger.info("no online_followers insight: %s", error)
        body = self._call("GET", f"{self.ig_user_id}/media", {"fields": "id,timestamp,like_count,comments_count", "limit": str(posts)}, action="read recent posts")
        recent = []
        for item in body.get("data") or []:
            when = parse_time(item.get("timestamp")) if isinstance(item, dict) else None
            if when is not None:
                recent.append([when.isoformat(), float(item.get("like_count") or 0) + 2.0 * float(item.get("comments_count") or 0)])
        return {"online_followers": online, "posts": recent}

    def fetch_media_insights(self, media_id: str) -> dict[str, float]:
        """``GET /{media-id}/insights`` for the reel metrics. A metric Instagram rejects (an older API version, a
        renamed metric) is left out and the rest asked one by one; "not enough viewers yet" is no metrics, not an
        error; a missing permission names the fix. Metrics come back as ``values[0].value`` or ``total_value.value``."""
        from publishing.base import REEL_METRICS

        action = f"read the insights of media {media_id!r}"
        status, body, headers = self._send("GET", f"{media_id}/insights", {"metric": ",".join(REEL_METRICS)}, action=action)
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict) and error.get("code") == 100:
            found: dict[str, float] = {}
            for metric in REEL_METRICS:
                status, body, headers = self._send("GET", f"{media_id}/insights", {"metric": metric}, action=action)
                single = body.get("error") if isinstance(body, dict) else None
                if isinstance(single, dict) and single.get("code") == 100:
                    continue
                found.update(self._insight_values(status, body, headers, action=action))
            return found
        return self._insight_values(status, body, headers, action=action)

    def _insight_values(self, status: int, body: Any, headers: httpx.Headers, *, action: str) -> dict[str, float]:
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict) and error.get("code") == 10 and "viewers" in str(error.get("message") or "").lower():
            return {}
        if isinstance(error, dict) and (error.get("code") == 10 or (isinstance(error.get("code"), int) and 200 <= error["code"] <= 299)):
            said = self._redact(str(error.get("message") or "no message"))
            raise PublishRefused(f"Instagram Graph API: permission denied trying to {action}; Meta said {said!r}. The token needs the "
                                 f"instagram_manage_insights permission (instagram_business_manage_insights with Instagram Login): "
                                 f"grant it in the app's login flow, then set the new token in {TOKEN_SETTING}")
        data = self._ok_body(status, body, headers, action=action).get("data") or []
        values: dict[str, float] = {}
        for item in data:
            if not isinstance(item, dict) or not item.get("name"):
                continue
            value = None
            if isinstance(item.get("total_value"), dict):
                value = item["total_value"].get("value")
            elif isinstance(item.get("values"), list) and item["values"] and isinstance(item["values"][0], dict):
                value = item["values"][0].get("value")
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                values[str(item["name"])] = float(value)
        return values

    def _container_error_message(self, container_id: str, status_text: str) -> str:
        subcode = _subcode_in(status_text)
        fix = MEDIA_FIXES.get(subcode) if subcode else None
        return (
            f"Instagram could not process the reel (container {container_id!r}: {self._redact(status_text or 'ERROR')!r}); "
            + (fix or "check the video against the Reels specs (MP4, H.264/AAC, 9:16, 3 s to 15 min) and that its URL is public, then publish again")
        )

    # -- HTTP and error translation -----------------------------------------------------------

    def _url(self, path: str) -> str:
        return f"{self.api_base}/{self.api_version}/{path}"

    def _redact(self, text: str) -> str:
        return self._redaction.redact(text)

    def _send(self, method: str, path: str, params: Mapping[str, str | None], *, action: str,
              versioned: bool = True) -> tuple[int, Any, httpx.Headers]:
        """One request; network failures become PublishRetryable. Never raises with the URL in the message.

        The account's token goes along as ``access_token`` unless ``params`` gives another one, or None for none."""
        merged = {"access_token": self._access_token, **params}
        fields = {key: value for key, value in merged.items() if value is not None}
        url = self._url(path) if versioned else f"{self.api_base}/{path}"
        try:
            if method == "GET":
                response = self._client.request(method, url, params=fields, timeout=self.timeout_s)
            else:
                response = self._client.request(method, url, data=fields, timeout=self.timeout_s)
        except httpx.TimeoutException as error:
            raise PublishRetryable(f"Graph API: no answer within {self.timeout_s:g} s trying to {action} ({type(error).__name__}); will retry") from None
        except httpx.TransportError as error:
            detail = self._redact(str(error)) or type(error).__name__
            raise PublishRetryable(f"Graph API: network error trying to {action} ({type(error).__name__}: {detail}); will retry") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        return response.status_code, body, response.headers

    def _call(self, method: str, path: str, params: Mapping[str, str | None], *, action: str, versioned: bool = True) -> dict[str, Any]:
        status, body, headers = self._send(method, path, params, action=action, versioned=versioned)
        return self._ok_body(status, body, headers, action=action)

    def _ok_body(self, status: int, body: Any, headers: httpx.Headers, *, action: str) -> dict[str, Any]:
        if 200 <= status < 300 and isinstance(body, dict) and "error" not in body:
            return body
        raise self._translate(status, body, headers, action=action)

    @staticmethod
    def _rejects_parameter(body: Any, name: str) -> bool:
        error = body.get("error") if isinstance(body, dict) else None
        return isinstance(error, dict) and error.get("code") == 100 and name in str(error.get("message") or "")

    def _translate(self, status: int, body: Any, headers: httpx.Headers, *, action: str) -> Exception:
        """Meta's error JSON (or a bare HTTP status) as one of our errors, naming the fix."""
        error = body.get("error") if isinstance(body, dict) else None
        retry_after_s = _retry_after_s(headers)
        if not isinstance(error, dict):
            if status == 429:
                return PublishRetryable(f"Graph API: rate limited (HTTP 429) trying to {action}; will retry later", retry_after_s=retry_after_s)
            if status >= 500 or 200 <= status < 300:
                return PublishRetryable(f"Graph API: unexpected answer (HTTP {status}) trying to {action}; will retry", retry_after_s=retry_after_s)
            return PublishRefused(f"Graph API: HTTP {status} trying to {action}; check publishing.graph_api_version and publishing.graph_ig_user_id")
        code = error.get("code")
        subcode = error.get("error_subcode")
        said = self._redact(str(error.get("error_user_msg") or error.get("message") or "no message"))
        meta = f"Meta said {said!r} (code {code}" + (f", subcode {subcode}" if subcode else "") + (f", fbtrace_id {error.get('fbtrace_id')}" if error.get("fbtrace_id") else "") + ")"

        if code in LOGIN_CODES:
            return LoginRequired(
                f"Instagram Graph API: the access token is expired or invalid trying to {action}; {meta}. "
                f"Create a new long-lived token for the account and set {TOKEN_SETTING}"
            )
        if status == 429 or code in RATE_LIMIT_CODES or (isinstance(code, int) and 80001 <= code <= 80014):
            return PublishRetryable(f"Graph API: rate limited trying to {action}; {meta}; will retry later", retry_after_s=retry_after_s)
        if subcode == QUOTA_SUBCODE:
            return QuotaExceeded(f"Instagram account {self.ig_user_id!r}: the 24 h publishing limit is reached; {meta}; the reel stays queued", retry_after_s=retry_after_s)
        if code == 10 or (isinstance(code, int) and 200 <= code <= 299):
            return PublishRefused(
                f"Instagram Graph API: permission denied trying to {action}; {meta}. The token needs the {PUBLISH_PERMISSION} "
                f"permission (instagram_business_content_publish with Instagram Login) for account {self.ig_user_id!r}: "
                f"grant it in the app's login flow, then set the new token in {TOKEN_SETTING}"
            )
        if subcode == EXPIRED_SUBCODE:
            return PublishRetryable(f"Graph API: the container expired trying to {action}; {meta}; a new container will be created on the next attempt")
        if subcode in MEDIA_FIXES:
            return PublishRefused(f"Instagram refused the reel trying to {action}; {meta}; {MEDIA_FIXES[subcode]}")
        if code == MEDIA_FETCH_CODE:
            return PublishRefused(f"Instagram refused the reel trying to {action}; {meta}; {MEDIA_FIXES[2207052]}")
        if code == VIDEO_FORMAT_CODE:
            return PublishRefused(f"Instagram refused the reel trying to {action}; {meta}; {MEDIA_FIXES[2207026]}")
        if subcode in RETRYABLE_SUBCODES or status >= 500 or code in (1, 2) or error.get("is_transient") is True:
            return PublishRetryable(f"Graph API: temporary failure trying to {action}; {meta}; will retry", retry_after_s=retry_after_s)
        return PublishRefused(f"Instagram Graph API refused to {action}; {meta}; fix what Meta names and publish again")


def _subcode_in(status_text: str) -> int | None:
    """The 2207xxx subcode a container's ``status`` text names ("Error: … error code 2207001"), if any."""
    match = _SUBCODE_IN_TEXT.search(status_text or "")
    return int(match.group(1)) if match else None


def _retry_after_s(headers: httpx.Headers) -> float | None:
    value = headers.get("retry-after")
    if value:
        try:
            return max(float(value), 0.0)
        except ValueError:
            return None
    return None
