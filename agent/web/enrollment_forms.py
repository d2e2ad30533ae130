"""What the avatar and voice enrollment pages share: the upload's shown name, the form's defaults (the name check: agent.enrollment.consent)."""

from pathlib import Path

from sqlalchemy import select
from sqlmodel import Session

from agent.db.models import Creator


def as_shown(message: str, path: Path | None, shown: str) -> str:
    """A check's message with the upload's generated path or name replaced by the name the creator chose the file by."""
    if path is not None:
        message = message.replace(str(path), shown).replace(path.name, shown)
    return message


def default_name(db: Session) -> str:
    """The first creator's handle: reels pick the avatar and voice named after it."""
    handle = db.execute(select(Creator.handle).order_by(Creator.id)).scalars().first()
    return handle or ""


def creator_zone(db: Session) -> str:
    """The first creator's time zone, for the dates on the enrollment cards."""
    zone = db.execute(select(Creator.timezone).order_by(Creator.id)).scalars().first()
    return zone or "UTC"
