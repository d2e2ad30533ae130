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


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph(packages: tuple[str, ...] = ("agent", "render", "publishing")) -> dict[str, set[str]]:
    """Module -> the modules of ours it imports, at module level or inside functions (``from pkg import mod`` counts as mod)."""
    modules = {_module_name(path): path for package in packages for path in sorted((REPO / package).rglob("*.py"))}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
            for target in targets:
                while target and target not in modules:   # `import a.b.c` of an attribute path: the deepest module
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan): each is an import circle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def test_no_import_circles() -> None:
    # Function-level imports count too: a circle hidden inside a function is still a circle in the design.
    assert import_cycles(import_graph()) == []


def test_cycle_finder_would_catch_a_circle() -> None:
    graph = {"a.x": {"a.y"}, "a.y": {"a.z"}, "a.z": {"a.x"}, "a.w": {"a.x"}}
    assert import_cycles(graph) == [["a.x", "a.y", "a.z"]]
    assert import_cycles({"a.x": {"a.y"}, "a.y": set()}) == []
