"""A week of `reeltwin run` with an injected clock: plan, draft, auto-approve, render, publish at the slot times, exactly once.

The clock moves an hour per step. Two weeks are run:

- on both databases, fast: drafts come from a local OpenAI-compatible server that
  answers with a recorded completion, and the test stands in for the render sweep
  (`scheduler.render_ahead = false`), moving approved reels through
  `rendering → rendered` with a real MP4 when their render lead time starts;
- on SQLite, for real: the embedded model drafts every script, the render sweep
  voices, animates, captions, composes and QA-checks every reel with the enrolled
  avatar, and the outbox publisher posts them (a few minutes on 2 cores).
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

pytestmark = pytest.mark.slow  # a simulated week with the real embedded model and real renders

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


@pytest.mark.timeout(1800)
def test_a_week_with_the_embedded_model_and_real_renders(tmp_path: Path) -> None:
    pytest.importorskip("mediapipe")
    pytest.importorskip("llama_cpp")
    pytest.importorskip("piper")
    from PIL import Image
    from skimage import data
    from sqlmodel import Session

    from agent.enrollment.avatars import enroll
    from agent.db.engine import make_engine, upgrade

    (tmp_path / "calendar").mkdir()
    calendar_text = (REPO / "calendar" / "example.yaml").read_text(encoding="utf-8")
    calendar_text = calendar_text.replace("approval: manual", "approval:\n  auto_after_hours: 6").replace("reel_length_s: 30", "reel_length_s: 15")
    (tmp_path / "calendar" / "your.handle.yaml").write_text(calendar_text, encoding="utf-8")
    (tmp_path / "config").mkdir()
    url = f"sqlite:///{tmp_path / 'reeltwin.db'}"
    (tmp_path / "config" / "settings.toml").write_text(
        f'[database]\nurl = "{url}"\n[drafting]\nlead_days = 3\nseed = 5\n'
        '[scheduler]\nrender_lead_hours = 4\npublish_grace_minutes = 120\n', encoding="utf-8")
    settings = load_settings(tmp_path).settings
    assert settings.drafting.provider == "embedded" and settings.scheduler.render_ahead
    engine = make_engine(url)
    upgrade(engine)
    photo = tmp_path / "me.png"
    Image.fromarray(data.astronaut()).save(photo)
    with Session(engine, expire_on_commit=False) as session:
        enroll(session, settings.data_dir, photo, name="your.handle", consent=True)

        zone = ZoneInfo("Europe/Berlin")
        start = datetime.combine(utcnow().astimezone(zone).date() + timedelta(days=1), time(0, 0), tzinfo=zone).astimezone(UTC)
        clock = [start]
        service = Service(settings, tmp_path, clock=lambda: clock[0])
        published_at: dict[int, datetime] = {}
        for _hour in range(8 * 24):
            service.run_once()
            session.expire_all()
            for reel in session.execute(select(Reel).where(Reel.status == ReelStatus.PUBLISHED)).scalars():
                published_at.setdefault(reel.id, clock[0])
            clock[0] += timedelta(hours=1)

        slots = list(session.execute(select(Slot).where(Slot.scheduled_at > start + timedelta(hours=1), Slot.scheduled_at <= start + timedelta(days=7))).scalars())
        assert len(slots) >= 3
        for slot in slots:
            reels = list(session.execute(select(Reel).where(Reel.slot_id == slot.id)).scalars())
            assert [r.status for r in reels] == [ReelStatus.PUBLISHED], (slot.id, [(r.status, r.last_error) for r in reels])
            reel = reels[0]
            assert reel.approved_by == "policy:auto_after_hours"
            assert timedelta(0) <= published_at[reel.id] - slot.scheduled_at < timedelta(hours=1), slot.id
            # Rendered for real: the creator's avatar, the bundled voice, captions, and a QA report that passed.
            assert reel.artifacts["avatar"] == "your.handle"
            video = Path(reel.artifacts["video"])
            assert video.stat().st_size > 100_000 and Path(reel.artifacts["srt"]).read_text().strip()
            report = json.loads(Path(reel.artifacts["report"]).read_text())
            assert report["passed"] is True, [c for c in report["checks"] if not c["passed"]]
            assert len(reel.script.split()) >= 15
        folders = [p for p in settings.outbox_dir.iterdir() if not p.name.endswith(".partial")]
        published = list(session.execute(select(Reel).where(Reel.status == ReelStatus.PUBLISHED)).scalars())
        assert len(folders) == len(published) >= len(slots)
        for folder in folders:
            metadata = json.loads((folder / "metadata.json").read_text())
            assert metadata["ai_generated"] is True and (folder / "reel.mp4").stat().st_size > 100_000

