"""The reel state machine: the transition table, transition(), events, optimistic concurrency.

Every test runs on a SQLite file and on PostgreSQL (the ``session`` fixture).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from agent.db.engine import make_engine
from agent.db.models import Creator, Reel, ReelEvent, ReelStatus, utcnow
from agent.db.states import (
    COMMITTED,
    EDITABLE,
    LIVE,
    TRANSITIONS,
    ConcurrentChangeError,
    allowed,
    check_transition,
    transition,
)
from agent.errors import InvalidTransitionError

S = ReelStatus
ALL = list(ReelStatus)


# --------------------------------------------------------------------------- helpers


def make_creator(session: Session, handle: str = "ana") -> Creator:
    creator = Creator(handle=handle, timezone="Europe/Lisbon")
    session.add(creator)
    session.commit()
    return creator


def make_reel(session: Session, creator: Creator, status: ReelStatus, **fields: Any) -> Reel:
    reel = Reel(creator_id=creator.id, status=status, hook=f"hook {status.value}", **fields)
    session.add(reel)
    session.commit()
    return reel


def row_of(session: Session, reel_id: int) -> dict[str, Any]:
    """The reel's row as stored, read past the identity map."""
    table = Reel.__table__
    return dict(session.execute(sa.select(table).where(table.c.id == reel_id)).mappings().one())


def events_of(session: Session, reel_id: int) -> list[ReelEvent]:
    session.expire_all()
    return list(session.exec(select(ReelEvent).where(ReelEvent.reel_id == reel_id).order_by(ReelEvent.id)))


def event_count(session: Session) -> int:
    return session.execute(sa.select(sa.func.count()).select_from(ReelEvent)).scalar_one()


# --------------------------------------------------------------------------- the table itself


def test_the_rules_are_the_documented_ones() -> None:
    """A copy of the rules: changing TRANSITIONS is a product decision, so it must change this test too."""
    expected = {
        "drafted": {"approved", "rejected", "skipped"},
        "approved": {"rendering", "drafted", "rejected", "skipped"},
        "rendering": {"rendered", "failed", "approved"},
        "rendered": {"publishing", "approved", "drafted", "rejected", "skipped"},   # -> approved: its own recording changed
        "publishing": {"published", "failed", "rendered"},
        "published": set(),
        "rejected": {"drafted", "skipped"},
        "skipped": {"drafted"},
        "failed": {"approved", "rendered", "drafted", "rejected", "skipped"},
    }
    assert {source.value: {target.value for target in targets} for source, targets in TRANSITIONS.items()} == expected


def test_table_covers_every_state_and_only_states() -> None:
    assert set(TRANSITIONS) == set(ReelStatus)
    for source, targets in TRANSITIONS.items():
        assert all(isinstance(target, ReelStatus) for target in targets), source
        assert source not in targets, f"{source} -> itself must not be a transition"


def test_published_is_terminal() -> None:
    assert TRANSITIONS[S.PUBLISHED] == frozenset()
    for target in ALL:
        assert not allowed(S.PUBLISHED, target)
        with pytest.raises(InvalidTransitionError, match="already published"):
            check_transition(S.PUBLISHED, target, 7)


def test_every_state_but_published_has_a_way_out_and_every_state_is_reachable() -> None:
    for source in ALL:
        if source is not S.PUBLISHED:
            assert TRANSITIONS[source], f"{source} is a dead end"
    reachable = {S.DRAFTED}
    frontier = [S.DRAFTED]
    while frontier:
        for target in TRANSITIONS[frontier.pop()]:
            if target not in reachable:
                reachable.add(target)
                frontier.append(target)
    assert reachable == set(ReelStatus)


def test_the_happy_path_is_allowed() -> None:
    path = [S.DRAFTED, S.APPROVED, S.RENDERING, S.RENDERED, S.PUBLISHING, S.PUBLISHED]
    for source, target in zip(path, path[1:]):
        assert allowed(source, target), (source, target)
    # shortcuts that skip a stage are not
    assert not allowed(S.DRAFTED, S.RENDERING)
    assert not allowed(S.APPROVED, S.PUBLISHING)
    assert not allowed(S.RENDERED, S.PUBLISHED)


def test_check_transition_accepts_strings_and_hints() -> None:
    check_transition("drafted", "approved")
    with pytest.raises(InvalidTransitionError, match="approve it first") as info:
        check_transition("drafted", "rendering", 3)
    assert (info.value.reel_id, info.value.current, info.value.target) == (3, "drafted", "rendering")
    with pytest.raises(ValueError):
        check_transition("drafted", "no-such-state")


def test_state_groups_are_consistent() -> None:
    assert S.PUBLISHED not in EDITABLE and S.RENDERING not in EDITABLE and S.PUBLISHING not in EDITABLE
    # an edit sends the reel back to drafted: every editable state must allow that (drafted trivially is one)
    for state in EDITABLE - {S.DRAFTED}:
        assert allowed(state, S.DRAFTED), state
    assert S.PUBLISHED in COMMITTED and S.DRAFTED not in COMMITTED
    assert LIVE == set(ReelStatus) - {S.REJECTED, S.SKIPPED}


# --------------------------------------------------------------------------- transition() on a database


@pytest.mark.parametrize("source", ALL, ids=[s.value for s in ALL])
def test_every_allowed_transition_moves_the_reel_and_writes_one_event(session: Session, source: ReelStatus) -> None:
    creator = make_creator(session)
    targets = sorted(TRANSITIONS[source], key=lambda s: s.value)
    for target in targets:
        reel = make_reel(session, creator, source)
        before = utcnow()
        event = transition(session, reel, target, actor="tester@cli", reason=f"{source.value} to {target.value}")
        session.commit()

        row = row_of(session, reel.id)
        assert row["status"] == target.value, (source, target)
        assert row["updated_at"] >= before and row["updated_at"].tzinfo is not None
        session.refresh(reel)
        assert reel.status == target

        events = events_of(session, reel.id)
        assert len(events) == 1, (source, target)
        (stored,) = events
        assert stored.id == event.id
        assert (stored.from_status, stored.to_status) == (source.value, target.value)
        assert stored.actor == "tester@cli"
        assert stored.reason == f"{source.value} to {target.value}"
        assert stored.at.tzinfo is not None and stored.at >= before
        assert stored.at == row["updated_at"]
    # one event per move, nothing else
    assert event_count(session) == len(targets)


@pytest.mark.parametrize("source", ALL, ids=[s.value for s in ALL])
def test_every_forbidden_transition_raises_and_changes_nothing(session: Session, source: ReelStatus) -> None:
    creator = make_creator(session)
    reel = make_reel(session, creator, source)
    stored = row_of(session, reel.id)
    forbidden = [target for target in ALL if target not in TRANSITIONS[source]]
    assert source in forbidden  # staying put is never a transition
    for target in forbidden:
        with pytest.raises(InvalidTransitionError) as info:
            transition(session, reel, target, actor="tester", reason="should fail")
        message = str(info.value)
        assert repr(source.value) in message and repr(target.value) in message, message
        assert f"reel {reel.id}" in message
        assert (info.value.current, info.value.target) == (source.value, target.value)
        session.commit()
        assert row_of(session, reel.id) == stored, (source, target)
        assert event_count(session) == 0, (source, target)


def test_published_has_no_way_out_on_the_database(session: Session) -> None:
    creator = make_creator(session)
    reel = make_reel(session, creator, S.PUBLISHED, media_id="1789", published_at=utcnow())
    stored = row_of(session, reel.id)
    for target in ALL:
        with pytest.raises(InvalidTransitionError, match="already published"):
            transition(session, reel, target, actor="tester")
        # naming another expected state does not get around the table either
        with pytest.raises(InvalidTransitionError):
            transition(session, reel, target, actor="tester", expected=S.PUBLISHED)
    session.commit()
    assert row_of(session, reel.id) == stored
    assert event_count(session) == 0


def test_transition_applies_extra_changes_with_the_move(session: Session) -> None:
    creator = make_creator(session)
    reel = make_reel(session, creator, S.DRAFTED)
    transition(session, reel, S.REJECTED, actor="creator", reason="too long", feedback="make it shorter")
    session.commit()
    row = row_of(session, reel.id)
    assert row["status"] == "rejected" and row["feedback"] == "make it shorter"
    retry_at = utcnow() + timedelta(minutes=5)
    reel2 = make_reel(session, creator, S.RENDERING)
    transition(session, reel2, S.FAILED, actor="worker-1", reason="boom", failed_stage="render", last_error="boom", attempts=1, next_attempt_at=retry_at)
    session.commit()
    row2 = row_of(session, reel2.id)
    assert (row2["status"], row2["failed_stage"], row2["attempts"]) == ("failed", "render", 1)
    assert abs(row2["next_attempt_at"] - retry_at) < timedelta(milliseconds=1)


def test_transition_does_not_commit_and_rolls_back_with_the_caller(session: Session) -> None:
    creator = make_creator(session)
    reel = make_reel(session, creator, S.DRAFTED)
    transition(session, reel, S.APPROVED, actor="creator")
    session.rollback()
    assert row_of(session, reel.id)["status"] == "drafted"
    assert event_count(session) == 0


def test_a_chain_of_transitions_writes_a_complete_history(session: Session) -> None:
    creator = make_creator(session)
    reel = make_reel(session, creator, S.DRAFTED)
    path = [S.APPROVED, S.RENDERING, S.FAILED, S.APPROVED, S.RENDERING, S.RENDERED, S.PUBLISHING, S.PUBLISHED]
    for target in path:
        transition(session, reel, target, actor="chain")  # reel is expired and reloaded each time
        session.commit()
    history = [(e.from_status, e.to_status) for e in events_of(session, reel.id)]
    expected = list(zip([S.DRAFTED.value] + [s.value for s in path[:-1]], [s.value for s in path]))
    assert history == expected
    with pytest.raises(InvalidTransitionError):
        transition(session, reel, S.DRAFTED, actor="chain")


# --------------------------------------------------------------------------- optimistic concurrency


def test_a_stale_transition_raises_concurrent_change_and_writes_no_event(db_url: str) -> None:
    engine = make_engine(db_url)
    with Session(engine, expire_on_commit=False) as setup:
        creator = make_creator(setup)
        reel_id = make_reel(setup, creator, S.APPROVED).id

    with Session(engine, expire_on_commit=False) as first, Session(engine, expire_on_commit=False) as second:
        mine = first.get(Reel, reel_id)
        theirs = second.get(Reel, reel_id)
        assert mine.status == theirs.status == S.APPROVED

        transition(first, mine, S.RENDERING, actor="worker-1", reason="claimed")
        first.commit()

        # second still believes the reel is approved; skipping is allowed from approved,
        # so only the conditional update can notice the reel moved on.
        assert theirs.status == S.APPROVED
        with pytest.raises(ConcurrentChangeError, match=rf"reel {reel_id}\b.*'approved'"):
            transition(second, theirs, S.SKIPPED, actor="creator", reason="drop it")
        second.rollback()

        with Session(engine) as check:
            assert check.get(Reel, reel_id).status == S.RENDERING
            events = list(check.exec(select(ReelEvent).where(ReelEvent.reel_id == reel_id)))
            assert [(e.from_status, e.to_status, e.actor) for e in events] == [("approved", "rendering", "worker-1")]

        # reloaded, the second session sees the truth and the table decides again
        second.refresh(theirs)
        assert theirs.status == S.RENDERING
        with pytest.raises(InvalidTransitionError):
            transition(second, theirs, S.SKIPPED, actor="creator")


def test_a_wrong_expected_state_raises_concurrent_change(session: Session) -> None:
    creator = make_creator(session)
    reel = make_reel(session, creator, S.RENDERED)
    stored = row_of(session, reel.id)
    # the caller believes the reel is still approved; the row says rendered
    with pytest.raises(ConcurrentChangeError):
        transition(session, reel, S.RENDERING, actor="worker", expected=S.APPROVED)
    session.rollback()
    assert row_of(session, reel.id) == stored
    assert event_count(session) == 0


def test_concurrent_change_on_a_deleted_reel(session: Session) -> None:
    creator = make_creator(session)
    reel = make_reel(session, creator, S.DRAFTED)
    session.execute(sa.delete(Reel.__table__).where(Reel.__table__.c.id == reel.id))
    session.commit()
    with pytest.raises(ConcurrentChangeError):
        transition(session, reel, S.APPROVED, actor="creator")
    session.rollback()
    assert event_count(session) == 0
