"""A fast pitch tracker for voice matching at speaking time: YIN on all frames at once, refined by WORLD's StoneMask.

WORLD's Harvest (``world_backend.track_f0``) is the careful tracker, used where
accuracy matters more than time (measuring the enrollment sample and the base
voices). At speaking time it cost more than the synthesizer itself, because it
always works on 1 ms frames and 40 filter channels per octave. This tracker:

1. resamples the audio to 8 kHz (one FFT: pitch lives far below 4 kHz);
2. computes YIN's cumulative mean normalised difference for every frame at
   once (one batched FFT cross-correlation, cumulative sums for the energies);
3. takes each frame's first dip under ``THRESHOLD`` (YIN's rule against
   octave-high picks), refines it by a parabola, and calls the frame voiced
   where the dip is deep enough and the frame is loud enough;
4. fills 1-2 frame holes, drops voiced runs under 20 ms, and moves frames that
   sit more than 0.6 octave from the running median of their voiced
   neighbours by whole octaves toward it;
5. refines the frequencies with WORLD's StoneMask on the full-rate signal (as
   WORLD does after DIO), so the re-synthesis gets Harvest-grade precision.

Agreement with Harvest on the bundled voice, accuracy and cost: see
``tests/test_voice_pitch.py`` and the module docstring of ``world_backend``.
"""

from __future__ import annotations

import math

import numpy as np

ANALYSIS_RATE_HZ = 8000
THRESHOLD = 0.10          # YIN's absolute threshold on the normalised difference
VOICING = 0.15            # a frame whose best dip is above this is unvoiced (see world_backend: less voicing matched better)
LOUD_RANGE_DB = 40.0      # frames this far under the loud ones are unvoiced (silence, breath)
WINDOW_S = 0.025
MIN_RUN_FRAMES = 4
OCTAVE_SPAN_FRAMES = 40   # the running median's reach, in voiced frames each side


def fft_resample(x: np.ndarray, rate: int, target_rate: int) -> np.ndarray:
    """``x`` at ``target_rate`` by one FFT (spectrum cut or zero-padded, the top 5 % of the kept band tapered)."""
    x = np.asarray(x, dtype=np.float64)
    if rate == target_rate or x.size == 0:
        return x.copy()
    size = int(round(x.size * target_rate / rate))
    spectrum = np.fft.rfft(x)
    keep = min(spectrum.size, size // 2 + 1)
    out = np.zeros(size // 2 + 1, dtype=np.complex128)
    out[:keep] = spectrum[:keep]
    edge = max(1, keep // 20)
    out[keep - edge : keep] *= np.linspace(1.0, 0.0, edge)
    return np.fft.irfft(out, size) * (size / x.size)


def _difference(frames: np.ndarray, window: int, max_lag: int) -> np.ndarray:
    """YIN's cumulative mean normalised difference d'(lag) for each row of ``frames`` (rows: window + max_lag samples)."""
    count = frames.shape[0]
    size = 1 << int(math.ceil(math.log2(frames.shape[1] + window)))
    head = np.zeros((count, size))
    head[:, :window] = frames[:, :window]
    correlation = np.fft.irfft(np.conj(np.fft.rfft(head, axis=1)) * np.fft.rfft(frames, size, axis=1), size, axis=1)[:, : max_lag + 1]
    energy = np.concatenate([np.zeros((count, 1)), np.cumsum(frames**2, axis=1)], axis=1)
    lags = np.arange(max_lag + 1)
    difference = np.maximum(energy[:, window : window + 1] + energy[:, lags + window] - energy[:, lags] - 2.0 * correlation, 0.0)
    normalised = np.ones_like(difference)
    running = np.cumsum(difference[:, 1:], axis=1)
    normalised[:, 1:] = difference[:, 1:] * lags[1:] / np.maximum(running, 1e-12)
    return normalised


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return edges[::2], edges[1::2]


def _fix_octaves(f0: np.ndarray) -> np.ndarray:
    """Move voiced frames more than 0.6 octave off the running median of their voiced neighbours by whole octaves."""
    voiced = np.flatnonzero(f0 > 0)
    if voiced.size < 5:
        return f0
    log_f0 = np.log2(f0[voiced])
    span = min(OCTAVE_SPAN_FRAMES, voiced.size // 2)
    padded = np.pad(log_f0, span, mode="edge")
    median = np.median(np.lib.stride_tricks.sliding_window_view(padded, 2 * span + 1), axis=1)
    off = log_f0 - median
    log_f0 = np.where(np.abs(off) > 0.6, log_f0 - np.round(off), log_f0)
    out = f0.copy()
    out[voiced] = 2.0**log_f0
    return out


def yin_f0(x: np.ndarray, rate: int, *, f0_range_hz: tuple[float, float], frame_period_ms: float) -> tuple[np.ndarray, np.ndarray]:
    """Raw YIN F0 (Hz, 0 unvoiced) and frame times (s) on WORLD's frame grid, before StoneMask."""
    low, high = f0_range_hz
    x = np.asarray(x, dtype=np.float64)
    count = int(x.size / rate * 1000.0 / frame_period_ms) + 1
    times = np.arange(count) * frame_period_ms / 1000.0
    y = fft_resample(x, rate, ANALYSIS_RATE_HZ)
    r = ANALYSIS_RATE_HZ
    min_lag, max_lag = max(2, int(math.floor(r / high))), int(math.ceil(r / low)) + 1
    window = max(max_lag, int(WINDOW_S * r))
    span = window + max_lag + 1
    starts = np.rint(times * r).astype(np.int64) - span // 2 + span
    padded = np.concatenate([np.zeros(span), y, np.zeros(2 * span)])
    frames = padded[starts[:, None] + np.arange(span)[None, :]]
    normalised = _difference(frames, window, max_lag)
    search = normalised[:, min_lag:max_lag]
    rows = np.arange(count)
    # YIN: the first dip under the threshold (down to the bottom of that dip), else the deepest one.
    below = search < THRESHOLD
    first = below.argmax(axis=1)
    run = np.cumsum(~below, axis=1)
    in_dip = below & (run == run[rows, first][:, None]) & (np.arange(search.shape[1])[None, :] >= first[:, None])
    dip = np.where(in_dip, search, np.inf).argmin(axis=1)
    lag_index = np.where(below.any(axis=1), dip, search.argmin(axis=1))
    best = search[rows, lag_index]
    lag = lag_index + min_lag
    left, mid, right = normalised[rows, lag - 1], normalised[rows, lag], normalised[rows, np.minimum(lag + 1, max_lag)]
    curvature = left - 2.0 * mid + right
    shift = np.clip(np.divide(0.5 * (left - right), curvature, out=np.zeros(count), where=np.abs(curvature) > 1e-12), -0.5, 0.5)
    f0 = r / (lag + shift)
    level = 10.0 * np.log10(np.maximum(np.mean(frames[:, :window] ** 2, axis=1), 1e-14))
    voiced = (best < VOICING) & (level > np.percentile(level, 95) - LOUD_RANGE_DB) & (f0 >= low) & (f0 <= high)
    starts_v, ends_v = _runs(~voiced)
    for start, end in zip(starts_v, ends_v, strict=True):   # 1-2 frame holes inside voicing: bridged
        if end - start <= 2 and start > 0 and end < count:
            voiced[start:end] = True
            f0[start:end] = np.exp(np.interp(np.arange(start, end), [start - 1, end], np.log([f0[start - 1], f0[end]])))
    starts_v, ends_v = _runs(voiced)
    for start, end in zip(starts_v, ends_v, strict=True):
        if end - start < MIN_RUN_FRAMES:
            voiced[start:end] = False
    return _fix_octaves(np.where(voiced, f0, 0.0)), times


def track_f0_fast(x: np.ndarray, rate: int, *, f0_range_hz: tuple[float, float], frame_period_ms: float) -> tuple[np.ndarray, np.ndarray]:
    """F0 (Hz, 0 where unvoiced) and frame times like ``pyworld.harvest``'s, for a tenth of its cost."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyworld 0.3.5 imports the deprecated pkg_resources
        import pyworld

    x = np.ascontiguousarray(x, dtype=np.float64)
    f0, times = yin_f0(x, rate, f0_range_hz=f0_range_hz, frame_period_ms=frame_period_ms)
    refined = pyworld.stonemask(x, f0, times, rate)
    # StoneMask can wander on a weak frame: keep its refinement only within a semitone and a half of YIN's value.
    close = (f0 > 0) & (refined > 0) & (np.abs(np.log2(np.maximum(refined, 1e-9) / np.maximum(f0, 1e-9))) < 0.125)
    return np.where(close, refined, f0), times
