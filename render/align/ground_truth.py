"""Speech whose true word times are known, for measuring aligners.

Piper's own word timings are estimates, so they cannot judge an aligner. Instead each
written word is synthesized on its own (its spoken form, "$5" -> "five dollars"),
trimmed to its audible span (5 ms frames, -45 dB below the clip's peak), and the
clips are joined with known gaps: every word's true start and end are then exact
sample positions. Gaps vary from a short breath to a sentence pause, as in speech.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from render.types import WordTiming


def audible_span(samples: np.ndarray, rate_hz: int, *, frame_s: float = 0.005, threshold_db: float = -45.0) -> tuple[int, int]:
    """First and last sample of the part of ``samples`` louder than ``threshold_db`` below its loudest frame."""
    frame = max(1, int(rate_hz * frame_s))
    count = samples.size // frame
    if count == 0:
        return 0, samples.size
    energy = np.sqrt(np.mean(samples[: count * frame].reshape(count, frame).astype(np.float64) ** 2, axis=1))
    loud = np.nonzero(energy > energy.max() * 10 ** (threshold_db / 20))[0]
    if loud.size == 0:
        return 0, samples.size
    return int(loud[0] * frame), int(min(samples.size, (loud[-1] + 1) * frame))


def build_ground_truth(
    words: Sequence[str],
    out_path: Path,
    *,
    seed: int = 0,
    gaps_s: tuple[float, float] = (0.04, 0.25),
    sentence_gap_s: float = 0.45,
    lead_s: float = 0.3,
    language: str = "en",
) -> tuple[Path, tuple[WordTiming, ...]]:
    """Write a WAV of ``words`` said one by one with known gaps; return it with the true word timings."""
    from render.media.audio import write_wav
    from render.voice.base import get
    from render.voice.text import normalize

    backend = get("piper")
    rng = random.Random(seed)
    pieces: list[np.ndarray] = []
    truth: list[WordTiming] = []
    rate = 0
    position = 0
    clip_cache: dict[str, np.ndarray] = {}
    for index, word in enumerate(words):
        spoken = normalize(word, language)
        if spoken not in clip_cache:
            samples, rate, *_ = backend.synthesize([spoken])   # type: ignore[attr-defined]
            first, last = audible_span(samples, rate)
            clip_cache[spoken] = samples[first:last]
        clip = clip_cache[spoken]
        gap_s = lead_s if index == 0 else (sentence_gap_s if words[index - 1][-1:] in ".!?" else rng.uniform(*gaps_s))
        gap = np.zeros(int(round(gap_s * rate)), dtype=np.float32)
        pieces += [gap, clip]
        position += gap.size
        truth.append(WordTiming(word, round(position / rate, 4), round((position + clip.size) / rate, 4)))
        position += clip.size
    pieces.append(np.zeros(int(0.3 * rate), dtype=np.float32))
    write_wav(Path(out_path), np.concatenate(pieces), rate, round_to_nearest=False)
    return Path(out_path), tuple(truth)


SAMPLE_SCRIPT = (
    "Stop scrolling for a second. Here is the one habit that saved me $500 in a single month. "
    "Every morning at 7am I write down three things I will not buy today. "
    "It sounds silly, but 80% of my impulse purchases simply disappeared. "
    "By 2026 I want to have saved enough for a trip to Japan. "
    "Try it for one week and tell me what happens in the comments."
)
