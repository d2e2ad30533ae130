"""The voice stage's interface: what a backend takes, its errors, and the registry of backends (it returns a ``render.types.Speech``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from render import RenderError
from render.registry import Registry

if TYPE_CHECKING:
    from render.types import Speech


class VoiceError(RenderError):
    """The voice stage failed on an input a user can fix: the message names the input and the fix."""


@dataclass(frozen=True)
class VoiceProfileData:
    """An enrolled voice as the stage sees it (the application stores it; this library never reads a database)."""

    name: str
    sample_path: Path                       # the canonical mono 16-bit copy
    stats: Mapping[str, Any] = field(default_factory=dict)
    artifacts: Mapping[str, Any] = field(default_factory=dict)   # per backend: e.g. {"piper-world": {...}, "xtts": {...}}


@runtime_checkable
class VoiceBackend(Protocol):
    name: str

    def enroll(self, profile: VoiceProfileData, workdir: Path) -> dict[str, Any]:
        """Precompute what speaking in this voice needs (statistics, speaker latents); returns JSON-able artifacts."""

    def speak(self, text: str, out_path: Path, *, profile: VoiceProfileData | None = None, language: str = "en") -> Speech:
        """Say ``text`` (already normalized to speakable words) into ``out_path`` (WAV)."""


# Importing a backend module registers it; heavy libraries load only when a backend is used.
_REGISTRY: Registry[VoiceBackend] = Registry(
    "voice backend", VoiceError, ("render.voice.piper_backend", "render.voice.hibari_backend", "render.voice.world_backend", "render.voice.xtts_backend"))
register = _REGISTRY.register
names = _REGISTRY.names
get = _REGISTRY.get
