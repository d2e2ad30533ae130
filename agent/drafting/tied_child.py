"""Run a Python module as a child that ends with the thread that started it (Linux):
``python -m agent.drafting.tied_child PARENT_PID MODULE [ARGS...]``.

The child asks the kernel for SIGTERM when its parent thread ends (``PR_SET_PDEATHSIG``), checks that its parent is
still ``PARENT_PID`` (the parent may have died before the request took effect), then runs ``MODULE`` as ``__main__``
with ``ARGS``. A scheduler or worker killed with SIGKILL leaves no model server behind.

This is done in the new process, after exec, not with ``subprocess.Popen(preexec_fn=...)``: ``preexec_fn`` runs Python
in the forked copy of a process with other threads (the web server, Playwright's pipes, a thread pool), and a lock
held by one of them at the fork leaves the copy stuck before exec, forever, holding every file descriptor of the
parent — the web server's sockets and the browser driver's pipes with them (the likely cause of a 15-minute CI hang).
"""

from __future__ import annotations

import os
import runpy
import signal
import sys

PR_SET_PDEATHSIG = 1


def tie_to_parent(parent_pid: int) -> bool:
    """Ask for SIGTERM when the parent thread ends; False when the parent is already gone (or is not ``parent_pid``)."""
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        except (OSError, AttributeError):
            pass   # no prctl: the child still runs, as it would on another system
    return os.getppid() == parent_pid


def command(module: str, *args: str) -> list[str]:
    """The command line that runs ``module`` with ``args`` tied to this process."""
    return [sys.executable, "-m", "agent.drafting.tied_child", str(os.getpid()), module, *args]


def main(argv: list[str]) -> int:
    if len(argv) < 2 or not argv[0].isdigit():
        print("usage: python -m agent.drafting.tied_child PARENT_PID MODULE [ARGS...]", file=sys.stderr)
        return 2
    if not tie_to_parent(int(argv[0])):
        return 1   # the parent died before we could tie ourselves to it: nobody is left to stop us
    module = argv[1]
    sys.argv = [module, *argv[2:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
