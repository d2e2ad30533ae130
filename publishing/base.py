"""The publisher interface: one Protocol, plain frozen dataclasses in and out, errors that name the fix.

Exactly-once is a contract between the caller and the publisher:

1. the caller records an attempt (``PublishRequest.publish_key``) before calling;
2. the publisher reports progress through ``on_progress`` as soon as there is
   something to remember (the Graph API's container id), and the caller stores it;
3. on a retry the caller passes what it stored (``resume``) and the publisher
   first asks Instagram whether that attempt already went out
   (:meth:`Publisher.find_published`), completing the record instead of
   uploading a second time.

A publisher owns its clients (HTTP connections, a logged-in session): close it when
done, or use it as a context manager. What a backend can do beyond publishing is in
its ``capabilities``, so callers never test its name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, Self, runtime_checkable

from publishing import PublishError


class PublishRefused(PublishError):
    """Instagram (or the outbox) refused this reel; retrying the same input will not help. The message names the fix."""


class PublishRetryable(PublishError):
    """A temporary failure (network, 5xx, rate limit, container still processing); try again later."""

    def __init__(self, message: str, *, retry_after_s: float | None = None):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class QuotaExceeded(PublishRetryable):
    """The account's publishing quota for the last 24 h is used up."""


class LoginRequired(PublishRefused):
    """The account needs a (new) login or a challenge answered: the message names the command."""


@dataclass(frozen=True)
class PublishRequest:
    """What to post. Paths are local files; the publisher makes them reachable if it must."""

    publish_key: str                  # unique per reel and attempt series: the idempotency marker
    video_path: Path
    cover_path: Path | None
    caption: str                      # the full caption, hashtags included
    ai_generated: bool = True         # the avatar and voice are synthetic: label it where the API allows
    share_to_feed: bool = True
    handle: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PublishProgress:
    """Something the caller must store before the next step (e.g. the Graph container id)."""

    stage: str                        # "container" | "uploaded" | ...
    value: str


@dataclass(frozen=True)
class PublishResult:
    media_id: str
    permalink: str | None
    published_at: datetime
    backend: str
    already_published: bool = False   # found on Instagram from an earlier attempt; nothing was uploaded now


class Capability(StrEnum):
    """What a publisher can do besides publishing."""

    #: ``fetch_audience()``: the account's online hours and its posts' engagement (for peak times)
    AUDIENCE_INSIGHTS = "audience_insights"
    #: ``PublishRequest.ai_generated`` reaches the published reel (Instagram's AI label, or the outbox's metadata)
    AI_LABEL = "ai_label"
    #: ``fetch_media_insights(media_id)``: what Instagram reports for one published reel (views, reach, likes, ...)
    MEDIA_INSIGHTS = "media_insights"


@runtime_checkable
class Publisher(Protocol):
    """Implementations may subclass this for the defaults: nothing to close, ``with`` support."""

    name: str
    capabilities: frozenset[Capability]

    def find_published(self, request: PublishRequest, resume: Mapping[str, str]) -> PublishResult | None:
        """Did an earlier attempt with this ``publish_key`` (and stored progress ``resume``) already go out?"""

    def publish(
        self,
        request: PublishRequest,
        resume: Mapping[str, str],
        on_progress: Callable[[PublishProgress], None],
    ) -> PublishResult:
        """Post the reel (continuing from ``resume`` where possible). Raises PublishRefused or PublishRetryable."""

    def close(self) -> None:
        """Release the clients this publisher opened (connections, sessions); it may be used again only after a new login."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@runtime_checkable
class AudienceInsights(Protocol):
    """A publisher with :attr:`Capability.AUDIENCE_INSIGHTS`."""

    def fetch_audience(self, *, posts: int = 50) -> dict[str, Any]:
        """``{"online_followers": {hour: count} | None, "posts": [[iso time, engagement], ...]}``; raises PublishError."""


@runtime_checkable
class MediaInsights(Protocol):
    """A publisher with :attr:`Capability.MEDIA_INSIGHTS`."""

    def fetch_media_insights(self, media_id: str) -> dict[str, float]:
        """The reel's metrics Instagram reports (names from :data:`REEL_METRICS`; a metric it does not give is absent); raises PublishError."""


#: per-reel metrics, in Instagram's names ("saved" is saves)
REEL_METRICS = ("views", "reach", "likes", "comments", "saved", "shares", "total_interactions")


@runtime_checkable
class MediaHosting(Protocol):
    """Makes a local file reachable at a public URL for a while (the Graph API fetches the video from one).

    Implementations: :class:`publishing.hosting.MediaHost` (ReelTwin's own web server, signed URLs) and
    :class:`publishing.s3_hosting.S3MediaHost` (an S3-compatible bucket, presigned URLs).
    """

    def url_for(self, path: Path, *, publish_key: str = "") -> str:
        """A URL Instagram can GET ``path`` from until it expires; ``publish_key`` groups one reel's files. Raises PublishRefused or PublishRetryable."""

    def cleanup(self, paths: Sequence[Path], *, publish_key: str = "") -> None:
        """The reel is published: what was hosted for it may go. Never raises; a failed clean-up is logged."""
