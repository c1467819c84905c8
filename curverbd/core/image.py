"""Image: an RBD image backed by the Curve file ``/<pool>/<image>``.

The logical size lives in the catalog (exactly what the user asked for); the Curve file is at least
10 GiB and grows by whole segments. Every read and write goes through the C data engine
(engine.py: shim_c/io.c, the same code QEMU's I/O runs through): it clips I/O to the logical size
like librbd's clip_io, pads it to Curve's 4 KiB blocks (read-modify-write of partial edge blocks
under a range lock, so overlapping writes never lose each other's bytes), orders flushes after the
writes submitted before them, encrypts with a loaded LUKS key, and takes the image's write lock
(writer_lock.py) before a write. This class keeps the state the engine runs on (the file, its size,
read-only, encryption) and pushes it there when it changes.

An image opened at a snapshot (or ``set_snap``) reads a read-only clone of it (Curve opens no
snapshot; catalog_snapshots.py) and refuses writes with EROFS; snapshot, clone and whole-image
operations are in snapshots.py.
"""
from __future__ import annotations

import contextlib
import errno
import logging
import sys
import threading
import weakref
from typing import TYPE_CHECKING, Any, Callable

from .. import features as feature_bits
from ..errors import Error
from . import engine
from .completion import Completion
from .snapshots import ImageSnapshots
from .writer_lock import WriterLock, break_lock, lock_owner

log = logging.getLogger("curverbd.image")
OPEN_LOCK_WAIT_S = 2.0        # how long open waits for another handle to hand the write lock over
RESERVED_PREFIX = ".curverbd."               # curverbd's own metadata keys (advisory_locks.py, snapshot limit)
SNAP_LIMIT_KEY = RESERVED_PREFIX + "snap_limit"
NO_SNAP_LIMIT = (1 << 64) - 1                # librbd's "no snapshot limit"
COPY_CHUNK = 4 << 20                         # bytes read per step by sparsify and deep_copy


if TYPE_CHECKING:
    from .ioctx import IoCtx

Callback = Callable[[Completion], Any] | None
OPERATION = {engine.READ: "read", engine.WRITE: "write", engine.DISCARD: "discard", engine.ZERO: "write_zeroes",
             engine.FLUSH: "flush"}


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
        self._crypto = None    # luks.Encryption once encryption_load / encryption_format ran (luks.py)
        self._encryption_lock = threading.Lock()
        self._closed = False
        try:
            self._c = engine.open_image(self)          # the C image all I/O goes through
        except BaseException:
            cluster._close_file(self._file)
            if self._view is not None:
                self._catalog.close_view(self._view)
            raise
        # one writer at a time, across clients (writer_lock.py): the engine writes only while it holds it
        c_image, lib = self._c, engine.module().lib
        self.writer = None if self.read_only else WriterLock(
            cluster._lock_session(), self._record["file_id"], repr(self),
            allow=lambda: lib.crbd_image_write_lock_set(c_image, 1),
            stop=lambda: lib.crbd_image_write_lock_set(c_image, 0))
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
        if self._snap is None and self._size != self._record["size"]:
            self._size = self._record["size"]
            self._push_state()
        return dict(self._record)

    def _on_change(self, state: dict | None) -> None:
        """The image's RBD record changed (here or on another host): take its size."""
        if state is not None and self._snap is None and not self._closed:
            self._size = state["size"]
            self._push_state()
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
        self._push_state()

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
        """Serialises format/load, after this handle's I/O in flight (it used the old mapping); the
        engine encrypts with the key loaded meanwhile, and the size is the data area's."""
        with self._encryption_lock:
            engine.module().lib.crbd_image_wait_idle(self._c, 0)
            yield
            if self._crypto is not None:
                engine.set_encryption(self._c, self._crypto)
                self._push_state()

    # --- I/O: the C engine ---------------------------------------------------------
    def _push_state(self) -> None:
        """Hand the engine what it runs on now: the file, the size I/O is clipped to, read-only."""
        engine.module().lib.crbd_image_set_file(self._c, self._fd, self.size(),
                                                int(self.read_only or self._snap is not None))

    def _io_error(self, kind: int, offset: int, length: int, ret: int) -> Error:
        if ret == -errno.EINVAL and length and offset >= self.size():
            return Error(errno.EINVAL, f"{self}: offset {offset} is at or beyond the image size {self.size()}")
        what = OPERATION[kind] + ("" if kind == engine.FLUSH else f" of {length} bytes at {offset}")
        return Error(-ret, f"{self}: {what} failed")

    def _checked(self, kind: int, offset: int, length: int) -> None:
        self._check_open()
        if kind == engine.READ:
            self._check_snap_exists()
        if offset < 0 or length < 0:
            raise Error(errno.EINVAL, f"{self}: negative offset {offset} or length {length}")

    def _sync(self, kind: int, offset: int = 0, length: int = 0, buffer=None) -> int:
        """One synchronous engine call: bytes read, the clipped length written / discarded / zeroed,
        0 for a flush."""
        self._checked(kind, offset, length)
        mod = engine.module()
        data = mod.ffi.NULL if buffer is None else mod.ffi.from_buffer(buffer)
        ret = mod.lib.crbd_image_sync(self._c, kind, offset, length, data)
        if ret < 0:
            raise self._io_error(kind, offset, length, ret)
        return ret

    def _aio(self, kind: int, offset: int, length: int, buffer, completion: Completion,
             finish: Callable[[int], None] | None = None, copy: bool = False) -> Completion:
        """Submit one engine call; ``completion`` completes with its result (``finish(ret)`` first)."""
        try:
            self._checked(kind, offset, length)
        except Error as exc:
            return completion._fail(exc)

        def done(ret: int) -> None:
            if finish is not None:
                finish(ret)
            if ret < 0:
                completion._fail(self._io_error(kind, offset, length, ret))
            else:
                completion._finish(ret)
        mod = engine.module()
        token = engine.track(done, (self, buffer))   # both kept until the engine is done with them
        data = mod.ffi.NULL if buffer is None else mod.ffi.from_buffer(buffer)
        ret = mod.lib.crbd_image_submit(self._c, kind, offset, length, data, token, int(copy))
        if ret < 0:
            engine.untrack(token)
            completion._fail(self._io_error(kind, offset, length, ret))
        return completion

    def _read_buffer(self, offset: int, length: int) -> bytearray:
        """A buffer for reading ``length`` bytes at ``offset``: as many as the image has there (at least
        one, so that the engine answers a read at or past the end as librbd does)."""
        if length <= 0:
            return bytearray(0)
        return bytearray(max(1, min(length, self.size() - offset)))

    def read(self, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes at ``offset`` (fewer at the end of the image)."""
        buffer = self._read_buffer(offset, length)
        n = self._sync(engine.READ, offset, len(buffer) if length >= 0 else length, buffer)
        return bytes(memoryview(buffer)[:n])

    def readinto(self, offset: int, buffer) -> int:
        view = _bytes_view(buffer, writable=True)
        return self._sync(engine.READ, offset, len(view), view)

    def write(self, offset: int, data) -> int:
        view = _bytes_view(data)
        return self._sync(engine.WRITE, offset, len(view), view)

    def discard(self, offset: int, length: int) -> int:
        return self._sync(engine.DISCARD, offset, length)

    def write_zeroes(self, offset: int, length: int) -> int:
        return self._sync(engine.ZERO, offset, length)

    def flush(self) -> None:
        self._sync(engine.FLUSH)

    def aio_read(self, offset: int, length: int, callback: Callback = None) -> Completion:
        """Read into a new buffer; the bytes end up in ``completion.data``."""
        completion = Completion(callback)
        buffer = self._read_buffer(offset, length)

        def finish(ret: int) -> None:
            completion.data = bytes(memoryview(buffer)[:ret]) if ret >= 0 else None
        return self._aio(engine.READ, offset, len(buffer) if length >= 0 else length, buffer, completion, finish)

    def aio_readinto(self, offset: int, buffer, callback: Callback = None) -> Completion:
        """Read ``len(buffer)`` bytes (clipped at the end of the image) straight into ``buffer``."""
        completion = Completion(callback)
        try:
            view = _bytes_view(buffer, writable=True)
        except Error as exc:
            return completion._fail(exc)
        return self._aio(engine.READ, offset, len(view), view, completion)

    def aio_write(self, offset: int, data, callback: Callback = None) -> Completion:
        """Write ``data`` at ``offset``; a buffer the caller may change (not bytes) is copied at
        submission, as librbd does."""
        completion = Completion(callback)
        try:
            view = _bytes_view(data)
        except Error as exc:
            return completion._fail(exc)
        return self._aio(engine.WRITE, offset, len(view), view, completion, copy=not isinstance(data, bytes))

    def aio_discard(self, offset: int, length: int, callback: Callback = None) -> Completion:
        return self._aio(engine.DISCARD, offset, length, None, Completion(callback))

    def aio_write_zeroes(self, offset: int, length: int, callback: Callback = None) -> Completion:
        return self._aio(engine.ZERO, offset, length, None, Completion(callback))

    def aio_flush(self, callback: Callback = None) -> Completion:
        """Flush once every write submitted before this call has completed."""
        return self._aio(engine.FLUSH, 0, 0, None, Completion(callback))

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
        self._push_state()
        engine.module().lib.crbd_image_wait_idle(self._c, 0)   # the requests still on the old file
        cluster._close_file(old)

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
    @property
    def c_image(self) -> Any:
        """The C image (engine.py) this image's I/O goes through: the C ABI hands it out as rbd_image_t."""
        return self._c

    def flush_at_exit(self) -> None:
        """Flush what was written, after the writes in flight, within the close timeout (conf
        curverbd_close_timeout: ETIMEDOUT when the daemon never answers). Needs no Python thread."""
        if not self.read_only and self._snap is None:
            self._sync(engine.FLUSH)

    def close(self) -> None:
        """Close the image: its I/O in flight is waited for and what was written flushed, both within
        the close timeout (a close never hangs its process); closing twice is harmless."""
        if self._closed:
            return
        stuck = False   # writes still in flight to an unreachable daemon: they keep the write lock
        try:
            self.flush_at_exit()
        except Error as exc:
            stuck = exc.errno == errno.ETIMEDOUT
            raise
        finally:
            self._closed = True
            self._watch.cancel()
            if self.writer is not None and stuck:
                log.error("%s: closed with writes in flight; its write lock goes with this client's lease", self)
            elif self.writer is not None:
                try:
                    self.writer.release()
                except Error as exc:   # its lease ends it anyway
                    log.warning("%s: write lock not given back at close: %s", self, exc)
            try:
                self.ioctx.cluster._close_file(self._file)
                if self._view is not None:
                    self._catalog.close_view(self._view)
                    self._view = None
            except Error as exc:   # the daemon drops the files of a connection that went away
                log.warning("%s: file not closed on the daemon: %s", self, exc)
            engine.close_image(self, engine.close_timeout_ms(self.ioctx.cluster))


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
