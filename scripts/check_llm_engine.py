"""Does the compiled llama.cpp engine run on this CPU? Exit 0 when a one-token completion works.

llama-cpp-python is compiled on install. A build tuned for the building CPU (GGML_NATIVE) can use
instructions the kernel does not let a process use (AMX tiles need a permission many VMs do not grant):
the server then dies with SIGSEGV/SIGILL on its first request. `make install` runs this check and, when
it fails, rebuilds the engine for a portable x86-64-v3 CPU (AVX2, FMA, F16C).
"""

from __future__ import annotations

import subprocess
import sys

PROBE = """
from agent.drafting.local_server import embedded_model_path
from llama_cpp import Llama
model = Llama(model_path=str(embedded_model_path()), n_ctx=512, n_threads=2, n_batch=512, verbose=False)
# a prompt of a few hundred tokens: prompt processing takes the batched matrix paths (where AMX is used)
out = model("Write a short script about soup. " * 30, max_tokens=2)
assert out["choices"], out
"""


def main() -> int:
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=300)
    if result.returncode == 0:
        print("llama.cpp engine: runs on this CPU")
        return 0
    signal = -result.returncode if result.returncode < 0 else None
    why = f"killed by signal {signal}" if signal else f"exit {result.returncode}: {(result.stderr.strip().splitlines() or ['?'])[-1]}"
    print(f"llama.cpp engine: does not run on this CPU ({why})")
    return 1


if __name__ == "__main__":
    sys.exit(main())
