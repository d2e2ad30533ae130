"""``footage``: a reel from a real clip of the creator (video-to-video lip sync on a CPU, no model weights).

Everything the creator really did in the clip is kept: head motion, blinks, light,
background. Only the lower face is re-rendered, per frame, in that frame's own pose,
scale and roll: the frame's own mouth is first brought to rest (lips together) from
its tracked landmarks, then opened, spread, rounded and closed by the new speech with
the same mouth rig as the photo avatar (``cpu_mesh._MouthRig``), whose displacement
fields fade to nothing at the region's edges (no seam).

Time: the clip covers any length of speech by playing forward and backward between
two calm frames (a reversal reads as a pause, never a jump), or forward in a loop when
the clip ends on a frame that matches its start (see ``render.face.footage.plan_loop``).

Framing: a virtual camera with one zoom for the whole reel follows the smoothed face
track, never leaves the picture (so never black bars), and puts the face in the upper
middle of the 1080x1920 frame. The clip is opened once per render and decoded in-process (PyAV), frame by
frame; the frames around each turn of the clip, shown again soon, are kept decoded within a fixed budget
(``SOURCE_CACHE_BYTES``) instead of being decoded twice. Memory stays flat with the reel's length.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from render.avatar.base import AvatarError, RenderRequest, register
from render.avatar.cpu_mesh import MouthColours, _MouthRig, load_audio, speech_track
from render.face import landmarks as lm
from render.media import yuv
from render.types import Box, FrameStream

FACE_HEIGHT_SHARE = 0.2        # forehead-to-chin / frame height, when the clip allows it (as the photo avatar)
FACE_CENTER_Y_SHARE = 0.38       # a little lower than the photo (0.36): less zoom into a real clip
MAX_ZOOM_OVER_COVER = 1.6      # never enlarge past this over the smallest zoom that fills the frame (softness)
CAMERA_SMOOTHING_S = 0.6       # the virtual camera follows the face this slowly (Gaussian sigma)
REST_OPEN = 0.03               # a frame whose own mouth opens more than this (gap / width) is brought to rest first
RIG_MARGIN_PX = 8              # pixels around the mouth region taken with it (what its warp may read)
SOURCE_AHEAD = 6               # clip frames decoded ahead of the mouth rig, on their own thread
# Decoded clip frames kept for their next showing: a reel longer than its clip plays it forward and back, and the
# frames around each turn come back soon (ClipReader.play keeps those shown again soonest). 192 MiB holds 139 frames
# of a 720x1280 clip: a 30 s reel from a 12 s clip decodes 604 frames instead of 894 (measured in issue 18's notes).
SOURCE_CACHE_BYTES = 192 * 1024 * 1024


@dataclass(frozen=True)
class Camera:
    """One zoom for the whole reel and an offset per source frame: frame = source * scale + offset."""

    scale: float
    offsets: np.ndarray        # (N, 2) float32
    width: int
    height: int

    def matrix(self, index: int) -> np.ndarray:
        ox, oy = self.offsets[index]
        return np.array([[self.scale, 0.0, ox], [0.0, self.scale, oy]], dtype=np.float64)

    def points(self, points: np.ndarray, index: int) -> np.ndarray:
        out = np.array(points, dtype=np.float32, copy=True)
        out[..., 0] = out[..., 0] * self.scale + self.offsets[index, 0]
        out[..., 1] = out[..., 1] * self.scale + self.offsets[index, 1]
        if out.shape[-1] > 2:
            out[..., 2] *= self.scale
        return out


def plan_camera(footage, width: int, height: int) -> Camera:  # noqa: ANN001 - FootageAnalysis
    """The virtual camera: covers the frame on every source frame, follows the face smoothly."""
    from render.face.footage import _gaussian_smooth

    sw, sh = footage.width, footage.height
    cover = max(width / sw, height / sh)
    valid = footage.found if footage.found.any() else np.ones(footage.n_frames, dtype=bool)
    face_h = float(np.median(footage.face_height[valid]))
    wanted = FACE_HEIGHT_SHARE * height / max(face_h, 1.0)
    centre = 0.5 * (footage.landmarks[:, lm.FOREHEAD, :2] + footage.landmarks[:, lm.CHIN, :2]).astype(np.float64)
    centre = _gaussian_smooth(centre, CAMERA_SMOOTHING_S * footage.fps)
    # Enough zoom that the picture reaches past the face on every side the framing needs: the face can sit
    # at 36 % of the height (room below it for captions) and in the middle, without the crop leaving the clip.
    target_y = FACE_CENTER_Y_SHARE * height
    cx, cy = centre[valid, 0], centre[valid, 1]
    reach = np.concatenate([(height - target_y) / np.maximum(sh - cy, 1.0), target_y / np.maximum(cy, 1.0),
                            (width / 2.0) / np.maximum(sw - cx, 1.0), (width / 2.0) / np.maximum(cx, 1.0)])
    placing = float(np.percentile(reach, 90)) if len(reach) else cover
    scale = float(min(max(cover, wanted, placing), cover * MAX_ZOOM_OVER_COVER))
    scale = max(scale, cover)
    ox = width / 2.0 - centre[:, 0] * scale
    oy = FACE_CENTER_Y_SHARE * height - centre[:, 1] * scale
    ox = np.clip(ox, width - sw * scale, 0.0)
    oy = np.clip(oy, height - sh * scale, 0.0)
    return Camera(scale=scale, offsets=np.stack([ox, oy], axis=1).astype(np.float32), width=width, height=height)


def _union_box(boxes: list[tuple[float, float, float, float]], width: int, height: int) -> Box:
    x0 = max(0, int(math.floor(min(b[0] for b in boxes))))
    y0 = max(0, int(math.floor(min(b[1] for b in boxes))))
    x1 = min(width, int(math.ceil(max(b[2] for b in boxes))))
    y1 = min(height, int(math.ceil(max(b[3] for b in boxes))))
    return Box(x0, y0, max(1, x1 - x0), max(1, y1 - y0))


class FootageBackend:
    """Renders a clip of the creator with a new mouth (CPU, no model weights)."""

    name = "footage"

    def __init__(self, **_config: object):
        pass

    def prepare(self, request: RenderRequest):  # noqa: ANN201 - (FootageAnalysis, Camera, samples, rate)
        from render.face import footage as footage_mod

        if request.video_path is None:
            raise AvatarError("the footage avatar renders a clip; give --video CLIP (or enroll one with reeltwin avatar enroll CLIP)")
        label = f"clip {str(request.video_path)!r}"
        try:
            analysis = request.footage
            if analysis is None:
                analysis = footage_mod.analyze(Path(request.video_path), label=label)
                footage_mod.check(analysis, label=label)
        except footage_mod.FootageError as error:
            raise AvatarError(str(error)) from None
        samples, rate = load_audio(request.audio_path)
        return analysis, plan_camera(analysis, request.width, request.height), samples, rate

    def render(self, request: RenderRequest) -> FrameStream:
        import cv2

        from render.face.footage import ClipReader, source_indices, timeline

        analysis, camera, samples, rate = self.prepare(request)
        fps = request.fps
        duration = len(samples) / rate
        n_frames = max(1, int(math.ceil(duration * fps)))
        track, envelope = speech_track(request.phonemes, samples, rate, fps, n_frames)
        # The clip is analysed at 30 fps; another output rate maps through time.
        plan = dict(analysis.loop)
        if fps != analysis.fps:
            n_source = int(math.ceil(n_frames * analysis.fps / fps))
        else:
            n_source = n_frames
        runs = timeline(plan, n_source)
        indices = source_indices(plan, n_source)
        if fps != analysis.fps:
            picks = np.minimum((np.arange(n_frames) * analysis.fps / fps).astype(int), len(indices) - 1)
        else:
            picks = np.arange(n_frames)
        shown = indices[picks]
        # Where the face and mouth can be, over every frame shown: captions avoid the union.
        face_boxes, mouth_boxes = [], []
        for index in np.unique(shown):
            pts = camera.points(analysis.landmarks[index, :, :2], int(index))
            face_boxes.append((pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max()))
            lips = pts[list(lm.LIPS_OUTER_UPPER) + list(lm.LIPS_OUTER_LOWER)]
            chin = pts[lm.CHIN]
            mouth_boxes.append((lips[:, 0].min() - 10, lips[:, 1].min() - 10, lips[:, 0].max() + 10, chin[1] + 10))
        face_box = _union_box(face_boxes, request.width, request.height)
        mouth_box = _union_box(mouth_boxes, request.width, request.height)
        # The encoder takes planar YUV: decoded so, the frame is never converted whole (only the mouth's region is)
        planar = request.pixel_format == yuv.FORMAT
        reader = ClipReader(Path(request.video_path), analysis.width, analysis.height, pixel_format=yuv.FORMAT if planar else "rgb24")
        trace: dict[str, list] = {"mouth_gap_px": [], "jaw": [], "source_frame": [], "stable_px": [], "envelope": envelope.tolist()}
        size = (request.width, request.height)
        interpolation = cv2.INTER_LINEAR if camera.scale >= 1.0 else cv2.INTER_AREA

        def frames() -> Iterator[np.ndarray]:
            colours = None
            produced = 0
            # decoded on a thread a few frames ahead: decoding the next frame overlaps re-rendering this one
            source_iter = reader.play(runs, ahead=SOURCE_AHEAD, cache_bytes=SOURCE_CACHE_BYTES)
            current: tuple[int, np.ndarray] | None = None
            source_position, used = -1, True
            try:
                for i in range(n_frames):
                    while source_position < picks[i]:
                        following = next(source_iter, None)
                        if following is not None:
                            current, used = following, False
                        source_position += 1
                    if current is None:
                        raise AvatarError(f"clip {str(request.video_path)!r}: it ended early while rendering; enroll the clip again")
                    index, source = current
                    # The mouth is re-rendered at the clip's own resolution (fewer pixels than the enlarged frame,
                    # and no detail is lost: the clip holds no more), then the camera frames the result. Each decoded
                    # frame is a new array, painted in place; only a frame shown twice (another output rate) is copied.
                    picture = source.copy() if used else source
                    used = True
                    points = analysis.landmarks[index]
                    if colours is None:
                        colours = MouthColours.measure(points, yuv.to_rgb(picture) if planar else picture)
                    face_h = float(np.linalg.norm(points[lm.FOREHEAD, :2] - points[lm.CHIN, :2]))
                    rest = float(analysis.mouth_open[index]) > REST_OPEN
                    try:
                        if planar:
                            # only the mouth's region goes to RGB and back; the rest of the frame stays as decoded
                            rig = _MouthRig(points, None, face_h, rest=rest, colours=colours, frame_shape=(analysis.height, analysis.width))
                            box = yuv.even_box(rig.x0 - RIG_MARGIN_PX, rig.y0 - RIG_MARGIN_PX, rig.x0 + rig.w + RIG_MARGIN_PX,
                                               rig.y0 + rig.h + RIG_MARGIN_PX, analysis.width, analysis.height)
                            with yuv.rgb_region(picture, box) as part:
                                gap = rig.apply(part, part, box[:2], track[i], source_offset=box[:2]) * camera.scale
                        else:
                            rig = _MouthRig(points, picture, face_h, rest=rest, colours=colours)
                            gap = rig.apply(picture, picture, (0, 0), track[i]) * camera.scale
                    except AvatarError:
                        gap = 0.0        # the mouth is at the frame's edge on this frame: show the frame as it is
                    frame = _crop_or_warp(picture, camera, index, size, interpolation, planar)
                    trace["mouth_gap_px"].append(round(float(gap), 2))
                    trace["jaw"].append(round(float(track[i, 0]), 3))
                    trace["source_frame"].append(int(index))
                    # where the source frame's stable points (eyes, nose, outline) land in the output: QA's identity reference
                    stable = camera.points(analysis.landmarks[index, list(lm.STABLE), :2], index)
                    trace["stable_px"].append([round(float(v), 1) for v in stable.reshape(-1)])
                    produced += 1
                    yield frame
            finally:
                source_iter.close()   # stops the decoding thread and closes the clip

        return FrameStream(fps=fps, width=request.width, height=request.height, n_frames=n_frames, duration_s=duration,
                           backend=self.name, frames=frames(), face_box=face_box, mouth_box=mouth_box, trace=trace,
                           pixel_format=yuv.FORMAT if planar else "rgb24")


def _crop_or_warp(picture: np.ndarray, camera: Camera, index: int, size: tuple[int, int], interpolation: int, planar: bool) -> np.ndarray:
    """The camera's view of one source frame: a plain crop where it neither zooms nor lands between pixels, else a warp."""
    import cv2

    width, height = size
    ox, oy = -float(camera.offsets[index, 0]), -float(camera.offsets[index, 1])
    whole = camera.scale == 1.0 and ox.is_integer() and oy.is_integer()
    if planar:
        if whole and int(ox) % 2 == 0 and int(oy) % 2 == 0:
            x, y = int(ox), int(oy)
            out = np.empty((height * 3 // 2, width), dtype=np.uint8)
            for plane, target, step in zip(yuv.planes(picture), yuv.planes(out), (1, 2, 2)):
                target[...] = plane[y // step:(y + height) // step, x // step:(x + width) // step]
            return out
        return yuv.warp(picture, camera.matrix(index), width, height, interpolation=interpolation, border=cv2.BORDER_REPLICATE)
    if whole:
        return np.ascontiguousarray(picture[int(oy):int(oy) + height, int(ox):int(ox) + width])
    return cv2.warpAffine(picture, camera.matrix(index), size, flags=interpolation, borderMode=cv2.BORDER_REPLICATE)  # REFLECT is 10x slower


@register("footage")
def _make(**config: object) -> FootageBackend:
    return FootageBackend(**config)
