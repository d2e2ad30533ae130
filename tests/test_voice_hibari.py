"""The hibari backend: the natural female voice that ships in the hibari-tts wheel, offline, with the model's own timings."""

from __future__ import annotations

import importlib.util
import socket
import wave
from pathlib import Path

import numpy as np
import pytest

from render.voice import base
from render.voice.base import VoiceError

pytestmark = pytest.mark.skipif(importlib.util.find_spec("hibari") is None, reason="hibari-tts is not installed (make install)")

SCRIPT = "Pre-cut vegetables cost you twice. Once at the till, and once when they go soft by Wednesday."


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a network connection fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"the hibari backend tried to use the network: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    import urllib.request

    monkeypatch.setattr(urllib.request, "urlopen", refuse)


def _read(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as audio:
        return np.frombuffer(audio.readframes(audio.getnframes()), dtype="<i2").astype(np.float32) / 32768, audio.getframerate()


def test_it_speaks_offline_with_the_models_own_word_times(tmp_path: Path, offline: None) -> None:
    from render.voice.hibari_backend import HibariBackend

    backend = base.get("hibari")
    assert isinstance(backend, HibariBackend) and "hibari" in base.names()
    speech = backend.speak(SCRIPT, tmp_path / "out.wav")
    samples, rate = _read(speech.path)
    assert rate == speech.sample_rate_hz == 24000
    assert abs(samples.size / rate - speech.duration_s) < 1e-6
    assert 3.5 < speech.duration_s < 9
    # Not silent: speech-level RMS, and the words sit where the sound is.
    assert np.sqrt(np.mean(samples**2)) > 0.02
    assert speech.timings_source == "synthesizer"
    words = [w.word for w in speech.words]
    assert words[:3] == ["Pre-cut", "vegetables", "cost"] and words[-1] == "Wednesday" and len(words) == len(SCRIPT.split())
    starts = [w.start_s for w in speech.words]
    assert starts == sorted(starts) and all(w.end_s > w.start_s for w in speech.words)
    assert speech.words[-1].end_s <= speech.duration_s + 1e-6
    once = next(w for w in speech.words if w.word == "Once")
    twice = next(w for w in speech.words if w.word == "twice")
    gap = samples[int((twice.end_s + 0.15) * rate): int((once.start_s - 0.06) * rate)]
    assert once.start_s - twice.end_s > 0.2 and np.sqrt(np.mean(gap**2)) < 0.005
    # Short function words ("at", 50 ms) may be a stop closure; every longer word carries speech.
    levels = {word: float(np.sqrt(np.mean(samples[int(word.start_s * rate): int(word.end_s * rate)] ** 2))) for word in speech.words}
    assert np.median(list(levels.values())) > 0.03
    assert all(level > 0.01 for word, level in levels.items() if word.end_s - word.start_s >= 0.1), levels


def test_the_same_script_gives_the_same_audio(tmp_path: Path) -> None:
    backend = base.get("hibari")
    first = backend.speak("Plan three dinners, not seven.", tmp_path / "a.wav")
    backend.speak("Something else entirely.", tmp_path / "b.wav")
    again = backend.speak("Plan three dinners, not seven.", tmp_path / "c.wav")
    assert first.path.read_bytes() == again.path.read_bytes() and first.words == again.words


def test_numbers_are_normalized_as_for_piper(tmp_path: Path) -> None:
    from render.voice.text import prepare

    text = "Save $5 on 3 dinners at 18:30, 2 nights a week."
    speech = base.get("hibari").speak(text, tmp_path / "n.wav")
    spoken = [w.word.strip(".,") for w in speech.words]
    assert spoken == [w.strip(".,") for w in prepare(text).spoken.split()]
    assert spoken[:4] == ["Save", "five", "dollars", "on"] and "thirty" in spoken and not any(ch.isdigit() for w in spoken for ch in w)


def test_a_voice_that_would_be_downloaded_is_refused_in_one_line(offline: None) -> None:
    for voice in ("fenrir", "emma"):
        with pytest.raises(VoiceError) as caught:
            base.get("hibari", voice=voice)
        message = str(caught.value)
        assert "\n" not in message and repr(voice) in message and "downloaded" in message and "'heart'" in message
    with pytest.raises(VoiceError, match="no voice 'nope'"):
        base.get("hibari", voice="nope")


def test_other_languages_are_refused(tmp_path: Path) -> None:
    with pytest.raises(VoiceError, match="English, not 'de'"):
        base.get("hibari").speak("Hallo", tmp_path / "x.wav", language="de")


def test_without_model_timings_the_speech_is_left_to_the_aligner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from render.align.auto import _auto_choice
    from render.voice import hibari_backend

    backend = hibari_backend.HibariBackend()
    loaded = hibari_backend._load(str(backend.model_path), backend.voice)
    monkeypatch.setattr(hibari_backend, "_load", lambda *_: hibari_backend._Loaded(loaded.tts, loaded.tts.sess, False))
    speech = backend.speak("Cook once for two nights.", tmp_path / "u.wav")
    assert speech.timings_source == "none" and speech.words == () and speech.duration_s > 1
    assert _auto_choice(speech, "en") in ("sphinx", "faster-whisper")


def test_the_model_reports_its_pitch_track() -> None:
    from render.voice.hibari_backend import HibariBackend

    result = HibariBackend().synthesize_full(["Hello there, this is the bundled voice.", "And a second sentence."])
    assert result.f0_hz.size * 300 == result.samples.size
    voiced = result.f0_hz[result.f0_hz > 0]
    assert voiced.size > 50 and 150 < float(np.exp(np.mean(np.log(voiced)))) < 300   # a woman's speaking pitch
