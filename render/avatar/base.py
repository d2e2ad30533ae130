"""The avatar stage's interface: one photo + speech (+ its timings) -> a stream of video frames.

A backend renders frames; it does not encode them. The composer (``render.compose``)
overlays captions and encodes once, so frames stream straight to the encoder and
memory stays flat with the reel's length.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from render import RenderError
from render.registry import Registry
from render.voice.base import PhonemeTiming, WordTiming


class AvatarError(RenderError):
    """The avatar stage failed on an input a user can fix (photo, audio): the message names it and the fix."""


@dataclass(frozen=True)
class Box:
    """An axis-aligned rectangle in output-frame pixels."""

    x: int
    y: int
    width: int
    height: int

    @property
    def bottom(self) -> int:
        return self.y + self.height

    @property
    def right(self) -> int:
        return self.x + self.width


@dataclass(frozen=True)
class RenderRequest:
    photo_path: Path
    audio_path: Path
    words: tuple[WordTiming, ...] = ()
    phonemes: tuple[PhonemeTiming, ...] = ()
    fps: int = 30
    width: int = 1080
    height: int = 1920
    seed: int = 7
    #: a face analysis computed at enrollment (render.face.FaceAnalysis); analysed again when None
    face: Any = None


@dataclass
class FrameStream:
    """Frames of a render, produced lazily: iterate once; each frame is an RGB uint8 array (height, width, 3)."""

    fps: int
    width: int
    height: int
    n_frames: int
    duration_s: float
    backend: str
    frames: Iterator[np.ndarray]
    #: where the face and the mouth sit in the frame, so captions never cover them
    face_box: Box
    mouth_box: Box
    #: per-frame values the renderer used (mouth opening 0..1, blink 0..1, ...), filled as frames are produced
    trace: dict[str, list[float]] = field(default_factory=dict)

    def __iter__(self) -> Iterator[np.ndarray]:
        return self.frames


@runtime_checkable
class AvatarBackend(Protocol):
    name: str

    def render(self, request: RenderRequest) -> FrameStream:
        """Start a render: checks the inputs (raising AvatarError) and returns the lazy frame stream."""


_REGISTRY: Registry[AvatarBackend] = Registry("avatar backend", AvatarError, ("render.avatar.cpu_mesh",))
register = _REGISTRY.register
names = _REGISTRY.names
get = _REGISTRY.get
