"""The creator's changes to the plan made from the calendar grid or the CLI: ``calendar/<handle>.overrides.yaml``.

The calendar file stays the creator's own: ReelTwin never rewrites it. A slot moved to another time, a slot
skipped and a reel added on a day are written to this file beside it instead, and the planner applies them
every time it plans (:func:`agent.content_calendar.slots.expand`). Moved and skipped slots keep their ids, so
their reels stay theirs; an added slot gets an id of its own, ``<handle>:<local date>:a<n>``.

The file is plain YAML a person can read and edit (delete an entry to undo it), validated like the calendar
(``file:line: message``, by :mod:`agent.content_calendar.loader`, which reads it with the calendar), and written atomically under a lock, so the web and the command line never lose
each other's changes.
"""

from __future__ import annotations

import fcntl
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from agent.content_calendar.quoting import excerpt

SUFFIX = ".overrides.yaml"
#: The most entries a file may hold: a year of daily changes, with room to spare.
MAX_ENTRIES = 2000
_SLOT_ID = re.compile(r"^(?P<handle>[A-Za-z0-9._]{1,30}):(?P<date>\d{4}-\d{2}-\d{2}):(?P<kind>[wda])(?P<n>[1-9][0-9]{0,2})$")
_LOCAL = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})[ T](\d{1,2}):(\d{2})\s*$")
HEADER = """\
# Changes to calendar/{handle}.yaml made on the calendar page or with `reeltwin calendar move|skip|add`.
# ReelTwin never rewrites {handle}.yaml; it plans from both files. Times are local to the calendar's
# time zone ({timezone}). Delete an entry (or this whole file) to undo it; `reeltwin calendar check` checks it.
"""


def overrides_path(calendar_path: Path) -> Path:
    """Where the overrides of the calendar file ``calendar_path`` live: beside it, ``<handle>.overrides.yaml``."""
    return calendar_path.with_name(calendar_path.stem + SUFFIX)


def is_overrides_file(path: Path) -> bool:
    return path.name.endswith(SUFFIX) or path.name.endswith(".overrides.yml")


def parse_local(value: Any) -> datetime:
    """``"2026-12-10 18:00"`` -> a naive local datetime; ValueError naming the expected form."""
    if isinstance(value, datetime):
        return value.replace(second=0, microsecond=0, tzinfo=None)
    match = _LOCAL.match(str(value)) if isinstance(value, str) else None
    if not match:
        raise ValueError(f"{excerpt(value)} is not a date and time; write \"YYYY-MM-DD HH:MM\", e.g. \"2026-12-10 18:00\"")
    day, hours, minutes = match.group(1), int(match.group(2)), int(match.group(3))
    try:
        parsed = date.fromisoformat(day)
    except ValueError:
        raise ValueError(f"{excerpt(value)}: {day} is not a day of the calendar; write \"YYYY-MM-DD HH:MM\"") from None
    if hours > 23 or minutes > 59:
        raise ValueError(f"{excerpt(value)}: {hours:02d}:{minutes:02d} is not a time of day; use 00:00 to 23:59")
    return datetime(parsed.year, parsed.month, parsed.day, hours, minutes)


def show_local(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")


def slot_id_parts(slot_id: str) -> tuple[str, date, str, int] | None:
    """(handle, local date, kind letter, ordinal) of a slot id, or None when it is not one."""
    match = _SLOT_ID.match(slot_id or "")
    if not match:
        return None
    try:
        day = date.fromisoformat(match.group("date"))
    except ValueError:
        return None
    return match.group("handle"), day, match.group("kind"), int(match.group("n"))


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True, populate_by_name=True)

    slot: str = Field(max_length=64)
    by: str = Field("", max_length=128)
    made_at: str = Field("", max_length=40)

    @field_validator("slot")
    @classmethod
    def _slot(cls, value: str) -> str:
        if slot_id_parts(value) is None:
            raise ValueError(f"{excerpt(value)} is not a slot id; slot ids look like \"ana:2026-12-10:w1\" (see `reeltwin calendar show --json`)")
        return value


class Move(_Entry):
    """A slot of the calendar posted at another local time (``to``); ``from`` is where the calendar put it."""

    to: datetime
    moved_from: str = Field("", alias="from", max_length=20)

    @field_validator("to", mode="before")
    @classmethod
    def _to(cls, value: Any) -> datetime:
        return parse_local(value)


class Skip(_Entry):
    """A slot of the calendar that is not posted; ``at`` is the local time it had."""

    at: str = Field("", max_length=20)


class Add(_Entry):
    """A one-off reel added on the grid: its own slot at ``at`` (local), with an optional pillar and brief."""

    at: datetime
    pillar: str | None = Field(None, max_length=64)
    brief: str | None = Field(None, min_length=3, max_length=2000)

    @field_validator("at", mode="before")
    @classmethod
    def _at(cls, value: Any) -> datetime:
        return parse_local(value)


class Overrides(BaseModel):
    """Everything in one overrides file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    moves: list[Move] = Field(default_factory=list, max_length=MAX_ENTRIES)
    skips: list[Skip] = Field(default_factory=list, max_length=MAX_ENTRIES)
    adds: list[Add] = Field(default_factory=list, max_length=MAX_ENTRIES)

    def __bool__(self) -> bool:
        return bool(self.moves or self.skips or self.adds)

    def move_of(self, slot_id: str) -> Move | None:
        return next((move for move in self.moves if move.slot == slot_id), None)

    def skip_of(self, slot_id: str) -> Skip | None:
        return next((skip for skip in self.skips if skip.slot == slot_id), None)

    def add_of(self, slot_id: str) -> Add | None:
        return next((add for add in self.adds if add.slot == slot_id), None)

    def skipped(self) -> set[str]:
        return {skip.slot for skip in self.skips}

    def without(self, slot_id: str) -> Overrides:
        """A copy with no entry for ``slot_id``."""
        return Overrides(moves=[m for m in self.moves if m.slot != slot_id], skips=[s for s in self.skips if s.slot != slot_id],
                         adds=[a for a in self.adds if a.slot != slot_id])

    def next_added_id(self, handle: str, day: date) -> str:
        taken = {slot_id_parts(add.slot)[3] for add in self.adds if add.slot.startswith(f"{handle}:{day.isoformat()}:a")}
        number = 1
        while number in taken:
            number += 1
        return f"{handle}:{day.isoformat()}:a{number}"


EMPTY = Overrides()


# --------------------------------------------------------------------------- writing


def dump_overrides(overrides: Overrides, *, handle: str, timezone: str) -> str:
    """The file's text: a header saying what it is, then the entries, one key per line."""

    def entry(item: _Entry, fields: list[tuple[str, Any]]) -> dict[str, Any]:
        data: dict[str, Any] = {"slot": item.slot}
        for key, value in fields:
            if value not in (None, ""):
                data[key] = show_local(value) if isinstance(value, datetime) else value
        if item.by:
            data["by"] = item.by
        if item.made_at:
            data["made_at"] = item.made_at
        return data

    body: dict[str, Any] = {}
    if overrides.moves:
        body["moves"] = [entry(m, [("to", m.to), ("from", m.moved_from)]) for m in sorted(overrides.moves, key=lambda m: m.slot)]
    if overrides.skips:
        body["skips"] = [entry(s, [("at", s.at)]) for s in sorted(overrides.skips, key=lambda s: s.slot)]
    if overrides.adds:
        body["adds"] = [entry(a, [("at", a.at), ("pillar", a.pillar), ("brief", a.brief)]) for a in sorted(overrides.adds, key=lambda a: a.slot)]
    text = yaml.safe_dump(body, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100) if body else ""
    return HEADER.format(handle=handle, timezone=timezone) + ("\n" + text if text else "")


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold the overrides file's lock (a hidden ``.<name>.lock`` beside it) while reading, changing and writing it."""
    lock = path.with_name(f".{path.name}.lock")
    with open(lock, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_overrides(path: Path, overrides: Overrides, *, handle: str, timezone: str) -> None:
    """Write ``overrides`` to ``path`` atomically (a whole new file or the old one, never half); none left: the file goes."""
    if not overrides:
        path.unlink(missing_ok=True)
        return
    text = dump_overrides(overrides, handle=handle, timezone=timezone)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        if path.exists():
            os.chmod(temporary, path.stat().st_mode & 0o777)
        else:
            os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
