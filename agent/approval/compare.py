"""Two versions of a reel's words side by side, with the words that differ marked (difflib, word by word)."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from agent.db.models import ScriptVersion

#: The fields compared, in the order a page shows them, with how a person names them.
COMPARED_FIELDS = {"script": "Script", "hook": "Hook", "on_screen_title": "On-screen title", "caption": "Caption", "hashtags": "Hashtags"}
_TOKENS = re.compile(r"\s+|[^\s]+")


@dataclass(frozen=True)
class Piece:
    """A run of text on one side: ``kind`` is "same", "removed" (only on the left) or "added" (only on the right)."""

    kind: str
    text: str


@dataclass(frozen=True)
class FieldDiff:
    """One field of the two versions: the left and the right text as pieces, and whether they differ at all."""

    name: str
    label: str
    left: list[Piece]
    right: list[Piece]
    changed: bool


def word_diff(old: str, new: str) -> tuple[list[Piece], list[Piece]]:
    """``old`` and ``new`` as pieces: words only ``old`` has are "removed", words only ``new`` has are "added".

    Whitespace is kept as it is (line breaks too) and never marked on its own, so a re-wrapped line is not a change."""
    left_tokens, right_tokens = _TOKENS.findall(old or ""), _TOKENS.findall(new or "")
    # Compared without the whitespace runs: only words count as a change.
    left_words = [(i, token) for i, token in enumerate(left_tokens) if not token.isspace()]
    right_words = [(i, token) for i, token in enumerate(right_tokens) if not token.isspace()]
    left_kind = ["same"] * len(left_tokens)
    right_kind = ["same"] * len(right_tokens)
    matcher = difflib.SequenceMatcher(None, [w for _, w in left_words], [w for _, w in right_words], autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag in ("replace", "delete"):
            for index, _word in left_words[i1:i2]:
                left_kind[index] = "removed"
        if tag in ("replace", "insert"):
            for index, _word in right_words[j1:j2]:
                right_kind[index] = "added"
    return _runs(left_tokens, left_kind), _runs(right_tokens, right_kind)


def _runs(tokens: list[str], kinds: list[str]) -> list[Piece]:
    """Neighbouring tokens of one kind joined; whitespace between two changed words joins their run."""
    pieces: list[Piece] = []
    for index, (token, kind) in enumerate(zip(tokens, kinds)):
        if token.isspace():
            before = kinds[index - 1] if index else "same"
            after = kinds[index + 1] if index + 1 < len(kinds) else "same"
            kind = before if before == after and before != "same" and "\n" not in token else "same"
        if pieces and pieces[-1].kind == kind:
            pieces[-1] = Piece(kind, pieces[-1].text + token)
        else:
            pieces.append(Piece(kind, token))
    return pieces


def _field_text(version: ScriptVersion, name: str) -> str:
    value = getattr(version, name)
    return " ".join(value or []) if name == "hashtags" else value or ""


def compare_versions(left: ScriptVersion, right: ScriptVersion) -> list[FieldDiff]:
    """Every compared field of the two versions, the script first."""
    diffs = []
    for name, label in COMPARED_FIELDS.items():
        old, new = _field_text(left, name), _field_text(right, name)
        left_pieces, right_pieces = word_diff(old, new)
        diffs.append(FieldDiff(name, label, left_pieces, right_pieces, changed=old != new))
    return diffs
