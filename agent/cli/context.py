"""What every command needs: settings (loaded once), a database session, consoles."""

from __future__ import annotations

import json
import os
import re
import sys
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console

from agent.errors import EXIT_USER_ERROR, AgentError

if TYPE_CHECKING:
    from agent.settings import LoadedSettings, Settings


out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


class AppContext:
    """Lazily loads settings and opens the database, so `--help` and `init` touch neither."""

    def __init__(self, project_dir: Path | None = None):
        self.project_dir = project_dir

    @cached_property
    def loaded(self) -> "LoadedSettings":
        from agent.logging_setup import configure_logging
        from agent.settings import load_settings

        loaded = load_settings(self.project_dir)
        configure_logging(loaded.settings.log_level, loaded.settings.secret_values())
        return loaded

    @property
    def settings(self) -> "Settings":
        return self.loaded.settings

    @cached_property
    def session(self):  # noqa: ANN201 - sqlmodel imported lazily
        from agent.db.engine import open_session

        return open_session(self.settings.database_url, echo=self.settings.database.echo)

    def close(self) -> None:
        if "session" in self.__dict__:
            self.session.close()


def print_json(payload: Any) -> None:
    """One JSON object on stdout, nothing else."""
    sys.stdout.write(json.dumps(payload, indent=2, default=str, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def announce_secret_key(path: object, *, as_json: bool) -> None:
    """Say once that a new accounts key was written (``account connect``, ``instagram login``): it must be kept."""
    from agent.publish_accounts import KEY_VARIABLE

    (err if as_json else out).print(f"created the key that encrypts account secrets: {KEY_VARIABLE} in {path} (mode 600); "
                                    "keep a copy of it: without it the stored tokens cannot be read")


def exit_user_error(*lines: str) -> NoReturn:
    """Write ``lines`` to stderr as they are and exit with ``EXIT_USER_ERROR``.

    With no lines it only exits: for a ``--json`` report on stdout that already says what failed."""
    if lines:
        sys.stderr.write("".join(f"{line}\n" for line in lines))
        sys.stderr.flush()
    raise typer.Exit(EXIT_USER_ERROR)


def fail(message: str) -> NoReturn:
    """The user error: ``error: <message>`` on stderr (one line; one per line of a multi-line message), exit status 2, stdout untouched."""
    exit_user_error(*(f"error: {line}" for line in message.splitlines() or ["failed"]))


def interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty() and not os.environ.get("CI")


#: The largest reel id the database holds.
MAX_REEL_ID = 2**31 - 1   # the reel id column is a 32-bit INTEGER on PostgreSQL (the web's bound too)
#: The one hint every bad reel id ends with.
_LIST_REELS = "list reels with `reeltwin queue`"


class BadReelId(AgentError):
    """A reel id on the command line that is not a whole number from 1 to ``MAX_REEL_ID``.

    Deliberately not a ValueError: typer (pydantic, or click's FuncParamType in older versions) turns a
    ValueError from a parser into its multi-line usage box; this one reaches ``ReelTwinGroup`` and becomes one line.
    """


def parse_reel_id(value: object) -> int:
    """The parser of every reel id argument (``typer.Argument(..., parser=parse_reel_id)``): checked before the command runs,
    so a bad id changes nothing and never reaches the database (where 2**64 would be an OverflowError)."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        text = str(value).strip()
        if not re.fullmatch(r"[+-]?[0-9]+", text):
            raise BadReelId(f"reel id {str(value)!r}: not a number; {_LIST_REELS}")
        number = int(text)
    if number < 1:
        raise BadReelId(f"reel id {str(value)!r}: reel ids start at 1; {_LIST_REELS}")
    if number > MAX_REEL_ID:
        raise BadReelId(f"reel id {str(value)!r}: too large (reel ids go up to {MAX_REEL_ID}); {_LIST_REELS}")
    return number
