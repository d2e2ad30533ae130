"""The `reeltwin` command line, run for real in projects made by `reeltwin init`.

Error paths always run as a subprocess (exit status, stdout and stderr checked
separately); a few happy paths use typer's CliRunner in-process for speed.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import sqlite3
import stat
import subprocess
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli_helpers import REELTWIN, clean_env, reeltwin  # noqa: E402
COMMANDS = ("init", "doctor", "config", "db", "calendar", "queue", "show", "approve", "reject", "edit", "retry")
ERROR_LINE = re.compile(r"^error: \S")


def reeltwin_many(cwd: Path, calls: dict[str, list[str]]) -> dict[str, subprocess.CompletedProcess[str]]:
    """Independent commands, run side by side to keep the suite fast."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {name: pool.submit(reeltwin, cwd, *args) for name, args in calls.items()}
        return {name: future.result() for name, future in futures.items()}


def described(result: subprocess.CompletedProcess[str]) -> str:
    return f"$ reeltwin {' '.join(result.args[len(REELTWIN):])}\nrc={result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"


def assert_ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, described(result)
    assert "Traceback" not in result.stdout + result.stderr, described(result)
    return result


def assert_user_error(result: subprocess.CompletedProcess[str], count: int = 1, *, json_asked: bool = False) -> list[str]:
    """Exit 2, no traceback, exactly ``count`` stderr lines, nothing on stdout when --json was asked for."""
    assert result.returncode == 2, described(result)
    assert "Traceback" not in result.stdout + result.stderr, described(result)
    lines = result.stderr.splitlines()
    assert len(lines) == count, described(result)
    if json_asked:
        assert result.stdout == "", described(result)
    return lines


def parse_json(result: subprocess.CompletedProcess[str]) -> dict:
    assert_ok(result)
    return json.loads(result.stdout)


def copy_project(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def db_path(project: Path) -> Path:
    return project / "data" / "reeltwin.db"


def query(project: Path, sql: str, *params: object) -> list[tuple]:
    connection = sqlite3.connect(db_path(project))
    try:
        return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


def snapshot(project: Path) -> tuple:
    """Everything an error must leave untouched."""
    return (
        query(project, "select id, status, version, script, feedback, approved_at from reel order by id"),
        query(project, "select count(*) from reelevent"),
        query(project, "select count(*) from scriptversion"),
    )


def statuses(project: Path) -> dict[int, str]:
    return dict(query(project, "select id, status from reel"))


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One `reeltwin init` per module; tests work on copies."""
    directory = tmp_path_factory.mktemp("template") / "project"
    result = subprocess.run([*REELTWIN, "init", str(directory)], env=clean_env(), capture_output=True, text=True, timeout=120)
    assert_ok(result)
    return directory


@pytest.fixture
def project(template: Path, tmp_path: Path) -> Path:
    return copy_project(template, tmp_path / "project")


def write_calendar(project: Path, handle: str = "alex") -> Path:
    text = (project / "calendar" / "example.yaml").read_text(encoding="utf-8")
    text = text.replace("handle: your.handle\n", f"handle: {handle}\n")
    path = project / "calendar" / f"{handle}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# --- help ---------------------------------------------------------------------------------------------


def test_help_lists_the_commands(tmp_path: Path) -> None:
    result = assert_ok(reeltwin(tmp_path, "--help"))
    assert "Usage: reeltwin" in result.stdout
    for command in COMMANDS:
        assert re.search(rf"^│ {command}\s", result.stdout, re.M), f"{command} missing from --help"
    assert result.stderr == ""
    assert list(tmp_path.iterdir()) == []  # --help reads and writes nothing


def test_no_arguments_prints_the_help(tmp_path: Path) -> None:
    result = reeltwin(tmp_path)
    assert result.returncode in (0, 2), described(result)
    assert "Traceback" not in result.stdout + result.stderr
    assert "Usage: reeltwin" in result.stdout
    for command in COMMANDS:
        assert command in result.stdout


# --- init ---------------------------------------------------------------------------------------------


def test_init_scaffolds_a_project_and_never_overwrites(tmp_path: Path) -> None:
    directory = tmp_path / "new" / "project"
    result = assert_ok(reeltwin(tmp_path, "init", str(directory)))
    assert "created" in result.stdout

    for relative in ("config/settings.toml", "config/settings.example.toml", "calendar/example.yaml", ".env"):
        assert (directory / relative).is_file(), relative
    assert (directory / "data").is_dir()
    dotenv = directory / ".env"
    assert stat.S_IMODE(dotenv.stat().st_mode) == 0o600
    secret = re.search(r"^REELTWIN_WEB__SECRET_KEY=(.*)$", dotenv.read_text(), re.M)
    assert secret and len(secret.group(1).strip()) >= 32

    settings = directory / "config" / "settings.toml"
    with settings.open("a", encoding="utf-8") as handle:
        handle.write("\n# my own edit\n")
    (directory / "data" / "keep.txt").write_text("mine")
    before = {path: path.read_bytes() for path in directory.rglob("*") if path.is_file()}

    again = assert_ok(reeltwin(tmp_path, "init", str(directory)))
    assert "created" not in again.stdout and "kept" in again.stdout
    after = {path: path.read_bytes() for path in directory.rglob("*") if path.is_file()}
    assert after == before
    assert stat.S_IMODE(dotenv.stat().st_mode) == 0o600


def test_init_into_a_file_is_one_error_line(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    result = reeltwin(tmp_path, "init", str(blocker))
    (line,) = assert_user_error(result)
    assert line.startswith(f"error: {blocker}: cannot write there")


# --- calendar check -----------------------------------------------------------------------------------

BROKEN_CALENDAR = """\
handle: x
timezone: Mars/Olympus
language: en
persona:
  name: X
  niche: testing
  audience: testers
  tone: dry
pillars:
  - name: recipes
    weight: 1
    description: food
cadence:
  - days: [mon, funday]
    time: "25:99"
"""
BROKEN_LINES = (2, 14, 15)


@pytest.fixture(scope="module")
def calendar_runs(template: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, subprocess.CompletedProcess[str]]:
    project = copy_project(template, tmp_path_factory.mktemp("calendars") / "project")
    write_calendar(project)
    (project / "broken").mkdir()
    (project / "broken" / "x.yaml").write_text(BROKEN_CALENDAR, encoding="utf-8")
    (project / "broken" / "y.yaml").write_text("handle: y\n  timezone: Europe/Berlin\nlanguage: en\n", encoding="utf-8")
    (project / "broken" / "empty.yaml").write_text("", encoding="utf-8")
    return reeltwin_many(project, {
        "valid": ["calendar", "check"],
        "valid json": ["calendar", "check", "--json"],
        "broken": ["calendar", "check", "broken/x.yaml", "calendar/alex.yaml"],
        "broken json": ["calendar", "check", "--json", "broken/x.yaml", "calendar/alex.yaml"],
        "bad yaml": ["calendar", "check", "broken/y.yaml"],
        "empty": ["calendar", "check", "broken/empty.yaml"],
        "missing": ["calendar", "check", "broken/nope.yaml"],
        "show broken json": ["calendar", "show", "--json", "broken/x.yaml"],
    })


def test_calendar_check_valid(calendar_runs: dict) -> None:
    result = assert_ok(calendar_runs["valid"])
    assert re.search(r"^ok  calendar/alex\.yaml: alex, Europe/Berlin, \d+ pillars, \d+ slots a week$", result.stdout, re.M), result.stdout
    assert re.search(r"^ok  calendar/example\.yaml: .*\(template: never planned\)$", result.stdout, re.M), result.stdout
    assert result.stderr == ""


def test_calendar_check_json_shape(calendar_runs: dict) -> None:
    payload = parse_json(calendar_runs["valid json"])
    assert payload["ok"] is True
    files = {entry["path"]: entry for entry in payload["files"]}
    assert set(files) == {"calendar/alex.yaml", "calendar/example.yaml"}
    alex = files["calendar/alex.yaml"]
    assert set(alex) == {"path", "ok", "handle", "template", "summary"}
    assert (alex["ok"], alex["handle"], alex["template"]) == (True, "alex", False)
    assert alex["summary"].startswith("alex, Europe/Berlin, ")
    assert files["calendar/example.yaml"]["template"] is True


def test_calendar_check_broken_is_one_line_per_problem(calendar_runs: dict) -> None:
    result = calendar_runs["broken"]
    lines = assert_user_error(result, count=len(BROKEN_LINES))
    assert [int(re.match(r"^broken/x\.yaml:(\d+): ", line).group(1)) for line in lines] == list(BROKEN_LINES)
    assert "timezone" in lines[0] and "'Mars/Olympus'" in lines[0]
    assert "'funday'" in lines[1]
    assert "'25:99'" in lines[2]
    assert "ok  calendar/alex.yaml" in result.stdout  # the good file is still reported


def test_calendar_check_broken_json_is_a_report(calendar_runs: dict) -> None:
    result = calendar_runs["broken json"]
    assert result.returncode == 2, described(result)
    assert "Traceback" not in result.stdout + result.stderr
    payload = json.loads(result.stdout)
    assert payload["ok"] is False
    broken, good = payload["files"]
    assert broken["path"] == "broken/x.yaml" and broken["ok"] is False
    assert [int(problem.split(":")[1]) for problem in broken["problems"]] == list(BROKEN_LINES)
    assert good["ok"] is True and good["handle"] == "alex"


@pytest.mark.parametrize(("run", "prefix"), [
    ("bad yaml", "broken/y.yaml:2: not valid YAML: mapping values are not allowed here"),
    ("empty", "broken/empty.yaml:1: the file is empty"),
    ("missing", "broken/nope.yaml: no such file"),
])
def test_calendar_check_unreadable_files(calendar_runs: dict, run: str, prefix: str) -> None:
    (line,) = assert_user_error(calendar_runs[run])
    assert line.startswith(prefix), line


def test_calendar_show_broken_json_prints_nothing_on_stdout(calendar_runs: dict) -> None:
    lines = assert_user_error(calendar_runs["show broken json"], count=len(BROKEN_LINES), json_asked=True)
    assert all(line.startswith("broken/x.yaml:") for line in lines)


# --- calendar show ------------------------------------------------------------------------------------


def test_calendar_show_previews_the_template_without_saving(project: Path) -> None:
    payload = parse_json(reeltwin(project, "calendar", "show", "--days", "14", "--json"))
    assert payload["days"] == 14
    (entry,) = payload["calendars"]
    assert entry["saved"] is False and entry["file"] == "calendar/example.yaml" and entry["handle"] == "your.handle"
    assert entry["slots"], "three slots a week: a 14-day preview is never empty"
    for slot in entry["slots"]:
        assert set(slot) == {"id", "local_time", "weekday", "utc", "kind", "peak", "pillar", "brief", "reel_status"}
        assert slot["id"].startswith("your.handle:") and slot["reel_status"] is None
        assert entry["from_utc"] <= slot["utc"] < entry["to_utc"]
    assert not db_path(project).exists()  # a preview opens no database


@dataclass
class QueueProject:
    path: Path
    plan: dict           # `calendar show --json` of the first run
    ids: list[int]       # three drafted reels, in slot order

    @property
    def url(self) -> str:
        return f"sqlite:///{db_path(self.path)}"


@pytest.fixture(scope="module")
def queue_base(template: Path, tmp_path_factory: pytest.TempPathFactory) -> QueueProject:
    """A project with a saved plan (from `calendar show`) and three drafted reels added through agent.approval.queue."""
    from sqlalchemy import select

    from agent.db.engine import make_engine, open_session
    from agent.db.models import Creator, Slot
    from agent.approval.queue import add_draft

    project = copy_project(template, tmp_path_factory.mktemp("queue") / "project")
    write_calendar(project)
    result = reeltwin(project, "calendar", "show", "--days", "14", "--json")
    plan = parse_json(result)  # this run migrates the new database: its log line must not reach stdout

    url = f"sqlite:///{db_path(project)}"
    session = open_session(url)
    try:
        creator = session.execute(select(Creator).where(Creator.handle == "alex")).scalar_one()
        slots = list(session.execute(select(Slot).where(Slot.creator_id == creator.id).order_by(Slot.scheduled_at)).scalars())
        assert len(slots) >= 4
        reels = [
            add_draft(session, creator, slot=slot, script=f"Script number {n}. Cheap dinner tonight.", hook=f"hook {n}",
                      caption=f"caption {n}", hashtags=["#budgetrecipes"])
            for n, slot in enumerate(slots[1:4], start=1)
        ]
        session.commit()
        ids = [reel.id for reel in reels]
    finally:
        session.close()
        make_engine(url).dispose()
    return QueueProject(project, plan, ids)


@pytest.fixture
def queue_project(queue_base: QueueProject, tmp_path: Path) -> QueueProject:
    return QueueProject(copy_project(queue_base.path, tmp_path / "project"), queue_base.plan, queue_base.ids)


def _window(entry: dict, start: str, end: str) -> list[str]:
    return [slot["id"] for slot in entry["slots"] if start <= slot["utc"] < end]


def test_calendar_show_gives_the_utc_date_not_only_the_time(queue_project: QueueProject) -> None:
    from datetime import datetime

    (entry,) = queue_project.plan["calendars"]
    result = reeltwin(queue_project.path, "calendar", "show", "--days", "14")
    assert result.returncode == 0, result.stderr
    for slot in entry["slots"]:
        utc, local = datetime.fromisoformat(slot["utc"]), datetime.fromisoformat(slot["local_time"])
        row = next(line for line in result.stdout.splitlines() if f"{local:%a %d %b %H:%M}" in line)
        assert f"{utc:%a %d %b %H:%M}" in row.split("│")[2], row


def test_calendar_show_saves_the_plan_with_stable_slot_ids(queue_project: QueueProject) -> None:
    (first,) = queue_project.plan["calendars"]
    assert first["saved"] is True and first["handle"] == "alex" and first["file"] == "calendar/alex.yaml"
    assert first["slots"]
    saved = {row[0] for row in query(queue_project.path, "select id from slot")}
    assert {slot["id"] for slot in first["slots"]} <= saved

    (second,) = parse_json(reeltwin(queue_project.path, "calendar", "show", "--days", "14", "--json"))["calendars"]
    assert second["saved"] is True
    # Compare the slots both runs can see (a few seconds passed between them).
    start, end = max(first["from_utc"], second["from_utc"]), min(first["to_utc"], second["to_utc"])
    assert _window(second, start, end) == _window(first, start, end)
    assert {row[0] for row in query(queue_project.path, "select id from slot")} == saved
    drafted_slots = {row[0] for row in query(queue_project.path, "select slot_id from reel")}
    assert {slot["id"] for slot in second["slots"] if slot["reel_status"] == "drafted"} == drafted_slots


# --- the queue: error paths (subprocess), run side by side on one project --------------------------------


@pytest.fixture(scope="module")
def queue_errors(queue_base: QueueProject, tmp_path_factory: pytest.TempPathFactory) -> dict:
    from agent.db.engine import make_engine, open_session
    from agent.approval.queue import reject

    project = QueueProject(copy_project(queue_base.path, tmp_path_factory.mktemp("errors") / "project"), queue_base.plan, queue_base.ids)
    first, second, third = project.ids
    session = open_session(project.url)
    try:
        reject(session, third, "too long", actor="test")
    finally:
        session.close()
        make_engine(project.url).dispose()
    (project.path / "empty.txt").write_text("  \n\n", encoding="utf-8")

    before = snapshot(project.path)
    runs = reeltwin_many(project.path, {
        "approve unknown": ["approve", str(first), str(second), "999"],
        "approve rejected": ["approve", str(first), str(third)],
        "show unknown": ["show", "999", "--json"],
        "bad status": ["queue", "--status", "bogus", "--json"],
        "edit missing file": ["edit", str(first), "--script-file", "nope.txt"],
        "edit empty file": ["edit", str(first), "--script-file", "empty.txt"],
        "edit unknown": ["edit", "999", "--script-file", "empty.txt"],
        "reject without feedback": ["reject", str(first)],
        "reject blank feedback": ["reject", str(first), "--feedback", "   "],
        "retry drafted": ["retry", str(first)],
        "retry rejected json": ["retry", str(third), "--json"],
        "retry unknown": ["retry", "999"],
        # Bad reel ids: one line naming the input, before anything is opened or changed, for every command taking ids.
        "approve not a number": ["approve", "one"],
        "approve one bad of two": ["approve", str(first), "2x", "--json"],
        "show not a number": ["show", "abc"],
        "show huge": ["show", "99999999999999999999", "--json"],
        "show zero": ["show", "0"],
        "show negative": ["show", "-5"],
        "reject not a number": ["reject", "abc", "--feedback", "shorter"],
        "edit huge": ["edit", str(2**31), "--script-file", "empty.txt"],
        "retry not a number": ["retry", "abc", "--json"],
        "publish not a number": ["publish", "1e3"],
        "render huge": ["render", "99999999999999999999"],
        "show largest": ["show", str(2**31 - 1)],   # the largest id reaches the database without an OverflowError
        "queue json": ["queue", "--json"],
        "show json": ["show", str(first), "--json"],
        "approve unknown json": ["approve", "--json", str(first), "999"],
        "reject unknown json": ["reject", "999", "--feedback", "shorter", "--json"],
        "edit missing file json": ["edit", str(first), "--script-file", "nope.txt", "--json"],
        "edit empty file json": ["edit", str(first), "--script-file", "empty.txt", "--json"],
    })
    return {"project": project, "before": before, "after": snapshot(project.path), "runs": runs}


def test_no_error_changes_anything(queue_errors: dict) -> None:
    assert queue_errors["after"] == queue_errors["before"]
    first, second, third = queue_errors["project"].ids
    assert statuses(queue_errors["project"].path) == {first: "drafted", second: "drafted", third: "rejected"}


ONE_LINE_ERRORS = {
    "approve unknown": ("error: reel 999 does not exist", False),
    "approve rejected": ("error: reel {third}: cannot go from 'rejected' to 'approved'", False),
    "show unknown": ("error: reel 999 does not exist", True),
    "bad status": ("error: --status 'bogus' is not a state; use one of drafted, approved,", True),
    "edit missing file": ("error: --script-file 'nope.txt': no such file", False),
    "edit empty file": ("error: the script is empty", False),
    "edit unknown": ("error: reel 999 does not exist", False),
    "reject blank feedback": ("error: --feedback is empty", False),
    # --json changes nothing about errors: one line on stderr, exit status 2, nothing on stdout.
    "approve unknown json": ("error: reel 999 does not exist", True),
    "reject unknown json": ("error: reel 999 does not exist", True),
    "edit missing file json": ("error: --script-file 'nope.txt': no such file", True),
    "edit empty file json": ("error: the script is empty", True),
    "retry drafted": ("error: reel {first}: is drafted, not failed, so there is nothing to retry; approve it first (`reeltwin approve {first}`)", False),
    "retry rejected json": ("error: reel {third}: is rejected, not failed, so there is nothing to retry; the next `reeltwin draft`", True),
    "retry unknown": ("error: reel 999 does not exist; list reels with `reeltwin queue`", False),
    "approve not a number": ("error: reel id 'one': not a number; list reels with `reeltwin queue`", False),
    "approve one bad of two": ("error: reel id '2x': not a number; list reels with `reeltwin queue`", True),
    "show not a number": ("error: reel id 'abc': not a number; list reels with `reeltwin queue`", False),
    "show huge": ("error: reel id '99999999999999999999': too large (reel ids go up to 2147483647); list reels with `reeltwin queue`", True),
    "show zero": ("error: reel id '0': reel ids start at 1; list reels with `reeltwin queue`", False),
    "show negative": ("error: reel id '-5': reel ids start at 1; list reels with `reeltwin queue`", False),
    "reject not a number": ("error: reel id 'abc': not a number; list reels with `reeltwin queue`", False),
    "edit huge": (f"error: reel id '{2**31}': too large (reel ids go up to {2**31 - 1}); list reels with `reeltwin queue`", False),
    "retry not a number": ("error: reel id 'abc': not a number; list reels with `reeltwin queue`", True),
    "publish not a number": ("error: reel id '1e3': not a number; list reels with `reeltwin queue`", False),
    "render huge": ("error: reel id '99999999999999999999': too large (reel ids go up to 2147483647); list reels with `reeltwin queue`", False),
    "show largest": ("error: reel 2147483647 does not exist; list reels with `reeltwin queue`", False),
}


@pytest.mark.parametrize("run", list(ONE_LINE_ERRORS))
def test_queue_errors_are_one_line(queue_errors: dict, run: str) -> None:
    prefix, json_asked = ONE_LINE_ERRORS[run]
    result = queue_errors["runs"][run]
    (line,) = assert_user_error(result, json_asked=json_asked)
    first, _second, third = queue_errors["project"].ids
    assert line.startswith(prefix.format(first=first, third=third)), line
    assert ERROR_LINE.match(line)
    assert result.stdout == ""  # nothing half-done was reported


@pytest.mark.parametrize(("run", "option"), [("reject without feedback", "Missing option '--feedback'")])
def test_usage_errors(queue_errors: dict, run: str, option: str) -> None:
    result = queue_errors["runs"][run]
    assert result.returncode == 2, described(result)
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stdout == ""
    assert "Usage: reeltwin" in result.stderr and option in result.stderr


def test_queue_json_in_another_process(queue_errors: dict) -> None:
    first, second, third = queue_errors["project"].ids
    payload = parse_json(queue_errors["runs"]["queue json"])
    reels = payload["reels"]
    assert [reel["id"] for reel in reels] == [first, second, third]  # waiting for approval first, then by slot
    assert [reel["status"] for reel in reels] == ["drafted", "drafted", "rejected"]
    reel = reels[0]
    assert reel["handle"] == "alex" and reel["hook"] == "hook 1" and reel["words"] == 6 and reel["version"] == 1
    assert reel["slot_id"].startswith("alex:") and reel["slot_local"].endswith(("+01:00", "+02:00"))
    assert reels[0]["slot_utc"] < reels[1]["slot_utc"]


def test_show_json_in_another_process(queue_errors: dict) -> None:
    first = queue_errors["project"].ids[0]
    payload = parse_json(queue_errors["runs"]["show json"])
    assert payload["id"] == first and payload["status"] == "drafted"
    assert payload["script"] == "Script number 1. Cheap dinner tonight."
    assert payload["caption"] == "caption 1" and payload["hashtags"] == ["#budgetrecipes"]
    assert [(v["version"], v["source"]) for v in payload["versions"]] == [(1, "llm")]
    assert [(e["from"], e["to"]) for e in payload["events"]] == [(None, "drafted")]


# --- the queue: happy paths, in-process ------------------------------------------------------------------


@pytest.fixture
def cli(queue_project: QueueProject, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., object]]:
    """Invoke the app in-process inside the queue project, with a clean environment."""
    from agent.cli.main import app
    from agent.db.engine import make_engine

    for name in list(os.environ):
        if name.upper().startswith("REELTWIN_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.chdir(queue_project.path)
    runner = CliRunner()
    root = logging.getLogger()
    level = root.level

    def invoke(*args: str):  # noqa: ANN202
        result = runner.invoke(app, list(args))
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        return result

    try:
        yield invoke
    finally:
        for handler in [h for h in root.handlers if getattr(h, "_reeltwin", False)]:
            root.removeHandler(handler)
        root.setLevel(level)
        make_engine(queue_project.url).dispose()


def show(cli: Callable[..., object], reel_id: int) -> dict:
    result = cli("show", str(reel_id), "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_queue_filters_by_status(cli, queue_project: QueueProject) -> None:  # noqa: ANN001
    first, second, third = queue_project.ids
    assert cli("approve", str(second)).exit_code == 0
    drafted = json.loads(cli("queue", "--status", "drafted", "--json").stdout)["reels"]
    assert [reel["id"] for reel in drafted] == [first, third]
    approved = json.loads(cli("queue", "-s", "APPROVED", "--json").stdout)["reels"]
    assert [reel["id"] for reel in approved] == [second]
    assert json.loads(cli("queue", "--status", "published", "--json").stdout) == {"reels": []}
    everything = json.loads(cli("queue", "--json").stdout)["reels"]
    assert [reel["id"] for reel in everything] == [first, third, second]  # drafted first


def test_queue_table(cli, queue_project: QueueProject) -> None:  # noqa: ANN001
    result = cli("queue")
    assert result.exit_code == 0, result.stderr
    for n in (1, 2, 3):
        assert f"hook {n}" in result.stdout
    assert "drafted" in result.stdout
    empty = cli("queue", "--status", "published")
    assert empty.exit_code == 0 and "the queue is empty (no published reels)" in empty.stdout


def test_approve_several(cli, queue_project: QueueProject) -> None:  # noqa: ANN001
    first, second, third = queue_project.ids
    events_before = query(queue_project.path, "select count(*) from reelevent")[0][0]
    result = cli("approve", str(first), str(second))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [f"reel {first}: approved", f"reel {second}: approved"]
    assert statuses(queue_project.path) == {first: "approved", second: "approved", third: "drafted"}
    assert query(queue_project.path, "select count(*) from reelevent")[0][0] == events_before + 2
    events = query(queue_project.path, "select reel_id, from_status, to_status, actor from reelevent where to_status = 'approved' order by reel_id")
    assert events == [(first, "drafted", "approved", "creator:cli"), (second, "drafted", "approved", "creator:cli")]
    assert query(queue_project.path, "select approved_by from reel where id = ?", first) == [("creator:cli",)]

    again = cli("approve", str(first))
    assert again.exit_code == 0 and again.stdout.strip() == f"reel {first}: already approved"
    assert query(queue_project.path, "select count(*) from reelevent")[0][0] == events_before + 2


def test_reject_stores_the_feedback(cli, queue_project: QueueProject) -> None:  # noqa: ANN001
    first = queue_project.ids[0]
    result = cli("reject", str(first), "--feedback", "shorter   hook,\nless jargon")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"reel {first}: rejected")
    payload = show(cli, first)
    assert payload["status"] == "rejected"
    assert payload["feedback"] == "shorter hook, less jargon"
    assert payload["events"][-1] | {"at": None} == {"at": None, "from": "drafted", "to": "rejected", "actor": "creator:cli", "reason": "shorter hook, less jargon"}


def test_edit_keeps_the_old_version_and_sends_an_approved_reel_back(cli, queue_project: QueueProject) -> None:  # noqa: ANN001
    first = queue_project.ids[0]
    assert cli("approve", str(first)).exit_code == 0
    new_script = queue_project.path / "new.txt"
    new_script.write_text("A brand new script.\r\nWith two lines.\n", encoding="utf-8")

    result = cli("edit", str(first), "--script-file", str(new_script))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"reel {first}: saved as version 2 (drafted)")
    payload = show(cli, first)
    assert payload["status"] == "drafted" and payload["version"] == 2
    assert payload["script"] == "A brand new script.\nWith two lines."
    assert [(v["version"], v["source"], v["script"]) for v in payload["versions"]] == [
        (1, "llm", "Script number 1. Cheap dinner tonight."),
        (2, "edit", "A brand new script.\nWith two lines."),
    ]
    assert [(e["from"], e["to"]) for e in payload["events"]] == [(None, "drafted"), ("drafted", "approved"), ("approved", "drafted")]
    assert payload["events"][-1]["reason"] == "edited; approve again"

    same = cli("edit", str(first), "--script-file", str(new_script))
    assert same.exit_code == 2 and same.stderr.startswith(f"error: reel {first}: the edit is identical to version 2")


def test_edit_from_stdin(cli, queue_project: QueueProject) -> None:  # noqa: ANN001
    from agent.cli.main import app

    first = queue_project.ids[0]
    result = CliRunner().invoke(app, ["edit", str(first), "--script-file", "-"], input="Words from stdin.\n")
    assert result.exit_code == 0, result.stderr
    assert show(cli, first)["script"] == "Words from stdin."


def test_show_table(cli, queue_project: QueueProject) -> None:  # noqa: ANN001
    first = queue_project.ids[0]
    result = cli("show", str(first))
    assert result.exit_code == 0, result.stderr
    assert f"reel {first} @alex" in result.stdout
    assert "Script number 1. Cheap dinner tonight." in result.stdout and "history" in result.stdout


def test_show_lists_the_versions_like_json_does(cli, queue_project: QueueProject) -> None:  # noqa: ANN001
    first = queue_project.ids[0]
    new_script = queue_project.path / "herbs.txt"
    new_script.write_text("Keep herbs in a glass of water in the fridge and they last two whole weeks, even basil.\n", encoding="utf-8")
    assert cli("edit", str(first), "--script-file", str(new_script)).exit_code == 0
    versions = show(cli, first)["versions"]
    assert [v["version"] for v in versions] == [1, 2]
    text = cli("show", str(first)).stdout
    assert "versions (* = current):" in text
    one = next(line for line in text.splitlines() if line.startswith("  v1 "))
    two = next(line for line in text.splitlines() if line.startswith("* v2 "))
    assert f"{versions[0]['source']} " in one and f"by {versions[0]['author']}" in one and versions[0]["at"][:16].replace("T", " ") + " UTC" in one
    assert one.endswith("Script number 1. Cheap dinner tonight.")
    assert f"{versions[1]['source']} " in two and f"by {versions[1]['author']}" in two
    assert two.endswith("Keep herbs in a glass of water in …")  # the first eight words


# --- --json on the queue's verbs: one JSON object on stdout, nothing else there ------------------------------


def test_approve_json(cli, queue_project: QueueProject) -> None:  # noqa: ANN001
    first, second, third = queue_project.ids
    result = cli("approve", "--json", str(first), str(second))
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"approved": [first, second], "already_approved": []}
    assert statuses(queue_project.path) == {first: "approved", second: "approved", third: "drafted"}

    again = cli("approve", str(first), str(third), "--json")
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout) == {"approved": [third], "already_approved": [first]}


def test_reject_json(cli, queue_project: QueueProject) -> None:  # noqa: ANN001
    first = queue_project.ids[0]
    result = cli("reject", str(first), "--feedback", "shorter   hook", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"id": first, "status": "rejected", "version": 1, "feedback": "shorter hook"}
    assert statuses(queue_project.path)[first] == "rejected"


def test_edit_json(cli, queue_project: QueueProject) -> None:  # noqa: ANN001
    first = queue_project.ids[0]
    assert cli("approve", str(first)).exit_code == 0
    new_script = queue_project.path / "new.txt"
    new_script.write_text("A brand new script.\n", encoding="utf-8")
    result = cli("edit", str(first), "--script-file", str(new_script), "--json")
    assert result.exit_code == 0, result.stderr
    # A new script leaves the fields written for the old one stale (the seeded reel has no on-screen title: nothing to mark there).
    assert json.loads(result.stdout) == {"id": first, "version": 2, "status": "drafted", "warnings": [], "stale_fields": ["hook", "caption", "hashtags"]}
    assert show(cli, first)["script"] == "A brand new script."

    long_script = queue_project.path / "long.txt"
    long_script.write_text("word " * 400, encoding="utf-8")
    longer = cli("edit", str(first), "--script-file", str(long_script), "--json")
    assert longer.exit_code == 0, longer.stderr
    payload = json.loads(longer.stdout)  # the warning is in the object, not printed around it
    assert (payload["version"], payload["status"]) == (3, "drafted")
    assert len(payload["warnings"]) == 1 and "400 words" in payload["warnings"][0]


def test_a_new_script_marks_the_old_fields_stale_until_edited_or_kept(cli, queue_project: QueueProject) -> None:  # noqa: ANN001
    first, second, _third = queue_project.ids
    new_script = queue_project.path / "herbs.txt"
    new_script.write_text("Keep herbs in a glass of water in the fridge. They last two weeks.\n", encoding="utf-8")
    assert cli("edit", str(first), "--script-file", str(new_script)).exit_code == 0
    assert show(cli, first)["stale_fields"] == ["hook", "caption", "hashtags"]
    table = cli("show", str(first)).stdout
    assert "hook: hook 1 (stale)" in table and "caption: caption 1 (stale)" in table and "stale: hook, caption, hashtags were written" in table

    # The real command refuses to approve: one line, exit 2, naming both ways out; nothing changes.
    before = snapshot(queue_project.path)
    (line,) = assert_user_error(reeltwin(queue_project.path, "approve", str(second), str(first)))
    assert line.startswith(f"error: reel {first}: hook, caption, hashtags still describe the earlier script")
    assert f"reeltwin edit {first}" in line and "--keep-stale" in line
    assert snapshot(queue_project.path) == before

    # Every field can be edited; a field edited itself is no longer stale.
    caption = queue_project.path / "caption.txt"
    caption.write_text("Herbs that last two weeks.\nSave this for your next shop.\n", encoding="utf-8")
    result = cli("edit", str(first), "--caption-file", str(caption), "--title", "Herbs for two weeks", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["stale_fields"] == ["hook", "hashtags"]
    assert cli("edit", str(first), "--hook", "Your herbs die too fast.", "--hashtags", "#herbs, kitchenhacks").exit_code == 0
    payload = show(cli, first)
    assert payload["stale_fields"] == []
    assert (payload["hook"], payload["on_screen_title"], payload["caption"], payload["hashtags"]) == (
        "Your herbs die too fast.", "Herbs for two weeks", "Herbs that last two weeks.\nSave this for your next shop.", ["#herbs", "#kitchenhacks"])
    assert payload["script"].startswith("Keep herbs")  # the field edits did not touch the script
    assert "stale" not in cli("show", str(first)).stdout

    # --keep-stale approves anyway, and the history says what was kept.
    assert cli("edit", str(second), "--script-file", str(new_script)).exit_code == 0
    kept = cli("approve", str(second), "--keep-stale")
    assert kept.exit_code == 0, kept.stderr
    payload = show(cli, second)
    assert payload["status"] == "approved" and payload["stale_fields"] == []
    assert payload["events"][-1]["reason"] == "approved; kept hook, caption, hashtags from the earlier script"

    both = reeltwin(queue_project.path, "edit", str(first), "--caption", "x", "--caption-file", str(caption))
    (line,) = assert_user_error(both)
    assert line == "error: --caption and --caption-file both given; pass one of them"


def fail_reel(project: Path, reel_id: int, stage: str) -> None:
    """Put a reel into ``failed`` the way a crashed stage leaves it (no command gets it there by itself)."""
    connection = sqlite3.connect(db_path(project))
    try:
        connection.execute("update reel set status = 'failed', failed_stage = ?, last_error = ?, attempts = 3 where id = ?",
                           (stage, f"{stage} crashed: out of disk", reel_id))
        connection.commit()
    finally:
        connection.close()


@pytest.mark.parametrize(("stage", "expected", "next_step"), [("render", "approved", "reeltwin render"), ("publish", "rendered", "reeltwin publish")])
def test_retry_sends_a_failed_reel_back_to_the_step_that_failed(cli, queue_project: QueueProject, stage: str, expected: str,  # noqa: ANN001
                                                                 next_step: str) -> None:
    first, second, third = queue_project.ids
    fail_reel(queue_project.path, first, stage)
    events_before = len(show(cli, first)["events"])

    result = cli("retry", str(first))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"reel {first}: {expected} again; `reeltwin run` retries it, or `{next_step} {first}`"), result.stdout
    payload = show(cli, first)
    assert payload["status"] == expected and len(payload["events"]) == events_before + 1
    assert payload["events"][-1] | {"at": None} == {"at": None, "from": "failed", "to": expected, "actor": "creator:cli",
                                                     "reason": f"retry after: {stage} crashed: out of disk"}
    assert statuses(queue_project.path) == {first: expected, second: "drafted", third: "drafted"}

    # Retrying again: the reel is no longer failed. One line naming its state and what to do; nothing changes.
    before = snapshot(queue_project.path)
    again = cli("retry", str(first))
    assert again.exit_code == 2 and again.stdout == ""
    (line,) = again.stderr.splitlines()
    assert line.startswith(f"error: reel {first}: is {expected}, not failed, so there is nothing to retry; ") and f"`{next_step} {first}`" in line, line
    assert snapshot(queue_project.path) == before


def test_retry_json(cli, queue_project: QueueProject) -> None:  # noqa: ANN001
    first = queue_project.ids[0]
    fail_reel(queue_project.path, first, "publish")
    result = cli("retry", str(first), "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"id": first, "status": "rendered", "attempts": 3, "last_error": "publish crashed: out of disk"}
    assert statuses(queue_project.path)[first] == "rendered"

    refused = cli("retry", str(first), "--json")
    assert refused.exit_code == 2 and refused.stdout == ""
    (line,) = refused.stderr.splitlines()
    assert line.startswith(f"error: reel {first}: is rendered, not failed")


def test_retry_is_the_web_retry(cli, queue_project: QueueProject, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """One function, one set of rules: the CLI calls agent.approval.queue.retry, as the web's Retry button does."""
    import agent.approval.queue
    import agent.web.routes.reels

    calls = []
    real = agent.approval.queue.retry

    def spy(session, reel_id, *, actor):  # noqa: ANN001, ANN202
        calls.append((reel_id, actor))
        return real(session, reel_id, actor=actor)

    monkeypatch.setattr(agent.approval.queue, "retry", spy)
    assert agent.web.routes.reels.retry is real
    first = queue_project.ids[0]
    fail_reel(queue_project.path, first, "render")
    assert cli("retry", str(first)).exit_code == 0
    assert calls == [(first, "creator:cli")]


@pytest.mark.parametrize(("text", "expected"), [("1", 1), (" 42 ", 42), ("007", 7), (str(2**31 - 1), 2**31 - 1)])
def test_reel_ids_in_range_parse(text: str, expected: int) -> None:
    from agent.cli.context import parse_reel_id

    assert parse_reel_id(text) == expected


@pytest.mark.parametrize(("text", "problem"), [
    ("abc", "not a number"), ("", "not a number"), ("1.5", "not a number"), ("1_000", "not a number"), ("٣", "not a number"),
    ("0", "reel ids start at 1"), ("-3", "reel ids start at 1"), (str(2**31), "too large"), ("9" * 40, "too large"),
])
def test_bad_reel_ids_are_one_user_error(text: str, problem: str) -> None:
    from agent.cli.context import BadReelId, parse_reel_id
    from agent.errors import AgentError

    with pytest.raises(BadReelId) as raised:
        parse_reel_id(text)
    message = str(raised.value)
    assert isinstance(raised.value, AgentError) and not isinstance(raised.value, ValueError)  # a ValueError would become typer's usage box
    assert message.startswith(f"reel id {text!r}: {problem}") and message.endswith("; list reels with `reeltwin queue`") and "\n" not in message


def test_password_json(cli, queue_project: QueueProject) -> None:  # noqa: ANN001
    from agent.cli.main import app

    result = CliRunner().invoke(app, ["password", "--password-stdin", "--json"], input="correct horse battery\n")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"username": "creator", "password_set": True, "created": True}
    again = CliRunner().invoke(app, ["password", "--password-stdin", "--json"], input="another one entirely\n")
    assert json.loads(again.stdout) == {"username": "creator", "password_set": True, "created": False}
    assert query(queue_project.path, "select username from webaccount") == [("creator",)]


def test_user_errors_exit_with_the_one_constant(cli, queue_project: QueueProject) -> None:  # noqa: ANN001
    import agent.cli.main
    from agent.errors import EXIT_USER_ERROR

    assert EXIT_USER_ERROR == 2 and agent.cli.main.EXIT_USER_ERROR is EXIT_USER_ERROR
    for args in (["approve", "999"], ["approve", "999", "--json"], ["show", "999", "--json"]):
        result = cli(*args)
        assert result.exit_code == EXIT_USER_ERROR, args
        (line,) = result.stderr.splitlines()
        assert line.startswith("error: reel 999 does not exist") and result.stdout == "", args


def test_fail_prints_one_error_line_per_line_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    import typer

    from agent.cli.context import exit_user_error, fail
    from agent.errors import EXIT_USER_ERROR

    with pytest.raises(typer.Exit) as raised:
        fail("photo 'me.png': 2 faces found; crop to one face")
    assert raised.value.exit_code == EXIT_USER_ERROR
    assert capsys.readouterr() == ("", "error: photo 'me.png': 2 faces found; crop to one face\n")
    with pytest.raises(typer.Exit) as raised:
        exit_user_error()  # after a --json report: exit status only
    assert raised.value.exit_code == EXIT_USER_ERROR
    assert capsys.readouterr() == ("", "")


def test_no_other_spelling_of_exit_status_2() -> None:
    cli_dir = Path(__file__).resolve().parents[1] / "agent" / "cli"
    spelled = [f"{path.name}:{number}: {line.strip()}" for path in sorted(cli_dir.glob("*.py"))
               for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
               if re.search(r"Exit\(\s*2\s*\)|exit\(\s*2\s*\)|code\s*=\s*2\b|= 2$", line)]
    assert spelled == []


def test_every_command_module_registers_the_same_way() -> None:
    import importlib

    cli_dir = Path(__file__).resolve().parents[1] / "agent" / "cli"
    for path in sorted(cli_dir.glob("*_cmd.py")):
        module = importlib.import_module(f"agent.cli.{path.stem}")
        assert callable(getattr(module, "register", None)), f"{path.name} has no register(root)"
        assert "def register(app" not in path.read_text(encoding="utf-8"), f"{path.name} defines its commands inside register()"


# Commands that report nothing a script could read: they serve until stopped.
NO_REPORT = {"web", "worker"}   # long-running servers: they report through their logs, not a JSON document


def test_every_reporting_command_takes_json() -> None:
    import typer.main

    from agent.cli.main import app

    def walk(command, path):  # noqa: ANN001, ANN202
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                yield from walk(sub, [*path, name])
        else:
            yield " ".join(path), command

    missing = [name for name, command in walk(typer.main.get_command(app), [])
               if name not in NO_REPORT and not any("--json" in param.opts for param in command.params)]
    assert missing == []


# --- --json on init, db upgrade and instagram login (subprocess) -------------------------------------------


def test_init_json(tmp_path: Path) -> None:
    directory = tmp_path / "fresh"
    payload = parse_json(reeltwin(tmp_path, "init", str(directory), "--json"))
    assert payload["project"] == str(directory.resolve())
    files = {entry["path"]: entry for entry in payload["files"]}
    assert {"config/settings.toml", "calendar/example.yaml", ".env", "data/"} <= set(files)
    assert {entry["result"] for entry in payload["files"]} == {"created"}
    assert files[".env"]["detail"].startswith("created (with a fresh web secret")

    again = parse_json(reeltwin(tmp_path, "init", str(directory), "--json"))
    assert {entry["result"] for entry in again["files"]} == {"kept"}
    assert [entry["path"] for entry in again["files"]] == [entry["path"] for entry in payload["files"]]


def test_init_json_error_prints_nothing_on_stdout(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    (line,) = assert_user_error(reeltwin(tmp_path, "init", str(blocker), "--json"), json_asked=True)
    assert line.startswith(f"error: {blocker}: cannot write there")


def test_db_upgrade_json(project: Path) -> None:
    first = parse_json(reeltwin(project, "db", "upgrade", "--json"))
    assert first["upgraded"] is True and first["before"] is None and first["after"]
    assert re.fullmatch(r"sqlite:///\S+reeltwin\.db", first["database"])
    second = parse_json(reeltwin(project, "db", "upgrade", "--json"))
    assert second == first | {"before": first["after"], "upgraded": False}


def test_instagram_login_json_error_prints_nothing_on_stdout(project: Path) -> None:
    result = reeltwin(project, "instagram", "login", "--json", "--password-stdin")
    (line,) = assert_user_error(result, json_asked=True)
    assert line.startswith("error: no Instagram username: pass --username")


# --- doctor and db ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def doctor_runs(template: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    project = copy_project(template, tmp_path_factory.mktemp("doctor") / "project")
    with ThreadPoolExecutor(max_workers=2) as pool:
        fresh = pool.submit(reeltwin, project, "doctor", "--json")
        graph = pool.submit(reeltwin, project, "doctor", "--json", REELTWIN_PUBLISHING__BACKEND="graph")
        return {"project": project, "fresh": fresh.result(), "graph": graph.result()}


def _checks(result: subprocess.CompletedProcess[str]) -> dict[str, dict]:
    assert "Traceback" not in result.stdout + result.stderr, described(result)
    return {check["name"]: check for check in json.loads(result.stdout)["checks"]}


def test_doctor_on_a_fresh_project(doctor_runs: dict) -> None:
    result = doctor_runs["fresh"]
    checks = _checks(result)
    for name in ("python", "settings", "database", "drafting credentials", "instagram credentials"):
        assert checks[name]["status"] == "ok", checks[name]
    assert "outbox" in checks["instagram credentials"]["detail"]
    assert checks["drafting credentials"]["detail"] == "provider embedded"
    assert checks["web secret"]["status"] == "ok"
    assert checks["calendars"]["status"] == "warn" and checks["calendars"]["required"] is False
    missing = [name for name, check in checks.items() if check["status"] == "missing" and check["required"]]
    if shutil.which("ffmpeg") is None and checks["ffmpeg"]["status"] == "missing":
        assert missing == ["ffmpeg"]  # the one thing a bare machine may lack
        return
    assert missing == []
    assert result.returncode == 0, described(result)
    assert json.loads(result.stdout)["ok"] is True


def test_doctor_on_a_fresh_project_says_there_is_no_login_and_no_creator(doctor_runs: dict) -> None:
    checks = _checks(doctor_runs["fresh"])
    assert checks["web password"]["status"] == "warn" and checks["web password"]["fix"] == "run `reeltwin password`"
    assert checks["creators"]["status"] == "warn" and checks["creators"]["required"] is False


def test_doctor_names_the_web_password_and_each_creators_avatar_and_voice(queue_project: QueueProject) -> None:
    checks = _checks(reeltwin(queue_project.path, "doctor", "--json"))
    assert checks["web password"]["status"] == "warn" and "not set" in checks["web password"]["detail"]
    avatar, voice = checks["@alex avatar"], checks["@alex voice"]
    assert avatar["status"] == "warn" and avatar["required"] is False and "no avatar enrolled" in avatar["detail"]
    assert avatar["fix"] == "reeltwin avatar enroll PHOTO --name alex --consent"
    assert voice["status"] == "warn" and "bundled voice" in voice["detail"] and voice["fix"] == "reeltwin voice enroll SAMPLE --name alex --consent"

    password = subprocess.run([*REELTWIN, "password", "--password-stdin"], cwd=queue_project.path, env=clean_env(), input="correct horse battery\n",
                              capture_output=True, text=True, timeout=120)
    assert password.returncode == 0, password.stderr
    (creator_id,) = query(queue_project.path, "select id from creator where handle = 'alex'")[0]
    connection = sqlite3.connect(db_path(queue_project.path))
    with connection:  # an enrolled avatar and voice as the rows say (enrolling for real needs the face and voice models)
        connection.execute("insert into avatar (name, creator_id, photo_path, photo_sha256, kind, is_default, consent_at, consent_by, consent_text,"
                           " analysis, created_at) values ('alex-avatar', ?, 'x', 'x', 'photo', 0, '2026-01-01 00:00:00', 'alex', 'yes', '{}',"
                           " '2026-01-01 00:00:00')", (creator_id,))
        connection.execute("insert into voiceprofile (name, creator_id, sample_path, sample_sha256, consent_at, consent_by, consent_text, backend,"
                           " artifacts, stats, created_at) values ('alex-voice', ?, 'x', 'x', '2026-01-01 00:00:00', 'alex', 'yes', 'piper-world',"
                           " '{}', '{}', '2026-01-01 00:00:00')", (creator_id,))
    connection.close()
    result = reeltwin(queue_project.path, "doctor")
    checks = _checks(reeltwin(queue_project.path, "doctor", "--json"))
    assert checks["web password"] == {**checks["web password"], "status": "ok", "detail": "set"}
    assert (checks["@alex avatar"]["status"], checks["@alex avatar"]["detail"]) == ("ok", "alex-avatar (photo)")
    assert (checks["@alex voice"]["status"], checks["@alex voice"]["detail"]) == ("ok", "alex-voice (piper-world)")
    assert "web password" in result.stdout and "@alex avatar" in result.stdout and "@alex voice" in result.stdout


def test_doctor_flags_missing_instagram_credentials(doctor_runs: dict) -> None:
    result = doctor_runs["graph"]
    assert result.returncode == 2, described(result)
    payload = json.loads(result.stdout)
    assert payload["ok"] is False
    check = _checks(result)["instagram credentials"]
    assert check["status"] == "missing" and check["required"] is True
    assert check["detail"] == "graph: missing graph_access_token, graph_ig_user_id, media_base_url"


def test_db_upgrade_then_up_to_date(project: Path) -> None:
    first = assert_ok(reeltwin(project, "db", "upgrade"))
    assert re.search(r"^database sqlite:///\S+reeltwin\.db upgraded from empty to \w+$", first.stdout, re.M), first.stdout
    assert db_path(project).is_file()
    second = assert_ok(reeltwin(project, "db", "upgrade"))
    assert re.search(r"^database sqlite:///\S+reeltwin\.db is up to date \(schema \w+\)$", second.stdout, re.M), second.stdout
    assert second.stderr == ""
