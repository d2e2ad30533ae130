"""A new project's files: config/, calendar/, .env and data/, created from the templates shipped with ReelTwin, never overwritten."""

from __future__ import annotations

import secrets
from pathlib import Path

from agent.errors import AgentError

TEMPLATES = {
    "config/settings.example.toml": "config/settings.example.toml",
    "config/settings.toml": "config/settings.example.toml",
    "config/.env.example": "config/.env.example",
    "calendar/example.yaml": "calendar/example.yaml",
}


def template_path(relative: str) -> Path:
    """A template shipped with ReelTwin: inside the wheel (agent/skeleton) or the source checkout."""
    package = Path(__file__).resolve().parent
    for base in (package / "skeleton", package.parent):
        candidate = base / relative
        if candidate.is_file():
            return candidate
    raise AgentError(f"template {relative!r} is missing from this installation; reinstall ReelTwin (make install)")


def scaffold(directory: Path) -> list[tuple[str, str]]:
    """Create what is missing under ``directory``; returns (path, "created" | "kept") pairs."""
    results = []
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for target, source in TEMPLATES.items():
            path = directory / target
            if path.exists():
                results.append((target, "kept"))
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(template_path(source).read_bytes())
            results.append((target, "created"))
        dotenv = directory / ".env"
        if dotenv.exists():
            results.append((".env", "kept"))
        else:
            text = template_path("config/.env.example").read_text(encoding="utf-8")
            text = text.replace("REELTWIN_WEB__SECRET_KEY=\n", f"REELTWIN_WEB__SECRET_KEY={secrets.token_urlsafe(32)}\n")
            dotenv.write_text(text, encoding="utf-8")
            dotenv.chmod(0o600)
            results.append((".env", "created (with a fresh web secret; mode 600)"))
        data = directory / "data"
        results.append(("data/", "kept" if data.is_dir() else "created"))
        data.mkdir(exist_ok=True)
    except OSError as error:
        raise AgentError(f"{directory}: cannot write there ({error.strerror}); choose another folder or fix its permissions") from None
    return results
