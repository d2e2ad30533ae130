"""Engines, sessions and migrations. SQLite by default, PostgreSQL by ``database.url``."""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session

from agent.errors import AgentError
from agent.settings import redact_url

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).with_name("migrations")


class DatabaseError(AgentError):
    """The database cannot be reached or is at a schema this version does not know."""


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001 - DB-API objects
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")      # readers never block the writer
    cursor.execute("PRAGMA busy_timeout=30000")    # writers wait their turn instead of failing
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@lru_cache(maxsize=8)
def make_engine(url: str, echo: bool = False) -> Engine:
    """One engine per URL (cached): SQLite files get WAL and a busy timeout."""
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        if path and path != ":memory:":
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise DatabaseError(f"database {path!r}: cannot create its folder ({error.strerror}); set data_dir or database.url") from None
        engine = sa.create_engine(url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    try:
        return sa.create_engine(url, echo=echo, pool_pre_ping=True)
    except ModuleNotFoundError:
        raise DatabaseError("database.url is PostgreSQL but psycopg is not installed; pip install 'reeltwin[postgres]'") from None


def alembic_config(engine: Engine):  # noqa: ANN201 - alembic type imported lazily
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def head_revision(engine: Engine) -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str]:
    """Apply migrations up to ``revision``; returns (before, after)."""
    from alembic import command

    before = _checked_current(engine)
    command.upgrade(alembic_config(engine), revision)
    after = current_revision(engine)
    if before != after:
        log.info("database migrated from %s to %s", before or "empty", after)
    return before, after or ""


def _checked_current(engine: Engine) -> str | None:
    try:
        return current_revision(engine)
    except sa.exc.OperationalError as error:
        reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        raise DatabaseError(f"database {redact_url(engine.url.render_as_string(hide_password=False))!r}: cannot connect ({reason}); check database.url or start the server") from None


def ensure_schema(engine: Engine) -> None:
    """Migrate automatically on start; refuse a database newer than this code."""
    current = _checked_current(engine)
    head = head_revision(engine)
    if current == head:
        return
    from alembic.script import ScriptDirectory

    known = {script.revision for script in ScriptDirectory.from_config(alembic_config(engine)).walk_revisions()}
    if current is not None and current not in known:
        raise DatabaseError(f"database is at schema {current!r}, newer than this ReelTwin knows; upgrade ReelTwin")
    upgrade(engine)


def open_session(url: str, *, echo: bool = False, migrate: bool = True) -> Session:
    """A session on ``url``, with the schema brought up to date first."""
    engine = make_engine(url, echo)
    if migrate:
        ensure_schema(engine)
    return Session(engine, expire_on_commit=False)
