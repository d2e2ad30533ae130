"""The approval queue: the functions the CLI and the web UI both call.

Each function validates everything first and changes nothing on a user error,
so ``approve 3 4 99`` with an unknown 99 leaves 3 and 4 as they were.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import case, select
from sqlmodel import Session

from agent.approval.thumbnails import remove_thumbnails
from agent.db.models import Creator, Reel, ReelEvent, ReelStatus, ScriptVersion, Slot, utcnow
from agent.db.states import EDITABLE, check_transition, transition
from agent.errors import NotFoundError, ValidationFailed

MAX_SCRIPT_CHARS = 6000
MAX_CAPTION_CHARS = 2200
MAX_FEEDBACK_CHARS = 2000
#: the hook is the first spoken line and the queue's headline; the on-screen title is drawn on the video
MAX_HOOK_CHARS = 200
MAX_TITLE_CHARS = 100
MAX_HASHTAG_CHARS = 100

# Characters no creator means to type and a reel must not carry: C0/C1 controls (NUL, ESC, ...; tab and
# newline are kept where a field has lines), bidi embeddings/overrides/isolates (they reorder what a viewer
# sees: "Trojan Source"), and the BOM/zero-width no-break space. Zero-width joiners stay: emoji need them.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufeff]")


def clean_text(value: str, *, field: str, limit: int, lines: bool = False) -> str:
    """``value`` without control and bidi-override characters, trimmed; one line unless ``lines``.
    Longer than ``limit`` characters: ValidationFailed naming the field, its length and the limit."""
    text = _CONTROLS.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))
    text = text.replace("\t", " ") if not lines else text
    text = text.strip() if lines else " ".join(text.split())
    if len(text) > limit:
        raise ValidationFailed(f"the {field} is {len(text):,} characters; keep it under {limit:,}")
    return text
#: The fields the writer composes from a script: a new script leaves them describing the old one ("stale").
STALE_FIELDS = ("hook", "on_screen_title", "caption", "hashtags")
#: How a stale field is named to a person.
FIELD_LABELS = {"hook": "hook", "on_screen_title": "on-screen title", "caption": "caption", "hashtags": "hashtags"}


class NothingChanged(ValidationFailed):
    """An edit identical to the current version: nothing is saved."""


class StaleFieldsError(ValidationFailed):
    """Approving a reel whose hook, title, caption or hashtags were written for an earlier script."""

    def __init__(self, reel_id: int, fields: list[str]):
        self.reel_id, self.fields = reel_id, list(fields)
        names = ", ".join(FIELD_LABELS[name] for name in self.fields)
        super().__init__(f"reel {reel_id}: {names} still describe the earlier script; fix them with `reeltwin edit {reel_id} --caption/--title/--hashtags/--hook`, "
                         f"or approve with `--keep-stale` to keep them")


def word_count(text: str) -> int:
    return len(re.findall(r"\b[\w'’-]+\b", text))


def word_budget(reel_length_s: int, words_per_minute: int) -> int:
    """How many spoken words fit in a reel of this length."""
    return round(reel_length_s * words_per_minute / 60)


@dataclass(frozen=True)
class QueueItem:
    reel: Reel
    slot: Slot | None
    creator: Creator


def missing_reel(reel_id: int) -> NotFoundError:
    """The error for a reel id that names no reel (the web answers a reel it does not show with the same one)."""
    return NotFoundError(f"reel {reel_id} does not exist; list reels with `reeltwin queue`")


def get_reel(session: Session, reel_id: int) -> Reel:
    reel = session.get(Reel, reel_id)
    if reel is None:
        raise missing_reel(reel_id)
    session.refresh(reel)
    return reel


def stale_fields(reel: Reel) -> list[str]:
    """The fields written for an earlier script (stored in ``reel.artifacts["stale_fields"]``, no column of its own)."""
    marked = (reel.artifacts or {}).get("stale_fields") or []
    return [name for name in STALE_FIELDS if name in marked]


def draft_warnings(reel: Reel) -> list[str]:
    """What the drafting checks still found wrong with the model's draft ("off brief: missing …"), for the queue and show."""
    return [str(w) for w in ((reel.artifacts or {}).get("draft_warnings") or [])]


def _with_stale(artifacts: dict | None, fields: set[str]) -> dict:
    """A copy of ``artifacts`` with the stale set replaced (a new dict, so the JSON column is written)."""
    updated = {key: value for key, value in (artifacts or {}).items() if key != "stale_fields"}
    if fields:
        updated["stale_fields"] = [name for name in STALE_FIELDS if name in fields]
    return updated


def list_queue(session: Session, status: ReelStatus | None = None, *, handles: Collection[str] | None = None) -> list[QueueItem]:
    """Reels waiting for the creator first, then the rest by slot time; only those of ``handles`` when given."""
    query = select(Reel, Slot, Creator).join(Creator, Reel.creator_id == Creator.id).outerjoin(Slot, Reel.slot_id == Slot.id)
    if handles is not None:
        query = query.where(Creator.handle.in_(sorted(handles)))
    if status is not None:
        query = query.where(Reel.status == status)
    waiting_first = case((Reel.status == ReelStatus.DRAFTED, 0), else_=1)
    query = query.order_by(waiting_first, Slot.scheduled_at.is_(None), Slot.scheduled_at, Reel.id)
    return [QueueItem(reel, slot, creator) for reel, slot, creator in session.execute(query).all()]


def versions(session: Session, reel_id: int) -> list[ScriptVersion]:
    return list(session.execute(select(ScriptVersion).where(ScriptVersion.reel_id == reel_id).order_by(ScriptVersion.version)).scalars())


def events(session: Session, reel_id: int) -> list[ReelEvent]:
    return list(session.execute(select(ReelEvent).where(ReelEvent.reel_id == reel_id).order_by(ReelEvent.at, ReelEvent.id)).scalars())


def add_draft(
    session: Session,
    creator: Creator,
    *,
    slot: Slot | None,
    script: str,
    hook: str = "",
    on_screen_title: str = "",
    caption: str = "",
    hashtags: list[str] | None = None,
    cta: str = "",
    source: str = "llm",
    author: str = "drafting",
    note: str | None = None,
) -> Reel:
    """A new reel in ``drafted`` with its first script version; the caller commits."""
    fields: dict[str, Any] = dict(hook=_fit(hook, MAX_HOOK_CHARS), script=_clean_script(script), on_screen_title=_fit(on_screen_title, MAX_TITLE_CHARS),
                                  caption=_clean_caption(caption), hashtags=list(hashtags or []), cta=_fit(cta, MAX_HOOK_CHARS))
    reel = Reel(creator_id=creator.id, slot_id=slot.id if slot else None, status=ReelStatus.DRAFTED, version=1, **fields)
    session.add(reel)
    session.flush()
    session.add(ScriptVersion(reel_id=reel.id, version=1, source=source, author=author, note=note, **fields))
    session.add(ReelEvent(reel_id=reel.id, from_status=None, to_status=ReelStatus.DRAFTED.value, actor=author, reason=note or "drafted"))
    session.flush()
    return reel


def redraft(session: Session, reel_id: int, *, author: str, note: str | None = None, **fields: Any) -> Reel:
    """A rejected reel gets new words from the drafting stage: a new version, back to ``drafted``; commits."""
    reel = get_reel(session, reel_id)
    fields = dict(fields, script=_clean_script(fields["script"]), caption=_clean_caption(fields.get("caption", "")))
    for key, limit in (("hook", MAX_HOOK_CHARS), ("on_screen_title", MAX_TITLE_CHARS), ("cta", MAX_HOOK_CHARS)):
        if key in fields:
            fields[key] = _fit(fields[key], limit)
    new_version = reel.version + 1
    session.add(ScriptVersion(reel_id=reel.id, version=new_version, source="llm", author=author, note=note,
                              **{key: fields.get(key, getattr(reel, key)) for key in ("hook", "script", "on_screen_title", "caption", "hashtags", "cta")}))
    fields.setdefault("artifacts", _with_stale(reel.artifacts, set()))  # the writer wrote every field for this script
    transition(session, reel, ReelStatus.DRAFTED, actor=author, reason="redrafted from the creator's feedback", expected=ReelStatus.REJECTED, version=new_version, **fields)
    session.commit()
    return get_reel(session, reel_id)


def approve(session: Session, reel_ids: list[int], *, actor: str = "creator", keep_stale: bool = False) -> list[tuple[int, str]]:
    """Approve drafted reels; all or nothing. Returns (id, "approved" | "already approved") pairs.

    A reel with stale fields (see :func:`stale_fields`) is refused with :class:`StaleFieldsError`
    unless ``keep_stale``: then the creator has looked at them, and the marks are cleared.
    """
    reels = [get_reel(session, reel_id) for reel_id in dict.fromkeys(reel_ids)]
    outcome = []
    for reel in reels:
        if ReelStatus(reel.status) == ReelStatus.APPROVED:
            outcome.append((reel.id, "already approved"))
            continue
        if not reel.script.strip():
            raise ValidationFailed(f"reel {reel.id}: has no script; write one with `reeltwin edit {reel.id}` first")
        check_transition(reel.status, ReelStatus.APPROVED, reel.id)
        if (stale := stale_fields(reel)) and not keep_stale:
            raise StaleFieldsError(reel.id, stale)
        outcome.append((reel.id, "approved"))
    now = utcnow()
    for reel, (_id, result) in zip(reels, outcome):
        if result == "approved":
            stale = stale_fields(reel)
            reason = "approved" + (f"; kept {', '.join(FIELD_LABELS[name] for name in stale)} from the earlier script" if stale else "")
            extra = {"artifacts": _with_stale(reel.artifacts, set())} if stale else {}
            transition(session, reel, ReelStatus.APPROVED, actor=actor, reason=reason, approved_at=now, approved_by=actor, **extra)
    session.commit()
    return outcome


#: What to do instead when ``retry`` is asked for a reel that has not failed.
_NOT_FAILED_HINTS = {
    ReelStatus.DRAFTED: "approve it first (`reeltwin approve {id}`)",
    ReelStatus.APPROVED: "it waits for its render; `reeltwin render {id}` renders it now",
    ReelStatus.RENDERING: "a worker is rendering it; wait for the result",
    ReelStatus.RENDERED: "it waits for its slot; `reeltwin publish {id}` posts it now",
    ReelStatus.PUBLISHING: "a publisher is posting it; wait for the result",
    ReelStatus.PUBLISHED: "it is already published",
    ReelStatus.REJECTED: "the next `reeltwin draft` writes a new version from your feedback",
    ReelStatus.SKIPPED: "it was skipped and will not be posted",
}


def retry(session: Session, reel_id: int, *, actor: str = "creator") -> Reel:
    """A failed reel goes back to the step that failed: rendering (approved) or publishing (rendered)."""
    reel = get_reel(session, reel_id)
    status = ReelStatus(reel.status)
    if status != ReelStatus.FAILED:
        hint = _NOT_FAILED_HINTS[status].format(id=reel.id)
        raise ValidationFailed(f"reel {reel.id}: is {status.value}, not failed, so there is nothing to retry; {hint}")
    target = ReelStatus.RENDERED if reel.failed_stage == "publish" else ReelStatus.APPROVED
    transition(session, reel, target, actor=actor, reason=f"retry after: {reel.last_error or 'failure'}", next_attempt_at=None)
    session.commit()
    return get_reel(session, reel_id)


def reject(session: Session, reel_id: int, feedback: str, *, actor: str = "creator", data_dir: Path | None = None) -> Reel:
    """Reject with feedback; the drafting stage writes a new version from it. With ``data_dir``, the queue's cached
    thumbnail of the cover of its render, if it had one, goes too (the render is no longer the reel's)."""
    if len(feedback) > 4 * MAX_FEEDBACK_CHARS:
        raise ValidationFailed(f"feedback is {len(feedback):,} characters; keep it under {MAX_FEEDBACK_CHARS:,}")
    feedback = clean_text(feedback, field="feedback", limit=4 * MAX_FEEDBACK_CHARS)
    if not feedback:
        raise ValidationFailed("--feedback is empty; say what to change, e.g. --feedback 'shorter hook, less jargon'")
    if len(feedback) > MAX_FEEDBACK_CHARS:
        raise ValidationFailed(f"feedback is {len(feedback)} characters; keep it under {MAX_FEEDBACK_CHARS}")
    reel = get_reel(session, reel_id)
    transition(session, reel, ReelStatus.REJECTED, actor=actor, reason=feedback, feedback=feedback)
    session.commit()
    if data_dir is not None:
        remove_thumbnails(data_dir, reel_id)
    return get_reel(session, reel_id)


def edit(
    session: Session,
    reel_id: int,
    *,
    script: str | None = None,
    caption: str | None = None,
    hashtags: list[str] | None = None,
    on_screen_title: str | None = None,
    hook: str | None = None,
    actor: str = "creator",
    note: str | None = None,
    words_per_minute: int = 150,
) -> tuple[Reel, list[str]]:
    """Save an edit as a new version (the old ones stay). Returns the reel and warnings.

    An edit of an approved or rendered reel sends it back to ``drafted``: the
    creator approves the words that will actually be spoken.
    """
    reel = get_reel(session, reel_id)
    status = ReelStatus(reel.status)
    if status not in EDITABLE:
        raise ValidationFailed(f"reel {reel_id}: is {status.value}; only {', '.join(sorted(s.value for s in EDITABLE))} reels can be edited")
    changes: dict[str, Any] = {}
    if script is not None:
        changes["script"] = _clean_script(script)
    if caption is not None:
        changes["caption"] = _clean_caption(caption)
    if hashtags is not None:
        changes["hashtags"] = clean_hashtags(hashtags)
    if on_screen_title is not None:
        changes["on_screen_title"] = clean_text(on_screen_title, field="on-screen title", limit=MAX_TITLE_CHARS)
    if hook is not None:
        changes["hook"] = clean_text(hook, field="hook", limit=MAX_HOOK_CHARS)
    if not changes:
        raise ValidationFailed("nothing to change; pass --script-file (or edit in your $EDITOR)")
    current = {key: getattr(reel, key) for key in changes}
    if current == changes:
        raise NothingChanged(f"reel {reel_id}: the edit is identical to version {reel.version}; nothing saved")

    creator = session.get(Creator, reel.creator_id)
    warnings = []
    if "script" in changes and creator is not None:
        budget = word_budget(creator.reel_length_s, words_per_minute)
        words = word_count(changes["script"])
        if words > budget * 1.15:
            warnings.append(f"script has {words} words; about {budget} fit in {creator.reel_length_s} s")

    # A new script leaves the fields written for the old one stale; a field edited itself is fresh again.
    stale = set(stale_fields(reel))
    if "script" in changes and changes["script"] != current["script"]:
        stale |= set(STALE_FIELDS)
    stale -= {key for key, value in changes.items() if value != current[key]}
    fields = {key: getattr(reel, key) for key in ("hook", "script", "on_screen_title", "caption", "hashtags", "cta")} | changes
    stale = {name for name in stale if fields[name]}  # an empty field describes nothing
    base_artifacts = dict(reel.artifacts or {})
    if "script" in changes and changes["script"] != current["script"]:
        base_artifacts.pop("draft_warnings", None)   # they were about the model's words, which the creator replaced
    new_version = reel.version + 1
    session.add(ScriptVersion(reel_id=reel.id, version=new_version, source="edit", author=actor, note=note, **fields))
    if status != ReelStatus.DRAFTED:
        reason = "edited; approve again" if status in (ReelStatus.APPROVED, ReelStatus.RENDERED, ReelStatus.FAILED) else "edited by the creator"
        # the creator's own recording stays (stale once the script changed: the render refuses it until recorded again)
        kept = {key: value for key, value in base_artifacts.items() if key in ("draft_warnings", "own_audio")}
        transition(session, reel, ReelStatus.DRAFTED, actor=actor, reason=reason, version=new_version, artifacts=_with_stale(kept, stale), **changes)
    else:
        for key, value in changes.items():
            setattr(reel, key, value)
        reel.artifacts = _with_stale(base_artifacts, stale)
        reel.version = new_version
        reel.updated_at = utcnow()
    session.commit()
    return get_reel(session, reel_id), warnings


def _fit(value: str | None, limit: int) -> str:
    """A drafted one-line field, cleaned and cut at a word to ``limit`` (a model's overlong title is shortened, not refused)."""
    text = " ".join(_CONTROLS.sub("", value or "").split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] if " " in text[:limit] else text[:limit]
    return cut.rstrip(" ,;:-")


def _clean_script(script: str) -> str:
    if len(script) > 4 * MAX_SCRIPT_CHARS:   # refused before any cleaning work on a huge paste
        raise ValidationFailed(f"the script is {len(script):,} characters; keep it under {MAX_SCRIPT_CHARS:,} (a reel is at most 90 s)")
    text = clean_text(script, field="script", limit=4 * MAX_SCRIPT_CHARS, lines=True)
    if not text:
        raise ValidationFailed("the script is empty; write the words the creator should say")
    if len(text) > MAX_SCRIPT_CHARS:
        raise ValidationFailed(f"the script is {len(text)} characters; keep it under {MAX_SCRIPT_CHARS} (a reel is at most 90 s)")
    return text


def _clean_caption(caption: str) -> str:
    text = clean_text(caption, field="caption", limit=4 * MAX_CAPTION_CHARS, lines=True)
    if len(text) > MAX_CAPTION_CHARS:
        raise ValidationFailed(f"the caption is {len(text)} characters; Instagram allows {MAX_CAPTION_CHARS}")
    return text


def clean_hashtags(tags: list[str], limit: int = 30) -> list[str]:
    cleaned: list[str] = []
    if len(tags) > 10 * limit:
        raise ValidationFailed(f"{len(tags):,} hashtags; Instagram allows at most {limit}")
    for tag in tags:
        tag = "#" + _CONTROLS.sub("", str(tag)).strip().lstrip("#")
        if len(tag) > MAX_HASHTAG_CHARS + 1:
            raise ValidationFailed(f"a hashtag of {len(tag):,} characters; keep each under {MAX_HASHTAG_CHARS}")
        if not re.fullmatch(r"#\w{1,100}", tag):
            raise ValidationFailed(f"{tag!r} is not a hashtag; use letters, digits and _ only")
        if tag.lower() not in (existing.lower() for existing in cleaned):
            cleaned.append(tag)
    if len(cleaned) > limit:
        raise ValidationFailed(f"{len(cleaned)} hashtags; Instagram allows at most {limit}")
    return cleaned
