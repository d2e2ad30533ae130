"""The alignment stage's interface: speech + its known text -> word timings.

Backends: ``synth`` (timings straight from the synthesizer), two offline aligners
(``sphinx``: PocketSphinx forced alignment of the known script; ``faster-whisper``:
Whisper tiny.en word timestamps matched to the script), and ``whisperx`` (wav2vec2
forced alignment of the known script). Heavy libraries are imported
inside each backend module, never here.
"""

from __future__ import annotations


from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from render import RenderError
from render.registry import Registry
from render.voice.base import WordTiming


class AlignError(RenderError):
    """Alignment failed on an input a user can fix (unreadable audio, empty text, missing model)."""


@dataclass(frozen=True)
class Alignment:
    """Word timings for the words *as written* in the script, in order."""

    words: tuple[WordTiming, ...]
    backend: str
    #: 0..1: how well the audio matched the text (share of script words the recogniser found)
    match_ratio: float = 1.0
    #: True when the text and audio did not match and words were spread over detected speech
    fallback: bool = False
    warnings: tuple[str, ...] = ()


@runtime_checkable
class AlignBackend(Protocol):
    name: str

    def align(self, audio_path: Path, text: str, *, language: str = "en") -> Alignment:
        """Time every word of ``text`` (the known script) in ``audio_path``; never raises on a poor match."""


_REGISTRY: Registry[AlignBackend] = Registry(
    "aligner", AlignError, ("render.align.synth_backend", "render.align.sphinx_backend", "render.align.faster_whisper_backend",
                "render.align.whisperx_backend"))
register = _REGISTRY.register
names = _REGISTRY.names
get = _REGISTRY.get
