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
the next sweep takes the stale claim over (:func:`agent.jobs.leases.take_over`) and resumes at step 4.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import update
from sqlmodel import Session

from agent.db.models import Creator, Reel, ReelEvent, ReelStatus, utcnow
from agent.db.states import transition
from agent.errors import AgentError, ValidationFailed
from agent.jobs import leases
from agent.settings import Settings
from publishing.base import PublishProgress, PublishRefused, PublishRequest, PublishRetryable, Publisher

log = logging.getLogger(__name__)


class PublishJobResult(StrEnum):
    """How one publish job ended (its text is what the CLI and the sweep summaries print)."""

    PUBLISHED = "published"
    ALREADY_PUBLISHED = "already published"
    RETRY_LATER = "retry later"
    FAILED = "failed"


@dataclass(frozen=True)
class PublishOutcome:
    """One reel's publish job: the result, why, and where the reel is now."""

    reel_id: int
    result: PublishJobResult
    detail: str = ""
    permalink: str | None = None


def full_caption(reel: Reel) -> str:
    tags = " ".join(reel.hashtags or [])
    return f"{reel.caption.strip()}\n\n{tags}".strip() if tags else reel.caption.strip()


#: creator handle -> the publisher of that creator's own account (:func:`agent.backends.make_publisher_for`)
PublisherFor = Callable[[str], Publisher]


def publish_reel(
    session: Session,
    settings: Settings,
    reel_id: int,
    *,
    publisher: Publisher | None = None,
    publisher_for: PublisherFor | None = None,
    worker: str,
    resume_claimed: bool = False,
) -> PublishOutcome:
    """Publish one rendered reel now (steps 1–5 above). Never raises for Instagram's answers: they become the outcome.

    The reel goes to ``publisher`` if given, else to its creator's own account: ``publisher_for(handle)``, or one
    built (and closed) here. A creator without an account of its own fails the reel with the command that connects
    one; a lost accounts key raises (one line) and changes nothing."""
    if publisher is not None:
        return _publish_with(session, settings, reel_id, publisher=publisher, worker=worker, resume_claimed=resume_claimed)
    from agent.publish_accounts import NoPublishAccount

    handle = creator_handle(session, reel_id)
    built = publisher_for is None
    try:
        if publisher_for is None:
            from agent.backends import make_publisher_for

            chosen = make_publisher_for(session, settings, handle)
        else:
            chosen = publisher_for(handle)
    except NoPublishAccount as error:
        return _fail_without_account(session, reel_id, worker, str(error), resume_claimed=resume_claimed)
    try:
        return _publish_with(session, settings, reel_id, publisher=chosen, worker=worker, resume_claimed=resume_claimed)
    finally:
        if built:
            chosen.close()


def creator_handle(session: Session, reel_id: int) -> str:
    """The handle of the creator whose reel ``reel_id`` is (its account publishes it)."""
    reel = session.get(Reel, reel_id)
    if reel is None:
        raise ValidationFailed(f"reel {reel_id} does not exist; list reels with `reeltwin queue`")
    creator = session.get(Creator, reel.creator_id)
    return creator.handle if creator else ""


def _fail_without_account(session: Session, reel_id: int, worker: str, message: str, *, resume_claimed: bool) -> PublishOutcome:
    """The creator has no account: the reel fails with the command that connects one (claimed first, so only once)."""
    if not resume_claimed and leases.claim_reel(session, leases.PUBLISH, reel_id, worker=worker) is None:
        raise ValidationFailed(f"reel {reel_id}: is not rendered (or another process is publishing it); nothing was posted")
    reel = session.get(Reel, reel_id)
    session.refresh(reel)
    return _fail(session, reel, worker, message)


def _publish_with(
    session: Session,
    settings: Settings,
    reel_id: int,
    *,
    publisher: Publisher,
    worker: str,
    resume_claimed: bool,
) -> PublishOutcome:
    from agent.storage import StorageError, StorageUnavailable, media_storage

    storage = media_storage(settings)   # a storage setting that is wrong raises here, before the reel is claimed
    if resume_claimed:
        reel = session.get(Reel, reel_id)
    else:
        reel = leases.claim_reel(session, leases.PUBLISH, reel_id, worker=worker)
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
    # A reel rendered on another machine is fetched from media storage into this one's data folder first.
    fix = f"render reel {reel.id} again (`reeltwin render {reel.id}` after approving it)"
    try:
        video_path = storage.ensure_local(video, fix=fix)
        cover_path = storage.ensure_local(cover, fix=fix) if cover else None
    except StorageUnavailable as error:
        return _retry_later(session, reel, settings, worker, str(error), None)
    except StorageError as error:
        return _fail(session, reel, worker, str(error))
    request = PublishRequest(
        publish_key=key, video_path=video_path, cover_path=cover_path, caption=full_caption(reel),
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
    return PublishOutcome(reel.id, PublishJobResult.ALREADY_PUBLISHED if result.already_published else PublishJobResult.PUBLISHED, reason,
                          result.permalink)


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
    return PublishOutcome(reel.id, PublishJobResult.RETRY_LATER, message)


def _fail(session: Session, reel: Reel, worker: str, message: str) -> PublishOutcome:
    transition(session, reel, ReelStatus.FAILED, actor=worker, reason=message, expected=ReelStatus.PUBLISHING,
               last_error=message, failed_stage="publish", claimed_by=None)
    session.commit()
    log.error("reel %d: publishing failed: %s", reel.id, message)
    return PublishOutcome(reel.id, PublishJobResult.FAILED, message)


def due_reels(session: Session, now: datetime, grace: timedelta) -> tuple[list[int], list[int]]:
    """(rendered reels due now within the grace window, reels whose time passed beyond it)."""
    due, missed = [], []
    for reel, slot in leases.waiting(session, leases.PUBLISH, now=now):
        when = leases.due_time(reel, slot)
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


def publish_due(
    session: Session,
    settings: Settings,
    *,
    publisher: Publisher | None = None,
    publisher_for: PublisherFor | None = None,
    worker: str,
    now: datetime,
    next_time: Callable[[int], datetime] | None = None,
) -> list[PublishOutcome]:
    """The publish sweep: resume abandoned attempts, publish what is due, move what was missed beyond the grace window.

    Each reel goes to ``publisher`` if given, else to its own creator's account (see :func:`publish_reel`); a creator
    whose account cannot be used now (a lost key, a missing setting) is skipped with one log line and its reels wait."""
    from agent.publish_accounts import NoPublishAccount

    if publisher is None and publisher_for is None:
        from agent.backends import make_publisher_for

        cache: dict[str, Publisher] = {}

        def publisher_for(handle: str) -> Publisher:   # one per creator for this sweep, closed at its end
            if handle not in cache:
                cache[handle] = make_publisher_for(session, settings, handle)
            return cache[handle]

        try:
            return publish_due(session, settings, publisher_for=publisher_for, worker=worker, now=now, next_time=next_time)
        finally:
            for built in cache.values():
                built.close()

    unusable: dict[str, str] = {}

    def one(reel_id: int, *, resume_claimed: bool = False) -> PublishOutcome | None:
        if publisher is not None:
            return publish_reel(session, settings, reel_id, publisher=publisher, worker=worker, resume_claimed=resume_claimed)
        handle = creator_handle(session, reel_id)
        if handle in unusable:
            return None
        try:
            return publish_reel(session, settings, reel_id, publisher_for=publisher_for, worker=worker, resume_claimed=resume_claimed)
        except (NoPublishAccount, ValidationFailed):
            raise
        except AgentError as error:   # the accounts key is lost, a setting is missing: nothing was changed; the reels wait for the fix
            unusable[handle] = str(error)
            log.error("@%s: reels not published: %s", handle, error)
            return None

    outcomes = []
    stage = leases.publish_stage(settings)
    for reel_id in leases.stale(session, stage, now=now):
        if leases.take_over(session, stage, reel_id, now=now, worker=worker):
            log.warning("reel %d: resuming an abandoned publish attempt (checking Instagram before uploading)", reel_id)
            if (outcome := one(reel_id, resume_claimed=True)) is not None:
                outcomes.append(outcome)
    due, missed = due_reels(session, now, timedelta(minutes=settings.scheduler.publish_grace_minutes))
    for reel_id in missed:
        when = next_time(reel_id) if next_time else now
        reschedule_missed(session, reel_id, when=when, actor=worker)
        if when <= now:
            due.append(reel_id)
    for reel_id in due:
        try:
            if (outcome := one(reel_id)) is not None:
                outcomes.append(outcome)
        except ValidationFailed:
            continue  # another process took it between the query and the claim
    return outcomes
