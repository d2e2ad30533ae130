"""One publishing worker for the soak (tests/test_soak.py): the production publish sweep in a loop, as `reeltwin run`
runs it, against the fake Graph server the test serves. Killed with SIGKILL by the test at random moments.

    python tests/soak_worker.py PROJECT_DIR GRAPH_BASE IG_USER_ID TOKEN WORKER_NAME START_OFFSET_MINUTES

Time is virtual: each sweep is ten minutes later than the one before (from START_OFFSET_MINUTES past now), so
retry back-offs come due at once; a restarted worker starts past the publish lease, as a real restart after the
lease would. It exits when no reel is left to publish.
"""

from __future__ import annotations

import sys
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.db.engine import make_engine  # noqa: E402
from agent.db.models import Reel, utcnow  # noqa: E402
from agent.jobs.publish import publish_due  # noqa: E402
from agent.settings import load_settings  # noqa: E402
from publishing.graph import GraphPublisher  # noqa: E402
from publishing.hosting import MediaHost  # noqa: E402

WAITING = ("rendered", "publishing")


def main() -> int:
    project, base, ig_user_id, token, worker, offset = sys.argv[1:7]
    settings = load_settings(Path(project)).settings
    engine = make_engine(settings.database.url)
    host = MediaHost(base_url="https://reels.example.test/public", secret="media-secret-0123", root=settings.data_dir)
    publisher = GraphPublisher(ig_user_id=ig_user_id, access_token=token, media_url_for=host.url_for, api_base=base,
                               api_version="v21.0", timeout_s=1.0, sleep=lambda seconds: time.sleep(min(seconds, 0.02)))
    from sqlmodel import Session

    sweep = 0
    while True:
        now = utcnow() + timedelta(minutes=int(offset) + 10 * sweep)
        with Session(engine) as session:
            publish_due(session, settings, publisher=publisher, worker=worker, now=now)
            left = session.execute(select(func.count()).select_from(Reel).where(Reel.status.in_(WAITING))).scalar_one()
        print(f"sweep {sweep}: {left} left", flush=True)
        if left == 0:
            return 0
        sweep += 1


if __name__ == "__main__":
    sys.exit(main())
