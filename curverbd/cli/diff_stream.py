"""Ceph's ``rbd diff v1`` stream, as written by ``rbd export-diff`` and read by ``rbd import-diff``.

Layout (integers little-endian): the header ``b"rbd diff v1\\n"``; metadata records
``'f'`` from-snapshot and ``'t'`` to-snapshot (u8 tag, le32 name length, name) and
``'s'`` the image size (u8, le64); then data records ``'w'`` (u8, le64 offset,
le64 length, the bytes) and ``'z'`` zeros (u8, le64 offset, le64 length); and
the end record ``'e'``.
"""
from __future__ import annotations

import errno
import struct
from typing import BinaryIO, Iterator, NamedTuple

from ..errors import Error

HEADER = b"rbd diff v1\n"
MAX_NAME = 4096
READ_PIECE = 4 << 20   # a long 'w' record is handed out in pieces of at most this many bytes

_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_EXTENT = struct.Struct("<QQ")


class Record(NamedTuple):
    """One record: ``tag`` in 'ftswze'; ``name`` for f/t, ``offset``/``length`` for s (length = size), w, z;
    ``data`` for w."""
    tag: str
    name: str | None = None
    offset: int = 0
    length: int = 0
    data: bytes | None = None


class DiffWriter:
    """Writes a diff stream to a binary file object."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        out.write(HEADER)

    def _name(self, tag: bytes, name: str) -> None:
        raw = name.encode()
        self.out.write(tag + _U32.pack(len(raw)) + raw)

    def from_snap(self, name: str) -> None:
        self._name(b"f", name)

    def to_snap(self, name: str) -> None:
        self._name(b"t", name)

    def size(self, size: int) -> None:
        self.out.write(b"s" + _U64.pack(size))

    def data(self, offset: int, data) -> None:
        self.out.write(b"w" + _EXTENT.pack(offset, len(data)))
        self.out.write(data)

    def zero(self, offset: int, length: int) -> None:
        self.out.write(b"z" + _EXTENT.pack(offset, length))

    def end(self) -> None:
        self.out.write(b"e")
        self.out.flush()


def _exactly(src: BinaryIO, length: int, what: str) -> bytes:
    data = src.read(length)
    if data is None or len(data) != length:
        raise Error(errno.EINVAL, f"diff stream truncated in {what}")
    return data


def read_records(src: BinaryIO) -> Iterator[Record]:
    """The records of a diff stream, ending with its 'e'; Error(EINVAL) if it is malformed or cut short."""
    header = src.read(len(HEADER))
    if header != HEADER:
        raise Error(errno.EINVAL, f"not an rbd diff v1 stream (header {header[:len(HEADER)]!r})")
    while True:
        tag = src.read(1)
        if not tag:
            raise Error(errno.EINVAL, "diff stream ended without its end record")
        if tag in (b"f", b"t"):
            (length,) = _U32.unpack(_exactly(src, 4, "a snapshot name"))
            if length > MAX_NAME:
                raise Error(errno.EINVAL, f"diff stream: snapshot name of {length} bytes")
            yield Record(tag.decode(), name=_exactly(src, length, "a snapshot name").decode())
        elif tag == b"s":
            (size,) = _U64.unpack(_exactly(src, 8, "the size record"))
            yield Record("s", length=size)
        elif tag in (b"w", b"z"):
            offset, length = _EXTENT.unpack(_exactly(src, 16, "an extent"))
            if tag == b"z":
                yield Record("z", offset=offset, length=length)
                continue
            done = 0
            while done < length:
                piece = min(READ_PIECE, length - done)
                yield Record("w", offset=offset + done, length=piece, data=_exactly(src, piece, "data"))
                done += piece
        elif tag == b"e":
            yield Record("e")
            return
        else:
            raise Error(errno.EINVAL, f"diff stream: unknown record tag {tag!r}")
