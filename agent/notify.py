"""Optional webhook (Slack- and Discord-compatible) for "drafts waiting", "published" and "failed".

A notification never blocks or breaks a sweep: failures are logged (without the
URL, which is a secret) and dropped. Payloads carry reel ids, handles, hooks and
permalinks — never settings, tokens or file paths.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


class Notifier:
    def __init__(self, url: str | None, *, web_base: str | None = None, timeout_s: float = 5.0):
        self.url = url
        self.web_base = web_base.rstrip("/") if web_base else None
        self.timeout_s = timeout_s

    @property
    def enabled(self) -> bool:
        return bool(self.url)

    def payload(self, text: str) -> dict:
        # Discord reads "content", Slack (and Mattermost, Rocket.Chat, Teams' Slack mode) read "text".
        if self.url and ("discord.com/api/webhooks" in self.url or "discordapp.com/api/webhooks" in self.url):
            return {"content": text[:2000]}
        return {"text": text}

    def send(self, text: str) -> bool:
        if not self.url:
            return False
        import httpx

        try:
            response = httpx.post(self.url, json=self.payload(text), timeout=self.timeout_s)
            response.raise_for_status()
            return True
        except httpx.HTTPStatusError as error:
            log.warning("webhook answered %d; notification dropped", error.response.status_code)
        except httpx.HTTPError as error:
            log.warning("webhook unreachable (%s); notification dropped", type(error).__name__)
        return False

    def link(self, reel_id: int) -> str:
        return f" {self.web_base}/reels/{reel_id}" if self.web_base else ""

    def drafts_waiting(self, handle: str, reel_ids: list[int]) -> bool:
        if not reel_ids:
            return False
        where = f" {self.web_base}/" if self.web_base else ""
        return self.send(f"@{handle}: {len(reel_ids)} new draft(s) waiting for your approval (reels {', '.join(map(str, reel_ids))}).{where}")

    def published(self, reel_id: int, handle: str, permalink: str | None) -> bool:
        return self.send(f"@{handle}: reel {reel_id} is published. {permalink or ''}".strip())

    def failed(self, reel_id: int, handle: str, reason: str) -> bool:
        return self.send(f"@{handle}: reel {reel_id} failed: {reason[:300]}{self.link(reel_id)}")

    def account_problem(self, handle: str, message: str) -> bool:
        """A creator's publishing account needs attention (a token that runs out, a refresh that failed); never the token."""
        return self.send(f"{message[:400]}{f' {self.web_base}/accounts' if self.web_base else ''}")
