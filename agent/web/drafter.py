"""Redrafting a rejected reel in the background, so the web page answers at once."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from sqlmodel import Session

from agent.db.engine import make_engine
from agent.db.models import Creator, Reel, Slot
from agent.errors import AgentError
from agent.settings import Settings

log = logging.getLogger(__name__)


class BackgroundDrafter:
    """Redrafts a rejected reel in a background thread, one at a time, so the page answers at once."""

    def __init__(self, settings: Settings, project_dir: Path):
        self.settings = settings
        self.project_dir = project_dir
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []

    def busy(self) -> bool:
        return any(thread.is_alive() for thread in self.threads)

    def redraft(self, reel_id: int) -> None:
        thread = threading.Thread(target=self._run, args=(reel_id,), name=f"redraft-{reel_id}", daemon=True)
        self.threads = [t for t in self.threads if t.is_alive()] + [thread]
        thread.start()

    def wait(self, timeout: float | None = None) -> None:
        for thread in list(self.threads):
            thread.join(timeout)

    def _run(self, reel_id: int) -> None:
        from agent.content_calendar.loader import load_calendar
        from agent.drafting.service import WorkItem, draft_all, open_provider

        with self.lock, Session(make_engine(self.settings.database_url), expire_on_commit=False) as db:
            try:
                reel = db.get(Reel, reel_id)
                creator = db.get(Creator, reel.creator_id)
                path = self.settings.calendar_dir / f"{creator.handle}.yaml"
                calendar = load_calendar(path).calendar
                slot = db.get(Slot, reel.slot_id) if reel.slot_id else None
                with open_provider(self.settings) as provider:
                    [outcome] = draft_all(db, self.settings, provider, [WorkItem(calendar, slot, reel_id=reel_id)])
                log.info("web: reel %d %s", reel_id, outcome.result if outcome.result != "failed" else f"not redrafted: {outcome.error}")
            except AgentError as error:
                log.warning("web: reel %d could not be redrafted now (%s); `reeltwin run` or `reeltwin draft` will retry", reel_id, error)
