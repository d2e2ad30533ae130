"""Files from the data directory: a reel's artifacts, avatar photos and previews, voice samples and previews (all behind
the login), and the signed, expiring links Instagram fetches rendered reels from (no login)."""

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

from agent.approval.queue import get_reel
from agent.errors import AgentError
from agent.settings import Settings
from agent.web.deps import OwnReelId, SessionDep, SettingsDep, Viewer, visible_avatar, visible_voice

router = APIRouter()


def serve(path: str | Path | None, settings: Settings) -> FileResponse:
    """A file from the data directory, or 404: never anything outside it, never a folder."""
    if not path:
        raise HTTPException(404, "no such file")
    resolved = Path(path).resolve()
    if not resolved.is_relative_to(settings.data_dir.resolve()) or not resolved.is_file():
        raise HTTPException(404, "no such file")
    return FileResponse(resolved)


@router.get("/media/{reel_id}/{kind}")
def reel_media(reel_id: OwnReelId, kind: str, db: SessionDep, settings: SettingsDep) -> FileResponse:
    reel = get_reel(db, reel_id)
    # Files only (the QA report has its own page, without the server's paths); never the other things artifacts records.
    path = (reel.artifacts or {}).get(kind) if kind in ("video", "cover", "srt", "audio") else None
    return serve(path if isinstance(path, str) else None, settings)


@router.get("/media/avatar/{name}/{kind}")
def avatar_media(name: str, kind: str, db: SessionDep, user: Viewer, settings: SettingsDep) -> FileResponse:
    from agent.enrollment import avatars

    avatar = visible_avatar(db, user, name)
    if avatar is None or kind not in ("photo", "preview"):
        raise HTTPException(404, "no such file")
    if kind == "photo":
        return serve(avatar.photo_path, settings)
    try:
        return serve(avatars.framed_preview(avatar), settings)
    except AgentError as error:
        raise HTTPException(404, str(error)) from None


@router.get("/media/voice/{name}/{kind}")
def voice_media(name: str, kind: str, db: SessionDep, user: Viewer, settings: SettingsDep) -> FileResponse:
    from agent.enrollment import voices

    profile = visible_voice(db, user, name)
    if profile is None or kind not in ("preview", "sample"):
        raise HTTPException(404, "no such file")
    path = voices.preview_path(settings, profile) if kind == "preview" else Path(profile.sample_path)
    return serve(path, settings)


@router.get("/public/{token}/{name}")
def public_media(token: str, name: str, settings: SettingsDep) -> FileResponse:
    """Rendered reels for Instagram to fetch (Graph API): signed, expiring, no login, nothing else."""
    from publishing.base import PublishRefused
    from publishing.hosting import MediaHost

    try:
        host = MediaHost(base_url="", secret=settings.web.secret_key.get_secret_value(), root=settings.data_dir)
    except PublishRefused:
        raise HTTPException(404, "no such file") from None
    path = host.resolve(token)
    if path is None or path.name != name:
        raise HTTPException(404, "no such file")
    return FileResponse(path)
