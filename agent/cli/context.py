"""What every command needs: settings (loaded once), a database session, consoles."""

from __future__ import annotations

import json
import os
import sys
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

if TYPE_CHECKING:
    from agent.settings import LoadedSettings, Settings


out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


class AppContext:
    """Lazily loads settings and opens the database, so `--help` and `init` touch neither."""

    def __init__(self, project_dir: Path | None = None):
        self.project_dir = project_dir

    @cached_property
    def loaded(self) -> "LoadedSettings":
        from agent.logging_setup import configure_logging
        from agent.settings import load_settings

        loaded = load_settings(self.project_dir)
        configure_logging(loaded.settings.log_level, loaded.settings.secret_values())
        return loaded

    @property
    def settings(self) -> "Settings":
        return self.loaded.settings

    @cached_property
    def session(self):  # noqa: ANN201 - sqlmodel imported lazily
        from agent.db.engine import open_session

        return open_session(self.settings.database_url, echo=self.settings.database.echo)

    def close(self) -> None:
        if "session" in self.__dict__:
            self.session.close()


def print_json(payload: Any) -> None:
    """One JSON object on stdout, nothing else."""
    sys.stdout.write(json.dumps(payload, indent=2, default=str, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty() and not os.environ.get("CI")
