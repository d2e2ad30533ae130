"""Settings: precedence and provenance, secret redaction, and one clear line per configuration problem.

The CLI runs for real, as a subprocess, in a project made by `reeltwin init`,
with every REELTWIN_* variable of the test run removed from its environment.
"""

from __future__ import annotations

import io
import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from agent.logging_setup import REDACTED, RedactSecrets, configure_logging

from cli_helpers import REELTWIN, clean_env, reeltwin  # noqa: E402

API_KEY = "sk-live-0123456789abcdefXYZ"
GRAPH_TOKEN = "EAAGtoken0123456789secret"
DB_PASSWORD = "hunter2-db-pw"
PG_URL = f"postgresql+psycopg://bob:{DB_PASSWORD}@127.0.0.1:1/reeltwin"


def assert_user_error(result: subprocess.CompletedProcess[str], *prefixes: str, json_asked: bool = True) -> list[str]:
    """Exit 2, no traceback, exactly one stderr line per expected problem (any order), stdout empty for --json."""
    described = f"rc={result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.returncode == 2, described
    assert "Traceback" not in result.stdout + result.stderr, described
    lines = result.stderr.splitlines()
    assert len(lines) == len(prefixes), described
    for prefix in prefixes:
        assert sum(line.startswith(prefix) for line in lines) == 1, f"no single line starts with {prefix!r}\n{described}"
    if json_asked:
        assert result.stdout == "", described
    return lines


def config_json(result: subprocess.CompletedProcess[str]) -> dict:
    assert result.returncode == 0, f"rc={result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("template") / "project"
    result = subprocess.run([*REELTWIN, "init", str(directory)], env=clean_env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return directory


@pytest.fixture
def project(template: Path, tmp_path: Path) -> Path:
    directory = tmp_path / "project"
    shutil.copytree(template, directory)
    return directory


def edit_toml(project: Path, old: str, new: str) -> int:
    """Replace the first line equal to ``old`` in config/settings.toml; returns its 1-based line number."""
    path = project / "config" / "settings.toml"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    for number, line in enumerate(lines, start=1):
        if line.rstrip("\n") == old:
            lines[number - 1] = new + "\n"
            path.write_text("".join(lines), encoding="utf-8")
            return number
    raise AssertionError(f"{old!r} is not a line of {path}")


def append_dotenv(project: Path, *lines: str) -> None:
    with (project / ".env").open("a", encoding="utf-8") as handle:
        handle.write("".join(f"{line}\n" for line in lines))


# --- precedence and provenance -------------------------------------------------------------------


def test_file_then_dotenv_then_environment(project: Path) -> None:
    edit_toml(project, "temperature = 0.7", "temperature = 0.3")
    edit_toml(project, "max_retries = 3", "max_retries = 4")
    edit_toml(project, "lead_days = 7", "lead_days = 9")
    append_dotenv(project, "REELTWIN_DRAFTING__TEMPERATURE=0.4", "REELTWIN_DRAFTING__MAX_RETRIES=5")

    result = reeltwin(project, "config", "show", "--json", REELTWIN_DRAFTING__TEMPERATURE="0.5")
    payload = config_json(result)
    assert result.stderr == ""
    settings, sources = payload["settings"], payload["sources"]
    assert payload["project_dir"] == str(project.resolve())

    assert settings["drafting.temperature"] == 0.5
    assert sources["drafting.temperature"] == "environment (REELTWIN_DRAFTING__TEMPERATURE)"
    assert settings["drafting.max_retries"] == 5
    assert sources["drafting.max_retries"] == ".env"
    assert settings["drafting.lead_days"] == 9
    assert sources["drafting.lead_days"] == "config/settings.toml"
    assert settings["data_dir"] == str(project.resolve() / "data")
    assert sources["data_dir"] == "default"
    assert sources["drafting.api_key"] == "default" and settings["drafting.api_key"] is None
    # `reeltwin init` wrote the web secret into .env.
    assert sources["web.secret_key"] == ".env" and settings["web.secret_key"] == REDACTED
    assert set(settings) == set(sources)


def test_config_show_table_names_each_source(project: Path) -> None:
    edit_toml(project, "lead_days = 7", "lead_days = 9")
    append_dotenv(project, "REELTWIN_DRAFTING__MAX_RETRIES=5")
    result = reeltwin(project, "config", "show", REELTWIN_DRAFTING__TEMPERATURE="0.5")
    assert result.returncode == 0, result.stderr
    rows = {line.split()[1]: line for line in result.stdout.splitlines() if line.startswith("│")}
    assert "0.5" in rows["drafting.temperature"] and "environment (REELTWIN_DRAFTING__TEMPERATURE)" in rows["drafting.temperature"]
    assert "5" in rows["drafting.max_retries"] and ".env" in rows["drafting.max_retries"]
    assert "9" in rows["drafting.lead_days"] and "config/settings.toml" in rows["drafting.lead_days"]
    assert "default" in rows["data_dir"]


def test_reeltwin_home_picks_the_project(project: Path, tmp_path: Path) -> None:
    edit_toml(project, "lead_days = 7", "lead_days = 11")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    payload = config_json(reeltwin(elsewhere, "config", "show", "--json", REELTWIN_HOME=str(project)))
    assert payload["project_dir"] == str(project.resolve())
    assert payload["settings"]["drafting.lead_days"] == 11
    assert payload["settings"]["calendar_dir"] == str(project.resolve() / "calendar")


def test_other_tools_variables_in_dotenv_are_ignored(project: Path) -> None:
    append_dotenv(project, "OPENAI_API_KEY=sk-other-tool-key-123456", "DATABASE_URL=mysql://x:y@z/w", "HF_TOKEN=hf_abcdef")
    result = reeltwin(project, "config", "show", "--json")
    payload = config_json(result)
    assert result.stderr == ""
    assert payload["settings"]["drafting.api_key"] is None
    assert payload["settings"]["database.url"] is None
    assert "sk-other-tool-key" not in result.stdout


def test_empty_value_in_dotenv_means_unset(project: Path) -> None:
    append_dotenv(project, "REELTWIN_DRAFTING__API_KEY=", "REELTWIN_DRAFTING__BASE_URL=")
    payload = config_json(reeltwin(project, "config", "show", "--json"))
    assert payload["settings"]["drafting.api_key"] is None
    assert payload["settings"]["drafting.base_url"] is None


# --- secrets ----------------------------------------------------------------------------------------


@pytest.fixture
def secret_project(project: Path) -> Path:
    edit_toml(project, "[database]", f'[database]\nurl = "{PG_URL}"')
    append_dotenv(project, f"REELTWIN_DRAFTING__API_KEY={API_KEY}")
    return project


def _web_secret(project: Path) -> str:
    line = next(line for line in (project / ".env").read_text().splitlines() if line.startswith("REELTWIN_WEB__SECRET_KEY="))
    return line.split("=", 1)[1]


def _assert_no_secret(text: str, project: Path) -> None:
    for secret in (API_KEY, GRAPH_TOKEN, DB_PASSWORD, _web_secret(project)):
        assert secret not in text


def test_config_show_json_redacts_secrets(secret_project: Path) -> None:
    result = reeltwin(secret_project, "config", "show", "--json", REELTWIN_PUBLISHING__GRAPH_ACCESS_TOKEN=GRAPH_TOKEN)
    payload = config_json(result)
    _assert_no_secret(result.stdout + result.stderr, secret_project)
    settings, sources = payload["settings"], payload["sources"]
    assert settings["drafting.api_key"] == REDACTED and sources["drafting.api_key"] == ".env"
    assert settings["publishing.graph_access_token"] == REDACTED
    assert sources["publishing.graph_access_token"] == "environment (REELTWIN_PUBLISHING__GRAPH_ACCESS_TOKEN)"
    assert settings["database.url"] == "postgresql+psycopg://bob:***@127.0.0.1:1/reeltwin"
    assert sources["database.url"] == "config/settings.toml"
    assert settings["database.effective_url"] == "postgresql+psycopg://bob:***@127.0.0.1:1/reeltwin"
    assert settings["web.secret_key"] == REDACTED
    assert settings["publishing.instagrapi_password"] is None  # unset secrets stay empty, not "***"


def test_config_show_table_redacts_secrets(secret_project: Path) -> None:
    result = reeltwin(secret_project, "config", "show", REELTWIN_PUBLISHING__GRAPH_ACCESS_TOKEN=GRAPH_TOKEN)
    assert result.returncode == 0, result.stderr
    _assert_no_secret(result.stdout + result.stderr, secret_project)
    rows = {line.split()[1]: line for line in result.stdout.splitlines() if line.startswith("│")}
    for key in ("drafting.api_key", "publishing.graph_access_token", "web.secret_key"):
        assert f"│ {REDACTED} " in rows[key], rows[key]
    assert "bob:***@" in rows["database.url"]


LOGGING_SCRIPT = """
import logging
from agent.logging_setup import configure_logging
from agent.settings import load_settings

settings = load_settings().settings
configure_logging(settings.log_level, settings.secret_values())
log = logging.getLogger("reeltwin.test")
key = settings.drafting.api_key.get_secret_value()
token = settings.publishing.graph_access_token.get_secret_value()
log.warning("calling with key=%s token=%s", key, token)
log.info("connecting to " + settings.database_url)
log.debug("debug line with %(token)s", {"token": token})
try:
    raise RuntimeError(f"upstream refused access_token={token}")
except RuntimeError:
    log.exception("publish failed")
"""


def test_logs_redact_every_secret_and_go_to_stderr(secret_project: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", LOGGING_SCRIPT], cwd=secret_project, capture_output=True, text=True, timeout=120,
        env=clean_env(REELTWIN_PUBLISHING__GRAPH_ACCESS_TOKEN=GRAPH_TOKEN, REELTWIN_LOG_LEVEL="DEBUG"),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""  # logs never mix into a command's (JSON) output
    _assert_no_secret(result.stderr, secret_project)
    assert "calling with key=*** token=***" in result.stderr
    assert "bob:***@127.0.0.1" in result.stderr
    assert "debug line with ***" in result.stderr
    assert "RuntimeError: upstream refused access_token=***" in result.stderr


def test_database_error_redacts_the_password(secret_project: Path) -> None:
    result = reeltwin(secret_project, "db", "upgrade", REELTWIN_LOG_LEVEL="DEBUG")
    (line,) = assert_user_error(result, "error: database ", json_asked=False)
    assert "bob:***@" in line or "psycopg is not installed" in line
    _assert_no_secret(result.stdout + result.stderr, secret_project)


# --- one line per problem, naming the source and the dotted key -------------------------------------


def _case(toml: tuple[str, str] | None = None, dotenv: tuple[str, ...] = (), env: dict[str, str] | None = None, expect: tuple[str, ...] = ()):  # noqa: ANN202
    return {"toml": toml, "dotenv": dotenv, "env": env or {}, "expect": expect}


ERROR_CASES = {
    "out of range in the file": _case(
        toml=("temperature = 0.7", "temperature = 5"),
        expect=("error: config/settings.toml: drafting.temperature: Input should be less than or equal to 2 (got 5)",),
    ),
    "misspelled key with did-you-mean": _case(
        toml=("temperature = 0.7", "temprature = 0.5"),
        expect=("error: config/settings.toml: drafting.temprature: unknown setting; did you mean 'temperature'?",),
    ),
    "misspelled section with did-you-mean": _case(
        toml=("[drafting]", "[drafing]"),
        expect=("error: config/settings.toml: drafing: unknown setting; did you mean 'drafting'?",),
    ),
    "wrong type": _case(
        toml=("fps = 30", 'fps = "fast"'),
        expect=("error: config/settings.toml: avatar.fps: Input should be a valid integer",),
    ),
    "not one of the choices": _case(
        toml=('backend = "outbox"', 'backend = "tiktok"'),
        expect=("error: config/settings.toml: publishing.backend: Input should be 'outbox', 'graph' or 'instagrapi'",),
    ),
    "bad colour": _case(
        toml=('fill = "#FFFFFF"', 'fill = "white"'),
        expect=("error: config/settings.toml: captions.fill: 'white' is not a colour",),
    ),
    "misspelled variable with did-you-mean": _case(
        env={"REELTWIN_DRAFTING__TEMPRATURE": "0.5"},
        expect=("error: environment: REELTWIN_DRAFTING__TEMPRATURE: unknown setting; did you mean REELTWIN_DRAFTING__TEMPERATURE?",),
    ),
    "single underscore variable with did-you-mean": _case(
        env={"REELTWIN_DRAFTING_TEMPERATURE": "0.5"},
        expect=("error: environment: REELTWIN_DRAFTING_TEMPERATURE: unknown setting; did you mean REELTWIN_DRAFTING__TEMPERATURE?",),
    ),
    "out of range in a variable": _case(
        env={"REELTWIN_DRAFTING__TEMPERATURE": "9"},
        expect=("error: environment (REELTWIN_DRAFTING__TEMPERATURE): drafting.temperature: Input should be less than or equal to 2",),
    ),
    "misspelled key in .env": _case(
        dotenv=("REELTWIN_DRAFTING__TEMPRATURE=0.5",),
        expect=("error: .env: drafting.temprature: unknown setting; did you mean 'temperature'?",),
    ),
    "placeholder secret in .env": _case(
        dotenv=("REELTWIN_DRAFTING__API_KEY=changeme",),
        expect=("error: .env: drafting.api_key: is a placeholder, not a secret",),
    ),
    "placeholder secret in a variable": _case(
        env={"REELTWIN_PUBLISHING__GRAPH_ACCESS_TOKEN": "<your token>"},
        expect=("error: environment (REELTWIN_PUBLISHING__GRAPH_ACCESS_TOKEN): publishing.graph_access_token: is a placeholder",),
    ),
    "unsupported database": _case(
        env={"REELTWIN_DATABASE__URL": "mysql://root:pw@localhost/reeltwin"},
        expect=("error: environment (REELTWIN_DATABASE__URL): database.url: 'mysql' is not supported",),
    ),
    "two problems in two sources": _case(
        toml=("fps = 30", "fps = 0"),
        env={"REELTWIN_WEB__PORT": "70000"},
        expect=(
            "error: config/settings.toml: avatar.fps: Input should be greater than or equal to 12 (got 0)",
            "error: environment (REELTWIN_WEB__PORT): web.port: Input should be less than or equal to 65535",
        ),
    ),
}


@pytest.mark.parametrize("case", list(ERROR_CASES.values()), ids=list(ERROR_CASES))
def test_configuration_errors_are_one_line_each(project: Path, case: dict) -> None:
    if case["toml"]:
        edit_toml(project, *case["toml"])
    append_dotenv(project, *case["dotenv"])
    result = reeltwin(project, "config", "show", "--json", **case["env"])
    assert_user_error(result, *case["expect"])


def test_bad_toml_syntax_names_the_line(project: Path) -> None:
    number = edit_toml(project, "fps = 30", "fps = = 30")
    result = reeltwin(project, "config", "show", "--json")
    (line,) = assert_user_error(result, f"error: config/settings.toml:{number}: not valid TOML:")
    assert number > 1


def test_wrong_type_for_a_secret_does_not_echo_it(project: Path) -> None:
    edit_toml(project, "[drafting]", "[drafting]\napi_key = 918273645546")
    result = reeltwin(project, "config", "show", "--json")
    (line,) = assert_user_error(result, "error: config/settings.toml: drafting.api_key:")
    assert "918273645546" not in line and "'***'" in line


def test_settings_errors_reach_every_command(project: Path) -> None:
    edit_toml(project, "temperature = 0.7", "temperature = 5")
    result = reeltwin(project, "calendar", "check", "--json")
    assert_user_error(result, "error: config/settings.toml: drafting.temperature:")


# --- the log redaction filter ------------------------------------------------------------------------


def _record(msg: object, args: object = None, exc_info: object = None) -> logging.LogRecord:
    return logging.LogRecord("reeltwin.test", logging.INFO, __file__, 1, msg, args, exc_info)  # type: ignore[arg-type]


def test_redacts_the_message_and_its_args() -> None:
    record = _record("key=%s token=%s user=%s", (API_KEY, GRAPH_TOKEN, "alex"))
    assert RedactSecrets([API_KEY, GRAPH_TOKEN]).filter(record) is True
    assert record.getMessage() == "key=*** token=*** user=alex"
    assert record.args is None


def test_redacts_mapping_args_and_secrets_inside_words() -> None:
    record = _record("url=%(url)s", ({"url": f"https://graph.example/v21.0/me?access_token={GRAPH_TOKEN}&x=1"},))
    RedactSecrets([GRAPH_TOKEN]).filter(record)
    assert record.getMessage() == "url=https://graph.example/v21.0/me?access_token=***&x=1"


def test_longest_secret_is_hidden_whole() -> None:
    record = _record("pw=%s", ("abcd1234efgh",))
    RedactSecrets(["abcd", "abcd1234efgh"]).filter(record)
    assert record.getMessage() == "pw=***"


def test_short_and_empty_secrets_are_ignored() -> None:
    redactor = RedactSecrets(["", "ab", "abc"])
    assert redactor.secrets == []
    record = _record("ab abc %s", ("x",))
    redactor.filter(record)
    assert record.getMessage() == "ab abc x"
    assert record.args == ("x",)  # untouched: nothing to redact


def test_non_string_messages_are_redacted_too() -> None:
    record = _record(RuntimeError(f"denied for {API_KEY}"))
    RedactSecrets([API_KEY]).filter(record)
    assert record.getMessage() == "denied for ***"


def test_bad_format_arguments_neither_raise_nor_leak() -> None:
    record = _record("two %s %s", (API_KEY,))
    assert RedactSecrets([API_KEY]).filter(record) is True
    assert API_KEY not in record.getMessage()


def test_tracebacks_are_redacted() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactSecrets([API_KEY]))
    log = logging.getLogger("reeltwin.test.traceback")
    log.addHandler(handler)
    log.propagate = False
    try:
        try:
            raise ValueError(f"bad key {API_KEY}")
        except ValueError:
            log.exception("drafting failed with %s", API_KEY)
    finally:
        log.removeHandler(handler)
        log.propagate = True
    text = stream.getvalue()
    assert API_KEY not in text
    assert "drafting failed with ***" in text
    assert "ValueError: bad key ***" in text


def test_configure_logging_writes_redacted_lines_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    level = root.level
    try:
        configure_logging("INFO", [API_KEY])
        configure_logging("INFO", [API_KEY])  # idempotent: one handler, one line per record
        logging.getLogger("reeltwin.test.configure").warning("using %s", API_KEY)
        captured = capsys.readouterr()
    finally:
        for handler in [h for h in root.handlers if getattr(h, "_reeltwin", False)]:
            root.removeHandler(handler)
        root.setLevel(level)
    assert captured.out == ""
    assert API_KEY not in captured.err
    assert captured.err.count("using ***") == 1
