"""An open Curve volume of the stand-in store: a sparse data file and Curve's I/O rules.

I/O goes straight between the frame buffers and the data file (preadv/pwritev),
so the daemon never copies volume data. The OS file descriptor is closed when
the last reference goes away, so a request still running on another thread keeps
a volume valid even after CloseFile or the heartbeat checker dropped it.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os

from ..errors import CurveError, CurveStatus

FALLOC_FL_KEEP_SIZE = 1
FALLOC_FL_PUNCH_HOLE = 2

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_fallocate = _libc.fallocate
_fallocate.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64)
_fallocate.restype = ctypes.c_int


class FileState:
    """What every open handle of one Curve file shares: its current length and block size."""
    __slots__ = ("id", "path", "length", "blocksize", "__weakref__")

    def __init__(self, file_id: int, path: str, length: int, blocksize: int) -> None:
        self.id, self.path, self.length, self.blocksize = file_id, path, length, blocksize


class Volume:
    """An open handle on a Curve file; methods raise CurveError like Curve's client does."""

    def __init__(self, fd: int, state: FileState, align_check: bool) -> None:
        self.fd = fd
        self.state = state
        self.align_check = align_check

    def __del__(self) -> None:
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)

    @property
    def length(self) -> int:
        return self.state.length

    @property
    def blocksize(self) -> int:
        return self.state.blocksize

    def check(self, offset: int, size: int) -> None:
        """Curve's CheckAlign and the volume bounds."""
        if self.align_check:
            mask = self.state.blocksize - 1
            if offset & mask or size & mask:
                raise CurveError(CurveStatus.NOT_ALIGNED,
                                 f"{self.state.path}: NOT_ALIGNED: offset {offset} length {size} "
                                 f"not multiples of the block size {self.state.blocksize}")
        if offset + size > self.state.length:
            raise CurveError(CurveStatus.PARAM_ERROR,
                             f"{self.state.path}: I/O at {offset}+{size} beyond the volume length "
                             f"{self.state.length}")

    def read(self, offset: int, size: int) -> bytearray:
        self.check(offset, size)
        buf = bytearray(size)
        done = 0
        view = memoryview(buf)
        while done < size:
            n = os.preadv(self.fd, [view[done:]], offset + done)
            if n <= 0:  # past the data file's end reads as zeros (already zero)
                break
            done += n
        view.release()
        return buf

    def write(self, offset: int, data) -> None:
        size = len(data)
        self.check(offset, size)
        done = 0
        while done < size:
            done += os.pwritev(self.fd, [data[done:]], offset + done)

    def discard(self, offset: int, size: int) -> None:
        self.check(offset, size)
        if size and _fallocate(self.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, size):
            err = ctypes.get_errno()
            raise CurveError(CurveStatus.FAILED, f"{self.state.path}: discard failed: {os.strerror(err)}")

    def flush(self) -> None:
        os.fsync(self.fd)
