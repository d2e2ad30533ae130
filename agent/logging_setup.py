"""Logging to stderr with every configured secret redacted, whatever logs it."""

from __future__ import annotations

import logging
from collections.abc import Iterable

REDACTED = "***"


class RedactSecrets(logging.Filter):
    """Replace secret values in a record's message and arguments before any handler sees them."""

    def __init__(self, secrets: Iterable[str]):
        super().__init__()
        # Longest first, so a secret that contains another is hidden whole.
        self.secrets = sorted({secret for secret in secrets if secret and len(secret) >= 4}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
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


def configure_logging(level: str, secrets: Iterable[str] = ()) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_reeltwin", False):
            root.removeHandler(handler)
    from rich.console import Console
    from rich.logging import RichHandler

    # stderr: stdout carries the commands' output (`--json` must stay parseable).
    handler = RichHandler(console=Console(stderr=True), show_path=False, markup=False, rich_tracebacks=False, log_time_format="%H:%M:%S")
    handler._reeltwin = True  # type: ignore[attr-defined]
    handler.addFilter(RedactSecrets(secrets))
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("alembic", "httpx", "httpx2", "apscheduler", "instagrapi", "public_request", "private_request",
                   "botocore", "boto3", "s3transfer", "urllib3"):   # botocore's debug lines carry signed request headers
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
