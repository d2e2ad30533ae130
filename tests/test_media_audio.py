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
    """90 s at 48 kHz: one FFT over the whole mix held ~280 MB at once; in 10 s pieces with the whole signal converted to
    float64 first, ~91 MB (that copy, twice while NaNs were cleared); each piece converted as it is filtered, about one
    piece's buffers (~25 MB), whatever the signal's length."""
    import tracemalloc

    from render.media.audio import integrated_loudness

    x = (np.random.default_rng(1).standard_normal(48_000 * 90) * 0.1).astype(np.float32)
    tracemalloc.start()
    try:
        integrated_loudness(x, 48_000)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 40e6


def _whole_array_wav(path: Path, samples, rate: int, *, channels: int = 1, round_to_nearest: bool = True) -> bytes:  # noqa: ANN001
    """write_wav as it was before it wrote in pieces: the whole signal converted at once (the reference)."""
    from render.media.audio import as_mono

    x = np.asarray(samples)
    x = np.nan_to_num(x) if not round_to_nearest and x.ndim == 1 and np.issubdtype(x.dtype, np.floating) else as_mono(x)
    scaled = np.clip(x, -1.0, 1.0) * 32767.0
    pcm = (np.rint(scaled) if round_to_nearest else scaled).astype("<i2")
    if channels > 1:
        pcm = np.repeat(pcm[:, None], channels, axis=1)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(int(rate))
        out.writeframes(pcm.tobytes())
    return path.read_bytes()


@pytest.mark.parametrize("chunk", [1 << 18, 1000, 7])
def test_wav_written_in_pieces_is_the_whole_array_writers_file_byte_for_byte(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    from render.media import audio

    monkeypatch.setattr(audio, "WAV_CHUNK", chunk)
    rng = np.random.default_rng(11)
    loud = rng.uniform(-1.3, 1.3, 30_011)
    loud[[5, 700, 2999]] = [np.nan, np.inf, -np.inf]
    cases = [
        (loud.astype(np.float32), {"round_to_nearest": False}),
        (loud.astype(np.float32), {"round_to_nearest": False, "channels": 2}),
        (loud, {}),
        (loud, {"channels": 2}),
        (rng.integers(-32768, 32767, 5_003).astype(np.int16), {}),
        (rng.uniform(-1, 1, (4_001, 2)), {"round_to_nearest": False}),
        (np.zeros(0, dtype=np.float32), {"round_to_nearest": False, "channels": 2}),
        (np.zeros(0), {}),
    ]
    for index, (samples, options) in enumerate(cases):
        written = audio.write_wav(tmp_path / f"{index}.wav", samples, 48_000, **options).read_bytes()
        assert written == _whole_array_wav(tmp_path / f"{index}-ref.wav", samples, 48_000, **options), (index, options)


def test_wav_writer_refuses_other_shapes_as_before(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="1-D"):
        write_wav(tmp_path / "x.wav", np.zeros((2, 3, 4)), 16_000)


def test_wav_writer_holds_no_whole_copy_of_the_signal(tmp_path: Path) -> None:
    """60 s at 48 kHz float32 (11.5 MB) as the stereo mix the composer writes: the whole-array writer held about five
    whole-length arrays at once (float, scaled, 16-bit, interleaved, bytes: ~50 MB); in pieces, a few MB."""
    import tracemalloc

    x = (np.random.default_rng(2).standard_normal(48_000 * 60) * 0.1).astype(np.float32)
    tracemalloc.start()
    try:
        write_wav(tmp_path / "mix.wav", x, 48_000, channels=2, round_to_nearest=False)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8e6


def test_loudness_reads_each_piece_as_as_mono_reads_the_whole() -> None:
    """Stereo frames, 16-bit integers and NaNs are converted piece by piece, to the same figure to the last bit."""
    from render.media.audio import as_mono, integrated_loudness

    rng = np.random.default_rng(5)
    stereo = rng.standard_normal((48_000 * 23, 2)) * 0.1
    stereo[1000, 0] = np.nan
    pcm = (rng.standard_normal(44_100 * 12) * 3000).astype(np.int16)
    assert integrated_loudness(stereo, 48_000) == integrated_loudness(as_mono(stereo), 48_000)
    assert integrated_loudness(pcm, 44_100) == integrated_loudness(as_mono(pcm), 44_100)
    with pytest.raises(ValueError, match="1-D"):
        integrated_loudness(np.zeros((2, 3, 4)), 48_000)


def test_freed_memory_is_handed_back_where_the_c_library_can(monkeypatch: pytest.MonkeyPatch) -> None:
    import platform

    from render.media import memory

    released = memory.release_free_memory()
    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        assert released is True
    monkeypatch.setattr(memory, "_malloc_trim", lambda: None)      # another C library: nothing to ask, no error
    assert memory.release_free_memory() is False


@pytest.mark.parametrize("chunk", [1 << 18, 997, 1])
def test_cumulative_energy_is_the_whole_array_running_sum_bit_for_bit(monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    from render.media import audio

    monkeypatch.setattr(audio, "ENERGY_CHUNK", chunk)
    rng = np.random.default_rng(6)
    samples = (rng.standard_normal(12_345) * 0.3).astype(np.float32)
    whole = np.concatenate(([0.0], np.cumsum(samples.astype(np.float64) ** 2)))
    edges = rng.integers(0, samples.size + 1, 400)                 # any order, repeats, 0 and the end included
    edges[:3] = [0, samples.size, 0]
    assert np.array_equal(audio.cumulative_energy(samples, edges), whole[edges])
    assert np.array_equal(audio.cumulative_energy(samples[:0], np.array([0, 0])), np.zeros(2))
