"""A reel read in the creator's own voice, from the reel page: upload (or record in the browser) a reading of the script,
listen to it, remove it. The same functions as ``reeltwin reel audio`` (:mod:`agent.enrollment.reel_audio`)."""

from typing import Annotated

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import FileResponse, RedirectResponse, Response

from agent.approval.queue import get_reel
from agent.enrollment import reel_audio
from agent.errors import AgentError, NotFoundError
from agent.storage import StorageError, media_storage
from agent.web.deps import CsrfChecked, OwnReelId, SessionDep, SettingsDep, Viewer, flash, max_upload_bytes, render_page
from agent.web.messages import error_message
from agent.web.uploads import UploadRefused, incoming, shown_name

router = APIRouter()


@router.post("/reels/{reel_id}/audio", dependencies=[CsrfChecked])
def upload_recording(request: Request, reel_id: OwnReelId, db: SessionDep, user: Viewer, settings: SettingsDep,
                     recording: Annotated[UploadFile | None, File()] = None) -> Response:
    """Check the recording against the script and store it as the reel's voice; a refusal shows the reel page with why."""
    shown = shown_name(recording.filename if recording else None, "recording")
    try:
        with incoming(recording, settings.data_dir, kind="recording", max_bytes=max_upload_bytes(settings)) as path:
            change = reel_audio.set_recording(db, settings, reel_id, path, actor=user.actor, name=shown)
    except UploadRefused as error:
        db.rollback()
        return _refused(request, db, settings, reel_id, user.name, error.status_code, str(error))
    except reel_audio.RecordingNotNow as error:
        db.rollback()
        return _refused(request, db, settings, reel_id, user.name, 409, str(error))
    except AgentError as error:
        db.rollback()
        return _refused(request, db, settings, reel_id, user.name, 422, str(error))
    record = change.record or {}
    notes = "".join(f" Note: {error_message(AgentError(w))}" for w in change.warnings)
    again = " The reel is approved again and will be rendered again with your voice." if change.render_again else ""
    flash(request, f"Your recording is stored ({record.get('duration_s', 0):.1f} s; {record.get('match_ratio', 0):.0%} of the script's "
                   f"words heard). The reel will be rendered with it instead of the synthetic voice.{again}{notes}")
    return RedirectResponse(f"/reels/{reel_id}", status_code=303)


@router.post("/reels/{reel_id}/audio/remove", dependencies=[CsrfChecked])
def remove_recording(request: Request, reel_id: OwnReelId, db: SessionDep, user: Viewer, settings: SettingsDep) -> Response:
    try:
        change = reel_audio.remove_recording(db, settings, reel_id, actor=user.actor)
    except AgentError as error:
        db.rollback()
        flash(request, error_message(error))
    else:
        again = " The reel is approved again and will be rendered again." if change.render_again else ""
        flash(request, f"Your recording is removed: the synthetic voice reads the script.{again}")
    return RedirectResponse(f"/reels/{reel_id}", status_code=303)


@router.get("/reels/{reel_id}/audio")
def play_recording(reel_id: OwnReelId, db: SessionDep, _user: Viewer, settings: SettingsDep) -> Response:
    """The stored recording, for the page's player (fetched from media storage when it was stored on another machine)."""
    record = reel_audio.recording_of(get_reel(db, reel_id))
    if record is None:
        raise NotFoundError(f"Reel {reel_id} has no recording of your voice.")
    try:
        local = media_storage(settings).ensure_local(record["path"], sha256=record.get("sha256") or None)
    except StorageError:
        raise NotFoundError(f"The recording of reel {reel_id} is missing; record it again.") from None
    return FileResponse(local, media_type="audio/wav", headers={"Cache-Control": "private, no-cache"})


def _refused(request: Request, db: SessionDep, settings: SettingsDep, reel_id: int, viewer: str, status_code: int, message: str) -> Response:
    """The reel page again, with why the recording was not used (nothing was stored)."""
    from agent.web.routes.reels import reel_context

    return render_page(request, "reel.html", status_code=status_code,
                       error=error_message(AgentError(message)), **reel_context(db, reel_id, settings, viewer))
