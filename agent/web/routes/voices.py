"""The voice page: the enrolled voices, the upload form that checks a sample and enrolls it with consent, and previews."""

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlmodel import Session

from agent.enrollment.consent import check_name
from agent.errors import AgentError, NotFoundError
from agent.settings import Settings
from agent.db.models import VoiceProfile
from agent.web.deps import (
    CsrfChecked, SessionDep, SettingsDep, Viewer, WebUser, enrollments_of, flash, max_upload_bytes, render_page, visible_voice,
)
from agent.web.enrollment_forms import as_shown, creator_zone, default_name
from agent.web.uploads import UploadRefused, incoming, shown_name

router = APIRouter()


@router.get("/voices", response_class=HTMLResponse)
def voices_page(request: Request, db: SessionDep, user: Viewer, settings: SettingsDep) -> HTMLResponse:
    return voice_page(request, db, settings, user)


@router.post("/voices", dependencies=[CsrfChecked])
def voice_enroll(
    request: Request, db: SessionDep, user: Viewer, settings: SettingsDep,
    sample: Annotated[UploadFile | None, File()] = None, name: Annotated[str, Form()] = "",
    consent: Annotated[bool, Form()] = False, replace: Annotated[bool, Form()] = False,
) -> Response:
    from agent.backends import voice_config
    from agent.enrollment import voices

    name = name.strip()
    form = {"name": name, "consent": consent, "replace": replace}
    shown = shown_name(sample.filename if sample else None, "sample")
    warnings: list[str] = []
    try:
        check_name(name, option="name")
        existing = voices.find(db, name)
        if existing is not None and visible_voice(db, user, name) is None:  # another creator's: never replaced from here
            raise AgentError(f"the name {name!r} is taken; choose another name")
        if not user.may_see(name):
            # Renders pick the voice named after the creator's handle: a user with some creators names it after one of them.
            raise AgentError(f"name the voice after your creator's handle ({', '.join(sorted(user.handles or ()))}): renders use the voice named after it")
        if existing is not None and not replace:
            raise AgentError(f"voice {name!r} is already enrolled (since {existing.created_at:%Y-%m-%d}); tick “Replace” to enroll the new sample instead")
        with incoming(sample, settings.data_dir, kind="audio", max_bytes=max_upload_bytes(settings)) as path:
            try:
                report = voices.analyze_sample(path)
                warnings = [as_shown(w, path, shown) for w in report.warnings]
                if not consent:
                    raise AgentError("Nothing was stored: tick “This is my voice, or I have the right to use it” to give your consent, then upload again")
                backend = settings.voice.backend
                enrolled = voices.enroll_voice(db, settings, report, name=name, consent=True, consent_by=user.actor, backend=backend,
                                               replace=replace, backend_config=voice_config(settings, backend))
            except AgentError as error:
                raise AgentError(as_shown(str(error), path, shown)) from None
    except UploadRefused as error:
        db.rollback()
        return voice_page(request, db, settings, user, status_code=error.status_code, error=str(error), form=form)
    except AgentError as error:
        db.rollback()
        return voice_page(request, db, settings, user, status_code=422, error=str(error), warnings=warnings, form=form)
    stats = enrolled.profile.stats or {}
    flash(request, f"{'Replaced' if enrolled.replaced else 'Enrolled'} voice {name!r}: {stats.get('speech_s', 0):.1f} s of speech."
          + "".join(f" Note: {w}" for w in warnings) + " Press “Preview” to hear it.")
    return RedirectResponse(f"/voices#voice-{quote(name)}", status_code=303)


@router.post("/voices/{name}/preview", dependencies=[CsrfChecked])
def preview_voice(request: Request, name: str, db: SessionDep, user: Viewer, settings: SettingsDep) -> Response:
    from agent.enrollment import voices

    if visible_voice(db, user, name) is None:  # not enrolled, or another creator's: the same 404 page
        known = db.execute(select(VoiceProfile.name).where(enrollments_of(VoiceProfile, user)).order_by(VoiceProfile.name)).scalars()
        raise NotFoundError(f"voice {name!r} is not enrolled (enrolled: {', '.join(known) or 'none yet'}); reload the Voice page")

    try:
        voices.preview(db, settings, name)
    except AgentError as error:
        db.rollback()
        flash(request, str(error))
    except OSError as error:
        flash(request, f"voice {name!r}: the preview could not be written ({error.strerror}); check data_dir")
    return RedirectResponse(f"/voices#voice-{quote(name)}", status_code=303)


def voice_page(request: Request, db: Session, settings: Settings, user: WebUser, status_code: int = 200, **context: Any) -> HTMLResponse:
    """voices.html with the voices of ``user``'s creators; ``context`` adds an error, warnings or the form as it was sent."""
    from agent.enrollment import voices

    context.setdefault("form", {"name": default_name(db, user.handles)})
    shown = db.execute(select(VoiceProfile).where(enrollments_of(VoiceProfile, user)).order_by(VoiceProfile.name)).scalars()
    rows = [_voice_row(profile, voices.preview_path(settings, profile)) for profile in shown]
    return render_page(request, "voices.html", status_code=status_code, voices=rows, consent_text=voices.CONSENT_TEXT,
                       preview_text=voices.PREVIEW_TEXT, backend=settings.voice.backend, max_upload_mb=settings.web.max_upload_mb,
                       zone=creator_zone(db, user.handles), **context)


def _voice_row(profile: Any, preview: Path) -> dict[str, Any]:
    from agent.enrollment import voices

    stats = profile.stats or {}
    base = voices.base_voice(profile)
    return {"profile": profile, "speech_s": stats.get("speech_s"), "f0_median_hz": stats.get("f0_median_hz"), "snr_db": stats.get("snr_db"),
            "backends": sorted((profile.artifacts or {}).keys()) or [profile.backend], "has_preview": preview.is_file(),
            # which bundled voice is matched to the creator, and the measurement that chose it (as `voice show`)
            "base": base["base"] if base else None, "base_why": base["why"].split(": ", 1)[-1] if base else None}
