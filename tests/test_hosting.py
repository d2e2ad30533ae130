"""Signed, expiring media URLs for Instagram to fetch, and the web route that serves them."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from agent.settings import load_settings
from agent.web.app import create_app
from publishing.base import PublishRefused
from publishing.hosting import MediaHost


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "settings.toml").write_text('[web]\nsecret_key = "hosting-secret-0123456789"\n', encoding="utf-8")
    video = tmp_path / "data" / "renders" / "7" / "reel.mp4"
    video.parent.mkdir(parents=True)
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42 fake video bytes")
    return tmp_path, video


def test_urls_resolve_only_while_valid_and_only_inside_the_folder(project, tmp_path: Path) -> None:
    root, video = project
    clock = [1_000_000.0]
    host = MediaHost(base_url="https://media.example.com/p/", secret="s3cret-key", root=root / "data", lifetime_s=3600, clock=lambda: clock[0])
    url = host.url_for(video)
    assert url.startswith("https://media.example.com/p/") and url.endswith("/reel.mp4")
    token = url.split("/")[-2]
    assert host.resolve(token) == video.resolve()
    assert "renders" not in url  # the path is inside the signed token, not readable in the URL
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert host.resolve(forged) is None
    other = MediaHost(base_url="https://x", secret="another-key", root=root / "data", clock=lambda: clock[0])
    assert other.resolve(token) is None
    clock[0] += 3601
    assert host.resolve(token) is None  # expired
    outside = tmp_path / "secret.txt"
    outside.write_text("no")
    with pytest.raises(PublishRefused):
        host.url_for(outside)
    with pytest.raises(PublishRefused):
        MediaHost(base_url="https://x", secret="", root=root)


def test_the_public_route_serves_signed_urls_without_login(project) -> None:
    root, video = project
    settings = load_settings(root).settings
    client = TestClient(create_app(settings, root))
    host = MediaHost(base_url="http://testserver/public", secret=settings.web.secret_key.get_secret_value(), root=settings.data_dir)
    url = host.url_for(video)
    response = client.get(url)
    assert response.status_code == 200 and response.content == video.read_bytes()
    token = url.split("/")[-2]
    assert client.get(f"/public/{token}/other.mp4").status_code == 404
    assert client.get(f"/public/{token[:-3]}xyz/reel.mp4").status_code == 404
    assert client.get("/public/not-a-token/reel.mp4").status_code == 404
