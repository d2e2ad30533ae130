"""render.media.audio.write_wav: the one WAV writer keeps each former writer's samples bit for bit."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

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
