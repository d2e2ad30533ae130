"""The approval queue and one reel's page: approve, edit, reject (redrafted in the background) and retry."""

from functools import partial
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from agent.approval.queue import (
    FIELD_LABELS, MAX_CAPTION_CHARS, NothingChanged, StaleFieldsError, approve, edit, events, get_reel, list_queue, reject, retry, stale_fields, versions, draft_warnings,
    word_budget, word_count,
)
from agent.db.models import Creator, Reel, ReelStatus, Slot
from agent.errors import AgentError, InvalidTransitionError, ValidationFailed
from agent.settings import Settings
from agent.storage import MediaStorage, StorageError, media_storage
from agent.web.deps import CsrfChecked, DrafterDep, OwnReelId, SentFields, SessionDep, SettingsDep, Viewer, WebUser, flash, redirect_back, render_page
from agent.web.drafter import BackgroundDrafter
from agent.web.messages import actor_label, check_rows, error_message

#: The fields of the reel page's form, in the order the page shows them.
FORM_FIELDS = ("script", "hook", "on_screen_title", "caption", "hashtags")

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
def queue_page(request: Request, db: SessionDep, user: Viewer, drafter: DrafterDep, status: str | None = None) -> HTMLResponse:
    return render_page(request, "queue.html", **queue_context(db, user, drafter, status))


def queue_context(db: Session, user: WebUser, drafter: BackgroundDrafter, status: str | None) -> dict[str, Any]:
    """What queue.html shows: the reels waiting for the user first, then the others (not the skipped ones)."""
    from agent.web.reel_preview import thumb_url

    chosen = ReelStatus(status) if status in {s.value for s in ReelStatus} else None
    items = list_queue(db, chosen, handles=user.handles)
    waiting = [item for item in items if item.reel.status == ReelStatus.DRAFTED]
    others = [item for item in items if item.reel.status not in (ReelStatus.DRAFTED, ReelStatus.SKIPPED)]
    return dict(waiting=waiting, others=others, word_count=word_count, status=chosen, drafting=drafter.busy(), thumb_url=thumb_url,
                stale_fields=stale_fields, draft_warnings=draft_warnings, qa={item.reel.id: qa_verdict(item.reel) for item in items})


@router.get("/reels/{reel_id}", response_class=HTMLResponse)
def reel_page(request: Request, reel_id: OwnReelId, db: SessionDep, user: Viewer, settings: SettingsDep) -> HTMLResponse:
    return render_page(request, "reel.html", **reel_context(db, reel_id, settings, user.name))


@router.post("/reels/{reel_id}/approve", dependencies=[CsrfChecked])
def approve_reel(
    request: Request, reel_id: OwnReelId, db: SessionDep, user: Viewer, settings: SettingsDep, sent: SentFields,
    next: Annotated[str, Form()] = "", keep_stale: Annotated[str, Form()] = "",  # noqa: A002
    script: Annotated[str, Form()] = "", hook: Annotated[str, Form()] = "", on_screen_title: Annotated[str, Form()] = "",
    caption: Annotated[str, Form()] = "", hashtags: Annotated[str, Form()] = "",
) -> Response:
    """Approve what is on the screen: the reel page's fields come along and are saved first, with the edit's own checks."""
    fields = sent_fields(sent, script=script, hook=hook, on_screen_title=on_screen_title, caption=caption, hashtags=hashtags)
    saved = ""
    if any(value is not None for value in fields.values()):
        try:
            reel, warnings = save_edit(db, reel_id, fields, user.actor, settings)
            saved = f"Your changes are saved as version {reel.version}." + "".join(f" {error_message(ValidationFailed(w))}" for w in warnings)
        except NothingChanged:
            db.rollback()
        except ValidationFailed as error:  # nothing approved, nothing saved; the typed text stays in the form
            db.rollback()
            return page_with_form(request, db, reel_id, settings, fields, 422, "Not approved: " + error_message(error), user.name)
    try:
        [(_id, result)] = approve(db, [reel_id], actor=user.actor, keep_stale=bool(keep_stale))
    except StaleFieldsError as error:
        db.rollback()
        if next == "/":  # from the queue: the reel's page shows the fields to check
            flash(request, f"Reel {reel_id} not approved yet. " + error_message(error))
            return RedirectResponse(f"/reels/{reel_id}", status_code=303)
        return page_with_form(request, db, reel_id, settings, {}, 409, " ".join(filter(None, [saved, "Not approved yet. " + error_message(error)])), user.name)
    except AgentError as error:
        db.rollback()
        flash(request, " ".join(filter(None, [saved, error_message(error)])))
    else:
        flash(request, " ".join(filter(None, [saved, f"Reel {reel_id} {result}."])))
    return redirect_back(next, f"/reels/{reel_id}")


@router.post("/reels/{reel_id}/edit", dependencies=[CsrfChecked])
def edit_reel(
    request: Request, reel_id: OwnReelId, db: SessionDep, user: Viewer, settings: SettingsDep,
    sent: SentFields, script: Annotated[str, Form()] = "", hook: Annotated[str, Form()] = "", on_screen_title: Annotated[str, Form()] = "",
    caption: Annotated[str, Form()] = "", hashtags: Annotated[str, Form()] = "",
) -> Response:
    fields = sent_fields(sent, script=script, hook=hook, on_screen_title=on_screen_title, caption=caption, hashtags=hashtags)
    try:
        reel, warnings = save_edit(db, reel_id, fields, user.actor, settings)
    except ValidationFailed as error:
        db.rollback()
        return page_with_form(request, db, reel_id, settings, fields, 422, error_message(error), user.name)
    stale = stale_fields(reel)
    flash(request, f"Saved as version {reel.version}." + "".join(f" {error_message(ValidationFailed(w))}" for w in warnings)
          + (f" Check the {', '.join(FIELD_LABELS[name] for name in stale)}: written for the earlier script." if stale else "")
          + (" Approve it again when you are happy." if reel.status == ReelStatus.DRAFTED else ""))
    return RedirectResponse(f"/reels/{reel_id}", status_code=303)


def sent_fields(sent: frozenset[str], **values: str) -> dict[str, str | None]:
    """The form's fields: ``None`` for one the form did not send (it keeps its value); one sent empty clears it."""
    return {name: value if name in sent else None for name, value in values.items()}


def save_edit(db: Session, reel_id: int, fields: dict[str, str | None], actor: str, settings: Settings) -> tuple[Reel, list[str]]:
    """The web form's fields through :func:`agent.approval.queue.edit` (the CLI's edit): same checks, a new version."""
    tags = None if fields["hashtags"] is None else [tag for tag in fields["hashtags"].replace(",", " ").split() if tag]
    return edit(db, reel_id, script=fields["script"], hook=fields["hook"], on_screen_title=fields["on_screen_title"], caption=fields["caption"],
                hashtags=tags, actor=actor, words_per_minute=settings.drafting.words_per_minute)


def page_with_form(request: Request, db: Session, reel_id: int, settings: Settings, fields: dict[str, str | None], status_code: int, error: str,
                   viewer: str | None = None) -> Response:
    """The reel page again with a message, and the text the creator typed still in the form."""
    context = reel_context(db, reel_id, settings, viewer)
    context["form"] = {**context["form"], **{name: value for name, value in fields.items() if value is not None}}
    return render_page(request, "reel.html", status_code=status_code, error=error, **context)


@router.post("/reels/{reel_id}/reject", dependencies=[CsrfChecked])
def reject_reel(
    request: Request, reel_id: OwnReelId, db: SessionDep, user: Viewer, settings: SettingsDep, drafter: DrafterDep,
    feedback: Annotated[str, Form()] = "",
) -> Response:
    try:
        if not feedback.strip():
            raise ValidationFailed("Say what to change before rejecting, e.g. “shorter hook, talk about the price”.")
        reject(db, reel_id, feedback, actor=user.actor, data_dir=settings.data_dir)
    except (ValidationFailed, InvalidTransitionError) as error:  # e.g. a second click on "Reject": 409, not a 500
        db.rollback()
        return render_page(request, "reel.html", status_code=409 if isinstance(error, InvalidTransitionError) else 422,
                           error=error_message(error), **reel_context(db, reel_id, settings, user.name))
    drafter.redraft(reel_id)
    flash(request, "Rejected. A new version is being written from your feedback; it appears here when ready.")
    return RedirectResponse(f"/reels/{reel_id}", status_code=303)


@router.post("/reels/{reel_id}/retry", dependencies=[CsrfChecked])
def retry_reel(request: Request, reel_id: OwnReelId, db: SessionDep, user: Viewer) -> Response:
    try:
        reel = retry(db, reel_id, actor=user.actor)
        flash(request, f"Reel {reel_id} is {'scheduled' if reel.status == ReelStatus.RENDERED else str(reel.status)} again and will be retried.")
    except AgentError as error:
        flash(request, error_message(error))
    return RedirectResponse(f"/reels/{reel_id}", status_code=303)


def reel_context(db: Session, reel_id: int, settings: Settings, viewer: str | None = None) -> dict[str, Any]:
    """What reel.html shows: the reel, its creator and slot, versions and events (newest first), the word budget and the form."""
    from agent.web.reel_preview import reel_page_extras

    reel = get_reel(db, reel_id)
    creator = db.get(Creator, reel.creator_id)
    slot = db.get(Slot, reel.slot_id) if reel.slot_id else None
    budget = word_budget(creator.reel_length_s, settings.drafting.words_per_minute)
    words = word_count(reel.script)
    return {
        "reel": reel, "state": str(ReelStatus(reel.status)), "creator": creator, "slot": slot,
        "versions": list(reversed(versions(db, reel_id))), "events": list(reversed(events(db, reel_id))),
        "words": words, "budget": budget, "over_budget": words > budget * 1.15, "max_caption": MAX_CAPTION_CHARS,
        "form": {"script": reel.script, "hook": reel.hook, "on_screen_title": reel.on_screen_title, "caption": reel.caption, "hashtags": " ".join(reel.hashtags)},
        "editable": reel.status in (ReelStatus.DRAFTED, ReelStatus.APPROVED, ReelStatus.RENDERED, ReelStatus.FAILED, ReelStatus.REJECTED),
        "artifacts": {kind: path for kind, path in (reel.artifacts or {}).items() if path and kind not in ("stale_fields", "draft_warnings")},
        "draft_warnings": draft_warnings(reel),
        "stale": stale_fields(reel), "actor_label": partial(actor_label, viewer=viewer), "qa": qa_verdict(reel, media_storage(settings)),
        **reel_page_extras(db, reel, creator, settings),   # the Instagram preview and the "When it goes out" card
    }


@router.get("/reels/{reel_id}/qa", response_class=HTMLResponse)
def qa_page(request: Request, reel_id: OwnReelId, db: SessionDep, _user: Viewer, settings: SettingsDep) -> HTMLResponse:
    """The quality report of a rendered reel: the verdict first, then each check with its value and what it means; no server paths."""
    from render.qa import QAError, read_report

    reel = get_reel(db, reel_id)
    creator = db.get(Creator, reel.creator_id)
    path = (reel.artifacts or {}).get("report")
    if not isinstance(path, str) or not path:
        return render_page(request, "error.html", status_code=404, message=f"Reel {reel_id} has no quality report yet: it is made when the reel is rendered.")
    try:
        report = read_report(media_storage(settings).ensure_local(path))
    except (QAError, StorageError):
        return render_page(request, "error.html", status_code=404,
                           message=f"The quality report of reel {reel_id} is missing or cannot be read; render the reel again to check it.")
    return render_page(request, "qa.html", reel=reel, creator=creator, report=report, rows=check_rows(report.checks))


def qa_verdict(reel: Reel, storage: MediaStorage | None = None) -> str | None:
    """"passed", "warnings" or "failed" for a reel with a readable QA report; None without one (not rendered yet).

    For a report that is not on this machine (rendered elsewhere, media storage in a bucket) the verdict the render
    recorded is shown; a reel rendered before verdicts were recorded has its report fetched with ``storage``."""
    from render.qa import QAError, read_report

    path = (reel.artifacts or {}).get("report")
    if not isinstance(path, str) or not path:
        return None
    recorded = (reel.artifacts or {}).get("qa_verdict")
    try:
        if not Path(path).is_file():
            if recorded:
                return str(recorded)
            if storage is not None:
                path = str(storage.ensure_local(path))
        report = read_report(path)
    except (QAError, StorageError):
        return "unreadable"
    return "failed" if not report.passed else "warnings" if report.warnings else "passed"
