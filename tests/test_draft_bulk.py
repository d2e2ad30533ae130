"""The draft and policy sweeps' bulk paths (issue 15, scale): :func:`find_work` plans and reads many creators at once
with the same result as the old code (sync_plan, then a few queries, for every calendar), and skips planning where
the caller says the plan is current; :func:`apply_approval_policies` approves and skips what
:func:`apply_approval_policy` did one creator at a time, with the same history. Both are compared with a copy of the
old implementation kept here as the reference. Runs on SQLite and, when reachable, PostgreSQL (the ``db_url``
fixture; PostgreSQL is skipped with the reason when it is unreachable)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from agent.approval import policies
from agent.approval.policies import PolicyReport, apply_approval_policies, apply_approval_policy
from agent.approval.queue import add_draft, approve
from agent.content_calendar import planner
from agent.content_calendar.planner import sync_plan
from agent.content_calendar.schema import AutoAfter, Calendar
from agent.db.engine import make_engine
from agent.db.models import Creator, Reel, ReelEvent, ReelStatus, Slot, utcnow
from agent.db.states import LIVE, ConcurrentChangeError, transition
from agent.drafting import service as drafting
from agent.drafting.service import WorkItem, find_work

UTC = timezone.utc
NOW = datetime(2026, 6, 1, 6, 0, tzinfo=UTC)     # a Monday
LATER = NOW + timedelta(days=2, hours=3)          # the second sweep: the first Monday is history by then
DAYS = 10
REPO = Path(__file__).resolve().parent.parent
PILLARS = [{"name": "recipes", "weight": 3}, {"name": "skills", "weight": 2}, {"name": "bts", "weight": 1}]


# -- the reference: the old code, one calendar at a time ------------------------------------------------------------


def reference_find_work(session: Session, calendars: list[Calendar], *, now: datetime, days: int,
                        paths: dict[str, str] | None = None) -> list[WorkItem]:
    """agent.drafting.service.find_work before issue 15's bulk path, verbatim but for the ad-hoc query's ORDER BY (it
    had none: the rows came in the database's order, which is the id order on a fresh table and unspecified after
    updates on PostgreSQL; the new code promises the id order)."""
    work: list[WorkItem] = []
    for calendar in calendars:
        report = sync_plan(session, calendar, now=now, days=days, path=(paths or {}).get(calendar.handle))
        slot_ids = [slot.id for slot in report.slots]
        reels = list(session.execute(select(Reel).where(Reel.slot_id.in_(slot_ids)).order_by(Reel.id)).scalars()) if slot_ids else []
        by_slot: dict[str, list[Reel]] = {}
        for reel in reels:
            by_slot.setdefault(reel.slot_id, []).append(reel)
        for slot in report.slots:
            on_slot = by_slot.get(slot.id, [])
            rejected = [reel for reel in on_slot if ReelStatus(reel.status) == ReelStatus.REJECTED]
            if any(ReelStatus(reel.status) in LIVE and ReelStatus(reel.status) != ReelStatus.REJECTED for reel in on_slot):
                continue
            work.append(WorkItem(calendar, slot, reel_id=rejected[-1].id if rejected else None))
        creator = session.execute(select(Creator).where(Creator.handle == calendar.handle)).scalar_one()
        ad_hoc = session.execute(select(Reel).where(Reel.creator_id == creator.id, Reel.slot_id.is_(None),
                                                    Reel.status == ReelStatus.REJECTED).order_by(Reel.id)).scalars()
        work.extend(WorkItem(calendar, None, reel_id=reel.id) for reel in ad_hoc)
    return work


def reference_policy(session: Session, calendar: Calendar, *, now: datetime, render_lead: timedelta = timedelta(0)) -> PolicyReport:
    """agent.approval.policies.apply_approval_policy before issue 15's bulk path, verbatim."""
    report = PolicyReport(handle=calendar.handle)
    if calendar.approval == "manual":
        return report
    creator = session.execute(select(Creator).where(Creator.handle == calendar.handle)).scalar_one_or_none()
    if creator is None:
        return report
    drafts = session.execute(
        select(Reel, Slot).outerjoin(Slot, Reel.slot_id == Slot.id).where(Reel.creator_id == creator.id, Reel.status == ReelStatus.DRAFTED).order_by(Reel.id)
    ).all()
    policy = calendar.approval
    for reel, slot in drafts:
        try:
            if isinstance(policy, AutoAfter):
                if reel.updated_at <= now - timedelta(hours=policy.auto_after_hours):
                    transition(session, reel, ReelStatus.APPROVED, actor="policy", reason=f"auto_after_hours: {policy.auto_after_hours}; nobody acted on the draft",
                               approved_at=now, approved_by="policy:auto_after_hours")
                    report.approved.append(reel.id)
            elif policy == "skip_if_unapproved" and slot is not None and slot.scheduled_at - render_lead <= now:
                transition(session, reel, ReelStatus.SKIPPED, actor="policy", reason="skip_if_unapproved: not approved before its render lead time")
                report.skipped.append(reel.id)
            session.commit()
        except ConcurrentChangeError:
            session.rollback()
    return report


# -- the scenario ---------------------------------------------------------------------------------------------------


def calendar(handle: str, **fields: Any) -> Calendar:
    data: dict[str, Any] = {
        "handle": handle,
        "timezone": "Europe/Berlin",
        "persona": {"name": handle.title(), "niche": "budget cooking"},
        "pillars": PILLARS,
        "cadence": [{"days": ["mon", "thu"], "time": "12:30"}, {"days": ["sat"], "time": "peak"}],
        "backlog": [{"brief": f"{handle} brief {n}", **({"pillar": "skills"} if n % 4 == 1 else {})} for n in range(12)],
        "one_offs": [{"date": "2026-06-10", "time": "19:00", "pillar": "bts", "brief": f"a live Q&A with {handle}"}],
    }
    data.update(fields)
    return Calendar.model_validate(data)


def first_calendars() -> list[Calendar]:
    return [
        calendar("ana"),
        calendar("ben", timezone="America/New_York", cadence=[{"days": ["daily"], "time": "09:00"}]),
        calendar("cho", timezone="Asia/Tokyo", cadence=[{"days": ["weekdays"], "time": "peak"}], one_offs=[]),
        calendar("dan", timezone="Europe/London", cadence=[{"days": ["daily"], "time": "18:00"}]),
        calendar("eve", cadence=[{"days": ["daily"], "time": "12:30"}]),
        calendar("fay", timezone="Australia/Sydney", cadence=[{"days": ["daily"], "time": "07:00"}]),
        # No backlog: its weekly slots have no brief, like the slots that left a calendar.
        calendar("gus", timezone="America/Sao_Paulo", cadence=[{"days": ["daily"], "time": "10:00"}], backlog=[]),
        # A second file naming @ana (ana.yml beside ana.yaml): planned after the first, its work read after its plan.
        calendar("ana", cadence=[{"days": ["daily"], "time": "10:00"}]),
    ]


def second_calendars(session: Session) -> list[Calendar]:
    """Edits: times, days removed (slots with drafts leave the calendar), overrides, a backlog reordered, a new creator."""
    from zoneinfo import ZoneInfo

    from agent.content_calendar.overrides import Add, Move, Overrides, Skip

    first = first_calendars()
    zone = ZoneInfo("Europe/Berlin")
    eve = upcoming(session, "eve", LATER)
    added_at = datetime.combine(eve[5].scheduled_at.astimezone(zone).date(), datetime.min.time()).replace(hour=16)
    eve_overrides = Overrides(
        moves=[Move(slot=eve[6].id, to=datetime.combine(eve[6].scheduled_at.astimezone(zone).date(), datetime.min.time()).replace(hour=15),
                    by="tester")],
        skips=[Skip(slot=eve[0].id, by="tester"), Skip(slot=eve[2].id), Skip(slot=eve[7].id)],   # approved, rejected, open
        adds=[Add(slot=f"eve:{added_at.date().isoformat()}:a1", at=added_at, pillar="bts")],
    )
    return [
        first[0],
        calendar("ben", timezone="America/New_York", cadence=[{"days": ["mon", "wed", "fri", "sun"], "time": "09:00"}]),  # days removed
        first[2],                                                                                                  # unchanged
        calendar("dan", timezone="Europe/London", persona={"name": "Dan", "niche": "baking"}, cadence=[{"days": ["daily"], "time": "18:00"}]),
        first[4].with_overrides(eve_overrides),
        calendar("fay", timezone="Australia/Sydney", cadence=[{"days": ["daily"], "time": "07:00"}],
                 backlog=[{"brief": f"fay brief {n}"} for n in reversed(range(12))]),
        calendar("gus", timezone="America/Sao_Paulo", cadence=[{"days": ["mon", "wed", "fri", "sun"], "time": "10:00"}], backlog=[]),  # days removed
        first[7],
        calendar("hal", timezone="UTC"),                                                                            # a new creator
    ]


def upcoming(session: Session, handle: str, after: datetime) -> list[Slot]:
    creator = session.execute(select(Creator).where(Creator.handle == handle)).scalar_one()
    return list(session.execute(select(Slot).where(Slot.creator_id == creator.id, Slot.scheduled_at > after)
                                .order_by(Slot.scheduled_at, Slot.id)).scalars())


def set_status(session: Session, reel: Reel, status: ReelStatus) -> None:
    session.execute(sa.update(Reel.__table__).where(Reel.__table__.c.id == reel.id).values(status=status.value))
    session.commit()


def act(session: Session) -> None:
    """Drafts, approvals, rejections (one slot rejected twice), a skipped draft, a published reel, ad-hoc reels."""
    for handle in ("ana", "ben", "dan", "eve", "fay", "gus"):
        creator = session.execute(select(Creator).where(Creator.handle == handle)).scalar_one()
        slots = upcoming(session, handle, LATER)

        def draft(slot: Slot | None, n: int) -> Reel:
            reel = add_draft(session, creator, slot=slot, script=f"{handle} script {n}.")
            session.commit()
            return reel

        def reject(reel: Reel) -> None:
            transition(session, reel, ReelStatus.REJECTED, actor="test", reason="not this one")
            session.commit()

        approve(session, [draft(slots[0], 0).id], actor="test")
        draft(slots[1], 1)
        reject(draft(slots[2], 2))
        reject(draft(slots[3], 3))
        reject(draft(slots[3], 4))          # rejected twice: the later one is redrafted
        skipped = draft(slots[4], 5)
        transition(session, skipped, ReelStatus.SKIPPED, actor="test", reason="not this week")
        session.commit()
        published = draft(slots[5], 6)
        approve(session, [published.id], actor="test")
        set_status(session, published, ReelStatus.PUBLISHED)
        if handle in ("ana", "dan", "gus"):
            reject(draft(None, 7))          # ad hoc, rejected: redrafted
            reject(draft(None, 8))
            draft(None, 9)                  # ad hoc, waiting: not work


def described(session: Session, calendars: list[Calendar], work: list[WorkItem]) -> list[tuple[Any, ...]]:
    """The work by natural keys: which calendar (its place in the list), which slot, which reel (by its script)."""
    scripts = dict(session.execute(sa.select(Reel.__table__.c.id, Reel.__table__.c.script)).all())
    place = {id(item): n for n, item in enumerate(calendars)}
    return [(place[id(item.calendar)], item.calendar.handle, sa.inspect(item.slot).identity[0] if item.slot is not None else None,
             scripts.get(item.reel_id) if item.reel_id is not None else None, item.topic) for item in work]


def snapshot(session: Session) -> dict[str, Any]:
    """What planning and the policies write, by natural keys (not row ids)."""
    session.expire_all()
    creators = {row.id: row for row in session.execute(sa.select(Creator.__table__)).all()}
    reels = {row.id: row for row in session.execute(sa.select(Reel.__table__)).all()}
    return {
        "creators": sorted((row.handle, row.timezone, row.calendar_path, str(row.persona)) for row in creators.values()),
        "slots": sorted((row.id, creators[row.creator_id].handle, row.scheduled_at, row.local_time, row.kind, row.peak, row.pillar, row.brief,
                         row.brief_key) for row in session.execute(sa.select(Slot.__table__)).all()),
        # approved_at: the policy's moment (the test's own approvals say when the test ran)
        "reels": sorted((row.slot_id or "", row.script, row.status, row.approved_by or "",
                         str(row.approved_at) if (row.approved_by or "").startswith("policy") else "") for row in reels.values()),
        "events": sorted((reels[row.reel_id].script, row.from_status or "", row.to_status, row.actor, row.reason)
                         for row in session.execute(sa.select(ReelEvent.__table__)).all()),
    }


def truncate(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(sa.text("TRUNCATE reelevent, scriptversion, reel, slot, creator RESTART IDENTITY CASCADE"))
        else:
            for table in ("reelevent", "scriptversion", "reel", "slot", "creator"):
                connection.execute(sa.text(f"DELETE FROM {table}"))


class Statements:
    """The SQL statements an engine runs while counting."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine, self.seen = engine, []

    def __enter__(self) -> Statements:
        sa.event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc_info: object) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._record)

    def _record(self, _connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.seen.append(statement.lstrip().split(None, 1)[0].upper())


def paths_of(calendars: list[Calendar]) -> dict[str, str]:
    return {item.handle: f"calendar/{item.handle}.yaml" for item in calendars}


def scenario(session: Session, find: Any) -> list[tuple[list[tuple[Any, ...]], dict[str, Any]]]:
    """Find the work (planning first) on a fresh database, act on the slots, edit the calendars, find it again, again
    (nothing changed), and a day later: what each step found and what the database held after it."""
    steps = []

    def step(calendars: list[Calendar], now: datetime) -> None:
        work = find(session, calendars, now=now, days=DAYS, paths=paths_of(calendars))
        steps.append((described(session, calendars, work), snapshot(session)))

    step(first_calendars(), NOW)
    act(session)
    edited = second_calendars(session)
    step(edited, LATER)
    step(edited, LATER)
    step(edited, LATER + timedelta(days=1, hours=5))
    return steps


#: find_work and the policies read with the handles named (a few calendars) or every creator's rows (many): both ways.
BOTH_READS = pytest.mark.parametrize("read_all_above", [2, 400], ids=["read-all", "read-named"])


@BOTH_READS
def test_bulk_find_work_finds_what_the_old_code_found_and_plans_the_same(db_url: str, read_all_above: int,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(planner, "BULK_CHUNK", 3)   # several chunks: rows of one chunk never leak into another's work
    monkeypatch.setattr(drafting, "READ_ALL_ABOVE", read_all_above)
    engine = make_engine(db_url)
    with Session(engine, expire_on_commit=False) as session:
        expected = scenario(session, reference_find_work)
    truncate(engine)
    with Session(engine, expire_on_commit=False) as session:
        got = scenario(session, find_work)

    # The scenario covers what it should (else the comparison proves little).
    first, second, third, fourth = (work for work, _rows in expected)
    rows = expected[1][1]
    assert len(first) > 40 and all(reel is None for *_, reel, _topic in first)
    assert {status for _slot, _script, status, *_ in rows["reels"]} == {"approved", "drafted", "rejected", "skipped", "published"}
    redrafts = {(handle, script) for _n, handle, slot, script, _t in second if script is not None}
    assert ("dan", "dan script 4.") in redrafts and ("dan", "dan script 3.") not in redrafts   # the later of two rejected reels
    assert ("gus", "gus script 2.") in redrafts                                                 # a rejected reel on a slot without a brief
    assert ("ana", "ana script 7.") in redrafts and ("dan", "dan script 8.") in redrafts       # ad hoc
    assert ("gus", "gus script 9.") not in redrafts and ("ben", "ben script 4.") not in redrafts
    skipped_by_planner = [event for event in rows["events"] if event[3] == "planner" and event[2] == "skipped"]
    assert any(script.startswith("ben ") for script, *_ in skipped_by_planner)   # slots that left ben's calendar
    assert any(script.startswith("eve ") for script, *_ in skipped_by_planner)   # eve's skipped slots
    # gus has no briefs: its open slot with a skipped draft (Sunday) is in the plan and drafted again; Saturday's, whose
    # rejected drafts the planner skipped when Saturday left the calendar, is not.
    gus_slots = {slot for _n, handle, slot, _s, _t in second if handle == "gus"}
    assert "gus:2026-06-07:w1" in gus_slots and "gus:2026-06-06:w1" not in gus_slots and "gus:2026-06-04:w1" not in gus_slots
    assert {n for n, *_ in second} >= {0, 7}, "both files naming @ana have work"
    assert third == second and fourth != third

    for number, (want, have) in enumerate(zip(expected, got, strict=True), start=1):
        assert have[0] == want[0], f"step {number}: the work differs"
        assert have[1] == want[1], f"step {number}: what planning wrote differs"


@BOTH_READS
def test_find_work_skips_planning_for_the_calendars_the_caller_says_are_planned(db_url: str, read_all_above: int,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """After a plan, reading with ``planned`` finds the same work, writes nothing and runs two queries (a third to look
    up a slot in doubt) for all the calendars."""
    monkeypatch.setattr(planner, "BULK_CHUNK", 3)
    monkeypatch.setattr(drafting, "READ_ALL_ABOVE", read_all_above)
    allowed = [True]
    real = drafting.sync_plans_or_one_by_one

    def guarded(*args: Any, **kwargs: Any) -> Any:
        assert allowed[0], "planned although the caller said the plan is current"
        return real(*args, **kwargs)

    monkeypatch.setattr(drafting, "sync_plans_or_one_by_one", guarded)
    engine = make_engine(db_url)
    with Session(engine, expire_on_commit=False) as session:
        find_work(session, first_calendars(), now=NOW, days=DAYS, paths=paths_of(first_calendars()))
        act(session)
        edited = second_calendars(session)
        for now in (LATER, LATER + timedelta(days=1, hours=5)):
            planned_work = find_work(session, edited, now=now, days=DAYS, paths=paths_of(edited))
            # Both files name @ana: only the second one's plan is the one in the database.
            single = [item for n, item in enumerate(edited) if n != 0]
            want = [row for row in described(session, edited, planned_work) if row[0] != 0]
            before = snapshot(session)
            allowed[0] = False
            with Statements(engine) as statements:
                work = find_work(session, single, now=now, days=DAYS, paths=paths_of(single), planned={item.handle for item in single})
            allowed[0] = True
            assert [(n + 1, *rest) for n, *rest in described(session, single, work)] == want
            assert snapshot(session) == before
            assert set(statements.seen) == {"SELECT"} and len(statements.seen) <= 3, statements.seen


def test_find_work_plans_one_by_one_when_the_bulk_plan_collides(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same fallback as the scheduler's plan sweep: a chunk that collides is planned with sync_plan, one by one."""
    calls = []
    real = planner.sync_plans

    def colliding(*args: Any, **kwargs: Any) -> Any:
        calls.append("bulk")
        raise ConcurrentChangeError("another process moved a reel")

    def one(*args: Any, **kwargs: Any) -> Any:
        calls.append("one")
        return sync_plan(*args, **kwargs)

    monkeypatch.setattr(planner, "sync_plans", colliding)
    monkeypatch.setattr(planner, "sync_plan", one)
    engine = make_engine(db_url)
    calendars = first_calendars()[:3]
    with Session(engine, expire_on_commit=False) as session:
        got = described(session, calendars, find_work(session, calendars, now=NOW, days=DAYS))
    assert calls == ["bulk", "one", "one", "one"]
    monkeypatch.setattr(planner, "sync_plans", real)
    truncate(engine)
    with Session(engine, expire_on_commit=False) as session:
        assert described(session, calendars, reference_find_work(session, calendars, now=NOW, days=DAYS)) == got


def test_the_draft_sweep_reads_without_planning_what_the_plan_sweep_planned(db_url: str, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Service.sweep_draft passes the calendars the plan sweep planned (and that did not change since) as ``planned``;
    the work it finds is what the old code found; an edited calendar is planned again by the draft sweep."""
    from agent.scheduler.service import Service
    from agent.settings import load_settings

    example = (REPO / "calendar" / "example.yaml").read_text(encoding="utf-8")
    (tmp_path / "calendar").mkdir()
    for n in range(5):
        (tmp_path / "calendar" / f"creator{n}.yaml").write_text(example.replace("handle: your.handle", f"handle: creator{n}"), encoding="utf-8")
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "settings.toml").write_text(f'[database]\nurl = "{db_url}"\n', encoding="utf-8")
    settings = load_settings(tmp_path).settings
    now = utcnow()
    service = Service(settings, tmp_path, clock=lambda: now)
    seen: list[tuple[set[str], list[WorkItem], list[Calendar]]] = []
    real = drafting.find_work

    def recording(session: Session, calendars: list[Calendar], **kwargs: Any) -> list[WorkItem]:
        work = real(session, calendars, **kwargs)
        seen.append((set(kwargs.get("planned", ())), described(session, calendars, work), calendars))
        return []   # nothing to draft: no model is started

    monkeypatch.setattr(drafting, "find_work", recording)
    service.sweep_plan()
    assert service.sweep_draft().summary == "nothing to draft"
    planned, work, calendars = seen[-1]
    assert planned == {f"creator{n}" for n in range(5)} and len(work) >= 5
    with Session(make_engine(db_url), expire_on_commit=False) as session:
        paths = {item.handle: f"calendar/{item.handle}.yaml" for item in calendars}   # as the sweep names them: the rows stay as they are
        old = described(session, calendars, reference_find_work(session, calendars, now=now, days=settings.drafting.lead_days, paths=paths))
    assert work == old
    edited = tmp_path / "calendar" / "creator3.yaml"
    edited.write_text(edited.read_text(encoding="utf-8").replace('time: "12:30"', 'time: "14:15"'), encoding="utf-8")
    service.sweep_draft()
    assert seen[-1][0] == {f"creator{n}" for n in range(5)} - {"creator3"}
    service.close()


# -- the approval policies ------------------------------------------------------------------------------------------


def policy_calendars() -> list[Calendar]:
    return [
        calendar("pia", approval={"auto_after_hours": 12}),
        calendar("quy", approval="skip_if_unapproved", cadence=[{"days": ["daily"], "time": "09:00"}]),
        calendar("ros"),                                                        # manual: never acts
        calendar("sam", approval={"auto_after_hours": 1}, timezone="Asia/Tokyo"),
        calendar("tia", approval="skip_if_unapproved", timezone="America/New_York"),
        calendar("quy", approval={"auto_after_hours": 30}),                      # a second file naming @quy
    ]


def policy_scenario(session: Session, apply: Any) -> list[Any]:
    """Drafts of several ages on slots soon and later, ad-hoc drafts, reels already acted on; the policies applied at
    three moments: which reels each report names, and what the database holds after it."""
    calendars = policy_calendars()
    for item in calendars:
        sync_plan(session, item, now=NOW, days=DAYS, path=f"calendar/{item.handle}.yaml")
    for n, handle in enumerate(("pia", "quy", "ros", "sam", "tia")):
        creator = session.execute(select(Creator).where(Creator.handle == handle)).scalar_one()
        slots = upcoming(session, handle, NOW)
        reels = []
        for index, slot in enumerate([*slots[:5], None, None]):
            reel = add_draft(session, creator, slot=slot, script=f"{handle} script {index}.")
            session.commit()
            reels.append(reel)
            age = timedelta(hours=(index * 7 + n) % 40)
            session.execute(sa.update(Reel.__table__).where(Reel.__table__.c.id == reel.id).values(updated_at=NOW - age))
            session.commit()
        approve(session, [reels[3].id], actor="test")
        transition(session, reels[4], ReelStatus.REJECTED, actor="test", reason="no")
        session.commit()
    results = []
    lead = timedelta(hours=6)
    for now in (NOW, NOW + timedelta(days=1, hours=2), NOW + timedelta(days=4)):
        reports = apply(session, calendars, now=now, render_lead=lead)
        scripts = dict(session.execute(sa.select(Reel.__table__.c.id, Reel.__table__.c.script)).all())
        results.append(([(r.handle, [scripts[i] for i in r.approved], [scripts[i] for i in r.skipped]) for r in reports], snapshot(session)))
    return results


@BOTH_READS
def test_bulk_policies_approve_and_skip_what_the_old_code_did(db_url: str, read_all_above: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(policies, "READ_ALL_ABOVE", read_all_above)
    engine = make_engine(db_url)

    def one_by_one(session: Session, calendars: list[Calendar], **kwargs: Any) -> list[PolicyReport]:
        return [reference_policy(session, item, **kwargs) for item in calendars]

    with Session(engine, expire_on_commit=False) as session:
        expected = policy_scenario(session, one_by_one)
    truncate(engine)
    with Session(engine, expire_on_commit=False) as session:
        got = policy_scenario(session, apply_approval_policies)

    acted = [(handle, approved, skipped) for reports, _rows in expected for handle, approved, skipped in reports if approved or skipped]
    assert {handle for handle, *_ in acted} == {"pia", "quy", "sam", "tia"}
    assert any(approved for _h, approved, _s in acted) and any(skipped for _h, _a, skipped in acted)
    assert any(handle == "quy" and approved for handle, approved, _s in acted), "the second file naming @quy acts too"
    assert all(not approved and not skipped for reports, _rows in expected for handle, approved, skipped in reports if handle == "ros")
    for number, (want, have) in enumerate(zip(expected, got, strict=True), start=1):
        assert have[0] == want[0], f"moment {number}: the reports differ"
        assert have[1] == want[1], f"moment {number}: the reels or their history differ"


@BOTH_READS
def test_bulk_policies_read_once_and_leave_manual_creators_alone(db_url: str, read_all_above: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(policies, "READ_ALL_ABOVE", read_all_above)
    engine = make_engine(db_url)
    calendars = [calendar(f"c{n}", approval={"auto_after_hours": 12}) for n in range(5)] + [calendar(f"m{n}") for n in range(5)]
    with Session(engine, expire_on_commit=False) as session:
        for item in calendars:
            sync_plan(session, item, now=NOW, days=DAYS)
        with Statements(engine) as statements:
            reports = apply_approval_policies(session, calendars, now=NOW)
        assert [report.handle for report in reports] == [item.handle for item in calendars]
        assert statements.seen == ["SELECT"]          # one for the five acting creators, none for the manual ones
        with Statements(engine) as statements:
            assert apply_approval_policies(session, calendars[5:], now=NOW + timedelta(days=30))[0].handle == "m0"
        assert statements.seen == []
        assert apply_approval_policy(session, calendars[0], now=NOW).approved == []


def test_the_policy_sweep_uses_the_bulk_path(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from agent.scheduler.service import Service
    from agent.settings import load_settings

    example = (REPO / "calendar" / "example.yaml").read_text(encoding="utf-8")
    (tmp_path / "calendar").mkdir()
    for n in range(3):
        text = example.replace("handle: your.handle", f"handle: creator{n}").replace("approval: manual", "approval:\n  auto_after_hours: 1")
        (tmp_path / "calendar" / f"creator{n}.yaml").write_text(text, encoding="utf-8")
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "settings.toml").write_text(f'[database]\nurl = "{db_url}"\n[scheduler]\ndraft_ahead = false\n', encoding="utf-8")
    now = utcnow()
    service = Service(load_settings(tmp_path).settings, tmp_path, clock=lambda: now + timedelta(hours=2))
    service.sweep_plan()
    with Session(make_engine(db_url), expire_on_commit=False) as session:
        for creator in session.execute(select(Creator)).scalars().all():
            slot = upcoming(session, creator.handle, now)[0]
            add_draft(session, creator, slot=slot, script=f"{creator.handle} script.")
            session.commit()

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("the sweep applied the policy one creator at a time")

    monkeypatch.setattr(policies, "apply_approval_policy", refuse)
    assert service.sweep_policies().summary == "3 approved, 0 skipped by policy"
    assert service.sweep_policies().summary == "0 approved, 0 skipped by policy"
    service.close()
