"""Quoting a value in a one-line error message, for the calendar file and its overrides file alike."""

from __future__ import annotations

from typing import Any

#: At most this many characters of an input value are quoted in an error message.
EXCERPT_CHARS = 80


def excerpt(value: Any) -> str:
    """``repr(value)`` for an error message, cut to about :data:`EXCERPT_CHARS` characters with "…" (and the length) when longer.

    A calendar error is one short line: a 500 kB brief must not be echoed whole.
    """
    if isinstance(value, str):
        if len(value) <= EXCERPT_CHARS:
            return repr(value)
        quoted = repr(value[:EXCERPT_CHARS])
        return f"{quoted[:-1]}…{quoted[-1]} ({len(value):,} characters)"
    if isinstance(value, (list, tuple, dict, set)) and len(value) > EXCERPT_CHARS:
        return f"a {type(value).__name__} of {len(value):,} items"
    text = repr(value)
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + "…"
