"""``reeltwin qa MP4 [--json]``: check a finished reel against the Instagram Reels spec, its loudness and its lip sync."""

from __future__ import annotations

from pathlib import Path

import typer

from agent.cli.context import err, out, print_json
from agent.errors import AgentError


def _value_text(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def qa(
    mp4: Path = typer.Argument(..., metavar="MP4", help="The reel to check."),
    captions: Path = typer.Option(
        None, "--captions", help="The captions sidecar JSON (default: MP4's .captions.json beside it, when there is one).",
    ),
    lipsync: bool = typer.Option(True, "--lipsync/--no-lipsync", help="Measure lip sync and face visibility on every frame (a few seconds)."),
    report_path: Path = typer.Option(None, "--report", help="Also write the report as JSON to this file."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Check MP4: container and streams (Reels spec), loudness, duration, lip sync, face visible, captions in the safe area.

    Exit 0 when every hard check passes, 2 when one fails (soft checks only warn)."""
    from render.qa import QAError, check_reel, write_report

    sidecar = captions
    if sidecar is None and mp4.with_suffix(".captions.json").is_file():
        sidecar = mp4.with_suffix(".captions.json")
    timing = mp4.with_suffix(".timing.json") if mp4.with_suffix(".timing.json").is_file() else None
    try:
        if as_json:
            report = check_reel(mp4, sidecar=sidecar, lipsync=lipsync, timing=timing)
        else:
            with err.status(f"checking {mp4}…"):
                report = check_reel(mp4, sidecar=sidecar, lipsync=lipsync, timing=timing)
        if report_path is not None:
            write_report(report, report_path)
    except QAError as error:
        raise AgentError(str(error)) from None
    except OSError as error:
        raise AgentError(f"{str(error.filename or mp4)!r}: {error.strerror}") from None

    if as_json:
        print_json(report.to_dict())
    else:
        from rich.table import Table

        table = Table(title=f"{mp4}", title_justify="left")
        for column in ("", "check", "value", "expected", "note"):
            table.add_column(column, overflow="fold")
        for check in report.checks:
            mark = "[green]✓[/green]" if check.passed else ("[red]✗[/red]" if check.hard else "[yellow]![/yellow]")
            table.add_row(mark, check.name, _value_text(check.value), check.expected, check.message)
        out.print(table)
        verdict = "[green]passed[/green]" if report.passed else "[red]failed[/red]"
        warnings = f", {len(report.warnings)} warning(s)" if report.warnings else ""
        out.print(f"{verdict}: {len(report.checks) - len(report.failures)} of {len(report.checks)} checks{warnings} in {report.seconds:.1f} s")
    if not report.passed:
        first, *others = report.failures
        also = f" (also failed: {', '.join(check.name for check in others)})" if others else ""
        raise AgentError(f"{mp4}: {first.name}: {first.message or 'failed'}{also}")


def register(root: typer.Typer) -> None:
    """Add `qa` to the root command."""
    root.command("qa")(qa)
