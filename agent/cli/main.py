"""``reeltwin``: the entry point. User errors become one line on stderr and exit status 2."""

from __future__ import annotations

import sys

import typer
from typer.core import TyperGroup

from agent import __version__
from agent.cli.context import AppContext
from agent.errors import AgentError, CalendarError

EXIT_USER_ERROR = 2


class ReelTwinGroup(TyperGroup):
    """Turns the errors a user can fix into plain lines; anything else keeps its traceback."""

    def invoke(self, ctx: typer.Context):  # noqa: ANN201
        try:
            return super().invoke(ctx)
        except CalendarError as error:
            sys.stderr.write("".join(f"{problem}\n" for problem in error.problems))
            ctx.exit(EXIT_USER_ERROR)
        except AgentError as error:
            lines = str(error).splitlines() or [type(error).__name__]
            sys.stderr.write("".join(f"error: {line}\n" for line in lines))
            ctx.exit(EXIT_USER_ERROR)


app = typer.Typer(
    cls=ReelTwinGroup,
    name="reeltwin",
    help="ReelTwin: your content calendar -> scripts -> your voice and face -> Instagram reels, hands-off.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"reeltwin {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """Settings come from config/settings.toml, .env and REELTWIN_* variables in the project folder (the current one, or $REELTWIN_HOME)."""
    ctx.obj = AppContext()
    ctx.call_on_close(ctx.obj.close)


def _register() -> None:
    from agent.cli import avatar_cmd, calendar_cmd, config_cmd, db_cmd, demo_cmd, doctor_cmd, draft_cmd, init_cmd, instagram_cmd, peak_cmd, publish_cmd, qa_cmd, queue_cmd, render_cmd, run_cmd, voice_cmd, web_cmd

    init_cmd.register(app)
    doctor_cmd.register(app)
    app.add_typer(config_cmd.app, name="config")
    app.add_typer(db_cmd.app, name="db")
    app.add_typer(calendar_cmd.app, name="calendar")
    app.add_typer(instagram_cmd.app, name="instagram")
    app.add_typer(voice_cmd.app, name="voice")
    app.add_typer(avatar_cmd.app, name="avatar")
    draft_cmd.register(app)
    queue_cmd.register(app)
    render_cmd.register(app)
    qa_cmd.register(app)
    publish_cmd.register(app)
    peak_cmd.register(app)
    run_cmd.register(app)
    demo_cmd.register(app)
    web_cmd.register(app)


_register()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
