"""Calendar validation: every user mistake is one ``file:line: message`` on the right line, never a traceback.

Each variant is the shipped ``calendar/example.yaml`` with one edit, written to a
temporary folder and loaded like a real calendar file. Expected line numbers are
computed from the edited text, so the tests follow the example if it changes.
"""

from __future__ import annotations

import re
from datetime import date, time
from pathlib import Path

import pytest

from agent.content_calendar.loader import LoadedCalendar, is_template, load_calendar
from agent.content_calendar.schema import AutoAfter
from agent.errors import CalendarError
from cli_helpers import reeltwin

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_PATH = REPO / "calendar" / "example.yaml"
EXAMPLE = EXAMPLE_PATH.read_text(encoding="utf-8")
PROBLEM = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): (?P<message>\S.*)$", re.DOTALL)


# --------------------------------------------------------------------------- helpers


def edited(old: str, new: str, text: str = EXAMPLE) -> str:
    """``text`` with the one occurrence of ``old`` replaced (fails loudly if the example changed)."""
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in the example; update the test"
    return text.replace(old, new)


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """1-based line on which the ``occurrence``-th ``needle`` starts."""
    index = -1
    for _ in range(occurrence):
        index = text.index(needle, index + 1)
    return text.count("\n", 0, index) + 1


def load_text(tmp_path: Path, text: str, name: str = "example.yaml") -> LoadedCalendar:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return load_calendar(path, base=tmp_path)


def problems_of(tmp_path: Path, text: str, name: str = "example.yaml") -> list[str]:
    with pytest.raises(CalendarError) as caught:
        load_text(tmp_path, text, name)
    problems = caught.value.problems
    assert problems, "a CalendarError must name at least one problem"
    for problem in problems:
        assert PROBLEM.match(problem), f"not 'file:line: message': {problem!r}"
    return problems


# --------------------------------------------------------------------------- the example and file names


def test_the_shipped_example_is_valid() -> None:
    loaded = load_calendar(EXAMPLE_PATH)
    calendar = loaded.calendar
    assert loaded.is_template
    assert calendar.handle == "your.handle"
    assert calendar.timezone == "Europe/Berlin"
    assert calendar.pillar_names() == ["recipes", "skills", "behind-the-scenes"]
    assert [pillar.weight for pillar in calendar.pillars] == [3, 2, 1]
    assert [(entry.days, entry.time) for entry in calendar.cadence] == [(["mon", "thu"], time(12, 30)), (["sat"], "peak")]
    assert [item.pillar for item in calendar.backlog] == ["skills", "recipes", None]
    assert calendar.backlog[2].key == "id:meal-prep-sunday"
    assert calendar.one_offs[0].date == date(2026, 12, 24) and calendar.one_offs[0].time == time(10, 0)
    assert calendar.hashtags.max_per_post == 8
    assert calendar.hashtags.sets["skills"] == ["#cookingtips", "#kitchenskills", "#mealprep"]
    assert calendar.approval == "manual"


def test_a_copy_named_after_its_handle_is_valid(tmp_path: Path) -> None:
    loaded = load_text(tmp_path, EXAMPLE, "your.handle.yaml")
    assert not loaded.is_template
    assert loaded.calendar.handle == "your.handle"

    renamed = edited("handle: your.handle", "handle: ana_cooks")
    assert load_text(tmp_path, renamed, "ana_cooks.yaml").calendar.handle == "ana_cooks"
    # "@" in front of the handle is forgiven; the file name still has to match.
    assert load_text(tmp_path, edited("handle: your.handle", 'handle: "@ana_cooks"'), "ana_cooks.yaml").calendar.handle == "ana_cooks"


def test_a_copy_whose_name_differs_from_the_handle_names_the_rename(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, EXAMPLE, "ana.yaml")
    line = line_of(EXAMPLE, "handle: your.handle")
    assert problems == [f"ana.yaml:{line}: handle 'your.handle' does not match the file name; rename the file to your.handle.yaml"]


@pytest.mark.parametrize("name", ["example.yaml", "example-cafe.yaml", "_draft.yaml", "_ana.yml"])
def test_templates_may_have_any_handle(tmp_path: Path, name: str) -> None:
    assert is_template(tmp_path / name)
    assert load_text(tmp_path, EXAMPLE, name).calendar.handle == "your.handle"


# --------------------------------------------------------------------------- one mistake, one message, the right line

# (id, text to replace, replacement, text marking the expected line, expected message)
SINGLE_MISTAKES = [
    ("top-level key", "\npillars:\n", "\npilars:\n", "pilars:", "unknown key 'pilars'; did you mean 'pillars'?"),
    ("nested key", "  tone: warm", "  tnoe: warm", "tnoe:", "unknown key 'tnoe'; did you mean 'tone'?"),
    ("required nested key", "  name: Alex", "  nmae: Alex", "nmae:", "unknown key 'nmae'; did you mean 'name'?"),
    ("key in a list item", "    weight: 2", "    wieght: 2", "wieght:", "unknown key 'wieght'; did you mean 'weight'?"),
    ("time zone", "timezone: Europe/Berlin", "timezone: Europe/Berln", "Europe/Berln", "timezone: 'Europe/Berln' is not a time zone; did you mean 'Europe/Berlin'?"),
    ("hour 25", 'time: "12:30"', 'time: "25:30"', "25:30", "cadence[0].time: '25:30' is not a time of day; use 00:00 to 23:59"),
    ("time word", 'time: "12:30"', "time: noon", "noon", "cadence[0].time: 'noon' is not a time; write \"HH:MM\" (24-hour, in quotes) or peak"),
    ("one-off minute 75", 'time: "10:00"', 'time: "10:75"', "10:75", "one_offs[0].time: '10:75' is not a time of day; use 00:00 to 23:59"),
    (
        "weekday thurs",
        "days: [mon, thu]",
        "days: [mon, thurs]",
        "thurs",
        "cadence[0].days: 'thurs' is not a weekday; use mon tue wed thu fri sat sun, weekdays, weekends or daily; did you mean 'thursday'?",
    ),
    (
        "weekday funday",
        "days: [sat]",
        "days: [funday]",
        "funday",
        "cadence[1].days: 'funday' is not a weekday; use mon tue wed thu fri sat sun, weekdays, weekends or daily; did you mean 'sunday'?",
    ),
    ("negative weight", "    weight: 2", "    weight: -2", "weight: -2", "pillars[1].weight: must be greater than 0 (got -2)"),
    ("zero weight", "    weight: 2", "    weight: 0", "weight: 0", "pillars[1].weight: must be greater than 0 (got 0)"),
    ("word weight", "    weight: 2", "    weight: lots", "weight: lots", "pillars[1].weight: 'lots' is not a weight; use a positive number such as 1, 2 or 0.5"),
    ("month 13", "date: 2026-12-24", "date: 2026-13-24", "2026-13-24", "one_offs[0].date: '2026-13-24' is not a date; write YYYY-MM-DD, e.g. 2026-12-24"),
    ("dotted date", "date: 2026-12-24", "date: 24.12.2026", "24.12.2026", "one_offs[0].date: '24.12.2026' is not a date; write YYYY-MM-DD, e.g. 2026-12-24"),
    (
        "backlog pillar",
        "    pillar: skills\n  - brief: a creamy",
        "    pillar: skils\n  - brief: a creamy",
        "pillar: skils",
        "backlog[0].pillar: brief names pillar 'skils', which is not in pillars; did you mean 'skills'?",
    ),
    (
        "one-off pillar",
        "    pillar: recipes\n    brief: a Christmas",
        "    pillar: recipe\n    brief: a Christmas",
        "pillar: recipe\n",
        "one_offs[0].pillar: one-off names pillar 'recipe', which is not in pillars; did you mean 'recipes'?",
    ),
    (
        "hashtag set pillar",
        '    skills: ["#cookingtips"',
        '    skils: ["#cookingtips"',
        "skils:",
        "hashtags.sets.skils: hashtag set names pillar 'skils', which is not in pillars; did you mean 'skills'?",
    ),
    (
        "duplicate pillar",
        "\n# When reels go out",
        "  - name: recipes\n    weight: 1\n\n# When reels go out",
        "  - name: recipes\n    weight: 1\n",
        "pillars[3].name: pillar 'recipes' is listed twice; give each pillar one entry",
    ),
    (
        "cadence day and time twice",
        "  - days: [sat]\n",
        '  - days: [thu]\n    time: "12:30"\n  - days: [sat]\n',
        "days: [thu]",
        "cadence[1]: cadence lists thu at 12:30 twice; remove one",
    ),
    (
        "cadence peak twice",
        "  - days: [sat]\n    time: peak\n",
        "  - days: [sat]\n    time: peak\n  - days: [weekends]\n    time: peak\n",
        "days: [weekends]",
        "cadence[2]: cadence lists sat at peak twice; remove one",
    ),
    (
        "approval word",
        "approval: manual",
        "approval: sometimes",
        "approval:",
        "approval: 'sometimes' is not an approval policy; use manual, skip_if_unapproved or auto_after_hours: N",
    ),
    (
        "approval number",
        "approval: manual",
        "approval: 5",
        "approval:",
        "approval: 5 is not an approval policy; use manual, skip_if_unapproved or auto_after_hours: N",
    ),
    (
        "approval hours 0",
        "approval: manual",
        "approval:\n  auto_after_hours: 0",
        "auto_after_hours: 0",
        "approval.auto_after_hours: must be greater than or equal to 1 (got 0)",
    ),
    ("31 hashtags", "max_per_post: 8", "max_per_post: 31", "max_per_post: 31", "hashtags.max_per_post: must be less than or equal to 30 (got 31)"),
    (
        "handle with a space",
        "handle: your.handle",
        'handle: "your handle"',
        "handle:",
        "handle: 'your handle' is not an Instagram username; use up to 30 letters, digits, '.' or '_'",
    ),
    ("language", "language: en", "language: English", "language:", "language: 'English' is not a language code; use ISO 639-1 such as en, de or pt-BR"),
    ("reel too long", "reel_length_s: 30", "reel_length_s: 120", "reel_length_s:", "reel_length_s: must be less than or equal to 90 (got 120)"),
]


@pytest.mark.parametrize(("old", "new", "marker", "message"), [case[1:] for case in SINGLE_MISTAKES], ids=[case[0] for case in SINGLE_MISTAKES])
def test_one_mistake_gives_one_message_on_its_line(tmp_path: Path, old: str, new: str, marker: str, message: str) -> None:
    text = edited(old, new)
    line = line_of(text, marker, occurrence=text.count(marker))  # the edited (last) occurrence
    assert problems_of(tmp_path, text) == [f"example.yaml:{line}: {message}"]


def test_a_folder_of_zones_is_not_a_time_zone(tmp_path: Path) -> None:
    # ZoneInfo("Europe") raises IsADirectoryError, not ZoneInfoNotFoundError.
    text = edited("timezone: Europe/Berlin", "timezone: Europe")
    [problem] = problems_of(tmp_path, text)
    assert problem.startswith(f"example.yaml:{line_of(text, 'timezone:')}: timezone: 'Europe' is not a time zone")


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("language: en\n", "language: en\nlanguage: de\n", "language"),
        ("  tone: warm", "  tone: calm\n  tone: warm", "tone"),
        ("    weight: 2\n", "    weight: 2\n    weight: 4\n", "weight"),
    ],
    ids=["top level", "persona", "inside a list item"],
)
def test_a_duplicate_yaml_key_names_both_lines(tmp_path: Path, old: str, new: str, key: str) -> None:
    text = edited(old, new)
    first, second = (line_of(text, line) for line in new.splitlines()[:2])
    assert second == first + 1
    assert problems_of(tmp_path, text) == [f"example.yaml:{second}: {key!r} is given twice (first on line {first}); keep one"]


@pytest.mark.parametrize(
    ("old", "new", "marker", "reason"),
    [
        ("  tone: warm,", "  tone: warm: x,", "tone: warm: x", "mapping values are not allowed here"),
        ("  tone: warm", " tone: warm", " tone: warm", "expected <block end>, but found '<block mapping start>'"),
        ("  tone: warm", "\ttone: warm", "\ttone", "found character '\\t' that cannot start any token"),
    ],
    ids=["colon in a value", "bad indentation", "tab"],
)
def test_invalid_yaml_reports_its_line(tmp_path: Path, old: str, new: str, marker: str, reason: str) -> None:
    text = edited(old, new)
    assert problems_of(tmp_path, text) == [
        f"example.yaml:{line_of(text, marker)}: not valid YAML: {reason}; check the indentation and quotes on this line"
    ]


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n   \n"], ids=["empty", "blank lines", "comments"])
def test_an_empty_file(tmp_path: Path, text: str) -> None:
    assert problems_of(tmp_path, text) == ["example.yaml:1: the file is empty; start from calendar/example.yaml"]


@pytest.mark.parametrize(("text", "kind"), [("- handle: ana\n- timezone: UTC\n", "list"), ("just some words\n", "str")])
def test_the_top_level_must_be_a_mapping(tmp_path: Path, text: str, kind: str) -> None:
    assert problems_of(tmp_path, text) == [
        f"example.yaml:1: a calendar is a set of `key: value` lines (handle, timezone, persona, ...), not a {kind}"
    ]


def test_missing_required_keys_are_named(tmp_path: Path) -> None:
    text = edited("handle: your.handle\n", "")
    assert problems_of(tmp_path, text) == [f"example.yaml:{line_of(text, 'timezone:')}: missing required key 'handle'"]


def test_nothing_to_post_is_an_error(tmp_path: Path) -> None:
    start = EXAMPLE.index("cadence:\n")
    end = EXAMPLE.index("# Topic briefs")
    text = EXAMPLE[:start] + EXAMPLE[end:]
    text = text[: text.index("one_offs:\n")] + text[text.index("# Hashtags") :]
    [problem] = problems_of(tmp_path, text)
    assert problem.endswith("no cadence and no one_offs: nothing would ever be posted; add a cadence entry")


@pytest.mark.parametrize(("written", "expected"), [("9:30", time(9, 30)), ("12:30", time(12, 30)), ('"07:05"', time(7, 5)), ("00:00", time(0, 0))])
def test_unquoted_times_are_times_not_sexagesimal_numbers(tmp_path: Path, written: str, expected: time) -> None:
    text = edited('time: "12:30"', f"time: {written}")
    assert load_text(tmp_path, text).calendar.cadence[0].time == expected


def test_days_accept_full_names_and_groups(tmp_path: Path) -> None:
    text = edited("days: [mon, thu]", "days: [Monday, weekends, sat, thu]")
    assert load_text(tmp_path, text).calendar.cadence[0].days == ["mon", "thu", "sat", "sun"]


def test_auto_approval_after_hours_is_accepted(tmp_path: Path) -> None:
    text = edited("approval: manual", "approval:\n  auto_after_hours: 12")
    assert load_text(tmp_path, text).calendar.approval == AutoAfter(auto_after_hours=12)


# --------------------------------------------------------------------------- many problems at once


def test_every_problem_in_a_file_is_reported_sorted_by_line(tmp_path: Path) -> None:
    text = EXAMPLE
    # Applied bottom-up and out of order on purpose: the report is sorted by line, not by discovery.
    for old, new in [
        ("max_per_post: 8", "max_per_post: 31"),
        ("timezone: Europe/Berlin", "timezone: Europe/Berln"),
        ('time: "12:30"', 'time: "25:30"'),
        ("date: 2026-12-24", "date: 24.12.2026"),
        ("  tone: warm", "  tnoe: warm"),
        ("    weight: 2", "    weight: 0"),
        ("approval: manual", "approval: sometimes"),
    ]:
        text = edited(old, new, text)
    problems = problems_of(tmp_path, text)
    assert problems == [
        f"example.yaml:{line_of(text, 'Europe/Berln')}: timezone: 'Europe/Berln' is not a time zone; did you mean 'Europe/Berlin'?",
        f"example.yaml:{line_of(text, 'tnoe:')}: unknown key 'tnoe'; did you mean 'tone'?",
        f"example.yaml:{line_of(text, 'weight: 0')}: pillars[1].weight: must be greater than 0 (got 0)",
        f"example.yaml:{line_of(text, '25:30')}: cadence[0].time: '25:30' is not a time of day; use 00:00 to 23:59",
        f"example.yaml:{line_of(text, '24.12.2026')}: one_offs[0].date: '24.12.2026' is not a date; write YYYY-MM-DD, e.g. 2026-12-24",
        f"example.yaml:{line_of(text, 'max_per_post: 31')}: hashtags.max_per_post: must be less than or equal to 30 (got 31)",
        f"example.yaml:{line_of(text, 'approval: sometimes')}: approval: 'sometimes' is not an approval policy; use manual, skip_if_unapproved or auto_after_hours: N",
    ]
    error = CalendarError(problems)
    assert str(error).startswith("7 problems:\n")


def test_cross_reference_problems_are_reported_together(tmp_path: Path) -> None:
    text = edited("    pillar: skills\n  - brief: a creamy", "    pillar: skils\n  - brief: a creamy")
    text = edited("\n# Hashtags", "\n  - date: 2026-12-31\n    pillar: party\n    brief: new year snacks\n\n# Hashtags", text)
    text = edited("    behind-the-scenes: [", "    behindthescenes: [", text)
    problems = problems_of(tmp_path, text)
    assert problems == [
        f"example.yaml:{line_of(text, 'pillar: skils')}: backlog[0].pillar: brief names pillar 'skils', which is not in pillars; did you mean 'skills'?",
        f"example.yaml:{line_of(text, 'pillar: party')}: one_offs[1].pillar: one-off names pillar 'party', which is not in pillars; pillars are: recipes, skills, behind-the-scenes",
        f"example.yaml:{line_of(text, 'behindthescenes:')}: hashtags.sets.behindthescenes: hashtag set names pillar 'behindthescenes', which is not in pillars; did you mean 'behind-the-scenes'?",
    ]


# --------------------------------------------------------------------------- never a traceback


def _assert_loads_or_reports(tmp_path: Path, text: str, label: str) -> None:
    try:
        load_text(tmp_path, text)
    except CalendarError as error:
        assert error.problems, label
        for problem in error.problems:
            assert PROBLEM.match(problem) and problem.startswith("example.yaml:"), f"{label}: {problem!r}"
    # Any other exception propagates and fails the test with its traceback.


def test_truncated_examples_load_or_report_never_crash(tmp_path: Path) -> None:
    lines = EXAMPLE.splitlines(keepends=True)
    for count in range(0, len(lines) + 1, 7):
        _assert_loads_or_reports(tmp_path, "".join(lines[:count]), f"first {count} lines")
    for cut in range(0, len(EXAMPLE), 29):
        _assert_loads_or_reports(tmp_path, EXAMPLE[:cut], f"first {cut} characters")


@pytest.mark.parametrize(
    "junk",
    ["? [a, b]\n: c\n", "*nowhere\n", "!!python/object/apply:os.system ['true']\n", "{", "]", "'", "\t", "- ", "~\n", "!!binary zzz\n", "<<: {a: 1}\n", "\x00", "\x07"],
)
def test_junk_lines_load_or_report_never_crash(tmp_path: Path, junk: str) -> None:
    lines = EXAMPLE.splitlines(keepends=True)
    for index in range(0, len(lines), 5):
        _assert_loads_or_reports(tmp_path, "".join(lines[:index]) + junk + "".join(lines[index:]), f"{junk!r} before line {index + 1}")


@pytest.mark.parametrize(
    "value",
    ["", "~", "5", "1.5", "true", "[]", "{}", "[1, 2]", "{a: 1}", "Europe", "12:30", "2026-01-01", "peak", "'x'"],
)
def test_any_value_in_any_place_loads_or_reports(tmp_path: Path, value: str) -> None:
    lines = EXAMPLE.splitlines(keepends=True)
    for index, line in enumerate(lines):
        match = re.match(r"^(\s*(?:- )?[\w-]+):", line)
        if match is None or line.lstrip().startswith("#"):
            continue
        text = "".join(lines[:index]) + f"{match.group(1)}: {value}\n" + "".join(lines[index + 1 :])
        _assert_loads_or_reports(tmp_path, text, f"line {index + 1} = {value!r}")


def test_a_control_character_is_reported_on_its_line(tmp_path: Path) -> None:
    text = edited("language: en", "language: e\x00n")
    assert problems_of(tmp_path, text) == [f"example.yaml:{line_of(text, 'language:')}: not valid YAML: control character #x0000 is not allowed; remove it"]


def test_a_list_as_a_key_is_reported(tmp_path: Path) -> None:
    text = edited("language: en\n", "language: en\n? [a, b]\n: c\n")
    [problem] = problems_of(tmp_path, text)
    assert problem.startswith(f"example.yaml:{line_of(text, '? [a, b]')}: not valid YAML: found unhashable key")


def test_unreadable_files_are_reported(tmp_path: Path) -> None:
    with pytest.raises(CalendarError) as caught:
        load_calendar(tmp_path / "ana.yaml", base=tmp_path)
    assert caught.value.problems == ["ana.yaml: no such file; create it from calendar/example.yaml"]

    (tmp_path / "folder.yaml").mkdir()
    with pytest.raises(CalendarError) as caught:
        load_calendar(tmp_path / "folder.yaml", base=tmp_path)
    assert caught.value.problems == ["folder.yaml: is a folder, not a calendar file"]

    (tmp_path / "latin1.yaml").write_bytes("handle: caf\xe9\n".encode("latin-1"))
    with pytest.raises(CalendarError) as caught:
        load_calendar(tmp_path / "latin1.yaml", base=tmp_path)
    assert caught.value.problems == ["latin1.yaml: not UTF-8 text; save it as UTF-8"]


# --------------------------------------------------------------------------- hostile files: bounded, one line, exit 2 (issue 17)

BILLION_LAUGHS = 'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n' + "".join(
    f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]\n" for previous, name in zip("abcdefgh", "bcdefghi")
)


def _deeply_nested(levels: int) -> str:
    return edited("language: en\n", "language: en\nextra: " + "[" * levels + "]" * levels + "\n")


def _check(tmp_path: Path, text: str, name: str = "example.yaml") -> str:
    """``reeltwin calendar check FILE`` as a subprocess: exit 2, no traceback, exactly one stderr line, returned."""
    (tmp_path / name).write_text(text, encoding="utf-8")
    result = reeltwin(tmp_path, "calendar", "check", name, timeout=60)
    assert result.returncode == 2, (result.returncode, result.stdout[-2000:], result.stderr[-2000:])
    assert "Traceback" not in result.stdout + result.stderr, result.stderr[-2000:]
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr[-2000:]
    assert len(lines[0]) < 400, lines[0][:1000]
    return lines[0]


@pytest.mark.timeout(10)
def test_an_alias_bomb_is_refused_at_once(tmp_path: Path) -> None:
    text = edited("language: en\n", "language: en\n" + BILLION_LAUGHS)
    [problem] = problems_of(tmp_path, text)
    assert problem == (
        f"example.yaml:{line_of(text, 'd: &d')}: alias *c repeats too much (aliases may repeat at most 1,000 values and "
        "100,000 characters in all); write the values out instead of using &anchors and *aliases"
    )


@pytest.mark.timeout(10)
def test_a_bare_alias_bomb_is_refused_at_once(tmp_path: Path) -> None:
    [problem] = problems_of(tmp_path, BILLION_LAUGHS)
    assert problem.startswith("example.yaml:4: alias *c repeats too much")


@pytest.mark.timeout(10)
def test_aliases_of_long_text_are_bounded_too(tmp_path: Path) -> None:
    text = edited("language: en\n", "language: en\nnote: &long " + "x" * 30_000 + "\n" + "".join(f"n{i}: *long\n" for i in range(5)))
    [problem] = problems_of(tmp_path, text)
    assert problem.startswith(f"example.yaml:{line_of(text, 'n3: *long')}: alias *long repeats too much")


@pytest.mark.timeout(10)
def test_an_alias_inside_its_own_value_is_a_loop(tmp_path: Path) -> None:
    text = edited("language: en\n", "language: en\nloop: &self [1, *self]\n")
    assert problems_of(tmp_path, text) == [
        f"example.yaml:{line_of(text, 'loop:')}: alias *self is inside the value it names (a loop); write the values out instead of using &anchors and *aliases"
    ]


@pytest.mark.timeout(10)
def test_an_alias_cannot_nest_past_the_depth_limit(tmp_path: Path) -> None:
    text = edited("language: en\n", "language: en\ndeep: &deep " + "[" * 15 + "]" * 15 + "\nmore: [[[[[[[*deep]]]]]]]\n")
    [problem] = problems_of(tmp_path, text)
    assert problem.startswith(f"example.yaml:{line_of(text, 'more:')}: alias *deep nests the file more than 20 levels deep")


def test_a_few_anchors_and_aliases_still_work(tmp_path: Path) -> None:
    text = edited("  - days: [mon, thu]\n", "  - days: &twice [mon, thu]\n")
    text = edited('  - days: [sat]\n    time: peak\n', '  - days: [sat]\n    time: peak\n  - days: *twice\n    time: "18:00"\n', text)
    text = edited('    skills: ["#cookingtips", "#kitchenskills", "#mealprep"]\n', '    skills: &tips ["#cookingtips", "#kitchenskills", "#mealprep"]\n', text)
    text = edited('    behind-the-scenes: ["#foodcreator", "#behindthescenes"]\n', "    behind-the-scenes: *tips\n", text)
    text = edited("one_offs:\n  - date: 2026-12-24\n", "one_offs:\n  - &xmas\n    date: 2026-12-24\n", text)
    text = edited("    brief: a Christmas Eve dinner for under ten euros\n", "    brief: a Christmas Eve dinner for under ten euros\n  - <<: *xmas\n    date: 2026-12-31\n", text)
    calendar = load_text(tmp_path, text).calendar
    assert [entry.days for entry in calendar.cadence] == [["mon", "thu"], ["sat"], ["mon", "thu"]]
    assert calendar.hashtags.sets["behind-the-scenes"] == calendar.hashtags.sets["skills"]
    assert [(item.date, item.brief) for item in calendar.one_offs] == [
        (date(2026, 12, 24), "a Christmas Eve dinner for under ten euros"),
        (date(2026, 12, 31), "a Christmas Eve dinner for under ten euros"),
    ]


@pytest.mark.timeout(10)
@pytest.mark.parametrize("levels", [21, 50, 5000, 100_000])
def test_deep_nesting_is_refused_on_its_line(tmp_path: Path, levels: int) -> None:
    text = _deeply_nested(levels)
    assert problems_of(tmp_path, text) == [
        f"example.yaml:{line_of(text, 'extra:')}: lists and mappings are nested more than 20 levels deep; a calendar needs a few levels, check the brackets and indentation"
    ]


@pytest.mark.timeout(10)
def test_deep_block_nesting_is_refused_on_the_line_that_goes_too_deep(tmp_path: Path) -> None:
    text = EXAMPLE + "extra:\n" + "".join("  " * level + f"- k{level}:\n" for level in range(1, 40))
    [problem] = problems_of(tmp_path, text)
    # extra's mapping is level 1 (the file), each "- kN:" opens a list and a mapping: level 20 is the list of k10.
    assert problem.startswith(f"example.yaml:{line_of(text, '- k10:')}: lists and mappings are nested more than 20 levels deep")


def test_twenty_levels_are_still_allowed(tmp_path: Path) -> None:
    text = _deeply_nested(19)  # the file's own mapping is the 20th level
    assert problems_of(tmp_path, text) == [f"example.yaml:{line_of(text, 'extra:')}: unknown key 'extra'; allowed here: " + ", ".join(
        ["handle", "timezone", "language", "persona", "pillars", "cadence", "backlog", "one_offs", "hashtags", "call_to_action",
         "reel_length_s", "quiet_hours", "min_gap_hours", "approval"])]


@pytest.mark.timeout(10)
def test_a_long_brief_is_quoted_as_a_short_excerpt(tmp_path: Path) -> None:
    brief = "word " * 100_000  # 500 kB: under the file limit, far over the 2000 characters a brief may hold
    text = edited("  - brief: a creamy tomato soup with no cream\n", f"  - brief: {brief}x\n")
    [problem] = problems_of(tmp_path, text)
    prefix = repr(brief[:80])[:-1]
    assert problem == (
        f"example.yaml:{line_of(text, '- brief: word')}: backlog[1].brief: String should have at most 2000 characters (got {prefix}…' (500,001 characters))"
    )


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("old", "new", "marker"),
    [
        ("timezone: Europe/Berlin", "timezone: " + "Z" * 300_000, "timezone:"),
        ("language: en", "language: " + "e" * 300_000, "language:"),
        ('    time: "12:30"', "    time: " + "1" * 300_000, '    time: 111'),
        ("  - days: [sat]", "  - days: [" + "s" * 300_000 + "]", "  - days: [sss"),
        ('quiet_hours: "22:00-07:00"', "quiet_hours: " + "q" * 300_000, "quiet_hours:"),
        ("reel_length_s: 30", "reel_length_s: " + "9" * 300_000, "reel_length_s:"),
        ("    pillar: skills\n", "    pillar: " + "p" * 300_000 + "\n", "    pillar: ppp"),
        ("  - date: 2026-12-24", "  - date: " + "2" * 300_000, "  - date: 222"),
        ('    skills: ["#cookingtips"', '    skills: ["#' + "c" * 300_000 + '"', "  sets:"),  # reported on the sets line
        ("approval: manual", "approval: " + "a" * 300_000, "approval:"),
    ],
)
def test_every_quoted_value_is_a_short_excerpt(tmp_path: Path, old: str, new: str, marker: str) -> None:
    text = edited(old, new)
    problems = problems_of(tmp_path, text)
    assert any(problem.startswith(f"example.yaml:{line_of(text, marker)}: ") for problem in problems), problems
    for problem in problems:
        assert len(problem) < 400 and "…" in problem, problem[:1000]


def test_short_values_are_still_quoted_whole(tmp_path: Path) -> None:
    text = edited("timezone: Europe/Berlin", "timezone: Europe/Berlinn")
    assert problems_of(tmp_path, text) == [f"example.yaml:{line_of(text, 'timezone:')}: timezone: 'Europe/Berlinn' is not a time zone; did you mean 'Europe/Berlin'?"]


@pytest.mark.timeout(10)
def test_a_file_over_one_megabyte_is_refused_before_parsing(tmp_path: Path) -> None:
    text = EXAMPLE.replace("  - brief: a creamy tomato soup with no cream\n", "  - brief: " + "x" * (10 * 1024 * 1024) + "\n")
    kilobytes = -(-len(text.encode("utf-8")) // 1024)
    assert kilobytes > 10_000
    assert problems_of(tmp_path, text) == [
        f"example.yaml:1: the file is {kilobytes:,} kB, larger than a calendar may be (1,024 kB); keep briefs short (2000 characters at most) and remove pasted text"
    ]


@pytest.mark.timeout(10)
@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_an_endless_file_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    (tmp_path / "zero.yaml").symlink_to("/dev/zero")
    with pytest.raises(CalendarError) as caught:
        load_calendar(tmp_path / "zero.yaml", base=tmp_path)
    [problem] = caught.value.problems
    assert problem.endswith("zero.yaml:1: the file is larger than a calendar may be (1,024 kB); keep briefs short (2000 characters at most) and remove pasted text")


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("label", "text", "expected"),
    [
        ("alias bomb", BILLION_LAUGHS, "example.yaml:4: alias *c repeats too much"),
        ("deep nesting", "extra: " + "[" * 100_000 + "]" * 100_000 + "\n", "example.yaml:1: lists and mappings are nested more than 20 levels deep"),
        ("huge file", "brief: " + "x" * (2 * 1024 * 1024) + "\n", "example.yaml:1: the file is 2,049 kB, larger than a calendar may be"),
        ("long value", EXAMPLE.replace("timezone: Europe/Berlin", "timezone: " + "Z" * 500_000), f"example.yaml:{line_of(EXAMPLE, 'timezone:')}: timezone: 'ZZZZ"),
    ],
)
def test_calendar_check_refuses_hostile_files_with_one_line_and_exit_2(tmp_path: Path, label: str, text: str, expected: str) -> None:
    line = _check(tmp_path, text)
    assert line.startswith(expected), (label, line[:1000])


# --------------------------------------------------------------------------- points and must_say (issue 20)


def test_the_example_carries_points_and_they_reach_the_brief() -> None:
    calendar = load_calendar(EXAMPLE_PATH).calendar
    soup = calendar.backlog[1]
    assert soup.points and "30 minutes" in soup.points[0] and soup.must_say == []
    assert calendar.entry_for(soup.key) is soup and calendar.entry_for("one_off:2026-12-24:1") is calendar.one_offs[0]
    assert calendar.entry_for("b:gone") is None and calendar.entry_for("one_off:2026-12-24:2") is None and calendar.entry_for(None) is None


def test_points_and_must_say_are_parsed(tmp_path: Path) -> None:
    text = edited("    brief: three lunches from one tray bake\n",
                  "    brief: three lunches from one tray bake\n    points: one tray, three boxes\n    must_say: [code SAVE20, link in bio]\n")
    item = load_text(tmp_path, text).calendar.backlog[2]
    assert item.points == ["one tray, three boxes"] and item.must_say == ["code SAVE20", "link in bio"]  # one string is a list of one


@pytest.mark.parametrize(
    ("new", "marker", "message"),
    [
        ("    points:\n      - fine point\n      - 7\n", "- 7", "backlog[2].points[1]: must be a valid string (got 7)"),
        ("    points: [ok point, 'no']\n", "[ok point", "backlog[2].points[1]: String should have at least 3 characters (got 'no')"),
        ("    must_say:\n      - see www.cook.net\n", "- see www", "backlog[2].must_say[0]: 'see www.cook.net' cannot be said as written"),
        ("    must_say:\n      - '#budget'\n", "- '#budget'", "backlog[2].must_say[0]: '#budget' cannot be said as written"),
        ("    must_sya: [x]\n", "must_sya:", "unknown key 'must_sya'; did you mean 'must_say'?"),
    ],
    ids=["number point", "short point", "link", "hashtag", "typo"],
)
def test_bad_points_and_must_say_are_one_message_on_their_line(tmp_path: Path, new: str, marker: str, message: str) -> None:
    text = edited("    brief: three lunches from one tray bake\n", "    brief: three lunches from one tray bake\n" + new)
    [problem] = problems_of(tmp_path, text)
    assert problem.startswith(f"example.yaml:{line_of(text, marker)}: {message}"), problem


def test_a_persona_diet_is_validated(tmp_path: Path) -> None:
    assert load_text(tmp_path, edited("  # diet: vegetarian\n", "  diet: vegetarian\n")).calendar.persona.diet == "vegetarian"
    text = edited("  # diet: vegetarian\n", "  diet: carnivore\n")
    [problem] = problems_of(tmp_path, text)
    assert problem.startswith(f"example.yaml:{line_of(text, 'diet: carnivore')}: persona.diet: must be 'vegetarian', 'vegan'"), problem


def test_libyaml_and_the_careful_loader_read_calendars_alike(tmp_path: Path) -> None:
    """Calendars are read with libyaml's parser (the scheduler reads thousands at start) and our bounded composer;
    only a file that fails goes through the pure-Python loader, for its error message. Both give the same data."""
    import yaml

    from agent.content_calendar import loader

    if yaml.__with_libyaml__:
        assert loader._FastCalendarLoader is not None
    text = (REPO / "calendar" / "example.yaml").read_text(encoding="utf-8")
    with_aliases = text.replace("  - days: [mon, thu]\n", "  - days: &twice [mon, thu]\n").replace(
        '    behind-the-scenes: ["#foodcreator", "#behindthescenes"]\n', "    behind-the-scenes: [\"#a\"]\n")
    for sample in (text, with_aliases):
        fast = loader._fast_load(sample)
        if loader._FastCalendarLoader is None:
            assert fast is None
            continue
        root, data, duplicates = fast
        careful_root, careful_data, problems = loader._careful_load(sample, "x.yaml")
        assert data == careful_data and duplicates == [] and problems == []
    # An alias bomb is refused by the fast path too (it composes with the same bounds), so the careful one reports it.
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(f"{c}: &{c} [{', '.join(['*' + p] * 10)}]\n" for p, c in zip("abcdefgh", "bcdefghi"))
    assert loader._fast_load(bomb) is None
