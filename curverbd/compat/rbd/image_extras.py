"""The rest of Pacific's rbd.Image (a mixin): aio, timestamps, snapshot ids and limits, deep copy,
sparsify, advisory and exclusive locks, and the calls curverbd does not do (OperationNotSupported).

Locks live in the image's metadata under the reserved prefix ``.curverbd.`` (hidden from
metadata_list): advisory locks (lock_exclusive/lock_shared/unlock/break_lock/list_lockers) follow
cls_lock's rules; the exclusive lock of lock_acquire/lock_release is recorded the same way.
"""
from __future__ import annotations

import errno
import json

from curverbd.errors import Error as CoreError

from .constants import RBD_FEATURE_EXCLUSIVE_LOCK, RBD_FEATURE_OBJECT_MAP, RBD_LOCK_MODE_EXCLUSIVE
from .errors import ImageNotFound, InvalidArgument, rbd_errors
from .ioctx import core_ioctx
from .pacific import (ChildIterator, Completion, LockOwnerIterator, UINT64_MAX, WatcherIterator,
                      unsupported)
from .snapshots import utc_datetime

RESERVED = ".curverbd."
LOCKS_KEY = RESERVED + "lock"               # cls_lock "rbd_lock" on the header: {exclusive, tag, lockers}
SNAP_LIMIT_KEY = RESERVED + "snap_limit"
COPY_CHUNK = 4 << 20


def _client_of(ioctx) -> tuple[str, str]:
    """("client.<instance id>", address) of the rados handle behind ``ioctx``."""
    rados = getattr(ioctx, "rados", None)
    instance = rados.get_instance_id() if rados is not None else 0
    return f"client.{instance}", f"127.0.0.1:0/{instance}"


def _get_meta(image, key: str):
    try:
        return image.metadata_get(key)
    except CoreError as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise


def _remove_meta(image, key: str) -> None:
    try:
        image.metadata_remove(key)
    except CoreError as exc:
        if exc.errno != errno.ENOENT:
            raise


@rbd_errors
class ImageExtras:
    """Needs ``self._core()``, ``self.ioctx``, ``self.name`` (rbd.Image)."""

    # --- aio ---------------------------------------------------------------------------------
    def _aio(self, oncomplete, start, read: bool = False) -> Completion:
        completion = Completion(self, oncomplete)

        def done(core) -> None:
            rc = core.get_return_value()
            if read:
                completion._finish(rc, core.data if rc >= 0 else None)
            else:
                completion._finish(min(rc, 0))   # librbd: 0 for writes, discards and flushes
        start(self._core(), done)
        return completion

    def aio_read(self, offset: int, length: int, oncomplete, fadvise_flags: int = 0) -> Completion:
        """Read asynchronously; ``oncomplete(completion, data)`` (data None on error)."""
        return self._aio(oncomplete, lambda image, cb: image.aio_read(offset, length, cb), read=True)

    def aio_write(self, data: bytes, offset: int, oncomplete, fadvise_flags: int = 0) -> Completion:
        """Write asynchronously; ``oncomplete(completion)``."""
        if not isinstance(data, bytes):
            raise TypeError("data must be a byte string")
        return self._aio(oncomplete, lambda image, cb: image.aio_write(offset, data, cb))

    def aio_discard(self, offset: int, length: int, oncomplete) -> Completion:
        """Discard asynchronously; ``oncomplete(completion)``."""
        return self._aio(oncomplete, lambda image, cb: image.aio_discard(offset, length, cb))

    def aio_write_zeroes(self, offset: int, length: int, oncomplete, zero_flags: int = 0,
                         fadvise_flags: int = 0) -> Completion:
        """Zero a range asynchronously; ``oncomplete(completion)``."""
        return self._aio(oncomplete, lambda image, cb: image.aio_write_zeroes(offset, length, cb))

    def aio_flush(self, oncomplete) -> Completion:
        """Flush asynchronously; ``oncomplete(completion)``."""
        return self._aio(oncomplete, lambda image, cb: image.aio_flush(cb))

    def aio_close(self, oncomplete) -> Completion:
        """Close (done at once here); ``oncomplete(completion)``."""
        completion = Completion(self, oncomplete)
        self.require_not_closed()
        self.close()
        completion._finish(0)
        return completion

    # --- information ---------------------------------------------------------------------------
    def _timestamp(self, key: str):
        return utc_datetime(int(self._core().stat().get(key) or 0))

    def create_timestamp(self):
        """When the image was created (naive UTC datetime, whole seconds)."""
        return self._timestamp("create_timestamp")

    def access_timestamp(self):
        """When the image was last read (as the core records it; naive UTC datetime)."""
        return self._timestamp("access_timestamp")

    def modify_timestamp(self):
        """When the image was last written (as the core records it; naive UTC datetime)."""
        return self._timestamp("modify_timestamp")

    def data_pool_id(self) -> int:
        """The pool holding the data: the image's own (no separate data pools)."""
        self._core()
        return self.ioctx.get_pool_id()

    def overlap(self) -> int:
        """Bytes the clone still shares with its parent's snapshot (0 if not a clone)."""
        image = self._core()
        try:
            pool, name, snap = image.parent_info()
        except CoreError as exc:
            if exc.errno == errno.ENOENT:
                return 0
            raise
        parent_io = image.ioctx.cluster.open_ioctx(pool)
        with parent_io.open_image(name, read_only=True, snapshot=snap) as parent:
            return min(parent.size(), image.size())

    def parent_id(self) -> str:
        """The parent image's id (ImageNotFound if not a clone)."""
        image = self._core()
        pool, name, _snap = image.parent_info()
        return str(image.ioctx.cluster.open_ioctx(pool).stat_image(name)["id"])

    def _children2(self, descendants: bool) -> list[dict]:
        image = self._core()
        cluster = image.ioctx.cluster
        out, todo = [], [image]
        while todo:
            current = todo.pop(0)
            for pool, name in current.list_children():
                io = cluster.open_ioctx(pool)
                out.append({"id": str(io.stat_image(name)["id"]), "pool": pool, "pool_namespace": "",
                            "image": name, "trash": False})
                if descendants:
                    todo.append(io.open_image(name, read_only=True))
            if current is not image:
                current.close()
        return out

    def list_children2(self):
        """The clones as dicts {id, pool, pool_namespace, image, trash}."""
        return ChildIterator(self)

    def list_descendants(self):
        """The clones and their clones, as list_children2."""
        return ChildIterator(self, descendants=True)

    def watchers_list(self):
        """Watchers of the header: curverbd has no rados watches, so none."""
        return WatcherIterator(self)

    def group(self) -> dict:
        """{pool, name} of the image's group: never in one (pool -1, as librbd says)."""
        self._core()
        return {"pool": -1, "name": ""}

    def rebuild_object_map(self, on_progress=None) -> None:
        """Nothing to rebuild (no object map is kept); InvalidArgument without the object-map feature."""
        if not self.features() & RBD_FEATURE_OBJECT_MAP:
            raise InvalidArgument(f"image {self.name} does not have the object-map feature", errno=errno.EINVAL)

    # --- snapshots by id, limits, namespaces ---------------------------------------------------
    def _snap_by_id(self, snap_id: int) -> dict:
        for snap in self._core().list_snaps():
            if snap["id"] == snap_id:
                return snap
        raise ImageNotFound(f"image {self.name}: no snapshot with id {snap_id}", errno=errno.ENOENT)

    def remove_snap_by_id(self, snap_id: int) -> None:
        """Remove the snapshot with id ``snap_id``."""
        self._core().remove_snap(self._snap_by_id(snap_id)["name"])

    def set_snap_by_id(self, snap_id) -> None:
        """Read the image at snapshot ``snap_id`` (None: the head)."""
        self._core().set_snap(None if snap_id is None else self._snap_by_id(snap_id)["name"])

    def get_snap_limit(self) -> int:
        """The most snapshots the image may have (UINT64_MAX: no limit)."""
        value = _get_meta(self._core(), SNAP_LIMIT_KEY)
        return UINT64_MAX if value is None else int(value)

    def set_snap_limit(self, limit: int) -> None:
        """Limit the number of snapshots (ERANGE below the current count, as cls_rbd)."""
        image = self._core()
        if limit >= UINT64_MAX:
            _remove_meta(image, SNAP_LIMIT_KEY)
            return
        if limit < len(image.list_snaps()):
            raise CoreError(errno.ERANGE, f"image {self.name} has more than {limit} snapshots")
        image.metadata_set(SNAP_LIMIT_KEY, str(int(limit)))

    def remove_snap_limit(self) -> None:
        """No snapshot limit any more."""
        _remove_meta(self._core(), SNAP_LIMIT_KEY)

    def _check_snap_limit(self) -> None:
        """librbd: creating a snapshot beyond the limit is EDQUOT."""
        image = self._core()
        limit = _get_meta(image, SNAP_LIMIT_KEY)
        if limit is not None and len(image.list_snaps()) >= int(limit):
            raise CoreError(errno.EDQUOT, f"image {self.name}: snapshot limit {limit} reached")

    def _wrong_namespace(self, snap_id: int, kind: str):
        self._snap_by_id(snap_id)   # ImageNotFound if missing
        raise InvalidArgument(f"snapshot {snap_id} of image {self.name} is not a {kind} snapshot",
                              errno=errno.EINVAL)

    def snap_get_group_namespace(self, snap_id: int) -> dict:
        """Only user snapshots exist: InvalidArgument (ImageNotFound if there is no such snapshot)."""
        self._wrong_namespace(snap_id, "group")

    def snap_get_trash_namespace(self, snap_id: int) -> dict:
        """Only user snapshots exist: InvalidArgument (ImageNotFound if there is no such snapshot)."""
        self._wrong_namespace(snap_id, "trash")

    def snap_get_mirror_namespace(self, snap_id: int) -> dict:
        """Only user snapshots exist: InvalidArgument (ImageNotFound if there is no such snapshot)."""
        self._wrong_namespace(snap_id, "mirror")

    # --- copies and space ----------------------------------------------------------------------
    def deep_copy(self, dest_ioctx, dest_name: str, features: int | None = None, order: int | None = None,
                  stripe_unit: int | None = None, stripe_count: int | None = None,
                  data_pool: str | None = None) -> None:
        """Copy the image with its snapshots (oldest first, each with its data and size), its features
        and order, then its head. A clone's copy is flattened."""
        if data_pool:
            raise unsupported("a separate data pool")
        image = self._core()
        record = image.stat()
        dest_io = core_ioctx(dest_ioctx)
        snaps = image.list_snaps()
        first_size = snaps[0]["size"] if snaps else image.size()
        dest_io.create_image(dest_name, first_size,
                             features=record.get("features") if features is None else features,
                             order=record.get("order") if order is None else order)
        src_io = image.ioctx
        with dest_io.open_image(dest_name) as dest:
            for snap in snaps:
                with src_io.open_image(image.name, read_only=True, snapshot=snap["name"]) as source:
                    _copy_data(source, dest)
                dest.create_snap(snap["name"])
            _copy_data(image, dest)
            for key, value in image.metadata_list().items():
                if not key.startswith(RESERVED):
                    dest.metadata_set(key, value)

    def sparsify(self, sparse_size: int) -> None:
        """Deallocate every ``sparse_size`` block that reads as zeros (sparse_size: a power of two
        from 4 KiB to the object size, as librbd)."""
        image = self._core()
        object_size = image.stripe_unit()
        if sparse_size < 4096 or sparse_size > object_size or sparse_size & (sparse_size - 1):
            raise InvalidArgument(f"sparse size {sparse_size} must be a power of two from 4096 "
                                  f"to the object size", errno=errno.EINVAL)
        size = image.size()
        zero = bytes(sparse_size)
        for start in range(0, size, COPY_CHUNK):
            data = image.read(start, min(COPY_CHUNK, size - start))
            for off in range(0, len(data), sparse_size):
                block = data[off:off + sparse_size]
                if block == zero[:len(block)] and len(block) == sparse_size:
                    image.discard(start + off, sparse_size)

    # --- advisory locks (cls_lock on the header in librbd) ---------------------------------------
    def _locks(self) -> dict:
        value = _get_meta(self._core(), LOCKS_KEY)
        return json.loads(value) if value else {"exclusive": False, "tag": "", "lockers": []}

    def _store_locks(self, locks: dict) -> None:
        image = self._core()
        if locks["lockers"]:
            image.metadata_set(LOCKS_KEY, json.dumps(locks))
        else:
            _remove_meta(image, LOCKS_KEY)

    def _lock(self, exclusive: bool, cookie: str, tag: str) -> None:
        client, address = _client_of(self.ioctx)
        locks = self._locks()
        if locks["lockers"]:
            if any(c == client and k == cookie for c, k, _a in locks["lockers"]):
                raise CoreError(errno.EEXIST, f"image {self.name}: already locked with cookie {cookie!r}")
            if exclusive or locks["exclusive"] or locks["tag"] != tag:
                raise CoreError(errno.EBUSY, f"image {self.name} is locked by someone else")
        locks = {"exclusive": exclusive, "tag": tag, "lockers": locks["lockers"] + [[client, cookie, address]]}
        self._store_locks(locks)

    def lock_exclusive(self, cookie: str) -> None:
        """Take the advisory exclusive lock (ImageExists if held with this cookie, ImageBusy if by others)."""
        self._lock(True, cookie, "")

    def lock_shared(self, cookie: str, tag: str) -> None:
        """Take a shared advisory lock (ImageBusy if locked exclusively or with another tag)."""
        self._lock(False, cookie, tag)

    def unlock(self, cookie: str) -> None:
        """Release this client's lock with ``cookie`` (ImageNotFound if it holds none)."""
        client, _address = _client_of(self.ioctx)
        self._drop_locker(client, cookie)

    def break_lock(self, client: str, cookie: str) -> None:
        """Release the lock ``client`` holds with ``cookie`` (ImageNotFound if there is none)."""
        self._drop_locker(client, cookie)

    def _drop_locker(self, client: str, cookie: str) -> None:
        locks = self._locks()
        kept = [entry for entry in locks["lockers"] if not (entry[0] == client and entry[1] == cookie)]
        if len(kept) == len(locks["lockers"]):
            raise CoreError(errno.ENOENT, f"image {self.name}: {client} holds no lock with cookie {cookie!r}")
        locks["lockers"] = kept
        self._store_locks(locks)

    def list_lockers(self):
        """{tag, exclusive, lockers: [(client, cookie, address)]}, or [] when nobody holds a lock."""
        locks = self._locks()
        if not locks["lockers"]:
            return []
        return {"tag": locks["tag"], "exclusive": locks["exclusive"],
                "lockers": [tuple(entry) for entry in locks["lockers"]]}

    # --- the managed exclusive lock ------------------------------------------------------------
    def _managed_lock_owner(self, check_feature: bool = False):
        """The exclusive lock's holder (core/writer_lock.py), or None; InvalidArgument without the feature
        when ``check_feature``."""
        image = self._core()
        if check_feature and not image.features() & RBD_FEATURE_EXCLUSIVE_LOCK:
            raise InvalidArgument(f"image {self.name}: exclusive-lock feature is not enabled", errno=errno.EINVAL)
        owners = image.lock_owners()
        return owners[0] if owners else None

    def lock_acquire(self, lock_mode: int) -> None:
        """Take the exclusive lock and keep it (EOPNOTSUPP for shared mode, InvalidArgument without the
        exclusive-lock feature, ReadOnlyImage if another handle keeps it by lock_acquire)."""
        if lock_mode != RBD_LOCK_MODE_EXCLUSIVE:
            raise unsupported("shared lock mode")
        self._core().lock_acquire()

    def lock_release(self) -> None:
        """Release the exclusive lock this handle holds (InvalidArgument if it holds none)."""
        self._core().lock_release()

    def lock_get_owners(self):
        """[{mode, owner}] of the exclusive lock (empty if free; InvalidArgument without the feature)."""
        return LockOwnerIterator(self)

    def lock_break(self, lock_mode: int, lock_owner: str) -> None:
        """Break ``lock_owner``'s exclusive lock: its holder is blocklisted (ImageNotFound if it does not
        hold it)."""
        if lock_mode != RBD_LOCK_MODE_EXCLUSIVE:
            raise unsupported("shared lock mode")
        self._managed_lock_owner(check_feature=True)
        self._core().break_lock(lock_owner)

    def is_exclusive_lock_owner(self) -> bool:
        """True while this handle holds the exclusive lock (taken by writing, or by lock_acquire)."""
        return self._core().is_lock_owner()

    # --- not available -------------------------------------------------------------------------
    def encryption_format(self, format, passphrase, cipher_alg=None) -> None:
        """curverbd does not do librbd-level (LUKS) encryption yet: OperationNotSupported."""
        raise unsupported("librbd-level encryption (LUKS)")

    def encryption_load(self, format, passphrase) -> None:
        """curverbd does not do librbd-level (LUKS) encryption yet: OperationNotSupported."""
        raise unsupported("librbd-level encryption (LUKS)")

    def migration_source_spec(self):
        """Live migration is not supported: OperationNotSupported."""
        raise unsupported("live migration")

    def mirror_image_get_instance_id(self):
        """Mirroring is not supported: OperationNotSupported."""
        raise unsupported("mirroring")

    def aio_mirror_image_create_snapshot(self, flags, oncomplete):
        raise unsupported("mirroring")

    def aio_mirror_image_get_info(self, oncomplete):
        raise unsupported("mirroring")

    def aio_mirror_image_get_mode(self, oncomplete):
        raise unsupported("mirroring")


def _copy_data(source, dest) -> None:
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
