"""Frames spliced into the encoder's pipe (render.media.splice): the reader gets exactly the bytes written, even when
it reads slowly and the producer drops each frame at once; the system's refusal falls back to writing."""

from __future__ import annotations

import errno
import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from render.media import splice
from render.media.splice import PipeFeeder

# a reader that reads slowly (small reads with pauses) and prints the sha256 and length of everything it got
SLOW_READER = (
    "import hashlib, sys, time\n"
    "h = hashlib.sha256(); n = 0\n"
    "while True:\n"
    "    chunk = sys.stdin.buffer.read1(int(sys.argv[1]))\n"
    "    if not chunk: break\n"
    "    h.update(chunk); n += len(chunk)\n"
    "    time.sleep(float(sys.argv[2]))\n"
    "print(h.hexdigest(), n)\n"
)


def _frames(count: int, shape: tuple[int, ...], seed: int = 1):
    """New arrays one after another, each dropped by the caller as soon as it is written (their memory is reused)."""
    rng = np.random.default_rng(seed)
    for _ in range(count):
        yield rng.integers(0, 256, size=shape, dtype=np.uint8)


def _expected(count: int, shape: tuple[int, ...]) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    for frame in _frames(count, shape):
        digest.update(frame.tobytes())
        size += frame.nbytes
    return digest.hexdigest(), size


def _send(count: int, shape: tuple[int, ...], *, read: int = 65536, pause: float = 0.0, use_splice: bool = True) -> tuple[tuple[str, int], PipeFeeder]:
    reader = subprocess.Popen([sys.executable, "-c", SLOW_READER, str(read), str(pause)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    feeder = PipeFeeder(reader.stdin, use_splice=use_splice)
    most_held = 0
    try:
        for frame in _frames(count, shape):
            feeder.write(frame)
            most_held = max(most_held, feeder.held)
            del frame
        reader.stdin.close()
        out = reader.stdout.read().decode().split()
        assert reader.wait() == 0
    finally:
        feeder.release()
    feeder.most_held = most_held      # type: ignore[attr-defined]
    return (out[0], int(out[1])), feeder


needs_splice = pytest.mark.skipif(splice._load_vmsplice() is None, reason="vmsplice(2) is Linux-only; elsewhere the feeder writes")


@needs_splice
def test_a_slow_reader_gets_every_byte_of_frames_the_producer_drops_at_once():
    # 24 KB frames against a 64 KB pipe: several frames sit in the pipe at once while the reader sleeps; if the feeder
    # let go of one too early its memory would be reused for the next frame and the reader would see that instead
    shape = (96, 256)
    got, feeder = _send(300, shape, read=4096, pause=0.0005)
    assert got == _expected(300, shape)
    assert feeder.splicing and feeder.spliced == feeder.sent == 300 * 96 * 256
    # it holds what the pipe can still hold, no more: capacity / frame size, plus the frame being written
    assert 2 <= feeder.most_held <= feeder.capacity // (96 * 256) + 2
    assert feeder.held == 0


@needs_splice
def test_large_frames_are_spliced_and_arrive_whole():
    shape = (1920 * 3 // 2 // 8, 1080)     # an eighth of a 1080x1920 I420 frame, 389 KB: larger than the default pipe
    got, feeder = _send(40, shape, read=1 << 20)
    assert got == _expected(40, shape)
    assert feeder.spliced == 40 * shape[0] * shape[1]
    assert feeder.most_held <= 2


def test_without_splicing_the_same_bytes_are_written():
    shape = (64, 128)
    got, feeder = _send(50, shape, use_splice=False)
    assert got == _expected(50, shape)
    assert not feeder.splicing and feeder.spliced == 0 and feeder.sent == 50 * 64 * 128


def test_a_file_that_is_not_a_pipe_is_written_to():
    shape = (32, 64)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "frames.raw"
        with open(path, "wb", buffering=0) as handle:
            feeder = PipeFeeder(handle)
            assert not feeder.splicing            # vmsplice needs a pipe: the feeder writes instead
            frames = list(_frames(5, shape))
            for frame in frames:
                feeder.write(frame)
        assert path.read_bytes() == b"".join(frame.tobytes() for frame in frames)


def test_a_refused_splice_falls_back_to_writing_mid_stream(monkeypatch: pytest.MonkeyPatch):
    calls = []

    def refusing(fd: int, address: int, length: int) -> int:
        calls.append(length)
        return -errno.EPERM            # a seccomp profile refusing the call

    monkeypatch.setattr(splice, "_load_vmsplice", lambda: refusing)
    shape = (16, 64)
    read_end, write_end = os.pipe()
    with os.fdopen(write_end, "wb", buffering=0) as handle:
        feeder = PipeFeeder(handle)
        assert feeder.splicing
        frames = list(_frames(3, shape))
        for frame in frames:
            feeder.write(frame)
        assert not feeder.splicing and len(calls) == 1      # refused once, then written
    with os.fdopen(read_end, "rb") as reader:
        assert reader.read() == b"".join(frame.tobytes() for frame in frames)


def test_a_reader_that_has_gone_raises_broken_pipe():
    reader = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.buffer.read(10)"], stdin=subprocess.PIPE)
    feeder = PipeFeeder(reader.stdin)
    with pytest.raises(BrokenPipeError):
        for frame in _frames(200, (256, 1024)):
            feeder.write(frame)
    reader.wait()
    feeder.release()


def test_opencv_is_single_threaded_while_frames_are_encoded_and_restored_after():
    import threading

    import cv2

    from render.media.ahead import opencv_single_threaded

    before = cv2.getNumThreads()
    seen = []
    with opencv_single_threaded():
        seen.append(cv2.getNumThreads())
        # a second render overlapping the first (another thread): the setting holds until the last one ends
        inner_entered, release = threading.Event(), threading.Event()

        def other() -> None:
            with opencv_single_threaded():
                inner_entered.set()
                release.wait(5)

        thread = threading.Thread(target=other)
        thread.start()
        inner_entered.wait(5)
    seen.append(cv2.getNumThreads())       # the first has ended, the second still runs
    release.set()
    thread.join(5)
    assert seen == [1, 1]
    assert cv2.getNumThreads() == before


def test_bytes_are_sent_as_they_are():
    read_end, write_end = os.pipe()
    chunks = [bytes(range(256)) * 64, b"tail"]
    with os.fdopen(write_end, "wb", buffering=0) as handle:
        feeder = PipeFeeder(handle)
        for chunk in chunks:
            feeder.write(chunk)
        feeder.release()
    with os.fdopen(read_end, "rb") as reader:
        assert reader.read() == b"".join(chunks)
