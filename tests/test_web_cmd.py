"""`reeltwin web` on a port it cannot have: one line naming the fix, exit 2, and no "started" line first."""

from __future__ import annotations

import socket
from pathlib import Path

from cli_helpers import reeltwin

SECRET = {"REELTWIN_WEB__SECRET_KEY": "0123456789abcdef0123456789abcdef"}


def test_busy_port_is_one_line_and_exit_2(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = reeltwin(tmp_path, "web", "--port", str(port), REELTWIN_DATA_DIR=str(tmp_path / "data"), **SECRET)
    assert result.returncode == 2
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr and "--port" in result.stderr
    assert "Traceback" not in result.stderr and "ReelTwin web on" not in result.stdout
    assert len([line for line in result.stderr.splitlines() if line.startswith("error:")]) == 1


def test_an_address_this_machine_does_not_have_is_one_line(tmp_path: Path) -> None:
    result = reeltwin(tmp_path, "web", "--host", "10.255.255.254", "--port", "8999", REELTWIN_DATA_DIR=str(tmp_path / "data"), **SECRET)
    assert result.returncode == 2
    assert "not an address of this machine" in result.stderr and "Traceback" not in result.stderr
