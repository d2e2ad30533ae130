"""QA measured during the render (issue 16): the composer measures every frame it sends the encoder, and the render's
QA probes the file once and combines those figures with the face sampled every 2 s during the render.

The in-render lip-sync proxy is validated against the full measurement (every frame decoded and tracked with
mediapipe face mesh) on the same reels, and must fail reels whose mouth is out of sync: audio shifted by
several frames, or a mouth frozen on the frames while the rig's drive signal still moves it."""

from __future__ import annotations

import wave
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("imageio_ffmpeg")

from render.compose import compose  # noqa: E402
from render.media import yuv  # noqa: E402
from render.qa import check_reel  # noqa: E402
from render.qa.inrender import FrameMeter  # noqa: E402
from render.types import Box, FrameStream  # noqa: E402

RATE = 48_000
FPS = 30
#: the in-render proxy against mediapipe on the same reel. Measured on 10 reels (photo and footage avatars; a syllable
#: buzz, Piper speech and a recorded voice; audio on time and 2, 3 and 4 frames late; 6 to 30 s): the best lag was the
#: same on every one, |r difference| at most 0.061 (median 0.045). The tests allow 1 frame and 0.10.
LAG_TOLERANCE = 1
R_TOLERANCE = 0.10
#: the in-render loudness (the mix, BS.1770) against ebur128 on the encoded AAC track: measured within 0.06 LU
LOUDNESS_TOLERANCE_LU = 0.3


# --------------------------------------------------------------------------- the meter alone (no encoder, no mediapipe)


def _i420(frame_rgb: np.ndarray) -> np.ndarray:
    return yuv.from_rgb(frame_rgb)


def test_the_meter_follows_a_dark_mouth_and_sees_a_leap_outside_it() -> None:
    import cv2

    width, height = 320, 480
    face, mouth = Box(100, 100, 120, 160), Box(130, 200, 60, 40)
    meter = FrameMeter(width, height, FPS, face, mouth)
    rng = np.random.default_rng(1)
    texture = cv2.GaussianBlur(rng.integers(0, 256, (height + 40, width + 80, 3), dtype=np.uint8), (0, 0), 1)
    openings = np.abs(np.sin(np.arange(90) / 4.0)) * 14
    for index, opening in enumerate(openings):
        shift = 30 if index >= 60 else 0        # the whole picture leaps 30 px at frame 60
        frame = np.ascontiguousarray(texture[20:20 + height, 20 + shift:20 + shift + width])
        cv2.ellipse(frame, (160, 220), (22, max(1, int(opening))), 0, 0, 360, (40, 15, 20), -1)
        meter(_i420(frame), index)
    result = meter.result()
    assert result.frames == 90 and np.isnan(result.change[0])
    assert np.corrcoef(result.mouth_open, openings)[0, 1] > 0.95
    change = result.change[1:]
    assert int(np.argmax(change)) + 1 == 60 and change[59] > 6 * np.median(change) and change[59] > 12
    assert result.lips_box is not None
    x0, y0, x1, y1 = result.lips_box
    assert 130 <= x0 < 145 and 170 < x1 <= 190 and 200 <= y0 < 215 and 225 < y1 <= 240
    assert result.ms_per_frame < 5.0


def _whole_array_envelope(samples: np.ndarray, sample_rate_hz: int, fps: float, frames: int) -> np.ndarray:
    """render.qa.lipsync.loudness_envelope as it was before it summed in pieces (the reference)."""
    from render.qa.lipsync import ENVELOPE_RANGE_DB

    edges = np.round(np.arange(frames + 1) * sample_rate_hz / fps).astype(np.int64)
    squared = np.concatenate(([0.0], np.cumsum(samples.astype(np.float64) ** 2)))
    edges = np.clip(edges, 0, len(samples))
    counts = np.diff(edges)
    energy = np.diff(squared[edges])
    rms = np.sqrt(np.divide(energy, counts, out=np.zeros(frames), where=counts > 0))
    level = 20 * np.log10(np.maximum(rms, 1e-10))
    floor = np.percentile(level, 95) - ENVELOPE_RANGE_DB if frames else 0.0
    level = np.maximum(level, floor)
    if frames >= 3:
        padded = np.concatenate(([level[0]], level, [level[-1]]))
        level = (padded[:-2] + padded[1:-1] + padded[2:]) / 3
    return level


@pytest.mark.parametrize("chunk", [1 << 18, 1_601, 3])
def test_the_loudness_envelope_summed_in_pieces_is_the_whole_array_one_bit_for_bit(monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    from render.media import audio
    from render.qa import lipsync

    monkeypatch.setattr(audio, "ENERGY_CHUNK", chunk)
    rng = np.random.default_rng(8)
    speech = (rng.standard_normal(RATE * 7 + 123) * np.abs(np.sin(np.arange(RATE * 7 + 123) / 3000))).astype(np.float32)
    for samples, fps, frames in [(speech, 30.0, 214), (speech, 30.0, 250), (speech, 29.97, 200), (speech[:5_000], 30.0, 3),
                                 (speech.astype(np.float64), 25.0, 120), (speech[:0], 30.0, 10)]:
        if chunk == 3 and len(samples) > 20_000:
            samples = samples[:20_000]
        assert np.array_equal(lipsync.loudness_envelope(samples, RATE, fps, frames), _whole_array_envelope(samples, RATE, fps, frames))


def test_the_loudness_envelope_holds_no_whole_length_float64_copy() -> None:
    """90 s at 48 kHz (17 MB float32): the whole-array form held four float64 arrays of its length at once (~140 MB)."""
    import tracemalloc

    from render.qa.lipsync import loudness_envelope

    audio = (np.random.default_rng(3).standard_normal(RATE * 90) * 0.1).astype(np.float32)
    tracemalloc.start()
    try:
        loudness_envelope(audio, RATE, FPS, 90 * FPS)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 10e6


def test_face_samples_are_read_one_frame_at_a_time_as_from_their_bytes() -> None:
    import io

    from render.qa.face_worker import _ArrayStream

    frames = np.random.default_rng(2).integers(0, 256, (5, 8, 8, 3), dtype=np.uint8)
    ours, reference = _ArrayStream(frames), io.BytesIO(frames.tobytes())
    for size in (192, 192, 100, 500, 192, -1, 192):
        assert ours.read(size) == reference.read(size)
    assert _ArrayStream(frames[:0]).read(192) == b""


def test_compose_measures_every_frame_it_encodes_and_can_be_told_not_to(tmp_path: Path) -> None:
    width, height = 216, 384
    voice = _wav(tmp_path / "voice.wav", _buzz(2.0))
    n = 60

    def frames(count: int) -> Iterator[np.ndarray]:
        for index in range(count):
            yield np.full((height, width, 3), 60 + index, dtype=np.uint8)

    def stream(count: int) -> FrameStream:
        return FrameStream(fps=FPS, width=width, height=height, n_frames=n, duration_s=n / FPS, backend="test", frames=frames(count),
                           face_box=Box(60, 60, 96, 120), mouth_box=Box(90, 150, 40, 20))

    result = compose(stream(n - 5), voice, tmp_path / "short.mp4")      # the renderer stops 5 frames short: held to the end
    assert result.qa is not None and result.qa.frames == n            # as many as the encoder got (the renderer made n - 5)
    assert np.all(result.qa.change[n - 4:] == 0)                        # the held frames do not change
    assert result.qa.audio is not None and result.qa.loudness_lufs == pytest.approx(result.loudness_lufs)
    assert compose(stream(n), voice, tmp_path / "off.mp4", measure=False).qa is None


# --------------------------------------------------------------------------- reels: the photo and the footage avatar


def _syllables(seconds: float, seed: int = 5) -> np.ndarray:
    """A speech-like amplitude envelope: syllables of random length and strength, short gaps, a few pauses."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    envelope = np.zeros_like(t)
    at = 0.3
    while at < seconds - 0.4:
        length = rng.uniform(0.12, 0.32)
        inside = (t >= at) & (t < at + length)
        envelope[inside] = rng.uniform(0.35, 1.0) * np.sin(np.pi * (t[inside] - at) / length) ** 2
        at += length + (rng.uniform(0.3, 0.6) if rng.random() < 0.15 else rng.uniform(0.04, 0.14))
    return envelope


def _buzz(seconds: float, seed: int = 5) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    buzz = sum(np.sin(2 * np.pi * k * 140 * t) / k for k in range(1, 30, 2))
    return (0.6 * _syllables(seconds, seed) * buzz / np.abs(buzz).max()).astype(np.float32)


def _wav(path: Path, samples: np.ndarray) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def _frozen_mouth(stream: FrameStream) -> FrameStream:
    """The same frames with the mouth box's pixels held at the first frame's: the drive signal still moves the mouth."""
    box = stream.mouth_box
    held: list[np.ndarray] = []

    def frames() -> Iterator[np.ndarray]:
        for frame in stream.frames:
            region = frame[box.y:box.y + box.height, box.x:box.x + box.width]
            if not held:
                held.append(region.copy())
            region[...] = held[0]
            yield frame

    return replace(stream, frames=frames())


def _leap(stream: FrameStream, at: int, px: int) -> FrameStream:
    """The same frames, the picture moved ``px`` sideways from frame ``at`` on (a bad loop seam or a cut)."""

    def frames() -> Iterator[np.ndarray]:
        for index, frame in enumerate(stream.frames):
            if index >= at:
                if stream.pixel_format == yuv.FORMAT:
                    for plane, step in zip(yuv.planes(frame), (1, 2, 2)):
                        plane[...] = np.roll(plane, px // step, axis=1)
                else:
                    frame = np.ascontiguousarray(np.roll(frame, px, axis=1))
            yield frame

    return replace(stream, frames=frames())


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("inrender")


@pytest.fixture(scope="module")
def speech(folder: Path) -> Path:
    return _wav(folder / "speech.wav", _buzz(6.0))


def _photo_reel(folder: Path, name: str, drive: Path, voice: Path, wrap=None):  # noqa: ANN001, ANN202 - ComposeResult
    pytest.importorskip("skimage")
    import footage_clips as clips

    from render.avatar.base import RenderRequest, get

    stream = get("cpu-mesh").render(RenderRequest(photo_path=clips.astronaut_png(folder), audio_path=drive))
    return compose(wrap(stream) if wrap else stream, voice, folder / f"{name}.mp4")


@pytest.fixture(scope="module")
def photo(folder: Path, speech: Path):  # noqa: ANN201 - ComposeResult
    return _photo_reel(folder, "photo", speech, speech)


@pytest.fixture(scope="module")
def footage(folder: Path, speech: Path):  # noqa: ANN201 - ComposeResult
    pytest.importorskip("mediapipe")
    import footage_clips as clips

    from render.avatar.base import RenderRequest
    from render.avatar.footage import FootageBackend
    from render.face import footage as F

    raw = clips.make_clip(folder, "handheld.mp4", seconds=6.0)
    clip = folder / "handheld-norm.mp4"
    F.normalize(raw, clip, label="handheld")
    analysis = F.analyze(clip, label="handheld")
    request = RenderRequest(photo_path=None, audio_path=speech, video_path=clip, footage=analysis, pixel_format=yuv.FORMAT)
    return {"clean": compose(FootageBackend().render(request), speech, folder / "footage.mp4"),
            "leap": compose(_leap(FootageBackend().render(request), 60, 90), speech, folder / "footage-leap.mp4")}


def _both(result) -> tuple:  # noqa: ANN001
    """The render's QA (in-render figures + one probe + the face samples) and the file's QA (every frame decoded and tracked)."""
    pytest.importorskip("mediapipe")
    fast = check_reel(result.path, render=result.qa)
    full = check_reel(result.path)
    assert fast.extra["qa_route"] == "in-render" and full.extra["qa_route"] == "file"
    return fast, full


def _failed(report) -> set[str]:  # noqa: ANN001
    return {check.name for check in report.failures}


@pytest.mark.parametrize("kind", ["photo", "footage"])
def test_the_in_render_figures_agree_with_mediapipe_on_the_same_reel(kind: str, request: pytest.FixtureRequest) -> None:
    result = request.getfixturevalue(kind)
    result = result["clean"] if kind == "footage" else result
    fast, full = _both(result)
    print(f"\n{kind}: in-render r={fast.lipsync_correlation} lag={fast.lipsync_lag_frames} {fast.loudness_lufs} LUFS "
          f"{fast.seconds:.2f} s | mediapipe r={full.lipsync_correlation} lag={full.lipsync_lag_frames} {full.loudness_lufs} LUFS "
          f"{full.seconds:.2f} s | in the render {1000 * result.qa.cpu_seconds / result.qa.frames:.2f} ms CPU per frame")
    assert full.passed, _failed(full)
    assert fast.passed, [(c.name, c.message) for c in fast.failures]
    assert abs(fast.lipsync_lag_frames - full.lipsync_lag_frames) <= LAG_TOLERANCE
    assert abs(fast.lipsync_correlation - full.lipsync_correlation) <= R_TOLERANCE
    assert abs(fast.loudness_lufs - full.loudness_lufs) <= LOUDNESS_TOLERANCE_LU
    assert fast.face_visible_share == 1.0 and fast.extra["face_frames_sampled"] >= 3
    assert fast.check("no_jumps").passed and fast.extra["jumps_at_s"] == []
    # the same checks, in the same order, whichever way the figures were measured
    assert [check.name for check in fast.checks] == [check.name for check in full.checks]
    assert fast.seconds < full.seconds


def test_audio_shifted_by_four_frames_fails_in_render_as_on_the_file(folder: Path, speech: Path) -> None:
    samples = _buzz(6.0)
    shift = 4 * RATE // FPS
    late = _wav(folder / "late.wav", np.concatenate((np.zeros(shift, np.float32), samples[:-shift])))
    result = _photo_reel(folder, "late", speech, late)       # the mouth follows speech.wav; the reel carries it 4 frames later
    fast, full = _both(result)
    print(f"\nshifted: in-render lag {fast.lipsync_lag_frames} r={fast.lipsync_correlation}; "
          f"mediapipe lag {full.lipsync_lag_frames} r={full.lipsync_correlation}")
    assert "lipsync_lag" in _failed(fast) and "lipsync_lag" in _failed(full)
    assert fast.lipsync_lag_frames == pytest.approx(-4, abs=LAG_TOLERANCE)
    assert abs(fast.lipsync_lag_frames - full.lipsync_lag_frames) <= LAG_TOLERANCE
    assert "moves 4 frame(s) before the sound" in fast.check("lipsync_lag").message or "before the sound" in fast.check("lipsync_lag").message


def test_a_mouth_frozen_on_the_frames_fails_though_the_rig_moved_it(folder: Path, speech: Path) -> None:
    result = _photo_reel(folder, "frozen", speech, speech, wrap=_frozen_mouth)
    assert max(result.trace["jaw"]) > 0.2                    # the drive signal says the mouth moved
    fast, full = _both(result)
    print(f"\nfrozen: in-render r={fast.lipsync_correlation}; mediapipe r={full.lipsync_correlation}")
    assert "lipsync_correlation" in _failed(fast) and "lipsync_correlation" in _failed(full)


def test_a_leap_in_the_footage_fails_the_jump_check_in_render(footage: dict) -> None:
    fast = check_reel(footage["leap"].path, render=footage["leap"].qa, lipsync=True)
    check = fast.check("no_jumps")
    assert not check.passed and check.hard and "the face jumps at 2.00 s" in check.message
    assert fast.extra["jumps_at_s"] == [2.0]


def test_a_file_the_render_did_not_measure_is_decoded_instead(footage: dict, photo) -> None:  # noqa: ANN001
    pytest.importorskip("mediapipe")
    clean = footage["clean"]
    report = check_reel(clean.path, render=replace(clean.qa, frames=clean.qa.frames + 7), lipsync=False)
    assert report.extra["qa_route"] == "file" and "frames" in report.extra["in_render_refused"]
    report = check_reel(clean.path, render=photo.qa, lipsync=False)                 # another reel's figures
    assert report.extra["qa_route"] == "file" and "the render measured" in report.extra["in_render_refused"]


def test_the_face_is_sampled_every_two_seconds_from_the_frames_as_sent(photo) -> None:  # noqa: ANN001
    qa = photo.qa
    assert qa.sample_indices[:3] == (0, 60, 120) and len(qa.sample_indices) == len(qa.face_samples) == (qa.frames - 1) // 60 + 1
    x, y, side, _ = qa.sample_crop
    assert qa.face_samples.shape[1:] == (min(256, side), min(256, side), 3) and x % 2 == 0 and y % 2 == 0


def test_the_jump_limit_sits_above_handheld_motion_and_below_a_seam() -> None:
    from render.qa.checks import _change_jump_check
    from render.qa.report import ReelSpec

    rng = np.random.default_rng(2)
    handheld = np.abs(rng.normal(4.4, 1.5, 300)).clip(1.0, 9.7)     # the handheld test clip: median 4.4, peaks at 9.7 grey levels
    handheld[0] = np.nan
    check, figures = _change_jump_check(handheld, 30.0, ReelSpec())
    assert check.passed and figures["jumps_at_s"] == [] and figures["jump_limit"] > 9.7
    seam = handheld.copy()
    seam[150] = 26.7                                                # a 40 px seam in that clip measured 26.7
    check, figures = _change_jump_check(seam, 30.0, ReelSpec())
    assert not check.passed and check.hard and "the face jumps at 5.00 s" in check.message and figures["jumps_at_s"] == [5.0]


def test_identity_is_checked_on_the_face_samples_against_the_source_frames(footage: dict) -> None:
    pytest.importorskip("mediapipe")
    from agent.jobs.pipeline import _write_timing

    clean = footage["clean"]
    timing = _write_timing(clean.path, (), clean.trace)       # what the render pipeline writes: each frame's source face
    fast = check_reel(clean.path, render=clean.qa, timing=timing)
    full = check_reel(clean.path, timing=timing)
    print(f"\nidentity drift p95: in-render samples {fast.extra['identity_drift_p95']}, every frame {full.extra['identity_drift_p95']}")
    assert fast.check("identity_drift").passed and full.check("identity_drift").passed
    assert abs(fast.extra["identity_drift_p95"] - full.extra["identity_drift_p95"]) < 0.03
    assert fast.check("lips_close_on_pbm").value is None             # no phonemes: nothing to close on
