"""``reeltwin voice enroll/list/say``: enroll the creator's voice and speak scripts in it."""

from __future__ import annotations

import math
import time
from pathlib import Path

import typer

from agent.cli.context import err, out, print_json
from agent.errors import AgentError

app = typer.Typer(no_args_is_help=True, help="Enroll the creator's voice and speak scripts in it.")


@app.command("say")
def say(
    ctx: typer.Context,
    text: str = typer.Argument(..., help="What to say (numbers, times, handles and links are made speakable)."),
    out_path: Path = typer.Option(..., "--out", help="The WAV file to write."),
    voice: str = typer.Option(None, "--voice", help="An enrolled voice (reeltwin voice list); without it, the bundled voice."),
    backend: str = typer.Option(None, "--backend", help="Voice backend: piper-world (offline voice matching), xtts (cloning), piper or hibari (a bundled voice as is). Default: voice.backend with --voice, else piper."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object with timings."),
) -> None:
    """Synthesize TEXT into a WAV; --json adds duration, speed and word/phoneme timings."""
    from render import RenderError

    if not text.strip():
        raise AgentError("TEXT is empty; give the words to say")
    if out_path.suffix.lower() != ".wav":
        raise AgentError(f"--out {str(out_path)!r}: write a .wav file")
    from agent.enrollment.voices import prepare_speaker

    backend = backend or (ctx.obj.settings.voice.backend if voice is not None else "piper")
    try:
        with err.status(f"preparing voice {voice!r} for {backend}…" if voice is not None else f"loading {backend}…"):
            speaker, profile = prepare_speaker(ctx.obj.session, ctx.obj.settings, voice=voice, backend=backend)
        started = time.perf_counter()
        with err.status(f"speaking with {backend}…"):
            speech = speaker.speak(text, out_path, profile=profile, language="en")
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


@app.command("enroll")
def enroll(
    ctx: typer.Context,
    sample: Path = typer.Argument(..., help="6-60 s of you talking: WAV, MP3, M4A/AAC, OGG/Opus or FLAC."),
    name: str = typer.Option(..., "--name", help="The voice's name (e.g. your handle); scripts are spoken with --voice NAME."),
    consent: bool = typer.Option(False, "--consent", help="Confirm the voice is yours or that you have the right to use it (asked on a terminal otherwise)."),
    replace: bool = typer.Option(False, "--replace", help="Replace an enrolled voice of the same name (the old one stays until the new one is stored)."),
    backend: str = typer.Option(None, "--backend", help="Enroll for this backend (default: voice.backend); others enroll on first use."),
    base: str = typer.Option(None, "--base", help="piper-world: the bundled base voice to match from (joe, hibari-heart); default: the one that sounds nearest to the sample once matched (measured at enrollment)."),
    as_json: bool = typer.Option(False, "--json", help="Print the stored profile as one JSON object."),
) -> None:
    """Check a voice sample (speech time, noise, clipping, music, several speakers), then store it with your consent."""
    from agent.cli.context import interactive
    from agent.backends import voice_config
    from agent.enrollment.consent import check_name, consent_by
    from agent.enrollment.voices import CONSENT_TEXT, analyze_sample, enroll_voice, find, profile_json

    check_name(name)
    session, settings = ctx.obj.session, ctx.obj.settings
    existing = find(session, name)
    if existing is not None and not replace:
        raise AgentError(f"voice {name!r} is already enrolled (since {existing.created_at:%Y-%m-%d}); pass --replace to enroll the new sample instead")
    with err.status(f"checking {sample.name}…"):
        report = analyze_sample(sample)
    for warning in report.warnings:
        err.print(f"warning: {warning}")
    if not consent:
        if not interactive():
            raise AgentError(f"voice {name!r}: consent is required; pass --consent to confirm: {CONSENT_TEXT} Nothing was stored")
        consent = typer.confirm(f"{CONSENT_TEXT}\nDo you confirm?", default=False, err=True)
        if not consent:
            raise AgentError(f"voice {name!r}: consent was not given; nothing was stored")
    backend_name = backend or settings.voice.backend
    with err.status(f"enrolling {name!r} for {backend_name}…"):
        enrolled = enroll_voice(session, settings, report, name=name, consent=True, consent_by=consent_by(), backend=backend_name,
                                replace=replace, backend_config=voice_config(settings, backend_name), base=base)
    payload = profile_json(enrolled.profile) | {"replaced": enrolled.replaced, "warnings": list(enrolled.warnings),
                                                "match": (enrolled.profile.artifacts.get("piper-world") or {}).get("match")}
    if as_json:
        print_json(payload)
        return
    stats = enrolled.profile.stats
    out.print(f"{'replaced' if enrolled.replaced else 'enrolled'} voice {name!r}: {stats.get('speech_s', 0):.1f} s of speech, "
              f"median pitch {stats.get('f0_median_hz', 0):.0f} Hz, SNR {stats.get('snr_db', 0):.0f} dB; stored {enrolled.profile.sample_path}")
    if payload.get("base_voice"):
        out.print(f"base voice {payload['base_voice']['why']}")
    match = payload["match"]
    if match:
        out.print(f"piper-world matching: pitch to {math.exp(match['log_f0_mean']):.0f} Hz, formant warp {match['warp_factor']:.2f}, "
                  f"tilt {match['tilt_db_per_octave']:+.1f} dB/octave, speaking rate x{1 / match['length_scale']:.2f}")
    out.print(f"speak with: reeltwin voice say \"…\" --out reel.wav --voice {name}")


@app.command("show")
def show(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="An enrolled voice (reeltwin voice list)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """One enrolled voice: its sample, the base voice piper-world matches from and why, and the match."""
    from agent.enrollment.voices import get_voice, profile_json

    profile = get_voice(ctx.obj.session, name)
    payload = profile_json(profile) | {"match": ((profile.artifacts or {}).get("piper-world") or {}).get("match")}
    if as_json:
        print_json(payload)
        return
    out.print(f"voice {name!r}: {payload['speech_s'] or 0:.1f} s of speech, median pitch {payload['f0_median_hz'] or 0:.0f} Hz, "
              f"enrolled for {', '.join(payload['backends_enrolled']) or payload['backend']}; sample {payload['sample_path']}")
    base_voice = payload["base_voice"]
    if base_voice:
        out.print(f"base {base_voice['why']}" + (f" ({base_voice['method']})" if base_voice.get("method") else ""))
    else:
        out.print("base: not enrolled for piper-world yet (chosen on first use)")
    match = payload["match"]
    if match:
        out.print(f"piper-world matching: pitch to {math.exp(match['log_f0_mean']):.0f} Hz, formant warp {match['warp_factor']:.2f}, "
                  f"tilt {match['tilt_db_per_octave']:+.1f} dB/octave, speaking rate x{1 / match['length_scale']:.2f}")
    out.print(f"consent {(payload['consent_at'] or '')[:10]} by {payload['consent_by']}")


@app.command("list")
def list_(ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """The enrolled voices."""
    from rich.table import Table

    from agent.enrollment.voices import list_voices, profile_json

    rows = [profile_json(profile) for profile in list_voices(ctx.obj.session)]
    if as_json:
        print_json({"voices": rows})
        return
    if not rows:
        out.print("no voice is enrolled; enroll one with `reeltwin voice enroll SAMPLE --name NAME --consent`")
        return
    table = Table(title_justify="left")
    for column in ("name", "backend", "speech", "pitch", "words/min", "consent"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(row["name"], ", ".join(row["backends_enrolled"]) or row["backend"], f"{row['speech_s'] or 0:.1f} s",
                      f"{row['f0_median_hz'] or 0:.0f} Hz", f"{row['words_per_minute']:.0f}" if row["words_per_minute"] else "-",
                      f"{(row['consent_at'] or '')[:10]} by {row['consent_by']}")
    out.print(table)


def register(root: typer.Typer) -> None:
    """Add the `voice` command group to the root command."""
    root.add_typer(app, name="voice")
