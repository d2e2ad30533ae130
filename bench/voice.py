"""The offline voice, measured: speaker similarity of each bundled base voice, plain and matched (piper-world), intelligibility, speed.

    .venv/bin/python bench/voice.py [--runs N] [--draws N] [--only TEXT]

For each real reference voice (see tests/voice_refs.py: the codec2 man and
woman, the codec2 radio man, the alsa-utils woman and the ktuberling-data man
where installed) it enrolls the voice with
piper-world, speaks one script plain and matched, and reports:

- Resemblyzer cosine similarity of each output to the reference sample (the
  matched one should be clearly higher than plain Piper's);
- the word error rate of Whisper tiny.en (faster-whisper, the packaged model) on
  each output against its script, spoken form, pooled over the bench script and
  the held-out scripts (the plain base is the baseline);
- both over ``--draws`` noise draws (seeds 0..N-1, default 4; the product
  speaks draw 0, shown beside the pooled WER): one draw's word errors are
  luck, so a single draw cannot resolve "within 1 point";
- what WORLD's analysis and re-synthesis alone (nothing changed) cost joe's WER;
- the mean log-F0 of the output against the reference's, and its prosody:
  median pause (``render.voice.prosody``) and integrated loudness (LUFS);
- the real-time factor (seconds of work per second of speech, wall clock and
  CPU) of each plain base and of piper-world, median of ``--runs`` in the same
  run, the runs interleaved (plain, matched, matched as before, plain, ...) and
  the models loaded first, so the ratios between them are what to compare.
  "joe matched, before" is the conversion as it was before the fast pitch
  tracker (Harvest, WORLD at 22 kHz: ``WorldBackend(fast=False)``);
  ``--before`` also scores it for quality (a "joe (before)" row per reference).

- for a narrowband reference (the 8 kHz radio man), the same similarities with
  every output low-passed to the reference's band, so both sides carry the same
  frequencies (is the gap the band, or the voice?);
- the reference voices against each other: how near another real person comes.

``--show-errors`` prints every transcript that has word errors (to stderr).

Prints a markdown table and writes it to bench/results/voice.md (not with ``--only``). Not a test.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

import numpy as np  # noqa: E402

from render.media.audio import integrated_loudness, write_wav  # noqa: E402
from render.voice import prosody  # noqa: E402
from render.voice import world_backend as wb  # noqa: E402
from render.voice.base import VoiceProfileData  # noqa: E402
from render.voice.sample_checks import read_sample  # noqa: E402
import voice_refs  # noqa: E402


def _references() -> list[tuple[str, str, np.ndarray, int]]:
    """(label, "man" | "woman", samples, rate) of every reference voice installed."""
    found = []
    if voice_refs.CODEC2_WAV.is_file():
        for who in ("male", "female"):
            samples, rate = voice_refs.codec2_speaker(who)
            sex = "man" if who == "male" else "woman"
            found.append((f"codec2 {sex} (16 kHz, {samples.size / rate:.1f} s)", sex, samples, rate))
    radio = voice_refs.radio_male()
    if radio is not None:
        found.append((f"codec2 radio man vk5qi (8 kHz, {radio[0].size / radio[1]:.1f} s)", "man", *radio))
    alsa = voice_refs.alsa_female()
    if alsa is not None:
        found.append((f"alsa-utils woman (48 kHz, {alsa[0].size / alsa[1]:.1f} s)", "woman", *alsa))
    words = voice_refs.ktuberling_male()
    if words is not None:
        found.append((f"ktuberling man (44 kHz words, {words[0].size / words[1]:.1f} s)", "man", *words))
    return found


#: the issue's targets: similarity gain over plain joe by the reference's sex, word error rate, real-time factor
GAIN_TARGET = {"woman": 0.20, "man": 0.10}
#: the level every output and reference is scaled to for the level-neutral similarity (Resemblyzer moves with the level)
NEUTRAL_LUFS = -23.0
WER_TARGET = 0.03
#: a reference whose measured band ends below this gets the shared-band similarities too
NARROWBAND_HZ = 7000.0
RTF_TARGET = 0.1


SHOW_ERRORS = False


def _wer(speak, label: str = "", draws: int = 1) -> tuple[float, float]:  # noqa: ANN001 - speak(script, index, draw) -> Speech
    """Word error rate pooled over the bench script, the held-out ones and ``draws`` noise draws; and draw 0's alone.

    Both voices sample noise (seeded: draw ``d`` is ``seed=d``), and one draw's errors are luck: plain joe made
    6, 4, 3, 2, 3, 3 errors in the same 106 words on draws 0-5. The product speaks draw 0."""
    errors = words = first = 0
    for draw in range(draws):
        for index, script in enumerate((voice_refs.SCRIPT, *voice_refs.HELD_OUT_SCRIPTS)):
            speech = speak(script, index, draw)
            heard = voice_refs.transcribe(speech.path)
            wrong, total = voice_refs.word_errors(script, heard)
            if wrong and SHOW_ERRORS:
                sys.stderr.write(f"[{label} draw {draw}] {wrong} error(s): heard {heard.strip()!r}\n")
            errors, words = errors + wrong, words + total
        if draw == 0:
            first = errors / max(1, words)
    return errors / max(1, words), first


def _identity_match(base_log_f0_mean: float) -> wb.VoiceMatch:
    """A match that changes nothing (same pitch, no warp, no tilt or timbre): what WORLD's round trip alone costs."""
    return wb.VoiceMatch(log_f0_mean=base_log_f0_mean, log_f0_std=0.0, f0_range_ratio=1.0, warp_factor=1.0, expected_warp=1.0,
                         tilt_db_per_octave=0.0, eq_db=tuple(0.0 for _ in wb.ENVELOPE_GRID_HZ), band_hz=(200.0, 4000.0),
                         length_scale=1.0, envelope_distance_db=0.0, distance_before_db=0.0)


def _round_trip_wer(folder: Path, draws: int, fast: bool) -> tuple[float, float]:
    """joe's word error rate after WORLD analysis and re-synthesis with nothing changed."""
    from render.voice.text import prepare

    identity = _identity_match(wb.WorldBackend().reference_stats("joe").log_f0_mean)

    def speak(text: str, index: int, draw: int):  # noqa: ANN202
        samples, rate, *_ = wb.base_synthesizer("joe", seed=draw).synthesize(list(prepare(text).sentences))
        path = write_wav(folder / f"round-trip-{index}.wav", wb.convert(samples, rate, identity, fast=fast), rate)
        return SimpleNamespace(path=path)

    return _wer(speak, f"joe WORLD round trip ({'fast' if fast else 'Harvest'})", draws)


def _shared_band_embeddings(paths: list[Path], cutoff_hz: float) -> list[np.ndarray]:
    """Embeddings of outputs cut to a narrowband reference's band, so both sides carry the same frequencies."""
    found = []
    for path in paths:
        samples, rate, _ = read_sample(path)
        # what convert's crossover adds back above its band, taken away: nothing left above cutoff_hz
        found.append(voice_refs.embedding(samples - wb._high_band(samples, rate, cutoff_hz).astype(np.float32), rate))
    return found


def _mean_similarity(reference: np.ndarray, embeddings: list[np.ndarray]) -> float:
    return float(np.mean([voice_refs.similarity(reference, e) for e in embeddings]))


def _prosody(path: Path) -> tuple[float | None, float]:
    """(median pause s, integrated loudness LUFS) of a WAV."""
    samples, rate, _ = read_sample(path)
    return prosody.median_pause_s(samples, rate), integrated_loudness(samples, rate)


def _mean_f0(path: Path) -> float:
    samples, rate, _ = read_sample(path)
    f0, _ = wb.track_f0(samples.astype(np.float64), rate, f0_range_hz=wb.SAMPLE_F0_RANGE_HZ)
    return float(np.exp(np.mean(np.log(f0[f0 > 0]))))


def _timed(function) -> tuple[float, float, object]:  # noqa: ANN001
    wall, cpu = time.perf_counter(), time.process_time()
    result = function()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def _pause(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def main() -> None:
    global SHOW_ERRORS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="speed runs per backend (median)")
    parser.add_argument("--before", action="store_true", help="also score joe's conversion as it was (Harvest, WORLD at 22 kHz)")
    parser.add_argument("--show-errors", action="store_true", help="print the transcripts that have word errors (stderr)")
    parser.add_argument("--only", default="", help="only the reference voices whose label contains this (e.g. radio); a quick look")
    parser.add_argument("--draws", type=int, default=4, help="noise draws (seeds) each similarity and WER is pooled over (default 4)")
    args = parser.parse_args()
    SHOW_ERRORS = args.show_errors
    references = [ref for ref in _references() if args.only.lower() in ref[0].lower()]
    if not references:
        sys.exit(f"no reference voice matches --only {args.only!r}" if args.only else
                 "no reference voice found: install Debian codec2-examples (make install)")
    load_start = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    folder = Path(tempfile.mkdtemp(prefix="reeltwin-bench-voice-"))
    script = voice_refs.SCRIPT
    bases = [name for name in wb.BASES if name == "joe" or wb._installed(wb.BASES[name].backend)]
    draws = max(1, args.draws)
    variants = [(base, True) for base in bases] + ([("joe", False)] if args.before else [])
    speed_contenders = sum(3 if base == "joe" else 2 for base in bases)
    progress = _progress()
    task = progress.add_task("plain base voices", total=len(bases) + 2 + len(references) * len(variants) + args.runs * speed_contenders)
    progress.start()
    try:
        plains, round_trip, rows, speed = _measure(args, references, bases, variants, draws, folder, script, progress, task)
    finally:
        progress.stop()
    _report(args, references, bases, draws, script, plains, round_trip, rows, speed, load_start)


def _progress():  # noqa: ANN202
    """A progress bar on stderr (the table goes to stdout)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=Console(stderr=True), refresh_per_second=2)


def _measure(args, references, bases, variants, draws, folder, script, progress, task):  # noqa: ANN001, ANN202, PLR0913
    """Every measurement: the plain bases, WORLD's round trip, each reference on each base, the speed runs."""
    plains = {}
    for base in bases:
        progress.update(task, description=f"plain {base}")
        wb.base_synthesizer(base).speak("Warm up.", folder / "warm.wav")
        spoken = [wb.base_synthesizer(base, seed=draw).speak(script, folder / f"plain-{base}-d{draw}.wav") for draw in range(draws)]
        speech = spoken[0]
        wer, wer_first = _wer(lambda text, i, d: wb.base_synthesizer(base, seed=d).speak(text, folder / f"plain-{base}-{i}.wav"),  # noqa: B023
                              f"{base} plain", draws)
        plains[base] = {"speech": speech, "paths": [s.path for s in spoken], "embeddings": [voice_refs.embedding(*read_sample(s.path)[:2]) for s in spoken],
                        "f0": _mean_f0(speech.path),
                        "neutral": [voice_refs.embedding(*read_sample(s.path)[:2], level_lufs=NEUTRAL_LUFS) for s in spoken],
                        "prosody": _prosody(speech.path), "wer": wer, "wer_first": wer_first}
        progress.advance(task)
    round_trip = {}
    for fast in (True, False):
        progress.update(task, description=f"joe through WORLD, nothing changed ({'fast' if fast else 'Harvest'})")
        round_trip[fast] = _round_trip_wer(folder, draws, fast)
        progress.advance(task)

    rows, speed_profiles = [], {}
    for label, sex, samples, rate in references:
        sample = write_wav(folder / f"{len(rows)}-ref.wav", samples, rate)
        reference = voice_refs.embedding(samples, rate)
        reference_neutral = voice_refs.embedding(samples, rate, level_lufs=NEUTRAL_LUFS)
        choice = wb.choose_base(samples, rate, wb.measure_voice(samples, rate))
        for base, fast in variants:
            progress.update(task, description=f"{label} on {base}{'' if fast else ' (before)'}")
            world = wb.WorldBackend(base=base, fast=fast)
            profile = VoiceProfileData(name=label, sample_path=sample)
            enroll_s, _, artifacts = _timed(lambda: world.enroll(profile, folder))  # noqa: B023
            profile = VoiceProfileData(name=label, sample_path=sample, artifacts={"piper-world": artifacts})
            stem = f"{len(rows)}-{base}-{'fast' if fast else 'before'}-matched"
            spoken = [wb.WorldBackend(base=base, fast=fast, seed=draw).speak(script, folder / f"{stem}-d{draw}.wav", profile=profile)
                      for draw in range(draws)]
            speech = spoken[0]
            match = artifacts["match"]
            name = base if fast else f"{base} (before)"
            wer, wer_first = _wer(lambda text, i, d: wb.WorldBackend(base=base, fast=fast, seed=d).speak(  # noqa: B023
                text, folder / f"{stem}-{i}.wav", profile=profile), f"{label} {name}", draws)  # noqa: B023
            rows.append({
                "voice": label, "sex": sex, "base": name, "chosen": choice["base"] == base and fast,
                "score": choice["scores"][base]["score"],
                "similarity_plain": _mean_similarity(reference, plains[base]["embeddings"]),
                "similarity_matched": _mean_similarity(reference, [voice_refs.embedding(*read_sample(s.path)[:2]) for s in spoken]),
                "similarity_joe": _mean_similarity(reference, plains["joe"]["embeddings"]),
                "neutral_matched": _mean_similarity(reference_neutral, [voice_refs.embedding(*read_sample(s.path)[:2], level_lufs=NEUTRAL_LUFS)
                                                                        for s in spoken]),
                "neutral_joe": _mean_similarity(reference_neutral, plains["joe"]["neutral"]),
                "wer": wer, "wer_first": wer_first,
                "wer_plain": plains[base]["wer"], "wer_plain_first": plains[base]["wer_first"],
                "f0_reference": math.exp(artifacts["sample"]["log_f0_mean"]), "f0_plain": plains[base]["f0"], "f0_matched": _mean_f0(speech.path),
                "pause_reference": artifacts["sample"].get("pause_s"), "pause_plain": plains[base]["prosody"][0],
                "loudness_reference": artifacts["sample"].get("loudness_lufs"),
                "prosody_matched": _prosody(speech.path),
                "warp": match["warp_factor"], "length_scale": match["length_scale"], "enroll_s": enroll_s, "profile": profile,
                "paths": [s.path for s in spoken], "reference": reference, "bandwidth_hz": artifacts["sample"]["bandwidth_hz"],
            })
            if choice["base"] == base and fast:
                speed_profiles.setdefault(base, profile)
            progress.advance(task)
    for base in bases:   # a base no reference chose is timed with the first reference's profile
        speed_profiles.setdefault(base, next(r["profile"] for r in rows if r["base"] == base))

    contenders = []
    for base in bases:
        plain_backend = wb.base_synthesizer(base)
        contenders.append((f"{base} (plain)", lambda i, b=plain_backend: b.speak(script, folder / f"speed-plain-{i}.wav")))
        for fast in ((True, False) if base == "joe" else (True,)):
            world = wb.WorldBackend(base=base, fast=fast)
            world.speak("Warm up.", folder / "warm.wav", profile=speed_profiles[base])
            name = f"{base} matched (piper-world)" if fast else f"{base} matched, before (Harvest, WORLD at 22 kHz)"
            contenders.append((name, lambda i, w=world, b=base: w.speak(script, folder / f"speed-world-{i}.wav", profile=speed_profiles[b])))
    timings: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name, _ in contenders}
    for index in range(args.runs):          # interleaved: each run times every backend once, so load swings hit all alike
        for name, speak in contenders:
            progress.update(task, description=f"speed run {index + 1}/{args.runs}: {name}")
            wall, cpu, result = _timed(lambda: speak(index))  # noqa: B023
            timings[name][0].append(wall / result.duration_s)
            timings[name][1].append(cpu / result.duration_s)
            progress.advance(task)
    speed = {name: (statistics.median(walls), statistics.median(cpus)) for name, (walls, cpus) in timings.items()}
    return plains, round_trip, rows, speed


def _report(args, references, bases, draws, script, plains, round_trip, rows, speed, load_start) -> None:  # noqa: ANN001, PLR0913
    """The markdown table: printed, and written to bench/results/voice.md (not with ``--only``)."""

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    durations = ", ".join(f"{base} {plains[base]['speech'].duration_s:.1f} s" for base in bases)
    words = sum(len(voice_refs.words_for_scoring(text)) for text in (script, *voice_refs.HELD_OUT_SCRIPTS))
    lines = [
        f"# Offline voice: base voices with and without matching — {time.strftime('%Y-%m-%d %H:%M')}",
        "",
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load average {load_start:.1f} at the start and {load:.1f} at the end "
        "(other engineers' jobs share the cores); "
        f"similarity script of {len(script.split())} words ({durations} plain). "
        f"Both voices sample noise (seeded): similarity and WER are over {draws} noise draws (seeds 0–{draws - 1}; the product speaks "
        "draw 0, whose WER is in brackets after the pooled one). "
        "Similarity: Resemblyzer cosine to the reference sample, on the bench script, mean over the draws; "
        f"WER: Whisper tiny.en, pooled over the draws, the bench script and {len(voice_refs.HELD_OUT_SCRIPTS)} held-out ones "
        f"({words} words a draw: one error is {1 / (words * draws):.1%} pooled, {1 / words:.1%} in draw 0); ★ = the base enrollment chooses (the probe spoken by each base matched, nearest by speaker embedding, a frame-matched base winning ties within {wb.FRAME_MATCHED_PREFERENCE}; choice score = that similarity + the tie preference). hibari's warp is chosen by the same probe (kept from the envelope search unless {wb.WARP_PROBE_MARGIN} nearer); the probe is the calibration paragraph's first sentences, not the bench's scripts. "
        "hibari-heart is matched on its own frames (pitch and spectra before its vocoder), joe through WORLD (fast pitch tracker, 16 kHz; "
        "\"before\": Harvest at 22 kHz). Pause: median silence between talking (s); loudness: BS.1770 integrated (LUFS), "
        f"the sample's clamped to {prosody.LOUDNESS_RANGE_LUFS[0]:.0f}..{prosody.LOUDNESS_RANGE_LUFS[1]:.0f}. "
        "Level-neutral: the same similarity with the reference and every output first scaled to "
        f"{NEUTRAL_LUFS:.0f} LUFS (Resemblyzer lifts quiet audio to -30 dBFS but never lowers loud audio, and reads a linear mel "
        "spectrogram, so matching the sample's loudness moves its score; this column is timbre and prosody alone).",
        "",
        "| reference voice | base | choice score | similarity plain → matched (gain over plain joe) | level-neutral matched (gain) | WER matched [draw 0] (plain [draw 0]) "
        "| mean F0 ref / plain / matched | pause ref / plain / matched | loudness ref / matched | warp | length scale | enroll s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        pause_matched, loudness_matched = r["prosody_matched"]
        loudness_reference = "–" if r["loudness_reference"] is None else f"{r['loudness_reference']:.1f}"
        lines.append(
            f"| {r['voice']} | {r['base']}{' ★' if r['chosen'] else ''} | {r['score']:.3f} "
            f"| {r['similarity_plain']:.3f} → **{r['similarity_matched']:.3f}** ({r['similarity_matched'] - r['similarity_joe']:+.3f}) "
            f"| {r['neutral_matched']:.3f} ({r['neutral_matched'] - r['neutral_joe']:+.3f}) "
            f"| {r['wer']:.1%} [{r['wer_first']:.1%}] ({r['wer_plain']:.1%} [{r['wer_plain_first']:.1%}]) | {r['f0_reference']:.0f} / {r['f0_plain']:.0f} / {r['f0_matched']:.0f} Hz "
            f"| {_pause(r['pause_reference'])} / {_pause(r['pause_plain'])} / {_pause(pause_matched)} "
            f"| {loudness_reference} / {loudness_matched:.1f} "
            f"| {r['warp']:.3f} | {r['length_scale']:.3f} | {r['enroll_s']:.1f} |"
        )
    plain_cpu = {base: speed[f"{base} (plain)"][1] for base in bases}
    lines += ["", f"What WORLD's analysis and re-synthesis alone cost joe's intelligibility (nothing changed: same pitch, no warp or "
              f"timbre), WER over {draws} draws: plain {plains['joe']['wer']:.1%}, round trip with the fast pitch tracker at 16 kHz "
              f"(what matching uses) {round_trip[True][0]:.1%}, with Harvest at 22 kHz {round_trip[False][0]:.1%}."]
    narrow = [r for r in rows if r["bandwidth_hz"] < NARROWBAND_HZ]
    if narrow:
        lines += ["", f"A narrowband reference (under {NARROWBAND_HZ / 1000:.0f} kHz) says nothing above its band, while every output "
                  "carries full band. The same similarities with each output first low-passed to the reference's measured band "
                  "(both sides then carry the same frequencies; the reels are never cut so):", "",
                  "| reference voice | band | base | plain joe full → shared band | matched full → shared band | gain full → shared band |",
                  "|---|---|---|---|---|---|"]
        for r in narrow:
            joe_shared = _mean_similarity(r["reference"], _shared_band_embeddings(plains["joe"]["paths"], r["bandwidth_hz"]))
            shared = _mean_similarity(r["reference"], _shared_band_embeddings(r["paths"], r["bandwidth_hz"]))
            lines.append(f"| {r['voice']} | {r['bandwidth_hz'] / 1000:.1f} kHz | {r['base']}{' ★' if r['chosen'] else ''} "
                         f"| {r['similarity_joe']:.3f} → {joe_shared:.3f} | {r['similarity_matched']:.3f} → {shared:.3f} "
                         f"| {r['similarity_matched'] - r['similarity_joe']:+.3f} → {shared - joe_shared:+.3f} |")
    names = [label for label, *_ in references]
    cross = {label: voice_refs.embedding(samples, rate) for label, _, samples, rate in references}
    lines += ["", "The reference voices against each other (Resemblyzer cosine, full band): how near another real person comes.", "",
              "| | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for a in names:
        lines.append(f"| {a} | " + " | ".join("–" if a == b else f"{voice_refs.similarity(cross[a], cross[b]):.3f}" for b in names) + " |")
    lines += ["", "| backend | real-time factor (wall) | CPU s per s of speech | CPU vs its plain base |", "|---|---|---|---|"]
    for name, (wall, cpu) in speed.items():
        lines.append(f"| {name} | {wall:.3f} | {cpu:.3f} | {cpu / plain_cpu[name.split()[0]]:.2f}× |")
    lines += ["", f"median of {args.runs} interleaved runs each, same process, models loaded first; matched speed with the profile of a "
              "reference that chose the base.",
              "", "Targets for the base enrollment chooses (gain ≥ 0.20 woman, ≥ 0.10 man; WER ≤ 3 % and within 1 point of the plain base; "
              "real-time factor ≤ 0.1):", ""]
    for r in (r for r in rows if r["chosen"]):
        gain = r["similarity_matched"] - r["similarity_joe"]
        rtf = speed[f"{r['base']} matched (piper-world)"][0]
        verdict = lambda ok: "met" if ok else "NOT met"  # noqa: E731
        neutral = r["neutral_matched"] - r["neutral_joe"]
        lines.append(f"- {r['voice']} → {r['base']}: gain {gain:+.3f} {verdict(gain >= GAIN_TARGET[r['sex']])} "
                     f"(level-neutral {neutral:+.3f} {verdict(neutral >= GAIN_TARGET[r['sex']])}); "
                     f"WER {r['wer']:.1%} {verdict(r['wer'] <= WER_TARGET and r['wer'] <= r['wer_plain'] + 0.01)}; "
                     f"RTF {rtf:.3f} {verdict(rtf <= RTF_TARGET)}")
    table = "\n".join(lines) + "\n"
    sys.stdout.write(table)
    if args.only:
        sys.stderr.write("--only: bench/results/voice.md is left as it was (it holds every reference voice)\n")
        return
    out = REPO / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "voice.md").write_text(table, encoding="utf-8")


if __name__ == "__main__":
    main()
