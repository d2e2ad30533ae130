"""``reeltwin peak-times``: the weekday × hour heat map and where each upcoming slot lands."""

from __future__ import annotations

import typer

from agent.cli.context import out, print_json

SHADES = " ░▒▓█"


def peak_times(
    ctx: typer.Context,
    days: int = typer.Option(14, "--days", min=1, max=60, help="How far ahead to place slots."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Show when the account's audience is most responsive (insights, own posts, or priors) and where slots land."""
    from agent.content_calendar.loader import calendar_files, display_path, load_all
    from agent.content_calendar.planner import preview
    from agent.db.models import utcnow
    from agent.errors import AgentError
    from agent.content_calendar.peaks import peak_time_for, scores_for
    from publishing.peak_times import heat_map_rows

    settings = ctx.obj.settings
    files = calendar_files(settings.calendar_dir, include_templates=False) or calendar_files(settings.calendar_dir, include_templates=True)
    if not files:
        raise AgentError("no calendar files; run `reeltwin init`")
    loaded = load_all(files)
    now = utcnow()
    payload = []
    for item in loaded:
        calendar = item.calendar
        scores = scores_for(calendar, audience=_stored_audience(ctx, calendar.handle), now=now)
        slots = preview(calendar, now, days, peak_time=peak_time_for(calendar, now, days, scores))
        payload.append({
            "handle": calendar.handle, "file": display_path(item.path), "timezone": calendar.timezone,
            "source": scores.source, "explanation": scores.explanation, "quiet_hours": calendar.quiet_hours,
            "heat_map": {day: [round(v, 3) for v in values] for day, values in heat_map_rows(scores)},
            "slots": [{"id": s.slot_id, "local_time": s.local.isoformat(), "peak": s.peak, "pillar": s.pillar} for s in slots],
        })
    if as_json:
        print_json({"calendars": payload})
        return
    from rich.table import Table
    from rich.text import Text

    for entry in payload:
        out.print(f"[bold]@{entry['handle']}[/] ({entry['timezone']}) — scores from [cyan]{entry['source']}[/]: {entry['explanation']}")
        table = Table(show_header=True, header_style="dim", box=None, padding=(0, 0))
        table.add_column("", no_wrap=True)
        for hour in range(24):
            table.add_column(f"{hour:02d}" if hour % 3 == 0 else "", justify="left", no_wrap=True, min_width=2, max_width=2)
        for day, values in entry["heat_map"].items():
            cells = [Text(SHADES[min(4, int(v * 4.999))] * 2, style="magenta" if v >= 0.8 else "") for v in values]
            table.add_row(day, *cells)
        out.print(table)
        out.print(f"[dim]quiet hours {entry['quiet_hours']} (never chosen); darker = better[/]")
        for slot in entry["slots"]:
            mark = "[magenta]peak →[/]" if slot["peak"] else "fixed "
            out.print(f"  {mark} {slot['local_time'][:16].replace('T', ' ')}  {slot['pillar'] or ''}")


def _stored_audience(ctx: typer.Context, handle: str) -> dict | None:
    """What the daily insights sweep stored for this creator (none for templates or a fresh project)."""
    from sqlalchemy import select

    from agent.db.models import Creator

    creator = ctx.obj.session.execute(select(Creator).where(Creator.handle == handle)).scalar_one_or_none()
    return creator.audience if creator is not None else None


def register(root: typer.Typer) -> None:
    """Add `peak-times` to the root command."""
    root.command("peak-times")(peak_times)
