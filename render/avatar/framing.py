"""Place a photo in a 9:16 frame: the face in the upper middle, the rest extended naturally.

The face (forehead to chin) is scaled to about a fifth of the frame height and its
centre put at ~36 % from the top, so the lower third stays free for captions. Where
the photo does not reach the frame's edges, a blurred, dimmed, enlarged copy of the
photo fills the frame behind it (as Instagram does around landscape clips) — never
stretched edge pixels, never black bars.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FACE_HEIGHT_SHARE = 0.2        # forehead-to-chin / frame height
FACE_CENTER_Y_SHARE = 0.36     # face centre / frame height
MAX_UPSCALE = 3.2


@dataclass(frozen=True)
class Framing:
    scale: float
    offset_x: float     # photo (0,0) lands here in the frame
    offset_y: float
    width: int
    height: int

    def to_frame(self, points: np.ndarray) -> np.ndarray:
        out = np.array(points, dtype=np.float32, copy=True)
        out[..., 0] = out[..., 0] * self.scale + self.offset_x
        out[..., 1] = out[..., 1] * self.scale + self.offset_y
        if out.shape[-1] > 2:
            out[..., 2] = out[..., 2] * self.scale
        return out


def plan(image_width: int, image_height: int, face_center: tuple[float, float], face_height_px: float, width: int, height: int) -> Framing:
    """Scale and offset that put the face where a talking head belongs, covering as much of the frame as the photo can."""
    scale = FACE_HEIGHT_SHARE * height / max(face_height_px, 1.0)
    # Never shrink the photo so much that it leaves most of the frame to the extension.
    scale = max(scale, 0.55 * width / image_width)
    scale = min(scale, MAX_UPSCALE * max(1.0, 1080.0 / max(image_width, image_height)))
    cx, cy = face_center
    offset_x = width / 2.0 - cx * scale
    offset_y = FACE_CENTER_Y_SHARE * height - cy * scale
    # Where the scaled photo is wider than the frame, slide it so the frame shows photo, not extension, on both sides.
    scaled_w, scaled_h = image_width * scale, image_height * scale
    if scaled_w >= width:
        offset_x = min(0.0, max(width - scaled_w, offset_x))
    return Framing(scale=float(scale), offset_x=float(offset_x), offset_y=float(offset_y), width=width, height=height)


def compose_background(photo: np.ndarray, framing: Framing) -> tuple[np.ndarray, np.ndarray]:
    """The still frame and a mask (1 = real photo pixels).

    Where the placed photo does not reach the frame's edges, the frame is filled from the photo
    itself as Instagram fills around a landscape clip: the whole photo enlarged to cover the frame,
    blurred strongly and dimmed, behind the sharp photo, with a soft seam. Never stretched edge
    pixels, never black bars.
    """
    import cv2

    width, height = framing.width, framing.height
    matrix = np.array([[framing.scale, 0.0, framing.offset_x], [0.0, framing.scale, framing.offset_y]], dtype=np.float64)
    interpolation = cv2.INTER_CUBIC if framing.scale > 1.0 else cv2.INTER_AREA
    sharp = cv2.warpAffine(photo, matrix, (width, height), flags=interpolation, borderMode=cv2.BORDER_REPLICATE)
    ones = np.ones(photo.shape[:2], dtype=np.float32)
    inside = cv2.warpAffine(ones, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
    if inside.min() >= 0.999:
        return sharp, inside
    backdrop = blurred_backdrop(photo, width, height)
    # A soft seam: the sharp photo fades into the backdrop over ~1.5 % of the frame height, inside its own edge.
    feather = max(2.0, 0.015 * height)
    seam = cv2.GaussianBlur(cv2.erode(inside, np.ones((3, 3), np.uint8), iterations=int(feather)), (0, 0), feather / 2)[..., None]
    out = sharp.astype(np.float32) * seam + backdrop * (1.0 - seam)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8), inside


def blurred_backdrop(photo: np.ndarray, width: int, height: int) -> np.ndarray:
    """The photo scaled to cover a width x height frame (centred), blurred strongly and dimmed: float32 RGB."""
    import cv2

    ph, pw = photo.shape[:2]
    cover = max(width / pw, height / ph)
    # Blur at a sixteenth of the size (cheap, and the blur hides the enlargement), then enlarge.
    small_w, small_h = max(8, width // 16), max(8, height // 16)
    matrix = np.array([[cover / 16, 0.0, (small_w - pw * cover / 16) / 2], [0.0, cover / 16, (small_h - ph * cover / 16) / 2]])
    small = cv2.warpAffine(photo, matrix, (small_w, small_h), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)
    small = cv2.GaussianBlur(small.astype(np.float32), (0, 0), 2.2)
    big = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    big = cv2.GaussianBlur(big, (0, 0), 6)
    return big * 0.62
