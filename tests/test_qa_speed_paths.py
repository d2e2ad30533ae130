"""QA's fast lip-sync path (issue 16): face tracking in worker processes, split over two, must measure what the
one-process path measures. A generated talking head (tests/test_qa.py) is tracked both ways and compared frame by frame."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from render.qa import check_reel
from render.qa import checks as qa_checks
from render.qa import face_worker
from render.qa.face_worker import OVERLAP_FRAMES, FaceWorkers, _overlap_offset, split_point
from render.qa.lipsync import mouth_openings
from render.qa.media_probe import reel_tools
from render.qa.mp4_atoms import read_structure

pytest.importorskip("mediapipe")
pytest.importorskip("skimage")

from test_qa import FPS, make_talking_head  # noqa: E402

SECONDS = 8.0                    # 240 frames: enough to split (face_worker.MIN_FRAMES_TO_SPLIT)
#: how far two trackers may disagree on one frame's mouth opening (share of the face height) once the second has settled
OPENING_NOISE = 0.01


@pytest.fixture(scope="module")
def talking(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_talking_head(tmp_path_factory.mktemp("qa-speed") / "talking.mp4", duration_s=SECONDS, size="540x960")


@pytest.fixture(scope="module")
def serial(talking: Path):  # noqa: ANN201 - MouthTrack
    return mouth_openings(talking, reel_tools().ffmpeg, 540, 960)


def _layout(path: Path) -> qa_checks._FrameLayout:
    return qa_checks._frame_layout(read_structure(path).track("vide"))


def _assert_same_track(got, want, *, split_at: int | None) -> None:  # noqa: ANN001
    assert len(got.openings) == len(want.openings) == int(SECONDS * FPS)
    assert got.crop == want.crop
    assert np.array_equal(np.isfinite(got.openings), np.isfinite(want.openings))
    if split_at is None:
        np.testing.assert_array_equal(got.openings, want.openings)
        return
    # the first worker's frames are the one-process path's frames, bit for bit; after the split, the same within noise
    np.testing.assert_array_equal(got.openings[:split_at], want.openings[:split_at])
    assert np.nanmax(np.abs(got.openings - want.openings)) < OPENING_NOISE
    assert np.nanmax(np.abs(got.stable_px - want.stable_px)) < 2.0           # source pixels
    assert abs(np.nanmedian(got.stable_motion) - np.nanmedian(want.stable_motion)) < 0.001


def test_the_layout_reads_frames_rate_and_keyframes_from_the_sample_table(talking: Path) -> None:
    layout = _layout(talking)
    assert layout.frames == int(SECONDS * FPS) and layout.constant_fps == pytest.approx(FPS)
    assert layout.keyframes[:3] == (0, FPS, 2 * FPS)          # made with -g 30


def test_one_worker_measures_exactly_what_one_process_does(talking: Path, serial) -> None:  # noqa: ANN001
    with FaceWorkers(1) as workers:
        track = workers.track(talking, reel_tools().ffmpeg, width=540, height=960, fps=FPS, frames=int(SECONDS * FPS))
        assert workers.last_route == "one worker"
    _assert_same_track(track, serial, split_at=None)


@pytest.mark.parametrize(("use_keyframes", "route"), [(True, "split at a keyframe"), (False, "split by seeking")])
def test_two_workers_match_one_process(talking: Path, serial, use_keyframes: bool, route: str) -> None:  # noqa: ANN001
    layout = _layout(talking)
    keyframes = layout.keyframes if use_keyframes else ()
    with FaceWorkers(2) as workers:
        track = workers.track(talking, reel_tools().ffmpeg, width=540, height=960, fps=FPS, frames=layout.frames, keyframes=keyframes)
        assert workers.last_route == route
    start, _ = split_point(layout.frames, FPS, keyframes)
    _assert_same_track(track, serial, split_at=start + OVERLAP_FRAMES)


def test_a_seek_that_lands_elsewhere_is_caught_and_the_second_half_recounted(talking: Path, serial) -> None:  # noqa: ANN001
    # a wrong frame rate sends the second worker's seek twice as far: the overlap's checksums do not match
    with FaceWorkers(2) as workers:
        track = workers.track(talking, reel_tools().ffmpeg, width=540, height=960, fps=FPS / 2, frames=int(SECONDS * FPS))
        assert workers.last_route == "split, second half recounted"
    start, _ = split_point(int(SECONDS * FPS), FPS / 2)
    _assert_same_track(track, serial, split_at=start + OVERLAP_FRAMES)


def test_overlap_offset_needs_one_unambiguous_match() -> None:
    head = np.arange(100, dtype=np.uint32)
    assert _overlap_offset(head, np.arange(90, 140, dtype=np.uint32), 90) == 90
    assert _overlap_offset(head, np.arange(88, 140, dtype=np.uint32), 90) == 88          # landed two frames early
    assert _overlap_offset(head, np.arange(88, 140, dtype=np.uint32), 90, exact=True) is None
    assert _overlap_offset(head, np.arange(200, 240, dtype=np.uint32), 90) is None       # nothing shared
    still = np.concatenate((np.arange(80, dtype=np.uint32), np.full(20, 7, dtype=np.uint32)))
    assert _overlap_offset(still, np.full(30, 7, dtype=np.uint32), 90) is None          # a still: where is it?


def test_split_point_prefers_a_keyframe_near_the_middle() -> None:
    assert split_point(900, 30.0, tuple(range(0, 900, 60))) == (420, {"seek_s": pytest.approx(420.5 / 30), "accurate_seek": False})
    start, seek = split_point(900, 30.0, (0,))           # no keyframe near the middle: accurate seek to it
    assert start == (900 - OVERLAP_FRAMES) // 2 and seek == {"seek_s": pytest.approx((start - 0.5) / 30)}


def _figures(report) -> dict:  # noqa: ANN001
    data = report.to_dict()
    keys = ("lipsync_correlation", "lipsync_lag_frames", "face_visible_share", "frames_measured", "face_crop", "jumps_at_s")
    return {key: data.get(key) for key in keys} | {"checks": {c["name"]: c["passed"] for c in data["checks"]}}


def test_check_reel_gives_the_same_figures_with_and_without_workers(talking: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fast = check_reel(talking)
    monkeypatch.setattr(qa_checks, "_start_face_workers", lambda: None)
    slow = check_reel(talking)
    fast_figures, slow_figures = _figures(fast), _figures(slow)
    assert abs(fast_figures.pop("lipsync_correlation") - slow_figures.pop("lipsync_correlation")) < 0.01
    assert fast_figures == slow_figures
    assert fast.lipsync_lag_frames == 0 and fast.lipsync_correlation >= 0.6


def test_workers_that_cannot_start_fall_back_to_this_process(talking: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(face_worker.sys, "executable", "/bin/false")
    report = check_reel(talking)
    assert report.lipsync_lag_frames == 0 and report.check("lipsync_correlation").passed


def test_a_broken_mediapipe_in_the_worker_names_the_fix(talking: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "fake" / "mediapipe"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('broken on purpose')\n")
    monkeypatch.setenv("PYTHONPATH", str(fake.parent))      # the worker finds it before the real one
    with FaceWorkers(1) as workers, pytest.raises(face_worker.MediapipeUnusable, match="broken on purpose"):
        workers.track(talking, reel_tools().ffmpeg, width=540, height=960, fps=FPS, frames=int(SECONDS * FPS))
    monkeypatch.setattr(qa_checks, "_start_face_workers", lambda: FaceWorkers(1))
    check = check_reel(talking).check("lipsync_lag")
    assert not check.passed and "mediapipe 0.10.21 is not usable (ImportError: broken on purpose)" in check.message
    assert "pip install 'reeltwin[local]'" in check.message


def test_the_worker_imports_face_mesh_without_matplotlib() -> None:
    code = ("import sys; from render.qa.face_worker import import_face_mesh; mesh = import_face_mesh(); "
            "print(hasattr(mesh, 'FaceMesh'), 'matplotlib' in sys.modules, 'mediapipe.tasks' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["True", "False", "False"]


def test_mouth_track_figures_follow_the_per_frame_rules() -> None:
    """The figures from a run of frames, against the rules written out frame by frame (the one-process loop's)."""
    from render.qa.lipsync import STABLE_POINTS, CropGeometry, FrameLandmarks, mouth_track

    rng = np.random.default_rng(1)
    frames = 12
    stable = rng.uniform(0, 200, (frames, len(STABLE_POINTS), 2))
    lips = rng.uniform(80, 120, (frames, 4, 2))
    lips[2] = [[10, 150], [190, 160], [100, 140], [100, 190]]         # one wide-open frame sets the box's far corner
    heights = rng.uniform(90, 110, frames)
    missing = [5, 6, 9]                                              # no face on these frames
    for index in missing:
        stable[index], lips[index], heights[index] = np.nan, np.nan, np.nan
    openings = np.where(np.isnan(heights), np.nan, 0.05)
    geometry = CropGeometry((40, 60, 400, 400), "", 200, 200, (40, 60), (2.0, 2.0))
    track = mouth_track(FrameLandmarks(openings, heights, stable, lips, np.zeros(frames, np.uint32)), geometry)

    previous = None
    for index in range(frames):
        if index in missing:
            assert np.isnan(track.stable_motion[index])
            previous = None
            continue
        expected = np.nan if previous is None else np.linalg.norm(stable[index] - previous, axis=1).mean() / heights[index]
        np.testing.assert_allclose(track.stable_motion[index], expected, rtol=1e-12)
        previous = stable[index]
    np.testing.assert_allclose(track.stable_px[0], [[40 + 2 * x, 60 + 2 * y] for x, y in stable[0]])
    left, top = np.nanmin(lips[..., 0]), np.nanmin(lips[..., 1])
    assert track.mouth_box == pytest.approx((40 + 2 * left, 60 + 2 * top, 40 + 2 * 190, 60 + 2 * 190))   # every frame's lips inside
