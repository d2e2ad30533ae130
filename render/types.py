"""The data handed from one render stage to the next, defined once (frozen dataclasses, units in field names).

voice -> :class:`Speech` (with :class:`WordTiming` and :class:`PhonemeTiming`);
align -> :class:`Alignment`; avatar -> :class:`FrameStream` (with its :class:`Box` es);
qa -> :class:`QAReport` of :class:`Check` results. Each stage's ``base.py`` keeps its
Protocol, errors and registry; the stages import these types from here, not from each other.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

# --------------------------------------------------------------------------- voice and alignment


@dataclass(frozen=True)
class WordTiming:
    word: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class PhonemeTiming:
    phoneme: str          # IPA, as the synthesizer's phonemizer wrote it
    start_s: float
    end_s: float


@dataclass(frozen=True)
class Speech:
    """A synthesized script: the WAV and, where the backend knows them, word and phoneme timings."""

    path: Path
    duration_s: float
    sample_rate_hz: int
    backend: str
    words: tuple[WordTiming, ...] = ()
    phonemes: tuple[PhonemeTiming, ...] = ()
    #: "synthesizer" (exact, from the model), "estimated" (spread over each sentence's speech), or "none"
    timings_source: str = "none"


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


# --------------------------------------------------------------------------- avatar frames


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


@dataclass
class FrameStream:
    """Frames of a render, produced lazily: iterate once; each frame is an RGB uint8 array (height, width, 3), or,
    where ``pixel_format`` is "yuv420p", an I420 array (height * 3 // 2, width) (see render.media.yuv)."""

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
    pixel_format: str = "rgb24"

    def __iter__(self) -> Iterator[np.ndarray]:
        return self.frames


# --------------------------------------------------------------------------- quality report


@dataclass(frozen=True)
class Check:
    """One measured property: ``hard`` checks decide pass/fail; soft ones only warn."""

    name: str
    value: Any
    expected: str
    passed: bool
    hard: bool
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> Check:
        """The check as :meth:`to_dict` wrote it; ValueError naming what is missing or of the wrong type."""
        if not isinstance(data, Mapping):
            raise ValueError(f"a check is {type(data).__name__}, not an object")
        name = data.get("name")
        if not isinstance(name, str) or not name:
            raise ValueError(f"a check has no name ({data!r})")
        for key in ("passed", "hard"):
            if not isinstance(data.get(key), bool):
                raise ValueError(f"check {name!r}: {key!r} is {data.get(key)!r}, not true or false")
        if "value" not in data or not isinstance(data.get("expected"), str):
            raise ValueError(f"check {name!r}: 'value' or 'expected' is missing")
        message = data.get("message", "")
        return cls(name=name, value=data["value"], expected=data["expected"], passed=data["passed"], hard=data["hard"],
                   message=message if isinstance(message, str) else str(message))


_FIGURES = ("duration_s", "loudness_lufs", "lipsync_correlation", "lipsync_lag_frames", "face_visible_share")


@dataclass(frozen=True)
class QAReport:
    """The checks of one reel plus the headline figures (``None`` where a figure could not be measured)."""

    path: Path
    checks: tuple[Check, ...]
    duration_s: float | None = None
    loudness_lufs: float | None = None
    lipsync_correlation: float | None = None
    lipsync_lag_frames: int | None = None
    face_visible_share: float | None = None
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """True when every hard check passed (soft checks only warn)."""
        return all(check.passed for check in self.checks if check.hard)

    @property
    def failures(self) -> tuple[Check, ...]:
        return tuple(check for check in self.checks if check.hard and not check.passed)

    @property
    def warnings(self) -> tuple[Check, ...]:
        return tuple(check for check in self.checks if not check.hard and not check.passed)

    def check(self, name: str) -> Check:
        """The check called ``name``; KeyError when it was not run."""
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "passed": self.passed,
            "duration_s": self.duration_s,
            "loudness_lufs": self.loudness_lufs,
            "lipsync_correlation": self.lipsync_correlation,
            "lipsync_lag_frames": self.lipsync_lag_frames,
            "face_visible_share": self.face_visible_share,
            "seconds": round(self.seconds, 3),
            "checks": [check.to_dict() for check in self.checks],
            **self.extra,
        }

    @classmethod
    def from_dict(cls, data: Any) -> QAReport:
        """The report as :meth:`to_dict` wrote it.

        Raises ValueError when anything a verdict depends on is missing or malformed: no path, no
        checks, a check without a boolean ``passed``/``hard``, or a stored ``passed`` that the checks
        contradict (a report is never trusted more than its checks).
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"the report is {type(data).__name__}, not an object")
        path = data.get("path")
        if not isinstance(path, str) or not path:
            raise ValueError("the report names no reel ('path' is missing)")
        raw_checks = data.get("checks")
        if not isinstance(raw_checks, list) or not raw_checks:
            raise ValueError("the report holds no checks")
        stored_passed = data.get("passed")
        if not isinstance(stored_passed, bool):
            raise ValueError(f"the report's 'passed' is {stored_passed!r}, not true or false")
        figures: dict[str, Any] = {}
        for key in _FIGURES:
            value = data.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise ValueError(f"the report's {key!r} is {value!r}, not a number")
            figures[key] = value
        seconds = data.get("seconds", 0.0)
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            raise ValueError(f"the report's 'seconds' is {seconds!r}, not a number")
        known = {f.name for f in fields(cls)} | {"passed"}
        report = cls(path=Path(path), checks=tuple(Check.from_dict(check) for check in raw_checks), seconds=float(seconds),
                     extra={key: value for key, value in data.items() if key not in known}, **figures)
        if report.passed != stored_passed:
            raise ValueError(f"the report says passed={stored_passed} but its hard checks say {report.passed}")
        return report

    @classmethod
    def from_json(cls, text: str | bytes) -> QAReport:
        """The report from the JSON ``write_report`` stores; ValueError when it is not valid JSON or incomplete."""
        try:
            data = json.loads(text)
        except ValueError as error:
            raise ValueError(f"not valid JSON ({error})") from None
        return cls.from_dict(data)
