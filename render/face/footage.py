"""A clip of the creator, analysed once at enrollment: normalized copy, face track, loop plan, checks.

``normalize`` re-encodes any phone clip (rotation metadata applied, variable frame
rate made constant 30 fps, long side capped at 1920 px, keyframes every 15 frames
so a render can seek to any frame cheaply). ``analyze`` decodes the normalized copy
once at a reduced size, tracks mediapipe's 478 face landmarks on every frame,
smooths them in time and measures per frame what a render needs (mouth openness,
eye openness, pose, face size) and what a creator must be told (cuts, shake, blur,
several faces, a face lost). ``check`` turns the findings into one clear refusal
or warnings; ``plan_loop`` chooses how the clip covers any length of speech without
a visible jump.

The result is stored as one compressed ``.npz`` beside the normalized clip, so
renders never analyse the clip again.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from render import RenderError
from render.face import landmarks as lm
from render.media.ahead import read_ahead

FPS = 30
MAX_SIDE_PX = 1920
ANALYSIS_SIDE_PX = 640            # frames are tracked at this long side; landmarks are scaled back
#: Another face counts when it is there for a while: on this many tracked frames (a fifth of a second), or on two of the
#: detector's once-a-second looks. One frame's glitch (the tracker doubling a face, the detector's false box) is not a
#: second person; someone who walks through the shot for half a second is.
SECOND_FACE_MIN_FRAMES = 6
SECOND_FACE_MIN_LOOKS = 2
KEYFRAME_INTERVAL = 15
MIN_CLIP_S = 5.0
MAX_CLIP_S = 120.0
MIN_USABLE_S = 3.0
MAX_CLIP_BYTES = 500 * 1024 * 1024
MAX_LOST_SHARE = 0.05
MIN_FACE_HEIGHT_PX = 96           # forehead to chin, in the normalized clip
MAX_ANGLE_DEG = 30.0
MAX_TURNED_SHARE = 0.05
CUT_RATIO = 6.0                   # a frame change this many times the clip's typical change, and large, is a cut
CUT_MIN_CHANGE = 0.12             # mean absolute change of the 48x48 thumbnail (0..1)
SHAKE_LIMIT = 0.035               # RMS of the face centre's jitter (high-pass) / face height
BLUR_LIMIT = 8.0                  # variance of the Laplacian on the face, resized to 160 px tall
DIM_LUMA = 70.0
TALKING_RANGE = 0.08              # mouth openness varies this much (10th to 90th percentile) in a talking clip
MOUTH_OPEN = 0.12
VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".webm", ".mkv", ".avi", ".3gp")
TRACK_VERSION = 1


class FootageError(RenderError):
    """A clip a footage avatar cannot be made from: the message names the clip and the fix."""


def looks_like_video(path: Path) -> bool:
    """True for a video container by its first bytes (MP4/MOV/M4V, WebM/MKV, AVI, 3GP), whatever its name."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
    except OSError:
        return Path(path).suffix.lower() in VIDEO_SUFFIXES
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        return brand not in (b"heic", b"heix", b"mif1", b"msf1", b"avif", b"M4A ", b"M4B ")
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return True
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return True
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free"):
        return True
    return False


# --------------------------------------------------------------------------- normalizing and reading


def _tools() -> Any:
    from render.media.ffmpeg import find_tools

    return find_tools(error=FootageError)


def _errors() -> Any:
    from render.media.ffmpeg import ToolErrors

    return ToolErrors(error=FootageError, cannot_start="install ffmpeg (make install)", damaged="export the clip again from your phone")


@dataclass(frozen=True)
class ClipInfo:
    duration_s: float
    width: int
    height: int
    n_frames: int


def probe_clip(path: Path, *, label: str) -> ClipInfo:
    """Duration and size of a clip, or FootageError (missing, empty, not a video, damaged, out of bounds)."""
    from render.media.ffmpeg import ffmpeg_reason
    from render.media.probe import probe

    path = Path(path)
    if not path.exists():
        raise FootageError(f"{label}: no such file; check the path")
    if path.is_dir():
        raise FootageError(f"{label}: is a folder; give a video file (MP4, MOV, WebM or M4V)")
    size = path.stat().st_size
    if size == 0:
        raise FootageError(f"{label}: the file is empty; export the clip again")
    if size > MAX_CLIP_BYTES:
        raise FootageError(f"{label}: {size / 1e6:.0f} MB is too large; trim it to under {MAX_CLIP_S:.0f} s or export it at 1080p")
    info = probe(path, _tools(), timeout_s=60.0, label=label, errors=_errors(),
                 unreadable=lambda stderr: FootageError(f"{label}: not a video ffmpeg can read ({ffmpeg_reason(stderr, path)}); "
                                                        "give an MP4, MOV, WebM or M4V clip"))
    if info.video is None or not info.video.width_px or info.video.codec in ("png", "mjpeg") and not info.duration_s:
        raise FootageError(f"{label}: has no video stream; give a clip of you facing the camera (MP4, MOV, WebM or M4V)")
    duration = float(info.duration_s or 0.0)
    if duration <= 0.0:
        raise FootageError(f"{label}: the clip's length cannot be read (damaged or still recording?); export the clip again")
    if duration < MIN_CLIP_S:
        raise FootageError(f"{label}: {duration:.1f} s is too short; record at least {MIN_CLIP_S:.0f} s (10-20 s of you facing the camera works best)")
    if duration > MAX_CLIP_S + 0.5:
        raise FootageError(f"{label}: {duration:.0f} s is too long; trim it to at most {MAX_CLIP_S:.0f} s (10-20 s is plenty)")
    return ClipInfo(duration_s=duration, width=info.video.width_px, height=info.video.height_px,
                    n_frames=int(info.video.frame_count or round(duration * FPS)))


def normalize(source: Path, target: Path, *, label: str) -> ClipInfo:
    """Write ``target``: the clip upright, constant 30 fps, long side at most 1920 px (even sizes), H.264, no audio."""
    from render.media.ffmpeg import ffmpeg_reason, run_tool

    probe_clip(source, label=label)
    # Colours in BT.601, limited range, whatever the phone used (often BT.709): the render passes the clip's YUV
    # through to the encoder, which labels the reel so.
    scale = (f"scale=w='trunc(min(1,{MAX_SIDE_PX}/max(iw,ih))*iw/2)*2':h='trunc(min(1,{MAX_SIDE_PX}/max(iw,ih))*ih/2)*2'"
             ":flags=bicubic:out_color_matrix=bt601:out_range=tv")
    command = [_tools().ffmpeg, "-v", "error", "-nostdin", "-y", "-i", str(source), "-map", "0:v:0", "-t", f"{MAX_CLIP_S}",
               "-vf", f"fps={FPS},{scale},format=yuv420p", "-an", "-c:v", "libx264", "-preset", "veryfast", "-crf", "16",
               "-g", str(KEYFRAME_INTERVAL), "-keyint_min", str(KEYFRAME_INTERVAL), "-sc_threshold", "0",
               "-colorspace", "smpte170m", "-color_range", "tv", "-movflags", "+faststart", str(target)]
    result = run_tool(command, timeout_s=600.0, label=label, errors=_errors())
    if result.returncode != 0 or not Path(target).is_file():
        raise FootageError(f"{label}: the clip could not be decoded ({ffmpeg_reason(result.stderr, Path(source))}); export it again as MP4 (H.264)")
    return probe_clip(target, label=label)


class ClipReader:
    """Frames of a normalized clip by index, decoded in-process by PyAV (FFmpeg's libraries) as they are needed.

    The clip stays open between runs: a forward run seeks to the keyframe before its first frame and decodes
    on (no seek at all when it continues where the last run stopped); a backward run is decoded in chunks that
    start on keyframes (every ``KEYFRAME_INTERVAL`` frames in a normalized clip), each handed out reversed, so
    no frame is decoded twice. Memory: one chunk. ``close()`` (or ``with``) releases the clip.
    """

    def __init__(self, path: Path, width: int, height: int, *, size: tuple[int, int] | None = None, chunk: int = KEYFRAME_INTERVAL,
                 pixel_format: str = "rgb24"):
        self.path = Path(path)
        self.source_size = (width, height)
        self.width, self.height = size or (width, height)
        self.chunk = max(1, chunk)
        if pixel_format not in ("rgb24", "yuv420p"):
            raise ValueError(f"pixel_format {pixel_format!r}: rgb24 (H x W x 3) or yuv420p (I420, render.media.yuv)")
        self.pixel_format = pixel_format
        self._container: Any = None
        self._stream: Any = None
        self._frames: Iterator[Any] | None = None
        self._next = -1                  # the index the open decoder hands out next (-1: seek first)
        self.decoded = 0                 # frames decoded by the last play() with a cache

    def __enter__(self) -> "ClipReader":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
        self._container = self._stream = self._frames = None
        self._next = -1

    def _open(self) -> Any:
        if self._container is None:
            import av

            try:
                self._container = av.open(str(self.path), mode="r")
                self._stream = self._container.streams.video[0]
            except (av.FFmpegError, IndexError, OSError) as error:
                self.close()
                raise RenderError(f"clip {str(self.path)!r} cannot be read ({error}); enroll the clip again") from None
            # one decoding thread: the reader runs on a thread of its own beside the renderer and the encoder, and
            # on 2 busy cores frame threads cost CPU (3.8 vs 5.0-5.5 CPU s for a 30 s reel's 894 frames) for no speed
            self._stream.thread_type = "NONE"
        return self._stream

    def _index(self, frame: Any) -> int:
        stream = self._stream
        return int(round(float((frame.pts - (stream.start_time or 0)) * stream.time_base) * FPS))

    def _seek(self, index: int) -> None:
        """Position the decoder so that the next frame it gives is at most ``index`` (the keyframe before it)."""
        import av

        stream = self._open()
        start = stream.start_time or 0
        # a quarter frame past the frame's own time: the seek lands on the keyframe at or before it, never after
        target = start + int(math.floor((index + 0.25) / FPS / stream.time_base)) if index > 0 else start
        try:
            self._container.seek(max(start, target), stream=stream, backward=True, any_frame=False)
        except av.FFmpegError:
            self._container.seek(start, stream=stream, backward=True, any_frame=False)
        self._frames = self._container.decode(stream)
        self._next = -1

    def _convert(self, frame: Any) -> np.ndarray:
        if (self.width, self.height) != self.source_size:
            frame = frame.reformat(width=self.width, height=self.height, format=self.pixel_format, interpolation="AREA")
            return frame.to_ndarray()
        return frame.to_ndarray(format=self.pixel_format)

    def read(self, start: int, count: int) -> Iterator[np.ndarray]:
        """Frames ``start`` .. ``start + count - 1`` in order (fewer when the clip ends); each a new writable array."""
        import av

        if count <= 0:
            return
        if self._frames is None or self._next != start:
            self._seek(start)
        wanted, end, overshot = start, start + count, False
        while wanted < end:
            try:
                frame = next(self._frames, None)
            except av.FFmpegError as error:
                self.close()
                raise RenderError(f"clip {str(self.path)!r}: frame {wanted} cannot be decoded ({error}); enroll the clip again") from None
            if frame is None:
                self._frames, self._next = None, -1
                return
            index = self._index(frame)
            if index < wanted:
                continue
            if index > wanted == start and not overshot and start > 0:
                # the seek landed past the frame (a clip with sparse keyframes): decode from the start instead
                overshot = True
                self._seek(0)
                continue
            self._next = wanted = index + 1
            yield self._convert(frame)

    def run(self, first: int, last: int) -> Iterator[tuple[int, np.ndarray]]:
        """(index, frame) from ``first`` to ``last`` inclusive, forward or backward."""
        if last >= first:
            for offset, frame in enumerate(self.read(first, last - first + 1)):
                yield first + offset, frame
            return
        high = first
        while high >= last:
            # chunks start on keyframes: the seek lands on the chunk's first frame and nothing is decoded twice
            low = max(last, (high // self.chunk) * self.chunk)
            frames = list(self.read(low, high - low + 1))
            for offset in range(len(frames) - 1, -1, -1):
                yield low + offset, frames[offset]
            high = low - 1

    def play(self, runs: list[tuple[int, int]], *, ahead: int = 0, cache_bytes: int = 0) -> Iterator[tuple[int, np.ndarray]]:
        """(index, frame) over ``runs`` in order; with ``ahead`` > 0 decoded on a thread up to that many frames
        ahead of the caller (decoding overlaps the caller's work: PyAV decodes without the GIL). Closes the clip.

        ``cache_bytes`` > 0: frames that will be shown again are kept (decoded, untouched) up to that many bytes and
        handed out again as copies instead of being decoded twice. The whole order is known, so the cache keeps the
        frames whose next showing comes soonest (Belady's rule, the fewest decodes any cache of that size can do):
        a reel that plays the clip forward and back finds the frames around each turn already decoded. Every frame
        handed out is the caller's to paint on, cached or not."""
        def frames() -> Iterator[tuple[int, np.ndarray]]:
            if cache_bytes > 0:
                yield from self._play_cached(runs, cache_bytes)
                return
            for first, last in runs:
                yield from self.run(first, last)

        try:
            yield from (read_ahead(frames(), ahead, name="reeltwin-clip") if ahead > 0 else frames())
        finally:
            self.close()

    def _play_cached(self, runs: list[tuple[int, int]], cache_bytes: int) -> Iterator[tuple[int, np.ndarray]]:
        order = [index for first, last in runs for index in _run_indices(first, last)]
        cache = _FrameCache(cache_bytes, order)
        self.decoded = 0
        position = 0
        for first, last in runs:
            step = 1 if last >= first else -1
            index = first
            # the frames a run starts with that are kept (the clip's turn: what was just shown, shown again): no decoding
            while (index - last) * step <= 0 and index in cache:
                yield index, cache.take(index, position)
                position += 1
                index += step
            if (index - last) * step > 0:
                continue
            # from the first frame that is not kept the run is decoded as without a cache (a decoder cannot skip frames)
            for shown, frame in self.run(index, last):
                self.decoded += 1
                cache.offer(shown, frame, position)
                yield shown, frame
                position += 1


def _run_indices(first: int, last: int) -> range:
    return range(first, last + 1) if last >= first else range(first, last - 1, -1)


class _FrameCache:
    """Decoded frames kept for their next showing, within a byte budget, by Belady's rule: the order of showings is
    known, so when the budget is full the frame shown again latest gives way (or the new one is not kept)."""

    def __init__(self, budget: int, order: list[int]):
        self.budget, self.used = budget, 0
        never = len(order)
        self.next_use = [never] * len(order)     # position -> the next position showing the same frame
        seen: dict[int, int] = {}
        for position in range(len(order) - 1, -1, -1):
            self.next_use[position] = seen.get(order[position], never)
            seen[order[position]] = position
        self.never = never
        self.frames: dict[int, tuple[np.ndarray, int]] = {}     # index -> (untouched frame, its next showing)

    def __contains__(self, index: int) -> bool:
        return index in self.frames

    def take(self, index: int, position: int) -> np.ndarray:
        """The kept frame for its showing at ``position``: a copy, or the frame itself at its last showing."""
        frame, _ = self.frames[index]
        following = self.next_use[position]
        if following >= self.never:
            del self.frames[index]
            self.used -= frame.nbytes
            return frame
        self.frames[index] = (frame, following)
        return frame.copy()

    def offer(self, index: int, frame: np.ndarray, position: int) -> None:
        """A frame just decoded for ``position`` (the caller paints on it): a copy is kept if it is worth its bytes."""
        following = self.next_use[position]
        if index in self.frames:
            kept, _ = self.frames[index]
            if following >= self.never:
                del self.frames[index]
                self.used -= kept.nbytes
            else:
                self.frames[index] = (kept, following)
            return
        if following >= self.never or frame.nbytes > self.budget:
            return
        while self.used + frame.nbytes > self.budget:
            latest = max(self.frames, key=lambda kept: self.frames[kept][1])
            if self.frames[latest][1] <= following:
                return                  # everything kept is needed sooner than this frame
            self.used -= self.frames.pop(latest)[0].nbytes
        self.frames[index] = (frame.copy(), following)
        self.used += frame.nbytes


# --------------------------------------------------------------------------- the track


@dataclass
class FootageAnalysis:
    """The face track of a normalized clip (pixel coordinates of the normalized clip)."""

    fps: int
    width: int
    height: int
    landmarks: np.ndarray = field(repr=False)      # (N, 478, 3) float32, smoothed; lost frames interpolated
    found: np.ndarray = field(repr=False)          # (N,) bool: a face was tracked on that frame
    mouth_open: np.ndarray = field(repr=False)     # (N,) inner-lip gap / mouth width
    eye_open: np.ndarray = field(repr=False)       # (N, 2)
    pose: np.ndarray = field(repr=False)           # (N, 3) yaw, pitch, roll in degrees
    face_height: np.ndarray = field(repr=False)    # (N,) forehead to chin, px
    change: np.ndarray = field(repr=False)         # (N,) mean absolute change of a 48x48 thumbnail from the frame before (0..1)
    sharpness: np.ndarray = field(repr=False)      # (N,) variance of the Laplacian on the face (NaN where no face)
    luma: np.ndarray = field(repr=False)           # (N,) mean brightness of the face (0..255)
    faces_seen: int = 1                            # most prominent faces seen for a while (see SECOND_FACE_MIN_FRAMES)
    loop: dict[str, Any] = field(default_factory=dict)

    @property
    def n_frames(self) -> int:
        return int(self.landmarks.shape[0])

    @property
    def duration_s(self) -> float:
        return self.n_frames / self.fps

    def save(self, path: Path) -> None:
        np.savez_compressed(path, version=TRACK_VERSION, fps=self.fps, width=self.width, height=self.height,
                            landmarks=self.landmarks.astype(np.float32), found=self.found, mouth_open=self.mouth_open.astype(np.float32),
                            eye_open=self.eye_open.astype(np.float32), pose=self.pose.astype(np.float32),
                            face_height=self.face_height.astype(np.float32), change=self.change.astype(np.float32),
                            sharpness=self.sharpness.astype(np.float32), luma=self.luma.astype(np.float32),
                            faces_seen=self.faces_seen, loop=np.array([_loop_text(self.loop)]))

    @classmethod
    def load(cls, path: Path) -> "FootageAnalysis":
        import json

        try:
            with np.load(path, allow_pickle=False) as data:
                if int(data["version"]) != TRACK_VERSION:
                    raise FootageError(f"face track {str(path)!r}: made by another version; enroll the clip again")
                return cls(fps=int(data["fps"]), width=int(data["width"]), height=int(data["height"]), landmarks=data["landmarks"],
                           found=data["found"], mouth_open=data["mouth_open"], eye_open=data["eye_open"], pose=data["pose"],
                           face_height=data["face_height"], change=data["change"], sharpness=data["sharpness"], luma=data["luma"],
                           faces_seen=int(data["faces_seen"]), loop=json.loads(str(data["loop"][0])))
        except FootageError:
            raise
        except (OSError, KeyError, ValueError) as error:
            raise FootageError(f"face track {str(path)!r}: missing or damaged ({error}); enroll the clip again") from None

    def summary(self) -> dict[str, Any]:
        """The JSON-able facts stored on the avatar row and shown to the creator."""
        valid = self.found
        heights = self.face_height[valid] if valid.any() else self.face_height
        return {
            "kind": "footage", "fps": self.fps, "width": self.width, "height": self.height, "frames": self.n_frames,
            "duration_s": round(self.duration_s, 2), "face_height_px": round(float(np.median(heights)), 1),
            "face_found_share": round(float(valid.mean()), 3),
            "pose": {name: round(float(np.median(np.abs(self.pose[valid, i]))) if valid.any() else 0.0, 1)
                     for i, name in enumerate(("yaw_deg", "pitch_deg", "roll_deg"))},
            "talking": is_talking(self), "mouth_open_median": round(float(np.median(self.mouth_open[valid])) if valid.any() else 0.0, 3),
            "blinks": int(count_blinks(self.eye_open)), "loop": self.loop,
        }


def _loop_text(loop: dict[str, Any]) -> str:
    import json

    return json.dumps(loop, sort_keys=True)


def is_talking(analysis: "FootageAnalysis") -> bool:
    """The mouth opens and closes through the clip (its openness varies widely), not just held open (a smile)."""
    mouth = analysis.mouth_open[analysis.found]
    if len(mouth) < 10:
        return False
    low, high = np.percentile(mouth, [10, 90])
    return bool(high - low > TALKING_RANGE)


def count_blinks(eye_open: np.ndarray) -> int:
    """Blinks: dips of the mean eye openness below 55 % of its median."""
    if len(eye_open) == 0:
        return 0
    mean = eye_open.mean(axis=1)
    closed = mean < 0.55 * float(np.median(mean))
    return int(np.count_nonzero(closed[1:] & ~closed[:-1]) + (1 if closed[0] else 0))


def _gaussian_smooth(values: np.ndarray, sigma: float) -> np.ndarray:
    """Smooth along axis 0 with a Gaussian (reflecting at the ends)."""
    if sigma <= 0 or len(values) < 3:
        return values.copy()
    radius = max(1, int(math.ceil(3 * sigma)))
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    kernel /= kernel.sum()
    pad = [(radius, radius)] + [(0, 0)] * (values.ndim - 1)
    padded = np.pad(values, pad, mode="reflect" if len(values) > radius else "edge")
    out = np.zeros_like(values, dtype=np.float64)
    for offset, weight in enumerate(kernel):
        out += weight * padded[offset:offset + len(values)]
    return out.astype(values.dtype)


def _interpolate_lost(points: np.ndarray, found: np.ndarray) -> np.ndarray:
    """Fill frames without a face by interpolating between the nearest frames with one."""
    if found.all() or not found.any():
        return points
    index = np.arange(len(points))
    good = index[found]
    flat = points.reshape(len(points), -1)
    filled = np.empty_like(flat)
    for column in range(flat.shape[1]):
        filled[:, column] = np.interp(index, good, flat[good, column])
    return filled.reshape(points.shape)


def analyze(path: Path, *, label: str, progress: Any = None) -> FootageAnalysis:
    """Track the face through a normalized clip (see :func:`normalize`)."""
    import cv2

    from render.face import analysis as photo_analysis

    info = probe_clip(path, label=label)
    factor = min(1.0, ANALYSIS_SIDE_PX / max(info.width, info.height))
    aw, ah = max(2, int(round(info.width * factor / 2)) * 2), max(2, int(round(info.height * factor / 2)) * 2)
    sx, sy = info.width / aw, info.height / ah
    reader = ClipReader(path, info.width, info.height, size=(aw, ah))
    points_list: list[np.ndarray] = []
    found: list[bool] = []
    thumbs: list[np.ndarray] = []
    sharp: list[float] = []
    luma: list[float] = []
    mesh_counts: list[int] = []       # prominent faces the mesh tracked, per frame
    detector_counts: list[int] = []   # big faces the detector saw, once a second
    expected = max(1, info.n_frames)
    with photo_analysis.face_tracker(max_faces=2) as track:   # this clip's own: nothing carried over from another
        for index, frame in enumerate(reader.read(0, int(MAX_CLIP_S * FPS) + FPS)):
            faces = track(frame)
            gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
            thumbs.append(cv2.resize(gray, (48, 48), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0)
            if faces:
                points = faces[0].astype(np.float32)
                main_h = float(points[:, 1].max() - points[:, 1].min())
                mesh_counts.append(1 + sum(1 for other in faces[1:] if float(other[:, 1].max() - other[:, 1].min()) >= 0.45 * main_h))
                points[:, 0] *= sx
                points[:, 1] *= sy
                points[:, 2] *= sx
                points_list.append(points)
                found.append(True)
                sharp.append(_face_sharpness(gray, faces[0]))
                luma.append(_face_luma(gray, faces[0]))
            else:
                points_list.append(np.full((478, 3), np.nan, dtype=np.float32))
                found.append(False)
                sharp.append(float("nan"))
                luma.append(float("nan"))
            if index % FPS == 0 and index:
                # The mesh only tracks faces that fill a good part of the frame; the detector also sees small ones.
                boxes = photo_analysis.detect_faces(frame)
                if len(boxes) > 1 and faces:
                    detector_counts.append(sum(1 for box in boxes if box[3] >= 0.45 * boxes[0][3]))
            if progress is not None:
                progress(index + 1, expected)
    if not points_list:
        raise FootageError(f"{label}: no frames could be decoded; export the clip again as MP4 (H.264)")
    found_arr = np.array(found, dtype=bool)
    raw = np.stack(points_list)
    filled = _interpolate_lost(raw, found_arr) if found_arr.any() else np.zeros_like(raw)
    # Light temporal smoothing: removes the tracker's jitter, keeps real motion (a blink lasts ~5 frames).
    smoothed = _gaussian_smooth(filled, 0.8)
    thumb = np.stack(thumbs)
    change = np.concatenate([[0.0], np.abs(np.diff(thumb, axis=0)).mean(axis=(1, 2))]).astype(np.float32)
    mouth = np.array([photo_analysis.mouth_openness(p) for p in smoothed], dtype=np.float32)
    eyes = np.array([photo_analysis.eye_openness(p) for p in smoothed], dtype=np.float32)
    pose = np.array([_pose_tuple(photo_analysis.head_pose(p, info.width, info.height)) for p in smoothed], dtype=np.float32)
    height = np.linalg.norm(smoothed[:, lm.FOREHEAD, :2] - smoothed[:, lm.CHIN, :2], axis=1).astype(np.float32)
    result = FootageAnalysis(fps=FPS, width=info.width, height=info.height, landmarks=smoothed.astype(np.float32), found=found_arr,
                             mouth_open=mouth, eye_open=eyes, pose=pose, face_height=height, change=change,
                             sharpness=np.array(sharp, dtype=np.float32), luma=np.array(luma, dtype=np.float32),
                             faces_seen=faces_seen(mesh_counts, detector_counts))
    result.loop = plan_loop(result, thumb)
    return result


def faces_seen(mesh_counts: list[int], detector_counts: list[int]) -> int:
    """The most faces in the shot for a while: on at least SECOND_FACE_MIN_FRAMES tracked frames or
    SECOND_FACE_MIN_LOOKS of the detector's looks; 1 if a face was tracked at all, 0 if none."""
    if not mesh_counts:
        return 0

    def sustained(counts: list[int], needed: int) -> int:
        return max((k for k in set(counts) if sum(1 for c in counts if c >= k) >= needed), default=1)

    return max(1, sustained(mesh_counts, SECOND_FACE_MIN_FRAMES), sustained(detector_counts, SECOND_FACE_MIN_LOOKS))


def _pose_tuple(pose: Any) -> tuple[float, float, float]:
    return (pose.yaw_deg, pose.pitch_deg, pose.roll_deg)


def _face_crop(gray: np.ndarray, points: np.ndarray) -> np.ndarray:
    x0, y0 = np.floor(points[:, :2].min(axis=0)).astype(int)
    x1, y1 = np.ceil(points[:, :2].max(axis=0)).astype(int)
    x0, y0 = max(x0, 0), max(y0, 0)
    return gray[y0:max(y1, y0 + 2), x0:max(x1, x0 + 2)]


def _face_sharpness(gray: np.ndarray, points: np.ndarray) -> float:
    import cv2

    crop = _face_crop(gray, points)
    if crop.size < 16:
        return float("nan")
    scale = 160.0 / max(crop.shape[0], 1)
    resized = cv2.resize(crop, (max(8, int(crop.shape[1] * scale)), 160), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    return float(cv2.Laplacian(resized, cv2.CV_32F).var())


def _face_luma(gray: np.ndarray, points: np.ndarray) -> float:
    crop = _face_crop(gray, points)
    return float(crop.mean()) if crop.size else float("nan")


# --------------------------------------------------------------------------- covering any length: the loop plan


def _motion(analysis: FootageAnalysis) -> np.ndarray:
    """Per-frame movement of the stable face points, as a share of the face height."""
    stable = analysis.landmarks[:, list(lm.STABLE), :2]
    step = np.linalg.norm(np.diff(stable, axis=0), axis=2).mean(axis=1) / np.maximum(analysis.face_height[1:], 1.0)
    return np.concatenate([[0.0], step]).astype(np.float32)


def usable_range(analysis: FootageAnalysis) -> tuple[int, int]:
    """First and last frame of the longest run without a cut (cuts are refused, so normally the whole clip)."""
    cuts = find_cuts(analysis)
    bounds = [0] + [c for c in cuts] + [analysis.n_frames]
    best = max(zip(bounds[:-1], bounds[1:]), key=lambda pair: pair[1] - pair[0])
    return best[0], best[1] - 1


def find_cuts(analysis: FootageAnalysis) -> list[int]:
    """Frames that start a new shot: a picture change far above the clip's typical change, or the face jumping."""
    change = analysis.change
    if len(change) < 3:
        return []
    typical = float(np.median(change[1:])) + 1e-3
    centre = 0.5 * (analysis.landmarks[:, lm.FOREHEAD, :2] + analysis.landmarks[:, lm.CHIN, :2])
    jump = np.concatenate([[0.0], np.linalg.norm(np.diff(centre, axis=0), axis=1) / np.maximum(analysis.face_height[1:], 1.0)])
    cuts = []
    for index in range(1, len(change)):
        picture = change[index] > max(CUT_RATIO * typical, CUT_MIN_CHANGE)
        face = jump[index] > 0.35 and analysis.found[index] and analysis.found[index - 1]
        if picture or face:
            cuts.append(index)
    return cuts


def plan_loop(analysis: FootageAnalysis, thumbs: np.ndarray | None = None) -> dict[str, Any]:
    """How renders cover any length from this clip.

    ``pingpong``: play forward to ``last``, backward to ``first``, forward again... The turns are
    put on the calmest frames near the ends, so the reversal shows as a pause, never a jump.
    ``forward``: play ``first``..``last`` and start again at ``first``, used when the two frames
    match so closely (landmarks and pixels) that the cut cannot be seen.
    ``start``: where speech begins, a frame near the start with the mouth at rest.
    """
    first, last = usable_range(analysis)
    n = last - first + 1
    motion = _motion(analysis)
    calm = _gaussian_smooth(motion.astype(np.float64), 2.0)
    edge = max(1, min(int(0.15 * n), FPS))
    a = first + int(np.argmin(calm[first:first + edge]))
    b = last - edge + 1 + int(np.argmin(calm[last - edge + 1:last + 1]))
    plan: dict[str, Any] = {"mode": "pingpong", "first": int(a), "last": int(b)}
    if thumbs is not None and b - a > 2 * FPS:
        # The best forward seam: a frame near the end that matches a frame near the start.
        heights = np.maximum(analysis.face_height, 1.0)
        stable = analysis.landmarks[:, list(lm.STABLE), :2]
        heads = np.arange(first, first + edge)
        tails = np.arange(last - edge + 1, last + 1)
        shape = np.linalg.norm(stable[tails][:, None] - stable[heads][None, :], axis=3).mean(axis=2) / heights[heads][None, :]
        pixels = np.abs(thumbs[tails][:, None] - thumbs[heads][None, :]).mean(axis=(2, 3))
        typical = float(np.median(analysis.change[1:])) + 1e-4
        cost = shape / 0.01 + pixels / max(typical, 0.004)
        ti, hi = np.unravel_index(int(np.argmin(cost)), cost.shape)
        seam = float(cost[ti, hi])
        plan["seam_cost"] = round(seam, 3)
        # Landmarks within 1 % of the face height and a picture change like one ordinary frame step: invisible.
        if shape[ti, hi] < 0.01 and pixels[ti, hi] < 1.5 * typical:
            plan.update(mode="forward", first=int(heads[hi]), last=int(tails[ti]) - 1)
    mouth = analysis.mouth_open
    lo = plan["first"]
    window = mouth[lo:lo + max(2, min(FPS, plan["last"] - lo))]
    plan["start"] = int(lo + int(np.argmin(window))) if len(window) else int(lo)
    return plan


def timeline(plan: dict[str, Any], n_frames: int) -> list[tuple[int, int]]:
    """Runs (first, last) of source frames, inclusive, forward or backward, covering ``n_frames`` output frames."""
    first, last, index = int(plan["first"]), int(plan["last"]), int(plan.get("start", plan["first"]))
    index = min(max(index, first), last)
    runs: list[tuple[int, int]] = []
    remaining = n_frames
    forward = True
    if last <= first:
        return [(first, first)] * n_frames if n_frames else []
    while remaining > 0:
        if forward:
            stop = min(last, index + remaining - 1)
            runs.append((index, stop))
            remaining -= stop - index + 1
            if plan.get("mode") == "forward":
                index = first
            else:
                forward = False
                index = last - 1
        else:
            stop = max(first, index - remaining + 1)
            runs.append((index, stop))
            remaining -= index - stop + 1
            forward = True
            index = first + 1
    return runs


def source_indices(plan: dict[str, Any], n_frames: int) -> np.ndarray:
    """The source frame shown on each output frame."""
    out: list[int] = []
    for a, b in timeline(plan, n_frames):
        step = 1 if b >= a else -1
        out.extend(range(a, b + step, step))
    return np.asarray(out[:n_frames], dtype=np.int32)


# --------------------------------------------------------------------------- what a creator is told


def check(analysis: FootageAnalysis, *, label: str) -> list[str]:
    """Raise FootageError for what a footage avatar cannot be made from; return warnings for the rest."""
    n = analysis.n_frames
    found = analysis.found
    if not found.any():
        raise FootageError(f"{label}: no face found; record yourself facing the camera, the whole face in the frame, in good light")
    if analysis.faces_seen > 1:
        raise FootageError(f"{label}: {analysis.faces_seen} faces in the clip; record only yourself, or crop the clip to one face")
    cuts = find_cuts(analysis)
    if cuts:
        at = ", ".join(f"{c / analysis.fps:.1f} s" for c in cuts[:3])
        raise FootageError(f"{label}: a cut or scene change at {at}; use one continuous shot (trim the clip before {cuts[0] / analysis.fps:.1f} s or after it)")
    lost = 1.0 - float(found.mean())
    if lost > MAX_LOST_SHARE:
        first_lost = int(np.argmin(found))
        raise FootageError(f"{label}: the face is lost in {lost:.0%} of the frames (first at {first_lost / analysis.fps:.1f} s); "
                           "keep your whole face in the frame and facing the camera")
    if found.sum() < MIN_USABLE_S * analysis.fps:
        raise FootageError(f"{label}: under {MIN_USABLE_S:.0f} s of usable footage; record at least 10 s facing the camera")
    heights = analysis.face_height[found]
    if float(np.median(heights)) < MIN_FACE_HEIGHT_PX:
        raise FootageError(f"{label}: the face is only {float(np.median(heights)):.0f} px tall; move closer to the camera "
                           f"(the face should fill about a third of the frame)")
    angles = np.abs(analysis.pose[found])
    for axis, word in ((0, "turned to the side"), (1, "tilted up or down"), (2, "tilted sideways")):
        over = angles[:, axis] > MAX_ANGLE_DEG
        if over.mean() > MAX_TURNED_SHARE:
            at = int(np.flatnonzero(found)[int(np.argmax(over))])
            raise FootageError(f"{label}: the head is {word} past {MAX_ANGLE_DEG:.0f}° (at {at / analysis.fps:.1f} s, "
                               f"{float(angles[over, axis].max()):.0f}°); face the camera, or trim that part")
    centre = 0.5 * (analysis.landmarks[:, lm.FOREHEAD, :2] + analysis.landmarks[:, lm.CHIN, :2])
    jitter = centre - _gaussian_smooth(centre.astype(np.float64), 4.0)
    shake = float(np.sqrt((np.linalg.norm(jitter[found], axis=1) ** 2).mean()) / max(float(np.median(heights)), 1.0))
    if shake > SHAKE_LIMIT:
        raise FootageError(f"{label}: the camera shakes too much (jitter {shake:.1%} of the face height); rest the phone on something or use a stand")
    sharpness = analysis.sharpness[found]
    sharpness = sharpness[np.isfinite(sharpness)]
    if len(sharpness) and float(np.median(sharpness)) < BLUR_LIMIT:
        raise FootageError(f"{label}: the face is blurred (sharpness {float(np.median(sharpness)):.1f}); clean the lens, hold still and record in more light")
    warnings = []
    luma = analysis.luma[found]
    luma = luma[np.isfinite(luma)]
    if len(luma) and float(np.median(luma)) < DIM_LUMA:
        warnings.append(f"{label}: the face is dim (brightness {float(np.median(luma)):.0f}/255); face a window or a lamp for a cleaner reel")
    if min(analysis.width, analysis.height) < 720:
        warnings.append(f"{label}: {analysis.width}x{analysis.height} is under 720p; the reel will look soft — record at 1080p")
    if is_talking(analysis):
        warnings.append(f"{label}: you talk in the clip; that is fine, the mouth is re-driven by the new speech "
                        "(a clip with the mouth relaxed and closed gives the cleanest result)")
    elif float(np.median(analysis.mouth_open[found])) > MOUTH_OPEN:
        warnings.append(f"{label}: the mouth is open through the clip (a smile showing teeth?); it is closed and re-driven, "
                        "but a relaxed, closed mouth gives the cleanest result")
    return warnings
