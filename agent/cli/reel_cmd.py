"""``reeltwin reel audio ID FILE``: read a reel's script in your own voice (or ``--remove`` the recording)."""

from __future__ import annotations

from pathlib import Path

import typer

from agent.cli.context import err, out, parse_reel_id, print_json
from agent.errors import AgentError

app = typer.Typer(no_args_is_help=True, help="One reel's own inputs: your recorded voice instead of the synthetic one.")


@app.command("audio")
def audio(
    ctx: typer.Context,
    reel_id: int = typer.Argument(..., parser=parse_reel_id, help="The reel (reeltwin queue lists them)."),
    file: Path = typer.Argument(None, help="Your recording of the script: WAV, MP3, M4A, OGG/Opus or WebM/Opus.", show_default=False),
    remove: bool = typer.Option(False, "--remove", help="Remove the recording: the synthetic voice reads the script again."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Use FILE (you reading the reel's script) as the reel's voice: checked like a voice sample, compared with the
    script word by word, trimmed and normalised; the render uses it instead of synthesis."""
    from agent.enrollment import reel_audio

    if remove == (file is not None):
        raise AgentError(f"reel {reel_id}: give the recording (`reeltwin reel audio {reel_id} FILE`) or --remove, one of them")
    session, settings = ctx.obj.session, ctx.obj.settings
    if remove:
        change = reel_audio.remove_recording(session, settings, reel_id, actor="creator:cli")
        message = f"reel {reel_id}: your recording is removed; the synthetic voice reads the script"
    else:
        with err.status("checking the recording (levels, noise, and every word of the script)…"):
            change = reel_audio.set_recording(session, settings, reel_id, Path(file), actor="creator:cli", name=Path(file).name)
        record = change.record or {}
        message = (f"reel {reel_id}: your recording is stored ({record.get('duration_s', 0):.1f} s, "
                   f"{record.get('match_ratio', 0):.0%} of the script's words heard); the render uses it instead of the synthetic voice")
    if change.render_again:
        message += f"; the reel is approved again and will be rendered again (`reeltwin render {reel_id}` does it now)"
    if as_json:
        print_json({"id": reel_id, "status": str(change.reel.status), "recording": reel_audio.recording_json(change.reel),
                    "render_again": change.render_again, "warnings": list(change.warnings)})
        return
    for warning in change.warnings:
        err.print(f"[yellow]warning:[/yellow] {warning}", highlight=False, markup=True)
    out.print(message, highlight=False, markup=False)


def register(root: typer.Typer) -> None:
    """Add `reel audio` to the root command."""
    root.add_typer(app, name="reel")
