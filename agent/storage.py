"""Media storage: where photos, clips, voices and rendered reels live (``[storage]``).

One small interface, :class:`MediaStorage`, with two backends:

- :class:`LocalStorage` (``backend = "local"``, the default): the data folder, nothing else. Every operation is
  a no-op or returns the path it was given: one machine (or several sharing one folder) works exactly as before.
- :class:`S3Storage` (``backend = "s3"``): an S3-compatible bucket every machine shares. A file is written
  into the writer's data folder as before, then :meth:`~MediaStorage.put` into the bucket; a machine that needs
  a file it does not have (a worker rendering with an avatar enrolled elsewhere, a publisher or web server
  with a reel rendered elsewhere) calls :meth:`~MediaStorage.ensure_local`, which downloads it into its own data
  folder, verified by size and SHA-256, and keeps it there as a cache. The cache is kept under
  ``storage.cache_max_gb``: past it, the least recently used copies that the bucket holds (same size) and that
  no one used for ``cache_idle_minutes`` are deleted from this machine (:meth:`S3Storage.evict`).

Keys are derived, never stored: ``<prefix><path inside the data folder>``. The database keeps the absolute paths
the writing machine used; :func:`data_relative` finds the part inside the data folder from the folder's layout
(``avatars/…``, ``voices/…``, ``reels/<id>/…``), so machines may use different data folders.

The S3 client and the translation of its errors are :class:`publishing.s3_bucket.S3Bucket`'s, shared with the
Graph API's media hosting. Errors are :class:`StorageError` (one line naming the setting or object and the fix)
or :class:`StorageUnavailable` (network, 5xx: retry later); no message or log line holds a credential.
"""

from __future__ import annotations

import hashlib
import logging
import mimetypes
import os
import re
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from agent.errors import AgentError, ConfigError

if TYPE_CHECKING:
    from agent.settings import Settings

log = logging.getLogger(__name__)

#: The data folder's layout: what :func:`data_relative` recognizes in a path written on another machine.
_LAYOUT = {
    "reels": re.compile(r"^reels/\d+/.+$"),
    "avatars": re.compile(r"^avatars/[^/]+/(?:(?:photo|preview)-[^/]+|footage-[^/]+/[^/]+)$"),
    "voices": re.compile(r"^voices/[^/]+/\d{8}T\d{6}Z-[0-9a-f]+/.+$"),
}
_CONTENT_TYPES = {".mp4": "video/mp4", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp",
                  ".wav": "audio/wav", ".srt": "application/x-subrip", ".json": "application/json", ".npz": "application/octet-stream"}
CHUNK_BYTES = 1 << 20


class StorageError(AgentError):
    """Media storage refused: a setting to fix (bucket, credentials, region) or an object that is not there."""


class StorageUnavailable(StorageError):
    """The bucket cannot be reached now (network, 5xx, throttling): try again later."""


class MediaMissing(StorageError, FileNotFoundError):
    """The file is neither on this machine nor in the bucket."""


class RangeNotSatisfiable(StorageError):
    """A byte range outside the object (HTTP 416)."""


@dataclass
class MediaStream:
    """An object's bytes for the web: the whole object, or the byte range asked for."""

    chunks: Iterator[bytes]
    length_bytes: int                  # of this answer's body
    content_type: str
    content_range: str | None = None   # "bytes START-END/TOTAL" when a range was asked for
    close: Any = field(default=lambda: None, repr=False)


def data_relative(path: str | Path, data_dir: Path) -> str:
    """The place of ``path`` inside a data folder, as a POSIX path (``reels/12/reel-v1-a1.mp4``).

    A path inside this machine's ``data_dir`` is taken as it is; a path another machine wrote (its own data folder)
    is recognized by the folder's layout, from the right. StorageError when it is in no data folder.
    """
    candidate = Path(path)
    for root in (data_dir, data_dir.resolve()):
        for form in (candidate, candidate.resolve()):
            if form.is_relative_to(root):
                relative = form.relative_to(root).as_posix()
                if relative not in ("", ".") and ".." not in PurePosixPath(relative).parts:
                    return relative
    parts = PurePosixPath(candidate.as_posix()).parts
    if ".." not in parts:
        for index in range(len(parts) - 1, -1, -1):
            pattern = _LAYOUT.get(parts[index])
            if pattern is not None and pattern.match("/".join(parts[index:])):
                return "/".join(parts[index:])
    raise StorageError(f"{str(path)!r} is not inside a data folder (avatars/, voices/, reels/<id>/); "
                       "media storage holds only what ReelTwin wrote there: enroll or render it again")


@runtime_checkable
class MediaStorage(Protocol):
    """Where media files live. Paths are the ones stored in the database (written by any machine)."""

    #: True when files can be on another machine (an S3 bucket); False for the data folder alone.
    remote: bool

    def local_path(self, path: str | Path) -> Path:
        """Where ``path`` is (or would be, once fetched) on this machine."""
        ...

    def put(self, *paths: str | Path | None) -> None:
        """Store files just written into this machine's data folder (None entries are skipped)."""
        ...

    def ensure_local(self, path: str | Path, *, sha256: str | None = None, fix: str = "") -> Path:
        """A local copy of ``path`` (fetched when it is not on this machine, checked against ``sha256`` when given)."""
        ...

    def open(self, path: str | Path, *, byte_range: str | None = None) -> MediaStream:
        """The stored object's bytes (``byte_range``: an HTTP ``Range`` value such as ``bytes=0-1023``)."""
        ...

    def delete(self, paths: Iterable[str | Path]) -> None:
        """Delete these files' stored copies (never the local files: their owners remove those). Failures are logged."""
        ...

    def delete_folder(self, folder: str | Path) -> None:
        """Delete the stored copies of everything under ``folder`` (a folder inside the data folder)."""
        ...

    def check(self) -> None:
        """Raise StorageError when the storage cannot be used (bucket missing, credentials refused, unreachable)."""
        ...


class LocalStorage:
    """The data folder only: files stay where they were written; nothing is uploaded, fetched or deleted here."""

    remote = False

    def __init__(self, data_dir: Path):
        self.data_dir = Path(data_dir)

    def __repr__(self) -> str:
        return f"LocalStorage({str(self.data_dir)!r})"

    def local_path(self, path: str | Path) -> Path:
        return Path(path)

    def put(self, *paths: str | Path | None) -> None:
        return None

    def ensure_local(self, path: str | Path, *, sha256: str | None = None, fix: str = "") -> Path:
        return Path(path)   # callers keep their own checks of a missing file, as before

    def open(self, path: str | Path, *, byte_range: str | None = None) -> MediaStream:
        local = Path(path)
        if not local.is_file():
            raise MediaMissing(f"{str(path)!r}: no such file; {_fix('')}")
        stream = local.open("rb")
        return MediaStream(chunks=iter(lambda: stream.read(CHUNK_BYTES), b""), length_bytes=local.stat().st_size,
                           content_type=_content_type(local), close=stream.close)

    def delete(self, paths: Iterable[str | Path]) -> None:
        return None

    def delete_folder(self, folder: str | Path) -> None:
        return None

    def check(self) -> None:
        return None


def _used(path: Path) -> None:
    """Mark a cached copy as just used (its access time; the modification time stays what it was)."""
    try:
        info = path.stat()
        os.utime(path, ns=(time.time_ns(), info.st_mtime_ns))
    except OSError:
        pass


def _fix(fix: str) -> str:
    """The next step a missing or damaged file message names."""
    return fix or "render the reel or enroll the avatar/voice again"


def _content_type(path: Path | PurePosixPath) -> str:
    return _CONTENT_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


class S3Storage:
    """An S3-compatible bucket shared by every machine, with each machine's data folder as its cache.

    ``bucket`` is a :class:`publishing.s3_bucket.S3Bucket` (client and error translation); keys are
    ``prefix`` + :func:`data_relative`.
    """

    remote = True

    #: at most one eviction pass per this many seconds per process (a pass lists the cache folders)
    EVICT_EVERY_S = 300.0

    def __init__(self, *, data_dir: Path, bucket: Any, prefix: str = "reeltwin-media/", cache_max_bytes: int = 0,
                 cache_idle_s: float = 3600.0):
        self.data_dir = Path(data_dir)
        self.bucket = bucket
        self.prefix = prefix
        self.cache_max_bytes = int(cache_max_bytes)
        self.cache_idle_s = float(cache_idle_s)
        self._evicted_at = float("-inf")

    def __repr__(self) -> str:
        return f"S3Storage(bucket={self.bucket.bucket!r}, endpoint_url={self.bucket.endpoint_url!r}, prefix={self.prefix!r})"

    # -- keys and places ---------------------------------------------------------------------------

    def key_for(self, path: str | Path) -> str:
        """The object key of ``path``: the prefix, then its place inside the data folder."""
        return self.prefix + data_relative(path, self.data_dir)

    def local_path(self, path: str | Path) -> Path:
        # Always inside this machine's data folder (the same path where it was written here, or where every machine's
        # data folder has the same path); a file outside any data folder (not ReelTwin's own) is read where it is.
        try:
            return self.data_dir / data_relative(path, self.data_dir)
        except StorageError:
            if Path(path).is_file():
                return Path(path)
            raise

    def _where(self, key: str) -> str:
        return f"s3://{self.bucket.bucket}/{key}"

    def _error(self, error: Exception, *, action: str) -> StorageError:
        from publishing.base import PublishRetryable

        translated = self.bucket.translate(error, action=action)
        return (StorageUnavailable if isinstance(translated, PublishRetryable) else StorageError)(str(translated))

    # -- operations --------------------------------------------------------------------------------

    def put(self, *paths: str | Path | None) -> None:
        from publishing.s3_bucket import BotoCoreError, ClientError, file_digest

        for path in paths:
            if path is None:
                continue
            local = Path(path)
            key = self.key_for(local)
            try:
                sha256, size = file_digest(local)
            except OSError as error:
                raise StorageError(f"{str(local)!r} cannot be read to store it ({error.strerror}); check data_dir") from None
            try:
                with local.open("rb") as body:
                    self.bucket.client.put_object(Bucket=self.bucket.bucket, Key=key, Body=body, ContentLength=size,
                                                  ContentType=_content_type(local), Metadata={"sha256": sha256})
            except (ClientError, BotoCoreError) as error:
                raise self._error(error, action=f"store {local.name!r}") from None
            log.info("stored %s as %s (%d bytes)", local.name, self._where(key), size)

    def ensure_local(self, path: str | Path, *, sha256: str | None = None, fix: str = "") -> Path:
        from publishing.s3_bucket import BotoCoreError, ClientError

        local = self.local_path(path)
        if local.is_file():
            _used(local)
            return local
        key = self.key_for(path)
        try:
            answer = self.bucket.client.get_object(Bucket=self.bucket.bucket, Key=key)
        except (ClientError, BotoCoreError) as error:
            if self.bucket.is_missing(error):
                raise MediaMissing(f"{self._where(key)} is not in the bucket and {str(local)!r} is not on this machine; "
                                   f"{_fix(fix)}") from None
            raise self._error(error, action=f"fetch {PurePosixPath(key).name!r}") from None
        metadata = {name.lower(): value for name, value in (answer.get("Metadata") or {}).items()}
        expected_size = answer.get("ContentLength")
        expected_sha = sha256 or metadata.get("sha256")
        local.parent.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(dir=local.parent, prefix=".incoming-", suffix=local.suffix)
        temp = Path(temp_name)
        digest, size = hashlib.sha256(), 0
        try:
            with os.fdopen(handle, "wb") as out:
                for chunk in answer["Body"].iter_chunks(CHUNK_BYTES):
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
            if expected_size is not None and size != expected_size:
                raise StorageUnavailable(f"{self._where(key)}: got {size} of {expected_size} bytes; the download broke off, try again")
            if expected_sha and digest.hexdigest() != expected_sha:
                raise StorageError(f"{self._where(key)}: its SHA-256 is {digest.hexdigest()[:16]}…, not the {expected_sha[:16]}… recorded; "
                                   f"the stored copy is damaged or was replaced: {_fix(fix)}")
            os.replace(temp, local)   # complete or absent: a second reader never sees half a file
        except (ClientError, BotoCoreError) as error:
            raise self._error(error, action=f"fetch {PurePosixPath(key).name!r}") from None
        finally:
            temp.unlink(missing_ok=True)
        log.info("fetched %s into %s (%d bytes)", self._where(key), local, size)
        if self.cache_max_bytes and time.monotonic() - self._evicted_at >= self.EVICT_EVERY_S:
            self._evicted_at = time.monotonic()
            self.evict(keep=local)
        return local

    def evict(self, *, keep: Path | None = None, now: float | None = None) -> tuple[int, int]:
        """Bring this machine's cache under ``cache_max_bytes`` (to 90 % of it): (files deleted, bytes freed).

        Only copies of what the bucket holds go (a HEAD says it is there, with the same size), least recently used
        first, each unused for ``cache_idle_s`` (a render reading it now keeps it); a file only this machine has is
        never touched. The bucket unreachable: nothing is deleted this time."""
        from publishing.s3_bucket import BotoCoreError, ClientError

        if not self.cache_max_bytes:
            return 0, 0
        now = time.time() if now is None else now
        files: list[tuple[float, int, Path]] = []
        for top in _LAYOUT:
            folder = self.data_dir / top
            if not folder.is_dir():
                continue
            for path in folder.rglob("*"):
                if path.name.startswith("."):
                    continue
                try:
                    info = path.stat()
                except OSError:
                    continue
                if path.is_file():
                    files.append((max(info.st_atime, info.st_mtime), info.st_size, path))
        total = sum(size for _, size, _ in files)
        if total <= self.cache_max_bytes:
            return 0, 0
        target = int(0.9 * self.cache_max_bytes)
        deleted = freed = 0
        for used_at, size, path in sorted(files, key=lambda item: item[0]):
            if total <= target:
                break
            if now - used_at < self.cache_idle_s or (keep is not None and path == keep):
                continue
            try:
                key = self.key_for(path)
            except StorageError:
                continue
            try:
                head = self.bucket.client.head_object(Bucket=self.bucket.bucket, Key=key)
            except (ClientError, BotoCoreError) as error:
                if self.bucket.is_missing(error):
                    continue           # only here: it stays
                log.warning("cache: %s; nothing more is deleted this time", self._error(error, action="check a cached copy"))
                break
            if head.get("ContentLength") != size:
                continue
            try:
                path.unlink()
            except OSError:
                continue
            deleted, freed, total = deleted + 1, freed + size, total - size
        if deleted:
            log.info("cache: deleted %d local cop%s of bucket files (%.1f MB); %.1f MB kept in %s", deleted, "y" if deleted == 1 else "ies",
                     freed / 1e6, total / 1e6, self.data_dir)
        return deleted, freed

    def open(self, path: str | Path, *, byte_range: str | None = None) -> MediaStream:
        from publishing.s3_bucket import BotoCoreError, ClientError

        key = self.key_for(path)
        options = {"Range": byte_range} if byte_range else {}
        try:
            answer = self.bucket.client.get_object(Bucket=self.bucket.bucket, Key=key, **options)
        except (ClientError, BotoCoreError) as error:
            if self.bucket.is_missing(error):
                raise MediaMissing(f"{self._where(key)} is not in the bucket; {_fix('')}") from None
            if isinstance(error, ClientError) and self.bucket.code(error) in ("InvalidRange", "416"):
                raise RangeNotSatisfiable(f"{self._where(key)}: range {byte_range!r} is outside the object") from None
            raise self._error(error, action=f"read {PurePosixPath(key).name!r}") from None
        body = answer["Body"]
        content_type = answer.get("ContentType") or _content_type(PurePosixPath(key))
        return MediaStream(chunks=body.iter_chunks(CHUNK_BYTES), length_bytes=int(answer.get("ContentLength") or 0),
                           content_type=content_type, content_range=answer.get("ContentRange") if byte_range else None, close=body.close)

    def delete(self, paths: Iterable[str | Path]) -> None:
        from publishing.s3_bucket import BotoCoreError, ClientError

        for path in paths:
            try:
                key = self.key_for(path)
            except StorageError as error:
                log.debug("not deleting %s from the bucket: %s", path, error)
                continue
            try:
                self.bucket.client.delete_object(Bucket=self.bucket.bucket, Key=key)
            except (ClientError, BotoCoreError) as error:
                log.warning("could not delete %s: %s; delete it by hand", self._where(key), self._error(error, action="delete it"))
                continue
            log.info("deleted %s", self._where(key))

    def delete_folder(self, folder: str | Path) -> None:
        from publishing.s3_bucket import BotoCoreError, ClientError

        # The folder's place, found like a file's: through a name inside it.
        relative = data_relative(Path(folder) / "x", self.data_dir).rsplit("/", 1)[0]
        top = f"{self.prefix}{relative}/"
        keys: list[str] = []
        try:
            for page in self.bucket.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket.bucket, Prefix=top):
                keys.extend(item["Key"] for item in page.get("Contents") or [])
        except (ClientError, BotoCoreError) as error:
            log.warning("could not list %s to delete it: %s; delete it by hand", self._where(top), self._error(error, action="list it"))
            return
        for key in keys:
            try:
                self.bucket.client.delete_object(Bucket=self.bucket.bucket, Key=key)
            except (ClientError, BotoCoreError) as error:
                log.warning("could not delete %s: %s; delete it by hand", self._where(key), self._error(error, action="delete it"))
        if keys:
            log.info("deleted %d object(s) under %s", len(keys), self._where(top))

    def check(self) -> None:
        from publishing.s3_bucket import BotoCoreError, ClientError

        # A GET of a key that is not there: unlike a HEAD, its error answer says what is wrong (no such bucket,
        # an unknown key id, a wrong secret); "no such key" means the bucket and the credentials work.
        probe = f"{self.prefix}.reeltwin-check"
        try:
            self.bucket.client.get_object(Bucket=self.bucket.bucket, Key=probe)
        except (ClientError, BotoCoreError) as error:
            if not self.bucket.is_missing(error):
                raise self._error(error, action="reach the bucket") from None


# -- from settings ----------------------------------------------------------------------------------------------------


def check_at_start(settings: Settings) -> None:
    """Before a service starts (``run``, ``worker``): the bucket answers with these credentials, so a wrong bucket,
    key or endpoint is one line now instead of every reel failing later. Local storage: nothing to check."""
    if settings.storage.backend != "local":
        media_storage(settings).check()


def media_storage(settings: Settings) -> MediaStorage:
    """The storage ``[storage]`` configures (one per configuration and data folder, kept for the process)."""
    storage = settings.storage
    if storage.backend == "local":
        return _local(Path(settings.data_dir))
    fallback = settings.publishing.s3

    def secret(value: Any) -> str | None:
        return value.get_secret_value() if value is not None else None

    own_keys = storage.access_key_id is not None or storage.secret_access_key is not None
    key_id, secret_key = ((secret(storage.access_key_id), secret(storage.secret_access_key)) if own_keys
                          else (secret(fallback.access_key_id), secret(fallback.secret_access_key)))
    return _s3(Path(settings.data_dir), storage.bucket or fallback.bucket, storage.endpoint_url or fallback.endpoint_url,
               storage.region or fallback.region, storage.prefix, key_id, secret_key,
               storage.addressing_style or fallback.addressing_style, storage.timeout_s,
               (storage.bucket is not None, storage.endpoint_url is not None, storage.region is not None, own_keys),
               int(storage.cache_max_gb * 1e9), storage.cache_idle_minutes * 60.0)


@lru_cache(maxsize=8)
def _local(data_dir: Path) -> LocalStorage:
    return LocalStorage(data_dir)


@lru_cache(maxsize=8)
def _s3(data_dir: Path, bucket: str | None, endpoint_url: str | None, region: str | None, prefix: str, key_id: str | None,
        secret_key: str | None, addressing_style: str, timeout_s: float, own: tuple[bool, bool, bool, bool],
        cache_max_bytes: int = 0, cache_idle_s: float = 3600.0) -> S3Storage:
    values = {"BUCKET": bucket, "ENDPOINT_URL": endpoint_url, "REGION": region, "ACCESS_KEY_ID": key_id}

    def setting(name: str, is_own: bool) -> str:
        """The variable to fix: storage's own, or publishing.s3's where storage fell back to it."""
        if is_own or not values["ACCESS_KEY_ID" if name == "SECRET_ACCESS_KEY" else name]:
            return f"REELTWIN_STORAGE__{name}"
        return f"REELTWIN_PUBLISHING__S3__{name} (storage falls back to it)"

    own_bucket, own_endpoint, own_region, own_keys = own
    if not bucket:
        raise ConfigError("storage.backend is \"s3\" but no bucket is set; set storage.bucket (REELTWIN_STORAGE__BUCKET), "
                          "or publishing.s3.bucket to share that one")
    try:
        from publishing.base import PublishRefused
        from publishing.s3_bucket import S3Bucket, S3SettingNames
    except ImportError:
        raise ConfigError("storage.backend = \"s3\" needs boto3: pip install 'reeltwin[s3]'") from None
    names = S3SettingNames(bucket=setting("BUCKET", own_bucket), endpoint_url=setting("ENDPOINT_URL", own_endpoint),
                           region=setting("REGION", own_region), access_key_id=setting("ACCESS_KEY_ID", own_keys),
                           secret_access_key=setting("SECRET_ACCESS_KEY", own_keys), section="storage", again="try again")
    try:
        client = S3Bucket(bucket=bucket, endpoint_url=endpoint_url, region=region, access_key_id=key_id, secret_access_key=secret_key,
                          addressing_style=addressing_style, timeout_s=timeout_s, max_attempts=3, names=names)
    except PublishRefused as error:
        raise ConfigError(str(error)) from None
    return S3Storage(data_dir=data_dir, bucket=client, prefix=prefix, cache_max_bytes=cache_max_bytes, cache_idle_s=cache_idle_s)
