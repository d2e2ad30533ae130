"""ReelTwin encoder table (issue 16): x264 presets, tunes and CRFs, time against quality on real ReelTwin frames.

    .venv/bin/python bench/encoder.py [--quick] [--seconds 10] [--sources photo,footage] [--out bench/results/encoder.md]
                                      [--keep DIR] [--no-vmaf] [--vmaf-every N]

1. References. A reel is rendered through the product (``agent.jobs.pipeline.render_files``: Piper voice, captions,
   the composer) once per source: ``photo`` (the cpu-mesh avatar from the astronaut photo) and ``footage`` (the
   footage avatar from tests/footage_clips.py's 12 s handheld clip, enrolled as a creator's clip is). While it renders,
   the planar YUV frames the composer hands to the encoder (and its mixed WAV) are copied aside: the first
   ``--seconds`` of them are the lossless reference, bit for bit what x264 is given in production.
2. Trials. Each setting encodes that reference through the product's own encoder call (``render.compose._encode``
   with an ``EncodeSettings``: the same ffmpeg, pipe, colour flags, GOP, profile and level flags, AAC audio), with a
   tune where the row has one. CPU seconds are the ffmpeg child's user + sys (RUSAGE_CHILDREN deltas), wall seconds
   the whole call. The current setting (veryfast, CRF 20) is measured first and again last, to show the run's noise.
3. Verdicts. Spec: ``render.qa.check_reel(lipsync=False)`` (QA's own H.264 High / yuv420p / 1080x1920 / CFR 30 /
   keyframe / faststart / audio checks) plus Instagram's published video bitrate limit (VBR, 25 Mbps maximum), applied
   to the highest 1 s window. Quality: SSIM (ffmpeg ``ssim``: Y and All, mean and worst frame) on every frame and
   VMAF (libvmaf in the ffmpeg imageio-ffmpeg ships: the standard vmaf_v0.6.1 model and its phone transform) against
   the reference. The floor is ``FLOOR_*`` below.

Prints a markdown table per source and writes it, with the recommendation, to ``--out``. ``--quick``: 4 s of the
photo reel only, three presets, CRF 20 and 23, no tunes (a smoke run). The full grid: every preset at CRF 20 and 23,
CRF 18 on superfast / veryfast / faster, the tunes film / fastdecode / zerolatency on superfast and veryfast at CRF 20, and
ultrafast with the 8x8 transform turned back on. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from render.compose import EncodeSettings  # noqa: E402  (the product's encoder settings and args builder)

#: Instagram's published Reels limit (Graph API reel specs: "Video bitrate: VBR, 25Mbps maximum")
MAX_VIDEO_MBPS = 25.0
#: The quality floor. VMAF with the standard model (a 1080p screen at 3 picture heights) is stricter than its phone
#: transform, so a floor set on it holds on a phone. Mean 93 is the usual "excellent, indistinguishable for most
#: viewers" line and about one JND (~6 VMAF points) under the ceiling; Instagram re-encodes every upload, so nothing
#: under it is acceptable as a starting point. The worst sampled frame must stay >= 85 (no visible pumping on a
#: keyframe or a burst of motion), and SSIM (All, mean) >= 0.98 is the usual "visually lossless" line.
FLOOR_VMAF_MEAN = 93.0
FLOOR_VMAF_MIN = 85.0
FLOOR_SSIM_ALL = 0.98
#: the product's setting, read from render/compose.py EncodeSettings(): preset, tune, crf, x264-params
CURRENT = (EncodeSettings().preset, None, EncodeSettings().crf, EncodeSettings().x264_params)

PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium")
CRFS = (20, 23)
#: CRF 18 only where a faster preset might need it to stay above the floor (the slow presets at 18 cost minutes of CPU)
CRF18_PRESETS = ("superfast", "veryfast", "faster")
TUNES = ("film", "fastdecode", "zerolatency")
TUNE_PRESETS = ("superfast", "veryfast")
TUNE_CRF = 20


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class TrialSettings(EncodeSettings):
    """EncodeSettings plus what a row varies beyond preset and CRF (a tune, x264 parameters), added as the product would add them."""

    tune: str | None = None
    x264_params: str | None = None      # a row's own x264 parameters replace the product's (EncodeSettings.ffmpeg_params adds them)

    def ffmpeg_params(self, fps: int) -> list[str]:
        return (["-tune", self.tune] if self.tune else []) + super().ffmpeg_params(fps)

    @property
    def label(self) -> tuple[str, str, int, str]:
        return self.preset, self.tune or "–", self.crf, self.x264_params or ""


def grid(quick: bool) -> list[TrialSettings]:
    """The rows: every preset at each CRF without a tune, then the tunes on the presets around the current one."""
    if quick:
        return [TrialSettings(preset=p, crf=c) for p in ("superfast", "veryfast", "faster") for c in (20, 23)]
    rows = [TrialSettings(preset=p, crf=c) for p in PRESETS for c in ((18, *CRFS) if p in CRF18_PRESETS else CRFS)]
    rows += [TrialSettings(preset=p, crf=TUNE_CRF, tune=t) for t in TUNES for p in TUNE_PRESETS]
    # ultrafast turns the 8x8 transform off, which alone decides High against Main: is it a cheap High if turned back on?
    rows.append(TrialSettings(preset="ultrafast", crf=TUNE_CRF, x264_params="8x8dct=1"))
    return rows


def parse_rows(text: str) -> list[TrialSettings]:
    """``preset[:tune][+x264params]/crf`` items, comma-separated: ``ultrafast+8x8dct=1/20,superfast:fastdecode/20``."""
    rows = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, crf = item.partition("/")
        name, _, params = name.partition("+")
        preset, _, tune = name.partition(":")
        rows.append(TrialSettings(preset=preset, crf=int(crf), tune=tune or None, x264_params=params or None))
    return rows


def current_settings() -> TrialSettings:
    preset, tune, crf, params = CURRENT
    return TrialSettings(preset=preset, crf=crf, tune=tune, x264_params=params)


# --------------------------------------------------------------------------- the lossless reference


@dataclass(frozen=True)
class Reference:
    """Raw planar YUV 4:2:0 frames exactly as the composer piped them to x264, and the WAV it muxed."""

    name: str
    raw: Path
    audio: Path
    width: int
    height: int
    fps: int
    frames: int
    detail: str = ""

    @property
    def frame_bytes(self) -> int:
        return self.width * self.height * 3 // 2

    @property
    def duration_s(self) -> float:
        return self.frames / self.fps

    def read(self) -> Iterator[bytes]:
        with open(self.raw, "rb", buffering=0) as stream:
            for _ in range(self.frames):
                frame = stream.read(self.frame_bytes)
                if len(frame) < self.frame_bytes:
                    return
                yield frame


@contextmanager
def capture_encoder_input(folder: Path, name: str, max_frames: int) -> Iterator[dict[str, Any]]:
    """While active, every compose() also copies the first ``max_frames`` frames it encodes (and its mixed WAV) into ``folder``.

    ``render.compose._encode`` is wrapped, not changed: the reel is still encoded in full as the product does.
    The dict yielded is filled with the Reference's fields once a reel has been composed."""
    import render.compose as composer

    original = composer._encode
    captured: dict[str, Any] = {}

    def tee(feed: Any, audio_file: Path, out: Path, *, width: int, height: int, fps: int, duration: float, encode: Any) -> None:
        raw, audio = folder / f"{name}.yuv", folder / f"{name}.wav"
        shutil.copyfile(audio_file, audio)
        count = 0
        with open(raw, "wb") as sink:
            def frames() -> Iterator[Any]:
                nonlocal count
                for frame in feed:
                    if count < max_frames:
                        sink.write(frame)
                        count += 1
                    yield frame

            original(frames(), audio_file, out, width=width, height=height, fps=fps, duration=duration, encode=encode)
        captured.update(name=name, raw=raw, audio=audio, width=width, height=height, fps=fps, frames=count)

    composer._encode = tee
    try:
        yield captured
    finally:
        composer._encode = original


def _settings(project: Path) -> Any:
    from agent.settings import load_settings

    os.environ["REELTWIN_DATA_DIR"] = str(project / "data")
    return load_settings(project).settings


def _script(seconds: float) -> str:
    from reel import SCRIPT, words_of  # bench/reel.py

    return words_of(SCRIPT, max(8, round(seconds * 2.7) + 3))   # Piper speaks ~2.4-2.6 words/s: a little more speech than needed


def render_reference(kind: str, work: Path, seconds: float, say: Callable[[str], None]) -> Reference:
    """Render a reel of ``kind`` (photo | footage | grain) through the product and keep its first ``seconds`` of encoder input.

    A reference kept in ``work`` by an earlier run (``--keep``) with at least that many frames is used again."""
    meta = work / f"{kind}.json"
    if meta.exists():
        stored = json.loads(meta.read_text(encoding="utf-8"))
        fields = {**stored, "raw": Path(stored["raw"]), "audio": Path(stored["audio"])}
        wanted = int(round(seconds * fields["fps"]))
        if fields["raw"].exists() and fields["audio"].exists() and fields["frames"] >= wanted:
            fields.update(frames=wanted, detail=fields["detail"] + f"; reference rendered by an earlier run, kept in {work}")
            say(f"{kind}: using the reference kept in {work}")
            return Reference(**fields)
    reference = _render_reference(kind, work, seconds, say)
    meta.write_text(json.dumps({**reference.__dict__, "raw": str(reference.raw), "audio": str(reference.audio)}), encoding="utf-8")
    return reference


def _render_reference(kind: str, work: Path, seconds: float, say: Callable[[str], None]) -> Reference:
    from agent.jobs.pipeline import render_files

    folder = work / kind
    folder.mkdir(parents=True, exist_ok=True)
    settings = _settings(folder)
    max_frames = int(round(seconds * settings.avatar.fps))
    text = _script(seconds)
    started = time.perf_counter()
    if kind == "photo":
        sys.path.insert(0, str(REPO / "tests"))
        from footage_clips import astronaut_png

        photo = astronaut_png(folder)
        with capture_encoder_input(work, kind, max_frames) as captured:
            result = render_files(settings, photo=photo, text=text, out=folder / "reel.mp4")
        detail = "cpu-mesh avatar from skimage's astronaut photo, Piper voice, captions"
    elif kind in ("footage", "grain"):
        sys.path.insert(0, str(REPO / "tests"))
        from footage_clips import make_clip

        from render.face import footage as F

        raw_clip = make_clip(folder, "handheld.mp4", seconds=12.0)
        if kind == "grain":
            # a phone's sensor noise in indoor light: temporal grain, stronger in luma, kept by a fine re-encode
            grainy = folder / "handheld-grain.mp4"
            subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-y", "-i", str(raw_clip), "-vf",
                            "noise=c0s=10:c0f=t+u:c1s=5:c1f=t+u:c2s=5:c2f=t+u", "-c:v", "libx264", "-preset", "veryfast", "-crf", "12",
                            "-pix_fmt", "yuv420p", str(grainy)], check=True)
            raw_clip = grainy
        clip = folder / "handheld-norm.mp4"
        F.normalize(raw_clip, clip, label="handheld.mp4")
        analysis = F.analyze(clip, label="handheld.mp4")
        F.check(analysis, label="handheld.mp4")
        with capture_encoder_input(work, kind, max_frames) as captured:
            result = render_files(settings, video=clip, footage=analysis, text=text, out=folder / "reel.mp4")
        detail = ("footage avatar from tests/footage_clips.py's 12 s handheld clip (720×1280, the astronaut photo moved like a "
                  "hand-held phone), Piper voice, captions")
        if kind == "grain":
            detail += ("; the clip given temporal sensor-like grain first (ffmpeg `noise=c0s=10:c0f=t+u:c1s=5:c1f=t+u:c2s=5:c2f=t+u`, "
                       "re-encoded at CRF 12): a stand-in for real phone footage, which is never as clean as the test clip")
    else:
        raise ValueError(f"source {kind!r}: use photo, footage or grain")
    if not captured:
        raise RuntimeError(f"{kind}: the render did not go through render.compose._encode; update bench/encoder.py")
    say(f"{kind}: rendered a {result.duration_s:.1f} s reel in {time.perf_counter() - started:.1f} s "
        f"(QA {'passed' if result.qa_passed else 'FAILED'}); kept {captured['frames']} frames as the reference")
    return Reference(detail=f"{detail}; the reel's QA {'passed' if result.qa_passed else 'failed'}", **captured)


def raw_reference(raw: Path, audio: Path, *, width: int, height: int, fps: int, name: str = "clip") -> Reference:
    """A Reference from a raw yuv420p file made elsewhere (the tests' generated clips)."""
    frames = raw.stat().st_size // (width * height * 3 // 2)
    return Reference(name=name, raw=raw, audio=audio, width=width, height=height, fps=fps, frames=frames)


# --------------------------------------------------------------------------- one trial


@dataclass
class Trial:
    settings: TrialSettings
    cpu_s: float
    wall_s: float
    size_bytes: int
    video_mbps: float
    peak_mbps: float
    profile: str | None
    spec_ok: bool
    spec_failures: list[str]
    quality: dict[str, float]
    floor_ok: bool
    note: str = ""
    repeat: bool = False
    measure_cpu_s: float = 0.0      # CPU of the spec check and the quality measurement (ffmpeg children + this process)

    @property
    def meets(self) -> bool:
        return self.spec_ok and self.floor_ok


def encode(reference: Reference, settings: EncodeSettings, out: Path) -> tuple[float, float]:
    """Encode the reference through the product's encoder call: (ffmpeg's CPU seconds, wall seconds)."""
    from render.compose import _encode

    before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    _encode(reference.read(), reference.audio, out, width=reference.width, height=reference.height, fps=reference.fps,
            duration=reference.duration_s, encode=settings)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, wall


def video_bitrates(path: Path, fps: int) -> tuple[float, float]:
    """(average, highest 1 s window) video bitrate in Mbit/s, from the MP4's sample table."""
    import numpy as np

    from render.qa.mp4_atoms import read_structure

    track = read_structure(path).track("vide")
    if track is None or not len(track.sample_sizes):
        return math.nan, math.nan
    seconds = track.duration_ticks / track.timescale
    sizes = track.sample_sizes.astype(np.float64)
    window = min(fps, len(sizes))
    peak = float(np.convolve(sizes, np.ones(window), mode="valid").max()) * 8 / (window / fps)
    return float(sizes.sum()) * 8 / seconds / 1e6, peak / 1e6


def spec_verdict(path: Path, fps: int) -> tuple[bool, str | None, list[str], float, float]:
    """(meets the spec, H.264 profile, what fails, average Mbit/s, peak 1 s Mbit/s): QA's checks plus the bitrate limit."""
    from render.qa import check_reel

    report = check_reel(path, lipsync=False)
    profile = next((str(check.value) for check in report.checks if check.name == "video_profile"), None)
    failures = [f"{check.name} {check.value}" for check in report.checks if not check.passed]
    mbps, peak = video_bitrates(path, fps)
    if not peak <= MAX_VIDEO_MBPS:
        failures.append(f"peak {peak:.1f} Mbit/s > {MAX_VIDEO_MBPS:g}")
    hard = report.passed and peak <= MAX_VIDEO_MBPS
    # soft QA checks (closed GOP, keyframe interval) are Instagram requirements too: count them
    return hard and not failures, profile, failures, mbps, peak


def vmaf_available(ffmpeg: str) -> bool:
    found = subprocess.run([ffmpeg, "-hide_banner", "-filters"], capture_output=True, text=True, check=False).stdout
    return bool(re.search(r"^\s*\S+\s+libvmaf\s", found, re.MULTILINE))


def quality(distorted: Path, reference: Reference, *, vmaf: bool = True, vmaf_every: int = 1, ffmpeg: str | None = None,
            distorted_is_raw: bool = False) -> dict[str, float]:
    """SSIM (every frame) and VMAF (every ``vmaf_every``-th frame) of ``distorted`` against the raw reference frames
    (``distorted_is_raw``: ``distorted`` is raw frames of the reference's size too, e.g. the reference itself: the ceiling).

    Keys: frames, ssim_y, ssim_all, ssim_all_min (worst frame), psnr_y; with vmaf: vmaf, vmaf_min, vmaf_phone."""
    from render.media.ffmpeg import find_ffmpeg

    ffmpeg = ffmpeg or find_ffmpeg(prefer_bundled=True) or "ffmpeg"
    with tempfile.TemporaryDirectory(prefix="reeltwin-quality-") as folder:
        ssim_graph = "[d0][r0]ssim=stats_file=ssim.log"
        # frames paired by index, not timestamp: an MP4's millisecond-rounded times against the raw input's 1/30 s ones
        # pair every other frame with its neighbour (framesync picks the latest frame at or before each time)
        index = f"settb=1/{reference.fps},setpts=N"
        graph = (f"[0:v]{index},split=3[d0][d1][d2];[1:v]{index},split=3[r0][r1][r2];"
                 f"{ssim_graph};[d1][r1]psnr=stats_file=psnr.log")
        if vmaf:
            models = r"version=vmaf_v0.6.1\:name=vmaf|version=vmaf_v0.6.1\:name=vmaf_phone\:enable_transform=true"
            graph += (f";[d2][r2]libvmaf=model='{models}':n_threads={os.cpu_count() or 1}:n_subsample={max(1, vmaf_every)}"
                      ":log_fmt=json:log_path=vmaf.json")
        else:
            graph += ";[d2]nullsink;[r2]nullsink"
        raw = ["-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{reference.width}x{reference.height}", "-r", str(reference.fps)]
        command = [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", *(raw if distorted_is_raw else []), "-i", str(distorted),
                   *raw, "-i", str(reference.raw), "-lavfi", graph, "-f", "null", "-"]
        done = subprocess.run(command, cwd=folder, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"quality measurement failed: {done.stderr.strip()[-400:]}")
        ys, alls = [], []
        for line in (Path(folder) / "ssim.log").read_text().splitlines():
            fields = dict(item.split(":", 1) for item in line.split() if ":" in item)
            ys.append(float(fields["Y"]))
            alls.append(float(fields["All"]))
        psnr = []
        for line in (Path(folder) / "psnr.log").read_text().splitlines():
            fields = dict(item.split(":", 1) for item in line.split() if ":" in item)
            psnr.append(float(fields["psnr_y"]))
        result = {"frames": float(len(alls)), "ssim_y": sum(ys) / len(ys), "ssim_all": sum(alls) / len(alls), "ssim_all_min": min(alls),
                  # identical frames: ffmpeg writes inf; the mean of PSNRs, as ffmpeg's own summary is not (it pools MSE)
                  "psnr_y": sum(min(p, 100.0) for p in psnr) / len(psnr)}
        if vmaf:
            log = json.loads((Path(folder) / "vmaf.json").read_text())
            pooled = log["pooled_metrics"]
            result.update(vmaf=pooled["vmaf"]["mean"], vmaf_min=pooled["vmaf"]["min"], vmaf_phone=pooled["vmaf_phone"]["mean"])
    return result


def floor_verdict(scores: dict[str, float]) -> bool:
    ok = scores["ssim_all"] >= FLOOR_SSIM_ALL
    if "vmaf" in scores:
        ok = ok and scores["vmaf"] >= FLOOR_VMAF_MEAN and scores["vmaf_min"] >= FLOOR_VMAF_MIN
    return ok


def measure(reference: Reference, settings: TrialSettings, out: Path, *, vmaf: bool = True, vmaf_every: int = 1,
            spec: bool = True) -> Trial:
    """Encode ``reference`` with ``settings`` as the product does, then time, check and score it (the table's core)."""
    cpu, wall = encode(reference, settings, out)
    measured_from = _cpu_now()
    if spec:
        spec_ok, profile, failures, mbps, peak = spec_verdict(out, reference.fps)
    else:
        (mbps, peak), spec_ok, profile, failures = video_bitrates(out, reference.fps), True, None, []
    scores = quality(out, reference, vmaf=vmaf, vmaf_every=vmaf_every)
    note = "" if int(scores["frames"]) == reference.frames else f"{int(scores['frames'])} of {reference.frames} frames compared"
    return Trial(settings=settings, cpu_s=cpu, wall_s=wall, size_bytes=out.stat().st_size, video_mbps=mbps, peak_mbps=peak, profile=profile,
                 spec_ok=spec_ok, spec_failures=failures, quality=scores, floor_ok=floor_verdict(scores), note=note,
                 measure_cpu_s=_cpu_now() - measured_from)


def _cpu_now() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


# --------------------------------------------------------------------------- the run


@dataclass
class SourceRun:
    reference: Reference
    trials: list[Trial] = field(default_factory=list)
    ceiling: dict[str, float] = field(default_factory=dict)   # the reference scored against itself

    def baseline(self) -> Trial:
        return next(trial for trial in self.trials if trial.settings == current_settings() and not trial.repeat)

    def repeat(self) -> Trial | None:
        return next((trial for trial in self.trials if trial.repeat), None)

    def by_label(self) -> dict[tuple[str, str, int, str], Trial]:
        return {trial.settings.label: trial for trial in self.trials if not trial.repeat}


def _row_name(settings: TrialSettings) -> str:
    name = settings.preset + (f" + `{settings.x264_params}`" if settings.x264_params else "")
    return name


def table(run: SourceRun, vmaf: bool) -> list[str]:
    base = run.baseline()
    heads = ["preset", "tune", "CRF", "CPU s", "CPU × current", "wall s", "Mbit/s avg / peak 1 s", "MB", "profile", "spec",
             "SSIM Y", "SSIM All (worst frame)", "PSNR Y dB"]
    if vmaf:
        heads += ["VMAF (worst)", "VMAF phone"]
    heads += ["floor", "meets both"]
    lines = ["| " + " | ".join(heads) + " |", "|" + "|".join("---:" if h not in ("preset", "tune", "profile", "spec") else "---"
                                                            for h in heads) + "|"]
    for trial in run.trials:
        s, q = trial.settings, trial.quality
        is_current = s == current_settings()
        name = _row_name(s) + (" (current)" if is_current and not trial.repeat else " (current, again at the end)" if trial.repeat else "")
        cells = [f"**{name}**" if is_current else name, s.tune or "–", str(s.crf), f"{trial.cpu_s:.2f}", f"{trial.cpu_s / base.cpu_s:.2f}",
                 f"{trial.wall_s:.2f}", f"{trial.video_mbps:.2f} / {trial.peak_mbps:.2f}", f"{trial.size_bytes / 1e6:.2f}", trial.profile or "?",
                 "✓" if trial.spec_ok else "✗ " + "; ".join(trial.spec_failures)[:80],
                 f"{q['ssim_y']:.4f}", f"{q['ssim_all']:.4f} ({q['ssim_all_min']:.4f})", f"{q['psnr_y']:.2f}"]
        if vmaf:
            cells += [f"{q['vmaf']:.2f} ({q['vmaf_min']:.2f})", f"{q['vmaf_phone']:.2f}"]
        cells += ["✓" if trial.floor_ok else "✗", "**✓**" if trial.meets else "✗"]
        if trial.note:
            cells[-1] += f" ({trial.note})"
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def recommend(runs: list[SourceRun]) -> tuple[list[str], TrialSettings | None]:
    """The fastest setting (least CPU, as a geometric mean of its CPU ratio to the current setting over the sources)
    that meets the spec and the floor on every source."""
    labels = [label for label in runs[0].by_label() if all(label in run.by_label() for run in runs)]
    candidates = []
    for label in labels:
        trials = [run.by_label()[label] for run in runs]
        if all(trial.meets for trial in trials):
            ratios = [trial.cpu_s / run.baseline().cpu_s for trial, run in zip(trials, runs)]
            candidates.append((math.exp(sum(math.log(r) for r in ratios) / len(ratios)), label, trials, ratios))
    candidates.sort(key=lambda item: item[0])
    lines: list[str] = []
    if not candidates:
        return ["No setting met the spec and the floor on every source."], None
    lines += ["| rank | setting (preset, tune, CRF) | CPU × current (geometric mean) | per source: CPU × current, wall × current, "
              "VMAF / SSIM All, Mbit/s |", "|---:|---|---:|---|"]
    for rank, (mean, label, trials, ratios) in enumerate(candidates[:8], 1):
        per = "; ".join(
            f"{run.reference.name} {ratio:.2f}×, {trial.wall_s / run.baseline().wall_s:.2f}×, "
            f"{trial.quality.get('vmaf', math.nan):.1f} / {trial.quality['ssim_all']:.4f}, {trial.video_mbps:.1f}"
            for run, trial, ratio in zip(runs, trials, ratios))
        preset, tune, crf, params = label
        lines.append(f"| {rank} | {preset}{' + ' + params if params else ''}, {tune}, {crf} | {mean:.2f} | {per} |")
    best = candidates[0][2][0].settings
    return lines, best


def run(args: argparse.Namespace) -> str:
    from render.media.ffmpeg import find_ffmpeg

    load_start = os.getloadavg()
    started_all = time.perf_counter()
    cpu_start = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)

    def say(text: str) -> None:
        print(f"[{time.perf_counter() - started_all:5.0f} s] {text}", file=sys.stderr, flush=True)

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="reeltwin-bench-encoder-"))
    work.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(REPO / "bench"))
    ffmpeg = find_ffmpeg(prefer_bundled=True) or "ffmpeg"
    use_vmaf = not args.no_vmaf and vmaf_available(ffmpeg)
    runs: list[SourceRun] = []
    rows = parse_rows(args.rows) if args.rows else grid(args.quick)
    try:
        for kind in args.sources:
            reference = render_reference(kind, work, args.seconds, say)
            source = SourceRun(reference)
            source.ceiling = quality(reference.raw, reference, vmaf=use_vmaf, vmaf_every=args.vmaf_every, distorted_is_raw=True)
            if source.ceiling["ssim_all_min"] < 1.0 or int(source.ceiling["frames"]) != reference.frames:
                raise RuntimeError(f"{kind}: the reference against itself scores SSIM {source.ceiling['ssim_all_min']}: frames misaligned")
            say(f"{kind}: ceiling (reference vs itself): SSIM {source.ceiling['ssim_all']:.4f}"
                + (f", VMAF {source.ceiling['vmaf']:.2f} (worst {source.ceiling['vmaf_min']:.2f})" if use_vmaf else ""))
            order = [current_settings()] + [row for row in rows if row != current_settings()]
            for index, settings in enumerate(order, 1):
                out = work / f"{kind}-{settings.preset}-{settings.tune or 'none'}-{settings.crf}{'-p' if settings.x264_params else ''}.mp4"
                trial = measure(reference, settings, out, vmaf=use_vmaf, vmaf_every=args.vmaf_every)
                source.trials.append(trial)
                q = trial.quality
                say(f"{kind} {index}/{len(order) + 1}: {_row_name(settings)} {settings.tune or ''} crf {settings.crf}: CPU {trial.cpu_s:.2f} s, "
                    f"wall {trial.wall_s:.2f} s, {trial.video_mbps:.2f} Mbit/s, {trial.profile}, SSIM {q['ssim_all']:.4f}"
                    + (f", VMAF {q['vmaf']:.2f}" if use_vmaf else "") + ("" if trial.meets else " — below spec or floor"))
                out.unlink(missing_ok=True)
            again = measure(reference, current_settings(), work / f"{kind}-again.mp4", vmaf=use_vmaf, vmaf_every=args.vmaf_every)
            again.repeat = True
            source.trials.append(again)
            say(f"{kind}: current setting again: CPU {again.cpu_s:.2f} s (first {source.baseline().cpu_s:.2f} s)")
            runs.append(source)
            if not args.keep:
                reference.raw.unlink(missing_ok=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    load_end = os.getloadavg()
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_total = (own.ru_utime + own.ru_stime - cpu_start[0].ru_utime - cpu_start[0].ru_stime
                 + children.ru_utime + children.ru_stime - cpu_start[1].ru_utime - cpu_start[1].ru_stime)

    # ---- the report
    when = datetime.now(timezone.utc)
    x264 = _x264_version(ffmpeg)
    command = "bench/encoder.py " + " ".join(sys.argv[1:])
    cpus = os.cpu_count() or 0
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cpus
    lines = [
        "## ReelTwin encoder table (issue 16): x264 settings, time against quality on real ReelTwin frames",
        "",
        f"{when:%Y-%m-%d %H:%M} UTC · {platform.node()} · {platform.processor() or platform.machine()} · {cpus} CPUs ({usable} usable) · "
        f"load average {load_start[0]:.2f} / {load_start[1]:.2f} (1 / 5 min) at start, {load_end[0]:.2f} / {load_end[1]:.2f} at end · "
        f"Python {platform.python_version()} · {x264}",
        "",
        f"Command: `.venv/bin/python {command.strip()}` · whole run {time.perf_counter() - started_all:.0f} s wall, {cpu_total:.0f} CPU s "
        "(renders, encodes, QA and quality measurement).",
        "",
        "Method: each reference is the first frames of a reel rendered by `render_files`, copied raw (yuv420p) as the composer "
        "piped them to x264 — the lossless reference is the encoder's exact input, not a decode. Each row encodes it through "
        "`render.compose._encode` (the product's ffmpeg command: `-c:v libx264 -preset P` + `EncodeSettings.ffmpeg_params` "
        "(`-profile:v high -level:v 4.1 -crf N -g 60 -keyint_min 60 -sc_threshold 0 -flags +cgop -bf 2 -r 30 -movflags +faststart "
        "-pix_fmt yuv420p`), BT.601 colour flags, AAC 128k), a tune added as `-tune T` before those. CPU s = the ffmpeg child's "
        "user + sys; wall s = the encode alone (in a render it overlaps the frame rendering). Spec = `render.qa.check_reel(lipsync=False)` "
        f"(every check, hard and soft: H.264 High, yuv420p, 1080×1920, CFR 30, keyframes ≤ 2 s, closed GOP, faststart, AAC) and "
        f"Instagram's video bitrate limit (VBR, {MAX_VIDEO_MBPS:g} Mbit/s maximum) on the highest 1 s window. Quality against the "
        "reference: SSIM (ffmpeg `ssim`, every frame: mean and worst), PSNR Y (mean over frames)"
        + (f", VMAF (libvmaf vmaf_v0.6.1, {'every frame' if args.vmaf_every == 1 else f'one frame in {args.vmaf_every}'}: mean and worst; "
           "`VMAF phone` is the same model's phone transform)" if use_vmaf else ", VMAF not measured")
        + ".",
        "",
        f"Quality floor: VMAF mean ≥ {FLOOR_VMAF_MEAN:g} and worst frame ≥ {FLOOR_VMAF_MIN:g} with the standard model (stricter than "
        f"the phone transform, so it holds on a phone), SSIM All ≥ {FLOOR_SSIM_ALL:g}. Why: 93 is the usual 'excellent, indistinguishable "
        "for most viewers' VMAF line, about one JND (~6 points) under the ceiling; Instagram re-encodes every upload, so the upload "
        "must start at least there; a worst frame ≥ 85 rules out visible pumping on a keyframe or a burst of motion; SSIM 0.98 is the "
        "usual 'visually lossless' line.",
        "",
    ]
    for source in runs:
        ref = source.reference
        base, again = source.baseline(), source.repeat()
        lines += [f"### {ref.name}: {ref.frames} frames ({ref.duration_s:.1f} s) {ref.width}×{ref.height} at {ref.fps} fps", "", ref.detail + ".", ""]
        c = source.ceiling
        if c:
            lines += [f"Ceiling — the reference scored against itself: SSIM All {c['ssim_all']:.4f}, PSNR Y capped at 100 dB"
                      + (f", VMAF {c['vmaf']:.2f} (worst {c['vmaf_min']:.2f}), VMAF phone {c['vmaf_phone']:.2f}"
                         + (f" (VMAF's standard model stays under 100 even for identical frames here: the floor of {FLOOR_VMAF_MEAN:g} "
                            f"sits {c['vmaf'] - FLOOR_VMAF_MEAN:.1f} points under what a perfect encode scores)" if c["vmaf"] < 99.5 else "")
                         if use_vmaf else "") + ".", ""]
        lines += table(source, use_vmaf)
        encode_cpu = sum(t.cpu_s for t in source.trials)
        measure_cpu = sum(t.measure_cpu_s for t in source.trials)
        lines += ["", f"CPU of this source's rows: encodes {encode_cpu:.0f} s, spec checks + quality measurement {measure_cpu:.0f} s."]
        if again is not None:
            lines += ["", f"Noise: the current setting measured first and last: CPU {base.cpu_s:.2f} s and {again.cpu_s:.2f} s "
                      f"({(again.cpu_s / base.cpu_s - 1) * 100:+.0f} %), wall {base.wall_s:.2f} s and {again.wall_s:.2f} s."]
        lines.append("")
    rec_lines, best = recommend(runs)
    lines += ["### Recommendation", "", "Settings that meet the spec and the floor on every source, fastest first (CPU time is what "
              "a batch of reels on 2 cores pays; ratios are against the current veryfast / CRF 20 in the same run):", ""]
    lines += rec_lines
    if best is not None:
        ratios = [source.by_label()[best.label].cpu_s / source.baseline().cpu_s for source in runs]
        lines += ["", f"**Fastest that meets both: preset `{best.preset}`"
                  + (f", tune `{best.tune}`" if best.tune else "") + (f", x264-params `{best.x264_params}`" if best.x264_params else "")
                  + f", CRF {best.crf}** — CPU × current: " + ", ".join(f"{s.reference.name} {r:.2f}×" for s, r in zip(runs, ratios)) + "."]
    out = Path(args.out)
    text = "\n".join(lines) + "\n"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return text


def _x264_version(ffmpeg: str) -> str:
    done = subprocess.run([ffmpeg, "-hide_banner", "-version"], capture_output=True, text=True, check=False)
    first = done.stdout.splitlines()[0] if done.stdout else "ffmpeg ?"
    return f"{first.split(' Copyright')[0]} (imageio-ffmpeg's, as the composer uses)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: 4 s of the photo reel, 3 presets × CRF 20/23, no tunes")
    parser.add_argument("--seconds", type=float, default=None, help="length of each reference (default 10; 4 with --quick)")
    parser.add_argument("--sources", default=None, help="comma-separated: photo,footage,grain (default photo,footage; photo with "
                        "--quick); grain: the footage path from the test clip with sensor-like grain added")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "encoder.md", help="markdown file to write")
    parser.add_argument("--keep", type=Path, default=None, help="keep the references and reels in this folder (default: a temporary folder, removed)")
    parser.add_argument("--rows", default=None, help="only these rows: preset[:tune][+x264params]/crf, comma-separated "
                        "(e.g. ultrafast+8x8dct=1/20,superfast:fastdecode/20); the current setting is always measured")
    parser.add_argument("--no-vmaf", action="store_true", help="SSIM and PSNR only")
    parser.add_argument("--vmaf-every", type=int, default=3, help="VMAF on every Nth frame (default 3; SSIM is always on every frame)")
    args = parser.parse_args()
    args.seconds = args.seconds or (4.0 if args.quick else 10.0)
    args.sources = [s.strip() for s in (args.sources or ("photo" if args.quick else "photo,footage")).split(",") if s.strip()]
    if args.seconds < 1:
        parser.error("--seconds must be at least 1")
    print(run(args))


if __name__ == "__main__":
    main()
