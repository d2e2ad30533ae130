"""render.media.audio.write_wav: the one WAV writer keeps each former writer's samples bit for bit."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from render.media.audio import write_wav


def _pcm(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as reader:
        return np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2"), reader.getnchannels()


def test_truncation_matches_the_synthesizers_float32_writer(tmp_path: Path) -> None:
    samples = np.random.default_rng(3).uniform(-1.2, 1.2, 48000).astype(np.float32)
    pcm, channels = _pcm(write_wav(tmp_path / "t.wav", samples, 22050, round_to_nearest=False))
    assert channels == 1
    assert np.array_equal(pcm, (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2"))


def test_rounding_is_the_default_and_differs_from_truncation(tmp_path: Path) -> None:
    samples = np.array([0.5 / 32767, -0.6 / 32767, 1.7 / 32767, 1.0, -1.0], dtype=np.float64)
    rounded, _ = _pcm(write_wav(tmp_path / "r.wav", samples, 16000))
    truncated, _ = _pcm(write_wav(tmp_path / "t.wav", samples, 16000, round_to_nearest=False))
    assert rounded.tolist() == [0, -1, 2, 32767, -32767]
    assert truncated.tolist() == [0, 0, 1, 32767, -32767]


def test_stereo_copies_the_mono_signal(tmp_path: Path) -> None:
    samples = np.linspace(-1, 1, 100, dtype=np.float32)
    pcm, channels = _pcm(write_wav(tmp_path / "s.wav", samples, 48000, channels=2, round_to_nearest=False))
    assert channels == 2
    assert np.array_equal(pcm[0::2], pcm[1::2])


def _one_fft_loudness(samples, rate: int) -> float:  # noqa: ANN001
    """The integrated loudness filtered with one FFT over the whole signal (the implementation before the chunked one)."""
    import math

    from render.media import audio

    x = audio.as_mono(samples)
    size = audio._fast_length(x.size + rate // 2)
    spectrum = np.fft.rfft(x, size)
    spectrum *= audio._k_weighting(rate, np.linspace(0, math.pi, spectrum.size))
    weighted = np.fft.irfft(spectrum, size)[: x.size]
    block, hop = int(round(0.4 * rate)), int(round(0.1 * rate))
    if x.size < block:
        powers = np.array([np.mean(weighted**2)])
    else:
        cumulative = np.concatenate([[0.0], np.cumsum(weighted**2)])
        starts = np.arange(0, x.size - block + 1, hop)
        powers = (cumulative[starts + block] - cumulative[starts]) / block
    loud = powers[powers > 10 ** ((-70.0 + 0.691) / 10)]
    relative = -0.691 + 10 * math.log10(loud.mean()) - 10.0
    gated = loud[loud > 10 ** ((relative + 0.691) / 10)]
    return -0.691 + 10 * math.log10((gated if gated.size else loud).mean())


@pytest.mark.parametrize("rate", [48_000, 44_100, 16_000, 11_025])
@pytest.mark.parametrize("seconds", [0.2, 1.0, 9.99, 10.3, 25.7])
def test_loudness_in_chunks_equals_one_fft_over_the_whole_signal(rate: int, seconds: float) -> None:
    from render.media.audio import integrated_loudness

    n = int(rate * seconds)
    t = np.arange(n) / rate
    rng = np.random.default_rng(7)
    x = (0.2 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 0.7 * t)) + 0.05 * rng.standard_normal(n)) * (t < 0.8 * seconds)
    assert integrated_loudness(x, rate) == pytest.approx(_one_fft_loudness(x, rate), abs=1e-3)


def test_loudness_memory_does_not_grow_with_the_signal_beyond_its_own_copy() -> None:
    """90 s at 48 kHz: one FFT over the whole mix held ~280 MB at once; in 10 s pieces it holds the float64 copy of the
    signal (35 MB, twice while NaNs are cleared) and about one piece."""
    import tracemalloc

    from render.media.audio import integrated_loudness

    x = (np.random.default_rng(1).standard_normal(48_000 * 90) * 0.1).astype(np.float32)
    tracemalloc.start()
    try:
        integrated_loudness(x, 48_000)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 130e6
