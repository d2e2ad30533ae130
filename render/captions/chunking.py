"""Word timings -> short caption chunks (what is on screen at once)."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from render.types import WordTiming

_SENTENCE_END = ".!?…。！？"
_CLAUSE_END = ",;:—"
_CLOSERS = "\"')]}»”’"


@dataclass(frozen=True)
class Chunk:
    """Words shown together; on screen from ``start_s`` to ``end_s`` (first word's start to the next chunk or a linger)."""

    words: tuple[WordTiming, ...]
    start_s: float
    end_s: float

    @property
    def text(self) -> str:
        return " ".join(word.word for word in self.words)

    def highlighted_index(self, t_s: float) -> int:
        """The word being spoken at ``t_s``: the last one that has started (it stays lit through short pauses)."""
        index = 0
        for position, word in enumerate(self.words):
            if word.start_s <= t_s:
                index = position
        return index


def _ends_with(word: str, marks: str) -> bool:
    """True when ``word`` ends with one of ``marks``, looking past closing quotes and glued emoji ("today! 🎉")."""
    core = word.rstrip()
    while core and (core[-1] in _CLOSERS or core[-1].isspace() or unicodedata.category(core[-1]) in ("So", "Sk", "Mn", "Cf", "Me")):
        core = core[:-1]
    return bool(core) and core[-1] in marks


def chunk_words(
    words: Sequence[WordTiming],
    *,
    max_words: int = 4,
    pause_split_s: float = 0.35,
    linger_s: float = 0.4,
) -> tuple[Chunk, ...]:
    """Group words into chunks: a new chunk after sentence punctuation, after a pause over ``pause_split_s``,
    and at ``max_words`` words; a clause mark (comma) ends a chunk that already has two or more words.

    Chunks are shown from their first word's start until the next chunk starts, but at most
    ``linger_s`` after their last word ends, so no caption hangs over a long pause.
    (``max_lines`` is a layout rule: see ``render.captions.layout``.)
    """
    if max_words < 1:
        raise ValueError(f"max_words={max_words!r}: a chunk holds at least one word; pass 1 or more (4 is usual)")
    groups: list[list[WordTiming]] = []
    current: list[WordTiming] = []
    for index, word in enumerate(words):
        if current and (word.start_s - current[-1].end_s > pause_split_s):
            groups.append(current)
            current = []
        current.append(word)
        last = index == len(words) - 1
        if last:
            break
        if len(current) >= max_words or _ends_with(word.word, _SENTENCE_END) or (len(current) >= 2 and _ends_with(word.word, _CLAUSE_END)):
            groups.append(current)
            current = []
    if current:
        groups.append(current)
    chunks: list[Chunk] = []
    for index, group in enumerate(groups):
        start = group[0].start_s
        end = max(w.end_s for w in group) + linger_s
        if index + 1 < len(groups):
            end = min(end, groups[index + 1][0].start_s)
        chunks.append(Chunk(tuple(group), round(start, 3), round(max(end, start + 0.04), 3)))
    return tuple(chunks)
