"""Serving a local file to Instagram at an unguessable, expiring URL.

The Graph API fetches the video from a public URL. ReelTwin's web server answers
``<media_base_url>/<token>/<name>``: the token is the file's path inside the data
folder and an expiry time, signed with HMAC-SHA256, so a URL can be neither
guessed nor reused after it expires, and nothing outside the folder can be named.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from publishing.base import PublishRefused


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class MediaHost:
    """Self-hosting (:class:`publishing.base.MediaHosting`): the reel stays in the data folder, the web server serves it."""

    def __init__(self, *, base_url: str, secret: str, root: Path, lifetime_s: int = 6 * 3600, clock: Callable[[], float] = time.time):
        if not secret:
            raise PublishRefused("hosting media for Instagram needs web.secret_key; run `reeltwin init` or set REELTWIN_WEB__SECRET_KEY")
        self.base_url = base_url.rstrip("/")
        self.key = hashlib.sha256(b"reeltwin-media:" + secret.encode()).digest()
        self.root = root.resolve()
        self.lifetime_s = lifetime_s
        self.clock = clock

    def _sign(self, payload: bytes) -> str:
        return _b64(hmac.new(self.key, payload, hashlib.sha256).digest())

    def url_for(self, path: Path, *, publish_key: str = "") -> str:
        """A signed URL for a file inside the data folder, valid for ``lifetime_s``."""
        resolved = path.resolve()
        if not resolved.is_relative_to(self.root) or not resolved.is_file():
            raise PublishRefused(f"{str(path)!r} is not a file inside the data folder; only rendered reels can be hosted")
        payload = f"{resolved.relative_to(self.root).as_posix()}|{int(self.clock() + self.lifetime_s)}".encode()
        return f"{self.base_url}/{_b64(payload)}.{self._sign(payload)}/{resolved.name}"

    def cleanup(self, paths: Sequence[Path], *, publish_key: str = "") -> None:
        """Nothing to remove: the files are the reel's own artifacts, and the URLs expire by themselves."""

    def signed_path(self, token: str) -> Path | None:
        """The path inside the data folder a genuine, unexpired token names (the file need not be on this machine:
        another may have written it into shared media storage), or None if it is forged, expired or points elsewhere."""
        try:
            encoded, signature = token.rsplit(".", 1)
            payload = _unb64(encoded)
        except ValueError:
            return None
        if not hmac.compare_digest(signature.encode("utf-8", "replace"), self._sign(payload).encode()):  # any characters, never a 500
            return None
        relative, _, expires = payload.decode(errors="replace").rpartition("|")
        if not expires.isdigit() or int(expires) < self.clock():
            return None
        candidate = (self.root / relative).resolve()
        if not candidate.is_relative_to(self.root) or candidate == self.root:
            return None
        return candidate

    def resolve(self, token: str) -> Path | None:
        """The file a token names, or None if it is forged, expired, points elsewhere or is not on this machine."""
        candidate = self.signed_path(token)
        return candidate if candidate is not None and candidate.is_file() else None
