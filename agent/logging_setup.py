"""Logging to stderr with every configured secret redacted, whatever logs it."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from publishing.redaction import REDACTED, RedactSecrets

__all__ = ["REDACTED", "RedactSecrets", "configure_logging"]


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
