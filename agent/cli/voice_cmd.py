"""``reeltwin voice say``: speak a script with a voice backend (enrollment arrives with voice matching)."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from agent.cli.context import err, out, print_json
from agent.errors import AgentError

app = typer.Typer(no_args_is_help=True, help="Speak scripts (and, soon, enroll the creator's voice).")


@app.command("say")
def say(
    ctx: typer.Context,
    text: str = typer.Argument(..., help="What to say (numbers, times, handles and links are made speakable)."),
    out_path: Path = typer.Option(..., "--out", help="The WAV file to write."),
    voice: str = typer.Option(None, "--voice", help="An enrolled voice (not available yet: enrollment comes with voice matching)."),
    backend: str = typer.Option("piper", "--backend", help="Voice backend: piper (offline, the bundled voice)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object with timings."),
) -> None:
    """Synthesize TEXT into a WAV; --json adds duration, speed and word/phoneme timings."""
    from render import RenderError
    from render.voice import base

    if voice is not None:
        raise AgentError(f"--voice {voice!r}: voice enrollment is not built yet; leave --voice out to use the bundled voice")
    if not text.strip():
        raise AgentError("TEXT is empty; give the words to say")
    if out_path.suffix.lower() != ".wav":
        raise AgentError(f"--out {str(out_path)!r}: write a .wav file")
    try:
        speaker = base.get(backend)
        started = time.perf_counter()
        with err.status(f"speaking with {backend}…"):
            speech = speaker.speak(text, out_path, language="en")
        seconds = time.perf_counter() - started
    except RenderError as error:
        raise AgentError(str(error)) from None
    except OSError as error:
        raise AgentError(f"--out {str(out_path)!r}: cannot write ({error.strerror})") from None
    payload = {
        "path": str(speech.path), "duration_s": round(speech.duration_s, 3), "sample_rate_hz": speech.sample_rate_hz,
        "backend": speech.backend, "seconds": round(seconds, 3), "real_time_factor": round(seconds / max(speech.duration_s, 1e-9), 4),
        "timings_source": speech.timings_source,
        "words": [{"word": w.word, "start_s": w.start_s, "end_s": w.end_s} for w in speech.words],
        "phonemes": [{"phoneme": p.phoneme, "start_s": p.start_s, "end_s": p.end_s} for p in speech.phonemes],
    }
    if as_json:
        print_json(payload)
    else:
        out.print(f"wrote {speech.path}: {speech.duration_s:.1f} s at {speech.sample_rate_hz} Hz in {seconds:.2f} s "
                  f"(real-time factor {payload['real_time_factor']}), {len(speech.words)} words timed ({speech.timings_source})")


@app.command("accept-license")
def accept_license(
    ctx: typer.Context,
    backend: str = typer.Argument(..., help="The backend whose model licence to accept: xtts (Coqui XTTS-v2, CPML)."),
    yes: bool = typer.Option(False, "--yes", help="Accept without the confirmation prompt."),
    as_json: bool = typer.Option(False, "--json", help="Print the recorded acceptance as one JSON object."),
) -> None:
    """Read and accept a model's licence; the acceptance is recorded (with its time) in the data folder."""
    from agent.cli.context import interactive
    from agent.model_licenses import license_for, record_acceptance

    licence = license_for(backend)
    err.print(f"{licence.weights} is licensed under the {licence.name}: {licence.summary}.\nFull text: {licence.url}")
    if not yes:
        if not interactive():
            raise AgentError(f"accepting the {licence.name} needs a confirmation; run it in a terminal or pass --yes")
        if not typer.confirm(f"Do you accept the {licence.name} for {licence.weights}?", default=False, err=True):
            raise AgentError(f"the {licence.name} was not accepted; the {backend} backend stays disabled")
    record = record_acceptance(ctx.obj.settings.data_dir, backend)
    if as_json:
        print_json({"backend": backend, **record})
    else:
        out.print(f"recorded: you accepted the {record['license']} at {record['accepted_at']} "
                  f"({ctx.obj.settings.data_dir / 'licenses.json'})")
