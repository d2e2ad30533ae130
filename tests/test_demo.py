"""`reeltwin demo --seconds 8`: the whole pipeline offline, and its reel passes `reeltwin qa`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_helpers import reeltwin

pytestmark = pytest.mark.slow  # the whole demo, end to end

pytest.importorskip("mediapipe")
pytest.importorskip("llama_cpp")


@pytest.mark.timeout(900)
def test_demo_runs_offline_and_its_reel_passes_qa(tmp_path: Path) -> None:
    # The user's own settings in the environment must not reach the demo: it writes only into --out.
    decoy = tmp_path / "users-data"
    decoy.mkdir()
    result = reeltwin(tmp_path, "demo", "--out", str(tmp_path / "demo"), "--seconds", "8", "--json", timeout=900,
                      REELTWIN_DATA_DIR=str(decoy), REELTWIN_DATABASE__URL=f"sqlite:///{decoy / 'users.db'}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert list(decoy.iterdir()) == []
    payload = json.loads(result.stdout)
    assert payload["qa_passed"] is True
    assert [s["stage"] for s in payload["stages"]] == ["setup", "enroll avatar", "enroll voice", "draft", "approve", "render", "publish (outbox)"]
    # The demo speaks with a real enrolled voice (alsa-utils and codec2-examples are installed by `make install`).
    voice = next(s for s in payload["stages"] if s["stage"] == "enroll voice")
    assert "voice matching" in voice["detail"] and "bundled" not in voice["detail"], voice
    video = Path(payload["video"])
    assert video.exists() and Path(payload["cover"]).exists() and Path(payload["srt"]).read_text().strip()
    assert 3.0 <= payload["duration_s"] <= 20.0
    qa = reeltwin(tmp_path, "qa", str(video), "--json", timeout=300)
    assert qa.returncode == 0, qa.stderr
    assert json.loads(qa.stdout)["passed"] is True
    # Published to the outbox only, with the AI label and the demo's consent on record.
    outbox = Path(payload["outbox"])
    assert outbox.exists()
    project = Path(payload["project"])
    shown = reeltwin(project, "show", str(payload["reel_id"]), "--json")
    assert shown.returncode == 0 and json.loads(shown.stdout)["status"] == "published"
