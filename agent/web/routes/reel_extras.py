"""More of the queue and a reel's page: approve a selection at once, undo an approval, publish now or at another time,
compare two versions, the cover's thumbnail (what the pages show of them: :mod:`agent.web.reel_preview`).

The decisions are :mod:`agent.approval.decisions` and :mod:`agent.approval.timing`, the functions the CLI calls.
"""

import logging
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from agent.approval.compare import compare_versions
from agent.approval.decisions import MAX_SELECTED, approve_each, unapprove
from agent.approval.queue import FIELD_LABELS, StaleFieldsError, get_reel, versions
from agent.approval.thumbnails import shows_thumbnail, thumbnail
from agent.approval.timing import parse_local_time, publish_now, reschedule, rules_for
from agent.db.models import Creator
from agent.errors import AgentError, NotFoundError
from agent.storage import MediaMissing, StorageError, media_storage
from agent.web.deps import CsrfChecked, OwnReelId, SessionDep, SettingsDep, Viewer, flash, render_page
from agent.web.messages import error_message

log = logging.getLogger(__name__)
router = APIRouter()
#: A browser keeps a thumbnail this long (private: it is behind the login); its URL changes with the reel.
THUMB_CACHE = "private, max-age=604800"


# -- the queue: approve a selection ---------------------------------------------------------------------------------

@router.post("/queue/approve", dependencies=[CsrfChecked])
def approve_selected(request: Request, db: SessionDep, user: Viewer, reel: Annotated[list[str], Form()] = []) -> Response:  # noqa: B006
    """Approve every ticked reel that can be; back on the queue, one message says which were approved and which were
    not and why (nothing of those changed)."""
    if not reel:
        flash(request, "Nothing was selected: tick the reels to approve first.")
        return RedirectResponse("/", status_code=303)
    ids, unreadable = [], []
    for value in reel[: MAX_SELECTED + 1]:
        (ids if value.strip().isdigit() and 0 < int(value) < 2**31 else unreadable).append(value.strip())
    try:
        results = approve_each(db, [int(value) for value in ids], actor=user.actor, handles=user.handles)
    except AgentError as error:
        flash(request, error_message(error))
        return RedirectResponse("/", status_code=303)
    approved = [result.reel_id for result in results if result.approved and result.detail == "approved"]
    already = [result.reel_id for result in results if result.approved and result.detail != "approved"]
    refused = [(str(result.reel_id), _refusal(result.error)) for result in results if not result.approved]
    refused += [(value[:12], "This is not a reel number.") for value in unreadable]
    flash(request, _bulk_message(approved, already, refused))
    return RedirectResponse("/", status_code=303)


#: The bulk result travels in the session cookie: beyond this many characters its list of refusals is cut short.
BULK_MESSAGE_CHARS = 1200


def _bulk_message(approved: list[int], already: list[int], refused: list[tuple[str, str]]) -> str:
    """"Approved 2 of 4 selected: reels 3, 4 (rendered before their time). Not approved, …: Reels 5, 9: There is no
    such reel." The refused ones are grouped by reason, and cut short past :data:`BULK_MESSAGE_CHARS`."""
    def reels(numbers: list[int]) -> str:
        return ("reel " if len(numbers) == 1 else "reels ") + ", ".join(str(number) for number in numbers)

    selected = len(approved) + len(already) + len(refused)
    parts = [f"Approved {len(approved)} of {selected} selected"
             + (f": {reels(approved)} (rendered before {'its' if len(approved) == 1 else 'their'} time)." if approved else ".")]
    if already:
        parts.append(f"Already approved: {reels(already)}.")
    if refused:
        by_reason: dict[str, list[str]] = {}
        for reel_id, reason in refused:
            by_reason.setdefault(reason, []).append(reel_id)
        parts.append("Not approved, nothing of theirs changed:")
        left = len(refused)
        for reason, reel_ids in by_reason.items():
            line = f"{'Reel' if len(reel_ids) == 1 else 'Reels'} {', '.join(reel_ids)}: {reason}"
            if len(" ".join(parts)) + len(line) > BULK_MESSAGE_CHARS:
                parts.append(f"… and {left} more; each reel's page says why.")
                break
            parts.append(line)
            left -= len(reel_ids)
    return " ".join(parts)


def _refusal(error: AgentError | None) -> str:
    """Why one reel of a selection was not approved, for the queue (the reel's own page shows the fields to check)."""
    if isinstance(error, NotFoundError):
        return "There is no such reel."   # another creator's reads the same
    if isinstance(error, StaleFieldsError):
        names = [FIELD_LABELS[name] for name in error.fields]
        one = len(names) == 1
        return f"The {', '.join(names)} {'was' if one else 'were'} written for an earlier script; open it to check {'it' if one else 'them'}, then approve."
    return error_message(error) if error is not None else ""


# -- one reel: undo the approval, publish now, another time -------------------------------------------------------

@router.post("/reels/{reel_id}/unapprove", dependencies=[CsrfChecked])
def unapprove_reel(request: Request, reel_id: OwnReelId, db: SessionDep, user: Viewer, next: Annotated[str, Form()] = "") -> Response:  # noqa: A002
    try:
        unapprove(db, reel_id, actor=user.actor)
        flash(request, f"Reel {reel_id} is waiting for you again: the approval is undone and it will not be rendered until you approve it.")
    except AgentError as error:
        db.rollback()
        flash(request, error_message(error))
    return RedirectResponse("/" if next == "/" else f"/reels/{reel_id}", status_code=303)


@router.post("/reels/{reel_id}/publish-now", dependencies=[CsrfChecked])
def publish_reel_now(request: Request, reel_id: OwnReelId, db: SessionDep, user: Viewer, settings: SettingsDep) -> Response:
    try:
        publish_now(db, reel_id, actor=user.actor)
        flash(request, f"Reel {reel_id} is due now: it is posted in the next publishing round "
                       f"({_every(settings.scheduler.sweep_interval_s)} while ReelTwin runs).")
    except AgentError as error:
        db.rollback()
        flash(request, error_message(error))
    return RedirectResponse(f"/reels/{reel_id}", status_code=303)


def _every(seconds: int) -> str:
    """"every minute", "every 5 minutes", "every 90 seconds"."""
    if seconds % 60:
        return f"every {seconds} seconds"
    return "every minute" if seconds == 60 else f"every {seconds // 60} minutes"


@router.post("/reels/{reel_id}/reschedule", dependencies=[CsrfChecked])
def reschedule_reel(request: Request, reel_id: OwnReelId, db: SessionDep, user: Viewer, settings: SettingsDep,
                    when: Annotated[str, Form()] = "") -> Response:
    from agent.web.routes.reels import reel_context

    reel = get_reel(db, reel_id)
    creator = db.get(Creator, reel.creator_id)
    rules, no_rules = rules_for(settings.calendar_dir, creator.handle)
    try:
        moment = parse_local_time(when, creator.timezone, field="new time")
        reel = reschedule(db, reel_id, moment, actor=user.actor, rules=rules)
    except AgentError as error:
        db.rollback()
        # The page again with the time as it was typed, and why it was not taken.
        context = reel_context(db, reel_id, settings, user.name)
        context["when_value"] = when[:40]
        # Shown in the "When it goes out" card, where the form's address (…#when) brings the page.
        where = "when_error" if context["can_reschedule"] else "error"   # no form to show it by: at the top
        return render_page(request, "reel.html", status_code=422, **{where: "Not moved: " + error_message(error)}, **context)
    local = reel.publish_at.astimezone(ZoneInfo(creator.timezone)).strftime("%a %d %b, %H:%M")
    flash(request, f"Reel {reel_id} now goes out {local} ({creator.timezone})." + (f" Note: {no_rules}." if no_rules else ""))
    return RedirectResponse(f"/reels/{reel_id}", status_code=303)


# -- compare two versions -------------------------------------------------------------------------------------------

@router.get("/reels/{reel_id}/compare", response_class=HTMLResponse)
def compare_page(request: Request, reel_id: OwnReelId, db: SessionDep, _user: Viewer, a: str = "", b: str = "") -> HTMLResponse:
    """Two versions side by side (stacked on a phone), the words that differ marked; without a choice, the last two."""
    reel = get_reel(db, reel_id)
    creator = db.get(Creator, reel.creator_id)
    rows = {version.version: version for version in versions(db, reel_id)}
    numbers = sorted(rows)
    context: dict[str, Any] = {"reel": reel, "creator": creator, "numbers": numbers, "diffs": [], "left": None, "right": None}
    if len(numbers) < 2:
        return render_page(request, "compare.html", message="This reel has one version so far: there is nothing to compare yet.", **context)
    try:
        left = int(a) if a else numbers[-2]
        right = int(b) if b else numbers[-1]
    except ValueError:
        return render_page(request, "compare.html", status_code=422, error="Pick two versions from the lists.", **context)
    missing = [number for number in (left, right) if number not in rows]
    if missing:
        return render_page(request, "compare.html", status_code=404,
                           error=f"Reel {reel_id} has no version {missing[0]}; it has versions {numbers[0]} to {numbers[-1]}.", **context)
    context.update(left=rows[left], right=rows[right], diffs=compare_versions(rows[left], rows[right]))
    if left == right:
        context["message"] = "These are the same version; pick another one to see what changed."
    return render_page(request, "compare.html", **context)


# -- the cover's thumbnail ------------------------------------------------------------------------------------------

@router.get("/reels/{reel_id}/thumb")
def cover_thumbnail(reel_id: OwnReelId, request: Request, db: SessionDep, settings: SettingsDep) -> Response:
    """A small copy of the rendered reel's cover for the queue (made once, kept in the data folder)."""
    from agent.web.routes.media import serve, serve_stored

    reel = get_reel(db, reel_id)
    cover = (reel.artifacts or {}).get("cover")
    if not shows_thumbnail(reel) or not isinstance(cover, str):
        raise HTTPException(404, "no such file")
    storage = media_storage(settings)
    try:
        local = storage.ensure_local(cover)
    except MediaMissing:
        raise HTTPException(404, "no such file") from None
    except StorageError as error:
        log.error("web: media storage: %s", error)
        raise HTTPException(503, "media storage is unavailable; see the server log") from None
    serve(local, settings)   # 404 unless a file inside the data folder
    try:
        thumb = thumbnail(reel_id, local.resolve(), settings.data_dir)
    except (OSError, ValueError) as error:   # not an image Pillow reads: the cover itself, as the reel page shows it
        log.warning("web: reel %d: no thumbnail of its cover: %s", reel_id, error)
        return serve_stored(request, cover, settings, storage)
    response = FileResponse(thumb, media_type="image/jpeg")
    response.headers["Cache-Control"] = THUMB_CACHE
    return response
