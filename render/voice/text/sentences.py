"""Sentence ends, synthesis chunks (``split_sentences``) and the words a listener hears (``speakable_words``)."""

from __future__ import annotations

import re
from collections.abc import Iterable


def _at_sentence_end(match: re.Match[str]) -> bool:
    """True where an abbreviation's period also ends the sentence (end of text or a capital follows)."""
    rest = match.string[match.end():]
    return not rest.strip() or re.match(r"\s+[\"']?[A-Z]", rest) is not None


# --- sentences and words ----------------------------------------------------------------------

_TERMINALS = ".!?…。！？"
_CLOSERS = "\"')]}»”’"
_NOT_SENTENCE_ENDS = frozenset(
    "e.g. i.e. vs. dr. mr. mrs. ms. st. prof. approx. jr. sr. mt. fig. cf. a.k.a.".split()
)


def _ends_sentence(token: str, following: str | None) -> bool:
    core = token.rstrip(_CLOSERS)
    if not core or core[-1] not in _TERMINALS:
        return False
    if core[-1] == "…":
        # An ellipsis before a lowercase word is a pause inside the sentence.
        return following is None or not following[:1].islower()
    if core[-1] == ".":
        if core.lower() in _NOT_SENTENCE_ENDS or re.fullmatch(r"(?:[^\W\d_]\.){2,}|[A-Z]\.", core):
            return False     # abbreviations and initials: "U.S.", "J."
        if core.lower() == "no." and following is not None and following[:1].isdigit():
            return False     # "No. 5", but "I said no." ends
    return True


def _pack(pieces: Iterable[list[str]], max_chars: int) -> list[list[str]]:
    """Greedily join consecutive pieces (lists of tokens) while the result fits in max_chars."""
    chunks: list[list[str]] = []
    current: list[str] = []
    for piece in pieces:
        if current and len(" ".join(current + piece)) > max_chars:
            chunks.append(current)
            current = []
        current = current + piece
    if current:
        chunks.append(current)
    return chunks


def _split_long(tokens: list[str], max_chars: int) -> list[list[str]]:
    if len(" ".join(tokens)) <= max_chars:
        return [tokens]
    clauses: list[list[str]] = [[]]
    for token in tokens:
        clauses[-1].append(token)
        if token.rstrip(_CLOSERS)[-1:] in ",;:":
            clauses.append([])
    clauses = [clause for clause in clauses if clause]
    pieces: list[list[str]] = []
    for clause in clauses:
        if len(" ".join(clause)) <= max_chars:
            pieces.append(clause)
        else:
            pieces.extend(_pack(([token] for token in clause), max_chars))
    return _pack(pieces, max_chars)


def split_sentences(text: str, max_chars: int = 280) -> list[str]:
    """Split at sentence ends, then split any sentence over ``max_chars`` at commas/semicolons, then between words.

    Only a single word longer than ``max_chars`` can make a chunk longer than ``max_chars``;
    ``" ".join(result)`` is ``text`` with its whitespace collapsed.
    """
    if max_chars < 1:
        raise ValueError(f"max_chars={max_chars!r}: a chunk must hold at least one character; pass a positive limit such as 280")
    tokens = text.split()
    sentences: list[list[str]] = []
    current: list[str] = []
    for index, token in enumerate(tokens):
        current.append(token)
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        if _ends_sentence(token, following):
            sentences.append(current)
            current = []
    if current:
        sentences.append(current)
    return [" ".join(chunk) for sentence in sentences for chunk in _split_long(sentence, max_chars)]


_EDGE_PUNCTUATION = re.compile(r"^[^\w]+|[^\w]+$")


def speakable_words(text: str) -> list[str]:
    """The words a listener hears in ``text`` as ``normalize`` returns it, without the punctuation around them.

    Hyphenated compounds ("twenty-two") and contractions ("o'clock") stay one word.
    """
    words = (_EDGE_PUNCTUATION.sub("", token) for token in text.split())
    return [word for word in words if word]
