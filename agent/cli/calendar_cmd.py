"""``reeltwin calendar check|show``: validate calendars and show the upcoming slots."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import typer

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
    from rich.table import Table

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


# -- changes from the command line: the same as the calendar page's Move, Skip and "Add a reel here" -------------


def _loaded(ctx: typer.Context, handle: str) -> "LoadedCalendar":
    """The calendar of ``handle`` (``calendar/<handle>.yaml``) with its overrides; one clear line when there is none."""
    from agent.content_calendar.loader import calendar_files, display_path, load_calendar

    handle = handle.strip().lstrip("@")
    directory = ctx.obj.settings.calendar_dir
    for path in calendar_files(directory, include_templates=False):
        if path.stem == handle:
            return load_calendar(path)
    known = ", ".join(path.stem for path in calendar_files(directory, include_templates=False)) or "none yet"
    raise AgentError(f"no calendar for {handle!r} in {display_path(directory)}; calendars: {known} (the file is calendar/<handle>.yaml)")


def _local(value: str, option: str) -> datetime:
    from agent.content_calendar.overrides import parse_local

    try:
        return parse_local(value)
    except ValueError as error:
        raise AgentError(f"{option} {error}") from None


def _report(change, as_json: bool) -> None:  # noqa: ANN001
    if as_json:
        print_json({"slot_id": change.slot_id, "reel_id": change.reel_id, "local_time": change.local.isoformat() if change.local else None,
                    "message": change.message})
    else:
        out.print(change.message, highlight=False)


@app.command("move")
def move(
    ctx: typer.Context,
    handle: str = typer.Argument(..., help="The creator (calendar/<handle>.yaml)."),
    slot: str = typer.Argument(..., metavar="SLOT_OR_REEL_ID", help="A slot id (calendar show --json lists them) or the id of the reel on it."),
    to: str = typer.Option(..., "--to", help='The new local time, "YYYY-MM-DD HH:MM" in the calendar\'s time zone.'),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Move a slot (and its reel) to another day or time; kept in calendar/<handle>.overrides.yaml, the calendar file is not touched."""
    from agent.content_calendar.changes import move_slot, resolve_slot

    loaded = _loaded(ctx, handle)
    target = _local(to, "--to")
    session = ctx.obj.session
    _report(move_slot(session, loaded, resolve_slot(session, loaded.calendar, slot), target, actor="creator:cli"), as_json)


@app.command("skip")
def skip(
    ctx: typer.Context,
    handle: str = typer.Argument(..., help="The creator (calendar/<handle>.yaml)."),
    slot: str = typer.Argument(..., metavar="SLOT_OR_REEL_ID", help="A slot id or the id of the reel on it."),
    undo: bool = typer.Option(False, "--undo", help="Put a skipped slot back on the calendar."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Post nothing in a slot (its reel is set aside as skipped); --undo puts it back."""
    from agent.content_calendar.changes import resolve_slot, skip_slot, unskip_slot

    loaded = _loaded(ctx, handle)
    session = ctx.obj.session
    if undo:
        from agent.content_calendar.overrides import slot_id_parts

        if slot_id_parts(slot.strip()) is None:
            raise AgentError(f"slot {slot!r}: --undo needs the slot id (reeltwin calendar overrides {loaded.calendar.handle} lists the skipped ones)")
        _report(unskip_slot(session, loaded, slot.strip(), actor="creator:cli"), as_json)
        return
    _report(skip_slot(session, loaded, resolve_slot(session, loaded.calendar, slot), actor="creator:cli"), as_json)


@app.command("add")
def add(
    ctx: typer.Context,
    handle: str = typer.Argument(..., help="The creator (calendar/<handle>.yaml)."),
    at: str = typer.Option(..., "--at", help='Local time, "YYYY-MM-DD HH:MM" in the calendar\'s time zone.'),
    pillar: str | None = typer.Option(None, "--pillar", help="One of the calendar's pillars (default: the heaviest)."),
    brief: str | None = typer.Option(None, "--brief", help="What the reel is about (default: the backlog's next brief)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Add a one-off reel at a time of your choice; drafted ahead of time like the calendar's own slots."""
    from agent.content_calendar.changes import add_slot

    loaded = _loaded(ctx, handle)
    target = _local(at, "--at")
    _report(add_slot(ctx.obj.session, loaded, target, actor="creator:cli", pillar=pillar, brief=brief), as_json)


@app.command("overrides")
def overrides(
    ctx: typer.Context,
    handle: str = typer.Argument(..., help="The creator (calendar/<handle>.yaml)."),
    clear: bool = typer.Option(False, "--clear", help="Remove every move, skip and added reel: the calendar file alone plans again."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask before --clear."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """List the moves, skips and added reels kept beside the calendar (calendar/<handle>.overrides.yaml)."""
    from agent.cli.context import interactive
    from agent.content_calendar.changes import clear_overrides
    from agent.content_calendar.overrides import overrides_path, show_local

    loaded = _loaded(ctx, handle)
    current = loaded.calendar.overrides
    path = display_path_of(overrides_path(loaded.path))
    if clear:
        count = len(current.moves) + len(current.skips) + len(current.adds)
        if count and not yes:
            if not interactive():
                raise AgentError(f"{path}: --clear removes {count} change(s); add --yes to confirm")
            typer.confirm(f"Remove {count} change(s) from {path}?", abort=True)
        removed = clear_overrides(ctx.obj.session, loaded)
        if as_json:
            print_json({"handle": loaded.calendar.handle, "file": path, "removed": removed})
        else:
            out.print(f"removed {removed} change(s); @{loaded.calendar.handle} is planned from {display_path_of(loaded.path)} alone", highlight=False)
        return
    rows = [{"kind": "move", "slot_id": m.slot, "local_time": show_local(m.to), "from": m.moved_from or None, "by": m.by, "made_at": m.made_at}
            for m in current.moves]
    rows += [{"kind": "skip", "slot_id": s.slot, "local_time": s.at or None, "by": s.by, "made_at": s.made_at} for s in current.skips]
    rows += [{"kind": "add", "slot_id": a.slot, "local_time": show_local(a.at), "pillar": a.pillar, "brief": a.brief, "by": a.by, "made_at": a.made_at}
             for a in current.adds]
    rows.sort(key=lambda row: (row["local_time"] or "", row["slot_id"]))
    if as_json:
        print_json({"handle": loaded.calendar.handle, "file": path, "timezone": loaded.calendar.timezone, "overrides": rows})
        return
    if not rows:
        out.print(f"@{loaded.calendar.handle}: no moves, skips or added reels ({path} does not exist)", highlight=False)
        return
    from rich.table import Table
    table = Table(title=f"@{loaded.calendar.handle}: changes kept in {path} ({loaded.calendar.timezone})", title_justify="left")
    for column in ("change", "local time", "slot id", "detail", "by"):
        table.add_column(column, overflow="fold")
    for row in rows:
        detail = f"from {row['from']}" if row.get("from") else (row.get("brief") or row.get("pillar") or "")
        table.add_row(row["kind"], row["local_time"] or "", row["slot_id"], detail, row["by"] or "")
    out.print(table)


def display_path_of(path: Path) -> str:
    from agent.content_calendar.loader import display_path

    return display_path(path)


def register(root: typer.Typer) -> None:
    """Add the `calendar` command group to the root command."""
    root.add_typer(app, name="calendar")
