"""``reeltwin db upgrade``: apply migrations (also done automatically on start)."""

from __future__ import annotations

import typer

from agent.cli.context import out, print_json

app = typer.Typer(no_args_is_help=True, help="Database maintenance.")


@app.command("upgrade")
def upgrade_command(ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """Apply every pending migration to the configured database."""
    from agent.db.engine import make_engine, upgrade
    from agent.settings import redact_url

    settings = ctx.obj.settings
    before, after = upgrade(make_engine(settings.database_url))
    where = redact_url(settings.database_url)
    if as_json:
        print_json({"database": where, "before": before, "after": after, "upgraded": before != after})
    elif before == after:
        out.print(f"database {where} is up to date (schema {after})")
    else:
        out.print(f"database {where} upgraded from {before or 'empty'} to {after}")


def register(root: typer.Typer) -> None:
    """Add the `db` command group to the root command."""
    root.add_typer(app, name="db")
