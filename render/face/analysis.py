"""Face analysis of one photo with mediapipe's face mesh (478 landmarks; the models ship in the wheel).

``load_photo`` reads any common image (EXIF rotation applied), ``analyze`` finds the
faces and measures the main one, ``check`` turns what a talking head cannot be made
from into one clear error and the rest into warnings.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from render import RenderError
from render.face import landmarks as lm

MAX_PHOTO_BYTES = 40 * 1024 * 1024
MIN_FACE_HEIGHT_PX = 96           # forehead-to-chin, in the photo: below this there is nothing to animate
SOFT_FACE_HEIGHT_PX = 200         # below this the reel looks soft (the demo's astronaut photo: 106 px)
MIN_PHOTO_SIDE_PX = 360
LOW_RESOLUTION_SIDE_PX = 720
MAX_YAW_DEG = 25.0
MAX_PITCH_DEG = 25.0
MAX_ROLL_DEG = 25.0
EYES_CLOSED_RATIO = 0.12          # lid gap / eye width
MOUTH_OPEN_RATIO = 0.12           # inner-lip gap / mouth width
SECOND_FACE_SHARE = 0.45
FRONTAL_FOREHEAD_LEAN_DEG = 8.0          # a second face this large (height vs the main one) is "prominent"


class PhotoError(RenderError):
    """A photo a talking head cannot be made from: the message names the photo and the fix."""


@dataclass(frozen=True)
class HeadPose:
    yaw_deg: float      # + turned toward the image's right
    pitch_deg: float    # + chin up
    roll_deg: float     # + tilted clockwise in the image


@dataclass(frozen=True)
class FaceAnalysis:
    """The main face of a photo, in the photo's pixel coordinates."""

    image_width: int
    image_height: int
    landmarks: np.ndarray = field(repr=False)   # (478, 3) float32: x, y in pixels, z in pixel-ish units
    box: tuple[float, float, float, float] = (0, 0, 0, 0)   # x, y, width, height of the landmark hull
    face_height_px: float = 0.0                  # forehead (10) to chin (152)
    pose: HeadPose = HeadPose(0.0, 0.0, 0.0)
    eye_openness: tuple[float, float] = (0.0, 0.0)     # lid gap / eye width, image-left and image-right eye
    mouth_openness: float = 0.0                        # inner-lip gap / mouth width
    faces_found: int = 1
    lighting_ratio: float = 1.0                        # brighter cheek / darker cheek (side lighting when large)

    def point(self, index: int) -> np.ndarray:
        return self.landmarks[index, :2]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able (stored on the avatar row so renders need not analyse the photo again)."""
        return {
            "image_width": self.image_width, "image_height": self.image_height,
            "landmarks": np.round(self.landmarks, 2).tolist(), "box": [round(v, 1) for v in self.box],
            "face_height_px": round(self.face_height_px, 1),
            "pose": {"yaw_deg": round(self.pose.yaw_deg, 1), "pitch_deg": round(self.pose.pitch_deg, 1), "roll_deg": round(self.pose.roll_deg, 1)},
            "eye_openness": [round(v, 3) for v in self.eye_openness], "mouth_openness": round(self.mouth_openness, 3),
            "faces_found": self.faces_found, "lighting_ratio": round(self.lighting_ratio, 2),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "FaceAnalysis":
        pose = data.get("pose", {})
        return cls(
            image_width=int(data["image_width"]), image_height=int(data["image_height"]),
            landmarks=np.asarray(data["landmarks"], dtype=np.float32), box=tuple(data["box"]),
            face_height_px=float(data["face_height_px"]),
            pose=HeadPose(float(pose.get("yaw_deg", 0)), float(pose.get("pitch_deg", 0)), float(pose.get("roll_deg", 0))),
            eye_openness=tuple(data.get("eye_openness", (0.3, 0.3))), mouth_openness=float(data.get("mouth_openness", 0.0)),
            faces_found=int(data.get("faces_found", 1)), lighting_ratio=float(data.get("lighting_ratio", 1.0)),
        )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


#: Past this many pixels a photo is refused before it is decoded (a 48 MP phone photo is 8064x6048).
MAX_PHOTO_PIXELS = 60_000_000
_PIXELS_FIX = "export it at most 7000 px on the long side (2000 px is plenty)"


def _too_many_pixels(label: str, width: int, height: int) -> str:
    return f"{label}: {width}x{height} px ({width * height / 1e6:.0f} megapixels) is too large; {_PIXELS_FIX}"


def load_photo(path: Path) -> np.ndarray:
    """The photo as RGB uint8 (height, width, 3), upright per its EXIF orientation."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    label = f"photo {str(path)!r}"
    if not path.exists():
        raise PhotoError(f"{label}: no such file; check the path")
    if path.is_dir():
        raise PhotoError(f"{label}: is a folder; give an image file (JPEG, PNG or WebP)")
    size = path.stat().st_size
    if size == 0:
        raise PhotoError(f"{label}: the file is empty; export the photo again")
    if size > MAX_PHOTO_BYTES:
        raise PhotoError(f"{label}: {size / 1e6:.0f} MB is too large; export it under {MAX_PHOTO_BYTES // (1024 * 1024)} MB (2000 px on the long side is plenty)")
    data = path.read_bytes()
    if data[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftyphevc"):
        raise PhotoError(f"{label}: HEIC photos are not supported; export it as JPEG or PNG")
    try:
        with Image.open(io.BytesIO(data)) as image:
            # The header tells the size before anything is decoded: a small file can claim a gigapixel image.
            if image.width * image.height > MAX_PHOTO_PIXELS:
                raise PhotoError(_too_many_pixels(label, image.width, image.height))
            image.load()
            image = ImageOps.exif_transpose(image)
            if image.mode not in ("RGB", "L", "RGBA", "P", "LA", "I;16", "CMYK", "YCbCr"):
                image = image.convert("RGBA")
            if image.mode in ("RGBA", "LA", "P"):
                rgba = image.convert("RGBA")
                background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                image = Image.alpha_composite(background, rgba)
            rgb = np.asarray(image.convert("RGB"), dtype=np.uint8)
    except Image.DecompressionBombError:
        raise PhotoError(f"{label}: the image claims more pixels than a photo has; {_PIXELS_FIX}") from None
    except UnidentifiedImageError:
        raise PhotoError(f"{label}: not an image (or a format this build cannot read); use a JPEG, PNG or WebP photo") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise PhotoError(f"{label}: the image is corrupt or truncated ({error}); export the photo again") from None
    if min(rgb.shape[:2]) < MIN_PHOTO_SIDE_PX:
        raise PhotoError(f"{label}: {rgb.shape[1]}x{rgb.shape[0]} px is too small; use a photo at least {MIN_PHOTO_SIDE_PX} px on its short side (1080 px or more looks best)")
    return np.ascontiguousarray(rgb)


_MESH_LOCK = threading.Lock()
_WARMED: set[int] = set()


class _QuietStderr:
    """Silence the C++ chatter mediapipe/TFLite print on stderr while a graph starts (file descriptor 2)."""

    def __enter__(self) -> None:
        import sys

        try:
            sys.stderr.flush()
            self.saved = os.dup(2)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)
            os.close(devnull)
        except OSError:
            self.saved = None

    def __exit__(self, *exc: object) -> None:
        if self.saved is not None:
            os.dup2(self.saved, 2)
            os.close(self.saved)
_MESHES: dict[int, Any] = {}


def _import_face_mesh() -> Any:
    try:
        from mediapipe.python.solutions import face_mesh as mp_face_mesh
    except ImportError as error:  # pragma: no cover - depends on the install
        raise RenderError(f"mediapipe is not installed or broken ({error}); install the embedded defaults: make install") from None
    return mp_face_mesh


def face_mesh(*, max_faces: int = 4) -> Any:
    """A cached mediapipe FaceMesh in static mode (every image found on its own, 478 landmarks with iris refinement);
    one per thread is not needed: calls are locked. Frames of a video go through :func:`face_tracker` instead."""
    with _MESH_LOCK:
        if max_faces not in _MESHES:
            mp_face_mesh = _import_face_mesh()
            with _QuietStderr():
                mesh = mp_face_mesh.FaceMesh(static_image_mode=True, max_num_faces=max_faces,
                                             refine_landmarks=True, min_detection_confidence=0.5, min_tracking_confidence=0.5)
                # The graph opens its calculators (and TFLite prints its XNNPACK line) on its own threads after the
                # constructor returns: one blank frame through it, still silenced, waits until they have opened.
                mesh.process(np.zeros((64, 64, 3), dtype=np.uint8))
            _MESHES[max_faces] = mesh
        return _MESHES[max_faces]


def _landmarks_of(result: Any, width: int, height: int) -> list[np.ndarray]:
    faces = []
    for face in result.multi_face_landmarks or []:
        faces.append(np.array([(p.x * width, p.y * height, p.z * width) for p in face.landmark], dtype=np.float32))
    faces.sort(key=lambda pts: -(pts[:, 1].max() - pts[:, 1].min()))
    return faces


def detect_landmarks(rgb: np.ndarray, *, max_faces: int = 4) -> list[np.ndarray]:
    """Every face's 478 landmarks in pixel coordinates, largest face first (the image on its own)."""
    height, width = rgb.shape[:2]
    mesh = face_mesh(max_faces=max_faces)
    with _MESH_LOCK:
        if id(mesh) not in _WARMED:
            with _QuietStderr():
                result = mesh.process(np.ascontiguousarray(rgb))
            _WARMED.add(id(mesh))
        else:
            result = mesh.process(np.ascontiguousarray(rgb))
    return _landmarks_of(result, width, height)


@contextmanager
def face_tracker(*, max_faces: int = 2) -> Iterator[Callable[[np.ndarray], list[np.ndarray]]]:
    """``with face_tracker() as track: faces = track(frame)`` for the frames of one video, in order: a face mesh in
    stream mode (it follows the face from one frame to the next) of the video's own, closed at the end.

    Never shared: a stream-mode mesh remembers the faces of the frames before, so a clip analysed after another one (or
    beside it, on another thread) would start from the other clip's face — a ghost second face, and a refusal."""
    mp_face_mesh = _import_face_mesh()
    with _MESH_LOCK, _QuietStderr():
        mesh = mp_face_mesh.FaceMesh(static_image_mode=False, max_num_faces=max_faces,
                                     refine_landmarks=True, min_detection_confidence=0.5, min_tracking_confidence=0.5)
        mesh.process(np.zeros((64, 64, 3), dtype=np.uint8))   # started while silenced (see face_mesh); a blank frame tracks nothing

    def track(rgb: np.ndarray) -> list[np.ndarray]:
        height, width = rgb.shape[:2]
        return _landmarks_of(mesh.process(np.ascontiguousarray(rgb)), width, height)

    try:
        yield track
    finally:
        mesh.close()


_DETECTORS: dict[int, Any] = {}


def detect_faces(rgb: np.ndarray) -> list[tuple[float, float, float, float]]:
    """Face boxes (x, y, w, h in pixels, largest first) from mediapipe's full-range face detector.

    The face mesh only finds faces that fill a good part of the image; the detector also
    finds small ones, so a wide photo or a group photo is measured (and refused) correctly.
    """
    height, width = rgb.shape[:2]
    with _MESH_LOCK:
        if 1 not in _DETECTORS:
            from mediapipe.python.solutions import face_detection

            with _QuietStderr():
                detector = face_detection.FaceDetection(model_selection=1, min_detection_confidence=0.5)
                detector.process(np.zeros((64, 64, 3), dtype=np.uint8))     # opened before the silence ends (as above)
            _DETECTORS[1] = detector
        with _QuietStderr():
            result = _DETECTORS[1].process(np.ascontiguousarray(rgb))
    boxes = []
    for detection in result.detections or []:
        box = detection.location_data.relative_bounding_box
        boxes.append((box.xmin * width, box.ymin * height, box.width * width, box.height * height))
    boxes.sort(key=lambda b: -b[3])
    return boxes


def _mesh_in_box(rgb: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray | None:
    """Landmarks of the face in ``box``, found by running the mesh on a crop around it."""
    x, y, w, h = box
    height, width = rgb.shape[:2]
    side = 2.2 * max(w, h)
    cx, cy = x + w / 2, y + h / 2
    x0, y0 = int(max(cx - side / 2, 0)), int(max(cy - side / 2, 0))
    x1, y1 = int(min(cx + side / 2, width)), int(min(cy + side / 2, height))
    if x1 - x0 < 16 or y1 - y0 < 16:
        return None
    faces = detect_landmarks(np.ascontiguousarray(rgb[y0:y1, x0:x1]), max_faces=1)
    if not faces:
        return None
    points = faces[0]
    points[:, 0] += x0
    points[:, 1] += y0
    return points


def _distance(points: np.ndarray, a: int, b: int) -> float:
    return float(np.linalg.norm(points[a, :2] - points[b, :2]))


def eye_openness(points: np.ndarray) -> tuple[float, float]:
    values = []
    for eye in (lm.EYE_IMAGE_LEFT, lm.EYE_IMAGE_RIGHT):
        width = _distance(points, *eye["corners"])
        gap = (_distance(points, eye["upper"][3], eye["lower"][3]) + _distance(points, eye["top"], eye["bottom"])
               + _distance(points, eye["upper"][5], eye["lower"][5])) / 3.0
        values.append(gap / max(width, 1e-6))
    return values[0], values[1]


def mouth_openness(points: np.ndarray) -> float:
    return _distance(points, lm.UPPER_LIP_INNER_MID, lm.LOWER_LIP_INNER_MID) / max(_distance(points, lm.MOUTH_LEFT, lm.MOUTH_RIGHT), 1e-6)


def head_pose(points: np.ndarray, width: int, height: int) -> HeadPose:
    """Yaw, pitch and roll from the mesh's own 3D landmarks (mediapipe's z shares x's pixel scale).

    Yaw: depth difference across the eye corners; pitch: depth difference from chin to
    forehead (an upright frontal face leans back about 8 degrees there); roll: the eye line.
    """
    eyes = points[263] - points[33]
    yaw = math.degrees(math.atan2(float(eyes[2]), float(eyes[0])))
    axis = points[lm.FOREHEAD] - points[lm.CHIN]
    pitch = math.degrees(math.atan2(float(axis[2]), float(-axis[1]))) + FRONTAL_FOREHEAD_LEAN_DEG
    roll = math.degrees(math.atan2(float(eyes[1]), float(eyes[0])))
    return HeadPose(yaw_deg=yaw, pitch_deg=pitch, roll_deg=roll)


def _lighting_ratio(rgb: np.ndarray, points: np.ndarray) -> float:
    gray = rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    means = []
    for cheek in (lm.CHEEK_IMAGE_LEFT, lm.CHEEK_IMAGE_RIGHT):
        pts = points[list(cheek), :2]
        x0, y0 = np.floor(pts.min(axis=0)).astype(int)
        x1, y1 = np.ceil(pts.max(axis=0)).astype(int)
        x0, y0 = max(x0, 0), max(y0, 0)
        patch = gray[y0:max(y1, y0 + 1), x0:max(x1, x0 + 1)]
        means.append(float(patch.mean()) if patch.size else 128.0)
    bright, dark = max(means), max(min(means), 1.0)
    return bright / dark


def analyze(rgb: np.ndarray) -> FaceAnalysis | None:
    """The main face of an RGB photo, or None when no face is found."""
    faces = detect_landmarks(rgb, max_faces=4)
    boxes = detect_faces(rgb)
    if not faces:
        points = _mesh_in_box(rgb, boxes[0]) if boxes else None
        if points is None:
            return None
        faces = [points]
    points = faces[0]
    height, width = rgb.shape[:2]
    x0, y0 = points[:, 0].min(), points[:, 1].min()
    x1, y1 = points[:, 0].max(), points[:, 1].max()
    main_height = y1 - y0
    by_mesh = 1 + sum(1 for other in faces[1:] if (other[:, 1].max() - other[:, 1].min()) >= SECOND_FACE_SHARE * main_height)
    by_detector = sum(1 for box in boxes if box[3] >= SECOND_FACE_SHARE * max(boxes[0][3], 1.0)) if boxes else 1
    prominent = max(by_mesh, by_detector)
    return FaceAnalysis(
        image_width=width, image_height=height, landmarks=points,
        box=(float(x0), float(y0), float(x1 - x0), float(y1 - y0)),
        face_height_px=_distance(points, lm.FOREHEAD, lm.CHIN),
        pose=head_pose(points, width, height), eye_openness=eye_openness(points), mouth_openness=mouth_openness(points),
        faces_found=prominent, lighting_ratio=_lighting_ratio(rgb, points),
    )


def check(face: FaceAnalysis | None, *, label: str) -> list[str]:
    """Raise PhotoError for what a talking head cannot be made from; return warnings for the rest."""
    if face is None:
        raise PhotoError(f"{label}: no face found; use a well-lit, front-facing photo with the whole face visible")
    if face.faces_found > 1:
        raise PhotoError(f"{label}: {face.faces_found} faces found; crop the photo to one face")
    x, y, w, h = face.box
    margin = 0.01 * max(face.image_width, face.image_height)
    if x < -margin or y < -margin or x + w > face.image_width + margin or y + h > face.image_height + margin:
        raise PhotoError(f"{label}: the face is cut off by the edge of the photo; use a photo with the whole head and some space around it")
    if face.face_height_px < MIN_FACE_HEIGHT_PX:
        raise PhotoError(f"{label}: the face is only {face.face_height_px:.0f} px tall; use a closer or larger photo (face at least {MIN_FACE_HEIGHT_PX} px tall)")
    pose = face.pose
    if abs(pose.yaw_deg) > MAX_YAW_DEG:
        raise PhotoError(f"{label}: the head is turned {abs(pose.yaw_deg):.0f}° to the side; use a photo looking into the camera (under {MAX_YAW_DEG:.0f}°)")
    if abs(pose.pitch_deg) > MAX_PITCH_DEG:
        raise PhotoError(f"{label}: the head is tilted {abs(pose.pitch_deg):.0f}° up or down; use a photo looking straight into the camera (under {MAX_PITCH_DEG:.0f}°)")
    if abs(pose.roll_deg) > MAX_ROLL_DEG:
        raise PhotoError(f"{label}: the head is tilted {abs(pose.roll_deg):.0f}° sideways; straighten the photo (under {MAX_ROLL_DEG:.0f}°)")
    if max(face.eye_openness) < EYES_CLOSED_RATIO:
        raise PhotoError(f"{label}: the eyes look closed; use a photo with the eyes open")
    warnings = []
    if face.mouth_openness > MOUTH_OPEN_RATIO:
        warnings.append(f"{label}: the mouth is open in the photo; a closed, relaxed mouth animates best")
    if face.lighting_ratio > 1.9:
        warnings.append(f"{label}: strong side lighting (one cheek {face.lighting_ratio:.1f}x brighter); even, frontal light looks better")
    if face.face_height_px < SOFT_FACE_HEIGHT_PX:
        warnings.append(f"{label}: the face is only {face.face_height_px:.0f} px tall; it is enlarged for the reel and will look soft — a face {SOFT_FACE_HEIGHT_PX} px or taller is best")
    elif min(face.image_width, face.image_height) < LOW_RESOLUTION_SIDE_PX:
        warnings.append(f"{label}: low resolution ({face.image_width}x{face.image_height}); the reel will look soft — 1080 px or more is best")
    return warnings
