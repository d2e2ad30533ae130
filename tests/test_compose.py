"""The composer on its own: frames from any renderer, rendered ahead on a worker thread, encoded once."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("imageio_ffmpeg")

from render.compose import ComposeError, compose  # noqa: E402
from render.types import Box, FrameStream  # noqa: E402

W, H, FPS = 216, 384, 30


def _voice(path: Path, seconds: float) -> Path:
    rate = 48_000
    t = np.arange(int(seconds * rate)) / rate
    tone = (0.3 * np.sin(2 * np.pi * 220 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((tone * 32767).astype("<i2").tobytes())
    return path


def _stream(n_frames: int, frames: Iterator[np.ndarray]) -> FrameStream:
    return FrameStream(fps=FPS, width=W, height=H, n_frames=n_frames, duration_s=n_frames / FPS, backend="test", frames=frames,
                       face_box=Box(60, 60, 96, 120), mouth_box=Box(90, 150, 40, 20))


def _moving_square(n_frames: int, threads: list[str]) -> Iterator[np.ndarray]:
    for i in range(n_frames):
        threads.append(threading.current_thread().name)
        frame = np.full((H, W, 3), 40, dtype=np.uint8)
        x = 10 + 4 * i
        frame[100:140, x % (W - 40): x % (W - 40) + 40] = (250, 200, 30)
        yield frame


def _probe(path: Path) -> dict:
    from render.media.ffmpeg import find_ffmpeg

    probe = Path(find_ffmpeg(prefer_bundled=True)).with_name("ffprobe")
    command = [str(probe) if probe.exists() else "ffprobe", "-v", "error", "-count_frames", "-show_streams", "-of", "json", str(path)]
    return json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


def test_every_frame_is_encoded_in_order_and_rendered_off_the_encoding_thread(tmp_path: Path) -> None:
    n = 60
    threads: list[str] = []
    seen: list[int] = []
    result = compose(_stream(n, _moving_square(n, threads)), _voice(tmp_path / "v.wav", n / FPS), tmp_path / "r.mp4",
                     progress=lambda done, total: seen.append(done))
    assert result.frames == n and result.path.exists() and result.cover_path.exists()
    assert not (tmp_path / "r.partial.mp4").exists()
    assert seen == list(range(1, n + 1))
    # The renderer ran ahead on the composer's worker thread, not on the thread that feeds ffmpeg.
    assert set(threads) == {"reeltwin-frames"}
    video = next(s for s in _probe(result.path)["streams"] if s["codec_type"] == "video")
    assert int(video["nb_read_frames"]) == n and video["pix_fmt"] == "yuv420p"
    # Frame order survives the hand-over: the square moves right in the encoded video.
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(result.path))
    meta = next(reader)
    assert tuple(meta["size"]) == (W, H)
    xs = []
    for k, raw in enumerate(reader):
        frame = np.frombuffer(raw, dtype=np.uint8).reshape(H, W, 3)
        if k in (5, 20):
            xs.append(int(np.argmax(frame[120, :, 0] > 150)))
    assert xs[1] - xs[0] == pytest.approx(60, abs=3)


def test_a_renderer_failure_stops_the_encode_and_leaves_no_file(tmp_path: Path) -> None:
    class Broken(RuntimeError):
        pass

    def frames() -> Iterator[np.ndarray]:
        for i in range(90):
            if i == 40:
                raise Broken("the mouth rig failed at frame 40")
            yield np.full((H, W, 3), 90, dtype=np.uint8)

    with pytest.raises(Broken, match="frame 40"):
        compose(_stream(90, frames()), _voice(tmp_path / "v.wav", 3.0), tmp_path / "r.mp4")
    assert not (tmp_path / "r.mp4").exists() and not (tmp_path / "r.partial.mp4").exists()
    assert not [t for t in threading.enumerate() if t.name == "reeltwin-frames"]


def test_a_renderer_that_produces_nothing_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ComposeError, match="produced no frames"):
        compose(_stream(30, iter(())), _voice(tmp_path / "v.wav", 1.0), tmp_path / "r.mp4")
    assert not (tmp_path / "r.partial.mp4").exists()


def test_captions_are_blended_the_same_whether_reused_or_not(tmp_path: Path) -> None:
    # The composer reuses last frame's caption blend when the patch and the pixels under it are unchanged;
    # frames where the pixels under the caption change must still get a fresh blend.
    class Captions:
        def __init__(self) -> None:
            self.rgba = np.zeros((40, 120, 4), dtype=np.uint8)
            self.rgba[..., 0], self.rgba[..., 3] = 255, 128

        def overlay_at(self, _t: float):  # noqa: ANN202
            return self.rgba, 40, 300

        def write_srt(self, path: Path) -> Path:
            path.write_text("1\n00:00:00,000 --> 00:00:01,000\nx\n")
            return path

        def write_sidecar(self, path: Path) -> Path:
            path.write_text("{}")
            return path

    def frames() -> Iterator[np.ndarray]:
        for i in range(30):
            frame = np.full((H, W, 3), 60, dtype=np.uint8)
            if i >= 15:
                frame[300:340, 40:160] = 200    # the pixels under the caption change half way
            yield frame

    result = compose(_stream(30, frames()), _voice(tmp_path / "v.wav", 1.0), tmp_path / "r.mp4", captions=Captions())
    assert result.frames == 30
    import imageio_ffmpeg

    seen: list[np.ndarray] = []
    reader = imageio_ffmpeg.read_frames(str(result.path))
    next(reader)
    for raw in reader:
        seen.append(np.frombuffer(raw, dtype=np.uint8).reshape(H, W, 3))
    early, late = seen[5][320, 100].astype(int), seen[25][320, 100].astype(int)
    # red at half alpha over 60 -> ~(157, 30, 30); over 200 -> ~(227, 100, 100) (x264 moves values a little)
    assert abs(early[0] - 157) < 12 and abs(early[1] - 30) < 12
    assert abs(late[0] - 227) < 12 and abs(late[1] - 100) < 12


def test_the_file_says_how_its_colours_were_converted_and_they_come_back(tmp_path: Path) -> None:
    # The composer converts RGB to BT.601 limited-range YUV itself; the stream must be tagged so, or
    # players guess (BT.709 on HD) and skin tones shift. Decoding with the tag gives the colours back.
    colours = [(200, 150, 120), (30, 90, 200), (240, 240, 240), (20, 20, 20)]

    def frames() -> Iterator[np.ndarray]:
        for _ in range(15):
            frame = np.zeros((H, W, 3), dtype=np.uint8)
            for k, colour in enumerate(colours):
                frame[k * 96:(k + 1) * 96] = colour
            yield frame

    result = compose(_stream(15, frames()), _voice(tmp_path / "v.wav", 0.5), tmp_path / "r.mp4")
    video = next(s for s in _probe(result.path)["streams"] if s["codec_type"] == "video")
    assert video["color_space"] == "smpte170m" and video["color_range"] == "tv"
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(result.path))
    next(reader)
    frame = np.frombuffer(next(reader), dtype=np.uint8).reshape(H, W, 3)
    for k, colour in enumerate(colours):
        got = frame[k * 96 + 48, W // 2].astype(int)
        assert np.abs(got - np.array(colour)).max() <= 6, (colour, got.tolist())


def test_a_renderer_that_stops_short_holds_its_last_frame_to_the_audio_end(tmp_path: Path) -> None:
    def frames() -> Iterator[np.ndarray]:
        for i in range(27):
            yield np.full((H, W, 3), 40 + 5 * i, dtype=np.uint8)

    result = compose(_stream(30, frames()), _voice(tmp_path / "v.wav", 1.0), tmp_path / "r.mp4")
    video = next(s for s in _probe(result.path)["streams"] if s["codec_type"] == "video")
    assert int(video["nb_read_frames"]) == 30
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(result.path))
    next(reader)
    last = [np.frombuffer(raw, dtype=np.uint8).reshape(H, W, 3)[200, 100, 0] for raw in reader][-4:]
    assert max(last) - min(last) <= 3 and abs(int(last[-1]) - (40 + 5 * 26)) <= 4


def test_an_odd_frame_size_is_a_clear_error_before_encoding(tmp_path: Path) -> None:
    stream = FrameStream(fps=FPS, width=W + 1, height=H, n_frames=10, duration_s=10 / FPS, backend="test",
                         frames=iter([np.zeros((H, W + 1, 3), dtype=np.uint8)] * 10),
                         face_box=Box(60, 60, 96, 120), mouth_box=Box(90, 150, 40, 20))
    with pytest.raises(ComposeError, match="odd side"):
        compose(stream, _voice(tmp_path / "v.wav", 0.4), tmp_path / "r.mp4")
    assert not (tmp_path / "r.mp4").exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pipe sizes are a Linux fcntl")
def test_the_pipe_to_the_encoder_is_widened_to_a_mebibyte() -> None:
    """A 1080×1920 frame is 3.1 MB: through Linux's default 64 KiB pipe it takes 48 writes and wake-ups (bench: ~2.5
    CPU s per 30 s reel more than through 1 MiB)."""
    import fcntl

    from render.compose import PIPE_BYTES, _widen_pipe

    process = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    try:
        before = fcntl.fcntl(process.stdin.fileno(), 1032)          # F_GETPIPE_SZ
        _widen_pipe(process.stdin)
        after = fcntl.fcntl(process.stdin.fileno(), 1032)
    finally:
        process.stdin.close()
        process.wait()
    assert before < PIPE_BYTES <= after


def _whole_array_master(voice: np.ndarray, rate: int, music: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """render.compose.master as it was before it mixed in place (the reference): copies of the whole mix at each step."""
    import math

    from render.compose import DUAL_MONO_LU, PEAK_CEILING, TARGET_LUFS, duck
    from render.media.audio import integrated_loudness

    mix = voice.astype(np.float32).copy()
    if music is not None and len(music):
        mix += duck(music, voice, rate)
    loudness = integrated_loudness(mix, rate) + DUAL_MONO_LU
    if math.isfinite(loudness) and loudness > -70:
        mix *= 10 ** ((TARGET_LUFS - loudness) / 20.0)
    peak = float(np.abs(mix).max()) if len(mix) else 0.0
    if peak > PEAK_CEILING:
        over = np.abs(mix) > PEAK_CEILING * 0.8
        knee = PEAK_CEILING * 0.8
        compressed = np.sign(mix) * (knee + (PEAK_CEILING - knee) * np.tanh((np.abs(mix) - knee) / (PEAK_CEILING - knee)))
        mix = np.where(over, compressed, mix).astype(np.float32)
    final = integrated_loudness(mix, rate) + DUAL_MONO_LU if len(mix) > rate // 2 else float("nan")
    return mix.astype(np.float32), float(final)


@pytest.mark.parametrize("chunk", [1 << 18, 4_099])
def test_the_mix_is_the_whole_array_mix_bit_for_bit(monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    """master mixes in place and limits piece by piece, on the samples over the knee only: the same samples and loudness."""
    from render import compose as compose_module
    from render.compose import PEAK_CEILING, master

    monkeypatch.setattr(compose_module, "LIMIT_CHUNK", chunk)
    limited: list[int] = []
    original_limit = compose_module._limit
    monkeypatch.setattr(compose_module, "_limit", lambda mix: limited.append(len(mix)) or original_limit(mix))
    rate = 48_000
    rng = np.random.default_rng(4)
    t = np.arange(rate * 21) / rate
    speech = (0.2 * np.sin(2 * np.pi * 180 * t) * (np.sin(2 * np.pi * 2.5 * t) > 0)).astype(np.float32)
    spiky = (0.01 * rng.standard_normal(t.size)).astype(np.float32)
    spiky[rng.integers(0, t.size, 400)] = rng.uniform(-0.9, 0.9, 400)      # peaks far over the level: the limiter works
    music = (0.1 * np.sin(2 * np.pi * 440 * t[: rate * 7])).astype(np.float32)
    cases = [(speech, None), (spiky, None), (speech, music), (spiky, music), (np.zeros(rate, dtype=np.float32), None),
             (speech[: rate // 4], None)]
    for voice, bed in cases:
        reference, reference_lufs = _whole_array_master(voice, rate, bed)
        mixed, lufs = master(voice, rate, music=bed)
        assert mixed.dtype == np.float32 and np.array_equal(mixed, reference)
        assert lufs == reference_lufs or (np.isnan(lufs) and np.isnan(reference_lufs))
        assert float(np.abs(mixed).max()) <= PEAK_CEILING
    assert len(limited) >= 2          # the spiky voice, alone and with the bed


def test_mastering_holds_one_copy_of_the_reels_audio() -> None:
    """60 s of voice at 48 kHz (11.5 MB float32): mastering allocates the mix and a loudness piece's buffers; it held about
    five whole-length arrays (the limiter's) and a float64 copy before (~80 MB)."""
    import tracemalloc

    from render.compose import master

    rate = 48_000
    rng = np.random.default_rng(9)
    voice = (0.01 * rng.standard_normal(rate * 60)).astype(np.float32)
    voice[rng.integers(0, voice.size, 2_000)] = 0.9        # the limiter runs
    tracemalloc.start()
    try:
        mixed, _ = master(voice, rate)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < mixed.nbytes + 35e6


def test_the_composer_keeps_only_the_mix_while_it_encodes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The voice track is dropped once mixed and freed memory is handed back before the encode (the job's peak)."""
    import gc
    import weakref

    from render import compose as compose_module

    loaded: list[weakref.ref] = []
    trims: list[bool] = []
    original_load = compose_module.load_track
    original_encode = compose_module._encode

    def load_track(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        samples = original_load(*args, **kwargs)
        loaded.append(weakref.ref(samples))
        return samples

    def encode(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        gc.collect()
        assert loaded and all(ref() is None for ref in loaded), "the voice track is still held while encoding"
        assert trims, "freed memory was not handed back before the encode"
        return original_encode(*args, **kwargs)

    monkeypatch.setattr(compose_module, "load_track", load_track)
    monkeypatch.setattr(compose_module, "_encode", encode)
    monkeypatch.setattr(compose_module, "release_free_memory", lambda: trims.append(True) or True)
    n = 45
    result = compose(_stream(n, _moving_square(n, [])), _voice(tmp_path / "v.wav", n / FPS), tmp_path / "reel.mp4")
    assert result.frames == n and trims == [True]


def test_frames_spliced_into_the_pipe_encode_exactly_as_frames_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The encoder's input is the same bytes whether the frames are spliced (vmsplice) or written: the video streams
    decode to identical frames (x264 is deterministic), and the spliced run did splice."""
    from render.media import splice
    from render.media.ffmpeg import find_ffmpeg

    spliced: list[int] = []
    real_write = splice.PipeFeeder.write

    def counting(self: splice.PipeFeeder, frame: np.ndarray) -> None:
        real_write(self, frame)
        spliced.append(self.spliced)

    def frame_hashes(path: Path) -> str:
        command = [find_ffmpeg(prefer_bundled=True), "-v", "error", "-i", str(path), "-map", "0:v", "-f", "framemd5", "-"]
        lines = subprocess.run(command, capture_output=True, text=True, check=True).stdout.splitlines()
        return "\n".join(line for line in lines if not line.startswith("#"))

    voice = _voice(tmp_path / "v.wav", 60 / FPS)
    monkeypatch.setattr(splice.PipeFeeder, "write", counting)
    compose(_stream(60, _moving_square(60, [])), voice, tmp_path / "spliced.mp4", measure=False)
    if splice._load_vmsplice() is not None:
        assert spliced[-1] == 60 * W * H * 3 // 2        # every frame went in by vmsplice
    monkeypatch.setattr(splice, "_load_vmsplice", lambda: None)
    compose(_stream(60, _moving_square(60, [])), voice, tmp_path / "written.mp4", measure=False)
    assert frame_hashes(tmp_path / "spliced.mp4") == frame_hashes(tmp_path / "written.mp4")
