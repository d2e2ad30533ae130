"""``reeltwin publish ID [--dry-run]``: publish one rendered reel now, exactly once."""

from __future__ import annotations

import os
import socket

import typer

from agent.cli.context import err, out, parse_reel_id, print_json


def publish(
    ctx: typer.Context,
    reel_id: int = typer.Argument(..., metavar="ID", parser=parse_reel_id),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would be posted, post nothing, change nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Publish a rendered reel now to its creator's account (`reeltwin account list`; the configured publisher, outbox by default, while none is connected)."""
    from agent.db.models import ReelStatus
    from agent.errors import ValidationFailed
    from agent.backends import make_publisher_for
    from agent.jobs.publish import creator_handle, full_caption, publish_reel
    from agent.approval.queue import get_reel
    from agent.publish_accounts import describe, resolve_account

    settings = ctx.obj.settings
    session = ctx.obj.session
    reel = get_reel(session, reel_id)
    if dry_run:
        if reel.status != ReelStatus.RENDERED:
            # Nothing would be posted: say why and what to do, as a real publish would (exit 2).
            raise ValidationFailed(f"reel {reel.id}: is {reel.status}, not rendered; nothing would be posted: "
                                   f"approve and render it first (`reeltwin render {reel.id}`), then publish")
        handle = creator_handle(session, reel.id)
        account = resolve_account(session, settings, handle)   # no account of its own: one line, as a real publish would say
        payload = {
            "reel_id": reel.id, "status": str(reel.status), "backend": account.backend if account else settings.publishing.backend,
            "creator": handle, "account": describe(account) if account else f"the settings' account (publishing.backend = {settings.publishing.backend})",
            "would_publish": reel.status == ReelStatus.RENDERED,
            "video": (reel.artifacts or {}).get("video"), "cover": (reel.artifacts or {}).get("cover"),
            "caption": full_caption(reel), "ai_label": settings.publishing.ai_label,
        }
        if as_json:
            print_json(payload)
        else:
            out.print(f"reel {reel.id} ({reel.status}) of @{handle} via {payload['account']}: would be published")
            out.print(f"video: {payload['video']}\ncover: {payload['cover']}\nAI label: {payload['ai_label']}\ncaption:\n{payload['caption']}")
        return
    # Instagram processes a reel for up to minutes before it can be published: show that something is happening.
    # The creator's own account; none (while others have theirs) is one line, and the reel is left as it is.
    with make_publisher_for(session, settings, creator_handle(session, reel_id)) as publisher, \
            err.status(f"publishing reel {reel_id} via {publisher.name} (Instagram may take a few minutes to process it)…"):
        outcome = publish_reel(session, settings, reel_id, publisher=publisher, worker=f"cli:{socket.gethostname()}:{os.getpid()}")
    if as_json:
        print_json({"reel_id": outcome.reel_id, "result": outcome.result, "detail": outcome.detail, "permalink": outcome.permalink})
    elif outcome.result in ("published", "already published"):
        out.print(f"reel {reel_id}: {outcome.result} — {outcome.permalink}")
    if outcome.result not in ("published", "already published"):
        raise ValidationFailed(f"reel {reel_id}: {outcome.result}: {outcome.detail}")


def register(root: typer.Typer) -> None:
    """Add `publish` to the root command."""
    root.command("publish")(publish)
