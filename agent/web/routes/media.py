"""Files from the data directory: a reel's artifacts, avatar photos and previews, voice samples and previews (all behind
the login), and the signed, expiring links Instagram fetches rendered reels from (no login).

With media storage in a bucket (``storage.backend = "s3"``), a reel rendered on another machine is streamed from the
bucket through this server (byte ranges passed on, so a video seeks; the page's CSP stays ``'self'``, and the bucket
needs no public access), and an avatar's photo or a voice sample enrolled elsewhere is fetched into this machine's data
folder first."""

import logging
import re
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, Response, StreamingResponse
from starlette.background import BackgroundTask

from agent.approval.queue import get_reel
from agent.errors import AgentError
from agent.settings import Settings
from agent.storage import MediaMissing, MediaStorage, RangeNotSatisfiable, StorageError, media_storage
from agent.web.deps import OwnReelId, SessionDep, SettingsDep, Viewer, visible_avatar, visible_voice

log = logging.getLogger(__name__)
router = APIRouter()
#: One byte range (``bytes=0-``, ``bytes=100-199``, ``bytes=-500``): what browsers send for video; anything else gets the whole file.
_ONE_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def serve(path: str | Path | None, settings: Settings) -> FileResponse:
    """A file from the data directory, or 404: never anything outside it, never a folder."""
    if not path:
        raise HTTPException(404, "no such file")
    resolved = Path(path).resolve()
    if not resolved.is_relative_to(settings.data_dir.resolve()) or not resolved.is_file():
        raise HTTPException(404, "no such file")
    return FileResponse(resolved)


def _unavailable(error: StorageError) -> HTTPException:
    log.error("web: media storage: %s", error)
    return HTTPException(503, "media storage is unavailable; see the server log")


def serve_stored(request: Request, path: str | Path | None, settings: Settings, storage: MediaStorage) -> Response:
    """A file from this machine's data folder, else (media storage in a bucket) streamed from the bucket; or 404."""
    if not path:
        raise HTTPException(404, "no such file")
    if not storage.remote:
        return serve(path, settings)
    try:
        local = storage.local_path(path)   # a copy fetched earlier, or the path's place in this data folder
    except StorageError:
        raise HTTPException(404, "no such file") from None
    if local.is_file():
        return serve(local, settings)
    wanted = request.headers.get("range", "").replace(" ", "")
    byte_range = wanted if _ONE_RANGE.match(wanted) and wanted != "bytes=-" else None
    try:
        stream = storage.open(path, byte_range=byte_range)
    except MediaMissing:
        raise HTTPException(404, "no such file") from None
    except RangeNotSatisfiable:
        raise HTTPException(416, "range not satisfiable") from None
    except StorageError as error:
        raise _unavailable(error) from None
    headers = {"Accept-Ranges": "bytes", "Content-Length": str(stream.length_bytes)}
    if stream.content_range:
        headers["Content-Range"] = stream.content_range
    return StreamingResponse(stream.chunks, status_code=206 if stream.content_range else 200, media_type=stream.content_type,
                             headers=headers, background=BackgroundTask(stream.close))


def _fetched(storage: MediaStorage, path: str, *, sha256: str | None = None) -> Path:
    """A small file (a photo, a voice sample) on this machine, fetched from media storage when it is elsewhere."""
    try:
        return storage.ensure_local(path, sha256=sha256)
    except MediaMissing:
        raise HTTPException(404, "no such file") from None
    except StorageError as error:
        raise _unavailable(error) from None


@router.get("/media/{reel_id}/{kind}")
def reel_media(reel_id: OwnReelId, kind: str, request: Request, db: SessionDep, settings: SettingsDep) -> Response:
    reel = get_reel(db, reel_id)
    # Files only (the QA report has its own page, without the server's paths); never the other things artifacts records.
    path = (reel.artifacts or {}).get(kind) if kind in ("video", "cover", "srt", "audio") else None
    return serve_stored(request, path if isinstance(path, str) else None, settings, media_storage(settings))


@router.get("/media/avatar/{name}/{kind}")
def avatar_media(name: str, kind: str, db: SessionDep, user: Viewer, settings: SettingsDep) -> FileResponse:
    from agent.enrollment import avatars

    avatar = visible_avatar(db, user, name)
    if avatar is None or kind not in ("photo", "preview"):
        raise HTTPException(404, "no such file")
    storage = media_storage(settings)
    if kind == "photo":
        return serve(_fetched(storage, avatar.photo_path, sha256=avatar.photo_sha256 if avatar.kind == avatars.PHOTO else None), settings)
    try:
        return serve(avatars.framed_preview(avatar, storage), settings)
    except StorageError as error:
        raise (HTTPException(404, str(error)) if isinstance(error, MediaMissing) else _unavailable(error)) from None
    except AgentError as error:
        raise HTTPException(404, str(error)) from None


@router.get("/media/voice/{name}/{kind}")
def voice_media(name: str, kind: str, db: SessionDep, user: Viewer, settings: SettingsDep) -> FileResponse:
    from agent.enrollment import voices

    profile = visible_voice(db, user, name)
    if profile is None or kind not in ("preview", "sample"):
        raise HTTPException(404, "no such file")
    storage = media_storage(settings)
    path = voices.preview_path(settings, profile) if kind == "preview" else _fetched(storage, profile.sample_path, sha256=profile.sample_sha256 or None)
    return serve(path, settings)


@router.get("/public/{token}/{name}")
def public_media(token: str, name: str, request: Request, settings: SettingsDep) -> Response:
    """Rendered reels for Instagram to fetch (Graph API): signed, expiring, no login, nothing else."""
    from publishing.base import PublishRefused
    from publishing.hosting import MediaHost

    try:
        host = MediaHost(base_url="", secret=settings.web.secret_key.get_secret_value(), root=settings.data_dir)
    except PublishRefused:
        raise HTTPException(404, "no such file") from None
    path = host.resolve(token)
    if path is None:
        # Signed by a publisher on another machine: the file is in media storage, not (yet) here.
        signed = host.signed_path(token)
        storage = media_storage(settings)
        if signed is None or signed.name != name or not storage.remote:
            raise HTTPException(404, "no such file")
        return serve_stored(request, signed, settings, storage)
    if path.name != name:
        raise HTTPException(404, "no such file")
    return FileResponse(path)