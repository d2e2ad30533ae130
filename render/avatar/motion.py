"""What the face does, frame by frame: articulation from phonemes and audio, blinks, head motion, breathing.

Everything here is a pure function of its inputs and a seed, so a render is reproducible.
Articulation uses a dominance model of coarticulation (Cohen & Massaro): each phoneme
pulls every parameter toward its target with a weight that decays with distance in time,
and bilabials dominate lip closure so the lips really close on p/b/m.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from render.types import PhonemeTiming

# Articulation parameters, each 0..1 except spread (-1 rounded .. +1 spread).
PARAMS = ("jaw", "spread", "round", "close", "labio", "tongue")
REST = np.zeros(len(PARAMS), dtype=np.float32)

_VOWELS = {
    # jaw, spread, round, close, labio, tongue
    "a": (0.85, 0.25, 0.0), "ɑ": (0.85, 0.1, 0.05), "æ": (0.75, 0.45, 0.0), "ɐ": (0.65, 0.15, 0.0), "ʌ": (0.6, 0.1, 0.0),
    "ɒ": (0.7, -0.1, 0.45), "ɔ": (0.6, -0.2, 0.6), "o": (0.5, -0.3, 0.7), "ʊ": (0.3, -0.25, 0.7), "u": (0.2, -0.4, 0.9),
    "ə": (0.35, 0.05, 0.0), "ɚ": (0.3, -0.05, 0.3), "ɜ": (0.4, 0.0, 0.25), "ɛ": (0.5, 0.45, 0.0), "e": (0.42, 0.55, 0.0),
    "ɪ": (0.28, 0.6, 0.0), "i": (0.22, 0.75, 0.0), "ɨ": (0.25, 0.3, 0.0), "y": (0.2, -0.3, 0.85), "ø": (0.35, -0.2, 0.7),
    "œ": (0.5, -0.1, 0.55), "ɯ": (0.25, 0.4, 0.0), "ɤ": (0.4, 0.2, 0.0), "ᵻ": (0.28, 0.4, 0.0),
}
_CONSONANTS = {
    # jaw, spread, round, close, labio, tongue
    "p": (0.0, 0.0, 0.0, 1.0, 0.0, 0.0), "b": (0.0, 0.0, 0.0, 1.0, 0.0, 0.0), "m": (0.0, 0.0, 0.0, 1.0, 0.0, 0.0),
    "f": (0.1, 0.1, 0.0, 0.0, 1.0, 0.0), "v": (0.1, 0.1, 0.0, 0.0, 1.0, 0.0),
    "θ": (0.2, 0.2, 0.0, 0.0, 0.0, 1.0), "ð": (0.2, 0.2, 0.0, 0.0, 0.0, 1.0),
    "t": (0.22, 0.25, 0.0, 0.0, 0.0, 0.6), "d": (0.22, 0.25, 0.0, 0.0, 0.0, 0.6), "n": (0.2, 0.2, 0.0, 0.0, 0.0, 0.6),
    "l": (0.3, 0.2, 0.0, 0.0, 0.0, 0.8), "ɾ": (0.25, 0.2, 0.0, 0.0, 0.0, 0.6),
    "s": (0.1, 0.45, 0.0, 0.0, 0.0, 0.1), "z": (0.1, 0.45, 0.0, 0.0, 0.0, 0.1),
    "ʃ": (0.15, -0.2, 0.55, 0.0, 0.0, 0.1), "ʒ": (0.15, -0.2, 0.55, 0.0, 0.0, 0.1),
    "k": (0.3, 0.15, 0.0, 0.0, 0.0, 0.0), "ɡ": (0.3, 0.15, 0.0, 0.0, 0.0, 0.0), "g": (0.3, 0.15, 0.0, 0.0, 0.0, 0.0),
    "ŋ": (0.25, 0.1, 0.0, 0.0, 0.0, 0.0), "x": (0.3, 0.1, 0.0, 0.0, 0.0, 0.0), "h": (0.4, 0.1, 0.0, 0.0, 0.0, 0.0),
    "w": (0.12, -0.4, 0.9, 0.0, 0.0, 0.0), "j": (0.2, 0.5, 0.0, 0.0, 0.0, 0.2),
    "ɹ": (0.25, -0.15, 0.4, 0.0, 0.0, 0.2), "r": (0.25, 0.0, 0.3, 0.0, 0.0, 0.5), "ʔ": (0.1, 0.0, 0.0, 0.0, 0.0, 0.0),
}
# Per-parameter dominance strength: consonants that define a parameter dominate it.
_STRONG = {"close": ("p", "b", "m"), "labio": ("f", "v"), "round": ("w", "u", "ʃ", "ʒ", "o", "ʊ"), "tongue": ("θ", "ð", "l")}
SILENCE = {"_", " ", "", ",", ".", "!", "?", ";", ":", "—", "-", "…"}


def target(phoneme: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(articulation target, per-parameter dominance) of one IPA phoneme; None for silence."""
    base = phoneme.replace("ˈ", "").replace("ˌ", "").replace("ː", "").strip()
    if base in SILENCE:
        return None
    head = base[0]
    if head in _VOWELS:
        jaw, spread, round_ = _VOWELS[head]
        values = np.array((jaw, spread, round_, 0.0, 0.0, 0.0), dtype=np.float32)
        # a vowel holds the lips apart: it dominates closure/labiodental near its centre
        dominance = np.array((1.0, 1.0, 1.0, 2.5, 2.5, 0.6), dtype=np.float32)
    elif head in _CONSONANTS:
        values = np.array(_CONSONANTS[head], dtype=np.float32)
        dominance = np.array((0.6, 0.5, 0.6, 0.5, 0.5, 0.5), dtype=np.float32)
    else:
        values = np.array((0.3, 0.1, 0.0, 0.0, 0.0, 0.0), dtype=np.float32)
        dominance = np.full(len(PARAMS), 0.3, dtype=np.float32)
    for index, name in enumerate(PARAMS):
        if head in _STRONG.get(name, ()):
            dominance[index] = 6.0 if name in ("close", "labio") else 2.5
    if head in ("p", "b", "m"):
        dominance[0] = 4.0       # the jaw must come up for a closure
    return values, dominance


def articulation(phonemes: Sequence[PhonemeTiming], times_s: np.ndarray) -> np.ndarray:
    """(frames, len(PARAMS)) targets from phoneme timings with coarticulation smoothing."""
    frames = len(times_s)
    out = np.zeros((frames, len(PARAMS)), dtype=np.float32)
    centers, values, dominances, spans = [], [], [], []
    for phone in phonemes:
        spec = target(phone.phoneme)
        duration = max(phone.end_s - phone.start_s, 0.02)
        center = 0.5 * (phone.start_s + phone.end_s)
        if spec is None:
            # A pause pulls toward rest, more firmly the longer it is.
            spec = (REST, np.full(len(PARAMS), min(0.5 + 4.0 * max(duration - 0.12, 0.0), 6.0), dtype=np.float32))
        centers.append(center)
        values.append(spec[0])
        dominances.append(spec[1])
        spans.append(duration)
    if not centers:
        return out
    centers_a = np.asarray(centers, dtype=np.float32)
    values_a = np.stack(values)
    dominances_a = np.stack(dominances)
    tau = np.clip(np.asarray(spans, dtype=np.float32) * 0.6, 0.035, 0.12)
    rest_weight = 0.05
    for start in range(0, frames, 256):
        t = times_s[start:start + 256, None].astype(np.float32)
        weights = np.exp(-np.abs(t - centers_a[None, :]) / tau[None, :])            # (f, n)
        weighted = np.einsum("fn,np->fnp", weights, dominances_a)                    # (f, n, p)
        total = weighted.sum(axis=1) + rest_weight
        out[start:start + 256] = np.einsum("fnp,np->fp", weighted, values_a) / total
    # Far from any phoneme (before the first, after the last) the face rests.
    return out


def loudness_envelope(samples: np.ndarray, rate: int, fps: int, frames: int) -> np.ndarray:
    """0..1 speech loudness per video frame (40 ms windows centred on each frame, noise floor removed)."""
    window = max(int(0.04 * rate), 16)
    centers = (np.arange(frames) / fps * rate).astype(np.int64)
    # Windows over the speech padded with ``window`` zeros each side; the zeros add exactly nothing to the running sum
    # of squares, so it is read on the unpadded speech (render.media.audio.cumulative_energy: piecewise, no whole-length
    # float64 copies; the same bits as the whole-array cumsum)
    from render.media.audio import cumulative_energy

    n = len(samples)
    length = n + 2 * window
    lo = np.clip(centers + window - window // 2, 0, length)
    hi = np.clip(lo + window, 0, length)
    speech = np.asarray(samples, dtype=np.float32)
    power = (cumulative_energy(speech, np.clip(hi - window, 0, n)) - cumulative_energy(speech, np.clip(lo - window, 0, n))) / np.maximum(hi - lo, 1)
    db = 10.0 * np.log10(power + 1e-10)
    if not np.isfinite(db).any() or db.max() < -90:
        return np.zeros(frames, dtype=np.float32)
    peak = np.percentile(db, 97)
    floor = max(np.percentile(db, 10), peak - 45.0)
    level = np.clip((db - (floor + 6.0)) / max(peak - floor - 9.0, 6.0), 0.0, 1.0)
    # Fast attack, slower release: a mouth opens quickly and closes a little slower.
    smoothed = np.empty_like(level)
    state = 0.0
    attack, release = 1.0 - math.exp(-1.0 / (0.012 * fps)), 1.0 - math.exp(-1.0 / (0.05 * fps))
    for i, value in enumerate(level):
        state += (attack if value > state else release) * (value - state)
        smoothed[i] = state
    return smoothed.astype(np.float32)


def audio_articulation(samples: np.ndarray, rate: int, fps: int, frames: int) -> np.ndarray:
    """Articulation from the audio alone (no phoneme timings): jaw from loudness, spread/round from the spectrum."""
    envelope = loudness_envelope(samples, rate, fps, frames)
    out = np.zeros((frames, len(PARAMS)), dtype=np.float32)
    out[:, 0] = envelope * 0.8
    hop = rate / fps
    size = 1024
    window = np.hanning(size).astype(np.float32)
    freqs = np.fft.rfftfreq(size, 1.0 / rate)
    padded = np.pad(samples.astype(np.float32), (size, size))
    for i in range(frames):
        start = int(i * hop) + size - size // 2
        chunk = padded[start:start + size]
        if len(chunk) < size or envelope[i] < 0.05:
            continue
        spectrum = np.abs(np.fft.rfft(chunk * window)) + 1e-9
        centroid = float((spectrum * freqs).sum() / spectrum.sum())
        # Bright spectra (i, e, s) spread the lips; dark ones (u, o, w) round them.
        out[i, 1] = float(np.clip((centroid - 1400.0) / 1500.0, -1.0, 1.0)) * 0.6
        out[i, 2] = float(np.clip((900.0 - centroid) / 600.0, 0.0, 1.0)) * 0.7
    kernel = np.array([0.25, 0.5, 0.25], dtype=np.float32)
    for p in (1, 2):
        out[:, p] = np.convolve(out[:, p], kernel, mode="same")
    return out


def couple_to_audio(track: np.ndarray, envelope: np.ndarray) -> np.ndarray:
    """Make the jaw follow the real loudness (the viewer's sync cue) while phonemes shape the lips.

    Phoneme timings may be estimates; the audio is the truth. The jaw opens with the
    loudness, scaled by how open the current phoneme wants it; closures only show
    where the audio is quiet enough for a stop consonant.
    """
    out = track.copy()
    vis_jaw = np.clip(track[:, 0], 0.0, 1.0)
    out[:, 0] = np.clip(envelope * (0.45 + 0.75 * vis_jaw), 0.0, 1.0)
    quiet = np.clip(1.0 - envelope * 1.6, 0.0, 1.0)
    out[:, 3] = np.clip(track[:, 3], 0.0, 1.0) * quiet
    out[:, 4] = np.clip(track[:, 4], 0.0, 1.0) * np.clip(0.3 + quiet, 0.0, 1.0)
    # In silence the lips relax toward rest.
    speaking = np.clip(envelope * 4.0, 0.0, 1.0)
    out[:, 1] *= speaking
    out[:, 2] *= speaking
    out[:, 5] *= speaking
    return out


BILABIALS = ("p", "b", "m")


def bilabial_closure(phonemes: Sequence[PhonemeTiming], fps: int, frames: int) -> np.ndarray:
    """Lip closure (0..1) that seals the lips on every p, b and m, however loud: 1 on the frames the sound
    covers (at least the two frames around its middle), 0.5 on the frame either side. A viewer reads a missing
    closure on "mom" or "bread" as bad dubbing; the coarticulated track alone leaves short, voiced
    bilabials open (the loud audio keeps the jaw down)."""
    out = np.zeros(frames, dtype=np.float32)
    for phone in phonemes:
        base = phone.phoneme.replace("ˈ", "").replace("ˌ", "").replace("ː", "").strip()
        if not base or base[0] not in BILABIALS:
            continue
        first = int(math.ceil(phone.start_s * fps - 0.25))
        last = int(math.floor(phone.end_s * fps + 0.25))
        middle = 0.5 * (phone.start_s + phone.end_s) * fps
        # a closure a viewer (and a camera) can see lasts two frames at least (~67 ms; real ones last 50-120 ms)
        first, last = min(first, int(math.floor(middle - 0.5))), max(last, int(math.floor(middle + 0.5)))
        for index in range(first - 1, last + 2):
            if 0 <= index < frames:
                out[index] = max(out[index], 1.0 if first <= index <= last else 0.5)
    return out


@dataclass(frozen=True)
class LifeTrack:
    """Per-frame non-speech motion."""

    blink: np.ndarray        # 0 open .. 1 closed
    yaw_deg: np.ndarray
    pitch_deg: np.ndarray    # + nods down
    roll_deg: np.ndarray
    brow: np.ndarray         # 0 .. 1 raise
    breath: np.ndarray       # -1 .. 1
    blink_times_s: tuple[float, ...]
    nod_times_s: tuple[float, ...]


def _blink_profile(t: np.ndarray) -> np.ndarray:
    """Eyelid closure over one ~120 ms blink: 45 ms down, 15 ms closed, 60 ms up."""
    down = np.clip(t / 0.045, 0.0, 1.0)
    up = np.clip(1.0 - (t - 0.06) / 0.06, 0.0, 1.0)
    closure = np.where(t < 0.045, down, np.where(t < 0.06, 1.0, up))
    closure = np.where((t < 0) | (t > 0.12), 0.0, closure)
    return 0.5 - 0.5 * np.cos(np.pi * closure)


def _smooth_noise(rng: np.random.Generator, times_s: np.ndarray, amplitude: float, low_hz: float, high_hz: float, parts: int = 4) -> np.ndarray:
    out = np.zeros_like(times_s, dtype=np.float64)
    for _ in range(parts):
        freq = rng.uniform(low_hz, high_hz)
        out += np.sin(2 * np.pi * freq * times_s + rng.uniform(0, 2 * np.pi)) / math.sqrt(parts)
    return (amplitude * out).astype(np.float32)


def life(times_s: np.ndarray, envelope: np.ndarray, *, seed: int, stresses_s: Sequence[float] = ()) -> LifeTrack:
    """Blinks (every 2-6 s, never periodic), head sway and nods on stressed syllables, brows, breathing."""
    rng = np.random.default_rng(seed)
    duration = float(times_s[-1]) if len(times_s) else 0.0
    fps = 1.0 / float(times_s[1] - times_s[0]) if len(times_s) > 1 else 30.0

    blinks: list[float] = []
    t = rng.uniform(0.6, 2.2)
    while t < duration - 0.15:
        blinks.append(t)
        if rng.random() < 0.08:              # an occasional double blink
            blinks.append(t + 0.25)
            t += 0.25
        t += float(np.clip(rng.gamma(4.0, 0.9), 2.0, 6.0))
    blink = np.zeros_like(times_s, dtype=np.float32)
    for start in blinks:
        blink = np.maximum(blink, _blink_profile(times_s - start).astype(np.float32))

    speaking = np.convolve(envelope, np.ones(int(fps)) / int(fps), mode="same") if len(envelope) else envelope
    sway = 0.6 + 0.8 * np.clip(speaking * 2.0, 0.0, 1.0)
    yaw = _smooth_noise(rng, times_s, 1.6, 0.05, 0.3) * sway
    pitch = _smooth_noise(rng, times_s, 1.0, 0.05, 0.3) * sway
    roll = _smooth_noise(rng, times_s, 1.1, 0.04, 0.2) * sway

    # Nods and brow raises on stressed syllables, at least ~1.2 s apart, on a seeded subset.
    nods: list[float] = []
    for when in sorted(stresses_s):
        if nods and when - nods[-1] < 1.2:
            continue
        if rng.random() < 0.7:
            nods.append(float(when))
    nod = np.zeros_like(times_s, dtype=np.float32)
    brow = np.zeros_like(times_s, dtype=np.float32)
    for when in nods:
        strength = rng.uniform(0.8, 1.4)
        d = times_s - (when - 0.05)
        bump = np.where((d > 0) & (d < 0.5), np.sin(np.pi * np.clip(d / 0.5, 0, 1)) ** 2, 0.0)
        nod += (2.2 * strength * bump).astype(np.float32)
        if rng.random() < 0.45:
            d2 = times_s - (when - 0.12)
            raise_ = np.where((d2 > 0) & (d2 < 0.7), np.sin(np.pi * np.clip(d2 / 0.7, 0, 1)), 0.0)
            brow = np.maximum(brow, (strength * 0.8 * raise_).astype(np.float32))
    breath_rate = rng.uniform(0.22, 0.3)
    breath = np.sin(2 * np.pi * breath_rate * times_s + rng.uniform(0, 2 * np.pi)).astype(np.float32)
    return LifeTrack(blink=blink, yaw_deg=yaw, pitch_deg=pitch + nod, roll_deg=roll, brow=np.clip(brow, 0, 1),
                     breath=breath, blink_times_s=tuple(blinks), nod_times_s=tuple(nods))


def stressed_times(phonemes: Sequence[PhonemeTiming], envelope: np.ndarray, fps: int) -> list[float]:
    """Where stressed syllables start: the synthesizer's stress marks, else the strongest loudness onsets."""
    marked = [p.start_s for p in phonemes if "ˈ" in p.phoneme]
    if marked:
        return marked
    if len(envelope) < 3:
        return []
    rise = np.diff(envelope, prepend=envelope[0])
    peaks = [i for i in range(1, len(rise) - 1) if rise[i] > 0.12 and rise[i] >= rise[i - 1] and rise[i] >= rise[i + 1]]
    return [i / fps for i in peaks]
