"""The whisperx aligner: the real ``whisperx.align`` path on a tiny random wav2vec2 saved like a Hugging Face model.

A random model places words arbitrarily inside each sentence's window, so the end-to-end
test checks what holds for any model (one timing per written word, in order, inside the
audio, sentences inside their pauses); the pure parts (pause finding, written-word
mapping, interpolation) are checked exactly.
"""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np
import pytest

from render.align import base as align_base
from render.align.base import AlignError
from render.align.whisperx_backend import fill_missing_times, sentence_segments, voiced_frames, written_words
from render.voice.text import prepare

RATE = 16000
# the layout of facebook/wav2vec2-base-960h's vocabulary: specials, "|" between words, upper-case letters
VOCAB = {"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3, "|": 4,
         **{char: 5 + index for index, char in enumerate("ETAONIHSRDLUMWCFGYPBVK'XJQZ")}}


def _write_tiny_wav2vec2(folder: Path) -> Path:
    import torch
    from transformers import (Wav2Vec2Config, Wav2Vec2CTCTokenizer, Wav2Vec2FeatureExtractor, Wav2Vec2ForCTC,
                              Wav2Vec2Processor)

    folder.mkdir(parents=True)
    (folder / "vocab.json").write_text(json.dumps(VOCAB), encoding="utf-8")
    tokenizer = Wav2Vec2CTCTokenizer(str(folder / "vocab.json"), unk_token="<unk>", pad_token="<pad>",
                                     word_delimiter_token="|", do_lower_case=False)
    extractor = Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=RATE, padding_value=0.0, do_normalize=True,
                                         return_attention_mask=False)
    Wav2Vec2Processor(feature_extractor=extractor, tokenizer=tokenizer).save_pretrained(str(folder))
    config = Wav2Vec2Config(vocab_size=len(VOCAB), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                            intermediate_size=64, conv_dim=(32,) * 7, num_conv_pos_embeddings=16,
                            num_conv_pos_embedding_groups=4, pad_token_id=0, feat_extract_norm="group",
                            do_stable_layer_norm=False)
    torch.manual_seed(0)
    Wav2Vec2ForCTC(config).save_pretrained(str(folder))
    return folder


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("whisperx", reason="whisperx is not installed: pip install -e '.[whisperx]'")
    pytest.importorskip("transformers", reason="transformers is not installed: pip install -e '.[whisperx]'")
    root = tmp_path_factory.mktemp("align-models")
    _write_tiny_wav2vec2(root / "en")
    return root


def _speechlike(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    phase = 2 * np.pi * np.cumsum(110 + 30 * np.sin(2 * np.pi * 0.8 * t)) / RATE
    voiced = sum(np.sin(k * phase) / k for k in range(1, 10)) + 0.05 * rng.standard_normal(t.size)
    syllables = 0.6 + 0.4 * np.sin(2 * np.pi * 4.5 * t) ** 2
    return (0.25 * voiced * syllables / np.max(np.abs(voiced))).astype(np.float32)


def _write_wav(path: Path, pieces: list[np.ndarray], rate: int = RATE) -> Path:
    samples = np.concatenate(pieces)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def _silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), dtype=np.float32)


# --- end to end through whisperx.align --------------------------------------------------------


@pytest.mark.slow  # loads whisperx and torch (a tiny random wav2vec2)
def test_aligns_every_written_word_through_whisperx(model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import nltk

    def no_download(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"nltk.download{args} called: nothing may be downloaded")

    monkeypatch.setattr(nltk, "download", no_download)
    text = "It costs $5.99 today. Prices rose 20% since 2019!"
    # two sentences of speech-like sound, 0.6 s apart; the second starts at 0.3 + 2.4 + 0.6 = 3.3 s
    audio = _write_wav(tmp_path / "speech.wav", [_silence(0.3), _speechlike(2.4, 1), _silence(0.6), _speechlike(2.2, 2), _silence(0.3)])
    duration = 0.3 + 2.4 + 0.6 + 2.2 + 0.3

    aligner = align_base.get("whisperx", model_dir=model_dir, device="cpu")
    result = aligner.align(audio, text, language="en")

    assert result.backend == "whisperx"
    assert [w.word for w in result.words] == text.split()          # one timing per written word, as written
    starts = [w.start_s for w in result.words]
    assert starts == sorted(starts)
    for previous, word in zip(result.words, result.words[1:]):
        assert previous.end_s <= word.start_s + 1e-9
    assert all(0 <= w.start_s <= w.end_s <= duration for w in result.words)
    # each sentence stays inside its own stretch of speech (the pause is found by the VAD)
    first, second = result.words[:4], result.words[4:]
    assert first[-1].end_s <= 3.05 and second[0].start_s >= 2.65
    assert 0.0 <= result.match_ratio <= 1.0 and not result.fallback
    # "$5.99" spans all the words it is read as, so it is longer than a plain short word
    assert result.words[2].end_s - result.words[2].start_s > result.words[0].end_s - result.words[0].start_s


@pytest.mark.slow  # loads whisperx and torch (a tiny random wav2vec2)
def test_other_sample_rates_and_a_single_model_folder(model_dir: Path, tmp_path: Path) -> None:
    audio = _write_wav(tmp_path / "speech22k.wav", [_silence(0.2), _speechlike(1.5, 3), _silence(0.2)], rate=22050)
    result = align_base.get("whisperx", model_dir=model_dir / "en", device="cpu").align(audio, "Hello there, friend.")
    assert [w.word for w in result.words] == ["Hello", "there,", "friend."]
    assert all(0 <= w.start_s <= w.end_s <= 1.9 + 1e-6 for w in result.words)


@pytest.mark.slow  # loads whisperx and torch (a tiny random wav2vec2)
def test_the_captions_setting_reaches_the_model_folder(model_dir: Path, tmp_path: Path) -> None:
    from render.align.auto import align_words

    audio = _write_wav(tmp_path / "speech.wav", [_silence(0.2), _speechlike(1.5, 4), _silence(0.2)])
    result = align_words(audio, "Hello there, friend.", aligner="whisperx", whisperx_model_dir=model_dir)
    assert result.backend == "whisperx" and [w.word for w in result.words] == ["Hello", "there,", "friend."]


@pytest.mark.slow  # loads whisperx and torch (a tiny random wav2vec2)
def test_silence_and_mismatch_never_crash(model_dir: Path, tmp_path: Path) -> None:
    audio = _write_wav(tmp_path / "silence.wav", [_silence(1.0)])
    result = align_base.get("whisperx", model_dir=model_dir, device="cpu").align(
        audio, "A much longer script than this silent second could ever hold, with many words in it.")
    assert len(result.words) == 16 and all(0 <= w.start_s <= w.end_s <= 1.0 for w in result.words)


def test_missing_model_and_bad_inputs_are_align_errors(tmp_path: Path) -> None:
    with pytest.raises(AlignError, match="no model folder is set.*hf download facebook/wav2vec2-base-960h"):
        align_base.get("whisperx").align(tmp_path / "x.wav", "hello")
    with pytest.raises(AlignError, match="holds no wav2vec2 model for 'en'.*hf download facebook/wav2vec2-base-960h"):
        align_base.get("whisperx", model_dir=tmp_path).align(tmp_path / "x.wav", "hello")
    partial = tmp_path / "de"
    partial.mkdir()
    (partial / "config.json").write_text("{}", encoding="utf-8")
    with pytest.raises(AlignError, match=r"lacks model.safetensors or pytorch_model.bin, vocab.json, preprocessor_config.json.*wav2vec2-large-xlsr-53-german"):
        align_base.get("whisperx", model_dir=tmp_path).align(tmp_path / "x.wav", "hallo", language="de")
    with pytest.raises(AlignError, match="empty"):
        align_base.get("whisperx", model_dir=tmp_path).align(tmp_path / "x.wav", "  ")


@pytest.mark.slow  # loads whisperx and torch (a tiny random wav2vec2)
def test_unreadable_audio_is_an_align_error(model_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF nonsense")
    with pytest.raises(AlignError, match="cannot be read"):
        align_base.get("whisperx", model_dir=model_dir, device="cpu").align(bad, "hello")


# --- the pure parts -------------------------------------------------------------------------


def test_written_words_map_numbers_money_and_percentages_back() -> None:
    text = "It costs $5.99 today. Prices rose 20% since 2019!"
    spoken = list(prepare(text).words)
    mapping = written_words(text, spoken, "en")
    assert [token for token, _ in mapping] == text.split()
    spans = {token: [spoken[i] for i in indices] for token, indices in mapping}
    assert spans["$5.99"] == ["five", "dollars", "and", "ninety-nine", "cents"]
    assert spans["20%"] == ["twenty", "percent"] and spans["2019!"] == ["twenty", "nineteen"]
    # every spoken word belongs to exactly one written word, in order
    assert [i for _, indices in mapping for i in indices] == list(range(len(spoken)))


def test_written_words_skip_what_is_not_spoken() -> None:
    text = "Hello (smiles) world 🎉 see you at 9:30"
    spoken = list(prepare(text).words)
    mapping = written_words(text, spoken, "en")
    assert [token for token, _ in mapping] == ["Hello", "world", "see", "you", "at", "9:30"]
    assert [spoken[i] for i in mapping[-1][1]] == ["nine", "thirty"]


def test_pauses_between_sentences_become_segment_boundaries() -> None:
    samples = np.concatenate([_silence(0.3), _speechlike(2.0, 1), _silence(0.5), _speechlike(1.0, 2), _silence(0.4),
                              _speechlike(2.0, 3), _silence(0.2)])
    voiced = voiced_frames(samples)
    duration = len(samples) / RATE
    # a short pause inside the first sentence must not be taken for the boundary
    samples[int(1.3 * RATE):int(1.5 * RATE)] = 0
    segments = sentence_segments(voiced_frames(samples), [40, 20, 40], duration)
    assert len(segments) == 3
    assert segments[0][0] == pytest.approx(0.2, abs=0.03) and segments[0][1] == pytest.approx(2.55, abs=0.05)
    assert segments[1] == (segments[0][1], pytest.approx(4.0, abs=0.05))
    assert segments[2][1] == pytest.approx(6.3, abs=0.03)
    assert sentence_segments(voiced, [1.0], duration) == [(pytest.approx(0.2, abs=0.03), pytest.approx(6.3, abs=0.03))]
    # no speech at all: the sentences share the file
    assert sentence_segments(np.zeros(100, dtype=bool), [1, 1], 2.0)[-1][1] == 2.0


def test_words_without_times_get_interpolated_times() -> None:
    times = [(0.5, 0.7), None, None, (1.3, 1.5), None]
    filled = fill_missing_times(times, [2, 1, 1, 3, 4], (0.0, 2.0))
    assert filled[0] == (0.5, 0.7) and filled[3] == (1.3, 1.5)
    assert filled[1][0] == pytest.approx(0.7) and filled[2][1] == pytest.approx(1.3)
    assert filled[1][1] == pytest.approx(filled[2][0]) and filled[1][1] - filled[1][0] == pytest.approx(0.3)
    assert filled[4] == (pytest.approx(1.5), pytest.approx(2.0))
    assert fill_missing_times([None, None], [1, 1], (1.0, 2.0)) == [(1.0, 1.5), (1.5, 2.0)]


@pytest.mark.model
def test_real_wav2vec2_model_on_real_speech(tmp_path: Path) -> None:
    """With a real model in $REELTWIN_TEST_WAV2VEC2_DIR (e.g. facebook/wav2vec2-base-960h) and Debian's
    codec2-examples Harvard sentences: words land where they are spoken."""
    import os

    folder = os.environ.get("REELTWIN_TEST_WAV2VEC2_DIR")
    speech = Path("/usr/share/codec2/raw/speech_orig_16k.wav")
    if not folder or not speech.exists():
        pytest.skip("set REELTWIN_TEST_WAV2VEC2_DIR to a wav2vec2 model folder and install codec2-examples")
    result = align_base.get("whisperx", model_dir=folder).align(speech, "The birch canoe slid on the smooth planks.")
    assert result.match_ratio > 0.9 and result.words[0].start_s < 1.0
