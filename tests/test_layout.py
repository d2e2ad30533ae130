"""The layout rules of ARCHITECTURE.md, enforced."""

from __future__ import annotations

import ast
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def test_top_level_matches_the_design_card() -> None:
    for name in ("pyproject.toml", "agent", "render", "publishing", "calendar", "config", "tests", "Dockerfile", "README.md", "Makefile", ".ci/run", "bench"):
        assert (REPO / name).exists(), f"{name} is missing from the top level"


@pytest.mark.parametrize("folder", ["calendar", "config"])
def test_data_folders_hold_no_python(folder: str) -> None:
    python_files = [path for path in (REPO / folder).rglob("*") if path.suffix in (".py", ".pyc") or path.name == "__init__.py"]
    assert python_files == []


def test_import_calendar_is_the_standard_library() -> None:
    # Run from the repository root, where a `calendar` package would shadow the stdlib.
    code = "import calendar, http.cookiejar; print(calendar.__file__); print(calendar.monthrange(2026, 2)[1])"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    path, days = result.stdout.split()
    assert Path(path).resolve().parent == Path(sysconfig.get_paths()["stdlib"]).resolve()
    assert days == "28"


def _imports(package: str) -> list[tuple[str, int, str]]:
    found = []
    for path in sorted((REPO / package).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += [(str(path.relative_to(REPO)), node.lineno, alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.append((str(path.relative_to(REPO)), node.lineno, node.module))
    return found


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [("render", ("agent", "publishing")), ("publishing", ("agent", "render"))],
)
def test_libraries_do_not_import_the_application(package: str, forbidden: tuple[str, ...]) -> None:
    offending = [f"{file}:{line}: imports {module}" for file, line, module in _imports(package) if module.split(".")[0] in forbidden]
    assert offending == []


def test_import_scan_would_catch_a_violation(tmp_path: Path) -> None:
    # The rule above is only worth something if the scan sees imports at any depth.
    source = "def f():\n    from agent.settings import load_settings\n    import publishing.x\n"
    tree = ast.parse(source)
    modules = [n.module if isinstance(n, ast.ImportFrom) else n.names[0].name for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert {m.split(".")[0] for m in modules} == {"agent", "publishing"}


def test_help_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys; from agent.cli.main import app; "
        "heavy = [m for m in ('torch', 'TTS', 'whisperx', 'llama_cpp', 'mediapipe', 'moviepy', 'instagrapi', 'openai', 'sqlalchemy', 'alembic') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
