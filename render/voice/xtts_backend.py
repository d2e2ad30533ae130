"""Coqui XTTS-v2 (``coqui-tts``): zero-shot voice cloning from the creator's enrollment sample.

The model is loaded from a local folder laid out like the ``coqui/XTTS-v2`` release
(``config.json``, ``model.pth``, ``vocab.json``; ``speakers_xtts.pth`` is optional)
and never downloaded here. Speaker conditioning (the GPT conditioning latents and the
decoder's speaker embedding) is computed once per voice profile by ``enroll`` and
cached in a file; ``speak`` reuses it, recomputing it only when the cache is missing
or stale (another sample, another model).

Licence: the XTTS-v2 weights are under the Coqui Public Model License (CPML), which
allows non-commercial use only. The backend refuses to run until the application
says the user accepted it (``license_accepted=True``, from a recorded acceptance),
so coqui-tts never reaches its interactive ``input()`` prompt inside a job.

torch and TTS are imported inside the functions that use them: importing this
module costs nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from render import torch_device
from render.types import Speech
from render.voice.base import VoiceError, VoiceProfileData, register

log = logging.getLogger(__name__)

LICENSE_NAME = "Coqui Public Model License 1.0.0 (CPML)"
LICENSE_URL = "https://coqui.ai/cpml"
ACCEPT_COMMAND = "reeltwin voice accept-license xtts"
#: files the loader reads; a release also carries speakers_xtts.pth (optional here), dvae.pth and mel_stats.pth (unused at inference)
REQUIRED_FILES = ("config.json", "model.pth", "vocab.json")
FETCH_HINT = (
    "fetch the XTTS-v2 weights on a machine with network access, e.g. "
    "`hf download coqui/XTTS-v2 --local-dir xtts-v2` (or `tts --model_name tts_models/multilingual/multi-dataset/xtts_v2 "
    "--list_language_idxs`, which stores them under ~/.local/share/tts/), copy the folder here and set "
    "voice.xtts_model_dir (REELTWIN_VOICE__XTTS_MODEL_DIR) to it"
)
LATENTS_FILE = "xtts_latents.pt"
LATENTS_FORMAT = 1
#: characters XTTS-v2 takes in one go per language (its tokenizer's limits); longer sentences are cut at clauses
CHAR_LIMITS = {"en": 250, "de": 253, "fr": 273, "es": 239, "it": 213, "pt": 203, "pl": 224, "zh": 82, "ar": 166,
               "cs": 186, "ru": 182, "nl": 251, "tr": 226, "ja": 71, "hu": 224, "ko": 95, "hi": 150}
EDGE_FADE_S = 0.01


def check_model_dir(model_dir: Path | str | None) -> Path:
    """The model folder, or a ``VoiceError`` naming the files expected and how to fetch them."""
    if model_dir is None:
        raise VoiceError(f"the xtts voice needs the XTTS-v2 weights and voice.xtts_model_dir is not set; {FETCH_HINT}")
    folder = Path(model_dir).expanduser()
    if not folder.is_dir():
        raise VoiceError(f"voice.xtts_model_dir {str(folder)!r} is not a folder; it must hold "
                         f"{', '.join(REQUIRED_FILES)}; {FETCH_HINT}")
    missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
    if missing:
        raise VoiceError(f"voice.xtts_model_dir {str(folder)!r} lacks {', '.join(missing)} "
                         f"(an XTTS-v2 folder holds {', '.join(REQUIRED_FILES)}); {FETCH_HINT}")
    return folder


def resolve_device(device: str) -> str:
    return torch_device.resolve_device(device, setting="voice.device", error=VoiceError)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_fingerprint(folder: Path) -> str:
    """Identifies the weights the latents were computed with, without hashing gigabytes."""
    weights = (folder / "model.pth").stat()
    config = (folder / "config.json").read_bytes()
    return hashlib.sha256(config + f"|{weights.st_size}|{weights.st_mtime_ns}".encode()).hexdigest()[:16]


@dataclass
class _LoadedModel:
    model: Any            # TTS.tts.models.xtts.Xtts
    config: Any           # TTS.tts.configs.xtts_config.XttsConfig
    device: str
    fingerprint: str      # of the files after loading (coqui-tts rewrites a legacy model.pth once, in place)
    lock: threading.Lock


_MODELS: dict[tuple[str, str], _LoadedModel] = {}
_MODELS_LOCK = threading.Lock()


def _load_model(folder: Path, device: str) -> _LoadedModel:
    key = (str(folder.resolve()), device)
    with _MODELS_LOCK:
        cached = _MODELS.get(key)
        if cached is not None and cached.fingerprint == model_fingerprint(folder):
            return cached
        try:
            from TTS.tts.configs.xtts_config import XttsConfig
            from TTS.tts.models.xtts import Xtts

            from render.torchaudio_import import import_torchaudio

            import_torchaudio()  # before TTS imports it: works where torchaudio's compiled ops do not load
        except ImportError as error:
            raise VoiceError(f"the xtts voice needs coqui-tts ({error}); install it with `pip install -e '.[xtts]'`") from None
        config = XttsConfig()
        config.load_json(str(folder / "config.json"))
        model = Xtts(config)
        log.info("loading XTTS-v2 from %s on %s", folder, device)
        try:
            model.load_checkpoint(config, checkpoint_dir=str(folder), eval=True)
        except (RuntimeError, KeyError, ValueError, OSError, EOFError, pickle.UnpicklingError) as error:
            first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise VoiceError(f"voice.xtts_model_dir {str(folder)!r}: the XTTS-v2 weights do not load "
                             f"({first_line[:300]}); re-fetch them: {FETCH_HINT}") from error
        model.to(device)
        loaded = _LoadedModel(model, config, device, model_fingerprint(folder), threading.Lock())
        _MODELS.clear()   # one XTTS at a time: it holds ~2 GB of GPU memory
        _MODELS[key] = loaded
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


def _sample_tensor(path: Path, rate_hz: int, max_seconds: float) -> Any:
    """The sample as a (1, n) float tensor at ``rate_hz``.

    XTTS's own ``get_conditioning_latents`` reads files with ``torchaudio.load``, which
    needs torchcodec and FFmpeg's shared libraries; the ffmpeg executable reads the
    canonical WAV the enrollment stores without either.
    """
    import torch

    from render.media.audio import read_mono

    samples, _rate = read_mono(Path(path), rate_hz, error=VoiceError, label=f"voice sample {str(path)!r}", fix="enroll the voice again")
    if samples.size == 0:
        raise VoiceError(f"voice sample {str(path)!r} is empty; enroll the voice again")
    audio = torch.from_numpy(np.ascontiguousarray(samples))[None, :]
    return audio[:, : int(rate_hz * max_seconds)].clamp(-1.0, 1.0)


def _fade_edges(samples: np.ndarray, rate_hz: int) -> np.ndarray:
    # Sentences are synthesized separately; short fades at their edges keep the joins free of clicks.
    count = min(len(samples) // 2, int(EDGE_FADE_S * rate_hz))
    if count <= 1:
        return samples
    ramp = np.linspace(0.0, 1.0, count, dtype=np.float32)
    samples = samples.copy()
    samples[:count] *= ramp
    samples[-count:] *= ramp[::-1]
    return samples


class XttsBackend:
    """XTTS-v2 from a local model folder; the speaker comes from an enrolled profile."""

    name = "xtts"

    def __init__(self, *, model_dir: Path | str | None = None, device: str = "auto", license_accepted: bool = False,
                 speaker: str | None = None, temperature: float | None = None, speed: float = 1.0,
                 sentence_gap_s: float = 0.25, seed: int | None = 0):
        if not license_accepted:
            raise VoiceError(f"the xtts voice uses the XTTS-v2 weights, licensed under the {LICENSE_NAME}: "
                             f"non-commercial use only ({LICENSE_URL}); read it, then accept it with `{ACCEPT_COMMAND}`")
        self.model_dir = check_model_dir(model_dir)
        self.device_setting = device
        self.speaker = speaker
        self.temperature = temperature
        self.speed = speed
        self.sentence_gap_s = sentence_gap_s
        self.seed = seed
        self.languages = self._languages()
        # coqui-tts asks for the CPML with input() before it *downloads* weights; this backend
        # never downloads, but the application recorded the acceptance, so say so to coqui-tts too.
        os.environ["COQUI_TOS_AGREED"] = "1"
        self._latents: dict[tuple[str, str], tuple[Any, Any]] = {}

    # --- model ---------------------------------------------------------------------------

    def _languages(self) -> tuple[str, ...]:
        try:
            config = json.loads((self.model_dir / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise VoiceError(f"{str(self.model_dir / 'config.json')!r} is not valid JSON ({error}); {FETCH_HINT}") from None
        return tuple(config.get("languages") or ())

    def _model(self) -> _LoadedModel:
        return _load_model(self.model_dir, resolve_device(self.device_setting))

    def xtts_language(self, language: str) -> str:
        """The language code XTTS knows for ``language`` ("pt-BR" -> "pt", "zh" -> "zh-cn")."""
        code = language.strip().lower().replace("_", "-")
        candidates = [code, code.split("-")[0]]
        if code.startswith("zh"):
            candidates.insert(0, "zh-cn")
        for candidate in candidates:
            if candidate in self.languages:
                return candidate
        raise VoiceError(f"language {language!r}: XTTS-v2 speaks {', '.join(self.languages)}; "
                         f"set the calendar's language to one of them or use another voice backend")

    # --- speaker conditioning ------------------------------------------------------------

    def _compute_latents(self, sample_path: Path) -> tuple[Any, Any]:
        loaded = self._model()
        model, config = loaded.model, loaded.config
        rate = config.audio.sample_rate   # 22050: what XTTS's conditioning encoders expect
        audio = _sample_tensor(sample_path, rate, float(config.max_ref_len)).to(loaded.device)
        if config.sound_norm_refs:
            audio = audio / audio.abs().max().clamp(min=1e-6) * 0.75
        with loaded.lock:
            speaker_embedding = model.get_speaker_embedding(audio, rate)
            gpt_cond_latent = model.get_gpt_cond_latents(audio, rate, length=config.gpt_cond_len,
                                                         chunk_length=config.gpt_cond_chunk_len)
        return gpt_cond_latent.detach().cpu(), speaker_embedding.detach().cpu()

    def _save_latents(self, path: Path, latents: tuple[Any, Any], sample_sha: str, fingerprint: str) -> None:
        import torch

        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        torch.save({"format": LATENTS_FORMAT, "gpt_cond_latent": latents[0], "speaker_embedding": latents[1],
                    "sample_sha256": sample_sha, "model_fingerprint": fingerprint}, partial)
        partial.replace(path)   # never a half-written cache

    def _read_latents(self, path: Path, sample_sha: str, fingerprint: str) -> tuple[Any, Any] | None:
        import torch

        try:
            data = torch.load(path, map_location="cpu", weights_only=True)
        except FileNotFoundError:
            return None
        except Exception as error:  # noqa: BLE001 - any unreadable cache is recomputed, never fatal
            log.warning("xtts latents %s are unreadable (%s); recomputing them", path, error)
            return None
        if not isinstance(data, dict) or data.get("format") != LATENTS_FORMAT:
            return None
        if data.get("sample_sha256") != sample_sha or data.get("model_fingerprint") != fingerprint:
            log.info("xtts latents %s were made from another sample or model; recomputing them", path)
            return None
        return data["gpt_cond_latent"], data["speaker_embedding"]

    def enroll(self, profile: VoiceProfileData, workdir: Path) -> dict[str, Any]:
        """Compute the profile's speaker conditioning once and cache it in ``workdir``."""
        if not Path(profile.sample_path).is_file():
            raise VoiceError(f"voice {profile.name!r}: its sample {str(profile.sample_path)!r} is missing; enroll it again")
        sample_sha = file_sha256(Path(profile.sample_path))
        fingerprint = self._model().fingerprint
        latents = self._compute_latents(Path(profile.sample_path))
        path = Path(workdir) / LATENTS_FILE
        self._save_latents(path, latents, sample_sha, fingerprint)
        self._latents[(sample_sha, fingerprint)] = latents
        return {"latents_path": str(path), "sample_sha256": sample_sha, "model_fingerprint": fingerprint,
                "gpt_cond_latent_shape": list(latents[0].shape), "speaker_embedding_shape": list(latents[1].shape)}

    def conditioning(self, profile: VoiceProfileData | None) -> tuple[Any, Any]:
        """The speaker latents for ``profile``: from memory, the enrollment cache, or computed now."""
        if profile is None:
            return self._builtin_speaker()
        sample = Path(profile.sample_path)
        if not sample.is_file():
            raise VoiceError(f"voice {profile.name!r}: its sample {str(sample)!r} is missing; enroll it again")
        sample_sha = file_sha256(sample)
        fingerprint = self._model().fingerprint
        key = (sample_sha, fingerprint)
        if key in self._latents:
            return self._latents[key]
        artifacts = dict(profile.artifacts.get(self.name) or {})
        cache = Path(artifacts["latents_path"]) if artifacts.get("latents_path") else None
        latents = self._read_latents(cache, sample_sha, fingerprint) if cache else None
        if latents is None:
            log.info("computing xtts speaker latents for voice %r", profile.name)
            latents = self._compute_latents(sample)
            if cache is not None:
                try:
                    self._save_latents(cache, latents, sample_sha, fingerprint)
                except OSError as error:
                    log.warning("cannot rewrite the xtts latents cache %s (%s)", cache, error.strerror)
        self._latents[key] = latents
        return latents

    def _builtin_speaker(self) -> tuple[Any, Any]:
        manager = getattr(self._model().model, "speaker_manager", None)
        speakers = getattr(manager, "speakers", None) or {}
        if self.speaker is None or self.speaker not in speakers:
            known = f" or pick one of the model's speakers ({', '.join(sorted(speakers)[:5])}, ...)" if speakers else ""
            raise VoiceError(f"the xtts voice clones an enrolled voice: pass --voice NAME (enroll one with "
                             f"`reeltwin voice enroll`){known}")
        entry = speakers[self.speaker]
        return entry["gpt_cond_latent"], entry["speaker_embedding"]

    # --- speaking ------------------------------------------------------------------------

    def speak(self, text: str, out_path: Path, *, profile: VoiceProfileData | None = None, language: str = "en") -> Speech:
        """Say ``text`` in the profile's voice: sentence by sentence, joined with short pauses, into a WAV."""
        import torch

        from render.media.audio import write_wav
        from render.voice.text import prepare

        xtts_language = self.xtts_language(language)
        limit = CHAR_LIMITS.get(xtts_language.split("-")[0], 250)
        prepared = prepare(text, language, max_chars=limit)
        if not prepared.sentences:
            raise VoiceError("nothing to say: the script has no speakable words")
        gpt_cond_latent, speaker_embedding = self.conditioning(profile)
        loaded = self._model()
        model, config = loaded.model, loaded.config
        rate = int(config.audio.output_sample_rate)
        options: dict[str, Any] = {"temperature": self.temperature if self.temperature is not None else config.temperature,
                                   "length_penalty": config.length_penalty, "repetition_penalty": config.repetition_penalty,
                                   "top_k": config.top_k, "top_p": config.top_p, "speed": self.speed}
        gap = np.zeros(int(self.sentence_gap_s * rate), dtype=np.float32)
        pieces: list[np.ndarray] = []
        devices = [torch.device(loaded.device)] if loaded.device.startswith("cuda") else []
        with loaded.lock, torch.random.fork_rng(devices=devices):
            if self.seed is not None:
                torch.manual_seed(self.seed)  # the same script renders the same on any worker
            for sentence in prepared.sentences:
                output = model.inference(sentence, xtts_language, gpt_cond_latent, speaker_embedding,
                                         enable_text_splitting=False, **options)
                wav = np.asarray(output["wav"], dtype=np.float32).reshape(-1)
                if wav.size == 0:
                    log.warning("xtts produced no audio for %r", sentence)
                    continue
                pieces += [_fade_edges(np.nan_to_num(wav), rate), gap]
        if not pieces:
            raise VoiceError("xtts produced no audio for this script; check the model folder and the text")
        samples = np.concatenate(pieces[:-1])   # no trailing pause
        write_wav(Path(out_path), samples, rate, round_to_nearest=False)
        # XTTS gives no word timings; the alignment stage times the words against this audio.
        return Speech(path=Path(out_path), duration_s=len(samples) / rate, sample_rate_hz=rate, backend=self.name,
                      timings_source="none")


@register("xtts")
def _make_xtts(**config: Any) -> XttsBackend:
    return XttsBackend(**config)
