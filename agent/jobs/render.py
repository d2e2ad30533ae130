"""Rendering approved reels: claim, render into the data folder, record the artifacts, release on failure.

The scheduler's render sweep and ``reeltwin render ID`` call these. A reel is claimed
(approved -> rendering) before work starts, so two workers never render the same
reel; files are written under new names and only then recorded, so a crash never
leaves a reel pointing at half a video; a reel left in ``rendering`` by a process
that died is released back to ``approved`` after the lease and rendered again.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, select

from agent.approval.thumbnails import remove_thumbnails
from agent.db.models import Avatar, Creator, Reel, ReelStatus, VoiceProfile
from agent.db.states import transition
from agent.errors import AgentError
from agent.jobs import leases
from render.registry import Registry

if TYPE_CHECKING:
    from threading import Event

    from agent.jobs.pipeline import Progress, RenderResult
    from agent.settings import Settings

log = logging.getLogger(__name__)

#: Reel renderers by name (``workers.renderer``): each factory returns a function with the signature of
#: :func:`agent.jobs.pipeline.render_files`. "pipeline" is ReelTwin's own; a module named in ``workers.imports``
#: registers another (a render service on a GPU machine; the tests' fast stand-in) with ``renderers.register(name)``.
renderers: Registry = Registry("reel renderer", AgentError, ())


@renderers.register("pipeline")
def _pipeline() -> Any:
    from agent.jobs.pipeline import render_files

    return render_files


def import_extensions(settings: Settings) -> None:
    """Import the modules named in ``workers.imports`` (they register their backends); a missing one is one line."""
    import importlib

    for name in settings.workers.imports:
        try:
            importlib.import_module(name)
        except ImportError as error:
            raise AgentError(f"workers.imports: module {name!r} cannot be imported ({error}); install it, or remove it from workers.imports") from None


def reel_renderer(settings: Settings) -> Any:
    """The render function ``workers.renderer`` names (after importing ``workers.imports``)."""
    import_extensions(settings)
    try:
        return renderers.get(settings.workers.renderer)
    except AgentError as error:
        raise AgentError(f"workers.renderer: {error}; a module in workers.imports registers others") from None


class RenderJobResult(StrEnum):
    """How one render job ended (its text is what the CLI and the sweep summaries print)."""

    RENDERED = "rendered"
    FAILED = "failed"
    NOT_CLAIMED = "not claimed"
    #: media storage could not be reached; the reel is approved again for the next sweep
    POSTPONED = "postponed"


@dataclass(frozen=True)
class RenderOutcome:
    """One reel's render job: the result, why, and the video it made."""

    reel_id: int
    result: RenderJobResult
    detail: str = ""
    video: str | None = None
    #: The render's files, figures, timing and QA report (only when it rendered).
    rendered: RenderResult | None = None


def _pick(rows: list[Any], creator: Creator, what: str, command: str) -> Any:
    """The creator's own enrollment (its default, else its newest); else the one named like the handle; else the only one there is."""
    own = [row for row in rows if row.creator_id == creator.id or (row.creator_id is None and row.name == creator.handle)]
    if own:
        marked = [row for row in own if getattr(row, "is_default", False)]
        return (marked or sorted(own, key=lambda row: (row.created_at, row.id or 0)))[-1]
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


def due_for_render(session: Session, *, now: datetime, lead: timedelta) -> list[int]:
    """Approved reels whose publish time is within ``lead`` (or already passed), soonest first."""
    due = []
    for reel, slot in leases.waiting(session, leases.RENDER, now=now):
        when = leases.due_time(reel, slot) or now
        if when - now <= lead:
            due.append((when, reel.id))
    return [reel_id for _, reel_id in sorted(due)]


def render_reel(session: Session, settings: Settings, reel_id: int, *, worker: str, progress: Progress | None = None,
                claimed: bool = False) -> RenderOutcome:
    """Claim an approved reel, render it with the creator's avatar and voice, and mark it rendered (or failed, with the reason).

    With media storage in a bucket (``storage.backend = "s3"``), the avatar and voice files are fetched first when
    they were enrolled on another machine, and the reel's files are stored in the bucket before it is marked rendered,
    so any machine can serve and publish it."""
    from agent.enrollment.avatars import face_of, footage_of, local_media
    from agent.enrollment.reel_audio import audio_for_render
    from agent.enrollment.voices import profile_data
    from agent.storage import StorageUnavailable, media_storage

    reel = session.get(Reel, reel_id) if claimed else leases.claim_reel(session, leases.RENDER, reel_id, worker=worker)
    if reel is None:
        return RenderOutcome(reel_id, RenderJobResult.NOT_CLAIMED, "not approved, or another worker has it")
    creator = session.get(Creator, reel.creator_id)
    folder = Path(settings.data_dir) / "reels" / str(reel_id)
    try:
        render_files = reel_renderer(settings)
        storage = media_storage(settings)
        own_audio = audio_for_render(reel, storage)   # the creator's own recording (a stale one is refused, with the fix)
        avatar, voice = inputs_for(session, creator)
        attempt = (reel.attempts or 0) + 1
        out = folder / f"reel-v{reel.version}-a{attempt}.mp4"
        profile = profile_data(voice, storage) if voice is not None else None
        if avatar.kind == "footage":
            source: dict = {"video": local_media(avatar, storage), "footage": footage_of(avatar, storage)}
        else:
            source = {"photo": local_media(avatar, storage), "face": face_of(avatar)}
        if own_audio is not None:
            # spoken by the creator: no synthesis; the recording is aligned to the script for captions and lip sync
            out.parent.mkdir(parents=True, exist_ok=True)
            source |= {"audio": shutil.copyfile(own_audio, out.with_suffix(".voice.wav")), "audio_timings": True}
        outcome = render_files(settings, **source, out=out, text=reel.script, voice_profile=profile,
                               voice_backend=(voice.backend if voice is not None else "piper"),
                               hook_title=reel.on_screen_title or None, language=creator.language or "en", progress=progress)
        if not outcome.qa_passed:
            raise AgentError(f"the rendered reel failed QA ({outcome.qa_failures()}); see {outcome.report}")
        if storage.remote:   # stored before the reel is marked rendered: no machine sees a reel it cannot fetch
            extras = [outcome.video.with_suffix(suffix) for suffix in (".voice.wav", ".timing.json")]
            storage.put(outcome.video, outcome.cover, outcome.srt, outcome.captions_json, outcome.report,
                        *[path for path in extras if path.is_file()])
    except StorageUnavailable as error:
        # The bucket cannot be reached now: nothing is wrong with the reel; it waits approved for the next sweep.
        message = str(error)
        session.rollback()
        reel = session.get(Reel, reel_id)
        transition(session, reel, ReelStatus.APPROVED, actor=worker, reason=f"render postponed: {message}", expected=ReelStatus.RENDERING,
                   last_error=message, claimed_by=None, claimed_at=None)
        session.commit()
        log.warning("reel %d: render postponed to the next sweep: %s", reel_id, message)
        return RenderOutcome(reel_id, RenderJobResult.POSTPONED, message)
    except AgentError as error:
        message = str(error)
        session.rollback()
        reel = session.get(Reel, reel_id)
        transition(session, reel, ReelStatus.FAILED, actor=worker, reason=f"render failed: {message}", expected=ReelStatus.RENDERING,
                   last_error=message, failed_stage="render", claimed_by=None, attempts=(reel.attempts or 0) + 1)
        session.commit()
        log.error("reel %d: render failed: %s", reel_id, message)
        return RenderOutcome(reel_id, RenderJobResult.FAILED, message)
    artifacts = dict(reel.artifacts or {})
    artifacts.update({"video": str(outcome.video), "cover": str(outcome.cover), "srt": str(outcome.srt) if outcome.srt else None,
                      "captions": str(outcome.captions_json) if outcome.captions_json else None,
                      "report": str(outcome.report) if outcome.report else None, "audio": str(outcome.video.with_suffix(".voice.wav")),
                      "render_seconds": round(outcome.render_seconds, 2), "duration_s": round(outcome.duration_s, 2),
                      # what the queue page shows without fetching the report from media storage
                      "qa_verdict": "failed" if not outcome.qa_passed else "warnings" if outcome.qa.warnings else "passed",
                      "avatar": avatar.name, "avatar_kind": avatar.kind,
                      "voice": "own recording" if own_audio is not None else voice.name if voice is not None else "bundled"})
    reel = session.get(Reel, reel_id)
    transition(session, reel, ReelStatus.RENDERED, actor=worker, reason=f"rendered in {outcome.render_seconds:.0f} s",
               expected=ReelStatus.RENDERING, artifacts=artifacts, claimed_by=None, last_error=None)
    session.commit()
    remove_thumbnails(settings.data_dir, reel_id)   # of the cover of an earlier render
    log.info("reel %d: rendered %s (%.1f s of video in %.1f s)", reel_id, outcome.video, outcome.duration_s, outcome.render_seconds)
    return RenderOutcome(reel_id, RenderJobResult.RENDERED, "", str(outcome.video), rendered=outcome)


def render_due(session: Session, settings: Settings, *, worker: str, now: datetime, stopping: Event | None = None,
               limit: int = 4) -> list[RenderOutcome]:
    """The render sweep: release abandoned renders, then render approved reels that publish within the render lead time."""
    outcomes = []
    leases.release_stale(session, leases.render_stage(settings), now=now, worker=worker, reason="render abandoned by a stopped worker; rendering again")
    lead = timedelta(hours=settings.scheduler.render_lead_hours)
    for reel_id in due_for_render(session, now=now, lead=lead)[:limit]:
        if stopping is not None and stopping.is_set():
            break
        outcome = render_reel(session, settings, reel_id, worker=worker)
        for warning in outcome.rendered.warnings if outcome.rendered is not None else ():
            log.warning("reel %d: %s", reel_id, warning)  # the one place a sweep's render warnings are told (`render ID` prints them)
        outcomes.append(outcome)
    return outcomes
