"""Keeping secrets out of log lines and messages: one filter for every logger that might see one."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

REDACTED = "***"

#: An access token in a URL's query string or a form body: ``access_token=<token>``.
ACCESS_TOKEN_IN_TEXT = re.compile(r"(access_token=)[^&\s\"'<>]+")
#: Every token-bearing parameter of the Graph API's token calls: the token itself, the one ``debug_token`` inspects,
#: the one ``fb_exchange_token`` exchanges, and the app secret that goes with it.
TOKEN_PARAMETERS_IN_TEXT = re.compile(r"((?:access_token|input_token|fb_exchange_token|client_secret)=)[^&\s\"'<>]+")


class RedactSecrets(logging.Filter):
    """Replace secret values (and whatever ``patterns`` match after their first group) in a record before any handler sees it.

    ``secrets`` shorter than ``min_length`` are ignored: hiding every "ab" would garble the log, not protect anything.
    """

    def __init__(self, secrets: Iterable[str] = (), *, patterns: Iterable[re.Pattern[str]] = (), min_length: int = 4):
        super().__init__()
        # Longest first, so a secret that contains another is hidden whole.
        self.secrets = sorted({secret for secret in secrets if secret and len(secret) >= min_length}, key=len, reverse=True)
        self.patterns = tuple(patterns)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        for pattern in self.patterns:
            text = pattern.sub(lambda match: match.group(1) + REDACTED, text)
        return text

    def same_as(self, other: logging.Filter) -> bool:
        return isinstance(other, RedactSecrets) and other.secrets == self.secrets and other.patterns == self.patterns

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets or self.patterns:
            try:
                message = record.getMessage()
            except Exception:  # bad %-arguments: logging would print msg and args raw in handleError
                message = f"{record.msg} {record.args!r}"
            record.msg, record.args = self.redact(message), None
            # The handler formats the traceback only after the filters ran: format it now, redacted.
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = self.redact(record.exc_text)
            if record.stack_info:
                record.stack_info = self.redact(record.stack_info)
        return True


def install(target: logging.Logger, redactor: RedactSecrets) -> None:
    """Add ``redactor`` to ``target`` unless an equal one is there already (publishers are made many times)."""
    if not (redactor.secrets or redactor.patterns):
        return
    if not any(redactor.same_as(existing) for existing in target.filters):
        target.addFilter(redactor)
