"""Hosting reels in an S3-compatible bucket (AWS S3, Cloudflare R2, MinIO, Backblaze B2) for the Graph API.

The video (and cover) is uploaded under ``<prefix><publish key>/<sha256 prefix>-<file name>`` with its
content type, and Instagram gets a presigned GET URL valid for ``url_lifetime_s``: the bucket itself
stays private. The key depends only on the reel and the file's content, so a retry after a crash
uploads to the same key, and skips the upload when an object of that size and SHA-256 is already
there. The objects are deleted once the reel is published (:meth:`S3MediaHost.cleanup`), never
before: a retry must still find its URL working.

botocore's errors are translated here, at the boundary: a bucket that does not exist, refused
access or wrong credentials become :class:`~publishing.base.PublishRefused` naming the setting to
fix; network trouble, 5xx and throttling become :class:`~publishing.base.PublishRetryable`.
No message or log line of this module contains a credential or a presigned URL.
"""

from __future__ import annotations

import hashlib
import logging
import mimetypes
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ConnectionError as S3ConnectionError,
    ClientError,
    CredentialRetrievalError,
    HTTPClientError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)

from publishing import PublishError
from publishing.base import PublishRefused, PublishRetryable

logger = logging.getLogger(__name__)

BUCKET_SETTING = "REELTWIN_PUBLISHING__S3__BUCKET"
ENDPOINT_SETTING = "REELTWIN_PUBLISHING__S3__ENDPOINT_URL"
REGION_SETTING = "REELTWIN_PUBLISHING__S3__REGION"
KEY_ID_SETTING = "REELTWIN_PUBLISHING__S3__ACCESS_KEY_ID"
SECRET_SETTING = "REELTWIN_PUBLISHING__S3__SECRET_ACCESS_KEY"

SHA256_PREFIX_CHARS = 16
_UNSAFE_IN_KEY = re.compile(r"[^A-Za-z0-9._-]+")
_CONTENT_TYPES = {".mp4": "video/mp4", ".mov": "video/quicktime", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}

# S3 error codes (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html) that a retry can cure.
RETRYABLE_CODES = {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "Throttling", "ThrottlingException",
                   "TooManyRequests", "RequestLimitExceeded", "OperationAborted", "503", "500", "502", "504"}
REGION_CODES = {"AuthorizationHeaderMalformed", "PermanentRedirect", "IllegalLocationConstraintException", "301"}
ACCESS_CODES = {"AccessDenied", "AllAccessDisabled", "AccountProblem", "403"}
EXPIRED_CREDENTIAL_CODES = {"ExpiredToken", "InvalidToken", "TokenRefreshRequired"}


def _key_part(text: str) -> str:
    return _UNSAFE_IN_KEY.sub("-", text).strip("-.") or "media"


def _file_digest(path: Path) -> tuple[str, int]:
    """(SHA-256 hex, size in bytes), read in 1 MiB chunks."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


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
        if bool(access_key_id) != bool(secret_access_key):
            missing = SECRET_SETTING if access_key_id else KEY_ID_SETTING
            raise PublishRefused(f"S3 credentials are half set; set {missing} too, or neither to use the AWS credential chain")
        self.bucket = bucket
        self.endpoint_url = endpoint_url
        self.prefix = prefix
        self.url_lifetime_s = url_lifetime_s
        self.delete_after_publish = delete_after_publish
        self._secrets = [value for value in (access_key_id, secret_access_key) if value]
        self._hosted: dict[str, set[str]] = {}      # publish key -> object keys uploaded or found by this process
        # The credentials live in boto3's session only; the client (slow to make: it loads the S3 model) on first use.
        self._session = boto3.session.Session(aws_access_key_id=access_key_id, aws_secret_access_key=secret_access_key, region_name=region)
        self._config = Config(
            signature_version="s3v4",
            s3={"addressing_style": addressing_style},
            connect_timeout=timeout_s,
            read_timeout=timeout_s,
            retries={"mode": "standard", "total_max_attempts": max_attempts},
            # botocore >= 1.36 adds CRC checksums to every upload by default, which some S3-compatible
            # stores reject; send them only where the API requires one.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        self._s3: Any = None

    def __repr__(self) -> str:
        return f"S3MediaHost(bucket={self.bucket!r}, endpoint_url={self.endpoint_url!r}, prefix={self.prefix!r})"

    @property
    def _client(self) -> Any:
        """The boto3 client, made on first use: the scheduler builds a publisher every sweep, most of which post nothing."""
        if self._s3 is None:
            try:
                self._s3 = self._session.client("s3", endpoint_url=self.endpoint_url, config=self._config)
            except ValueError as error:   # botocore checks the endpoint's form here
                raise PublishRefused(f"S3 endpoint {self.endpoint_url!r} is not usable ({self._scrub(str(error))}); fix {ENDPOINT_SETTING}") from None
            except BotoCoreError as error:
                raise self._translate(error, action="set up the S3 client") from None
        return self._s3

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
        return str((error.response.get("Error") or {}).get("Code") or (error.response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or "")

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _translate(self, error: Exception, *, action: str) -> PublishError:
        """A botocore error as PublishRefused (naming the setting to fix) or PublishRetryable."""
        where = f"S3 bucket {self.bucket!r}" + (f" at {self.endpoint_url}" if self.endpoint_url else "")
        if isinstance(error, (NoCredentialsError, PartialCredentialsError, CredentialRetrievalError)):
            return PublishRefused(f"{where}: no usable credentials trying to {action} ({type(error).__name__}); "
                                  f"set {KEY_ID_SETTING} and {SECRET_SETTING}, or configure the AWS credential chain")
        if isinstance(error, NoRegionError):
            return PublishRefused(f"{where}: no region configured trying to {action}; set {REGION_SETTING}")
        if isinstance(error, (S3ConnectionError, HTTPClientError)):
            return PublishRetryable(f"{where}: network error trying to {action} ({type(error).__name__}); will retry")
        if isinstance(error, BotoCoreError):
            return PublishRetryable(f"{where}: {type(error).__name__} trying to {action} ({self._scrub(str(error))}); will retry")
        assert isinstance(error, ClientError)
        code = self._code(error)
        status = (error.response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0
        said = self._scrub(str((error.response.get("Error") or {}).get("Message") or "no message"))
        detail = f"({code}, HTTP {status})"
        if code == "NoSuchBucket":
            return PublishRefused(f"S3 bucket {self.bucket!r} does not exist" + (f" at {self.endpoint_url}" if self.endpoint_url else "")
                                  + f" {detail}; create it or fix {BUCKET_SETTING}")
        if code == "InvalidBucketName":
            return PublishRefused(f"S3 bucket name {self.bucket!r} is not valid {detail}; fix {BUCKET_SETTING}")
        if code == "InvalidAccessKeyId":
            return PublishRefused(f"{where}: the access key id is unknown to the service trying to {action} {detail}; fix {KEY_ID_SETTING} "
                                  f"(and {ENDPOINT_SETTING} if the key is for another service)")
        if code == "SignatureDoesNotMatch":
            return PublishRefused(f"{where}: the request signature does not match trying to {action} {detail}; the secret does not belong "
                                  f"to the access key id: fix {SECRET_SETTING}")
        if code in EXPIRED_CREDENTIAL_CODES:
            return PublishRefused(f"{where}: the credentials have expired trying to {action} {detail}; renew them or set {KEY_ID_SETTING} "
                                  f"and {SECRET_SETTING}")
        if code in ACCESS_CODES:
            return PublishRefused(f"{where}: access denied trying to {action} {detail}; give the credentials s3:PutObject, s3:GetObject "
                                  f"and s3:DeleteObject on the bucket, or fix {KEY_ID_SETTING} and {SECRET_SETTING}")
        if code in REGION_CODES:
            return PublishRefused(f"{where}: the bucket is in another region trying to {action} {detail}; fix {REGION_SETTING}")
        if code == "RequestTimeTooSkewed":
            return PublishRefused(f"{where}: this machine's clock is off trying to {action} {detail}; synchronize it (NTP) and publish again")
        if code in RETRYABLE_CODES or status >= 500 or status == 429:
            return PublishRetryable(f"{where}: temporary failure trying to {action}; S3 said {said!r} {detail}; will retry")
        return PublishRefused(f"{where}: refused trying to {action}; S3 said {said!r} {detail}; fix what it names "
                              f"(publishing.s3 settings) and publish again")
