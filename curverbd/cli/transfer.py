"""What import, export and the diff commands share: chunking, zero detection, a window of writes in flight."""
from __future__ import annotations

import collections
import os
from typing import Iterator

CHUNK = 4 << 20     # bytes per read/write: one default RBD object
ZERO_GRAIN = 4096   # zero detection granularity: Curve's block size
WINDOW = 8          # asynchronous writes in flight

_ZERO_GRAIN = bytes(ZERO_GRAIN)
_ZERO_CHUNK = bytes(CHUNK)


def is_zero(data) -> bool:
    """True when every byte of ``data`` is zero."""
    if len(data) == CHUNK:
        return data == _ZERO_CHUNK
    return not any(data) if len(data) < 64 else bytes(data) == bytes(len(data))


def data_runs(data: bytes, grain: int = ZERO_GRAIN) -> Iterator[tuple[int, int]]:
    """(start, end) of the runs of ``data`` holding non-zero bytes, at ``grain`` resolution."""
    if is_zero(data):
        return
    start = None
    for pos in range(0, len(data), grain):
        zero = data[pos:pos + grain] == _ZERO_GRAIN[:min(grain, len(data) - pos)]
        if zero and start is not None:
            yield start, pos
            start = None
        elif not zero and start is None:
            start = pos
    if start is not None:
        yield start, len(data)


def read_full(fd: int, length: int) -> bytes:
    """Up to ``length`` bytes from ``fd``, fewer only at end of file (pipes return short reads)."""
    parts, got = [], 0
    while got < length:
        part = os.read(fd, length - got)
        if not part:
            break
        parts.append(part)
        got += len(part)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def write_full(fd: int, data) -> None:
    """Write all of ``data`` to ``fd`` (pipes take partial writes)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class Window:
    """Asynchronous image writes with at most ``size`` in flight; the first failure is raised."""

    def __init__(self, size: int = WINDOW) -> None:
        self.size = size
        self._pending: collections.deque = collections.deque()

    def add(self, completion) -> None:
        self._pending.append(completion)
        while len(self._pending) > self.size:
            self._pending.popleft().result()

    def drain(self) -> None:
        """Wait for every write still in flight."""
        while self._pending:
            self._pending.popleft().result()

    def __enter__(self) -> "Window":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.drain()
            return
        for completion in self._pending:   # already failing: wait, but keep the first error
            completion.wait()
        self._pending.clear()


def chunks(offset: int, length: int, size: int = CHUNK) -> Iterator[tuple[int, int]]:
    """(offset, length) pieces of [offset, offset+length), cut at multiples of ``size``."""
    end = offset + length
    while offset < end:
        step = min(size - offset % size, end - offset)
        yield offset, step
        offset += step


def read_ahead(image, pieces, depth: int = WINDOW) -> Iterator[tuple[int, bytes]]:
    """(offset, data) for each (offset, length) of ``pieces``, in order, with ``depth`` reads in flight."""
    pending: collections.deque = collections.deque()
    try:
        for offset, length in pieces:
            pending.append((offset, image.aio_read(offset, length)))
            if len(pending) >= depth:
                first, completion = pending.popleft()
                completion.result()
                yield first, completion.data
        while pending:
            first, completion = pending.popleft()
            completion.result()
            yield first, completion.data
    finally:
        for _, completion in pending:
            completion.wait()


def allocated_extents(image, size: int) -> list[tuple[int, int]]:
    """(offset, length) of the image's ranges that may hold data (from its diff against nothing)."""
    extents: list[tuple[int, int]] = []

    def collect(offset: int, length: int, exists: bool) -> int:
        if exists:
            if extents and extents[-1][0] + extents[-1][1] == offset:
                extents[-1] = (extents[-1][0], extents[-1][1] + length)
            else:
                extents.append((offset, length))
        return 0
    image.diff_iterate(0, size, None, collect)
    return extents
