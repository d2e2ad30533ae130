"""Which torch device a big-model backend runs on (the XTTS voice, the whisperx aligner)."""

from __future__ import annotations


def resolve_device(device: str, *, setting: str, error: type[Exception]) -> str:
    """``auto`` → cuda when torch sees a GPU, else cpu; ``cpu``, ``cuda`` or ``cuda:N`` as given, checked.

    Raises ``error`` naming ``setting`` (e.g. "voice.device") for an unknown value or a GPU torch cannot see.
    """
    if device not in ("auto", "cpu", "cuda") and not device.startswith("cuda:"):
        raise error(f"{setting} {device!r} is unknown; use auto, cpu or cuda")
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise error(f"{setting} {device!r}: no CUDA GPU is visible to torch; use auto or cpu")
    return device
