"""Atomic claims: claim() and claim_next() under real concurrency, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from agent.db.engine import make_engine
from agent.db.models import Creator, Reel, ReelEvent, ReelStatus, utcnow
from agent.db.states import claim, claim_next
from agent.errors import InvalidTransitionError

S = ReelStatus
THREAD_TIMEOUT = 60  # seconds; a deadlock fails the test instead of hanging the run


# --------------------------------------------------------------------------- helpers


def make_creator(session: Session) -> Creator:
    creator = Creator(handle="ana", timezone="Europe/Lisbon")
    session.add(creator)
    session.commit()
    return creator


def make_reels(session: Session, creator: Creator, count: int, status: ReelStatus = S.APPROVED, **fields: Any) -> list[int]:
    """``count`` reels, created one second apart (oldest first) so claim order is well defined."""
    start = utcnow() - timedelta(hours=1)
    reels = [Reel(creator_id=creator.id, status=status, created_at=start + timedelta(seconds=i), hook=f"reel {i}", **fields) for i in range(count)]
    session.add_all(reels)
    session.commit()
    return [reel.id for reel in reels]


def row_of(session: Session, reel_id: int) -> dict[str, Any]:
    table = Reel.__table__
    return dict(session.execute(sa.select(table).where(table.c.id == reel_id)).mappings().one())


def events(engine: sa.Engine, reel_id: int | None = None) -> list[ReelEvent]:
    with Session(engine) as db:
        query = select(ReelEvent).order_by(ReelEvent.id)
        if reel_id is not None:
            query = query.where(ReelEvent.reel_id == reel_id)
        return list(db.exec(query))


def statuses(engine: sa.Engine) -> Counter:
    with engine.connect() as connection:
        return Counter(dict(connection.execute(sa.text("SELECT status, count(*) FROM reel GROUP BY status")).all()))


# --------------------------------------------------------------------------- claim(): one reel, two workers


def test_two_workers_racing_for_one_reel_exactly_one_wins(db_url: str) -> None:
    engine = make_engine(db_url)
    with Session(engine, expire_on_commit=False) as setup:
        creator = make_creator(setup)
        reel_ids = make_reels(setup, creator, 20)

    def worker(name: str, reel_id: int, barrier: threading.Barrier) -> tuple[int, str] | None:
        with Session(engine, expire_on_commit=False) as db:
            db.connection()  # check a connection out before the start line
            barrier.wait(timeout=THREAD_TIMEOUT)
            reel = claim(db, reel_id, S.APPROVED, S.RENDERING, worker=name)
            return None if reel is None else (reel.id, reel.claimed_by)

    wins = Counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        for reel_id in reel_ids:
            barrier = threading.Barrier(2)
            futures = {name: pool.submit(worker, name, reel_id, barrier) for name in ("worker-a", "worker-b")}
            results = {name: future.result(timeout=THREAD_TIMEOUT) for name, future in futures.items()}
            winners = [name for name, result in results.items() if result is not None]
            assert len(winners) == 1, f"reel {reel_id}: {results}"
            (winner,) = winners
            (loser,) = set(results) - {winner}
            assert results[winner] == (reel_id, winner)
            assert results[loser] is None
            wins[winner] += 1

            with Session(engine) as check:
                row = row_of(check, reel_id)
            assert row["status"] == "rendering" and row["claimed_by"] == winner
            assert row["claimed_at"] is not None and row["claimed_at"].tzinfo is not None
            history = [(e.from_status, e.to_status, e.actor) for e in events(engine, reel_id)]
            assert history == [("approved", "rendering", winner)], history

    assert sum(wins.values()) == len(reel_ids)
    assert len(events(engine)) == len(reel_ids)


def test_claim_returns_the_reel_with_claim_fields_and_records_reason(session: Session) -> None:
    creator = make_creator(session)
    (reel_id,) = make_reels(session, creator, 1, status=S.RENDERED)
    before = utcnow()
    reel = claim(session, reel_id, S.RENDERED, S.PUBLISHING, worker="publisher-1", reason="slot due")
    assert reel is not None and reel.id == reel_id
    assert reel.status == S.PUBLISHING and reel.claimed_by == "publisher-1"
    assert reel.claimed_at >= before and reel.claimed_at.tzinfo is not None
    (event,) = events(session.get_bind(), reel_id)
    assert (event.from_status, event.to_status, event.actor, event.reason) == ("rendered", "publishing", "publisher-1", "slot due")
    # claim commits: another connection sees it
    with Session(session.get_bind()) as other:
        assert row_of(other, reel_id)["status"] == "publishing"


@pytest.mark.parametrize("status", [s for s in ReelStatus if s is not S.APPROVED], ids=lambda s: s.value)
def test_claiming_a_reel_in_another_state_returns_none_and_changes_nothing(session: Session, status: ReelStatus) -> None:
    creator = make_creator(session)
    (reel_id,) = make_reels(session, creator, 1, status=status)
    stored = row_of(session, reel_id)
    assert claim(session, reel_id, S.APPROVED, S.RENDERING, worker="worker-1") is None
    assert row_of(session, reel_id) == stored
    assert events(session.get_bind()) == []


def test_claiming_a_missing_reel_returns_none(session: Session) -> None:
    assert claim(session, 999_999, S.APPROVED, S.RENDERING, worker="worker-1") is None
    assert events(session.get_bind()) == []


def test_a_claim_the_table_forbids_raises(session: Session) -> None:
    creator = make_creator(session)
    (reel_id,) = make_reels(session, creator, 1, status=S.DRAFTED)
    with pytest.raises(InvalidTransitionError, match="'drafted'.*'rendering'"):
        claim(session, reel_id, S.DRAFTED, S.RENDERING, worker="worker-1")
    with pytest.raises(InvalidTransitionError):
        claim_next(session, S.DRAFTED, S.PUBLISHING, worker="worker-1")
    assert row_of(session, reel_id)["status"] == "drafted"
    assert events(session.get_bind()) == []


def test_claim_commits_pending_work_first_and_a_second_claim_loses(session: Session) -> None:
    creator = make_creator(session)
    (reel_id,) = make_reels(session, creator, 1)
    assert claim(session, reel_id, S.APPROVED, S.RENDERING, worker="worker-1") is not None
    assert claim(session, reel_id, S.APPROVED, S.RENDERING, worker="worker-2") is None
    row = row_of(session, reel_id)
    assert row["claimed_by"] == "worker-1"
    assert len(events(session.get_bind(), reel_id)) == 1


# --------------------------------------------------------------------------- claim_next(): draining a queue


@pytest.mark.parametrize("workers", [2, 4])
def test_workers_draining_the_queue_claim_every_reel_exactly_once(db_url: str, workers: int) -> None:
    engine = make_engine(db_url)
    with Session(engine, expire_on_commit=False) as setup:
        creator = make_creator(setup)
        reel_ids = make_reels(setup, creator, 30)
        # bystanders in other states must not be touched
        others = make_reels(setup, creator, 3, status=S.DRAFTED) + make_reels(setup, creator, 2, status=S.RENDERING)
    barrier = threading.Barrier(workers)

    def worker(name: str) -> list[tuple[int, str]]:
        claimed = []
        with Session(engine, expire_on_commit=False) as db:
            db.connection()
            barrier.wait(timeout=THREAD_TIMEOUT)
            while (reel := claim_next(db, S.APPROVED, S.RENDERING, worker=name)) is not None:
                assert reel.status == S.RENDERING
                claimed.append((reel.id, reel.claimed_by))
        return claimed

    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(worker, f"worker-{n}") for n in range(workers)]
        results = {f"worker-{n}": future.result(timeout=THREAD_TIMEOUT) for n, future in enumerate(futures)}

    claimed_ids = [reel_id for claimed in results.values() for reel_id, _ in claimed]
    assert len(claimed_ids) == len(set(claimed_ids)), f"claimed twice: {[i for i, c in Counter(claimed_ids).items() if c > 1]}"
    assert set(claimed_ids) == set(reel_ids)
    for name, claimed in results.items():
        assert all(claimed_by == name for _, claimed_by in claimed)

    assert statuses(engine) == Counter({"rendering": 30 + 2, "drafted": 3})
    owner = {reel_id: name for name, claimed in results.items() for reel_id, _ in claimed}
    all_events = events(engine)
    assert len(all_events) == 30
    assert Counter(e.reel_id for e in all_events) == Counter(reel_ids)
    for event in all_events:
        assert (event.from_status, event.to_status, event.actor) == ("approved", "rendering", owner[event.reel_id])
    with Session(engine) as check:
        for reel_id in reel_ids:
            assert row_of(check, reel_id)["claimed_by"] == owner[reel_id]
        for reel_id in others:
            assert row_of(check, reel_id)["claimed_by"] is None


def test_claim_next_takes_the_oldest_first_and_returns_none_when_empty(session: Session) -> None:
    creator = make_creator(session)
    reel_ids = make_reels(session, creator, 3)
    got = [claim_next(session, S.APPROVED, S.RENDERING, worker="w") for _ in reel_ids]
    assert [reel.id for reel in got] == reel_ids
    assert claim_next(session, S.APPROVED, S.RENDERING, worker="w") is None
    assert len(events(session.get_bind())) == 3


def test_claim_next_only_takes_from_the_source_state(session: Session) -> None:
    creator = make_creator(session)
    drafted = make_reels(session, creator, 2, status=S.DRAFTED)
    failed = make_reels(session, creator, 1, status=S.FAILED)
    rendered = make_reels(session, creator, 1, status=S.RENDERED)
    assert claim_next(session, S.APPROVED, S.RENDERING, worker="w") is None
    reel = claim_next(session, S.RENDERED, S.PUBLISHING, worker="publisher")
    assert reel is not None and reel.id == rendered[0] and reel.status == S.PUBLISHING
    assert claim_next(session, S.RENDERED, S.PUBLISHING, worker="publisher") is None
    for reel_id in drafted:
        assert row_of(session, reel_id)["status"] == "drafted"
    assert row_of(session, failed[0])["status"] == "failed"


def test_claim_next_honours_due_before(session: Session) -> None:
    creator = make_creator(session)
    now = utcnow()
    start = now - timedelta(hours=1)
    plan = [  # oldest first: a future retry is the oldest reel, so ordering alone would pick it
        ("future", now + timedelta(minutes=10)),
        ("none", None),
        ("past", now - timedelta(minutes=1)),
        ("exactly-now", now),
    ]
    ids = {}
    for i, (name, retry_at) in enumerate(plan):
        reel = Reel(creator_id=creator.id, status=S.APPROVED, created_at=start + timedelta(seconds=i), next_attempt_at=retry_at, hook=name)
        session.add(reel)
        session.commit()
        ids[name] = reel.id

    got = []
    while (reel := claim_next(session, S.APPROVED, S.RENDERING, worker="w", due_before=now)) is not None:
        got.append(reel.id)
    assert got == [ids["none"], ids["past"], ids["exactly-now"]]
    assert row_of(session, ids["future"])["status"] == "approved"
    assert row_of(session, ids["future"])["claimed_by"] is None
    assert events(session.get_bind(), ids["future"]) == []

    # once its time has come it is claimed
    reel = claim_next(session, S.APPROVED, S.RENDERING, worker="w", due_before=now + timedelta(minutes=11))
    assert reel is not None and reel.id == ids["future"]


def test_claim_next_due_before_compares_instants_not_wall_clock(session: Session) -> None:
    """An aware datetime in another zone is compared as the same instant."""
    creator = make_creator(session)
    now = utcnow()
    reel = Reel(creator_id=creator.id, status=S.APPROVED, next_attempt_at=now + timedelta(minutes=30))
    session.add(reel)
    session.commit()
    plus_two = timezone(timedelta(hours=2))
    # 20 minutes from now, written in UTC+2: the wall clock reads later than the retry time, the instant does not
    assert claim_next(session, S.APPROVED, S.RENDERING, worker="w", due_before=(now + timedelta(minutes=20)).astimezone(plus_two)) is None
    got = claim_next(session, S.APPROVED, S.RENDERING, worker="w", due_before=(now + timedelta(minutes=40)).astimezone(plus_two))
    assert got is not None and got.id == reel.id


# --------------------------------------------------------------------------- PostgreSQL: row locks, SKIP LOCKED


ON_POSTGRES = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)


def impatient_engine(db_url: str) -> sa.Engine:
    """A second engine on the same database that errors out instead of hanging if it ever waits on a lock."""
    return sa.create_engine(make_engine(db_url).url, connect_args={"options": "-c lock_timeout=5000"})


@pytest.mark.postgres
@ON_POSTGRES
def test_postgres_claim_next_skips_a_locked_reel_without_waiting(db_url: str) -> None:
    engine = make_engine(db_url)
    impatient = impatient_engine(db_url)
    try:
        with Session(engine, expire_on_commit=False) as setup:
            creator = make_creator(setup)
            first, second, third = make_reels(setup, creator, 3)

        with engine.connect() as holder:
            holder.begin()
            locked = holder.execute(sa.text("SELECT id FROM reel WHERE id = :id FOR UPDATE"), {"id": first}).scalar_one()
            assert locked == first

            with Session(impatient, expire_on_commit=False) as db:
                started = time.monotonic()
                reel = claim_next(db, S.APPROVED, S.RENDERING, worker="worker-2")
                took = time.monotonic() - started
                assert reel is not None and reel.id == second, "SKIP LOCKED: the locked oldest reel is passed over"
                assert reel.claimed_by == "worker-2"
                assert took < 4, f"claim_next waited {took:.1f}s on a locked row"

                started = time.monotonic()
                assert claim(db, first, S.APPROVED, S.RENDERING, worker="worker-2") is None
                took = time.monotonic() - started
                assert took < 4, f"claim waited {took:.1f}s on a locked row"

                assert row_of(db, first)["status"] == "approved"
                db.rollback()
                assert events(engine, first) == []
            holder.rollback()

        # lock released: the reel is free again
        with Session(impatient, expire_on_commit=False) as db:
            reel = claim(db, first, S.APPROVED, S.RENDERING, worker="worker-3")
            assert reel is not None and reel.claimed_by == "worker-3"
            reel = claim_next(db, S.APPROVED, S.RENDERING, worker="worker-3")
            assert reel is not None and reel.id == third
            assert claim_next(db, S.APPROVED, S.RENDERING, worker="worker-3") is None
        assert [(e.reel_id, e.actor) for e in events(engine)] == [(second, "worker-2"), (first, "worker-3"), (third, "worker-3")]
    finally:
        impatient.dispose()


@pytest.mark.postgres
@ON_POSTGRES
def test_postgres_claim_next_returns_none_when_every_waiting_reel_is_locked(db_url: str) -> None:
    engine = make_engine(db_url)
    impatient = impatient_engine(db_url)
    try:
        with Session(engine, expire_on_commit=False) as setup:
            creator = make_creator(setup)
            reel_ids = make_reels(setup, creator, 2)
        with engine.connect() as holder:
            holder.begin()
            assert len(holder.execute(sa.text("SELECT id FROM reel FOR UPDATE")).all()) == 2
            with Session(impatient) as db:
                started = time.monotonic()
                assert claim_next(db, S.APPROVED, S.RENDERING, worker="w") is None
                assert claim(db, reel_ids[1], S.APPROVED, S.RENDERING, worker="w") is None
                assert time.monotonic() - started < 4
            holder.rollback()
        assert statuses(engine) == Counter({"approved": len(reel_ids)})
        assert events(engine) == []
    finally:
        impatient.dispose()
