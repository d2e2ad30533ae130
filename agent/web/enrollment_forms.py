"""What the avatar and voice enrollment pages share: the upload's shown name, the form's defaults (the name check: agent.enrollment.consent)."""

from collections.abc import Collection
from pathlib import Path

from sqlalchemy import select
from sqlmodel import Session

from agent.db.models import Creator


def as_shown(message: str, path: Path | None, shown: str) -> str:
    """A check's message with the upload's generated path or name replaced by the name the creator chose the file by."""
    if path is not None:
        message = message.replace(str(path), shown).replace(path.name, shown)
    return message


def default_name(db: Session, handles: Collection[str] | None = None) -> str:
    """The first creator's handle (of ``handles``, when given): reels pick the avatar and voice named after it."""
    query = select(Creator.handle).order_by(Creator.id)
    if handles is not None:
        query = query.where(Creator.handle.in_(sorted(handles)))
    handle = db.execute(query).scalars().first()
    return handle or ""


def creator_zone(db: Session, handles: Collection[str] | None = None) -> str:
    """The first creator's time zone (of ``handles``, when given), for the dates on the enrollment cards."""
    query = select(Creator.timezone).order_by(Creator.id)
    if handles is not None:
        query = query.where(Creator.handle.in_(sorted(handles)))
    zone = db.execute(query).scalars().first()
    return zone or "UTC"
