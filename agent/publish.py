"""Publishing a rendered reel exactly once: claim, record the attempt, publish, complete the record.

The order of writes is what makes a crash harmless:

1. claim ``rendered → publishing`` (atomic; a second process gets nothing);
2. record the attempt (``publish_key``, attempts + 1) and commit — before any upload;
3. every piece of progress the publisher reports (e.g. the Graph container id)
   is committed at once into ``publish_state``;
4. the publisher first asks Instagram whether this attempt already went out
   (``find_published``), and only then uploads;
5. ``publishing → published`` with the media id and permalink.

A process that dies anywhere leaves the reel in ``publishing`` with its state;
:func:`recover_stale` hands it back to the next attempt, which resumes at step 4.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update
from sqlmodel import Session

from agent.db.models import Creator, Reel, ReelEvent, ReelStatus, Slot, utcnow
from agent.db.states import claim, transition
from agent.errors import AgentError, ValidationFailed
from agent.settings import Settings
from publishing import PublishError
from publishing.base import MediaHosting, PublishProgress, PublishRefused, PublishRequest, PublishRetryable, Publisher

log = logging.getLogger(__name__)

#: A claim older than this with no progress is considered abandoned (its process died).
LEASE = timedelta(minutes=30)


@dataclass(frozen=True)
class PublishOutcome:
    reel_id: int
    result: str                    # published | already published | retry later | failed | dry run
    detail: str = ""
    permalink: str | None = None


def make_media_host(settings: Settings) -> MediaHosting:
    """Where the Graph API fetches the reel from (``publishing.media_hosting``): our own signed URLs, or an S3 bucket."""
    publishing = settings.publishing
    if publishing.media_hosting == "s3":
        s3 = publishing.s3
        if not s3.bucket:
            raise AgentError("publishing.media_hosting is s3 but publishing.s3.bucket is not set; set it (or REELTWIN_PUBLISHING__S3__BUCKET)")
        if (s3.access_key_id is None) != (s3.secret_access_key is None):
            missing = "secret_access_key" if s3.secret_access_key is None else "access_key_id"
            raise AgentError(f"publishing.s3.{missing} is not set but its partner is; set REELTWIN_PUBLISHING__S3__{missing.upper()} in .env, "
                             "or neither to use the AWS credential chain")
        try:
            from publishing.s3_hosting import S3MediaHost
        except ImportError:
            raise AgentError("publishing.media_hosting = \"s3\" needs boto3: pip install 'reeltwin[s3]'") from None
        return S3MediaHost(
            bucket=s3.bucket, endpoint_url=s3.endpoint_url, region=s3.region, prefix=s3.prefix,
            access_key_id=s3.access_key_id.get_secret_value() if s3.access_key_id else None,
            secret_access_key=s3.secret_access_key.get_secret_value() if s3.secret_access_key else None,
            url_lifetime_s=s3.url_lifetime_s, delete_after_publish=s3.delete_after_publish, addressing_style=s3.addressing_style,
        )
    if not publishing.media_base_url:
        raise AgentError("publishing.media_base_url is not set: Instagram fetches the video from a public URL; set it to "
                         "https://your-host/public, or use publishing.media_hosting = \"s3\"; see README 'Media hosting for the Graph API'")
    from publishing.hosting import MediaHost

    return MediaHost(base_url=publishing.media_base_url, secret=settings.web.secret_key.get_secret_value() if settings.web.secret_key else "", root=settings.data_dir)


def make_publisher(settings: Settings) -> Publisher:
    """The configured publisher."""
    publishing = settings.publishing
    if publishing.backend == "outbox":
        from publishing.outbox import OutboxPublisher

        return OutboxPublisher(settings.outbox_dir)
    if publishing.backend == "graph":
        missing = [name for name, value in (("graph_ig_user_id", publishing.graph_ig_user_id), ("graph_access_token", publishing.graph_access_token),
                                            ("media_base_url", publishing.media_base_url if publishing.media_hosting == "self" else "s3")) if not value]
        if missing:
            raise AgentError(f"publishing.backend is graph but {', '.join('publishing.' + m for m in missing)} is not set; see README 'Going live'")
        from publishing.graph import GraphPublisher

        try:
            host = make_media_host(settings)
        except PublishError as error:
            raise AgentError(str(error)) from None
        return GraphPublisher(ig_user_id=publishing.graph_ig_user_id, access_token=publishing.graph_access_token.get_secret_value(),
                              media_host=host, api_version=publishing.graph_api_version, api_base=publishing.graph_api_base)
    if publishing.backend == "instagrapi":
        if not publishing.instagrapi_username:
            raise AgentError("publishing.backend is instagrapi but publishing.instagrapi_username is not set; then run `reeltwin instagram login`")
        try:
            from publishing.instagrapi_publisher import InstagrapiPublisher, session_file_for
        except ImportError:
            raise AgentError("the instagrapi publisher needs the instagram extra: pip install 'reeltwin[instagram]'") from None
        try:
            session_file = session_file_for(settings.data_dir, publishing.instagrapi_username)
        except PublishError as error:
            raise AgentError(f"publishing.instagrapi_username: {error}") from None
        password = publishing.instagrapi_password.get_secret_value() if publishing.instagrapi_password else None
        return InstagrapiPublisher(username=publishing.instagrapi_username, session_file=session_file, password=password)
    raise AgentError(f"publishing.backend {publishing.backend!r} is unknown; use outbox, graph or instagrapi")


def full_caption(reel: Reel) -> str:
    tags = " ".join(reel.hashtags or [])
    return f"{reel.caption.strip()}\n\n{tags}".strip() if tags else reel.caption.strip()


def due_time(reel: Reel, slot: Slot | None) -> datetime | None:
    """When the reel should go out: its own override, else its slot; ad-hoc reels only on request."""
    return reel.publish_at or (slot.scheduled_at if slot else None)


def publish_reel(
    session: Session,
    settings: Settings,
    reel_id: int,
    *,
    publisher: Publisher,
    worker: str,
    resume_claimed: bool = False,
) -> PublishOutcome:
    """Publish one rendered reel now (steps 1–5 above). Never raises for Instagram's answers: they become the outcome."""
    if resume_claimed:
        reel = session.get(Reel, reel_id)
    else:
        reel = claim(session, reel_id, ReelStatus.RENDERED, ReelStatus.PUBLISHING, worker=worker, reason="publishing")
        if reel is None:
            current = session.get(Reel, reel_id)
            if current is None:
                raise ValidationFailed(f"reel {reel_id} does not exist; list reels with `reeltwin queue`")
            session.refresh(current)
            raise ValidationFailed(f"reel {reel_id}: is {current.status}, not rendered (or another process is publishing it); nothing was posted")
    session.refresh(reel)
    video = (reel.artifacts or {}).get("video")
    if not video:
        return _fail(session, reel, worker, f"reel {reel_id} has no video; render it first")

    # 2. Record the attempt before anything leaves the machine.
    key = reel.publish_key or f"rt{reel.id}-{secrets.token_hex(6)}"
    session.execute(update(Reel).where(Reel.id == reel.id).values(publish_key=key, attempts=Reel.attempts + 1, claimed_at=utcnow()))
    session.commit()
    session.refresh(reel)

    creator = session.get(Creator, reel.creator_id)
    cover = (reel.artifacts or {}).get("cover")
    request = PublishRequest(
        publish_key=key, video_path=Path(video), cover_path=Path(cover) if cover else None, caption=full_caption(reel),
        ai_generated=settings.publishing.ai_label, handle=creator.handle if creator else "", metadata={"reel_id": str(reel.id)},
    )
    state = dict(reel.publish_state or {})

    def remember(progress: PublishProgress) -> None:
        # 3. Committed at once, in its own statement: a crash right after must not forget the container.
        state[progress.stage] = progress.value
        session.execute(update(Reel).where(Reel.id == reel.id).values(publish_state=dict(state), claimed_at=utcnow()))
        session.commit()

    try:
        result = publisher.find_published(request, state) or publisher.publish(request, state, remember)
    except PublishRetryable as error:
        return _retry_later(session, reel, settings, worker, str(error), getattr(error, "retry_after_s", None))
    except PublishRefused as error:
        return _fail(session, reel, worker, str(error))
    except OSError as error:  # the network, the disk
        return _retry_later(session, reel, settings, worker, f"{type(error).__name__}: {error}", None)

    reason = "found already published by an earlier attempt" if result.already_published else f"published via {result.backend}"
    transition(session, reel, ReelStatus.PUBLISHED, actor=worker, reason=reason, expected=ReelStatus.PUBLISHING,
               media_id=result.media_id, permalink=result.permalink, published_at=result.published_at, last_error=None, claimed_by=None)
    session.commit()
    log.info("reel %d %s: %s", reel.id, reason, result.permalink or result.media_id)
    return PublishOutcome(reel.id, "already published" if result.already_published else "published", reason, result.permalink)


def _retry_later(session: Session, reel: Reel, settings: Settings, worker: str, message: str, retry_after_s: float | None) -> PublishOutcome:
    scheduler = settings.scheduler
    session.refresh(reel)
    if reel.attempts >= scheduler.max_attempts:
        return _fail(session, reel, worker, f"{message} (gave up after {reel.attempts} attempts)")
    wait = retry_after_s or min(scheduler.backoff_base_s * 2 ** max(0, reel.attempts - 1), scheduler.backoff_cap_s)
    transition(session, reel, ReelStatus.RENDERED, actor=worker, reason=f"publish will be retried in {wait:.0f} s: {message}", expected=ReelStatus.PUBLISHING,
               last_error=message, next_attempt_at=utcnow() + timedelta(seconds=wait), claimed_by=None)
    session.commit()
    log.warning("reel %d: %s; retrying in %.0f s", reel.id, message, wait)
    return PublishOutcome(reel.id, "retry later", message)


def _fail(session: Session, reel: Reel, worker: str, message: str) -> PublishOutcome:
    transition(session, reel, ReelStatus.FAILED, actor=worker, reason=message, expected=ReelStatus.PUBLISHING,
               last_error=message, failed_stage="publish", claimed_by=None)
    session.commit()
    log.error("reel %d: publishing failed: %s", reel.id, message)
    return PublishOutcome(reel.id, "failed", message)


def due_reels(session: Session, now: datetime, grace: timedelta) -> tuple[list[int], list[int]]:
    """(rendered reels due now within the grace window, reels whose time passed beyond it)."""
    rows = session.execute(
        select(Reel, Slot).outerjoin(Slot, Reel.slot_id == Slot.id)
        .where(Reel.status == ReelStatus.RENDERED, (Reel.next_attempt_at.is_(None)) | (Reel.next_attempt_at <= now))
        .order_by(Reel.id)
    ).all()
    due, missed = [], []
    for reel, slot in rows:
        when = due_time(reel, slot)
        if when is None or when > now:
            continue
        (due if now - when <= grace or reel.attempts > 0 else missed).append(reel.id)
    return due, missed


def reschedule_missed(session: Session, reel_id: int, *, when: datetime, actor: str) -> None:
    """Move a reel whose time passed (the service was down, or it was approved late) to ``when``, and say so in its history."""
    reel = session.get(Reel, reel_id)
    session.execute(update(Reel).where(Reel.id == reel_id, Reel.status == ReelStatus.RENDERED).values(publish_at=when, updated_at=utcnow()))
    session.add(ReelEvent(reel_id=reel_id, from_status=str(reel.status), to_status=str(reel.status), actor=actor,
                          reason=f"its time passed before it could be published (ReelTwin not running, or approved late); moved to {when.isoformat()}"))
    session.commit()


def recover_stale(session: Session, *, now: datetime, lease: timedelta = LEASE) -> list[int]:
    """Reels left in ``publishing`` by a process that died: take them over to resume (not to re-upload)."""
    stale = list(session.execute(
        select(Reel.id).where(Reel.status == ReelStatus.PUBLISHING, (Reel.claimed_at.is_(None)) | (Reel.claimed_at < now - lease))
    ).scalars())
    return stale


def publish_due(
    session: Session,
    settings: Settings,
    *,
    publisher: Publisher,
    worker: str,
    now: datetime,
    next_time: Callable[[int], datetime] | None = None,
) -> list[PublishOutcome]:
    """The publish sweep: resume abandoned attempts, publish what is due, move what was missed beyond the grace window."""
    outcomes = []
    for reel_id in recover_stale(session, now=now):
        took = session.execute(
            update(Reel).where(Reel.id == reel_id, Reel.status == ReelStatus.PUBLISHING, (Reel.claimed_at.is_(None)) | (Reel.claimed_at < now - LEASE))
            .values(claimed_by=worker, claimed_at=utcnow())
        ).rowcount
        session.commit()
        if took == 1:
            log.warning("reel %d: resuming an abandoned publish attempt (checking Instagram before uploading)", reel_id)
            outcomes.append(publish_reel(session, settings, reel_id, publisher=publisher, worker=worker, resume_claimed=True))
    due, missed = due_reels(session, now, timedelta(minutes=settings.scheduler.publish_grace_minutes))
    for reel_id in missed:
        when = next_time(reel_id) if next_time else now
        reschedule_missed(session, reel_id, when=when, actor=worker)
        if when <= now:
            due.append(reel_id)
    for reel_id in due:
        try:
            outcomes.append(publish_reel(session, settings, reel_id, publisher=publisher, worker=worker))
        except ValidationFailed:
            continue  # another process took it between the query and the claim
    return outcomes
