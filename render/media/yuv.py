"""Frames as planar YUV 4:2:0 in OpenCV's I420 layout: one uint8 array of ``height * 3 // 2`` rows of ``width``
(the Y plane, then U and V, each ``height // 2`` × ``width // 2`` stored row after row).

It is what the decoder gives and what the encoder takes, so a renderer that works on a clip can skip both RGB
conversions of the whole frame and the warp of three full-size channels: only the parts it paints (the mouth,
a caption) go to RGB and back (:func:`rgb_region`). Chroma sits at the centre of each 2×2
block of luma (what OpenCV's conversions assume). Sizes and region corners are even.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

FORMAT = "yuv420p"


def planes(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Views of the Y, U and V planes of a contiguous I420 ``frame`` (writes go into the frame). The chroma planes
    are cut by element count: with a height that is not a multiple of 4 they do not start on a row."""
    rows, width = frame.shape
    height = rows * 2 // 3
    flat = frame.reshape(-1)
    luma, chroma = height * width, (height // 2) * (width // 2)
    y = flat[:luma].reshape(height, width)
    u = flat[luma:luma + chroma].reshape(height // 2, width // 2)
    v = flat[luma + chroma:luma + 2 * chroma].reshape(height // 2, width // 2)
    return y, u, v


def size_of(frame: np.ndarray) -> tuple[int, int]:
    """(width, height) of an I420 frame."""
    rows, width = frame.shape
    return width, rows * 2 // 3


def even_box(x0: float, y0: float, x1: float, y1: float, width: int, height: int) -> tuple[int, int, int, int]:
    """The box grown to even corners and clipped to the frame: (x0, y0, x1, y1), possibly empty."""
    ex0, ey0 = max(0, int(np.floor(x0)) & ~1), max(0, int(np.floor(y0)) & ~1)
    ex1, ey1 = min(width, (int(np.ceil(x1)) + 1) & ~1), min(height, (int(np.ceil(y1)) + 1) & ~1)
    return ex0, ey0, max(ex0, ex1), max(ey0, ey1)


def region_rgb(frame: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """RGB copy of the even ``box`` (x0, y0, x1, y1) of an I420 frame."""
    import cv2

    x0, y0, x1, y1 = box
    y, u, v = planes(frame)
    w, h = x1 - x0, y1 - y0
    small = np.empty((h * 3 // 2, w), dtype=np.uint8)
    sy, su, sv = planes(small)
    sy[...] = y[y0:y1, x0:x1]
    su[...] = u[y0 // 2:y1 // 2, x0 // 2:x1 // 2]
    sv[...] = v[y0 // 2:y1 // 2, x0 // 2:x1 // 2]
    return cv2.cvtColor(small, cv2.COLOR_YUV2RGB_I420)


def put_region(frame: np.ndarray, rgb: np.ndarray, box: tuple[int, int, int, int]) -> None:
    """Write ``rgb`` (the size of the even ``box``) into the I420 frame."""
    import cv2

    x0, y0, x1, y1 = box
    y, u, v = planes(frame)
    sy, su, sv = planes(cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YUV_I420))
    y[y0:y1, x0:x1] = sy
    u[y0 // 2:y1 // 2, x0 // 2:x1 // 2] = su
    v[y0 // 2:y1 // 2, x0 // 2:x1 // 2] = sv


@contextmanager
def rgb_region(frame: np.ndarray, box: tuple[int, int, int, int]) -> Iterator[np.ndarray]:
    """The even ``box`` of an I420 frame as an RGB array to paint on, written back when the block ends without
    an error (after an error the frame keeps its own pixels there)."""
    part = region_rgb(frame, box)
    yield part
    put_region(frame, part, box)


def from_rgb(rgb: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YUV_I420)


def to_rgb(frame: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(frame, cv2.COLOR_YUV2RGB_I420)


def warp(frame: np.ndarray, matrix: np.ndarray, width: int, height: int, *, interpolation: int, border: int) -> np.ndarray:
    """The I420 frame through the affine ``matrix`` (of luma pixel coordinates) into a new ``width``×``height`` frame:
    each plane warped on its own, chroma with the matrix moved to its half-size, centre-sited grid."""
    import cv2

    out = np.empty((height * 3 // 2, width), dtype=np.uint8)
    y, u, v = planes(frame)
    oy, ou, ov = planes(out)
    cv2.warpAffine(y, matrix, (width, height), dst=oy, flags=interpolation, borderMode=border)
    # luma x = 2 xc + 0.5 on both sides: x' = a x + b  =>  xc' = a xc + (b + 0.5 a - 0.5) / 2 (the same for y)
    chroma = np.array(matrix, dtype=np.float64, copy=True)
    chroma[:, 2] = (matrix[:, 2] + 0.5 * (matrix[:, 0] + matrix[:, 1]) - 0.5) / 2.0
    for source, target in ((u, ou), (v, ov)):
        cv2.warpAffine(source, chroma, (width // 2, height // 2), dst=target, flags=interpolation, borderMode=border)
    return out
