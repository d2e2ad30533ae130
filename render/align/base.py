"""The alignment stage's interface: speech + its known text -> word timings.

Backends: ``synth`` (timings straight from the synthesizer), an offline aligner
(faster-whisper tiny.en word timestamps matched to the script), and ``whisperx``
(wav2vec2 forced alignment of the known script). Heavy libraries are imported
inside each backend module, never here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from render import RenderError
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


_BACKENDS: dict[str, Callable[..., AlignBackend]] = {}


def register(name: str) -> Callable[[Callable[..., AlignBackend]], Callable[..., AlignBackend]]:
    def decorator(factory: Callable[..., AlignBackend]) -> Callable[..., AlignBackend]:
        _BACKENDS[name] = factory
        return factory

    return decorator


def names() -> list[str]:
    _load_builtin()
    return sorted(_BACKENDS)


def get(name: str, **config: object) -> AlignBackend:
    _load_builtin()
    try:
        factory = _BACKENDS[name]
    except KeyError:
        raise AlignError(f"aligner {name!r} is unknown; choose one of {', '.join(sorted(_BACKENDS))}") from None
    return factory(**config)


def _load_builtin() -> None:
    import importlib

    for module in ("render.align.synth_backend", "render.align.faster_whisper_backend", "render.align.whisperx_backend"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as error:
            if error.name != module:  # a backend module that exists but whose library is missing: keep the error for get()
                raise
