"""``render.qa`` and ``reeltwin qa``: real MP4s made by ffmpeg in the test, each check's verdict asserted.

Spec checks run on synthetic clips (a colour field and a tone) that differ from a
correct reel in one property each. Lip sync runs on a talking head made from the
public-domain astronaut photo whose jaw drops and mouth opens in proportion to a
known syllable-like audio envelope: once in sync, once with the video 6 frames late.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from render.media.ffmpeg import Tools
from render.qa import QAError, ReelSpec, check_reel, media_probe, read_report, write_report
from render.qa.mp4_atoms import read_structure
from render.types import QAReport

FPS, SAMPLE_RATE = 30, 48_000
SPEC_CHECKS = {
    "file_size", "container", "faststart", "video_codec", "video_profile", "pixel_format", "resolution", "frame_rate",
    "keyframe_interval", "closed_gop", "audio_codec", "audio_sample_rate", "audio_channels", "audio_bitrate", "loudness",
    "duration", "duration_reels_tab",
}


def _ffmpeg() -> str:
    found = shutil.which("ffmpeg")
    if found:
        return found
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def make_clip(
    path: Path, *, size: str = "1080x1920", rate: int = FPS, duration_s: float = 3.5, profile: str = "high",
    audio_rate: int = SAMPLE_RATE, volume: float = 2.45, faststart: bool = True,
) -> Path:
    """A colour field with a box over a stereo tone; by default exactly the Reels spec (about -14 LUFS)."""
    # a sine at ffmpeg's default amplitude (1/8), stereo, times 2.45 measures about -14 LUFS
    command = [
        _ffmpeg(), "-v", "error", "-y",
        "-f", "lavfi", "-i", f"color=c=0x203050:s={size}:r={rate}:d={duration_s},drawbox=x=200:y=300:w=120:h=120:color=orange:t=fill",
        "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate={audio_rate}:duration={duration_s},volume={volume}",
        "-c:v", "libx264", "-preset", "superfast", "-profile:v", profile, "-pix_fmt", "yuv420p", "-g", str(rate),
        "-c:a", "aac", "-b:a", "128k", "-ar", str(audio_rate), "-ac", "2",
    ]
    if faststart:
        command += ["-movflags", "+faststart"]
    subprocess.run([*command, str(path)], check=True)
    return path


# --------------------------------------------------------------------------- the talking head


def syllable_envelope(duration_s: float, seed: int = 3) -> np.ndarray:
    """A speech-like amplitude envelope: 0.12-0.32 s syllables (raised-sine bumps) of random strength, short gaps, a few pauses."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration_s * SAMPLE_RATE)) / SAMPLE_RATE
    envelope = np.zeros_like(t)
    at = 0.25
    while at < duration_s - 0.4:
        length = rng.uniform(0.12, 0.32)
        inside = (t >= at) & (t < at + length)
        envelope[inside] = rng.uniform(0.35, 1.0) * np.sin(np.pi * (t[inside] - at) / length) ** 2
        at += length + (rng.uniform(0.3, 0.6) if rng.random() < 0.15 else rng.uniform(0.04, 0.14))
    return envelope


def open_mouth(frame: np.ndarray, opening_px: float, mouth_x: float, upper_lip_y: float, lower_lip_y: float, half_width: float, chin_y: float) -> np.ndarray:
    """Drop the jaw by ``opening_px`` below the lower lip line (fading out under the chin) and paint the mouth cavity."""
    import cv2

    if opening_px < 0.5:
        return frame
    taper_end = chin_y + (chin_y - lower_lip_y) * 1.2
    top, bottom = int(upper_lip_y) - 2, int(taper_end) + 2
    left, right = int(mouth_x - 3 * half_width), int(mouth_x + 3 * half_width)
    ys, xs = np.mgrid[top:bottom, left:right].astype(np.float32)
    drop = np.clip(ys - lower_lip_y, 0, opening_px)
    drop = np.where(ys > chin_y, opening_px * np.clip((taper_end - ys) / (taper_end - chin_y), 0, 1), drop)
    across = np.exp(-((xs - mouth_x) / (half_width * 2.2)) ** 4)
    region = frame[top:bottom, left:right]
    warped = cv2.remap(region, (xs - left).astype(np.float32), (ys - drop * across - top).astype(np.float32), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    mask = np.zeros(region.shape[:2], np.float32)
    cavity_top = upper_lip_y + 1
    centre = (int(mouth_x - left), int((cavity_top + lower_lip_y + opening_px) / 2 - top))
    cv2.ellipse(mask, centre, (int(half_width * 0.75), max(1, int((lower_lip_y + opening_px - cavity_top) / 2))), 0, 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), 1.5)[..., None]
    out = frame.copy()
    out[top:bottom, left:right] = (warped * (1 - mask) + np.array([60, 20, 25], np.float32) * mask).astype(np.uint8)
    return out


def make_talking_head(path: Path, *, video_late_frames: int = 0, duration_s: float = 5.0, size: str = "1080x1920") -> Path:
    """The astronaut (x2, 540x960 canvas scaled to ``size``) mouthing a buzz: the buzz's amplitude envelope and the mouth opening
    are the same syllable envelope (video ``video_late_frames`` behind); -14 LUFS mono AAC."""
    import cv2
    from skimage import data

    width, height = 540, 960
    photo = cv2.resize(data.astronaut(), (1024, 1024), interpolation=cv2.INTER_CUBIC)
    left = 452 - width // 2                      # the face's centre column in the x2 photo
    canvas = np.ascontiguousarray(photo[:height, left:left + width])
    # landmarks of the x2 photo, measured with mediapipe: lips at x 446, upper lip edge y 282, lower 295, chin 355
    mouth = {"mouth_x": 446 - left, "upper_lip_y": 282.0, "lower_lip_y": 295.0, "half_width": 43.0, "chin_y": 355.0}

    envelope = syllable_envelope(duration_s)
    t = np.arange(len(envelope)) / SAMPLE_RATE
    # a band-limited 140 Hz square wave: a voice-like buzz with a low crest factor, so it reaches -14 LUFS without clipping
    buzz = sum(np.sin(2 * np.pi * k * 140 * t) / k for k in range(1, 40, 2))
    audio = 0.7 * envelope * buzz / np.abs(buzz).max()
    frames = int(duration_s * FPS)
    per_frame = np.array([envelope[int(i * SAMPLE_RATE / FPS): int((i + 1) * SAMPLE_RATE / FPS)].mean() for i in range(frames)])
    if video_late_frames:
        per_frame = np.concatenate((np.zeros(video_late_frames), per_frame))[:frames]
    pcm = path.with_suffix(".pcm")
    (audio * 32767).astype("<i2").tofile(pcm)
    encoder = subprocess.Popen(
        [_ffmpeg(), "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", str(FPS), "-i", "-",
         "-f", "s16le", "-ar", str(SAMPLE_RATE), "-ac", "1", "-i", str(pcm), "-vf", f"scale={size.replace('x', ':')}",
         "-c:v", "libx264", "-preset", "superfast", "-profile:v", "high", "-pix_fmt", "yuv420p", "-g", str(FPS),
         "-c:a", "aac", "-b:a", "128k", "-ar", str(SAMPLE_RATE), "-movflags", "+faststart", str(path)],
        stdin=subprocess.PIPE,
    )
    assert encoder.stdin is not None
    for index in range(frames):
        encoder.stdin.write(open_mouth(canvas, per_frame[index] * 30, **mouth).tobytes())
    encoder.stdin.close()
    assert encoder.wait() == 0
    pcm.unlink()
    return path


# --------------------------------------------------------------------------- fixtures


def _derive(source: Path, path: Path, *options: str) -> Path:
    """A copy of ``source`` with its video stream copied as is and ``options`` applied (remux, audio re-encode, cut)."""
    subprocess.run([_ffmpeg(), "-v", "error", "-y", "-i", str(source), "-map", "0", "-c:v", "copy", *options, str(path)], check=True)
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("qa-clips")
    right = make_clip(folder / "right.mp4")
    aac = ("-c:a", "aac", "-b:a", "128k", "-ac", "2")
    return {
        "right": right,
        "720p": make_clip(folder / "720p.mp4", size="720x1280"),
        "25fps": make_clip(folder / "25fps.mp4", rate=25),
        "baseline": make_clip(folder / "baseline.mp4", profile="baseline"),
        # the rest only differ in the container or the audio: made from the right clip without encoding video again
        "no_faststart": _derive(right, folder / "no_faststart.mp4", "-c:a", "copy"),
        "44k": _derive(right, folder / "44k.mp4", *aac, "-ar", "44100", "-movflags", "+faststart"),
        "quiet": _derive(right, folder / "quiet.mp4", *aac, "-af", "volume=0.12", "-movflags", "+faststart"),
        # encoded, not cut: a stream-copy cut leaves a hole where B-frames after the cut were dropped
        "2s": make_clip(folder / "2s.mp4", duration_s=2.0),
    }


@pytest.fixture(scope="module")
def talking(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    pytest.importorskip("mediapipe")
    pytest.importorskip("skimage")
    folder = tmp_path_factory.mktemp("qa-talking")
    return {
        "synced": make_talking_head(folder / "synced.mp4"),
        "late": make_talking_head(folder / "late.mp4", video_late_frames=6, size="540x960"),
    }


def _failed(report: QAReport) -> set[str]:
    return {check.name for check in report.checks if not check.passed}


# --------------------------------------------------------------------------- spec checks


def test_a_right_clip_passes_every_spec_check(clips: dict[str, Path]) -> None:
    report = check_reel(clips["right"], sidecar=None, lipsync=False)
    assert {check.name for check in report.checks} == SPEC_CHECKS
    assert _failed(report) == set(), [check for check in report.checks if not check.passed]
    assert report.passed
    assert report.duration_s == pytest.approx(3.5, abs=0.05)
    assert report.loudness_lufs == pytest.approx(-14, abs=1)
    assert report.check("frame_rate").value == pytest.approx(30)
    assert report.check("keyframe_interval").value == pytest.approx(1.0, abs=0.05)
    assert report.check("audio_bitrate").value == pytest.approx(128, rel=0.1)


@pytest.mark.parametrize(
    ("clip", "failing", "says"),
    [
        ("720p", {"resolution"}, "720x1280"),
        ("25fps", {"frame_rate"}, "r_frame_rate 25"),
        ("no_faststart", {"faststart"}, "moov comes after mdat"),
        ("baseline", {"video_profile"}, "Baseline"),
        ("44k", {"audio_sample_rate"}, "44100 Hz"),
        ("quiet", {"loudness"}, "too quiet"),
        ("2s", {"duration"}, "shorter than"),
    ],
)
def test_each_wrong_clip_fails_exactly_its_check(clips: dict[str, Path], clip: str, failing: set[str], says: str) -> None:
    report = check_reel(clips[clip], lipsync=False)
    assert _failed(report) == failing
    assert not report.passed
    (failure,) = report.failures
    assert says in failure.message and failure.hard


def test_duration_limits_warn_above_90_s_and_fail_above_15_minutes(clips: dict[str, Path]) -> None:
    # the same 3.5 s clip against a spec scaled down: over the warning line is a soft check, over the limit a hard one
    warn = check_reel(clips["right"], lipsync=False, expect=replace(ReelSpec(), warn_duration_s=3.0))
    assert _failed(warn) == {"duration_reels_tab"} and warn.passed and not warn.check("duration_reels_tab").hard
    refuse = check_reel(clips["right"], lipsync=False, expect=replace(ReelSpec(), warn_duration_s=2.0, max_duration_s=3.0))
    assert _failed(refuse) == {"duration", "duration_reels_tab"} and not refuse.passed


def test_top_level_atoms_and_sample_table_are_read_from_the_file(clips: dict[str, Path]) -> None:
    right, late = read_structure(clips["right"]), read_structure(clips["no_faststart"])
    assert right.kinds.index("moov") < right.kinds.index("mdat")
    assert late.kinds.index("moov") > late.kinds.index("mdat")
    video = right.track("vide")
    assert video is not None and video.codec == "avc1" and video.avc_profile_idc == 100
    assert len(video.decode_ticks) == 105
    assert np.flatnonzero(video.sync_samples).tolist() == [0, 30, 60, 90]
    assert read_structure(clips["baseline"]).track("vide").avc_profile_idc == 66  # type: ignore[union-attr]


def test_variable_frame_rate_and_open_gops_are_reported(tmp_path: Path) -> None:
    vfr = tmp_path / "vfr.mp4"
    subprocess.run([_ffmpeg(), "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=s=180x320:r=30:d=4",
                    "-vf", "setpts='if(lt(N,60),N,N+N/3)/30/TB'", "-fps_mode", "vfr", "-c:v", "libx264", "-preset", "veryfast", "-an", str(vfr)], check=True)
    frame_rate = check_reel(vfr, lipsync=False).check("frame_rate")
    assert not frame_rate.passed and "frame durations are not 33.33 ms" in frame_rate.message

    open_gop = tmp_path / "open.mp4"
    subprocess.run([_ffmpeg(), "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=s=180x320:r=30:d=8", "-c:v", "libx264", "-preset", "veryfast",
                    "-x264-params", "open-gop=1:keyint=90:min-keyint=10", "-an", str(open_gop)], check=True)
    report = check_reel(open_gop, lipsync=False)
    assert not report.check("closed_gop").passed and not report.check("closed_gop").hard
    assert report.check("keyframe_interval").value == pytest.approx(3.0, abs=0.05)
    assert not report.check("keyframe_interval").passed
    assert report.check("audio_codec").message == "no audio stream; a reel needs its voice track"


def test_without_ffprobe_the_ffmpeg_banner_gives_the_same_description(clips: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    tools = media_probe.reel_tools()
    with_probe = media_probe.probe_reel(clips["right"], tools)
    banner = media_probe.probe_reel(clips["right"], Tools(ffmpeg=tools.ffmpeg, ffprobe=None))
    assert banner.source == "ffmpeg"
    for field in ("format_names", "duration_s", "size_bytes"):
        assert getattr(banner, field) == getattr(with_probe, field)
    assert replace(banner.video, frame_count=None) == replace(with_probe.video, frame_count=None)  # type: ignore[type-var]
    assert (banner.audio.codec, banner.audio.sample_rate_hz, banner.audio.channels) == ("aac", 48_000, 2)  # type: ignore[union-attr]

    monkeypatch.setattr(shutil, "which", lambda name: tools.ffmpeg if name == "ffmpeg" else None)
    report = check_reel(clips["25fps"], lipsync=False)
    assert report.extra["probe"] == "ffmpeg" and _failed(report) == {"frame_rate"}


@pytest.mark.parametrize(("suffix", "says"), [(".mkv", "matroska"), (".mov", "QuickTime")])
def test_other_containers_fail_the_container_check(clips: dict[str, Path], tmp_path: Path, suffix: str, says: str) -> None:
    other = _derive(clips["right"], tmp_path / f"reel{suffix}", "-c:a", "copy")
    report = check_reel(other, lipsync=False)
    assert not report.check("container").passed and says in report.check("container").message
    assert report.check("video_codec").passed and report.check("loudness").passed


def test_missing_or_non_video_files_raise_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(QAError, match="not found"):
        check_reel(tmp_path / "nope.mp4")
    text = tmp_path / "notes.mp4"
    text.write_text("not a video at all\n")
    with pytest.raises(QAError, match="not a video"):
        check_reel(text)
    with pytest.raises(QAError, match="is a folder"):
        check_reel(tmp_path)
    sound = tmp_path / "voice.m4a"
    subprocess.run([_ffmpeg(), "-v", "error", "-f", "lavfi", "-i", "sine=duration=1", str(sound)], check=True)
    with pytest.raises(QAError, match="no video stream"):
        check_reel(sound)
    still = tmp_path / "photo.png"
    subprocess.run([_ffmpeg(), "-v", "error", "-f", "lavfi", "-i", "color=s=64x64:d=0.1", "-frames:v", "1", str(still)], check=True)
    with pytest.raises(QAError, match="still image"):
        check_reel(still)


# --------------------------------------------------------------------------- captions


def _sidecar(path: Path, boxes: list[tuple[int, int, int, int]]) -> Path:
    # the format render.captions.CaptionTrack.write_sidecar writes
    chunks = [{"index": i, "text": f"chunk {i}", "start_s": i * 1.0, "end_s": i + 0.9,
               "box": {"x_px": x, "y_px": y, "width_px": w, "height_px": h}} for i, (x, y, w, h) in enumerate(boxes)]
    path.write_text(json.dumps({"version": 1, "frame": {"width_px": 1080, "height_px": 1920}, "chunks": chunks}))
    return path


def test_captions_must_sit_inside_the_safe_area(clips: dict[str, Path], tmp_path: Path) -> None:
    inside = _sidecar(tmp_path / "inside.json", [(120, 1000, 840, 180), (66, 270, 948, 100)])
    assert check_reel(clips["right"], sidecar=inside, lipsync=False).check("captions_safe_area").passed
    low = _sidecar(tmp_path / "low.json", [(120, 1000, 840, 180), (120, 1500, 840, 180)])
    check = check_reel(clips["right"], sidecar=low, lipsync=False).check("captions_safe_area")
    assert not check.passed and check.hard and "'chunk 1'" in check.message and check.value == "1/2 inside"
    fractions = tmp_path / "fractions.json"
    fractions.write_text(json.dumps({"chunks": [{"box": {"x": 0.02, "y": 0.5, "width": 0.5, "height": 0.1}}]}))
    assert not check_reel(clips["right"], sidecar=fractions, lipsync=False).check("captions_safe_area").passed
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    check = check_reel(clips["right"], sidecar=broken, lipsync=False).check("captions_safe_area")
    assert not check.passed and "not readable JSON" in check.message


# --------------------------------------------------------------------------- lip sync


def test_a_talking_head_in_sync_passes_everything(talking: dict[str, Path], tmp_path: Path) -> None:
    # one caption in the lower third, one across the mouth (inside the safe area, but over the lips)
    sidecar = _sidecar(tmp_path / "synced.captions.json", [(120, 1000, 840, 180), (300, 560, 480, 60)])
    report = check_reel(talking["synced"], sidecar=sidecar)
    assert report.lipsync_lag_frames is not None and abs(report.lipsync_lag_frames) <= 1
    assert report.lipsync_correlation is not None and report.lipsync_correlation >= 0.6
    assert report.face_visible_share == 1.0
    assert report.check("captions_safe_area").passed
    assert _failed(report) == {"captions_clear_of_mouth"}
    assert "'chunk 1'" in report.check("captions_clear_of_mouth").message
    assert report.extra["frames_measured"] == 150

    stored = json.loads(write_report(report, tmp_path / "reel.qa.json").read_text())
    assert stored["lipsync_lag_frames"] == report.lipsync_lag_frames and stored["passed"] is False
    assert {check["name"] for check in stored["checks"]} >= {"lipsync_lag", "lipsync_correlation", "face_visible", "loudness"}


def test_a_talking_head_six_frames_late_fails_the_lag_check(talking: dict[str, Path]) -> None:
    report = check_reel(talking["late"])
    lag = report.check("lipsync_lag")
    assert not lag.passed and lag.hard
    assert report.lipsync_lag_frames is not None and report.lipsync_lag_frames >= 4   # the search stops at 5
    assert "after the sound" in lag.message
    assert report.face_visible_share == 1.0
    # at its best (wrong) lag the correlation may pass or not; nothing else may fail but the frame size
    assert {"lipsync_lag", "resolution"} <= _failed(report) <= {"lipsync_lag", "lipsync_correlation", "resolution"}


def test_no_face_fails_face_visibility_and_lip_sync(clips: dict[str, Path]) -> None:
    report = check_reel(clips["2s"])
    assert report.face_visible_share == 0.0
    assert {"face_visible", "lipsync_lag", "lipsync_correlation"} <= _failed(report)
    assert "no face found" in report.check("lipsync_lag").message


# --------------------------------------------------------------------------- the command


@pytest.fixture
def qa_app():  # noqa: ANN201 - a typer app
    import typer

    from agent.cli import qa_cmd
    from agent.cli.main import ReelTwinGroup

    app = typer.Typer(cls=ReelTwinGroup)

    @app.callback()
    def root() -> None:
        """ReelTwin, just the qa command."""

    qa_cmd.register(app)
    return app


def test_qa_command_json_and_exit_codes(qa_app, clips: dict[str, Path], tmp_path: Path) -> None:  # noqa: ANN001
    from typer.testing import CliRunner

    runner = CliRunner()
    result = runner.invoke(qa_app, ["qa", str(clips["right"]), "--no-lipsync", "--json", "--report", str(tmp_path / "r.json")])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["passed"] is True and payload["path"] == str(clips["right"])
    assert {"duration_s", "loudness_lufs", "lipsync_correlation", "lipsync_lag_frames", "face_visible_share", "checks"} <= payload.keys()
    assert json.loads((tmp_path / "r.json").read_text())["passed"] is True

    result = runner.invoke(qa_app, ["qa", str(clips["quiet"]), "--no-lipsync"])
    assert result.exit_code == 2
    assert "loudness" in result.stdout and "✗" in result.stdout
    assert result.stderr.strip().splitlines() == [f"error: {clips['quiet']}: loudness: {check_reel(clips['quiet'], lipsync=False).check('loudness').message}"]

    result = runner.invoke(qa_app, ["qa", str(tmp_path / "missing.mp4")])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and "not found" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_qa_command_finds_the_captions_sidecar_beside_the_reel(qa_app, clips: dict[str, Path], tmp_path: Path) -> None:  # noqa: ANN001
    from typer.testing import CliRunner

    reel = tmp_path / "reel.mp4"
    shutil.copy(clips["right"], reel)
    _sidecar(tmp_path / "reel.captions.json", [(120, 1500, 840, 180)])
    result = CliRunner().invoke(qa_app, ["qa", str(reel), "--no-lipsync", "--json"])
    assert result.exit_code == 2
    assert "captions_safe_area" in result.stderr
    assert json.loads(result.stdout)["passed"] is False


def test_a_stored_report_reads_back_typed_and_fails_closed(tmp_path: Path) -> None:
    from render.types import Check

    report = QAReport(
        path=tmp_path / "reel.mp4",
        checks=(Check("resolution", [1080, 1920], "1080x1920", True, True), Check("duration_reels_tab", 95.0, "<= 90 s", False, False, "long")),
        duration_s=95.0, loudness_lufs=-14.2, lipsync_lag_frames=0, seconds=1.5, extra={"probe": "ffprobe"},
    )
    stored = write_report(report, tmp_path / "reel.qa.json")
    again = read_report(stored)
    assert again == report and again.passed and again.warnings == report.warnings
    assert again.to_dict() == report.to_dict()

    failing = QAReport(path=report.path, checks=(Check("frame_rate", 25.0, "30 fps", False, True, "25 fps"),))
    assert not read_report(write_report(failing, tmp_path / "failing.json")).passed

    with pytest.raises(QAError, match=r"QA report '.*missing\.json': not found"):
        read_report(tmp_path / "missing.json")
    broken = {
        "truncated.json": stored.read_text()[:40],
        "not-an-object.json": "[]",
        "no-checks.json": json.dumps({**report.to_dict(), "checks": []}),
        "no-verdict.json": json.dumps({**report.to_dict(), "checks": [{"name": "resolution", "value": 1, "expected": "x", "passed": True}]}),
        "contradiction.json": json.dumps({**failing.to_dict(), "passed": True}),
    }
    for name, text in broken.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(QAError, match=rf"QA report '.*{re.escape(name)}': .*; check the reel again"):
            read_report(tmp_path / name)
