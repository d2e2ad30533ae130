"""The reel file: avatar frames + voice (+ music bed) + captions (+ hook title) -> a Reels-spec MP4.

Frames stream from the avatar renderer through the caption overlay into one
encoder pass (the ffmpeg that ships with imageio-ffmpeg, fed planar YUV through a
pipe), so a reel is encoded once and memory stays flat with its length. The audio is mixed
in numpy first: the voice, a music bed ducked under speech, loudness normalised
to about -14 LUFS with a peak limiter, at 48 kHz.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from render import RenderError
from render.media import yuv
from render.media.ahead import opencv_single_threaded, read_ahead
from render.media.audio import decode, integrated_loudness, write_wav
from render.media.ffmpeg import ToolErrors, find_ffmpeg
from render.media.memory import release_free_memory
from render.media.splice import PipeFeeder

AUDIO_RATE_HZ = 48000
TARGET_LUFS = -14.0
PEAK_CEILING = 0.89            # about -1 dBFS
DUAL_MONO_LU = 10 * math.log10(2.0)
MAX_REEL_S = 15 * 60
WARN_REEL_S = 90.0


class ComposeError(RenderError):
    """The reel could not be composed from these inputs: the message names the input and the fix."""


@dataclass(frozen=True)
class EncodeSettings:
    """Instagram Reels: H.264 High, yuv420p, constant frame rate, closed 2 s GOPs, moov first, AAC 48 kHz 128 kb/s."""

    # Chosen by measurement (bench/encoder.py, table in bench/results/encoder.md): x264's fastest preset with the three
    # tools it drops put back — the 8x8 transform (without it the stream is Main, not High), CABAC and the deblocking
    # filter — meets the Reels spec and the quality floor (VMAF >= 93 mean, >= 85 worst frame, SSIM >= 0.98 against the
    # encoder's exact input) on photo, footage and grainy footage at 0.36-0.79x the CPU of the old veryfast / CRF 20, at
    # about the same bitrate (deblock on at strength 1,1, as measured). The VBV cap keeps any content under
    # Instagram's 25 Mbit/s limit.
    preset: str = "ultrafast"
    crf: int = 20
    x264_params: str | None = "8x8dct=1:cabac=1:deblock=1,1:vbv-maxrate=20000:vbv-bufsize=40000"
    audio_bitrate: str = "128k"
    # FFmpeg's own AAC encoder, its "fast" coder: a third of the default "twoloop" coder's CPU (0.31 vs 1.02 s for a
    # 30 s stereo mix on this project's 2-core machine) and closer to the mix where speech is (a Piper reel's voice:
    # waveform SNR 41 vs 26 dB; log-spectral distance on speech frames 0.93 vs 1.88 dB up to 4 kHz, 1.75 vs 2.39 dB up
    # to 8 kHz; twoloop is closer only at 8-11 kHz, 3.2 vs 4.5 dB to 11 kHz). FFmpeg's AAC maintainer made it the
    # default in 2018 for sounding better than twoloop at higher bitrates (commit fcb681ac). None: ffmpeg's default.
    aac_coder: str | None = "fast"
    threads: int | None = None

    def ffmpeg_params(self, fps: int) -> list[str]:
        gop = str(2 * fps)
        return [*(["-x264-params", self.x264_params] if self.x264_params else []),
                "-profile:v", "high", "-level:v", "4.1", "-crf", str(self.crf), "-g", gop, "-keyint_min", gop,
                "-sc_threshold", "0", "-flags", "+cgop", "-bf", "2", "-r", str(fps),
                "-movflags", "+faststart", "-ar", str(AUDIO_RATE_HZ), "-ac", "2", "-pix_fmt", "yuv420p"]


@dataclass(frozen=True)
class ComposeResult:
    path: Path
    cover_path: Path
    srt_path: Path | None
    captions_json_path: Path | None
    duration_s: float
    frames: int
    fps: int
    width: int
    height: int
    seconds: float
    loudness_lufs: float
    warnings: tuple[str, ...] = ()
    trace: dict[str, Any] = field(default_factory=dict)
    #: what QA measured on the frames and audio as they went to the encoder (render.qa.inrender.RenderMeasurement); None when not measured
    qa: Any = None


_DECODE_ERRORS = ToolErrors(error=ComposeError, cannot_start="install ffmpeg (pip install imageio-ffmpeg)", damaged="give a WAV, MP3 or M4A file")


def load_track(path: Path, rate: int = AUDIO_RATE_HZ, *, label: str = "audio") -> np.ndarray:
    """Any audio file as mono float32 in [-1, 1] at ``rate`` (ffmpeg decodes and resamples)."""
    if not path.exists():
        raise ComposeError(f"{label} {str(path)!r}: no such file; check the path")

    def undecodable(stderr: bytes) -> ComposeError:
        reason = stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no audio stream"]
        return ComposeError(f"{label} {str(path)!r}: cannot be decoded ({reason[0]}); give a WAV, MP3 or M4A file")

    # The ffmpeg moviepy encodes with decodes too, so a reel's audio never depends on which ffmpeg is on PATH.
    ffmpeg = find_ffmpeg(prefer_bundled=True) or "ffmpeg"
    decoded = decode(path, ffmpeg=ffmpeg, rate_hz=rate, label=f"{label} {str(path)!r}", errors=_DECODE_ERRORS, unreadable=undecodable, timeout_s=300)
    if decoded.samples.size == 0:
        raise undecodable(decoded.stderr)
    samples = decoded.samples             # float32, decode's own array: clipped in place, not copied twice more
    np.clip(samples, -1.0, 1.0, out=samples)
    return samples


def _envelope(samples: np.ndarray, rate: int, window_s: float = 0.05) -> np.ndarray:
    size = max(int(window_s * rate), 1)
    power = np.convolve(samples.astype(np.float64) ** 2, np.ones(size) / size, mode="same")
    return np.sqrt(power).astype(np.float32)


def duck(music: np.ndarray, voice: np.ndarray, rate: int, *, depth_db: float = -14.0, bed_db: float = -20.0) -> np.ndarray:
    """The music bed at ``bed_db`` under the voice's level, pulled down ``depth_db`` more while someone speaks."""
    n = len(voice)
    if len(music) < n:
        reps = int(math.ceil(n / max(len(music), 1)))
        music = np.tile(music, reps)
    music = music[:n].astype(np.float32)
    voice_lufs = integrated_loudness(voice, rate) if np.abs(voice).max() > 1e-4 else -30.0
    music_lufs = integrated_loudness(music, rate) if np.abs(music).max() > 1e-4 else -70.0
    if not math.isfinite(music_lufs) or music_lufs < -69:
        return np.zeros(n, dtype=np.float32)
    base_gain = 10 ** ((voice_lufs + bed_db - music_lufs) / 20.0)
    speech = _envelope(voice, rate)
    active = (speech > max(float(np.percentile(speech, 95)) * 0.1, 1e-4)).astype(np.float32)
    # Attack 60 ms, release 400 ms, computed on 10 ms blocks then interpolated.
    block = rate // 100
    blocks = active[: len(active) // block * block].reshape(-1, block).max(axis=1) if len(active) >= block else active[:1]
    gain_db = np.empty(len(blocks), dtype=np.float32)
    state = 0.0
    for i, on in enumerate(blocks):
        target = depth_db if on > 0 else 0.0
        coeff = 1 - math.exp(-1 / 6.0) if target < state else 1 - math.exp(-1 / 40.0)
        state += coeff * (target - state)
        gain_db[i] = state
    gains = np.interp(np.arange(n) / block, np.arange(len(gain_db)), gain_db) if len(gain_db) > 1 else np.zeros(n)
    fade = np.ones(n, dtype=np.float32)
    edge = min(int(1.0 * rate), n // 4)
    if edge > 0:
        fade[:edge] = np.linspace(0, 1, edge)
        fade[-edge:] = np.linspace(1, 0, edge)
    return (music * base_gain * 10 ** (gains / 20.0) * fade).astype(np.float32)


#: master's limiter works through the mix this many samples at a time (about 5 s at 48 kHz)
LIMIT_CHUNK = 1 << 18


def _limit(mix: np.ndarray) -> None:
    """The soft limiter, in place on float32 ``mix``: samples over the knee (80 % of the ceiling) are bent under the
    ceiling with tanh. Piece by piece and only on the samples over the knee: each gets exactly the float32 operations
    the whole-array expression gave it, without five whole-reel temporaries."""
    knee = PEAK_CEILING * 0.8
    for start in range(0, len(mix), LIMIT_CHUNK):
        part = mix[start:start + LIMIT_CHUNK]
        over = np.abs(part) > knee
        if over.any():
            loud = part[over]
            part[over] = np.sign(loud) * (knee + (PEAK_CEILING - knee) * np.tanh((np.abs(loud) - knee) / (PEAK_CEILING - knee)))


def master(voice: np.ndarray, rate: int, *, music: np.ndarray | None = None, target_lufs: float = TARGET_LUFS) -> tuple[np.ndarray, float]:
    """Mix and normalise: returns (samples, integrated loudness in LUFS).

    The mix is the one whole-reel array made here (float32, changed in place): a 90 s reel's mastering peaked at
    about five copies of its audio before."""
    mix = np.array(voice, dtype=np.float32)
    if music is not None and len(music):
        mix += duck(music, voice, rate)
    # The file carries the mix on two identical channels, which BS.1770 measures 3 LU louder than mono.
    loudness = integrated_loudness(mix, rate) + DUAL_MONO_LU
    if math.isfinite(loudness) and loudness > -70:
        mix *= 10 ** ((target_lufs - loudness) / 20.0)
    # A soft limiter keeps peaks under about -1 dBFS after the gain (the peak found without a copy: |x| is exact).
    peak = float(max(mix.max(), -mix.min())) if len(mix) else 0.0
    if peak > PEAK_CEILING:
        _limit(mix)
    final = integrated_loudness(mix, rate) + DUAL_MONO_LU if len(mix) > rate // 2 else float("nan")
    return mix, float(final)


#: the hook title's top edge, as a share of the frame height (just under Instagram's top overlay)
TITLE_TOP_SHARE = 0.15
TITLE_FACE_MARGIN_SHARE = 0.012
MIN_TITLE_FONT_PX = 36


def _place_title(text: str, stream: Any) -> tuple[np.ndarray, int]:
    """The hook title card and its top row: above the face, never over it, inside the safe top.

    The card starts at 15 % of the height; when the face's box begins before the card would end,
    the card moves up to the safe area's top (14 %), then shrinks its font (down to 36 px) until
    it ends above the forehead. A face so high that even that does not fit keeps the smallest card."""
    from render.captions.layout import safe_area

    top = int(TITLE_TOP_SHARE * stream.height)
    face = getattr(stream, "face_box", None)
    card = render_title(text, stream.width)[0]
    if face is None:
        return card.copy(), top
    safe_top = safe_area(stream.width, stream.height).y_px
    limit = int(face.y) - int(TITLE_FACE_MARGIN_SHARE * stream.height)
    if top + card.shape[0] <= limit:
        return card.copy(), top
    top = safe_top
    size = 64
    while top + card.shape[0] > limit and size > MIN_TITLE_FONT_PX:
        size -= 4
        card = render_title(text, stream.width, font_size_px=size)[0]
    return card.copy(), top


def render_title(text: str, width: int, *, font_size_px: int = 64) -> tuple[np.ndarray, int]:
    """A hook title card (RGBA) that fits ``width`` px: bold white text on a rounded translucent panel."""
    from PIL import Image, ImageDraw, ImageFont

    font_path = _bold_font()
    size = font_size_px
    max_w = int(width * 0.84)
    while True:
        font = ImageFont.truetype(font_path, size) if font_path else ImageFont.load_default()
        words, lines, line = text.split(), [], ""
        for word in words:
            trial = f"{line} {word}".strip()
            if font.getlength(trial) <= max_w - 60 or not line:
                line = trial
            else:
                lines.append(line)
                line = word
        if line:
            lines.append(line)
        widest = max((font.getlength(item) for item in lines), default=0)
        if (len(lines) <= 3 and widest <= max_w - 60) or size <= 28:
            break
        size -= 4
    ascent, descent = font.getmetrics() if hasattr(font, "getmetrics") else (size, size // 4)
    line_h = ascent + descent + 6
    panel_w, panel_h = int(min(max_w, widest + 60)), line_h * len(lines) + 40
    card = Image.new("RGBA", (panel_w, panel_h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(card)
    draw.rounded_rectangle((0, 0, panel_w - 1, panel_h - 1), radius=28, fill=(12, 12, 16, 190))
    for i, item in enumerate(lines):
        w = font.getlength(item)
        draw.text(((panel_w - w) / 2, 20 + i * line_h), item, font=font, fill=(255, 255, 255, 255))
    return np.asarray(card, dtype=np.uint8), panel_h


def _bold_font() -> str | None:
    for candidate in ("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", "/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf"):
        if Path(candidate).exists():
            return candidate
    try:
        from matplotlib import font_manager

        return font_manager.findfont(font_manager.FontProperties(family="DejaVu Sans", weight="bold"))
    except Exception:  # noqa: BLE001 - any failure means "no font file": PIL's default is used
        return None


class _FrameFeed:
    """Renders, decorates and converts frames on a worker thread a few frames ahead of the encoder.

    The worker hands the encoder planar YUV 4:2:0 (BT.601, limited range: what ffmpeg's own
    RGB conversion makes), converted by OpenCV, which releases the GIL: the pipe carries half
    the bytes of RGB, ffmpeg skips its single-threaded colour conversion, and rendering the
    next frame overlaps with writing this one. A ``planar`` renderer's frames are I420 already and go as they are.
    ``current`` is the last frame (the cover's fallback), in the renderer's format.
    """

    AHEAD = 3

    def __init__(self, frames: Iterator[np.ndarray], fps: int, n_frames: int, decorate: Callable[[np.ndarray, int], np.ndarray],
                 progress: Callable[[int, int], None] | None, *, planar: bool = False,
                 measure: Callable[[np.ndarray, int], None] | None = None):
        self.frames, self.fps, self.n_frames, self.planar = frames, fps, n_frames, planar
        self.measure = measure      # called with each frame exactly as the encoder gets it (I420), in order
        self.decorate, self.progress = decorate, progress
        self.index, self.current = -1, None
        self._feed: Iterator[np.ndarray] | None = None

    def _produce(self) -> Iterator[np.ndarray]:
        """Runs on the read-ahead thread: each frame decorated and, from an RGB renderer, converted."""
        import cv2

        for index, frame in enumerate(self.frames):
            decorated = self.decorate(frame, index)
            self.current = decorated
            sent = decorated if self.planar else cv2.cvtColor(decorated, cv2.COLOR_RGB2YUV_I420)
            if self.measure is not None:
                self.measure(sent, index)
            yield sent
            if self.progress:
                self.progress(index + 1, self.n_frames)
            if index + 1 >= self.n_frames:
                return

    def __iter__(self) -> Iterator[np.ndarray]:
        """The YUV frames in order (at most ``n_frames``); a renderer's error is raised here."""
        if self.n_frames <= 0:
            return
        if self._feed is None:
            self._feed = read_ahead(self._produce(), self.AHEAD, name="reeltwin-frames")
        last = None
        for value in self._feed:
            self.index += 1
            last = value
            yield value
            if self.index + 1 >= self.n_frames:
                break
        if last is not None:   # a renderer that stops a frame or two short: the last frame holds to the audio's end
            for index in range(self.index + 1, self.n_frames):
                if self.measure is not None:
                    self.measure(last, index)
                yield last

    def close(self) -> None:
        """Stops the worker (after an error or an early end) and waits for it."""
        if self._feed is not None:
            self._feed.close()


PIPE_BYTES = 1 << 20


def _widen_pipe(pipe: Any) -> None:
    """Give the pipe to the encoder 1 MiB instead of Linux's 64 KiB: a 1080×1920 frame (3.1 MB) then crosses in 3 writes
    and reads, not 48. Measured piping 600 frames to ffmpeg: 3.1 -> 1.2-1.8 CPU s for both sides together (about 2.5
    CPU s of a 30 s reel). Where the system allows less (pipe-max-size) or is not Linux, the pipe stays as it is."""
    try:
        import fcntl
    except ImportError:     # not a POSIX system
        return
    set_size = getattr(fcntl, "F_SETPIPE_SZ", 1031)
    try:
        fcntl.fcntl(pipe.fileno(), set_size, PIPE_BYTES)
    except (OSError, ValueError):
        pass


def _encode(feed: _FrameFeed, audio_file: Path, out: Path, *, width: int, height: int, fps: int, duration: float,
            encode: EncodeSettings) -> None:
    """One ffmpeg process: raw YUV frames on stdin and the mixed WAV in, the Reels-spec MP4 out.

    Measured against moviepy's writer (RGB on the pipe, ffmpeg converting; the audio encoded in a
    pass of its own first) in ``bench/reel.py``; moviepy's per-frame path cost more than it served here.
    """
    import subprocess

    ffmpeg = find_ffmpeg(prefer_bundled=True)
    if ffmpeg is None:
        raise ComposeError("ffmpeg not found; install it (pip install imageio-ffmpeg)")
    command = [ffmpeg, "-y", "-hide_banner", "-loglevel", "error",
               "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{width}x{height}", "-r", str(fps), "-i", "-",
               "-t", f"{duration:.6f}", "-i", str(audio_file),
               "-map", "0:v:0", "-map", "1:a:0", "-c:v", "libx264", "-preset", encode.preset,
               *(["-threads", str(encode.threads)] if encode.threads else []),
               *encode.ffmpeg_params(fps),
               # the frames are sRGB converted with the BT.601 matrix in limited range: say so, so players convert back the same way
               "-colorspace", "smpte170m", "-color_range", "tv", "-color_primaries", "bt709", "-color_trc", "bt709",
               "-c:a", "aac", *(["-aac_coder", encode.aac_coder] if encode.aac_coder else []), "-b:a", encode.audio_bitrate,
               "-f", "mp4", str(out)]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log)
        _widen_pipe(process.stdin)
        # spliced into the pipe, not copied (render.media.splice): each frame stays held until ffmpeg has read it
        feeder = PipeFeeder(process.stdin)
        try:
            try:
                for frame in feed:
                    feeder.write(frame)
                process.stdin.close()
            except BrokenPipeError:
                pass    # the encoder stopped: its exit status and log say why
            code = process.wait()
        except BaseException:
            process.kill()
            process.wait()
            raise
        finally:
            feeder.release()     # the encoder has exited: nothing reads the frames' memory any more
        if code != 0:
            log.seek(0)
            lines = [line for line in log.read().decode("utf-8", "replace").splitlines() if line.strip()]
            raise OSError(lines[-1] if lines else f"ffmpeg exited with status {code}")


def compose(
    stream: Any,
    voice_path: Path,
    out_path: Path,
    *,
    captions: Any = None,
    music_path: Path | None = None,
    hook_title: str | None = None,
    hook_seconds: float = 2.5,
    encode: EncodeSettings = EncodeSettings(),
    progress: Callable[[int, int], None] | None = None,
    cover_at_s: float | None = None,
    measure: bool = True,
) -> ComposeResult:
    """Encode a FrameStream with its voice into a Reels-spec MP4 plus a JPEG cover (and .srt when captions are given).

    ``measure``: QA's in-render figures (render.qa.inrender) are taken from each frame as it goes to the encoder
    and from the mix, and returned as ``ComposeResult.qa`` for ``render.qa.check_reel(..., render=...)``."""
    from render.captions import blend_patch

    started = time.perf_counter()
    warnings: list[str] = []
    out_path = Path(out_path)
    if out_path.suffix.lower() != ".mp4":
        raise ComposeError(f"output {str(out_path)!r}: write an .mp4 file")
    voice = load_track(voice_path, label="audio")
    duration = len(voice) / AUDIO_RATE_HZ
    if duration > MAX_REEL_S:
        raise ComposeError(f"audio {str(voice_path)!r}: {duration / 60:.1f} min is longer than Instagram's 15 min limit; shorten the script")
    if duration > WARN_REEL_S:
        warnings.append(f"the reel is {duration:.0f} s long; reels over 90 s are not shown in the Reels tab")
    if duration < 3.0:
        warnings.append(f"the reel is {duration:.1f} s long; Instagram wants at least 3 s")
    music = load_track(music_path, label="music") if music_path else None
    mixed, loudness = master(voice, AUDIO_RATE_HZ, music=music)
    del voice, music       # the mix is the one whole-reel array kept (the encoder's WAV, QA's loudness envelope)
    out_path.parent.mkdir(parents=True, exist_ok=True)

    fps, n_frames = stream.fps, stream.n_frames
    title, title_y = _place_title(hook_title, stream) if hook_title else (None, 0)
    title_alpha = title[..., 3].copy() if title is not None else None
    cover_index = min(n_frames - 1, int((cover_at_s if cover_at_s is not None else min(1.0, duration / 3)) * fps))
    cover_path = out_path.with_suffix(".jpg")

    planar = getattr(stream, "pixel_format", "rgb24") == yuv.FORMAT

    def overlay(frame: np.ndarray, rgba: np.ndarray, x: int, y: int) -> None:
        """``rgba`` blended onto the frame at (x, y): directly on RGB; on an I420 frame through the patch's region only."""
        if not planar:
            blend_patch(frame, rgba, x, y)
            return
        box = yuv.even_box(x, y, x + rgba.shape[1], y + rgba.shape[0], stream.width, stream.height)
        if box[2] <= box[0] or box[3] <= box[1]:
            return
        with yuv.rgb_region(frame, box) as part:
            blend_patch(part, rgba, x - box[0], y - box[1])

    def decorate(frame: np.ndarray, index: int) -> np.ndarray:
        t = index / fps
        if title is not None and t < hook_seconds:
            fade = max(0.0, min(1.0, (hook_seconds - t) / 0.3, (t + 0.2) / 0.2))
            title[..., 3] = (title_alpha * fade).astype(np.uint8)
            overlay(frame, title, (stream.width - title.shape[1]) // 2, title_y)
        if captions is not None:
            caption = captions.overlay_at(t)
            if caption is not None:
                _blend_caption(frame, *caption)
        if index == cover_index:
            _save_cover(yuv.to_rgb(frame) if planar else frame, cover_path)
        return frame

    memo: dict[str, Any] = {}

    prepared: OrderedDict[tuple[int, int, int], tuple[np.ndarray, yuv.Overlay]] = OrderedDict()

    def _blend_caption(frame: np.ndarray, rgba: np.ndarray, x: int, y: int) -> None:
        if planar:
            # An I420 frame takes the caption straight in YUV (no RGB round trip of the pixels under it): the
            # patch is converted once per caption state (chunk and lit word), then each frame costs a few
            # multiply-adds over the patch's opaque rows (~0.2 ms against ~4 ms through RGB for a 30 s reel's block).
            key = (id(rgba), x, y)
            entry = prepared.get(key)
            if entry is None or entry[0] is not rgba:
                entry = prepared[key] = (rgba, yuv.Overlay(rgba, x, y))
                if len(prepared) > 16:
                    prepared.popitem(last=False)
            entry[1].blend(frame)
            return
        # A caption shows for many frames over pixels that mostly do not move (it sits below the mouth):
        # when the patch and the pixels under it are the same as last frame, reuse last frame's blend.
        h, w = rgba.shape[:2]
        unders = [frame[max(0, y): y + h, max(0, x): x + w]]
        if (memo.get("patch") is rgba and memo["at"] == (x, y)
                and all(np.array_equal(before, now) for before, now in zip(memo["under"], unders))):
            for now, blended in zip(unders, memo["blended"]):
                now[...] = blended
            return
        memo.update(patch=rgba, at=(x, y), under=[under.copy() for under in unders])
        overlay(frame, rgba, x, y)
        memo["blended"] = [under.copy() for under in unders]

    if stream.width % 2 or stream.height % 2:
        raise ComposeError(f"output {str(out_path)!r}: {stream.width}x{stream.height} has an odd side; H.264 4:2:0 needs even width and height")
    meter = None
    if measure:
        from render.qa.inrender import meter_for

        meter = meter_for(stream)
    feed = _FrameFeed(iter(stream), fps, n_frames, decorate, progress, planar=planar, measure=meter)
    video_duration = n_frames / fps
    with tempfile.TemporaryDirectory(prefix="reeltwin-compose-") as tmp:
        audio_file = write_wav(Path(tmp) / "mix.wav", mixed, AUDIO_RATE_HZ, channels=2, round_to_nearest=False)
        # The encode holds the job's peak (this process, the frames in flight and the encoder): what the stages before
        # it freed goes back to the system first, else the C heap keeps more of it the longer the reel (render.media.memory).
        release_free_memory()
        partial = out_path.with_name(out_path.stem + ".partial.mp4")
        try:
            with opencv_single_threaded():
                _encode(feed, audio_file, partial, width=stream.width, height=stream.height, fps=fps, duration=video_duration, encode=encode)
        except OSError as error:
            partial.unlink(missing_ok=True)
            if feed.index < 0:
                raise ComposeError("the avatar renderer produced no frames") from None
            raise ComposeError(f"output {str(out_path)!r}: the encoder failed ({str(error).splitlines()[0][:200]}); check free disk space") from None
        except BaseException:
            partial.unlink(missing_ok=True)   # a failed render leaves no half-written file behind
            raise
        finally:
            feed.close()
        if feed.index < 0:
            partial.unlink(missing_ok=True)
            raise ComposeError("the avatar renderer produced no frames")
        partial.replace(out_path)
    if not cover_path.exists() and feed.current is not None:
        _save_cover(yuv.to_rgb(feed.current) if planar else feed.current, cover_path)
    srt_path = json_path = None
    if captions is not None:
        srt_path = captions.write_srt(out_path.with_suffix(".srt"))
        json_path = out_path.with_suffix(".captions.json")
        captions.write_sidecar(json_path)
    return ComposeResult(path=out_path, cover_path=cover_path, srt_path=srt_path, captions_json_path=json_path,
                         duration_s=video_duration, frames=feed.index + 1, fps=fps, width=stream.width, height=stream.height,
                         seconds=time.perf_counter() - started, loudness_lufs=loudness, warnings=tuple(warnings),
                         trace=getattr(stream, "trace", {}),
                         qa=None if meter is None else meter.result(audio=mixed, audio_rate_hz=AUDIO_RATE_HZ, loudness_lufs=loudness,
                                                                    encoded=out_path))


def _save_cover(frame: np.ndarray, path: Path) -> None:
    from PIL import Image

    Image.fromarray(frame).save(path, format="JPEG", quality=90)
