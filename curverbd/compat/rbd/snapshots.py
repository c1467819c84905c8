"""Snapshot, clone, copy and diff methods of rbd.Image (a mixin over the core image)."""
from __future__ import annotations

import errno
from datetime import datetime, timezone

from curverbd.errors import Error as CoreError

from .constants import RBD_SNAP_NAMESPACE_TYPE_USER
from .errors import ImageNotFound, rbd_errors
from .ioctx import core_ioctx


def utc_datetime(seconds: float) -> datetime:
    """A naive UTC datetime, the form Ceph's binding returns timestamps in."""
    return datetime.fromtimestamp(seconds, timezone.utc).replace(tzinfo=None)


def progress_callback(on_progress):
    """A core progress callback calling ``on_progress(offset, total)``; non-zero returns abort."""
    if on_progress is None:
        return None
    return lambda offset, total: int(on_progress(offset, total) or 0)


@rbd_errors
class ImageSnapshots:
    """Snapshots, clones, copies and diffs of an open image (needs ``self._core()``)."""

    # --- snapshots -----------------------------------------------------------------------
    def create_snap(self, name: str, flags: int = 0) -> None:
        """Create snapshot ``name`` of the image's current data (ImageExists if taken, DiskQuotaExceeded
        at the snapshot limit)."""
        self._check_snap_limit()
        self._core().create_snap(name)

    def remove_snap(self, name: str) -> None:
        """Remove snapshot ``name`` (ImageBusy if protected, ImageNotFound if missing)."""
        self._core().remove_snap(name)

    def remove_snap2(self, name: str, flags: int) -> None:
        """Remove snapshot ``name``; RBD_SNAP_REMOVE_UNPROTECT in ``flags`` unprotects a protected one
        first (without it: ImageBusy)."""
        self._core().remove_snap(name, flags)

    def rename_snap(self, srcname: str, dstname: str) -> None:
        """Rename snapshot ``srcname`` to ``dstname``."""
        self._core().rename_snap(srcname, dstname)

    def rollback_to_snap(self, name: str) -> None:
        """Make the image's data that of snapshot ``name`` again."""
        self._core().rollback_to_snap(name)

    def protect_snap(self, name: str) -> None:
        """Protect snapshot ``name`` so it can be cloned and cannot be removed."""
        self._core().protect_snap(name)

    def unprotect_snap(self, name: str) -> None:
        """Unprotect snapshot ``name`` (ImageBusy while it has clones, InvalidArgument if not protected)."""
        self._core().unprotect_snap(name)

    def is_protected_snap(self, name: str) -> bool:
        """True if snapshot ``name`` is protected."""
        return bool(self._core().is_protected_snap(name))

    def set_snap(self, name: str | None) -> None:
        """Read the image as of snapshot ``name`` (None: the head again); writes fail while set."""
        self._core().set_snap(name)

    def list_snaps(self):
        """Snapshots, oldest first (a SnapIterator): dicts {id, size, name, namespace, timestamp
        (datetime), protected}."""
        from .pacific import SnapIterator
        return SnapIterator(self)

    def _snapshot_dicts(self) -> list[dict]:
        return [{"id": snap["id"], "size": snap["size"], "name": snap["name"],
                 "namespace": snap.get("namespace_type", RBD_SNAP_NAMESPACE_TYPE_USER),
                 "timestamp": utc_datetime(snap.get("timestamp", 0)),
                 "protected": bool(snap.get("protected", False))}
                for snap in self._core().list_snaps()]

    def _snap(self, key: str, value) -> dict:
        for snap in self.list_snaps():
            if snap[key] == value:
                return snap
        raise ImageNotFound(f"image {self.name}: no snapshot with {key} {value!r}", errno=errno.ENOENT)

    def snap_exists(self, name: str) -> bool:
        """True if the image has a snapshot ``name``."""
        return any(snap["name"] == name for snap in self.list_snaps())

    def snap_get_id(self, snap_name: str) -> int:
        """The id of snapshot ``snap_name``."""
        return self._snap("name", snap_name)["id"]

    def snap_get_name(self, snap_id: int) -> str:
        """The name of the snapshot with id ``snap_id``."""
        return self._snap("id", snap_id)["name"]

    def snap_get_namespace_type(self, snap_id: int) -> int:
        """RBD_SNAP_NAMESPACE_TYPE_* of the snapshot with id ``snap_id``."""
        return self._snap("id", snap_id)["namespace"]

    def get_snap_timestamp(self, snap_id: int) -> datetime:
        """When the snapshot with id ``snap_id`` was taken (naive UTC datetime)."""
        return self._snap("id", snap_id)["timestamp"]

    # --- clones ----------------------------------------------------------------------------
    def parent_info(self) -> tuple[str, str, str]:
        """(pool, image, snapshot) of the parent; ImageNotFound if the image is not a clone."""
        return tuple(self._core().parent_info())

    def get_parent_image_spec(self) -> dict:
        """The parent as a dict {pool_name, pool_namespace, image_name, snap_name}."""
        pool, image, snap = self.parent_info()
        return {"pool_name": pool, "pool_namespace": "", "image_name": image, "snap_name": snap}

    def flatten(self, on_progress=None) -> None:
        """Copy the parent's data in; ``on_progress(offset, total)`` returning non-zero cancels."""
        self._core().flatten(progress_callback(on_progress))

    def list_children(self) -> list[tuple[str, str]]:
        """(pool, image) of the clones of any snapshot of this image."""
        return [tuple(child) for child in self._core().list_children()]

    def copy(self, dest_ioctx, dest_name: str, features: int | None = None, order: int | None = None,
             stripe_unit: int | None = None, stripe_count: int | None = None, data_pool: str | None = None) -> None:
        """Copy the current data (not the snapshots) to a new image ``dest_name``."""
        self._core().copy(core_ioctx(dest_ioctx), dest_name)

    # --- diff --------------------------------------------------------------------------------
    def diff_iterate(self, offset: int, length: int, from_snapshot: str | None, iterate_cb,
                     include_parent: bool = True, whole_object: bool = False) -> None:
        """Call ``iterate_cb(offset, length, exists)`` for each changed extent since ``from_snapshot``.

        An exception in the callback stops the walk and propagates; a negative return
        stops it and raises the rbd exception for that errno.
        """
        raised: list[BaseException] = []

        def callback(off: int, size: int, exists) -> int:
            if raised:
                return -errno.ECANCELED
            try:
                result = iterate_cb(off, size, bool(exists))
            except BaseException as exc:  # re-raised below, after the core stopped
                raised.append(exc)
                return -errno.ECANCELED
            return 0 if result is None else int(result)

        try:
            result = self._core().diff_iterate(offset, length, from_snapshot, callback,
                                               include_parent=include_parent, whole_object=whole_object)
        except CoreError:
            if raised:
                raise raised[0] from None
            raise
        if raised:
            raise raised[0]
        if isinstance(result, int) and result < 0:
            raise CoreError(-result, f"error generating diff from snapshot {from_snapshot}")
