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


def find_face_crop(path: Path, ffmpeg: str, width: int, height: int) -> tuple[int, int, int, int] | None:
    """The square (x, y, side, side) around the face on the first frame, in source pixels; None when no face is there."""
    import mediapipe as mp

    frame, scale = _decode_first_frame(path, ffmpeg, width, height)
    with _quiet_native_stderr(), mp.solutions.face_mesh.FaceMesh(
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


def mouth_openings(path: Path, ffmpeg: str, width: int, height: int, *, crop_px: int = 256, timeout_s: float = 900) -> MouthTrack:
    """Mouth opening (share of face height) on every frame, NaN where no face was found; the crop used; where the lips went."""
    import mediapipe as mp

    crop = find_face_crop(path, ffmpeg, width, height)
    if crop is not None:
        x, y, side, _ = crop
        out_width = out_height = min(crop_px, side) // 2 * 2
        filters = f"crop={side}:{side}:{x}:{y},scale={out_width}:{out_height}:flags=area"
        origin, to_source = (x, y), (side / out_width, side / out_height)
    else:
        scale = min(1.0, crop_px * 1.5 / max(width, height))
        out_width, out_height = max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)
        filters = f"scale={out_width}:{out_height}:flags=area"
        origin, to_source = (0, 0), (width / out_width, height / out_height)
    lips = np.array([np.inf, np.inf, -np.inf, -np.inf])
    frame_bytes = out_width * out_height * 3
    openings: list[float] = []
    motion: list[float] = []
    stable_source: list[np.ndarray] = []
    previous: np.ndarray | None = None
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            [ffmpeg, "-v", "error", "-nostdin", "-i", str(path), "-map", "0:v:0", "-fps_mode", "passthrough", "-vf", filters,
             "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors, start_new_session=True,
        )
        try:
            with _quiet_native_stderr():
                mesh = mp.solutions.face_mesh.FaceMesh(
                    static_image_mode=False, max_num_faces=1, refine_landmarks=True, min_detection_confidence=0.5, min_tracking_confidence=0.5,
                )
                # the graph's threads log as they start, after the constructor returns: a blank frame waits for them
                mesh.process(np.zeros((out_height, out_width, 3), dtype=np.uint8))
            with mesh:
                assert process.stdout is not None
                while True:
                    data = process.stdout.read(frame_bytes)
                    if len(data) < frame_bytes:
                        break
                    frame = np.frombuffer(data, dtype=np.uint8).reshape(out_height, out_width, 3)
                    if len(openings) >= QUIET_FRAMES:
                        result = mesh.process(frame)
                    else:
                        with _quiet_native_stderr():  # the graph's calculators start on the first frames
                            result = mesh.process(frame)
                    if not result.multi_face_landmarks:
                        openings.append(np.nan)
                        motion.append(np.nan)
                        stable_source.append(np.full((len(STABLE_POINTS), 2), np.nan))
                        previous = None
                        continue
                    face = result.multi_face_landmarks[0]
                    openings.append(_opening(face, out_width, out_height))
                    stable = np.array([(face.landmark[i].x * out_width, face.landmark[i].y * out_height) for i in STABLE_POINTS])
                    face_height = _face_height(face, out_width, out_height)
                    if previous is None or face_height <= 1e-6:
                        motion.append(np.nan)
                    else:
                        motion.append(float(np.linalg.norm(stable - previous, axis=1).mean()) / face_height)
                    previous = stable
                    stable_source.append(np.stack([origin[0] + stable[:, 0] * to_source[0], origin[1] + stable[:, 1] * to_source[1]], axis=1))
                    xs = [face.landmark[index].x * out_width for index in OUTER_LIPS]
                    ys = [face.landmark[index].y * out_height for index in OUTER_LIPS]
                    lips = np.minimum(lips, [min(xs), min(ys), -np.inf, -np.inf])
                    lips = np.maximum(lips, [-np.inf, -np.inf, max(xs), max(ys)])
            process.wait(timeout=timeout_s)
        finally:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if process.returncode != 0 and not openings:
            errors.seek(0)
            reason = (errors.read().decode("utf-8", "replace").strip().splitlines() or ["no frames"])[-1]
            raise QAError(f"{str(path)!r}: cannot decode its video frames ({reason}); render it again")
    mouth_box = None
    if np.isfinite(lips).all():
        mouth_box = (
            float(origin[0] + lips[0] * to_source[0]), float(origin[1] + lips[1] * to_source[1]),
            float(origin[0] + lips[2] * to_source[0]), float(origin[1] + lips[3] * to_source[1]),
        )
    return MouthTrack(np.asarray(openings, dtype=np.float64), crop, mouth_box, np.asarray(motion, dtype=np.float64),
                      np.asarray(stable_source, dtype=np.float64).reshape(-1, len(STABLE_POINTS), 2))


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
    search_frames: int = 5, crop_px: int = 256,
) -> LipSyncMeasurement:
    """Mouth opening on every frame, face visibility, and the best lag and correlation against the audio envelope."""
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
