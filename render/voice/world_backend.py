"""``piper-world``: the bundled Piper voice, matched to the creator's sample with the WORLD vocoder (pyworld).

This is *voice matching*, not cloning. From the enrollment sample it learns a
handful of numbers and curves, and moves the Piper voice toward them:

- **Pitch.** Log-F0 mean and standard deviation over voiced frames. At speaking
  time each voiced frame's log-F0 is mapped linearly, so the utterance's mean
  lands on the sample's mean and its range scales by the ratio of the two
  standard deviations (clamped to ``F0_RANGE_RATIO``).
- **Vocal tract.** The average log spectral envelope (WORLD CheapTrick, voiced
  frames) of the sample and of a calibration paragraph spoken by Piper. A
  frequency-warp factor ``alpha`` (new envelope at f = Piper's at f/alpha) is
  found by a search over ``WARP_RANGE`` minimising the distance between the two
  average log-envelopes once each candidate's best straight line in
  dB-per-octave is taken out, plus a gentle pull toward the warp the pitch
  ratio predicts (vocal-tract length and pitch go together across speakers;
  without it a 5 s sample's vowel mix chose 0.84 for a woman, whose formants
  sit higher than Piper's man's, not lower). The line is the *tilt correction*, and a heavily
  smoothed rest (±``EQ_LIMIT_DB``) the *timbre correction*. Only the band the
  sample really carries is compared (an 8 kHz phone recording says nothing
  about 6 kHz), and the corrections are held flat above it. Formants (median
  LPC roots of the sample's envelopes) are measured and reported, not used:
  the warp search is more robust on short samples.
- **Speaking rate.** Syllable nuclei per second of talking (intensity peaks in
  the 300-3500 Hz band at voiced frames, pauses left out), for the sample and
  for the calibration paragraph; their ratio is Piper's ``length_scale``
  (clamped to ``LENGTH_SCALE_RANGE``). Piper's phoneme and word timings are
  estimated on the audio it produced at that rate, and WORLD keeps the time
  axis, so the timings stay true.
- **Pauses and loudness** (``prosody``): the sample's median pause over the
  base voice's (at the length scale above, which stretches the model's own
  pauses too) scales every pause between words (the timings move with the
  audio), and the speech is scaled to the sample's integrated loudness
  (clamped to -30..-16 LUFS). Both are applied after the voice is made, for
  every base.

F0 is tracked with Harvest where accuracy counts more than time: the sample at
enrollment and the base voices' calibration. At speaking time joe's audio is
tracked by ``pitch.track_f0_fast`` (YIN on all frames at once, refined by
StoneMask) and WORLD runs at ``CONVERT_RATE_HZ`` (16 kHz; what the recording
carries above 8 kHz is added back where it is unvoiced): 1.25-1.3x plain
Piper's CPU, where Harvest at 22 kHz on every utterance cost 2.3-2.5x (4.4x
before Piper's threads stopped spinning; ``bench/voice.py``). Harvest always
works on 1 ms frames with 40 channels per octave (0.13 s of CPU per second of
speech here). DIO + StoneMask costs a tenth as much but put 28-41 %
of the bundled voice's voiced frames an octave high and disagreed with Harvest
on voicing for a third of the frames: resynthesized, those become squeaks.
Measured on joe's speech (bench scripts, 2 busy cores, CPU seconds per second
of speech): the fast tracker costs 0.008-0.010 (Harvest 0.130), and WORLD at
16 kHz with 10 ms frames about 0.03 (0.055 at 22 kHz and 5 ms). Where both
call a frame voiced, it agrees with Harvest within 20 % on 91.5 % of them; the
rest are joe's creaky stretches, where YIN takes the double period. It voices
only clearly periodic frames (``pitch.VOICING``; Harvest voices a third more),
which matched the men better: codec2 man similarity 0.61 at 0.15, 0.57 at
0.35, 0.53 at 0.7 (Harvest's path 0.615); 10 ms frames rather than 5 gave
0.610 vs 0.603 (radio man 0.583 vs 0.561), 12 kHz rather than 16 lost 0.01-0.04.
A match that raises joe's pitch more than ``FAST_PITCH_MAX_SHIFT_OCTAVES``
above his calibrated mean (a woman's voice from joe, when hibari is missing or
``--base joe`` is asked for) is still tracked by Harvest: there YIN's
double-period frames would sit an octave under her voice (mean pitch 14 %
low instead of 8 %), so that case costs what it did.
pyworld holds the GIL, so threads would not help. Silences between sentences
are not analysed at all.

The hibari base is matched without WORLD: its model predicts the pitch and
the spectra its vocoder turns into sound (``hibari_backend.Frames``), so the
same pitch map, warp and corrections are applied to those before the vocoder
(``frame_edit``): a real-time factor of 0.020 (plain hibari 0.017) where WORLD
cost 0.15; speaker similarity 0.74 against 0.72 through WORLD for the alsa-utils
woman, 0.68 against 0.73 for the codec2 woman (``bench/voice.py``).
Piper's joe has no such frames; it stays on WORLD. Measured and not kept for
joe (real-time factor still above 0.1, or the man's similarity gain lost):
DIO at any ceiling (42 % of frames an octave off Harvest), Harvest on 8 kHz
audio or at 10 ms frames (10-15 % less CPU, more word errors), and pitch by
resampling plus a cepstral envelope warp (RTF +0.013, but the man's gain fell
from +0.12 to +0.02: it cannot narrow the pitch range), and WORLD on each
sentence in a second thread while Piper speaks the next (no faster on cores
already busy, and the sentence-by-sentence pitch mean lost 0.02 similarity).

The bundled voice's own measurements ship in ``piper_world_reference.json``
(three readings of ``CALIBRATION_TEXT`` averaged), so measuring takes a second
or two and gives the same match every time; another Piper model is measured
once per process.

Which base, and hibari's warp, are chosen by ear (``choose_and_match``,
``probe_warp``; with resemblyzer): each base speaks a probe matched to the
sample and the speaker encoder says which output is nearest, hibari winning
unless joe is clearly nearer (it keeps every word; joe through WORLD loses
some). Enrolling then takes 6-9 s. Measured 2026-12-07 (bench/voice.py): a man
on hibari moved down to him (warp 0.76) scored as near as joe through WORLD
with no word errors, where the envelope search alone had stopped at warp 0.88.

What it cannot do: the accent, the rhythm of phrases, breathiness, vocal fry
and the fine structure that makes a voice recognisable stay Piper's. Speaker
similarity moves measurably toward the sample (see ``bench/voice.py``); it does
not become the creator's voice.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from render.media.audio import write_wav
from render.types import Speech
from render.voice import pitch, prosody
from render.voice.base import VoiceError, VoiceProfileData, register
from render.voice.piper_backend import PiperBackend

log = logging.getLogger(__name__)

ARTIFACTS_VERSION = 1
FRAME_PERIOD_MS = 5.0
#: speaking-time conversion of joe (``convert(fast=True)``): WORLD's rate and frame period
CONVERT_RATE_HZ = 16000
CONVERT_FRAME_PERIOD_MS = 10.0
#: the fast pitch tracker serves matches that raise joe's mean pitch (as calibrated) less than this; Harvest bigger raises
FAST_PITCH_MAX_SHIFT_OCTAVES = 0.3
#: the bundled Piper voice's pitch lives here (5th-95th percentile 80-236 Hz)
SOURCE_F0_RANGE_HZ = (60.0, 300.0)
#: any speaking voice (enrollment, Harvest)
SAMPLE_F0_RANGE_HZ = (55.0, 500.0)
WARP_RANGE = (0.80, 1.30)
WARP_STEP = 0.005
WARP_PRIOR_EXPONENT = 0.3       # expected warp = (sample F0 / Piper F0) ** this
WARP_PRIOR_WEIGHT_DB = 20.0     # dB of envelope distance per (ln(alpha / expected))**2: 10 % off costs 0.2 dB
F0_RANGE_RATIO = (0.5, 2.0)
TILT_LIMIT_DB_PER_OCTAVE = 6.0
EQ_LIMIT_DB = 6.0
EQ_SMOOTH_OCTAVES = 0.5
LENGTH_SCALE_RANGE = (0.8, 1.25)
SYLLABLES_PER_WORD = 1.45        # English running speech, for the words-per-minute estimate
ENVELOPE_GRID_HZ = tuple(float(f) for f in np.round(np.geomspace(80.0, 10000.0, 96), 1))
COMPARE_BAND_HZ = (200.0, 7500.0)

# About 24 s of varied English (statements, a list, questions) for measuring the Piper voice as the sample is
# measured. Shorter texts moved the measured syllable rate by 25 % between runs: the rate needs this much.
CALIBRATION_TEXT = (
    "Hi, I'm glad you're here. Today I want to show you three things I wish I had known sooner. "
    "First, keep it simple: one pan, good oil, and a hot stove. "
    "Second, taste as you go, because every kitchen and every tomato is a little different. "
    "And third, don't be afraid to make mistakes. That is how you actually learn. "
    "Would you try this tonight? Tell me in the comments, and I'll see you in the next video."
)


@dataclass(frozen=True)
class VoiceStats:
    """What characterises one voice for matching. Frequencies in Hz, levels in dB, rate in syllables per second."""

    log_f0_mean: float            # natural log of F0 in Hz, voiced frames
    log_f0_std: float
    f0_median_hz: float
    envelope_db: tuple[float, ...]    # average log spectral envelope at ENVELOPE_GRID_HZ (voiced frames, mean removed)
    bandwidth_hz: float           # the highest frequency the recording carries
    formants_hz: tuple[float, float, float]
    tilt_db_per_octave: float     # slope of envelope_db over 200 Hz .. min(bandwidth, 7.5 kHz)
    syllables_per_s: float        # articulation rate: syllable nuclei per second of talking
    pause_s: float | None = None          # median pause between stretches of talking (``prosody.median_pause_s``)
    loudness_lufs: float | None = None    # integrated loudness (BS.1770)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VoiceStats:
        optional = lambda name: None if data.get(name) is None else float(data[name])  # noqa: E731 - measured since prosody matching
        return cls(
            log_f0_mean=float(data["log_f0_mean"]), log_f0_std=float(data["log_f0_std"]), f0_median_hz=float(data["f0_median_hz"]),
            envelope_db=tuple(float(v) for v in data["envelope_db"]), bandwidth_hz=float(data["bandwidth_hz"]),
            formants_hz=tuple(float(v) for v in data["formants_hz"]),  # type: ignore[arg-type]
            tilt_db_per_octave=float(data["tilt_db_per_octave"]), syllables_per_s=float(data["syllables_per_s"]),
            pause_s=optional("pause_s"), loudness_lufs=optional("loudness_lufs"),
        )


@dataclass(frozen=True)
class VoiceMatch:
    """How to turn the bundled voice into the enrolled one."""

    log_f0_mean: float            # the sample's
    log_f0_std: float
    f0_range_ratio: float         # sample's log-F0 std over Piper's (clamped)
    warp_factor: float            # > 1 moves formants up (a shorter vocal tract)
    expected_warp: float          # the prior from the pitch ratio
    tilt_db_per_octave: float     # added to Piper's envelope around 1 kHz
    eq_db: tuple[float, ...]      # smooth timbre correction at ENVELOPE_GRID_HZ (tilt not included)
    band_hz: tuple[float, float]  # where the corrections were measured; held flat outside
    length_scale: float           # Piper's duration multiplier
    envelope_distance_db: float   # RMS distance of the average envelopes after warp and tilt (before: see distance_before_db)
    distance_before_db: float
    pause_scale: float = 1.0              # every pause between words times this (the sample's median pause over the base's)
    loudness_lufs: float | None = None    # the speech is scaled to this integrated loudness (None: left as synthesized)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VoiceMatch:
        return cls(
            log_f0_mean=float(data["log_f0_mean"]), log_f0_std=float(data["log_f0_std"]), f0_range_ratio=float(data["f0_range_ratio"]),
            warp_factor=float(data["warp_factor"]), expected_warp=float(data["expected_warp"]), tilt_db_per_octave=float(data["tilt_db_per_octave"]),
            eq_db=tuple(float(v) for v in data["eq_db"]), band_hz=(float(data["band_hz"][0]), float(data["band_hz"][1])),
            length_scale=float(data["length_scale"]), envelope_distance_db=float(data["envelope_distance_db"]),
            distance_before_db=float(data["distance_before_db"]), pause_scale=float(data.get("pause_scale", 1.0)),
            loudness_lufs=None if data.get("loudness_lufs") is None else float(data["loudness_lufs"]),
        )


# --------------------------------------------------------------------------- measuring a voice


def _pyworld() -> Any:
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pyworld 0.3.5 imports the deprecated pkg_resources
            import pyworld
    except ImportError:
        raise VoiceError("pyworld is not installed; run `make install` (pip install 'reeltwin[local]')") from None
    return pyworld


def track_f0(x: np.ndarray, rate: int, *, f0_range_hz: tuple[float, float] = SOURCE_F0_RANGE_HZ,
             frame_period_ms: float = FRAME_PERIOD_MS) -> tuple[np.ndarray, np.ndarray]:
    """F0 (Hz, 0 where unvoiced) and frame times at ``frame_period_ms``, by WORLD Harvest."""
    pyworld = _pyworld()
    low, high = f0_range_hz
    return pyworld.harvest(np.ascontiguousarray(x, dtype=np.float64), rate, f0_floor=low, f0_ceil=high, frame_period=frame_period_ms)


def _envelopes(x: np.ndarray, rate: int, f0: np.ndarray, times: np.ndarray) -> np.ndarray:
    pyworld = _pyworld()
    return pyworld.cheaptrick(np.ascontiguousarray(x, dtype=np.float64), f0, times, rate)


def _average_envelope_db(spectrogram: np.ndarray, f0: np.ndarray, rate: int) -> np.ndarray:
    """Mean log envelope (dB) of the voiced frames, resampled onto ENVELOPE_GRID_HZ, mean level removed."""
    voiced = spectrogram[f0 > 0]
    if voiced.shape[0] == 0:
        raise VoiceError("no voiced speech found to measure the voice; record yourself talking in your normal voice")
    mean_db = np.mean(10.0 * np.log10(np.maximum(voiced, 1e-16)), axis=0)
    freqs = np.linspace(0.0, rate / 2, spectrogram.shape[1])
    grid = np.interp(ENVELOPE_GRID_HZ, freqs, mean_db)
    return grid - grid.mean()


def estimate_bandwidth(x: np.ndarray, rate: int) -> float:
    """The highest frequency the recording carries: where its long-term spectrum falls 45 dB under the voice band."""
    size = 1024
    count = x.size // size
    if count < 2:
        return rate / 2
    frames = x[: count * size].reshape(count, size) * np.hanning(size)
    power = np.mean(np.abs(np.fft.rfft(frames, axis=1)) ** 2, axis=0)
    level = 10.0 * np.log10(np.maximum(power, 1e-20))
    freqs = np.fft.rfftfreq(size, 1.0 / rate)
    voice_band = level[(freqs >= 300) & (freqs <= 3000)]
    if voice_band.size == 0:
        return rate / 2
    carried = np.nonzero(level > np.median(voice_band) - 45.0)[0]
    return float(freqs[carried[-1]]) if carried.size else rate / 2


def _levinson(r: np.ndarray, order: int) -> np.ndarray:
    a = np.zeros(order + 1)
    a[0] = 1.0
    error = r[0]
    for i in range(1, order + 1):
        if error <= 0:
            break
        k = -(r[i] + np.dot(a[1:i], r[i - 1 : 0 : -1])) / error
        a[1 : i + 1] = a[1 : i + 1] + k * np.concatenate([a[i - 1 : 0 : -1], [1.0]])
        error *= 1.0 - k * k
    return a


def estimate_formants(spectrogram: np.ndarray, f0: np.ndarray, rate: int, *, limit_hz: float) -> tuple[float, float, float]:
    """Median F1-F3 (Hz) from LPC roots of the voiced frames' envelopes (every 4th frame), within ``limit_hz``."""
    frames = spectrogram[f0 > 0][::4]
    order = 2 + int(min(rate, 2 * limit_hz) / 1000)
    found: list[list[float]] = [[], [], []]
    for envelope in frames:
        r = np.fft.irfft(envelope)[: order + 1]
        if r[0] <= 0:
            continue
        roots = np.roots(_levinson(r, order))
        roots = roots[np.imag(roots) > 0]
        freqs = np.angle(roots) * rate / (2 * math.pi)
        bandwidths = -np.log(np.maximum(np.abs(roots), 1e-9)) * rate / math.pi
        candidates = np.sort(freqs[(freqs > 150) & (freqs < limit_hz) & (bandwidths < 500)])
        for index in range(min(3, candidates.size)):
            found[index].append(float(candidates[index]))
    return tuple(round(float(np.median(values)), 1) if values else 0.0 for values in found)  # type: ignore[return-value]


def _tilt(envelope_db: np.ndarray, band: tuple[float, float]) -> tuple[float, float]:
    """Slope (dB per octave) and intercept at 1 kHz of the envelope's straight line over ``band``."""
    grid = np.array(ENVELOPE_GRID_HZ)
    inside = (grid >= band[0]) & (grid <= band[1])
    octaves = np.log2(grid[inside] / 1000.0)
    slope, intercept = np.polyfit(octaves, envelope_db[inside], 1)
    return float(slope), float(intercept)


def syllable_rate(x: np.ndarray, rate: int, f0: np.ndarray, times: np.ndarray) -> float:
    """Syllable nuclei per second of talking: voiced peaks of the 300-3500 Hz intensity with a 2 dB dip between them.

    Talking time is the time above the intensity floor, with pauses longer than
    300 ms left out: an articulation rate, so a slow starter or long breaths do
    not count as slow speech.
    """
    hop = int(rate * 0.01)
    size = int(rate * 0.04)
    count = max(0, (x.size - size) // hop + 1)
    if count < 10:
        return 0.0
    index = np.arange(size)[None, :] + hop * np.arange(count)[:, None]
    spectrum = np.abs(np.fft.rfft(x[index] * np.hanning(size), axis=1)) ** 2
    freqs = np.fft.rfftfreq(size, 1.0 / rate)
    band = (freqs >= 300) & (freqs <= 3500)
    intensity = 10.0 * np.log10(np.maximum(spectrum[:, band].sum(axis=1), 1e-12))
    intensity = np.convolve(intensity, np.ones(3) / 3, mode="same")
    frame_times = (np.arange(count) * hop + size / 2) / rate
    voiced = np.interp(frame_times, times, (f0 > 0).astype(float)) > 0.5
    floor = float(np.percentile(intensity, 95)) - 25.0
    loud = intensity > floor
    # Talking time: loud frames, bridging gaps up to 300 ms.
    talking = loud.copy()
    quiet_runs = np.flatnonzero(np.diff(np.concatenate([[1], loud.astype(int), [1]])))
    for start, end in zip(quiet_runs[::2], quiet_runs[1::2], strict=False):
        if end - start <= 30 and start > 0 and end < count:
            talking[start:end] = True
    talking_s = float(talking.sum()) * 0.01
    if talking_s < 1.0:
        return 0.0
    peaks = []
    last_valley = math.inf
    candidate: int | None = None
    for i in range(1, count - 1):
        level = intensity[i]
        if candidate is not None and intensity[candidate] - level >= 2.0:
            peaks.append(candidate)
            candidate, last_valley = None, level
        if intensity[i - 1] < level >= intensity[i + 1] and loud[i] and voiced[i] and level - last_valley >= 2.0:
            if candidate is None or level > intensity[candidate]:
                candidate = i
        last_valley = min(last_valley, level)
    if candidate is not None:
        peaks.append(candidate)
    return len(peaks) / talking_s


def measure_voice(samples: np.ndarray, rate: int, *, f0_range_hz: tuple[float, float] = SAMPLE_F0_RANGE_HZ) -> VoiceStats:
    """Measure the pitch, average envelope, formants, tilt and speaking rate of mono speech."""
    x = np.asarray(samples, dtype=np.float64)
    # Only the sounding stretches: Piper's digital silences between sentences cost Harvest time for nothing.
    tracks = [(f0, times + start / rate) for start, end in _sounding_segments(x, rate) if end - start >= int(0.05 * rate)
              for f0, times in [track_f0(x[start:end], rate, f0_range_hz=f0_range_hz)]]
    if not tracks:
        raise VoiceError("no sound found to measure the voice; record yourself talking in your normal voice")
    f0, times = np.concatenate([t[0] for t in tracks]), np.concatenate([t[1] for t in tracks])
    voiced = f0[f0 > 0]
    if voiced.size < 50:
        raise VoiceError("less than a quarter second of voiced speech found; record yourself talking in your normal voice")
    log_f0 = np.log(voiced)
    spectrogram = _envelopes(x, rate, f0, times)
    envelope = _average_envelope_db(spectrogram, f0, rate)
    bandwidth = min(estimate_bandwidth(x, rate), rate / 2)
    band = (COMPARE_BAND_HZ[0], min(COMPARE_BAND_HZ[1], 0.95 * bandwidth))
    slope, _ = _tilt(envelope, band)
    return VoiceStats(
        log_f0_mean=round(float(log_f0.mean()), 5),
        log_f0_std=round(float(log_f0.std()), 5),
        f0_median_hz=round(float(np.median(voiced)), 1),
        envelope_db=tuple(round(float(v), 3) for v in envelope),
        bandwidth_hz=round(bandwidth, 1),
        formants_hz=estimate_formants(spectrogram, f0, rate, limit_hz=min(5000.0, 0.95 * bandwidth)),
        tilt_db_per_octave=round(slope, 3),
        syllables_per_s=round(syllable_rate(x, rate, f0, times), 3),
        pause_s=prosody.median_pause_s(x, rate),
        loudness_lufs=prosody.sample_loudness_lufs(x, rate),
    )


# --------------------------------------------------------------------------- matching


def _warped(envelope_db: np.ndarray, alpha: float) -> np.ndarray:
    """The envelope with its frequency axis stretched by ``alpha`` (value at f taken from f/alpha)."""
    grid = np.array(ENVELOPE_GRID_HZ)
    return np.interp(grid / alpha, grid, envelope_db)


def _smooth_log_frequency(values: np.ndarray, octaves: float) -> np.ndarray:
    grid = np.log2(np.array(ENVELOPE_GRID_HZ))
    step = float(grid[1] - grid[0])
    sigma = octaves / 2.355 / step  # FWHM of `octaves`
    radius = int(math.ceil(3 * sigma))
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    kernel /= kernel.sum()
    return np.convolve(np.pad(values, radius, mode="edge"), kernel, mode="valid")


def estimate_match(source: VoiceStats, target: VoiceStats, *, warp: float | None = None) -> VoiceMatch:
    """The pitch, warp, tilt, timbre and rate corrections that move ``source`` (Piper) toward ``target`` (the sample).

    ``warp``: use this warp factor (the tilt and timbre corrections are then measured after it) instead of searching."""
    grid = np.array(ENVELOPE_GRID_HZ)
    band = (COMPARE_BAND_HZ[0], min(COMPARE_BAND_HZ[1], 0.95 * target.bandwidth_hz, 0.95 * source.bandwidth_hz))
    if band[1] - band[0] < 1000:
        raise VoiceError(f"the sample carries only up to {target.bandwidth_hz:.0f} Hz; record at 16 kHz or better")
    inside = (grid >= band[0]) & (grid <= band[1])
    octaves = np.log2(grid[inside] / 1000.0)
    src, tgt = np.array(source.envelope_db), np.array(target.envelope_db)

    def residual(alpha: float) -> tuple[float, np.ndarray, float, float]:
        difference = tgt[inside] - _warped(src, alpha)[inside]
        slope, intercept = np.polyfit(octaves, difference, 1)
        slope = float(np.clip(slope, -TILT_LIMIT_DB_PER_OCTAVE, TILT_LIMIT_DB_PER_OCTAVE))
        rest = difference - (slope * octaves + intercept)
        rest -= rest.mean()
        return float(np.sqrt(np.mean(rest**2))), rest, slope, float(intercept)

    # Vocal tract length and pitch go together across speakers (men vs women: formants ~1.17x, F0 ~1.8x,
    # so alpha ~ F0 ratio ** 0.27): a prior that keeps a short sample's vowel mix from pulling the warp astray.
    prior = math.exp(WARP_PRIOR_EXPONENT * (target.log_f0_mean - source.log_f0_mean))
    alphas = np.arange(WARP_RANGE[0], WARP_RANGE[1] + WARP_STEP / 2, WARP_STEP)
    if warp is None:
        scores = [residual(float(alpha))[0] + WARP_PRIOR_WEIGHT_DB * math.log(alpha / prior) ** 2 for alpha in alphas]
        best = float(alphas[int(np.argmin(scores))])
    else:
        best = float(warp)
    distance, rest, slope, _ = residual(best)
    before = float(np.sqrt(np.mean(((tgt - src)[inside] - (tgt - src)[inside].mean()) ** 2)))
    eq = np.zeros(grid.size)
    eq[inside] = rest
    eq = np.clip(_smooth_log_frequency(eq, EQ_SMOOTH_OCTAVES), -EQ_LIMIT_DB, EQ_LIMIT_DB)
    eq[grid < band[0]] = eq[inside][0]
    eq[grid > band[1]] = eq[inside][-1]
    ratio = float(np.clip(target.log_f0_std / max(source.log_f0_std, 1e-3), *F0_RANGE_RATIO))
    if source.syllables_per_s > 0 and target.syllables_per_s > 0:
        length_scale = float(np.clip(source.syllables_per_s / target.syllables_per_s, *LENGTH_SCALE_RANGE))
    else:
        length_scale = 1.0
    return VoiceMatch(
        log_f0_mean=target.log_f0_mean, log_f0_std=target.log_f0_std, f0_range_ratio=round(ratio, 4),
        warp_factor=round(best, 4), expected_warp=round(prior, 4), tilt_db_per_octave=round(slope, 3), eq_db=tuple(round(float(v), 3) for v in eq),
        band_hz=(round(band[0], 1), round(band[1], 1)), length_scale=round(length_scale, 4),
        envelope_distance_db=round(distance, 3), distance_before_db=round(before, 3),
        # The base's pauses stretch with its length scale already (the model times them): scale what is left.
        pause_scale=prosody.pause_scale(target.pause_s, source.pause_s * length_scale if source.pause_s else None),
        loudness_lufs=prosody.target_loudness_lufs(target.loudness_lufs),
    )


def _correction_db(match: VoiceMatch, freqs: np.ndarray, *, timbre: bool) -> np.ndarray:
    """Tilt (+ timbre) correction in dB at ``freqs``; held at the band's edges outside it."""
    low, high = match.band_hz
    clipped = np.clip(np.maximum(freqs, 1.0), low, high)
    tilt = match.tilt_db_per_octave * np.log2(clipped / 1000.0)
    if not timbre:
        return tilt
    return tilt + np.interp(clipped, ENVELOPE_GRID_HZ, match.eq_db)


def _sounding_segments(x: np.ndarray, rate: int, *, gap_s: float = 0.1) -> list[tuple[int, int]]:
    """Stretches of ``x`` between digital silences longer than ``gap_s`` (Piper's pauses between sentences)."""
    silent = np.abs(x) < 1e-4
    edges = np.flatnonzero(np.diff(np.concatenate([[0], silent.astype(np.int8), [0]])))
    cuts = [(start, end) for start, end in zip(edges[::2], edges[1::2], strict=True) if end - start >= gap_s * rate]
    segments, position = [], 0
    for start, end in cuts:
        if start > position:
            segments.append((position, start))
        position = end
    if position < x.size:
        segments.append((position, x.size))
    return segments


def _high_band(piece: np.ndarray, rate: int, cutoff_hz: float) -> np.ndarray:
    """What ``piece`` carries above ``cutoff_hz`` (a linear crossover over the 5 % below it, complementing ``fft_resample``)."""
    spectrum = np.fft.rfft(piece)
    freqs = np.fft.rfftfreq(piece.size, 1.0 / rate)
    spectrum *= np.clip((freqs - 0.95 * cutoff_hz) / (0.05 * cutoff_hz), 0.0, 1.0)
    return np.fft.irfft(spectrum, piece.size)


def convert(samples: np.ndarray, rate: int, match: VoiceMatch, *, timbre: bool = True,
            f0_range_hz: tuple[float, float] = SOURCE_F0_RANGE_HZ, fast: bool = True, base_log_f0_mean: float | None = None) -> np.ndarray:
    """Resynthesize ``samples`` with the matched pitch and envelope; same length, same loudness (RMS).

    Silences between sentences are skipped (and stay silent); the log-F0 mean
    and range are mapped over the whole utterance, not sentence by sentence.
    ``fast`` (the default): pitch by ``pitch.track_f0_fast`` and WORLD at
    ``CONVERT_RATE_HZ`` (what the recording carries above that band is added
    back where it is unvoiced); otherwise Harvest and WORLD at the recording's
    own rate, as before (``bench/voice.py --before`` compares the two).
    Even when ``fast``, a match that raises the pitch more than
    ``FAST_PITCH_MAX_SHIFT_OCTAVES`` above the base's (``base_log_f0_mean``,
    natural log of Hz; else this utterance's) is tracked by Harvest.
    """
    pyworld = _pyworld()
    x = np.ascontiguousarray(samples, dtype=np.float64)
    segments = [(start, end) for start, end in _sounding_segments(x, rate) if end - start >= int(0.05 * rate)]
    work_rate = min(rate, CONVERT_RATE_HZ) if fast else rate
    period = CONVERT_FRAME_PERIOD_MS if fast else FRAME_PERIOD_MS
    pieces = [np.ascontiguousarray(pitch.fft_resample(x[start:end], rate, work_rate)) for start, end in segments]
    tracker = pitch.track_f0_fast if fast else track_f0
    tracks = [tracker(piece, work_rate, f0_range_hz=f0_range_hz, frame_period_ms=period) for piece in pieces]
    voiced_log_f0 = np.concatenate([np.log(f0[f0 > 0]) for f0, _ in tracks] or [np.zeros(0)])
    base_mean = base_log_f0_mean if base_log_f0_mean is not None else (float(voiced_log_f0.mean()) if voiced_log_f0.size else 0.0)
    if fast and voiced_log_f0.size and match.log_f0_mean - base_mean > FAST_PITCH_MAX_SHIFT_OCTAVES * math.log(2):
        # A big move up (a woman's pitch from joe's): YIN's double-period picks in joe's creaky stretches would land
        # an octave under the rest of her voice, so Harvest tracks it, as before. (Moving down, they stay creak.)
        tracks = [track_f0(piece, work_rate, f0_range_hz=f0_range_hz, frame_period_ms=period) for piece in pieces]
        voiced_log_f0 = np.concatenate([np.log(f0[f0 > 0]) for f0, _ in tracks] or [np.zeros(0)])
    if voiced_log_f0.size < 20:
        return np.asarray(samples, dtype=np.float32)
    source_mean = float(voiced_log_f0.mean())
    y = np.zeros_like(x)
    correction: np.ndarray | None = None
    for (start, end), piece, (f0, times) in zip(segments, pieces, tracks, strict=True):
        spectrogram = pyworld.cheaptrick(piece, f0, times, work_rate)
        aperiodicity = pyworld.d4c(piece, f0, times, work_rate)
        voiced = f0 > 0
        new_f0 = np.zeros_like(f0)
        new_f0[voiced] = np.clip(np.exp((np.log(f0[voiced]) - source_mean) * match.f0_range_ratio + match.log_f0_mean), 50.0, 600.0)
        bins = spectrogram.shape[1]
        if correction is None:
            # Frequency warp: bin k of the new envelope reads the old one at k/alpha (linear interpolation in log power).
            position = np.minimum(np.arange(bins) / match.warp_factor, bins - 1)
            lower = np.floor(position).astype(int)
            upper = np.minimum(lower + 1, bins - 1)
            weight = position - lower
            correction = _correction_db(match, np.linspace(0.0, work_rate / 2, bins), timbre=timbre) * (math.log(10) / 10)
        log_sp = np.log(np.maximum(spectrogram, 1e-16))
        warped = (1 - weight) * log_sp[:, lower] + weight * log_sp[:, upper]
        warped += correction
        out = pyworld.synthesize(new_f0, np.ascontiguousarray(np.exp(warped)), aperiodicity, work_rate, period)
        original = x[start:end]
        size = end - start
        if work_rate != rate:
            out = pitch.fft_resample(out, work_rate, rate)
        out = out[:size] if out.size >= size else np.pad(out, (0, size - out.size))
        if work_rate != rate:
            # Above WORLD's band: the recording's own sound, where it is unvoiced (fricatives, breath). Voiced frames
            # keep none of it: their harmonics there would still follow the old pitch.
            unvoiced = 1.0 - np.interp(np.arange(size) / rate, times, voiced.astype(np.float64))
            out = out + _high_band(original, rate, work_rate / 2) * unvoiced
        # Each sentence keeps its loudness; the fade avoids a click where WORLD's last frame ends.
        rms_in, rms_out = float(np.sqrt(np.mean(original**2))), float(np.sqrt(np.mean(out**2)))
        if rms_out > 0:
            out *= rms_in / rms_out
        fade = min(size // 2, int(0.005 * rate))
        if fade:
            ramp = np.linspace(0.0, 1.0, fade)
            out[:fade] *= ramp
            out[-fade:] *= ramp[::-1]
        y[start:end] = out
    peak = float(np.abs(y).max())
    if peak > 0.98:
        y *= 0.98 / peak
    return y.astype(np.float32)


def frame_edit(match: VoiceMatch, *, timbre: bool = True) -> Callable[[list[Any]], list[Any]]:
    """The same pitch map, warp and corrections as ``convert``, applied to hibari's frames before its vocoder.

    hibari's model predicts its pitch and its spectra (``hibari_backend.Frames``),
    so nothing is analysed and nothing resynthesized: the cost is about that of
    plain hibari (real-time factor 0.020 against 0.017 plain and 0.15 through WORLD).
    """
    from render.voice.hibari_backend import SAMPLE_RATE_HZ, VOICED_HZ

    def edit(chunks: list[Any]) -> list[Any]:
        voiced_log_f0 = np.concatenate([np.log(c.f0_hz[c.f0_hz >= VOICED_HZ]) for c in chunks])
        if voiced_log_f0.size < 20:
            return chunks
        source_mean = float(voiced_log_f0.mean())
        bins = chunks[0].harmonic_log.shape[0]
        # Bin k of the new spectra reads the old ones at k/alpha (linear interpolation of the logs).
        position = np.minimum(np.arange(bins) / match.warp_factor, bins - 1)
        lower = np.floor(position).astype(int)
        upper = np.minimum(lower + 1, bins - 1)
        weight = (position - lower)[:, None].astype(np.float32)
        correction = (_correction_db(match, np.linspace(0.0, SAMPLE_RATE_HZ / 2, bins), timbre=timbre) * (math.log(10) / 20))[:, None].astype(np.float32)

        def warped(values: np.ndarray) -> np.ndarray:
            return (1 - weight) * values[lower] + weight * values[upper]

        edited = []
        for chunk in chunks:
            voiced = chunk.f0_hz >= VOICED_HZ
            f0 = chunk.f0_hz.copy()
            f0[voiced] = np.clip(np.exp((np.log(f0[voiced]) - source_mean) * match.f0_range_ratio + match.log_f0_mean), 50.0, 600.0)
            edited.append(replace(chunk, harmonic_log=warped(chunk.harmonic_log) + correction, harmonic_phase=warped(chunk.harmonic_phase),
                                  noise_log=warped(chunk.noise_log) + correction, residual_log=warped(chunk.residual_log) + correction,
                                  residual_phase=warped(chunk.residual_phase), f0_hz=f0.astype(np.float32)))
        return edited

    return edit


# --------------------------------------------------------------------------- the backend


#: The bundled voice measured once (``python -m render.voice.world_backend --calibrate``, 3 readings averaged),
#: so enrolling costs seconds, not a 24 s calibration reading, and gives the same match every time.
SHIPPED_REFERENCE = Path(__file__).with_name("piper_world_reference.json")


def calibrate(model_path: Path | None, *, readings: int = 3, base: str = "joe") -> VoiceStats:
    """Measure a base voice on ``CALIBRATION_TEXT`` (``readings`` syntheses averaged: Piper varies its prosody)."""
    from render.voice.text import prepare

    synthesizer = base_synthesizer(base, model_path=model_path)
    measured = []
    for reading in range(readings):
        if base != "joe":
            # hibari's shipped reference averages three noise draws; joe's was measured on draw 0 (the one the
            # product speaks) before PiperBackend had a seed, and re-calibrating keeps it so.
            synthesizer.seed = reading
        samples, rate, *_ = synthesizer.synthesize(list(prepare(CALIBRATION_TEXT).sentences))
        measured.append(measure_voice(samples, rate, f0_range_hz=BASES[base].f0_range_hz))
    mean = lambda name: float(np.mean([getattr(m, name) for m in measured]))  # noqa: E731
    return VoiceStats(
        log_f0_mean=round(mean("log_f0_mean"), 5), log_f0_std=round(mean("log_f0_std"), 5), f0_median_hz=round(mean("f0_median_hz"), 1),
        envelope_db=tuple(round(float(v), 3) for v in np.mean([m.envelope_db for m in measured], axis=0)),
        bandwidth_hz=round(min(m.bandwidth_hz for m in measured), 1),
        formants_hz=tuple(round(float(v), 1) for v in np.median([m.formants_hz for m in measured], axis=0)),  # type: ignore[arg-type]
        tilt_db_per_octave=round(mean("tilt_db_per_octave"), 3), syllables_per_s=round(mean("syllables_per_s"), 3),
        pause_s=round(float(np.mean(pauses)), 3) if (pauses := [m.pause_s for m in measured if m.pause_s]) else None,
        loudness_lufs=round(mean("loudness_lufs"), 2),
    )


@dataclass(frozen=True)
class BaseVoice:
    """A bundled voice the matching can start from."""

    name: str
    backend: str                          # the plain backend that speaks it
    description: str
    reference_file: Path                  # its shipped measurements (and speaker embedding)
    f0_range_hz: tuple[float, float]      # where its pitch lives (Harvest's search range on its speech)


#: The bundled base voices, in the order a tie is broken.
BASES: dict[str, BaseVoice] = {
    "joe": BaseVoice("joe", "piper", "Piper en_US-joe-medium (male, US)", SHIPPED_REFERENCE, SOURCE_F0_RANGE_HZ),
    "hibari-heart": BaseVoice("hibari-heart", "hibari", "hibari 'heart', a Kokoro-82M distillation (female, US)",
                              Path(__file__).with_name("hibari_world_reference.json"), (80.0, 500.0)),
}
DEFAULT_BASE = "joe"

#: A frame-matched base (hibari) has its warp chosen by ear at enrollment when resemblyzer is installed: the probe is
#: spoken matched at each of these warps (and at the envelope search's pick), and the warp whose output the speaker
#: encoder finds nearest to the sample is kept. The envelope search alone stops at the pitch prior: for a man on
#: hibari it kept 0.88 (similarity 0.50), where 0.76 scored 0.62 with no word errors (bench/voice.py, 2026-12-07).
WARP_PROBE = (0.72, 0.76, 0.80, 0.84, 0.88, 0.92, 0.96, 1.00, 1.04, 1.08, 1.12, 1.16, 1.20)
#: ... but only when that is clearly nearer than the envelope search's pick: on a plateau the probe's best is noise (the
#: alsa-utils woman: 0.92 scored 0.753 against 0.733 on the probe, then 0.756 against 0.777 on the bench's script)
WARP_PROBE_MARGIN = 0.025
#: Choosing the base (``choose_base`` with resemblyzer): each base's probe spoken matched, the nearest to the sample wins,
#: but a base matched on its own frames (hibari) wins unless the other is nearer by more than this: it keeps every word
#: (0-2 % WER where joe through WORLD made 6-8 %; WORLD's round trip alone costs joe ~2.5 points) at a sixth of the CPU,
#: and one probe's similarity swings by ~0.03 against a longer script (the codec2 woman: joe 0.72 vs hibari 0.68 on
#: the probe, 0.69 vs 0.70 on the bench's script).
FRAME_MATCHED_PREFERENCE = 0.05
#: what the probe says: the calibration paragraph's first three sentences (~9 s), not the bench's scripts
PROBE_SENTENCES = 3


def _probe_sentences() -> list[str]:
    from render.voice.text import prepare

    return list(prepare(CALIBRATION_TEXT).sentences)[:PROBE_SENTENCES]


def probe_warp(base: str, source: VoiceStats, target: VoiceStats, samples: np.ndarray, rate: int, *,
               timbre: bool = True, envelope_warp: float | None = None) -> tuple[VoiceMatch, dict[str, Any]]:
    """The match whose warp makes the frame-matched ``base`` sound most like the sample (speaker embedding).

    Returns the match and a record: ``{"method", "envelope_warp", "warp", "similarity": {warp: cosine}}``."""
    from render.voice import speaker
    sentences = _probe_sentences()
    wanted = speaker.embedding(samples, rate)
    warps = sorted({*WARP_PROBE, *([round(envelope_warp, 4)] if envelope_warp is not None else [])})
    tried: list[tuple[float, float, VoiceMatch]] = []
    for warp in warps:
        match = estimate_match(source, target, warp=warp)
        result = base_synthesizer(base, length_scale=match.length_scale).synthesize_full(sentences, edit=frame_edit(match, timbre=timbre))
        tried.append((warp, speaker.similarity(wanted, speaker.embedding(result.samples, result.rate)), match))
    best = max(tried, key=lambda item: item[1])
    kept = next((item for item in tried if envelope_warp is not None and abs(item[0] - envelope_warp) < 1e-6), None)
    if kept is not None and best[1] < kept[1] + WARP_PROBE_MARGIN:
        best = kept
    record = {"method": "speaker embedding of the probe spoken at each warp", "envelope_warp": envelope_warp,
              "warp": best[2].warp_factor, "probe_similarity": round(best[1], 4),
              "similarity": {f"{warp:.3f}": round(score, 4) for warp, score, _ in tried}}
    return best[2], record


def _world_probe_similarity(base: str, match: VoiceMatch, wanted: np.ndarray, *, timbre: bool = True) -> float:
    """How near the sample the probe sounds when ``base`` speaks it matched through WORLD (as ``WorldBackend.speak``)."""
    from render.voice import speaker
    sentences = _probe_sentences()
    samples, rate, *_ = base_synthesizer(base, length_scale=match.length_scale).synthesize(sentences)
    reference = _reference_stats(str(_model_file(base)), base)
    converted = convert(samples, rate, match, timbre=timbre, f0_range_hz=BASES[base].f0_range_hz, base_log_f0_mean=reference.log_f0_mean)
    return speaker.similarity(wanted, speaker.embedding(converted, rate))


def check_base(name: str) -> BaseVoice:
    try:
        return BASES[name]
    except KeyError:
        raise VoiceError(f"base voice {name!r} is unknown; the bundled ones are {', '.join(BASES)}") from None


def base_synthesizer(base: str, *, model_path: Path | None = None, length_scale: float = 1.0, seed: int = 0) -> Any:
    """The plain synthesizer of a base voice (``synthesize(sentences)`` as ``PiperBackend.synthesize``); ``seed``: its noise draw."""
    check_base(base)
    if base == "joe":
        return PiperBackend(model_path=model_path, length_scale=length_scale, seed=seed)
    from render.voice.hibari_backend import HibariBackend

    return HibariBackend(length_scale=length_scale, seed=seed)


def _model_file(base: str, model_path: Path | None = None) -> Path:
    return Path(base_synthesizer(base, model_path=model_path).model_path)


def _shipped(base: str, model: Path) -> dict[str, Any]:
    try:
        shipped = json.loads(BASES[base].reference_file.read_text())
    except (OSError, ValueError):
        return {}
    if shipped.get("model") == model.name and shipped.get("model_bytes") == model.stat().st_size and shipped.get("version") == ARTIFACTS_VERSION:
        return shipped
    return {}


@lru_cache(maxsize=4)
def _reference_stats(model_path: str, base: str = DEFAULT_BASE) -> VoiceStats:
    path = Path(model_path)
    shipped = _shipped(base, path)
    if shipped:
        return VoiceStats.from_dict(shipped["stats"])
    log.info("measuring the base voice %s for voice matching (once per process)", path.name)
    return calibrate(path if base == "joe" else None, readings=1, base=base)


@lru_cache(maxsize=4)
def base_embedding(base: str) -> tuple[float, ...]:
    """The base voice's speaker embedding on the calibration paragraph (shipped; measured once per process otherwise)."""
    shipped = _shipped(base, _model_file(base))
    if shipped.get("embedding"):
        return tuple(float(v) for v in shipped["embedding"])
    from render.voice import speaker
    from render.voice.text import prepare

    samples, rate, *_ = base_synthesizer(base).synthesize(list(prepare(CALIBRATION_TEXT).sentences))
    return tuple(float(v) for v in speaker.embedding(samples, rate))


def choose_base(samples: np.ndarray, rate: int, target: VoiceStats, *, candidates: tuple[str, ...] | None = None,
                timbre: bool = True) -> dict[str, Any]:
    """The bundled base voice that sounds nearest to the sample once matched (see ``choose_and_match``)."""
    return choose_and_match(samples, rate, target, candidates=candidates, timbre=timbre)[0]


def choose_and_match(samples: np.ndarray, rate: int, target: VoiceStats, *, candidates: tuple[str, ...] | None = None,
                     timbre: bool = True) -> tuple[dict[str, Any], dict[str, VoiceMatch], dict[str, dict[str, Any]]]:
    """The base to speak the sample's voice with, by measurement; with every base's match (and warp probe).

    With resemblyzer: each base speaks the probe matched to the sample (hibari on its frames, its warp chosen by
    ``probe_warp``; joe through WORLD) and the output nearest to the sample by speaker embedding wins, a base matched
    on its own frames winning ties within ``FRAME_MATCHED_PREFERENCE``. Without it: the nearest median pitch.
    Returns ``(choice, matches, warp_choices)``; ``choice`` is ``{"base", "method", "sample_f0_hz", "scores": {base:
    {"similarity" (matched probe; None without resemblyzer), "plain_similarity", "f0_hz", "pitch_octaves", "score"}}}``.
    """
    from render.voice import speaker

    names = [name for name in (candidates or tuple(BASES)) if name == "joe" or _installed(BASES[name].backend)]
    use_embedding = speaker.available()
    wanted = speaker.embedding(samples, rate) if use_embedding else None
    scores: dict[str, dict[str, float | None]] = {}
    matches: dict[str, VoiceMatch] = {}
    warp_choices: dict[str, dict[str, Any]] = {}
    for name in names:
        reference = _reference_stats(str(_model_file(name)), name)
        octaves = abs(math.log2(max(target.f0_median_hz, 1.0) / reference.f0_median_hz))
        matches[name] = estimate_match(reference, target)
        similarity = plain = None
        if wanted is not None:
            plain = round(speaker.similarity(wanted, base_embedding(name)), 3)
            if BASES[name].backend == "hibari":
                matches[name], warp_choices[name] = probe_warp(name, reference, target, samples, rate, timbre=timbre,
                                                               envelope_warp=matches[name].warp_factor)
                similarity = float(warp_choices[name]["probe_similarity"])
            else:
                similarity = _world_probe_similarity(name, matches[name], wanted, timbre=timbre)
        if similarity is not None:
            score = similarity + (FRAME_MATCHED_PREFERENCE if BASES[name].backend == "hibari" else 0.0)
        else:
            score = -octaves
        scores[name] = {"similarity": None if similarity is None else round(similarity, 3), "plain_similarity": plain,
                        "f0_hz": reference.f0_median_hz, "pitch_octaves": round(octaves, 3), "score": round(score, 3)}
    best = max(names, key=lambda name: scores[name]["score"])  # type: ignore[arg-type, return-value]
    method = ("speaker embedding of each base matched (probe)" if use_embedding else "pitch only (resemblyzer is not installed)")
    return ({"base": best, "method": method, "sample_f0_hz": target.f0_median_hz,
             "frame_matched_preference": FRAME_MATCHED_PREFERENCE, "scores": scores}, matches, warp_choices)


def describe_choice(choice: dict[str, Any]) -> str:
    """One line, e.g. 'hibari-heart: similarity once matched 0.61 vs joe 0.60 (plain 0.50 vs 0.46); pitch 123 Hz (hibari-heart 197, joe 139)'."""
    best, scores = choice["base"], choice.get("scores") or {}
    if not scores:
        return f"{best}: {choice.get('method', 'given')}"
    order = [best, *(name for name in scores if name != best)]
    if scores[best].get("similarity") is None:
        head = "pitch only"
    elif "plain_similarity" in scores[best]:
        head = (f"similarity once matched {scores[best]['similarity']:.2f}" + "".join(f" vs {o} {scores[o]['similarity']:.2f}" for o in order[1:])
                + f" (plain {scores[best]['plain_similarity']:.2f}" + "".join(f" vs {scores[o]['plain_similarity']:.2f}" for o in order[1:]) + ")")
    else:   # enrolled before the bases were compared matched: plain similarity minus a pitch penalty
        head = f"similarity {scores[best]['similarity']:.2f}" + "".join(f" vs {o} {scores[o]['similarity']:.2f}" for o in order[1:])
    pitches = ", ".join(f"{name} {scores[name]['f0_hz']:.0f}" for name in order)
    totals = " vs ".join(f"{scores[name]['score']:.2f}" for name in order)
    nearer = [o for o in order[1:] if (scores[o].get("similarity") or 0) > (scores[best].get("similarity") or 0)]
    why = ""
    if nearer and "frame_matched_preference" in choice:
        why = (f"; {best} is preferred unless another is {choice['frame_matched_preference']:.2f} nearer: it is matched on its own "
               "frames and keeps every word clear")
    return f"{best}: {head}; pitch {choice.get('sample_f0_hz', 0):.0f} Hz ({pitches}); score {totals}{why}"


def speaker_available() -> bool:
    from render.voice import speaker

    return speaker.available()


def _installed(backend: str) -> bool:
    if backend == "hibari":
        from render.voice.hibari_backend import installed

        return installed()
    return True


class WorldBackend:
    """A bundled base voice (Piper's joe or hibari's heart), then WORLD voice matching toward the enrolled sample.

    ``base``: ``None`` enrolls from ``joe`` (and speaks with the base a profile was enrolled with);
    ``"auto"`` chooses the base nearest to the sample at enrollment (``choose_base``); a base
    name forces that base (a profile enrolled with another is measured again on the fly).
    """

    name = "piper-world"

    def __init__(self, *, model_path: Path | None = None, timbre: bool = True, base: str | None = None, fast: bool = True,
                 seed: int = 0):
        if base not in (None, "auto"):
            check_base(base)
        self.model_path = model_path
        self.timbre = timbre
        self.base = base
        self.fast = fast      # joe's WORLD conversion: the fast pitch tracker at 16 kHz (False: Harvest at 22 kHz, as before)
        self.seed = seed      # the base voice's noise draw (the product speaks draw 0; the bench pools several)

    def _piper(self, length_scale: float = 1.0) -> PiperBackend:
        return PiperBackend(model_path=self.model_path, length_scale=length_scale, seed=self.seed)

    def _synthesizer(self, base: str, length_scale: float = 1.0) -> Any:
        return base_synthesizer(base, model_path=self.model_path, length_scale=length_scale, seed=self.seed)

    def reference_stats(self, base: str | None = None) -> VoiceStats:
        """The base voice measured on the calibration paragraph (as the sample is measured; cached per model)."""
        base = base or (self.base if self.base not in (None, "auto") else DEFAULT_BASE)
        if base == DEFAULT_BASE:
            return _reference_stats(str(self._piper().model_path))
        return _reference_stats(str(_model_file(base)), base)

    def enroll(self, profile: VoiceProfileData, workdir: Path) -> dict[str, Any]:
        from render.voice.sample_checks import read_sample

        samples, rate, _ = read_sample(profile.sample_path)
        target = measure_voice(samples, rate)
        choice = None
        source_base = self.base if self.base not in (None, "auto") else DEFAULT_BASE
        if self.base == "auto":
            choice, matches, warp_choices = choose_and_match(samples, rate, target, timbre=self.timbre)
            base = choice["base"]
            source = self.reference_stats(base)
            match, warp_choice = matches[base], warp_choices.get(base)
        else:
            base = source_base
            source = self.reference_stats(base)
            match = estimate_match(source, target)
            warp_choice = None
            if BASES[base].backend == "hibari" and speaker_available():
                match, warp_choice = probe_warp(base, source, target, samples, rate, timbre=self.timbre, envelope_warp=match.warp_factor)
        words_per_minute = target.syllables_per_s * 60.0 / SYLLABLES_PER_WORD if target.syllables_per_s else None
        log.info("voice %r: base %s, F0 %.0f Hz (base %.0f), warp %.3f, tilt %+.1f dB/oct, length scale %.2f, envelope distance %.1f -> %.1f dB",
                 profile.name, base, target.f0_median_hz, source.f0_median_hz, match.warp_factor, match.tilt_db_per_octave,
                 match.length_scale, match.distance_before_db, match.envelope_distance_db)
        artifacts = {
            "version": ARTIFACTS_VERSION,
            "sample": target.to_dict(),
            "reference": source.to_dict(),
            "match": match.to_dict(),
            "words_per_minute": round(words_per_minute, 1) if words_per_minute else None,
        }
        if warp_choice is not None:
            artifacts["warp_choice"] = warp_choice
        if base != DEFAULT_BASE or self.base is not None:
            artifacts["base"] = base
            artifacts["base_choice"] = choice or {"base": base, "method": "given"}
        return artifacts

    def base_for(self, profile: VoiceProfileData | None) -> str:
        """The base voice to speak ``profile`` with: the forced one, else the one it was enrolled with (joe before bases existed)."""
        if self.base not in (None, "auto"):
            return self.base  # type: ignore[return-value]
        artifacts = (profile.artifacts.get(self.name) or {}) if profile is not None else {}
        return artifacts.get("base") or DEFAULT_BASE

    def match_for(self, profile: VoiceProfileData) -> VoiceMatch:
        """The stored match, or (for a profile enrolled with another backend, base or an older version) one measured now."""
        artifacts = profile.artifacts.get(self.name) or {}
        wanted = self.base if self.base not in (None, "auto") else None
        stored_base = artifacts.get("base") or DEFAULT_BASE
        if artifacts.get("version") == ARTIFACTS_VERSION and "match" in artifacts and (wanted is None or wanted == stored_base):
            match = VoiceMatch.from_dict(artifacts["match"])
            if "pause_scale" not in artifacts["match"] and Path(profile.sample_path).is_file():
                match = self._with_prosody(match, profile, stored_base)   # enrolled before pauses and loudness were matched
            return match
        if not Path(profile.sample_path).is_file():
            raise VoiceError(f"voice {profile.name!r}: its sample {str(profile.sample_path)!r} is missing; enroll it again")
        log.warning("voice %r has no current piper-world enrollment; measuring its sample now (enroll it again to store it)", profile.name)
        return VoiceMatch.from_dict(self.enroll(profile, Path(profile.sample_path).parent)["match"])

    def _with_prosody(self, match: VoiceMatch, profile: VoiceProfileData, base: str) -> VoiceMatch:
        """``match`` with the sample's pauses and loudness measured now (cheap: no pitch tracking)."""
        from render.voice.sample_checks import read_sample

        samples, rate, _ = read_sample(profile.sample_path)
        source = self.reference_stats(base)
        base_pause = source.pause_s * match.length_scale if source.pause_s else None
        return replace(match, pause_scale=prosody.pause_scale(prosody.median_pause_s(samples, rate), base_pause),
                       loudness_lufs=prosody.target_loudness_lufs(prosody.sample_loudness_lufs(samples, rate)))

    def speak(self, text: str, out_path: Path, *, profile: VoiceProfileData | None = None, language: str = "en") -> Speech:
        if not language.startswith("en"):
            raise VoiceError(f"the bundled Piper voice speaks English, not {language!r}; use the xtts backend for {language!r}")
        from render.voice.text import prepare

        match = self.match_for(profile) if profile is not None else None
        base = self.base_for(profile)
        prepared = prepare(text, language)
        synthesizer = self._synthesizer(base, match.length_scale if match else 1.0)
        if match is not None and hasattr(synthesizer, "synthesize_full"):
            # hibari predicts its pitch and spectra: match them before its vocoder, nothing to analyse.
            result = synthesizer.synthesize_full(list(prepared.sentences), edit=frame_edit(match, timbre=self.timbre))
            samples, rate, phonemes, words, source = result.samples, result.rate, result.phonemes, result.words, result.timings_source
        else:
            samples, rate, phonemes, words, source = synthesizer.synthesize(list(prepared.sentences))
            if match is not None:
                samples = convert(samples, rate, match, timbre=self.timbre, f0_range_hz=BASES[base].f0_range_hz, fast=self.fast,
                                  base_log_f0_mean=self.reference_stats(base).log_f0_mean)
        if match is not None:
            # Prosody the re-synthesis leaves alone: the sample's pauses (the timings move with them) and its loudness.
            samples, phonemes, words = prosody.scale_pauses(samples, rate, phonemes, words, match.pause_scale)
            samples = prosody.match_loudness(samples, rate, match.loudness_lufs)
        write_wav(out_path, samples, rate, round_to_nearest=False)
        return Speech(path=out_path, duration_s=len(samples) / rate, sample_rate_hz=rate, backend=self.name,
                      words=tuple(words), phonemes=tuple(phonemes), timings_source=source)


@register("piper-world")
def _make_world(**config: Any) -> WorldBackend:
    return WorldBackend(**config)


if __name__ == "__main__":  # pragma: no cover - a maintainer's tool
    import sys

    arguments = sys.argv[1:]
    if not arguments or arguments[0] != "--calibrate" or len(arguments) > 2 or (len(arguments) == 2 and arguments[1] not in BASES):
        sys.exit("usage: python -m render.voice.world_backend --calibrate [BASE]   (re-measures a bundled base voice, default joe, "
                 "into its reference file, with its speaker embedding when resemblyzer is installed)")
    name = arguments[1] if len(arguments) == 2 else DEFAULT_BASE
    model = _model_file(name)
    stats = calibrate(model if name == "joe" else None, base=name)
    record: dict[str, Any] = {"version": ARTIFACTS_VERSION, "model": model.name, "model_bytes": model.stat().st_size, "readings": 3,
                              "stats": stats.to_dict()}
    from render.voice import speaker as _speaker

    if _speaker.available():
        base_embedding.cache_clear()
        record["embedding"] = [round(v, 5) for v in base_embedding(name)]
    BASES[name].reference_file.write_text(json.dumps(record, indent=1) + "\n")
    sys.stdout.write(f"wrote {BASES[name].reference_file}\n")
