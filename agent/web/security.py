"""Passwords (scrypt), signed session cookies, CSRF tokens and a login rate limiter — stdlib only."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
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
    #: Set on login: the id a logout revokes, and when the login happened (a later password change ends it).
    sid: str | None = None
    issued: float = 0.0


class SessionSigner:
    """``payload.signature`` cookies: the server keeps no session state, tampering breaks the HMAC."""

    def __init__(self, secret: str, lifetime_s: int):
        self.key = hashlib.sha256(b"reeltwin-session:" + secret.encode()).digest()
        self.lifetime_s = lifetime_s

    def new(self) -> SessionData:
        return SessionData(csrf=secrets.token_urlsafe(32), expires=time.time() + self.lifetime_s)

    def logged_in(self, user: str) -> SessionData:
        """A new session (new token: no fixation) for ``user``, with its own id and issue time."""
        session = self.new()
        session.user, session.sid, session.issued = user, secrets.token_urlsafe(24), time.time()
        return session

    def dump(self, session: SessionData) -> str:
        fields = {"c": session.csrf, "u": session.user, "e": session.expires, "f": session.flash, "s": session.sid, "i": session.issued}
        payload = _b64(json.dumps(fields, separators=(",", ":")).encode())
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
        return SessionData(csrf=str(data["c"]), user=data.get("u"), expires=float(data["e"]), flash=data.get("f"),
                           sid=data.get("s"), issued=float(data.get("i") or 0))


class ClientAddress:
    """The real client of a request: the direct peer, or, when that peer is a trusted reverse proxy, the
    address the proxy chain names in X-Forwarded-For (read from the right, stopping at the first untrusted hop:
    the entries further left are whatever the client chose to send)."""

    def __init__(self, trusted_proxies: list[str] | tuple[str, ...] = ()):
        self.networks = [ipaddress.ip_network(entry, strict=False) for entry in trusted_proxies]

    def trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        if getattr(ip, "ipv4_mapped", None):
            ip = ip.ipv4_mapped
        return any(ip in network for network in self.networks)

    def __call__(self, peer: str | None, forwarded_for: list[str]) -> str:
        client = peer or "unknown"
        if not self.networks:
            return client
        hops = [hop.strip() for header in forwarded_for for hop in header.split(",") if hop.strip()]
        while hops and self.trusted(client):
            client = _bare_address(hops.pop())[:64]
        return client


def _bare_address(hop: str) -> str:
    """``1.2.3.4:5678`` and ``[::1]:5678`` as some proxies write them: the address alone."""
    if hop.startswith("[") and "]" in hop:
        return hop[1:hop.index("]")]
    if hop.count(":") == 1:
        return hop.split(":", 1)[0]
    return hop


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
