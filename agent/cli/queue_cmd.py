"""The approval queue: ``queue``, ``show``, ``approve``, ``reject``, ``edit``, ``retry``."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from agent.cli.context import err, interactive, out, parse_reel_id, print_json
from agent.errors import AgentError, ValidationFailed

if TYPE_CHECKING:  # the models import sqlalchemy: not at `reeltwin --help` time
    from agent.db.models import ReelStatus

STATUS_STYLE = {
    "drafted": "bold yellow", "approved": "green", "rendering": "cyan", "rendered": "cyan",
    "publishing": "magenta", "published": "bold green", "rejected": "red", "skipped": "dim", "failed": "bold red",
}


def _status(value: str | None) -> ReelStatus | None:
    from agent.db.models import ReelStatus

    if value is None:
        return None
    try:
        return ReelStatus(value.lower())
    except ValueError:
        raise AgentError(f"--status {value!r} is not a state; use one of {', '.join(s.value for s in ReelStatus)}") from None


def _reel_json(item) -> dict:  # noqa: ANN001
    from agent.approval.queue import word_count

    reel, slot, creator = item.reel, item.slot, item.creator
    zone = ZoneInfo(creator.timezone)
    return {
        "id": reel.id,
        "handle": creator.handle,
        "status": str(reel.status),
        "slot_id": reel.slot_id,
        "slot_local": slot.scheduled_at.astimezone(zone).isoformat() if slot else None,
        "slot_utc": slot.scheduled_at.isoformat() if slot else None,
        "pillar": slot.pillar if slot else None,
        "hook": reel.hook,
        "words": word_count(reel.script),
        "version": reel.version,
        "attempts": reel.attempts,
        "last_error": reel.last_error,
        "permalink": reel.permalink,
    }


def queue(
    ctx: typer.Context,
    status: str = typer.Option(None, "--status", "-s", help="Only reels in this state (drafted, approved, ...)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Reels waiting for approval first, then everything else by slot time."""
    from agent.approval.queue import list_queue

    items = list_queue(ctx.obj.session, _status(status))
    rows = [_reel_json(item) for item in items]
    if as_json:
        print_json({"reels": rows})
        return
    if not rows:
        out.print("the queue is empty" + (f" (no {status} reels)" if status else "; drafts appear here after `reeltwin draft`"))
        return
    table = Table(title_justify="left")
    for column in ("id", "status", "slot (local)", "@", "pillar", "hook", "words"):
        table.add_column(column, overflow="fold")
    for row in rows:
        style = STATUS_STYLE.get(row["status"], "")
        local = row["slot_local"]
        table.add_row(str(row["id"]), f"[{style}]{row['status']}[/]", f"{local[:10]} {local[11:16]}" if local else "ad hoc",
                      row["handle"], row["pillar"] or "", row["hook"] or "", str(row["words"]))
    out.print(table)


def show(ctx: typer.Context, reel_id: int = typer.Argument(..., metavar="ID", parser=parse_reel_id),
         as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """Everything about one reel: script, caption, hashtags, versions and its history."""
    from agent.db.models import Creator, Slot
    from agent.approval.queue import QueueItem, events, get_reel, versions

    session = ctx.obj.session
    reel = get_reel(session, reel_id)
    item = QueueItem(reel, session.get(Slot, reel.slot_id) if reel.slot_id else None, session.get(Creator, reel.creator_id))
    payload = _reel_json(item) | {
        "script": reel.script, "on_screen_title": reel.on_screen_title, "caption": reel.caption,
        "hashtags": reel.hashtags, "cta": reel.cta, "feedback": reel.feedback, "artifacts": reel.artifacts,
        "brief": item.slot.brief if item.slot else None,
        "versions": [{"version": v.version, "source": v.source, "author": v.author, "at": v.created_at.isoformat(), "note": v.note, "script": v.script} for v in versions(session, reel.id)],
        "events": [{"at": e.at.isoformat(), "from": e.from_status, "to": e.to_status, "actor": e.actor, "reason": e.reason} for e in events(session, reel.id)],
    }
    if as_json:
        print_json(payload)
        return
    style = STATUS_STYLE.get(payload["status"], "")
    out.print(f"[bold]reel {reel.id}[/] @{payload['handle']}  [{style}]{payload['status']}[/]  slot {payload['slot_local'] or 'ad hoc'}  pillar {payload['pillar'] or '-'}  v{reel.version}")
    if payload["brief"]:
        out.print(f"[dim]brief:[/] {payload['brief']}")
    out.print(f"[dim]hook:[/] {reel.hook}\n[dim]title:[/] {reel.on_screen_title}\n[dim]script ({payload['words']} words):[/]\n{reel.script}")
    out.print(f"[dim]caption:[/] {reel.caption}\n[dim]hashtags:[/] {' '.join(reel.hashtags)}")
    if reel.feedback:
        out.print(f"[dim]last feedback:[/] {reel.feedback}")
    if reel.last_error:
        out.print(f"[red]last error:[/] {reel.last_error}")
    table = Table(title="history", title_justify="left")
    for column in ("when (UTC)", "from", "to", "by", "why"):
        table.add_column(column, overflow="fold")
    for event in payload["events"]:
        table.add_row(event["at"][:19].replace("T", " "), event["from"] or "", event["to"], event["actor"], event["reason"])
    out.print(table)


def approve(ctx: typer.Context, reel_ids: list[int] = typer.Argument(..., metavar="ID...", parser=parse_reel_id),
            as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """Approve drafted reels (all or none: one bad id changes nothing)."""
    from agent.approval.queue import approve as approve_reels

    outcome = approve_reels(ctx.obj.session, reel_ids, actor="creator:cli")
    if as_json:
        print_json({"approved": [reel_id for reel_id, result in outcome if result == "approved"],
                    "already_approved": [reel_id for reel_id, result in outcome if result == "already approved"]})
        return
    for reel_id, result in outcome:
        out.print(f"reel {reel_id}: {result}")


def reject(ctx: typer.Context, reel_id: int = typer.Argument(..., metavar="ID", parser=parse_reel_id),
           feedback: str = typer.Option(..., "--feedback", "-f", help="What to change; the next draft uses it."),
           as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """Reject a reel with feedback; it is drafted again from the feedback."""
    from agent.approval.queue import reject as reject_reel

    reel = reject_reel(ctx.obj.session, reel_id, feedback, actor="creator:cli")
    if as_json:
        print_json({"id": reel.id, "status": str(reel.status), "version": reel.version, "feedback": reel.feedback})
        return
    out.print(f"reel {reel.id}: rejected; the next `reeltwin draft` writes a new version from your feedback")


def edit(ctx: typer.Context, reel_id: int = typer.Argument(..., metavar="ID", parser=parse_reel_id),
         script_file: Path = typer.Option(None, "--script-file", help="A text file with the new script ('-' for stdin). Without it, opens $EDITOR."),
         as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """Replace a reel's script; the earlier version is kept. An approved reel goes back to drafted."""
    from agent.approval.queue import edit as edit_reel
    from agent.approval.queue import get_reel

    session = ctx.obj.session
    if script_file is None:
        text = _edit_in_editor(get_reel(session, reel_id).script)
    elif str(script_file) == "-":
        text = sys.stdin.read()
    else:
        try:
            text = script_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ValidationFailed(f"--script-file {str(script_file)!r}: no such file") from None
        except (UnicodeDecodeError, IsADirectoryError):
            raise ValidationFailed(f"--script-file {str(script_file)!r}: not a UTF-8 text file") from None
    reel, warnings = edit_reel(session, reel_id, script=text, actor="creator:cli", words_per_minute=ctx.obj.settings.drafting.words_per_minute)
    if as_json:
        print_json({"id": reel.id, "version": reel.version, "status": str(reel.status), "warnings": list(warnings)})
        return
    for warning in warnings:
        err.print(f"[yellow]warning:[/] {warning}")
    out.print(f"reel {reel.id}: saved as version {reel.version} ({reel.status}); earlier versions are kept (`reeltwin show {reel.id}`)")


def retry(ctx: typer.Context, reel_id: int = typer.Argument(..., metavar="ID", parser=parse_reel_id),
          as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """Send a failed reel back to the step that failed: rendering (approved) or publishing (rendered). Same rules as the web page's Retry."""
    from agent.approval.queue import retry as retry_reel

    reel = retry_reel(ctx.obj.session, reel_id, actor="creator:cli")
    if as_json:
        print_json({"id": reel.id, "status": str(reel.status), "attempts": reel.attempts, "last_error": reel.last_error})
        return
    step = f"`reeltwin publish {reel.id}` posts it now" if str(reel.status) == "rendered" else f"`reeltwin render {reel.id}` renders it now"
    out.print(f"reel {reel.id}: {reel.status} again; `reeltwin run` retries it, or {step}")


def _edit_in_editor(current: str) -> str:
    if not interactive():
        raise ValidationFailed("no terminal to open an editor in; pass --script-file FILE (or '-' for stdin)")
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "nano"
    with tempfile.NamedTemporaryFile("w+", suffix=".txt", delete=False, encoding="utf-8") as handle:
        handle.write(current)
        path = handle.name
    try:
        if subprocess.call([*shlex.split(editor), path]) != 0:
            raise ValidationFailed(f"editor {editor!r} exited with an error; nothing saved")
        return Path(path).read_text(encoding="utf-8")
    finally:
        os.unlink(path)


def register(root: typer.Typer) -> None:
    """Add `queue`, `show`, `approve`, `reject`, `edit`, `retry` to the root command."""
    root.command("queue")(queue)
    root.command("show")(show)
    root.command("approve")(approve)
    root.command("reject")(reject)
    root.command("edit")(edit)
    root.command("retry")(retry)
