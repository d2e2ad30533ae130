"""``reeltwin calendar check|show``: validate calendars and show the upcoming slots."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from agent.cli.context import err, exit_user_error, out, print_json
from agent.errors import AgentError, CalendarError

if TYPE_CHECKING:
    from agent.content_calendar.loader import LoadedCalendar

app = typer.Typer(no_args_is_help=True, help="Validate the content calendars and show the planned slots.")


def _files(ctx: typer.Context, paths: list[Path] | None, *, include_templates: bool) -> list[Path]:
    from agent.content_calendar.loader import calendar_files, display_path

    if paths:
        return paths
    directory = ctx.obj.settings.calendar_dir
    files = calendar_files(directory, include_templates=include_templates)
    if not files and include_templates:
        raise AgentError(f"{display_path(directory)}: no calendar files; run `reeltwin init` or create calendar/<handle>.yaml")
    return files


@app.command("check")
def check(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(None, help="Calendar files (default: every .yaml in the calendar folder)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Exit 0 when every calendar is valid; otherwise one `file:line: message` per problem and exit 2."""
    from agent.content_calendar.loader import display_path, is_template, load_calendar

    files = _files(ctx, paths, include_templates=True)
    results, problems = [], []
    for path in files:
        try:
            loaded = load_calendar(path)
        except CalendarError as error:
            problems.extend(error.problems)
            results.append({"path": display_path(path), "ok": False, "problems": error.problems})
            continue
        calendar = loaded.calendar
        summary = f"{calendar.handle}, {calendar.timezone}, {len(calendar.pillars)} pillars, {sum(len(e.days) for e in calendar.cadence)} slots a week"
        results.append({"path": display_path(path), "ok": True, "handle": calendar.handle, "template": is_template(path), "summary": summary})
    if as_json:
        print_json({"ok": not problems, "files": results})
        if problems:
            exit_user_error()  # the report above names every problem
        return
    for result in results:
        if result["ok"]:
            note = " (template: never planned)" if result["template"] else ""
            out.print(f"[green]ok[/]  {result['path']}: {result['summary']}{note}", highlight=False)
    if problems:
        raise CalendarError(problems)


@app.command("show")
def show(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(None, help="Calendar files (default: every calendar/<handle>.yaml)."),
    days: int = typer.Option(14, "--days", min=1, max=365, help="How many days ahead."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Plan and show the upcoming slots, in local time and UTC. Templates (example.yaml) are previewed, never saved."""
    from agent.content_calendar import planner
    from agent.content_calendar.loader import calendar_files, display_path, load_all
    from agent.db.models import utcnow

    files = _files(ctx, paths, include_templates=False)
    preview_only = False
    if not files:
        files = calendar_files(ctx.obj.settings.calendar_dir, include_templates=True)
        if not files:
            raise AgentError(f"{display_path(ctx.obj.settings.calendar_dir)}: no calendar files; run `reeltwin init`")
        preview_only = True
        if not as_json:
            err.print(f"[yellow]no calendar/<handle>.yaml yet: previewing {', '.join(display_path(p) for p in files)} (not saved).[/] Copy it to calendar/<handle>.yaml to plan for real.")
    calendars: list["LoadedCalendar"] = load_all(files)

    now = utcnow()
    payload = []
    for loaded in calendars:
        calendar = loaded.calendar
        if preview_only or loaded.is_template:
            rows = [_row(s.slot_id, s.local, s.utc, s.kind, s.peak, s.pillar, s.brief, None) for s in planner.preview(calendar, now, days)]
            saved = False
        else:
            session = ctx.obj.session
            report = planner.sync_plan(session, calendar, now=now, days=days, path=display_path(loaded.path))
            statuses = _reel_statuses(session, [slot.id for slot in report.slots])
            from zoneinfo import ZoneInfo

            zone = ZoneInfo(calendar.timezone)
            rows = [
                _row(s.id, s.scheduled_at.astimezone(zone), s.scheduled_at, s.kind, s.peak, s.pillar, s.brief, statuses.get(s.id))
                for s in report.slots
            ]
            saved = True
        payload.append({
            "handle": calendar.handle,
            "timezone": calendar.timezone,
            "file": display_path(loaded.path),
            "saved": saved,
            "from_utc": now.isoformat(),
            "to_utc": (now + timedelta(days=days)).isoformat(),
            "slots": rows,
        })
    if as_json:
        print_json({"days": days, "calendars": payload})
        return
    for entry in payload:
        table = Table(title=f"@{entry['handle']} — next {days} days ({entry['timezone']})" + ("" if entry["saved"] else " — preview"), title_justify="left")
        table.add_column("local time", no_wrap=True)
        table.add_column("UTC", no_wrap=True)
        table.add_column("pillar", overflow="fold")
        table.add_column("brief", overflow="fold", ratio=3)
        table.add_column("reel", no_wrap=True)
        wide = out.width >= 120  # the slot id is in --json; on a phone-sized terminal it only crowds the table
        if wide:
            table.add_column("slot id", overflow="fold", style="dim")
        for row in entry["slots"]:
            local = datetime.fromisoformat(row["local_time"])
            table.add_row(
                f"{local:%a %d %b %H:%M}" + (" peak" if row["peak"] else ""),
                f"{datetime.fromisoformat(row['utc']):%a %d %b %H:%M}",  # the date too: it differs from the local one near midnight
                row["pillar"] or "",
                row["brief"] or "[dim](LLM picks from the pillar)[/]",
                row["reel_status"] or "[dim]not drafted[/]",
                *([row["id"]] if wide else []),
            )
        out.print(table)
        if not entry["slots"]:
            out.print(f"[yellow]no slots in the next {days} days[/]")


def _row(slot_id, local, utc, kind, peak, pillar, brief, status) -> dict:  # noqa: ANN001
    return {
        "id": slot_id,
        "local_time": local.isoformat(),
        "weekday": local.strftime("%a"),
        "utc": utc.isoformat(),
        "kind": kind,
        "peak": peak,
        "pillar": pillar,
        "brief": brief,
        "reel_status": status,
    }


def _reel_statuses(session, slot_ids: list[str]) -> dict[str, str]:  # noqa: ANN001
    from sqlalchemy import select

    from agent.db.models import Reel
    from agent.db.states import LIVE

    statuses: dict[str, str] = {}
    if not slot_ids:
        return statuses
    for slot_id, status in session.execute(select(Reel.slot_id, Reel.status).where(Reel.slot_id.in_(slot_ids)).order_by(Reel.id)).all():
        if status in LIVE or slot_id not in statuses:
            statuses[slot_id] = str(status)
    return statuses


def register(root: typer.Typer) -> None:
    """Add the `calendar` command group to the root command."""
    root.add_typer(app, name="calendar")
