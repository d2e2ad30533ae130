"""``reeltwin worker``: a Celery worker that renders and publishes what `reeltwin run` sends (``workers.backend = "celery"``)."""

from __future__ import annotations

import typer

from agent.cli.context import out
from agent.errors import AgentError


def parse_queues(value: str) -> list[str]:
    """``render,publish`` -> the queue names, each one ReelTwin has; a wrong one is one line naming the choices."""
    from agent.jobs.celery_app import QUEUES

    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in QUEUES]
    if unknown or not names:
        raise AgentError(f"--queues {value!r}: {'unknown queue ' + repr(unknown[0]) if unknown else 'no queue named'}; "
                         f"use a comma-separated list of {', '.join(QUEUES)}")
    return list(dict.fromkeys(names))


def worker(
    ctx: typer.Context,
    queues: str = typer.Option("render,publish", "--queues", "-Q",
                               help="Comma-separated queues to take work from: draft, render, publish. Only a worker that takes "
                                    "draft loads the drafting model (on its first draft), so render machines stay free of it."),
    concurrency: int = typer.Option(None, "--concurrency", "-c", min=1, max=256,
                                    help="Tasks at once (default: workers.concurrency). 1 runs them in this process; more fork a pool."),
    loglevel: str = typer.Option("INFO", "--loglevel", "-l", help="Celery's log level: DEBUG, INFO, WARNING, ERROR."),
) -> None:
    """Take drafting, render and publish work from the queues (Redis or RabbitMQ at workers.broker_url) until SIGTERM/Ctrl-C.

    Needs workers.backend = "celery" and database.url on PostgreSQL; run as many as you like, on any machine
    that reaches the database, the broker and the media."""
    import os
    import socket

    from agent.db.engine import make_engine
    from agent.jobs.celery_app import broker_display, check_broker, make_app, require_postgres
    from agent.jobs.render import import_extensions

    settings = ctx.obj.settings
    if settings.workers.backend != "celery":
        raise AgentError('workers.backend is "local": `reeltwin run` renders and publishes by itself; set workers.backend = "celery" '
                         "(and workers.broker_url) in config/settings.toml to hand that work to workers")
    require_postgres(settings)
    names = parse_queues(queues)
    import_extensions(settings)
    try:
        with make_engine(settings.database_url).connect():
            pass
    except Exception as error:  # the driver's own errors
        from agent.settings import redact_url

        raise AgentError(f"database.url {redact_url(settings.database_url)}: cannot connect ({str(error).splitlines()[0]}); "
                         "start PostgreSQL or fix database.url") from None
    make_engine(settings.database_url).dispose()   # a forked pool starts without the parent's connections
    from agent.storage import check_at_start

    check_at_start(settings)                        # the clips, voices and reels it renders and posts live there
    app = make_app(settings)
    check_broker(app, settings)
    count = concurrency or settings.workers.concurrency
    out.print(f"reeltwin worker: queues {', '.join(names)}, {count} at a time, broker {broker_display(settings)}")
    app.worker_main([
        "worker", f"--queues={','.join(names)}", f"--concurrency={count}", f"--pool={'solo' if count == 1 else 'prefork'}",
        f"--loglevel={loglevel.upper()}", f"--hostname=reeltwin-{os.getpid()}@{socket.gethostname()}",
        "--without-gossip", "--without-mingle",
    ])


def register(root: typer.Typer) -> None:
    """Add `worker` to the root command."""
    root.command("worker")(worker)
