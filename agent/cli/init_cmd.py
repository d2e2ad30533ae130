"""``reeltwin init [DIR]``: scaffold config/, calendar/, .env and data/ without overwriting anything."""

from __future__ import annotations

from pathlib import Path

import typer

from agent.cli.context import out, print_json


def init(
    directory: Path = typer.Argument(Path("."), help="Project folder (created if missing)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Scaffold a project: config/settings.toml, .env, calendar/example.yaml, data/. Never overwrites."""
    from agent.scaffold import scaffold

    results = scaffold(directory)
    if as_json:
        print_json({"project": str(directory.resolve()), "files": [
            {"path": path, "result": result.split()[0], "detail": result} for path, result in results
        ]})
        return
    for path, result in results:
        style = "green" if result.startswith("created") else "dim"
        out.print(f"[{style}]{result:>8}[/] {directory / path}")
    out.print("Next: copy calendar/example.yaml to calendar/<your handle>.yaml, edit it, then `reeltwin calendar check`.")


def register(root: typer.Typer) -> None:
    """Add `init` to the root command."""
    root.command("init")(init)
