"""Read calendar files and report every problem as ``file:line: message``.

YAML is parsed once into a node tree (which knows line numbers) and then into
Python values; pydantic's error locations are walked back through the node tree
to the line that holds the bad value. Never a traceback for a user's mistake.
"""

from __future__ import annotations

import difflib
import re
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from agent.content_calendar.overrides import EMPTY, Overrides, is_overrides_file, overrides_path, slot_id_parts
from agent.content_calendar.schema import Calendar, cross_reference_problems, excerpt
from agent.errors import CalendarError

TEMPLATE_PREFIXES = ("example", "_")

#: Bounds that keep a hostile or broken file from hanging ``reeltwin run`` (which rereads calendars every sweep).
MAX_FILE_BYTES = 1024 * 1024  # the example is a few kB; a year of 2000-character briefs still fits
MAX_DEPTH = 20  # levels of nested lists/mappings; a calendar uses at most 4
MAX_ALIAS_VALUES = 1000  # values that *aliases may repeat, in all (a "billion laughs" file repeats 10^9)
MAX_ALIAS_CHARS = 100_000  # characters of text that *aliases may repeat, in all
MAX_PROBLEM_CHARS = 500  # one problem line, at most
_NO_ALIASES = "write the values out instead of using &anchors and *aliases"


class _Refused(Exception):
    """A file the loader will not expand: reported as ``file:line: message``."""

    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line, self.message = line, message


class _Bounded:
    """Composition, bounded: at most :data:`MAX_DEPTH` levels of nesting (PyYAML composes recursively, so a deep
    file would end in ``RecursionError``), no alias inside the value it names (a loop), and at most
    :data:`MAX_ALIAS_VALUES` values and :data:`MAX_ALIAS_CHARS` characters repeated by aliases in all (an alias
    bomb composes to a few nodes but expands to billions of values when walked or validated).
    """

    def _start_bounds(self) -> None:
        self._depth = 0  # open lists/mappings
        self._open_anchors: list[str | None] = []  # anchors of the open lists/mappings
        self._alias_values = 0
        self._alias_chars = 0
        self._sizes: dict[int, tuple[int, int, int]] = {}  # id(node) -> (values, characters, depth) when expanded

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        event = self.peek_event()
        line = event.start_mark.line + 1 if event.start_mark else 1
        if isinstance(event, yaml.AliasEvent):
            name = event.anchor if len(event.anchor) <= 40 else event.anchor[:40] + "…"
            if event.anchor in self._open_anchors:
                raise _Refused(line, f"alias *{name} is inside the value it names (a loop); {_NO_ALIASES}")
            target = self.anchors.get(event.anchor)
            if target is not None:  # an undefined alias: PyYAML reports it
                values, chars, depth = self._size(target)
                if self._depth + depth > MAX_DEPTH:
                    raise _Refused(line, f"alias *{name} nests the file more than {MAX_DEPTH} levels deep; {_NO_ALIASES}")
                self._alias_values += values
                self._alias_chars += chars
                if self._alias_values > MAX_ALIAS_VALUES or self._alias_chars > MAX_ALIAS_CHARS:
                    raise _Refused(
                        line,
                        f"alias *{name} repeats too much (aliases may repeat at most {MAX_ALIAS_VALUES:,} values and "
                        f"{MAX_ALIAS_CHARS:,} characters in all); {_NO_ALIASES}",
                    )
            return super().compose_node(parent, index)
        if not isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            return super().compose_node(parent, index)
        if self._depth >= MAX_DEPTH:
            raise _Refused(line, f"lists and mappings are nested more than {MAX_DEPTH} levels deep; a calendar needs a few levels, check the brackets and indentation")
        self._depth += 1
        self._open_anchors.append(event.anchor)
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1
            self._open_anchors.pop()

    def _size(self, node: yaml.Node) -> tuple[int, int, int]:
        """(values, characters, levels of nesting) of ``node`` with every alias in it written out; memoized, so linear."""
        known = self._sizes.get(id(node))
        if known is not None:
            return known
        if isinstance(node, yaml.ScalarNode):
            size = (1, len(node.value), 0)
        else:
            children = [child for pair in node.value for child in pair] if isinstance(node, yaml.MappingNode) else list(node.value)
            parts = [self._size(child) for child in children]
            size = (1 + sum(p[0] for p in parts), sum(p[1] for p in parts), 1 + max((p[2] for p in parts), default=0))
        self._sizes[id(node)] = size
        return size


class _CalendarYamlLoader(_Bounded, yaml.SafeLoader):
    """SafeLoader without YAML 1.1's surprises: 12:30 stays a string (not 750), no yes/no booleans; dates are checked
    by pydantic; composition bounded (:class:`_Bounded`). PyYAML's pure-Python reader, scanner and parser: the careful
    path, whose errors are the ones reported."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self._start_bounds()


_CalendarYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_CalendarYamlLoader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
# At most 100 digits: Python refuses to convert an int of more than 4300 (a longer one stays text, which pydantic refuses).
_CalendarYamlLoader.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^[-+]?[0-9]{1,100}$"), list("-+0123456789"))
_CalendarYamlLoader.add_implicit_resolver("tag:yaml.org,2002:float", re.compile(r"^[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$"), list("-+0123456789."))


@dataclass(frozen=True)
class LoadedCalendar:
    path: Path
    calendar: Calendar

    @property
    def is_template(self) -> bool:
        return is_template(self.path)


def is_template(path: Path) -> bool:
    return path.name.startswith(TEMPLATE_PREFIXES)


def calendar_files(directory: Path, *, include_templates: bool = True) -> list[Path]:
    if not directory.is_dir():
        return []
    files = sorted({*directory.glob("*.yaml"), *directory.glob("*.yml")})
    # <handle>.overrides.yaml beside a calendar holds the changes made on the grid: part of that calendar, not one of its own
    return [path for path in files if not is_overrides_file(path) and (include_templates or not is_template(path))]


def display_path(path: Path, base: Path | None = None) -> str:
    base = base or Path.cwd()
    try:
        return str(path.resolve().relative_to(base.resolve()))
    except ValueError:
        return str(path)


def load_calendar(path: Path, *, base: Path | None = None) -> LoadedCalendar:
    """Load and validate one calendar file; raise :class:`CalendarError` listing every problem."""
    shown = display_path(path, base)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)  # never more: a huge file (or /dev/zero) is refused, not read
        if len(data) > MAX_FILE_BYTES:
            raise CalendarError([_too_big(shown, path)])
        text = data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")  # what read_text() gives
    except FileNotFoundError:
        raise CalendarError([f"{shown}: no such file; create it from calendar/example.yaml"]) from None
    except IsADirectoryError:
        raise CalendarError([f"{shown}: is a folder, not a calendar file"]) from None
    except UnicodeDecodeError:
        raise CalendarError([f"{shown}: not UTF-8 text; save it as UTF-8"]) from None
    except OSError as error:
        raise CalendarError([f"{shown}: cannot be read ({error.strerror or error}); check the file's permissions"]) from None
    loaded = parse_calendar(text, path, shown)
    if loaded.is_template:
        return loaded
    return with_overrides_file(loaded, base=base)


def with_overrides_file(loaded: LoadedCalendar, *, base: Path | None = None) -> LoadedCalendar:
    """``loaded`` with the changes in its ``<handle>.overrides.yaml`` (see :mod:`agent.content_calendar.overrides`)."""
    path = overrides_path(loaded.path)
    calendar = loaded.calendar
    overrides = load_overrides(path, shown=display_path(path, base), handle=calendar.handle, pillars=calendar.pillar_names())
    return LoadedCalendar(path=loaded.path, calendar=calendar.with_overrides(overrides)) if overrides else loaded


def _too_big(shown: str, path: Path | None = None, text: str | None = None) -> str:
    try:
        size = len(text.encode("utf-8")) if text is not None else path.stat().st_size if path is not None else 0
    except OSError:
        size = 0
    what = f"{-(-size // 1024):,} kB, " if size > MAX_FILE_BYTES else ""  # a device or pipe has no size
    return f"{shown}:1: the file is {what}larger than a calendar may be ({MAX_FILE_BYTES // 1024:,} kB); keep briefs short (2000 characters at most) and remove pasted text"


def load_all(paths: list[Path], *, base: Path | None = None) -> list[LoadedCalendar]:
    """Load every file; raise one :class:`CalendarError` listing the problems of all of them."""
    loaded, problems = [], []
    for path in paths:
        try:
            loaded.append(load_calendar(path, base=base))
        except CalendarError as error:
            problems.extend(error.problems)
    if problems:
        raise CalendarError(problems)
    return loaded


def parse_calendar(text: str, path: Path, shown: str | None = None, *, overrides_text: str | None = None) -> LoadedCalendar:
    """A calendar from its text; with ``overrides_text`` (its ``<handle>.overrides.yaml``, as a draft task carries it) those changes too."""
    shown = shown or str(path)
    if len(text) > MAX_FILE_BYTES:
        raise CalendarError([_too_big(shown, text=text)])
    try:
        loaded = _parse(text, path, shown)
        if overrides_text:
            calendar = loaded.calendar
            overrides = parse_overrides(overrides_text, shown=overrides_path(path).name, handle=calendar.handle, pillars=calendar.pillar_names())
            loaded = LoadedCalendar(path=loaded.path, calendar=calendar.with_overrides(overrides))
        return loaded
    except RecursionError:  # a last line of defence: the depth bounds should stop it first
        raise CalendarError([f"{shown}:1: lists and mappings are nested too deeply; a calendar needs a few levels, check the brackets and indentation"]) from None


def _unconstructable(loader: Any, root: Any) -> tuple[int, str]:
    """(line, text) of the first scalar PyYAML cannot build (a number or a date it recognises but cannot make)."""
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.ScalarNode):
            loader.constructed_objects, loader.recursive_objects = {}, {}   # the failed build left them half-filled
            try:
                loader.construct_object(node, deep=True)
            except (ValueError, OverflowError, TypeError):
                return node.start_mark.line + 1, str(node.value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(reversed(node.value))
        elif isinstance(node, yaml.MappingNode):
            for key, value in reversed(node.value):
                stack.extend([value, key])
    return 1, "a value"


try:
    from yaml._yaml import CParser as _CParser
except ImportError:  # PyYAML built without libyaml: the pure-Python path does it all
    _CParser = None

if _CParser is not None:
    class _FastCalendarLoader(_Bounded, yaml.composer.Composer, _CParser, yaml.constructor.SafeConstructor, yaml.resolver.Resolver):
        """The same loader with libyaml scanning and parsing (about 5x faster: a scheduler with thousands of calendars
        reads every one at start), composition and the bounds still ours. Only a file that loads cleanly is taken
        from here; anything it cannot read goes through :class:`_CalendarYamlLoader` again for the error message."""

        def __init__(self, stream: str):
            _CParser.__init__(self, stream)
            yaml.composer.Composer.__init__(self)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)
            self._start_bounds()

    _FastCalendarLoader.yaml_implicit_resolvers = _CalendarYamlLoader.yaml_implicit_resolvers
else:
    _FastCalendarLoader = None


def _fast_load(text: str) -> tuple[yaml.Node, Any, list[tuple[int, str]]] | None:
    """(root node, data, duplicate keys) when libyaml reads ``text`` cleanly, else None (the careful path then reports why)."""
    if _FastCalendarLoader is None:
        return None
    try:
        loader = _FastCalendarLoader(text)
    except Exception:  # noqa: BLE001 - any trouble: the careful path
        return None
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        duplicates = _duplicate_keys(root)   # before construction, which folds `<<:` merges into the mapping
        return root, loader.construct_document(root), duplicates
    except Exception:  # noqa: BLE001 - bad YAML, a refused alias, an unconstructable scalar: the careful path says what
        return None
    finally:
        loader.dispose()


def _parse(text: str, path: Path, shown: str) -> LoadedCalendar:
    fast = _fast_load(text)
    if fast is not None:
        root, data, duplicates = fast
        problems = [f"{shown}:{line}: {message}" for line, message in duplicates]
    else:
        root, data, problems = _careful_load(text, shown)
    return _validate(root, data, problems, path, shown)


def _careful_load(text: str, shown: str, *, empty_ok: bool = False) -> tuple[yaml.Node | None, Any, list[str]]:
    try:
        loader = _CalendarYamlLoader(text)  # rejects control characters (e.g. NUL) before parsing
    except yaml.reader.ReaderError as error:
        line = text.count("\n", 0, max(error.position, 0)) + 1
        raise CalendarError([f"{shown}:{line}: not valid YAML: control character {error.character if isinstance(error.character, str) else f'#x{error.character:04x}'} is not allowed; remove it"]) from None
    try:
        root = loader.get_single_node()
        if root is None:
            if empty_ok:
                return None, None, []
            raise CalendarError([f"{shown}:1: the file is empty; start from calendar/example.yaml"])
        problems = [f"{shown}:{line}: {message}" for line, message in _duplicate_keys(root)]
        try:
            data = loader.construct_document(root)
        except (ValueError, OverflowError, TypeError):
            # PyYAML's own constructors fail on scalars such as 08 (an octal-looking int) or 2026-02-30 (no such day)
            line, value = _unconstructable(loader, root)
            raise CalendarError([f"{shown}:{line}: {_clip(value, 60)!r} cannot be read as a number or a date; put it in quotes if it is text"]) from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else 1
        reason = (error.problem or error.context or "invalid YAML").strip()
        raise CalendarError([f"{shown}:{line}: not valid YAML: {_clip(reason, 160)}; check the indentation and quotes on this line"]) from None
    except _Refused as refused:
        raise CalendarError([f"{shown}:{refused.line}: {refused.message}"]) from None
    except yaml.YAMLError as error:
        raise CalendarError([f"{shown}:1: not valid YAML: {_clip(str(error), 160)}"]) from None
    finally:
        loader.dispose()
    return root, data, problems


def _validate(root: yaml.Node, data: Any, problems: list[str], path: Path, shown: str) -> LoadedCalendar:
    if not isinstance(data, dict):
        raise CalendarError([f"{shown}:1: a calendar is a set of `key: value` lines (handle, timezone, persona, ...), not a {type(data).__name__}"])

    calendar = None
    try:
        calendar = Calendar.model_validate(data)
    except ValidationError as error:
        items = error.errors()
        # A misspelled key is reported once, as unknown with "did you mean", not also as missing.
        suggested = {(_clean_loc(item["loc"])[:-1], _suggestion(_clean_loc(item["loc"]))) for item in items if item["type"] == "extra_forbidden"}
        for item in items:
            if item["type"] == "missing" and (_clean_loc(item["loc"])[:-1], _clean_loc(item["loc"])[-1]) in suggested:
                continue
            if item["type"] == "literal_error" and isinstance(item.get("input"), dict):
                continue  # a mapping given for a "word or mapping" union: the mapping branch's errors say what is wrong
            line = _line_for(root, _clean_loc(item["loc"]))
            problems.append(f"{shown}:{line}: {_describe(item)}")
    if calendar is not None:
        for loc, message in cross_reference_problems(calendar):
            problems.append(f"{shown}:{_line_for(root, loc)}: {_dotted(loc)}: {message}")
        if not is_template(path) and path.stem != calendar.handle:
            problems.append(f"{shown}:{_line_for(root, ('handle',))}: handle {calendar.handle!r} does not match the file name; rename the file to {calendar.handle}.yaml")
    if problems:
        raise CalendarError(sorted({_clip(problem, MAX_PROBLEM_CHARS) for problem in problems}, key=_line_order))
    assert calendar is not None
    return LoadedCalendar(path=path, calendar=calendar)


def _clip(text: str, limit: int) -> str:
    """``text`` on one line, cut to ``limit`` characters with "…"."""
    text = text.replace("\r", " ").replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _line_order(problem: str) -> tuple[int, str]:
    match = re.match(r"^.*?:(\d+):", problem)
    return (int(match.group(1)) if match else 0, problem)


def _duplicate_keys(node: yaml.Node) -> list[tuple[int, str]]:
    found = []
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):  # a list/mapping as key: construct_document reports it
                found.extend(_duplicate_keys(value_node))
                continue
            key = key_node.value
            if key in seen:
                found.append((key_node.start_mark.line + 1, f"{excerpt(key)} is given twice (first on line {seen[key]}); keep one"))
            else:
                seen[key] = key_node.start_mark.line + 1
            found.extend(_duplicate_keys(value_node))
    elif isinstance(node, yaml.SequenceNode):
        for child in node.value:
            found.extend(_duplicate_keys(child))
    return found


def _line_for(root: yaml.Node, loc: tuple[Any, ...]) -> int:
    """The line of the deepest node that ``loc`` reaches (the key's line for a mapping entry)."""
    node, line = root, root.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if key_node.value == str(part):
                    node, line = value_node, key_node.start_mark.line + 1
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _dotted(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _known_fields(loc: tuple[Any, ...]) -> list[str]:
    """Field names of the model at ``loc`` (for "did you mean")."""
    model: Any = Calendar
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or part not in model.model_fields:
            return []
        annotation = model.model_fields[part].annotation
        while typing.get_origin(annotation) in (list, typing.Union, typing.get_origin(int | None)):
            args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
            annotation = next((arg for arg in args if isinstance(arg, type) and issubclass(arg, BaseModel)), args[0] if args else None)
        model = annotation
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def _clean_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """``loc`` without pydantic's union branch tags."""
    return tuple(part for part in loc if isinstance(part, int) or part in _all_field_names() or _is_data_key(loc, part))


def _suggestion(loc: tuple[Any, ...]) -> str | None:
    """The known key closest to an unknown key at ``loc``, if any is close."""
    if len(str(loc[-1])) > 100:
        return None
    close = difflib.get_close_matches(str(loc[-1]), _known_fields(loc[:-1]), n=1, cutoff=0.6)
    return close[0] if close else None


def _describe(item: dict[str, Any]) -> str:
    loc = _clean_loc(item["loc"])
    where = _dotted(loc)
    kind = item["type"]
    if kind == "extra_forbidden":
        key = loc[-1]
        known = _known_fields(loc[:-1])
        close = _suggestion(loc)
        hint = f"did you mean {close!r}?" if close else (f"allowed here: {', '.join(known)}" if known else "remove it")
        return f"unknown key {excerpt(key)}; {hint}"
    if kind == "missing":
        parent = _dotted(loc[:-1])
        return f"missing required key {loc[-1]!r}" + (f" in {parent}" if parent else "")
    message = item["msg"].removeprefix("Value error, ").replace("Input should be", "must be")
    value = item.get("input")
    if kind not in ("value_error",) and value is not None and not isinstance(value, (dict, list)):
        message += f" (got {excerpt(value)})"
    if kind == "date_from_datetime_parsing" or kind.startswith("date_"):
        message = f"{excerpt(value)} is not a date; write YYYY-MM-DD, e.g. 2026-12-24"
    return f"{where}: {message}" if where else message


_FIELD_NAMES: set[str] = set()


def _all_field_names() -> set[str]:
    if not _FIELD_NAMES:
        def collect(model: type[BaseModel]) -> None:
            for name, info in model.model_fields.items():
                _FIELD_NAMES.add(name)
                for arg in (info.annotation, *typing.get_args(info.annotation)):
                    for inner in (arg, *typing.get_args(arg)):
                        if isinstance(inner, type) and issubclass(inner, BaseModel) and inner is not model:
                            collect(inner)

        collect(Calendar)
    return _FIELD_NAMES


def _is_data_key(loc: tuple[Any, ...], part: Any) -> bool:
    # Keys of free-form mappings (hashtags.sets.<pillar>) and unknown keys (extra) are data, not union tags.
    index = loc.index(part)
    return (index >= 2 and loc[index - 2 : index] == ("hashtags", "sets")) or index == len(loc) - 1


# --------------------------------------------------------------------------- <handle>.overrides.yaml


def overrides_problems(overrides: Overrides, *, handle: str, pillars: list[str]) -> list[tuple[tuple[Any, ...], str]]:
    """Problems that need the calendar: (location, message) pairs."""
    problems: list[tuple[tuple[Any, ...], str]] = []
    seen: dict[str, str] = {}
    for section in ("moves", "skips", "adds"):
        for index, entry in enumerate(getattr(overrides, section)):
            parts = slot_id_parts(entry.slot)
            assert parts is not None
            if parts[0] != handle:
                problems.append(((section, index, "slot"), f"slot {entry.slot!r} is not one of @{handle}'s; its id starts with {parts[0]!r}"))
            if section == "adds" and parts[2] != "a":
                problems.append(((section, index, "slot"), f"an added slot's id ends in :a<n> (got {entry.slot!r})"))
            if section != "adds" and parts[2] == "a":
                problems.append(((section, index, "slot"), f"{entry.slot!r} is an added slot; change or remove its entry under adds instead"))
            if entry.slot in seen:
                problems.append(((section, index, "slot"), f"slot {entry.slot!r} is already listed under {seen[entry.slot]}; keep one entry per slot"))
            else:
                seen[entry.slot] = section
    for index, add in enumerate(overrides.adds):
        if add.pillar is not None and add.pillar not in pillars:
            problems.append((("adds", index, "pillar"), f"pillar {excerpt(add.pillar)} is not in the calendar's pillars ({', '.join(pillars)})"))
    return problems


def load_overrides(path: Path, *, shown: str, handle: str, pillars: list[str]) -> Overrides:
    """The overrides file at ``path`` (none there: no overrides); CalendarError with ``file:line: message`` problems."""
    try:
        with path.open("rb") as handle_:
            data = handle_.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        return EMPTY
    except IsADirectoryError:
        raise CalendarError([f"{shown}: is a folder, not an overrides file; remove it"]) from None
    except OSError as error:
        raise CalendarError([f"{shown}: cannot be read ({error.strerror or error}); check the file's permissions"]) from None
    if len(data) > MAX_FILE_BYTES:
        raise CalendarError([f"{shown}:1: the file is larger than an overrides file may be ({MAX_FILE_BYTES // 1024:,} kB); remove old entries"])
    try:
        text = data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    except UnicodeDecodeError:
        raise CalendarError([f"{shown}: not UTF-8 text; save it as UTF-8"]) from None
    return parse_overrides(text, shown=shown, handle=handle, pillars=pillars)


def parse_overrides(text: str, *, shown: str, handle: str, pillars: list[str]) -> Overrides:
    fast = _fast_load(text)
    if fast is not None:
        root, data, duplicates = fast
        problems = [f"{shown}:{line}: {message}" for line, message in duplicates]
    else:
        root, data, problems = _careful_load(text, shown, empty_ok=True)
    if root is None or data is None:
        return EMPTY
    if not isinstance(data, dict):
        raise CalendarError([f"{shown}:1: an overrides file holds moves:, skips: and adds: lists, not a {type(data).__name__}"])
    overrides = None
    try:
        overrides = Overrides.model_validate(data)
    except ValidationError as error:
        items = error.errors()
        # A misspelled key is reported once, as unknown with "did you mean", not also as a missing one.
        suggested = {(tuple(item["loc"][:-1]), _override_suggestion(item["loc"])) for item in items if item["type"] == "extra_forbidden"}
        for item in items:
            loc = tuple(item["loc"])
            if item["type"] == "missing" and (loc[:-1], loc[-1]) in suggested:
                continue
            line = _line_for(root, loc)
            problems.append(f"{shown}:{line}: {_dotted(loc)}: {_describe_override(item)}")
    if overrides is not None:
        for loc, message in overrides_problems(overrides, handle=handle, pillars=pillars):
            problems.append(f"{shown}:{_line_for(root, loc)}: {_dotted(loc)}: {message}")
    if problems:
        raise CalendarError(sorted({_clip(problem, MAX_PROBLEM_CHARS) for problem in problems}, key=_line_order))
    assert overrides is not None
    return overrides


_OVERRIDE_KEYS = {"moves": ["slot", "to", "from", "by", "made_at"], "skips": ["slot", "at", "by", "made_at"],
         "adds": ["slot", "at", "pillar", "brief", "by", "made_at"]}


def _override_keys(loc: tuple[Any, ...]) -> list[str]:
    return _OVERRIDE_KEYS.get(str(loc[0]), []) if len(loc) == 3 else (list(_OVERRIDE_KEYS) if len(loc) == 1 else [])


def _override_suggestion(loc: tuple[Any, ...]) -> str | None:
    import difflib

    close = difflib.get_close_matches(str(loc[-1])[:100], _override_keys(tuple(loc)), n=1, cutoff=0.6)
    return close[0] if close else None


def _describe_override(item: dict[str, Any]) -> str:
    kind = item["type"]
    loc = tuple(item["loc"])
    if kind == "extra_forbidden":
        close = _override_suggestion(loc)
        known = _override_keys(loc)
        return f"unknown key {excerpt(loc[-1])}; " + (f"did you mean {close!r}?" if close else f"allowed here: {', '.join(known)}" if known else "remove it")
    if kind == "missing":
        return f"missing required key {loc[-1]!r}"
    message = item["msg"].removeprefix("Value error, ").replace("Input should be", "must be")
    value = item.get("input")
    if kind != "value_error" and value is not None and not isinstance(value, (dict, list)):
        message += f" (got {excerpt(value)})"
    return message
