"""Uploaded photos, clips and voice samples: size-limited, recognised by their first bytes, stored under generated names.

The client's filename is only ever shown, never used in a path: every upload is
written to ``<data_dir>/uploads/<uuid><suffix>`` (the suffix from the sniffed
format) and deleted when the request is done with it, whatever happened.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from starlette.exceptions import HTTPException

from agent.errors import AgentError

CHUNK_BYTES = 1 << 20
SNIFF_BYTES = 64
#: Multipart framing and the small form fields beside the file, allowed on top of web.max_upload_mb.
FORM_OVERHEAD_BYTES = 256 * 1024
HEIC_BRANDS = (b"heic", b"heix", b"mif1", b"hevc", b"heim", b"heis", b"hevm", b"hevs", b"msf1")
PHOTO_FORMATS = "JPEG, PNG or WebP"
VIDEO_FORMATS = "MP4, MOV, WebM or M4V"
AUDIO_FORMATS = "WAV, MP3, M4A, OGG or FLAC"
#: ISO base media brands that are not video: HEIC/AVIF stills and audio-only M4A/M4B.
NOT_VIDEO_BRANDS = (*HEIC_BRANDS, b"avif", b"avis", b"M4A ", b"M4B ", b"M4P ")
#: Names that say "photo" or "clip", for the message when the content says neither.
PHOTO_NAMES = (".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", ".gif", ".bmp", ".tif", ".tiff", ".avif")
VIDEO_NAMES = (".mp4", ".mov", ".m4v", ".webm", ".mkv", ".avi", ".3gp", ".qt")


class UploadRefused(AgentError):
    """An upload that is not stored: the message names the file and what to send instead."""

    def __init__(self, message: str, status_code: int = 422):
        super().__init__(message)
        self.status_code = status_code


class UploadTooLarge(UploadRefused):
    def __init__(self, message: str):
        super().__init__(message, status_code=413)


def sniff_photo(head: bytes) -> str | None:
    """The file suffix for a photo's first bytes (JPEG, PNG, WebP, HEIC), or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return ".jpg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return ".png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return ".webp"
    if head[4:8] == b"ftyp" and head[8:12] in HEIC_BRANDS:
        return ".heic"  # recognised so that the photo check can refuse it with its own clear message
    return None


def sniff_video(head: bytes) -> str | None:
    """The file suffix for a video's first bytes (MP4, M4V, MOV, WebM/Matroska), or None (never for HEIC or audio-only M4A)."""
    if head[4:8] == b"ftyp" and len(head) >= 12:
        brand = head[8:12]
        if brand in NOT_VIDEO_BRANDS:
            return None
        return {b"qt  ": ".mov", b"M4V ": ".m4v", b"M4VH": ".m4v", b"M4VP": ".m4v"}.get(brand, ".mp4")
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return ".webm"  # EBML: WebM, or Matroska (ffmpeg reads both)
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"):
        return ".mov"  # an old QuickTime file, without an ftyp box
    return None


def sniff_avatar(head: bytes) -> str | None:
    """A photo's suffix (see :func:`sniff_photo`), else a clip's (see :func:`sniff_video`), else None."""
    return sniff_photo(head) or sniff_video(head)


def sniff_audio(head: bytes) -> str | None:
    """The file suffix for an audio file's first bytes (WAV, MP3, M4A/MP4, OGG, FLAC), or None."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return ".wav"
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return ".mp3"  # an ID3 tag, or an MPEG audio (or ADTS AAC) frame header
    if head[4:8] == b"ftyp" and head[8:12] not in HEIC_BRANDS:
        return ".m4a"
    if head.startswith(b"OggS"):
        return ".ogg"
    if head.startswith(b"fLaC"):
        return ".flac"
    return None


#: What a reel's own recording may be: an audio file, or what a browser's MediaRecorder writes (WebM or Ogg with Opus).
RECORDING_FORMATS = "WAV, MP3, M4A, OGG or WebM"


def sniff_recording(head: bytes) -> str | None:
    """The file suffix for a recording's first bytes: an audio file's (see :func:`sniff_audio`), or ``.webm`` for an EBML
    (WebM/Matroska) file, which is what Chromium's MediaRecorder writes (audio/webm;codecs=opus)."""
    return sniff_audio(head) or (".webm" if head.startswith(b"\x1a\x45\xdf\xa3") else None)


def shown_name(filename: str | None, fallback: str) -> str:
    """The client's filename as it may be shown on a page: its last part, no control characters, at most 80 characters."""
    name = re.split(r"[\\/]", filename or "")[-1]
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip()
    return (name or fallback)[:80]


def is_clip(suffix: str) -> bool:
    """Whether a suffix :func:`incoming` chose is a video's."""
    return suffix in (".mp4", ".m4v", ".mov", ".webm")


@contextmanager
def incoming(upload: Any, data_dir: Path, *, kind: str, max_bytes: int) -> Iterator[Path]:
    """Store ``upload`` (a Starlette UploadFile) as ``<data_dir>/uploads/<uuid><suffix>``; deleted on leaving the block.

    ``kind`` is "photo", "avatar" (a photo or a clip), "audio" or "recording" (audio, or a browser's WebM): it picks the formats recognised. Raises
    :class:`UploadRefused` for a missing, empty or unrecognised file and
    :class:`UploadTooLarge` past ``max_bytes`` (checked while the file is copied, so a huge one is never kept whole).
    """
    if kind == "avatar":
        sniff, what, formats = sniff_avatar, "photo or clip", f"a {PHOTO_FORMATS} photo, or an {VIDEO_FORMATS} clip"
    elif kind == "photo":
        sniff, what, formats = sniff_photo, "photo", PHOTO_FORMATS
    elif kind == "recording":
        sniff, what, formats = sniff_recording, "recording", RECORDING_FORMATS
    else:
        sniff, what, formats = sniff_audio, "voice sample", AUDIO_FORMATS
    if upload is None or not getattr(upload, "filename", None):
        raise UploadRefused(f"choose a {what} file to upload ({formats})")
    shown = shown_name(upload.filename, "upload" if kind == "avatar" else kind)
    label = f"{what} {shown!r}" if kind != "avatar" else f"{_avatar_noun(shown)} {shown!r}"
    source: BinaryIO = upload.file
    source.seek(0)
    head = source.read(SNIFF_BYTES)
    if not head:
        raise UploadRefused(f"{label}: the file is empty; choose the {what if kind != 'avatar' else _avatar_noun(shown)} again")
    suffix = sniff(head)
    if suffix is None:
        raise UploadRefused(_unrecognised(label, kind, shown, formats))
    if kind == "avatar":
        label = f"{'clip' if is_clip(suffix) else 'photo'} {shown!r}"  # what the content says it is
    folder = Path(data_dir) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{uuid.uuid4().hex}{suffix}"
    try:
        size = len(head)
        with open(target, "xb") as out:
            out.write(head)
            while size <= max_bytes:
                block = source.read(CHUNK_BYTES)
                if not block:
                    break
                size += len(block)
                out.write(block)
        if size > max_bytes:
            smaller = "trim the clip to 10-20 s or export it at 1080p" if is_clip(suffix) else "upload a smaller file"
            raise UploadTooLarge(f"{label}: larger than {max_bytes // (1024 * 1024)} MB; {smaller} "
                                 "(web.max_upload_mb sets the limit)")
        yield target
    finally:
        try:
            os.unlink(target)
        except FileNotFoundError:
            pass


def _avatar_noun(shown: str) -> str:
    """How to call an avatar upload before its content is known: by its name's suffix."""
    suffix = Path(shown).suffix.lower()
    return "clip" if suffix in VIDEO_NAMES else "photo" if suffix in PHOTO_NAMES else "file"


def _unrecognised(label: str, kind: str, shown: str, formats: str) -> str:
    if kind != "avatar":
        return f"{label}: not a {formats} file (whatever its name says); export it as {formats.split(',')[0]} and upload it again"
    noun = _avatar_noun(shown)
    if noun == "clip":
        return f"{label}: not an {VIDEO_FORMATS} video (whatever its name says); export the clip from your phone as MP4 and upload it again"
    if noun == "photo":
        return f"{label}: not a {PHOTO_FORMATS} file (whatever its name says); export it as JPEG and upload it again"
    return f"{label}: not a {PHOTO_FORMATS} photo or an {VIDEO_FORMATS} clip (whatever its name says); upload a JPEG photo or an MP4 clip"


def sweep(data_dir: Path, *, older_than_s: float = 3600.0) -> int:
    """Delete uploads a crash left behind in ``<data_dir>/uploads`` (a request deletes its own); returns how many."""
    import time

    folder = Path(data_dir) / "uploads"
    if not folder.is_dir():
        return 0
    removed = 0
    cutoff = time.time() - older_than_s
    for path in folder.iterdir():
        try:
            if path.is_file() and not path.is_symlink() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except OSError:
            continue
    return removed


class BodyTooLarge(HTTPException):
    """A request body over the limit, raised while it is read (an HTTPException, so FastAPI's body parsing passes it on)."""

    def __init__(self, limit: int):
        super().__init__(413, _too_large(limit))


class BodyLimit:
    """ASGI middleware: a request body larger than ``max_bytes`` stops with :class:`BodyTooLarge` while it is read.

    A declared Content-Length over the limit fails on the first read, before
    anything is parsed or spooled; a chunked body fails once it passes the limit.
    """

    def __init__(self, app: Any, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        limit = self.max_bytes
        seen = 0

        async def limited_receive() -> dict:
            nonlocal seen
            if declared is not None and declared.isdigit() and int(declared) > limit:
                raise BodyTooLarge(limit)
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, limited_receive, send)


def _too_large(limit: int) -> str:
    megabytes = max(1, (limit - FORM_OVERHEAD_BYTES) // (1024 * 1024))
    return f"the upload is larger than {megabytes} MB; choose a smaller file (web.max_upload_mb sets the limit)"
