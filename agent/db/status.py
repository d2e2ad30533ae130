"""The reel's states (no database imports, so the CLI can load it cheaply)."""

from __future__ import annotations

import enum


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
