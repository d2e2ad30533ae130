"""``reeltwin config show``: the effective settings and where each came from."""

from __future__ import annotations

import typer

from agent.cli.context import out, print_json

app = typer.Typer(no_args_is_help=True, help="Inspect the effective settings.")


@app.command("show")
def show(ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """Print every setting (secrets redacted) and its source: file, .env, environment or default."""
    from agent.settings import public_view

    loaded = ctx.obj.loaded
    rows = public_view(loaded)
    if as_json:
        print_json({
            "project_dir": str(loaded.project_dir),
            "settings": {key: value for key, value, _source in rows},
            "sources": {key: source for key, _value, source in rows},
        })
        return
    from rich.table import Table
    table = Table(title=f"settings of {loaded.project_dir}", title_justify="left")
    table.add_column("setting", style="cyan", no_wrap=True)
    table.add_column("value")
    table.add_column("from", style="dim")
    for key, value, source in rows:
        table.add_row(key, "" if value is None else str(value), source)
    out.print(table)


def register(root: typer.Typer) -> None:
    """Add the `config` command group to the root command."""
    root.add_typer(app, name="config")
