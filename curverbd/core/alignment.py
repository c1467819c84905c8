"""Padding math for Curve's block alignment, and the per-image block-range lock.

Curve accepts only I/O whose offset and length are multiples of the volume's
block size (4 KiB). The image layer widens every request to the blocks it
touches; this module says which blocks, cuts byte ranges out of lists of
buffers without copying, and serialises writers whose blocks overlap.
"""
from __future__ import annotations

import collections
import logging
import threading
from typing import Callable, Iterator, Sequence

log = logging.getLogger(__name__)


def covering(offset: int, length: int, block: int) -> tuple[int, int]:
    """The block-aligned range [start, end) that covers [offset, offset + length)."""
    start = offset - offset % block
    stop = offset + length
    return start, stop + (-stop) % block


def inner(offset: int, length: int, block: int) -> tuple[int, int]:
    """The block-aligned range inside [offset, offset + length) (start > end when there is none)."""
    stop = offset + length
    return offset + (-offset) % block, stop - stop % block


def pieces(start: int, end: int, limit: int) -> Iterator[tuple[int, int]]:
    """[start, end) cut into consecutive ranges of at most ``limit`` bytes."""
    for at in range(start, end, limit):
        yield at, min(at + limit, end)


def cut(buffers: Sequence, begin: int, end: int) -> list[memoryview]:
    """Bytes [begin, end) of the concatenation of ``buffers``, as views (no copy)."""
    out = []
    pos = 0
    for buf in buffers:
        size = len(buf)
        lo, hi = max(begin - pos, 0), min(end - pos, size)
        if lo < hi:
            out.append(buf if lo == 0 and hi == size else buf[lo:hi])
        pos += size
        if pos >= end:
            break
    return out


class RangeLock:
    """Exclusive locks on byte ranges, granted by callback.

    ``acquire`` never blocks: ``grant()`` runs at once (in the caller's thread) if
    the range is free, or later in the thread whose ``release`` frees it. Waiters
    are served in arrival order among overlapping ranges, so overlapping writes
    land in submission order; disjoint ones never wait for each other.
    """

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._held: list[tuple[int, int]] = []
        self._waiting: collections.deque = collections.deque()  # (start, end, grant)

    @staticmethod
    def _overlaps(start: int, end: int, ranges) -> bool:
        for other in ranges:
            if start < other[1] and other[0] < end:
                return True
        return False

    def acquire(self, start: int, end: int, grant: Callable[[], None]) -> None:
        with self._mutex:
            if self._overlaps(start, end, self._held) or self._overlaps(start, end, self._waiting):
                self._waiting.append((start, end, grant))
                return
            self._held.append((start, end))
        grant()

    def release(self, start: int, end: int) -> None:
        granted = []
        with self._mutex:
            self._held.remove((start, end))
            if self._waiting:
                still = collections.deque()
                for waiter in self._waiting:
                    w_start, w_end, _ = waiter
                    if self._overlaps(w_start, w_end, self._held) or self._overlaps(w_start, w_end, still):
                        still.append(waiter)
                    else:
                        self._held.append((w_start, w_end))
                        granted.append(waiter[2])
                self._waiting = still
        for grant in granted:
            try:
                grant()
            except Exception:  # never strand the other waiters
                log.exception("range lock grant raised")

    def busy(self) -> bool:
        """True while any range is held or awaited (for tests and close)."""
        with self._mutex:
            return bool(self._held or self._waiting)
