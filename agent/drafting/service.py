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
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from agent.content_calendar.changes import record_addition
from agent.content_calendar.peaks import peak_time_for
from agent.content_calendar.planner import chunks as planner_chunks
from agent.content_calendar.planner import sync_plans_or_one_by_one
from agent.content_calendar.schema import Calendar
from agent.content_calendar.slots import expand
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


def find_work(session: Session, calendars: list[Calendar], *, now: datetime, days: int, paths: dict[str, str] | None = None,
              planned: Collection[str] = frozenset()) -> list[WorkItem]:
    """Slots in the next ``days`` days with no live reel, and rejected reels to redraft: per calendar (in the order given)
    its slots in time order, then its ad-hoc rejected reels (oldest first).

    Each calendar is planned first (:func:`sync_plans` in chunks, one by one where another process collided), except
    the handles in ``planned``: their plan is current (the scheduler's plan sweep planned them since their calendar
    last changed, reaching past ``days``), so the slots in the database are the plan. The work is then read with a
    few queries for many creators at once (per planned chunk; for the ``planned`` ones, all of them together): with
    thousands of creators a draft sweep takes a second, not a minute. The same result as planning and reading each
    calendar on its own (see tests/test_draft_bulk.py)."""
    found: dict[int, list[WorkItem]] = {}
    end = now + timedelta(days=days)
    # Planning one creator never changes another's rows: the planned ones are read before the others are planned.
    current = [(index, calendar) for index, calendar in enumerate(calendars) if calendar.handle in planned]
    if current:
        found.update(_read_work(session, current, now=now, days=days, end=end))
    todo = [(index, calendar) for index, calendar in enumerate(calendars) if calendar.handle not in planned]
    # A handle at most once per chunk: two files naming it are planned and read one after the other, as one by one.
    start = 0
    for chunk in planner_chunks([(calendar, (paths or {}).get(calendar.handle)) for _index, calendar in todo]):   # in order
        entries, start = todo[start:start + len(chunk)], start + len(chunk)
        reports = sync_plans_or_one_by_one(session, chunk, now=now, days=days, logger=log)
        # A calendar whose plan collided with another process is left out: the next sweep converges.
        found.update(_read_work(session, [entry for entry, report in zip(entries, reports) if report is not None], now=now, days=days, end=end))
    return [item for index in range(len(calendars)) for item in found.get(index, [])]


#: Above this many handles, :func:`_read_work` reads the open slots of every creator with one query (and keeps the
#: wanted ones) instead of naming the handles: one statement, planned once, instead of one per chunk of handles.
READ_ALL_ABOVE = 400


def _read_work(session: Session, entries: list[tuple[int, Calendar]], *, now: datetime, days: int, end: datetime) -> dict[int, list[WorkItem]]:
    """The work of planned calendars (``(place, calendar)`` pairs), by place: two queries, a third where a slot is in doubt.

    A slot needs a draft when no reel on it is live (rejected ones aside); the last rejected one is redrafted. Planning
    leaves in the window only the plan's slots, committed slots (never open) and slots that left the calendar, kept for
    their skipped drafts with their brief taken back: so an open slot with reels on it but no brief is looked up in the
    plan (rare: only then is its calendar expanded here, as the planner did)."""
    if not entries:
        return {}
    creators, reels = Creator.__table__, Reel.__table__
    handles = {calendar.handle for _index, calendar in entries}
    busy = [status.value for status in LIVE if status != ReelStatus.REJECTED]
    rejected = ReelStatus.REJECTED.value
    live = reels.alias("live")
    # The open slots in the window with the reels on them (rejected or skipped ones: no live reel is on an open slot).
    query = (
        select(Slot, creators.c.handle, reels.c.id.label("reel_id"), reels.c.status.label("reel_status"))
        .join(creators, creators.c.id == Slot.creator_id)
        .outerjoin(reels, reels.c.slot_id == Slot.id)
        .where(Slot.scheduled_at >= now, Slot.scheduled_at < end,
               ~exists().where(live.c.slot_id == Slot.id, live.c.status.in_(busy)).correlate(Slot))
        .order_by(Slot.creator_id, Slot.scheduled_at, Slot.id, reels.c.id)
        .execution_options(populate_existing=True)   # what planning just wrote in bulk, not what this session saw before
    )
    ad_hoc_query = (select(reels.c.id, creators.c.handle).join(creators, creators.c.id == reels.c.creator_id)
                    .where(reels.c.slot_id.is_(None), reels.c.status == rejected).order_by(reels.c.id))
    if len(handles) <= READ_ALL_ABOVE:
        query, ad_hoc_query = query.where(creators.c.handle.in_(handles)), ad_hoc_query.where(creators.c.handle.in_(handles))
    open_slots: dict[str, dict[str, list[Any]]] = {}   # handle -> slot id -> [slot, last rejected reel, has reels]
    for slot, handle, reel_id, reel_status in session.execute(query):
        if handle not in handles:
            continue
        entry = open_slots.setdefault(handle, {}).setdefault(slot.id, [slot, None, False])
        if reel_id is not None:
            entry[2] = True
            if reel_status == rejected:
                entry[1] = reel_id
    ad_hoc: dict[str, list[int]] = {}
    for reel_id, handle in session.execute(ad_hoc_query):
        if handle in handles:
            ad_hoc.setdefault(handle, []).append(reel_id)
    # An open slot with reels on it (rejected or skipped ones) and no brief: in the plan, or a slot that left it?
    unsure = {handle for handle, by_id in open_slots.items() if any(has_reels and slot.brief_key is None for slot, _r, has_reels in by_id.values())}
    audiences = dict(session.execute(select(creators.c.handle, creators.c.audience).where(creators.c.handle.in_(unsure))).all()) if unsure else {}
    found: dict[int, list[WorkItem]] = {}
    for index, calendar in entries:
        by_id = open_slots.get(calendar.handle, {})
        in_plan: set[str] = set()
        if calendar.handle in unsure:
            peak_time = peak_time_for(calendar, now, days, audience=audiences.get(calendar.handle))
            in_plan = {slot.slot_id for slot in expand(calendar, now, end, peak_time=peak_time)}
        work = [WorkItem(calendar, slot, reel_id=last_rejected) for slot, last_rejected, has_reels in by_id.values()
                if not has_reels or slot.brief_key is not None or slot.id in in_plan]
        work.extend(WorkItem(calendar, None, reel_id=reel_id) for reel_id in ad_hoc.get(calendar.handle, []))
        found[index] = work
    return found


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

