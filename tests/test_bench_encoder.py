"""bench/encoder.py's core on a tiny generated clip: the quality measurement sees a lossless copy as identical and a
coarse encode as worse, and a trial goes through the product's encoder call with the product's profile."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

import encoder  # noqa: E402  (bench/encoder.py)

from render.media.ffmpeg import find_ffmpeg  # noqa: E402

WIDTH, HEIGHT, FPS = 180, 320, 30


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> encoder.Reference:
    ffmpeg = find_ffmpeg(prefer_bundled=True)
    if ffmpeg is None:
        pytest.skip("no ffmpeg")
    folder = tmp_path_factory.mktemp("encoder")
    raw, audio = folder / "clip.yuv", folder / "clip.wav"
    # testsrc moves (a scrolling gradient, a counter): a reference one frame out of step would not score 1
    subprocess.run([ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc=size={WIDTH}x{HEIGHT}:rate={FPS}", "-t", "1",
                    "-pix_fmt", "yuv420p", "-f", "rawvideo", str(raw)], check=True)
    subprocess.run([ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", "anullsrc=r=48000:cl=stereo", "-t", "1", str(audio)], check=True)
    return encoder.raw_reference(raw, audio, width=WIDTH, height=HEIGHT, fps=FPS)


def test_lossless_copy_scores_identical(clip: encoder.Reference, tmp_path: Path) -> None:
    lossless = tmp_path / "lossless.mkv"
    subprocess.run([find_ffmpeg(prefer_bundled=True), "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{WIDTH}x{HEIGHT}",
                    "-r", str(FPS), "-i", str(clip.raw), "-c:v", "ffv1", str(lossless)], check=True)
    scores = encoder.quality(lossless, clip, vmaf=False)
    assert clip.frames == 30
    assert scores["frames"] == 30
    assert scores["ssim_all"] == pytest.approx(1.0, abs=1e-6)
    assert scores["ssim_all_min"] == pytest.approx(1.0, abs=1e-6)
    assert scores["psnr_y"] >= 99


def test_coarse_encode_scores_lower_than_fine(clip: encoder.Reference, tmp_path: Path) -> None:
    vmaf = encoder.vmaf_available(find_ffmpeg(prefer_bundled=True))
    fine = encoder.measure(clip, encoder.TrialSettings(preset="veryfast", crf=18), tmp_path / "fine.mp4", vmaf=vmaf, spec=False)
    coarse = encoder.measure(clip, encoder.TrialSettings(preset="veryfast", crf=35), tmp_path / "coarse.mp4", vmaf=vmaf, spec=False)
    assert fine.note == "" and coarse.note == ""          # every frame compared
    assert coarse.quality["ssim_all"] < fine.quality["ssim_all"] < 1.0
    assert coarse.quality["ssim_all"] < 0.97
    assert coarse.quality["psnr_y"] < fine.quality["psnr_y"]
    assert not coarse.floor_ok
    assert coarse.size_bytes < fine.size_bytes
    assert fine.cpu_s > 0 and fine.wall_s > 0
    if vmaf:
        assert coarse.quality["vmaf"] < fine.quality["vmaf"]


def test_trial_reports_the_products_profile_and_tune(clip: encoder.Reference, tmp_path: Path) -> None:
    """The product's encoder flags give H.264 High; the spec verdict reads it as QA does (and fails this clip's size)."""
    settings = encoder.TrialSettings(preset="veryfast", crf=20, tune="film")
    assert settings.ffmpeg_params(FPS)[:2] == ["-tune", "film"]
    assert "-profile:v" in settings.ffmpeg_params(FPS)
    trial = encoder.measure(clip, settings, tmp_path / "film.mp4", vmaf=False)
    assert trial.profile == "High"
    assert not trial.spec_ok and any(failure.startswith("resolution") for failure in trial.spec_failures)


def test_the_products_encoder_settings_reach_x264(clip: encoder.Reference, tmp_path: Path) -> None:
    """EncodeSettings() as the composer uses it: High profile, and x264's own settings record (its SEI) shows the tools
    the measured setting puts back on ultrafast (8x8 transform, CABAC, deblocking) and the VBV cap under 25 Mbit/s."""
    from render.compose import EncodeSettings

    product = encoder.current_settings()
    assert (product.preset, product.crf, product.x264_params) == (EncodeSettings().preset, EncodeSettings().crf, EncodeSettings().x264_params)
    trial = encoder.measure(clip, product, tmp_path / "product.mp4", vmaf=False)
    assert trial.profile == "High"
    sei = (tmp_path / "product.mp4").read_bytes()
    start = sei.index(b"x264 - core")
    options = dict(item.split("=", 1) for item in sei[start:sei.index(b"\0", start)].decode().split(" options: ", 1)[1].split() if "=" in item)
    assert options["8x8dct"] == "1" and options["cabac"] == "1" and options["deblock"].startswith("1:")
    assert 0 < int(options["vbv_maxrate"]) <= 25_000 and int(options["vbv_bufsize"]) > 0
    assert trial.quality["ssim_all"] >= encoder.FLOOR_SSIM_ALL
