"""Frames handed to the encoder's pipe without copying them into it (Linux ``vmsplice(2)``), else written.

A 1080x1920 I420 frame is 3.1 MB; a 30 s reel sends 2.8 GB through the pipe to ffmpeg. ``write(2)`` copies
every byte into pages the kernel allocates for the pipe and ffmpeg's ``read(2)`` copies them out and frees
them: measured on 900 frames (2 cores), 0.5-0.6 CPU s on our side and about 1 s more on ffmpeg's than reading
the same bytes from a file. ``vmsplice`` puts references to the frame's own pages in the pipe instead: our side
drops to ~0.2 CPU s, ffmpeg's read copies straight from them, and the encoded file is byte-identical
(``bench/results`` and the issue 18 notes: 1.1 CPU s less for 900 frames, mean of 3 pairs).

The price is a rule: a frame's memory must not change until ffmpeg has read it. Frames given to
:meth:`PipeFeeder.write` are never written to again by their producers (the renderers hand each frame on and
make the next in a new array; the read-ahead queue already relies on it), and the feeder keeps a reference to
each until the pipe can no longer hold any of its bytes, so its memory is not freed and reused either: the pipe
holds at most its capacity in bytes, so once ``capacity`` more bytes have gone in after a frame, ffmpeg has
read all of it. At the end the last frames are held until the encoder has exited (:meth:`release`).

Where ``vmsplice`` is missing or refused (not Linux, a seccomp profile, not a pipe) the feeder writes as before.
"""

from __future__ import annotations

import collections
import errno
import os
import sys
from typing import Any

import numpy as np

_F_GETPIPE_SZ = 1032
_FALLBACK_ERRORS = {errno.ENOSYS, errno.EPERM, errno.EINVAL, errno.EBADF, errno.ENOMEM, errno.EOPNOTSUPP}


def _load_vmsplice() -> Any:
    """libc's vmsplice through ctypes (the call releases the GIL), or None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        function = libc.vmsplice
    except (OSError, AttributeError):
        return None

    class IoVec(ctypes.Structure):
        _fields_ = [("base", ctypes.c_void_p), ("length", ctypes.c_size_t)]

    function.argtypes = [ctypes.c_int, ctypes.POINTER(IoVec), ctypes.c_ulong, ctypes.c_uint]
    function.restype = ctypes.c_ssize_t

    def vmsplice(fd: int, address: int, length: int) -> int:
        """Bytes spliced (may be fewer than asked), or -errno."""
        vector = IoVec(address, length)
        done = function(fd, ctypes.byref(vector), 1, 0)
        return done if done >= 0 else -ctypes.get_errno()

    return vmsplice


class PipeFeeder:
    """Whole frames into the write end of a pipe: spliced where the system allows it, written where not.

    ``use_splice=False`` always writes (the reference the splice is measured and tested against)."""

    def __init__(self, pipe: Any, *, use_splice: bool = True):
        self.pipe = pipe
        self.fd = pipe.fileno()
        self._vmsplice = _load_vmsplice() if use_splice else None
        self.capacity = 0
        if self._vmsplice is not None:
            try:
                import fcntl

                self.capacity = int(fcntl.fcntl(self.fd, _F_GETPIPE_SZ))
            except (ImportError, OSError, ValueError):
                self._vmsplice = None          # not a pipe (or not Linux): write
        self._held: collections.deque[tuple[np.ndarray, int]] = collections.deque()
        self.sent = 0                          # bytes into the pipe so far
        self.spliced = 0                       # of which spliced

    @property
    def splicing(self) -> bool:
        return self._vmsplice is not None

    def write(self, frame: np.ndarray | bytes) -> None:
        """Send one frame (an array, or any object with a contiguous buffer, such as bytes); raises BrokenPipeError
        when the encoder has gone."""
        if not isinstance(frame, np.ndarray):
            frame = np.frombuffer(frame, dtype=np.uint8)       # a view: holding it holds the object it reads
        data = memoryview(frame).cast("B")
        if self._vmsplice is None or not frame.flags.c_contiguous:
            self._write(data)
            return
        address, length, done = frame.ctypes.data, frame.nbytes, 0
        while done < length:
            count = self._vmsplice(self.fd, address + done, length - done)
            if count >= 0:
                done += count
                continue
            code = -count
            if code == errno.EINTR:
                continue
            if code == errno.EPIPE:
                raise BrokenPipeError(errno.EPIPE, "the encoder closed its input")
            if code in _FALLBACK_ERRORS:
                self._vmsplice = None          # refused here: the rest of this frame and every later one are written
                self.sent += done
                self.spliced += done
                self._hold(frame)
                self._write(data[done:])
                return
            raise OSError(code, os.strerror(code))
        self.sent += length
        self.spliced += length
        self._hold(frame)

    def _write(self, data: memoryview) -> None:
        while len(data):
            written = os.write(self.fd, data)
            data = data[written:]
            self.sent += written

    def _hold(self, frame: np.ndarray) -> None:
        """Keep the frame alive until the pipe cannot hold any of its bytes any more."""
        self._held.append((frame, self.sent))
        while self._held and self._held[0][1] <= self.sent - self.capacity:
            self._held.popleft()

    def release(self) -> None:
        """Drop the frames still held: call once the reader has exited (or the pipe is gone)."""
        self._held.clear()

    @property
    def held(self) -> int:
        return len(self._held)
