"""Lip sync measured on the finished file: mouth opening on every decoded frame against the audio's loudness.

How it is measured:

- *Where the face is*: mediapipe face mesh (static mode) on the first frame,
  scaled to at most 960 px tall. The square crop around it (twice the face's
  height, so nods and sways stay inside) is what every later frame is cut to;
  without a face on the first frame the whole frame is used.
- *Mouth opening*, every frame: ffmpeg decodes each frame (``-fps_mode
  passthrough``: no frame dropped or doubled), crops and scales it to
  ``crop_px`` square, and mediapipe face mesh (video mode, refined landmarks)
  finds the face; opening = distance between inner-lip landmarks 13 and 14 over
  the face height, landmark 10 (top of forehead) to 152 (chin).
- *Loudness envelope*: RMS of the mono audio over each frame's 1/fps window,
  in dB, floored 40 dB under the loud frames (95th percentile) so silence
  between words is one level, then a 3-frame centred moving average.
- *Where it runs*: ``check_reel`` hands the tracking to ``render.qa.face_worker``
  processes (started before the file is probed; a constant-frame-rate reel is
  split in two at a keyframe, the halves matched frame for frame by checksum);
  :func:`mouth_openings` is the same measurement in this process, one frame
  after another.
- *Sync*: Pearson correlation of the two series over the frames with a face,
  at every lag within +-``search_frames``; the best lag is the one with the
  highest correlation (the smaller lag on a tie). A positive lag means the
  mouth moves *after* the sound (video late), a negative one before it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from render.qa.report import QAError

UPPER_INNER_LIP, LOWER_INNER_LIP, FOREHEAD_TOP, CHIN = 13, 14, 10, 152
#: the outer lip contour's extremes: corners, top of the upper lip, bottom of the lower lip
OUTER_LIPS = (61, 291, 0, 17)
#: points a talking mouth does not move (render.face.landmarks.STABLE): eye corners, nose, cheeks' outline, brows, forehead
STABLE_POINTS = (33, 133, 362, 263, 1, 2, 4, 6, 168, 197, 195, 5, 98, 327, 234, 454, 127, 356, 70, 300, 105, 334, 10)
ENVELOPE_RANGE_DB = 40.0
MIN_FRAMES_FOR_CORRELATION = 45
QUIET_FRAMES = 5


@dataclass(frozen=True)
class LipSyncMeasurement:
    mouth_opening: np.ndarray            # per frame, share of face height; NaN where no face was found
    envelope_db: np.ndarray              # per frame
    frames: int
    face_visible_share: float
    best_lag_frames: int | None
    correlation: float | None            # at the best lag
    correlation_at_zero: float | None
    correlation_by_lag: dict[int, float] = field(default_factory=dict)
    crop: tuple[int, int, int, int] | None = None   # x, y, width, height in source pixels; None for the whole frame
    #: the smallest box holding the lips on every frame with a face (left, top, right, bottom, source pixels)
    mouth_box: tuple[float, float, float, float] | None = None
    #: per frame: movement of the face's stable points since the frame before (share of face height), NaN without a face
    stable_motion: np.ndarray = field(default_factory=lambda: np.zeros(0))
    #: per frame: the stable points where the tracker found them, in source pixels ((frames, points, 2), NaN without a face)
    stable_px: np.ndarray = field(default_factory=lambda: np.zeros((0, len(STABLE_POINTS), 2)))


@contextlib.contextmanager
def _quiet_native_stderr() -> Iterator[None]:
    """Silence the C++ chatter mediapipe/TFLite print on file descriptor 2 while a graph starts (the CLI's stderr is for errors)."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
    except OSError:
        saved = None
    try:
        yield
    finally:
        if saved is not None:
            os.dup2(saved, 2)
            os.close(saved)


def _face_box(landmarks, width: int, height: int) -> tuple[float, float, float, float]:  # noqa: ANN001 - mediapipe's proto
    xs = np.array([point.x for point in landmarks.landmark]) * width
    ys = np.array([point.y for point in landmarks.landmark]) * height
    return float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())


def _decode_first_frame(path: Path, ffmpeg: str, width: int, height: int) -> tuple[np.ndarray, float]:
    """The first frame scaled to at most 960 px tall, and the scale applied."""
    scale = min(1.0, 960 / max(height, 1))
    out_width, out_height = max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)
    result = subprocess.run(
        [ffmpeg, "-v", "error", "-nostdin", "-i", str(path), "-map", "0:v:0", "-frames:v", "1", "-vf", f"scale={out_width}:{out_height}",
         "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True, timeout=120, check=False,
    )
    expected = out_width * out_height * 3
    if result.returncode != 0 or len(result.stdout) < expected:
        raise QAError(f"{str(path)!r}: cannot decode its first video frame; render it again")
    return np.frombuffer(result.stdout[:expected], dtype=np.uint8).reshape(out_height, out_width, 3), out_width / width


def find_face_crop(path: Path, ffmpeg: str, width: int, height: int, *, face_mesh=None) -> tuple[int, int, int, int] | None:  # noqa: ANN001
    """The square (x, y, side, side) around the face on the first frame, in source pixels; None when no face is there.

    ``face_mesh`` is mediapipe's ``solutions.face_mesh`` module (a worker process imports it its own, faster way)."""
    if face_mesh is None:
        import mediapipe as mp

        face_mesh = mp.solutions.face_mesh
    frame, scale = _decode_first_frame(path, ffmpeg, width, height)
    with _quiet_native_stderr(), face_mesh.FaceMesh(
        static_image_mode=True, max_num_faces=1, refine_landmarks=True, min_detection_confidence=0.5,
    ) as mesh:
        result = mesh.process(frame)
    if not result.multi_face_landmarks:
        return None
    left, top, right, bottom = (value / scale for value in _face_box(result.multi_face_landmarks[0], frame.shape[1], frame.shape[0]))
    side = min(2.0 * max(bottom - top, right - left), width, height)
    side = max(16, int(side) // 2 * 2)
    centre_x, centre_y = (left + right) / 2, (top + bottom) / 2
    x = int(np.clip(centre_x - side / 2, 0, width - side)) // 2 * 2
    y = int(np.clip(centre_y - side / 2, 0, height - side)) // 2 * 2
    return x, y, side, side


@dataclass(frozen=True)
class MouthTrack:
    openings: np.ndarray                                   # share of face height per frame, NaN without a face
    crop: tuple[int, int, int, int] | None                 # x, y, width, height in source pixels
    mouth_box: tuple[float, float, float, float] | None    # left, top, right, bottom in source pixels, over all frames
    #: per frame, how far the points a talking mouth does not move (eyes, nose, brows, face outline) moved since
    #: the frame before, as a share of the face height; NaN where either frame has no face
    stable_motion: np.ndarray = field(default_factory=lambda: np.zeros(0))
    #: per frame: the stable points where the tracker found them, in source pixels ((frames, points, 2), NaN without a face)
    stable_px: np.ndarray = field(default_factory=lambda: np.zeros((0, len(STABLE_POINTS), 2)))


@dataclass(frozen=True)
class CropGeometry:
    """How the frames are cut for the tracker: ffmpeg's filter, the tracked frame's size, and the way back to source pixels."""

    crop: tuple[int, int, int, int] | None
    filters: str
    out_width: int
    out_height: int
    origin: tuple[int, int]
    to_source: tuple[float, float]

    @property
    def frame_bytes(self) -> int:
        return self.out_width * self.out_height * 3


def crop_geometry(crop: tuple[int, int, int, int] | None, width: int, height: int, crop_px: int = 256) -> CropGeometry:
    """The tracker's view of each frame: the face crop scaled to at most ``crop_px`` square, else the whole frame scaled down."""
    if crop is not None:
        x, y, side, _ = crop
        out_width = out_height = min(crop_px, side) // 2 * 2
        return CropGeometry(tuple(crop), f"crop={side}:{side}:{x}:{y},scale={out_width}:{out_height}:flags=area",  # type: ignore[arg-type]
                            out_width, out_height, (x, y), (side / out_width, side / out_height))
    scale = min(1.0, crop_px * 1.5 / max(width, height))
    out_width, out_height = max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)
    return CropGeometry(None, f"scale={out_width}:{out_height}:flags=area", out_width, out_height, (0, 0),
                        (width / out_width, height / out_height))


@dataclass(frozen=True)
class FrameLandmarks:
    """What the tracker found on a run of consecutive frames, in the tracked frame's pixels (NaN rows without a face)."""

    openings: np.ndarray         # (frames,) inner-lip gap over the face height
    face_heights: np.ndarray     # (frames,) forehead top to chin
    stable: np.ndarray           # (frames, len(STABLE_POINTS), 2)
    lips: np.ndarray             # (frames, len(OUTER_LIPS), 2)
    #: (frames,) CRC-32 of each decoded frame: where two runs overlap, the same frame has the same checksum
    checksums: np.ndarray

    def __len__(self) -> int:
        return len(self.openings)

    def slice(self, start: int, stop: int | None = None) -> "FrameLandmarks":
        return FrameLandmarks(*(getattr(self, name)[start:stop] for name in ("openings", "face_heights", "stable", "lips", "checksums")))

    @staticmethod
    def concatenate(parts: "list[FrameLandmarks]") -> "FrameLandmarks":
        return FrameLandmarks(*(np.concatenate([getattr(part, name) for part in parts])
                                for name in ("openings", "face_heights", "stable", "lips", "checksums")))

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in ("openings", "face_heights", "stable", "lips", "checksums")}


def track_frames(stream, mesh, geometry: CropGeometry, *, max_frames: int | None = None) -> FrameLandmarks:  # noqa: ANN001
    """Run ``mesh`` (video mode) on the raw RGB frames read from ``stream`` (up to ``max_frames``), one row per frame."""
    import zlib

    width, height, frame_bytes = geometry.out_width, geometry.out_height, geometry.frame_bytes
    openings: list[float] = []
    heights: list[float] = []
    stable_rows: list[np.ndarray] = []
    lip_rows: list[np.ndarray] = []
    checksums: list[int] = []
    no_stable, no_lips = np.full((len(STABLE_POINTS), 2), np.nan), np.full((len(OUTER_LIPS), 2), np.nan)
    while max_frames is None or len(openings) < max_frames:
        data = stream.read(frame_bytes)
        if len(data) < frame_bytes:
            break
        checksums.append(zlib.crc32(data))
        frame = np.frombuffer(data, dtype=np.uint8).reshape(height, width, 3)
        if len(openings) >= QUIET_FRAMES:
            result = mesh.process(frame)
        else:
            with _quiet_native_stderr():  # the graph's calculators start on the first frames
                result = mesh.process(frame)
        if not result.multi_face_landmarks:
            openings.append(np.nan)
            heights.append(np.nan)
            stable_rows.append(no_stable)
            lip_rows.append(no_lips)
            continue
        face = result.multi_face_landmarks[0]
        points = face.landmark
        openings.append(_opening(face, width, height))
        heights.append(_face_height(face, width, height))
        stable_rows.append(np.array([(points[i].x * width, points[i].y * height) for i in STABLE_POINTS]))
        lip_rows.append(np.array([(points[i].x * width, points[i].y * height) for i in OUTER_LIPS]))
    return FrameLandmarks(
        np.asarray(openings, dtype=np.float64), np.asarray(heights, dtype=np.float64),
        np.asarray(stable_rows, dtype=np.float64).reshape(-1, len(STABLE_POINTS), 2),
        np.asarray(lip_rows, dtype=np.float64).reshape(-1, len(OUTER_LIPS), 2), np.asarray(checksums, dtype=np.uint32),
    )


def mouth_track(landmarks: FrameLandmarks, geometry: CropGeometry) -> MouthTrack:
    """The per-frame figures QA uses, in source pixels: openings, stable-point motion and positions, the lips' box."""
    found = np.isfinite(landmarks.openings) | np.isfinite(landmarks.face_heights)
    motion = np.full(len(landmarks), np.nan)
    if len(landmarks) > 1:
        moved = np.linalg.norm(landmarks.stable[1:] - landmarks.stable[:-1], axis=2).mean(axis=1)
        heights = landmarks.face_heights[1:]
        usable = found[1:] & found[:-1] & (heights > 1e-6)
        motion[1:][usable] = moved[usable] / heights[usable]
    origin, to_source = geometry.origin, geometry.to_source
    stable_source = np.stack([origin[0] + landmarks.stable[..., 0] * to_source[0], origin[1] + landmarks.stable[..., 1] * to_source[1]], axis=-1)
    mouth_box = None
    if found.any():
        lips = landmarks.lips[found]
        left, top = float(lips[..., 0].min()), float(lips[..., 1].min())
        right, bottom = float(lips[..., 0].max()), float(lips[..., 1].max())
        mouth_box = (
            float(origin[0] + left * to_source[0]), float(origin[1] + top * to_source[1]),
            float(origin[0] + right * to_source[0]), float(origin[1] + bottom * to_source[1]),
        )
    return MouthTrack(landmarks.openings.copy(), geometry.crop, mouth_box, motion,
                      stable_source.reshape(-1, len(STABLE_POINTS), 2))


def decode_command(path: Path, ffmpeg: str, geometry: CropGeometry, *, seek_s: float | None = None, accurate_seek: bool = True,
                   skip_frames: int = 0, threads: int | None = None) -> list[str]:
    """ffmpeg reading every frame (no frame dropped or doubled) as raw RGB at the tracker's size; from ``seek_s`` (input
    seeking: decoded from the keyframe before, frames before it dropped; with ``accurate_seek=False`` kept, from that
    keyframe on) and without the first ``skip_frames`` when given; ``threads``: the decoder's (ffmpeg's choice without)."""
    seek = [*([] if accurate_seek else ["-noaccurate_seek"]), "-ss", f"{seek_s:.6f}"] if seek_s else []
    if threads:
        seek = ["-threads", str(threads), *seek]
    filters = f"trim=start_frame={skip_frames},{geometry.filters}" if skip_frames else geometry.filters
    return [ffmpeg, "-v", "error", "-nostdin", *seek, "-i", str(path), "-map", "0:v:0", "-fps_mode", "passthrough",
            "-vf", filters, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]


def run_tracker(  # noqa: PLR0913
    path: Path, ffmpeg: str, geometry: CropGeometry, mesh, *, seek_s: float | None = None, accurate_seek: bool = True,  # noqa: ANN001
    skip_frames: int = 0, max_frames: int | None = None, timeout_s: float = 900, threads: int | None = None,
) -> FrameLandmarks:
    """Decode ``path`` with ffmpeg and track the face on its frames; QAError when not one frame decodes."""
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            decode_command(path, ffmpeg, geometry, seek_s=seek_s, accurate_seek=accurate_seek, skip_frames=skip_frames, threads=threads),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors, start_new_session=True,
        )
        try:
            assert process.stdout is not None
            landmarks = track_frames(process.stdout, mesh, geometry, max_frames=max_frames)
            if max_frames is not None and len(landmarks) >= max_frames:
                os.killpg(process.pid, signal.SIGKILL)   # the rest of the file is another worker's
                process.wait()
            else:
                process.wait(timeout=timeout_s)
        finally:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if process.returncode != 0 and not len(landmarks):
            errors.seek(0)
            reason = (errors.read().decode("utf-8", "replace").strip().splitlines() or ["no frames"])[-1]
            raise QAError(f"{str(path)!r}: cannot decode its video frames ({reason}); render it again")
    return landmarks


def video_face_mesh(face_mesh, width: int, height: int):  # noqa: ANN001, ANN201
    """mediapipe's face mesh in video mode (refined landmarks), started: a blank frame waits for the graph's threads,
    which log as they start, after the constructor returns."""
    with _quiet_native_stderr():
        mesh = face_mesh.FaceMesh(
            static_image_mode=False, max_num_faces=1, refine_landmarks=True, min_detection_confidence=0.5, min_tracking_confidence=0.5,
        )
        mesh.process(np.zeros((height, width, 3), dtype=np.uint8))
    return mesh


def mouth_openings(path: Path, ffmpeg: str, width: int, height: int, *, crop_px: int = 256, timeout_s: float = 900) -> MouthTrack:
    """Mouth opening (share of face height) on every frame, NaN where no face was found; the crop used; where the lips went.

    In this process, one frame after another (``render.qa.face_worker`` splits the same work over processes)."""
    import mediapipe as mp

    geometry = crop_geometry(find_face_crop(path, ffmpeg, width, height), width, height, crop_px)
    with video_face_mesh(mp.solutions.face_mesh, geometry.out_width, geometry.out_height) as mesh:
        landmarks = run_tracker(path, ffmpeg, geometry, mesh, timeout_s=timeout_s)
    return mouth_track(landmarks, geometry)


def _face_height(landmarks, width: int, height: int) -> float:  # noqa: ANN001 - mediapipe's proto
    top, chin = landmarks.landmark[FOREHEAD_TOP], landmarks.landmark[CHIN]
    return float(np.hypot((top.x - chin.x) * width, (top.y - chin.y) * height))


def _opening(landmarks, width: int, height: int) -> float:  # noqa: ANN001 - mediapipe's proto
    points = landmarks.landmark

    def at(index: int) -> np.ndarray:
        return np.array([points[index].x * width, points[index].y * height])

    face_height = float(np.linalg.norm(at(FOREHEAD_TOP) - at(CHIN)))
    if face_height <= 1e-6:
        return np.nan
    return float(np.linalg.norm(at(UPPER_INNER_LIP) - at(LOWER_INNER_LIP))) / face_height


def loudness_envelope(samples: np.ndarray, sample_rate_hz: int, fps: float, frames: int) -> np.ndarray:
    """Per-frame RMS level in dB over each frame's 1/fps window, floored and lightly smoothed (see the module docstring)."""
    from render.media.audio import cumulative_energy

    edges = np.round(np.arange(frames + 1) * sample_rate_hz / fps).astype(np.int64)
    edges = np.clip(edges, 0, len(samples))
    counts = np.diff(edges)
    energy = np.diff(cumulative_energy(samples, edges))    # piecewise: no whole-length float64 copies of the audio
    rms = np.sqrt(np.divide(energy, counts, out=np.zeros(frames), where=counts > 0))
    level = 20 * np.log10(np.maximum(rms, 1e-10))
    floor = np.percentile(level, 95) - ENVELOPE_RANGE_DB if frames else 0.0
    level = np.maximum(level, floor)
    if frames >= 3:
        padded = np.concatenate(([level[0]], level, [level[-1]]))
        level = (padded[:-2] + padded[1:-1] + padded[2:]) / 3
    return level


def _pearson(a: np.ndarray, b: np.ndarray) -> float | None:
    if len(a) < MIN_FRAMES_FOR_CORRELATION:
        return None
    a, b = a - a.mean(), b - b.mean()
    denominator = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / denominator) if denominator > 1e-12 else None


def correlate(mouth: np.ndarray, envelope: np.ndarray, search_frames: int) -> dict[int, float]:
    """Correlation at each lag in ``[-search_frames, search_frames]`` (positive: mouth after sound); lags without enough frames left out."""
    frames = min(len(mouth), len(envelope))
    mouth, envelope = mouth[:frames], envelope[:frames]
    found: dict[int, float] = {}
    for lag in range(-search_frames, search_frames + 1):
        # pairs (mouth[t + lag], envelope[t])
        if lag >= 0:
            video, audio = mouth[lag:], envelope[: frames - lag]
        else:
            video, audio = mouth[: frames + lag], envelope[-lag:]
        valid = np.isfinite(video)
        value = _pearson(video[valid], audio[valid])
        if value is not None:
            found[lag] = value
    return found


def measure_lipsync(
    path: Path, ffmpeg: str, *, width: int, height: int, fps: float, audio: np.ndarray | None, sample_rate_hz: int,
    search_frames: int = 5, crop_px: int = 256, track: MouthTrack | None = None,
) -> LipSyncMeasurement:
    """Mouth opening on every frame, face visibility, and the best lag and correlation against the audio envelope.

    ``track``: the frames already tracked (``render.qa.face_worker``); without it they are tracked here."""
    if track is None:
        track = mouth_openings(path, ffmpeg, width, height, crop_px=crop_px)
    mouth, crop = track.openings, track.crop
    frames = len(mouth)
    share = float(np.isfinite(mouth).mean()) if frames else 0.0
    if audio is None or not len(audio) or frames == 0:
        return LipSyncMeasurement(mouth, np.zeros(0), frames, share, None, None, None, {}, crop, track.mouth_box, track.stable_motion, track.stable_px)
    envelope = loudness_envelope(audio, sample_rate_hz, fps, frames)
    by_lag = correlate(mouth, envelope, search_frames)
    if not by_lag:
        return LipSyncMeasurement(mouth, envelope, frames, share, None, None, None, {}, crop, track.mouth_box, track.stable_motion, track.stable_px)
    best = max(by_lag, key=lambda lag: (round(by_lag[lag], 6), -abs(lag)))
    return LipSyncMeasurement(
        mouth_opening=mouth, envelope_db=envelope, frames=frames, face_visible_share=share, best_lag_frames=best,
        correlation=by_lag[best], correlation_at_zero=by_lag.get(0), correlation_by_lag=by_lag, crop=crop, mouth_box=track.mouth_box,
        stable_motion=track.stable_motion, stable_px=track.stable_px,
    )
