"""Webhook notifications: Slack/Discord shapes, sent by the service's sweeps, never blocking, never leaking secrets."""

from __future__ import annotations

import http.server
import json
import shutil
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from cli_helpers import make_test_video
from sqlalchemy import select

from agent.content_calendar.loader import load_calendar
from agent.content_calendar.planner import sync_plan
from agent.db.models import Creator, Reel, utcnow
from agent.notify import Notifier
from agent.approval.queue import add_draft, approve
from agent.scheduler.service import Service
from agent.settings import load_settings

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def hook():  # noqa: ANN201
    received: list[dict] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks/T000/B000/secret-path", received
    server.shutdown()


def test_payload_shapes() -> None:
    assert Notifier("https://hooks.slack.com/services/T/B/x").payload("hi") == {"text": "hi"}
    assert Notifier("https://discord.com/api/webhooks/1/abc").payload("hi") == {"content": "hi"}
    assert Notifier(None).send("nothing") is False


def test_an_unreachable_webhook_never_breaks_anything(caplog: pytest.LogCaptureFixture) -> None:
    notifier = Notifier("http://127.0.0.1:9/hooks/secret-token-xyz", timeout_s=1)
    assert notifier.failed(3, "anna", "boom") is False
    assert "secret-token-xyz" not in caplog.text


def test_the_publish_sweep_notifies_published(db_url: str, tmp_path: Path, hook, session) -> None:  # noqa: ANN001
    url, received = hook
    (tmp_path / "calendar").mkdir()
    shutil.copy(REPO / "calendar" / "example.yaml", tmp_path / "calendar" / "your.handle.yaml")
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "settings.toml").write_text(
        f'[database]\nurl = "{db_url}"\n[scheduler]\ndraft_ahead = false\nwebhook_url = "{url}"\npublic_web_url = "https://reels.example.com"\n'
        '[web]\nsecret_key = "do-not-leak-this-secret"\n', encoding="utf-8")
    settings = load_settings(tmp_path).settings
    video = make_test_video(settings.data_dir / "renders" / "reel.mp4")
    calendar = load_calendar(tmp_path / "calendar" / "your.handle.yaml").calendar
    slot = sync_plan(session, calendar, now=utcnow(), days=14).slots[0]
    creator = session.execute(select(Creator)).scalar_one()
    reel = add_draft(session, creator, slot=slot, script="Pre-cut vegetables cost you twice.")
    session.commit()
    approve(session, [reel.id])
    session.execute(Reel.__table__.update().where(Reel.id == reel.id).values(status="rendered", artifacts={"video": str(video)}, publish_at=utcnow() - timedelta(minutes=1)))
    session.commit()
    service = Service(settings, tmp_path)
    results = {r.name: r.summary for r in service.run_once()}
    assert results["publish"] == "1 published"
    [message] = received
    assert message["text"].startswith(f"@your.handle: reel {reel.id} is published.")
    assert "do-not-leak-this-secret" not in json.dumps(message) and "secret-path" not in json.dumps(message)
