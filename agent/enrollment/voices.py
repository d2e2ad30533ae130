"""Voice profiles: enroll a creator's voice sample (checked, consented, stored) and load it for speaking.

The CLI (``reeltwin voice enroll/list/say``) and the web UI call these same
functions. Files live under ``<data_dir>/voices/<name>/<version>/``: the
canonical sample (mono 16-bit WAV) and whatever a backend's ``enroll`` writes.
A new enrollment is written to its own version folder before the database row
points at it, so a failed or refused re-enrollment leaves the old voice whole.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, select

from agent.db.models import VoiceProfile, utcnow
from agent.enrollment.consent import ConsentRequired, check_name, record_consent
from agent.errors import AgentError, NotFoundError

if TYPE_CHECKING:
    from agent.settings import Settings
    from agent.storage import MediaStorage

log = logging.getLogger(__name__)

#: What the creator confirms; recorded word for word on the profile.
CONSENT_TEXT = (
    "I confirm that this voice sample is my own voice, or that I have the right to use this voice, "
    "and I agree that ReelTwin may synthesize speech that sounds like it."
)
CANONICAL_RATE_HZ = 22050   # the bundled Piper voice's rate: the matching compares like with like
#: What the web UI's "Preview" button says with an enrolled voice.
PREVIEW_TEXT = "Hi, this is how I sound in ReelTwin."


@dataclass(frozen=True)
class SampleReport:
    """A decoded, measured voice sample that passed the checks (``warnings`` are the soft problems)."""

    path: Path
    samples: Any            # numpy float32, mono, at rate_hz
    rate_hz: int
    info: dict[str, Any]
    stats: dict[str, Any]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class EnrolledVoice:
    profile: VoiceProfile
    warnings: tuple[str, ...] = ()
    replaced: bool = False
    backend_seconds: float = 0.0
    notes: dict[str, Any] = field(default_factory=dict)


def voices_dir(settings: Settings) -> Path:
    return Path(settings.data_dir) / "voices"


def find(session: Session, name: str) -> VoiceProfile | None:
    return session.exec(select(VoiceProfile).where(VoiceProfile.name == name)).first()


def list_voices(session: Session) -> list[VoiceProfile]:
    return list(session.exec(select(VoiceProfile).order_by(VoiceProfile.name)))


def get_voice(session: Session, name: str) -> VoiceProfile:
    profile = find(session, name)
    if profile is None:
        known = [p.name for p in list_voices(session)]
        listing = f" (enrolled: {', '.join(known)})" if known else " (none is enrolled yet)"
        raise NotFoundError(f"voice {name!r} is not enrolled{listing}; enroll it with `reeltwin voice enroll SAMPLE --name {name} --consent`")
    return profile


def profile_data(profile: VoiceProfile, storage: MediaStorage | None = None) -> Any:
    """A stored profile as the voice stage sees it. With ``storage``, its files are on this machine: fetched (and
    checked) when the voice was enrolled on another; a backend's cache file that is nowhere is left out (it is remade)."""
    from render.voice.base import VoiceProfileData

    sample = Path(profile.sample_path)
    artifacts = dict(profile.artifacts or {})
    if storage is not None and storage.remote:
        from agent.storage import MediaMissing

        fix = f"enroll voice {profile.name!r} again with --replace"
        sample = storage.ensure_local(profile.sample_path, sha256=profile.sample_sha256 or None, fix=fix)
        for backend, stored in artifacts.items():
            if not isinstance(stored, dict):
                continue
            local = dict(stored)
            for key, value in stored.items():
                if key.endswith("_path") and isinstance(value, str) and value:
                    try:
                        local[key] = str(storage.ensure_local(value, fix=fix))
                    except MediaMissing:
                        local.pop(key)
            artifacts[backend] = local
    return VoiceProfileData(name=profile.name, sample_path=sample, stats=dict(profile.stats or {}), artifacts=artifacts)


def _store_folder(storage: MediaStorage, folder: Path) -> None:
    """Put every file under ``folder`` (a voice's version folder, or one backend's part of it) into media storage."""
    if storage.remote:
        storage.put(*sorted(path for path in folder.rglob("*") if path.is_file() and not path.name.startswith(".incoming-")))


def load_profile(session: Session, settings: Settings, name: str) -> Any:
    """The enrolled voice ``name`` as a ``VoiceProfileData``; a clear error when it is unknown or its sample is gone."""
    from agent.storage import media_storage

    profile = get_voice(session, name)
    storage = media_storage(settings)
    if storage.remote:
        return profile_data(profile, storage)
    if not Path(profile.sample_path).is_file():
        raise AgentError(f"voice {name!r}: its sample {profile.sample_path!r} is missing; enroll it again with "
                         f"`reeltwin voice enroll SAMPLE --name {name} --consent --replace`")
    return profile_data(profile)


def analyze_sample(path: Path) -> SampleReport:
    """Decode and measure a sample; raises ``AgentError`` (the analysis' message: the file and the fix) if it is unusable."""
    from render import RenderError
    from render.voice import sample_checks

    path = Path(path)
    try:
        samples, rate, info = sample_checks.read_sample(path)
        stats = sample_checks.analyze(samples, rate)
        warnings = sample_checks.check(stats, name=path.name)
    except RenderError as error:
        raise AgentError(str(error)) from None
    return SampleReport(path=path, samples=samples, rate_hz=rate, info=info, stats=stats.to_dict(), warnings=tuple(warnings))


def enroll_voice(
    session: Session,
    settings: Settings,
    sample: Path | SampleReport,
    *,
    name: str,
    consent: bool,
    consent_by: str,
    backend: str | None = None,
    replace: bool = False,
    backend_config: dict[str, Any] | None = None,
    base: str | None = None,
) -> EnrolledVoice:
    """Check, store and enroll a voice sample. Without ``consent`` nothing is stored.

    Order: the name, an existing profile (kept unless ``replace``), the sample's
    checks, consent; then the canonical copy and the backend's artifacts go to
    a new version folder, the row is written, and only then is the old version
    folder removed.
    """
    import time

    import numpy as np

    from render import RenderError
    from render.media.audio import write_wav
    from render.voice import base as voice_base
    from render.voice import sample_checks
    from render.voice.base import VoiceProfileData

    from agent.storage import media_storage

    check_name(name)
    storage = media_storage(settings)
    existing = find(session, name)
    if existing is not None and not replace:
        raise AgentError(f"voice {name!r} is already enrolled (since {existing.created_at:%Y-%m-%d}); pass --replace to enroll the new sample instead")
    report = sample if isinstance(sample, SampleReport) else analyze_sample(sample)
    if not consent:
        raise ConsentRequired(f"voice {name!r}: consent is required to enroll a voice; confirm it is yours (or that you may use it) with --consent. Nothing was stored")
    backend_name = backend or settings.voice.backend
    config = dict(backend_config or {})
    if backend_name == "piper-world":
        # The matching starts from the bundled base voice that sounds nearest to the sample once matched, unless one is named (--base).
        config["base"] = base or config.get("base") or "auto"
    elif base is not None:
        raise AgentError(f"--base {base!r}: a base voice applies to the piper-world backend, not {backend_name!r}")
    try:
        speaker = voice_base.get(backend_name, **config)
    except RenderError as error:
        raise AgentError(str(error)) from None

    prepared = sample_checks.prepare(report.samples, report.rate_hz, target_rate=CANONICAL_RATE_HZ)
    pcm = np.rint(np.clip(prepared, -1.0, 1.0) * 32767.0).astype("<i2")
    sha256 = hashlib.sha256(pcm.tobytes()).hexdigest()
    root = voices_dir(settings) / name
    version = root / f"{utcnow():%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"
    try:
        sample_path = write_wav(version / "sample.wav", prepared, CANONICAL_RATE_HZ)
    except OSError as error:
        raise AgentError(f"cannot store the voice under {str(root)!r} ({error.strerror}); check data_dir") from None
    old_folder = Path(existing.sample_path).parent if existing is not None else None
    try:
        file_sha = hashlib.sha256(sample_path.read_bytes()).hexdigest()
        stats = dict(report.stats) | {"source": {k: report.info.get(k) for k in ("format", "codec", "sample_rate_hz", "channels", "duration_s")},
                                      "canonical_duration_s": round(prepared.size / CANONICAL_RATE_HZ, 3), "pcm_sha256": sha256}
        started = time.perf_counter()
        data = VoiceProfileData(name=name, sample_path=sample_path, stats=stats, artifacts={})
        workdir = version / backend_name
        workdir.mkdir(parents=True, exist_ok=True)
        try:
            artifacts = {backend_name: speaker.enroll(data, workdir)}
        except RenderError as error:
            raise AgentError(str(error)) from None
        backend_seconds = time.perf_counter() - started
        choice = artifacts[backend_name].get("base_choice") if isinstance(artifacts[backend_name], dict) else None
        if choice:
            stats["base_voice"] = choice
        words_per_minute = artifacts[backend_name].get("words_per_minute") if isinstance(artifacts[backend_name], dict) else None
        profile = existing or VoiceProfile(name=name, sample_path="", sample_sha256="", consent_by="", consent_text="")
        profile.sample_path = str(sample_path)
        profile.sample_sha256 = file_sha
        record_consent(profile, by=consent_by, text=CONSENT_TEXT)
        profile.backend = backend_name
        profile.artifacts = artifacts
        profile.stats = stats
        profile.words_per_minute = words_per_minute
        if existing is not None:
            profile.created_at = utcnow()
        _store_folder(storage, version)   # in media storage before the row points at it
        session.add(profile)
        session.commit()
        session.refresh(profile)
    except BaseException:
        session.rollback()
        shutil.rmtree(version, ignore_errors=True)
        _remove_if_empty(root)
        if storage.remote:
            _delete_stored_folder(storage, version)
        raise
    if old_folder is not None and old_folder != version and old_folder.is_dir() and old_folder.parent == root:
        shutil.rmtree(old_folder, ignore_errors=True)
    if old_folder is not None and old_folder != version and storage.remote:
        _delete_stored_folder(storage, old_folder)
    log.info("voice %r enrolled from %s (%s, %.1f s of speech) with %s", name, report.path, backend_name, report.stats.get("speech_s", 0.0), consent_by)
    return EnrolledVoice(profile=profile, warnings=report.warnings, replaced=existing is not None, backend_seconds=backend_seconds)


def ensure_artifacts(session: Session, profile: VoiceProfile, backend_name: str, speaker: Any,
                     storage: MediaStorage | None = None) -> Any:
    """The profile's data for ``backend_name``, enrolling it with that backend first (and storing the result) if needed."""
    data = profile_data(profile, storage)
    if backend_name in (profile.artifacts or {}):
        return data
    if not Path(data.sample_path).is_file():
        raise AgentError(f"voice {profile.name!r}: its sample {profile.sample_path!r} is missing; enroll it again with --replace")
    workdir = Path(data.sample_path).parent / backend_name
    workdir.mkdir(parents=True, exist_ok=True)
    artifacts = dict(profile.artifacts or {})
    artifacts[backend_name] = speaker.enroll(data, workdir)
    if storage is not None:
        _store_folder(storage, workdir)
    profile.artifacts = artifacts
    session.add(profile)
    session.commit()
    return profile_data(profile, storage)


def prepare_speaker(session: Session, settings: Settings, *, voice: str | None = None, backend: str | None = None) -> tuple[Any, Any]:
    """(speaker, profile) for `reeltwin voice say`: enrolled voice ``voice`` spoken by ``backend`` (default: voice.backend),
    enrolled with that backend first if it never was; without ``voice``, the bundled voice (profile None)."""
    from agent.backends import voice_config
    from agent.storage import media_storage
    from render import RenderError
    from render.voice import base

    stored = get_voice(session, voice) if voice is not None else None
    backend = backend or (settings.voice.backend if voice is not None else "piper")
    try:
        speaker = base.get(backend, **voice_config(settings, backend))
        profile = ensure_artifacts(session, stored, backend, speaker, media_storage(settings)) if stored is not None else None
    except RenderError as error:
        raise AgentError(str(error)) from None
    return speaker, profile


def speak(session: Session, settings: Settings, text: str, out_path: Path, *, voice: str | None = None, backend: str | None = None) -> Any:
    """Say ``text`` into the WAV ``out_path`` as `reeltwin voice say` does; returns the ``Speech``."""
    from render import RenderError

    speaker, profile = prepare_speaker(session, settings, voice=voice, backend=backend)
    try:
        return speaker.speak(text, Path(out_path), profile=profile, language="en")
    except RenderError as error:
        raise AgentError(str(error)) from None


def preview_path(settings: Settings, profile: VoiceProfile) -> Path:
    """Where the preview clip of ``profile`` is cached on this machine: in its version folder (gone with it), named for
    backend and text."""
    from agent.storage import media_storage

    backend = settings.voice.backend
    digest = hashlib.sha256(f"{backend}\n{PREVIEW_TEXT}".encode()).hexdigest()[:10]
    return media_storage(settings).local_path(profile.sample_path).parent / f"preview-{backend}-{digest}.wav"


def preview(session: Session, settings: Settings, name: str) -> Path:
    """A short WAV of voice ``name`` saying ``PREVIEW_TEXT``, spoken like `reeltwin voice say --voice NAME`; cached."""
    profile = get_voice(session, name)
    target = preview_path(settings, profile)
    if target.is_file():
        return target
    from agent.storage import media_storage

    sample = media_storage(settings).ensure_local(profile.sample_path, sha256=profile.sample_sha256 or None,
                                                  fix=f"enroll voice {name!r} again with --replace")
    if not sample.is_file():
        raise AgentError(f"voice {name!r}: its sample {profile.sample_path!r} is missing; enroll it again with --replace")
    temp = target.with_name(f".incoming-{uuid.uuid4().hex[:8]}.wav")
    try:
        speak(session, settings, PREVIEW_TEXT, temp, voice=name)
        temp.replace(target)  # complete or absent: a second click never plays half a file
    finally:
        temp.unlink(missing_ok=True)
    return target


def profile_json(profile: VoiceProfile) -> dict[str, Any]:
    stats = profile.stats or {}
    return {
        "name": profile.name,
        "backend": profile.backend,
        "backends_enrolled": sorted((profile.artifacts or {}).keys()),
        "sample_path": profile.sample_path,
        "sample_sha256": profile.sample_sha256,
        "speech_s": stats.get("speech_s"),
        "f0_median_hz": stats.get("f0_median_hz"),
        "snr_db": stats.get("snr_db"),
        "words_per_minute": profile.words_per_minute,
        "base_voice": base_voice(profile),
        "consent_at": _iso(profile.consent_at),
        "consent_by": profile.consent_by,
        "created_at": _iso(profile.created_at),
    }


def base_voice(profile: VoiceProfile) -> dict[str, Any] | None:
    """Which bundled base voice piper-world starts from for ``profile``, and why (``None`` before it was enrolled for piper-world)."""
    artifacts = (profile.artifacts or {}).get("piper-world")
    if not isinstance(artifacts, dict):
        return None
    from render.voice.world_backend import DEFAULT_BASE, describe_choice

    choice = artifacts.get("base_choice") or {"base": artifacts.get("base") or DEFAULT_BASE,
                                              "method": "enrolled before base voices were chosen"}
    return {"base": choice["base"], "method": choice.get("method"), "scores": choice.get("scores"), "why": describe_choice(choice)}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _delete_stored_folder(storage: MediaStorage, folder: Path) -> None:
    """Delete a replaced version's objects from media storage (a failure is logged: the new voice is in place)."""
    from agent.storage import StorageError

    try:
        storage.delete_folder(folder)
    except StorageError as error:
        log.warning("the replaced voice version %s stays in media storage: %s", folder, error)


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass
