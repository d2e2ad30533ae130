"""The lip-sync tracking of QA in worker processes: started first, split over the CPUs, matched frame for frame.

Tracking the face on every frame of the finished reel is most of QA's time: mediapipe's import (the package
imports matplotlib and its tasks API, neither of which face mesh needs), decoding the 1080×1920 frames, and
face mesh on each. Here that work runs in ``python -m render.qa.face_worker`` processes:

- :class:`FaceWorkers` starts them at once, so mediapipe loads and the graph starts while QA probes the file
  and measures its loudness; a worker imports only mediapipe's framework and the face-mesh solution
  (:func:`import_face_mesh`), and nothing it loads touches the calling process.
- The first worker finds the face crop on the first frame (exactly as :func:`render.qa.lipsync.find_face_crop`
  does in one process), then tracks frames ``[0, M)``; the second seeks ffmpeg to frame ``M - OVERLAP_FRAMES``
  and tracks to the end. Its first ``OVERLAP_FRAMES`` frames only let the tracker settle; they also prove the
  seek landed where it should: the CRC-32 of every decoded frame in the overlap must equal the first worker's.
  Anything else (an ambiguous or missed match) redoes the second half without seeking, counting frames.
- A reel too short to split, a variable frame rate, or a single CPU: one worker tracks every frame.

The per-frame figures are computed by the same code as the one-process path (``lipsync.track_frames`` and
``lipsync.mouth_track``), so both paths measure the same thing; tests/test_qa_speed_paths.py compares them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from render.qa.lipsync import FrameLandmarks, MouthTrack, crop_geometry, mouth_track
from render.qa.report import QAError

logger = logging.getLogger(__name__)

#: frames the second worker tracks before its own share starts: the tracker settles, and the seek is checked on them
OVERLAP_FRAMES = 10
#: fewer frames than this are tracked by one worker: a second would spend more starting than it saves
MIN_FRAMES_TO_SPLIT = 120
#: how long a worker may take to answer before QA gives up on it (mediapipe's import on a busy machine included)
START_TIMEOUT_S = 120.0


class MediapipeUnusable(QAError):
    """mediapipe cannot be imported (or has no face-mesh solution) in a worker: the lip-sync checks cannot run."""


class WorkerFailed(RuntimeError):
    """A worker process died or spoke out of turn: QA tracks the frames in its own process instead."""


def import_face_mesh():  # noqa: ANN201 - mediapipe's module
    """mediapipe's ``solutions.face_mesh`` without the package's ``__init__``: that one imports every solution,
    their drawing helpers (matplotlib.pyplot) and the tasks API, three quarters of a 2.5 s import that face mesh
    does not use. Only for a worker process (the stub packages stay in its ``sys.modules``); the plain import
    when the layout is not the expected one."""
    import importlib
    import importlib.util

    if "mediapipe" in sys.modules:
        import mediapipe

        return mediapipe.solutions.face_mesh
    try:
        for name in ("mediapipe", "mediapipe.python.solutions"):
            if name == "mediapipe.python.solutions":
                importlib.import_module("mediapipe.python")      # the framework bindings: needed
            spec = importlib.util.find_spec(name)
            if spec is None or spec.submodule_search_locations is None:
                raise ImportError(f"no package {name}")
            sys.modules[name] = importlib.util.module_from_spec(spec)   # the package, its __init__ not run
        face_mesh = importlib.import_module("mediapipe.python.solutions.face_mesh")
        face_mesh.FaceMesh  # noqa: B018
        return face_mesh
    except (ImportError, AttributeError):
        for name in [name for name in sys.modules if name == "mediapipe" or name.startswith("mediapipe.")]:
            del sys.modules[name]
        import mediapipe

        return mediapipe.solutions.face_mesh


# --------------------------------------------------------------------------- the worker process


def static_face_mesh(face_mesh):  # noqa: ANN001, ANN201
    """mediapipe's face mesh in static mode (every frame found on its own), started on a blank frame."""
    from render.qa.lipsync import _quiet_native_stderr

    with _quiet_native_stderr():
        mesh = face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=True, min_detection_confidence=0.5)
        mesh.process(np.zeros((64, 64, 3), dtype=np.uint8))
    return mesh


class _ArrayStream:
    """A binary stream over an array's bytes (what ``io.BytesIO(array.tobytes())`` reads) without copying the whole array
    first: each ``read`` copies only what it returns."""

    def __init__(self, array: np.ndarray):
        self._bytes = memoryview(array).cast("B") if array.size else memoryview(b"")
        self._at = 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._bytes) if size is None or size < 0 else min(len(self._bytes), self._at + size)
        data = self._bytes[self._at:end].tobytes()
        self._at = end
        return data


def sample_landmarks(frames: np.ndarray, mesh) -> FrameLandmarks:  # noqa: ANN001
    """``mesh`` on each RGB frame of ``frames`` ((n, height, width, 3) uint8), one row per frame, as track_frames does.
    The frames are read one at a time (from a memory-mapped file in the worker): no whole copy of the reel's samples."""
    from render.qa.lipsync import track_frames

    frames = np.ascontiguousarray(frames, dtype=np.uint8)
    count, height, width = frames.shape[:3] if frames.ndim == 4 else (0, 1, 1)
    geometry = crop_geometry(None, width, height, crop_px=max(width, height))   # the frames are used as they are
    return track_frames(_ArrayStream(frames), mesh, geometry, max_frames=count)


def _serve() -> None:
    """A worker: import, start a face mesh, say ``ready``, then run the jobs read from stdin (one JSON line each)."""
    from render.qa.lipsync import find_face_crop, run_tracker, video_face_mesh

    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)                  # what a library prints goes to stderr, never into the replies

    def reply(**message: Any) -> None:
        replies.write(json.dumps(message) + "\n")
        replies.flush()

    try:
        face_mesh = import_face_mesh()
    except (ImportError, AttributeError) as error:
        reply(unusable=f"{type(error).__name__}: {error}")
        return
    static = None
    if "--static" in sys.argv[1:]:      # started for frames sampled during a render: the static graph is what it needs
        mesh = None
        static = static_face_mesh(face_mesh)
    else:
        mesh = video_face_mesh(face_mesh, 256, 256)   # fresh: its blank frame leaves no face to track from
    reply(ready=True)
    for line in sys.stdin:
        job = json.loads(line)
        try:
            if job.get("frames"):
                # frames sampled during the render (render.qa.inrender), each found on its own: static mode
                if static is None:
                    static = static_face_mesh(face_mesh)
                landmarks = sample_landmarks(np.load(job["frames"], mmap_mode="r"), static)
                np.savez(job["out"], **landmarks.to_arrays())
                reply(done=len(landmarks))
                continue
            path, ffmpeg, width, height = Path(job["path"]), job["ffmpeg"], job["width"], job["height"]
            crop = job.get("crop")
            if job.get("find_crop"):
                crop = find_face_crop(path, ffmpeg, width, height, face_mesh=face_mesh)
                reply(crop=crop)
            geometry = crop_geometry(tuple(crop) if crop else None, width, height, job["crop_px"])
            if mesh is None:
                mesh = video_face_mesh(face_mesh, geometry.out_width, geometry.out_height)
            with mesh:
                landmarks = run_tracker(path, ffmpeg, geometry, mesh, seek_s=job.get("seek_s"), accurate_seek=job.get("accurate_seek", True),
                                        skip_frames=job.get("skip_frames", 0),
                                        max_frames=job.get("max_frames"), timeout_s=job["timeout_s"], threads=job.get("threads"))
            mesh = None                                 # the next job starts from a fresh tracker
            np.savez(job["out"], **landmarks.to_arrays())
            reply(done=len(landmarks))
        except QAError as error:
            reply(error=str(error))


# --------------------------------------------------------------------------- the calling side


class _Worker:
    def __init__(self, index: int, folder: Path, *, static: bool = False):
        self.index = index
        self.errors = tempfile.TemporaryFile(dir=folder)
        root = str(Path(__file__).resolve().parents[2])   # the folder holding the render package
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (root, os.environ.get("PYTHONPATH"))))}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "render.qa.face_worker", *(["--static"] if static else [])], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=self.errors, env=env, start_new_session=True,
        )
        self._buffer = b""

    def send(self, **job: Any) -> None:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write((json.dumps(job) + "\n").encode())
            self.process.stdin.flush()
        except OSError as error:
            raise WorkerFailed(f"face worker {self.index}: {error}; {self.stderr_tail()}") from None

    def receive(self, timeout_s: float) -> dict[str, Any]:
        """The worker's next reply; WorkerFailed when it exits or stays silent for ``timeout_s``."""
        assert self.process.stdout is not None
        descriptor = self.process.stdout.fileno()
        deadline = time.monotonic() + timeout_s
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([descriptor], [], [], left)[0]:
                raise WorkerFailed(f"face worker {self.index} did not answer in {timeout_s:.0f} s")
            chunk = os.read(descriptor, 65536)
            if not chunk:
                raise WorkerFailed(f"face worker {self.index} exited ({self.process.wait()}): {self.stderr_tail()}")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        try:
            return json.loads(line)
        except ValueError:
            raise WorkerFailed(f"face worker {self.index} said {line[:200]!r}") from None

    def stderr_tail(self) -> str:
        with contextlib.suppress(OSError):
            self.errors.seek(0)
            lines = [line for line in self.errors.read().decode("utf-8", "replace").splitlines() if line.strip()]
            return lines[-1] if lines else "no message"
        return "no message"

    def close(self) -> None:
        with contextlib.suppress(OSError):
            if self.process.stdin is not None:
                self.process.stdin.close()
        if self.process.poll() is None:       # idle between jobs, or still loading: nothing in it is worth waiting for
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        with contextlib.suppress(OSError):
            if self.process.stdout is not None:
                self.process.stdout.close()
        self.errors.close()


def cpus_available() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class FaceWorkers:
    """Worker processes that load mediapipe from the moment they are made; :meth:`track` hands them a reel.

    Use as a context manager: leaving it ends the workers (they are in sessions of their own, killed if they hang)."""

    def __init__(self, count: int | None = None, *, static: bool = False):
        """``static``: the workers start mediapipe's static graph (for :meth:`sample_frames`) rather than the video one."""
        self._folder = tempfile.TemporaryDirectory(prefix="reeltwin-qa-")
        wanted = min(2, cpus_available()) if count is None else count
        self._workers: list[_Worker] = []
        try:
            for index in range(max(1, wanted)):
                self._workers.append(_Worker(index, Path(self._folder.name), static=static))
        except OSError:
            self.close()
            raise
        self._ready: list[bool] = [False] * len(self._workers)
        #: how the last :meth:`track` went: "one worker", "split at a keyframe", "split by seeking", "split, second half recounted"
        self.last_route = ""

    def __enter__(self) -> FaceWorkers:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        for worker in self._workers:
            worker.close()
        self._workers = []
        self._folder.cleanup()

    def _wait_ready(self, worker: _Worker) -> None:
        if self._ready[worker.index]:
            return
        message = worker.receive(START_TIMEOUT_S)
        if "unusable" in message:
            raise MediapipeUnusable(str(message["unusable"]))
        if not message.get("ready"):
            raise WorkerFailed(f"face worker {worker.index} said {message!r} before it was ready")
        self._ready[worker.index] = True

    def _run(self, worker: _Worker, timeout_s: float, **job: Any) -> str:
        """Send ``job``; the file its frames are stored in. Replies are read by :meth:`_result`."""
        out = str(Path(self._folder.name) / f"track-{worker.index}-{time.monotonic_ns()}.npz")
        worker.send(**job, out=out, timeout_s=timeout_s)
        return out

    @staticmethod
    def _crop(worker: _Worker, timeout_s: float) -> list[int] | None:
        message = worker.receive(timeout_s)
        if "error" in message:
            raise QAError(str(message["error"]))
        if "crop" not in message:
            raise WorkerFailed(f"face worker {worker.index} said {message!r}")
        return message["crop"]

    @staticmethod
    def _result(worker: _Worker, out: str, timeout_s: float) -> FrameLandmarks:
        message = worker.receive(timeout_s)
        if "error" in message:
            raise QAError(str(message["error"]))
        if "done" not in message:
            raise WorkerFailed(f"face worker {worker.index} said {message!r}")
        with np.load(out) as stored:
            return FrameLandmarks(**{name: stored[name] for name in stored.files})

    def track(self, path: Path, ffmpeg: str, *, width: int, height: int, fps: float, frames: int | None,
              split: bool = True, keyframes: tuple[int, ...] = (), crop_px: int = 256, timeout_s: float = 900) -> MouthTrack:
        """Every frame of ``path`` tracked as :func:`render.qa.lipsync.mouth_openings` does, over the workers.

        ``frames``: how many the video track holds (from its sample table); ``split``: whether its frames are evenly
        spaced (a constant frame rate ``fps``), so the second worker may seek; ``keyframes``: their display indices, where
        a seek costs no decoding thrown away. QAError when the frames cannot be decoded, MediapipeUnusable when mediapipe
        cannot load, WorkerFailed when a worker breaks."""
        first = self._workers[0]
        self._wait_ready(first)
        job: dict[str, Any] = {"path": str(path), "ffmpeg": ffmpeg, "width": width, "height": height, "crop_px": crop_px}
        halves = split and len(self._workers) > 1 and frames is not None and frames >= MIN_FRAMES_TO_SPLIT and fps > 0
        if not halves:
            self.last_route = "one worker"
            out = self._run(first, timeout_s, **job, find_crop=True)
            crop = self._crop(first, timeout_s)
            landmarks = self._result(first, out, timeout_s)
            return mouth_track(landmarks, crop_geometry(tuple(crop) if crop else None, width, height, crop_px))
        assert frames is not None
        job["threads"] = 1             # two workers, each with its decoder, already keep both CPUs busy
        second = self._workers[1]
        start, seek = split_point(frames, fps, keyframes)
        self.last_route = "split by seeking" if seek.get("accurate_seek", True) else "split at a keyframe"
        middle = start + OVERLAP_FRAMES                  # the first worker's frames: [0, middle); the second's: [start, end)
        out_first = self._run(first, timeout_s, **job, find_crop=True, max_frames=middle)
        self._wait_ready(second)
        # the second worker finds the crop too (the same frame, the same model: the same answer), rather than wait for it
        out_second = self._run(second, timeout_s, **job, find_crop=True, **seek)
        crop, crop_second = self._crop(first, timeout_s), self._crop(second, timeout_s)
        head = self._result(first, out_first, timeout_s)
        geometry = crop_geometry(tuple(crop) if crop else None, width, height, crop_px)
        tail: FrameLandmarks | None = None
        try:
            tail = self._result(second, out_second, timeout_s)
        except QAError as error:                         # the seek failed: counted frames below
            logger.info("%s: the second face worker failed after seeking (%s)", path, error)
        if len(head) < middle:                           # the file ended early: the first worker saw every frame
            self.last_route = "one worker"
            return mouth_track(head, geometry)
        offset = None if tail is None or crop_second != crop else _overlap_offset(head.checksums, tail.checksums, start)
        if offset is None:
            logger.info("%s: the second half did not start on frame %d; tracking it again, counting frames", path, start)
            self.last_route = "split, second half recounted"
            out_second = self._run(first, timeout_s, **job, crop=crop, skip_frames=start)
            tail = self._result(first, out_second, timeout_s)
            offset = _overlap_offset(head.checksums, tail.checksums, start, exact=True)
            if offset is None:
                raise WorkerFailed(f"{path}: the two halves' frames do not match where they overlap")
        assert tail is not None
        return mouth_track(FrameLandmarks.concatenate([head, tail.slice(middle - offset)]), geometry)

    def sample_frames(self, frames: np.ndarray, timeout_s: float = 120) -> FrameLandmarks:
        """The face found on each of ``frames`` ((n, height, width, 3) RGB, as render.qa.inrender samples them), one row per
        frame, in the frames' own pixels. MediapipeUnusable when mediapipe cannot load, WorkerFailed when the worker breaks."""
        worker = self._workers[0]
        self._wait_ready(worker)
        self.last_route = "sampled frames"
        source = str(Path(self._folder.name) / f"frames-{time.monotonic_ns()}.npy")
        np.save(source, np.ascontiguousarray(frames, dtype=np.uint8))
        out = self._run(worker, timeout_s, frames=source)
        return self._result(worker, out, timeout_s)


def split_point(frames: int, fps: float, keyframes: tuple[int, ...] = ()) -> tuple[int, dict[str, Any]]:
    """Where the second worker starts (a display index) and how its ffmpeg seeks there.

    At the keyframe nearest the middle when one is near enough: ``-noaccurate_seek`` to half a frame after it lands on
    it exactly and decodes nothing twice. Else the middle, with ffmpeg's accurate seek from half a frame before it
    (decoded from the keyframe before, the frames before dropped)."""
    middle = (frames - OVERLAP_FRAMES) // 2
    usable = [key for key in keyframes if OVERLAP_FRAMES <= key <= frames - 2 * OVERLAP_FRAMES]
    if usable:
        key = min(usable, key=lambda index: abs(index - middle))
        if abs(key - middle) <= frames // 8:
            return key, {"seek_s": (key + 0.5) / fps, "accurate_seek": False}
    return middle, {"seek_s": (middle - 0.5) / fps}


def _overlap_offset(head: np.ndarray, tail: np.ndarray, expected: int, *, exact: bool = False) -> int | None:
    """The frame index of ``tail``'s first frame in ``head``'s numbering: where every frame the two share has the same
    checksum. Only ``expected`` with ``exact``; otherwise the one index near it that fits, None when none or several do."""
    candidates = [expected] if exact else range(max(0, expected - OVERLAP_FRAMES), len(head) - 2)
    fits = []
    for index in candidates:
        shared = len(head) - index
        if 0 < shared <= len(tail) and np.array_equal(head[index:], tail[:shared]):
            fits.append(index)
    if len(fits) != 1 or len(head) - fits[0] < 3:      # ambiguous (frames repeat), or too little overlap to settle
        return None
    return fits[0]


if __name__ == "__main__":
    _serve()
