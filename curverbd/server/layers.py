"""Copy-on-write layers of the stand-in store: how snapshots and clones share data instead of copying it.

A volume's data is a chain of layers. Each layer is a sparse file with a
length and a parent layer. The volume's *head* layer takes the writes; a
snapshot freezes the head and puts a new, empty head on top of it (redirect on
write). A grain (4 KiB, the filesystem block) not allocated in a layer falls
through to its parent; anything beyond the length of a layer on the way down
reads as zeros. Allocated ranges are found with lseek(SEEK_DATA / SEEK_HOLE).

Rules that keep every view consistent while clients keep doing I/O:
- layers below a head never change what they show: merging a layer into its
  children and flattening only fill *holes* of the receiver with exactly the
  bytes it showed through them, and only then re-link parents;
- a read walks a chain it captured at its start (old layers stay open while
  referenced, even when their file was unlinked);
- writers of a head that has a parent hold the volume's lock (copy-up of
  partial grains and hole filling are read-then-write).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
from typing import Iterator

GRAIN = 4096          # filesystem block: the unit of allocation SEEK_DATA reports
COPY_CHUNK = 4 << 20  # bytes per read/write when copying between layers
_ZEROS = bytes(COPY_CHUNK)

Extent = tuple[int, int]  # [start, end)

FALLOC_FL_KEEP_SIZE = 1
FALLOC_FL_PUNCH_HOLE = 2
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_fallocate = _libc.fallocate
_fallocate.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64)
_fallocate.restype = ctypes.c_int


def punch_hole(fd: int, offset: int, size: int) -> None:
    """Deallocate [offset, offset+size) of ``fd`` (it then reads as zeros); OSError on failure."""
    if size and _fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, size):
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


class Layer:
    """One layer: an open sparse file, its length, the layer below it (None at the bottom) and its owner file.

    ``id`` is the frozen layer's (snapshot's) id, None for a head. The file
    descriptor is closed when the last reference goes, so I/O that captured a
    layer can finish even after the layer was merged away.
    """
    __slots__ = ("id", "file_id", "fd", "length", "parent", "__weakref__")

    def __init__(self, layer_id: int | None, file_id: int, fd: int, length: int, parent: "Layer | None") -> None:
        self.id, self.file_id, self.fd, self.length, self.parent = layer_id, file_id, fd, length, parent

    def __del__(self) -> None:
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)

    def chain(self) -> list["Layer"]:
        """This layer and every layer below it, top first (a consistent capture: each link is read once)."""
        out = []
        layer: Layer | None = self
        while layer is not None:
            out.append(layer)
            layer = layer.parent
        return out


# --- extents --------------------------------------------------------------------------------------
def data_extents(fd: int, lo: int, hi: int) -> Iterator[Extent]:
    """The allocated ranges of ``fd`` within [lo, hi)."""
    pos = lo
    while pos < hi:
        try:
            start = os.lseek(fd, pos, os.SEEK_DATA)
        except OSError as exc:
            if exc.errno == errno.ENXIO:  # no data after pos
                return
            raise
        if start >= hi:
            return
        end = os.lseek(fd, start, os.SEEK_HOLE)
        yield start, min(end, hi)
        pos = end


def has_data(fd: int, pos: int) -> bool:
    try:
        return os.lseek(fd, pos, os.SEEK_DATA) == pos
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            return False
        raise


def merged(extents: list[Extent]) -> list[Extent]:
    """Sorted, non-overlapping, adjacent ones joined."""
    out: list[list[int]] = []
    for start, end in sorted(extents):
        if out and start <= out[-1][1]:
            out[-1][1] = max(out[-1][1], end)
        elif start < end:
            out.append([start, end])
    return [(s, e) for s, e in out]


def holes(extents: list[Extent], lo: int, hi: int) -> list[Extent]:
    """The complement of merged ``extents`` within [lo, hi)."""
    out, pos = [], lo
    for start, end in extents:
        if start > pos:
            out.append((pos, min(start, hi)))
        pos = max(pos, end)
        if pos >= hi:
            break
    if pos < hi:
        out.append((pos, hi))
    return [(s, e) for s, e in out if s < e]


def view_extents(top: Layer | None, lo: int, hi: int, stop: Layer | None = None,
                 own_file: int | None = None) -> list[Extent]:
    """Where the view through ``top`` may show data in [lo, hi): the allocated ranges of each layer,
    clipped to the lengths met on the way down; stopping at layer ``stop`` or at the first layer not
    owned by ``own_file`` (when given)."""
    out: list[Extent] = []
    limit = hi
    for layer in top.chain() if top is not None else ():
        if layer is stop or (own_file is not None and layer.file_id != own_file):
            break
        limit = min(limit, layer.length)
        if lo >= limit:
            break
        out.extend(data_extents(layer.fd, lo, limit))
    return merged(out)


# --- reading and writing --------------------------------------------------------------------------
def _pread(fd: int, view: memoryview, offset: int) -> None:
    done, size = 0, len(view)
    while done < size:
        n = os.preadv(fd, [view[done:]], offset + done)
        if n <= 0:
            break  # past the file's end: zeros (the buffer holds zeros)
        done += n


def pwrite_all(fd: int, data, offset: int) -> None:
    done, size = 0, len(data)
    while done < size:
        done += os.pwritev(fd, [data[done:]], offset + done)


def read_into(top: Layer, offset: int, buf: memoryview) -> None:
    """Fill ``buf`` (zeroed by the caller) with the view through ``top`` at ``offset``."""
    todo = [(offset, offset + len(buf))]
    limit = offset + len(buf)
    for layer in top.chain():
        limit = min(limit, layer.length)  # beyond a layer's length: zeros, whatever lies below
        rest = []
        for lo, hi in todo:
            hi = min(hi, limit)
            pos = lo
            for start, end in data_extents(layer.fd, lo, hi):
                if start > pos:
                    rest.append((pos, start))
                _pread(layer.fd, buf[start - offset:end - offset], start)
                pos = end
            if pos < hi:
                rest.append((pos, hi))
        todo = rest
        if not todo:
            return


def read(top: Layer, offset: int, size: int) -> bytearray:
    buf = bytearray(size)
    with memoryview(buf) as view:
        read_into(top, offset, view)
    return buf


def _copy_up(head: Layer, grain: int) -> None:
    """Give ``head`` its own copy of the grain at ``grain`` (what it shows now) before a partial write."""
    if head.parent is not None and grain < head.length and not has_data(head.fd, grain):
        pwrite_all(head.fd, read(head.parent, grain, min(GRAIN, head.length - grain)), grain)


def write(head: Layer, offset: int, data) -> None:
    """Write into a head (caller holds the volume's lock when the head has a parent)."""
    end = offset + len(data)
    if head.parent is not None and (offset % GRAIN or end % GRAIN):
        _copy_up(head, offset - offset % GRAIN)
        _copy_up(head, end - end % GRAIN if end % GRAIN else end - GRAIN)
    pwrite_all(head.fd, data, offset)


def write_zeros(fd: int, lo: int, hi: int) -> None:
    for start in range(lo, hi, COPY_CHUNK):
        pwrite_all(fd, memoryview(_ZEROS)[:min(COPY_CHUNK, hi - start)], start)


def zero(head: Layer, offset: int, size: int) -> None:
    """Make [offset, offset+size) of a head read as zeros (caller holds the volume's lock if layered).

    Without a parent, or where no layer below shows data, a hole is enough; where
    one does, a hole would expose it, so zeros are written there.
    """
    end = offset + size
    if head.parent is None:
        punch_hole(head.fd, offset, size)
        return
    lo = offset + (-offset) % GRAIN
    hi = end - end % GRAIN
    if lo >= hi:
        write(head, offset, bytes(size))
        return
    if offset < lo:
        write(head, offset, bytes(lo - offset))
    if end > hi:
        write(head, hi, bytes(end - hi))
    below = [(max(s - s % GRAIN, lo), min(e + (-e) % GRAIN, hi)) for s, e in view_extents(head.parent, lo, hi)]
    below = merged(below)
    for start, stop in below:  # zeros first, then holes: a reader never sees the parent's old bytes
        write_zeros(head.fd, start, stop)
    for start, stop in holes(below, lo, hi):
        punch_hole(head.fd, start, stop - start)


# --- moving data between layers -------------------------------------------------------------------
def fill(target: Layer, extents: list[Extent], source: Layer | None) -> int:
    """Copy the view through ``source`` (zeros if None) into the holes of ``target`` within ``extents``;
    returns the bytes copied."""
    copied = 0
    for lo, hi in extents:
        for start, stop in holes(list(data_extents(target.fd, lo, hi)), lo, hi):
            for at in range(start, stop, COPY_CHUNK):
                n = min(COPY_CHUNK, stop - at)
                data = read(source, at, n) if source is not None else bytes(n)
                pwrite_all(target.fd, data, at)
                copied += n
    return copied


def pieces(extents: list[Extent], size: int = COPY_CHUNK) -> Iterator[Extent]:
    """``extents`` cut into ranges of at most ``size`` bytes (so a lock is held per piece, not per image)."""
    for lo, hi in extents:
        for at in range(lo, hi, size):
            yield at, min(at + size, hi)


def merge_extents(layer: Layer, child: Layer) -> list[Extent]:
    """Where ``child`` must get ``layer``'s view before ``child`` is re-linked to ``layer``'s parent:
    ``layer``'s own data, and whatever the new parent shows beyond ``layer``'s length (zeros before)."""
    own = list(data_extents(layer.fd, 0, min(layer.length, child.length)))
    beyond = view_extents(layer.parent, layer.length, child.length) if child.length > layer.length else []
    return merged(own + beyond)


def flatten_extents(root: Layer, lo: int, hi: int) -> list[Extent]:
    """Where ``root`` must get its parent's view (within [lo, hi)) before the link is dropped."""
    return view_extents(root.parent, lo, min(hi, root.length))


def allocated(layer: Layer) -> int:
    return os.fstat(layer.fd).st_blocks * 512


# --- differences ----------------------------------------------------------------------------------
def _limits(chain: list[Layer]) -> dict[int, int]:
    """id(layer) -> the length limit in force at that layer when seen from the chain's top."""
    out, limit = {}, None
    for layer in chain:
        limit = layer.length if limit is None else min(limit, layer.length)
        out[id(layer)] = limit
    return out


def changed_extents(top: Layer, base: Layer | None, lo: int, hi: int, own_file: int | None = None) -> list[Extent]:
    """Ranges in [lo, hi) where the view through ``top`` may differ from the view through ``base``
    (all zeros when None): data of layers in one chain only, and of shared layers where the two
    views clip them differently. ``own_file`` stops ``top``'s chain at the first foreign layer."""
    full = top.chain()
    tchain = full
    if own_file is not None:
        tchain = full[:next((i for i, layer in enumerate(full) if layer.file_id != own_file), len(full))]
    bchain = base.chain() if base is not None else []
    tlim, blim = _limits(full), _limits(bchain)
    shared = {id(layer) for layer in bchain}
    out: list[Extent] = []
    for layer in tchain:
        limit = min(hi, tlim[id(layer)])
        if id(layer) not in shared:
            out.extend(data_extents(layer.fd, lo, limit))
        else:
            a, b = sorted((tlim[id(layer)], blim[id(layer)]))
            out.extend(data_extents(layer.fd, max(lo, a), min(hi, b)))
    tids = {id(layer) for layer in full}
    for layer in bchain:
        if id(layer) not in tids:
            out.extend(data_extents(layer.fd, lo, min(hi, blim[id(layer)])))
    return merged(out)


def zero_runs(top: Layer, extents: list[Extent], grain: int) -> list[tuple[int, int, bool]]:
    """``extents`` as [(start, end, exists)], exists meaning the view shows a non-zero byte in the
    (aligned) grain around it; adjacent runs with equal ``exists`` joined."""
    out: list[list] = []
    zero_grain = bytes(grain)
    for lo, hi in extents:
        start_all, end_all = lo - lo % grain, hi + (-hi) % grain
        for at in range(start_all, end_all, COPY_CHUNK):
            n = min(COPY_CHUNK, end_all - at)
            data = read(top, at, n)
            if data == _ZEROS[:n]:  # the common cases cost one comparison
                runs = [(at, at + n, False)]
            else:
                runs = [(at + off, at + off + grain, data[off:off + grain] != zero_grain)
                        for off in range(0, n, grain)]
            for start, end, exists in runs:
                start, end = max(start, lo), min(end, hi)
                if start >= end:
                    continue
                if out and out[-1][1] == start and out[-1][2] == exists:
                    out[-1][1] = end
                else:
                    out.append([start, end, exists])
    return [(s, e, x) for s, e, x in out]
