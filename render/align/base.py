"""The alignment stage's interface: speech + its known text -> word timings.

Backends: ``synth`` (timings straight from the synthesizer), two offline aligners
(``sphinx``: PocketSphinx forced alignment of the known script; ``faster-whisper``:
Whisper tiny.en word timestamps matched to the script), and ``whisperx`` (wav2vec2
forced alignment of the known script). Heavy libraries are imported
inside each backend module, never here.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from render import RenderError
from render.registry import Registry

if TYPE_CHECKING:
    from render.types import Alignment


class AlignError(RenderError):
    """Alignment failed on an input a user can fix (unreadable audio, empty text, missing model)."""


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
