"""Audio as numpy arrays: decoding anything ffmpeg reads, resampling, loudness, and writing WAV files.

``decode`` runs ffmpeg once (mono float32 at a chosen rate, optionally with its EBU R128
loudness); ``read_mono`` adds the probe and resampling around it for callers that just need
samples. Resampling and loudness are pure numpy (no scipy):

- ``resample``: Kaiser-windowed sinc, polyphase table.
- ``integrated_loudness``: ITU-R BS.1770 integrated loudness (K-weighting, 400 ms blocks,
  -70 LUFS absolute and -10 LU relative gates). The two K-weighting biquads are applied as a
  zero-phase magnitude response in the FFT domain; block energies differ from the recursive
  filter by well under 0.1 dB.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from render.media.ffmpeg import ToolErrors, ffmpeg_reason, find_tools, run_tool
from render.media.probe import probe

#: levels at or under this are silence (dB relative to full scale)
FLOOR_DB = -120.0


# --------------------------------------------------------------------------- decoding


@dataclass(frozen=True)
class DecodedAudio:
    samples: np.ndarray            # mono float32 at ``sample_rate_hz``, as ffmpeg wrote it (not clipped)
    sample_rate_hz: int
    integrated_lufs: float | None = None  # with measure_loudness; None when ffmpeg printed no measurement (silence: -70)
    stderr: bytes = b""            # what ffmpeg said on the way


_INTEGRATED = re.compile(r"Integrated loudness:\s*\n\s*I:\s*(-?[\d.]+|-inf|nan) LUFS")


def decode(
    path: Path,
    *,
    ffmpeg: str,
    rate_hz: int,
    label: str,
    errors: ToolErrors,
    unreadable: Callable[[bytes], Exception],
    timeout_s: float,
    channels: int | None = None,
    max_duration_s: float | None = None,
    measure_loudness: bool = False,
) -> DecodedAudio:
    """The first audio stream of ``path`` as mono float32 at ``rate_hz``, in one ffmpeg run.

    With ``channels`` (more than one) the channels are averaged (ffmpeg's own ``-ac 1`` adds
    correlated channels at +3 dB); without, ffmpeg downmixes. ``max_duration_s`` stops decoding
    there. ``measure_loudness`` also measures the stream as it is (all channels) with ffmpeg's
    EBU R128 filter. ``unreadable(stderr)`` is raised when ffmpeg fails.
    """
    command = [ffmpeg, "-hide_banner", "-nostdin", *(["-nostats"] if measure_loudness else ["-v", "error"]),
               "-i", str(path), "-map", "0:a:0", "-vn", "-sn", "-dn"]
    if measure_loudness:
        command += ["-af", f"ebur128=framelog=verbose,aresample={rate_hz},aformat=sample_fmts=flt:channel_layouts=mono"]
    elif channels and channels > 1:
        gains = "+".join(f"{1 / channels:.6f}*c{index}" for index in range(channels))
        command += ["-af", f"pan=mono|c0={gains}", "-ar", str(rate_hz)]
    else:
        command += ["-ac", "1", "-ar", str(rate_hz)]
    if max_duration_s is not None:
        command += ["-t", f"{max_duration_s:.3f}"]
    command += ["-f", "f32le", "-acodec", "pcm_f32le", "-"]
    result = run_tool(command, timeout_s=timeout_s, label=label, errors=errors)
    if result.returncode != 0:
        raise unreadable(result.stderr)
    usable = len(result.stdout) - len(result.stdout) % 4
    samples = np.frombuffer(result.stdout[:usable], dtype="<f4").astype(np.float32)   # a writable array of its own
    lufs = None
    if measure_loudness and (found := _INTEGRATED.search(result.stderr.decode("utf-8", "replace"))):
        with contextlib.suppress(ValueError):
            lufs = float(found[1])
        if lufs is not None and not np.isfinite(lufs):
            lufs = None
    return DecodedAudio(samples=samples, sample_rate_hz=rate_hz, integrated_lufs=lufs, stderr=result.stderr)


def read_mono(path: Path, rate_hz: int | None = None, *, error: type[Exception], label: str, fix: str,
              timeout_s: float = 300.0) -> tuple[np.ndarray, int]:
    """``path``'s audio, channels averaged, in [-1, 1]; at ``rate_hz`` (resampled here) or the file's own rate.

    Failures raise ``error`` with ``"<label> cannot be read (<ffmpeg's reason>); <fix>"``.
    Returns ``(samples, rate)``; an empty stream gives no samples, for the caller to judge.
    """
    path = Path(path)
    tools = find_tools(error=error)
    errors = ToolErrors(error=error, cannot_start="install ffmpeg", damaged=fix)

    def unreadable(stderr: bytes) -> Exception:
        return error(f"{label} cannot be read ({ffmpeg_reason(stderr, path)}); {fix}")

    info = probe(path, tools, timeout_s=min(60.0, timeout_s), label=label, errors=errors, unreadable=unreadable)
    if info.audio is None or not info.audio.sample_rate_hz:
        raise error(f"{label} cannot be read (no audio stream); {fix}")
    native = info.audio.sample_rate_hz
    decoded = decode(path, ffmpeg=tools.ffmpeg, rate_hz=native, label=label, errors=errors, unreadable=unreadable,
                     timeout_s=timeout_s, channels=info.audio.channels)
    # in place: decode's array is this call's own (a reel's whole audio, not copied twice more)
    samples = np.nan_to_num(decoded.samples, copy=False)
    np.clip(samples, -1.0, 1.0, out=samples)
    del decoded
    if rate_hz and rate_hz != native:
        return np.clip(resample(samples, native, rate_hz), -1.0, 1.0).astype(np.float32), rate_hz
    return samples, native


# --------------------------------------------------------------------------- resampling


def _kaiser(x: np.ndarray, beta: float) -> np.ndarray:
    inside = np.clip(1.0 - x * x, 0.0, None)
    return np.where(np.abs(x) <= 1.0, np.i0(beta * np.sqrt(inside)) / np.i0(beta), 0.0)


ZERO_CROSSINGS = 24
ROLLOFF = 0.92
KAISER_BETA = 9.0
MAX_PHASES = 4096


def resample(samples: np.ndarray, rate: int, target_rate: int) -> np.ndarray:
    """Band-limited resampling with a Kaiser-windowed sinc (polyphase table, no scipy).

    The low-pass is centred at 92 % of the lower Nyquist frequency, 24 zero
    crossings each side, Kaiser beta 9: flat to 80 %, -3 dB at 90 %, and more
    than 90 dB down from the Nyquist frequency on, so nothing audible aliases.
    Ratios whose reduced numerator exceeds 4096 use the nearest of 4096 filter
    phases (timing error under 1/8192 of a sample).
    """
    x = np.asarray(samples, dtype=np.float64)
    if rate == target_rate or x.size == 0:
        return x.astype(np.float32)
    common = math.gcd(int(rate), int(target_rate))
    up, down = target_rate // common, rate // common
    cutoff = min(1.0, target_rate / rate) * ROLLOFF  # in units of the input Nyquist frequency
    half = ZERO_CROSSINGS / cutoff  # half the kernel length, in input samples
    taps = int(math.ceil(half))
    phases = min(up, MAX_PHASES)
    # table[p, j]: weight of input sample base - taps + 1 + j for an output at base + p / phases.
    offsets = (np.arange(phases)[:, None] / phases) + (taps - 1) - np.arange(2 * taps)[None, :]
    table = cutoff * np.sinc(cutoff * offsets) * _kaiser(offsets / half, KAISER_BETA)
    table /= table.sum(axis=1, keepdims=True)
    padded = np.concatenate([np.zeros(taps), x, np.zeros(taps + 1)])
    count = int(math.ceil(x.size * up / down))
    out = np.empty(count, dtype=np.float64)
    chunk = max(1, 2_000_000 // (2 * taps))
    for start in range(0, count, chunk):
        n = np.arange(start, min(count, start + chunk), dtype=np.int64)
        position = n * down
        base = position // up
        if phases == up:
            phase = position % up
        else:
            phase = np.rint((position % up) * (phases / up)).astype(np.int64)
            base = base + (phase == phases)
            phase = phase % phases
        index = base[:, None] + 1 + np.arange(2 * taps)[None, :]  # +taps of padding, -taps+1 of the window
        out[start : start + n.size] = np.einsum("ij,ij->i", padded[index], table[phase])
    return out.astype(np.float32)


# --------------------------------------------------------------------------- measurements


def power_db(power: float) -> float:
    """A mean power (of samples in [-1, 1]) in dB relative to full scale, ``FLOOR_DB`` for silence."""
    return 10.0 * math.log10(power) if power > 10 ** (FLOOR_DB / 10) else FLOOR_DB


def as_mono(samples: np.ndarray) -> np.ndarray:
    """Float64 mono: integer PCM scaled to [-1, 1], frames x channels averaged, NaN as 0."""
    x = np.asarray(samples)
    if np.issubdtype(x.dtype, np.integer):
        x = x / float(np.iinfo(x.dtype).max)
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 2:
        x = x.mean(axis=1)
    if x.ndim != 1:
        raise ValueError(f"samples must be 1-D (or frames x channels), got shape {x.shape}")
    return np.nan_to_num(x)


def _fast_length(n: int) -> int:
    # Next 2^a * 3^b * 5^c at or above n: pocketfft is quickest on those.
    best = 1 << max(0, (n - 1).bit_length())
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            size = p35
            while size < n:
                size *= 2
            best = min(best, size)
            p35 *= 3
        p5 *= 5
    return best


def _biquad_response(b: tuple[float, float, float], a: tuple[float, float, float], omega: np.ndarray) -> np.ndarray:
    z1 = np.exp(-1j * omega)
    z2 = z1 * z1
    return np.abs((b[0] + b[1] * z1 + b[2] * z2) / (a[0] + a[1] * z1 + a[2] * z2))


def _k_weighting(rate: int, omega: np.ndarray) -> np.ndarray:
    """|H| of the BS.1770 pre-filter (high shelf +4 dB at 1.5 kHz) and RLB high-pass (38 Hz)."""
    gain_db, q, fc = 4.0, 1 / math.sqrt(2), 1500.0
    amp = 10 ** (gain_db / 40)
    w0 = 2 * math.pi * fc / rate
    alpha = math.sin(w0) / (2 * q)
    cos = math.cos(w0)
    shelf_b = (
        amp * ((amp + 1) + (amp - 1) * cos + 2 * math.sqrt(amp) * alpha),
        -2 * amp * ((amp - 1) + (amp + 1) * cos),
        amp * ((amp + 1) + (amp - 1) * cos - 2 * math.sqrt(amp) * alpha),
    )
    shelf_a = ((amp + 1) - (amp - 1) * cos + 2 * math.sqrt(amp) * alpha, 2 * ((amp - 1) - (amp + 1) * cos), (amp + 1) - (amp - 1) * cos - 2 * math.sqrt(amp) * alpha)
    w0 = 2 * math.pi * 38.0 / rate
    alpha, cos = math.sin(w0) / (2 * 0.5), math.cos(w0)
    high_b = ((1 + cos) / 2, -(1 + cos), (1 + cos) / 2)
    high_a = (1 + alpha, -2 * cos, 1 - alpha)
    return _biquad_response(shelf_b, shelf_a, omega) * _biquad_response(high_b, high_a, omega)


#: integrated_loudness filters the signal this many seconds at a time (overlap-add), so its memory does not grow with
#: the reel: a 90 s mix filtered in one FFT held ~280 MB at once (tracemalloc), in 10 s pieces ~40 MB
LOUDNESS_CHUNK_S = 10


def integrated_loudness(samples: np.ndarray, rate: int) -> float:
    """BS.1770 integrated loudness of a mono signal in LUFS (``FLOOR_DB`` for silence).

    The K-weighting is applied in the frequency domain (zero phase), ``LOUDNESS_CHUNK_S`` at a time: each piece is
    filtered with half a second of room on both sides and the overlapping ends added (overlap-add), the same linear
    filtering as one FFT over the whole signal. The 400 ms blocks' energies come from a running sum sampled only at
    the block edges, and each piece is read as :func:`as_mono` reads it (float64) when it is filtered, so nothing the
    length of the signal is held but the signal itself (a 90 s mix at 48 kHz: no 35 MB float64 copy of it)."""
    x = np.asarray(samples)
    if x.ndim not in (1, 2):
        as_mono(x)                             # raises its error for any other shape
    n = x.shape[0]
    if n == 0:
        return FLOOR_DB
    block, hop = int(round(0.4 * rate)), int(round(0.1 * rate))
    if n < block:
        edges = np.array([0, n])
    else:
        starts = np.arange(0, n - block + 1, hop)
        edges = np.unique(np.concatenate([starts, starts + block]))
    cumulative = np.empty(edges.size)          # sum of squares of the weighted signal before each edge
    pad, step = rate // 2, max(LOUDNESS_CHUNK_S * rate, 2 * (rate // 2) + 1)
    responses: dict[int, np.ndarray] = {}
    carry = np.zeros(2 * pad)
    running, at = 0.0, 0                       # running sum before sample `done`; next edge to fill
    done = 0
    for start in range(0, n, step):
        length = min(step, n - start)
        size = _fast_length(length + 2 * pad)
        if size not in responses:
            responses[size] = _k_weighting(rate, np.linspace(0, math.pi, size // 2 + 1))
        buffer = np.zeros(size)
        buffer[pad:pad + length] = as_mono(x[start:start + length])
        spectrum = np.fft.rfft(buffer)
        spectrum *= responses[size]
        out = np.fft.irfft(spectrum, size)[:length + 2 * pad]     # samples start - pad .. start + length + pad
        out[:2 * pad] += carry
        last = start + length >= n
        keep = length + pad if last else length                 # finished: start - pad .. start + keep - pad
        carry = out[length:length + 2 * pad].copy()
        piece = out[:keep]
        first = max(0, pad - start)                            # samples before 0 are not the signal's
        piece = piece[first:]
        piece = piece[: max(0, n - done)]
        energy = np.cumsum(piece * piece)
        end = done + piece.size
        while at < edges.size and edges[at] <= end:
            offset = int(edges[at]) - done
            cumulative[at] = running + (energy[offset - 1] if offset > 0 else 0.0)
            at += 1
        if piece.size:
            running += float(energy[-1])
        done = end
    if n < block:
        powers = np.array([(cumulative[1] - cumulative[0]) / n])
    else:
        index = {int(edge): i for i, edge in enumerate(edges)}
        powers = np.array([(cumulative[index[int(s) + block]] - cumulative[index[int(s)]]) / block for s in starts])
    loud = powers[powers > 10 ** ((-70.0 + 0.691) / 10)]
    if loud.size == 0:
        return FLOOR_DB
    relative = -0.691 + 10 * math.log10(loud.mean()) - 10.0
    gated = loud[loud > 10 ** ((relative + 0.691) / 10)]
    return -0.691 + 10 * math.log10((gated if gated.size else loud).mean())


#: cumulative_energy squares and sums the signal this many samples at a time (about 5 s at 48 kHz)
ENERGY_CHUNK = 1 << 18


def cumulative_energy(samples: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The running sum of squares (float64) of ``samples`` before each of ``edges`` (indices in 0..len, any order):
    exactly ``np.concatenate(([0.0], np.cumsum(samples.astype(np.float64) ** 2)))[edges]``, worked out ``ENERGY_CHUNK``
    samples at a time. Each piece's first square has the sum so far added before the piece's cumulative sum, so every
    addition happens in the same order as over the whole array (the same bits), and no float64 array the length of the
    signal is made: for 90 s at 48 kHz the whole-array form held four of them at once (~140 MB)."""
    edges = np.asarray(edges, dtype=np.int64)
    order = np.argsort(edges, kind="stable")
    wanted = edges[order]
    found = np.zeros(len(wanted))
    running, at = 0.0, int(np.searchsorted(wanted, 0, side="right"))    # edges at 0: nothing summed yet
    for start in range(0, len(samples), ENERGY_CHUNK):
        if at >= len(wanted):
            break
        piece = np.asarray(samples[start:start + ENERGY_CHUNK]).astype(np.float64)
        np.square(piece, out=piece)
        piece[0] += running
        np.cumsum(piece, out=piece)
        stop = start + len(piece)
        upto = int(np.searchsorted(wanted, stop, side="right"))
        found[at:upto] = piece[wanted[at:upto] - start - 1]
        running, at = float(piece[-1]), upto
    out = np.empty(len(edges))
    out[order] = found
    return out


# --------------------------------------------------------------------------- writing


#: write_wav converts and writes this many frames at a time (about 5 s at 48 kHz)
WAV_CHUNK = 1 << 18


def write_wav(path: Path, samples: np.ndarray, rate: int, *, channels: int = 1, round_to_nearest: bool = True) -> Path:
    """Write 16-bit PCM (mono samples, copied to ``channels`` identical channels; values past full scale are clipped).

    The folder is created; the file appears complete or not at all. ``round_to_nearest=False`` truncates toward
    zero instead, as the synthesizers' and the mixer's writers always have: their WAVs (and so every reel) stay
    bit-identical to earlier releases; the voice matching downstream is sensitive to a one-step difference.
    """
    path = Path(path)
    x = np.asarray(samples)
    # Truncation keeps a float mono signal in its own precision (float32 from the synthesizers), as those writers did.
    native = not round_to_nearest and x.ndim == 1 and np.issubdtype(x.dtype, np.floating)
    if not native and x.ndim not in (1, 2):
        as_mono(x)                             # raises its error for any other shape
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    try:
        with wave.open(str(partial), "wb") as out:
            out.setnchannels(channels)
            out.setsampwidth(2)
            out.setframerate(int(rate))
            # WAV_CHUNK frames at a time: each sample is converted exactly as the whole array would be, and no copy
            # of a whole reel's audio (float, scaled, 16-bit, interleaved, bytes: five of them) is ever held
            for start in range(0, x.shape[0], WAV_CHUNK):
                part = x[start:start + WAV_CHUNK]
                part = np.nan_to_num(part) if native else as_mono(part)
                scaled = np.clip(part, -1.0, 1.0) * 32767.0
                pcm = (np.rint(scaled) if round_to_nearest else scaled).astype("<i2")
                if channels > 1:
                    pcm = np.repeat(pcm[:, None], channels, axis=1)
                out.writeframesraw(pcm.tobytes())
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path
