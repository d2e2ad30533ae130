"""``reeltwin run``: the hands-off service."""

from __future__ import annotations

import typer

from agent.cli.context import out, print_json


def run(
    ctx: typer.Context,
    once: bool = typer.Option(False, "--once", help="Run every sweep once and exit (for cron or a check)."),
    as_json: bool = typer.Option(False, "--json", help="With --once: print one JSON object."),
    web: bool = typer.Option(True, "--web/--no-web", help="Also serve the web approval queue (web.host:web.port)."),
) -> None:
    """Hands-off: plan slots, draft ahead, apply approval policies, publish due reels and serve the web UI, until SIGTERM/Ctrl-C."""
    from agent.scheduler.service import Service
    from agent.storage import check_at_start

    check_at_start(ctx.obj.settings)
    service = Service(ctx.obj.settings, ctx.obj.loaded.project_dir, serve_web=web and not once)
    if once:
        with service:  # closes the publisher
            results = service.run_once()
        if as_json:
            print_json({"sweeps": {result.name: result.summary for result in results}})
        else:
            for result in results:
                out.print(f"{result.name}: {result.summary}")
        return
    service.run_forever()


def register(root: typer.Typer) -> None:
    """Add `run` to the root command."""
    root.command("run")(run)
