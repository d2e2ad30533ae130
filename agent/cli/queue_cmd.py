"""The approval queue: ``queue``, ``show``, ``approve``, ``reject``, ``edit``, ``retry``, ``unapprove``, ``reschedule``."""

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
    from agent.approval.queue import stale_fields, word_count

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
        "stale_fields": stale_fields(reel),
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
    from rich.table import Table
    table = Table(title_justify="left")
    for column in ("id", "status", "slot (local)", "@", "pillar", "hook", "words"):
        table.add_column(column, overflow="fold")
    for row in rows:
        style = STATUS_STYLE.get(row["status"], "")
        local = row["slot_local"]
        table.add_row(str(row["id"]), f"[{style}]{row['status']}[/]", f"{local[:10]} {local[11:16]}" if local else "ad hoc",
                      row["handle"], row["pillar"] or "", (row["hook"] or "") + (" [yellow](stale)[/]" if row["stale_fields"] else ""), str(row["words"]))
    out.print(table)


def show(ctx: typer.Context, reel_id: int = typer.Argument(..., metavar="ID", parser=parse_reel_id),
         as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """Everything about one reel: script, caption, hashtags, versions and its history."""
    from rich.markup import escape

    from agent.approval.queue import QueueItem, events, get_reel, versions
    from agent.db.models import Creator, Slot
    from agent.enrollment.reel_audio import recording_json, stale_message

    session = ctx.obj.session
    reel = get_reel(session, reel_id)
    item = QueueItem(reel, session.get(Slot, reel.slot_id) if reel.slot_id else None, session.get(Creator, reel.creator_id))
    payload = _reel_json(item) | {
        "script": reel.script, "on_screen_title": reel.on_screen_title, "caption": reel.caption,
        "hashtags": reel.hashtags, "cta": reel.cta, "feedback": reel.feedback, "artifacts": reel.artifacts,
        "brief": item.slot.brief if item.slot else None,
        "draft_warnings": list((reel.artifacts or {}).get("draft_warnings") or []),
        "own_voice": recording_json(reel),
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
    stale = payload["stale_fields"]
    mark = {name: " [yellow](stale)[/]" if name in stale else "" for name in ("hook", "on_screen_title", "caption", "hashtags")}
    out.print(f"[dim]hook:[/] {reel.hook}{mark['hook']}\n[dim]title:[/] {reel.on_screen_title}{mark['on_screen_title']}\n[dim]script ({payload['words']} words):[/]\n{reel.script}")
    out.print(f"[dim]caption:[/] {reel.caption}{mark['caption']}\n[dim]hashtags:[/] {' '.join(reel.hashtags)}{mark['hashtags']}")
    if stale:
        out.print(f"[yellow]stale:[/] {_stale_hint(reel.id, stale)}")
    out.print(_voice_line(reel.id, payload["own_voice"]), highlight=False)
    if payload["own_voice"] and payload["own_voice"]["stale"]:
        out.print(f"[yellow]stale:[/] {escape(stale_message(reel))}", highlight=False)
    if payload["draft_warnings"]:
        out.print("[yellow]warnings:[/]")
        for warning in payload["draft_warnings"]:
            out.print(f"  - {escape(warning)}")
    if reel.feedback:
        out.print(f"[dim]last feedback:[/] {reel.feedback}")
    if reel.last_error:
        out.print(f"[red]last error:[/] {reel.last_error}")
    out.print("[dim]versions (* = current):[/]")
    for line in _version_lines(payload["versions"], reel.version):
        out.print(line, highlight=False)
    from rich.table import Table
    table = Table(title="history", title_justify="left")
    for column in ("when (UTC)", "from", "to", "by", "why"):
        table.add_column(column, overflow="fold")
    for event in payload["events"]:
        table.add_row(event["at"][:19].replace("T", " "), event["from"] or "", event["to"], event["actor"], event["reason"])
    out.print(table)


def _version_lines(rows: list[dict], current: int) -> list[str]:
    """The script's versions, oldest first, one line each: which one is live, its source, who wrote it, when, how it begins."""
    from rich.markup import escape

    author_width = max((len(row["author"] or "") for row in rows), default=0)
    lines = []
    for row in rows:
        words = row["script"].split()
        opening = " ".join(words[:8]) + (" …" if len(words) > 8 else "")
        mark = "*" if row["version"] == current else " "
        lines.append(f"{mark} v{row['version']:<3} {row['source']:<6} by {escape((row['author'] or '').ljust(author_width))}  "
                     f"{row['at'][:16].replace('T', ' ')} UTC  {escape(opening)}")
    return lines


def approve(ctx: typer.Context, reel_ids: list[int] = typer.Argument(..., metavar="ID...", parser=parse_reel_id),
            keep_stale: bool = typer.Option(False, "--keep-stale", help="Approve even if the hook, title, caption or hashtags were written for an earlier script."),
            as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """Approve drafted reels (all or none: one bad id changes nothing)."""
    from agent.approval.queue import approve as approve_reels

    outcome = approve_reels(ctx.obj.session, reel_ids, actor="creator:cli", keep_stale=keep_stale)
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

    reel = reject_reel(ctx.obj.session, reel_id, feedback, actor="creator:cli", data_dir=ctx.obj.settings.data_dir)
    if as_json:
        print_json({"id": reel.id, "status": str(reel.status), "version": reel.version, "feedback": reel.feedback})
        return
    out.print(f"reel {reel.id}: rejected; the next `reeltwin draft` writes a new version from your feedback")


def edit(ctx: typer.Context, reel_id: int = typer.Argument(..., metavar="ID", parser=parse_reel_id),
         script_file: Path = typer.Option(None, "--script-file", help="A text file with the new script ('-' for stdin). Without it or a field option, opens $EDITOR."),
         hook: str = typer.Option(None, "--hook", help="The new hook (the first line said)."),
         title: str = typer.Option(None, "--title", help="The new on-screen title."),
         caption: str = typer.Option(None, "--caption", help="The new caption."),
         hashtags: str = typer.Option(None, "--hashtags", help="The new hashtags, separated by spaces or commas ('' for none)."),
         hook_file: Path = typer.Option(None, "--hook-file", help="The hook from a text file ('-' for stdin)."),
         title_file: Path = typer.Option(None, "--title-file", help="The on-screen title from a text file ('-' for stdin)."),
         caption_file: Path = typer.Option(None, "--caption-file", help="The caption from a text file ('-' for stdin)."),
         hashtags_file: Path = typer.Option(None, "--hashtags-file", help="The hashtags from a text file ('-' for stdin)."),
         as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """Change a reel's script or any of its fields; the earlier version is kept. An approved reel goes back to drafted.

    A new script marks the hook, title, caption and hashtags written for the old one as stale until they are edited too.
    """
    from agent.approval.queue import edit as edit_reel
    from agent.approval.queue import get_reel, stale_fields

    session = ctx.obj.session
    from_stdin = [option for option, path in (("--script-file", script_file), ("--hook-file", hook_file), ("--title-file", title_file),
                                              ("--caption-file", caption_file), ("--hashtags-file", hashtags_file)) if str(path) == "-"]
    if len(from_stdin) > 1:
        raise ValidationFailed(f"{' and '.join(from_stdin)} both read stdin ('-'); give all but one of them a file")
    pairs = {"--hook": (hook, hook_file), "--title": (title, title_file), "--caption": (caption, caption_file), "--hashtags": (hashtags, hashtags_file)}
    fields: dict[str, str | None] = {}
    for option, (value, path) in pairs.items():
        if value is not None and path is not None:
            raise ValidationFailed(f"{option} and {option}-file both given; pass one of them")
        fields[option] = _read_text(f"{option}-file", path) if path is not None else value
    if script_file is None and all(value is None for value in fields.values()):
        text = _edit_in_editor(get_reel(session, reel_id).script)
    else:
        text = _read_text("--script-file", script_file) if script_file is not None else None
    tags = None if fields["--hashtags"] is None else [tag for tag in fields["--hashtags"].replace(",", " ").split() if tag]
    reel, warnings = edit_reel(session, reel_id, script=text, hook=fields["--hook"], on_screen_title=fields["--title"], caption=fields["--caption"],
                               hashtags=tags, actor="creator:cli", words_per_minute=ctx.obj.settings.drafting.words_per_minute)
    stale = stale_fields(reel)
    if as_json:
        print_json({"id": reel.id, "version": reel.version, "status": str(reel.status), "warnings": list(warnings), "stale_fields": stale})
        return
    for warning in warnings:
        err.print(f"[yellow]warning:[/] {warning}")
    if stale:
        err.print(f"[yellow]stale:[/] {_stale_hint(reel.id, stale)}")
    out.print(f"reel {reel.id}: saved as version {reel.version} ({reel.status}); earlier versions are kept (`reeltwin show {reel.id}`)")


def _read_text(option: str, path: Path | None) -> str | None:
    """The text of a ``--…-file`` option ('-' is stdin); a missing or binary file is one user error."""
    if path is None:
        return None
    if str(path) == "-":
        return sys.stdin.read()
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValidationFailed(f"{option} {str(path)!r}: no such file") from None
    except (UnicodeDecodeError, IsADirectoryError):
        raise ValidationFailed(f"{option} {str(path)!r}: not a UTF-8 text file") from None


def _stale_hint(reel_id: int, stale: list[str]) -> str:
    from agent.approval.queue import FIELD_LABELS

    options = {"hook": "--hook", "on_screen_title": "--title", "caption": "--caption", "hashtags": "--hashtags"}
    return (f"{', '.join(FIELD_LABELS[name] for name in stale)} were written for an earlier script; "
            f"set them with `reeltwin edit {reel_id} {' '.join(options[name] + ' …' for name in stale)}`, or `reeltwin approve {reel_id} --keep-stale`")


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


def unapprove(ctx: typer.Context, reel_id: int = typer.Argument(..., metavar="ID", parser=parse_reel_id),
              as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """Take an approval back before rendering starts: the reel waits for you again (drafted). Refused once a render worker has it."""
    from agent.approval.decisions import unapprove as unapprove_reel

    reel = unapprove_reel(ctx.obj.session, reel_id, actor="creator:cli")
    if as_json:
        print_json({"id": reel.id, "status": str(reel.status)})
        return
    out.print(f"reel {reel.id}: approval undone; it is drafted again and will not be rendered until `reeltwin approve {reel.id}`")


def reschedule(ctx: typer.Context, reel_id: int = typer.Argument(..., metavar="ID", parser=parse_reel_id),
               to: str = typer.Option(..., "--to", help="The new time, '2026-12-08 18:30' in the creator's time zone (or with an offset, "
                                                        "'2026-12-08T18:30+01:00'); 'now' makes a rendered reel due now."),
               as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """Give one reel another publishing time, inside its calendar's quiet hours and minimum gap; recorded in its history."""
    from agent.approval.queue import get_reel
    from agent.approval.timing import parse_local_time, publish_now, reschedule as reschedule_reel, rules_for
    from agent.db.models import Creator

    session = ctx.obj.session
    reel = get_reel(session, reel_id)
    creator = session.get(Creator, reel.creator_id)
    note = None
    if to.strip().lower() == "now":
        reel = publish_now(session, reel_id, actor="creator:cli")
    else:
        rules, note = rules_for(ctx.obj.settings.calendar_dir, creator.handle)
        reel = reschedule_reel(session, reel_id, parse_local_time(to, creator.timezone, field="--to time"), actor="creator:cli", rules=rules)
    local = reel.publish_at.astimezone(ZoneInfo(creator.timezone))
    if as_json:
        print_json({"id": reel.id, "status": str(reel.status), "publish_at_utc": reel.publish_at.isoformat(), "publish_at_local": local.isoformat(),
                    "note": note})
        return
    if note:
        err.print(f"[yellow]note:[/] {note}")
    when = "now (the next publish sweep of `reeltwin run` posts it)" if to.strip().lower() == "now" else f"{local:%a %d %b %Y, %H:%M} ({creator.timezone})"
    out.print(f"reel {reel.id}: goes out {when}")


def _voice_line(reel_id: int, recording: dict | None) -> str:
    """Who reads the script: the synthetic voice, or the creator's own recording."""
    if recording is None:
        return f"[dim]voice:[/] synthetic (read your own with `reeltwin reel audio {reel_id} FILE`)"
    return f"[dim]voice:[/] your own recording ({recording['duration_s'] or 0:.1f} s, read for version {recording['version']}, by {recording['by']})"


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
    """Add `queue`, `show`, `approve`, `reject`, `edit`, `retry`, `unapprove`, `reschedule` to the root command."""
    root.command("queue")(queue)
    root.command("show")(show)
    root.command("approve")(approve)
    root.command("reject")(reject)
    root.command("edit")(edit)
    root.command("retry")(retry)
    root.command("unapprove")(unapprove)
    root.command("reschedule")(reschedule)
