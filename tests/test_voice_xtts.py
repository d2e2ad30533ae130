"""The XTTS-v2 backend, run for real on a tiny randomly initialised XTTS saved like the real weights.

The real weights cannot be downloaded here; the tiny model has XTTS-v2's architecture
(GPT-2 with the perceiver conditioning, the HiFi-GAN decoder with its speaker encoder)
at a fraction of its width, the BPE vocabulary that ships in coqui-tts, and the release's
folder layout (config.json, model.pth, vocab.json), so loading, enrollment, latents
caching and synthesis all run the real code paths.
"""

from __future__ import annotations

import json
import math
import shutil
import wave
from pathlib import Path

import numpy as np
import pytest

from render.voice import base as voice_base
from render.voice.base import VoiceError, VoiceProfileData
from cli_helpers import reeltwin

LANGUAGE_TOKENS = ("[en]", "[es]", "[fr]", "[de]", "[it]", "[pt]", "[pl]", "[tr]", "[ru]", "[nl]", "[cs]", "[ar]",
                   "[zh-cn]", "[hu]", "[ko]", "[ja]", "[hi]")


def _write_tiny_xtts(folder: Path) -> Path:
    """A random XTTS-v2 of tiny width, saved the way coqui/XTTS-v2 lays out its files."""
    import torch
    from importlib.resources import files

    from render.torchaudio_import import import_torchaudio

    import_torchaudio()   # before TTS imports torchaudio: PyPI's CUDA torchaudio beside CPU torch
    from TTS.tts.configs.xtts_config import XttsArgs, XttsConfig
    from TTS.tts.layers.xtts.tokenizer import VoiceBpeTokenizer
    from TTS.tts.models.xtts import Xtts

    folder.mkdir(parents=True)
    # XTTS's vocabulary is a BPE tokenizer file; coqui-tts ships tortoise's, to which XTTS adds [START]
    # and one tag per language. The real vocab.json has the same special tokens.
    vocab = json.loads((files("TTS") / "tts" / "utils" / "assets" / "tortoise" / "tokenizer.json").read_text(encoding="utf-8"))
    next_id = max(vocab["model"]["vocab"].values()) + 1
    for token in ("[START]", *LANGUAGE_TOKENS):
        vocab["model"]["vocab"][token] = next_id
        vocab["added_tokens"].append({"id": next_id, "special": True, "content": token, "single_word": False,
                                      "lstrip": False, "rstrip": False, "normalized": False})
        next_id += 1
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")

    config = XttsConfig()
    config.model_args = XttsArgs(
        gpt_layers=1, gpt_n_model_channels=32, gpt_n_heads=2, gpt_max_audio_tokens=10, gpt_max_text_tokens=402,
        gpt_max_prompt_tokens=70, gpt_num_audio_tokens=1026, gpt_start_audio_token=1024, gpt_stop_audio_token=1025,
        gpt_use_perceiver_resampler=True, gpt_use_masking_gt_prompt_approach=True, gpt_code_stride_len=1024,
        decoder_input_dim=32, d_vector_dim=512, input_sample_rate=22050, output_sample_rate=24000, output_hop_length=256,
        cond_d_vector_in_each_upsampling_layer=True,
    )
    config.save_json(str(folder / "config.json"))
    torch.manual_seed(0)
    model = Xtts(config)
    model.tokenizer = VoiceBpeTokenizer(vocab_file=str(folder / "vocab.json"))
    model.init_models()
    torch.save({"model": model.state_dict(), "config": config.to_dict()}, folder / "model.pth")
    return folder


@pytest.fixture(scope="module")
def xtts_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("TTS", reason="coqui-tts is not installed: pip install -e '.[xtts]'")
    return _write_tiny_xtts(tmp_path_factory.mktemp("models") / "xtts-v2")


def _write_sample(path: Path, seconds: float = 2.0, rate: int = 16000) -> Path:
    """A voiced-sounding sample: a gliding harmonic tone with syllable-rate amplitude modulation."""
    t = np.arange(int(seconds * rate)) / rate
    f0 = 120 + 20 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    voice = sum(np.sin(k * phase) / k for k in range(1, 12))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * t) ** 2
    samples = 0.3 * voice * envelope / np.max(np.abs(voice))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((samples * 32767).astype("<i2").tobytes())
    return path


def _read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as handle:
        rate = handle.getframerate()
        data = np.frombuffer(handle.readframes(handle.getnframes()), dtype="<i2").astype(np.float32) / 32768
    return data, rate


def _backend(model_dir: Path, **config: object) -> voice_base.VoiceBackend:
    return voice_base.get("xtts", model_dir=model_dir, device="cpu", license_accepted=True, **config)


@pytest.mark.slow  # builds and runs a tiny random XTTS model in torch
def test_enroll_caches_latents_and_speak_writes_a_24k_wav(xtts_dir: Path, tmp_path: Path) -> None:
    import torch

    sample = _write_sample(tmp_path / "sample.wav")
    profile = VoiceProfileData(name="alex", sample_path=sample)
    backend = _backend(xtts_dir)
    assert backend.name == "xtts"

    artifacts = backend.enroll(profile, tmp_path / "voices" / "alex")
    latents_path = Path(artifacts["latents_path"])
    assert latents_path == tmp_path / "voices" / "alex" / "xtts_latents.pt" and latents_path.is_file()
    cached = torch.load(latents_path, weights_only=True)
    assert cached["sample_sha256"] == artifacts["sample_sha256"] and len(artifacts["sample_sha256"]) == 64
    assert tuple(cached["gpt_cond_latent"].shape) == (1, 32, 32)       # 32 perceiver latents of the GPT's width
    assert tuple(cached["speaker_embedding"].shape) == (1, 512, 1)     # the HiFi-GAN speaker encoder's d-vector
    assert torch.isfinite(cached["gpt_cond_latent"]).all() and torch.isfinite(cached["speaker_embedding"]).all()
    json.dumps(artifacts)   # artifacts are stored on the profile as JSON

    enrolled = VoiceProfileData(name="alex", sample_path=sample, artifacts={"xtts": artifacts})
    out = tmp_path / "out" / "say.wav"
    speech = backend.speak("Hello there, this is Alex. It costs $5 today!", out, profile=enrolled, language="en")
    samples, rate = _read_wav(out)
    assert speech.path == out and rate == 24000 and speech.sample_rate_hz == 24000
    assert speech.backend == "xtts" and speech.timings_source == "none" and speech.words == ()
    assert samples.size > 0 and np.all(np.isfinite(samples))
    assert math.isclose(speech.duration_s, samples.size / rate, rel_tol=1e-6)
    # two sentences, each synthesized separately (at most ~0.3 s each from this tiny model), joined by a 0.25 s pause
    assert 0.25 < speech.duration_s < 1.0
    silent = np.concatenate([[0], (samples == 0).astype(np.int8), [0]])
    runs = np.diff(np.nonzero(np.diff(silent))[0])[::2]
    assert runs.max() >= int(0.25 * rate) and np.abs(samples).max() > 0   # the pause between the sentences


@pytest.mark.slow  # builds and runs a tiny random XTTS model in torch
def test_a_fresh_backend_speaks_from_the_cached_latents(xtts_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from render.voice.xtts_backend import XttsBackend

    sample = _write_sample(tmp_path / "sample.wav")
    artifacts = _backend(xtts_dir).enroll(VoiceProfileData(name="sam", sample_path=sample), tmp_path / "sam")
    profile = VoiceProfileData(name="sam", sample_path=sample, artifacts={"xtts": artifacts})

    def no_recompute(self: XttsBackend, sample_path: Path) -> None:
        raise AssertionError("latents recomputed although the cache is valid")

    with monkeypatch.context() as patch:
        patch.setattr(XttsBackend, "_compute_latents", no_recompute)
        fresh = _backend(xtts_dir)
        speech = fresh.speak("Short one.", tmp_path / "a.wav", profile=profile)
    assert speech.duration_s > 0
    assert fresh._model() is _backend(xtts_dir)._model()   # the weights are loaded once per process

    # a missing cache is recomputed and written again
    Path(artifacts["latents_path"]).unlink()
    speech = _backend(xtts_dir).speak("Short one.", tmp_path / "b.wav", profile=profile)
    assert speech.duration_s > 0 and Path(artifacts["latents_path"]).is_file()

    # the same seed gives the same audio on the same machine
    first, _ = _read_wav(tmp_path / "a.wav")
    again, _ = _read_wav(tmp_path / "b.wav")
    assert np.array_equal(first, again)


@pytest.mark.slow  # builds and runs a tiny random XTTS model in torch
def test_a_stale_cache_from_another_sample_is_recomputed(xtts_dir: Path, tmp_path: Path) -> None:
    import torch

    sample = _write_sample(tmp_path / "sample.wav")
    artifacts = _backend(xtts_dir).enroll(VoiceProfileData(name="sam", sample_path=sample), tmp_path / "sam")
    _write_sample(sample, seconds=2.5)    # the creator re-recorded the sample
    profile = VoiceProfileData(name="sam", sample_path=sample, artifacts={"xtts": artifacts})
    _backend(xtts_dir).speak("Hi.", tmp_path / "c.wav", profile=profile)
    assert torch.load(artifacts["latents_path"], weights_only=True)["sample_sha256"] != artifacts["sample_sha256"]


@pytest.mark.slow  # builds and runs a tiny random XTTS model in torch
def test_refuses_without_licence_acceptance(xtts_dir: Path) -> None:
    with pytest.raises(VoiceError) as refused:
        voice_base.get("xtts", model_dir=xtts_dir, device="cpu")
    assert "reeltwin voice accept-license xtts" in str(refused.value) and "CPML" in str(refused.value)
    assert "non-commercial" in str(refused.value)


@pytest.mark.slow  # builds and runs a tiny random XTTS model in torch
def test_missing_weights_name_the_files_and_the_fetch(tmp_path: Path, xtts_dir: Path) -> None:
    with pytest.raises(VoiceError, match="voice.xtts_model_dir is not set.*coqui/XTTS-v2"):
        voice_base.get("xtts", license_accepted=True)
    with pytest.raises(VoiceError, match="is not a folder.*config.json, model.pth, vocab.json.*hf download coqui/XTTS-v2"):
        voice_base.get("xtts", model_dir=tmp_path / "nowhere", license_accepted=True)
    partial = tmp_path / "partial"
    shutil.copytree(xtts_dir, partial)
    (partial / "vocab.json").unlink()
    with pytest.raises(VoiceError, match=r"lacks vocab.json.*REELTWIN_VOICE__XTTS_MODEL_DIR"):
        voice_base.get("xtts", model_dir=partial, license_accepted=True)


@pytest.mark.slow  # builds and runs a tiny random XTTS model in torch
def test_corrupt_weights_and_unknown_language_are_voice_errors(tmp_path: Path, xtts_dir: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(xtts_dir, broken)
    (broken / "model.pth").write_bytes(b"not a checkpoint")
    sample = _write_sample(tmp_path / "sample.wav")
    with pytest.raises(VoiceError, match="do not load"):
        _backend(broken).enroll(VoiceProfileData(name="x", sample_path=sample), tmp_path / "x")
    with pytest.raises(VoiceError, match="'sw'.*XTTS-v2 speaks en, es"):
        _backend(xtts_dir).speak("Habari", tmp_path / "sw.wav", language="sw")
    assert _backend(xtts_dir).xtts_language("pt-BR") == "pt" and _backend(xtts_dir).xtts_language("zh") == "zh-cn"


@pytest.mark.slow  # builds and runs a tiny random XTTS model in torch
def test_without_a_voice_it_asks_for_one(xtts_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(VoiceError, match="pass --voice NAME"):
        _backend(xtts_dir).speak("Hello.", tmp_path / "x.wav")


def test_importing_the_backend_is_cheap() -> None:
    import subprocess
    import sys

    code = ("import sys, render.voice.xtts_backend, render.voice.base as b; b.names(); "
            "print(sorted(m for m in ('torch', 'TTS', 'torchaudio', 'transformers') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert result.stdout.strip() == "[]"
    assert "xtts" in voice_base.names()


def test_accept_license_records_the_acceptance(tmp_path: Path) -> None:
    refused = reeltwin(tmp_path, "voice", "accept-license", "xtts")
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert not (tmp_path / "data" / "licenses.json").exists()

    accepted = reeltwin(tmp_path, "voice", "accept-license", "xtts", "--yes", "--json")
    assert accepted.returncode == 0, accepted.stderr
    payload = json.loads(accepted.stdout)
    assert payload["license"] == "Coqui Public Model License 1.0.0 (CPML)" and payload["accepted_at"]
    assert "non-commercial" in accepted.stderr
    stored = json.loads((tmp_path / "data" / "licenses.json").read_text(encoding="utf-8"))
    assert stored["xtts"]["accepted_at"] == payload["accepted_at"]

    from agent.model_licenses import is_accepted

    assert is_accepted(tmp_path / "data", "xtts")
    unknown = reeltwin(tmp_path, "voice", "accept-license", "nope", "--yes")
    assert unknown.returncode == 2 and "xtts" in unknown.stderr


@pytest.mark.model
def test_real_xtts_v2_weights(tmp_path: Path) -> None:
    """With the real weights in $REELTWIN_TEST_XTTS_DIR: a cloned voice, 24 kHz, about as long as the text needs."""
    import os

    folder = os.environ.get("REELTWIN_TEST_XTTS_DIR")
    if not folder:
        pytest.skip("set REELTWIN_TEST_XTTS_DIR to a folder holding the coqui/XTTS-v2 files")
    sample = _write_sample(tmp_path / "sample.wav", seconds=8)
    backend = _backend(Path(folder))
    artifacts = backend.enroll(VoiceProfileData(name="real", sample_path=sample), tmp_path / "real")
    speech = backend.speak("This is a real test of the cloned voice.", tmp_path / "real.wav",
                           profile=VoiceProfileData(name="real", sample_path=sample, artifacts={"xtts": artifacts}))
    assert speech.sample_rate_hz == 24000 and 1.0 < speech.duration_s < 8.0
