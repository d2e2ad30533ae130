"""``reeltwin avatar``: enroll the creator's photo (with consent) and list enrolled avatars."""

from __future__ import annotations

from pathlib import Path

import typer

from agent.cli.context import err, interactive, out, print_json

app = typer.Typer(no_args_is_help=True, help="Enroll the photo your talking-head reels are made from.")


@app.command("enroll")
def enroll(
    ctx: typer.Context,
    photo: Path = typer.Argument(..., help="A front-facing photo of one face, eyes open, mouth relaxed (JPEG, PNG, WebP)."),
    name: str = typer.Option(..., "--name", help="A short name for this avatar, e.g. your handle."),
    consent: bool = typer.Option(False, "--consent", help="Confirm the face is yours or that you have the right to use it."),
    replace: bool = typer.Option(False, "--replace", help="Replace an avatar enrolled under the same name."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Check PHOTO (one face, whole, large and frontal enough) and enroll it; consent is recorded with the time."""
    from agent.enrollment import avatars
    from agent.enrollment.consent import consent_by

    settings = ctx.obj.settings
    session = ctx.obj.session
    if not consent:
        # Check the photo first, so the creator is not asked to consent to a photo that will be refused.
        with err.status(f"checking {photo.name}…"):
            avatars.analyze_photo(photo)
        if interactive():
            err.print(avatars.CONSENT_TEXT)
            consent = typer.confirm("Do you confirm?", default=False, err=True)
    with err.status(f"enrolling {photo.name} as {name!r}…"):
        result = avatars.enroll(session, settings.data_dir, photo, name=name, consent=consent, consent_by=consent_by(), replace=replace)
    record = result.avatar
    payload = {"name": record.name, "photo": record.photo_path, "sha256": record.photo_sha256, "consent_at": record.consent_at.isoformat(),
               "consent_by": record.consent_by, "face_height_px": record.analysis.get("face_height_px"), "pose": record.analysis.get("pose"),
               "warnings": result.warnings}
    if as_json:
        print_json(payload)
        return
    for warning in result.warnings:
        err.print(f"warning: {warning}")
    pose = record.analysis.get("pose", {})
    out.print(f"enrolled avatar {record.name!r}: face {payload['face_height_px']:.0f} px tall, yaw {pose.get('yaw_deg')}°, "
              f"pitch {pose.get('pitch_deg')}°, roll {pose.get('roll_deg')}°; consent recorded {record.consent_at:%Y-%m-%d %H:%M} UTC")


@app.command("list")
def list_(ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """The enrolled avatars."""
    from agent.enrollment import avatars

    rows = avatars.list_avatars(ctx.obj.session)
    payload = {"avatars": [{"name": a.name, "photo": a.photo_path, "sha256": a.photo_sha256, "consent_at": a.consent_at.isoformat()} for a in rows]}
    if as_json:
        print_json(payload)
        return
    if not rows:
        out.print("no avatars yet: reeltwin avatar enroll PHOTO --name NAME --consent")
    for a in rows:
        out.print(f"{a.name}: {a.photo_path} (consent {a.consent_at:%Y-%m-%d})")


def register(root: typer.Typer) -> None:
    """Add the `avatar` command group to the root command."""
    root.add_typer(app, name="avatar")
