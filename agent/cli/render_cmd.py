"""``reeltwin render``: a talking-head reel from a photo and speech (or a script to speak)."""

from __future__ import annotations

from pathlib import Path

import typer

from agent.cli.context import err, out, parse_reel_id, print_json
from agent.errors import AgentError


def render(
    ctx: typer.Context,
    reel_id: int = typer.Argument(None, metavar="[ID]", parser=parse_reel_id, help="Render this approved reel with the creator's enrolled avatar and voice."),
    photo: Path = typer.Option(None, "--photo", help="A front-facing photo of one face (JPEG, PNG, WebP)."),
    video: Path = typer.Option(None, "--video", help="A clip of you facing the camera, 5-120 s (MP4, MOV, WebM, M4V): its mouth is re-driven."),
    audio: Path = typer.Option(None, "--audio", help="Recorded speech to lip-sync (WAV, MP3, M4A...)."),
    text: str = typer.Option(None, "--text", help="The words: spoken with the voice backend when no --audio is given; captions either way."),
    voice: str = typer.Option(None, "--voice", help="An enrolled voice to speak --text with (default: the bundled voice)."),
    out_path: Path = typer.Option(None, "--out", help="The MP4 to write (cover .jpg, .srt and .qa.json land beside it)."),
    music: Path = typer.Option(None, "--music", help="Optional music bed, ducked under the voice."),
    title: str = typer.Option(None, "--title", help="Optional hook title shown in the first seconds."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Render a lip-synced talking-head reel (1080x1920, 30 fps) with captions, cover and a QA report.

    Either an approved reel by ID (with the creator's enrolled avatar and voice), or files: --photo with --audio or --text.
    """
    from agent.jobs.pipeline import render_files

    if reel_id is not None:
        _render_reel(ctx, reel_id, as_json)
        return
    if (photo is None) == (video is None) or out_path is None:
        raise AgentError("give --photo PHOTO or --video CLIP, and --out MP4 (and --audio WAV or --text TEXT)")
    if out_path.suffix.lower() != ".mp4":
        raise AgentError(f"--out {str(out_path)!r}: write an .mp4 file")
    if audio is None and not text:
        raise AgentError("give --audio WAV to lip-sync, or --text TEXT to speak")
    if audio is not None and voice is not None:
        raise AgentError("--voice speaks --text; with --audio the recording is the voice: leave --voice out")
    settings = ctx.obj.settings
    profile = None
    if voice is not None:
        from agent.enrollment.voices import load_profile

        profile = load_profile(ctx.obj.session, settings, voice)
    footage = None
    progress_bar = _Progress(quiet=as_json)
    if video is not None:
        footage, video = _analyse_clip(video, settings, progress_bar, as_json)
    with progress_bar:
        outcome = render_files(settings, photo=photo, video=video, footage=footage, out=out_path, audio=audio, text=text, voice_profile=profile,
                               music=music, hook_title=title, progress=progress_bar.update)
    payload = outcome.to_dict()
    if as_json:
        print_json(payload)
    else:
        _print_result(outcome)
    if not outcome.qa_passed:
        failed = outcome.qa.failures if outcome.qa is not None else ()
        reason = "; ".join(f"{c.name}: {c.message}" for c in failed) or "see the report"
        raise AgentError(f"{outcome.video}: rendered, but QA failed: {reason} (report: {outcome.report})")


def _print_result(outcome) -> None:  # noqa: ANN001 - agent.jobs.pipeline.RenderResult, imported lazily
    """What a render made, how long it took, and the QA verdict: the same lines for files and for a reel."""
    out.print(f"wrote {outcome.video}: {outcome.duration_s:.1f} s, {outcome.frames} frames at {outcome.fps} fps, "
              f"{outcome.width}x{outcome.height}, rendered in {outcome.render_seconds:.1f} s "
              f"({outcome.render_seconds / max(outcome.duration_s, 1e-6):.2f}x real time)")
    out.print(f"cover: {outcome.cover}" + (f"\ncaptions: {outcome.srt}" if outcome.srt else "") + (f"\nQA report: {outcome.report}" if outcome.report else ""))
    qa = outcome.qa
    if qa is None:
        out.print("QA: no verdict (no report)")
    else:
        verdict = "passed" if qa.passed else "FAILED: " + "; ".join(f"{c.name}: {c.message or c.expected}" for c in qa.failures)
        soft = f"; {len(qa.warnings)} soft check(s) warn: {', '.join(c.name for c in qa.warnings)}" if qa.warnings else ""
        out.print(f"QA: {verdict} ({len(qa.checks)} checks{soft})")
    for warning in outcome.warnings:
        err.print(f"warning: {warning}")


def _analyse_clip(video: Path, settings, progress_bar: "_Progress", as_json: bool):  # noqa: ANN001, ANN202
    """(FootageAnalysis, normalized clip) for --video: normalized and analysed once, in a cache under the data folder keyed by
    the clip's content, so rendering the same clip again starts at once."""
    from agent.enrollment import avatars
    from render import RenderError
    from render.face.analysis import sha256_of
    from render.face.footage import FootageAnalysis, probe_clip

    label = f"clip {str(video)!r}"
    try:
        probe_clip(video, label=label)
    except RenderError as error:
        raise AgentError(str(error)) from None
    cache = Path(settings.data_dir) / "clip-cache" / sha256_of(video)[:16]
    if (cache / "track.npz").is_file() and (cache / "clip.mp4").is_file():
        try:
            return FootageAnalysis.load(cache / "track.npz"), cache / "clip.mp4"
        except RenderError:
            pass
    with progress_bar:
        inspection = avatars.inspect_clip(video, settings.data_dir, label=label,
                                          progress=lambda done, total: progress_bar.update("analyse clip", done, total))
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        if cache.exists():
            import shutil

            shutil.rmtree(cache)
        import os

        os.replace(inspection.work_dir, cache)
        inspection.work_dir = None
    finally:
        inspection.discard()
    for warning in inspection.warnings:
        if not as_json:
            err.print(f"warning: {warning}")
    return inspection.analysis, cache / "clip.mp4"


def _render_reel(ctx: typer.Context, reel_id: int, as_json: bool) -> None:
    import os
    import socket

    from agent.errors import ValidationFailed
    from agent.approval.queue import get_reel
    from agent.jobs.render import render_reel

    session = ctx.obj.session
    reel = get_reel(session, reel_id)
    _refuse_unless_renderable(reel)
    progress_bar = _Progress(quiet=as_json)
    with progress_bar:
        outcome = render_reel(session, ctx.obj.settings, reel_id, worker=f"cli:{socket.gethostname()}:{os.getpid()}", progress=progress_bar.update)
    rendered = outcome.rendered
    if as_json:
        print_json({"reel_id": reel_id, "result": outcome.result, "detail": outcome.detail, "video": outcome.video}
                   | ({"render_seconds": round(rendered.render_seconds, 2), "duration_s": round(rendered.duration_s, 3),
                       "qa_passed": rendered.qa_passed, "warnings": list(rendered.warnings)} if rendered is not None else {}))
    elif rendered is not None:
        out.print(f"reel {reel_id}: rendered")
        _print_result(rendered)
    if outcome.result == "not claimed":
        raise ValidationFailed(f"reel {reel_id}: another worker (`reeltwin run`?) claimed it first; see `reeltwin show {reel_id}`")
    if outcome.result != "rendered":
        raise ValidationFailed(f"reel {reel_id}: {outcome.result}: {outcome.detail}")


#: What to do first, for a reel that is not waiting to be rendered (one line each, exit 2).
_NOT_RENDERABLE = {
    "drafted": "is a draft: approve it first (`reeltwin approve {id}`), then render it",
    "rejected": "was rejected and is being redrafted: approve the new draft first (`reeltwin show {id}`), then render it",
    "failed": "failed ({error}): `reeltwin retry {id}` first, then render it",
    "failed to publish": "is rendered but failed to publish ({error}): `reeltwin retry {id}` tries the publish again",
    "rendered": "is already rendered; it waits for its slot (`reeltwin publish {id}` posts it now)",
    "publishing": "is already rendered and being published",
    "published": "is already published",
    "skipped": "was skipped; nothing to render",
}


def _refuse_unless_renderable(reel) -> None:  # noqa: ANN001 - agent.db.models.Reel
    """One line naming the next step when the reel is not approved (a reel left "rendering" is the claim's to judge)."""
    from agent.errors import ValidationFailed

    status = str(reel.status)
    if status == "failed" and reel.failed_stage == "publish":
        status = "failed to publish"
    if status in _NOT_RENDERABLE:
        error = " ".join((reel.last_error or "no reason recorded").split())[:200]
        raise ValidationFailed(f"reel {reel.id} " + _NOT_RENDERABLE[status].format(id=reel.id, error=error))


class _Progress:
    """A rich progress bar for the frames (nothing in --json mode, where stdout is for JSON only)."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.bar = None
        self.task = None
        self.stage = ""

    def __enter__(self) -> "_Progress":
        if self.bar is None and not self.quiet:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                                console=err, transient=True)
            self.bar.__enter__()
        return self

    def update(self, stage: str, done: int, total: int) -> None:
        if self.bar is None:
            return
        label = "analysing the clip" if stage == "analyse clip" else "rendering frames"
        if self.task is None or stage != self.stage:
            if self.task is not None:
                self.bar.remove_task(self.task)
            self.task, self.stage = self.bar.add_task(label, total=total), stage
        self.bar.update(self.task, completed=done, total=max(total, done))

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)
            self.bar, self.task, self.stage = None, None, ""


def register(root: typer.Typer) -> None:
    """Add `render` to the root command."""
    root.command("render")(render)
