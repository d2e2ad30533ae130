"""Import torchaudio, also where its compiled libraries cannot load.

PyPI's torchaudio wheels are CUDA builds: beside a CPU-only torch (the build
ReelTwin installs on machines without a GPU) their compiled libraries
(``torchaudio/lib/*.so``, which need ``libtorch_cuda``) fail to load and
``import torchaudio`` raises ``OSError``. The XTTS and whisperx backends use only
torchaudio's pure-Python parts (resampling, mel spectrograms, the list of
pipelines), so on that failure torchaudio is imported again exactly as torchaudio
imports itself when its compiled libraries are not installed: with
``_IS_TORCHAUDIO_EXT_AVAILABLE = False``. Nothing in site-packages is changed, so
no post-install step is needed, and a torchaudio whose libraries do load (a CUDA
torch, or a CPU torchaudio from PyTorch's own index) is used as it is.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
from functools import lru_cache
from pathlib import Path
from types import ModuleType

log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def import_torchaudio() -> ModuleType:
    """``torchaudio``, with its compiled ops when they load and without them otherwise."""
    try:
        import torchaudio
    except OSError as error:
        log.info("torchaudio's compiled libraries do not load with this torch (%s); "
                    "using torchaudio's pure-Python parts only", str(error).splitlines()[0])
        _forget_torchaudio()
        try:
            return _import_without_compiled_libraries()
        except Exception:
            _forget_torchaudio()
            raise
    return torchaudio


def _forget_torchaudio() -> None:
    # A failed import leaves the submodules that did import behind; start from scratch.
    for name in [name for name in sys.modules if name == "torchaudio" or name.startswith("torchaudio.")]:
        del sys.modules[name]


def _unexecuted(name: str) -> tuple[ModuleType, object]:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"no module named {name!r}", name=name)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    return module, spec.loader


def _import_without_compiled_libraries() -> ModuleType:
    # The package and its `_extension` subpackage are registered before they run, so that
    # `torchaudio._extension.utils` (which decides where the libraries are) can be imported
    # and pointed at a folder without libraries before `_extension` tries to load them.
    package, package_loader = _unexecuted("torchaudio")
    extension, extension_loader = _unexecuted("torchaudio._extension")
    utils = importlib.import_module("torchaudio._extension.utils")
    utils._LIB_DIR = Path(utils.__file__).parent / "no-compiled-libraries"
    extension_loader.exec_module(extension)  # type: ignore[attr-defined]
    package.__dict__["_extension"] = extension
    package_loader.exec_module(package)  # type: ignore[attr-defined]
    return package
