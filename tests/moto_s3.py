"""moto's S3 server over real HTTP on 127.0.0.1, shared by the bucket tests (Graph media hosting, media storage):
presigned URLs can be fetched the way Instagram fetches them, and every test starts with an empty S3."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest
from moto.server import ThreadedMotoServer


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def endpoint(moto_endpoint: str) -> Iterator[str]:
    """A fresh, empty S3 (and signature checking off unless a test turns it on) for each test."""
    httpx.post(f"{moto_endpoint}/moto-api/reset").raise_for_status()
    yield moto_endpoint
    httpx.post(f"{moto_endpoint}/moto-api/reset-auth", content=b"inf").raise_for_status()
