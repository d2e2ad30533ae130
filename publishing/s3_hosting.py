"""Hosting reels in an S3-compatible bucket (AWS S3, Cloudflare R2, MinIO, Backblaze B2) for the Graph API.

The video (and cover) is uploaded under ``<prefix><publish key>/<sha256 prefix>-<file name>`` with its
content type, and Instagram gets a presigned GET URL valid for ``url_lifetime_s``: the bucket itself
stays private. The key depends only on the reel and the file's content, so a retry after a crash
uploads to the same key, and skips the upload when an object of that size and SHA-256 is already
there. The objects are deleted once the reel is published (:meth:`S3MediaHost.cleanup`), never
before: a retry must still find its URL working.

botocore's errors are translated at the boundary (:class:`publishing.s3_bucket.S3Bucket`, shared with the
application's media storage): a bucket that does not exist, refused
access or wrong credentials become :class:`~publishing.base.PublishRefused` naming the setting to
fix; network trouble, 5xx and throttling become :class:`~publishing.base.PublishRetryable`.
No message or log line of this module contains a credential or a presigned URL.
"""

from __future__ import annotations

import logging
import mimetypes
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from publishing import PublishError
from publishing.base import PublishRefused
from publishing.s3_bucket import BotoCoreError, ClientError, S3Bucket, S3SettingNames
from publishing.s3_bucket import file_digest as _file_digest

logger = logging.getLogger(__name__)

BUCKET_SETTING = "REELTWIN_PUBLISHING__S3__BUCKET"
ENDPOINT_SETTING = "REELTWIN_PUBLISHING__S3__ENDPOINT_URL"
REGION_SETTING = "REELTWIN_PUBLISHING__S3__REGION"
KEY_ID_SETTING = "REELTWIN_PUBLISHING__S3__ACCESS_KEY_ID"
SECRET_SETTING = "REELTWIN_PUBLISHING__S3__SECRET_ACCESS_KEY"

SHA256_PREFIX_CHARS = 16
_UNSAFE_IN_KEY = re.compile(r"[^A-Za-z0-9._-]+")
_CONTENT_TYPES = {".mp4": "video/mp4", ".mov": "video/quicktime", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}


def _key_part(text: str) -> str:
    return _UNSAFE_IN_KEY.sub("-", text).strip("-.") or "media"


class S3MediaHost:
    """Presigned URLs to objects in an S3-compatible bucket (:class:`publishing.base.MediaHosting`).

    ``access_key_id`` and ``secret_access_key`` both None: boto3's default credential chain
    (environment, ``~/.aws``, instance or container role). ``max_attempts`` counts botocore's own retries
    of throttling and 5xx answers (with backoff) within one call.
    """

    def __init__(
        self,
        *,
        bucket: str,
        endpoint_url: str | None = None,
        region: str | None = None,
        prefix: str = "reeltwin/",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        url_lifetime_s: int = 6 * 3600,
        delete_after_publish: bool = True,
        addressing_style: str = "auto",
        timeout_s: float = 60,
        max_attempts: int = 3,
    ):
        if not bucket:
            raise PublishRefused(f"S3 media hosting needs a bucket; set publishing.s3.bucket or {BUCKET_SETTING}")
        self._bucket = S3Bucket(bucket=bucket, endpoint_url=endpoint_url, region=region, access_key_id=access_key_id,
                                secret_access_key=secret_access_key, addressing_style=addressing_style, timeout_s=timeout_s,
                                max_attempts=max_attempts, names=S3SettingNames())
        self.bucket = bucket
        self.endpoint_url = endpoint_url
        self.prefix = prefix
        self.url_lifetime_s = url_lifetime_s
        self.delete_after_publish = delete_after_publish
        self._hosted: dict[str, set[str]] = {}      # publish key -> object keys uploaded or found by this process

    def __repr__(self) -> str:
        return f"S3MediaHost(bucket={self.bucket!r}, endpoint_url={self.endpoint_url!r}, prefix={self.prefix!r})"

    @property
    def _client(self) -> Any:
        """The boto3 client, made on first use: the scheduler builds a publisher every sweep, most of which post nothing."""
        return self._bucket.client

    # -- the MediaHosting protocol -------------------------------------------------------------

    def key_for(self, path: Path, *, publish_key: str = "", sha256: str | None = None) -> str:
        """The object key of ``path``: the reel's folder, then the content's SHA-256 prefix and the file name."""
        sha256 = sha256 or _file_digest(path)[0]
        return f"{self.prefix}{_key_part(publish_key)}/{sha256[:SHA256_PREFIX_CHARS]}-{_key_part(path.name)}"

    def url_for(self, path: Path, *, publish_key: str = "") -> str:
        """Upload ``path`` (unless the same content is already there) and return a presigned GET URL."""
        if not path.is_file():
            raise PublishRefused(f"{str(path)!r}: no such file; render the reel again")
        sha256, size = _file_digest(path)
        key = self.key_for(path, publish_key=publish_key, sha256=sha256)
        if self._already_there(key, size=size, sha256=sha256):
            logger.info("s3://%s/%s is already uploaded (%d bytes); not uploading again", self.bucket, key, size)
        else:
            content_type = _CONTENT_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            try:
                with path.open("rb") as body:
                    self._client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentLength=size, ContentType=content_type,
                                            Metadata={"sha256": sha256})
            except (ClientError, BotoCoreError) as error:
                raise self._translate(error, action=f"upload {path.name!r}") from None
            logger.info("uploaded %s to s3://%s/%s (%d bytes, %s)", path.name, self.bucket, key, size, content_type)
        self._hosted.setdefault(publish_key, set()).add(key)
        try:
            return self._client.generate_presigned_url("get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=self.url_lifetime_s)
        except (ClientError, BotoCoreError) as error:
            raise self._translate(error, action=f"sign a URL for {path.name!r}") from None

    def cleanup(self, paths: Sequence[Path], *, publish_key: str = "") -> None:
        """Delete this reel's objects (unless ``delete_after_publish`` is off). Failures are logged, never raised."""
        if not self.delete_after_publish:
            return
        keys = set(self._hosted.pop(publish_key, set()))
        for path in paths:   # after a restart nothing is remembered: the keys follow from the files
            try:
                if path.is_file():
                    keys.add(self.key_for(path, publish_key=publish_key))
            except OSError as error:
                logger.debug("cannot read %s to find its object key: %s", path, error)
        if publish_key:   # the reel's own folder: also what an earlier render of it left there
            keys |= self._listed(f"{self.prefix}{_key_part(publish_key)}/")
        for key in sorted(keys):
            try:
                self._client.delete_object(Bucket=self.bucket, Key=key)
            except (ClientError, BotoCoreError) as error:
                logger.warning("could not delete s3://%s/%s after publishing: %s; its URL expires by itself, delete the object "
                               "by hand or add a lifecycle rule for the prefix", self.bucket, key, self._translate(error, action="delete it"))
                continue
            logger.info("deleted s3://%s/%s (the reel is published)", self.bucket, key)

    # -- helpers --------------------------------------------------------------------------------

    def _already_there(self, key: str, *, size: int, sha256: str) -> bool:
        """An object with this key, size and SHA-256 exists. Anything unclear (404, 403 without ListBucket): upload."""
        try:
            head = self._client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if self._code(error) in ("404", "NoSuchKey", "NotFound", "403", "AccessDenied"):
                return False   # a HEAD has no error body: the PUT that follows says precisely what is wrong
            raise self._translate(error, action="check for an earlier upload") from None
        except BotoCoreError as error:
            raise self._translate(error, action="check for an earlier upload") from None
        metadata = {name.lower(): value for name, value in (head.get("Metadata") or {}).items()}
        return head.get("ContentLength") == size and metadata.get("sha256", sha256) == sha256

    def _listed(self, folder: str) -> set[str]:
        """The keys under ``folder``, or nothing where listing is not allowed (no s3:ListBucket)."""
        keys: set[str] = set()
        try:
            for page in self._client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=folder):
                keys.update(item["Key"] for item in page.get("Contents") or [])
        except (ClientError, BotoCoreError) as error:
            logger.debug("cannot list s3://%s/%s: %s", self.bucket, folder, type(error).__name__)
        return keys

    @staticmethod
    def _code(error: ClientError) -> str:
        return S3Bucket.code(error)

    def _scrub(self, text: str) -> str:
        return self._bucket.scrub(text)

    def _translate(self, error: Exception, *, action: str) -> PublishError:
        """A botocore error as PublishRefused (naming the setting to fix) or PublishRetryable."""
        return self._bucket.translate(error, action=action)
