"""``reeltwin draft``: a script for every open slot ahead (or one ad-hoc topic)."""

from __future__ import annotations

import sys

import typer

from agent.cli.context import err, exit_user_error, out, print_json
from agent.errors import AgentError


def draft(
    ctx: typer.Context,
    days: int = typer.Option(None, "--days", min=1, max=60, help="How far ahead (default: drafting.lead_days)."),
    topic: str = typer.Option(None, "--topic", help="Draft one ad-hoc reel about this instead."),
    handle: str = typer.Option(None, "--handle", help="Only this creator (needed with --topic when there are several)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Draft every open slot in the next N days that has no live draft (run twice, draft once); redraft rejected reels from their feedback."""
    from dataclasses import asdict

    from agent.content_calendar.loader import calendar_files, display_path, load_all
    from agent.db.models import utcnow
    from agent.drafting.service import WorkItem, draft_all, find_work, open_provider

    settings = ctx.obj.settings
    session = ctx.obj.session
    loaded = load_all(calendar_files(settings.calendar_dir, include_templates=False))
    if handle:
        loaded = [item for item in loaded if item.calendar.handle == handle.lstrip("@")]
        if not loaded:
            raise AgentError(f"--handle {handle!r}: no calendar/{handle.lstrip('@')}.yaml; see `reeltwin calendar check`")
    if not loaded:
        raise AgentError(f"no calendar/<handle>.yaml in {display_path(settings.calendar_dir)}; copy calendar/example.yaml to calendar/<handle>.yaml first")
    paths = {item.calendar.handle: display_path(item.path) for item in loaded}
    days = days or settings.drafting.lead_days
    if topic is not None:
        if len(loaded) > 1:
            raise AgentError("--topic with several calendars: say which creator with --handle")
        if len(topic.split()) < 2:
            raise AgentError(f"--topic {topic!r}: say a little more (at least two words)")
        from agent.content_calendar.planner import upsert_creator

        upsert_creator(session, loaded[0].calendar, paths[loaded[0].calendar.handle])
        session.commit()
        work = [WorkItem(loaded[0].calendar, None, topic=topic)]
    else:
        work = find_work(session, [item.calendar for item in loaded], now=utcnow(), days=days, paths=paths)
    if not work:
        if as_json:
            print_json({"days": days, "drafts": []})
        else:
            out.print(f"nothing to draft: every slot in the next {days} days has a live draft")
        return

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, disable=not sys.stderr.isatty()) as progress:
        task = progress.add_task("starting the model", total=len(work))
        with open_provider(settings) as provider:
            def done(outcome) -> None:  # noqa: ANN001
                progress.advance(task)
                progress.update(task, description=f"@{outcome.handle} {outcome.slot_id or 'ad hoc'}: {outcome.result}")

            progress.update(task, description=f"drafting with {provider.config.model}")
            outcomes = draft_all(session, settings, provider, work, on_done=done)

    failed = [o for o in outcomes if o.result == "failed"]
    if as_json:
        print_json({"days": days, "drafts": [asdict(o) for o in outcomes]})
    else:
        for o in outcomes:
            where = o.slot_id or "ad hoc"
            if o.result == "failed":
                continue
            first = "" if o.first_try_valid else f", {o.attempts} attempts"
            out.print(f"reel {o.reel_id}: {o.result} for {where} — {o.words} words in {o.seconds:.1f} s{first}")
            for warning in o.warnings:
                err.print(f"[yellow]warning:[/] reel {o.reel_id}: {warning}")
        if outcomes and len(failed) < len(outcomes):
            out.print("review them with `reeltwin queue`, then `reeltwin approve ID...`")
    if failed:
        exit_user_error(*(f"error: {o.slot_id or 'ad hoc'}: {o.error}" for o in failed))


def register(root: typer.Typer) -> None:
    """Add `draft` to the root command."""
    root.command("draft")(draft)
