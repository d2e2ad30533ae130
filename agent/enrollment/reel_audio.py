"""A reel read in the creator's own voice: a recording of the script, checked, stored and used by the render instead of synthesis.

The CLI (``reeltwin reel audio ID FILE`` / ``--remove``) and the reel page (record in the browser or upload a file)
call :func:`set_recording` and :func:`remove_recording`. A recording is

1. decoded with ffmpeg from anything it reads (WAV, MP3, M4A, OGG/Opus, WebM/Opus as Chromium's MediaRecorder
   writes it), recognised by its content, never its name;
2. checked like a voice enrollment sample (``render.voice.sample_checks``: clipping, noise, music, several
   speakers, no speech), with the reel's length limits instead of the sample's;
3. heard by the offline recogniser the captions fall back to (Whisper tiny.en, ``render.align.faster_whisper_backend``)
   and compared with the script word by word: a recording that stops early, skips a sentence or reads another
   script is refused with the words it lacks;
4. trimmed of leading and trailing silence, made mono at the pipeline's audio rate and brought to the reels'
   loudness (``render.compose``), and stored as ``reels/<id>/own-voice-<stamp>.wav`` through media storage.

The reel keeps it in ``artifacts["own_audio"]`` with the script it reads: once the script is edited the recording
is *stale* and a render refuses it (record again, or remove it to use the synthetic voice). A recording may be
added, replaced or removed while the reel is drafted, approved, rendered or failed; a rendered (or failed) reel
goes back to approved, so it is rendered again with the new audio. Each change writes a :class:`ReelEvent`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import update
from sqlmodel import Session

from agent.db.models import Reel, ReelEvent, ReelStatus, utcnow
from agent.errors import AgentError

if TYPE_CHECKING:
    from agent.settings import Settings

log = logging.getLogger(__name__)

#: ``reel.artifacts`` key of the recording's record.
ARTIFACT = "own_audio"
#: A reel is 3 s to 15 minutes long (Instagram's limits, checked again by QA).
MIN_SPEECH_S = 3.0
MAX_REEL_S = 15 * 60.0
#: Files may hold a little more than the reel (silence before and after is trimmed).
MAX_FILE_S = MAX_REEL_S + 60.0
HINT = "record yourself reading the whole script, 3 s to 15 min"
#: Share of the script's spoken words the recogniser must hear, and the longest run of the script's words it may miss.
MIN_WORD_MATCH = 0.8
MAX_MISSING_RUN = 4
#: Share of what was heard that may be words the script does not have (ums, a repeated phrase), and the longest such run.
MAX_EXTRA_SHARE = 0.25
MAX_EXTRA_RUN = 6
#: States in which the creator may add, replace or remove the recording; those that go back to approved for a new render.
CHANGEABLE = frozenset({ReelStatus.DRAFTED, ReelStatus.APPROVED, ReelStatus.RENDERED, ReelStatus.FAILED})
RENDER_AGAIN = frozenset({ReelStatus.RENDERED, ReelStatus.FAILED})


class RecordingNotNow(AgentError):
    """The reel is in a state whose audio may not change (rendering, publishing, published, rejected, skipped)."""


class RecordingRefused(AgentError, ValueError):
    """A recording that does not fit this reel (checks, words, length): nothing was stored or changed."""


@dataclass(frozen=True)
class WordCheck:
    """How the recording's words compare with the script's."""

    match_ratio: float
    heard: str
    missing: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()


@dataclass(frozen=True)
class CheckedRecording:
    """A recording that passed every check: the prepared audio and what was measured."""

    samples: Any                 # float32 mono at rate_hz, trimmed and loudness-normalised
    rate_hz: int
    source: dict[str, Any]
    stats: dict[str, Any]
    words: WordCheck
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class RecordingChange:
    """What :func:`set_recording` or :func:`remove_recording` did."""

    reel: Reel
    record: dict[str, Any] | None
    previous_status: ReelStatus
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def render_again(self) -> bool:
        return self.previous_status in RENDER_AGAIN and self.reel.status == ReelStatus.APPROVED


# --------------------------------------------------------------------------- reading the record


def recording_of(reel: Reel) -> dict[str, Any] | None:
    """The reel's recording record (path, checksum, the script it reads, measurements), or None."""
    record = (reel.artifacts or {}).get(ARTIFACT)
    return record if isinstance(record, dict) and record.get("path") else None


def is_stale(reel: Reel, record: dict[str, Any] | None = None) -> bool:
    """Whether the reel's recording reads another script than the reel's (the script was edited after it)."""
    record = record if record is not None else recording_of(reel)
    return record is not None and record.get("script") != reel.script


def stale_message(reel: Reel) -> str:
    record = recording_of(reel) or {}
    return (f"reel {reel.id}: your recording reads an earlier script (version {record.get('version', '?')}, the reel is at version "
            f"{reel.version}); record it again for this script, or remove it to use the synthetic voice "
            f"(`reeltwin reel audio {reel.id} --remove`)")


def audio_for_render(reel: Reel, storage: Any) -> Path | None:
    """The recording the render speaks with, on this machine; None without one. A stale recording is refused."""
    record = recording_of(reel)
    if record is None:
        return None
    if is_stale(reel, record):
        raise AgentError(stale_message(reel))
    return storage.ensure_local(record["path"], sha256=record.get("sha256") or None,
                                fix=f"record it again: `reeltwin reel audio {reel.id} FILE`")


# --------------------------------------------------------------------------- checking a recording


def check_recording(path: Path, script: str, *, name: str | None = None, language: str = "en") -> CheckedRecording:
    """Decode, measure, compare with ``script`` and prepare a recording; :class:`RecordingRefused` names the fix."""
    import numpy as np

    from render import RenderError
    from render.compose import AUDIO_RATE_HZ, TARGET_LUFS
    from render.voice import sample_checks

    path = Path(path)
    shown = name or path.name
    label = f"recording {shown!r}"
    if not (script or "").strip():
        raise RecordingRefused(f"{label}: the reel has no script to read yet; write the script first")
    try:
        samples, rate, info = sample_checks.read_sample(path, max_duration_s=MAX_FILE_S)
        stats = sample_checks.analyze(samples, rate)
        try:
            start, end = sample_checks.speech_span(samples, rate)
        except RenderError:
            start, end = 0, samples.size
        # The silence around the reading is trimmed, so the "mostly silence" rule judges what is kept.
        kept_s = max((end - start) / rate, 1e-3)
        judged = dataclasses.replace(stats, duration_s=round(min(stats.duration_s, kept_s), 3),
                                     silence_ratio=round(1.0 - min(1.0, stats.speech_s / kept_s), 4))
        warnings = sample_checks.check(judged, name=shown, what="recording", min_speech_s=MIN_SPEECH_S, max_speech_s=MAX_REEL_S,
                                       max_file_s=MAX_FILE_S, hint=HINT)
        prepared = sample_checks.prepare(samples, rate, target_rate=AUDIO_RATE_HZ, target_lufs=TARGET_LUFS)
    except RenderError as error:
        raise RecordingRefused(_say_recording(str(error), path, shown)) from None
    duration_s = prepared.size / AUDIO_RATE_HZ
    if duration_s > MAX_REEL_S:
        raise RecordingRefused(f"{label}: {duration_s / 60:.0f} min of speech, longer than a reel (15 min); shorten the script and record again")
    if duration_s < MIN_SPEECH_S:
        raise RecordingRefused(f"{label}: only {duration_s:.1f} s once the silence is trimmed; a reel is at least 3 s: {HINT}")
    words = compare_words(np.asarray(prepared, dtype=np.float32), AUDIO_RATE_HZ, script, label=label, language=language)
    return CheckedRecording(samples=prepared, rate_hz=AUDIO_RATE_HZ, source={k: info.get(k) for k in ("format", "codec", "sample_rate_hz", "channels", "duration_s")},
                            stats=stats.to_dict(), words=words, warnings=tuple(_say_recording(w, path, shown) for w in warnings))


def _say_recording(message: str, path: Path, shown: str) -> str:
    """The checks name the file they read (``sample 'x.wav'``); say it as the creator knows it."""
    for said in (f"sample {path.name!r}", f"recording {path.name!r}"):
        message = message.replace(said, f"recording {shown!r}")
    return message.replace(str(path), shown)


def compare_words(samples: Any, rate_hz: int, script: str, *, label: str = "recording", language: str = "en") -> WordCheck:
    """Hear the recording (Whisper tiny.en, offline) and compare it with the script; :class:`RecordingRefused` when it
    does not read it closely enough, saying which words are missing (or where it stops) or which are not in the script."""
    from render import RenderError
    from render.align.faster_whisper_backend import FasterWhisperBackend
    from render.align.matching import SAME_WORD_SIMILARITY, align_tokens, script_words, similarity, timed_tokens
    from render.media.audio import resample

    if not language.lower().startswith("en"):
        raise RecordingRefused(f"{label}: the words of a {language!r} script cannot be checked offline yet (the recogniser is English-only)")
    written = script_words(script, language)
    owner = [index for index, word in enumerate(written) for _token in word.spoken]
    tokens = [token for word in written for token in word.spoken]
    if not tokens:
        raise RecordingRefused(f"{label}: the script has no words to read; write the script first")
    # faster-whisper logs every transcription at INFO ("Processing audio with duration …"): not a line for the creator
    logging.getLogger("faster_whisper").setLevel(max(logging.WARNING, logging.getLogger("faster_whisper").level))
    try:
        # No prompt with the script: the check must hear what was said, not what the script suggests.
        recogniser = FasterWhisperBackend(prompt_with_script=False)
        heard_words = recogniser.recognise(resample(samples, rate_hz, 16000).astype("float32"))
    except RenderError as error:
        raise AgentError(f"{label}: its words cannot be checked ({error})") from None
    heard = timed_tokens(heard_words, language)
    heard_text = " ".join(word.word for word in heard_words)
    pairs = align_tokens(tokens, [token.token for token in heard])
    matched = [False] * len(tokens)
    heard_used = [False] * len(heard)
    for i, j in pairs:
        if i is not None and j is not None and similarity(tokens[i], heard[j].token) >= SAME_WORD_SIMILARITY:
            matched[i] = heard_used[j] = True
    ratio = sum(matched) / len(tokens)
    missing_runs = _runs([not m for m in matched])
    extra_runs = _runs([not used for used in heard_used])
    check = WordCheck(match_ratio=round(ratio, 3), heard=heard_text,
                      missing=tuple(_words(written, owner, a, b) for a, b in missing_runs),
                      extra=tuple(" ".join(t.token for t in heard[a:b]) for a, b in extra_runs))
    longest_missing = max((b - a for a, b in missing_runs), default=0)
    extra_share = (sum(b - a for a, b in extra_runs) / len(heard)) if heard else 0.0
    longest_extra = max((b - a for a, b in extra_runs), default=0)
    if ratio >= MIN_WORD_MATCH and longest_missing <= MAX_MISSING_RUN and (extra_share <= MAX_EXTRA_SHARE or longest_extra <= MAX_EXTRA_RUN):
        return check
    if ratio < 0.3:
        said = f"it says {_quote(heard_text, 8)}" if heard_text else "no words were recognised in it"
        raise RecordingRefused(f"{label}: it does not read this reel's script ({said}; {ratio:.0%} of the script's words were heard); "
                               "record yourself reading this reel's script")
    if longest_missing > MAX_MISSING_RUN or ratio < MIN_WORD_MATCH:
        first, last = missing_runs[0], missing_runs[-1]
        if last[1] == len(tokens) and last[1] - last[0] > MAX_MISSING_RUN and last[0] > 0:
            said = _words(written, owner, max(0, last[0] - 4), last[0])
            raise RecordingRefused(f"{label} stops after {said!r}; the script goes on with "
                                   f"{_quote(_words(written, owner, last[0], last[1]), 6)}: read the whole script and record again")
        if first[0] == 0 and first[1] - first[0] > MAX_MISSING_RUN and first[1] < len(tokens):
            raise RecordingRefused(f"{label} starts at {_words(written, owner, first[1], min(len(tokens), first[1] + 4))!r}; "
                                   f"it leaves out the beginning, {_quote(_words(written, owner, first[0], first[1]), 6)}: read the whole script and record again")
        longest = sorted(missing_runs, key=lambda run: run[0] - run[1])[:3]   # the three longest gaps, in script order
        listed = ", ".join(_quote(_words(written, owner, a, b), 6) for a, b in sorted(longest))
        raise RecordingRefused(f"{label}: words of the script are missing ({ratio:.0%} heard): {listed}; read them and record again")
    listed = ", ".join(_quote(text, 6) for text in sorted(check.extra, key=len, reverse=True)[:3])
    raise RecordingRefused(f"{label}: it says words that are not in the script: {listed}; read only the script (or edit the script to what you say) and record again")


def _runs(flags: list[bool]) -> list[tuple[int, int]]:
    runs, start = [], None
    for index, flag in enumerate([*flags, False]):
        if flag and start is None:
            start = index
        elif not flag and start is not None:
            runs.append((start, index))
            start = None
    return runs


def _words(written: Any, owner: list[int], first: int, end: int) -> str:
    """The written words that hold spoken tokens ``first``..``end`` (exclusive), as the script writes them."""
    if end <= first:
        return ""
    indices = sorted(set(owner[first:end]))
    return " ".join(written[index].written for index in indices).strip(" ,;:")


def _quote(text: str, most: int) -> str:
    words = text.split()
    return repr(" ".join(words[:most]) + ("…" if len(words) > most else ""))


# --------------------------------------------------------------------------- storing and removing


def _check_state(reel: Reel, action: str) -> ReelStatus:
    status = ReelStatus(reel.status)
    if status not in CHANGEABLE:
        hints = {ReelStatus.RENDERING: "it is being rendered; wait until it is done, then change the recording (it is rendered again)",
                 ReelStatus.PUBLISHING: "it is being published", ReelStatus.PUBLISHED: "it is already published",
                 ReelStatus.REJECTED: "it is being redrafted; record the new version once it is drafted",
                 ReelStatus.SKIPPED: "its slot passed; revive it first"}
        raise RecordingNotNow(f"reel {reel.id} is {status.value}: cannot {action} now; {hints.get(status, 'not in this state')}")
    return status


def _reel(session: Session, reel_id: int) -> Reel:
    from agent.approval.queue import get_reel

    return get_reel(session, reel_id)


def set_recording(session: Session, settings: Settings, reel_id: int, path: Path, *, actor: str, name: str | None = None,
                  language: str | None = None) -> RecordingChange:
    """Check ``path`` against reel ``reel_id``'s script and store it as the reel's own audio (replacing any earlier one).

    Nothing is stored or changed when a check refuses it. A rendered or failed reel goes back to approved."""
    from render.media.audio import write_wav

    from agent.db.models import Creator
    from agent.storage import media_storage

    reel = _reel(session, reel_id)
    status = _check_state(reel, "change its recording")
    creator = session.get(Creator, reel.creator_id)
    script, version = reel.script, reel.version
    checked = check_recording(Path(path), script, name=name, language=language or (creator.language if creator else None) or "en")
    storage = media_storage(settings)
    folder = Path(settings.data_dir) / "reels" / str(reel_id)
    target = folder / f"own-voice-{utcnow():%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}.wav"
    try:
        write_wav(target, checked.samples, checked.rate_hz)
    except OSError as error:
        raise AgentError(f"cannot store the recording under {str(folder)!r} ({error.strerror}); check data_dir") from None
    record = {
        "path": str(target), "sha256": hashlib.sha256(target.read_bytes()).hexdigest(), "script": script, "version": version,
        "duration_s": round(checked.samples.size / checked.rate_hz, 2), "speech_s": checked.stats.get("speech_s"),
        "snr_db": checked.stats.get("snr_db"), "clipped_ratio": checked.stats.get("clipped_ratio"),
        "match_ratio": checked.words.match_ratio, "source": checked.source, "by": actor, "at": utcnow().isoformat(),
        "warnings": list(checked.warnings),
    }
    previous = recording_of(reel)
    try:
        storage.put(target)   # in media storage before the reel points at it
        session.expire(reel)
        reel = session.get(Reel, reel_id)
        if reel.script != script:
            raise AgentError(f"reel {reel_id}: the script was changed while the recording was checked; reload and record it again")
        what = "replaced" if previous else "added"
        reason = f"own voice recording {what} ({record['duration_s']:.1f} s, {checked.words.match_ratio:.0%} of the script's words heard)"
        _write(session, reel, status, {**(reel.artifacts or {}), ARTIFACT: record}, actor=actor, reason=reason)
        session.commit()
    except BaseException:
        session.rollback()
        target.unlink(missing_ok=True)
        if storage.remote:
            _delete_stored(storage, target)
        raise
    if previous and previous.get("path") != record["path"]:
        _discard(storage, previous["path"])
    reel = _reel(session, reel_id)
    log.info("reel %d: own voice recording stored (%s, %.1f s) by %s", reel_id, target.name, record["duration_s"], actor)
    return RecordingChange(reel=reel, record=record, previous_status=status, warnings=checked.warnings)


def remove_recording(session: Session, settings: Settings, reel_id: int, *, actor: str) -> RecordingChange:
    """Remove the reel's recording: it is rendered with the synthetic voice again (a rendered reel goes back to approved)."""
    from agent.storage import media_storage

    reel = _reel(session, reel_id)
    previous = recording_of(reel)
    if previous is None:
        raise AgentError(f"reel {reel_id} has no recording of your voice to remove")
    status = _check_state(reel, "remove its recording")
    artifacts = {key: value for key, value in (reel.artifacts or {}).items() if key != ARTIFACT}
    try:
        _write(session, reel, status, artifacts, actor=actor, reason="own voice recording removed; the synthetic voice reads the script")
        session.commit()
    except BaseException:
        session.rollback()
        raise
    _discard(media_storage(settings), previous["path"])
    log.info("reel %d: own voice recording removed by %s", reel_id, actor)
    return RecordingChange(reel=_reel(session, reel_id), record=None, previous_status=status)


def _write(session: Session, reel: Reel, status: ReelStatus, artifacts: dict[str, Any], *, actor: str, reason: str) -> None:
    """New artifacts, and the event: a rendered or failed reel goes back to approved (rendered again); otherwise it stays.
    Written only if the reel is still in ``status`` (a worker may have claimed it in the meantime)."""
    from agent.db.states import ConcurrentChangeError, transition

    if status in RENDER_AGAIN:
        transition(session, reel, ReelStatus.APPROVED, actor=actor, reason=f"{reason}; it is rendered again", expected=status,
                   artifacts=artifacts, last_error=None, failed_stage=None, next_attempt_at=None)
        return
    now = utcnow()
    result = session.execute(update(Reel).where(Reel.id == reel.id, Reel.status == status)
                             .values(artifacts=artifacts, updated_at=now).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise ConcurrentChangeError(f"reel {reel.id}: changed by another process (no longer {status.value!r}); reload and try again")
    session.add(ReelEvent(reel_id=reel.id, from_status=status.value, to_status=status.value, actor=actor, reason=reason, at=now))
    session.flush()
    session.expire(reel)


def _discard(storage: Any, path: str) -> None:
    """Delete a replaced or removed recording, here and in media storage (a failure is logged: the reel is already updated)."""
    local = storage.local_path(path)
    try:
        Path(local).unlink(missing_ok=True)
    except OSError as error:
        log.warning("the old recording %s stays on disk: %s", local, error)
    if storage.remote:
        _delete_stored(storage, path)


def _delete_stored(storage: Any, path: Any) -> None:
    from agent.storage import StorageError

    try:
        storage.delete([path])
    except StorageError as error:
        log.warning("the old recording %s stays in media storage: %s", path, error)


def recording_json(reel: Reel) -> dict[str, Any] | None:
    """What ``reeltwin reel audio --json`` and ``show`` print about the recording."""
    record = recording_of(reel)
    if record is None:
        return None
    keys = ("path", "sha256", "version", "duration_s", "speech_s", "snr_db", "match_ratio", "by", "at", "warnings")
    return {key: record.get(key) for key in keys} | {"stale": is_stale(reel, record)}
