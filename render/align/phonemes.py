"""Phoneme timings for a recording whose words were aligned: what drives the avatar's mouth when no synthesizer spoke.

A synthesizer knows when it said each phoneme; a recording only has the aligner's word
times. Each aligned word is read by espeak-ng (the voice stage's phonemizer, bundled
with ``piper-tts``) and its IPA phonemes are spread over the word's time, weighted by
typical durations (``render.voice.piper_backend.estimate_timings``, the same rule
Piper's unpatched voice uses), so the mouth closes on p/b/m and rounds on "oo" roughly
where the speaker did. Without espeak-ng the result is empty and the mouth follows the
loudness alone, as for any recording without timings.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence

from render.types import PhonemeTiming, WordTiming

log = logging.getLogger(__name__)


def word_ipa(word: str, language: str = "en") -> list[str] | None:
    """espeak-ng's IPA phonemes for one written word (stress and length marks kept with their phoneme); None without espeak-ng."""
    from render.align.pronunciation import _ESPEAK_LOCK, _espeak
    from render.voice.text import normalize

    bridge = _espeak()
    if bridge is None:
        return None
    spoken = normalize(word, language).strip()
    if not spoken:
        return []
    with _ESPEAK_LOCK:   # espeak-ng is one global state
        bridge.set_voice("en-us" if language.lower().startswith("en") else language)   # type: ignore[attr-defined]
        clauses = bridge.get_phonemes(spoken)   # type: ignore[attr-defined]
    ipa = " ".join(re.sub(r"\([^)]*\)", "", phonemes) for phonemes, _terminator, _end in clauses)
    symbols: list[str] = []
    stress = ""
    for symbol in unicodedata.normalize("NFD", ipa):
        if symbol.isspace():
            continue
        if symbol in "ˈˌ":
            stress += symbol      # belongs to the phoneme after it
        elif symbols and (symbol == "ː" or unicodedata.combining(symbol)):
            symbols[-1] += symbol  # length marks and diacritics belong to the phoneme before
        else:
            symbols.append(stress + symbol)
            stress = ""
    return symbols


def phonemes_for_words(words: Sequence[WordTiming], language: str = "en") -> tuple[PhonemeTiming, ...]:
    """Phoneme timings inside each aligned word's span; empty when espeak-ng is not available."""
    from render.voice.piper_backend import estimate_timings

    result: list[PhonemeTiming] = []
    for word in words:
        if word.end_s <= word.start_s:
            continue
        try:
            symbols = word_ipa(word.word, language)
        except (RuntimeError, ValueError) as error:
            log.debug("espeak-ng could not read %r (%s)", word.word, error)
            continue
        if symbols is None:
            return ()
        if symbols:
            timed, _words = estimate_timings(symbols, [word.word], word.start_s, word.end_s)
            result += timed
    return tuple(result)
