"""``reeltwin``: the entry point. User errors become one line on stderr and exit status ``EXIT_USER_ERROR`` (2)."""

from __future__ import annotations

import re

import typer
from typer.core import TyperGroup

from agent import __version__
from agent.cli.context import AppContext, BadReelId, exit_user_error, fail, parse_reel_id
from agent.errors import EXIT_USER_ERROR, AgentError, CalendarError

__all__ = ["EXIT_USER_ERROR", "ReelTwinGroup", "app", "main"]


class ReelTwinGroup(TyperGroup):
    """Turns the errors a user can fix into plain lines; anything else keeps its traceback."""

    def invoke(self, ctx: typer.Context):  # noqa: ANN201
        try:
            return super().invoke(ctx)
        except CalendarError as error:
            exit_user_error(*error.problems)
        except AgentError as error:
            fail(str(error) or type(error).__name__)
        except Exception as error:
            option = _negative_reel_id(error)
            if option is None:
                raise
            try:
                parse_reel_id(option)
            except BadReelId as bad:
                fail(str(bad))
            raise


def _negative_reel_id(error: Exception) -> str | None:
    """``reeltwin show -5``: click reads ``-5`` as an unknown option. For a command that takes reel ids, it is a bad id."""
    option, ctx = getattr(error, "option_name", None), getattr(error, "ctx", None)
    if type(error).__name__ != "NoSuchOption" or not isinstance(option, str) or not re.fullmatch(r"-[0-9]+", option) or ctx is None:
        return None
    return option if any(param.name in ("reel_id", "reel_ids") for param in ctx.command.params) else None


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
    """Every command module adds itself the same way: ``module.register(app)`` (see agent/cli/__init__.py)."""
    from agent.cli import avatar_cmd, calendar_cmd, config_cmd, db_cmd, demo_cmd, doctor_cmd, draft_cmd, init_cmd, insights_cmd, instagram_cmd, peak_cmd, publish_cmd, qa_cmd, queue_cmd, render_cmd, run_cmd, voice_cmd, web_cmd
    from agent.cli import worker_cmd
    from agent.cli import user_cmd
    from agent.cli import account_cmd
    from agent.cli import reel_cmd; reel_cmd.register(app)  # noqa: E702  `reeltwin reel audio ID FILE`

    for module in (init_cmd, doctor_cmd, config_cmd, db_cmd, calendar_cmd, instagram_cmd, voice_cmd, avatar_cmd,
                   draft_cmd, queue_cmd, render_cmd, qa_cmd, publish_cmd, peak_cmd, insights_cmd, run_cmd, demo_cmd, web_cmd, worker_cmd, user_cmd, account_cmd):
        module.register(app)


_register()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
