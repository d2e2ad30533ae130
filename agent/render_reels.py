"""Rendering approved reels: claim, render into the data folder, record the artifacts, release on failure.

The scheduler's render sweep and ``reeltwin render ID`` call these. A reel is claimed
(approved -> rendering) before work starts, so two workers never render the same
reel; files are written under new names and only then recorded, so a crash never
leaves a reel pointing at half a video; a reel left in ``rendering`` by a process
that died is released back to ``approved`` after the lease and rendered again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, select

from agent.db.models import Avatar, Creator, Reel, ReelEvent, Slot, VoiceProfile, utcnow
from agent.db.states import ReelStatus, claim, transition
from agent.errors import AgentError

log = logging.getLogger(__name__)

RENDER_LEASE = timedelta(minutes=30)


@dataclass(frozen=True)
class RenderOutcome:
    reel_id: int
    result: str          # "rendered" | "failed" | "not claimed"
    detail: str = ""
    video: str | None = None


def _pick(rows: list[Any], creator: Creator, what: str, command: str) -> Any:
    """The creator's own enrollment; else the one named like the handle; else the only one there is."""
    own = [row for row in rows if row.creator_id == creator.id]
    if own:
        return own[-1]
    named = [row for row in rows if row.name == creator.handle]
    if named:
        return named[0]
    if len(rows) == 1:
        return rows[0]
    if not rows:
        raise AgentError(f"@{creator.handle}: no {what} enrolled; run `{command}`")
    raise AgentError(f"@{creator.handle}: {len(rows)} {what}s enrolled and none is named {creator.handle!r}; enroll one with --name {creator.handle}")


def inputs_for(session: Session, creator: Creator) -> tuple[Avatar, VoiceProfile | None]:
    avatar = _pick(list(session.exec(select(Avatar))), creator, "avatar", f"reeltwin avatar enroll PHOTO --name {creator.handle} --consent")
    voices = list(session.exec(select(VoiceProfile)))
    voice = _pick(voices, creator, "voice", f"reeltwin voice enroll SAMPLE --name {creator.handle} --consent") if voices else None
    return avatar, voice


def release_stale(session: Session, *, now: datetime, worker: str) -> list[int]:
    """Reels a dead process left in ``rendering``: back to ``approved`` so they render again."""
    stale = list(session.exec(select(Reel.id).where(Reel.status == ReelStatus.RENDERING,
                                                    (Reel.claimed_at.is_(None)) | (Reel.claimed_at < now - RENDER_LEASE))))
    released = []
    for reel_id in stale:
        reel = session.get(Reel, reel_id)
        try:
            transition(session, reel, ReelStatus.APPROVED, actor=worker, reason="render abandoned by a stopped worker; rendering again",
                       expected=ReelStatus.RENDERING, claimed_by=None, claimed_at=None)
            session.commit()
            released.append(reel_id)
        except AgentError:
            session.rollback()
    return released


def due_for_render(session: Session, *, now: datetime, lead: timedelta) -> list[int]:
    """Approved reels whose publish time is within ``lead`` (or already passed), soonest first."""
    rows = session.exec(
        select(Reel, Slot).join(Slot, Reel.slot_id == Slot.id, isouter=True)
        .where(Reel.status == ReelStatus.APPROVED, (Reel.next_attempt_at.is_(None)) | (Reel.next_attempt_at <= now))
    ).all()
    due = []
    for reel, slot in rows:
        when = reel.publish_at or (slot.scheduled_at if slot is not None else None) or now
        if when - now <= lead:
            due.append((when, reel.id))
    return [reel_id for _, reel_id in sorted(due)]


def render_reel(session: Session, settings: Any, reel_id: int, *, worker: str, progress: Any = None, claimed: bool = False) -> RenderOutcome:
    """Claim an approved reel, render it with the creator's avatar and voice, and mark it rendered (or failed, with the reason)."""
    from agent.avatars import face_of
    from agent.pipeline import render_files
    from agent.voices import profile_data

    reel = session.get(Reel, reel_id) if claimed else claim(session, reel_id, ReelStatus.APPROVED, ReelStatus.RENDERING, worker=worker, reason="rendering")
    if reel is None:
        return RenderOutcome(reel_id, "not claimed", "not approved, or another worker has it")
    creator = session.get(Creator, reel.creator_id)
    folder = Path(settings.data_dir) / "reels" / str(reel_id)
    try:
        avatar, voice = inputs_for(session, creator)
        attempt = (reel.attempts or 0) + 1
        out = folder / f"reel-v{reel.version}-a{attempt}.mp4"
        profile = profile_data(voice) if voice is not None else None
        outcome = render_files(settings, photo=Path(avatar.photo_path), out=out, text=reel.script, voice_profile=profile,
                               voice_backend=(voice.backend if voice is not None else "piper"), face=face_of(avatar),
                               hook_title=reel.on_screen_title or None, language=creator.language or "en", progress=progress)
        if outcome.qa is not None and not outcome.qa.get("passed", True):
            failed = [c["name"] for c in outcome.qa.get("checks", []) if c.get("hard") and not c.get("passed")]
            raise AgentError(f"the rendered reel failed QA ({', '.join(failed)}); see {outcome.report}")
    except AgentError as error:
        message = str(error)
        session.rollback()
        reel = session.get(Reel, reel_id)
        transition(session, reel, ReelStatus.FAILED, actor=worker, reason=f"render failed: {message}", expected=ReelStatus.RENDERING,
                   last_error=message, failed_stage="render", claimed_by=None, attempts=(reel.attempts or 0) + 1)
        session.commit()
        log.error("reel %d: render failed: %s", reel_id, message)
        return RenderOutcome(reel_id, "failed", message)
    artifacts = dict(reel.artifacts or {})
    artifacts.update({"video": str(outcome.video), "cover": str(outcome.cover), "srt": str(outcome.srt) if outcome.srt else None,
                      "captions": str(outcome.captions_json) if outcome.captions_json else None,
                      "report": str(outcome.report) if outcome.report else None, "audio": str(outcome.video.with_suffix(".voice.wav")),
                      "render_seconds": round(outcome.render_seconds, 2), "duration_s": round(outcome.duration_s, 2),
                      "avatar": avatar.name, "voice": voice.name if voice is not None else "bundled"})
    reel = session.get(Reel, reel_id)
    transition(session, reel, ReelStatus.RENDERED, actor=worker, reason=f"rendered in {outcome.render_seconds:.0f} s",
               expected=ReelStatus.RENDERING, artifacts=artifacts, claimed_by=None, last_error=None)
    session.commit()
    log.info("reel %d: rendered %s (%.1f s of video in %.1f s)", reel_id, outcome.video, outcome.duration_s, outcome.render_seconds)
    return RenderOutcome(reel_id, "rendered", "", str(outcome.video))


def render_due(session: Session, settings: Any, *, worker: str, now: datetime, stopping: Any = None, limit: int = 4) -> list[RenderOutcome]:
    """The render sweep: release abandoned renders, then render approved reels that publish within the render lead time."""
    outcomes = []
    release_stale(session, now=now, worker=worker)
    lead = timedelta(hours=settings.scheduler.render_lead_hours)
    for reel_id in due_for_render(session, now=now, lead=lead)[:limit]:
        if stopping is not None and stopping.is_set():
            break
        outcomes.append(render_reel(session, settings, reel_id, worker=worker))
    return outcomes


def release(session: Session, reel_id: int, *, worker: str) -> None:
    """Give a claimed render back (shutdown): the reel is approved again and renders on the next sweep."""
    session.execute(update(Reel).where(Reel.id == reel_id, Reel.status == ReelStatus.RENDERING, Reel.claimed_by == worker)
                    .values(status=ReelStatus.APPROVED, claimed_by=None, claimed_at=None, updated_at=utcnow()))
    session.add(ReelEvent(reel_id=reel_id, from_status=ReelStatus.RENDERING.value, to_status=ReelStatus.APPROVED.value, actor=worker,
                          reason="released on shutdown", at=utcnow()))
    session.commit()
