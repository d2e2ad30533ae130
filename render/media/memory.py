"""Handing freed memory back to the system between a render's stages.

CPython and numpy free through C ``malloc``. glibc keeps freed memory at the top of its heaps for reuse, up to twice
its mmap threshold, and that threshold rises to the size of the largest block freed so far (up to 32 MB): once a
whole reel's audio has been freed (17 MB at 48 kHz for 90 s), tens of MB of freed memory stay resident for the rest of
the job, more the longer the reel; pieces freed below a live block stay resident too. ``release_free_memory`` asks
glibc to give back every whole free page (``malloc_trim(0)``) at a stage boundary, before the stage that holds the
job's peak. A few milliseconds; elsewhere (another C library, another system) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def _malloc_trim() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):     # no C library found, or one without malloc_trim (musl)
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def release_free_memory() -> bool:
    """Return the C heap's free pages to the system; True where that could be asked (glibc), else False."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
