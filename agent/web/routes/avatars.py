"""The avatar page: the enrolled photos, and the upload form that checks a photo and enrolls it with consent."""

import logging
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlmodel import Session

from agent.db.models import Avatar
from agent.enrollment.consent import check_name
from agent.errors import AgentError
from agent.settings import Settings
from agent.web.deps import CsrfChecked, CurrentUser, SessionDep, SettingsDep, flash, max_upload_bytes, render_page
from agent.web.enrollment_forms import as_shown, creator_zone, default_name
from agent.web.uploads import UploadRefused, incoming, shown_name

log = logging.getLogger(__name__)
router = APIRouter()


@router.get("/avatars", response_class=HTMLResponse)
def avatars_page(request: Request, db: SessionDep, _user: CurrentUser, settings: SettingsDep) -> HTMLResponse:
    return avatar_page(request, db, settings)


@router.post("/avatars", dependencies=[CsrfChecked])
def avatar_enroll(
    request: Request, db: SessionDep, who: CurrentUser, settings: SettingsDep,
    photo: Annotated[UploadFile | None, File()] = None, name: Annotated[str, Form()] = "",
    consent: Annotated[bool, Form()] = False, replace: Annotated[bool, Form()] = False,
) -> Response:
    from agent.enrollment import avatars

    name = name.strip()
    form = {"name": name, "consent": consent, "replace": replace}
    shown = shown_name(photo.filename if photo else None, "photo")
    warnings: list[str] = []
    try:
        check_name(name, option="name")
        if not replace and avatar_named(db, name) is not None:
            raise AgentError(f"avatar {name!r} already exists; tick “Replace” to enroll a new photo under that name, or choose another name")
        with incoming(photo, settings.data_dir, kind="photo", max_bytes=max_upload_bytes(settings)) as path:
            try:
                if not consent:  # check the photo anyway, so the creator learns of its problems before consenting
                    _face, found = avatars.analyze_photo(path)
                    warnings = [as_shown(w, path, shown) for w in found]
                    raise AgentError("Nothing was stored: tick “This is my face, or I have the right to use it” to give your consent, then upload again")
                result = avatars.enroll(db, settings.data_dir, path, name=name, consent=True, consent_by=f"creator:web:{who}", replace=replace)
            except AgentError as error:
                raise AgentError(as_shown(str(error), path, shown)) from None
            warnings = [as_shown(w, path, shown) for w in result.warnings]
            record = result.avatar
            record.analysis = {**record.analysis, "warnings": warnings, "uploaded_as": shown}
            db.add(record)
            db.commit()
    except UploadRefused as error:
        db.rollback()
        return avatar_page(request, db, settings, status_code=error.status_code, error=str(error), form=form)
    except AgentError as error:
        db.rollback()
        return avatar_page(request, db, settings, status_code=422, error=str(error), warnings=warnings, form=form)
    try:
        avatars.framed_preview(record)
    except AgentError as error:  # the avatar is enrolled; the preview is retried when the page shows it
        log.warning("web: no framed preview for avatar %r yet (%s)", record.name, error)
    flash(request, f"Enrolled avatar {record.name!r}." + (" Its notes are below." if warnings else ""))
    return RedirectResponse(f"/avatars#avatar-{quote(record.name)}", status_code=303)


def avatar_page(request: Request, db: Session, settings: Settings, status_code: int = 200, **context: Any) -> HTMLResponse:
    """avatars.html with the enrolled avatars; ``context`` adds an error, warnings or the form as it was sent."""
    from agent.enrollment import avatars

    context.setdefault("form", {"name": default_name(db)})
    return render_page(request, "avatars.html", status_code=status_code, avatars=[_avatar_row(a) for a in avatars.list_avatars(db)],
                       consent_text=avatars.CONSENT_TEXT, max_upload_mb=settings.web.max_upload_mb, zone=creator_zone(db), **context)


def avatar_named(db: Session, name: str) -> Avatar | None:
    return db.execute(select(Avatar).where(Avatar.name == name)).scalar_one_or_none()


def _avatar_row(avatar: Any) -> dict[str, Any]:
    analysis = avatar.analysis or {}
    pose = analysis.get("pose") or {}
    prefix = f"photo {analysis.get('uploaded_as')!r}: "
    # The card already names the file: its notes need not repeat "photo 'me.png': ".
    notes = [w[len(prefix):][:1].upper() + w[len(prefix) + 1:] if w.startswith(prefix) else w for w in analysis.get("warnings") or []]
    return {"avatar": avatar, "face_height_px": analysis.get("face_height_px"), "image": (analysis.get("image_width"), analysis.get("image_height")),
            "pose": pose, "warnings": notes, "uploaded_as": analysis.get("uploaded_as")}
