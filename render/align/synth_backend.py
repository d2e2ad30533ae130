"""Pass-through aligner: the synthesizer's own word timings, mapped onto the script's words as written.

The voice stage times the words it *said* ("five dollars"); captions need the words
as *written* ("$5"). ``align_speech`` maps one onto the other with the same sequence
alignment the recogniser-based aligner uses. Without synthesizer timings (a recorded
voice) the words are spread over the detected speech, with a warning.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from render.align.base import AlignError, register
from render.align.matching import script_words, spread_over_speech, time_script, timed_tokens
from render.align.speech_activity import load_mono, speech_segments
from render.types import Alignment, Speech, WordTiming

log = logging.getLogger(__name__)


class SynthBackend:
    """Times from the synthesizer (``words``: the ``Speech.words`` the voice stage returned)."""

    name = "synth"

    def __init__(self, *, words: Sequence[WordTiming] = (), timings_source: str = "synthesizer"):
        self.words = tuple(words)
        self.timings_source = timings_source

    def align(self, audio_path: Path, text: str, *, language: str = "en") -> Alignment:
        written = script_words(text, language)
        if not written:
            raise AlignError(f"text {text[:60]!r} has no spoken words to align; pass the script that was spoken")
        warnings: list[str] = []
        if self.words:
            start = min(word.start_s for word in self.words)
            end = max(word.end_s for word in self.words)
            timing = time_script(written, timed_tokens(self.words, language), speech_start_s=start, speech_end_s=end)
            if timing.match_ratio >= 0.5:
                if self.timings_source != "synthesizer":
                    warnings.append(f"word times are {self.timings_source!r} by the synthesizer, not measured; "
                                    "the faster-whisper aligner measures them on the audio")
                if timing.match_ratio < 0.95:
                    warnings.append(f"the synthesizer's words match {timing.match_ratio:.0%} of the script; the rest are interpolated")
                return Alignment(words=timing.words, backend=self.name, match_ratio=round(timing.match_ratio, 3), warnings=tuple(warnings))
            warnings.append(f"the synthesizer's words match only {timing.match_ratio:.0%} of the script")
            ratio = timing.match_ratio
        else:
            warnings.append("the synthesizer gave no word timings")
            ratio = 0.0
        samples = load_mono(Path(audio_path))
        segments = speech_segments(samples, 16000)
        warnings.append("words are spread over the detected speech; use the faster-whisper aligner for measured times")
        # Returned with the alignment: the caller shows them once (the CLI prints them, the service logs them).
        log.debug("alignment fallback: %s", "; ".join(warnings))
        return Alignment(words=spread_over_speech(written, segments, samples.size / 16000), backend=self.name,
                         match_ratio=round(ratio, 3), fallback=True, warnings=tuple(warnings))


def align_speech(speech: Speech, text: str, *, language: str = "en") -> Alignment:
    """The synthesizer's timings of ``speech`` for the written words of ``text`` (the script before normalization)."""
    return SynthBackend(words=speech.words, timings_source=speech.timings_source).align(speech.path, text, language=language)


@register("synth")
def _make_synth(**config: Any) -> SynthBackend:
    return SynthBackend(**config)
