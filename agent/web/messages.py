"""What the web pages say: the shared errors in the web's words, who did what, where a reel went, and what a QA check means.

The functions of :mod:`agent.approval.queue` speak to the command line (``--feedback``,
```reeltwin queue```); a page shows buttons and fields instead, and never a server path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import unquote, urlparse

from agent.approval.queue import FIELD_LABELS, NothingChanged, StaleFieldsError
from agent.errors import InvalidTransitionError

#: A reel's state as a page names it (the queue's badges use the same words).
STATE_WORDS = {
    "drafted": "waiting for you", "approved": "approved", "rendering": "rendering", "rendered": "scheduled",
    "publishing": "being posted", "published": "published", "rejected": "being redrafted", "skipped": "skipped", "failed": "failed",
}
#: What moving a reel into a state is called, for "cannot be … now".
_STATE_VERBS = {
    "drafted": "edited", "approved": "approved", "rendering": "rendered", "rendered": "scheduled", "publishing": "posted",
    "published": "published", "rejected": "rejected", "skipped": "skipped", "failed": "marked failed",
}
_CLI_CLAUSE = re.compile(r"`reeltwin|--[a-z]|\$EDITOR")
_ABSOLUTE_PATH = re.compile(r"(?<![\w.:/])(?:file://)?/(?:[\w.@+-]+/)+([\w.@+-]+)")


def web_text(text: str) -> str:
    """A message written for the terminal, for a page: clauses that name commands or options dropped, server paths as bare file names."""
    clauses = [clause for clause in text.split("; ") if not _CLI_CLAUSE.search(clause)]
    kept = "; ".join(clauses) or text.split("; ")[0]
    kept = re.sub(r"\s*\([^()]*`reeltwin[^()]*\)", "", kept)  # "(`reeltwin approve 3`)"
    kept = _ABSOLUTE_PATH.sub(lambda match: match.group(1), kept).strip()
    if not kept:
        return "Something went wrong; reload the page and try again."
    if re.match(r"[a-z]+(?=[\s,:;])", kept):  # a word, not a file name such as "reel.mp4"
        kept = kept[0].upper() + kept[1:]
    return kept if kept.endswith((".", "!", "?", ")")) else kept + "."


def stale_message(fields: list[str]) -> str:
    names = [FIELD_LABELS[name] for name in fields]
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return (f"The {listed} {'was' if len(names) == 1 else 'were'} written for the earlier script. Check {'it' if len(names) == 1 else 'them'} "
            "below and save, or tick “Keep them as they are” and approve.")


def error_message(error: Exception) -> str:
    """A shared error (:mod:`agent.approval.queue`, :mod:`agent.errors`) in the web's words."""
    if isinstance(error, StaleFieldsError):
        return stale_message(error.fields)
    if isinstance(error, NothingChanged):
        return "Nothing was changed, so nothing was saved."
    if isinstance(error, InvalidTransitionError):
        who = f"Reel {error.reel_id}" if error.reel_id is not None else "This reel"
        if error.current == error.target:
            return f"{who} is already {STATE_WORDS.get(error.current, error.current)}."
        return f"{who} is {STATE_WORDS.get(error.current, error.current)}, so it cannot be {_STATE_VERBS.get(error.target, error.target)} now."
    return web_text(str(error))


def actor_label(actor: str | None, viewer: str | None = None) -> str:
    """Who did something, as the user ``viewer`` reads it: "you (on the web)" for their own decisions (not
    "creator:web:creator"), "ana (on the web)" for another web user's; without a viewer, every web user is "you"."""
    if not actor:
        return "ReelTwin"
    kind, _, rest = actor.partition(":")
    if kind == "creator":
        if rest.startswith("web"):
            name = rest.partition(":")[2]
            if viewer is None or name == viewer:
                return "you (on the web)"
            return f"{name} (on the web)" if name else "someone (on the web)"
        if rest.startswith("cli"):
            return "you (command line)"
        return "you"
    if kind == "drafting":
        return "the writer" + (f" ({rest})" if rest else "")
    if kind in ("worker", "scheduler", "run"):
        return "ReelTwin"
    return actor


@dataclass(frozen=True)
class Destination:
    """Where a published reel went: a link to Instagram, or the outbox folder it was written to."""

    url: str | None
    label: str


def destination(permalink: str | None, media_id: str | None = None) -> Destination | None:
    """A web link for a real permalink; for the outbox's ``file://`` link only the folder's name (no server path, no link a browser cannot open)."""
    if not permalink:
        return None
    parsed = urlparse(permalink)
    if parsed.scheme in ("http", "https"):
        return Destination(permalink, "On Instagram")
    if parsed.scheme == "file" or (media_id or "").startswith("outbox:"):
        folder = PurePosixPath(unquote(parsed.path)).parent.name
        return Destination(None, f"In the outbox, folder {folder} (not posted)" if folder else "In the outbox (not posted)")
    return Destination(None, "Posted")


#: What each QA check makes sure of, in plain words.
CHECK_MEANINGS = {
    "file_size": "The file is small enough for Instagram to accept.",
    "container": "The file is an MP4, the format Instagram expects.",
    "faststart": "The video can start playing before it has fully downloaded.",
    "video_codec": "The picture is encoded as H.264, which Instagram plays everywhere.",
    "video_profile": "The H.264 settings give good quality for the file size.",
    "pixel_format": "The colours are stored the way phones play them.",
    "resolution": "The picture is full-size portrait (9:16), as Reels are shown.",
    "frame_rate": "The video plays smoothly at a steady frame rate.",
    "keyframe_interval": "The video starts cleanly and can be skipped through.",
    "closed_gop": "Each part of the video can be played on its own, so skipping works.",
    "audio_codec": "The sound is encoded as AAC, which Instagram plays.",
    "audio_sample_rate": "The sound uses the standard sample rate.",
    "audio_channels": "The sound is mono or stereo.",
    "audio_bitrate": "The sound is encoded at a good quality.",
    "loudness": "The voice is as loud as other reels: not too quiet, not too loud.",
    "duration": "The reel is long enough and not too long for Instagram.",
    "duration_reels_tab": "The reel is short enough to be shown in the Reels tab.",
    "lipsync_lag": "The mouth moves at the same moment as the voice.",
    "lipsync_correlation": "The mouth opens and closes with the voice.",
    "face_visible": "Your face is visible throughout the reel.",
    "no_jumps": "The face does not jump between frames.",
    "lips_close_on_pbm": "The lips close on p, b and m sounds, as real speech does.",
    "captions_safe_area": "The captions stay clear of Instagram's buttons and text.",
    "captions_clear_of_mouth": "The captions do not cover your mouth.",
}


@dataclass(frozen=True)
class CheckRow:
    """One QA check as the report page shows it."""

    title: str
    meaning: str
    value: str
    expected: str
    passed: bool
    hard: bool
    message: str


def check_rows(checks: Any) -> list[CheckRow]:
    """The report's checks for the page: failures first, then warnings, then the rest; values and messages without server paths."""
    rows = []
    for check in checks:
        value = "not measured" if check.value is None else ("yes" if check.value is True else "no" if check.value is False else str(check.value))
        rows.append(CheckRow(title=check.name.replace("_", " ").capitalize(), meaning=CHECK_MEANINGS.get(check.name, ""),
                             value=_ABSOLUTE_PATH.sub(lambda match: match.group(1), value), expected=check.expected,
                             passed=check.passed, hard=check.hard, message=web_text(check.message) if check.message else ""))
    return sorted(rows, key=lambda row: (row.passed, not row.hard))
