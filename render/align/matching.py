"""From recognised (or synthesized) words with times to times for the words *as written* in the script.

Every aligner ends the same way: it has some spoken words with times (a recogniser's
output, a synthesizer's estimate) and the known script. This module

1. splits the script into written words (``script_words``): whitespace tokens, with
   stage directions dropped and emoji glued to their neighbour, each with its spoken
   form from ``render.voice.text.normalize`` ("$5" -> "five dollars", "3pm" -> "three p m");
2. aligns the spoken tokens of the script with the timed tokens (``align_tokens``:
   Needleman-Wunsch with a fuzzy word similarity, so "colour"/"color" still pair);
3. gives every script token a time: its partner's where it has one, otherwise
   interpolated between its timed neighbours by length (``time_script``);
4. maps the token times back to written words (first token's start, last token's end).

``spread_over_speech`` is the fallback when text and audio do not match: the words are
spread over the detected speech in proportion to their spoken length.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache
from pathlib import Path
from typing import Any

from render.types import WordTiming

#: a token pair at least this similar (0..1, difflib ratio) counts as the same word
SAME_WORD_SIMILARITY = 0.75


@dataclass(frozen=True)
class ScriptWord:
    """One word as written (what a caption shows) and the tokens a speaker says for it."""

    written: str
    spoken: tuple[str, ...]


@dataclass(frozen=True)
class TimedToken:
    """A spoken token (lowercase, no punctuation) with its time in the audio."""

    token: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class ScriptTiming:
    """The written words with times, and how many of the script's spoken tokens the timed tokens matched."""

    words: tuple[WordTiming, ...]
    matched_tokens: int
    script_tokens: int

    @property
    def match_ratio(self) -> float:
        return self.matched_tokens / self.script_tokens if self.script_tokens else 0.0


# --- the script's words ---------------------------------------------------------------------------

_GROUPS = re.compile(r"\([^()\n]*\)|\[[^\[\]\n]*\]|<[^<>\n]*>|(?<!\w)\*[^*\n]+\*(?!\w)")
_TOKEN_EDGE = re.compile(r"^[^\w]+|[^\w]+$")


def _is_emoji_like(token: str) -> bool:
    """True for tokens made only of pictographs, joiners and variation selectors (nothing a caption should drop)."""
    return bool(token) and all(unicodedata.category(ch) in ("So", "Sk", "Mn", "Cf", "Me") or ch in "\u200d\ufe0f" for ch in token) and any(
        unicodedata.category(ch) == "So" for ch in token
    )


@lru_cache(maxsize=4096)
def spoken_tokens(text: str, language: str = "en") -> tuple[str, ...]:
    """The tokens a speaker says for ``text``: normalized, lowercased, split at spaces and hyphens, no punctuation."""
    from render.voice.text import normalize, speakable_words

    tokens: list[str] = []
    for word in speakable_words(normalize(text, language)):
        for part in word.lower().split("-"):
            part = _TOKEN_EDGE.sub("", part)
            if part:
                tokens.append(part)
    return tuple(tokens)


def script_words(text: str, language: str = "en") -> tuple[ScriptWord, ...]:
    """The script's written words (whitespace tokens) with their spoken tokens.

    Stage directions the voice stage drops ("(smiles)", "[beat]") are dropped here too;
    emoji and other unspoken symbols are glued to the previous word ("today! 🎉") so
    captions still show them; a token that is neither (a lone dash) is dropped.
    """
    from render.voice.text import normalize

    def drop_unspoken_group(match: re.Match[str]) -> str:
        return " " if not normalize(match[0], language).strip() else match[0]

    written_text = _GROUPS.sub(drop_unspoken_group, text)
    words: list[ScriptWord] = []
    pending_prefix = ""
    for token in written_text.split():
        spoken = spoken_tokens(token, language)
        if spoken:
            words.append(ScriptWord(f"{pending_prefix} {token}".strip(), spoken))
            pending_prefix = ""
        elif _is_emoji_like(token):
            if words:
                words[-1] = ScriptWord(f"{words[-1].written} {token}", words[-1].spoken)
            else:
                pending_prefix = f"{pending_prefix} {token}".strip()
        # anything else unspoken (a dash, a bullet) is not a caption word
    if pending_prefix and words:
        words[-1] = ScriptWord(f"{words[-1].written} {pending_prefix}", words[-1].spoken)
    return tuple(words)


def timed_tokens(words: Sequence[WordTiming], language: str = "en") -> list[TimedToken]:
    """Spoken tokens of recognised/synthesized words, each word's time shared among its tokens by length.

    A recogniser may write "$5" or "50%": those are normalized like the script, so both
    sides compare spoken words.
    """
    tokens: list[TimedToken] = []
    for word in words:
        parts = spoken_tokens(word.word.strip(), language)
        if not parts:
            continue
        total = sum(len(part) for part in parts)
        clock = word.start_s
        span = max(0.0, word.end_s - word.start_s)
        for part in parts:
            duration = span * len(part) / total
            tokens.append(TimedToken(part, clock, clock + duration))
            clock += duration
    return tokens


# --- alignment ----------------------------------------------------------------------------------


def similarity(a: str, b: str) -> float:
    """0..1: how alike two spoken tokens are (1 for equal; apostrophes ignored)."""
    if a == b:
        return 1.0
    a, b = a.replace("'", ""), b.replace("'", "")
    if a == b:
        return 0.98
    return SequenceMatcher(None, a, b, autojunk=False).ratio()


def align_tokens(script: Sequence[str], heard: Sequence[str]) -> list[tuple[int | None, int | None]]:
    """Global alignment (Needleman-Wunsch) of two token lists: pairs (script index, heard index), None for a gap.

    A pair scores +2 for the same word, +1 for a similar one (``SAME_WORD_SIMILARITY``),
    -1 for a substitution; a gap costs -1. Long inputs (over 2 million cells) are aligned
    on their exactly equal blocks instead (difflib), which is linear enough.
    """
    n, m = len(script), len(heard)
    if n * m > 2_000_000:
        return _align_by_blocks(script, heard)
    import numpy as np

    gap = -1.0
    pair_score = np.full((n, m), -1.0)
    heard_index: dict[str, list[int]] = {}
    for j, token in enumerate(heard):
        heard_index.setdefault(token, []).append(j)
    for i, token in enumerate(script):
        for j in heard_index.get(token, ()):
            pair_score[i, j] = 2.0
    # fuzzy pairs only near the diagonal band of the exact ones (cheap and enough in practice)
    for i, a in enumerate(script):
        centre = int(i * m / max(n, 1))
        for j in range(max(0, centre - 40), min(m, centre + 41)):
            if pair_score[i, j] < 2.0 and similarity(a, heard[j]) >= SAME_WORD_SIMILARITY:
                pair_score[i, j] = 1.0
    score = np.zeros((n + 1, m + 1))
    score[1:, 0] = gap * np.arange(1, n + 1)
    score[0, 1:] = gap * np.arange(1, m + 1)
    move = np.zeros((n + 1, m + 1), dtype=np.int8)   # 0 diagonal, 1 up (script gap), 2 left (heard gap)
    move[1:, 0] = 1
    move[0, 1:] = 2
    for i in range(1, n + 1):
        row_pairs = pair_score[i - 1]
        previous = score[i - 1]
        current = score[i]
        for j in range(1, m + 1):
            diagonal = previous[j - 1] + row_pairs[j - 1]
            up = previous[j] + gap
            left = current[j - 1] + gap
            if diagonal >= up and diagonal >= left:
                current[j], move[i, j] = diagonal, 0
            elif up >= left:
                current[j], move[i, j] = up, 1
            else:
                current[j], move[i, j] = left, 2
    pairs: list[tuple[int | None, int | None]] = []
    i, j = n, m
    while i > 0 or j > 0:
        step = move[i, j]
        if step == 0:
            pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif step == 1:
            pairs.append((i - 1, None))
            i -= 1
        else:
            pairs.append((None, j - 1))
            j -= 1
    pairs.reverse()
    return pairs


def _align_by_blocks(script: Sequence[str], heard: Sequence[str]) -> list[tuple[int | None, int | None]]:
    matcher = SequenceMatcher(None, list(script), list(heard), autojunk=False)
    pairs: list[tuple[int | None, int | None]] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal" or (tag == "replace" and i2 - i1 == j2 - j1):
            pairs += list(zip(range(i1, i2), range(j1, j2), strict=True))
        else:
            pairs += [(i, None) for i in range(i1, i2)] + [(None, j) for j in range(j1, j2)]
    return pairs


def time_script(
    words: Sequence[ScriptWord],
    heard: Sequence[TimedToken],
    *,
    speech_start_s: float,
    speech_end_s: float,
) -> ScriptTiming:
    """Times for the written ``words`` from the timed tokens ``heard`` (see the module docstring)."""
    script = [token for word in words for token in word.spoken]
    pairs = align_tokens(script, [t.token for t in heard])
    times: list[tuple[float, float] | None] = [None] * len(script)
    matched = 0
    for i, j in pairs:
        if i is None or j is None:
            continue
        if similarity(script[i], heard[j].token) >= SAME_WORD_SIMILARITY:
            matched += 1
        times[i] = (heard[j].start_s, heard[j].end_s)   # a substitution is most often a misheard word: keep its time
    return time_written_words(words, times, speech_start_s=speech_start_s, speech_end_s=speech_end_s, matched_tokens=matched)


def time_written_words(
    words: Sequence[ScriptWord],
    token_times: Sequence[tuple[float, float] | None],
    *,
    speech_start_s: float,
    speech_end_s: float,
    matched_tokens: int | None = None,
) -> ScriptTiming:
    """Times for the written ``words`` from a time (or None) per spoken token, in script order.

    What a forced aligner has: it timed the script's own tokens, so no sequence alignment is
    needed. Untimed tokens are interpolated; each written word spans its first token's start
    to its last token's end. ``matched_tokens`` defaults to the number of timed tokens.
    """
    lengths = [len(token) for word in words for token in word.spoken]
    if len(token_times) != len(lengths):
        raise ValueError(f"{len(token_times)} token times for {len(lengths)} spoken tokens")
    times = list(token_times)
    timed = sum(time is not None for time in times)
    _interpolate(times, lengths, speech_start_s, speech_end_s)
    result: list[WordTiming] = []
    position = 0
    for word in words:
        first = times[position]
        last = times[position + len(word.spoken) - 1]
        assert first is not None and last is not None
        result.append(WordTiming(word.written, round(first[0], 3), round(max(first[0], last[1]), 3)))
        position += len(word.spoken)
    return ScriptTiming(tuple(_monotone(result)), timed if matched_tokens is None else matched_tokens, len(lengths))


def _interpolate(times: list[tuple[float, float] | None], lengths: list[int], start_s: float, end_s: float) -> None:
    """Fill runs of untimed tokens between their timed neighbours (or the speech edges), by token length."""
    index = 0
    count = len(times)
    while index < count:
        if times[index] is not None:
            index += 1
            continue
        run_end = index
        while run_end < count and times[run_end] is None:
            run_end += 1
        left = times[index - 1][1] if index > 0 and times[index - 1] is not None else min(start_s, _first_time(times, run_end, end_s))
        right = times[run_end][0] if run_end < count and times[run_end] is not None else max(end_s, left)
        if right < left:
            right = left
        weights = [max(1, lengths[k]) for k in range(index, run_end)]
        unit = (right - left) / sum(weights)
        clock = left
        for k, weight in zip(range(index, run_end), weights, strict=True):
            times[k] = (clock, clock + weight * unit)
            clock += weight * unit
        index = run_end


def _first_time(times: list[tuple[float, float] | None], index: int, default: float) -> float:
    return times[index][0] if index < len(times) and times[index] is not None else default


def _monotone(words: list[WordTiming]) -> list[WordTiming]:
    """Starts never go backwards and every end is at or after its start (recognisers may overlap words)."""
    fixed: list[WordTiming] = []
    clock = 0.0
    for word in words:
        start = max(word.start_s, clock)
        end = max(word.end_s, start)
        fixed.append(WordTiming(word.word, round(start, 3), round(end, 3)))
        clock = start
    return fixed


# --- fallback ---------------------------------------------------------------------------------------


def spread_over_speech(words: Sequence[ScriptWord], segments: Sequence[tuple[float, float]], duration_s: float) -> tuple[WordTiming, ...]:
    """Spread the written words over the speech segments in order, each by its spoken length (characters).

    With no speech detected the whole file is used. Words never straddle the silence
    between segments in a way that reverses time: the result is monotone.
    """
    if not words:
        return ()
    spans = [(max(0.0, a), min(duration_s, b)) for a, b in segments if b > a] or [(0.0, max(duration_s, 0.001))]
    total_speech = sum(b - a for a, b in spans)
    weights = [sum(len(token) for token in word.spoken) + 1 for word in words]
    unit = total_speech / sum(weights)

    def to_time(position: float) -> float:
        for a, b in spans:
            if position <= b - a + 1e-9:
                return a + position
            position -= b - a
        return spans[-1][1]

    result: list[WordTiming] = []
    clock = 0.0
    for word, weight in zip(words, weights, strict=True):
        start = to_time(clock)
        clock += weight * unit
        end = to_time(clock - 1e-6)
        result.append(WordTiming(word.written, round(start, 3), round(max(start, end), 3)))
    return tuple(_monotone(result))


def load_script_and_audio(audio_path: Path, text: str, language: str, rate_hz: int) -> tuple[tuple[ScriptWord, ...], Any, float, list[tuple[float, float]]]:
    """What every aligner of a known script starts from: the script's words, the audio (mono at ``rate_hz``), its length and speech."""
    from render.align.base import AlignError
    from render.align.speech_activity import load_mono, speech_segments

    words = script_words(text, language)
    if not words:
        raise AlignError(f"text {text[:60]!r} has no spoken words to align; pass the script that was spoken")
    samples = load_mono(Path(audio_path), rate_hz)
    return words, samples, samples.size / rate_hz, speech_segments(samples, rate_hz)


def spread_fallback(words: tuple[ScriptWord, ...], segments: list[tuple[float, float]], duration_s: float, backend: str,
                    warning: str, ratio: float = 0.0) -> Any:
    """The graceful way out: the words spread over the detected speech, flagged as a fallback with the reason."""
    import logging

    from render.types import Alignment

    # Returned with the alignment: the caller shows it once (the CLI prints it, the render sweep logs it).
    logging.getLogger(__name__).debug("alignment fallback: %s", warning)
    return Alignment(words=spread_over_speech(words, segments, duration_s), backend=backend,
                     match_ratio=round(ratio, 3), fallback=True, warnings=(warning,))

