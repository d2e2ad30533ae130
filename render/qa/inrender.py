"""QA measured during the render (issue 16): the frames the composer hands the encoder, measured as they pass.

The finished file's QA (``check_reel`` on a file alone) decodes every frame and tracks the face with mediapipe:
seconds of CPU for figures that the render holds in memory anyway. While ``render.compose`` streams frames
to the encoder, :class:`FrameMeter` measures each frame *as sent* (after captions and the hook title, in the
I420 the encoder takes) on its Y plane only, in the boxes where the avatar says the face and the mouth are:

- *Mouth proxy* (lip sync, lip closures), on the core of the mouth box (its central half across, its top
  60 %: the avatar's mouth box runs from above the lips down to the chin's reach, and its corners and bottom
  hold cheeks, background or a collar that the moving jaw covers and uncovers): an open mouth shows a dark
  interior and the edges of teeth and lips; closed lips show smooth skin. Per frame, the dark share (each
  pixel counted by how far its luma is under 70 % of the core's 80th percentile, the skin's level: a soft
  ramp) plus the edge share (each vertical luma step between grid rows counted from 10 grey levels, fully
  from 20). Both are measured on the pixels, never taken from what drove the mouth: a rig that moves the
  mouth late, not at all, or somewhere else fails lip sync here as on the file. Either alone missed one
  avatar (the photo's smile shows teeth at rest: edges barely change; the footage's open mouth is mostly
  teeth: little of it is dark); their sum follows both.
- *Change outside the mouth* (jumps: loop seams, cuts): the mean absolute frame-to-frame luma change over
  the face box (grown a little sideways), the mouth box left out, every 4th pixel each way.
- *Where the lips moved* (captions clear of the mouth): the mouth box's pixels whose luma changed most
  over the reel, accumulated frame to frame.
- *Face samples* (face visible, identity drift, where the lips are): every ``SAMPLE_EVERY_S`` seconds, the
  square around the face box (twice its size, as the file's QA cuts it) goes to RGB and is scaled to 256 px:
  only that region is converted. ``check_reel`` runs mediapipe face mesh (static mode) on these few crops.
- *Audio*: the final mix and its integrated loudness, as the composer wrote them to the encoder.

``check_reel(..., render=measurement)`` then probes the file once (ffprobe and the MP4 atoms: container and
stream checks, and that the file holds as many frames as were measured) and decodes nothing.
``tests/test_qa_inrender.py`` holds the proxy's agreement with the full mediapipe measurement on the same reels.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: pixel steps of the two grids: the mouth box is read every 2nd pixel each way, the face box every 4th
MOUTH_STEP = 2
FACE_STEP = 4
#: the mouth proxy's core: this share of the mouth box's width, centred, and of its height, from the top
CORE_WIDTH = 0.5
CORE_HEIGHT = 0.6
#: a pixel counts as mouth interior below this share of the core's skin level (its 80th-percentile luma) ...
DARK_SHARE = 0.70
SKIN_PERCENTILE = 0.80
#: ... fully once it is this share of the skin level darker still (a soft ramp: the proxy moves smoothly)
DARK_RAMP = 0.20
#: a vertical luma step between grid rows counts as an edge from this many grey levels, fully from twice it
EDGE_STEP = 10.0
#: the face box grows sideways by this share of its width for the jump measure (not up or down: the hook title sits
#: just above the face and captions just below it, and their changes are not the face's)
FACE_GROW = 0.10
#: the mouth box grows by this many pixels each way before it is left out of the jump measure
MOUTH_MARGIN_PX = 8
#: a face sample every this many seconds (and on the first frame), cut twice the face box's size and scaled to SAMPLE_PX
SAMPLE_EVERY_S = 2.0
SAMPLE_CROP_SCALE = 2.0
SAMPLE_PX = 256


@dataclass(frozen=True)
class RenderMeasurement:
    """What a render measured on its own frames and audio (``FrameMeter.result``): handed to ``check_reel``."""

    frames: int
    fps: int
    width: int
    height: int
    #: per frame: the mouth-opening proxy (dark share + edge share of the mouth box's core)
    mouth_open: np.ndarray
    #: per frame: mean |luma change| since the frame before in the face box outside the mouth (grey levels; NaN on frame 0)
    change: np.ndarray
    face_box: tuple[int, int, int, int]          # x0, y0, x1, y1 of the region measured for jumps
    mouth_box: tuple[int, int, int, int]         # x0, y0, x1, y1 of the region measured for the mouth
    #: where the pixels of the mouth box moved most over the reel (x0, y0, x1, y1), None when nothing moved
    lips_box: tuple[float, float, float, float] | None
    #: the mix the encoder was given, mono float32, and its rate and integrated loudness (LUFS, as the file carries it)
    audio: np.ndarray | None = None
    audio_rate_hz: int = 48_000
    loudness_lufs: float | None = None
    #: seconds spent measuring, all frames together: wall (perf_counter) and this thread's CPU (thread_time)
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    backend: str = ""
    #: the face samples: RGB crops (n, side, side, 3) of the frames at ``sample_indices``, cut at ``sample_crop``
    #: (x, y, side, side in frame pixels) and scaled to ``side`` = min(256, crop side) px
    face_samples: np.ndarray | None = None
    sample_indices: tuple[int, ...] = ()
    sample_crop: tuple[int, int, int, int] | None = None
    #: the file the frames were encoded to and its size when the render finished: QA refuses the figures for any other
    encoded_path: str | None = None
    encoded_bytes: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ms_per_frame(self) -> float:
        return 1000.0 * self.seconds / max(self.frames, 1)


def _box_of(box: Any, width: int, height: int, grow_x: float = 0.0, grow_y: float = 0.0) -> tuple[int, int, int, int]:
    """A ``render.types.Box`` (or x0, y0, x1, y1) grown by ``grow_*`` pixels, clipped to the frame, corners even."""
    if hasattr(box, "width"):
        x0, y0, x1, y1 = box.x, box.y, box.x + box.width, box.y + box.height
    else:
        x0, y0, x1, y1 = box
    x0, y0 = max(0, int(np.floor(x0 - grow_x)) & ~1), max(0, int(np.floor(y0 - grow_y)) & ~1)
    x1, y1 = min(width, int(np.ceil(x1 + grow_x))), min(height, int(np.ceil(y1 + grow_y)))
    return x0, y0, max(x0, x1), max(y0, y1)


class FrameMeter:
    """Called with every frame the encoder gets (I420, in order): a few array operations on two small grids of its Y plane.

    Not thread-safe: one producer calls it (the composer's frame feed)."""

    def __init__(self, width: int, height: int, fps: int, face_box: Any, mouth_box: Any, *, backend: str = ""):
        self.width, self.height, self.fps, self.backend = width, height, fps, backend
        self.mouth = _box_of(mouth_box, width, height)
        fx0, fy0, fx1, fy1 = _box_of(face_box, width, height)
        face = _box_of((min(fx0, self.mouth[0]), min(fy0, self.mouth[1]), max(fx1, self.mouth[2]), max(fy1, self.mouth[3])),
                       width, height, FACE_GROW * (fx1 - fx0), 0.0)
        self.face = face
        self._mouth_slices = (slice(self.mouth[1], self.mouth[3], MOUTH_STEP), slice(self.mouth[0], self.mouth[2], MOUTH_STEP))
        rows = len(range(*self._mouth_slices[0].indices(height)))
        cols = len(range(*self._mouth_slices[1].indices(width)))
        self._core = (slice(0, max(2, int(round(CORE_HEIGHT * rows)))),
                      slice(int(cols * (0.5 - CORE_WIDTH / 2)), max(int(cols * (0.5 - CORE_WIDTH / 2)) + 1, int(cols * (0.5 + CORE_WIDTH / 2)))))
        self._face_slices = (slice(face[1], face[3], FACE_STEP), slice(face[0], face[2], FACE_STEP))
        # the mouth (grown by a margin) on the face grid: left out of the jump measure
        mx0, my0, mx1, my1 = _box_of(self.mouth, width, height, MOUTH_MARGIN_PX, MOUTH_MARGIN_PX)
        self._hole = (slice(max(0, -(-(my0 - face[1]) // FACE_STEP)), max(0, -(-(my1 - face[1]) // FACE_STEP))),
                      slice(max(0, -(-(mx0 - face[0]) // FACE_STEP)), max(0, -(-(mx1 - face[0]) // FACE_STEP))))
        self._open: list[float] = []
        self._dark: list[float] = []
        self._edges: list[float] = []
        self.sample_crop = face_crop(face_box, width, height)
        self._sample_every = max(1, int(round(SAMPLE_EVERY_S * fps)))
        self._samples: list[np.ndarray] = []
        self._sample_indices: list[int] = []
        self._change: list[float] = []
        self._previous_face: np.ndarray | None = None
        self._previous_mouth: np.ndarray | None = None
        self._activity: np.ndarray | None = None
        self.seconds = 0.0
        self.cpu_seconds = 0.0

    @property
    def frames(self) -> int:
        return len(self._open)

    def __call__(self, frame: np.ndarray, index: int | None = None) -> None:
        started, cpu = time.perf_counter(), time.thread_time()
        luma = frame[: self.height] if frame.ndim == 2 else None      # I420: the first ``height`` rows are the Y plane
        if luma is None:
            raise ValueError("FrameMeter measures I420 frames (what the encoder is given)")
        mouth = luma[self._mouth_slices]
        core = mouth[self._core]
        if core.size and core.shape[0] >= 2:
            values = core.astype(np.float32)                          # a small copy (the grid is strided)
            flat = values.ravel()
            k = int(SKIN_PERCENTILE * (flat.size - 1))
            skin = float(np.partition(flat, k)[k])
            dark = float(np.clip((DARK_SHARE * skin - values) / max(DARK_RAMP * skin, 4.0), 0.0, 1.0).mean())
            steps = np.abs(values[1:] - values[:-1])
            edges = float(np.clip((steps - EDGE_STEP) / EDGE_STEP, 0.0, 1.0).mean())
            self._dark.append(dark)
            self._edges.append(edges)
            self._open.append(dark + edges)
        else:
            self._dark.append(float("nan"))
            self._edges.append(float("nan"))
            self._open.append(float("nan"))
        if mouth.size:
            current_mouth = mouth.astype(np.int16)
            if self._previous_mouth is not None:
                moved = np.abs(current_mouth - self._previous_mouth)
                if self._activity is None:
                    self._activity = moved.astype(np.float32)
                else:
                    self._activity += moved
            self._previous_mouth = current_mouth
        face = luma[self._face_slices].astype(np.int16)
        if self._previous_face is None or face.size == 0:
            self._change.append(float("nan"))
        else:
            moved = np.abs(face - self._previous_face)
            hole = moved[self._hole]
            count = moved.size - hole.size
            self._change.append(float((int(moved.sum()) - int(hole.sum())) / count) if count > 0 else float("nan"))
        self._previous_face = face
        position = self.frames - 1
        if position % self._sample_every == 0:
            self._sample(frame, position)
        self.seconds += time.perf_counter() - started
        self.cpu_seconds += time.thread_time() - cpu

    def _sample(self, frame: np.ndarray, position: int) -> None:
        import cv2

        from render.media import yuv

        x, y, side, _ = self.sample_crop
        out = min(SAMPLE_PX, side) // 2 * 2
        rgb = yuv.region_rgb(frame, (x, y, x + side, y + side))
        self._samples.append(cv2.resize(rgb, (out, out), interpolation=cv2.INTER_AREA))
        self._sample_indices.append(position)

    def _lips_box(self) -> tuple[float, float, float, float] | None:
        """Where the mouth box's pixels changed most: the box around those at half the strongest change or more."""
        if self._activity is None or not self._activity.size:
            return None
        rows = len(range(*self._mouth_slices[0].indices(self.height)))
        cols = len(range(*self._mouth_slices[1].indices(self.width)))
        if rows * cols != self._activity.size:
            return None
        activity = self._activity.reshape(rows, cols)
        strongest = float(np.percentile(activity, 99.5))
        if strongest <= 0:
            return None
        ys, xs = np.nonzero(activity >= 0.5 * strongest)
        x0, y0 = self.mouth[0] + xs.min() * MOUTH_STEP, self.mouth[1] + ys.min() * MOUTH_STEP
        x1, y1 = self.mouth[0] + (xs.max() + 1) * MOUTH_STEP, self.mouth[1] + (ys.max() + 1) * MOUTH_STEP
        return float(x0), float(y0), float(min(x1, self.width)), float(min(y1, self.height))

    def result(self, *, audio: np.ndarray | None = None, audio_rate_hz: int = 48_000, loudness_lufs: float | None = None,
               encoded: Any = None) -> RenderMeasurement:
        """The figures; ``encoded``: the finished file (its path and size are kept, so QA knows the file they describe)."""
        import os

        stat = os.stat(encoded) if encoded is not None and os.path.isfile(encoded) else None
        return RenderMeasurement(
            frames=self.frames, fps=self.fps, width=self.width, height=self.height,
            mouth_open=np.asarray(self._open, dtype=np.float64), change=np.asarray(self._change, dtype=np.float64),
            face_box=self.face, mouth_box=self.mouth, lips_box=self._lips_box(), audio=audio, audio_rate_hz=audio_rate_hz,
            loudness_lufs=loudness_lufs, seconds=self.seconds, cpu_seconds=self.cpu_seconds, backend=self.backend,
            encoded_path=os.path.realpath(encoded) if stat is not None else None, encoded_bytes=stat.st_size if stat is not None else None,
            face_samples=np.stack(self._samples) if self._samples else None, sample_indices=tuple(self._sample_indices),
            sample_crop=self.sample_crop,
            extra={"mouth_dark": np.asarray(self._dark, dtype=np.float64), "mouth_edges": np.asarray(self._edges, dtype=np.float64)},
        )


def face_crop(face_box: Any, width: int, height: int) -> tuple[int, int, int, int]:
    """The square (x, y, side, side) around ``face_box``, ``SAMPLE_CROP_SCALE`` times its larger side, inside the frame,
    corners and side even (render.qa.lipsync.find_face_crop cuts the same around the face it finds on the file)."""
    x0, y0, x1, y1 = _box_of(face_box, width, height)
    side = min(int(SAMPLE_CROP_SCALE * max(x1 - x0, y1 - y0)), width, height)
    side = max(16, side // 2 * 2)
    x = int(np.clip((x0 + x1) / 2 - side / 2, 0, width - side)) // 2 * 2
    y = int(np.clip((y0 + y1) / 2 - side / 2, 0, height - side)) // 2 * 2
    return x, y, side, side


def meter_for(stream: Any) -> FrameMeter | None:
    """The meter for a ``FrameStream``, None when it does not say where the face and mouth are."""
    face, mouth = getattr(stream, "face_box", None), getattr(stream, "mouth_box", None)
    if face is None or mouth is None or getattr(mouth, "width", 0) <= 0 or getattr(mouth, "height", 0) <= 0:
        return None
    return FrameMeter(stream.width, stream.height, stream.fps, face, mouth, backend=str(getattr(stream, "backend", "")))
