"""``reeltwin demo``: the whole pipeline offline on bundled samples, with a summary of every stage."""

from __future__ import annotations

from pathlib import Path

import typer

from agent.cli.context import err, out, print_json


def demo(
    out_dir: Path = typer.Option(Path("demo"), "--out", help="Folder for the demo project (created; your own project is not touched)."),
    seconds: int = typer.Option(30, "--seconds", min=5, max=90, help="About how long the demo reel should be."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Offline, on the embedded defaults: enroll a demo face and voice, draft, approve, voice, render, caption, check, publish to the outbox."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from agent.demo import run_demo

    with Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, transient=True, disable=as_json) as bar:
        task = bar.add_task("starting", total=None)

        def stage(name: str) -> None:
            bar.update(task, description=name, total=None, completed=0)

        def frames(_stage: str, done: int, total: int) -> None:
            bar.update(task, description="rendering frames", total=total, completed=done)

        result = run_demo(out_dir, seconds=seconds, stage=stage, progress=frames)
    qa = result.qa
    figures = {c.name: c for c in qa.checks} if qa is not None else {}
    payload = {
        "project": str(result.project), "reel_id": result.reel_id, "video": str(result.video), "cover": str(result.cover),
        "srt": str(result.srt) if result.srt else None, "report": str(result.report) if result.report else None,
        "outbox": str(result.outbox) if result.outbox else None, "duration_s": round(result.duration_s, 2),
        "qa_passed": qa.passed if qa is not None else None, "script": result.script,
        "stages": [{"stage": s.stage, "seconds": round(s.seconds, 2), "real_time_factor": round(s.rtf, 3) if s.rtf else None, "detail": s.detail}
                   for s in result.stages],
    }
    if as_json:
        print_json(payload)
        return
    table = Table(title=f"ReelTwin demo: reel {result.reel_id} ({result.duration_s:.1f} s)")
    for column in ("stage", "seconds", "real-time factor", "detail"):
        table.add_column(column, justify="right" if column in ("seconds", "real-time factor") else "left")
    for s in result.stages:
        table.add_row(s.stage, f"{s.seconds:.1f}", f"{s.rtf:.2f}x" if s.rtf else "", s.detail)
    out.print(table)
    if figures:
        qa_table = Table(title="QA (" + ("passed" if qa is not None and qa.passed else "FAILED") + ")")
        for column in ("check", "value", "expected"):
            qa_table.add_column(column)
        for name in ("loudness", "duration", "lipsync_correlation", "lipsync_lag", "face_visible", "resolution", "video_profile", "captions_safe_area"):
            if name in figures:
                c = figures[name]
                qa_table.add_row(("✓ " if c.passed else "✗ ") + name, str(c.value), str(c.expected))
        out.print(qa_table)
    out.print(f"reel:    {result.video}\ncover:   {result.cover}\ncaptions: {result.srt}\nreport:  {result.report}\noutbox:  {result.outbox}")
    out.print("The demo creator's consent is recorded as 'demo'; the draft was auto-approved by the demo. Nothing was posted to Instagram.")


def register(root: typer.Typer) -> None:
    """Add `demo` to the root command."""
    root.command("demo")(demo)
