"""Bounded read-ahead: the items of an iterator produced on a daemon thread, a few ahead of their consumer.

Used where a stage's work releases the GIL (decoding a clip with PyAV, rendering and converting frames with
OpenCV and numpy) so it overlaps with the next stage's (painting the mouth, writing to the encoder's pipe).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")


def read_ahead(items: Iterator[T], ahead: int, *, name: str = "reeltwin-ahead") -> Iterator[T]:
    """``items`` produced on a daemon thread, at most ``ahead`` waiting. The producer's error is raised here, in
    the consumer's thread; closing this generator early (or an error in the consumer) stops the producer and
    waits for it."""
    if ahead < 1:
        raise ValueError("ahead must be at least 1")
    waiting: queue.Queue[tuple[str, object]] = queue.Queue(maxsize=ahead)
    stop = threading.Event()

    def put(item: tuple[str, object]) -> bool:
        while not stop.is_set():
            try:
                waiting.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(("item", item)):
                    return
        except BaseException as error:  # noqa: BLE001 - raised in the consuming thread
            put(("error", error))
            return
        finally:
            close = getattr(items, "close", None)
            if close is not None:       # a generator stopped early runs its cleanup here, on its own thread
                close()
        put(("end", None))

    worker = threading.Thread(target=produce, name=name, daemon=True)
    worker.start()
    try:
        while True:
            kind, value = waiting.get()
            if kind == "error":
                raise value  # type: ignore[misc]
            if kind == "end":
                return
            yield value  # type: ignore[misc]
    finally:
        stop.set()
        worker.join(timeout=10.0)


_opencv_lock = threading.Lock()
_opencv_users = 0
_opencv_before = -1


@contextmanager
def opencv_single_threaded() -> Iterator[None]:
    """OpenCV on one thread per call while frames are made beside the encoder.

    Our frame work already runs on threads of its own beside x264 (which takes every core it can); OpenCV's own
    worker pool then only adds hand-offs and cache traffic on cores that are busy anyway. Measured on the 12 s
    footage clip's 894 frames made alone (2 cores, no encoder): 0.7-1.2 CPU s less for the same wall time; in a
    whole render beside x264 the difference was within the run-to-run noise (~0.3 CPU s). Process-wide (OpenCV has
    one pool), counted so that overlapping renders restore it once."""
    global _opencv_users, _opencv_before
    try:
        import cv2
    except ImportError:         # pragma: no cover - OpenCV is a base dependency
        yield
        return
    with _opencv_lock:
        if _opencv_users == 0:
            _opencv_before = cv2.getNumThreads()
            cv2.setNumThreads(1)
        _opencv_users += 1
    try:
        yield
    finally:
        with _opencv_lock:
            _opencv_users -= 1
            if _opencv_users == 0:
                cv2.setNumThreads(_opencv_before)
