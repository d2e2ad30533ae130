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


class Overlay:
    """An RGBA patch (straight alpha) made ready to blend straight onto I420 frames, with no RGB round trip of the
    pixels under it: luma is blended per pixel; each chroma sample takes the sum of its 2×2 block of
    alpha-weighted patch chroma, and the frame's chroma by the block's remaining weight (what blending in RGB and
    averaging each 2×2 block on the way back gives, without the round trip's rounding of every pixel under the patch).
    Pixels where the patch is fully transparent are left exactly as they were.

    Prepare once per patch (a caption block shows for many frames), then :meth:`blend` each frame."""

    def __init__(self, rgba: np.ndarray, x: int, y: int):
        import cv2

        # pad to even corners: a chroma sample covers luma pixels (2i, 2j) .. (2i+1, 2j+1)
        left, top = x & 1, y & 1
        h, w = rgba.shape[:2]
        height, width = (top + h + 1) & ~1, (left + w + 1) & ~1
        padded = np.zeros((height, width, 4), dtype=np.uint8)
        padded[top:top + h, left:left + w] = rgba
        alpha = padded[..., 3]
        rows, cols = np.flatnonzero(alpha.any(axis=1)), np.flatnonzero(alpha.any(axis=0))
        self.x, self.y = x - left, y - top
        if rows.size == 0:
            self.box = (0, 0, 0, 0)
            return
        # only the even-cornered box where the patch is not fully transparent is ever touched
        r0, r1, c0, c1 = rows[0] & ~1, (rows[-1] + 2) & ~1, cols[0] & ~1, (cols[-1] + 2) & ~1
        padded = np.ascontiguousarray(padded[r0:r1, c0:c1])
        self.x, self.y = self.x + int(c0), self.y + int(r0)
        ph, pw = padded.shape[:2]
        self.box = (self.x, self.y, self.x + pw, self.y + ph)
        a = padded[..., 3].astype(np.uint32)
        # the converter's own luma, and its chroma for every pixel (each pixel enlarged to a 2×2 block first)
        luma = planes(cv2.cvtColor(np.ascontiguousarray(padded[..., :3]), cv2.COLOR_RGB2YUV_I420))[0].astype(np.uint32)
        big = cv2.resize(np.ascontiguousarray(padded[..., :3]), (pw * 2, ph * 2), interpolation=cv2.INTER_NEAREST)
        _, u_full, v_full = planes(cv2.cvtColor(big, cv2.COLOR_RGB2YUV_I420))

        def blocks(values: np.ndarray) -> np.ndarray:
            return values.reshape(ph // 2, 2, pw // 2, 2).sum(axis=(1, 3), dtype=np.uint32)

        self.y_fill = luma * a + 127                         # + half of 255 for rounding
        self.y_keep = (255 - a).astype(np.uint32)
        block_alpha = blocks(a)
        self.u_fill = blocks(u_full.astype(np.uint32) * a) + 510
        self.v_fill = blocks(v_full.astype(np.uint32) * a) + 510
        self.c_keep = (1020 - block_alpha).astype(np.uint32)

    def blend(self, frame: np.ndarray) -> None:
        """Blend onto the I420 ``frame`` in place (clipped at the frame's edges)."""
        x0, y0, x1, y1 = self.box
        if x1 <= x0:
            return
        width, height = size_of(frame)
        cx0, cy0, cx1, cy1 = max(0, x0), max(0, y0), min(width, x1), min(height, y1)
        if cx1 <= cx0 or cy1 <= cy0:
            return
        sy, sx = slice(cy0 - y0, cy1 - y0), slice(cx0 - x0, cx1 - x0)
        csy, csx = slice((cy0 - y0) // 2, (cy1 - y0) // 2), slice((cx0 - x0) // 2, (cx1 - x0) // 2)
        fy, fu, fv = planes(frame)
        under = fy[cy0:cy1, cx0:cx1]
        under[...] = (self.y_fill[sy, sx] + under * self.y_keep[sy, sx]) // 255
        for plane, fill in ((fu, self.u_fill), (fv, self.v_fill)):
            part = plane[cy0 // 2:cy1 // 2, cx0 // 2:cx1 // 2]
            part[...] = (fill[csy, csx] + part * self.c_keep[csy, csx]) // 1020
