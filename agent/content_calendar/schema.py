"""What a content calendar (``calendar/<handle>.yaml``) may hold, validated with pydantic."""

from __future__ import annotations

import difflib
import hashlib
import re
from datetime import date, time
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from agent.content_calendar.quoting import EXCERPT_CHARS, excerpt  # noqa: F401 - also imported from here

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_GROUPS = {"weekdays": WEEKDAYS[:5], "weekends": WEEKDAYS[5:], "daily": WEEKDAYS, "everyday": WEEKDAYS}
_FULL_NAMES = {name: short for short, name in zip(WEEKDAYS, ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))}
_HANDLE = re.compile(r"^[A-Za-z0-9._]{1,30}$")
_HASHTAG = re.compile(r"^#\w{1,100}$", re.UNICODE)


def _close_match(word: str, choices: Any, cutoff: float) -> str | None:
    """The choice closest to ``word``, if any is close (a long word is never close: no slow matching of pasted text)."""
    if len(word) > 100:
        return None
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=cutoff)
    return close[0] if close else None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def in_quiet_hours(hour: int, quiet_hours: tuple[int, int]) -> bool:
    """Whether the local ``hour`` lies in ``quiet_hours``: (22, 7) is 22:00 up to 07:00, (a, a) none. The one test of it."""
    start, end = quiet_hours
    if start == end:
        return False
    return start <= hour < end if start < end else hour >= start or hour < end


def _parse_time(value: Any) -> Any:
    if isinstance(value, time):
        return value
    if not isinstance(value, str) or not re.fullmatch(r"\d{1,2}:\d{2}", value.strip()):
        raise ValueError(f"{excerpt(value)} is not a time; write \"HH:MM\" (24-hour, in quotes) or peak")
    hours, minutes = (int(part) for part in value.strip().split(":"))
    if hours > 23 or minutes > 59:
        raise ValueError(f"{excerpt(value)} is not a time of day; use 00:00 to 23:59")
    return time(hours, minutes)


def _time_or_peak(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lower() == "peak":
        return "peak"
    return _parse_time(value)


TimeOrPeak = Annotated[time | Literal["peak"], BeforeValidator(_time_or_peak)]


def _weekday(value: Any) -> list[str]:
    if not isinstance(value, str):
        raise ValueError(f"{excerpt(value)} is not a weekday; use mon tue wed thu fri sat sun")
    word = value.strip().lower()
    if word in WEEKDAYS:
        return [word]
    if word in _FULL_NAMES:
        return [_FULL_NAMES[word]]
    if word in _DAY_GROUPS:
        return list(_DAY_GROUPS[word])
    close = _close_match(word, [*WEEKDAYS, *_FULL_NAMES, *_DAY_GROUPS], cutoff=0.5)
    hint = f"; did you mean {close!r}?" if close else ""
    raise ValueError(f"{excerpt(value)} is not a weekday; use mon tue wed thu fri sat sun, weekdays, weekends or daily{hint}")


class Persona(_Strict):
    name: str = Field(min_length=1, max_length=80)
    niche: str = Field(min_length=1, max_length=300)
    audience: str = Field("", max_length=500)
    tone: str = Field("", max_length=500)
    avoid_words: list[str] = Field(default_factory=list)
    # Checked on every draft: a vegetarian persona never gets chicken (agent.drafting.quality.DIET_FORBIDDEN).
    diet: Literal["vegetarian", "vegan", "pescatarian", "halal", "kosher"] | None = None


def _phrases(value: Any) -> Any:
    """One string is a list of one (``points: one fact``)."""
    return [value] if isinstance(value, str) else value


_SPOKEN_ONLY = re.compile(r"[#\[\]{}()<>*_`~]|https?://|www\.|\b[\w-]+\.(?:com|net|org|io|co|app|dev|me|ly|tv|shop)\b", re.I)


def _speakable(phrase: str) -> str:
    if _SPOKEN_ONLY.search(phrase):
        raise ValueError(f"{excerpt(phrase)} cannot be said as written (links, hashtags, brackets and markdown are cut from a spoken script); "
                         "write it as it is spoken, e.g. 'link in bio' or 'code SAVE20'")
    return phrase


Point = Annotated[str, Field(min_length=3, max_length=300)]
Phrase = Annotated[str, Field(min_length=2, max_length=120), AfterValidator(_speakable)]
#: Facts, numbers or steps in the creator's words; the script carries every one (the model connects them, invents nothing).
Points = Annotated[list[Point], BeforeValidator(_phrases), Field(max_length=12)]
#: Exact phrases the script says word for word (case and punctuation aside).
MustSay = Annotated[list[Phrase], BeforeValidator(_phrases), Field(max_length=6)]


class Pillar(_Strict):
    name: str = Field(min_length=1, max_length=64)
    weight: float = Field(1.0, gt=0, le=1000)
    description: str = Field("", max_length=1000)
    example_topics: list[str] = Field(default_factory=list)

    @field_validator("weight", mode="before")
    @classmethod
    def _number(cls, value: Any) -> Any:
        if isinstance(value, bool) or (isinstance(value, str) and not re.fullmatch(r"\s*\d+(\.\d+)?\s*", value)):
            raise ValueError(f"{excerpt(value)} is not a weight; use a positive number such as 1, 2 or 0.5")
        return value


class CadenceEntry(_Strict):
    days: list[str]
    time: TimeOrPeak

    @field_validator("days", mode="before")
    @classmethod
    def _days(cls, value: Any) -> list[str]:
        items = value if isinstance(value, list) else [value]
        if not items:
            raise ValueError("no days given; list at least one of mon tue wed thu fri sat sun")
        days: list[str] = []
        for item in items:
            for day in _weekday(item):
                if day not in days:
                    days.append(day)
        return sorted(days, key=WEEKDAYS.index)


class BacklogItem(_Strict):
    brief: str = Field(min_length=3, max_length=2000)
    pillar: str | None = None
    id: str | None = Field(None, max_length=60, pattern=r"^[\w.-]+$")
    points: Points = Field(default_factory=list)
    must_say: MustSay = Field(default_factory=list)

    @property
    def key(self) -> str:
        """A stable identity: the given id, else a hash of the words."""
        if self.id:
            return f"id:{self.id}"
        return "b:" + hashlib.sha1(" ".join(self.brief.lower().split()).encode()).hexdigest()[:12]


class OneOff(_Strict):
    date: date
    time: TimeOrPeak = "peak"
    brief: str = Field(min_length=3, max_length=2000)
    pillar: str | None = None
    points: Points = Field(default_factory=list)
    must_say: MustSay = Field(default_factory=list)


class Hashtags(_Strict):
    max_per_post: int = Field(10, ge=0, le=30)
    sets: dict[str, list[str]] = Field(default_factory=dict)

    @field_validator("sets")
    @classmethod
    def _tags(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        cleaned = {}
        for pillar, tags in value.items():
            seen: list[str] = []
            for tag in tags:
                tag = "#" + str(tag).strip().lstrip("#")
                if not _HASHTAG.match(tag):
                    raise ValueError(f"{excerpt(tag)} in set {excerpt(pillar)} is not a hashtag; use letters, digits and _ only")
                if tag.lower() not in {t.lower() for t in seen}:
                    seen.append(tag)
            cleaned[pillar] = seen
        return cleaned


class AutoAfter(_Strict):
    auto_after_hours: int = Field(ge=1, le=24 * 14)


class Calendar(_Strict):
    """One creator account's calendar."""

    handle: str
    timezone: str
    language: str = "en"
    persona: Persona
    pillars: list[Pillar] = Field(min_length=1)
    cadence: list[CadenceEntry] = Field(default_factory=list)
    backlog: list[BacklogItem] = Field(default_factory=list)
    one_offs: list[OneOff] = Field(default_factory=list)
    hashtags: Hashtags = Field(default_factory=Hashtags)
    call_to_action: str = Field("", max_length=300)
    reel_length_s: int = Field(30, ge=15, le=90)
    quiet_hours: str = "22:00-07:00"
    min_gap_hours: float = Field(3, ge=0, le=24)
    approval: Literal["manual", "skip_if_unapproved"] | AutoAfter = "manual"
    # The changes made on the calendar grid (<handle>.overrides.yaml beside the file), never part of the file itself.
    _overrides: Any = PrivateAttr(default=None)

    @property
    def overrides(self) -> Any:
        """The moves, skips and added reels of ``<handle>.overrides.yaml`` (:class:`agent.content_calendar.overrides.Overrides`)."""
        if self._overrides is None:
            from agent.content_calendar.overrides import EMPTY

            return EMPTY
        return self._overrides

    def with_overrides(self, overrides: Any) -> "Calendar":
        """A copy of this calendar planned with ``overrides`` (this one is left as it is)."""
        copy = self.model_copy()
        copy._overrides = overrides
        return copy

    @field_validator("handle")
    @classmethod
    def _handle(cls, value: str) -> str:
        value = value.strip().lstrip("@")
        if not _HANDLE.match(value):
            raise ValueError(f"{excerpt(value)} is not an Instagram username; use up to 30 letters, digits, '.' or '_'")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder of zones such as "Europe"
            close = _close_match(value, sorted(available_timezones()), cutoff=0.6)
            hint = f"; did you mean {close!r}?" if close else "; use an IANA name such as Europe/Berlin or America/New_York"
            raise ValueError(f"{excerpt(value)} is not a time zone{hint}") from None
        return value

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_hours(cls, value: str) -> str:
        match = re.fullmatch(r"\s*(\d{1,2}):00\s*-\s*(\d{1,2}):00\s*", value)
        if not match or int(match.group(1)) > 23 or int(match.group(2)) > 23:
            raise ValueError(f"{excerpt(value)} is not a range of whole hours; write e.g. \"22:00-07:00\" (or \"00:00-00:00\" for none)")
        return f"{int(match.group(1)):02d}:00-{int(match.group(2)):02d}:00"

    def quiet_hour_range(self) -> tuple[int, int]:
        start, end = self.quiet_hours.split("-")
        return int(start[:2]), int(end[:2])

    def is_quiet(self, hour: int) -> bool:
        """Whether the local ``hour`` lies in the quiet hours, when nothing is posted."""
        return in_quiet_hours(hour, self.quiet_hour_range())

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z]{2,3}(-[A-Za-z]{2,4})?", value):
            raise ValueError(f"{excerpt(value)} is not a language code; use ISO 639-1 such as en, de or pt-BR")
        return value

    @field_validator("approval", mode="before")
    @classmethod
    def _approval(cls, value: Any) -> Any:
        if not isinstance(value, (str, dict, AutoAfter)) or (isinstance(value, str) and value.strip() not in ("manual", "skip_if_unapproved")):
            raise ValueError(f"{excerpt(value)} is not an approval policy; use manual, skip_if_unapproved or auto_after_hours: N")
        return value

    @model_validator(mode="after")
    def _posts_something(self) -> "Calendar":
        if not self.cadence and not self.one_offs:
            raise ValueError("no cadence and no one_offs: nothing would ever be posted; add a cadence entry")
        return self

    def pillar_names(self) -> list[str]:
        return [pillar.name for pillar in self.pillars]

    def entry_for(self, brief_key: str | None) -> BacklogItem | OneOff | None:
        """The backlog brief or one-off a slot's ``brief_key`` names (for its ``points`` and ``must_say``), if still in the file."""
        if not brief_key:
            return None
        if brief_key.startswith("one_off:"):
            _, day, ordinal = brief_key.split(":", 2)
            on_day = [item for item in self.one_offs if item.date.isoformat() == day]
            return on_day[int(ordinal) - 1] if ordinal.isdigit() and 0 < int(ordinal) <= len(on_day) else None
        return next((item for item in self.backlog if item.key == brief_key), None)


def _show_time(value: time | str) -> str:
    return value if isinstance(value, str) else value.strftime("%H:%M")


def cross_reference_problems(calendar: Calendar) -> list[tuple[tuple[Any, ...], str]]:
    """Problems that need the whole file: (location path, message) pairs."""
    names = calendar.pillar_names()
    problems = []

    def check(loc: tuple[Any, ...], pillar: str | None, what: str) -> None:
        if pillar is not None and pillar not in names:
            close = _close_match(pillar, names, cutoff=0.6)
            hint = f"did you mean {close!r}?" if close else f"pillars are: {', '.join(names)}"
            problems.append((loc, f"{what} names pillar {excerpt(pillar)}, which is not in pillars; {hint}"))

    for index, name in enumerate(names):
        if names.index(name) != index:
            problems.append((("pillars", index, "name"), f"pillar {excerpt(name)} is listed twice; give each pillar one entry"))
    seen: set[tuple[str, Any]] = set()
    for index, entry in enumerate(calendar.cadence):
        for day in entry.days:
            if (day, entry.time) in seen:
                problems.append((("cadence", index), f"cadence lists {day} at {_show_time(entry.time)} twice; remove one"))
            seen.add((day, entry.time))
    for index, item in enumerate(calendar.backlog):
        check(("backlog", index, "pillar"), item.pillar, "brief")
    for index, item in enumerate(calendar.one_offs):
        check(("one_offs", index, "pillar"), item.pillar, "one-off")
    for pillar in calendar.hashtags.sets:
        check(("hashtags", "sets", pillar), pillar, "hashtag set")
    keys = [item.key for item in calendar.backlog]
    for index, key in enumerate(keys):
        if keys.index(key) != index:
            problems.append((("backlog", index), f"brief repeats backlog entry {keys.index(key) + 1}; remove it or give it its own id"))
    return problems
