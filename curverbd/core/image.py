"""Image: an RBD image backed by the Curve file ``/<pool>/<image>``.

The logical size lives in the catalog (exactly what the user asked for); the
Curve file is at least 10 GiB and grows by whole segments. I/O is bounded by
the logical size like librbd's clip_io and padded here to the file's block
size (Curve refuses unaligned I/O):

- read: the covering blocks are read; the padding bytes land in a scratch
  buffer and the asked-for bytes straight in the caller's buffer;
- write: the partial edge blocks are read first, then the whole covering range
  is written as [head padding, caller's data, tail padding] (one gathered send);
- discard / write_zeroes: partial edge blocks get zeros by read-modify-write,
  whole blocks are discarded (a discarded block reads as zeros).

An image opened at a snapshot (or ``set_snap``) reads a read-only clone of it
(Curve opens no snapshot; catalog_snapshots.py) and refuses writes with EROFS; snapshot, clone and whole-image
operations are in snapshots.py.

Writes, discards and zeroes hold a lock on the blocks they touch from
submission until their last sub-request completes, so overlapping
read-modify-writes never lose each other's bytes. Flush waits for the
mutations submitted before it, then flushes the file.
"""
from __future__ import annotations

import contextlib
import errno
import itertools
import logging
import sys
import threading
import weakref
from typing import TYPE_CHECKING, Any, Callable

from .. import features as feature_bits
from ..errors import Error
from .alignment import RangeLock, covering, cut, inner, pieces
from .completion import Completion
from .op import Op, Step
from .snapshots import ImageSnapshots
from .writer_lock import WriterLock, break_lock, lock_owner

log = logging.getLogger("curverbd.image")
CLOSE_FLUSH_S = 30.0          # how long close() waits for its flush
OPEN_LOCK_WAIT_S = 2.0        # how long open waits for another handle to hand the write lock over
RESERVED_PREFIX = ".curverbd."               # curverbd's own metadata keys (advisory_locks.py, snapshot limit)
SNAP_LIMIT_KEY = RESERVED_PREFIX + "snap_limit"
NO_SNAP_LIMIT = (1 << 64) - 1                # librbd's "no snapshot limit"
COPY_CHUNK = 4 << 20                         # bytes read per step by sparsify and deep_copy


def _call(method: weakref.WeakMethod) -> None:
    """Call a weakly held method if its object still lives."""
    bound = method()
    if bound is not None:
        bound()

if TYPE_CHECKING:
    from .ioctx import IoCtx

MAX_IO = 32 << 20  # bytes per nebd request (libnebd's NEBD_MAX_BUF_LEN); frames stay under brpc's 64 MiB

Callback = Callable[[Completion], Any] | None


def _bytes_view(data, writable: bool = False) -> memoryview:
    view = memoryview(data)
    if view.ndim != 1 or view.format not in ("B", "b", "c"):
        view = view.cast("B")
    if writable and view.readonly:
        raise Error(errno.EINVAL, "read buffer is read-only")
    return view


class Image(ImageSnapshots):
    """An open image (at a snapshot: read-only). Thread-safe; aio callbacks run on the cluster's receiver
    thread."""

    def __init__(self, ioctx: "IoCtx", name: str, read_only: bool = False, snapshot: str | None = None) -> None:
        self.ioctx = ioctx
        self.name = name
        self.read_only = read_only or snapshot is not None   # librbd: opened at a snapshot, read-only for good
        cluster = ioctx.cluster
        self._nebd = cluster._require_nebd()
        self._catalog = cluster._catalog
        self._record = self._catalog.stat_image(ioctx.pool, name)   # ENOENT, EPERM
        self._size: int = self._record["size"]
        self._snap: str | None = snapshot
        self._view: dict | None = None
        if snapshot is not None:   # read through a read-only clone of it (Curve opens no snapshot)
            self._view = self._catalog.open_view(ioctx.pool, name, snapshot)   # ENOENT
            self._size = self._view["size"]
        self._file = self._nebd_name(self._view)
        try:
            self._fd = cluster._open_file(self._file)
            try:
                self._block: int = self._nebd.get_info(self._fd)["blocksize"]
            except Error:
                cluster._close_file(self._file)
                raise
        except BaseException:
            if self._view is not None:
                self._catalog.close_view(self._view)
            raise
        self._locks = RangeLock()
        self._crypto = None    # luks.Encryption once encryption_load / encryption_format ran (luks.py)
        self._encryption_lock = threading.Lock()
        self._zeros = memoryview(bytes(self._block))
        self._sink = memoryview(bytearray(self._block))  # padding bytes nobody reads
        self._seqs = itertools.count(1)
        self._mutations: set[int] = set()                # seq of writes/discards in flight
        self._flushes: list[tuple[int, Op]] = []         # (last seq before the flush, op)
        self._state = threading.Lock()
        self._idle = threading.Condition(self._state)    # no mutation in flight
        self._closed = False
        # one writer at a time, across clients (writer_lock.py); taken at the first write
        drain = weakref.WeakMethod(self._drain_writes)   # the lock's watch thread must not keep the image
        self.writer = None if self.read_only else WriterLock(cluster._lock_session(), self._record["file_id"],
                                                             repr(self), lambda: _call(drain))
        if self.writer is not None:
            # taken now, while the cluster answers, so that writes submitted while the daemon (and the
            # embedded etcd) restarts need nothing from etcd; a holder that keeps it is asked again at
            # the first write
            try:
                self.writer.acquire(wait_s=OPEN_LOCK_WAIT_S)
            except Error as exc:
                log.info("%s: write lock not taken at open (%s); the first write asks again", self, exc)
        # another host's resize (or rollback) reaches this handle like librbd's header watch
        self._watch = self._watch_record()

    def __repr__(self) -> str:
        at = f"@{self._snap}" if self._snap is not None else ""
        return f"<Image {self.ioctx.pool}/{self.name}{at}>"

    @property
    def spec(self) -> str:
        return f"{self.ioctx.pool}/{self.name}"

    @property
    def block_size(self) -> int:
        return self._block

    @property
    def nebd_fd(self) -> int:
        """The volume's fd on the daemon (server-wide: the C data path uses it on its own connection)."""
        return self._fd

    def __enter__(self) -> "Image":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        # like librbd's binding: an image nobody references any more is closed (not while the interpreter
        # shuts down: the threads that would complete the flush are gone by then)
        if not getattr(self, "_closed", True) and not sys.is_finalizing():
            try:
                self.close()
            except Exception:   # noqa: BLE001 (nothing to tell at collection; close logs nothing either)
                pass

    def _watch_record(self):
        """Watch the image's RBD record; the watch holds the image weakly, so it can be collected."""
        method = weakref.WeakMethod(self._on_change)

        def on_change(state: dict | None) -> None:
            bound = method()
            if bound is not None:
                bound(state)
        return self._catalog.watch_image(self._record, on_change)

    # --- size and metadata -----------------------------------------------------
    def size(self) -> int:
        """The exact logical size in bytes (with encryption loaded: the data area's, as librbd)."""
        crypto = self._crypto
        if crypto is not None:
            return max(0, self._size - crypto.data_offset)
        return self._size

    def stat(self) -> dict:
        """The catalog's ImageRecord (refreshes the cached size)."""
        self._check_open()
        self._record = self._catalog.stat_image(self.ioctx.pool, self.name)
        if self._snap is None:
            self._size = self._record["size"]
        return dict(self._record)

    def _on_change(self, state: dict | None) -> None:
        """The image's RBD record changed (here or on another host): take its size."""
        if state is not None and self._snap is None:
            self._size = state["size"]
        if state is not None and self._view is not None:
            self._snapshots_changed(state)   # its snapshot removed? (snapshots.py)

    def resize(self, size: int) -> None:
        """Set the logical size. The Curve file only grows (the server adds whole segments).

        Shrinking zeroes [size, old size) *before* the catalog shrinks, so that the
        region reads as zeros when the image grows again (zero-on-shrink keeps grows,
        which are frequent, free; and a crash in between leaves zeros, never stale data).
        """
        self._check_writable()
        if size < 0:
            raise Error(errno.EINVAL, f"{self}: negative size {size}")
        old = self._size
        if size < old:
            # the raw size, as librbd's resize takes it with encryption loaded (the cut tail then reads
            # as zeros either way: an all-zero raw sector decrypts to zeros, luks.py)
            skip = self._crypto.data_offset if self._crypto is not None else 0
            if old > max(size, skip):
                self.write_zeroes(max(size, skip) - skip, old - max(size, skip))
        self._record = self._catalog.resize_image(self.ioctx.pool, self.name, size)
        self._size = self._record["size"]

    def metadata_get(self, key: str) -> str:
        self._check_open()
        return self._catalog.get_meta(self.ioctx.pool, self.name, key)

    def metadata_set(self, key: str, value: str) -> None:
        self._check_writable()
        self._catalog.set_meta(self.ioctx.pool, self.name, key, value)

    def metadata_remove(self, key: str) -> None:
        self._check_writable()
        self._catalog.remove_meta(self.ioctx.pool, self.name, key)

    def metadata_list(self) -> dict[str, str]:
        self._check_open()
        return self._catalog.list_meta(self.ioctx.pool, self.name)

    # --- librbd's client-side encryption (luks.py) ---------------------------------------
    def encryption_format(self, fmt: int, alg: int, passphrase: bytes):
        """rbd_encryption_format: write a LUKS1/LUKS2 header and load it; I/O is then encrypted and the
        size is the data area's. EEXIST if loaded already, ENOSPC if the image is too small."""
        from . import luks
        with self._encryption_change():
            return luks.format_image(self, fmt, alg, passphrase)

    def encryption_load(self, fmt: int, passphrase: bytes):
        """rbd_encryption_load: open the image's LUKS header; EPERM for a wrong passphrase (the image
        stays as it was), EINVAL if it is not LUKS (of that version), EEXIST if loaded already."""
        from . import luks
        with self._encryption_change():
            return luks.load_image(self, fmt, passphrase)

    def diff_iterate(self, offset: int, length: int, from_snap, callback, include_parent: bool = True,
                     whole_object: bool = False) -> int:
        """As ImageSnapshots.diff_iterate; with encryption loaded, in data-area offsets (the header is not
        reported) and by whole objects (a changed ciphertext block cannot be trimmed by its bytes)."""
        crypto = self._crypto
        if crypto is None:
            return super().diff_iterate(offset, length, from_snap, callback, include_parent, whole_object)
        if offset < 0 or length < 0 or offset > self.size():
            raise Error(errno.EINVAL, f"{self}: diff range {offset}+{length} outside the image size {self.size()}")
        skip = crypto.data_offset

        def shifted(start: int, size: int, exists):
            if start + size <= skip:
                return 0
            if start < skip:
                start, size = skip, size - (skip - start)
            return callback(start - skip, size, exists)
        return super().diff_iterate(offset + skip, length, from_snap, shifted, include_parent, True)

    @contextlib.contextmanager
    def _encryption_change(self):
        """Serialises format/load, after this handle's mutations in flight (they used the old mapping)."""
        with self._encryption_lock:
            with self._state:
                self._idle.wait_for(lambda: not self._mutations)
            yield

    # --- synchronous I/O ---------------------------------------------------------
    def _wait(self, completion: Completion) -> int:
        """The result of a synchronous call (which a completion callback must not make)."""
        if not completion.is_complete() and self._nebd.connection.on_receiver_thread():
            raise Error(errno.EDEADLK, f"{self}: synchronous I/O from a completion callback")
        return completion.result()

    def read(self, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes at ``offset`` (fewer at the end of the image)."""
        completion = self.aio_read(offset, length)
        self._wait(completion)
        return completion.data

    def readinto(self, offset: int, buffer) -> int:
        return self._wait(self.aio_readinto(offset, buffer))

    def write(self, offset: int, data) -> int:
        return self._wait(self.aio_write(offset, data))

    def discard(self, offset: int, length: int) -> int:
        return self._wait(self.aio_discard(offset, length))

    def write_zeroes(self, offset: int, length: int) -> int:
        return self._wait(self.aio_write_zeroes(offset, length))

    def flush(self) -> None:
        self._wait(self.aio_flush())

    # --- asynchronous I/O ------------------------------------------------------
    def aio_read(self, offset: int, length: int, callback: Callback = None) -> Completion:
        """Read into a new buffer; the bytes end up in ``completion.data``."""
        completion = Completion(callback)
        try:
            self._check_open()
            self._check_snap_exists()
            length = self._clip(offset, length)
        except Error as exc:
            return completion._fail(exc)
        buffer = bytearray(length)

        def finish(op: Op) -> None:
            completion.data = bytes(buffer) if op.error is None else None
        self._read(Op(completion, length, finish), offset, memoryview(buffer))
        return completion

    def aio_readinto(self, offset: int, buffer, callback: Callback = None) -> Completion:
        """Read ``len(buffer)`` bytes (clipped at the end of the image) straight into ``buffer``."""
        completion = Completion(callback)
        try:
            self._check_open()
            self._check_snap_exists()
            view = _bytes_view(buffer, writable=True)
            length = self._clip(offset, len(view))
        except Error as exc:
            return completion._fail(exc)
        self._read(Op(completion, length), offset, view[:length])
        return completion

    def aio_write(self, offset: int, data, callback: Callback = None) -> Completion:
        """Write ``data`` (not copied: keep it unchanged until completion) at ``offset``."""
        completion = Completion(callback)
        try:
            self._check_writable()
            view = _bytes_view(data)
            length = self._clip(offset, len(view))
        except Error as exc:
            return completion._fail(exc)
        view = view[:length]
        return self._mutate(Op(completion, length, self._mutation_done), offset, length,
                            lambda op: self._write(op, offset, view))

    def aio_discard(self, offset: int, length: int, callback: Callback = None) -> Completion:
        return self._aio_zero(offset, length, callback)

    def aio_write_zeroes(self, offset: int, length: int, callback: Callback = None) -> Completion:
        # Same effect as discard here: both leave zeros (discarded blocks read as zeros).
        return self._aio_zero(offset, length, callback)

    def aio_flush(self, callback: Callback = None) -> Completion:
        """Flush once every mutation submitted before this call has completed."""
        completion = Completion(callback)
        try:
            self._check_open()
        except Error as exc:
            return completion._fail(exc)
        op = Op(completion, 0)
        with self._state:
            barrier = next(self._seqs)
            if any(seq < barrier for seq in self._mutations):
                self._flushes.append((barrier, op))
                return completion
        self._send_flush(op)
        return completion

    # --- data path internals -----------------------------------------------------
    def _clip(self, offset: int, length: int) -> int:
        """librbd's clip_io: a zero-length request is always valid; one starting at or past the end is
        EINVAL; a range over the end is cut."""
        if offset < 0 or length < 0:
            raise Error(errno.EINVAL, f"{self}: negative offset {offset} or length {length}")
        if length == 0:
            return 0
        size = self.size()
        if offset >= size:
            raise Error(errno.EINVAL, f"{self}: offset {offset} is at or beyond the image size {size}")
        return min(length, size - offset)

    def _check_open(self) -> None:
        if self._closed:
            raise Error(errno.EBADF, f"{self} is closed")

    def _check_writable(self) -> None:
        self._check_open()
        if self.read_only:
            raise Error(errno.EROFS, f"{self} is open read-only")
        if self._snap is not None:
            raise Error(errno.EROFS, f"{self} is set to snapshot {self._snap!r}: snapshots are read-only")

    def _switch_file(self, name: str, size: int) -> None:
        """Do I/O on nebd file ``name`` from now on (the image or one of its snapshot views)."""
        cluster = self.ioctx.cluster
        fd = cluster._open_file(name)
        old, self._file, self._fd, self._size = self._file, name, fd, size
        cluster._close_file(old)

    def _read(self, op: Op, offset: int, dest: memoryview) -> None:
        length = len(dest)
        if length == 0:
            op.finish()
            return
        if self._crypto is not None:
            self._read_encrypted(op, offset, dest, self._crypto)
            return
        start, end = covering(offset, length, self._block)
        segments = [dest]
        if offset > start:
            segments.insert(0, self._sink[:offset - start])
        if end > offset + length:
            segments.append(self._sink[:end - offset - length])
        op.run(self._chunked("aio_read", start, end, segments))

    def _chunked(self, method: str, start: int, end: int, segments: list) -> list[Step]:
        """Read or write steps for [start, end) over ``segments``, at most MAX_IO each."""
        function = getattr(self._nebd, method)
        fd = self._fd
        if end - start <= MAX_IO:
            return [(function, (fd, start, segments))]
        return [(function, (fd, lo, cut(segments, lo - start, hi - start))) for lo, hi in pieces(start, end, MAX_IO)]

    def _mutate(self, op: Op, offset: int, length: int, body: Callable[[Op], None]) -> Completion:
        """Run ``body(op)`` once the blocks of [offset, offset+length) are locked for it."""
        if length == 0:
            op.on_finish = None
            op.finish()
            return op.completion
        op.lock_range = covering(offset, length, self._block)
        while True:
            with self._state:
                if self.writer is None or self.writer.held:   # checked where the mutation registers
                    op.seq = next(self._seqs)
                    self._mutations.add(op.seq)
                    break
            self.writer.acquire()
        self._locks.acquire(*op.lock_range, lambda: self._start(op, body))
        return op.completion

    @staticmethod
    def _start(op: Op, body: Callable[[Op], None]) -> None:
        try:
            body(op)
        except Exception as exc:
            op.error = exc if isinstance(exc, Error) else Error(errno.EIO, f"internal error: {exc!r}")
            op.finish()

    def _drain_writes(self) -> None:
        """The write lock goes to another client: wait for this handle's writes in flight."""
        with self._state:
            self._idle.wait_for(lambda: not self._mutations)

    def _mutation_done(self, op: Op) -> None:
        """Unlock the blocks; start the flushes that were waiting for this mutation."""
        self._locks.release(*op.lock_range)
        ready = []
        with self._state:
            self._mutations.discard(op.seq)
            if not self._mutations:
                self._idle.notify_all()
            if self._flushes:
                oldest = min(self._mutations, default=None)
                waiting = []
                for barrier, flush in self._flushes:
                    (waiting if oldest is not None and oldest < barrier else ready).append((barrier, flush))
                self._flushes = waiting
        for _, flush in ready:
            self._send_flush(flush)

    def _send_flush(self, op: Op) -> None:
        op.run([(self._nebd.aio_flush, (self._fd,))])

    def _edges(self, start: int, end: int, head: int, tail: int) -> tuple[list[Step], memoryview, memoryview]:
        """Steps reading the ``head`` bytes at ``start`` and the ``tail`` bytes before ``end``
        (block-aligned range), and the buffers they land in."""
        block = self._block
        prefix = memoryview(bytearray(head))
        suffix = memoryview(bytearray(tail))
        read = self._nebd.aio_read
        if end - start <= 2 * block:  # one small read of the whole range
            middle = end - start - head - tail
            into = [prefix, *cut([self._sink] * 2, 0, middle), suffix]
            return [(read, (self._fd, start, [b for b in into if len(b)]))], prefix, suffix
        steps: list[Step] = []
        if head:
            steps.append((read, (self._fd, start, [prefix, self._sink[:block - head]])))
        if tail:
            steps.append((read, (self._fd, end - block, [self._sink[:block - tail], suffix])))
        return steps, prefix, suffix

    # --- encrypted images (luks.py): a bounce buffer, the data area shifted by the header ---------
    def _read_encrypted(self, op: Op, offset: int, dest: memoryview, crypto) -> None:
        """Read the covering blocks of the data area, decrypt them, copy the asked-for bytes out."""
        start, end = covering(offset, len(dest), self._block)
        buf = bytearray(end - start)
        raw = start + crypto.data_offset

        def decrypt() -> None:
            plain = crypto.decrypt(buf, start)
            dest[:] = plain[offset - start:offset - start + len(dest)]
            op.finish()   # the last phase: a ``then`` that starts none finishes the op itself
        op.run(self._chunked("aio_read", raw, raw + len(buf), [memoryview(buf)]), decrypt)

    def _rmw_encrypted(self, op: Op, crypto, spans: list, extra: list | tuple = ()) -> None:
        """Write block-aligned spans (start, end, offset, length, data or None for zeros) of the data
        area: the partial edge blocks are read and decrypted first, each span is encrypted as a whole
        and written (with the ``extra`` steps, e.g. discards, in the same phase)."""
        block = self._block
        reads, plans = [], []
        for start, end, offset, length, data in spans:
            buf = bytearray(end - start)
            view = memoryview(buf)
            head, tail = offset - start, end - offset - length
            edges = [0] if head else []
            if tail and not (head and end - start == block):
                edges.append(end - start - block)
            raw = start + crypto.data_offset
            reads += [(self._nebd.aio_read, (self._fd, raw + at, [view[at:at + block]])) for at in edges]
            plans.append((start, raw, buf, view, edges, head, length, data))

        def fill() -> None:
            writes = list(extra)
            for start, raw, buf, view, edges, head, length, data in plans:
                for at in edges:
                    buf[at:at + block] = crypto.decrypt(view[at:at + block], start + at)
                buf[head:head + length] = bytes(length) if data is None else data
                cipher = memoryview(crypto.encrypt(buf, start))
                writes += self._chunked("aio_write", raw, raw + len(buf), [cipher])
            op.run(writes)
        op.run(reads, fill)

    def _zero_encrypted(self, op: Op, offset: int, length: int, crypto) -> None:
        """Whole blocks are discarded (an all-zero raw sector reads as zeros, luks.py), the partial edge
        blocks get encrypted zeros."""
        start, end = op.lock_range
        lo, hi = inner(offset, length, self._block)
        if lo >= hi:
            self._rmw_encrypted(op, crypto, [(start, end, offset, length, None)])
            return
        spans = []
        if lo > start:
            spans.append((start, lo, offset, lo - offset, None))
        if end > hi:
            spans.append((hi, end, hi, offset + length - hi, None))
        discard = [(self._nebd.aio_discard, (self._fd, lo + crypto.data_offset, hi - lo))]
        self._rmw_encrypted(op, crypto, spans, discard)

    def _write(self, op: Op, offset: int, data: memoryview) -> None:
        if self._crypto is not None:
            self._rmw_encrypted(op, self._crypto, [(*op.lock_range, offset, len(data), data)])
            return
        start, end = op.lock_range
        head, tail = offset - start, end - offset - len(data)
        if not head and not tail:
            op.run(self._chunked("aio_write", start, end, [data]))
            return
        reads, prefix, suffix = self._edges(start, end, head, tail)
        segments = [b for b in (prefix, data, suffix) if len(b)]
        op.run(reads, lambda: op.run(self._chunked("aio_write", start, end, segments)))

    def _aio_zero(self, offset: int, length: int, callback: Callback) -> Completion:
        completion = Completion(callback)
        try:
            self._check_writable()
            length = self._clip(offset, length)
        except Error as exc:
            return completion._fail(exc)
        return self._mutate(Op(completion, length, self._mutation_done), offset, length,
                            lambda op: self._zero(op, offset, length))

    def _zero(self, op: Op, offset: int, length: int) -> None:
        """Discard the whole blocks; zero the partial edge blocks by read-modify-write."""
        if self._crypto is not None:
            self._zero_encrypted(op, offset, length, self._crypto)
            return
        block = self._block
        start, end = op.lock_range
        lo, hi = inner(offset, length, block)
        partial = []  # (block range start, end, bytes kept before, bytes kept after)
        if lo > hi:   # inside one block
            partial.append((start, end, offset - start, end - offset - length))
        else:
            if lo > start:
                partial.append((start, lo, offset - start, 0))
            if end > hi:
                partial.append((hi, end, 0, end - offset - length))
        steps: list[Step] = []
        if lo < hi:
            steps.append((self._nebd.aio_discard, (self._fd, lo, hi - lo)))
        writes: list[Step] = []
        for p_start, p_end, keep_head, keep_tail in partial:
            reads, prefix, suffix = self._edges(p_start, p_end, keep_head, keep_tail)
            steps += reads
            zeros = self._zeros[:p_end - p_start - keep_head - keep_tail]
            into = [b for b in (prefix, zeros, suffix) if len(b)]
            writes.append((self._nebd.aio_write, (self._fd, p_start, into)))
        op.run(steps, (lambda: op.run(writes)) if writes else None)

    # --- librbd's exclusive lock (writer_lock.py) -------------------------------------
    def _has_exclusive_lock(self) -> bool:
        return bool(self._record["features"] & feature_bits.EXCLUSIVE_LOCK)

    def require_exclusive_lock(self) -> None:
        """EINVAL without the exclusive-lock feature (librbd's check in rbd_lock_get_owners / rbd_lock_break)."""
        self._check_open()
        if not self._has_exclusive_lock():
            raise Error(errno.EINVAL, f"{self}: the image has no exclusive-lock feature")

    def lock_acquire(self) -> None:
        """rbd_lock_acquire(EXCLUSIVE): take the lock and keep it (others' writes get EROFS) until
        lock_release. EINVAL without the exclusive-lock feature."""
        self._check_writable()
        if not self._has_exclusive_lock():
            raise Error(errno.EINVAL, f"{self}: the image has no exclusive-lock feature")
        self.writer.acquire(explicit=True)

    def lock_release(self) -> None:
        """rbd_lock_release: give the lock up. EINVAL if this handle does not hold it."""
        self._check_open()
        if self.writer is None or not self.writer.held:
            raise Error(errno.EINVAL, f"{self}: this handle does not hold the lock")
        self.writer.release()

    def lock_owners(self) -> list[str]:
        """rbd_lock_get_owners: the lock's holder (the exclusive-lock feature's; none without it)."""
        self._check_open()
        if not self._has_exclusive_lock():
            return []
        owner = lock_owner(self._catalog.state.etcd, self._record["file_id"])
        return [owner] if owner else []

    def is_lock_owner(self) -> bool:
        """rbd_is_exclusive_lock_owner."""
        self._check_open()
        return self._has_exclusive_lock() and self.writer is not None and self.writer.held

    def break_lock(self, owner: str) -> None:
        """rbd_lock_break: take the lock from ``owner`` (its client's lease goes with it)."""
        self._check_open()
        break_lock(self._catalog.state.etcd, self._record["file_id"], owner, repr(self))

    # --- Pacific's extras: snapshots by id, the snapshot limit, overlap, sparsify, deep copy -----
    def find_snap(self, name: str | None = None, snap_id: int | None = None) -> dict:
        """The snapshot (as list_snaps gives it) named ``name``, or with id ``snap_id``; ENOENT if none."""
        for snap in self.list_snaps():
            if (name is not None and snap["name"] == name) or (name is None and snap["id"] == snap_id):
                return snap
        what = f"named {name!r}" if name is not None else f"with id {snap_id}"
        raise Error(errno.ENOENT, f"{self}: no snapshot {what}")

    def snap_limit(self) -> int:
        """rbd_snap_get_limit: the most snapshots the image may have (2**64-1: no limit)."""
        try:
            return int(self.metadata_get(SNAP_LIMIT_KEY))
        except Error as exc:
            if exc.errno != errno.ENOENT:
                raise
        return NO_SNAP_LIMIT

    def set_snap_limit(self, limit: int) -> None:
        """rbd_snap_set_limit (2**64-1: no limit); ERANGE below the current count, as cls_rbd."""
        if limit >= NO_SNAP_LIMIT:
            try:
                self.metadata_remove(SNAP_LIMIT_KEY)
            except Error as exc:
                if exc.errno != errno.ENOENT:
                    raise
            return
        if limit < len(self.list_snaps()):
            raise Error(errno.ERANGE, f"{self} has more than {limit} snapshots")
        self.metadata_set(SNAP_LIMIT_KEY, str(int(limit)))

    def create_snap(self, name: str) -> None:
        """As ImageSnapshots.create_snap, and EDQUOT once the snapshot limit is reached (librbd)."""
        limit = self.snap_limit()
        if limit != NO_SNAP_LIMIT and len(self.list_snaps()) >= limit:
            raise Error(errno.EDQUOT, f"{self}: snapshot limit {limit} reached")
        super().create_snap(name)

    def overlap(self) -> int:
        """rbd_get_overlap: bytes a clone still shares with its parent's snapshot (0 if not a clone)."""
        try:
            pool, name, snap = self.parent_info()
        except Error as exc:
            if exc.errno == errno.ENOENT:
                return 0
            raise
        with self.ioctx.cluster.open_ioctx(pool) as parent_io:
            with parent_io.open_image(name, read_only=True, snapshot=snap) as parent:
                return min(parent.size(), self.size())

    def timestamps(self) -> tuple[float, float, float]:
        """(create, access, modify) times in seconds since the epoch, as the catalog records them."""
        record = self.stat()
        return tuple(float(record.get(k) or 0)
                     for k in ("create_timestamp", "access_timestamp", "modify_timestamp"))

    def public_metadata(self, start: str = "", limit: int = 0) -> list[tuple[str, str]]:
        """rbd_metadata_list: (key, value) sorted, keys after ``start``, at most ``limit`` (0: all);
        curverbd's reserved keys (locks, the snapshot limit) are hidden."""
        pairs = sorted((k, v) for k, v in self.metadata_list().items()
                       if k > start and not k.startswith(RESERVED_PREFIX))
        return pairs[:limit] if limit else pairs

    def sparsify(self, sparse_size: int, progress=None) -> None:
        """rbd_sparsify: deallocate every ``sparse_size`` block that reads as zeros (a power of two from
        4 KiB to the object size, else EINVAL); ``progress(done, total)`` non-zero cancels (ECANCELED)."""
        self._check_writable()
        if sparse_size < 4096 or sparse_size > self.stripe_unit() or sparse_size & (sparse_size - 1):
            raise Error(errno.EINVAL, f"{self}: sparse size {sparse_size} must be a power of two from 4096 "
                                      "to the object size")
        size = self.size()
        zero = bytes(sparse_size)
        chunk = max(COPY_CHUNK, sparse_size)
        for start in range(0, size, chunk):
            data = self.read(start, min(chunk, size - start))
            for off in range(0, len(data) - sparse_size + 1, sparse_size):
                if data[off:off + sparse_size] == zero:
                    self.discard(start + off, sparse_size)
            if progress is not None and progress(start + len(data), size):
                raise Error(errno.ECANCELED, f"{self}: sparsify cancelled by its progress callback")

    def deep_copy(self, dest_ioctx: "IoCtx", dest_name: str, features: int | None = None,
                  order: int | None = None, progress=None) -> None:
        """rbd_deep_copy: a new image with this image's snapshots (oldest first, each with its data and
        size), then its head data, features, order and metadata. A clone's copy is flattened."""
        record = self.stat()
        snaps = self.list_snaps()
        dest_ioctx.create_image(dest_name, snaps[0]["size"] if snaps else self.size(),
                                features=record.get("features") if features is None else features,
                                order=record.get("order") if order is None else order)
        steps = len(snaps) + 1
        with dest_ioctx.open_image(dest_name) as dest:
            for done, snap in enumerate(snaps, 1):
                with self.ioctx.open_image(self.name, read_only=True, snapshot=snap["name"]) as source:
                    _copy_data(source, dest)
                dest.create_snap(snap["name"])
                if progress is not None and progress(done, steps):
                    raise Error(errno.ECANCELED, f"{self}: deep copy cancelled by its progress callback")
            _copy_data(self, dest)
            for key, value in self.metadata_list().items():
                if not key.startswith(RESERVED_PREFIX):
                    dest.metadata_set(key, value)
        if progress is not None:
            progress(steps, steps)

    # --- life cycle --------------------------------------------------------------
    def close(self) -> None:
        """Close the image (after flushing what was written); closing twice is harmless."""
        if self._closed:
            return
        try:
            if not self.read_only and self._snap is None:
                # bounded: a close must not hang its process when the daemon never answers
                completion = self.aio_flush()
                if completion.wait(CLOSE_FLUSH_S) == -errno.EINPROGRESS:
                    log.error("%s: flush at close not answered in %.0f s; closing anyway", self, CLOSE_FLUSH_S)
                    raise Error(errno.ETIMEDOUT, f"{self}: flush at close not answered in {CLOSE_FLUSH_S:.0f} s")
                completion.result()
        finally:
            self._closed = True
            self._watch.cancel()
            if self.writer is not None:
                try:
                    self.writer.release()
                except Error as exc:   # its lease ends it anyway
                    log.warning("%s: write lock not given back at close: %s", self, exc)
            self.ioctx.cluster._close_file(self._file)
            if self._view is not None:
                self._catalog.close_view(self._view)
                self._view = None


def _copy_data(source: Image, dest: Image) -> None:
    """Make ``dest`` (resized to it) read as ``source``; zero chunks are discarded, not written."""
    size = source.size()
    if dest.size() != size:
        dest.resize(size)
    for start in range(0, size, COPY_CHUNK):
        data = source.read(start, min(COPY_CHUNK, size - start))
        if data.count(0) == len(data):
            dest.discard(start, len(data))
        else:
            dest.write(start, data)
