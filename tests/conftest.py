"""Shared fixtures: a real SQLite file and, when reachable, a real PostgreSQL database."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from agent.db.engine import make_engine, upgrade

REPO = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("REELTWIN_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _postgres_reason() -> str | None:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install 'reeltwin[postgres]')"
    try:
        engine = sa.create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(sa.text("select 1"))
        engine.dispose()
    except Exception as error:  # any failure means "not available here"
        return f"PostgreSQL at {PG_ADMIN_URL} is unreachable: {str(error).splitlines()[0]}"
    return None


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped afterwards."""
    reason = _postgres_reason()
    if reason:
        pytest.skip(reason)
    name = f"reeltwin_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        make_engine.cache_clear()
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _truncate(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(sa.text("TRUNCATE reelevent, scriptversion, reel, slot, avatar, voiceprofile, creator, webaccountcreator, webaccount, publishaccount, revokedsession RESTART IDENTITY CASCADE"))
        else:
            for table in ("reelevent", "scriptversion", "reel", "slot", "avatar", "voiceprofile", "creator", "webaccountcreator", "webaccount", "publishaccount", "revokedsession"):
                connection.execute(sa.text(f"DELETE FROM {table}"))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database URL: a SQLite file, then the PostgreSQL test database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'reeltwin.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    upgrade(engine)
    _truncate(engine)
    return url


@pytest.fixture
def session(db_url: str) -> Iterator[Session]:
    with Session(make_engine(db_url), expire_on_commit=False) as db:
        yield db
