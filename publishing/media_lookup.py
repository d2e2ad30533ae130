"""Recognising our own reel among an account's recent media: its time, its caption."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_time(value: object) -> datetime | None:
    """An aware datetime from what Instagram (or our stored progress) gives: a datetime, ``2024-05-01T18:00:00+0000`` or ISO 8601.
    Naive times are UTC; anything else is None."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or not value:
        return None
    for parse in (lambda text: datetime.strptime(text, "%Y-%m-%dT%H:%M:%S%z"), datetime.fromisoformat):
        try:
            parsed = parse(value)
        except ValueError:
            continue
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def fold_caption(caption: object) -> str:
    """Instagram may change line endings and trailing spaces; compare captions with whitespace folded."""
    return " ".join(str(caption or "").split())
