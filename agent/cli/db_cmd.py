"""``reeltwin db upgrade``: apply migrations (also done automatically on start)."""

from __future__ import annotations

import typer

from agent.cli.context import out

app = typer.Typer(no_args_is_help=True, help="Database maintenance.")


@app.command("upgrade")
def upgrade_command(ctx: typer.Context) -> None:
    """Apply every pending migration to the configured database."""
    from agent.db.engine import make_engine, upgrade
    from agent.settings import redact_url

    settings = ctx.obj.settings
    before, after = upgrade(make_engine(settings.database_url))
    where = redact_url(settings.database_url)
    if before == after:
        out.print(f"database {where} is up to date (schema {after})")
    else:
        out.print(f"database {where} upgraded from {before or 'empty'} to {after}")
