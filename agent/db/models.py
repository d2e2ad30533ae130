"""Database tables (SQLModel). Times are stored as UTC and come back timezone-aware."""

from __future__ import annotations

import enum
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

__all__ = ["Avatar", "Creator", "Reel", "ReelEvent", "ReelStatus", "ScriptVersion", "Slot", "RevokedSession", "VoiceProfile", "WebAccount", "WebAccountCreator", "UTCDateTime", "utcnow"]


class ReelStatus(str, enum.Enum):
    """Where a reel is in its life; see TRANSITIONS in :mod:`agent.db.states`."""

    DRAFTED = "drafted"        # script written, waiting for the creator
    APPROVED = "approved"      # creator said yes; waits for its render window
    RENDERING = "rendering"    # claimed by a render worker
    RENDERED = "rendered"      # reel.mp4 ready; waits for its slot
    PUBLISHING = "publishing"  # claimed by a publisher; an attempt is recorded
    PUBLISHED = "published"    # live on Instagram (or in the outbox)
    REJECTED = "rejected"      # creator said no, with feedback; goes back to drafting
    SKIPPED = "skipped"        # its slot passed unapproved, or the creator dropped it
    FAILED = "failed"          # a stage failed; retried with backoff

    def __str__(self) -> str:
        return self.value


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Stores naive UTC, returns aware UTC, on SQLite and PostgreSQL alike."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware datetime (UTC)")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=timezone.utc)


def _time(**kwargs: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kwargs)


def _json(**kwargs: Any) -> Any:
    return Field(sa_type=sa.JSON, **kwargs)


class Creator(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    handle: str = Field(index=True, unique=True, max_length=64)
    timezone: str = Field(max_length=64)
    language: str = Field(default="en", max_length=16)
    persona: dict = _json(default_factory=dict)
    calendar_path: str | None = None
    reel_length_s: int = 30
    audience: dict = _json(default_factory=dict)  # {"fetched_at", "online_followers", "posts"} from Instagram, for peak times
    created_at: datetime = _time(default_factory=utcnow)
    updated_at: datetime = _time(default_factory=utcnow)
    #: what the scheduler last planned this creator's slots from (a digest of the calendar file's and overrides' stat,
    #: this row's updated_at and the window) and until when that plan holds: a restarted scheduler skips the unchanged
    planned_basis: str | None = Field(default=None, max_length=64)
    planned_until: datetime | None = _time(default=None)


class Avatar(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=64)
    creator_id: int | None = Field(default=None, foreign_key="creator.id")
    #: the enrolled photo, or for a footage avatar the normalized clip (its face track lies beside it: track.npz)
    photo_path: str
    #: of the file the creator gave (the photo, or the original clip)
    photo_sha256: str = Field(max_length=64)
    kind: str = Field(default="photo", max_length=16, sa_column_kwargs={"server_default": "photo"})   # photo | footage
    #: the avatar renders of this creator use (one per creator); without one, the creator's newest
    is_default: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    consent_at: datetime = _time()
    consent_by: str = Field(max_length=128)
    consent_text: str
    analysis: dict = _json(default_factory=dict)
    created_at: datetime = _time(default_factory=utcnow)


class VoiceProfile(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=64)
    creator_id: int | None = Field(default=None, foreign_key="creator.id")
    sample_path: str
    sample_sha256: str = Field(max_length=64)
    consent_at: datetime = _time()
    consent_by: str = Field(max_length=128)
    consent_text: str
    backend: str = Field(default="piper-world", max_length=32)
    artifacts: dict = _json(default_factory=dict)
    stats: dict = _json(default_factory=dict)
    words_per_minute: float | None = None
    created_at: datetime = _time(default_factory=utcnow)


class Slot(SQLModel, table=True):
    """A planned publishing time. ``id`` is stable: derived from the calendar entry, not the row."""

    id: str = Field(primary_key=True, max_length=128)
    creator_id: int = Field(foreign_key="creator.id", index=True)
    scheduled_at: datetime = _time(index=True)
    local_time: str = Field(max_length=40)        # ISO 8601 with the creator's UTC offset
    kind: str = Field(max_length=16)              # weekly | one_off | adhoc | added (a reel added on the calendar grid)
    peak: bool = False                            # the hour is ReelTwin's to choose
    pillar: str | None = Field(default=None, max_length=64)
    brief: str | None = None
    brief_key: str | None = Field(default=None, max_length=80)
    created_at: datetime = _time(default_factory=utcnow)
    updated_at: datetime = _time(default_factory=utcnow)


_NOT_LIVE = "status NOT IN ('rejected', 'skipped')"


class Reel(SQLModel, table=True):
    # At most one live reel per slot, enforced by the database: two drafting
    # processes racing for one slot cannot both insert.
    __table_args__ = (
        sa.Index("uq_reel_live_slot", "slot_id", unique=True, sqlite_where=sa.text(_NOT_LIVE), postgresql_where=sa.text(_NOT_LIVE)),
    )

    id: int | None = Field(default=None, primary_key=True)
    creator_id: int = Field(foreign_key="creator.id", index=True)
    slot_id: str | None = Field(default=None, foreign_key="slot.id", index=True)
    status: ReelStatus = Field(default=ReelStatus.DRAFTED, sa_type=sa.String(16), index=True)
    version: int = 1                              # current ScriptVersion.version
    hook: str = ""
    script: str = ""
    on_screen_title: str = ""
    caption: str = ""
    hashtags: list = _json(default_factory=list)
    cta: str = ""
    feedback: str | None = None                   # the creator's last rejection reason
    artifacts: dict = _json(default_factory=dict)  # {"audio": path, "video": path, "cover": ..., "srt": ..., "report": ...}
    attempts: int = 0
    failed_stage: str | None = Field(default=None, max_length=16)
    last_error: str | None = None
    next_attempt_at: datetime | None = _time(default=None)
    claimed_by: str | None = Field(default=None, max_length=128)
    claimed_at: datetime | None = _time(default=None)
    publish_key: str | None = Field(default=None, max_length=64)   # idempotency marker of the publish attempts
    publish_state: dict = _json(default_factory=dict)  # what the publisher asked us to remember (container id, ...)
    publish_at: datetime | None = _time(default=None)              # overrides the slot time (late or moved reels)
    media_id: str | None = Field(default=None, max_length=64)
    permalink: str | None = None
    published_at: datetime | None = _time(default=None)
    approved_at: datetime | None = _time(default=None)
    approved_by: str | None = Field(default=None, max_length=128)
    created_at: datetime = _time(default_factory=utcnow)
    updated_at: datetime = _time(default_factory=utcnow)


class ScriptVersion(SQLModel, table=True):
    """Every version of a reel's words; an edit adds one, nothing is overwritten."""

    __table_args__ = (sa.UniqueConstraint("reel_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    reel_id: int = Field(foreign_key="reel.id", index=True)
    version: int
    source: str = Field(max_length=16)            # llm | edit | import
    author: str = Field(max_length=128)
    hook: str = ""
    script: str = ""
    on_screen_title: str = ""
    caption: str = ""
    hashtags: list = _json(default_factory=list)
    cta: str = ""
    note: str | None = None
    created_at: datetime = _time(default_factory=utcnow)


class ReelEvent(SQLModel, table=True):
    """One row per state change: who moved which reel from where to where, and why."""

    id: int | None = Field(default=None, primary_key=True)
    reel_id: int = Field(foreign_key="reel.id", index=True)
    from_status: str | None = Field(default=None, max_length=16)
    to_status: str = Field(max_length=16)
    actor: str = Field(max_length=128)
    reason: str = ""
    at: datetime = _time(default_factory=utcnow)


class WebAccount(SQLModel, table=True):
    """A web user: a name, a password hash (scrypt, never the password) and the creators they see.

    ``all_creators`` gives every creator (the first user, ``reeltwin password``'s "creator", has it); otherwise
    the user sees the handles listed in :class:`WebAccountCreator` and nothing else.
    """

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(default="creator", unique=True, max_length=64)
    password_hash: str = Field(max_length=255)
    all_creators: bool = Field(default=True, sa_column_kwargs={"server_default": sa.true()})
    updated_at: datetime = _time(default_factory=utcnow)


class RevokedSession(SQLModel, table=True):
    """A web session ended by logging out, refused until its cookie would have expired anyway."""

    session_id: str = Field(primary_key=True, max_length=64)
    expires_at: datetime = _time()


class WebAccountCreator(SQLModel, table=True):
    """A creator (calendar handle) a web user without ``all_creators`` may see and act on.

    A handle, not a creator id: a user may be given a creator whose calendar is not planned yet.
    """

    __table_args__ = (sa.Index("ix_webaccountcreator_handle", "handle"),)

    account_id: int = Field(sa_column=sa.Column(sa.Integer, sa.ForeignKey("webaccount.id", ondelete="CASCADE"), primary_key=True))
    handle: str = Field(primary_key=True, max_length=64)


class PublishAccount(SQLModel, table=True):
    """A creator's own publishing account: its reels go out there and nowhere else.

    ``secret`` is the Graph access token or the instagrapi password, Fernet-encrypted with
    ``accounts.secret_key`` (see :mod:`agent.publish_accounts`); the plain value is never stored or shown.
    """

    id: int | None = Field(default=None, primary_key=True)
    handle: str = Field(index=True, unique=True, max_length=64)    # the creator (calendar handle); may precede its calendar
    backend: str = Field(max_length=16)                              # graph | instagrapi | outbox
    ig_user_id: str | None = Field(default=None, max_length=64)      # graph: the Instagram professional account's id
    username: str | None = Field(default=None, max_length=64)        # instagrapi: the login; graph: as Instagram last reported it
    api_base: str | None = Field(default=None, max_length=255)       # graph: None = publishing.graph_api_base
    outbox_dir: str | None = None                                    # outbox: None = <outbox>/<handle>
    secret: str | None = None                                        # Fernet token of the access token or password
    token_expires_at: datetime | None = _time(default=None)          # graph: None = unknown, or a token that does not expire
    token_refreshed_at: datetime | None = _time(default=None)
    refresh_error: str | None = None                                 # the last refresh's failure (cleared by a good one)
    checked_at: datetime | None = _time(default=None)
    check_result: str | None = None                                  # what `account check` learnt: "ok: @name" or why not
    created_at: datetime = _time(default_factory=utcnow)
    updated_at: datetime = _time(default_factory=utcnow)
