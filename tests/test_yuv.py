"""Planar YUV frames (render.media.yuv): the footage avatar hands the composer I420 frames, painting only the
mouth's region in RGB; captions and the hook title are blended through their own region."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from render.media import yuv


def _picture(width: int, height: int, seed: int = 3) -> np.ndarray:
    """Smooth colour gradients with a few sharp edges (not noise: chroma subsampling keeps smooth colour)."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    rgb = np.stack([128 + 100 * np.sin(xs / 37.0), 128 + 90 * np.cos(ys / 23.0), 128 + 80 * np.sin((xs + ys) / 51.0)], axis=-1)
    for _ in range(6):
        x0, y0 = int(rng.integers(0, width - 20)), int(rng.integers(0, height - 20))
        rgb[y0:y0 + 20, x0:x0 + 20] = rng.integers(0, 255, 3)
    return np.clip(rgb, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("height", [96, 98])          # 98: the chroma planes do not start on a row
def test_planes_are_views_of_the_frame_in_opencvs_layout(height: int) -> None:
    rgb = _picture(64, height)
    frame = yuv.from_rgb(rgb)
    y, u, v = yuv.planes(frame)
    assert y.shape == (height, 64) and u.shape == v.shape == (height // 2, 32) and yuv.size_of(frame) == (64, height)
    y[0, 0], u[0, 0], v[-1, -1] = 1, 2, 3
    flat = frame.reshape(-1)
    assert flat[0] == 1 and flat[64 * height] == 2 and flat[-1] == 3
    assert np.abs(yuv.to_rgb(yuv.from_rgb(rgb)).astype(int) - rgb).mean() < 3.0


def test_a_region_goes_to_rgb_and_back_and_nothing_else_changes() -> None:
    rgb = _picture(120, 90)
    frame = yuv.from_rgb(rgb)
    before = frame.copy()
    box = yuv.even_box(13.4, 21.7, 57.2, 60.1, 120, 90)
    assert box == (12, 20, 58, 62) and all(value % 2 == 0 for value in box)
    part = yuv.region_rgb(frame, box)
    assert part.shape == (42, 46, 3)
    assert np.abs(part.astype(int) - yuv.to_rgb(frame)[20:62, 12:58]).max() == 0
    yuv.put_region(frame, part, box)                                     # unchanged: at most rounding
    assert np.abs(frame.astype(int) - before).max() <= 2
    part[...] = (255, 0, 0)
    yuv.put_region(frame, part, box)
    y, _, _ = yuv.planes(frame)
    y0, _, _ = yuv.planes(before)
    changed = np.argwhere(y != y0)
    assert changed[:, 0].min() >= 20 and changed[:, 0].max() < 62 and changed[:, 1].min() >= 12 and changed[:, 1].max() < 58
    assert np.abs(yuv.to_rgb(frame)[30, 30].astype(int) - (255, 0, 0)).max() <= 6
    assert yuv.even_box(-5, -3, 500, 400, 120, 90) == (0, 0, 120, 90)


def test_rgb_region_writes_back_only_when_the_painting_succeeds() -> None:
    frame = yuv.from_rgb(_picture(64, 48))
    box = (8, 8, 24, 20)
    with yuv.rgb_region(frame, box) as part:
        part[...] = (0, 0, 255)
    assert np.abs(yuv.to_rgb(frame)[12, 12].astype(int) - (0, 0, 255)).max() <= 6
    before = frame.copy()
    with pytest.raises(RuntimeError), yuv.rgb_region(frame, (30, 20, 50, 40)) as part:
        part[...] = (255, 255, 255)
        raise RuntimeError("the mouth is at the frame's edge")
    assert np.array_equal(frame, before)          # the frame keeps its own pixels after an error


def test_warping_the_planes_matches_warping_rgb() -> None:
    rgb = _picture(180, 320)
    frame = yuv.from_rgb(rgb)
    identity = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    assert np.array_equal(yuv.warp(frame, identity, 180, 320, interpolation=cv2.INTER_LINEAR, border=cv2.BORDER_REPLICATE), frame)
    # a two-pixel shift is a crop, chroma included
    shift = np.array([[1.0, 0.0, -2.0], [0.0, 1.0, -4.0]])
    moved = yuv.warp(frame, shift, 160, 300, interpolation=cv2.INTER_LINEAR, border=cv2.BORDER_REPLICATE)
    for plane, original, step in zip(yuv.planes(moved), yuv.planes(frame), (1, 2, 2)):
        assert np.array_equal(plane, original[4 // step:(4 + 300) // step, 2 // step:(2 + 160) // step])
    # the virtual camera's zoom and sub-pixel offset: the same picture as warping RGB, within resampling noise
    zoom = np.array([[1.6, 0.0, -40.3], [0.0, 1.6, -61.7]])
    planar = yuv.to_rgb(yuv.warp(frame, zoom, 216, 384, interpolation=cv2.INTER_LINEAR, border=cv2.BORDER_REPLICATE))
    direct = cv2.warpAffine(yuv.to_rgb(frame), zoom, (216, 384), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    difference = np.abs(planar.astype(int) - direct.astype(int))
    assert difference.mean() < 1.5 and np.percentile(difference, 99) < 12


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    pytest.importorskip("mediapipe")
    import footage_clips as clips

    from render.face import footage as F

    folder = tmp_path_factory.mktemp("yuv")
    raw = clips.make_clip(folder, "handheld.mp4", seconds=6.0)
    normalized = folder / "norm.mp4"
    F.normalize(raw, normalized, label="handheld")
    return normalized, F.analyze(normalized, label="handheld")


def test_the_footage_avatar_gives_planar_frames_that_match_its_rgb_ones(clip: tuple[Path, object], tmp_path: Path) -> None:
    import footage_clips as clips

    from render.avatar.base import RenderRequest
    from render.avatar.footage import FootageBackend

    path, analysis = clip
    audio = clips.tone_wav(tmp_path / "speech.wav", seconds=2.0)
    frames: dict[str, list[np.ndarray]] = {}
    traces = {}
    for pixel_format in ("rgb24", "yuv420p"):
        stream = FootageBackend().render(RenderRequest(photo_path=None, audio_path=audio, video_path=path, footage=analysis,
                                                       pixel_format=pixel_format))
        assert stream.pixel_format == pixel_format
        frames[pixel_format] = [frame.copy() for frame in stream]
        traces[pixel_format] = stream.trace
    assert len(frames["rgb24"]) == len(frames["yuv420p"]) == 60
    assert frames["yuv420p"][0].shape == (1920 * 3 // 2, 1080)
    assert traces["rgb24"]["mouth_gap_px"] == traces["yuv420p"]["mouth_gap_px"]
    for rgb, planar in zip(frames["rgb24"][::10], frames["yuv420p"][::10]):
        # what the encoder gets either way: the mouth is re-rendered the same, resampling differs a little
        difference = np.abs(yuv.from_rgb(rgb).astype(int) - planar.astype(int))
        assert difference.mean() < 1.5 and np.percentile(difference, 99.9) < 30


def test_the_composer_takes_planar_frames_with_captions_title_and_cover(tmp_path: Path) -> None:
    import footage_clips as clips

    from render.compose import compose
    from render.types import Box, FrameStream

    width, height, n = 360, 640, 45
    base = yuv.from_rgb(_picture(width, height))
    audio = clips.tone_wav(tmp_path / "speech.wav", seconds=n / 30)

    class Captions:
        def __init__(self) -> None:
            self.patch = np.zeros((40, 200, 4), dtype=np.uint8)
            self.patch[..., 0] = 255
            self.patch[..., 3] = 255

        def overlay_at(self, t: float):  # noqa: ANN202
            return (self.patch, 81, 501) if t >= 0.5 else None

        def write_srt(self, path: Path) -> Path:
            path.write_text("", encoding="utf-8")
            return path

        def write_sidecar(self, path: Path) -> Path:
            path.write_text("{}", encoding="utf-8")
            return path

    stream = FrameStream(fps=30, width=width, height=height, n_frames=n, duration_s=n / 30, backend="test",
                         frames=iter([base.copy() for _ in range(n)]), face_box=Box(100, 100, 150, 200), mouth_box=Box(140, 250, 80, 60),
                         pixel_format="yuv420p")
    result = compose(stream, audio, tmp_path / "reel.mp4", captions=Captions(), hook_title="Planar frames", cover_at_s=1.0)
    assert result.frames == n and result.path.is_file() and result.cover_path.is_file()
    decoded = cv2.cvtColor(cv2.imread(str(result.cover_path)), cv2.COLOR_BGR2RGB)
    assert decoded.shape == (height, width, 3)
    # the cover (1.0 s) has the red caption where it was put, and the picture around it unchanged
    assert np.abs(decoded[520, 180].astype(int) - (255, 0, 0)).max() < 40
    assert np.abs(decoded[620, 20].astype(int) - yuv.to_rgb(base)[620, 20].astype(int)).max() < 20


def _area_reference(frame: np.ndarray, rgba: np.ndarray, x: int, y: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The caption blended in RGB (per pixel, the frame's own colours), then back to I420 with each chroma sample the
    mean of its 2×2 block (floats): what a careful RGB path would give."""
    from render.captions import blend_patch

    width, height = yuv.size_of(frame)
    rgb = yuv.to_rgb(frame)
    blend_patch(rgb, rgba, x, y)
    luma = yuv.planes(yuv.from_rgb(rgb))[0].astype(float)
    big = cv2.resize(rgb, (width * 2, height * 2), interpolation=cv2.INTER_NEAREST)   # each pixel its own chroma
    _, u, v = yuv.planes(cv2.cvtColor(big, cv2.COLOR_RGB2YUV_I420))
    return (luma, u.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3)), v.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3)))


@pytest.mark.parametrize(("x", "y"), [(40, 60), (41, 61), (-13, 7), (300, 590)])   # even, odd, off the left/top, off the right/bottom
def test_an_overlay_blends_straight_into_i420_like_an_rgb_blend(x: int, y: int) -> None:
    width, height = 360, 640
    # smooth colour under the patch: a frame's own sharp chroma edges change in an RGB round trip by themselves
    frame = yuv.from_rgb(cv2.GaussianBlur(_picture(width, height), (0, 0), 6))
    rng = np.random.default_rng(5)
    rgba = np.zeros((70, 150, 4), dtype=np.uint8)
    rgba[..., :3] = (250, 210, 20)
    rgba[10:60, 5:140, 3] = rng.choice([0, 96, 255], size=(50, 135), p=[0.5, 0.2, 0.3])   # glyph-like: hard and soft edges
    out = frame.copy()
    yuv.Overlay(rgba, x, y).blend(out)
    luma, u, v = _area_reference(frame, rgba, x, y)
    oy, ou, ov = yuv.planes(out)
    assert np.abs(oy - luma).max() <= 1
    assert np.abs(ou - u).max() <= 1 and np.abs(ov - v).max() <= 1
    # the patch really landed (yellow on the opaque pixels), and nothing outside its opaque box moved
    opaque = np.zeros((height, width), dtype=bool)
    ys, xs = np.nonzero(rgba[..., 3] == 255)
    keep = (ys + y >= 0) & (ys + y < height) & (xs + x >= 0) & (xs + x < width)
    opaque[ys[keep] + y, xs[keep] + x] = True
    assert opaque.any()
    patch_luma = int(yuv.planes(yuv.from_rgb(np.full((2, 2, 3), (250, 210, 20), dtype=np.uint8)))[0][0, 0])
    assert np.abs(oy[opaque].astype(int) - patch_luma).max() <= 1
    touched = np.zeros((height, width), dtype=bool)
    touched[max(0, y + 10) & ~1:min(height, (y + 61 + 1) & ~1), max(0, x + 5) & ~1:min(width, (x + 141 + 1) & ~1)] = True
    assert np.array_equal(oy[~touched], yuv.planes(frame)[0][~touched])


def test_a_transparent_overlay_changes_nothing() -> None:
    frame = yuv.from_rgb(_picture(64, 48))
    out = frame.copy()
    yuv.Overlay(np.zeros((10, 10, 4), dtype=np.uint8), 3, 5).blend(out)
    assert np.array_equal(out, frame)
