"""What the browser tests share: a project with a login, the web app served on a free port, Debian's Chromium driven by
Playwright, the login itself, the phone and desktop sizes and the screenshot folder.

A test file imports the fixtures it uses (``browser``, ``server``, ``shots``) and defines its own ``project``: the
``server`` fixture serves whichever ``project`` the requesting file has. Screenshots go to $REELTWIN_TEST_SCREENSHOTS
if set, else a tmp folder.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from agent.db.models import WebAccount
from agent.settings import Settings, load_settings
from agent.web.security import hash_password

if TYPE_CHECKING:
    from sqlmodel import Session

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
USERNAME = "creator"
PASSWORD = "correct horse battery"
SECRET = "browser-test-secret-0123456789"
#: A phone (390×844) and a desktop (1280×900), as ``browser.new_page(**PHONE)`` / ``new_context(**PHONE)`` take them.
PHONE: dict[str, Any] = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 900}}
#: Every browser test file's marks (a file that needs more adds its own after these).
MARKS = [
    pytest.mark.slow,  # a real browser against a real server
    pytest.mark.timeout(900),
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (make install installs it as root)"),
    pytest.mark.skipif(importlib.util.find_spec("playwright") is None, reason="playwright is not installed (dev extra)"),
]
CHROMIUM_ARGS = ("--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync")


def new_project(directory: Path, *, handle: str | None = "your.handle", settings_toml: str = "") -> Settings:
    """``directory`` as a project: the example calendar as ``calendar/<handle>.yaml`` (none without a handle) and a
    settings file with a web secret (``settings_toml`` appended); returns its settings."""
    if handle is not None:
        (directory / "calendar").mkdir()
        shutil.copy(REPO / "calendar" / "example.yaml", directory / "calendar" / f"{handle}.yaml")
    (directory / "config").mkdir()
    (directory / "config" / "settings.toml").write_text(f'[web]\nsecret_key = "{SECRET}"\n{settings_toml}', encoding="utf-8")
    return load_settings(directory).settings


def add_login(db: Session) -> None:
    """The web login :func:`login` uses (the caller commits)."""
    db.add(WebAccount(username=USERNAME, password_hash=hash_password(PASSWORD)))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serve(project: Path, settings: Settings | None = None, *, drafter_wait_s: float = 120) -> Iterator[str]:
    """The web app of ``project`` (with ``settings``, else the project's own) on a free port, as its base URL.
    On the way out it waits up to ``drafter_wait_s`` for drafts being written in the background, then stops."""
    import uvicorn

    from agent.web.app import create_app

    app = create_app(settings or load_settings(project).settings, project)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        assert server.started, "the web server did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        app.state.drafter.wait(drafter_wait_s)
        server.should_exit = True
        thread.join(10)


@contextmanager
def chromium(*extra_args: str) -> Iterator[Any]:
    """Debian's headless Chromium under Playwright, with ``extra_args`` after the usual ones."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *extra_args])
        try:
            yield instance
        finally:
            instance.close()


def login(page: Any, server: str) -> None:
    """Log ``page`` in (a fresh page is sent to the login page first) and land on the queue."""
    page.goto(f"{server}/")
    assert "/login" in page.url
    if not page.locator("#username").input_value():
        page.fill("#username", USERNAME)
    page.fill("#password", PASSWORD)
    page.click("button.primary")
    page.wait_for_url(f"{server}/")


@pytest.fixture(scope="module")
def server(project: Path) -> Iterator[str]:
    with serve(project) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as instance:
        yield instance


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("REELTWIN_TEST_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder
