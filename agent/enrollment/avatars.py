"""Avatar enrollment: check a photo or a clip, record the creator's consent, keep a copy and its analysis.

The CLI (`reeltwin avatar enroll`) and the web UI call the same functions.
Nothing is stored unless the input passes every check and consent is given.

Two kinds: a *photo* (one front-facing picture, animated by the photo backend) and
*footage* (a 5-120 s clip of the creator, kept as a normalized copy with its face
track, re-lip-synced by the footage backend). A creator may have both; one is the
default for renders (the newest enrolled, or the one chosen with ``avatar default``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, select

from agent.db.models import Avatar, Creator
from agent.enrollment.consent import ConsentRequired, check_name, record_consent
from agent.errors import AgentError, NotFoundError

if TYPE_CHECKING:
    from agent.storage import MediaStorage

#: The reel frame the preview shows the photo in (what the renderer makes: 9:16, 1080x1920).
FRAME_WIDTH_PX, FRAME_HEIGHT_PX = 1080, 1920
CONSENT_TEXT = ("I confirm this photo shows me, or that I have the right to use this person's likeness, "
                "and I agree that ReelTwin animates it into AI-generated videos published as me.")
FOOTAGE_CONSENT_TEXT = ("I confirm this clip shows me, or that I have the right to use this person's likeness, "
                        "and I agree that ReelTwin re-animates it into AI-generated videos published as me.")
PHOTO, FOOTAGE = "photo", "footage"


@dataclass(frozen=True)
class Enrollment:
    avatar: Avatar
    warnings: list[str]


@dataclass
class Inspection:
    """A checked input, ready to store: for a clip, the normalized copy and its track wait in ``work_dir``."""

    kind: str
    source: Path
    analysis: Any                  # FaceAnalysis (photo) or FootageAnalysis (footage)
    warnings: list[str]
    work_dir: Path | None = None
    files: dict[str, Path] = field(default_factory=dict)

    def discard(self) -> None:
        if self.work_dir is not None:
            shutil.rmtree(self.work_dir, ignore_errors=True)
            self.work_dir = None


def is_video(path: Path) -> bool:
    from render.face.footage import VIDEO_SUFFIXES, looks_like_video

    path = Path(path)
    return path.is_file() and (looks_like_video(path) or path.suffix.lower() in VIDEO_SUFFIXES)


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


def inspect_clip(path: Path, data_dir: Path, *, label: str | None = None, progress: Any = None) -> Inspection:
    """Normalize and analyse a clip into a work folder under ``data_dir``; AgentError (and nothing kept) when it is refused."""
    from render import RenderError
    from render.face import footage

    label = label or f"clip {str(path)!r}"
    root = Path(data_dir) / "avatars"
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=root, prefix=".incoming-"))
    try:
        clip = work / "clip.mp4"
        footage.normalize(Path(path), clip, label=label)
        analysis = footage.analyze(clip, label=label, progress=progress)
        warnings = footage.check(analysis, label=label)
        track = work / "track.npz"
        analysis.save(track)
    except RenderError as error:
        shutil.rmtree(work, ignore_errors=True)
        raise AgentError(str(error)) from None
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return Inspection(kind=FOOTAGE, source=Path(path), analysis=analysis, warnings=warnings, work_dir=work,
                      files={"clip": clip, "track": track})


def inspect(path: Path, data_dir: Path, *, label: str | None = None, progress: Any = None) -> Inspection:
    """Check a photo or a clip (told apart by content, not name)."""
    if is_video(path):
        return inspect_clip(path, data_dir, label=label, progress=progress)
    face, warnings = analyze_photo(path)
    return Inspection(kind=PHOTO, source=Path(path), analysis=face, warnings=warnings)


def find_creator(session: Session, handle: str) -> Creator:
    creator = session.exec(select(Creator).where(Creator.handle == handle.lstrip("@"))).first()
    if creator is None:
        known = ", ".join(sorted(c.handle for c in session.exec(select(Creator)))) or "none yet"
        raise NotFoundError(f"creator {handle!r} is not known (known: {known}); add calendar/{handle.lstrip('@')}.yaml, then run reeltwin plan")
    return creator


def enroll(session: Session, data_dir: Path, photo: Path, *, name: str, consent: bool, consent_by: str = "cli",
           replace: bool = False, creator_id: int | None = None, inspection: Inspection | None = None,
           make_default: bool = True, storage: MediaStorage | None = None) -> Enrollment:
    """Check ``photo`` (a photo or a clip) and store it as avatar ``name``; without consent nothing is stored
    (see :mod:`agent.enrollment.consent`). ``inspection`` is a check already made of the same file. The stored
    files are put into ``storage`` (media storage shared by other machines) before the database points at them.

    The avatar is linked to ``creator_id``, else to the creator whose handle is ``name``; linked, it becomes
    that creator's default avatar unless ``make_default`` is False."""
    from render.face.analysis import sha256_of

    check_name(name)
    existing = session.exec(select(Avatar).where(Avatar.name == name)).first()
    if existing is not None and not replace:
        raise AgentError(f"avatar {name!r} already exists; pass --replace to enroll a new photo or clip under that name, or choose another --name")
    checked = inspection if inspection is not None else inspect(photo, data_dir)
    try:
        if not consent:
            what = "a face" if checked.kind == PHOTO else "your clip"
            raise ConsentRequired(f"{'photo' if checked.kind == PHOTO else 'clip'} {str(photo)!r}: consent is required to animate {what}; "
                                  "confirm with --consent that it is you or that you have the right to use it")
        folder = Path(data_dir) / "avatars" / name
        folder.mkdir(parents=True, exist_ok=True)
        digest = sha256_of(Path(photo))
        if checked.kind == PHOTO:
            suffix = photo.suffix.lower() if photo.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp") else ".img"
            # Copy under a new name first, so a crash never leaves a profile pointing at half a file.
            handle, temp = tempfile.mkstemp(dir=folder, prefix=".incoming-", suffix=suffix)
            os.close(handle)
            shutil.copyfile(photo, temp)
            digest = sha256_of(Path(temp))
            final = folder / f"photo-{digest[:12]}{suffix}"
            os.replace(temp, final)
            analysis = checked.analysis.to_dict() | {"warnings": checked.warnings}
            text = CONSENT_TEXT
        else:
            # The whole folder (normalized clip + track) is renamed into place in one step.
            target = folder / f"footage-{digest[:12]}"
            if target.exists():
                shutil.rmtree(target)
            assert checked.work_dir is not None
            os.replace(checked.work_dir, target)
            checked.work_dir = None
            final = target / "clip.mp4"
            analysis = checked.analysis.summary() | {"warnings": checked.warnings, "track": str(target / "track.npz")}
            text = FOOTAGE_CONSENT_TEXT
    finally:
        if inspection is None:
            checked.discard()
    if storage is not None:
        storage.put(final, final.with_name("track.npz") if checked.kind == FOOTAGE else None)
    record = existing or Avatar(name=name, photo_path="", photo_sha256="", consent_by="", consent_text="")
    record.photo_path = str(final)
    record.photo_sha256 = digest
    record.kind = checked.kind
    record_consent(record, by=consent_by, text=text)
    record.analysis = analysis
    if creator_id is None:
        same = session.exec(select(Creator).where(Creator.handle == name)).first()
        creator_id = same.id if same is not None else record.creator_id
    record.creator_id = creator_id
    if creator_id is not None and make_default:
        for other in session.exec(select(Avatar).where(Avatar.creator_id == creator_id)):
            if other is not record and other.is_default:
                other.is_default = False
                session.add(other)
        record.is_default = True
    session.add(record)
    session.commit()
    session.refresh(record)
    return Enrollment(avatar=record, warnings=checked.warnings)


def set_default(session: Session, name: str) -> Avatar:
    """Make avatar ``name`` its creator's default for renders."""
    avatar = get_avatar(session, name)
    creator_id = avatar.creator_id
    if creator_id is None:
        same = session.exec(select(Creator).where(Creator.handle == avatar.name)).first()
        if same is None:
            raise AgentError(f"avatar {name!r} belongs to no creator; enroll it again with --creator HANDLE")
        creator_id = avatar.creator_id = same.id
    for other in session.exec(select(Avatar).where(Avatar.creator_id == creator_id)):
        other.is_default = other.id == avatar.id
        session.add(other)
    avatar.is_default = True
    session.add(avatar)
    session.commit()
    session.refresh(avatar)
    return avatar


def track_path(avatar: Avatar) -> Path:
    """Where a footage avatar's face track was stored (by the machine that enrolled it)."""
    return Path((avatar.analysis or {}).get("track") or str(Path(avatar.photo_path).with_name("track.npz")))


def local_media(avatar: Avatar, storage: MediaStorage | None) -> Path:
    """The avatar's photo or clip on this machine: fetched from media storage (and checked) when enrolled on another."""
    if storage is None:
        return Path(avatar.photo_path)
    fix = f"enroll avatar {avatar.name!r} again with --replace"
    return storage.ensure_local(avatar.photo_path, sha256=avatar.photo_sha256 if avatar.kind == PHOTO else None, fix=fix)


def footage_of(avatar: Avatar, storage: MediaStorage | None = None) -> Any:
    """The stored face track of a footage avatar (render.face.footage.FootageAnalysis); AgentError when it is gone."""
    from render import RenderError
    from render.face.footage import FootageAnalysis

    track = track_path(avatar)
    if storage is not None:
        track = storage.ensure_local(track, fix=f"enroll avatar {avatar.name!r} again with --replace")
    try:
        return FootageAnalysis.load(Path(track))
    except RenderError as error:
        raise AgentError(f"avatar {avatar.name!r}: {error}") from None


def exists(session: Session, name: str) -> bool:
    return session.exec(select(Avatar).where(Avatar.name == name)).first() is not None


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


def preview_path(avatar: Avatar, storage: MediaStorage | None = None) -> Path:
    """Where the framed preview of ``avatar``'s photo is cached: beside the photo (on this machine), named for its content."""
    photo = storage.local_path(avatar.photo_path) if storage is not None else Path(avatar.photo_path)
    return photo.parent / f"preview-{avatar.photo_sha256[:12]}.jpg"


def framed_preview(avatar: Avatar, storage: MediaStorage | None = None) -> Path:
    """A JPEG of the photo placed in the 1080x1920 reel frame as a render places it (face in the upper middle,
    the rest filled with a blurred, dimmed copy of the photo); made on first use, then cached on this machine
    (the photo fetched from ``storage`` when it was enrolled on another)."""
    target = preview_path(avatar, storage)
    if target.is_file():
        return target
    if avatar.kind == FOOTAGE:
        return _footage_preview(avatar, target, storage)
    from PIL import Image

    from render import RenderError
    from render.avatar import framing
    from render.face import landmarks
    from render.face.analysis import load_photo

    photo = local_media(avatar, storage)
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


PREVIEW_STRIP_FRAMES = 4


def _footage_preview(avatar: Avatar, target: Path, storage: MediaStorage | None = None) -> Path:
    """A strip of frames from across the clip, each framed as the reel frames it (1080x1920, shown at a quarter)."""
    import cv2
    import numpy as np
    from PIL import Image

    from render import RenderError
    from render.avatar.footage import plan_camera
    from render.face.footage import ClipReader

    track = footage_of(avatar, storage)
    camera = plan_camera(track, FRAME_WIDTH_PX, FRAME_HEIGHT_PX)
    reader = ClipReader(local_media(avatar, storage), track.width, track.height)
    picks = np.linspace(0, track.n_frames - 1, PREVIEW_STRIP_FRAMES + 2)[1:-1].astype(int)
    tiles = []
    try:
        for index in picks:
            frame = next(iter(reader.read(int(index), 1)), None)
            if frame is None:
                raise RenderError("the clip ended early")
            framed = cv2.warpAffine(frame, camera.matrix(int(index)), (FRAME_WIDTH_PX, FRAME_HEIGHT_PX), flags=cv2.INTER_AREA)
            tiles.append(cv2.resize(framed, (FRAME_WIDTH_PX // 4, FRAME_HEIGHT_PX // 4), interpolation=cv2.INTER_AREA))
    except RenderError as error:
        raise AgentError(f"avatar {avatar.name!r}: the clip cannot be read ({error}); enroll it again") from None
    strip = np.concatenate(tiles, axis=1)
    handle, temp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-", suffix=".jpg")
    os.close(handle)
    try:
        Image.fromarray(strip).save(temp, "JPEG", quality=85, optimize=True)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return target
