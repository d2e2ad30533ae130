"""The approval queue and one reel's page: approve, edit, reject (redrafted in the background) and retry."""

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from agent.approval.queue import MAX_CAPTION_CHARS, approve, edit, events, get_reel, list_queue, reject, retry, versions, word_budget, word_count
from agent.db.models import Creator, ReelStatus, Slot
from agent.errors import AgentError, InvalidTransitionError, ValidationFailed
from agent.settings import Settings
from agent.web.deps import CsrfChecked, CurrentUser, DrafterDep, ReelId, SentFields, SessionDep, SettingsDep, flash, redirect_back, render_page

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
def queue_page(request: Request, db: SessionDep, _user: CurrentUser, drafter: DrafterDep, status: str | None = None) -> HTMLResponse:
    chosen = ReelStatus(status) if status in {s.value for s in ReelStatus} else None
    items = list_queue(db, chosen)
    waiting = [item for item in items if item.reel.status == ReelStatus.DRAFTED]
    others = [item for item in items if item.reel.status not in (ReelStatus.DRAFTED, ReelStatus.SKIPPED)]
    return render_page(request, "queue.html", waiting=waiting, others=others, word_count=word_count, status=chosen, drafting=drafter.busy())


@router.get("/reels/{reel_id}", response_class=HTMLResponse)
def reel_page(request: Request, reel_id: ReelId, db: SessionDep, _user: CurrentUser, settings: SettingsDep) -> HTMLResponse:
    return render_page(request, "reel.html", **reel_context(db, reel_id, settings))


@router.post("/reels/{reel_id}/approve", dependencies=[CsrfChecked])
def approve_reel(request: Request, reel_id: ReelId, db: SessionDep, who: CurrentUser, next: Annotated[str, Form()] = "") -> Response:  # noqa: A002
    try:
        [(_id, result)] = approve(db, [reel_id], actor=f"creator:web:{who}")
    except AgentError as error:
        flash(request, str(error))
    else:
        flash(request, f"Reel {reel_id} {result}.")
    return redirect_back(next, f"/reels/{reel_id}")


@router.post("/reels/{reel_id}/edit", dependencies=[CsrfChecked])
def edit_reel(
    request: Request, reel_id: ReelId, db: SessionDep, who: CurrentUser, settings: SettingsDep,
    sent: SentFields, script: Annotated[str, Form()] = "", on_screen_title: Annotated[str, Form()] = "",
    caption: Annotated[str, Form()] = "", hashtags: Annotated[str, Form()] = "",
) -> Response:
    # A field the form did not send keeps its value; one sent empty clears it.
    script, on_screen_title, caption, hashtags = (value if name in sent else None for name, value in
                                                  (("script", script), ("on_screen_title", on_screen_title), ("caption", caption), ("hashtags", hashtags)))
    tags = None if hashtags is None else [tag for tag in hashtags.replace(",", " ").split() if tag]
    try:
        reel, warnings = edit(db, reel_id, script=script, on_screen_title=on_screen_title, caption=caption, hashtags=tags,
                              actor=f"creator:web:{who}", words_per_minute=settings.drafting.words_per_minute)
    except ValidationFailed as error:
        db.rollback()
        context = reel_context(db, reel_id, settings)
        sent = {"script": script, "on_screen_title": on_screen_title, "caption": caption, "hashtags": hashtags}
        context["form"] = {**context["form"], **{name: value for name, value in sent.items() if value is not None}}
        return render_page(request, "reel.html", status_code=422, error=str(error), **context)
    flash(request, f"Saved as version {reel.version}." + (" " + " ".join(warnings) if warnings else "")
          + (" Approve it again when you are happy." if reel.status == ReelStatus.DRAFTED else ""))
    return RedirectResponse(f"/reels/{reel_id}", status_code=303)


@router.post("/reels/{reel_id}/reject", dependencies=[CsrfChecked])
def reject_reel(
    request: Request, reel_id: ReelId, db: SessionDep, who: CurrentUser, settings: SettingsDep, drafter: DrafterDep,
    feedback: Annotated[str, Form()] = "",
) -> Response:
    try:
        reject(db, reel_id, feedback, actor=f"creator:web:{who}")
    except (ValidationFailed, InvalidTransitionError) as error:  # e.g. a second click on "Reject": 409, not a 500
        db.rollback()
        return render_page(request, "reel.html", status_code=409 if isinstance(error, InvalidTransitionError) else 422,
                           error=str(error), **reel_context(db, reel_id, settings))
    drafter.redraft(reel_id)
    flash(request, "Rejected. A new version is being written from your feedback; it appears here when ready.")
    return RedirectResponse(f"/reels/{reel_id}", status_code=303)


@router.post("/reels/{reel_id}/retry", dependencies=[CsrfChecked])
def retry_reel(request: Request, reel_id: ReelId, db: SessionDep, who: CurrentUser) -> Response:
    try:
        reel = retry(db, reel_id, actor=f"creator:web:{who}")
        flash(request, f"Reel {reel_id} is {reel.status} again and will be retried.")
    except AgentError as error:
        flash(request, str(error))
    return RedirectResponse(f"/reels/{reel_id}", status_code=303)


def reel_context(db: Session, reel_id: ReelId, settings: Settings) -> dict[str, Any]:
    """What reel.html shows: the reel, its creator and slot, versions and events (newest first), the word budget and the form."""
    reel = get_reel(db, reel_id)
    creator = db.get(Creator, reel.creator_id)
    slot = db.get(Slot, reel.slot_id) if reel.slot_id else None
    budget = word_budget(creator.reel_length_s, settings.drafting.words_per_minute)
    words = word_count(reel.script)
    return {
        "reel": reel, "state": str(ReelStatus(reel.status)), "creator": creator, "slot": slot,
        "versions": list(reversed(versions(db, reel_id))), "events": list(reversed(events(db, reel_id))),
        "words": words, "budget": budget, "over_budget": words > budget * 1.15, "max_caption": MAX_CAPTION_CHARS,
        "form": {"script": reel.script, "on_screen_title": reel.on_screen_title, "caption": reel.caption, "hashtags": " ".join(reel.hashtags)},
        "editable": reel.status in (ReelStatus.DRAFTED, ReelStatus.APPROVED, ReelStatus.RENDERED, ReelStatus.FAILED, ReelStatus.REJECTED),
        "artifacts": {kind: path for kind, path in (reel.artifacts or {}).items() if path},
    }
