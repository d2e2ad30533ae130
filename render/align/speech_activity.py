"""Energy voice-activity detection: where in a recording someone speaks (no model, numpy only)."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from render.align.base import AlignError


def load_mono(path: Path, rate_hz: int = 16000) -> np.ndarray:
    """The recording as float32 mono at ``rate_hz``: WAV through the standard library, anything else through PyAV."""
    path = Path(path)
    if not path.is_file():
        raise AlignError(f"audio {str(path)!r} does not exist; pass the WAV the voice stage wrote")
    try:
        with wave.open(str(path), "rb") as reader:
            channels, width, rate = reader.getnchannels(), reader.getsampwidth(), reader.getframerate()
            raw = reader.readframes(reader.getnframes())
        if width not in (1, 2, 4):
            raise wave.Error(f"{width * 8}-bit samples")
        dtype = {1: np.uint8, 2: "<i2", 4: "<i4"}[width]
        samples = np.frombuffer(raw, dtype=dtype).astype(np.float32)
        samples = (samples - 128.0) / 128.0 if width == 1 else samples / float(2 ** (8 * width - 1))
        samples = samples.reshape(-1, channels).mean(axis=1) if channels > 1 else samples
        return resample(samples, rate, rate_hz)
    except (wave.Error, EOFError):
        pass
    try:
        from faster_whisper.audio import decode_audio
    except ImportError:
        raise AlignError(f"audio {str(path)!r} is not a PCM WAV; convert it with ffmpeg -i IN -ac 1 -ar 16000 OUT.wav") from None
    try:
        return np.asarray(decode_audio(str(path), sampling_rate=rate_hz), dtype=np.float32)
    except Exception as error:  # PyAV raises many kinds of errors for unreadable files
        raise AlignError(f"audio {str(path)!r} cannot be decoded ({error}); convert it with ffmpeg -i IN -ac 1 -ar 16000 OUT.wav") from error


def resample(samples: np.ndarray, from_hz: int, to_hz: int) -> np.ndarray:
    """Linear-interpolation resampling (enough for timing work; speech recognisers low-pass anyway)."""
    if from_hz == to_hz or samples.size == 0:
        return samples.astype(np.float32, copy=False)
    count = int(round(samples.size * to_hz / from_hz))
    positions = np.arange(count, dtype=np.float64) * (from_hz / to_hz)
    return np.interp(positions, np.arange(samples.size), samples).astype(np.float32)


def speech_segments(
    samples: np.ndarray,
    rate_hz: int,
    *,
    frame_s: float = 0.01,
    threshold_db: float = -35.0,
    min_silence_s: float = 0.12,
    min_speech_s: float = 0.05,
) -> list[tuple[float, float]]:
    """(start_s, end_s) of speech: 10 ms frames louder than ``threshold_db`` below the loudest frame.

    Silences shorter than ``min_silence_s`` are bridged (stops inside words) and blips
    shorter than ``min_speech_s`` dropped (clicks). The threshold is relative to the
    95th-percentile frame so one loud click does not hide quiet speech.
    """
    frame = max(1, int(rate_hz * frame_s))
    count = samples.size // frame
    if count == 0:
        return []
    energy = np.sqrt(np.mean(samples[: count * frame].reshape(count, frame).astype(np.float64) ** 2, axis=1))
    reference = float(np.percentile(energy, 95))
    if reference <= 1e-6:
        return []
    floor = max(reference * 10 ** (threshold_db / 20), 1e-4)
    loud = energy > floor
    segments: list[list[float]] = []
    start = None
    for index, is_loud in enumerate(loud):
        if is_loud and start is None:
            start = index
        elif not is_loud and start is not None:
            segments.append([start * frame_s, index * frame_s])
            start = None
    if start is not None:
        segments.append([start * frame_s, count * frame_s])
    merged: list[list[float]] = []
    for segment in segments:
        if merged and segment[0] - merged[-1][1] < min_silence_s:
            merged[-1][1] = segment[1]
        else:
            merged.append(segment)
    return [(round(a, 3), round(b, 3)) for a, b in merged if b - a >= min_speech_s]
