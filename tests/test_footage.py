"""Footage avatars: clip checks, the face track, the loop plan, the re-driven mouth, enrollment and renders.

Every clip is made here with ffmpeg from the public-domain astronaut photo (tests/footage_clips.py).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from render.avatar.base import RenderRequest
from render.avatar.footage import FootageBackend, plan_camera
from render.face import footage as F
from render.face import landmarks as lm
import footage_clips as clips

pytestmark = pytest.mark.skipif(subprocess.run(["which", "ffmpeg"], capture_output=True).returncode != 0, reason="needs ffmpeg")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("clips")


@pytest.fixture(scope="module")
def handheld(folder: Path) -> tuple[Path, F.FootageAnalysis]:
    """A 12 s handheld clip, normalized and analysed once for the module."""
    raw = clips.make_clip(folder, "handheld.mp4", seconds=12.0)
    clip = folder / "handheld-norm.mp4"
    F.normalize(raw, clip, label="handheld")
    return clip, F.analyze(clip, label="handheld")


def _refusal(path: Path) -> str:
    label = f"clip {path.name!r}"
    norm = path.with_name(path.stem + "-norm.mp4")
    with pytest.raises(F.FootageError) as caught:
        F.normalize(path, norm, label=label)
        F.check(F.analyze(norm, label=label), label=label)
    message = str(caught.value)
    assert message.startswith(label) and "\n" not in message
    return message


# --------------------------------------------------------------------------- reading and sniffing


def test_videos_are_told_apart_from_photos_by_content(folder: Path) -> None:
    clip = clips.make_clip(folder, "sniff.mp4", seconds=1.0, motion="still")
    renamed = folder / "sniff.jpg"
    renamed.write_bytes(clip.read_bytes())
    assert F.looks_like_video(renamed)
    assert not F.looks_like_video(clips.astronaut_png(folder))
    heic = folder / "photo.heic"
    heic.write_bytes(b"\x00\x00\x00\x18ftypheic" + b"\x00" * 32)
    assert not F.looks_like_video(heic)


def test_reader_gives_exact_frames_forward_and_backward(handheld: tuple[Path, F.FootageAnalysis]) -> None:
    clip, analysis = handheld
    reader = F.ClipReader(clip, analysis.width, analysis.height, size=(90, 160), chunk=7)
    everything = list(reader.read(0, 60))
    assert len(everything) == 60
    # a seek lands on exactly the frame asked for (not the one before or after)
    for start in (1, 17, 29, 30, 44):
        part = list(reader.read(start, 5))
        for offset, frame in enumerate(part):
            assert np.array_equal(frame, everything[start + offset]), (start, offset)
    backward = list(reader.run(40, 3))
    assert [index for index, _ in backward] == list(range(40, 2, -1))
    for index, frame in backward:
        assert np.array_equal(frame, everything[index])


def test_play_reads_ahead_on_a_thread_and_stops_when_dropped(handheld: tuple[Path, F.FootageAnalysis]) -> None:
    import threading

    clip, analysis = handheld
    runs = [(0, 40), (40, 10), (11, 25)]
    expected = list(range(0, 41)) + list(range(40, 9, -1)) + list(range(11, 26))
    plain = list(F.ClipReader(clip, analysis.width, analysis.height, size=(90, 160)).play(runs))
    ahead = list(F.ClipReader(clip, analysis.width, analysis.height, size=(90, 160)).play(runs, ahead=4))
    assert [index for index, _ in plain] == [index for index, _ in ahead] == expected
    for (_, one), (_, other) in zip(plain, ahead):
        assert np.array_equal(one, other)
    # every frame is an array of its own that a renderer may paint on
    first, second = plain[0][1], plain[1][1]
    assert first.flags.writeable and not np.shares_memory(first, second) and first.shape == (160, 90, 3)
    before = threading.active_count()
    frames = F.ClipReader(clip, analysis.width, analysis.height).play(runs, ahead=2)
    next(frames)
    frames.close()
    assert threading.active_count() == before


def test_a_cache_gives_the_same_frames_and_decodes_fewer(handheld: tuple[Path, F.FootageAnalysis]) -> None:
    clip, analysis = handheld
    # forward, back past the start of the first run, forward again: the frames around each turn come back soon
    runs = [(20, 120), (119, 0), (1, 90)]
    expected = list(range(20, 121)) + list(range(119, -1, -1)) + list(range(1, 91))
    size = (90, 160)
    plain = [(index, frame.copy()) for index, frame in F.ClipReader(clip, analysis.width, analysis.height, size=size).play(runs)]
    frame_bytes = plain[0][1].nbytes
    for budget_frames in (1, 12, 40, 500):
        reader = F.ClipReader(clip, analysis.width, analysis.height, size=size)
        got = []
        for index, frame in reader.play(runs, ahead=3, cache_bytes=budget_frames * frame_bytes):
            got.append((index, frame.copy()))
            frame[:] = 0            # the renderer paints on every frame it gets: the cache must keep its own untouched
        assert [index for index, _ in got] == expected
        for (index, one), (_, other) in zip(plain, got):
            assert np.array_equal(one, other), (budget_frames, index)
        # each frame kept saves one decode at each turn: ~2 per frame of budget here, never more than the showings
        saved = len(expected) - reader.decoded
        assert saved >= min(2 * budget_frames - 2, 100) - 15, (budget_frames, reader.decoded)
        if budget_frames >= 500:
            # everything fits: each distinct frame is decoded about once (a run decodes from its keyframe)
            assert reader.decoded <= len(set(expected)) + 2 * F.KEYFRAME_INTERVAL


def test_the_cache_keeps_what_comes_back_soonest() -> None:
    order = [0, 1, 2, 3, 2, 1, 0, 5, 6, 3]
    cache = F._FrameCache(2 * 8, order)       # room for two frames of 8 bytes
    frame = np.zeros(8, dtype=np.uint8)
    for position in range(4):                 # frames 0, 1, 2, 3 decoded in turn
        cache.offer(order[position], frame, position)
    # frame 3 is shown again last of all (position 9), so 2 and 1 (positions 4 and 5) are the ones kept
    assert set(cache.frames) == {1, 2}
    assert cache.take(2, 4) is not None and 2 not in cache   # its last showing: handed over, not copied
    assert 1 in cache


def test_a_damaged_clip_is_named_when_it_cannot_be_read(handheld: tuple[Path, F.FootageAnalysis], tmp_path: Path) -> None:
    from render import RenderError

    clip, analysis = handheld
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(200))
    with pytest.raises(RenderError, match="broken.mp4.*enroll the clip again"):
        list(F.ClipReader(broken, analysis.width, analysis.height).read(0, 3))


# --------------------------------------------------------------------------- the track and its checks


def test_handheld_clip_is_tracked_and_accepted(handheld: tuple[Path, F.FootageAnalysis]) -> None:
    clip, analysis = handheld
    assert (analysis.width, analysis.height, analysis.fps) == (720, 1280, 30)
    assert analysis.n_frames == 360
    assert analysis.found.all()
    assert 280 < float(np.median(analysis.face_height)) < 380
    assert analysis.faces_seen == 1
    assert F.find_cuts(analysis) == []
    warnings = F.check(analysis, label="handheld")
    assert all(w.startswith("handheld: ") for w in warnings)
    # the handheld drift is really in the track: the face centre moves tens of pixels
    centre = analysis.landmarks[:, lm.NOSE_TIP, :2]
    assert np.ptp(centre[:, 0]) > 30
    # saved and loaded unchanged
    path = clip.with_name("track.npz")
    analysis.save(path)
    again = F.FootageAnalysis.load(path)
    assert np.array_equal(again.landmarks, analysis.landmarks) and again.loop == analysis.loop


def test_damaged_or_missing_tracks_name_the_fix(tmp_path: Path) -> None:
    bad = tmp_path / "track.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(F.FootageError, match="enroll the clip again"):
        F.FootageAnalysis.load(bad)
    with pytest.raises(F.FootageError, match="enroll the clip again"):
        F.FootageAnalysis.load(tmp_path / "missing.npz")


def test_not_a_video_empty_short_and_long_clips_are_refused(folder: Path) -> None:
    text = folder / "notes.mp4"
    text.write_text("hello")
    assert "not a video ffmpeg can read" in _refusal(text)
    empty = folder / "empty.mov"
    empty.write_bytes(b"")
    assert "the file is empty" in _refusal(empty)
    short = clips.make_clip(folder, "short.mp4", seconds=3.0, motion="still")
    assert "too short; record at least 5 s" in _refusal(short)
    long = folder / "long.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "color=gray:size=64x64:rate=5", "-t", "125",
                    "-c:v", "libx264", "-preset", "ultrafast", str(long)], check=True)
    assert "too long; trim it to at most 120 s" in _refusal(long)
    assert "no such file" in _refusal(folder / "nothing-here.mp4")


def test_no_face_is_refused(folder: Path) -> None:
    assert "no face found" in _refusal(clips.make_faceless_clip(folder))


def test_a_cut_is_refused_with_its_second(folder: Path) -> None:
    message = _refusal(clips.make_cut_clip(folder))
    assert "a cut or scene change at 4.0 s" in message and "one continuous shot" in message


@pytest.mark.slow
def test_two_faces_are_refused(folder: Path) -> None:
    one = clips.make_clip(folder, "one.mp4", seconds=5.5, size=(480, 860), motion="still")
    two = folder / "two.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(one), "-i", str(one), "-filter_complex", "hstack", "-c:v", "libx264",
                    "-preset", "ultrafast", str(two)], check=True)
    assert "2 faces in the clip" in _refusal(two)


def test_a_clip_analysed_after_another_starts_from_nothing(folder: Path) -> None:
    """Each clip is tracked by a face mesh of its own: a clip of two people analysed first (as a web server or worker
    might, or on another thread at once) leaves no ghost face in the next creator's clip."""
    import threading

    one = clips.make_clip(folder, "alone.mp4", seconds=5.5, size=(480, 860), motion="still")
    pair = folder / "pair.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(one), "-i", str(one), "-filter_complex", "hstack", "-c:v", "libx264",
                    "-preset", "ultrafast", str(pair)], check=True)
    alone_norm, pair_norm = folder / "alone-norm.mp4", folder / "pair-norm.mp4"
    F.normalize(one, alone_norm, label="alone")
    F.normalize(pair, pair_norm, label="pair")
    assert F.analyze(pair_norm, label="pair").faces_seen == 2
    assert F.analyze(alone_norm, label="alone").faces_seen == 1
    # Both at once, on two threads: neither sees the other's faces.
    seen: dict[str, int] = {}
    threads = [threading.Thread(target=lambda p=p, k=k: seen.__setitem__(k, F.analyze(p, label=k).faces_seen)) for k, p in (("pair", pair_norm), ("alone", alone_norm))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert seen == {"pair": 2, "alone": 1}


def test_a_second_face_counts_when_it_stays_a_while() -> None:
    """One frame's glitch is not a second person; a fifth of a second of one, or two of the detector's looks, is."""
    assert F.faces_seen([], []) == 0
    assert F.faces_seen([1] * 300, []) == 1
    assert F.faces_seen([1] * 150 + [2] + [1] * 149, []) == 1                      # one frame
    assert F.faces_seen([1] * 150 + [2] * (F.SECOND_FACE_MIN_FRAMES - 1) + [1] * 100, [2]) == 1
    assert F.faces_seen([1] * 150 + [2] * F.SECOND_FACE_MIN_FRAMES + [1] * 100, []) == 2
    assert F.faces_seen([1] * 300, [2] * F.SECOND_FACE_MIN_LOOKS) == 2              # small faces only the detector sees
    assert F.faces_seen([1] * 300, [3, 3, 2]) == 3


@pytest.mark.slow
def test_someone_passing_through_is_refused_and_a_one_frame_flash_is_not(folder: Path) -> None:
    one = clips.make_clip(folder, "solo.mp4", seconds=5.5, size=(480, 860), motion="still")

    def with_visitor(name: str, frames: str) -> Path:
        out = folder / name
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(one), "-i", str(one), "-filter_complex",
                        f"[0:v]pad=960:860:0:0:gray[base];[base][1:v]overlay=480:0:enable='{frames}'",
                        "-c:v", "libx264", "-preset", "ultrafast", str(out)], check=True)
        return out

    flash = with_visitor("flash.mp4", "eq(n,75)")
    norm = folder / "flash-norm.mp4"
    F.normalize(flash, norm, label="flash")
    analysis = F.analyze(norm, label="flash")
    assert analysis.faces_seen == 1
    F.check(analysis, label="flash")   # accepted
    assert "2 faces in the clip" in _refusal(with_visitor("visitor.mp4", "between(n,60,90)"))


@pytest.mark.slow
def test_a_face_tilted_past_30_degrees_is_refused(folder: Path) -> None:
    tilted = clips.make_clip(folder, "tilted.mp4", seconds=5.5, motion="still", extra=("-vf", "rotate=0.7:fillcolor=gray"))
    message = _refusal(tilted)
    assert "tilted sideways past 30°" in message or "no face found" in message


@pytest.mark.slow
def test_a_small_face_is_refused(folder: Path) -> None:
    small = clips.make_clip(folder, "small.mp4", seconds=5.5, motion="still", extra=("-vf", "scale=180:320,pad=720:1280:270:480:gray"))
    message = _refusal(small)
    assert "move closer to the camera" in message or "no face found" in message


@pytest.mark.slow
def test_heavy_shake_and_blur_are_refused(folder: Path) -> None:
    shaky = folder / "shaky.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(clips.make_clip(folder, "base.mp4", seconds=6.0, motion="still", size=(800, 1400))),
                    "-vf", "crop=720:1280:40+38*sin(2*PI*t*7):60+38*sin(2*PI*t*9)", "-c:v", "libx264", "-preset", "ultrafast", str(shaky)], check=True)
    assert "the camera shakes too much" in _refusal(shaky)
    blurred = folder / "blurred.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(folder / "base.mp4"), "-vf", "gblur=sigma=9", "-c:v", "libx264",
                    "-preset", "ultrafast", str(blurred)], check=True)
    assert "the face is blurred" in _refusal(blurred)


@pytest.mark.slow
def test_rotation_metadata_is_honoured(folder: Path) -> None:
    """A phone stores portrait video as landscape pixels plus a rotation flag: the normalized clip is upright."""
    portrait = clips.make_clip(folder, "upright.mp4", seconds=5.5, motion="still")
    turned = folder / "turned.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(portrait), "-vf", "transpose=1", "-c:v", "libx264", "-preset", "ultrafast",
                    str(turned)], check=True)
    sideways = folder / "sideways.mp4"     # the flag is written on a stream copy (an encode drops it)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(turned), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(sideways)], check=True)
    norm = folder / "sideways-norm.mp4"
    info = F.normalize(sideways, norm, label="sideways")
    assert (info.width, info.height) == (720, 1280)
    analysis = F.analyze(norm, label="sideways")
    assert analysis.found.mean() > 0.95 and abs(float(np.median(analysis.pose[:, 2]))) < 10


@pytest.mark.slow
def test_variable_frame_rate_becomes_30_fps(folder: Path) -> None:
    vfr = folder / "vfr.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(clips.make_clip(folder, "cfr.mp4", seconds=6.0, motion="still")),
                    "-vf", "setpts='PTS+0.02*sin(N)/TB'", "-fps_mode", "vfr", "-c:v", "libx264", "-preset", "ultrafast", str(vfr)], check=True)
    info = F.normalize(vfr, folder / "vfr-norm.mp4", label="vfr")
    assert abs(info.n_frames - 180) <= 2


# --------------------------------------------------------------------------- covering any length


@pytest.mark.parametrize("mode", ["pingpong", "forward"])
@pytest.mark.parametrize("n", [1, 29, 100, 400, 1000])
def test_timeline_covers_any_length_without_a_jump(mode: str, n: int) -> None:
    plan = {"mode": mode, "first": 10, "last": 70, "start": 14}
    shown = F.source_indices(plan, n)
    assert len(shown) == n and shown[0] == 14
    assert shown.min() >= 10 and shown.max() <= 70
    steps = np.abs(np.diff(shown))
    if mode == "pingpong":
        assert steps.max(initial=1) <= 1
        assert set(np.unique(steps)) <= {1}
    else:
        # only the planned seam jumps: from the last frame back to the first
        jumps = np.flatnonzero(steps > 1)
        assert all(shown[j] == 70 and shown[j + 1] == 10 for j in jumps)


def test_loop_plan_turns_on_calm_frames_and_starts_at_rest(handheld: tuple[Path, F.FootageAnalysis]) -> None:
    _clip, analysis = handheld
    plan = analysis.loop
    assert plan["mode"] in ("pingpong", "forward")
    assert 0 <= plan["first"] < plan["start"] + 1 and plan["last"] > plan["first"] + 5 * 30
    assert plan["first"] <= plan["start"] <= plan["last"]


# --------------------------------------------------------------------------- rendering


def test_camera_covers_the_frame_and_moves_smoothly(handheld: tuple[Path, F.FootageAnalysis]) -> None:
    _clip, analysis = handheld
    camera = plan_camera(analysis, 1080, 1920)
    # never black bars: the scaled clip reaches every edge of the frame on every frame
    assert (camera.offsets[:, 0] <= 0).all() and (camera.offsets[:, 1] <= 0).all()
    assert (camera.offsets[:, 0] + analysis.width * camera.scale >= 1080 - 1e-3).all()
    assert (camera.offsets[:, 1] + analysis.height * camera.scale >= 1920 - 1e-3).all()
    # no jitter: the camera's frame-to-frame step is small and smooth
    step = np.abs(np.diff(camera.offsets, axis=0)).max()
    assert step < 4.0


def test_render_keeps_the_clip_and_redrives_only_the_lower_face(handheld: tuple[Path, F.FootageAnalysis], folder: Path) -> None:
    clip, analysis = handheld
    audio = clips.tone_wav(folder / "speech.wav", seconds=4.0)
    stream = FootageBackend().render(RenderRequest(photo_path=None, audio_path=audio, video_path=clip, footage=analysis))
    assert stream.n_frames == 120 and stream.backend == "footage"
    camera = plan_camera(analysis, 1080, 1920)
    reader = F.ClipReader(clip, analysis.width, analysis.height)
    import cv2

    checked = 0
    for i, frame in enumerate(stream):
        if i % 20:
            continue
        index = stream.trace["source_frame"][i]
        source = next(iter(reader.read(index, 1)))
        framed = cv2.warpAffine(source, camera.matrix(index), (1080, 1920), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        diff = np.abs(frame.astype(int) - framed.astype(int)).max(axis=2)
        changed = np.argwhere(diff > 3)
        pts = camera.points(analysis.landmarks[index], index)
        if len(changed):
            # everything that changed lies in the lower face: below the eyes, within the face's width
            eyes_y = float(pts[[33, 263], 1].mean())
            assert changed[:, 0].min() > eyes_y
            assert changed[:, 1].min() > pts[:, 0].min() - 0.4 * (pts[:, 0].max() - pts[:, 0].min())
        checked += 1
    assert checked == 6
    source_frames = np.asarray(stream.trace["source_frame"])
    assert np.abs(np.diff(source_frames)).max() <= 1          # no jump in time
    gaps, envelope = np.asarray(stream.trace["mouth_gap_px"]), np.asarray(stream.trace["envelope"])
    assert gaps.max() > 8.0 and np.corrcoef(gaps, envelope)[0, 1] > 0.6
    assert stream.face_box.height > 300 and stream.mouth_box.y > stream.face_box.y


def test_rest_brings_an_open_mouth_together(handheld: tuple[Path, F.FootageAnalysis]) -> None:
    """The astronaut smiles with her teeth showing: at rest (a silent frame) the re-rendered lips meet."""
    from render.avatar.cpu_mesh import _MouthRig
    from render.face.analysis import detect_landmarks, mouth_openness

    clip, analysis = handheld
    index = analysis.loop["start"]
    frame = np.array(next(iter(F.ClipReader(clip, analysis.width, analysis.height).read(index, 1))))
    points = analysis.landmarks[index]
    assert mouth_openness(points) > 0.1
    rig = _MouthRig(points, frame, float(analysis.face_height[index]), rest=True)
    out = frame.copy()
    rig.apply(frame, out, (0, 0), np.zeros(6, dtype=np.float32))
    found = detect_landmarks(out, max_faces=1)
    assert found and mouth_openness(found[0]) < 0.5 * mouth_openness(points)


@pytest.mark.slow
def test_dubbing_a_talking_clip_follows_the_new_audio(folder: Path, tmp_path: Path) -> None:
    """Re-lip-sync a clip in which the mouth moves (a photo reel of ours): the output's mouth follows the new speech."""
    from render.avatar.base import get
    from render.avatar.base import RenderRequest as Request
    from render.compose import compose
    from render.qa.lipsync import measure_lipsync

    photo_audio = clips.tone_wav(tmp_path / "old.wav", seconds=6.0)
    talking = tmp_path / "talking.mp4"
    stream = get("cpu-mesh").render(Request(photo_path=clips.astronaut_png(folder), audio_path=photo_audio))
    compose(stream, photo_audio, talking)
    norm = tmp_path / "talking-norm.mp4"
    F.normalize(talking, norm, label="talking")
    analysis = F.analyze(norm, label="talking")
    # the new speech: bursts at another rhythm (3 Hz, shifted)
    import wave

    rate = 16000
    t = np.arange(int(5.0 * rate)) / rate
    bursts = np.clip(np.sin(2 * np.pi * 2.7 * t + 1.3), 0, None) ** 2
    samples = (0.3 * np.sin(2 * np.pi * 150 * t) * bursts * 32767).astype(np.int16)
    new = tmp_path / "new.wav"
    with wave.open(str(new), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(samples.tobytes())
    dubbed = tmp_path / "dubbed.mp4"
    compose(FootageBackend().render(Request(photo_path=None, audio_path=new, video_path=norm, footage=analysis)), new, dubbed)
    from render.media.audio import read_mono
    from render.media.ffmpeg import find_ffmpeg

    samples, rate = read_mono(new, error=RuntimeError, label="new", fix="", timeout_s=60)
    with_new = measure_lipsync(dubbed, find_ffmpeg(), width=1080, height=1920, fps=30, audio=samples, sample_rate_hz=rate)
    assert with_new.correlation is not None and with_new.correlation > 0.6 and abs(with_new.best_lag_frames) <= 1


# --------------------------------------------------------------------------- enrollment and the CLI


@pytest.mark.slow
def test_cli_enrolls_a_clip(folder: Path, tmp_path: Path, handheld: tuple[Path, F.FootageAnalysis]) -> None:
    from cli_helpers import reeltwin

    raw = folder / "handheld.mp4"
    data = tmp_path / "data"
    env = {"REELTWIN_DATA_DIR": str(data)}
    result = reeltwin(tmp_path, "avatar", "enroll", str(raw), "--name", "astro", "--consent", "--json", timeout=300, **env)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["kind"] == "footage" and payload["duration_s"] == 12.0 and payload["loop"]["mode"] in ("pingpong", "forward")
    clip = Path(payload["photo"])
    assert clip.is_file() and (clip.parent / "track.npz").is_file()
    assert not list((data / "avatars").glob(".incoming-*"))
    listed = json.loads(reeltwin(tmp_path, "avatar", "list", "--json", **env).stdout)
    assert listed["avatars"][0]["kind"] == "footage"
    # without consent (not interactive): checked, then nothing stored
    refused = reeltwin(tmp_path, "avatar", "enroll", str(raw), "--name", "astro2", timeout=300, **env)
    assert refused.returncode == 2 and "consent is required" in refused.stderr
    assert not (data / "avatars" / "astro2").exists()
    assert not list((data / "avatars").glob(".incoming-*"))
    # bad clips: one line, exit 2, nothing stored
    bad = reeltwin(tmp_path, "avatar", "enroll", str(clips.make_faceless_clip(folder, "nobody.mp4")), "--name", "nobody", "--consent", **env)
    assert bad.returncode == 2 and "no face found" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    assert not (data / "avatars" / "nobody").exists()
    garbage = folder / "garbage.mov"
    garbage.write_text("not a video")
    bad = reeltwin(tmp_path, "avatar", "enroll", str(garbage), "--name", "nobody", "--consent", **env)
    assert bad.returncode == 2 and "not a video ffmpeg can read" in bad.stderr


@pytest.mark.slow
def test_default_avatar_chooses_between_a_photo_and_a_clip(tmp_path: Path, folder: Path, handheld: tuple[Path, F.FootageAnalysis]) -> None:
    from sqlmodel import Session

    from agent.db.engine import ensure_schema, make_engine
    from agent.db.models import Creator
    from agent.enrollment import avatars
    from agent.errors import AgentError
    from agent.jobs.render import inputs_for

    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    ensure_schema(engine)
    with Session(engine) as session:
        creator = Creator(handle="astro", timezone="UTC", language="en", persona={})
        session.add(creator)
        session.commit()
        photo = avatars.enroll(session, tmp_path, clips.astronaut_png(folder), name="astro", consent=True).avatar
        assert photo.kind == "photo" and photo.is_default and photo.creator_id == creator.id
        clip = avatars.enroll(session, tmp_path, folder / "handheld.mp4", name="astro-clip", consent=True, creator_id=creator.id).avatar
        assert clip.kind == "footage" and clip.is_default
        session.refresh(photo)
        assert not photo.is_default
        assert inputs_for(session, creator)[0].name == "astro-clip"
        avatars.set_default(session, "astro")
        assert inputs_for(session, creator)[0].name == "astro"
        track = avatars.footage_of(clip)
        assert track.n_frames == 360
        preview = avatars.framed_preview(clip)
        from PIL import Image

        assert Image.open(preview).size == (1080, 480)
        Path(clip.analysis["track"]).unlink()
        with pytest.raises(AgentError, match="enroll the clip again"):
            avatars.footage_of(clip)


# --------------------------------------------------------------------------- QA for both kinds of avatar


def test_jump_check_flags_a_leap_and_passes_steady_motion() -> None:
    from render.qa.checks import _jump_check
    from render.qa.report import ReelSpec

    rng = np.random.default_rng(3)
    steady = np.abs(rng.normal(0.005, 0.002, 300))
    steady[0] = np.nan
    check, figures = _jump_check(steady, 30.0, ReelSpec())
    assert check.passed and check.value == 0 and figures["jumps_at_s"] == []
    leap = steady.copy()
    leap[150] = 0.12
    check, figures = _jump_check(leap, 30.0, ReelSpec())
    assert not check.passed and check.hard and check.value == 1 and "the face jumps at 5.00 s" in check.message


def test_closure_check_counts_the_bilabials_that_close(tmp_path: Path) -> None:
    from render.qa.checks import _closure_check
    from render.qa.report import ReelSpec

    opening = np.full(90, 0.06)
    opening[29:31] = 0.004           # closed around 1.0 s: the 'b' there closes
    timing = tmp_path / "reel.timing.json"
    timing.write_text(json.dumps({"version": 1, "phonemes": [["b", 0.98, 1.02], ["a", 1.02, 1.2], ["m", 2.0, 2.05], ["t", 2.3, 2.4]]}))
    check, figures = _closure_check(timing, opening, 30.0, ReelSpec())
    assert check.value == 0.5 and figures["bilabials"] == 2 and figures["bilabials_missed_at_s"] == [2.0]
    assert not check.passed and "1 of 2 p/b/m" in check.message
    timing.write_text("{broken")
    from render.qa.report import QAError

    with pytest.raises(QAError, match="render the reel again"):
        _closure_check(timing, opening, 30.0, ReelSpec())


@pytest.mark.slow
def test_qa_passes_a_footage_reel_and_fails_one_with_a_jump(handheld: tuple[Path, F.FootageAnalysis], folder: Path, tmp_path: Path) -> None:
    from render.compose import compose
    from render.qa import check_reel

    clip, analysis = handheld
    audio = clips.tone_wav(tmp_path / "speech.wav", seconds=5.0)
    reel = tmp_path / "reel.mp4"
    compose(FootageBackend().render(RenderRequest(photo_path=None, audio_path=audio, video_path=clip, footage=analysis)), audio, reel)
    report = check_reel(reel)
    checks = {c.name: c for c in report.checks}
    assert checks["no_jumps"].passed and checks["lipsync_correlation"].passed and abs(checks["lipsync_lag"].value) <= 1
    jumpy = tmp_path / "jumpy.mp4"
    # the picture leaps 90 px sideways at frame 60, as at a bad loop seam or a cut (the camera in a footage
    # render follows the face, so a seam shows as exactly this: the whole face moving at once)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(reel), "-vf", "pad=iw+90:ih:0:0,crop=1080:1920:'if(gte(n,60),90,0)':0",
                    "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "copy", str(jumpy)], check=True)
    checks = {c.name: c for c in check_reel(jumpy).checks}
    assert not checks["no_jumps"].passed and "the face jumps at 2.0" in checks["no_jumps"].message


# --------------------------------------------------------------------------- the photo avatar fills the frame


def test_photo_frame_is_filled_from_a_blurred_copy_not_stretched_edges(folder: Path) -> None:
    from PIL import Image

    from render.avatar import framing
    from render.face.analysis import analyze

    photo = np.asarray(Image.open(clips.astronaut_png(folder)).convert("RGB"))
    face = analyze(photo)
    centre = 0.5 * (face.point(lm.FOREHEAD) + face.point(lm.CHIN))
    plan = framing.plan(512, 512, (float(centre[0]), float(centre[1])), face.face_height_px, 1080, 1920)
    frame, inside = framing.compose_background(photo, plan)
    top = int(np.argmax(inside[:, 540] > 0.99))
    assert top > 100, "the astronaut photo does not reach the top of the frame: there is a band to fill"
    band = frame[: top - 40].astype(float)
    first_row = frame[top + 5].astype(float)
    # stretched edges would repeat the photo's first row all the way up: the fill is its own picture
    assert np.abs(band - first_row[None]).mean() > 8.0
    # and it varies down the band (a blurred picture, not one colour per column)
    assert band[:, :, 0].std(axis=0).mean() > 2.0
    # dimmed: darker than the photo itself
    assert band.mean() < frame[top + 5: top + 200].astype(float).mean()


def test_bilabials_seal_the_lips_for_two_frames_at_least() -> None:
    from render.avatar.motion import bilabial_closure
    from render.types import PhonemeTiming

    phones = (PhonemeTiming("ə", 0.0, 0.2), PhonemeTiming("m", 0.2, 0.23), PhonemeTiming("a", 0.23, 0.5),
              PhonemeTiming("ˈb", 0.5, 0.6), PhonemeTiming("t", 0.6, 0.7))
    closure = bilabial_closure(phones, 30, 30)
    assert (closure == 1.0).sum() >= 2 + 3
    assert closure[6] == 1.0 and closure[15] == 1.0 and closure[17] == 1.0
    assert closure[0] == 0.0 and closure[25] == 0.0
    assert set(np.unique(closure)) <= {0.0, 0.5, 1.0}


def test_lipsync_correlation_leaves_out_the_closure_frames(tmp_path: Path) -> None:
    """Lips rightly close on a loud m: those frames must not count against the mouth-follows-loudness correlation."""
    from render.qa.checks import _bilabial_frames, _without_closures
    from render.qa.lipsync import LipSyncMeasurement, correlate
    from render.qa.report import ReelSpec

    rng = np.random.default_rng(1)
    envelope = np.abs(np.sin(np.arange(120) / 3.0)) * 40 - 40 + rng.normal(0, 0.5, 120)
    mouth = (envelope + 40) / 400
    closing = np.zeros(120, dtype=bool)
    closing[10::12] = True
    mouth[closing] = 0.0             # loud frames where the lips close (an m)
    by_lag = correlate(mouth, envelope, 5)
    measured = LipSyncMeasurement(mouth, envelope, 120, 1.0, 0, by_lag[0], by_lag[0], by_lag)
    timing = tmp_path / "t.timing.json"
    timing.write_text(json.dumps({"phonemes": [["m", i / 30, i / 30 + 0.02] for i in np.flatnonzero(closing)]}))
    frames = _bilabial_frames(timing, 120, 30.0)
    assert frames[closing].all()
    cleaned = _without_closures(measured, frames, ReelSpec())
    assert cleaned.correlation > measured.correlation and cleaned.correlation > 0.95 and cleaned.best_lag_frames == 0


def test_identity_drift_is_measured_against_the_source_frame_shown(tmp_path: Path) -> None:
    from render.qa.checks import _identity_check
    from render.qa.lipsync import STABLE_POINTS
    from render.qa.report import ReelSpec

    assert tuple(STABLE_POINTS) == tuple(lm.STABLE)
    rng = np.random.default_rng(5)
    base = rng.uniform(300, 700, (len(lm.STABLE), 2))
    base[0], base[3] = (420.0, 600.0), (660.0, 600.0)         # outer eye corners 240 px apart
    moving = np.stack([base + [3.0 * np.sin(i / 9), 2.0 * i / 60] for i in range(60)])   # the clip's own head motion
    timing = tmp_path / "reel.timing.json"
    timing.write_text(json.dumps({"version": 1, "phonemes": [], "stable_points": list(lm.STABLE),
                                  "stable_px": [row.reshape(-1).round(1).tolist() for row in moving]}))
    measured = moving + rng.normal(0, 1.0, moving.shape)          # the tracker's own noise
    check, figures = _identity_check(timing, measured, ReelSpec())
    assert check.passed and check.value < 0.02 and figures["identity_drift_p95"] == check.value
    # a face pulled out of shape on a third of the frames (its points 25 px off) is reported
    warped = measured.copy()
    warped[::3] += rng.normal(0, 25.0, warped[::3].shape)
    check, _ = _identity_check(timing, warped, ReelSpec())
    assert not check.passed and not check.hard and "drifts from its source frame" in check.message
    # a photo render records no reference: no check
    photo = tmp_path / "photo.timing.json"
    photo.write_text(json.dumps({"version": 1, "phonemes": [["b", 0.1, 0.2]]}))
    assert _identity_check(photo, measured, ReelSpec()) is None
