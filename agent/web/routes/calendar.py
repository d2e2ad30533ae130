"""The calendar page: a week or month grid of each creator's slots with their reels' state and covers; move a slot,
skip it, put it back, or add a reel on a day. The changes are the ones ``reeltwin calendar move|skip|add`` makes
(:mod:`agent.content_calendar.changes`), kept beside the calendar file, never in it. Calendar files with problems
show their ``file:line:`` problems instead."""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlmodel import Session

from agent.db.models import Creator, Reel, ReelStatus, Slot, utcnow
from agent.errors import AgentError, CalendarError, NotFoundError
from agent.settings import Settings
from agent.web.deps import NO_PAGE, CsrfChecked, SessionDep, SettingsDep, Viewer, WebUser, flash, redirect_back, render_page, require_creator
from agent.web.messages import STATE_WORDS, actor_label, error_message

router = APIRouter()

#: Reels whose cover the grid shows (it exists once the reel is rendered).
_WITH_COVER = frozenset({ReelStatus.RENDERED, ReelStatus.PUBLISHING, ReelStatus.PUBLISHED})
#: Reels whose slot can no longer be moved or skipped.
_POSTING = frozenset({ReelStatus.PUBLISHING, ReelStatus.PUBLISHED})
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass
class Cell:
    """One slot in the grid."""

    slot_id: str
    local: datetime
    state: str                    # a reel state, "open" (no draft yet) or "skipped"
    label: str
    pillar: str | None = None
    brief: str | None = None
    reel: Reel | None = None
    cover: bool = False
    peak: bool = False
    moved_from: str | None = None
    added: bool = False
    added_by: str | None = None   # who added it, as the viewer reads it ("you (on the web)")
    skipped: bool = False
    can_change: bool = False      # in the future and not being posted: may be moved or skipped
    can_unskip: bool = False

    @property
    def anchor(self) -> str:
        return "slot-" + self.slot_id.replace(":", "-").replace(".", "-")


@dataclass
class Day:
    day: date
    in_range: bool
    today: bool
    past: bool
    cells: list[Cell] = field(default_factory=list)


@router.get("/calendar", response_class=HTMLResponse)
def calendar_page(request: Request, db: SessionDep, user: Viewer, settings: SettingsDep, view: str = "week", on: str | None = None,
                  creator: str | None = None) -> HTMLResponse:
    return _page(request, db, settings, user, view=view, on=on, creator=creator)


def _page(request: Request, db: Session, settings: Settings, user: WebUser, *, view: str, on: str | None, creator: str | None,
          refused: dict[str, Any] | None = None) -> HTMLResponse:
    """The page; with ``refused`` (a change the rules refused), that change's form open again with what was typed and why not."""
    views = calendar_view(db, settings, user)
    valid = [entry for entry in views if entry.get("handle")]
    if creator is not None:
        require_creator(user, creator)
        chosen = next((entry for entry in valid if entry["handle"] == creator), None)
        if chosen is None:
            raise NotFoundError(NO_PAGE)
    else:
        chosen = valid[0] if valid else None
    grid = None
    if chosen is not None:
        mode = "month" if view == "month" else "week"
        try:
            anchor = date.fromisoformat(on) if on else None
        except ValueError:
            anchor = None
        grid = build_grid(db, chosen["loaded"], mode, anchor, viewer=user.name)
    error = None
    if refused is not None:
        shown = grid is not None and grid["mode"] == "week" and (
            any(cell.slot_id == refused.get("slot") for day in grid["weeks"][0] for cell in day.cells) if refused.get("slot")
            else any(day.day.isoformat() == refused.get("day") and not day.past for day in grid["weeks"][0]))
        if not shown:   # its form is not on this page: say it at the top
            error, refused = refused["message"], None
    return render_page(request, "calendar.html", status_code=200 if refused is None and error is None else 422, calendars=views, grid=grid,
                       chosen=chosen, creators=[entry["handle"] for entry in valid], refused=refused, error=error)


def calendar_view(db: Session, settings: Settings, user: WebUser | None = None) -> list[dict[str, Any]]:
    """Each calendar file's view; with ``user``, only their creators' calendars (``<handle>.yaml``)."""
    from agent.content_calendar.loader import calendar_files, display_path, load_calendar

    views = []
    for path in calendar_files(settings.calendar_dir, include_templates=False):
        if user is not None and not user.may_see(path.stem):  # a calendar file is named after its handle
            continue
        view: dict[str, Any] = {"file": display_path(path, settings.calendar_dir.parent), "problems": []}
        try:
            loaded = load_calendar(path, base=settings.calendar_dir.parent)
        except CalendarError as error:
            view["problems"] = error.problems
            views.append(view)
            continue
        if user is not None and not user.may_see(loaded.calendar.handle):
            continue
        view.update(handle=loaded.calendar.handle, timezone=loaded.calendar.timezone, loaded=loaded)
        views.append(view)
    return views


def _range(mode: str, anchor: date) -> tuple[date, date, date, date]:
    """(first day shown, day after the last, previous anchor, next anchor): whole weeks from Monday."""
    if mode == "month":
        first_of_month = anchor.replace(day=1)
        next_month = (first_of_month + timedelta(days=32)).replace(day=1)
        previous_month = (first_of_month - timedelta(days=1)).replace(day=1)
        start = first_of_month - timedelta(days=first_of_month.weekday())
        end = next_month + timedelta(days=(7 - next_month.weekday()) % 7)
        return start, end, previous_month, next_month
    start = anchor - timedelta(days=anchor.weekday())
    return start, start + timedelta(days=7), start - timedelta(days=7), start + timedelta(days=7)


def _title(mode: str, start: date, end: date, anchor: date) -> str:
    if mode == "month":
        return anchor.strftime("%B %Y")
    last = end - timedelta(days=1)
    if start.month == last.month:
        return f"{start.day}–{last.day} {last:%b %Y}"
    if start.year == last.year:
        return f"{start.day} {start:%b} – {last.day} {last:%b %Y}"
    return f"{start.day} {start:%b %Y} – {last.day} {last:%b %Y}"


def build_grid(db: Session, loaded: Any, mode: str, anchor: date | None, *, viewer: str | None = None) -> dict[str, Any]:
    """The days of the week or month around ``anchor`` with the calendar's slots: the database's slots and reels where
    planned, the plan (with the grid's moves, skips and added reels) beyond."""
    from agent.content_calendar.peaks import peak_time_for
    from agent.content_calendar.slots import expand
    from agent.db.states import LIVE

    calendar = loaded.calendar
    zone = ZoneInfo(calendar.timezone)
    now = utcnow()
    today = now.astimezone(zone).date()
    anchor = anchor or today
    start, end, previous, following = _range(mode, anchor)
    start_utc = datetime.combine(start, time(0), tzinfo=zone).astimezone(now.tzinfo)
    end_utc = datetime.combine(end, time(0), tzinfo=zone).astimezone(now.tzinfo)
    creator = db.execute(select(Creator).where(Creator.handle == calendar.handle)).scalar_one_or_none()
    peak_time = peak_time_for(calendar, start_utc, (end - start).days, audience=creator.audience if creator else None)
    planned = {slot.slot_id: slot for slot in expand(calendar, start_utc, end_utc, peak_time=peak_time)}
    overrides = calendar.overrides
    rows: dict[str, Slot] = {}
    reels: dict[str, list[Reel]] = {}
    if creator is not None:
        rows = {row.id: row for row in db.execute(select(Slot).where(Slot.creator_id == creator.id, Slot.scheduled_at >= start_utc,
                                                                       Slot.scheduled_at < end_utc)).scalars()}
        wanted = set(rows) | set(planned) | {skip.slot for skip in overrides.skips}
        for reel in db.execute(select(Reel).where(Reel.creator_id == creator.id, Reel.slot_id.in_(sorted(wanted))).order_by(Reel.id)).scalars():
            reels.setdefault(reel.slot_id, []).append(reel)

    def reel_of(slot_id: str) -> Reel | None:
        on_slot = reels.get(slot_id, [])
        return next((reel for reel in reversed(on_slot) if ReelStatus(reel.status) in LIVE), on_slot[-1] if on_slot else None)

    cells: list[Cell] = []
    skipped = overrides.skipped()
    for slot_id in sorted(set(planned) | set(rows)):
        if slot_id in skipped:
            continue
        row, plan, reel = rows.get(slot_id), planned.get(slot_id), reel_of(slot_id)
        live = reel is not None and ReelStatus(reel.status) in LIVE
        if plan is None and not live and not (row is not None and row.scheduled_at < now and reel is not None):
            continue   # left the calendar (its draft, if any, was set aside)
        if reel is None and (row.scheduled_at if row is not None else plan.utc) < now:
            continue   # a past slot nothing was made for: nothing to show
        local = row.scheduled_at.astimezone(zone) if row is not None else plan.local
        if live and reel.publish_at is not None and ReelStatus(reel.status) not in _POSTING:
            local = reel.publish_at.astimezone(zone)   # rescheduled on its reel page: its own time goes first
        if not (start_utc <= local < end_utc):
            continue
        move, add = overrides.move_of(slot_id), overrides.add_of(slot_id)
        cell = _cell(slot_id, local, reel, row, plan, now, moved_from=move.moved_from if move else None, added=add is not None)
        if add is not None and add.by:
            cell.added_by = actor_label(add.by, viewer=viewer)
        cells.append(cell)
    for skip in overrides.skips:
        try:
            local = datetime.fromisoformat(skip.at).replace(tzinfo=zone) if skip.at else None
        except ValueError:
            local = None
        if local is None or not (start_utc <= local < end_utc):
            continue
        reel = reel_of(skip.slot)
        cells.append(Cell(slot_id=skip.slot, local=local, state="skipped", label="skipped", reel=reel, skipped=True, can_unskip=local > now,
                          pillar=planned[skip.slot].pillar if skip.slot in planned else None))
    cells.sort(key=lambda cell: (cell.local, cell.slot_id))

    days: list[Day] = []
    day = start
    while day < end:
        days.append(Day(day=day, in_range=mode == "week" or day.month == anchor.month, today=day == today, past=day < today))
        day += timedelta(days=1)
    by_day = {entry.day: entry for entry in days}
    for cell in cells:
        if cell.local.date() in by_day:
            by_day[cell.local.date()].cells.append(cell)

    def link(**changes: Any) -> str:
        params = {"view": mode, "on": anchor.isoformat(), "creator": calendar.handle, **changes}
        return "/calendar?" + urlencode(params)

    quiet_start, quiet_end = calendar.quiet_hour_range()
    return {
        "mode": mode,
        "handle": calendar.handle,
        "timezone": calendar.timezone,
        "title": _title(mode, start, end, anchor),
        "weeks": [days[index:index + 7] for index in range(0, len(days), 7)],
        "weekdays": _WEEKDAYS,
        "pillars": calendar.pillar_names(),
        "quiet": None if quiet_start == quiet_end else f"{quiet_start:02d}:00–{quiet_end:02d}:00",
        "min_gap": f"{calendar.min_gap_hours:g}",
        "today": today,
        "links": {
            "week": link(view="week"), "month": link(view="month"),
            "previous": link(on=previous.isoformat()), "next": link(on=following.isoformat()), "today": link(on=today.isoformat()),
        },
        "here": link(),
        "week_of": lambda day: link(view="week", on=day.isoformat()),
        "add_time": _default_add_time(calendar),
    }


def _default_add_time(calendar: Any) -> str:
    """The time an added reel starts at in its form: the calendar's first fixed cadence time, else 18:00."""
    for entry in calendar.cadence:
        if entry.time != "peak":
            return entry.time.strftime("%H:%M")
    return "18:00"


def _cell(slot_id: str, local: datetime, reel: Reel | None, row: Slot | None, plan: Any, now: datetime, *, moved_from: str | None,
          added: bool) -> Cell:
    status = ReelStatus(reel.status) if reel is not None else None
    state = status.value if status is not None else "open"
    label = STATE_WORDS.get(state, state) if status is not None else ("passed" if local <= now else "not drafted yet")
    source = row if row is not None else plan
    moved = None
    if moved_from:
        try:
            moved = f"{datetime.fromisoformat(moved_from):%a %d %b %H:%M}"
        except ValueError:
            moved = moved_from
    return Cell(
        slot_id=slot_id, local=local, state=state, label=label, pillar=getattr(source, "pillar", None), brief=getattr(source, "brief", None),
        reel=reel, cover=status in _WITH_COVER and bool((reel.artifacts or {}).get("cover")), peak=bool(getattr(source, "peak", False)),
        moved_from=moved, added=added, can_change=local > now and status not in _POSTING and status != ReelStatus.SKIPPED,
    )


# --------------------------------------------------------------------------- changes


def _calendar_of(settings: Settings, user: WebUser, handle: str) -> Any:
    """The loaded calendar of ``handle`` if this user may see it; anything else is the 404 page."""
    from agent.content_calendar.loader import calendar_files, load_calendar

    require_creator(user, handle)
    for path in calendar_files(settings.calendar_dir, include_templates=False):
        if path.stem == handle:
            return load_calendar(path, base=settings.calendar_dir.parent)
    raise NotFoundError(NO_PAGE)


def _slot_of(user: WebUser, handle: str, slot: str) -> str:
    """A slot id of ``handle``'s calendar; another creator's slot is the 404 page, like one that does not exist."""
    from agent.content_calendar.overrides import slot_id_parts

    parts = slot_id_parts(slot.strip())
    if parts is None or parts[0] != handle or not user.may_see(parts[0]):
        raise NotFoundError(NO_PAGE)
    return slot.strip()


def _local(day: str, at: str) -> datetime | None:
    try:
        moment = datetime.combine(date.fromisoformat(day.strip()), time.fromisoformat(at.strip()[:5]))
    except ValueError:
        return None
    return moment


def _back(back: str, handle: str) -> str:
    """The grid page the form was on (a local /calendar address only), else the creator's calendar."""
    return back.split("#")[0] if back.startswith("/calendar") else "/calendar?" + urlencode({"creator": handle})


def _apply(request: Request, db: Session, settings: Settings, user: WebUser, action: Any, *, handle: str, back: str, failed: str,
           refused: dict[str, Any]) -> Response:
    """Make the change and go back to the grid at its slot; refused, the same week again with the form open, what was
    typed kept, and why not beside it."""
    try:
        change = action()
    except NotFoundError:
        raise
    except CalendarError as error:
        message = f"{failed} the calendar file has a problem: {error.problems[0] if error.problems else error}"
    except AgentError as error:
        message = f"{failed} {error_message(error)}"
    else:
        flash(request, change.message)
        where = _back(back, handle) if change.local is None else "/calendar?" + urlencode(
            {"view": "week", "on": change.local.date().isoformat(), "creator": handle})   # the week the slot is in now
        return redirect_back(f"{where}#slot-{change.slot_id.replace(':', '-').replace('.', '-')}", "/calendar")
    db.rollback()
    query = parse_qs(urlparse(back).query) if back.startswith("/calendar") else {}
    return _page(request, db, settings, user, view="week", on=(query.get("on") or [None])[0], creator=handle,
                 refused={**refused, "message": message})


@router.post("/calendar/move", dependencies=[CsrfChecked])
def move(request: Request, db: SessionDep, user: Viewer, settings: SettingsDep, handle: str = Form(...), slot: str = Form(...),
         day: str = Form(""), at: str = Form(""), back: str = Form("")) -> Response:
    from agent.content_calendar.changes import move_slot

    slot_id = _slot_of(user, handle, slot)
    loaded = _calendar_of(settings, user, handle)
    target = _local(day, at)
    refused = {"kind": "move", "slot": slot_id, "day": day[:10], "at": at[:5]}
    if target is None:
        return _apply(request, db, settings, user, lambda: _missing("Pick a day and a time to move it to."), handle=handle, back=back,
                      failed="Not moved:", refused=refused)
    return _apply(request, db, settings, user, lambda: move_slot(db, loaded, slot_id, target, actor=user.actor), handle=handle, back=back,
                  failed="Not moved:", refused=refused)


def _missing(message: str) -> Any:
    from agent.errors import ValidationFailed

    raise ValidationFailed(message)


@router.post("/calendar/skip", dependencies=[CsrfChecked])
def skip(request: Request, db: SessionDep, user: Viewer, settings: SettingsDep, handle: str = Form(...), slot: str = Form(...),
         back: str = Form("")) -> Response:
    from agent.content_calendar.changes import skip_slot

    slot_id = _slot_of(user, handle, slot)
    loaded = _calendar_of(settings, user, handle)
    return _apply(request, db, settings, user, lambda: skip_slot(db, loaded, slot_id, actor=user.actor), handle=handle, back=back,
                  failed="Not skipped:", refused={"kind": "skip", "slot": slot_id})


@router.post("/calendar/unskip", dependencies=[CsrfChecked])
def unskip(request: Request, db: SessionDep, user: Viewer, settings: SettingsDep, handle: str = Form(...), slot: str = Form(...),
           back: str = Form("")) -> Response:
    from agent.content_calendar.changes import unskip_slot

    slot_id = _slot_of(user, handle, slot)
    loaded = _calendar_of(settings, user, handle)
    return _apply(request, db, settings, user, lambda: unskip_slot(db, loaded, slot_id, actor=user.actor), handle=handle, back=back,
                  failed="Not put back:", refused={"kind": "unskip", "slot": slot_id})


@router.post("/calendar/add", dependencies=[CsrfChecked])
def add(request: Request, db: SessionDep, user: Viewer, settings: SettingsDep, handle: str = Form(...), day: str = Form(""),
        at: str = Form(""), pillar: str = Form(""), brief: str = Form(""), back: str = Form("")) -> Response:
    from agent.content_calendar.changes import add_slot

    loaded = _calendar_of(settings, user, handle)
    target = _local(day, at)
    refused = {"kind": "add", "day": day[:10], "at": at[:5], "pillar": pillar[:64], "brief": brief[:2000]}
    if target is None:
        return _apply(request, db, settings, user, lambda: _missing("Pick a time for the reel."), handle=handle, back=back,
                      failed="Not added:", refused=refused)
    return _apply(request, db, settings, user, lambda: add_slot(db, loaded, target, actor=user.actor, pillar=pillar or None, brief=brief or None),
                  handle=handle, back=back, failed="Not added:", refused=refused)
