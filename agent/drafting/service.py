"""Drafting against the database: which slots need a draft, and storing what the model wrote.

Idempotent: a slot with a live reel is never drafted again, so `reeltwin draft`
twice drafts once; a rejected reel is redrafted in place (a new version, the
feedback in the prompt). A failure leaves the slot open and everything else as
it was. Each slot gets ``drafting.max_seconds``; what is still wrong with a kept
draft is stored in ``reel.artifacts["draft_warnings"]``.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from agent.content_calendar.changes import record_addition
from agent.content_calendar.planner import sync_plan
from agent.content_calendar.schema import Calendar
from agent.db.models import Creator, Reel, ReelStatus, Slot, VoiceProfile, utcnow
from agent.db.states import LIVE, ConcurrentChangeError
from agent.drafting.assembly import method_for, write
from agent.drafting.base import Draft, DraftingError, DraftRequest
from agent.drafting.provider import DEFAULT_OPENAI_MODEL, EMBEDDED_MODEL, ChatProvider, ProviderConfig
from agent.approval.queue import add_draft, redraft, word_budget
from agent.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkItem:
    calendar: Calendar
    slot: Slot | None
    reel_id: int | None = None         # set: redraft this rejected reel
    topic: str | None = None           # ad-hoc reel


class DraftResult(StrEnum):
    """How drafting one slot (or rejected reel) ended (its text is what the CLI and the logs print)."""

    DRAFTED = "drafted"
    REDRAFTED = "redrafted"
    FAILED = "failed"
    ALREADY_DRAFTED = "already drafted"


@dataclass
class DraftOutcome:
    handle: str
    slot_id: str | None
    reel_id: int | None
    result: DraftResult
    seconds: float = 0.0
    attempts: int = 0
    first_try_valid: bool = False
    words: int = 0
    warnings: list[str] = field(default_factory=list)
    error: str | None = None


@contextmanager
def open_provider(settings: Settings) -> Iterator[ChatProvider]:
    """The configured provider; for the embedded one, a local server that lives as long as the block."""
    drafting = settings.drafting
    if drafting.provider == "embedded":
        from agent.drafting.local_server import LocalLLMServer, embedded_model_path

        path = embedded_model_path(drafting.embedded_model_path)
        with LocalLLMServer(path, settings.data_dir / "logs" / "llm-server.log", threads=settings.drafting.embedded_threads or None) as server:
            yield ChatProvider(ProviderConfig(
                base_url=server.base_url, api_key=None, model=EMBEDDED_MODEL, temperature=drafting.temperature,
                timeout_s=drafting.timeout_s, max_retries=drafting.max_retries, response_format=drafting.response_format, embedded=True,
                seed=drafting.seed,
            ))
        return
    yield ChatProvider(ProviderConfig(
        base_url=drafting.base_url, api_key=drafting.api_key.get_secret_value() if drafting.api_key else None,
        model=drafting.model or DEFAULT_OPENAI_MODEL, temperature=drafting.temperature, timeout_s=drafting.timeout_s,
        max_retries=drafting.max_retries, response_format=drafting.response_format, seed=drafting.seed,
    ))


def find_work(session: Session, calendars: list[Calendar], *, now: datetime, days: int, paths: dict[str, str] | None = None) -> list[WorkItem]:
    """Slots in the next ``days`` days with no live reel, and rejected reels to redraft, in time order."""
    work: list[WorkItem] = []
    for calendar in calendars:
        report = sync_plan(session, calendar, now=now, days=days, path=(paths or {}).get(calendar.handle))
        slot_ids = [slot.id for slot in report.slots]
        reels = list(session.execute(select(Reel).where(Reel.slot_id.in_(slot_ids)).order_by(Reel.id)).scalars()) if slot_ids else []
        by_slot: dict[str, list[Reel]] = {}
        for reel in reels:
            by_slot.setdefault(reel.slot_id, []).append(reel)
        for slot in report.slots:
            on_slot = by_slot.get(slot.id, [])
            rejected = [reel for reel in on_slot if ReelStatus(reel.status) == ReelStatus.REJECTED]
            if any(ReelStatus(reel.status) in LIVE and ReelStatus(reel.status) != ReelStatus.REJECTED for reel in on_slot):
                continue
            work.append(WorkItem(calendar, slot, reel_id=rejected[-1].id if rejected else None))
        creator = session.execute(select(Creator).where(Creator.handle == calendar.handle)).scalar_one()
        ad_hoc = session.execute(select(Reel).where(Reel.creator_id == creator.id, Reel.slot_id.is_(None), Reel.status == ReelStatus.REJECTED)).scalars()
        work.extend(WorkItem(calendar, None, reel_id=reel.id) for reel in ad_hoc)
    return work


def work_key(item: WorkItem) -> str:
    """What names a piece of drafting work across processes: the slot's id, or ``reel:<id>`` for an ad-hoc rejected reel."""
    return item.slot.id if item.slot is not None else f"reel:{item.reel_id}"


def work_for(session: Session, calendar: Calendar, key: str) -> WorkItem | None:
    """The work ``key`` (see :func:`work_key`) names, if it still needs a draft now: a slot of this creator with no live
    reel (or with a rejected one to redraft), or an ad-hoc reel still rejected. None when done, gone or not theirs:
    a queue delivers a task late or twice, and this check (with the worker's lock) makes that harmless."""
    creator = session.execute(select(Creator).where(Creator.handle == calendar.handle)).scalar_one_or_none()
    if creator is None:
        return None
    if key.startswith("reel:"):
        try:
            reel = session.get(Reel, int(key.removeprefix("reel:")))
        except ValueError:
            return None
        if reel is None or reel.creator_id != creator.id or reel.slot_id is not None or ReelStatus(reel.status) != ReelStatus.REJECTED:
            return None
        return WorkItem(calendar, None, reel_id=reel.id)
    slot = session.get(Slot, key)
    if slot is None or slot.creator_id != creator.id or slot.scheduled_at <= utcnow():
        return None
    on_slot = list(session.execute(select(Reel).where(Reel.slot_id == slot.id).order_by(Reel.id)).scalars())
    if any(ReelStatus(reel.status) in LIVE and ReelStatus(reel.status) != ReelStatus.REJECTED for reel in on_slot):
        return None
    rejected = [reel for reel in on_slot if ReelStatus(reel.status) == ReelStatus.REJECTED]
    if on_slot and not rejected and slot.brief_key is None:
        return None   # the slot left the calendar: the planner skipped its draft and kept it only as history
    return WorkItem(calendar, slot, reel_id=rejected[-1].id if rejected else None)


def build_request(session: Session, settings: Settings, item: WorkItem) -> DraftRequest:
    calendar = item.calendar
    creator = session.execute(select(Creator).where(Creator.handle == calendar.handle)).scalar_one()
    pillar_name = item.slot.pillar if item.slot else None
    pillar = next((p for p in calendar.pillars if p.name == pillar_name), None)
    if pillar is None and item.topic is None and item.reel_id is None:
        pillar = max(calendar.pillars, key=lambda p: p.weight)
    profile = session.execute(
        select(VoiceProfile).where(VoiceProfile.creator_id == creator.id, VoiceProfile.words_per_minute.is_not(None)).order_by(VoiceProfile.id.desc())
    ).scalars().first()
    words_per_minute = round(profile.words_per_minute) if profile else settings.drafting.words_per_minute
    recent = session.execute(
        select(Reel.hook).where(Reel.creator_id == creator.id, Reel.hook != "", Reel.status != ReelStatus.SKIPPED).order_by(Reel.id.desc()).limit(8)
    ).scalars()
    covered = session.execute(
        select(Slot.brief).join(Reel, Reel.slot_id == Slot.id)
        .where(Reel.creator_id == creator.id, Slot.brief.is_not(None), Reel.status != ReelStatus.SKIPPED)
        .order_by(Reel.id.desc()).limit(8)
    ).scalars()
    feedback = previous = None
    if item.reel_id is not None:
        reel = session.get(Reel, item.reel_id)
        feedback, previous = reel.feedback, reel.script
    entry = calendar.entry_for(item.slot.brief_key) if item.slot and item.topic is None else None
    return DraftRequest(
        handle=calendar.handle,
        language=calendar.language,
        persona={key: value for key, value in calendar.persona.model_dump().items() if key != "avoid_words"},
        pillar=pillar.name if pillar else None,
        pillar_description=pillar.description if pillar else "",
        example_topics=list(pillar.example_topics) if pillar else [],
        brief=item.topic or (item.slot.brief if item.slot else None),
        call_to_action=calendar.call_to_action,
        word_budget=word_budget(calendar.reel_length_s, words_per_minute),
        hashtag_set=list(calendar.hashtags.sets.get(pillar.name, [])) if pillar else [],
        max_hashtags=calendar.hashtags.max_per_post,
        avoid_words=list(calendar.persona.avoid_words),
        recent_hooks=[hook for hook in recent if hook],
        recent_topics=[brief for brief in covered if brief and brief != (item.slot.brief if item.slot else None)],
        feedback=feedback,
        previous_script=previous,
        points=list(entry.points) if entry else [],
        must_say=list(entry.must_say) if entry else [],
        best_hooks=[example["hook"] for example in best_examples(session, creator.id) if example["hook"]],
    )


def best_examples(session: Session, creator_id: int) -> list[dict]:
    from agent.jobs.insights import best_examples as ranked

    return ranked(session, creator_id)


def store(session: Session, item: WorkItem, draft: Draft, request: DraftRequest) -> DraftOutcome:
    """Save the draft; if another process drafted the slot meanwhile, keep theirs."""
    creator = session.execute(select(Creator).where(Creator.handle == item.calendar.handle)).scalar_one()
    fields = dict(hook=draft.hook, script=draft.script, on_screen_title=draft.on_screen_title, caption=draft.caption, hashtags=draft.hashtags, cta=draft.cta)
    note = f"{draft.model}: {draft.attempts} attempt(s), {draft.seconds:.1f} s" + ("; trimmed to the word budget" if draft.trimmed else "")
    outcome = DraftOutcome(handle=creator.handle, slot_id=item.slot.id if item.slot else None, reel_id=item.reel_id, result=DraftResult.DRAFTED,
                           seconds=draft.seconds, attempts=draft.attempts, first_try_valid=draft.first_try_valid,
                           words=len(draft.script.split()), warnings=list(draft.warnings))
    try:
        if item.reel_id is not None:
            # The new words replace the old warnings; stale marks go too (the writer wrote every field for this script).
            kept = {key: value for key, value in (session.get(Reel, item.reel_id).artifacts or {}).items() if key not in ("stale_fields", "draft_warnings")}
            redraft(session, item.reel_id, author=f"drafting:{draft.model}", note=f"from feedback: {request.feedback}; {note}",
                    artifacts=with_warnings(kept, draft.warnings), **fields)
            outcome.result = DraftResult.REDRAFTED
        else:
            reel = add_draft(session, creator, slot=item.slot, source="llm", author=f"drafting:{draft.model}", note=note, **fields)
            reel.artifacts = with_warnings(reel.artifacts, draft.warnings)
            record_addition(session, item.calendar, reel)
            session.commit()
            outcome.reel_id = reel.id
    except (IntegrityError, ConcurrentChangeError):
        session.rollback()
        outcome.result = DraftResult.ALREADY_DRAFTED
    return outcome


def with_warnings(artifacts: dict | None, warnings: list[str]) -> dict:
    """A copy of a reel's ``artifacts`` with ``draft_warnings`` (what is still wrong with the draft, shown on the queue
    card and by ``reeltwin show``) replaced; a new dict, so the JSON column is written."""
    updated = {key: value for key, value in (artifacts or {}).items() if key != "draft_warnings"}
    if warnings:
        updated["draft_warnings"] = [warning[:300] for warning in warnings]
    return updated


def draft_all(
    session: Session,
    settings: Settings,
    provider: ChatProvider,
    work: list[WorkItem],
    *,
    on_done: Callable[[DraftOutcome], None] | None = None,
) -> list[DraftOutcome]:
    outcomes = []
    for item in work:
        request = build_request(session, settings, item)
        try:
            budget = settings.drafting.max_seconds
            deadline = time.monotonic() + budget   # bounds the request in flight too, not only new attempts
            # The embedded small model assembles the script from the brief's points; hosted models write it whole.
            draft = write(request, functools.partial(provider.complete, deadline=deadline), method=method_for(embedded=provider.config.embedded),
                          max_attempts=settings.drafting.max_attempts, model_name=provider.config.model, max_seconds=budget)
        except DraftingError as error:
            session.rollback()
            outcome = DraftOutcome(handle=item.calendar.handle, slot_id=item.slot.id if item.slot else None, reel_id=item.reel_id, result=DraftResult.FAILED, error=str(error))
            log.warning("@%s %s: %s", item.calendar.handle, item.slot.id if item.slot else "ad hoc", error)
        else:
            outcome = store(session, item, draft, request)
        outcomes.append(outcome)
        if on_done is not None:
            on_done(outcome)
    return outcomes

