"""``check_reel``: measure a finished reel against the Reels spec and return every check's verdict."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from render.media.probe import MediaInfo
from render.qa.caption_placement import outside_safe_area, read_caption_boxes
from render.qa.inrender import RenderMeasurement
from render.qa.media_probe import ANALYSIS_RATE_HZ, read_reel_audio, probe_reel, reel_tools
from render.qa.mp4_atoms import Mp4Structure, NotMp4, Track, read_structure
from render.qa.report import QAError, ReelSpec
from render.types import Check, QAReport

logger = logging.getLogger(__name__)

#: avcC profile_idc -> the name ffprobe prints
_AVC_PROFILES = {66: "Baseline", 77: "Main", 88: "Extended", 100: "High", 110: "High 10", 122: "High 4:2:2", 244: "High 4:4:4 Predictive"}


def _fps_text(rate: Fraction | None) -> str:
    if rate is None:
        return "?"
    return str(rate.numerator) if rate.denominator == 1 else f"{float(rate):.3f}"


def check_reel(
    mp4_path: str | Path, *, sidecar: str | Path | None = None, expect: ReelSpec = ReelSpec(), lipsync: bool = True,
    timing: str | Path | None = None, render: RenderMeasurement | None = None,
) -> QAReport:
    """Check the reel at ``mp4_path`` against ``expect``; ``sidecar`` is the captions JSON (safe-area check), ``timing``
    the render's phoneme timings (``.timing.json``: lips close on p/b/m), ``lipsync=False`` skips the frame-by-frame face
    measurement (and the jump and lip-closure checks with it). QAError when the file is missing or not a video at all.

    ``render``: what the render measured on the frames and audio it gave the encoder (``ComposeResult.qa``, see
    ``render.qa.inrender``). With it the file is probed once and not decoded: loudness comes from the mix, lip sync,
    lip closures and jumps from the frames as sent, and the face (visible, identity, where the lips are) is sampled
    with mediapipe on the few frames the render sampled. It is used only when the file holds exactly the frames that were measured.
    Without it (a file alone) every frame is decoded and tracked."""
    started = time.perf_counter()
    path = Path(mp4_path)
    if path.is_dir():
        raise QAError(f"{str(path)!r} is a folder; give the path of a rendered reel (.mp4)")
    if not path.is_file():
        raise QAError(f"{str(path)!r} not found; give the path of a rendered reel (.mp4)")
    if path.stat().st_size == 0:
        raise QAError(f"{str(path)!r} is empty; render it again")
    tools = reel_tools()
    # The face workers load mediapipe while this process probes the file and measures its loudness.
    # (for a render's own figures one worker, started in the static mode its face samples need)
    workers = (_start_face_workers(1, static=True) if render is not None else _start_face_workers()) if lipsync else None
    try:
        return _check(path, tools, workers, sidecar=sidecar, expect=expect, lipsync=lipsync, timing=timing, started=started, render=render)
    finally:
        if workers is not None:
            workers.close()


def _start_face_workers(count: int | None = None, *, static: bool = False):  # noqa: ANN202 - FaceWorkers | None
    """The lip-sync workers (render.qa.face_worker), or None when mediapipe is not installed or they cannot start
    (the checks then say why, or track in this process); ``count``: how many (as many as help when None)."""
    import importlib.util

    if importlib.util.find_spec("mediapipe") is None:
        return None
    from render.qa.face_worker import FaceWorkers

    try:
        return FaceWorkers(count, static=static)
    except OSError as error:
        logger.warning("QA: cannot start the face workers (%s); tracking in this process", error)
        return None


def _check(
    path: Path, tools, workers, *, sidecar: str | Path | None, expect: ReelSpec, lipsync: bool,  # noqa: ANN001
    timing: str | Path | None, started: float, render: RenderMeasurement | None = None,
) -> QAReport:
    info = probe_reel(path, tools)
    if any(name == "image2" or name.endswith("_pipe") for name in info.format_names):
        raise QAError(f"{str(path)!r} is a still image, not a video; give the rendered reel (.mp4)")
    if info.video is None:
        raise QAError(f"{str(path)!r} has no video stream (audio only?); give the rendered reel (.mp4)")
    try:
        structure: Mp4Structure | None = read_structure(path)
        structure_problem = ""
    except NotMp4 as error:
        structure, structure_problem = None, str(error)

    checks: list[Check] = []
    figures: dict[str, object] = {}
    if render is not None:
        refused = _render_mismatch(render, path, info, structure)
        if refused:
            logger.warning("QA %s: the render's own measurements do not describe this file (%s); decoding it instead", path, refused)
            figures["in_render_refused"] = refused
            render = None
    figures["qa_route"] = "in-render" if render is not None else "file"
    checks += _container_checks(info, structure, structure_problem, expect)
    checks += _video_checks(info, structure, expect)
    audio_checks, loudness, samples = _audio_checks(path, info, structure, tools, expect, render=render)
    checks += audio_checks
    duration = info.duration_s
    if duration is None and structure is not None and structure.tracks:
        duration = max(track.duration_ticks / track.timescale for track in structure.tracks)
    checks += _duration_checks(duration, expect)

    lipsync_figures: dict[str, object] = {}
    if lipsync:
        video_track = structure.track("vide") if structure is not None else None
        if render is not None:
            lipsync_checks, lipsync_figures = _inrender_checks(path, info, tools.ffmpeg, render, expect, timing=timing, workers=workers,
                                                               video_track=video_track)
        else:
            lipsync_checks, lipsync_figures = _lipsync_checks(path, info, tools.ffmpeg, samples, expect, timing=timing, workers=workers,
                                                              video_track=video_track)
        checks += lipsync_checks
    figures.update(lipsync_figures.pop("extra", {}))  # type: ignore[arg-type]
    if sidecar is not None:
        checks += _caption_checks(Path(sidecar), info, figures.get("mouth_box_px"), expect)  # type: ignore[arg-type]
    figures["probe"] = info.source
    return QAReport(
        path=path, checks=tuple(checks), duration_s=round(duration, 3) if duration is not None else None,
        loudness_lufs=loudness, seconds=time.perf_counter() - started, extra=figures, **lipsync_figures,  # type: ignore[arg-type]
    )


# --------------------------------------------------------------------------- container


def _container_problem(info: MediaInfo, brand: str | None, problem: str) -> str:
    if "mp4" not in info.format_names:
        return f"ffmpeg reads it as {','.join(info.format_names)}"
    if brand == "qt":
        return "a QuickTime .mov"
    return problem or "unreadable MP4 structure"


def _container_checks(info: MediaInfo, structure: Mp4Structure | None, problem: str, expect: ReelSpec) -> list[Check]:
    checks = []
    megabytes = info.size_bytes / 1024 / 1024
    limit_mb = expect.max_size_bytes / 1024 / 1024
    checks.append(Check(
        "file_size", round(megabytes, 2), f"<= {limit_mb:.0f} MB", info.size_bytes <= expect.max_size_bytes, True,
        "" if info.size_bytes <= expect.max_size_bytes else f"{megabytes:.0f} MB is over Instagram's {limit_mb:.0f} MB; shorten the reel or lower its bitrate",
    ))
    brand = structure.major_brand if structure is not None else None
    # ffmpeg's demuxer for MP4 and QuickTime is one ("mov,mp4,..."): the major brand tells them apart
    is_mp4 = structure is not None and "mp4" in info.format_names and brand != "qt"
    checks.append(Check(
        "container", f"{','.join(info.format_names)} ({brand or 'no ftyp'})", "MP4", is_mp4, True,
        "" if is_mp4 else f"not an MP4 ({_container_problem(info, brand, problem)}); render it again as .mp4",
    ))
    if structure is None:
        checks.append(Check("faststart", None, "moov before mdat", False, True, "no MP4 atoms to read"))
        return checks
    moov, mdat = structure.first("moov"), structure.first("mdat")
    order = " ".join(structure.kinds[:6])
    if moov is None:
        passed, message = False, "no moov atom (the file was not finished); render it again"
    elif mdat is None and structure.fragmented:
        passed, message = False, "fragmented MP4; write a plain MP4 with -movflags +faststart"
    else:
        passed = mdat is None or moov < mdat
        message = "" if passed else "moov comes after mdat: the reel cannot start playing before it is fully downloaded; remux with ffmpeg -c copy -movflags +faststart"
    checks.append(Check("faststart", order, "moov before mdat", passed, True, message))
    return checks


# --------------------------------------------------------------------------- video


def _video_checks(info: MediaInfo, structure: Mp4Structure | None, expect: ReelSpec) -> list[Check]:
    video = info.video
    if video is None:
        return [Check("video_codec", None, expect.video_codec, False, True, "no video stream")]
    track = structure.track("vide") if structure is not None else None
    checks = [Check(
        "video_codec", video.codec, expect.video_codec, video.codec == expect.video_codec, True,
        "" if video.codec == expect.video_codec else f"video is {video.codec}; encode it with libx264",
    )]
    profile = video.profile or (_AVC_PROFILES.get(track.avc_profile_idc) if track is not None and track.avc_profile_idc else None)
    checks.append(Check(
        "video_profile", profile, expect.video_profile, profile == expect.video_profile, True,
        "" if profile == expect.video_profile else f"H.264 profile is {profile!r}; encode with -profile:v high (not -preset ultrafast, which forces Baseline)",
    ))
    checks.append(Check(
        "pixel_format", video.pixel_format, expect.pixel_format, video.pixel_format == expect.pixel_format, True,
        "" if video.pixel_format == expect.pixel_format else f"pixel format is {video.pixel_format!r}; encode with -pix_fmt yuv420p",
    ))
    size_ok = (video.width_px, video.height_px) == (expect.width_px, expect.height_px)
    checks.append(Check(
        "resolution", f"{video.width_px}x{video.height_px}", f"{expect.width_px}x{expect.height_px}", size_ok, True,
        "" if size_ok else f"frame is {video.width_px}x{video.height_px}; render at {expect.width_px}x{expect.height_px} (9:16)",
    ))
    checks.append(_frame_rate_check(video.r_frame_rate, video.avg_frame_rate, track, expect))
    if track is not None and len(track.decode_ticks):
        checks += _gop_checks(track, expect)
    return checks


def _frame_rate_check(r_rate: Fraction | None, avg_rate: Fraction | None, track: Track | None, expect: ReelSpec) -> Check:
    expected = f"constant {expect.fps} fps"
    problems = []
    if r_rate != expect.fps:
        problems.append(f"r_frame_rate {_fps_text(r_rate)}")
    if avg_rate is None or abs(float(avg_rate) - expect.fps) > 0.01 * expect.fps:
        problems.append(f"avg_frame_rate {_fps_text(avg_rate)}")
    value: object = _fps_text(avg_rate or r_rate)
    shown = track.presentation_ticks[track.shown] if track is not None and track.shown is not None else (track.presentation_ticks if track else None)
    if track is not None and shown is not None and len(shown) >= 2:
        durations = np.diff(np.sort(shown))
        nominal = track.timescale / expect.fps
        off = np.abs(durations - nominal) > max(1.0, nominal * 0.001)
        measured = track.timescale / float(np.median(durations)) if np.median(durations) > 0 else 0.0
        value = round(measured, 3)
        if off.any():
            shortest, longest = durations.min() / track.timescale * 1000, durations.max() / track.timescale * 1000
            problems.append(f"{int(off.sum())} of {len(durations)} frame durations are not {1000 / expect.fps:.2f} ms ({shortest:.1f}-{longest:.1f} ms)")
    message = "" if not problems else "; ".join(problems) + f": render at constant {expect.fps} fps (-r {expect.fps} -fps_mode cfr)"
    return Check("frame_rate", value, expected, not problems, True, message)


def _gop_checks(track: Track, expect: ReelSpec) -> list[Check]:
    seconds = track.presentation_ticks / track.timescale
    keyframes = np.flatnonzero(track.sync_samples)
    end = (track.presentation_ticks.max() - track.presentation_ticks.min()) / track.timescale + track.duration_ticks / track.timescale / len(seconds)
    starts = np.sort(seconds[keyframes] - seconds.min())
    gaps = np.diff(np.concatenate((starts, [end]))) if len(starts) else np.array([end])
    longest = float(gaps.max()) if len(gaps) else float(end)
    first_is_key = bool(track.sync_samples[0]) if len(track.sync_samples) else False
    interval_ok = longest <= expect.max_keyframe_interval_s + 1e-6 and first_is_key
    checks = [Check(
        "keyframe_interval", round(longest, 3), f"<= {expect.max_keyframe_interval_s:g} s", interval_ok, False,
        "" if interval_ok else (
            "the first frame is not a keyframe" if not first_is_key
            else f"keyframes up to {longest:.2f} s apart; encode with -g {int(expect.fps * expect.max_keyframe_interval_s)}"
        ),
    )]
    # Open GOP: after a keyframe (in decode order) come frames shown before it, which reference the previous GOP.
    open_at = []
    for index, key in enumerate(keyframes[1:], start=1):
        stop = keyframes[index + 1] if index + 1 < len(keyframes) else len(track.presentation_ticks)
        if (track.presentation_ticks[key + 1: stop] < track.presentation_ticks[key]).any():
            open_at.append(round(float(seconds[key] - seconds.min()), 3))
    checks.append(Check(
        "closed_gop", not open_at, "closed GOPs", not open_at, False,
        "" if not open_at else f"{len(open_at)} open GOP(s), first at {open_at[0]} s; encode with -x264-params open-gop=0",
    ))
    return checks


# --------------------------------------------------------------------------- audio


def _audio_checks(
    path: Path, info: MediaInfo, structure: Mp4Structure | None, tools, expect: ReelSpec,  # noqa: ANN001
    render: RenderMeasurement | None = None,
) -> tuple[list[Check], float | None, np.ndarray | None]:
    audio = info.audio
    if audio is None:
        return [Check("audio_codec", None, expect.audio_codec, False, True, "no audio stream; a reel needs its voice track")], None, None
    checks = [Check(
        "audio_codec", f"{audio.codec} ({audio.profile})" if audio.profile else audio.codec, expect.audio_codec, audio.codec == expect.audio_codec, True,
        "" if audio.codec == expect.audio_codec else f"audio is {audio.codec}; encode it with -c:a aac",
    )]
    rate_ok = audio.sample_rate_hz == expect.audio_sample_rate_hz
    checks.append(Check(
        "audio_sample_rate", audio.sample_rate_hz, f"{expect.audio_sample_rate_hz} Hz", rate_ok, True,
        "" if rate_ok else f"audio at {audio.sample_rate_hz} Hz; encode with -ar {expect.audio_sample_rate_hz}",
    ))
    channels_ok = audio.channels in (1, 2)
    checks.append(Check(
        "audio_channels", audio.channels, "1 or 2", channels_ok, True,
        "" if channels_ok else f"{audio.channels} audio channels; mix down with -ac 2",
    ))
    track = structure.track("soun") if structure is not None else None
    bitrate = audio.bitrate_bps
    if track is not None and track.duration_ticks > 0 and track.sample_sizes.sum() > 0:
        bitrate = int(track.sample_sizes.sum() * 8 / (track.duration_ticks / track.timescale))
    low, high = expect.audio_bitrate_bps * (1 - expect.audio_bitrate_tolerance), expect.audio_bitrate_bps * (1 + expect.audio_bitrate_tolerance)
    bitrate_ok = bitrate is not None and low <= bitrate <= high
    checks.append(Check(
        "audio_bitrate", round(bitrate / 1000, 1) if bitrate else None, f"about {expect.audio_bitrate_bps // 1000} kbps", bitrate_ok, False,
        "" if bitrate_ok else (
            f"audio at {bitrate // 1000} kbps; encode with -b:a {expect.audio_bitrate_bps // 1000}k" if bitrate else "audio bitrate unknown"
        ),
    ))
    if render is not None and render.audio is not None:
        # the mix as the encoder was given it (BS.1770 on both channels, as ebur128 measures the file)
        measured_lufs, samples = render.loudness_lufs, render.audio
        if measured_lufs is not None and (not np.isfinite(measured_lufs) or measured_lufs < -70.0):
            measured_lufs = None        # silence: BS.1770's gate leaves nothing to measure (ebur128 prints -70)
    else:
        decoded = read_reel_audio(path, tools)
        measured_lufs, samples = decoded.integrated_lufs, decoded.samples
    lufs = None if measured_lufs is None else round(measured_lufs, 2)
    loud_ok = lufs is not None and abs(lufs - expect.loudness_lufs) <= expect.loudness_tolerance_lu
    if lufs is None:
        message = "no loudness measured (silent audio?)"
    elif loud_ok:
        message = ""
    else:
        message = f"{'too quiet' if lufs < expect.loudness_lufs else 'too loud'} by {abs(lufs - expect.loudness_lufs):.1f} LU; normalize with loudnorm=I={expect.loudness_lufs:g}"
    checks.append(Check(
        "loudness", lufs, f"{expect.loudness_lufs:g} ± {expect.loudness_tolerance_lu:g} LUFS", loud_ok, True, message,
    ))
    return checks, lufs, samples


def _duration_checks(duration: float | None, expect: ReelSpec) -> list[Check]:
    if duration is None:
        return [Check("duration", None, f"{expect.min_duration_s:g}-{expect.max_duration_s:g} s", False, True, "duration unknown")]
    if duration < expect.min_duration_s:
        message = f"{duration:.2f} s is shorter than Instagram's {expect.min_duration_s:g} s minimum"
    elif duration > expect.max_duration_s:
        message = f"{duration:.0f} s is over Instagram's {expect.max_duration_s / 60:g} minute limit"
    else:
        message = ""
    checks = [Check(
        "duration", round(duration, 3), f"{expect.min_duration_s:g} s - {expect.max_duration_s / 60:g} min", not message, True, message,
    )]
    tab_ok = duration <= expect.warn_duration_s
    checks.append(Check(
        "duration_reels_tab", round(duration, 3), f"<= {expect.warn_duration_s:g} s", tab_ok, False,
        "" if tab_ok else f"{duration:.0f} s: reels over {expect.warn_duration_s:g} s post, but are not shown in the Reels tab",
    ))
    return checks


# --------------------------------------------------------------------------- lip sync and face


@dataclass(frozen=True)
class _FrameLayout:
    """The video track as its sample table tells it: frames shown, their rate when constant, where the keyframes are."""

    frames: int | None = None
    constant_fps: float | None = None        # None: not every frame lasts the same
    keyframes: tuple[int, ...] = ()          # display indices of the sync samples


def _frame_layout(track: Track | None) -> _FrameLayout:
    if track is None or not len(track.presentation_ticks):
        return _FrameLayout()
    shown = track.shown if track.shown is not None else np.ones(len(track.presentation_ticks), dtype=bool)
    ticks = track.presentation_ticks[shown]
    if len(ticks) < 2:
        return _FrameLayout(len(ticks))
    durations = np.diff(np.sort(ticks))
    nominal = float(np.median(durations))
    if nominal <= 0 or (np.abs(durations - nominal) > max(1.0, nominal * 0.001)).any():
        return _FrameLayout(len(ticks))
    display_index = np.empty(len(ticks), dtype=np.int64)
    display_index[np.argsort(ticks, kind="stable")] = np.arange(len(ticks))
    keys = display_index[track.sync_samples[shown]] if len(track.sync_samples) == len(shown) else np.zeros(0, dtype=np.int64)
    return _FrameLayout(len(ticks), track.timescale / nominal, tuple(int(key) for key in np.sort(keys)))


def _lipsync_checks(
    path: Path, info: MediaInfo, ffmpeg: str, samples: np.ndarray | None, expect: ReelSpec, *, timing: str | Path | None = None,
    workers=None, video_track: Track | None = None,  # noqa: ANN001 - render.qa.face_worker.FaceWorkers
) -> tuple[list[Check], dict[str, object]]:
    names = ("lipsync_lag", "lipsync_correlation", "face_visible", "no_jumps")
    if info.video is None:
        return [Check(name, None, "", False, True, "no video stream") for name in names], {}

    def unusable(reason: str) -> tuple[list[Check], dict[str, object]]:
        # fail here, naming the fix, rather than mid-measurement
        message = f"mediapipe 0.10.21 is not usable ({reason}); install the local extra: pip install 'reeltwin[local]'"
        return [Check(name, None, "", False, True, message) for name in names], {}

    from render.qa.lipsync import measure_lipsync

    fps = float(info.video.avg_frame_rate or info.video.r_frame_rate or expect.fps)
    track = None
    if workers is not None:
        from render.qa.face_worker import MediapipeUnusable, WorkerFailed

        layout = _frame_layout(video_track)
        try:
            track = workers.track(path, ffmpeg, width=info.video.width_px, height=info.video.height_px, fps=layout.constant_fps or fps,
                                  frames=layout.frames, split=layout.constant_fps is not None, keyframes=layout.keyframes)
        except MediapipeUnusable as error:
            return unusable(str(error))
        except WorkerFailed as error:
            logger.warning("QA: %s; tracking the face in this process instead", error)
    if track is None:
        try:
            import mediapipe

            mediapipe.solutions.face_mesh  # noqa: B018 - later mediapipe releases dropped it
        except (ImportError, AttributeError) as error:
            return unusable(f"{type(error).__name__}: {error}")
    measured = measure_lipsync(
        path, ffmpeg, width=info.video.width_px, height=info.video.height_px, fps=fps,
        audio=samples, sample_rate_hz=ANALYSIS_RATE_HZ, search_frames=expect.lipsync_search_frames, track=track,
    )

    checks = []
    closures = _bilabial_frames(Path(timing), measured.frames, fps) if timing is not None else None
    if closures is not None and closures.any() and measured.best_lag_frames is not None:
        measured = _without_closures(measured, closures, expect)
    no_audio = samples is None or not len(samples)
    checks += _sync_checks(measured, no_audio, expect)
    lag, correlation = measured.best_lag_frames, measured.correlation
    share = round(measured.face_visible_share, 4)
    face_ok = measured.face_visible_share >= expect.min_face_visible_share
    checks.append(Check(
        "face_visible", share, f">= {expect.min_face_visible_share:g} of frames", face_ok, True,
        "" if face_ok else f"a face was found on {share:.1%} of {measured.frames} frames",
    ))
    jump_check, jump_figures = _jump_check(measured.stable_motion, fps, expect)
    checks.append(jump_check)
    closure_figures: dict[str, object] = {}
    if timing is not None:
        closure_check, closure_figures = _closure_check(Path(timing), measured.mouth_opening, fps, expect)
        checks.append(closure_check)
        identity = _identity_check(Path(timing), measured.stable_px, expect)
        if identity is not None:
            checks.append(identity[0])
            closure_figures.update(identity[1])
    figures: dict[str, object] = {
        "lipsync_correlation": round(correlation, 4) if correlation is not None else None,
        "lipsync_lag_frames": lag,
        "face_visible_share": share,
        "extra": {
            "frames_measured": measured.frames,
            "lipsync_correlation_at_zero": round(measured.correlation_at_zero, 4) if measured.correlation_at_zero is not None else None,
            "lipsync_correlation_by_lag": {str(key): round(value, 4) for key, value in sorted(measured.correlation_by_lag.items())},
            "face_crop": list(measured.crop) if measured.crop else None,
            "mouth_box_px": [round(value, 1) for value in measured.mouth_box] if measured.mouth_box else None,
            **jump_figures, **closure_figures,
        },
    }
    return checks, figures



def _sync_checks(measured, no_audio: bool, expect: ReelSpec, *, no_face: str = "no face found, so no mouth to measure") -> list[Check]:  # noqa: ANN001
    """The lip-sync lag and correlation checks of a LipSyncMeasurement (the same words whichever way the mouth was measured)."""
    checks = []
    lag, correlation = measured.best_lag_frames, measured.correlation
    if lag is None:
        reason = "no audio to compare the mouth with" if no_audio else (
            no_face if measured.face_visible_share == 0 else "too few frames with a face, or a flat mouth or audio track, to correlate"
        )
        checks.append(Check("lipsync_lag", None, f"|lag| <= {expect.lipsync_max_lag_frames} frame", False, True, reason))
        checks.append(Check("lipsync_correlation", None, f">= {expect.lipsync_min_correlation:g}", False, True, reason))
        return checks
    lag_ok = abs(lag) <= expect.lipsync_max_lag_frames
    at_limit = " (at the edge of the search: maybe more)" if abs(lag) == expect.lipsync_search_frames else ""
    direction = "after" if lag > 0 else "before"
    checks.append(Check(
        "lipsync_lag", lag, f"|lag| <= {expect.lipsync_max_lag_frames} frame", lag_ok, True,
        "" if lag_ok else f"the mouth moves {abs(lag)} frame(s){at_limit} {direction} the sound; shift the audio or the viseme track",
    ))
    correlation_ok = correlation is not None and correlation >= expect.lipsync_min_correlation
    checks.append(Check(
        "lipsync_correlation", round(correlation, 3), f">= {expect.lipsync_min_correlation:g}", correlation_ok, True,
        "" if correlation_ok else f"mouth opening follows the audio loudness weakly (r={correlation:.2f} at lag {lag})",
    ))
    return checks

def _jump_check(motion: np.ndarray, fps: float, expect: ReelSpec) -> tuple[Check, dict[str, object]]:
    """A loop seam or a cut shows as the face's stable points (eyes, nose, outline) leaping between two frames:
    far more than the reel's own typical frame-to-frame movement, and more than a few percent of the face height."""
    leaps = _leaps(motion, expect.jump_ratio, expect.jump_min_share)
    if leaps is None:
        return Check("no_jumps", None, "no jump", True, False, "too few frames with a face to judge"), {}
    typical, peak, limit, jumps = leaps
    at = ", ".join(f"{i / fps:.2f} s" for i in jumps[:5])
    figures = {"stable_motion_median": round(typical, 5), "stable_motion_max": round(peak, 5),
               "jump_limit": round(limit, 5), "jumps_at_s": [round(i / fps, 3) for i in jumps]}
    return Check("no_jumps", len(jumps), "0 frames where the face leaps", not jumps, True,
                 "" if not jumps else f"the face jumps at {at} (a loop seam or a cut): the stable points moved "
                                      f"{peak:.1%} of the face height in one frame"), figures


def _leaps(values: np.ndarray, ratio: float, floor: float) -> tuple[float, float, float, list[int]] | None:
    """The frames whose frame-to-frame change is over ``ratio`` times the reel's median change and over ``floor``:
    (median, largest, limit, frame indices); None with fewer than 10 measured frames. Shared by both jump checks."""
    finite = values[np.isfinite(values)] if len(values) else values
    if len(finite) < 10:
        return None
    typical = float(np.median(finite))
    limit = max(ratio * typical, floor)
    return typical, float(finite.max()), limit, [int(i) for i in np.flatnonzero(np.nan_to_num(values, nan=0.0) > limit)]


# --------------------------------------------------------------------------- lip sync and face, measured during the render


def _render_mismatch(render: RenderMeasurement, info_path: Path, info: MediaInfo, structure: Mp4Structure | None) -> str:
    """Why the render's own measurements do not describe this file ("" when they do): another file or the same file
    rewritten since (path, bytes), another frame size or frame count (cut, re-encoded, another reel), or no sample
    table to count its frames with."""
    if render.encoded_path is not None and Path(render.encoded_path) != info_path.resolve():
        return f"the render measured {render.encoded_path}"
    if render.encoded_bytes is not None and info.size_bytes != render.encoded_bytes:
        return f"the file is {info.size_bytes} bytes, the render wrote {render.encoded_bytes}"
    if info.video is None:
        return "the file has no video stream"
    if (info.video.width_px, info.video.height_px) != (render.width, render.height):
        return f"the file is {info.video.width_px}x{info.video.height_px}, the render measured {render.width}x{render.height}"
    track = structure.track("vide") if structure is not None else None
    if track is None or not len(track.presentation_ticks):
        return "no MP4 sample table to count the file's frames"
    shown = int(track.shown.sum()) if track.shown is not None else len(track.presentation_ticks)
    if shown != render.frames or len(render.mouth_open) != render.frames:
        return f"the file holds {shown} frames, the render measured {render.frames}"
    return ""


def _sample_face(render: RenderMeasurement, workers):  # noqa: ANN001, ANN202 - MouthTrack | str
    """mediapipe face mesh (static mode) on the face samples the render kept: a MouthTrack with one row per sample, in
    frame pixels, or the reason mediapipe cannot run (a string)."""
    from render.qa.face_worker import sample_landmarks, static_face_mesh
    from render.qa.lipsync import crop_geometry, mouth_track

    samples = render.face_samples
    if samples is None or not len(samples) or render.sample_crop is None:
        return mouth_track_empty()
    geometry = crop_geometry(render.sample_crop, render.width, render.height, samples.shape[1])
    landmarks = None
    if workers is not None:
        from render.qa.face_worker import MediapipeUnusable, WorkerFailed

        try:
            landmarks = workers.sample_frames(samples)
        except MediapipeUnusable as error:
            return str(error)
        except WorkerFailed as error:
            logger.warning("QA: %s; finding the face in this process instead", error)
    if landmarks is None:
        try:
            import mediapipe

            face_mesh = mediapipe.solutions.face_mesh
        except (ImportError, AttributeError) as error:
            return f"{type(error).__name__}: {error}"
        with static_face_mesh(face_mesh) as static:
            landmarks = sample_landmarks(samples, static)
    return mouth_track(landmarks, geometry)


def mouth_track_empty():  # noqa: ANN201 - MouthTrack
    from render.qa.lipsync import MouthTrack

    return MouthTrack(np.zeros(0), None, None)


def proxy_lipsync(render: RenderMeasurement, expect: ReelSpec, *, face_share: float = 1.0):  # noqa: ANN201 - LipSyncMeasurement
    """The render's mouth proxy against its mix's loudness envelope: the same correlation and lag search as the file's."""
    from render.qa.lipsync import LipSyncMeasurement, correlate, loudness_envelope

    mouth, frames = render.mouth_open, render.frames
    audio = render.audio
    if audio is None or not len(audio) or frames == 0:
        return LipSyncMeasurement(mouth, np.zeros(0), frames, face_share, None, None, None, {})
    envelope = loudness_envelope(audio, render.audio_rate_hz, float(render.fps), frames)
    by_lag = correlate(mouth, envelope, expect.lipsync_search_frames)
    if not by_lag:
        return LipSyncMeasurement(mouth, envelope, frames, face_share, None, None, None, {})
    best = max(by_lag, key=lambda lag: (round(by_lag[lag], 6), -abs(lag)))
    return LipSyncMeasurement(mouth_opening=mouth, envelope_db=envelope, frames=frames, face_visible_share=face_share, best_lag_frames=best,
                              correlation=by_lag[best], correlation_at_zero=by_lag.get(0), correlation_by_lag=by_lag)


def _inrender_checks(
    path: Path, info: MediaInfo, ffmpeg: str, render: RenderMeasurement, expect: ReelSpec, *, timing: str | Path | None = None,
    workers=None, video_track: Track | None = None,  # noqa: ANN001 - render.qa.face_worker.FaceWorkers
) -> tuple[list[Check], dict[str, object]]:
    """The lip-sync, face, jump, closure and identity checks from the render's own measurements and face samples."""
    names = ("lipsync_lag", "lipsync_correlation", "face_visible", "no_jumps")
    fps = float(render.fps)
    sample = _sample_face(render, workers)
    if isinstance(sample, str):
        message = f"mediapipe 0.10.21 is not usable ({sample}); install the local extra: pip install 'reeltwin[local]'"
        return [Check(name, None, "", False, True, message) for name in names], {}
    sampled = len(sample.openings)
    face_share = float(np.isfinite(sample.openings).mean()) if sampled else 0.0
    measured = proxy_lipsync(render, expect, face_share=face_share)

    checks: list[Check] = []
    closures = _bilabial_frames(Path(timing), measured.frames, fps) if timing is not None else None
    if closures is not None and closures.any() and measured.best_lag_frames is not None:
        measured = _without_closures(measured, closures, expect)
    no_audio = render.audio is None or not len(render.audio)
    checks += _sync_checks(measured, no_audio, expect, no_face="no face found on the frames sampled, so no mouth to measure")
    lag, correlation = measured.best_lag_frames, measured.correlation
    share = round(face_share, 4)
    face_ok = sampled > 0 and face_share >= expect.min_face_visible_share
    checks.append(Check(
        "face_visible", share, f">= {expect.min_face_visible_share:g} of frames", face_ok, True,
        "" if face_ok else f"a face was found on {share:.1%} of the {sampled} frames sampled (one every {_sample_spacing(render)})",
    ))
    jump_check, jump_figures = _change_jump_check(render.change, fps, expect)
    checks.append(jump_check)
    closure_figures: dict[str, object] = {}
    if timing is not None:
        opening = render.mouth_open - (float(np.nanpercentile(render.mouth_open, 2)) if np.isfinite(render.mouth_open).any() else 0.0)
        closure_check, closure_figures = _closure_check(Path(timing), opening, fps, expect, closed_floor=0.0)
        checks.append(closure_check)
        if sampled and sampled == len(render.sample_indices):
            # each sample's stable points at its frame; the frames between samples are not compared
            stable = np.full((render.frames, sample.stable_px.shape[1], 2), np.nan)
            at = np.asarray(render.sample_indices, dtype=np.int64)
            inside = at < render.frames
            stable[at[inside]] = sample.stable_px[inside]
            identity = _identity_check(Path(timing), stable, expect)
            if identity is not None:
                checks.append(identity[0])
                closure_figures.update(identity[1])
    lips_seen = sample.mouth_box or render.lips_box
    figures: dict[str, object] = {
        "lipsync_correlation": round(correlation, 4) if correlation is not None else None,
        "lipsync_lag_frames": lag,
        "face_visible_share": share,
        "extra": {
            "frames_measured": measured.frames,
            "lipsync_correlation_at_zero": round(measured.correlation_at_zero, 4) if measured.correlation_at_zero is not None else None,
            "lipsync_correlation_by_lag": {str(key): round(value, 4) for key, value in sorted(measured.correlation_by_lag.items())},
            "lipsync_measure": "in-render mouth proxy (dark + edge share of the mouth box core, every frame as encoded)",
            "face_crop": list(sample.crop) if sample.crop else None,
            "face_frames_sampled": sampled,
            "mouth_box_px": [round(value, 1) for value in lips_seen] if lips_seen else None,
            "lips_moved_box_px": [round(value, 1) for value in render.lips_box] if render.lips_box else None,
            "in_render_ms_per_frame": round(render.ms_per_frame, 3),
            "in_render_cpu_ms_per_frame": round(1000.0 * render.cpu_seconds / max(render.frames, 1), 3),
            **jump_figures, **closure_figures,
        },
    }
    return checks, figures


def _sample_spacing(render: RenderMeasurement) -> str:
    at = render.sample_indices
    return f"{(at[1] - at[0]) / render.fps:g} s" if len(at) > 1 else "reel"


def _change_jump_check(change: np.ndarray, fps: float, expect: ReelSpec) -> tuple[Check, dict[str, object]]:
    """A loop seam or a cut, from the render's frames: the luma around the face (the mouth left out) changes between two
    frames ``jump_change_ratio`` times the reel's typical (median) frame-to-frame change or more, and by more than
    ``jump_min_change`` grey levels."""
    leaps = _leaps(change, expect.jump_change_ratio, expect.jump_min_change)
    if leaps is None:
        return Check("no_jumps", None, "no jump", True, False, "too few frames to judge"), {}
    typical, peak, limit, jumps = leaps
    at = ", ".join(f"{i / fps:.2f} s" for i in jumps[:5])
    figures = {"frame_change_median": round(typical, 3), "frame_change_max": round(peak, 3),
               "jump_limit": round(limit, 3), "jumps_at_s": [round(i / fps, 3) for i in jumps]}
    return Check("no_jumps", len(jumps), "0 frames where the face leaps", not jumps, True,
                 "" if not jumps else f"the face jumps at {at} (a loop seam or a cut): the picture around it changed by "
                                      f"{peak:.0f} grey levels in one frame, {peak / max(typical, 1e-6):.0f}x its typical change"), figures


BILABIALS = ("p", "b", "m")


def _identity_check(timing: Path, measured_px: np.ndarray, expect: ReelSpec) -> tuple[Check, dict[str, object]] | None:
    """Identity against the source frame being shown (footage): the stable points the tracker finds on each output
    frame against where that frame's source face put them, as a share of the distance between the outer eye corners.
    None when the render recorded no reference (photo avatars)."""
    import json

    try:
        data = json.loads(Path(timing).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise QAError(f"timing {str(timing)!r}: cannot be read ({error}); render the reel again") from None
    expected_rows = data.get("stable_px") if isinstance(data, dict) else None
    if not expected_rows:
        return None
    try:
        expected = np.asarray(expected_rows, dtype=np.float64).reshape(len(expected_rows), -1, 2)
    except ValueError:
        raise QAError(f"timing {str(timing)!r}: its reference points are malformed; render the reel again") from None
    frames = min(len(expected), len(measured_px))
    if frames == 0 or expected.shape[1] != measured_px.shape[1]:
        return Check("identity_drift", None, f"<= {expect.max_identity_drift:.0%} of the eye distance", False, False,
                     "no frames to compare with the source"), {}
    exp, got = expected[:frames], measured_px[:frames]
    eyes = np.linalg.norm(exp[:, 0] - exp[:, 3], axis=1)            # outer eye corners (landmarks 33 and 263)
    drift = np.linalg.norm(got - exp, axis=2).mean(axis=1) / np.maximum(eyes, 1.0)
    drift = drift[np.isfinite(drift)]
    if not len(drift):
        return Check("identity_drift", None, f"<= {expect.max_identity_drift:.0%} of the eye distance", False, False,
                     "no face found to compare with the source"), {}
    p95 = float(np.percentile(drift, 95))
    ok = p95 <= expect.max_identity_drift
    figures = {"identity_drift_median": round(float(np.median(drift)), 4), "identity_drift_p95": round(p95, 4)}
    return Check("identity_drift", round(p95, 4), f"<= {expect.max_identity_drift:.0%} of the eye distance (p95)", ok, False,
                 "" if ok else f"the face drifts from its source frame by {p95:.0%} of the eye distance (95th percentile): "
                               "the re-rendered mouth pulls the face out of shape"), figures


def _bilabial_frames(timing: Path, frames: int, fps: float) -> np.ndarray:
    """True on the frames where a p, b or m closes the lips (one frame of margin either side)."""
    out = np.zeros(frames, dtype=bool)
    for symbol, start, end in read_timing(timing):
        if symbol.strip("ˈˌː")[:1] in BILABIALS:
            first, last = max(0, int(np.floor(start * fps)) - 1), min(frames - 1, int(np.ceil(end * fps)) + 1)
            out[first:last + 1] = True
    return out


def _without_closures(measured, closures: np.ndarray, expect: ReelSpec):  # noqa: ANN001, ANN202 - LipSyncMeasurement
    """The lip-sync correlation without the p/b/m frames: there the lips close while the voice is loud, which is
    right, and would count against a mouth-follows-loudness correlation."""
    from dataclasses import replace

    from render.qa.lipsync import correlate

    mouth = measured.mouth_opening.copy()
    mouth[closures[: len(mouth)]] = np.nan
    by_lag = correlate(mouth, measured.envelope_db, expect.lipsync_search_frames)
    if not by_lag:
        return measured
    best = max(by_lag, key=lambda lag: (round(by_lag[lag], 6), -abs(lag)))
    return replace(measured, best_lag_frames=best, correlation=by_lag[best], correlation_at_zero=by_lag.get(0), correlation_by_lag=by_lag)


def read_timing(path: Path) -> list[tuple[str, float, float]]:
    """The phonemes of a render's ``.timing.json`` as (symbol, start_s, end_s)."""
    import json

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return [(str(p[0]), float(p[1]), float(p[2])) for p in data.get("phonemes", [])]
    except (OSError, ValueError, TypeError, IndexError, AttributeError) as error:
        raise QAError(f"timing {str(path)!r}: cannot be read ({error}); render the reel again") from None


def _closure_check(timing: Path, opening: np.ndarray, fps: float, expect: ReelSpec,
                   closed_floor: float | None = None) -> tuple[Check, dict[str, object]]:
    """Where the timings say p, b or m is spoken, the lips measured on the output close (within one frame either side).

    Closed: the inner-lip gap under ``closed_share`` of the face height, or a quarter of the reel's typical open
    gap (its 90th percentile)."""
    phonemes = read_timing(timing)
    spans = [(start, end) for symbol, start, end in phonemes if symbol.strip("ˈˌː") in BILABIALS]
    if not spans or not len(opening):
        return Check("lips_close_on_pbm", None, f">= {expect.min_bilabial_closed_share:.0%}", True, False,
                     "no p, b or m in the speech"), {"bilabials": 0}
    finite = opening[np.isfinite(opening)]
    open_typical = float(np.percentile(finite, 90)) if len(finite) else 0.0
    # Closed: the gap under a quarter of the reel's typical open gap (the tracker smooths a two-frame closure
    # a little), or under closed_share of the face height.
    # (``closed_floor``: the floor in the opening's own unit; the in-render proxy has no face-height scale)
    closed_limit = max(expect.closed_share if closed_floor is None else closed_floor, 0.25 * open_typical)
    closed = 0
    missed: list[float] = []
    for start, end in spans:
        first = max(0, int(np.floor(start * fps)) - 1)
        last = min(len(opening) - 1, int(np.ceil(end * fps)) + 1)
        window = opening[first:last + 1]
        window = window[np.isfinite(window)]
        if len(window) and float(window.min()) <= closed_limit:
            closed += 1
        else:
            missed.append(round(start, 2))
    share = closed / len(spans)
    ok = share >= expect.min_bilabial_closed_share
    figures = {"bilabials": len(spans), "bilabials_closed": closed, "bilabial_closed_limit": round(closed_limit, 4),
               "bilabials_missed_at_s": missed[:20]}
    # Soft for now: measured on the photo and footage avatars, the lips seal on only part of the voiced p/b/m
    # (the jaw follows the loudness, which an m or a b keeps up); the share is reported on every reel.
    return Check("lips_close_on_pbm", round(share, 3), f">= {expect.min_bilabial_closed_share:.0%} of p/b/m", ok, False,
                 "" if ok else f"the lips stay apart on {len(missed)} of {len(spans)} p/b/m sounds (first at {missed[0]:.2f} s)"), figures


# --------------------------------------------------------------------------- captions


def _caption_checks(sidecar: Path, info: MediaInfo, mouth_box_px: list[float] | None, expect: ReelSpec) -> list[Check]:
    expected = f"x {expect.safe_x[0]:.0%}-{expect.safe_x[1]:.0%}, y {expect.safe_y[0]:.0%}-{expect.safe_y[1]:.0%}"
    width, height = (info.video.width_px, info.video.height_px) if info.video else (None, None)
    try:
        boxes = read_caption_boxes(sidecar, frame_width_px=width, frame_height_px=height)
    except QAError as error:
        return [Check("captions_safe_area", None, expected, False, True, str(error))]
    outside = outside_safe_area(boxes, expect.safe_x, expect.safe_y)
    message = ""
    if outside:
        first = outside[0]
        label = f" {first.text!r}" if first.text else ""
        message = (f"{len(outside)} of {len(boxes)} caption(s) reach outside the safe area, e.g.{label} at "
                   f"x {first.left:.1%}-{first.right:.1%}, y {first.top:.1%}-{first.bottom:.1%}")
    checks = [Check("captions_safe_area", f"{len(boxes) - len(outside)}/{len(boxes)} inside", expected, not outside, True, message)]
    if mouth_box_px is not None and width and height:
        # Where the lips were seen on the frames, not where the composer meant them to be.
        left, top, right, bottom = mouth_box_px[0] / width, mouth_box_px[1] / height, mouth_box_px[2] / width, mouth_box_px[3] / height
        over = [box for box in boxes if box.left < right and left < box.right and box.top < bottom and top < box.bottom]
        message = ""
        if over:
            label = f" {over[0].text!r}" if over[0].text else ""
            message = f"{len(over)} caption(s) overlap the mouth (lips seen at y {top:.1%}-{bottom:.1%}), e.g.{label}; move captions below the chin"
        checks.append(Check("captions_clear_of_mouth", f"{len(boxes) - len(over)}/{len(boxes)} clear", "no caption over the lips", not over, True, message))
    return checks
