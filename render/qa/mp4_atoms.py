"""Reading an MP4's structure ourselves: the top-level atoms (is ``moov`` before ``mdat``?) and each track's sample table.

The sample table gives every sample's decode and presentation time and which
samples are sync samples (keyframes), straight from the file: the frame-rate,
keyframe-interval and closed-GOP checks need no ffprobe.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

#: atoms whose payload is only child atoms, on the way down to the sample tables
_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"dinf"}
#: no sane reel's moov is this large (a 15-minute reel's is a few MB)
_MAX_MOOV_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class Atom:
    kind: str          # four characters, e.g. "ftyp", "moov", "mdat"
    offset: int        # where its header starts in the file
    size: int          # header included


@dataclass(frozen=True)
class Track:
    """One ``trak``: its handler ("vide", "soun"), codec four-character code and sample timing, in ``timescale`` ticks."""

    track_id: int
    handler: str
    codec: str                    # sample entry type: "avc1", "hvc1", "mp4a", ...
    timescale: int
    decode_ticks: np.ndarray      # int64, per sample, decode order
    presentation_ticks: np.ndarray  # int64, per sample, decode order (decode + composition offset)
    sync_samples: np.ndarray      # bool, per sample; all True when the track has no stss (every sample is a sync sample)
    sample_sizes: np.ndarray      # int64 bytes, per sample
    duration_ticks: int           # sum of sample durations
    avc_profile_idc: int | None = None  # from avcC: 66 Baseline, 77 Main, 100 High, ...
    #: bool, per sample: presented according to the edit list (a cut made with stream copy keeps hidden frames before its start)
    shown: np.ndarray | None = None


@dataclass(frozen=True)
class Mp4Structure:
    top_level: tuple[Atom, ...]
    major_brand: str | None
    tracks: tuple[Track, ...]

    @property
    def kinds(self) -> list[str]:
        return [atom.kind for atom in self.top_level]

    def first(self, kind: str) -> int | None:
        """Index of the first top-level atom of ``kind``, or None."""
        return next((index for index, atom in enumerate(self.top_level) if atom.kind == kind), None)

    @property
    def fragmented(self) -> bool:
        return "moof" in self.kinds

    def track(self, handler: str) -> Track | None:
        return next((track for track in self.tracks if track.handler == handler), None)


class NotMp4(ValueError):
    """The file is not an ISO base media file (or is cut short)."""


def _read_header(stream: BinaryIO, offset: int, file_size: int) -> tuple[str, int, int] | None:
    """(kind, total size, header size) of the atom at ``offset``; None at the end of the file."""
    stream.seek(offset)
    header = stream.read(8)
    if len(header) < 8:
        return None
    size, kind = struct.unpack(">I4s", header)
    header_size = 8
    if size == 1:
        large = stream.read(8)
        if len(large) < 8:
            raise NotMp4(f"atom header cut short at byte {offset}")
        size, header_size = struct.unpack(">Q", large)[0], 16
    elif size == 0:
        size = file_size - offset
    if size < header_size:
        raise NotMp4(f"atom {kind!r} at byte {offset} has an impossible size {size}")
    try:
        name = kind.decode("latin-1")
    except UnicodeDecodeError as error:  # pragma: no cover - latin-1 decodes every byte
        raise NotMp4(str(error)) from None
    if not all(32 <= ord(char) < 127 for char in name):
        raise NotMp4(f"no MP4 atom at byte {offset} (found {kind!r})")
    return name, size, header_size


def read_structure(path: Path) -> Mp4Structure:
    """The top-level atoms and, when ``moov`` is readable, every track's sample table. NotMp4 when it is not an MP4."""
    file_size = path.stat().st_size
    atoms: list[Atom] = []
    moov: bytes | None = None
    major_brand = None
    with path.open("rb") as stream:
        offset = 0
        while offset < file_size:
            found = _read_header(stream, offset, file_size)
            if found is None:
                break
            kind, size, header_size = found
            if not atoms and kind not in ("ftyp", "styp", "free", "skip", "wide"):
                raise NotMp4(f"the file starts with {kind!r}, not an MP4 'ftyp' atom")
            if offset + size > file_size:
                if kind == "mdat":  # a truncated mdat still tells us the layout
                    atoms.append(Atom(kind, offset, file_size - offset))
                    break
                raise NotMp4(f"atom {kind!r} at byte {offset} runs past the end of the file (truncated?)")
            atoms.append(Atom(kind, offset, size))
            if kind == "ftyp":
                stream.seek(offset + header_size)
                major_brand = stream.read(4).decode("latin-1", "replace").strip() or None
            elif kind == "moov" and moov is None and size <= _MAX_MOOV_BYTES:
                stream.seek(offset + header_size)
                moov = stream.read(size - header_size)
            offset += size
    if not atoms:
        raise NotMp4("the file is empty")
    tracks = tuple(_tracks(moov)) if moov is not None else ()
    return Mp4Structure(top_level=tuple(atoms), major_brand=major_brand, tracks=tracks)


def _children(data: bytes, start: int = 0, end: int | None = None) -> list[tuple[bytes, int, int]]:
    """(kind, payload start, payload end) of the atoms packed in ``data[start:end]``."""
    end = len(data) if end is None else end
    found = []
    offset = start
    while offset + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, offset)
        header = 8
        if size == 1:
            size, header = struct.unpack_from(">Q", data, offset + 8)[0], 16
        elif size == 0:
            size = end - offset
        if size < header or offset + size > end:
            break
        found.append((kind, offset + header, offset + size))
        offset += size
    return found


def _walk(data: bytes, start: int, end: int, into: dict[bytes, tuple[int, int]]) -> None:
    for kind, payload_start, payload_end in _children(data, start, end):
        into.setdefault(kind, (payload_start, payload_end))
        if kind in _CONTAINERS:
            _walk(data, payload_start, payload_end, into)


def _tracks(moov: bytes):  # noqa: ANN202 - a generator of Track
    movie_timescale = 0
    for kind, start, _end in _children(moov):
        if kind == b"mvhd":
            version = moov[start]
            movie_timescale = struct.unpack_from(">I", moov, start + 4 + (16 if version == 1 else 8))[0]
    for kind, start, end in _children(moov):
        if kind != b"trak":
            continue
        boxes: dict[bytes, tuple[int, int]] = {}
        _walk(moov, start, end, boxes)
        if not {b"tkhd", b"mdhd", b"hdlr", b"stsd", b"stts"} <= boxes.keys():
            continue
        track = _track(moov, boxes, movie_timescale)
        if track is not None:
            yield track


def _edit_window(data: bytes, box: tuple[int, int], movie_timescale: int, timescale: int) -> tuple[int, int | None] | None:
    """The presented range of media time (start, end or None for "to the end") from an edit list; None when it has no media edit.

    Only the common case is read: empty edits (a delayed start) skipped, the first media edit kept.
    """
    version, at = _full_box(data, box)
    count = struct.unpack_from(">I", data, at)[0]
    at += 4
    for _ in range(count):
        if version == 1:
            duration, media_time = struct.unpack_from(">Qq", data, at)
            at += 20
        else:
            duration, media_time = struct.unpack_from(">Ii", data, at)
            at += 12
        if media_time < 0:
            continue
        if duration == 0 or movie_timescale == 0:
            return media_time, None
        return media_time, media_time + round(duration * timescale / movie_timescale)
    return None


def _full_box(data: bytes, box: tuple[int, int]) -> tuple[int, int]:
    """(version, payload offset after version and flags)."""
    return data[box[0]], box[0] + 4


def _track(data: bytes, boxes: dict[bytes, tuple[int, int]], movie_timescale: int) -> Track | None:
    version, at = _full_box(data, boxes[b"tkhd"])
    track_id = struct.unpack_from(">I", data, at + (16 if version == 1 else 8))[0]
    version, at = _full_box(data, boxes[b"mdhd"])
    timescale = struct.unpack_from(">I", data, at + (16 if version == 1 else 8))[0]
    _, at = _full_box(data, boxes[b"hdlr"])
    handler = data[at + 4: at + 8].decode("latin-1")
    _, at = _full_box(data, boxes[b"stsd"])
    entries = _children(data, at + 4, boxes[b"stsd"][1])
    codec = entries[0][0].decode("latin-1") if entries else "?"
    profile = None
    if entries and handler == "vide":
        # VisualSampleEntry: 78 bytes of fixed fields, then its own child boxes (avcC, pasp, btrt, ...)
        entry_kind, entry_start, entry_end = entries[0]
        for child, child_start, _child_end in _children(data, entry_start + 78, entry_end):
            if child == b"avcC" and child_start + 1 < len(data):
                profile = data[child_start + 1]
    if timescale == 0:
        return None

    _, at = _full_box(data, boxes[b"stts"])
    count = struct.unpack_from(">I", data, at)[0]
    table = np.frombuffer(data, dtype=">u4", count=2 * count, offset=at + 4).reshape(-1, 2).astype(np.int64)
    durations = np.repeat(table[:, 1], table[:, 0])
    decode = np.concatenate(([0], np.cumsum(durations)[:-1])) if len(durations) else np.zeros(0, dtype=np.int64)
    samples = len(durations)

    offsets = np.zeros(samples, dtype=np.int64)
    if b"ctts" in boxes:
        _, at = _full_box(data, boxes[b"ctts"])
        count = struct.unpack_from(">I", data, at)[0]
        # version 0 is unsigned by the letter of the spec, but writers put negative offsets there too: read as signed
        table = np.frombuffer(data, dtype=">i4", count=2 * count, offset=at + 4).reshape(-1, 2).astype(np.int64)
        expanded = np.repeat(table[:, 1], np.maximum(table[:, 0], 0))
        offsets[: min(samples, len(expanded))] = expanded[:samples]

    sync = np.ones(samples, dtype=bool)
    if b"stss" in boxes:
        _, at = _full_box(data, boxes[b"stss"])
        count = struct.unpack_from(">I", data, at)[0]
        numbers = np.frombuffer(data, dtype=">u4", count=count, offset=at + 4).astype(np.int64) - 1
        sync = np.zeros(samples, dtype=bool)
        sync[numbers[(numbers >= 0) & (numbers < samples)]] = True

    sizes = np.zeros(samples, dtype=np.int64)
    if b"stsz" in boxes:
        _, at = _full_box(data, boxes[b"stsz"])
        uniform, count = struct.unpack_from(">II", data, at)
        if uniform:
            sizes[:] = uniform
        else:
            read = np.frombuffer(data, dtype=">u4", count=min(count, samples), offset=at + 8).astype(np.int64)
            sizes[: len(read)] = read
    presentation = decode + offsets
    shown = np.ones(samples, dtype=bool)
    window = _edit_window(data, boxes[b"elst"], movie_timescale, timescale) if b"elst" in boxes else None
    if window is not None:
        start, stop = window
        shown = (presentation >= start) & (presentation < stop if stop is not None else True)
    return Track(
        track_id=track_id, handler=handler, codec=codec, timescale=timescale, decode_ticks=decode,
        presentation_ticks=presentation, sync_samples=sync, sample_sizes=sizes,
        duration_ticks=int(durations.sum()), avc_profile_idc=profile, shown=shown,
    )
