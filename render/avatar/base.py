"""The avatar stage's interface: one photo or clip of the creator + speech (+ its timings) -> a stream of video frames.

A backend renders frames; it does not encode them. The composer (``render.compose``)
overlays captions and encodes once, so frames stream straight to the encoder and
memory stays flat with the reel's length.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from render import RenderError
from render.registry import Registry

if TYPE_CHECKING:
    from render.types import FrameStream, PhonemeTiming, WordTiming


class AvatarError(RenderError):
    """The avatar stage failed on an input a user can fix (photo, audio): the message names it and the fix."""


@dataclass(frozen=True)
class RenderRequest:
    #: the photo (photo backends); None when the avatar is a clip (``video_path``)
    photo_path: Path | None
    audio_path: Path
    words: tuple[WordTiming, ...] = ()
    phonemes: tuple[PhonemeTiming, ...] = ()
    fps: int = 30
    width: int = 1080
    height: int = 1920
    seed: int = 7
    #: a face analysis computed at enrollment (render.face.FaceAnalysis); analysed again when None
    face: Any = None
    #: a normalized clip of the creator (footage backends, see render.face.footage) and its stored face track
    video_path: Path | None = None
    #: render.face.footage.FootageAnalysis computed at enrollment; analysed again when None
    footage: Any = None
    #: the frames the consumer takes best: "rgb24", or "yuv420p" (I420, what the encoder takes: the composer does);
    #: a backend may give RGB anyway, and its FrameStream says which it gives
    pixel_format: str = "rgb24"


@runtime_checkable
class AvatarBackend(Protocol):
    name: str

    def render(self, request: RenderRequest) -> FrameStream:
        """Start a render: checks the inputs (raising AvatarError) and returns the lazy frame stream."""


_REGISTRY: Registry[AvatarBackend] = Registry("avatar backend", AvatarError, ("render.avatar.cpu_mesh", "render.avatar.footage"))
register = _REGISTRY.register
names = _REGISTRY.names
get = _REGISTRY.get
