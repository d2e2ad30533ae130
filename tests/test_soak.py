"""The fault soak: 200 reels published through the real publish sweep, in a worker process, against a fake Instagram
that fails at random (5xx, 429 with Retry-After, dropped connections, answers lost after the work was done,
containers ending in retryable and final errors), while the test SIGKILLs the worker twice mid-run.

Asserted at the end: no reel lost (each is published or failed with a final, non-retryable reason), none published
twice, and the database agrees with the server (the same media ids, each once).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from cli_helpers import make_test_video
from fake_graph import Fault, FakeGraph
from sqlalchemy import select
from sqlmodel import Session

from agent.db.engine import make_engine
from agent.db.models import Creator, Reel, ReelStatus, utcnow
from agent.settings import load_settings

REELS = 200
WORKER = Path(__file__).with_name("soak_worker.py")


def _chaos(seed: int):  # noqa: ANN202
    rng = random.Random(seed)
    faults = [
        lambda: Fault.http(500, body={"error": {"message": "An unexpected error has occurred.", "type": "OAuthException", "code": 2, "is_transient": True}}),
        lambda: Fault.http(503, body="Service Unavailable"),
        lambda: Fault.graph_error(4, "Application request limit reached", status=429, headers={"Retry-After": "1"}),
        lambda: Fault.graph_error(4, "Application request limit reached", status=429),
        Fault.drop,
        Fault.lost_response,
    ]

    def fault(endpoint: str) -> Fault | None:
        if endpoint in ("create", "publish", "container", "list", "quota", "media") and rng.random() < 0.12:
            return rng.choice(faults)()
        return None

    def container() -> tuple[int | None, str, str] | None:
        roll = rng.random()
        if roll < 0.08:
            return (0, "ERROR", "Error: Media upload has failed with error code 2207001")   # retryable: a new container
        if roll < 0.10:
            return (0, "ERROR", "Error: Media upload has failed with error code 2207026")   # final: the video itself
        return None

    return fault, container


def _start(project: Path, graph: FakeGraph, name: str, offset_min: int, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(WORKER), str(project), graph.base_url, graph.ig_user_id, graph.access_token, name, str(offset_min)],
                            stdout=log.open("a"), stderr=subprocess.STDOUT, start_new_session=True)


@pytest.mark.slow
def test_200_reels_under_random_faults_and_two_kills_publish_exactly_once(tmp_path: Path, db_url: str) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "settings.toml").write_text(
        f'[database]\nurl = "{db_url}"\n[scheduler]\nmax_attempts = 40\nbackoff_base_s = 60\npublish_grace_minutes = 1440\n'
        'publish_lease_minutes = 5\n', encoding="utf-8")
    settings = load_settings(tmp_path).settings
    (settings.data_dir / "renders").mkdir(parents=True)
    video = make_test_video(settings.data_dir / "renders" / "reel.mp4")
    engine = make_engine(settings.database.url)
    with Session(engine) as session:
        creator = Creator(handle="soak", timezone="UTC", persona={})
        session.add(creator)
        session.commit()
        now = utcnow()
        for n in range(REELS):
            session.add(Reel(creator_id=creator.id, status=ReelStatus.RENDERED, script=f"Soak reel {n}.", caption=f"soak reel #{n:03d}",
                             hashtags=["#soak"], artifacts={"video": str(video)}, publish_at=now - timedelta(minutes=1), approved_at=now,
                             approved_by="test"))
        session.commit()

    log = tmp_path / "workers.log"
    with FakeGraph(polls_to_finish=1, quota_total=100000) as graph:
        graph.chaos, graph.container_chaos = _chaos(seed=2026)
        worker = _start(tmp_path, graph, "w1", 0, log)
        kills = 0
        offset = 0
        deadline = time.monotonic() + 420
        for threshold in (REELS // 4, REELS // 2):
            while len(graph.published()) < threshold and worker.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            if worker.poll() is None:
                time.sleep(random.Random(threshold).uniform(0.0, 0.3))   # somewhere inside a publish
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
                kills += 1
                offset += 60            # past the 5-minute lease: the next worker takes the dead one's claim over
                worker = _start(tmp_path, graph, f"w{kills + 1}", offset, log)
        try:
            worker.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            pytest.fail(f"the soak did not finish in time; workers' log:\n{log.read_text()[-3000:]}")
        assert worker.returncode == 0, log.read_text()[-3000:]
        assert kills == 2

        on_server = {m.id: m for m in graph.published()}
        with Session(engine) as session:
            reels = list(session.execute(select(Reel)).scalars())
        published = [r for r in reels if r.status == ReelStatus.PUBLISHED]
        failed = [r for r in reels if r.status == ReelStatus.FAILED]
        assert len(published) + len(failed) == REELS, {r.id: r.status for r in reels if r.status not in (ReelStatus.PUBLISHED, ReelStatus.FAILED)}
        # none twice: every caption on the server at most once, every published reel's media on the server
        captions = [m.caption for m in on_server.values()]
        assert len(captions) == len(set(captions)), "a reel was published twice"
        assert {r.media_id for r in published} == set(on_server), "the database and Instagram disagree"
        for reel in published:
            assert on_server[reel.media_id].caption.startswith(reel.caption)
        # failed only for a final reason, named
        for reel in failed:
            assert "2207026" in (reel.last_error or "") or "could not process" in (reel.last_error or ""), reel.last_error
        assert len(failed) < REELS // 10
        # the faults really happened, and the kills landed inside publishes more often than not
        assert len(graph.requests) > 4 * REELS
        resumed = log.read_text().count("resuming an abandoned publish attempt")
        print(f"soak: {len(published)} published, {len(failed)} failed (final), {len(graph.requests)} requests, "
              f"{kills} kills, {resumed} abandoned attempts resumed")
