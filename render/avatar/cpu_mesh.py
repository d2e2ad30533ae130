"""``cpu-mesh``: ReelTwin's own CPU talking-head renderer.

One photo becomes a face rig: the mouth, each eye and the whole head get a local
coordinate frame built from mediapipe's landmarks. Each frame, smooth displacement
fields (split along the lip line so the mouth can open) are evaluated in those
frames and applied with one ``cv2.remap`` per region; the mouth interior (cavity,
upper and lower teeth, tongue) is painted into the opening. Only the face region is
re-rendered; everything else is the still, pre-framed background, so there are no
seams and the cost per frame is small and flat.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from render.avatar import framing as framing_mod
from render.avatar import motion
from render.avatar.base import AvatarError, RenderRequest, register
from render.face import landmarks as lm
from render.types import Box, FrameStream


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _curve(points_uv: np.ndarray, grid: np.ndarray) -> np.ndarray:
    order = np.argsort(points_uv[:, 0])
    return np.interp(grid, points_uv[order, 0], points_uv[order, 1]).astype(np.float32)


class _AlongLips:
    """Curves sampled at n+1 evenly spaced u from -1 to 1 (as ``_curve`` gives them), read at each ``u`` of a region
    (clamped to [-1, 1]) with linear interpolation: np.interp for an even grid without its search (2.5x faster),
    the cell and the fraction found once for every curve read at the same places."""

    def __init__(self, u: np.ndarray, n: int):
        t = np.clip(u, -1.0, 1.0).astype(np.float32)
        t += 1.0
        t *= np.float32(n / 2.0)
        self.index = np.minimum(t.astype(np.int32), n - 1)
        t -= self.index
        self.fraction = t

    def __call__(self, values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, dtype=np.float32)
        # np.take: fancy indexing's result, ~1.5x faster on these grids
        return np.take(values, self.index) + np.take(np.diff(values), self.index) * self.fraction


@dataclass
class _Frame2D:
    """A local coordinate frame: origin, unit axes (u along, v across, pointing down), and scale of u."""

    origin: np.ndarray
    eu: np.ndarray
    ev: np.ndarray
    unit: float

    def to_uv(self, points: np.ndarray) -> np.ndarray:
        d = points[..., :2] - self.origin
        return np.stack([(d @ self.eu) / self.unit, d @ self.ev], axis=-1)

    def grid(self, x0: int, y0: int, width: int, height: int, step: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """(u, v) of every ``step``-th pixel of the box: a row term plus a column term (broadcast, no meshgrid)."""
        xs = np.arange(x0, x0 + width, step, dtype=np.float32) - self.origin[0]
        ys = (np.arange(y0, y0 + height, step, dtype=np.float32) - self.origin[1])[:, None]
        to_u = self.eu / np.float32(self.unit)
        return xs * to_u[0] + ys * to_u[1], xs * self.ev[0] + ys * self.ev[1]

    def to_xy(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = self.origin[0] + u * self.unit * self.eu[0] + v * self.ev[0]
        y = self.origin[1] + u * self.unit * self.eu[1] + v * self.ev[1]
        return x.astype(np.float32), y.astype(np.float32)


def _frame_from(a: np.ndarray, b: np.ndarray, origin: np.ndarray) -> _Frame2D:
    axis = b - a
    length = float(np.linalg.norm(axis))
    eu = axis / max(length, 1e-6)
    ev = np.array([-eu[1], eu[0]], dtype=np.float32)
    return _Frame2D(origin=origin.astype(np.float32), eu=eu.astype(np.float32), ev=ev, unit=length / 2.0)


def _clip_box(x0: float, y0: float, x1: float, y1: float, width: int, height: int) -> tuple[int, int, int, int]:
    ix0, iy0 = max(int(math.floor(x0)), 0), max(int(math.floor(y0)), 0)
    ix1, iy1 = min(int(math.ceil(x1)), width), min(int(math.ceil(y1)), height)
    if ix1 - ix0 < 4 or iy1 - iy0 < 4:
        raise AvatarError("the face is too close to the edge of the frame to animate; use a photo with space around the head")
    return ix0, iy0, ix1 - ix0, iy1 - iy0


@dataclass(frozen=True)
class MouthColours:
    """The mouth interior's colours, from the lips of one frame (cavity from the lip colour, teeth lit like the face)."""

    cavity: np.ndarray
    cavity_deep: np.ndarray
    teeth: np.ndarray
    tongue: np.ndarray

    @classmethod
    def measure(cls, points: np.ndarray, source: np.ndarray) -> "MouthColours":
        import cv2

        outer = np.concatenate([points[list(lm.LIPS_OUTER_UPPER), :2], points[list(lm.LIPS_OUTER_LOWER)[::-1], :2]])
        inner = np.concatenate([points[list(lm.LIPS_INNER_UPPER), :2], points[list(lm.LIPS_INNER_LOWER)[::-1], :2]])
        # Only the lips' bounding box is rasterised (a full-frame mask costs more than the rest of a frame).
        height, width = source.shape[:2]
        x0, y0 = np.floor(outer.min(axis=0)).astype(int) - 1
        x1, y1 = np.ceil(outer.max(axis=0)).astype(int) + 2
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
        lip = np.array([150, 80, 80], dtype=np.float64)
        if x1 - x0 > 1 and y1 - y0 > 1:
            mask = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
            shift = np.array([x0, y0], dtype=np.float32)
            cv2.fillPoly(mask, [np.round(outer - shift).astype(np.int32)], 1)
            cv2.fillPoly(mask, [np.round(inner - shift).astype(np.int32)], 0)
            lips = source[y0:y1, x0:x1][mask.astype(bool)]
            if len(lips):
                lip = lips.mean(axis=0)
        face_lum = float(np.clip(lip.mean() / 150.0, 0.55, 1.05))
        cavity = np.array([lip[0] * 0.42 + 6, lip[1] * 0.2 + 3, lip[2] * 0.2 + 4], dtype=np.float32)
        return cls(cavity=cavity, cavity_deep=cavity * 0.4, teeth=np.array([236, 230, 218], dtype=np.float32) * face_lum,
                   tongue=np.array([lip[0] * 0.85 + 25, lip[1] * 0.55 + 10, lip[2] * 0.6 + 12], dtype=np.float32) * 0.85)


#: a mouth at least this wide (half-width, px) has its smooth fields on every 4th pixel, not every other one
COARSE_HALF_WIDTH_PX = 48.0


@dataclass
class _MouthShape:
    """One frame's mouth (:meth:`_MouthRig._shape`): the move of every pixel of the rig's region (float32, in pixels;
    each pixel reads from its own position less the move) and what painting the interior needs."""

    move_x: np.ndarray
    move_y: np.ndarray
    gap: float
    g_up: float
    g_lo: float
    corner: float
    profile2: np.ndarray
    labio: float
    tongue: float


class _MouthRig:
    U_MAX = 3.0            # the region reaches 3 half-mouth-widths to each side

    def __init__(self, points: np.ndarray, source: np.ndarray | None, face_height: float, *, rest: bool = False,
                 colours: "MouthColours | None" = None, frame_shape: tuple[int, ...] | None = None):
        """``rest``: the frame's own mouth is first brought to rest (lips together), whatever it was doing
        (footage: a clip in which the creator talks); the new opening is then made from there.
        ``colours``: the interior's colours (measured once per clip, so they do not flicker); measured here when None.
        ``frame_shape``: the frame's (height, width) when ``source`` is not the whole frame (or None, with ``colours``)."""
        import cv2

        height, width = (frame_shape if frame_shape is not None else source.shape)[:2]
        origin = 0.5 * (points[lm.UPPER_LIP_INNER_MID, :2] + points[lm.LOWER_LIP_INNER_MID, :2])
        self.f = _frame_from(points[lm.MOUTH_LEFT, :2], points[lm.MOUTH_RIGHT, :2], origin)
        uv = self.f.to_uv(points)
        grid = np.linspace(-1.0, 1.0, 41)
        up_in, lo_in = _curve(uv[list(lm.LIPS_INNER_UPPER)], grid), _curve(uv[list(lm.LIPS_INNER_LOWER)], grid)
        up_out, lo_out = _curve(uv[list(lm.LIPS_OUTER_UPPER)], grid), _curve(uv[list(lm.LIPS_OUTER_LOWER)], grid)
        self.grid = grid
        self.rest_gap = np.maximum(lo_in - up_in, 0.0)
        # A photo that shows teeth (a smile): split just above the lower lip so the real upper teeth
        # stay with the upper jaw; a closed mouth splits along the lip line.
        self.rest = rest
        self.photo_teeth = (not rest) and float(self.rest_gap[len(grid) // 2]) > 0.12 * self.f.unit
        self.split = lo_in - 0.12 * self.rest_gap if self.photo_teeth else 0.5 * (up_in + lo_in)
        self.upper_thickness = float(max(self.split[20] - up_out[20], 2.0))
        self.lower_thickness = float(max(lo_out[20] - self.split[20], 2.0))
        self.v_chin = float(uv[lm.CHIN, 1])
        self.v_nose = float(min(uv[lm.NOSE_BOTTOM, 1], -self.upper_thickness * 1.5))
        self.neck = 0.45 * self.v_chin
        self.half_width = self.f.unit
        self.gap_max = 0.5 * self.half_width
        corners = []
        for u in (-self.U_MAX, self.U_MAX):
            for v in (self.v_nose - 2, self.v_chin + self.neck + 2):
                corners.append(self.f.to_xy(np.array(u), np.array(v)))
        xs, ys = [c[0] for c in corners], [c[1] for c in corners]
        self.x0, self.y0, self.w, self.h = _clip_box(min(xs), min(ys), max(xs), max(ys), width, height)
        # The smooth fields are evaluated on a half-resolution grid (every other pixel) and upsampled; only the lip
        # split is full-resolution. The split line along u is read on the half grid, one sample past the region's
        # far sides, and enlarged exactly 2x (u is linear in x and y, the split piecewise linear in u: bilinear
        # enlargement is exact between the curve's 41 knots) - reading it at every pixel cost 4x more.
        rows2, cols2 = (self.h + 1) // 2, (self.w + 1) // 2
        u2, v2 = self.f.grid(self.x0, self.y0, 2 * (self.w // 2 + 1), 2 * (self.h // 2 + 1), step=2)
        split2 = _AlongLips(u2, len(self.split) - 1)(self.split)
        # v is linear in x and y, so v - split enlarged from the half grid is v - split at every pixel: one enlargement
        # instead of v worked out at every pixel and a subtraction there
        self.v_rel = cv2.warpAffine(v2 - split2, _HALF_TO_FULL, (self.w, self.h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
        self.above = self.v_rel < 0.0
        self.above_mask = self.above.view(np.uint8)
        # The smooth fields: on the half grid, or on every 4th pixel (every other half-grid sample) for a mouth whose
        # half-width reaches COARSE_HALF_WIDTH_PX: its fields change over tens of pixels, and 4x fewer samples cost
        # about half the rig's CPU (the split above stays exact either way).
        k = self.coarse = 2 if self.half_width >= COARSE_HALF_WIDTH_PX else 1
        rows2, cols2 = -(-rows2 // k), -(-cols2 // k)
        self.u2 = np.ascontiguousarray(u2[::k, ::k][:rows2, :cols2])
        self.v2 = np.ascontiguousarray(np.broadcast_to(v2, u2.shape)[::k, ::k][:rows2, :cols2])
        self.split2 = np.ascontiguousarray(split2[::k, ::k][:rows2, :cols2])
        self.v_rel2 = self.v2 - self.split2
        window2 = _smoothstep((self.U_MAX - np.abs(self.u2)) / 0.9).astype(np.float32)
        thickness = self.upper_thickness + self.lower_thickness
        # zero at the region's top and bottom edges so nothing shows a seam there
        vertical2 = (_smoothstep((self.v2 - self.v_nose) / (0.35 * -self.v_nose))
                     * (1.0 - _smoothstep((self.v2 - self.v_chin) / self.neck))).astype(np.float32)
        band2 = np.exp(-(self.v_rel2 / (1.6 * thickness)) ** 2) * vertical2
        phi2 = np.where(np.abs(self.u2) <= 1.0, self.u2, np.sign(self.u2) * np.exp(-((np.abs(self.u2) - 1.0) / 0.9) ** 2))
        self.spread_field2 = (phi2 * band2 * window2).astype(np.float32)
        cube = (np.abs(self.u2) / 1.9) ** 3              # ** 6 as a square of a cube: np.power with 6 is 15x slower
        self.jaw_shape2 = (1.0 / (1.0 + cube * cube) * window2).astype(np.float32)
        # How far the upper lip must come down to meet the lower one (p/b/m) where the photo shows teeth.
        rest_above = np.maximum(self.split - up_in, 0.0)
        along2 = _AlongLips(self.u2, len(grid) - 1)
        inside = (np.abs(self.u2) < 1.0).astype(np.float32)
        self.rest_above2 = along2(rest_above) * inside
        if rest:
            # How far each lip must move to meet the other at the split line (the frame's own opening, halved).
            self.rest_up2 = along2(np.maximum(self.split - up_in, 0.0)) * inside
            self.rest_lo2 = along2(np.maximum(lo_in - self.split, 0.0)) * inside
            self.rest_lo_mid = float(max(lo_in[20] - self.split[20], 0.0))
        self.box = Box(self.x0, self.y0, self.w, self.h)
        c = colours if colours is not None else MouthColours.measure(points, source)
        self.cavity, self.cavity_deep, self.teeth, self.tongue = c.cavity, c.cavity_deep, c.teeth, c.tongue

    def apply(self, source: np.ndarray, canvas: np.ndarray, offset: tuple[int, int], params: np.ndarray, *,
              source_offset: tuple[int, int] = (0, 0)) -> float:
        """Deform the mouth region of ``source`` (a part of the frame from ``source_offset``, with a few pixels around
        :attr:`box`) into ``canvas`` (the face-region buffer at ``offset``); returns the lip gap in px."""
        import cv2

        shape = self._shape(params)
        move_x, move_y = shape.move_x, shape.move_y
        xs = np.arange(self.x0 - source_offset[0], self.x0 - source_offset[0] + self.w, dtype=np.float32)
        ys = np.arange(self.y0 - source_offset[1], self.y0 - source_offset[1] + self.h, dtype=np.float32)[:, None]
        map_x = np.subtract(xs, move_x, out=move_x)
        map_y = np.subtract(ys, move_y, out=move_y)
        # Where the lips part there is no source skin: the interior is painted over it below.
        # maps in OpenCV's fixed-point form (1/32 px, what remap uses inside anyway): the conversion plus the remap cost
        # ~25 % less CPU than the remap reading float maps
        patch = cv2.remap(source, *cv2.convertMaps(map_x, map_y, cv2.CV_16SC2), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        interior = self._interior(shape)
        if interior is not None:
            rows, cols, weights, alpha = interior
            region = patch[rows, cols]
            colour = weights.reshape(-1, 5) @ self._palette()
            blended = region * (1.0 - alpha)[..., None] + colour.reshape(region.shape)
            np.clip(blended, 0, 255, out=blended)
            region[...] = blended.astype(np.uint8)
        ox, oy = offset
        canvas[self.y0 - oy:self.y0 - oy + self.h, self.x0 - ox:self.x0 - ox + self.w] = patch
        return shape.gap

    def _palette(self) -> np.ndarray:
        """The interior's five colours (RGB, float32): cavity deep and near, teeth, the teeth's tip, tongue."""
        return np.stack([self.cavity_deep, self.cavity, self.teeth, 0.55 * self.teeth + 0.45 * self.cavity, self.tongue]).astype(np.float32)

    def _shape(self, params: np.ndarray) -> "_MouthShape":
        """The mouth's new shape for one frame's articulation: how far each pixel of the region moves (x and y, in
        pixels) and what the interior painting needs."""
        import cv2

        jaw, spread, round_, close, labio, tongue = (float(x) for x in params)
        gap = self.gap_max * jaw * (1.0 - close)
        gap = max(gap, self.gap_max * 0.14 * labio * (1.0 - close))
        g_up, g_lo = 0.2 * gap, 0.8 * gap
        # Lips spread for i/e, narrow and round for u/o/w; the corners move, the rest follows smoothly.
        corner_shift = self.half_width * (0.1 * spread - 0.22 * round_)
        corner = 1.0 + corner_shift / self.half_width
        exponent = 2.0 - 0.6 * round_

        def opening(u: np.ndarray) -> np.ndarray:
            un = np.clip(np.abs(u) / max(corner, 0.3), np.float32(1e-12), 1.0)
            # lens-shaped: widest in the middle, closing smoothly toward the corners (zero from |u| = corner on);
            # the powers as exp(log): float np.power is ~2x slower on these arrays
            lens = np.maximum(1.0 - np.exp(np.log(un) * np.float32(exponent)), np.float32(1e-12))
            lens = np.exp(np.log(lens) * np.float32(0.9))
            return lens if corner >= 0.3 else np.where(np.abs(u) < corner, lens, np.float32(0.0))

        u2, v2 = self.u2, self.v_rel2
        du2 = corner_shift * self.spread_field2
        profile2 = opening(u2)
        # Upper region: the upper lip lifts a little, fading to nothing at the nose.
        span_up = np.maximum(self.split2 - self.v_nose, 1.0)
        v_abs = self.v2
        dv_up = np.zeros_like(v2)
        # Lips pressed together (p/b/m) where the photo's lips are apart: the upper lip comes down.
        lift = g_up * profile2 - (0.95 * close) * self.rest_above2
        if self.rest:
            lift = lift - self.rest_up2
        if g_up > 0.05 or close > 0.02 or self.rest:
            for _ in range(2):
                dv_up = lift * _smoothstep((v_abs + dv_up - self.v_nose) / span_up)
        # Lower region: near the lip line the lower lip follows the opening profile; further down the whole jaw drops.
        dv_lo = np.zeros_like(v2)
        if g_lo > 0.05 or self.rest:
            ramp_len = self.lower_thickness + 0.5 * max(self.v_chin - self.lower_thickness, 1.0)
            near = g_lo * profile2
            far = 0.95 * g_lo * self.jaw_shape2
            if self.rest:
                # the frame's own jaw comes up as far as its lips were apart, then drops for the new sound
                near = near - self.rest_lo2
                far = far - self.rest_lo_mid * self.jaw_shape2
            for _ in range(3):
                src = v2 - dv_lo
                r = _smoothstep(src / ramp_len)
                fall = 1.0 - _smoothstep((v_abs - dv_lo - self.v_chin) / self.neck)
                dv_lo = (near + (far - near) * r) * fall
        # Each pixel reads from (u - du / half_width, v - dv) in the mouth's frame: in pixels, its own position
        # moved back along the mouth's axes (u is in half-widths: du / half_width * unit = du, as unit = half_width),
        # by (du * eu + dv * ev). That move is worked out on the coarse grid, once with the lower field and once with
        # the upper one, and enlarged (enlarging is linear: the same as enlarging du and dv, to float rounding), so the
        # only full-resolution work is the enlargement, the choice by side and (the caller's) one subtraction per axis.
        eu, ev = self.f.eu, self.f.ev
        along_x, along_y = du2 * eu[0], du2 * eu[1]
        move_x = self._enlarge(along_x + dv_lo * ev[0])
        move_y = self._enlarge(along_y + dv_lo * ev[1])
        # above the lip split the upper field, below it the lower one (cv2.copyTo: np.where is 20x slower here)
        cv2.copyTo(self._enlarge(along_x - dv_up * ev[0]), self.above_mask, move_x)
        cv2.copyTo(self._enlarge(along_y - dv_up * ev[1]), self.above_mask, move_y)
        return _MouthShape(move_x=move_x, move_y=move_y, gap=gap, g_up=g_up, g_lo=g_lo, corner=corner, profile2=profile2,
                           labio=labio, tongue=tongue)

    def _interior(self, shape: "_MouthShape") -> tuple[slice, slice, np.ndarray, np.ndarray] | None:
        """Where the parted lips show the interior: (rows, cols) of the region, the five colours' weights there
        (rows x cols x 5) and the alpha the region's own pixels are covered by; None when the lips are together."""
        if shape.gap <= 0.6:
            return None
        sub = self._interior_box(shape.corner, shape.g_up, shape.g_lo)
        if sub is None:
            return None
        profile = self._enlarge(shape.profile2)[sub]
        rows, cols = sub
        u_sub = self.f.grid(self.x0 + cols.start, self.y0 + rows.start, cols.stop - cols.start, rows.stop - rows.start)[0]
        found = self._interior_weights(u_sub, self.v_rel[sub], -shape.g_up * profile, shape.g_lo * profile, shape.gap, shape.labio,
                                       shape.tongue, shape.corner)
        if found is None:
            return None
        (r0, r1, c0, c1), weights, alpha = found
        return slice(rows.start + r0, rows.start + r1), slice(cols.start + c0, cols.start + c1), weights, alpha

    def _enlarge(self, field: np.ndarray) -> np.ndarray:
        """A field of the coarse grid at every pixel of the region (bilinear). The half grid keeps cv2.resize (its
        centre-aligned mapping is half a pixel off the grid, as it always was); the quarter grid is mapped exactly
        (resize would shift it by 1.5 px)."""
        import cv2

        if self.coarse == 1:
            return cv2.resize(field, (self.w, self.h), interpolation=cv2.INTER_LINEAR)
        return cv2.warpAffine(field, _QUARTER_TO_FULL, (self.w, self.h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_REPLICATE)

    def _interior_box(self, corner: float, g_up: float, g_lo: float) -> tuple[slice, slice] | None:
        """The part of the region the parted lips can show (|u| < corner, from the upper lip's lift to the lower
        lip's drop around the split line), as slices of the region, a few pixels wider than needed (the opening
        is drawn from a half-resolution field); None when it is empty."""
        inside = np.abs(self.grid) <= corner
        if not inside.any():
            return None
        split = self.split[inside]
        v_top, v_bottom = float(split.min()) - g_up - 1.0, float(split.max()) + g_lo + 1.0
        xs, ys = self.f.to_xy(np.array([-corner, corner, -corner, corner]), np.array([v_top, v_top, v_bottom, v_bottom]))
        margin = 4
        c0, c1 = max(int(xs.min()) - self.x0 - margin, 0), min(int(math.ceil(xs.max())) - self.x0 + margin, self.w)
        r0, r1 = max(int(ys.min()) - self.y0 - margin, 0), min(int(math.ceil(ys.max())) - self.y0 + margin, self.h)
        if c1 <= c0 or r1 <= r0:
            return None
        return slice(r0, r1), slice(c0, c1)

    def _interior_weights(self, u: np.ndarray, v_rel: np.ndarray, upper_t: np.ndarray, lower_t: np.ndarray,
                          gap: float, labio: float, tongue: float, corner: float) -> tuple[tuple[int, int, int, int], np.ndarray, np.ndarray] | None:
        """The mouth interior for the parted lips: (r0, r1, c0, c1) of the box it covers within the arrays given, the
        weights of its five constant colours (cavity deep and near, teeth, the teeth's translucent tip, tongue) at each
        pixel there, and how much each pixel covers the region's own (alpha). Every colour of the interior is one of
        the five times a scalar per pixel, so the weights are worked out on single-channel fields and turned into
        colour once by the caller (a (pixels × 5) by (5 × 3) product): a third of the work of
        blending colour fields step by step, and the same picture to within rounding."""
        inside = np.minimum(v_rel - upper_t, lower_t - v_rel)
        rows, cols = np.nonzero(inside > -1.0)
        if rows.size == 0:
            return None
        r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
        sub = (slice(r0, r1), slice(c0, c1))
        uu, vv, top, bottom = u[sub], v_rel[sub], upper_t[sub], lower_t[sub]
        alpha = np.clip((inside[sub] + 0.75) / 1.5, 0.0, 1.0) * np.clip((bottom - top - 0.5) / 1.5, 0.0, 1.0)
        below_top = vv - top
        depth = np.clip(below_top / np.maximum(bottom - top, 1e-3), 0.0, 1.0)
        side = np.clip(np.abs(uu) / max(corner, 0.3), 0.0, 1.0)
        # The cavity: darker toward the back and the corners (between its deep and its near colour).
        shade = (1.0 - 0.55 * side * side) * (0.55 + 0.45 * depth)
        # Upper teeth hang from under the upper lip; on f/v they reach down to the lower lip.
        teeth_h = min(gap, 0.3 * self.half_width) if labio < 0.5 else gap + 1.0
        if self.photo_teeth and labio < 0.5:
            teeth_alpha = np.zeros_like(uu)      # the photo's own upper teeth stay attached to the upper lip
        else:
            tooth_rows = below_top < teeth_h * (1.0 - 0.35 * side * side)
            teeth_alpha = (tooth_rows & (np.abs(uu) < 0.78 * corner)) * np.clip((0.8 * corner - np.abs(uu)) * 12.0, 0.0, 1.0)
        # the biting edge is a little translucent: it takes on the cavity's colour (the "tip" colour)
        tip = np.clip((below_top - 0.82 * teeth_h) / max(0.18 * teeth_h, 0.5), 0.0, 1.0) * 0.35
        weights = np.empty(uu.shape + (5,), dtype=np.float32)
        rest = 1.0 - teeth_alpha
        weights[..., 0] = rest * (1.0 - shade)                                                   # cavity, deep
        weights[..., 1] = rest * shade                                                           # cavity, near
        weights[..., 2] = teeth_alpha * _tooth_shading(uu, below_top, teeth_h, corner, side) * (1.0 - tip)   # teeth
        weights[..., 3] = teeth_alpha * tip                                                      # the teeth's tip
        weights[..., 4] = 0.0                                                                    # tongue
        # Lower teeth show on wide-open vowels.
        if gap > 0.45 * self.gap_max and not self.photo_teeth:
            lower_h = 0.12 * self.half_width * min((gap - 0.45 * self.gap_max) / (0.3 * self.gap_max), 1.0)
            lower_mask = ((bottom - vv) < lower_h) & (np.abs(uu) < 0.5 * corner)
            if lower_mask.any():
                weights[lower_mask] = 0.0
                weights[..., 2][lower_mask] = 0.62 * _tooth_shading(uu * 1.6, bottom - vv, lower_h, corner, side)[lower_mask]
        # The tongue, only where it shows: a wide-open vowel, or raised for l/t/d/n/th.
        if labio < 0.5 and (gap > 0.5 * self.gap_max or tongue > 0.3):
            tongue_top = 0.55 - 0.3 * tongue
            tongue_mask = (depth > tongue_top) & (np.abs(uu) < 0.5 * corner) & (np.abs(uu) / (0.5 * corner) + (1.0 - depth) / (1.0 - tongue_top + 1e-3) < 1.15)
            if tongue_mask.any():
                weights[tongue_mask] *= np.float32(0.1)
                weights[..., 4][tongue_mask] = 0.9
        # The inner edge of the lips casts a soft shadow into the mouth; the whole is laid over the patch by alpha.
        edge = np.clip(np.minimum(below_top, bottom - vv) / 3.0, 0.0, 1.0)
        weights *= (alpha * (0.75 + 0.25 * edge))[..., None]
        return (int(r0), int(r1), int(c0), int(c1)), weights, alpha.astype(np.float32)


#: warpAffine's inverse map from a full-resolution pixel to the half-resolution grid of every other pixel
_HALF_TO_FULL = np.array([[0.5, 0.0, 0.0], [0.0, 0.5, 0.0]], dtype=np.float64)
#: the same from a full-resolution pixel to the grid of every 4th pixel
_QUARTER_TO_FULL = np.array([[0.25, 0.0, 0.0], [0.0, 0.25, 0.0]], dtype=np.float64)


#: where the upper teeth meet, as a share of the mouth's half-width from the middle: the central incisors are
#: the widest, each tooth further back looks narrower (it turns away from the camera)
_TOOTH_EDGES = np.array([0.0, 0.27, 0.48, 0.64, 0.77, 0.88, 1.01], dtype=np.float32)


def _tooth_shading(u: np.ndarray, below_lip: np.ndarray, teeth_h: float, corner: float, side: np.ndarray) -> np.ndarray:
    """Light on the upper teeth: each tooth rounded (brighter in its middle, softly darker at its edges, no drawn
    lines), a shadow under the upper lip, and the row darker toward the back of the mouth."""
    a = np.abs(u) * np.float32(_ROUNDED_STEPS / (_ROUNDED_SPAN * max(corner, 0.3)))
    rounded = np.take(_ROUNDED, np.minimum(a.astype(np.int32), _ROUNDED_STEPS))
    under_lip = 0.62 + 0.38 * np.clip(below_lip / max(0.35 * teeth_h, 1.5), 0.0, 1.0)
    side = np.clip(side, 0.0, 1.0)
    back = 1.0 - 0.55 * side * np.sqrt(side)
    return (rounded * under_lip * back).astype(np.float32)


def _rounded_teeth(a: np.ndarray) -> np.ndarray:
    """Each tooth's roundness at ``a`` (share of the half-width from the middle): 1 in a tooth's middle, 0.8 at its edges."""
    index = np.clip(np.searchsorted(_TOOTH_EDGES, a, side="right") - 1, 0, len(_TOOTH_EDGES) - 2)
    left, right = _TOOTH_EDGES[index], _TOOTH_EDGES[index + 1]
    phase = np.clip((a - left) / np.maximum(right - left, 1e-3), 0.0, 1.0)
    return (0.8 + 0.2 * np.clip(np.sin(np.pi * phase), 0.0, 1.0) ** 0.6).astype(np.float32)


#: the roundness looked up on a fine grid of ``a`` (a tooth's row of pixels reads it ~2,000 times a frame; the
#: search, sine and power per pixel cost more than the rest of the shading); past the last edge it stays 0.8
_ROUNDED_STEPS, _ROUNDED_SPAN = 4096, 1.02
_ROUNDED = _rounded_teeth(np.arange(_ROUNDED_STEPS + 1, dtype=np.float32) * np.float32(_ROUNDED_SPAN / _ROUNDED_STEPS))


class _EyeRig:
    def __init__(self, points: np.ndarray, spec: dict, brow: tuple[int, ...], source_shape: tuple[int, ...]):
        height, width = source_shape[:2]
        a, b = points[spec["corners"][0], :2], points[spec["corners"][1], :2]
        self.f = _frame_from(a, b, 0.5 * (a + b))
        uv = self.f.to_uv(points)
        grid = np.linspace(-1.0, 1.0, 21)
        self.upper = _curve(uv[list(spec["upper"])], grid)
        self.lower = _curve(uv[list(spec["lower"])], grid)
        self.grid = grid
        unit = self.f.unit
        brow_v = float(uv[list(brow), 1].mean())
        self.v_brow = brow_v
        self.v_top = brow_v - 0.9 * unit
        self.v_bottom = float(self.lower.max() + 0.5 * unit)
        corners = [self.f.to_xy(np.array(u), np.array(v)) for u in (-1.5, 1.5) for v in (self.v_top, self.v_bottom)]
        xs, ys = [c[0] for c in corners], [c[1] for c in corners]
        self.x0, self.y0, self.w, self.h = _clip_box(min(xs), min(ys), max(xs), max(ys), width, height)
        self.u, self.v = self.f.grid(self.x0, self.y0, self.w, self.h)
        uc = np.clip(self.u, -1.0, 1.0)
        self.up = np.interp(uc, grid, self.upper).astype(np.float32)
        self.lo = np.interp(uc, grid, self.lower).astype(np.float32)
        self.weight = _smoothstep((1.45 - np.abs(self.u)) / 0.45).astype(np.float32)

    def apply(self, source: np.ndarray, canvas: np.ndarray, offset: tuple[int, int], blink: float, brow: float) -> None:
        import cv2

        v, up, lo = self.v, self.up, self.lo
        closure = blink * 0.96
        up_t = up + closure * (lo - up)
        lo_t = lo - 0.06 * blink * (lo - up)
        top = np.minimum(self.v_top, up - 1.0)
        v_src = np.where(
            v < up_t,
            top + (v - top) * (up - top) / np.maximum(up_t - top, 1e-3),
            np.where(v < lo_t, up + (v - up_t) * (lo - up) / np.maximum(lo_t - up_t, 1e-3),
                     lo + (v - lo_t) * (self.v_bottom - lo) / np.maximum(self.v_bottom - lo_t, 1e-3)))
        v_src = np.where(v < top, v, v_src)
        # Brows lift on emphasis: the skin between brow and lid stretches, the forehead above shifts up.
        if brow > 0.0:
            lift = brow * 0.16 * self.f.unit
            t = np.clip((v - self.v_top) / max(up.mean() - self.v_top, 1.0), 0.0, 1.0)
            v_src = v_src + lift * (1.0 - t) * _smoothstep((v - self.v_top + 0.5 * self.f.unit) / (0.5 * self.f.unit))
        v_src = v + self.weight * (v_src - v)
        map_x, map_y = self.f.to_xy(self.u, v_src)
        patch = cv2.remap(source, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        ox, oy = offset
        canvas[self.y0 - oy:self.y0 - oy + self.h, self.x0 - ox:self.x0 - ox + self.w] = patch


class _HeadRig:
    STEP = 4

    def __init__(self, points: np.ndarray, shape: tuple[int, ...], face_height: float):
        height, width = shape[:2]
        top, chin = points[lm.FOREHEAD, :2], points[lm.CHIN, :2]
        self.face_h = face_height
        self.center = 0.5 * (top + chin) - np.array([0.0, 0.08 * face_height], dtype=np.float32)
        self.nose = points[lm.NOSE_TIP, :2].astype(np.float32)
        self.pivot = chin + np.array([0.0, 0.35 * face_height], dtype=np.float32)
        self.rx, self.ry = 0.72 * face_height, 0.82 * face_height
        reach = 1.5
        self.x0, self.y0, self.w, self.h = _clip_box(self.center[0] - reach * self.rx, self.center[1] - reach * self.ry,
                                                     self.center[0] + reach * self.rx, self.center[1] + reach * self.ry, width, height)
        self.box = Box(self.x0, self.y0, self.w, self.h)
        gw, gh = self.w // self.STEP + 2, self.h // self.STEP + 2
        gx, gy = np.meshgrid(self.x0 + np.arange(gw, dtype=np.float32) * self.STEP, self.y0 + np.arange(gh, dtype=np.float32) * self.STEP)
        self.gx, self.gy = gx, gy
        rho = np.sqrt(((gx - self.center[0]) / self.rx) ** 2 + ((gy - self.center[1]) / self.ry) ** 2)
        self.weight = (1.0 - _smoothstep((rho - 1.0) / 0.45)).astype(np.float32)
        # Central features (nose, eyes) move more than the outline when the head turns: a parallax bump.
        self.bump = np.exp(-(((gx - self.nose[0]) / (0.45 * face_height)) ** 2 + ((gy - self.nose[1]) / (0.5 * face_height)) ** 2)).astype(np.float32)
        self.full_w, self.full_h = gw * self.STEP, gh * self.STEP
        self.ident_x, self.ident_y = np.meshgrid(np.arange(self.w, dtype=np.float32), np.arange(self.h, dtype=np.float32))

    def maps(self, yaw: float, pitch: float, roll: float, breath: float) -> tuple[np.ndarray, np.ndarray]:
        import cv2

        angle = math.radians(roll)
        cos_a, sin_a = math.cos(angle), math.sin(angle)
        dx0, dy0 = self.gx - self.pivot[0], self.gy - self.pivot[1]
        rx = cos_a * dx0 - sin_a * dy0 + self.pivot[0] - self.gx
        ry = sin_a * dx0 + cos_a * dy0 + self.pivot[1] - self.gy
        shift_x = 0.006 * self.face_h * yaw * (0.55 + 0.45 * self.bump)
        shift_y = 0.007 * self.face_h * pitch * (0.6 + 0.4 * self.bump) - 1.4 * breath
        dx = ((rx + shift_x) * self.weight).astype(np.float32)
        dy = ((ry + shift_y) * self.weight).astype(np.float32)
        dx = cv2.resize(dx, (self.full_w, self.full_h), interpolation=cv2.INTER_LINEAR)[: self.h, : self.w]
        dy = cv2.resize(dy, (self.full_w, self.full_h), interpolation=cv2.INTER_LINEAR)[: self.h, : self.w]
        return self.ident_x - dx, self.ident_y - dy


class FaceRig:
    """Everything precomputed from the photo; ``frame()`` renders one frame from articulation and life values.

    ``scale`` < 1 renders the head at that fraction of the frame's resolution. Worth it when the
    framing enlarged the photo (a small face blown up to a fifth of the frame): the frame holds no
    more detail than the photo, so warping four times fewer pixels loses nothing visible. What
    changed is carried back as a difference (rendered - still, both at the low resolution), enlarged
    and added to the full-resolution still, so every pixel the motion does not touch stays exactly
    the full-resolution frame: no seam at the region's edge, no softening of the static parts.
    """

    def __init__(self, background: np.ndarray, points: np.ndarray, scale: float = 1.0):
        import cv2

        self.background = background
        height, width = background.shape[:2]
        self.scale = float(scale)
        if self.scale < 1.0:
            if self.scale != 0.5 or width % 2 or height % 2:
                raise ValueError("the head renders at full or exactly half resolution, on even frame sizes")
            work = cv2.resize(background, (width // 2, height // 2), interpolation=cv2.INTER_AREA)
            sx = sy = 0.5
            points = points.astype(np.float32).copy()
            points[:, :2] = (points[:, :2] + 0.5) * 0.5 - 0.5
            if points.shape[1] > 2:
                points[:, 2] *= 0.5
        else:
            work, sx, sy = background, 1.0, 1.0
        self.work, self.sx, self.sy = work, sx, sy
        face_height = float(np.linalg.norm(points[lm.FOREHEAD, :2] - points[lm.CHIN, :2]))
        self.points = points
        self.mouth = _MouthRig(points, work, face_height)
        self.eyes = [_EyeRig(points, lm.EYE_IMAGE_LEFT, lm.BROW_IMAGE_LEFT, work.shape),
                     _EyeRig(points, lm.EYE_IMAGE_RIGHT, lm.BROW_IMAGE_RIGHT, work.shape)]
        self.head = _HeadRig(points, work.shape, face_height)
        h = self.head
        self.region = (slice(h.y0, h.y0 + h.h), slice(h.x0, h.x0 + h.w))
        if self.scale < 1.0:
            # The full-resolution region is exactly twice the low one: an enlargement by 2 maps pixel centres onto each other.
            self.full_region = (slice(2 * h.y0, 2 * (h.y0 + h.h)), slice(2 * h.x0, 2 * (h.x0 + h.w)))
            self.full_size = (2 * h.w, 2 * h.h)
            self.still_work = np.ascontiguousarray(work[self.region])
            self.still_full = background[self.full_region].astype(np.int16)
        full_points = self.to_full(points)
        x0, y0 = full_points[:, 0].min(), full_points[:, 1].min()
        self.face_box = Box(int(x0), int(y0), int(full_points[:, 0].max() - x0), int(full_points[:, 1].max() - y0))
        m = self.mouth.box
        mx0, my0 = int(math.floor((m.x + 0.5) / sx - 0.5)), int(math.floor((m.y + 0.5) / sy - 0.5))
        self.mouth_box = Box(max(0, mx0), max(0, my0), int(math.ceil(m.width / sx)), int(math.ceil(m.height / sy)))

    def to_full(self, points: np.ndarray) -> np.ndarray:
        out = points[:, :2].astype(np.float64).copy()
        out[:, 0] = (out[:, 0] + 0.5) / self.sx - 0.5
        out[:, 1] = (out[:, 1] + 0.5) / self.sy - 0.5
        return out

    def frame(self, params: np.ndarray, blink: float, brow: float, yaw: float, pitch: float, roll: float, breath: float) -> tuple[np.ndarray, float]:
        """One frame and the lip gap in full-resolution pixels."""
        import cv2

        h = self.head
        local = self.work[self.region].copy()
        offset = (h.x0, h.y0)
        gap = self.mouth.apply(self.work, local, offset, params)
        for eye in self.eyes:
            if blink > 0.01 or brow > 0.01:
                eye.apply(self.work, local, offset, blink, brow)
        map_x, map_y = h.maps(yaw, pitch, roll, breath)
        moved = cv2.remap(local, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        out = self.background.copy()
        if self.scale >= 1.0:
            out[self.region] = moved
            return out, gap
        change = cv2.resize(cv2.subtract(moved, self.still_work, dtype=cv2.CV_16S), self.full_size, interpolation=cv2.INTER_LINEAR)
        out[self.full_region] = np.clip(cv2.add(self.still_full, change), 0, 255)
        return out, gap / self.sy


#: Render the head at half the frame's resolution when the framing enlarged the photo at least this much.
LOW_RES_FROM_UPSCALE = 1.6
LOW_RES_SCALE = 0.5


def render_scale(framing_scale: float, width: int, height: int) -> float:
    """The resolution (fraction of the frame's) the head is rendered at for a photo enlarged ``framing_scale`` times."""
    if framing_scale < LOW_RES_FROM_UPSCALE or width % 2 or height % 2:
        return 1.0
    return LOW_RES_SCALE


class CpuMeshBackend:
    """The embedded avatar renderer (CPU, no model weights)."""

    name = "cpu-mesh"

    def __init__(self, *, low_res: bool = True, **_config: object):
        self.low_res = low_res

    def prepare(self, request: RenderRequest) -> tuple[FaceRig, "np.ndarray", int]:
        from render.face.analysis import PhotoError, analyze, check, load_photo

        if request.photo_path is None:
            raise AvatarError("the cpu-mesh avatar renders a photo; give --photo, or use the footage backend for a clip")
        try:
            photo = load_photo(request.photo_path)
            face = request.face if request.face is not None else analyze(photo)
            check(face, label=f"photo {str(request.photo_path)!r}")
        except PhotoError as error:
            raise AvatarError(str(error)) from None
        samples, rate = load_audio(request.audio_path)
        plan = framing_mod.plan(face.image_width, face.image_height, tuple(0.5 * (face.point(lm.FOREHEAD) + face.point(lm.CHIN))),
                                face.face_height_px, request.width, request.height)
        background, _inside = framing_mod.compose_background(photo, plan)
        rig = FaceRig(background, plan.to_frame(face.landmarks), scale=render_scale(plan.scale, request.width, request.height) if self.low_res else 1.0)
        return rig, samples, rate

    def render(self, request: RenderRequest) -> FrameStream:
        rig, samples, rate = self.prepare(request)
        fps = request.fps
        duration = len(samples) / rate
        n_frames = max(1, int(math.ceil(duration * fps)))
        times = np.arange(n_frames, dtype=np.float32) / fps
        track, envelope = speech_track(request.phonemes, samples, rate, fps, n_frames, seal_bilabials=not rig.mouth.photo_teeth)
        life = motion.life(times, envelope, seed=request.seed, stresses_s=motion.stressed_times(request.phonemes, envelope, fps))
        trace: dict[str, list[float]] = {"mouth_gap_px": [], "jaw": [], "blink": [], "envelope": envelope.tolist()}

        def frames() -> Iterator[np.ndarray]:
            for i in range(n_frames):
                frame, gap = rig.frame(track[i], float(life.blink[i]), float(life.brow[i]), float(life.yaw_deg[i]),
                                       float(life.pitch_deg[i]), float(life.roll_deg[i]), float(life.breath[i]))
                trace["mouth_gap_px"].append(round(gap, 2))
                trace["jaw"].append(round(float(track[i, 0]), 3))
                trace["blink"].append(round(float(life.blink[i]), 3))
                yield frame

        mouth = rig.mouth_box
        return FrameStream(fps=fps, width=request.width, height=request.height, n_frames=n_frames, duration_s=duration,
                           backend=self.name, frames=frames(), face_box=rig.face_box, mouth_box=mouth, trace=trace)


def speech_track(phonemes: tuple, samples: np.ndarray, rate: int, fps: int, n_frames: int, *,
                 seal_bilabials: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(articulation per frame (n_frames, 6), loudness envelope per frame): from the phoneme timings when
    there are any, else from the audio, coupled to the audio's loudness either way.

    ``seal_bilabials``: the lips close on every p/b/m however loud (see ``motion.bilabial_closure``). Off for a
    photo that shows its teeth: that rig brings the upper lip onto the teeth, which reads as a half-open mouth."""
    times = np.arange(n_frames, dtype=np.float32) / fps
    envelope = motion.loudness_envelope(samples, rate, fps, n_frames)
    if phonemes:
        track = motion.articulation(phonemes, times)
    else:
        track = motion.audio_articulation(samples, rate, fps, n_frames)
    # Lips lead the sound slightly (they open before the voice is heard): one frame of anticipation
    # also cancels the envelope's smoothing delay (measured lag +1 frame without it).
    leading = np.concatenate([envelope[1:], envelope[-1:]]) if n_frames > 1 else envelope
    track = motion.couple_to_audio(track, leading)
    if phonemes and seal_bilabials:
        track[:, 3] = np.maximum(track[:, 3], motion.bilabial_closure(phonemes, fps, n_frames))
    return track, envelope


def load_audio(path: Path) -> tuple[np.ndarray, int]:
    from render.media.audio import read_mono

    samples, rate = read_mono(path, error=AvatarError, label=f"audio {Path(path).name!r}", fix="give a WAV, MP3 or M4A of the speech",
                              timeout_s=120.0)
    if len(samples) < rate * 0.2:
        raise AvatarError(f"audio {str(path)!r}: shorter than 0.2 s; give the speech to lip-sync")
    return np.asarray(samples, dtype=np.float32), rate     # read_mono gives float32 already: no copy


@register("cpu-mesh")
def _make(**config: object) -> CpuMeshBackend:
    return CpuMeshBackend(**config)
