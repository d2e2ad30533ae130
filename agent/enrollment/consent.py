"""The rules every enrollment (a face, a voice) follows: its name, the creator's consent and how it is recorded.

Order, for avatars and voices alike: the name is checked, an existing enrollment of
that name is kept unless ``replace``, the input is checked (so the creator learns its
problems first), and only with consent is anything stored; the record then holds who
consented, when, and the exact text they agreed to.
"""

from __future__ import annotations

import getpass
import re
from typing import Protocol

from agent.db.models import utcnow
from agent.errors import AgentError

#: An enrollment's name becomes a folder name: letters, digits, '.', '_' and '-', starting with a letter or digit.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
#: ``consent_by`` is stored in a column this wide.
CONSENT_BY_MAX = 128


class ConsentRequired(AgentError, PermissionError):
    """Enrollment needs the creator's consent; nothing was stored."""


class ConsentRecord(Protocol):
    """What an enrolled avatar or voice stores about the consent (``Avatar``, ``VoiceProfile``)."""

    consent_at: object
    consent_by: str
    consent_text: str


def check_name(name: str, *, option: str = "--name") -> str:
    """``name`` if it can be an enrollment's name; else an error quoting it (as given with ``option``) and the rule."""
    if not NAME_PATTERN.match(name or ""):
        raise AgentError(f"{option} {name!r}: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit (e.g. your handle)")
    return name


def consent_by(channel: str = "cli") -> str:
    """Who consents on a command line: ``cli:<OS user>``, else just the channel."""
    try:
        return f"{channel}:{getpass.getuser()}"
    except (KeyError, OSError):
        return channel


def record_consent(record: ConsentRecord, *, by: str, text: str) -> None:
    """Write the consent onto ``record``: now, by whom, and the text agreed to, word for word."""
    record.consent_at = utcnow()
    record.consent_by = by[:CONSENT_BY_MAX]
    record.consent_text = text
