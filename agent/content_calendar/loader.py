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

from agent.content_calendar.schema import Calendar, cross_reference_problems
from agent.errors import CalendarError

TEMPLATE_PREFIXES = ("example", "_")


class _CalendarYamlLoader(yaml.SafeLoader):
    """SafeLoader without YAML 1.1's surprises: 12:30 stays a string (not 750), no yes/no booleans; dates are checked by pydantic."""


_CalendarYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_CalendarYamlLoader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_CalendarYamlLoader.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^[-+]?[0-9]+$"), list("-+0123456789"))
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
    return [path for path in files if include_templates or not is_template(path)]


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
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CalendarError([f"{shown}: no such file; create it from calendar/example.yaml"]) from None
    except IsADirectoryError:
        raise CalendarError([f"{shown}: is a folder, not a calendar file"]) from None
    except UnicodeDecodeError:
        raise CalendarError([f"{shown}: not UTF-8 text; save it as UTF-8"]) from None
    return parse_calendar(text, path, shown)


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


def parse_calendar(text: str, path: Path, shown: str | None = None) -> LoadedCalendar:
    shown = shown or str(path)
    try:
        loader = _CalendarYamlLoader(text)  # rejects control characters (e.g. NUL) before parsing
    except yaml.reader.ReaderError as error:
        line = text.count("\n", 0, max(error.position, 0)) + 1
        raise CalendarError([f"{shown}:{line}: not valid YAML: control character {error.character if isinstance(error.character, str) else f'#x{error.character:04x}'} is not allowed; remove it"]) from None
    try:
        root = loader.get_single_node()
        if root is None:
            raise CalendarError([f"{shown}:1: the file is empty; start from calendar/example.yaml"])
        problems = [f"{shown}:{line}: {message}" for line, message in _duplicate_keys(root)]
        data = loader.construct_document(root)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else 1
        reason = (error.problem or error.context or "invalid YAML").strip()
        raise CalendarError([f"{shown}:{line}: not valid YAML: {reason}; check the indentation and quotes on this line"]) from None
    except yaml.YAMLError as error:
        raise CalendarError([f"{shown}:1: not valid YAML: {error}"]) from None
    finally:
        loader.dispose()
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
        raise CalendarError(sorted(set(problems), key=_line_order))
    assert calendar is not None
    return LoadedCalendar(path=path, calendar=calendar)


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
                found.append((key_node.start_mark.line + 1, f"{key!r} is given twice (first on line {seen[key]}); keep one"))
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
        return f"unknown key {key!r}; {hint}"
    if kind == "missing":
        parent = _dotted(loc[:-1])
        return f"missing required key {loc[-1]!r}" + (f" in {parent}" if parent else "")
    message = item["msg"].removeprefix("Value error, ").replace("Input should be", "must be")
    value = item.get("input")
    if kind not in ("value_error",) and value is not None and not isinstance(value, (dict, list)):
        message += f" (got {value!r})"
    if kind == "date_from_datetime_parsing" or kind.startswith("date_"):
        message = f"{value!r} is not a date; write YYYY-MM-DD, e.g. 2026-12-24"
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
