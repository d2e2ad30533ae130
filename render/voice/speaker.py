"""Speaker embeddings (Resemblyzer's GE2E encoder, whose weights ship in its wheel): how alike two voices sound.

Used at enrollment to pick the base voice (and hibari's warp) whose matched output is nearest to the creator's sample, and by
bench/voice.py. Cost measured here (2 cores, shared): importing resemblyzer (torch,
librosa) about 4 s, loading the encoder 0.1 s, the first resampling about 3 s (numba
compiles librosa's resampler), then 0.1-0.3 s per 6 s sample. Without resemblyzer the
choice falls back to pitch alone.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from typing import Any

import numpy as np


def available() -> bool:
    return importlib.util.find_spec("resemblyzer") is not None and importlib.util.find_spec("torch") is not None


@lru_cache(maxsize=1)
def _encoder() -> Any:
    from resemblyzer import VoiceEncoder

    return VoiceEncoder(device="cpu", verbose=False)


def embedding(samples: np.ndarray, rate: int) -> np.ndarray:
    """A unit-length 256-dimensional embedding of mono speech."""
    from resemblyzer import preprocess_wav

    return np.asarray(_encoder().embed_utterance(preprocess_wav(np.asarray(samples, dtype=np.float32), source_sr=rate)), dtype=np.float64)


def similarity(a: Any, b: Any) -> float:
    """Cosine similarity of two embeddings."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.dot(a, b) / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12))
