"""render.media.ahead.read_ahead: the producer thread behind the clip decoder and the composer's frame feed."""

from __future__ import annotations

import threading
import time

import pytest

from render.media.ahead import read_ahead


def _threads(name: str) -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == name and thread.is_alive()]


def test_items_arrive_in_order_and_the_producer_stays_at_most_ahead() -> None:
    produced: list[int] = []

    def items():
        for i in range(50):
            produced.append(i)
            yield i

    feed = read_ahead(items(), 3, name="test-ahead-order")
    assert next(feed) == 0
    time.sleep(0.2)
    # one handed over, three waiting, one produced and blocked on the full queue
    assert len(produced) <= 5
    assert list(feed) == list(range(1, 50))
    assert not _threads("test-ahead-order")


def test_the_producers_error_is_raised_in_the_consumer() -> None:
    def items():
        yield 1
        raise ValueError("clip damaged at frame 2")

    feed = read_ahead(items(), 2, name="test-ahead-error")
    assert next(feed) == 1
    with pytest.raises(ValueError, match="frame 2"):
        next(feed)
    assert not _threads("test-ahead-error")


def test_closing_early_stops_the_producer() -> None:
    stopped = threading.Event()

    def endless():
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            stopped.set()

    feed = read_ahead(endless(), 2, name="test-ahead-close")
    assert [next(feed) for _ in range(5)] == [0, 1, 2, 3, 4]
    feed.close()
    assert not _threads("test-ahead-close")
    assert stopped.is_set()           # the producer's own cleanup ran (a clip reader closes its file there)
    with pytest.raises(ValueError):
        next(read_ahead(iter([1]), 0))
