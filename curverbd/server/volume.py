"""An open Curve volume of the stand-in store: a sparse data file and Curve's I/O rules.

I/O goes straight between the frame buffers and the head layer's file
(preadv/pwritev), so the daemon never copies volume data; volumes with
snapshots or a clone parent read and write through their layers (layers.py).
Layer files are closed when the last reference goes away, so a request still
running on another thread keeps a volume valid even after CloseFile or the
heartbeat checker dropped it.
"""
from __future__ import annotations

import errno
import os
import threading

from ..errors import CurveError, CurveStatus, Error
from . import fastpath, layers
from .layers import punch_hole

# Writes go to the page cache in pieces of at most this size: on ext4 with large folios, a later 4 KiB
# write into a folio made by one 1 MiB write costs ~40 us, into a 64 KiB one ~5 us (measured here).
WRITE_PIECE = 64 << 10


class FileState:
    """What every open handle of one Curve file shares: its length, block size and head layer.

    ``head`` is the layer taking the writes (see layers.py); a snapshot or a
    rollback replaces it under ``lock``, which writers of a head with a parent
    also hold. Writers of a head without a parent (the fast path) take no lock
    and redo their write if the head was replaced under them.
    A new head or length is told to the C I/O loops serving the file (``watchers``:
    fastpath.Table entries, (table, nebd fd) -> align_check), the old head withdrawn
    from them before the new one is in place.
    """
    __slots__ = ("id", "path", "_length", "blocksize", "_head", "lock", "watchers", "__weakref__")

    def __init__(self, file_id: int, path: str, length: int, blocksize: int, head) -> None:
        self.id, self.path, self._length, self.blocksize = file_id, path, length, blocksize
        self._head = head
        self.lock = threading.Lock()
        self.watchers: dict = {}

    @property
    def head(self):
        return self._head

    @head.setter
    def head(self, layer) -> None:
        fastpath.replace_head(self, layer)   # the C loops drop the old head first, then get this one

    @property
    def length(self) -> int:
        return self._length

    @length.setter
    def length(self, length: int) -> None:
        fastpath.set_length(self, length)    # and the C loops serve up to it


class Volume:
    """An open handle on a Curve file; methods raise CurveError like Curve's client does."""

    def __init__(self, state: FileState, align_check: bool) -> None:
        self.state = state
        self.align_check = align_check

    @property
    def length(self) -> int:
        return self.state.length

    @property
    def blocksize(self) -> int:
        return self.state.blocksize

    def check(self, offset: int, size: int) -> None:
        """Curve's CheckAlign and the volume bounds."""
        state = self.state
        if self.align_check and (offset | size) & (state.blocksize - 1):
            raise CurveError(CurveStatus.NOT_ALIGNED,
                             f"{state.path}: NOT_ALIGNED: offset {offset} length {size} "
                             f"not multiples of the block size {state.blocksize}")
        if offset + size > state.length:
            raise CurveError(CurveStatus.PARAM_ERROR,
                             f"{state.path}: I/O at {offset}+{size} beyond the volume length {state.length}")

    def read(self, offset: int, size: int) -> bytearray:
        self.check(offset, size)
        buf = bytearray(size)
        head = self.state.head
        view = memoryview(buf)
        if head.parent is None:
            done = 0
            fd = head.fd
            while done < size:
                n = os.preadv(fd, [view[done:]], offset + done)
                if n <= 0:  # past the data file's end reads as zeros (already zero)
                    break
                done += n
        else:
            layers.read_into(head, offset, view)
        view.release()
        return buf

    def write(self, offset: int, data) -> None:
        size = len(data)
        self.check(offset, size)
        state = self.state
        head = state.head
        if head.parent is None:
            done = 0
            fd = head.fd
            while done < size:
                done += os.pwritev(fd, [data[done:done + WRITE_PIECE]], offset + done)
            if state.head is head:
                return
        with state.lock:  # layered, or the head was replaced while we wrote: (re)write the current head
            layers.write(state.head, offset, data)

    def discard(self, offset: int, size: int) -> None:
        self.check(offset, size)
        state = self.state
        try:
            head = state.head
            if head.parent is None:
                punch_hole(head.fd, offset, size)
                if state.head is head:
                    return
            with state.lock:
                layers.zero(state.head, offset, size)
        except OSError as exc:
            raise CurveError(CurveStatus.FAILED, f"{state.path}: discard failed: {exc.strerror}") from None

    def flush(self) -> None:
        os.fsync(self.state.head.fd)


class ReadOnlyVolume(Volume):
    """A handle that refuses every change (EROFS naming the file and why); reads as a Volume does.

    The C I/O loop (fastpath.py) serves only exact ``Volume`` objects, so writes to these always
    come here."""
    why = "read-only"

    def _refuse(self, what: str):
        raise Error(errno.EROFS, f"{self.state.path}: {what} refused: {self.why}")

    def write(self, offset: int, data) -> None:
        self._refuse("write")

    def discard(self, offset: int, size: int) -> None:
        self._refuse("discard")

    def flush(self) -> None:
        pass  # nothing is ever written through it


class ReadOnlyClone(ReadOnlyVolume):
    """A handle on a clone made with release1.5's Clone readonly=true (libcurve answers READONLY)."""
    why = "the clone was made read-only (Clone readonly=true)"
