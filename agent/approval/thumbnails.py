"""The queue's cover thumbnails: small JPEG copies of rendered reels' covers, cached in ``<data>/thumbs``.

A thumbnail is named ``<reel id>-<key>.jpg``, the key made from the cover's path, size and time, so a new render is a
new file. A reel keeps at most one: making a new one removes its older ones, a finished render or a rejection
removes the reel's (:func:`remove_thumbnails`), and :func:`prune_thumbnails` (run when the web app starts, beside the
sweep of abandoned uploads) removes those whose reel is gone, set aside, or whose video no longer exists.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
import time
from pathlib import Path

from sqlmodel import Session

from agent.db.models import Reel, ReelStatus

log = logging.getLogger(__name__)

#: Twice the size the queue shows it at, for sharp phone screens.
THUMB_SIZE_PX = (108, 192)
FOLDER = "thumbs"
#: Reels whose old cover is not theirs any more (being redrafted, or set aside): no thumbnail is shown or kept.
WITHOUT_THUMB = frozenset({ReelStatus.REJECTED, ReelStatus.SKIPPED})
_NAME = re.compile(r"^(\d+)-([0-9a-f]{20})\.jpg$")
#: A half-written thumbnail older than this was left by a request that died.
_PARTIAL_MAX_AGE_S = 3600.0


def shows_thumbnail(reel: Reel) -> bool:
    """Whether the queue shows a thumbnail of the reel's cover: it has one, and it is still the reel's."""
    return bool((reel.artifacts or {}).get("cover")) and ReelStatus(reel.status) not in WITHOUT_THUMB


def thumbnail(reel_id: int, cover: Path, data_dir: Path) -> Path:
    """``cover`` scaled to fit :data:`THUMB_SIZE_PX`, made once; the reel's older thumbnails are removed.
    OSError or ValueError when ``cover`` is not an image Pillow reads."""
    from PIL import Image, ImageOps

    folder = Path(data_dir) / FOLDER
    key = _key(cover)
    target = folder / f"{reel_id}-{key}.jpg"
    if target.is_file():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    # Written under a name of its own, then renamed: two requests at once each write whole files, the last one stays.
    partial = folder / f"{reel_id}-{key}.{os.getpid()}-{threading.get_ident()}.part"
    try:
        with Image.open(cover) as image:
            image = ImageOps.exif_transpose(image).convert("RGB")
            image.thumbnail(THUMB_SIZE_PX, Image.Resampling.LANCZOS)
            image.save(partial, "JPEG", quality=82, optimize=True)
    except Image.DecompressionBombError as error:
        raise ValueError(str(error)) from None
    partial.replace(target)   # a half-written one a failure leaves is pruned later
    remove_thumbnails(data_dir, reel_id, keep=target.name)
    return target


def _key(cover: Path) -> str:
    info = cover.stat()
    return hashlib.sha256(f"{cover}|{info.st_size}|{info.st_mtime_ns}".encode()).hexdigest()[:20]


def remove_thumbnails(data_dir: Path, reel_id: int, *, keep: str | None = None) -> int:
    """Delete the reel's cached thumbnails (but ``keep``, a file name); returns how many went."""
    folder = Path(data_dir) / FOLDER
    if not folder.is_dir():
        return 0
    removed = 0
    for path in folder.glob(f"{reel_id}-*.jpg"):
        if path.name != keep and _NAME.match(path.name) and _delete(path):
            removed += 1
    return removed


def prune_thumbnails(session: Session, data_dir: Path, *, remote_media: bool = False) -> int:
    """Delete the thumbnails no reel shows any more: of reels that are gone, rejected or skipped, without a cover, or
    whose video no longer exists (looked for on this machine unless media live in a bucket, ``remote_media``); also
    files of an older naming and half-written ones a dead request left. Returns how many went."""
    folder = Path(data_dir) / FOLDER
    if not folder.is_dir():
        return 0
    removed = 0
    for path in folder.iterdir():
        if not path.is_file() or path.is_symlink():
            continue
        match = _NAME.match(path.name)
        if match is None:
            stale = path.suffix != ".part" or _older_than(path, _PARTIAL_MAX_AGE_S)
        else:
            reel = session.get(Reel, int(match.group(1)))
            stale = reel is None or not shows_thumbnail(reel) or not _video_exists(reel, remote_media)
        if stale and _delete(path):
            removed += 1
    return removed


def _video_exists(reel: Reel, remote: bool) -> bool:
    video = (reel.artifacts or {}).get("video")
    if not isinstance(video, str) or not video:
        return False
    return remote or Path(video).is_file()   # a bucket's copy is not looked for: the web page fetches it when asked


def _older_than(path: Path, seconds: float) -> bool:
    try:
        return path.stat().st_mtime < time.time() - seconds
    except OSError:
        return False


def _delete(path: Path) -> bool:
    try:
        path.unlink()
        return True
    except FileNotFoundError:
        return False
    except OSError as error:
        log.warning("thumbnail %s could not be deleted: %s", path, error)
        return False
