"""The render pipeline: script -> voice -> alignment -> avatar -> captions -> MP4 -> QA.

The CLI (`reeltwin render`, `reeltwin demo`) and the scheduler's render sweep call
these functions; each stage is a backend from ``render/`` chosen by the settings.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.backends import caption_style, voice_config
from agent.errors import AgentError

if TYPE_CHECKING:
    from render.types import QAReport

    from agent.settings import Settings

log = logging.getLogger(__name__)

#: stage name -> callback(done, total) for progress bars; a stage that does not report just starts and ends
Progress = Callable[[str, int, int], None]


@dataclass
class StageTiming:
    stage: str
    seconds: float
    detail: str = ""


@dataclass
class RenderResult:
    """The files one render made, its figures, and the reel's QA report (read back from ``report``)."""

    video: Path
    cover: Path
    srt: Path | None
    captions_json: Path | None
    report: Path | None
    duration_s: float
    frames: int
    fps: int
    width: int
    height: int
    backend: str
    render_seconds: float
    stages: list[StageTiming] = field(default_factory=list)
    qa: QAReport | None = None
    warnings: list[str] = field(default_factory=list)
    words: list[dict[str, Any]] = field(default_factory=list)

    @property
    def qa_passed(self) -> bool:
        """Fails closed: without a complete QA report the reel has not passed."""
        return self.qa is not None and self.qa.passed

    def qa_failures(self) -> str:
        """The failed hard checks' names, or why there is no verdict."""
        if self.qa is None:
            return "no QA report"
        return ", ".join(check.name for check in self.qa.failures)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.video), "cover": str(self.cover), "srt": str(self.srt) if self.srt else None,
            "captions": str(self.captions_json) if self.captions_json else None, "report": str(self.report) if self.report else None,
            "duration_s": round(self.duration_s, 3), "frames": self.frames, "fps": self.fps, "width": self.width, "height": self.height,
            "render_seconds": round(self.render_seconds, 2), "backend": self.backend,
            "stages": [{"stage": s.stage, "seconds": round(s.seconds, 3), "detail": s.detail} for s in self.stages],
            "qa": self.qa.to_dict() if self.qa is not None else None, "warnings": self.warnings,
        }


def _stage(stages: list[StageTiming], name: str, started: float, detail: str = "") -> None:
    """Records a stage's time, then hands what it freed back to the system (render.media.memory): a stage's whole-reel
    arrays and the synthesizer's work buffers, freed but kept by the C heap, otherwise stay resident through the encode
    (a render job's peak), more of them the longer the reel."""
    from render.media.memory import release_free_memory

    stages.append(StageTiming(name, time.perf_counter() - started, detail))
    release_free_memory()


#: The longest reel Instagram takes (15 minutes), and a brisk speaking rate: a script that cannot be said within
#: the limit even at this pace is refused before any work starts.
MAX_REEL_S = 15 * 60
FASTEST_WORDS_PER_MINUTE = 220


def check_speakable_length(text: str) -> None:
    """Refuse a script too long for any reel (estimated from its word count), before minutes of synthesis."""
    words = len(text.split())
    estimate_s = words * 60 / FASTEST_WORDS_PER_MINUTE
    if estimate_s > MAX_REEL_S:
        most = MAX_REEL_S * FASTEST_WORDS_PER_MINUTE // 60
        raise AgentError(f"the script has {words:,} words, about {estimate_s / 60:.0f} minutes of speech even said briskly; "
                         f"a reel holds at most 15 minutes: shorten it to under {most:,} words (150-450 words make a 1-3 minute reel)")


def render_files(
    settings: Settings,
    *,
    photo: Path | None = None,
    out: Path,
    video: Path | None = None,
    footage: Any = None,
    audio: Path | None = None,
    text: str | None = None,
    voice_profile: Any = None,
    voice_backend: str | None = None,
    face: Any = None,
    music: Path | None = None,
    hook_title: str | None = None,
    language: str = "en",
    progress: Progress | None = None,
    audio_timings: bool = False,
) -> RenderResult:
    """Render a finished reel from a photo or a clip of the creator (``video``, with its stored ``footage``
    track when enrolled) and either recorded audio or a script to speak.

    With ``audio_timings`` (a reel read in the creator's own voice), recorded ``audio`` is aligned to ``text``
    first: those word times drive the captions and the lip sync (phonemes from espeak-ng within each word)."""
    from render import RenderError
    from render.avatar import base as avatar_base
    from render.compose import compose

    if (photo is None) == (video is None):
        raise AgentError("give the avatar as --photo PHOTO or --video CLIP (one of them)")
    if audio is None and not (text and text.strip()):
        raise AgentError("give --audio WAV (with --text for captions) or --text to speak")
    if audio is None and text:
        check_speakable_length(text)
    stages: list[StageTiming] = []
    warnings: list[str] = []
    started_all = time.perf_counter()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    phonemes: tuple = ()
    words: tuple = ()
    spoken = None
    try:
        if audio is None:
            from render.voice import base as voice_base

            backend_name = voice_backend or (settings.voice.backend if voice_profile is not None else "piper")
            started = time.perf_counter()
            speaker = voice_base.get(backend_name, **voice_config(settings, backend_name))
            speech_path = out.with_suffix(".voice.wav")
            speech = speaker.speak(text, speech_path, profile=voice_profile, language=language)
            spoken = speech
            _stage(stages, "voice", started, f"{speech.backend}, {speech.duration_s:.1f} s")
            audio = speech.path
            phonemes, words = speech.phonemes, speech.words
        alignment = None
        if audio_timings and text and text.strip():
            from render.align.phonemes import phonemes_for_words

            started = time.perf_counter()
            alignment = _align(settings, Path(audio), text, spoken, language)
            words, phonemes = alignment.words, phonemes_for_words(alignment.words, language)
            _stage(stages, "align", started, f"{alignment.backend}, {len(phonemes)} phonemes")
        started = time.perf_counter()
        avatar = avatar_base.get(settings.avatar.backend if video is None else settings.avatar.footage_backend)
        request = avatar_base.RenderRequest(photo_path=Path(photo) if photo is not None else None, audio_path=Path(audio), words=words,
                                            phonemes=phonemes, fps=settings.avatar.fps, width=settings.avatar.width,
                                            height=settings.avatar.height, seed=settings.avatar.seed, face=face,
                                            video_path=Path(video) if video is not None else None, footage=footage,
                                            pixel_format="yuv420p")   # compose takes I420 as the encoder does
        stream = avatar.render(request)
        _stage(stages, "avatar setup", started)
        captions = None
        if text and text.strip():
            captions, align_timing = _captions(settings, Path(audio), text, spoken, stream, language, warnings, alignment=alignment)
            if align_timing:
                stages.append(align_timing)

        def on_frame(done: int, total: int) -> None:
            if progress:
                progress("render", done, total)

        started = time.perf_counter()
        result = compose(stream, Path(audio), out, captions=captions, music_path=music, hook_title=hook_title, progress=on_frame)
        _stage(stages, "avatar + compose", started, f"{result.frames} frames")
        warnings += list(result.warnings)
    except RenderError as error:
        raise AgentError(str(error)) from None
    timing = _write_timing(result.path, phonemes, result.trace)
    qa, report_path = _qa(result.path, result.captions_json_path, stages, timing=timing, render=result.qa)
    return RenderResult(
        video=result.path, cover=result.cover_path, srt=result.srt_path, captions_json=result.captions_json_path, report=report_path,
        duration_s=result.duration_s, frames=result.frames, fps=result.fps, width=result.width, height=result.height,
        backend=stream.backend, render_seconds=time.perf_counter() - started_all, stages=stages, qa=qa, warnings=warnings,
        words=[{"word": w.word, "start_s": w.start_s, "end_s": w.end_s} for w in words],
    )


def _align(settings: Settings, audio: Path, text: str, speech: Any, language: str) -> Any:
    """Word timings for ``text`` in ``audio``: the synthesizer's when exact, else the configured aligner's."""
    from render.align.auto import align_words

    return align_words(audio, text, aligner=settings.captions.aligner, speech=speech, language=language,
                       whisperx_model_dir=settings.captions.whisperx_model_dir)


def _captions(settings: Settings, audio: Path, text: str, speech: Any, stream: Any, language: str, warnings: list[str],
              alignment: Any = None) -> tuple[Any, StageTiming | None]:
    """Word timings (``alignment`` when already made, else :func:`_align`) and the caption track."""
    from render.captions import CaptionTrack

    started = time.perf_counter()
    alignment = alignment or _align(settings, audio, text, speech, language)
    warnings += list(alignment.warnings)
    style = caption_style(settings.captions)
    # Captions keep clear of the whole face (forehead to chin) and the mouth's reach below it.
    face, mouth = stream.face_box, stream.mouth_box
    x0, y0 = min(face.x, mouth.x), min(face.y, mouth.y)
    x1, y1 = max(face.x + face.width, mouth.x + mouth.width), max(face.y + face.height, mouth.y + mouth.height)
    track = CaptionTrack(alignment.words, style=style, frame_width_px=stream.width, frame_height_px=stream.height,
                         keep_out=(x0, y0, x1 - x0, y1 - y0))
    return track, StageTiming("align + captions", time.perf_counter() - started, alignment.backend)


def _write_timing(video: Path, phonemes: tuple, trace: dict | None = None) -> Path | None:
    """``<reel>.timing.json``: the phonemes the mouth was driven by (QA checks the lips close on p/b/m) and, for a
    footage avatar, where each frame's source face should be (QA measures the identity drift against it)."""
    stable = (trace or {}).get("stable_px") or []
    if not phonemes and not stable:
        return None
    import json

    from render.face.landmarks import STABLE

    path = video.with_suffix(".timing.json")
    data: dict = {"version": 1, "phonemes": [[p.phoneme, round(p.start_s, 4), round(p.end_s, 4)] for p in phonemes]}
    if stable:
        data["stable_points"] = list(STABLE)
        data["stable_px"] = stable
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _qa(video: Path, sidecar: Path | None, stages: list[StageTiming], *, timing: Path | None = None,
        render: Any = None) -> tuple[QAReport, Path]:
    """Check the reel, store the report beside it and read it back: what was stored is the verdict.

    ``render``: what the composer measured on the frames and mix it encoded (``ComposeResult.qa``): the file is then
    probed once, not decoded (render.qa.inrender).

    Fails closed: QA that cannot run, or a report that cannot be stored or read back whole, is an error, never a pass.
    """
    try:
        from render.qa import QAError, check_reel, read_report, write_report
    except ImportError as error:
        raise AgentError(f"{video}: the quality checks cannot run ({error}); reinstall reeltwin, then render again") from None
    started = time.perf_counter()
    path = video.with_suffix(".qa.json")
    try:
        report = check_reel(video, sidecar=sidecar, timing=timing, render=render)
        write_report(report, path)
        stored = read_report(path)
    except QAError as error:
        raise AgentError(f"{video}: QA failed to run: {error}") from None
    _stage(stages, "qa", started, "passed" if stored.passed else "failed")
    return stored, path
