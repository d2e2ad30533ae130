"""Pauses and loudness (render.voice.prosody): measured on a sample, applied to speech with its timings.

Synthetic "speech" (buzzy 140 Hz syllables over a noise floor, silences of known
length) checks the measuring and the editing exactly; then the real backend
(hibari, cheap) speaks one script for a speaker whose sample pauses long and one
whose sample pauses briefly, and a listener's measures (the pauses of the output,
its loudness) move toward each sample.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

from render.media.audio import integrated_loudness
from render.types import PhonemeTiming, WordTiming
from render.voice import prosody

RATE = 16000


def _syllable(length_s: float, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(length_s * RATE)) / RATE
    buzz = sum(np.sin(2 * math.pi * 140 * k * t) / k for k in range(1, 12))
    return (0.3 * buzz * np.hanning(t.size) * (1 + 0.05 * rng.standard_normal(t.size))).astype(np.float32)


def _speech(pauses: list[float], *, noise_db: float = -55.0, seed: int = 0) -> tuple[np.ndarray, list[WordTiming]]:
    """Words of 0.3 s (two syllables each) separated by the given pauses, 0.3 s of lead-in and tail, over a noise floor."""
    rng = np.random.default_rng(seed)
    pieces, words, clock = [np.zeros(int(0.3 * RATE), np.float32)], [], 0.3
    for index, pause in enumerate([*pauses, None]):
        word = np.concatenate([_syllable(0.15, rng), _syllable(0.15, rng)])
        pieces.append(word)
        words.append(WordTiming(f"w{index}", round(clock, 4), round(clock + word.size / RATE, 4)))
        clock += word.size / RATE
        gap = 0.3 if pause is None else pause
        pieces.append(np.zeros(int(round(gap * RATE)), np.float32))
        clock += int(round(gap * RATE)) / RATE
    x = np.concatenate(pieces)
    return x + (10 ** (noise_db / 20) * rng.standard_normal(x.size)).astype(np.float32), words


def test_the_median_pause_is_measured_over_noise_without_the_lead_in_and_tail() -> None:
    x, _ = _speech([0.4, 0.5, 0.6, 0.1])           # 100 ms is a stop closure, not a pause
    assert prosody.pauses_s(x, RATE) == pytest.approx([0.4, 0.5, 0.6], abs=0.03)
    assert prosody.median_pause_s(x, RATE) == pytest.approx(0.5, abs=0.03)
    hissy, _ = _speech([0.4, 0.5, 0.6], noise_db=-30.0)   # a phone recording's hiss
    assert prosody.median_pause_s(hissy, RATE) == pytest.approx(0.5, abs=0.06)    # the syllables' quiet edges sink under the hiss
    assert prosody.median_pause_s(_speech([])[0], RATE) is None


@pytest.mark.parametrize("factor", [2.0, 0.5])
def test_scaling_pauses_changes_them_and_moves_the_timings_with_the_audio(factor: float) -> None:
    x, words = _speech([0.5, 0.6, 0.7])
    phonemes = [PhonemeTiming("a", w.start_s, w.start_s + 0.15) for w in words]
    y, new_phonemes, new_words = prosody.scale_pauses(x, RATE, phonemes, words, factor)
    before, after = prosody.pauses_s(x, RATE), prosody.pauses_s(y, RATE)
    # The silences between words (not the words) change by the factor, as a listener measures them.
    assert after == pytest.approx([p * factor for p in before], abs=0.025)
    assert y.size / RATE == pytest.approx(x.size / RATE + sum(p * (factor - 1) for p in before), abs=0.05)
    for old, new in zip(words, new_words, strict=True):
        assert new.end_s - new.start_s == pytest.approx(old.end_s - old.start_s, abs=1e-3)    # words keep their length
        a, b = int(old.start_s * RATE), int(old.end_s * RATE)
        moved = round((new.start_s - old.start_s) * RATE)
        # ... and their audio, where the timings say (to the timings' 0.1 ms rounding)
        assert any(np.allclose(y[a + moved + lag + 200 : b + moved + lag - 200], x[a + 200 : b - 200], atol=1e-6) for lag in (-1, 0, 1))
    assert [p.start_s - w.start_s for p, w in zip(new_phonemes, new_words, strict=True)] == pytest.approx([0.0] * len(words), abs=1e-3)
    assert prosody.scale_pauses(x, RATE, phonemes, words, 1.0)[0].size == x.size


def test_loudness_is_matched_within_a_tenth_of_a_unit_and_never_clips() -> None:
    x, _ = _speech([0.3, 0.4])
    quiet = prosody.match_loudness(x, RATE, -30.0)
    assert integrated_loudness(quiet, RATE) == pytest.approx(-30.0, abs=0.1)
    loud = prosody.match_loudness(x, RATE, -3.0)                      # unreachable under the peak limit
    assert float(np.abs(loud).max()) == pytest.approx(prosody.PEAK_LIMIT, abs=1e-3)
    assert prosody.target_loudness_lufs(-45.0) == prosody.LOUDNESS_RANGE_LUFS[0]   # a whisper is raised to the floor
    assert prosody.target_loudness_lufs(-8.0) == prosody.LOUDNESS_RANGE_LUFS[1]
    assert prosody.target_loudness_lufs(-22.5) == -22.5
    assert prosody.pause_scale(0.9, 0.3) == prosody.PAUSE_SCALE_RANGE[1] and prosody.pause_scale(None, 0.3) == 1.0


# --------------------------------------------------------------------------- the real backend


needs_voices = pytest.mark.skipif(
    importlib.util.find_spec("pyworld") is None or importlib.util.find_spec("hibari") is None
    or not Path("/usr/share/codec2/raw/speech_orig_16k.wav").is_file(),
    reason="pyworld, hibari-tts or Debian codec2-examples is not installed (make install)")


def _with_pauses(samples: np.ndarray, rate: int, pause_s: float) -> np.ndarray:
    """The sample with every quiet stretch between talking replaced by ``pause_s`` of its own quietest audio."""
    loud = prosody.talking_frames(samples, rate)
    hop = int(rate * prosody.FRAME_S)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], loud.astype(np.int8), [0]])))
    floor = samples[: int(0.05 * rate)]
    pieces = []
    for start, end in zip(edges[::2], edges[1::2], strict=True):
        pieces += [samples[start * hop : end * hop], np.resize(floor, int(pause_s * rate))]
    return np.concatenate(pieces[:-1])


@needs_voices
def test_the_matched_voice_takes_the_samples_pauses_and_loudness(tmp_path: Path) -> None:
    from render.media.audio import write_wav
    from render.voice import world_backend as wb
    from render.voice.base import VoiceProfileData
    from voice_refs import SCRIPT, codec2_speaker

    samples, rate = codec2_speaker("female")
    from render.voice.text import prepare

    backend = wb.WorldBackend(base="hibari-heart")
    plain = backend._synthesizer("hibari-heart").synthesize_full(list(prepare(SCRIPT).sentences))
    plain_pause = prosody.median_pause_s(plain.samples, plain.rate)
    measured = {}
    for name, pause, level in (("slow", 1.2, -27.0), ("brisk", 0.3, -21.0)):
        sample = _with_pauses(samples, rate, pause)
        sample = sample * 10 ** ((level - integrated_loudness(sample, rate)) / 20)
        path = write_wav(tmp_path / f"{name}.wav", sample, rate)
        profile = VoiceProfileData(name=name, sample_path=path)
        artifacts = backend.enroll(profile, tmp_path)
        assert artifacts["sample"]["pause_s"] == pytest.approx(pause, abs=0.05)
        profile = VoiceProfileData(name=name, sample_path=path, artifacts={"piper-world": artifacts})
        speech = backend.speak(SCRIPT, tmp_path / f"{name}-out.wav", profile=profile)
        out, out_rate = _read(speech.path)
        measured[name] = (prosody.median_pause_s(out, out_rate), integrated_loudness(out, out_rate), artifacts["match"]["pause_scale"])
        assert integrated_loudness(out, out_rate) == pytest.approx(level, abs=1.0)    # the sample's loudness, within 1 LU
        assert speech.words[-1].end_s <= speech.duration_s + 1e-6
    slow, brisk = measured["slow"], measured["brisk"]
    assert slow[2] > 1.0 > brisk[2]
    # Pauses move from the base voice's toward each sample's: longer for the slow speaker, shorter for the brisk one.
    assert slow[0] > plain_pause * 1.25 and brisk[0] < plain_pause * 0.8, (plain_pause, measured)


def _read(path: Path) -> tuple[np.ndarray, int]:
    import wave

    with wave.open(str(path)) as audio:
        return np.frombuffer(audio.readframes(audio.getnframes()), dtype="<i2").astype(np.float32) / 32767.0, audio.getframerate()
