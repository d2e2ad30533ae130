"""Offline forced aligner: PocketSphinx 5 aligns the known script to the audio (``pocketsphinx`` wheel, US English).

The script's spoken tokens ("$5" -> "five dollars", ``render.align.matching``) are
looked up in the CMU dictionary that ships in the wheel; tokens it lacks get a
pronunciation from espeak-ng or spelling rules (``render.align.pronunciation``). The
decoder then finds the best path through exactly those words, with optional silence
between them (Viterbi over 10 ms frames), so every word gets a start and end even in
speech without pauses, where a recogniser's own timestamps drift. The token times are
mapped back to the written words; tokens that could not be aligned are interpolated.

When the decoder finds no path through the text (the audio says something else, or
noise), or its path leaves much of the detected speech to silence (the script covers
only part of the recording), the faster-whisper aligner is tried, then the words are
spread over the detected speech, with a warning: this backend never raises on a poor
match.

bench/align.py (69 words, 3 recordings each): median start error 5 ms / p95 16 ms on
speech with pauses, 15 ms / 59 ms on speech without (faster-whisper: 5 ms / 244 ms there),
at 0.01-0.02 x real time. A 131 s recording aligns in 3-6 s in one pass, so long audio is
not split.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from render.align.base import AlignError, get, register
from render.align.matching import ScriptWord, load_script_and_audio, spread_fallback, time_written_words
from render.align.speech_activity import speech_segments
from render.types import Alignment

log = logging.getLogger(__name__)

SAMPLE_RATE_HZ = 16000
FRAME_S = 0.01                  # the acoustic model's frame rate (100 frames per second)
_NON_WORDS = ("<s>", "</s>", "<sil>")
_DECODER_LOCK = threading.Lock()


class _NoAlignment(Exception):
    """The decoder found no acceptable path through the script (the reason is the message)."""


def bundled_model_dir() -> Path:
    """The US-English acoustic model folder inside the ``pocketsphinx`` wheel."""
    try:
        import pocketsphinx
    except ImportError:
        raise AlignError("the sphinx aligner needs pocketsphinx; run `make install` (pip install pocketsphinx==5.1.1)") from None
    return Path(pocketsphinx.get_model_path())


@lru_cache(maxsize=2)
def load_decoder(model_dir: str) -> Any:
    """A PocketSphinx decoder with the acoustic model and CMU dictionary of ``model_dir``, loaded once per process."""
    from pocketsphinx import Decoder

    folder = Path(model_dir)
    hmm, dictionary = folder / "en-us" / "en-us", folder / "en-us" / "cmudict-en-us.dict"
    for needed in (hmm / "mdef", dictionary):
        if not needed.is_file():
            raise AlignError(f"{str(needed)!r} is missing from the pocketsphinx model folder; reinstall it "
                             "(pip install --force-reinstall pocketsphinx==5.1.1)")
    try:
        return Decoder(hmm=str(hmm), dict=str(dictionary), lm=None, samprate=SAMPLE_RATE_HZ, loglevel="FATAL")
    except (RuntimeError, ValueError) as error:
        raise AlignError(f"pocketsphinx cannot load its model from {str(folder)!r} ({error}); reinstall pocketsphinx==5.1.1") from None


def dictionary_word(decoder: Any, token: str) -> str | None:
    """The decoder's dictionary entry for a spoken token, adding one (espeak-ng or spelling rules) when it has none.

    None when no pronunciation can be made (a token of symbols only): that token is interpolated instead.
    """
    from render.align.pronunciation import pronounce

    folded = "".join(ch for ch in unicodedata.normalize("NFKD", token.lower()) if not unicodedata.combining(ch))
    if re.fullmatch(r"[a-z']+", folded) and decoder.lookup_word(folded) is not None:
        return folded
    # A private name per token: the same letters said differently (another token) never share an entry.
    name = f"{re.sub(r'[^a-z0-9]', '', folded)[:24]}_oov{hashlib.sha1(token.encode()).hexdigest()[:8]}"
    if decoder.lookup_word(name) is not None:
        return name
    phones = pronounce(token)
    if not phones:
        return None
    try:
        decoder.add_word(name, " ".join(phones), True)
    except RuntimeError as error:
        log.warning("pocketsphinx refused the pronunciation %r of %r (%s)", " ".join(phones), token, error)
        return None
    log.debug("pronunciation for %r: %s", token, " ".join(phones))
    return name


class SphinxBackend:
    """PocketSphinx forced alignment of the known script (US English), with faster-whisper and the VAD as fallbacks."""

    name = "sphinx"

    def __init__(self, *, model_dir: Path | None = None, fallback_aligner: str | None = "faster-whisper",
                 max_speech_in_silence: float = 0.2):
        if not 0.0 <= max_speech_in_silence <= 1.0:
            raise AlignError(f"max_speech_in_silence={max_speech_in_silence!r} is not a share; pass a value from 0 to 1 such as 0.2")
        self.model_dir = Path(model_dir) if model_dir else None
        self.fallback_aligner = fallback_aligner
        self.max_speech_in_silence = max_speech_in_silence

    def align(self, audio_path: Path, text: str, *, language: str = "en") -> Alignment:
        words, samples, duration_s, segments = load_script_and_audio(audio_path, text, language, SAMPLE_RATE_HZ)
        if not segments:
            return _spread(words, segments, duration_s, self.name, [f"audio {str(audio_path)!r} has no detectable speech; words are spread evenly"])
        if not language.lower().startswith("en"):
            return _spread(words, segments, duration_s, self.name,
                           [f"the pocketsphinx model is US English, the script is {language!r}: words are spread over the speech; "
                            "use the whisperx aligner for other languages"])
        tokens = [token for word in words for token in word.spoken]
        try:
            # the check for speech left to silence wants the real pauses, not the bridged ones
            times = self.force_align(samples, tokens, speech_segments(samples, SAMPLE_RATE_HZ, min_silence_s=0.05))
        except _NoAlignment as reason:
            return self._fall_back(audio_path, text, language, words, segments, duration_s, str(reason))
        timing = time_written_words(words, times, speech_start_s=segments[0][0], speech_end_s=segments[-1][1])
        warnings: tuple[str, ...] = ()
        if timing.matched_tokens < len(tokens):
            warnings = (f"{len(tokens) - timing.matched_tokens} of the script's {len(tokens)} spoken words had no pronunciation; "
                        "their times are interpolated",)
        return Alignment(words=timing.words, backend=self.name, match_ratio=round(timing.match_ratio, 3), warnings=warnings)

    def force_align(self, samples: np.ndarray, tokens: list[str],
                    segments: list[tuple[float, float]] | None = None) -> list[tuple[float, float] | None]:
        """(start_s, end_s) of each of ``tokens`` (spoken, lowercase) in ``samples`` (16 kHz mono float32);
        None for a token without a pronunciation (left out of the alignment).

        Raises ``_NoAlignment`` when the decoder finds no path through the tokens, or when its path
        puts more than ``max_speech_in_silence`` of the detected speech (``segments``) into silence.
        """
        decoder = load_decoder(str(self.model_dir or bundled_model_dir()))
        pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
        with _DECODER_LOCK:   # one decoder per process: alignments run one at a time
            entries = [(token, dictionary_word(decoder, token)) for token in tokens]
            kept = [entry for _token, entry in entries if entry is not None]
            if not kept:
                raise _NoAlignment("no word of the script has a pronunciation")
            try:
                decoder.set_align_text(" ".join(kept))
                decoder.start_utt()
                decoder.process_raw(pcm, no_search=False, full_utt=True)
                decoder.end_utt()
            except RuntimeError as error:
                raise _NoAlignment(f"pocketsphinx failed ({error})") from None
            found = [(seg.word, seg.start_frame, seg.end_frame) for seg in (decoder.seg() or ())]
        spoken = [(word, start, end) for word, start, end in found if not _is_non_word(word)]
        if not spoken:
            raise _NoAlignment("pocketsphinx found no path through the script in this audio")
        if len(spoken) != len(kept):
            raise _NoAlignment(f"pocketsphinx returned {len(spoken)} words for {len(kept)}")
        if segments:
            silent = [(start * FRAME_S, (end + 1) * FRAME_S) for word, start, end in found if _is_non_word(word)]
            share = _speech_share(silent, segments)
            if share > self.max_speech_in_silence:
                raise _NoAlignment(f"the alignment leaves {share:.0%} of the speech unassigned; the script may cover only part of the recording")
        aligned = iter(spoken)
        times: list[tuple[float, float] | None] = []
        for _token, entry in entries:
            if entry is None:
                times.append(None)
                continue
            _word, start, end = next(aligned)
            times.append((round(start * FRAME_S, 3), round((end + 1) * FRAME_S, 3)))   # end_frame is inclusive
        return times

    def _fall_back(self, audio_path: Path, text: str, language: str, words: tuple[ScriptWord, ...],
                   segments: list[tuple[float, float]], duration_s: float, reason: str) -> Alignment:
        first = f"the sphinx aligner could not align the script: {reason}"
        notes = [first]
        if self.fallback_aligner and self.fallback_aligner != self.name:
            try:
                backup = get(self.fallback_aligner).align(Path(audio_path), text, language=language)
            except AlignError as error:
                notes.append(f"the {self.fallback_aligner} aligner is unavailable ({error})")
            else:
                warning = f"{first}; word times come from the {self.fallback_aligner} aligner"
                log.debug("alignment fallback: %s", warning)  # returned with the alignment: the caller shows it once
                return Alignment(words=backup.words, backend=backup.backend, match_ratio=backup.match_ratio,
                                 fallback=backup.fallback, warnings=(warning, *backup.warnings))
        return _spread(words, segments, duration_s, self.name, [*notes, "words are spread over the detected speech"], ratio=0.0)


def _is_non_word(word: str) -> bool:
    return word in _NON_WORDS or word.startswith(("[", "+"))


def _speech_share(spans: list[tuple[float, float]], segments: list[tuple[float, float]], *, min_overlap_s: float = 0.2) -> float:
    """The share of the speech in ``segments`` that lies inside ``spans``, counting only overlaps of ``min_overlap_s`` or more
    (the edges of a pause often hold a quiet breath or the fade of a word)."""
    total = sum(b - a for a, b in segments)
    if total <= 0:
        return 0.0
    inside = 0.0
    for a, b in spans:
        overlap = sum(max(0.0, min(b, d) - max(a, c)) for c, d in segments)
        if overlap >= min_overlap_s:
            inside += overlap
    return inside / total


def _spread(words: tuple[ScriptWord, ...], segments: list[tuple[float, float]], duration_s: float, backend: str,
            warnings: list[str], ratio: float = 0.0) -> Alignment:
    return spread_fallback(words, segments, duration_s, backend, "; ".join(warnings), ratio)


@register("sphinx")
def _make_sphinx(**config: Any) -> SphinxBackend:
    return SphinxBackend(**config)
