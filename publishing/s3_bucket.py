"""One bucket of an S3-compatible store (AWS S3, Cloudflare R2, MinIO, Backblaze B2): the boto3 client and its errors.

Shared by the Graph API's media hosting (:mod:`publishing.s3_hosting`) and the application's media storage
(``agent.storage``): both build the client the same way and translate botocore's errors the same way, each
naming its own settings (:class:`S3SettingNames`). A bucket that does not exist, refused access or wrong
credentials become :class:`~publishing.base.PublishRefused` naming the setting to fix; network trouble, 5xx and
throttling become :class:`~publishing.base.PublishRetryable`. No message made here contains a credential.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
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

__all__ = ["BotoCoreError", "ClientError", "S3Bucket", "S3SettingNames", "file_digest"]

# S3 error codes (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html) that a retry can cure.
RETRYABLE_CODES = {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "Throttling", "ThrottlingException",
                   "TooManyRequests", "RequestLimitExceeded", "OperationAborted", "503", "500", "502", "504"}
REGION_CODES = {"AuthorizationHeaderMalformed", "PermanentRedirect", "IllegalLocationConstraintException", "301"}
ACCESS_CODES = {"AccessDenied", "AllAccessDisabled", "AccountProblem", "403"}
EXPIRED_CREDENTIAL_CODES = {"ExpiredToken", "InvalidToken", "TokenRefreshRequired"}
MISSING_OBJECT_CODES = {"404", "NoSuchKey", "NotFound"}


@dataclass(frozen=True)
class S3SettingNames:
    """The settings (environment variable names) an error message tells the user to fix, and the step after the fix."""

    bucket: str = "REELTWIN_PUBLISHING__S3__BUCKET"
    endpoint_url: str = "REELTWIN_PUBLISHING__S3__ENDPOINT_URL"
    region: str = "REELTWIN_PUBLISHING__S3__REGION"
    access_key_id: str = "REELTWIN_PUBLISHING__S3__ACCESS_KEY_ID"
    secret_access_key: str = "REELTWIN_PUBLISHING__S3__SECRET_ACCESS_KEY"
    section: str = "publishing.s3"
    again: str = "publish again"


def file_digest(path: Path) -> tuple[str, int]:
    """(SHA-256 hex, size in bytes), read in 1 MiB chunks."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


class S3Bucket:
    """The client of one bucket, made on first use, and botocore's errors as ``PublishRefused``/``PublishRetryable``.

    ``access_key_id`` and ``secret_access_key`` both None: boto3's default credential chain (environment, ``~/.aws``,
    instance or container role); half set is refused here. ``max_attempts`` counts botocore's own retries of
    throttling and 5xx answers (with backoff) within one call.
    """

    def __init__(
        self,
        *,
        bucket: str,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        addressing_style: str = "auto",
        timeout_s: float = 60,
        max_attempts: int = 3,
        names: S3SettingNames = S3SettingNames(),
    ):
        self.names = names
        if not bucket:
            raise PublishRefused(f"{names.section} needs a bucket; set {names.section}.bucket or {names.bucket}")
        if bool(access_key_id) != bool(secret_access_key):
            missing = names.secret_access_key if access_key_id else names.access_key_id
            raise PublishRefused(f"S3 credentials are half set; set {missing} too, or neither to use the AWS credential chain")
        self.bucket = bucket
        self.endpoint_url = endpoint_url
        self._secrets = [value for value in (access_key_id, secret_access_key) if value]
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
        self._lock = threading.Lock()   # boto3 sessions are not thread-safe: one client, made once

    def __repr__(self) -> str:
        return f"S3Bucket(bucket={self.bucket!r}, endpoint_url={self.endpoint_url!r})"

    @property
    def client(self) -> Any:
        """The boto3 client, made on first use."""
        if self._s3 is None:
            with self._lock:
                if self._s3 is None:
                    try:
                        self._s3 = self._session.client("s3", endpoint_url=self.endpoint_url, config=self._config)
                    except ValueError as error:   # botocore checks the endpoint's form here
                        raise PublishRefused(f"S3 endpoint {self.endpoint_url!r} is not usable ({self.scrub(str(error))}); "
                                             f"fix {self.names.endpoint_url}") from None
                    except BotoCoreError as error:
                        raise self.translate(error, action="set up the S3 client") from None
        return self._s3

    @staticmethod
    def code(error: ClientError) -> str:
        """S3's error code, else the HTTP status as text (a HEAD answer has no body)."""
        return str((error.response.get("Error") or {}).get("Code") or (error.response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or "")

    def is_missing(self, error: Exception) -> bool:
        """The object (not the bucket) does not exist."""
        return isinstance(error, ClientError) and self.code(error) in MISSING_OBJECT_CODES

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def translate(self, error: Exception, *, action: str) -> PublishError:
        """A botocore error as PublishRefused (naming the setting to fix) or PublishRetryable."""
        names = self.names
        where = f"S3 bucket {self.bucket!r}" + (f" at {self.endpoint_url}" if self.endpoint_url else "")
        if isinstance(error, (NoCredentialsError, PartialCredentialsError, CredentialRetrievalError)):
            return PublishRefused(f"{where}: no usable credentials trying to {action} ({type(error).__name__}); "
                                  f"set {names.access_key_id} and {names.secret_access_key}, or configure the AWS credential chain")
        if isinstance(error, NoRegionError):
            return PublishRefused(f"{where}: no region configured trying to {action}; set {names.region}")
        if isinstance(error, (S3ConnectionError, HTTPClientError)):
            return PublishRetryable(f"{where}: network error trying to {action} ({type(error).__name__}); will retry")
        if isinstance(error, BotoCoreError):
            return PublishRetryable(f"{where}: {type(error).__name__} trying to {action} ({self.scrub(str(error))}); will retry")
        assert isinstance(error, ClientError)
        code = self.code(error)
        status = (error.response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0
        said = self.scrub(str((error.response.get("Error") or {}).get("Message") or "no message"))
        detail = f"({code}, HTTP {status})"
        if code == "NoSuchBucket":
            return PublishRefused(f"S3 bucket {self.bucket!r} does not exist" + (f" at {self.endpoint_url}" if self.endpoint_url else "")
                                  + f" {detail}; create it or fix {names.bucket}")
        if code == "InvalidBucketName":
            return PublishRefused(f"S3 bucket name {self.bucket!r} is not valid {detail}; fix {names.bucket}")
        if code == "InvalidAccessKeyId":
            return PublishRefused(f"{where}: the access key id is unknown to the service trying to {action} {detail}; fix {names.access_key_id} "
                                  f"(and {names.endpoint_url} if the key is for another service)")
        if code == "SignatureDoesNotMatch":
            return PublishRefused(f"{where}: the request signature does not match trying to {action} {detail}; the secret does not belong "
                                  f"to the access key id: fix {names.secret_access_key}")
        if code in EXPIRED_CREDENTIAL_CODES:
            return PublishRefused(f"{where}: the credentials have expired trying to {action} {detail}; renew them or set {names.access_key_id} "
                                  f"and {names.secret_access_key}")
        if code in ACCESS_CODES:
            return PublishRefused(f"{where}: access denied trying to {action} {detail}; give the credentials s3:PutObject, s3:GetObject "
                                  f"and s3:DeleteObject on the bucket, or fix {names.access_key_id} and {names.secret_access_key}")
        if code in REGION_CODES:
            return PublishRefused(f"{where}: the bucket is in another region trying to {action} {detail}; fix {names.region}")
        if code == "RequestTimeTooSkewed":
            return PublishRefused(f"{where}: this machine's clock is off trying to {action} {detail}; synchronize it (NTP) and {names.again}")
        if code in RETRYABLE_CODES or status >= 500 or status == 429:
            return PublishRetryable(f"{where}: temporary failure trying to {action}; S3 said {said!r} {detail}; will retry")
        return PublishRefused(f"{where}: refused trying to {action}; S3 said {said!r} {detail}; fix what it names "
                              f"({names.section} settings) and {names.again}")
