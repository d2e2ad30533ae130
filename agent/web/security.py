"""Passwords (scrypt), signed session cookies, CSRF tokens and a login rate limiter — stdlib only."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from agent.errors import ValidationFailed

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
MIN_PASSWORD_CHARS = 10


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_CHARS:
        raise ValidationFailed(f"the password has {len(password)} characters; use at least {MIN_PASSWORD_CHARS}")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return "scrypt${n}${r}${p}${salt}${digest}".format(**_SCRYPT, salt=_b64(salt), digest=_b64(digest))


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(password.encode(), salt=_unb64(salt), dklen=32, n=int(n), r=int(r), p=int(p))
    return hmac.compare_digest(candidate, _unb64(digest))


def same_text(given: str, expected: str) -> bool:
    """Constant-time comparison of two strings of any characters (``hmac.compare_digest`` refuses non-ASCII str)."""
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8", "replace"))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class SessionData:
    csrf: str
    user: str | None = None
    expires: float = 0.0
    flash: str | None = None


class SessionSigner:
    """``payload.signature`` cookies: the server keeps no session state, tampering breaks the HMAC."""

    def __init__(self, secret: str, lifetime_s: int):
        self.key = hashlib.sha256(b"reeltwin-session:" + secret.encode()).digest()
        self.lifetime_s = lifetime_s

    def new(self) -> SessionData:
        return SessionData(csrf=secrets.token_urlsafe(32), expires=time.time() + self.lifetime_s)

    def dump(self, session: SessionData) -> str:
        payload = _b64(json.dumps({"c": session.csrf, "u": session.user, "e": session.expires, "f": session.flash}, separators=(",", ":")).encode())
        return f"{payload}.{_b64(hmac.new(self.key, payload.encode(), hashlib.sha256).digest())}"

    def load(self, cookie: str | None) -> SessionData | None:
        if not cookie or "." not in cookie:
            return None
        payload, signature = cookie.rsplit(".", 1)
        expected = _b64(hmac.new(self.key, payload.encode("utf-8", "replace"), hashlib.sha256).digest())
        if not same_text(signature, expected):
            return None
        try:
            data = json.loads(_unb64(payload))
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(data, dict) or float(data.get("e", 0)) < time.time():
            return None
        return SessionData(csrf=str(data["c"]), user=data.get("u"), expires=float(data["e"]), flash=data.get("f"))


@dataclass
class LoginLimiter:
    """At most ``attempts`` failed logins per client in ``window_s``; successes do not count."""

    attempts: int = 5
    window_s: float = 15 * 60
    _failures: dict[str, deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def blocked_for(self, client: str) -> float:
        """Seconds until ``client`` may try again (0: now)."""
        with self._lock:
            recent = self._recent(client)
            if len(recent) < self.attempts:
                return 0.0
            return max(0.0, recent[0] + self.window_s - time.monotonic())

    def failed(self, client: str) -> None:
        with self._lock:
            self._recent(client).append(time.monotonic())

    def _recent(self, client: str) -> deque[float]:
        queue = self._failures.setdefault(client, deque())
        while queue and queue[0] < time.monotonic() - self.window_s:
            queue.popleft()
        return queue
