"""Pauses and loudness: measured on the creator's sample, then applied to synthesized speech with its timings.

Voice matching (``world_backend``) takes the sample's pitch, vocal tract and
speaking rate; this module adds the two parts of prosody that need no
re-synthesis:

- **Pauses.** ``median_pause_s``: the median silence between stretches of
  talking (``PAUSE_RANGE_S`` long; the recording's lead-in and tail do not
  count), measured on 10 ms frames against a floor set between the
  recording's noise and its speech level, so a hissy phone sample measures
  as a clean one. The base voice is measured the same way on its calibration
  reading; their ratio (clamped to ``PAUSE_SCALE_RANGE``) scales every pause
  of the synthesized speech: the silences between words that the timings show
  (commas, sentence gaps) grow by inserted silence or shrink by cutting their
  quietest middle, with 5 ms fades, and every later word and phoneme moves by
  as much, so the timings stay exact.
- **Loudness.** BS.1770 integrated loudness (``render.media.audio``) of the
  sample, clamped to ``LOUDNESS_RANGE_LUFS`` (a whispered phone recording must
  not give an inaudible voice, a clipped one a deafening one); the speech is
  scaled to it, never past a 0.98 peak (then it stays as loud as that peak
  allows). A reel is mastered to -14 LUFS afterwards (``render.compose``), so
  this matters for ``voice say`` files and for any mix that uses the voice as
  it is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from render.types import PhonemeTiming, WordTiming

FRAME_S = 0.01
#: a quiet stretch this long between talking is a pause (shorter: a stop closure or a slow syllable's dip, which
#: made the median follow the speaking rate; longer: the speaker stopped). 0.2 s is the usual silent-pause floor.
PAUSE_RANGE_S = (0.2, 2.0)
#: how far the base voice's pauses may be stretched or shrunk
PAUSE_SCALE_RANGE = (0.35, 2.5)
#: word gaps shorter than this, or mostly above the talking floor, are not pauses (hibari times the space between
#: words as 50-75 ms; stop closures): left alone
MIN_GAP_S = 0.1
#: what is kept of a pause when shrinking: its first and last ``EDGE_S`` (the decay of the word before, the breath before the next)
EDGE_S = 0.02
FADE_S = 0.005
LOUDNESS_RANGE_LUFS = (-30.0, -16.0)
PEAK_LIMIT = 0.98


def _frame_levels_db(x: np.ndarray, rate: int) -> np.ndarray:
    hop = max(1, int(rate * FRAME_S))
    count = x.size // hop
    if count == 0:
        return np.zeros(0)
    power = np.mean(np.square(x[: count * hop].reshape(count, hop), dtype=np.float64), axis=1)
    return 10.0 * np.log10(np.maximum(power, 1e-14))


def talking_frames(x: np.ndarray, rate: int) -> np.ndarray:
    """Per 10 ms frame: is someone talking (level over a floor between the noise and the speech level)?"""
    level = _frame_levels_db(np.asarray(x, dtype=np.float64), rate)
    if level.size == 0:
        return np.zeros(0, dtype=bool)
    speech = float(np.percentile(level, 95))
    level = np.maximum(level, speech - 50.0)          # digital silence must not drag the noise estimate down
    noise = float(np.percentile(level, 10))
    floor = noise + max(6.0, 0.35 * (speech - noise))
    loud = level > floor
    # Clicks and breaths under 30 ms are not talking.
    edges = np.flatnonzero(np.diff(np.concatenate([[0], loud.astype(np.int8), [0]])))
    for start, end in zip(edges[::2], edges[1::2], strict=True):
        if end - start < 3:
            loud[start:end] = False
    return loud


def pauses_s(x: np.ndarray, rate: int) -> list[float]:
    """Lengths (s) of the pauses between stretches of talking, lead-in and tail left out."""
    loud = talking_frames(x, rate)
    if not loud.any():
        return []
    edges = np.flatnonzero(np.diff(np.concatenate([[1], loud.astype(np.int8), [1]])))
    found = []
    for start, end in zip(edges[::2], edges[1::2], strict=True):
        if start == 0 or end == loud.size:
            continue
        length = (end - start) * FRAME_S
        if PAUSE_RANGE_S[0] <= length <= PAUSE_RANGE_S[1]:
            found.append(round(length, 3))
    return found


def median_pause_s(x: np.ndarray, rate: int) -> float | None:
    """The median pause of a recording (None when it has none)."""
    found = pauses_s(x, rate)
    return round(float(np.median(found)), 3) if found else None


def pause_scale(sample_pause_s: float | None, base_pause_s: float | None) -> float:
    """How much to stretch the base voice's pauses (1 where either is unknown)."""
    if not sample_pause_s or not base_pause_s:
        return 1.0
    return round(float(np.clip(sample_pause_s / base_pause_s, *PAUSE_SCALE_RANGE)), 4)


def _quietest(x: np.ndarray, start: int, end: int, width: int) -> int:
    """The centre of the quietest ``width`` samples in x[start:end]."""
    if end - start <= width:
        return (start + end) // 2
    energy = np.cumsum(np.concatenate([[0.0], np.square(x[start:end], dtype=np.float64)]))
    window = energy[width:] - energy[:-width]
    # Prefer the middle among equally quiet places (digital silence).
    quiet = np.flatnonzero(window <= window.min() + 1e-12)
    return start + int(quiet[quiet.size // 2]) + width // 2


def scale_pauses(samples: np.ndarray, rate: int, phonemes: Sequence[PhonemeTiming], words: Sequence[WordTiming], factor: float,
                 ) -> tuple[np.ndarray, list[PhonemeTiming], list[WordTiming]]:
    """Stretch (``factor`` > 1) or shrink every pause between words by ``factor``; the timings move with the audio.

    Audio is inserted or cut only between the words' timings, so a shrunk pause keeps at least its gap's
    edges (``EDGE_S`` each side).
    """
    x = np.array(samples, dtype=np.float32)   # a copy: the fades below edit it
    if abs(factor - 1.0) < 0.02 or len(words) < 2:
        return x, list(phonemes), list(words)
    edge, fade = int(EDGE_S * rate), max(1, int(FADE_S * rate))
    ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
    edits: list[tuple[int, int, int]] = []    # (where, samples removed from there on, samples inserted there)
    talking, hop = talking_frames(x, rate), max(1, int(rate * FRAME_S))
    for before, after in zip(words, words[1:]):
        start, end = int(math.ceil(before.end_s * rate)), min(x.size, int(after.start_s * rate))
        gap = end - start
        first, last = start // hop, max(start // hop + 1, end // hop)
        if gap < MIN_GAP_S * rate or np.mean(talking[first:last]) > 0.5:
            continue
        # The pause a listener hears (and ``pauses_s`` measures) is the whole quiet stretch around the gap, the
        # decay of the word before and the onset of the next included: that is what the factor scales.
        while first > 0 and not talking[first - 1]:
            first -= 1
        while last < talking.size and not talking[last]:
            last += 1
        change = int(round(max(gap, (last - first) * hop) * (factor - 1.0)))
        if change > 0:
            where = _quietest(x, start + fade, end - fade, 2 * fade)
            x[where - fade : where] *= ramp[::-1]       # fade out into the inserted silence, and back in after it
            x[where : where + fade] *= ramp
            edits.append((where, 0, change))
        else:
            cut = min(-change, gap - 2 * edge - 2 * fade)
            if cut > 0:
                middle = _quietest(x, start + edge + fade, end - edge - fade, cut)
                edits.append((middle - cut // 2, cut, 0))
    if not edits:
        return x, list(phonemes), list(words)
    pieces, position = [], 0
    for where, removed, inserted in edits:
        head = x[position:where]
        if removed:
            # Cross-fade the audio before the cut into the audio after it.
            head = head.copy()
            head[-fade:] = head[-fade:] * ramp[::-1] + x[where + removed - fade : where + removed] * ramp
        pieces += [head, np.zeros(inserted, dtype=np.float32)]
        position = where + removed
    pieces.append(x[position:])
    out = np.concatenate(pieces)
    where = np.array([e[0] for e in edits], dtype=np.float64) / rate
    shift = np.cumsum([(e[2] - e[1]) / rate for e in edits])

    def moved(t: float) -> float:
        index = int(np.searchsorted(where, t, side="right"))
        return round(t + (float(shift[index - 1]) if index else 0.0), 4)

    return (out, [PhonemeTiming(p.phoneme, moved(p.start_s), moved(p.end_s)) for p in phonemes],
            [WordTiming(w.word, moved(w.start_s), moved(w.end_s)) for w in words])


def sample_loudness_lufs(x: np.ndarray, rate: int) -> float:
    """The sample's integrated loudness (LUFS)."""
    from render.media.audio import integrated_loudness

    return round(float(integrated_loudness(np.asarray(x, dtype=np.float64), rate)), 2)


def target_loudness_lufs(sample_lufs: float | None) -> float | None:
    """What the speech is scaled to: the sample's loudness, clamped to ``LOUDNESS_RANGE_LUFS``."""
    if sample_lufs is None or not math.isfinite(sample_lufs) or sample_lufs < -69.0:
        return None
    return round(float(np.clip(sample_lufs, *LOUDNESS_RANGE_LUFS)), 2)


def match_loudness(samples: np.ndarray, rate: int, target_lufs: float | None) -> np.ndarray:
    """``samples`` scaled to ``target_lufs`` (as far as a 0.98 peak allows); unchanged for None or silence."""
    from render.media.audio import integrated_loudness

    x = np.asarray(samples, dtype=np.float32)
    peak = float(np.abs(x).max()) if x.size else 0.0
    if target_lufs is None or peak <= 0.0:
        return x
    level = integrated_loudness(x.astype(np.float64), rate)
    if level < -69.0:
        return x
    gain = min(10.0 ** ((target_lufs - level) / 20.0), PEAK_LIMIT / peak)
    return (x * np.float32(gain)).astype(np.float32)
