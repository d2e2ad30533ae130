"""A week of `reeltwin run` in seconds: plan, draft, auto-approve, (render), publish at the slot times, exactly once.

The clock is injected and moves an hour per step. Drafts come from a local
OpenAI-compatible server that answers with a recorded completion. A real render
takes tens of seconds a reel, so here the render sweep is switched off
(`scheduler.render_ahead = false`) and the test stands in for it, moving approved
reels through `rendering → rendered` with a real MP4 when their render lead time
starts, exactly as the sweep does through the state machine; the real render
sweep is tested in tests/test_render_reels.py.
"""

from __future__ import annotations

import http.server
import json
import threading
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from cli_helpers import make_test_video
from sqlalchemy import select

from agent.db.models import Reel, ReelStatus, Slot, utcnow
from agent.db.states import claim, transition
from agent.scheduler.service import Service
from agent.settings import load_settings

REPO = Path(__file__).resolve().parent.parent
RECORDED = json.loads((Path(__file__).parent / "fixtures" / "openai" / "good_draft.json").read_text())["body"]


@pytest.fixture
def llm_server():  # noqa: ANN201
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers["Content-Length"]))
            body = json.dumps(RECORDED).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def test_a_week_runs_hands_off(db_url: str, tmp_path: Path, session, llm_server: str) -> None:
    (tmp_path / "calendar").mkdir()
    calendar_text = (REPO / "calendar" / "example.yaml").read_text(encoding="utf-8").replace("approval: manual", "approval:\n  auto_after_hours: 6")
    (tmp_path / "calendar" / "your.handle.yaml").write_text(calendar_text, encoding="utf-8")
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "settings.toml").write_text(
        f'[database]\nurl = "{db_url}"\n[drafting]\nprovider = "openai"\nbase_url = "{llm_server}"\nmodel = "recorded"\nlead_days = 3\n'
        '[scheduler]\nrender_lead_hours = 4\npublish_grace_minutes = 120\nrender_ahead = false\n', encoding="utf-8")
    settings = load_settings(tmp_path).settings
    video = make_test_video(settings.data_dir / "renders" / "reel.mp4")

    # Start at the next local midnight: no slot falls inside the first hours, so every draft can be
    # approved by the policy and rendered before its slot (what a late approval does is tested in test_publish).
    zone = ZoneInfo("Europe/Berlin")
    local_now = utcnow().astimezone(zone)
    start = datetime.combine(local_now.date() + timedelta(days=1), time(0, 0), tzinfo=zone).astimezone(UTC)
    clock = [start]
    service = Service(settings, tmp_path, clock=lambda: clock[0])
    published_at_step: dict[int, object] = {}
    for _hour in range(8 * 24):
        service.run_once()
        # The render sweep's part, stood in for to keep a week fast (the real render sweep: tests/test_render_reels.py).
        for reel, slot in session.execute(select(Reel, Slot).join(Slot, Reel.slot_id == Slot.id).where(Reel.status == ReelStatus.APPROVED)).all():
            if slot.scheduled_at - timedelta(hours=settings.scheduler.render_lead_hours) <= clock[0]:
                claimed = claim(session, reel.id, ReelStatus.APPROVED, ReelStatus.RENDERING, worker="render-stand-in")
                transition(session, claimed, ReelStatus.RENDERED, actor="render-stand-in", reason="rendered", artifacts={"video": str(video)})
                session.commit()
        session.expire_all()
        for reel in session.execute(select(Reel).where(Reel.status == ReelStatus.PUBLISHED)).scalars():
            published_at_step.setdefault(reel.id, clock[0])
        clock[0] += timedelta(hours=1)

    slots = list(session.execute(select(Slot).where(Slot.scheduled_at > start + timedelta(hours=1), Slot.scheduled_at <= start + timedelta(days=7))).scalars())
    assert len(slots) >= 3
    for slot in slots:
        reels = list(session.execute(select(Reel).where(Reel.slot_id == slot.id)).scalars())
        assert [r.status for r in reels] == [ReelStatus.PUBLISHED], (slot.id, [r.status for r in reels])
        reel = reels[0]
        assert reel.approved_by == "policy:auto_after_hours" and reel.publish_at is None
        # Published in the sweep right after its time (the clock moves in hours), not before.
        assert timedelta(0) <= published_at_step[reel.id] - slot.scheduled_at < timedelta(hours=1), slot.id
        if slot.peak:
            assert 7 <= slot.scheduled_at.astimezone(zone).hour < 22
    folders = [p for p in settings.outbox_dir.iterdir() if not p.name.endswith(".partial")]
    assert len(folders) == len(list(session.execute(select(Reel).where(Reel.status == ReelStatus.PUBLISHED)).scalars()))
