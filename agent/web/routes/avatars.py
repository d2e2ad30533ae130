"""The avatar page: the enrolled photos and clips, the upload form that checks either and enrolls it with consent,
and the choice of each creator's default avatar for renders."""

import logging
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup, escape
from sqlalchemy import select
from sqlmodel import Session

from agent.db.models import Avatar, Creator
from agent.enrollment.consent import check_name
from agent.errors import AgentError
from agent.settings import Settings
from agent.storage import media_storage
from agent.web.deps import (
    CsrfChecked, SessionDep, SettingsDep, Viewer, WebUser, creators_of, enrollments_of, flash, max_upload_bytes, render_page, visible_avatar,
)
from agent.web.enrollment_forms import as_shown, creator_zone, default_name
from agent.web.uploads import UploadRefused, incoming, shown_name

log = logging.getLogger(__name__)
router = APIRouter()
NO_CONSENT = "Nothing was stored: tick “This is my face, or I have the right to use it” to give your consent, then upload again"


@router.get("/avatars", response_class=HTMLResponse)
def avatars_page(request: Request, db: SessionDep, user: Viewer, settings: SettingsDep) -> HTMLResponse:
    return avatar_page(request, db, settings, user)


@router.post("/avatars", dependencies=[CsrfChecked])
def avatar_enroll(
    request: Request, db: SessionDep, user: Viewer, settings: SettingsDep,
    photo: Annotated[UploadFile | None, File()] = None, name: Annotated[str, Form()] = "",
    consent: Annotated[bool, Form()] = False, replace: Annotated[bool, Form()] = False,
    creator: Annotated[str, Form()] = "",
) -> Response:
    """Check the photo or clip (``photo`` is the form's file field, whichever it is); with consent, enroll it."""
    from agent.enrollment import avatars

    name = name.strip()
    form = {"name": name, "consent": consent, "replace": replace, "creator": creator.strip().lstrip("@")}
    shown = shown_name(photo.filename if photo else None, "upload")
    warnings: list[str] = []
    try:
        check_name(name, option="name")
        existing = avatar_named(db, name)
        if existing is not None and visible_avatar(db, user, name) is None:  # another creator's: never replaced from here
            raise AgentError(f"the name {name!r} is taken; choose another name")
        if not replace and existing is not None:
            raise AgentError(f"avatar {name!r} already exists; tick “Replace” to enroll a new photo or clip under that name, or choose another name")
        owner = _chosen_creator(db, form["creator"], user)
        if owner is None and not user.may_see(name):
            raise AgentError(f"choose the creator this avatar is for ({', '.join('@' + h for h in sorted(user.handles or ()))}), "
                             "or name it after one; reload the page if the list is missing")
        with incoming(photo, settings.data_dir, kind="avatar", max_bytes=max_upload_bytes(settings)) as path:
            inspection = None
            try:
                label = f"{'clip' if avatars.is_video(path) else 'photo'} {shown!r}"
                # Checked first, with or without consent, so the creator learns of its problems before consenting; a clip
                # is analysed once, and its normalized copy and face track wait in a work folder until enroll moves them.
                inspection = avatars.inspect(path, settings.data_dir, label=label)
                warnings = [as_shown(w, path, shown) for w in inspection.warnings]
                if not consent:
                    raise AgentError(NO_CONSENT)
                result = avatars.enroll(db, settings.data_dir, path, name=name, consent=True, consent_by=user.actor, replace=replace,
                                        creator_id=owner.id if owner is not None else None, inspection=inspection,
                                        storage=media_storage(settings))
            except AgentError as error:
                raise AgentError(as_shown(str(error), path, shown)) from None
            finally:
                if inspection is not None:
                    inspection.discard()
            record = result.avatar
            record.analysis = {**record.analysis, "warnings": warnings, "uploaded_as": shown}
            db.add(record)
            db.commit()
    except UploadRefused as error:
        db.rollback()
        return avatar_page(request, db, settings, user, status_code=error.status_code, error=str(error), form=form)
    except AgentError as error:
        db.rollback()
        return avatar_page(request, db, settings, user, status_code=422, error=str(error), warnings=warnings, form=form)
    try:
        avatars.framed_preview(record, media_storage(settings))
    except AgentError as error:  # the avatar is enrolled; the preview is retried when the page shows it
        log.warning("web: no framed preview for avatar %r yet (%s)", record.name, error)
    owner = creator_of(db, record) if record.is_default else None
    flash(request, f"Enrolled avatar {record.name!r}." + (" Its notes are below." if warnings else "")
          + (f" Renders for @{owner.handle} use this {'clip' if record.kind == avatars.FOOTAGE else 'photo'} now." if owner else ""))
    return RedirectResponse(f"/avatars#avatar-{quote(record.name)}", status_code=303)


@router.post("/avatars/{name}/default", dependencies=[CsrfChecked])
def avatar_default(request: Request, name: str, db: SessionDep, user: Viewer, settings: SettingsDep) -> Response:
    """Make ``name`` its creator's avatar for renders (a creator may have a photo and a clip)."""
    from agent.enrollment import avatars

    avatar = visible_avatar(db, user, name)  # another creator's is not enrolled, as far as this user can tell
    if avatar is None:
        return avatar_page(request, db, settings, user, status_code=404, error=f"avatar {name!r} is not enrolled (any more); reload the page")
    owner = creator_of(db, avatar)
    try:
        if owner is None:
            raise AgentError(_no_creator(db, name))
        record = avatars.set_default(db, name)
    except AgentError as error:
        db.rollback()
        return avatar_page(request, db, settings, user, status_code=422, error=str(error))
    flash(request, f"Renders for @{owner.handle} now use the {'clip' if record.kind == avatars.FOOTAGE else 'photo'} {record.name!r}.")
    return RedirectResponse(f"/avatars#avatar-{quote(record.name)}", status_code=303)


def avatar_page(request: Request, db: Session, settings: Settings, user: WebUser, status_code: int = 200, **context: Any) -> HTMLResponse:
    """avatars.html with the avatars of ``user``'s creators; ``context`` adds an error, warnings or the form as it was sent."""
    from agent.enrollment import avatars

    creators = list(db.execute(select(Creator).where(creators_of(user)).order_by(Creator.id)).scalars())
    form = context.setdefault("form", {"name": default_name(db, user.handles)})
    if not form.get("creator"):
        same = [c.handle for c in creators if c.handle == form.get("name")]
        form["creator"] = same[0] if same else (creators[0].handle if creators else "")
    handles = {c.id: c.handle for c in creators}
    # The kind is known only once the file is read: the form shows both consents (each kind records its own).
    consent_text = escape(avatars.CONSENT_TEXT) + Markup('<span class="consent-clip">') + escape(avatars.FOOTAGE_CONSENT_TEXT) + Markup("</span>")
    shown = db.execute(select(Avatar).where(enrollments_of(Avatar, user)).order_by(Avatar.name)).scalars()
    return render_page(request, "avatars.html", status_code=status_code, avatars=[_avatar_row(a, handles) for a in shown],
                       consent_text=consent_text, max_upload_mb=settings.web.max_upload_mb, zone=creator_zone(db, user.handles),
                       creators=[c.handle for c in creators], **context)


def avatar_named(db: Session, name: str) -> Avatar | None:
    return db.execute(select(Avatar).where(Avatar.name == name)).scalar_one_or_none()


def creator_of(db: Session, avatar: Avatar) -> Creator | None:
    """The creator ``avatar`` is for: the one it is linked to, else the one whose handle is its name (as renders pick it)."""
    if avatar.creator_id is not None:
        return db.get(Creator, avatar.creator_id)
    return db.execute(select(Creator).where(Creator.handle == avatar.name)).scalar_one_or_none()


def _chosen_creator(db: Session, handle: str, user: WebUser) -> Creator | None:
    """The creator picked on the form (one of ``user``'s); none picked (or none known), the one named like the avatar is found by enroll."""
    if not handle:
        return None
    found = db.execute(select(Creator).where(Creator.handle == handle)).scalar_one_or_none()
    if found is None or not user.may_see(handle):
        raise AgentError(f"creator @{handle} is not known; reload the page and choose one from the list")
    return found


def _creator_count(db: Session) -> int:
    return len(db.execute(select(Creator.id)).all())


def _no_creator(db: Session, name: str) -> str:
    if _creator_count(db):
        return (f"avatar {name!r} belongs to no creator, so it cannot be a default for renders; "
                "upload it again under the same name with “Replace” ticked and choose its creator")
    return f"avatar {name!r} belongs to no creator yet, so there is no default to choose; renders use it while it is the only avatar"


def _avatar_row(avatar: Any, handles: dict[int, str]) -> dict[str, Any]:
    analysis = avatar.analysis or {}
    pose = analysis.get("pose") or {}
    footage = avatar.kind == "footage"
    # The card already names the file: its notes need not repeat "photo 'me.png': " (or "clip 'me.mp4': ").
    prefixes = [f"{word} {analysis.get('uploaded_as')!r}: " for word in ("photo", "clip")]
    notes = []
    for warning in analysis.get("warnings") or []:
        prefix = next((p for p in prefixes if warning.startswith(p)), None)
        notes.append(warning[len(prefix):][:1].upper() + warning[len(prefix) + 1:] if prefix else warning)
    owner = handles.get(avatar.creator_id) if avatar.creator_id is not None else (avatar.name if avatar.name in handles.values() else None)
    row = {"avatar": avatar, "footage": footage, "face_height_px": analysis.get("face_height_px"),
           "image": (analysis.get("image_width"), analysis.get("image_height")), "pose": pose, "warnings": notes,
           "uploaded_as": analysis.get("uploaded_as"), "creator": owner}
    if footage:
        loop = analysis.get("loop") or {}
        fps = float(analysis.get("fps") or 30)
        row.update(duration_s=analysis.get("duration_s"), size=(analysis.get("width"), analysis.get("height")), blinks=analysis.get("blinks"),
                   talking=analysis.get("talking"), loop=_loop_text(loop, fps))
    return row


def _loop_text(loop: dict[str, Any], fps: float) -> str:
    """How renders cover any reel length from the clip, in a creator's words."""
    if not loop:
        return ""
    span = f"{loop.get('first', 0) / fps:.1f}–{loop.get('last', 0) / fps:.1f} s"
    if loop.get("mode") == "forward":
        return f"Loops seamlessly over {span}"
    return f"Plays forward and back over {span}"
