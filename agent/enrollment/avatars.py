"""Avatar enrollment: check a photo, record the creator's consent, keep a copy and its face analysis.

The CLI (`reeltwin avatar enroll`) and the web UI call the same functions.
Nothing is stored unless the photo passes every check and consent is given.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from agent.db.models import Avatar
from agent.enrollment.consent import ConsentRequired, check_name, record_consent
from agent.errors import AgentError, NotFoundError

#: The reel frame the preview shows the photo in (what the renderer makes: 9:16, 1080x1920).
FRAME_WIDTH_PX, FRAME_HEIGHT_PX = 1080, 1920
CONSENT_TEXT = ("I confirm this photo shows me, or that I have the right to use this person's likeness, "
                "and I agree that ReelTwin animates it into AI-generated videos published as me.")


@dataclass(frozen=True)
class Enrollment:
    avatar: Avatar
    warnings: list[str]


def analyze_photo(path: Path) -> tuple[Any, list[str]]:
    """(FaceAnalysis, warnings) for a photo; raises AgentError with the photo's clear problem."""
    from render import RenderError
    from render.face.analysis import analyze, check, load_photo

    label = f"photo {str(path)!r}"
    try:
        rgb = load_photo(path)
        face = analyze(rgb)
        warnings = check(face, label=label)
    except RenderError as error:
        raise AgentError(str(error)) from None
    return face, warnings


def enroll(session: Session, data_dir: Path, photo: Path, *, name: str, consent: bool, consent_by: str = "cli",
           replace: bool = False, creator_id: int | None = None) -> Enrollment:
    """Check ``photo`` and store it as avatar ``name``; without consent nothing is stored (see :mod:`agent.enrollment.consent`)."""
    from render.face.analysis import sha256_of

    check_name(name)
    existing = session.exec(select(Avatar).where(Avatar.name == name)).first()
    if existing is not None and not replace:
        raise AgentError(f"avatar {name!r} already exists; pass --replace to enroll a new photo under that name, or choose another --name")
    face, warnings = analyze_photo(photo)
    if not consent:
        raise ConsentRequired(f"photo {str(photo)!r}: consent is required to animate a face; confirm with --consent that it is you or that you have the right to use it")
    folder = Path(data_dir) / "avatars" / name
    folder.mkdir(parents=True, exist_ok=True)
    suffix = photo.suffix.lower() if photo.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp") else ".img"
    # Copy under a new name first, so a crash never leaves a profile pointing at half a file.
    handle, temp = tempfile.mkstemp(dir=folder, prefix=".incoming-", suffix=suffix)
    os.close(handle)
    shutil.copyfile(photo, temp)
    digest = sha256_of(Path(temp))
    final = folder / f"photo-{digest[:12]}{suffix}"
    os.replace(temp, final)
    record = existing or Avatar(name=name, photo_path="", photo_sha256="", consent_by="", consent_text="")
    record.photo_path = str(final)
    record.photo_sha256 = digest
    record_consent(record, by=consent_by, text=CONSENT_TEXT)
    record.analysis = face.to_dict() | {"warnings": warnings}
    if creator_id is not None:
        record.creator_id = creator_id
    session.add(record)
    session.commit()
    session.refresh(record)
    return Enrollment(avatar=record, warnings=warnings)


def list_avatars(session: Session) -> list[Avatar]:
    return list(session.exec(select(Avatar).order_by(Avatar.name)))


def get_avatar(session: Session, name: str) -> Avatar:
    avatar = session.exec(select(Avatar).where(Avatar.name == name)).first()
    if avatar is None:
        known = ", ".join(a.name for a in list_avatars(session)) or "none yet"
        raise NotFoundError(f"avatar {name!r} is not enrolled (enrolled: {known}); enroll one with `reeltwin avatar enroll PHOTO --name {name} --consent`")
    return avatar


def face_of(avatar: Avatar) -> Any:
    """The stored face analysis (so renders skip the analysis), or None when it is missing."""
    from render.face.analysis import FaceAnalysis

    try:
        return FaceAnalysis.from_dict(avatar.analysis)
    except (KeyError, TypeError, ValueError):
        return None


def preview_path(avatar: Avatar) -> Path:
    """Where the framed preview of ``avatar``'s photo is cached: beside the photo, named for its content."""
    return Path(avatar.photo_path).parent / f"preview-{avatar.photo_sha256[:12]}.jpg"


def framed_preview(avatar: Avatar) -> Path:
    """A JPEG of the photo placed in the 1080x1920 reel frame as a render places it (face in the upper middle,
    the rest extended with stretched, blurred edges); made on first use, then cached."""
    target = preview_path(avatar)
    if target.is_file():
        return target
    from PIL import Image

    from render import RenderError
    from render.avatar import framing
    from render.face import landmarks
    from render.face.analysis import load_photo

    photo = Path(avatar.photo_path)
    try:
        rgb = load_photo(photo)
    except RenderError as error:
        raise AgentError(f"avatar {avatar.name!r}: {error}; enroll the photo again") from None
    face = face_of(avatar)
    if face is None:
        face, _warnings = analyze_photo(photo)
    # The same placement as the renderer's (render/avatar/cpu_mesh.py): the forehead-chin midpoint is the face centre.
    centre = 0.5 * (face.point(landmarks.FOREHEAD) + face.point(landmarks.CHIN))
    plan = framing.plan(face.image_width, face.image_height, (float(centre[0]), float(centre[1])), face.face_height_px,
                        FRAME_WIDTH_PX, FRAME_HEIGHT_PX)
    frame, _inside = framing.compose_background(rgb, plan)
    handle, temp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-", suffix=".jpg")
    os.close(handle)
    try:
        Image.fromarray(frame).save(temp, "JPEG", quality=85, optimize=True)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return target
