"""Migrations: a fresh database reaches head, upgrades are idempotent, the schema matches the models."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import Session, SQLModel, select

import agent.db.models  # noqa: F401  (registers the tables)
from agent.db.engine import (
    DatabaseError,
    alembic_config,
    current_revision,
    ensure_schema,
    head_revision,
    make_engine,
    open_session,
    upgrade,
)
from agent.db.models import Creator, Reel, ReelStatus

TABLES = {"creator", "avatar", "voiceprofile", "slot", "reel", "scriptversion", "reelevent", "webaccount", "revokedsession", "publishaccount", "webaccountcreator"}


def sqlite_url(tmp_path: Path, name: str = "fresh.db") -> str:
    return f"sqlite:///{tmp_path / name}"


def table_names(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def version_rows(engine: sa.Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalars())


def schema_of(engine: sa.Engine) -> dict[str, tuple]:
    """Columns (name, type, nullability) and indexes of every table, comparable with ``==``."""
    inspector = sa.inspect(engine)
    return {
        name: (
            [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(name)],
            sorted((i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in inspector.get_indexes(name)),
        )
        for name in inspector.get_table_names()
    }


def schema_diff(engine: sa.Engine) -> list:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "compare_server_default": True})
        return compare_metadata(context, SQLModel.metadata)


# --------------------------------------------------------------------------- the revision chain


def test_models_and_migrations_know_the_same_tables() -> None:
    assert set(SQLModel.metadata.tables) == TABLES


def test_one_linear_head() -> None:
    script = ScriptDirectory.from_config(alembic_config(make_engine("sqlite://")))
    assert len(script.get_heads()) == 1, "two migration heads: merge them"
    revisions = list(script.walk_revisions())
    assert sum(1 for revision in revisions if revision.down_revision is None) == 1


# --------------------------------------------------------------------------- upgrade()


def test_upgrade_creates_every_table_on_an_empty_sqlite_file(tmp_path: Path) -> None:
    engine = make_engine(sqlite_url(tmp_path))
    assert current_revision(engine) is None
    assert table_names(engine) == set()

    before, after = upgrade(engine)

    head = head_revision(engine)
    assert head
    assert (before, after) == (None, head)
    assert current_revision(engine) == head
    assert table_names(engine) == TABLES | {"alembic_version"}
    assert version_rows(engine) == [head]
    # the tables work: a creator and a reel round-trip with aware times
    with Session(engine, expire_on_commit=False) as db:
        creator = Creator(handle="ana", timezone="Europe/Lisbon")
        db.add(creator)
        db.commit()
        db.add(Reel(creator_id=creator.id, status=ReelStatus.DRAFTED))
        db.commit()
    with Session(engine) as db:
        reel = db.exec(select(Reel)).one()
        assert reel.status == ReelStatus.DRAFTED and reel.created_at.tzinfo is not None


def test_upgrade_again_is_a_no_op(tmp_path: Path) -> None:
    engine = make_engine(sqlite_url(tmp_path))
    upgrade(engine)
    head = head_revision(engine)
    with Session(engine) as db:
        db.add(Creator(handle="ana", timezone="UTC"))
        db.commit()
    schema_before = schema_of(engine)
    assert set(schema_before) == TABLES | {"alembic_version"}

    assert upgrade(engine) == (head, head)
    assert upgrade(engine) == (head, head)

    assert version_rows(engine) == [head]
    assert schema_of(engine) == schema_before
    with Session(engine) as db:
        assert [c.handle for c in db.exec(select(Creator))] == ["ana"]


def test_sqlite_gets_wal_and_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(sqlite_url(tmp_path))
    upgrade(engine)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        with pytest.raises(sa.exc.IntegrityError):
            connection.execute(sa.text("INSERT INTO reel (creator_id, status, version, hook, script, on_screen_title, caption, hashtags, cta, artifacts, attempts, created_at, updated_at) "
                                       "VALUES (4242, 'drafted', 1, '', '', '', '', '[]', '', '{}', 0, '2026-01-01', '2026-01-01')"))


def test_migrated_schema_matches_the_models(db_url: str) -> None:
    """``alembic revision --autogenerate`` would find nothing to do: the migrations are complete."""
    engine = make_engine(db_url)
    assert current_revision(engine) == head_revision(engine)
    diff = schema_diff(engine)
    assert diff == [], "the models changed without a migration:\n" + "\n".join(map(str, diff))


def test_schema_diff_notices_a_missing_column(tmp_path: Path) -> None:
    """The comparison above is not vacuous: drop a column and it is reported."""
    engine = make_engine(sqlite_url(tmp_path))
    upgrade(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql("ALTER TABLE reel DROP COLUMN permalink")
    diff = schema_diff(engine)
    assert any(op[0] == "add_column" and op[2] == "reel" and op[3].name == "permalink" for op in diff), diff


# --------------------------------------------------------------------------- ensure_schema()


def test_ensure_schema_migrates_an_empty_database(tmp_path: Path) -> None:
    engine = make_engine(sqlite_url(tmp_path))
    ensure_schema(engine)
    assert current_revision(engine) == head_revision(engine)
    assert TABLES <= table_names(engine)
    ensure_schema(engine)  # at head: nothing to do
    assert version_rows(engine) == [head_revision(engine)]


def test_open_session_migrates_first(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path, "sub/dir/reeltwin.db")
    with open_session(url) as db:
        db.add(Creator(handle="ana", timezone="UTC"))
        db.commit()
        assert db.exec(select(Creator)).one().handle == "ana"
    assert current_revision(make_engine(url)) == head_revision(make_engine(url))


def test_ensure_schema_refuses_a_database_from_a_newer_release(tmp_path: Path) -> None:
    engine = make_engine(sqlite_url(tmp_path))
    upgrade(engine)
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    schema_before = schema_of(engine)
    assert set(schema_before) == TABLES | {"alembic_version"}

    with pytest.raises(DatabaseError, match="newer") as info:
        ensure_schema(engine)
    assert "9999_from_the_future" in str(info.value)
    with pytest.raises(DatabaseError, match="newer"):
        open_session(str(engine.url))

    # nothing was touched
    assert version_rows(engine) == ["9999_from_the_future"]
    assert schema_of(engine) == schema_before


def test_ensure_schema_refuses_a_newer_database_on_either_backend(db_url: str) -> None:
    engine = make_engine(db_url)
    head = head_revision(engine)
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    try:
        with pytest.raises(DatabaseError, match="newer"):
            ensure_schema(engine)
        assert version_rows(engine) == ["9999_from_the_future"]
    finally:  # the PostgreSQL database is shared by the whole run: put it back
        with engine.begin() as connection:
            connection.execute(sa.text("UPDATE alembic_version SET version_num = :head"), {"head": head})
    assert current_revision(engine) == head


def test_an_unreachable_database_is_a_database_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(DatabaseError, match="cannot create its folder"):
        make_engine(f"sqlite:///{blocker / 'sub' / 'reeltwin.db'}")
