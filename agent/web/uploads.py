"""Uploaded photos and voice samples: size-limited, recognised by their first bytes, stored under generated names.

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
AUDIO_FORMATS = "WAV, MP3, M4A, OGG or FLAC"


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


def shown_name(filename: str | None, fallback: str) -> str:
    """The client's filename as it may be shown on a page: its last part, no control characters, at most 80 characters."""
    name = re.split(r"[\\/]", filename or "")[-1]
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip()
    return (name or fallback)[:80]


@contextmanager
def incoming(upload: Any, data_dir: Path, *, kind: str, max_bytes: int) -> Iterator[Path]:
    """Store ``upload`` (a Starlette UploadFile) as ``<data_dir>/uploads/<uuid><suffix>``; deleted on leaving the block.

    ``kind`` is "photo" or "audio": it picks the formats recognised. Raises
    :class:`UploadRefused` for a missing, empty or unrecognised file and
    :class:`UploadTooLarge` past ``max_bytes``.
    """
    sniff, formats = (sniff_photo, PHOTO_FORMATS) if kind == "photo" else (sniff_audio, AUDIO_FORMATS)
    what = "photo" if kind == "photo" else "voice sample"
    if upload is None or not getattr(upload, "filename", None):
        raise UploadRefused(f"choose a {what} file to upload ({formats})")
    label = f"{what} {shown_name(upload.filename, kind)!r}"
    source: BinaryIO = upload.file
    source.seek(0)
    head = source.read(SNIFF_BYTES)
    if not head:
        raise UploadRefused(f"{label}: the file is empty; choose the {what} again")
    suffix = sniff(head)
    if suffix is None:
        raise UploadRefused(f"{label}: not a {formats} file (whatever its name says); export it as {formats.split(',')[0]} and upload it again")
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
            raise UploadTooLarge(f"{label}: larger than {max_bytes // (1024 * 1024)} MB; upload a smaller file "
                                 "(web.max_upload_mb sets the limit)")
        yield target
    finally:
        try:
            os.unlink(target)
        except FileNotFoundError:
            pass


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
