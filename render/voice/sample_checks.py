"""Enrollment checks for a creator's voice sample: decode it, measure it, judge it, prepare the canonical copy.

``read_sample`` turns anything ffmpeg reads into mono float32 at the file's own rate;
``analyze`` measures it (speech time, levels, clipping, SNR, loudness, pitch and
two heuristic flags); ``check`` turns the measurements into warnings or a
:class:`SampleError` whose message names the sample and the fix; ``prepare``
trims, resamples and loudness-normalizes the sample for the voice backends
(``render.media.audio.write_wav`` stores it as mono 16-bit PCM). Decoding,
resampling and loudness themselves live in ``render.media``.

How things are measured (all on a 16 kHz copy unless said otherwise):

- *Speech*: WebRTC VAD, aggressiveness 2, on 30 ms frames. Quiet input is
  first brought up (loudest frames to -30 dBFS, at most +-20 dB; not when the
  loudest frames are under -65 dBFS, i.e. a file of hiss), and the VAD's
  adaptive background model is primed with the file's 30 quietest frames, or
  it calls the first second of a file speech. Raw decisions are smoothed:
  speech runs shorter than 90 ms are dropped (clicks), then every speech run is
  extended by a 150 ms hangover and a 60 ms onset lead, which also bridges the
  short gaps between words. ``speech_s`` is therefore "talking time",
  including the pauses inside phrases.
- *SNR* (0-8 kHz band): mean power of speech frames (minus the noise) over the
  noise power, the median power of non-speech frames; with fewer than 0.3 s of
  non-speech, the 10th percentile of all frames' power. Capped at 100 dB.
- *Loudness*: ITU-R BS.1770 integrated loudness (K-weighting, 400 ms blocks,
  -70 LUFS absolute and -10 LU relative gates). The two K-weighting biquads
  are applied as a zero-phase magnitude response in the FFT domain (no scipy);
  block energies differ from the recursive filter by well under 0.1 dB.
- *Levels*: ``peak_dbfs`` is the sample peak; ``rms_dbfs`` the RMS of the whole
  file, both relative to full scale (a full-scale square wave is 0 dBFS).
- *Clipping*: samples in runs of 2 or more at ``|x| >= 0.999``, plus runs of 3 or
  more sitting within 0.1 % of the file's own peak when that peak is above
  -6 dBFS (audio clipped before it was turned down). Lossy codecs smear
  plateaus with ringing, so clipping under MP3/AAC is undercounted.
- *Pitch*: WORLD Harvest (pyworld) on the speech regions, 60-500 Hz, 10 ms
  frames, on at most ``PITCH_BUDGET_S`` seconds of speech (evenly spaced 2 s
  pieces when there is more), because Harvest costs about 0.2 s per second of
  audio. DIO is 20x faster but tracked the bundled male Piper voice an octave
  high on about a quarter of its frames, which wrecks the median and the
  speaker heuristic. ``voiced_ratio`` is the voiced share of speech time;
  ``f0_range_semitones`` spans the 10th to the 90th percentile.

The two heuristics, and what they miss:

- ``music_likely``: music holds notes, speech glides. A *held note* is 300 ms
  or more of voiced frames within +-0.5 semitone of where it started;
  ``steady_pitch_ratio`` is the share of voiced frames inside held notes.
  Music is likely when that share is at least 15 % and the held notes sit on at
  least two different pitches (one pitch all through is a hum or a whistle).
  Measured: Piper speech 0 %, clean or noisy; a chord progression alone 99 %;
  speech over it 12 dB down 35-53 %, 22 dB down 14-20 % (borderline). Misses:
  music mixed more than ~20 dB under the voice, unpitched music (drums), fast
  melodies without held notes. False alarms: singing, chanting, long held
  vowels ("sooo"), a hum whose pitch drifts between two values.
- ``several_speakers_likely``: speakers differ most reliably in their pitch
  *baseline* (intonation moves the median far more). The pitch track is cut
  into 2 s windows of talking time; each window with at least 20 % voiced
  frames gives its 25th-percentile F0 in semitones; the best 1-D two-means
  split of those values must leave at least 20 % (and 2) of the windows on
  each side, centres ``SPEAKER_GAP_SEMITONES`` (6) or more apart and a clean
  split (Ashman's D >= 3). Measured on the expressive Piper voice: one
  speaker 2-4 semitones, a second voice at 1.8x the pitch 8-11. Needs about
  8 s of speech. Misses: two speakers of similar pitch (two men, two women), a
  second voice under 20 % of the time, overlapping talk; unreliable under
  15 dB SNR, which ``check`` reports first. False alarms: one speaker
  switching between a normal and a falsetto or child-like voice for long
  stretches.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from render import RenderError
from render.media.audio import FLOOR_DB, as_mono, decode, integrated_loudness, power_db, resample
from render.media.ffmpeg import INSTALL_FIX, ToolErrors, ffmpeg_reason, find_tools
from render.media.probe import probe

log = logging.getLogger(__name__)

# What a usable sample looks like (check() enforces these).
MIN_SPEECH_S = 6.0
MAX_SPEECH_S = 60.0
MAX_FILE_S = 90.0
MIN_SPEECH_SHARE = 0.30
MAX_CLIPPED_RATIO = 0.01
MILD_CLIPPED_RATIO = 1e-4
MIN_SNR_DB = 15.0
GOOD_SNR_DB = 25.0
MIN_RATE_HZ = 16000
F0_USUAL_HZ = (70.0, 300.0)
QUIET_PEAK_DBFS = -45.0

# read_sample() refuses files longer than this: nothing past 90 s is usable, and a
# long file costs memory (the duration is reported from the container).
MAX_DECODE_S = 180.0
DECODE_TIMEOUT_S = 60.0

VAD_RATE_HZ = 16000
FRAME_S = 0.03
FRAME = int(VAD_RATE_HZ * FRAME_S)  # 480 samples
VAD_AGGRESSIVENESS = 2
PITCH_BUDGET_S = 20.0
PITCH_FRAME_S = 0.01
MUSIC_STEADY_RATIO = 0.15
STEADY_MIN_S = 0.3
STEADY_TOLERANCE_SEMITONES = 0.5
SPEAKER_WINDOW_S = 2.0
SPEAKER_GAP_SEMITONES = 6.0
TRIM_KEEP_S = 0.15
PEAK_CEILING_DBFS = -1.0
SAMPLE_HINT = "record 6 to 60 s of you talking"
#: Under this voiced share of the sound there is no voice in it (whispering still has more; it only gets a warning under 20 %).
MIN_VOICED_RATIO = 0.02


class SampleError(RenderError):
    """A voice sample cannot be used: the message names the sample and what to do instead."""


@dataclass(frozen=True)
class SampleStats:
    """What ``analyze`` measured. Ratios are 0..1; levels in dB relative to full scale."""

    duration_s: float
    speech_s: float
    silence_ratio: float
    peak_dbfs: float
    rms_dbfs: float
    clipped_ratio: float
    snr_db: float                # 0.0 when no speech was found
    loudness_lufs: float
    sample_rate_hz: int
    f0_median_hz: float          # 0.0 when no voiced speech was found
    f0_range_semitones: float    # 10th to 90th percentile of voiced frames
    voiced_ratio: float          # share of speech time that is voiced
    music_likely: bool
    several_speakers_likely: bool
    steady_pitch_ratio: float    # evidence for music_likely: share of voiced time in held notes
    f0_cluster_gap_semitones: float  # evidence for several_speakers_likely; 0.0 when unimodal

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------- reading


def _errors(label: str) -> ToolErrors:
    return ToolErrors(error=RenderError, timeout_error=SampleError, cannot_start="install ffmpeg or pass its path",
                      damaged="export it again as WAV or M4A")


def describe_sample(path: Path, *, ffmpeg: str | None = None, timeout_s: float = 20.0) -> dict[str, Any]:
    """Container format, codec, sample rate, channels and duration of ``path``'s first audio stream.

    Uses the ffprobe installed beside ``ffmpeg`` when there is one, else parses
    ``ffmpeg -i``. Raises :class:`SampleError` for anything that is not readable audio.
    """
    path = Path(path)
    label = f"sample {path.name!r}"
    _check_file(path, label)
    tools = find_tools(ffmpeg, error=RenderError, fix=f"{INSTALL_FIX} or pass its path")

    def unreadable(stderr: bytes) -> SampleError:
        return SampleError(f"{label}: not an audio file ffmpeg can read ({ffmpeg_reason(stderr, path)}); export it as WAV, MP3, M4A, OGG or FLAC")

    info = probe(path, tools, timeout_s=timeout_s, label=label, errors=_errors(label), unreadable=unreadable)
    audio = info.audio
    if audio is None:
        kinds = sorted(set(info.stream_kinds)) or ["nothing"]
        raise SampleError(f"{label}: has no audio stream (it holds {', '.join(kinds)}); pick the file with your recorded voice")
    return {
        "format": ",".join(info.format_names),
        "codec": audio.codec,
        "sample_rate_hz": audio.sample_rate_hz or None,
        "channels": audio.channels,
        "duration_s": audio.duration_s or info.duration_s,
        "bit_rate_bps": audio.bitrate_bps or info.bit_rate_bps,
        "probe": info.source,
    }


def _check_file(path: Path, label: str) -> None:
    if not path.exists():
        raise SampleError(f"{label}: no such file ({str(path)!r}); check the path")
    if path.is_dir():
        raise SampleError(f"{label}: is a folder; pass the audio file itself")
    if not path.is_file():
        raise SampleError(f"{label}: is not a regular file; save the recording to a file first")
    if not os.access(path, os.R_OK):
        raise SampleError(f"{label}: cannot be read (permission denied); fix its permissions or copy it somewhere readable")
    if path.stat().st_size == 0:
        raise SampleError(f"{label}: the file is empty (0 bytes); {SAMPLE_HINT}")


def read_sample(
    path: Path,
    *,
    ffmpeg: str | None = None,
    timeout_s: float = DECODE_TIMEOUT_S,
    max_duration_s: float = MAX_DECODE_S,
) -> tuple[np.ndarray, int, dict[str, Any]]:
    """Decode any audio ffmpeg reads to mono float32 in [-1, 1] at the file's own sample rate.

    Returns ``(samples, rate, info)``; ``info`` holds the container ``format``,
    ``codec``, original ``sample_rate_hz``, ``channels``, ``duration_s`` and
    ``bit_rate_bps`` (None where unknown). Channels are averaged. Raises
    :class:`SampleError` naming the file when it is missing, empty, not audio,
    has no audio stream, is damaged or longer than ``max_duration_s``.
    """
    path = Path(path)
    label = f"sample {path.name!r}"
    info = describe_sample(path, ffmpeg=ffmpeg, timeout_s=min(20.0, timeout_s))
    tools = find_tools(ffmpeg, error=RenderError, fix=f"{INSTALL_FIX} or pass its path")
    if info["duration_s"] and info["duration_s"] > max_duration_s:
        raise SampleError(f"{label}: is {_minutes(info['duration_s'])} long; trim it to 6 to 60 s of you talking")
    rate = info["sample_rate_hz"]
    if not rate or rate <= 0:
        raise SampleError(f"{label}: its audio stream has no sample rate ({info['codec']}); export it again as WAV or M4A")
    channels = info["channels"]

    def undecodable(stderr: bytes) -> SampleError:
        return SampleError(f"{label}: cannot be decoded ({ffmpeg_reason(stderr, path)}); export it again as WAV or M4A")

    decoded = decode(path, ffmpeg=tools.ffmpeg, rate_hz=rate, label=label, errors=_errors(label), unreadable=undecodable,
                     timeout_s=timeout_s, channels=channels, max_duration_s=max_duration_s)
    samples = decoded.samples
    if samples.size == 0:
        raise SampleError(f"{label}: holds no audio samples; {SAMPLE_HINT}")
    if samples.size >= int(max_duration_s * rate) - 1:
        raise SampleError(f"{label}: is longer than {max_duration_s:.0f} s; trim it to 6 to 60 s of you talking")
    if decoded.stderr.strip():
        log.info("%s: ffmpeg reported: %s", label, ffmpeg_reason(decoded.stderr, path))
    # Lossy decoders overshoot full scale a little; the contract is [-1, 1].
    samples = np.clip(np.nan_to_num(samples), -1.0, 1.0)
    info["decoded_rate_hz"] = rate
    log.debug("%s: %s/%s, %s Hz, %s ch, %.2f s", label, info["format"], info["codec"], rate, channels, samples.size / rate)
    return samples, rate, info


def _minutes(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{int(seconds // 60)} min {int(seconds % 60)} s"


# --------------------------------------------------------------------------- measurements


def _clipped_ratio(x: np.ndarray) -> float:
    if x.size == 0:
        return 0.0
    magnitude = np.abs(x)
    peak = float(magnitude.max())

    def in_runs(mask: np.ndarray, min_run: int) -> np.ndarray:
        keep = np.zeros(mask.size, dtype=bool)
        for start, end in _runs(mask):
            if end - start >= min_run:
                keep[start:end] = True
        return keep

    clipped = in_runs(magnitude >= 0.999, 2)
    if 0.5 <= peak < 0.999:  # flat tops below full scale: clipped, then turned down
        clipped |= in_runs(magnitude >= 0.999 * peak, 3)
    return float(clipped.mean())


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.diff(padded)
    return list(zip(np.nonzero(edges == 1)[0].tolist(), np.nonzero(edges == -1)[0].tolist(), strict=True))


def _frame_powers(x16: np.ndarray) -> np.ndarray:
    count = x16.size // FRAME
    return np.mean(x16[: count * FRAME].reshape(count, FRAME) ** 2, axis=1)


def _speech_frames(x16: np.ndarray) -> np.ndarray:
    """Smoothed WebRTC VAD decisions, one per 30 ms frame of a 16 kHz signal."""
    import webrtcvad

    powers = _frame_powers(x16)
    if powers.size == 0:
        return np.zeros(0, dtype=bool)
    loudest = float(np.percentile(powers, 95))
    # Quiet recordings are brought up (loudest frames to -30 dBFS, +-20 dB at most); a file that is all
    # noise floor is left alone, or the VAD would take the amplified hiss for speech.
    gain_db = float(np.clip(-30.0 - power_db(loudest), -20.0, 20.0)) if power_db(loudest) > -65.0 else 0.0
    pcm = np.clip(x16[: powers.size * FRAME] * 10 ** (gain_db / 20) * 32767.0, -32768, 32767).astype("<i2")
    frames = [pcm[i * FRAME : (i + 1) * FRAME].tobytes() for i in range(powers.size)]
    vad = webrtcvad.Vad(VAD_AGGRESSIVENESS)
    # The VAD learns the background as it goes and calls the first frames of a file speech until it has.
    # Teach it first with the file's 30 quietest frames, so the decisions start right at the start.
    for index in np.argsort(powers, kind="stable")[:30]:
        vad.is_speech(frames[index], VAD_RATE_HZ)
    raw = np.fromiter((vad.is_speech(frame, VAD_RATE_HZ) for frame in frames), dtype=bool, count=len(frames))
    speech = np.zeros_like(raw)
    hangover, lead = 5, 2  # 150 ms after, 60 ms before each run
    for start, end in _runs(raw):
        if end - start >= 3:  # shorter than 90 ms: a click, not speech
            speech[max(0, start - lead) : min(raw.size, end + hangover)] = True
    return speech


def _snr_db(powers: np.ndarray, speech: np.ndarray) -> float:
    if powers.size == 0 or not speech.any():
        return 0.0
    quiet = powers[~speech]
    noise = float(np.median(quiet)) if quiet.size * FRAME_S >= 0.3 else float(np.percentile(powers, 10))
    noise = max(noise, 1e-10)
    signal = float(powers[speech].mean()) - noise
    if signal <= 0:
        return 0.0
    return float(min(100.0, 10 * math.log10(signal / noise)))


def _pitch(x16: np.ndarray, speech: np.ndarray) -> np.ndarray:
    """Harvest F0 (Hz, 0 where unvoiced) at 10 ms steps over the speech, in time order, within the budget."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyworld 0.3.5 imports the deprecated pkg_resources
        import pyworld

    spans = [(start * FRAME, end * FRAME) for start, end in _runs(speech)]
    total = sum(end - start for start, end in spans)
    if total == 0:
        return np.zeros(0)
    budget = int(PITCH_BUDGET_S * VAD_RATE_HZ)
    if total > budget:
        # Evenly spaced 2 s pieces of speech, so a long sample is judged over its whole length.
        piece = int(SPEAKER_WINDOW_S * VAD_RATE_HZ)
        pieces = [(first, min(end, first + piece)) for start, end in spans for first in range(start, end, piece)]
        keep = max(1, budget // piece)
        spans = [pieces[int(i * len(pieces) / keep)] for i in range(min(keep, len(pieces)))]
    f0_parts = []
    for start, end in spans:
        segment = x16[start:end].astype(np.float64)
        if segment.size < int(0.1 * VAD_RATE_HZ):
            continue
        f0, _ = pyworld.harvest(segment, VAD_RATE_HZ, f0_floor=60.0, f0_ceil=500.0, frame_period=PITCH_FRAME_S * 1000)
        f0_parts.append(f0)
    return np.concatenate(f0_parts) if f0_parts else np.zeros(0)


def _speaker_split(f0: np.ndarray) -> float:
    """Gap in semitones between two well-separated groups of 2 s windows by pitch baseline, or 0.0 when there are not two."""
    window = int(round(SPEAKER_WINDOW_S / PITCH_FRAME_S))
    baselines = []
    for start in range(0, f0.size - window // 2, window):
        voiced = f0[start : start + window]
        voiced = voiced[voiced > 0]
        if voiced.size >= 0.2 * window:
            # The 25th percentile: a speaker's baseline moves far less with intonation than the median does.
            baselines.append(12 * math.log2(float(np.percentile(voiced, 25)) / 100.0))
    values = np.sort(np.array(baselines))
    if values.size < 4:
        return 0.0
    best: tuple[float, np.ndarray, np.ndarray] | None = None
    for cut in range(2, values.size - 1):
        low, high = values[:cut], values[cut:]
        spread = float(low.var() * low.size + high.var() * high.size)
        if best is None or spread < best[0]:
            best = (spread, low, high)
    assert best is not None
    _, low, high = best
    gap = float(high.mean() - low.mean())
    ashman = math.sqrt(2) * gap / math.sqrt(low.var() + high.var() + 1e-6)
    log.debug("pitch baselines: %d windows at %.1f st, %d at %.1f st (re 100 Hz), D=%.1f", low.size, low.mean(), high.size, high.mean(), ashman)
    if min(low.size, high.size) < 0.2 * values.size:
        return 0.0
    return gap if gap >= SPEAKER_GAP_SEMITONES and ashman >= 3.0 else 0.0


def _steady_pitch(f0: np.ndarray) -> tuple[float, int]:
    """Share of voiced frames in held notes (300 ms or more within +-0.5 semitone), and how many distinct pitches they hold."""
    voiced = f0 > 0
    if not voiced.any():
        return 0.0, 0
    semitones = np.where(voiced, 12 * np.log2(np.maximum(f0, 1e-3) / 100.0), np.nan)
    held = int(round(STEADY_MIN_S / PITCH_FRAME_S))
    steady = np.zeros(f0.size, dtype=bool)
    pitches: set[int] = set()
    for run_start, run_end in _runs(voiced):
        start = run_start
        while run_end - start >= held:
            reference = semitones[start]
            off = np.nonzero(np.abs(semitones[start:run_end] - reference) > STEADY_TOLERANCE_SEMITONES)[0]
            end = start + int(off[0]) if off.size else run_end
            if end - start >= held:
                steady[start:end] = True
                pitches.add(int(round(float(np.median(semitones[start:end])))))
                start = end
            else:
                start += 1
    return float(steady.sum() / voiced.sum()), len(pitches)


def analyze(samples: np.ndarray, rate: int) -> SampleStats:
    """Measure a mono sample (any rate, float in [-1, 1] or integer PCM). See the module docstring for the methods."""
    if rate <= 0:
        raise ValueError(f"rate must be positive, got {rate!r}")
    x = as_mono(samples)
    duration_s = x.size / rate
    if x.size == 0:
        return SampleStats(
            duration_s=0.0, speech_s=0.0, silence_ratio=1.0, peak_dbfs=FLOOR_DB, rms_dbfs=FLOOR_DB, clipped_ratio=0.0,
            snr_db=0.0, loudness_lufs=FLOOR_DB, sample_rate_hz=int(rate), f0_median_hz=0.0, f0_range_semitones=0.0,
            voiced_ratio=0.0, music_likely=False, several_speakers_likely=False, steady_pitch_ratio=0.0,
            f0_cluster_gap_semitones=0.0,
        )  # fmt: skip
    x16 = resample(x, rate, VAD_RATE_HZ).astype(np.float64)
    powers = _frame_powers(x16)
    speech = _speech_frames(x16)
    speech_s = float(speech.sum() * FRAME_S)
    f0 = _pitch(x16, speech)
    voiced = f0[f0 > 0]
    if voiced.size:
        p10, p50, p90 = np.percentile(voiced, [10, 50, 90])
        f0_median, f0_range = float(p50), float(12 * math.log2(p90 / p10))
    else:
        f0_median = f0_range = 0.0
    steady, pitches = _steady_pitch(f0)
    gap = _speaker_split(f0)
    peak = float(np.abs(x).max())
    stats = SampleStats(
        duration_s=round(duration_s, 3),
        speech_s=round(min(speech_s, duration_s), 3),
        silence_ratio=round(1.0 - min(1.0, speech_s / duration_s), 4),
        peak_dbfs=round(20 * math.log10(peak) if peak > 1e-6 else FLOOR_DB, 2),
        rms_dbfs=round(power_db(float(np.mean(x * x))), 2),
        clipped_ratio=round(_clipped_ratio(x), 6),
        snr_db=round(_snr_db(powers, speech), 2),
        loudness_lufs=round(integrated_loudness(x, rate), 2),
        sample_rate_hz=int(rate),
        f0_median_hz=round(f0_median, 1),
        f0_range_semitones=round(f0_range, 2),
        voiced_ratio=round(float(voiced.size / f0.size) if f0.size else 0.0, 3),
        # One held pitch all through is a hum or a whistle, not music.
        music_likely=steady >= MUSIC_STEADY_RATIO and pitches >= 2,
        several_speakers_likely=gap > 0,
        steady_pitch_ratio=round(steady, 3),
        f0_cluster_gap_semitones=round(gap, 2),
    )
    log.debug("sample stats: %s", stats)
    return stats


# --------------------------------------------------------------------------- judging


def check(stats: SampleStats, *, name: str, what: str = "sample", min_speech_s: float = MIN_SPEECH_S, max_speech_s: float = MAX_SPEECH_S,
          max_file_s: float = MAX_FILE_S, hint: str = SAMPLE_HINT) -> list[str]:
    """Warnings about a usable sample; raises :class:`SampleError` with the first hard problem, in the order a user should fix them.

    The defaults judge an enrollment sample; a reel's own recording (``agent.enrollment.reel_audio``) passes its
    own length limits, ``what`` ("recording") and ``hint`` (what to record instead) through the same checks."""
    label = f"{what} {name!r}"
    if stats.duration_s > max_file_s:
        within = "with 6 to 60 s of you talking" if hint == SAMPLE_HINT else f"({hint})"
        raise SampleError(f"{label}: the file is {_minutes(stats.duration_s)} long; trim it to at most {_minutes(max_file_s)} {within}")
    if stats.music_likely:
        raise SampleError(f"{label}: music likely ({stats.steady_pitch_ratio:.0%} of its voiced sound holds steady notes); record again with no music playing")
    if stats.clipped_ratio > MAX_CLIPPED_RATIO:
        raise SampleError(f"{label}: {stats.clipped_ratio:.1%} of it is clipped (distorted); record again with the input level turned down")
    if stats.speech_s >= 1.0 and stats.voiced_ratio < MIN_VOICED_RATIO:
        # Sound, but no voice in it (a tone, a hum, noise): say that, not "too noisy".
        raise SampleError(f"{label}: no speech found ({stats.speech_s:.1f} s of sound, {stats.voiced_ratio:.0%} of it voiced); {hint}")
    if stats.snr_db < MIN_SNR_DB and stats.speech_s >= 1.0:  # no speech, no SNR: the speech check below says so
        raise SampleError(f"{label}: too noisy (SNR {stats.snr_db:.0f} dB, need {MIN_SNR_DB:.0f}); record again in a quiet room, close to the microphone")
    if stats.several_speakers_likely:
        raise SampleError(
            f"{label}: several speakers likely (two voices {stats.f0_cluster_gap_semitones:.0f} semitones apart); record only yourself talking"
        )
    if stats.speech_s < min_speech_s:
        if stats.peak_dbfs < QUIET_PEAK_DBFS:
            raise SampleError(
                f"{label}: only {stats.speech_s:.1f} s of speech, and it is nearly silent (peak {stats.peak_dbfs:.0f} dBFS); check the microphone and {hint}"
            )
        raise SampleError(f"{label}: only {stats.speech_s:.1f} s of speech; {hint}")
    if stats.speech_s > max_speech_s:
        raise SampleError(f"{label}: {stats.speech_s:.0f} s of speech; trim it to at most {_minutes(max_speech_s)} of you talking")
    if stats.speech_s < MIN_SPEECH_SHARE * stats.duration_s:
        raise SampleError(
            f"{label}: mostly silence ({stats.speech_s:.1f} s of speech in {stats.duration_s:.1f} s); trim the silence or {hint}"
        )
    warnings = []
    if stats.sample_rate_hz < MIN_RATE_HZ:
        warnings.append(f"{label}: recorded at {stats.sample_rate_hz} Hz (phone-call quality); a 16 kHz or better recording clones better")
    if stats.snr_db < GOOD_SNR_DB:
        warnings.append(f"{label}: some background noise (SNR {stats.snr_db:.0f} dB); a quieter room gives a cleaner voice")
    if stats.clipped_ratio > MILD_CLIPPED_RATIO:
        warnings.append(f"{label}: slightly clipped ({stats.clipped_ratio:.2%} of samples); turn the input level down a little next time")
    low, high = F0_USUAL_HZ
    if stats.f0_median_hz and not low <= stats.f0_median_hz <= high:
        warnings.append(f"{label}: unusual pitch (median {stats.f0_median_hz:.0f} Hz); check that it is you talking normally, not singing or a sped-up file")
    elif stats.f0_median_hz and stats.f0_range_semitones < 2.0:
        warnings.append(f"{label}: very monotone (pitch range {stats.f0_range_semitones:.1f} semitones); speak as you would in a reel")
    if stats.voiced_ratio < 0.2:
        warnings.append(f"{label}: little voiced speech ({stats.voiced_ratio:.0%}); whispering clones poorly, speak in your normal voice")
    for warning in warnings:
        log.info("%s", warning)
    return warnings


# --------------------------------------------------------------------------- preparing


def _limit(x: np.ndarray, rate: int, ceiling: float) -> np.ndarray:
    """Look-ahead peak limiter: a smooth gain that never lets a sample past ``ceiling`` (1 ms blocks, 20 ms attack and release)."""
    magnitude = np.abs(x)
    if magnitude.max() <= ceiling:
        return x
    block = max(1, rate // 1000)
    count = -(-x.size // block)
    padded = np.concatenate([magnitude, np.zeros(count * block - x.size)])
    needed = np.minimum(1.0, ceiling / np.maximum(padded.reshape(count, block).max(axis=1), 1e-12))
    width = 20
    # A minimum over +-(width+2) blocks then a mean over +-width keeps every block's gain at or under what it needs,
    # and so does the linear interpolation between neighbouring blocks below.
    edge = np.pad(needed, width + 2, mode="edge")
    minimum = np.lib.stride_tricks.sliding_window_view(edge, 2 * (width + 2) + 1).min(axis=1)
    smooth = np.convolve(np.pad(minimum, width, mode="edge"), np.ones(2 * width + 1) / (2 * width + 1), mode="valid")
    centres = (np.arange(count) + 0.5) * block
    gain = np.interp(np.arange(x.size), centres, smooth)
    return np.clip(x * gain, -ceiling, ceiling)


def speech_span(samples: np.ndarray, rate: int, *, keep_s: float = TRIM_KEEP_S) -> tuple[int, int]:
    """First and last sample to keep: the VAD's speech, plus ``keep_s`` either side."""
    x = as_mono(samples)
    speech = _speech_frames(resample(x, rate, VAD_RATE_HZ).astype(np.float64))
    if not speech.any():
        raise SampleError(f"no speech found in the sample; {SAMPLE_HINT}")
    frames = np.nonzero(speech)[0]
    start_s, end_s = frames[0] * FRAME_S - keep_s, (frames[-1] + 1) * FRAME_S + keep_s
    return max(0, int(start_s * rate)), min(x.size, int(math.ceil(end_s * rate)))


def prepare(samples: np.ndarray, rate: int, *, target_rate: int = 22050, target_lufs: float = -20.0) -> np.ndarray:
    """The canonical enrollment audio: silence trimmed (150 ms kept), resampled, at ``target_lufs`` with peaks at most -1 dBFS.

    Loudness is BS.1770 integrated loudness (:func:`integrated_loudness`); where
    reaching it would push peaks past -1 dBFS, a look-ahead limiter holds them
    there and the gain is re-measured (three rounds at most).
    """
    x = as_mono(samples)
    start, end = speech_span(x, rate)
    x = x[start:end]
    x = x - x.mean()
    y = resample(x, rate, target_rate).astype(np.float64)
    ceiling = 10 ** (PEAK_CEILING_DBFS / 20)
    for _ in range(3):
        loudness = integrated_loudness(y, target_rate)
        if loudness <= FLOOR_DB:
            break
        error_db = target_lufs - loudness
        if abs(error_db) < 0.1:
            break
        y = _limit(y * 10 ** (error_db / 20), target_rate, ceiling)
    log.debug("prepared: %.2f s at %d Hz, %.1f LUFS", y.size / target_rate, target_rate, integrated_loudness(y, target_rate))
    return np.clip(y, -ceiling, ceiling).astype(np.float32)
