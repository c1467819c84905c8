"""The rest of Pacific's rbd.Image (a mixin): aio, timestamps, snapshot ids and limits, deep copy,
sparsify, advisory and exclusive locks, and the calls curverbd does not do (OperationNotSupported).

Each operation is the core's (core/image.py, core/advisory_locks.py), shared with the C ABI; this
mixin translates arguments, results and exceptions.
"""
from __future__ import annotations

from curverbd.core import advisory_locks, image_extras

from .constants import RBD_LOCK_MODE_EXCLUSIVE
from .errors import rbd_errors
from .ioctx import core_ioctx
from .pacific import ChildIterator, Completion, LockOwnerIterator, UINT64_MAX, WatcherIterator, unsupported
from .snapshots import progress_callback, utc_datetime


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
        create, access, modify = self._core().timestamps()
        return utc_datetime(int({"create_timestamp": create, "access_timestamp": access,
                                 "modify_timestamp": modify}[key]))

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
        return image_extras.data_pool_id(self._core())

    def overlap(self) -> int:
        """Bytes the clone still shares with its parent's snapshot (0 if not a clone)."""
        return self._core().overlap()

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
        """{pool, name} of the image's group: never in one (pool -1, name "", as librbd says)."""
        return image_extras.group(self._core())

    def rebuild_object_map(self, on_progress=None) -> None:
        """Nothing to rebuild (no object map is kept): ReadOnlyImage on a read-only image, InvalidArgument
        without the object-map feature, else ``on_progress(1, 1)``."""
        image_extras.rebuild_object_map(self._core(), progress_callback(on_progress))

    # --- snapshots by id, limits, namespaces ---------------------------------------------------
    def _snap_by_id(self, snap_id: int) -> dict:
        return self._core().find_snap(snap_id=snap_id)

    def remove_snap_by_id(self, snap_id: int) -> None:
        """Remove the snapshot with id ``snap_id``."""
        self._core().remove_snap(self._snap_by_id(snap_id)["name"])

    def set_snap_by_id(self, snap_id) -> None:
        """Read the image at snapshot ``snap_id`` (None: the head)."""
        self._core().set_snap(None if snap_id is None else self._snap_by_id(snap_id)["name"])

    def get_snap_limit(self) -> int:
        """The most snapshots the image may have (UINT64_MAX: no limit)."""
        return self._core().snap_limit()

    def set_snap_limit(self, limit: int) -> int:
        """Limit the number of snapshots (ERANGE below the current count, as cls_rbd); 0, as Pacific's
        binding returns."""
        self._core().set_snap_limit(limit)
        return 0

    def remove_snap_limit(self) -> int:
        """No snapshot limit any more; 0, as Pacific's binding returns."""
        self._core().set_snap_limit(UINT64_MAX)
        return 0

    def _check_snap_limit(self) -> None:
        """The core's create_snap refuses a snapshot beyond the limit (EDQUOT)."""

    def snap_get_group_namespace(self, snap_id: int) -> dict:
        """Only user and trash snapshots exist: InvalidArgument (ImageNotFound if there is no such snapshot)."""
        image_extras.snap_namespace(self._core(), snap_id, image_extras.NAMESPACE_GROUP)

    def snap_get_trash_namespace(self, snap_id: int) -> dict:
        """{original_name} of a snapshot removed while format 2 clones read it; InvalidArgument for a user
        snapshot, ImageNotFound if there is no such snapshot."""
        return image_extras.snap_namespace(self._core(), snap_id, image_extras.NAMESPACE_TRASH)

    def snap_get_mirror_namespace(self, snap_id: int) -> dict:
        """Only user and trash snapshots exist: InvalidArgument (ImageNotFound if there is no such snapshot)."""
        image_extras.snap_namespace(self._core(), snap_id, image_extras.NAMESPACE_MIRROR)

    # --- copies and space ----------------------------------------------------------------------
    def deep_copy(self, dest_ioctx, dest_name: str, features: int | None = None, order: int | None = None,
                  stripe_unit: int | None = None, stripe_count: int | None = None,
                  data_pool: str | None = None) -> None:
        """Copy the image with its snapshots (oldest first, each with its data and size), its features
        and order, then its head. A clone's copy is flattened."""
        if data_pool:
            raise unsupported("a separate data pool")
        self._core().deep_copy(core_ioctx(dest_ioctx), dest_name, features=features, order=order)

    def sparsify(self, sparse_size: int) -> None:
        """Deallocate every ``sparse_size`` block that reads as zeros (sparse_size: a power of two
        from 4 KiB to the object size, as librbd)."""
        self._core().sparsify(sparse_size)

    # --- advisory locks (cls_lock on the header in librbd) ---------------------------------------
    def lock_exclusive(self, cookie: str) -> None:
        """Take the advisory exclusive lock (ImageExists if held with this cookie, ImageBusy if by others)."""
        advisory_locks.lock(self._core(), True, cookie)

    def lock_shared(self, cookie: str, tag: str) -> None:
        """Take a shared advisory lock (ImageBusy if locked exclusively or with another tag)."""
        advisory_locks.lock(self._core(), False, cookie, tag)

    def unlock(self, cookie: str) -> None:
        """Release this client's lock with ``cookie`` (ImageNotFound if it holds none)."""
        advisory_locks.unlock(self._core(), cookie)

    def break_lock(self, client: str, cookie: str) -> None:
        """Release the lock ``client`` holds with ``cookie`` (ImageNotFound if there is none)."""
        advisory_locks.unlock(self._core(), cookie, client=client)

    def list_lockers(self):
        """{tag, exclusive, lockers: [(client, cookie, address)]}, or [] when nobody holds a lock."""
        locks = advisory_locks.lockers(self._core())
        return locks if locks["lockers"] else []

    # --- the managed exclusive lock ------------------------------------------------------------
    def _managed_lock_owner(self, check_feature: bool = False):
        """The exclusive lock's holder (core/writer_lock.py), or None; InvalidArgument without the feature
        when ``check_feature``."""
        image = self._core()
        if check_feature:
            image.require_exclusive_lock()
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
        """Write a LUKS1/LUKS2 header (AES256 unless ``cipher_alg`` says AES128) and load it: the image
        then shows its data area, encrypted (curverbd/core/luks.py). ImageExists if loaded already."""
        alg = 1 if cipher_alg is None else int(cipher_alg)   # RBD_ENCRYPTION_ALGORITHM_AES256
        self._core().encryption_format(int(format), alg, _passphrase(passphrase))

    def encryption_load(self, format, passphrase) -> None:
        """Open the image's LUKS header: PermissionError for a wrong passphrase, InvalidArgument if it is
        not LUKS (of that version), ImageExists if loaded already."""
        self._core().encryption_load(int(format), _passphrase(passphrase))

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


def _passphrase(value) -> bytes:
    """librbd's binding encodes a str passphrase as UTF-8; bytes are taken as they are."""
    return value.encode() if isinstance(value, str) else bytes(value)
