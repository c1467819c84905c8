"""The snapshot catalog's operations: snapshots, clones, flatten, copy, diff and allocation.

RBD keeps per snapshot what Curve does not: the image's logical size at the
time (the client passes it: the image's RBD state lives in etcd). Protection
and clone links are Curve's own fields in the store (shared with the MDS
service's release1.5 RPCs), read and written here. The rules are
librbd's: a protected snapshot cannot be removed (EBUSY); only a protected
snapshot can be cloned (EINVAL); a snapshot with clones cannot be unprotected
(EBUSY); unprotecting an unprotected one is EINVAL.
"""
from __future__ import annotations

import errno

from ..errors import Error
from .catalog import Catalog, _int_arg
from .snapshots import check_snap_name

DIFF_GRAIN = 4096


class SnapshotCatalog:
    """Catalog methods for snapshots, clones, flatten, copy, diff and allocation."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.db, self.store, self.snaps = catalog.db, catalog.store, catalog.snapshots

    # --- helpers --------------------------------------------------------------------------------
    def _snap(self, owner: str, pool: str, image: str, snap: str) -> tuple[tuple, dict, tuple]:
        """(volume row, store snapshot, (size, protected)) of ``image@snap``; ENOENT if missing."""
        row = self.catalog.volume(owner, pool, image)
        _str(snap, "snapshot")
        try:
            info = self.snaps.get(f"/{pool}/{image}", owner, snap)
        except Error as exc:
            if exc.errno == errno.ENOENT:
                raise Error(errno.ENOENT, f"image {pool}/{image} has no snapshot {snap!r}") from None
            raise
        rbd = self.db.query("SELECT size FROM rbd_snapshots WHERE snap_id=?", (info["id"],))
        return row, info, (rbd[0][0] if rbd else info["length"], int(info["protected"]))

    @staticmethod
    def _snap_record(info: dict, size: int, protected: int) -> dict:
        return {"id": info["id"], "name": info["name"], "size": size, "timestamp": info["ctime"] / 1e6,
                "protected": bool(protected), "namespace_type": 0}

    def _view_busy(self, pool: str, image: str, snap: str) -> None:
        if self.catalog.busy(f"/{pool}/{image}@{snap}"):
            raise Error(errno.EBUSY, f"snapshot {pool}/{image}@{snap} is open by a client")

    def image_links(self, owner: str, pool: str, image: str) -> dict:
        """{snapshot_count, parent, children}: what an image's record shows of its snapshots and clones."""
        with self.db.lock:
            row = self.catalog.volume(owner, pool, image)
            count = self.db.query("SELECT COUNT(*) FROM curve_layers WHERE file_id=?", (row[0],))[0][0]
            return {"snapshot_count": count, "parent": self.catalog.parent_of(row[0]),
                    "children": bool(self.catalog.children_of(row[0]))}

    # --- snapshots ------------------------------------------------------------------------------
    def create_snap(self, owner: str, pool: str, image: str, snap: str, size: int) -> dict:
        """Snapshot ``image`` as ``snap``; ``size`` is the image's logical size now."""
        size = _int_arg(size, f"image {pool}/{image}: size")
        with self.db.transaction() as conn:
            row = self.catalog.volume(owner, pool, image)
            _str(snap, "snapshot")
            info = self.snaps.create(f"/{pool}/{image}", owner, snap)
            conn.execute("INSERT INTO rbd_snapshots (snap_id, file_id, size) VALUES (?, ?, ?)",
                         (info["id"], row[0], size))
            return {"snap": self._snap_record(info, size, 0)}

    def remove_snap(self, owner: str, pool: str, image: str, snap: str) -> dict:
        with self.db.transaction() as conn:
            _, info, (_, protected) = self._snap(owner, pool, image, snap)
            if protected:
                raise Error(errno.EBUSY, f"snapshot {pool}/{image}@{snap} is protected")
            self._view_busy(pool, image, snap)
            self.snaps.remove(f"/{pool}/{image}", owner, snap)
            conn.execute("DELETE FROM rbd_snapshots WHERE snap_id=?", (info["id"],))
        return {}

    def list_snaps(self, owner: str, pool: str, image: str) -> dict:
        with self.db.lock:
            self.catalog.volume(owner, pool, image)
            infos = self.snaps.list(f"/{pool}/{image}", owner)
            sizes = {r[0]: r[1] for r in self.db.query(
                "SELECT snap_id, size FROM rbd_snapshots WHERE snap_id IN (%s)"
                % ",".join("?" * len(infos)), tuple(i["id"] for i in infos))} if infos else {}
        return {"snaps": [self._snap_record(i, sizes.get(i["id"], i["length"]), i["protected"]) for i in infos]}

    def get_snap(self, owner: str, pool: str, image: str, snap: str) -> dict:
        with self.db.lock:
            _, info, rbd = self._snap(owner, pool, image, snap)
        return {"snap": self._snap_record(info, *rbd)}

    def rollback_snap(self, owner: str, pool: str, image: str, snap: str) -> dict:
        """The image shows the snapshot again; {size}: the snapshot's size, the image's from now on."""
        with self.db.transaction():
            _, _, (size, _) = self._snap(owner, pool, image, snap)
            self.snaps.rollback(f"/{pool}/{image}", owner, snap)
        return {"size": size}

    def rename_snap(self, owner: str, pool: str, image: str, snap: str, new_name: str) -> dict:
        with self.db.transaction():
            self._snap(owner, pool, image, snap)
            _str(new_name, "snapshot")
            self._view_busy(pool, image, snap)
            self.snaps.rename(f"/{pool}/{image}", owner, snap, new_name)
        return {}

    def protect_snap(self, owner: str, pool: str, image: str, snap: str) -> dict:
        with self.db.transaction():
            _, info, (_, protected) = self._snap(owner, pool, image, snap)
            if protected:
                raise Error(errno.EBUSY, f"snapshot {pool}/{image}@{snap} is already protected")
            self.snaps.set_protected(info["id"], True)
        return {}

    def unprotect_snap(self, owner: str, pool: str, image: str, snap: str) -> dict:
        with self.db.transaction():
            row, info, (_, protected) = self._snap(owner, pool, image, snap)
            if not protected:
                raise Error(errno.EINVAL, f"snapshot {pool}/{image}@{snap} is not protected")
            if self.catalog.children_of(row[0], info["id"]):
                raise Error(errno.EBUSY, f"snapshot {pool}/{image}@{snap} has clones (children)")
            self.snaps.set_protected(info["id"], False)
        return {}

    # --- clones ---------------------------------------------------------------------------------
    def clone(self, owner: str, pool: str, image: str, snap: str, child_pool: str, child_image: str) -> dict:
        """A new volume ``child_pool/child_image`` showing ``pool/image@snap`` until written;
        {file_id, size}: the child's Curve file id and logical size (the snapshot's)."""
        with self.db.transaction():
            row, info, (size, protected) = self._snap(owner, pool, image, snap)
            if not protected:
                raise Error(errno.EINVAL, f"snapshot {pool}/{image}@{snap} is not protected: cannot clone it")
            if not all(isinstance(x, str) and x for x in (child_pool, child_image)):
                raise Error(errno.EINVAL, f"clone {child_pool!r}/{child_image!r}: names must be non-empty strings")
            child = f"/{child_pool}/{child_image}"
            try:
                self.snaps.clone(f"/{pool}/{image}", snap, child, owner,
                                 self.catalog.config.backend_size(max(size, 1)))
            except Error as exc:
                if exc.errno == errno.EEXIST:
                    raise Error(errno.EEXIST, f"image {child_pool}/{child_image} already exists") from None
                if exc.errno == errno.ENOENT:
                    raise Error(errno.ENOENT, f"pool {child_pool!r} does not exist") from None
                raise
            child_id = self.store.existing_file(child, owner)[1][0]
            return {"file_id": child_id, "size": size}

    def parent_info(self, owner: str, pool: str, image: str) -> dict:
        with self.db.lock:
            parent = self.catalog.parent_of(self.catalog.volume(owner, pool, image)[0])
        if parent is None:
            raise Error(errno.ENOENT, f"image {pool}/{image} has no parent")
        return {"parent": parent}

    def list_children(self, owner: str, pool: str, image: str, snap: str | None = None) -> dict:
        with self.db.lock:
            if snap is None:
                row = self.catalog.volume(owner, pool, image)
                return {"children": [list(c) for c in self.catalog.children_of(row[0])]}
            row, info, _ = self._snap(owner, pool, image, snap)
            return {"children": [list(c) for c in self.catalog.children_of(row[0], info["id"])]}

    def flatten(self, owner: str, pool: str, image: str, size: int, offset: int = 0,
                length: int | None = None) -> dict:
        """Copy the parent's data for [offset, offset+length) into the clone; the step that reaches
        ``total`` (the largest of ``size``, the image's logical size, and its snapshots') cuts the
        link to the parent."""
        with self.db.transaction() as conn:
            row = self.catalog.volume(owner, pool, image)
            if self.catalog.parent_of(row[0]) is None:
                raise Error(errno.EINVAL, f"image {pool}/{image} has no parent: nothing to flatten")
            sizes = [r[0] for r in conn.execute(
                "SELECT s.size FROM rbd_snapshots s JOIN curve_layers l ON l.id = s.snap_id WHERE l.file_id=?",
                (row[0],))]
            total = max([_int_arg(size, "size"), *sizes])
            offset = _int_arg(offset, "offset")
            end = total if length is None else offset + _int_arg(length, "length")
            done = end >= total
            # the step that finishes also drops the store's clone link
            copied = self.snaps.flatten(f"/{pool}/{image}", owner, offset, end if not done else 1 << 62, done)
        return {"done": done, "total": total, "copied": copied}

    # --- data -----------------------------------------------------------------------------------
    def copy_image(self, owner: str, pool: str, image: str, dest_pool: str, dest_image: str,
                   snap: str | None = None) -> dict:
        """Copy the data (of ``snap`` or the head) into the existing, empty ``dest_pool/dest_image``."""
        with self.db.lock:
            self.catalog.volume(owner, pool, image)
            if snap is not None:
                self._snap(owner, pool, image, snap)
            self.catalog.volume(owner, dest_pool, dest_image)
        return {"copied": self.snaps.copy(f"/{pool}/{image}", owner, snap, f"/{dest_pool}/{dest_image}")}

    def diff_extents(self, owner: str, pool: str, image: str, offset: int, length: int, size: int, order: int,
                     from_snap: str | None = None, snap: str | None = None, include_parent: bool = True,
                     whole_object: bool = False) -> dict:
        """[offset, length, exists] where the image (or ``snap``) differs from ``from_snap`` (or zeros),
        within the logical ``size`` (the image's, or the snapshot's when ``snap`` is given: the client
        keeps both)."""
        with self.db.lock:
            self.catalog.volume(owner, pool, image)
            if snap is not None:
                self._snap(owner, pool, image, snap)
            if from_snap is not None:
                self._snap(owner, pool, image, from_snap)
        offset, length = _int_arg(offset, "offset"), _int_arg(length, "length")
        end = min(offset + length, _int_arg(size, "size"))
        if offset >= end:
            return {"extents": []}
        runs = self.snaps.diff(f"/{pool}/{image}", owner, snap, from_snap, offset, end, bool(include_parent),
                               DIFF_GRAIN)
        if whole_object:
            runs = _whole_objects(runs, 1 << _int_arg(order, "order", 12), offset, end)
        return {"extents": [[s, e - s, x] for s, e, x in runs]}

    def allocated(self, owner: str, pool: str, image: str, snap: str | None = None) -> dict:
        """Bytes stored for the image's head (or for ``snap``: what it holds that its parent layer lacks)."""
        with self.db.lock:
            self.catalog.volume(owner, pool, image)
            if snap is not None:
                self._snap(owner, pool, image, snap)
        return {"bytes": self.snaps.allocated(f"/{pool}/{image}", owner, snap)}


def _str(value, what: str) -> str:
    if not isinstance(value, str):
        raise Error(errno.EINVAL, f"{what} {value!r}: must be a string")
    check_snap_name(value)
    return value


def _whole_objects(runs, object_size: int, lo: int, hi: int) -> list[tuple[int, int, bool]]:
    """Runs widened to whole objects (clipped to [lo, hi)); an object exists if any run in it does."""
    objects: dict[int, bool] = {}
    for start, end, exists in runs:
        for index in range(start // object_size, (end - 1) // object_size + 1):
            objects[index] = objects.get(index, False) or exists
    out: list[list] = []
    for index in sorted(objects):
        start, end = max(index * object_size, lo), min((index + 1) * object_size, hi)
        if out and out[-1][1] == start and out[-1][2] == objects[index]:
            out[-1][1] = end
        else:
            out.append([start, end, objects[index]])
    return [(s, e, x) for s, e, x in out]
