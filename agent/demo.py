"""``reeltwin demo``: the whole pipeline, offline, on bundled samples, in a folder of its own.

The demo never touches the creator's real project: it scaffolds a project in
``--out`` (default ``./demo``), enrolls the public-domain astronaut photo and a real
speech recording as the demo creator (consent recorded as "demo"), drafts the next
slot with the embedded model, auto-approves it (labelled as the demo's), renders,
captions, checks and publishes it to the outbox folder.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.errors import AgentError

if TYPE_CHECKING:
    from render.types import QAReport
    from sqlmodel import Session

    from agent.settings import Settings

DEMO_HANDLE = "demo.creator"
#: Real speech that Debian packages ship (installed by `make install`), tried in order:
#: alsa-utils' speaker-test recordings (GPL-2): one woman saying the channel names, 8 clips, 12 s of speech;
#: codec2-examples (LGPL-2.1): Harvard sentences read by a man and a woman taking turns, so only the woman's are cut out.
ALSA_SOUNDS = Path("/usr/share/sounds/alsa")
CODEC2_SPEECH = Path("/usr/share/codec2/raw/speech_orig_16k.wav")
CODEC2_WOMAN_S = ((2.5, 5.6), (7.9, 10.8))   # (start, end) of her sentences, cut in the pauses
DEMO_CONSENT = "demo"


@dataclass
class StageResult:
    stage: str
    seconds: float
    detail: str = ""
    rtf: float | None = None


@dataclass
class DemoResult:
    project: Path
    stages: list[StageResult] = field(default_factory=list)
    reel_id: int | None = None
    video: Path | None = None
    cover: Path | None = None
    srt: Path | None = None
    report: Path | None = None
    outbox: Path | None = None
    qa: QAReport | None = None
    duration_s: float = 0.0
    script: str = ""


#: The demo creator's facts for the example's one brief that carries none (it shows that points are optional): with
#: points, the embedded model's draft is built from them, so whichever brief the demo's first slot gets is on brief.
DEMO_POINTS = {
    "three lunches from one tray bake": ["one tray of chickpeas, peppers and sweet potato", "roast at 200 degrees for 40 minutes",
                                         "split it into three boxes for Monday to Wednesday"],
}


def demo_calendar(example: str, seconds: int) -> str:
    """The example calendar as the demo creator's, with reels of about ``seconds``, every brief with points, and
    approval left to the demo."""
    import json
    import re

    text = re.sub(r"(?m)^handle:.*$", f"handle: {DEMO_HANDLE}", example, count=1)
    text = re.sub(r"(?m)^reel_length_s:.*$", f"reel_length_s: {max(15, seconds)}", text, count=1)   # calendars allow 15 s and up
    for brief, points in DEMO_POINTS.items():
        line = re.search(rf"(?m)^(\s*)(?:- )?brief: {re.escape(brief)}\n", text)
        if line:
            indent = " " * (len(line.group(0)) - len(line.group(0).lstrip()) + (2 if line.group(0).lstrip().startswith("- ") else 0))
            text = text[: line.end()] + f"{indent}points: {json.dumps(points)}\n" + text[line.end():]
    return text


def run_demo(out_dir: Path, *, seconds: int = 30, stage: Callable[[str], Any] | None = None,
             progress: Callable[[str, int, int], None] | None = None) -> DemoResult:
    """Run every stage; a failing stage raises AgentError with its clear message."""
    from agent.enrollment.avatars import enroll as enroll_avatar
    from agent.storage import media_storage
    from agent.scaffold import scaffold, template_path
    from agent.content_calendar.loader import load_calendar
    from agent.db.engine import open_session
    from agent.db.models import Reel, utcnow
    from agent.drafting.service import DraftResult, draft_all, find_work, open_provider
    from agent.backends import make_publisher
    from agent.jobs.publish import PublishJobResult, publish_reel
    from agent.approval.queue import approve
    from agent.jobs.render import RenderJobResult, render_reel
    from agent.settings import load_settings

    def begin(name: str) -> float:
        if stage:
            stage(name)
        return time.perf_counter()

    out_dir = Path(out_dir).resolve()
    result = DemoResult(project=out_dir)
    started = begin("setting up the demo project")
    out_dir.mkdir(parents=True, exist_ok=True)
    scaffold(out_dir)
    calendar_file = out_dir / "calendar" / f"{DEMO_HANDLE}.yaml"
    calendar_file.write_text(demo_calendar(template_path("calendar/example.yaml").read_text(encoding="utf-8"), seconds), encoding="utf-8")
    # The demo is its own project: the user's REELTWIN_* variables (a data folder, a database, an API model) never reach it.
    with _without_user_settings():
        settings = load_settings(out_dir).settings
    calendar = load_calendar(calendar_file).calendar
    result.stages.append(StageResult("setup", time.perf_counter() - started, str(out_dir)))

    with open_session(settings.database_url) as session:
        started = begin("enrolling the demo avatar (public-domain astronaut photo)")
        photo = settings.data_dir / "demo-inputs" / "astronaut.png"
        photo.parent.mkdir(parents=True, exist_ok=True)
        if not photo.exists():
            from PIL import Image
            from skimage import data

            Image.fromarray(data.astronaut()).save(photo)
        avatar = enroll_avatar(session, settings.data_dir, photo, name=DEMO_HANDLE, consent=True, consent_by=DEMO_CONSENT, replace=True,
                               storage=media_storage(settings))
        result.stages.append(StageResult("enroll avatar", time.perf_counter() - started, f"face {avatar.avatar.analysis.get('face_height_px', 0):.0f} px"))

        started = begin("enrolling the demo voice (a real speech sample from a Debian package)")
        voice_detail = _enroll_demo_voice(session, settings)
        result.stages.append(StageResult("enroll voice", time.perf_counter() - started, voice_detail))

        started = begin("drafting the next slot's script with the embedded model")
        from agent.content_calendar.loader import display_path

        work = find_work(session, [calendar], now=utcnow(), days=14, paths={DEMO_HANDLE: display_path(calendar_file)})
        if not work:
            reel_id = _latest_reel(session)
            if reel_id is None:
                raise AgentError(f"{calendar_file}: the demo calendar has no slot in the next 14 days; check its cadence")
        else:
            with open_provider(settings) as provider:
                outcomes = draft_all(session, settings, provider, work[:1])
            if outcomes[0].result == DraftResult.FAILED:
                raise AgentError(f"draft: {outcomes[0].error}")
            reel_id = outcomes[0].reel_id
        reel = session.get(Reel, reel_id)
        budget = max(8, int(settings.drafting.words_per_minute * seconds / 60))
        if str(reel.status) == "drafted" and len(reel.script.split()) > budget * 1.15:
            from agent.approval.queue import edit

            edit(session, reel_id, script=_trim_to_sentences(reel.script, budget), actor="demo",
                 note=f"demo: trimmed to about {seconds} s", words_per_minute=settings.drafting.words_per_minute)
            session.expire_all()
            reel = session.get(Reel, reel_id)
        result.reel_id = reel_id
        result.script = reel.script
        result.stages.append(StageResult("draft", time.perf_counter() - started, f"reel {reel_id}, {len(reel.script.split())} words"))

        started = begin("approving the draft (auto-approved: demo)")
        if str(reel.status) in ("drafted",):
            # The demo's own trim keeps the draft's first sentences, so the title, caption and hashtags still fit.
            approve(session, [reel_id], actor="demo (auto-approved)", keep_stale=True)
        result.stages.append(StageResult("approve", time.perf_counter() - started, "auto-approved by the demo"))

        started = begin("voice, alignment, avatar, captions, composition, QA")
        rendered = render_reel(session, settings, reel_id, worker="demo", progress=progress)
        if rendered.result != RenderJobResult.RENDERED:
            raise AgentError(f"render: {rendered.detail}")
        session.expire_all()
        reel = session.get(Reel, reel_id)
        artifacts = reel.artifacts or {}
        result.video = Path(artifacts["video"])
        result.cover = Path(artifacts["cover"])
        result.srt = Path(artifacts["srt"]) if artifacts.get("srt") else None
        result.report = Path(artifacts["report"]) if artifacts.get("report") else None
        result.duration_s = float(artifacts.get("duration_s") or 0.0)
        render_s = time.perf_counter() - started
        result.stages.append(StageResult("render", render_s, f"{result.duration_s:.1f} s reel", render_s / max(result.duration_s, 1e-6)))
        if result.report and result.report.exists():
            from render.qa import QAError, read_report

            try:
                result.qa = read_report(result.report)
            except QAError as error:
                raise AgentError(f"qa: {error}") from None

        started = begin("publishing to the outbox (a dry run you can inspect)")
        # The demo's slot lies in the future: publish now, to the outbox only.
        with make_publisher(settings) as publisher:
            if publisher.name != "outbox":
                raise AgentError("the demo publishes to the outbox only; leave publishing.backend unset in the demo folder")
            outcome = publish_reel(session, settings, reel_id, publisher=publisher, worker="demo")
        if outcome.result not in (PublishJobResult.PUBLISHED, PublishJobResult.ALREADY_PUBLISHED):
            raise AgentError(f"publish: {outcome.result}: {outcome.detail}")
        result.outbox = Path(outcome.permalink.removeprefix("file://")) if outcome.permalink else settings.outbox_dir
        result.stages.append(StageResult("publish (outbox)", time.perf_counter() - started, outcome.result))
    return result


def _trim_to_sentences(script: str, budget_words: int) -> str:
    """About ``budget_words`` words of the script: whole sentences, topped up with the start of the next one if too short."""
    import re

    sentences = [s for s in re.split(r"(?<=[.!?])\s+", script.strip()) if s]
    kept: list[str] = []
    for sentence in sentences:
        count = len(" ".join(kept).split())
        if count + len(sentence.split()) <= budget_words:
            kept.append(sentence)
            continue
        if count < 0.7 * budget_words:
            part = sentence.split()[: budget_words - count]
            kept.append(" ".join(part).rstrip(",;:") + ".")
        break
    return " ".join(kept)


def _latest_reel(session: Session) -> int | None:
    from sqlmodel import select

    from agent.db.models import Reel

    row = session.exec(select(Reel.id).order_by(Reel.id.desc())).first()
    return row


@contextlib.contextmanager
def _without_user_settings() -> Iterator[None]:
    """Hide the ``REELTWIN_*`` environment variables while the demo's settings load; they are back afterwards."""
    saved = {name: value for name, value in os.environ.items() if name.startswith("REELTWIN_")}
    for name in saved:
        del os.environ[name]
    try:
        yield
    finally:
        os.environ.update(saved)


def demo_speech(folder: Path) -> tuple[Path, str] | None:
    """Write the demo's voice sample (one real speaker, >= 6 s of speech) as a WAV in ``folder``; None where none is installed."""
    import numpy as np

    from render.media.audio import write_wav
    from render.voice.sample_checks import read_sample

    clips = sorted(path for path in ALSA_SOUNDS.glob("*.wav") if path.stem != "Noise") if ALSA_SOUNDS.is_dir() else []
    pieces: list[np.ndarray] = []
    if len(clips) >= 8:
        source, rate = "alsa-utils speaker-test voice (GPL-2)", 0
        for clip in clips:
            samples, rate, _ = read_sample(clip)
            pieces += [samples, np.zeros(int(0.3 * rate), dtype=np.float32)]
    elif CODEC2_SPEECH.is_file():
        source = "codec2-examples Harvard sentences, the woman's (LGPL-2.1)"
        samples, rate, _ = read_sample(CODEC2_SPEECH)
        pieces = [samples[int(start * rate): int(end * rate)] for start, end in CODEC2_WOMAN_S]
    else:
        return None
    path = folder / "demo-voice.wav"
    write_wav(path, np.concatenate(pieces), rate, round_to_nearest=False)
    return path, source


def _enroll_demo_voice(session: Session, settings: Settings) -> str:
    """Enroll a real speech sample as the demo voice; where none is installed or it is refused, the bundled Piper voice speaks."""
    try:
        from agent.enrollment import voices
    except ImportError:
        return "bundled Piper voice (voice enrollment is not installed)"
    folder = settings.data_dir / "demo-inputs"
    folder.mkdir(parents=True, exist_ok=True)
    sample = demo_speech(folder)
    if sample is None:
        return "bundled Piper voice (no speech sample installed: apt-get install alsa-utils, or run `make install`)"
    path, source = sample
    try:
        voices.enroll_voice(session, settings, path, name=DEMO_HANDLE, consent=True, consent_by=DEMO_CONSENT, replace=True)
    except AgentError as error:
        session.rollback()
        return f"bundled Piper voice (the demo sample was refused: {str(error)[:90]})"
    return f"{source}, voice matching with {settings.voice.backend}"
