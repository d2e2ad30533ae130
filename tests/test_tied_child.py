"""The embedded model server is tied to the thread that starts it (Linux), without running Python between fork and exec."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.drafting import tied_child
from agent.drafting.local_server import LocalLLMServer

REPO = Path(__file__).resolve().parent.parent
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")


def _gone(pid: int) -> bool:
    """No such process, or a zombie waiting for its new parent (init or a subreaper) to reap it."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


@linux_only
def test_the_server_ends_when_the_process_that_started_it_is_killed(tmp_path: Path) -> None:
    """A scheduler or worker SIGKILLed while the embedded model runs must not leave the server behind: a stand-in
    server (http.server) started the way LocalLLMServer starts llama.cpp's goes when its parent is killed."""
    pid_file = tmp_path / "child.pid"
    parent = subprocess.Popen([sys.executable, "-c", (
        "import subprocess, time\n"
        "from agent.drafting import tied_child\n"
        "child = subprocess.Popen(tied_child.command('http.server', '0', '--bind', '127.0.0.1'), start_new_session=True,\n"
        "                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(60)\n")], cwd=REPO)
    try:
        deadline = time.monotonic() + 20
        while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
        child = int(pid_file.read_text())
        time.sleep(1.0)   # let the child get as far as serving
        assert not _gone(child), "the stand-in server did not start"
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 10
        while not _gone(child):
            if time.monotonic() > deadline:
                os.kill(child, signal.SIGKILL)
                pytest.fail("the child outlived the process that started it")
            time.sleep(0.05)
    finally:
        if parent.poll() is None:
            parent.kill()


def test_a_child_whose_parent_is_not_the_one_named_does_not_run() -> None:
    """The parent died before the child could tie itself to it (the child was re-parented): it exits at once."""
    result = subprocess.run([sys.executable, "-m", "agent.drafting.tied_child", "1", "http.server", "0"],
                            cwd=REPO, capture_output=True, text=True, timeout=30)
    assert result.returncode == 1, result.stderr


def test_a_child_runs_the_module_with_its_arguments(tmp_path: Path) -> None:
    out = tmp_path / "listing.txt"
    code = f"import subprocess, sys\nfrom agent.drafting import tied_child\nsys.exit(subprocess.run(tied_child.command('json.tool', '--help'), stdout=open({str(out)!r}, 'w')).returncode)\n"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "usage:" in out.read_text() and "json.tool" in out.read_text()


def test_bad_usage_says_how() -> None:
    result = subprocess.run([sys.executable, "-m", "agent.drafting.tied_child"], cwd=REPO, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "usage:" in result.stderr


def test_the_model_server_runs_no_python_between_fork_and_exec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """preexec_fn runs Python in the forked copy of a process with other threads (the web server's, a browser driver's);
    a lock one of them held at the fork leaves the copy stuck before exec, holding the parent's sockets and pipes."""
    seen: dict[str, object] = {}

    class Stop(Exception):
        pass

    def fake_popen(command: list[str], **kwargs: object) -> None:
        seen.update(command=command, **kwargs)
        raise Stop

    monkeypatch.setattr(subprocess, "Popen", fake_popen)
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: object())
    with pytest.raises(Stop):
        LocalLLMServer(tmp_path / "m.gguf", tmp_path / "server.log").start()
    assert seen.get("preexec_fn") is None
    command = seen["command"]
    assert command[1:3] == ["-m", "agent.drafting.tied_child"] and command[3] == str(os.getpid()) and command[4] == "llama_cpp.server"
