"""whisperx forced alignment: wav2vec2 CTC alignment of the known script (``whisperx.align``).

The script is made speakable first (``render.voice.text``: numbers, money, percentages
and symbols become words, which a character CTC model can align; whisperx is known to
drop times on digits), cut into its sentences, and each sentence is aligned as one
whisperx segment whose times come from a simple energy voice-activity detector: the
pauses between sentences are found in the audio and matched to the sentence lengths.
The spoken words' times are then mapped back to the script's words as written
("$5.99" gets the span of "five dollars and ninety-nine cents"); words whisperx could
not time get times interpolated between their neighbours.

The wav2vec2 model is a Hugging Face style folder (``config.json``, weights,
``vocab.json``, ``preprocessor_config.json``) read from ``model_dir`` and never
downloaded. whisperx asks NLTK for its Punkt sentence splitter (and downloads it when
missing); when no Punkt model is installed a plain one (no abbreviation list) is
written to a private temporary folder instead: each segment is one sentence already.

torch, transformers and whisperx are imported inside the functions that use them.
"""

from __future__ import annotations

import atexit
import contextlib
import difflib
import io
import logging
import math
import shutil
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from render import torch_device
from render.align.base import AlignError, register
from render.types import Alignment, WordTiming

log = logging.getLogger(__name__)

SAMPLE_RATE_HZ = 16000          # what wav2vec2 models and whisperx expect
FRAME_S = 0.02
MIN_PAUSE_S = 0.15              # a silence this long may separate two sentences
EDGE_PAD_S = 0.1
UNSNAPPED_PAD_S = 0.3           # slack around a sentence boundary that fell in no pause
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
PROCESSOR_FILES = ("vocab.json", "preprocessor_config.json")
#: Hugging Face wav2vec2 CTC models to fetch per language (whisperx's own list covers more; see its alignment.py)
SUGGESTED_MODELS = {
    "en": "facebook/wav2vec2-base-960h",
    "fr": "jonatasgrosman/wav2vec2-large-xlsr-53-french",
    "de": "jonatasgrosman/wav2vec2-large-xlsr-53-german",
    "es": "jonatasgrosman/wav2vec2-large-xlsr-53-spanish",
    "it": "jonatasgrosman/wav2vec2-large-xlsr-53-italian",
}


def base_language(language: str) -> str:
    return language.strip().lower().replace("_", "-").split("-")[0] or "en"


# --- the model folder ----------------------------------------------------------------------


def suggested_model(language: str, model_names: Mapping[str, str] | None = None) -> str | None:
    code = base_language(language)
    if model_names and code in model_names:
        return model_names[code]
    if code in SUGGESTED_MODELS:
        return SUGGESTED_MODELS[code]
    try:
        from whisperx.alignment import DEFAULT_ALIGN_MODELS_HF
    except Exception:  # noqa: BLE001 - only a hint for an error message
        return None
    return DEFAULT_ALIGN_MODELS_HF.get(code)


def _is_model_folder(folder: Path) -> bool:
    return (folder / "config.json").is_file()


def find_model_folder(model_dir: Path | str | None, language: str, model_names: Mapping[str, str] | None = None) -> Path:
    """``<model_dir>/<language>`` or, for a single model, ``model_dir`` itself; else an ``AlignError`` naming the fetch."""
    code = base_language(language)
    name = suggested_model(code, model_names) or "a wav2vec2 CTC model fine-tuned on this language"
    target = f"{model_dir}/{code}" if model_dir is not None else f"<folder>/{code}"
    fetch = (f"fetch it on a machine with network access, e.g. `hf download {name} --local-dir {target}` "
             f"(or save_pretrained of Wav2Vec2ForCTC and Wav2Vec2Processor), then copy it here")
    if model_dir is None:
        raise AlignError(f"the whisperx aligner needs a local wav2vec2 model and no model folder is set; {fetch}, "
                         "and point the aligner's model_dir at <folder>")
    root = Path(model_dir).expanduser()
    candidates = [root / code, root]
    folder = next((candidate for candidate in candidates if _is_model_folder(candidate)), None)
    if folder is None:
        raise AlignError(f"whisperx model folder {str(root)!r} holds no wav2vec2 model for {code!r} "
                         f"(expected {str(root / code)!r} or {str(root)!r} with config.json); {fetch}")
    missing = [name for name in PROCESSOR_FILES if not (folder / name).is_file()]
    if not any((folder / weights).is_file() for weights in WEIGHT_FILES):
        missing.insert(0, " or ".join(WEIGHT_FILES))
    if missing:
        raise AlignError(f"whisperx model folder {str(folder)!r} lacks {', '.join(missing)}; {fetch}")
    return folder


def resolve_device(device: str) -> str:
    return torch_device.resolve_device(device, setting="device", error=AlignError)


@dataclass
class _LoadedModel:
    model: Any
    metadata: dict[str, Any]
    device: str
    lock: threading.Lock


_MODELS: dict[tuple[str, str, str], _LoadedModel] = {}
_MODELS_LOCK = threading.Lock()


def _load_model(folder: Path, language: str, device: str) -> _LoadedModel:
    key = (str(folder.resolve()), language, device)
    with _MODELS_LOCK:
        if key in _MODELS:
            return _MODELS[key]
        try:
            from render.torchaudio_import import import_torchaudio

            import_torchaudio()  # whisperx imports torchaudio; this works where its compiled ops do not load
            import whisperx
        except ImportError as error:
            raise AlignError(f"the whisperx aligner needs whisperx ({error}); install it with `pip install -e '.[whisperx]'`") from None
        printed = io.StringIO()
        try:
            # whisperx prints loading errors on stdout; keep stdout for --json
            with contextlib.redirect_stdout(printed):
                model, metadata = whisperx.load_align_model(language, device, model_name=str(folder), model_cache_only=True)
        except (ValueError, OSError, RuntimeError) as error:
            detail = printed.getvalue().strip().splitlines()[:1] or [str(error)]
            raise AlignError(f"whisperx model folder {str(folder)!r} does not load ({detail[0][:300]}); fetch the model again") from None
        model.eval()
        _MODELS.clear()   # one aligner model at a time
        _MODELS[key] = loaded = _LoadedModel(model, metadata, device, threading.Lock())
        return loaded


def release_models() -> None:
    """Drop the loaded models and give their GPU memory back (between render stages)."""
    with _MODELS_LOCK:
        _MODELS.clear()
    try:
        import torch
    except ImportError:
        return
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


# --- NLTK's sentence splitter, without a download ----------------------------------------------

PUNKT_FILES = ("collocations.tab", "sent_starters.txt", "abbrev_types.txt", "ortho_context.tab")


@lru_cache(maxsize=1)
def _plain_punkt_root() -> Path:
    root = Path(tempfile.mkdtemp(prefix="reeltwin-punkt-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return root


@lru_cache(maxsize=None)
def ensure_sentence_splitter(punkt_language: str) -> None:
    """Make NLTK find a Punkt model for ``punkt_language`` without downloading one."""
    import nltk

    try:
        nltk.data.find(f"tokenizers/punkt_tab/{punkt_language}/")
        return   # an installed Punkt model (nltk.download) is better than the plain one
    except LookupError:
        pass
    root = _plain_punkt_root()
    folder = root / "tokenizers" / "punkt_tab" / punkt_language
    folder.mkdir(parents=True, exist_ok=True)
    for name in PUNKT_FILES:
        (folder / name).touch()
    if str(root) not in nltk.data.path:
        nltk.data.path.append(str(root))


# --- audio ------------------------------------------------------------------------------------


def _read_speech(path: Path) -> np.ndarray:
    """Mono float32 samples at 16 kHz."""
    from render.media.audio import read_mono

    if not Path(path).is_file():
        raise AlignError(f"audio {str(path)!r} does not exist")
    samples, _rate = read_mono(Path(path), SAMPLE_RATE_HZ, error=AlignError, label=f"audio {str(path)!r}",
                               fix="give a WAV, MP3, M4A, OGG or FLAC file")
    if samples.size == 0:
        raise AlignError(f"audio {str(path)!r} holds no samples")
    return np.ascontiguousarray(samples, dtype=np.float32)


def voiced_frames(samples: np.ndarray, rate: int = SAMPLE_RATE_HZ, frame_s: float = FRAME_S) -> np.ndarray:
    """One bool per ``frame_s`` frame: louder than 35 dB below the loud frames (a simple energy VAD)."""
    size = max(1, int(rate * frame_s))
    count = len(samples) // size
    if count == 0:
        return np.zeros(0, dtype=bool)
    energy = np.sqrt(np.mean(samples[: count * size].astype(np.float64).reshape(count, size) ** 2, axis=1))
    loud = float(np.percentile(energy, 95))
    if loud <= 1e-6:
        return np.zeros(count, dtype=bool)
    return energy > loud * 10 ** (-35 / 20)


def sentence_segments(voiced: np.ndarray, weights: Sequence[float], duration_s: float, *,
                      frame_s: float = FRAME_S, min_pause_s: float = MIN_PAUSE_S) -> list[tuple[float, float]]:
    """A (start_s, end_s) window per sentence: sentence boundaries snapped to the pauses nearest
    to where the sentences' lengths (``weights``, e.g. letters) put them in the voiced time."""
    count = len(weights)
    if count == 0:
        return []
    if len(voiced) == 0:
        return [(0.0, round(duration_s, 3))] * count
    speech = np.nonzero(voiced)[0]
    if speech.size == 0:   # no detectable speech: sentences share the whole file by length
        voiced = np.ones(len(voiced), dtype=bool)
        speech = np.arange(len(voiced))
    first_s, last_s = speech[0] * frame_s, min(duration_s, (speech[-1] + 1) * frame_s)
    cumulative = np.concatenate([[0.0], np.cumsum(voiced) * frame_s])   # voiced seconds before frame i
    total_voiced = float(cumulative[-1])
    # pauses: silent runs inside the speech, at least min_pause_s long
    pauses: list[tuple[float, float]] = []
    run_start = None
    for index, is_voiced in enumerate(voiced):
        if not is_voiced and run_start is None:
            run_start = index
        elif is_voiced and run_start is not None:
            if run_start * frame_s > first_s and (index - run_start) * frame_s >= min_pause_s:
                pauses.append((run_start * frame_s, index * frame_s))
            run_start = None
    total_weight = float(sum(max(w, 1e-6) for w in weights))
    shares = np.cumsum([max(w, 1e-6) for w in weights])[:-1] / total_weight
    mean_sentence_voiced = total_voiced / count
    tolerance = max(0.6, 0.5 * mean_sentence_voiced)
    boundaries: list[tuple[float, bool]] = []   # (time, snapped to a pause)
    used = -1
    for share in shares:
        target = share * total_voiced
        best, best_distance = None, tolerance
        for index in range(used + 1, len(pauses)):
            start, end = pauses[index]
            if boundaries and (start + end) / 2 <= boundaries[-1][0]:
                continue
            distance = abs(float(cumulative[min(len(voiced), int(start / frame_s))]) - target)
            if distance <= best_distance:
                best, best_distance = index, distance
        if best is not None:
            used = best
            boundaries.append(((pauses[best][0] + pauses[best][1]) / 2, True))
        else:
            frame = int(np.searchsorted(cumulative, target))
            time = min(last_s, max(first_s, frame * frame_s))
            if boundaries:
                time = max(time, boundaries[-1][0])
            boundaries.append((time, False))
    segments = []
    start, start_snapped = max(0.0, first_s - EDGE_PAD_S), True
    for time, snapped in [*boundaries, (min(duration_s, last_s + EDGE_PAD_S), True)]:
        left = start if start_snapped else max(0.0, start - UNSNAPPED_PAD_S)
        right = time if snapped else min(duration_s, time + UNSNAPPED_PAD_S)
        segments.append((round(left, 3), round(max(right, left), 3)))
        start, start_snapped = time, snapped
    return segments


# --- words as written -----------------------------------------------------------------------


def written_words(text: str, spoken: Sequence[str], language: str) -> list[tuple[str, list[int]]]:
    """The script's whitespace tokens that are spoken, each with the indices of its words in ``spoken``.

    Each token is normalized on its own and the result matched against ``spoken`` (the
    whole script normalized), so a token whose reading depends on its neighbours still
    lands on the right words. Tokens the normalizer drops (emoji, stage directions) are
    not spoken and not returned.
    """
    from render.voice.text import normalize, speakable_words

    tokens = text.split()
    flat: list[tuple[int, str]] = []
    for token_index, token in enumerate(tokens):
        flat += [(token_index, word) for word in speakable_words(normalize(token, language))]
    assigned: dict[int, list[int]] = {}
    matcher = difflib.SequenceMatcher(None, [w.lower() for _, w in flat], [w.lower() for w in spoken], autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            for offset in range(i2 - i1):
                assigned.setdefault(flat[i1 + offset][0], []).append(j1 + offset)
        elif tag == "replace":
            tokens_here = i2 - i1
            for offset in range(tokens_here):
                low = j1 + (offset * (j2 - j1)) // tokens_here
                high = max(low + 1, j1 + ((offset + 1) * (j2 - j1)) // tokens_here)
                assigned.setdefault(flat[i1 + offset][0], []).extend(range(low, min(high, j2)))
        elif tag == "insert":   # spoken words no single token makes: they belong to the token before
            owner = flat[i1 - 1][0] if i1 > 0 else (flat[0][0] if flat else None)
            if owner is not None:
                assigned.setdefault(owner, []).extend(range(j1, j2))
    return [(tokens[index], sorted(set(indices))) for index, indices in sorted(assigned.items()) if indices]


def fill_missing_times(times: list[tuple[float, float] | None], weights: Sequence[float],
                       window: tuple[float, float]) -> list[tuple[float, float]]:
    """Give words without times (``None``) a share of the gap between their timed neighbours, by length."""
    start_s, end_s = window
    filled: list[tuple[float, float] | None] = list(times)
    index = 0
    while index < len(filled):
        if filled[index] is not None:
            index += 1
            continue
        run_end = index
        while run_end < len(filled) and filled[run_end] is None:
            run_end += 1
        left = filled[index - 1][1] if index > 0 and filled[index - 1] else start_s
        right = filled[run_end][0] if run_end < len(filled) and filled[run_end] else end_s
        right = max(right, left)
        run_weights = [max(float(w), 1.0) for w in weights[index:run_end]]
        unit = (right - left) / sum(run_weights)
        clock = left
        for offset, weight in enumerate(run_weights):
            filled[index + offset] = (clock, clock + weight * unit)
            clock += weight * unit
        index = run_end
    return [time for time in filled if time is not None]


# --- the backend ------------------------------------------------------------------------------


class WhisperXBackend:
    """wav2vec2 forced alignment of the known script with whisperx."""

    name = "whisperx"

    def __init__(self, *, model_dir: Path | str | None = None, model_names: Mapping[str, str] | None = None,
                 device: str = "auto", min_pause_s: float = MIN_PAUSE_S):
        self.model_dir = Path(model_dir).expanduser() if model_dir is not None else None
        self.model_names = dict(model_names or {})
        self.device_setting = device
        self.min_pause_s = min_pause_s

    def align(self, audio_path: Path, text: str, *, language: str = "en") -> Alignment:
        """Time every written word of ``text`` in ``audio_path``; a poor match falls back, never raises."""
        from render.voice.text import prepare

        if not text or not text.strip():
            raise AlignError("the text to align is empty; give the script that was spoken")
        code = base_language(language)
        prepared = prepare(text, language)
        spoken = list(prepared.words)
        if not spoken:
            raise AlignError(f"the text {text[:60]!r} has no speakable words to align")
        folder = find_model_folder(self.model_dir, code, self.model_names)
        samples = _read_speech(Path(audio_path))
        duration_s = len(samples) / SAMPLE_RATE_HZ
        loaded = _load_model(folder, code, resolve_device(self.device_setting))

        from render.voice.text import speakable_words

        sentence_words = [speakable_words(sentence) for sentence in prepared.sentences]
        sentence_words = [words for words in sentence_words if words]
        weights = [sum(len(word) for word in words) for words in sentence_words]
        windows = sentence_segments(voiced_frames(samples), weights, duration_s, min_pause_s=self.min_pause_s)
        warnings: list[str] = []
        spoken_times: list[tuple[float, float]] = []
        aligned_count = 0
        spread_sentences = 0
        for words, window in zip(sentence_words, windows, strict=True):
            times = self._align_sentence(loaded, samples, words, window)
            aligned_count += sum(time is not None for time in times)
            if all(time is None for time in times):
                spread_sentences += 1
                warnings.append(f"could not align {' '.join(words)[:60]!r}; its words are spread over "
                                f"{window[0]:.2f}-{window[1]:.2f} s")
            spoken_times += fill_missing_times(times, [len(word) for word in words], window)
        if len(spoken_times) != len(spoken):   # the sentences re-split differently: should not happen; stay safe
            warnings.append("sentence split mismatch; words spread over the speech")
            spoken_times = fill_missing_times([None] * len(spoken), [len(w) for w in spoken],
                                              (windows[0][0], windows[-1][1]) if windows else (0.0, duration_s))
            aligned_count, spread_sentences = 0, len(sentence_words)
        words_out = self._written_timings(text, spoken, spoken_times, language, duration_s)
        ratio = aligned_count / len(spoken)
        if warnings:
            for warning in warnings:  # returned with the alignment: the caller shows them once
                log.debug("whisperx: %s", warning)
        return Alignment(words=tuple(words_out), backend=self.name, match_ratio=round(ratio, 3),
                         fallback=spread_sentences > 0 and spread_sentences * 2 >= len(sentence_words),
                         warnings=tuple(warnings))

    def _align_sentence(self, loaded: _LoadedModel, samples: np.ndarray, words: list[str],
                        window: tuple[float, float]) -> list[tuple[float, float] | None]:
        """whisperx.align of one sentence as one segment; a time per word, ``None`` where whisperx gave none."""
        import whisperx

        from whisperx.utils import PUNKT_LANGUAGES

        dictionary = loaded.metadata["dictionary"]
        ensure_sentence_splitter(PUNKT_LANGUAGES.get(loaded.metadata["language"], "english"))
        # Characters the model cannot emit (hyphens, symbols) are left out of the text it aligns;
        # a word made only of such characters stays as it is (whisperx aligns it with a wildcard).
        cleaned = []
        for word in words:
            kept = "".join(char for char in word.lower() if char in dictionary and char not in ("|", " "))
            cleaned.append(kept or word.lower())
        segment = {"start": float(window[0]), "end": float(window[1]), "text": " ".join(cleaned)}
        try:
            with loaded.lock, contextlib.redirect_stdout(io.StringIO()):
                result = whisperx.align([segment], loaded.model, loaded.metadata, samples, loaded.device,
                                        return_char_alignments=False)
        except (RuntimeError, ValueError, IndexError, KeyError) as error:
            log.warning("whisperx failed on %r (%s)", segment["text"][:60], error)
            return [None] * len(words)
        found = result.get("word_segments") or []
        if len(found) != len(words):
            log.warning("whisperx returned %d words for %d in %r", len(found), len(words), segment["text"][:60])
            return [None] * len(words)
        times: list[tuple[float, float] | None] = []
        for item in found:
            start, end = item.get("start"), item.get("end")
            if start is None or end is None or not math.isfinite(float(start)) or not math.isfinite(float(end)):
                times.append(None)
            else:
                times.append((float(start), max(float(start), float(end))))
        return times

    @staticmethod
    def _written_timings(text: str, spoken: list[str], spoken_times: list[tuple[float, float]], language: str,
                         duration_s: float) -> list[WordTiming]:
        timings: list[WordTiming] = []
        previous_end = 0.0
        for token, indices in written_words(text, spoken, language):
            start = min(spoken_times[i][0] for i in indices)
            end = max(spoken_times[i][1] for i in indices)
            start = min(duration_s, max(start, previous_end))   # monotone, inside the audio
            end = min(duration_s, max(end, start))
            timings.append(WordTiming(token, round(start, 3), round(end, 3)))
            previous_end = end
        return timings


@register("whisperx")
def _make_whisperx(**config: Any) -> WhisperXBackend:
    return WhisperXBackend(**config)
