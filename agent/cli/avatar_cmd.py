"""``reeltwin avatar``: enroll the creator's clip or photo (with consent), choose the default, list enrolled avatars."""

from __future__ import annotations

from pathlib import Path

import typer

from agent.cli.context import err, interactive, out, print_json
from agent.errors import AgentError

app = typer.Typer(no_args_is_help=True, help="Enroll the photo or the clip your talking-head reels are made from.")


@app.command("enroll")
def enroll(
    ctx: typer.Context,
    photo: Path = typer.Argument(..., metavar="PHOTO_OR_CLIP",
                                 help="A clip of you facing the camera, 5-120 s (MP4, MOV, WebM, M4V; recommended), "
                                      "or a front-facing photo of one face (JPEG, PNG, WebP)."),
    name: str = typer.Option(..., "--name", help="A short name for this avatar, e.g. your handle."),
    consent: bool = typer.Option(False, "--consent", help="Confirm the face is yours or that you have the right to use it."),
    replace: bool = typer.Option(False, "--replace", help="Replace an avatar enrolled under the same name."),
    creator: str = typer.Option(None, "--creator", help="The creator (calendar handle) this avatar is for; default: the one named like --name."),
    no_default: bool = typer.Option(False, "--no-default", help="Keep the creator's current default avatar for renders."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Check PHOTO_OR_CLIP and enroll it; consent is recorded with the time.

    A clip keeps your real head motion, blinks and light; only the mouth is re-rendered. A photo is animated.
    """
    from agent.enrollment import avatars
    from agent.enrollment.consent import check_name, consent_by
    from agent.storage import media_storage

    settings = ctx.obj.settings
    session = ctx.obj.session
    check_name(name)
    creator_id = avatars.find_creator(session, creator).id if creator else None
    if not replace and avatars.exists(session, name):
        raise AgentError(f"avatar {name!r} already exists; pass --replace to enroll a new photo or clip under that name, or choose another --name")
    kind = "clip" if avatars.is_video(photo) else "photo"
    # Check first, so the creator is not asked to consent to a file that will be refused (and a clip is analysed once).
    bar = _Progress(quiet=as_json or kind == "photo", label=f"analysing {photo.name}")
    with bar, err.status(f"checking {photo.name}…") if kind == "photo" else _nothing():
        inspection = avatars.inspect(photo, settings.data_dir, progress=bar.update)
    try:
        if not consent and interactive():
            err.print(avatars.CONSENT_TEXT if inspection.kind == avatars.PHOTO else avatars.FOOTAGE_CONSENT_TEXT)
            consent = typer.confirm("Do you confirm?", default=False, err=True)
        with err.status(f"enrolling {photo.name} as {name!r}…"):
            result = avatars.enroll(session, settings.data_dir, photo, name=name, consent=consent, consent_by=consent_by(),
                                    replace=replace, creator_id=creator_id, inspection=inspection, make_default=not no_default,
                                    storage=media_storage(settings))
    finally:
        inspection.discard()
    record = result.avatar
    analysis = record.analysis
    payload = {"name": record.name, "kind": record.kind, "default": record.is_default, "photo": record.photo_path,
               "sha256": record.photo_sha256, "consent_at": record.consent_at.isoformat(), "consent_by": record.consent_by,
               "face_height_px": analysis.get("face_height_px"), "pose": analysis.get("pose"), "warnings": result.warnings}
    if record.kind == avatars.FOOTAGE:
        payload.update({"duration_s": analysis.get("duration_s"), "frames": analysis.get("frames"), "loop": analysis.get("loop"),
                        "blinks": analysis.get("blinks"), "talking": analysis.get("talking")})
    if as_json:
        print_json(payload)
        return
    for warning in result.warnings:
        err.print(f"warning: {warning}")
    pose = analysis.get("pose", {})
    default = " (the default for renders)" if record.is_default else ""
    if record.kind == avatars.FOOTAGE:
        loop = analysis.get("loop", {})
        out.print(f"enrolled footage avatar {record.name!r}{default}: {analysis.get('duration_s')} s at {analysis.get('width')}x{analysis.get('height')}, "
                  f"face {payload['face_height_px']:.0f} px tall, {analysis.get('blinks')} blinks, loops {loop.get('mode')} over "
                  f"{loop.get('first', 0) / 30:.1f}-{loop.get('last', 0) / 30:.1f} s; consent recorded {record.consent_at:%Y-%m-%d %H:%M} UTC")
    else:
        out.print(f"enrolled avatar {record.name!r}{default}: face {payload['face_height_px']:.0f} px tall, yaw {pose.get('yaw_deg')}°, "
                  f"pitch {pose.get('pitch_deg')}°, roll {pose.get('roll_deg')}°; consent recorded {record.consent_at:%Y-%m-%d %H:%M} UTC")


@app.command("default")
def default(ctx: typer.Context, name: str = typer.Argument(..., help="The avatar renders should use for its creator."),
            as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """Make NAME its creator's avatar for renders (a creator may have a photo and a clip)."""
    from agent.enrollment import avatars

    record = avatars.set_default(ctx.obj.session, name)
    if as_json:
        print_json({"name": record.name, "kind": record.kind, "default": True})
        return
    out.print(f"renders now use {record.kind} avatar {record.name!r}")


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


class _Progress:
    """A progress bar on stderr while a clip is analysed (silent for photos and --json)."""

    def __init__(self, *, quiet: bool, label: str):
        self.quiet, self.label, self.bar, self.task = quiet, label, None, None

    def __enter__(self) -> "_Progress":
        if not self.quiet:
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} frames"),
                                TimeRemainingColumn(), console=err, transient=True)
            self.bar.__enter__()
            self.task = self.bar.add_task(self.label, total=None)
        return self

    def update(self, done: int, total: int) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=done, total=max(total, done))

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


@app.command("list")
def list_(ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """The enrolled avatars."""
    from agent.enrollment import avatars

    rows = avatars.list_avatars(ctx.obj.session)
    payload = {"avatars": [{"name": a.name, "kind": a.kind, "default": a.is_default, "photo": a.photo_path, "sha256": a.photo_sha256,
                            "consent_at": a.consent_at.isoformat()} for a in rows]}
    if as_json:
        print_json(payload)
        return
    if not rows:
        out.print("no avatars yet: reeltwin avatar enroll PHOTO --name NAME --consent")
    for a in rows:
        out.print(f"{a.name}: {a.kind}{' (default)' if a.is_default else ''}, {a.photo_path} (consent {a.consent_at:%Y-%m-%d})")


def register(root: typer.Typer) -> None:
    """Add the `avatar` command group to the root command."""
    root.add_typer(app, name="avatar")
