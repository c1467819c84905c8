"""The catalog's snapshot, clone, copy and difference operations (RBD's rules over the store's layers).

RBD keeps per snapshot what Curve does not: the image's logical size at the
time and the protection flag; per clone, its parent image and snapshot. The
rules are librbd's: a protected snapshot cannot be removed (EBUSY); only a
protected snapshot can be cloned (EINVAL); a snapshot with clones cannot be
unprotected (EBUSY); unprotecting an unprotected one is EINVAL.
"""
from __future__ import annotations

import errno
import secrets
import time

from ..errors import Error
from .catalog import MAX_IMAGE_NAME_BYTES, Catalog, _int_arg
from .snapshots import check_snap_name
from .store import check_name

FEATURE_LAYERING, FEATURE_STRIPINGV2, FEATURE_EXCLUSIVE_LOCK = 1, 2, 4
FEATURE_OBJECT_MAP, FEATURE_FAST_DIFF, FEATURE_DEEP_FLATTEN, FEATURE_JOURNALING = 8, 16, 32, 64
# what librbd lets update_features change on an existing image
MUTABLE_FEATURES = (FEATURE_EXCLUSIVE_LOCK | FEATURE_OBJECT_MAP | FEATURE_FAST_DIFF | FEATURE_DEEP_FLATTEN
                    | FEATURE_JOURNALING)
DIFF_GRAIN = 4096


class SnapshotCatalog:
    """Catalog methods for snapshots, clones, flatten, copy, diff, allocation and features."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.db, self.store, self.snaps = catalog.db, catalog.store, catalog.snapshots

    # --- helpers --------------------------------------------------------------------------------
    def _snap(self, owner: str, pool: str, image: str, snap: str) -> tuple[tuple, dict, tuple]:
        """(image row, store snapshot, (size, protected)) of ``image@snap``; ENOENT if missing."""
        row = self.catalog._image(owner, pool, image)
        _str(snap, "snapshot")
        try:
            info = self.snaps.get(f"/{pool}/{image}", owner, snap)
        except Error as exc:
            if exc.errno == errno.ENOENT:
                raise Error(errno.ENOENT, f"image {pool}/{image} has no snapshot {snap!r}") from None
            raise
        rbd = self.db.query("SELECT size, protected FROM rbd_snaps WHERE snap_id=?", (info["id"],))
        return row, info, rbd[0] if rbd else (row[3], 0)

    @staticmethod
    def _snap_record(info: dict, size: int, protected: int) -> dict:
        return {"id": info["id"], "name": info["name"], "size": size, "timestamp": info["ctime"] / 1e6,
                "protected": bool(protected), "namespace_type": 0}

    def _view_busy(self, pool: str, image: str, snap: str) -> None:
        if self.catalog.busy(f"/{pool}/{image}@{snap}"):
            raise Error(errno.EBUSY, f"snapshot {pool}/{image}@{snap} is open by a client")

    # --- snapshots ------------------------------------------------------------------------------
    def create_snap(self, owner: str, pool: str, image: str, snap: str) -> dict:
        with self.db.transaction() as conn:
            row = self.catalog._image(owner, pool, image)
            _str(snap, "snapshot")
            info = self.snaps.create(f"/{pool}/{image}", owner, snap)
            conn.execute("INSERT INTO rbd_snaps (snap_id, image_id, size) VALUES (?, ?, ?)",
                         (info["id"], row[0], row[3]))
            return {"snap": self._snap_record(info, row[3], 0)}

    def remove_snap(self, owner: str, pool: str, image: str, snap: str) -> dict:
        with self.db.transaction() as conn:
            _, info, (_, protected) = self._snap(owner, pool, image, snap)
            if protected:
                raise Error(errno.EBUSY, f"snapshot {pool}/{image}@{snap} is protected")
            self._view_busy(pool, image, snap)
            self.snaps.remove(f"/{pool}/{image}", owner, snap)
            conn.execute("DELETE FROM rbd_snaps WHERE snap_id=?", (info["id"],))
        return {}

    def list_snaps(self, owner: str, pool: str, image: str) -> dict:
        with self.db.lock:
            row = self.catalog._image(owner, pool, image)
            rbd = {r[0]: r[1:] for r in self.db.query("SELECT snap_id, size, protected FROM rbd_snaps "
                                                      "WHERE image_id=?", (row[0],))}
            infos = self.snaps.list(f"/{pool}/{image}", owner)
        return {"snaps": [self._snap_record(i, *rbd.get(i["id"], (0, 0))) for i in infos]}

    def get_snap(self, owner: str, pool: str, image: str, snap: str) -> dict:
        with self.db.lock:
            _, info, rbd = self._snap(owner, pool, image, snap)
        return {"snap": self._snap_record(info, *rbd)}

    def rollback_snap(self, owner: str, pool: str, image: str, snap: str) -> dict:
        """The image shows the snapshot again, with the snapshot's size."""
        with self.db.transaction() as conn:
            row, _, (size, _) = self._snap(owner, pool, image, snap)
            self.snaps.rollback(f"/{pool}/{image}", owner, snap)
            conn.execute("UPDATE rbd_images SET size=? WHERE id=?", (size, row[0]))
            return {"image": self.catalog._record(pool, (*row[:3], size, *row[4:]))}

    def rename_snap(self, owner: str, pool: str, image: str, snap: str, new_name: str) -> dict:
        with self.db.transaction():
            self._snap(owner, pool, image, snap)
            _str(new_name, "snapshot")
            self._view_busy(pool, image, snap)
            self.snaps.rename(f"/{pool}/{image}", owner, snap, new_name)
        return {}

    def protect_snap(self, owner: str, pool: str, image: str, snap: str) -> dict:
        with self.db.transaction() as conn:
            _, info, (_, protected) = self._snap(owner, pool, image, snap)
            if protected:
                raise Error(errno.EBUSY, f"snapshot {pool}/{image}@{snap} is already protected")
            conn.execute("UPDATE rbd_snaps SET protected=1 WHERE snap_id=?", (info["id"],))
        return {}

    def unprotect_snap(self, owner: str, pool: str, image: str, snap: str) -> dict:
        with self.db.transaction() as conn:
            row, info, (_, protected) = self._snap(owner, pool, image, snap)
            if not protected:
                raise Error(errno.EINVAL, f"snapshot {pool}/{image}@{snap} is not protected")
            if self.db.query("SELECT 1 FROM rbd_clones WHERE snap_id=? LIMIT 1", (info["id"],)):
                raise Error(errno.EBUSY, f"snapshot {pool}/{image}@{snap} has clones (children)")
            conn.execute("UPDATE rbd_snaps SET protected=0 WHERE snap_id=?", (info["id"],))
        return {}

    # --- clones ---------------------------------------------------------------------------------
    def clone(self, owner: str, pool: str, image: str, snap: str, child_pool: str, child_image: str,
              features: int | None = None, order: int | None = None) -> dict:
        """A new image ``child_pool/child_image`` showing ``pool/image@snap`` until written."""
        with self.db.transaction() as conn:
            row, info, (size, protected) = self._snap(owner, pool, image, snap)
            if not protected:
                raise Error(errno.EINVAL, f"snapshot {pool}/{image}@{snap} is not protected: cannot clone it")
            self.catalog._pool(owner, child_pool)
            check_name(child_image, "image", MAX_IMAGE_NAME_BYTES)
            if conn.execute("SELECT 1 FROM rbd_images WHERE pool=? AND name=?",
                            (child_pool, child_image)).fetchone():
                raise Error(errno.EEXIST, f"image {child_pool}/{child_image} already exists")
            features = row[4] if features is None else _int_arg(features, "features")
            order = row[5] if order is None else _int_arg(order, "order", 12)
            if not features & FEATURE_LAYERING:
                raise Error(errno.EINVAL, f"clone {child_pool}/{child_image}: features must include layering")
            child = (secrets.token_hex(6), child_image, owner, size, features, order, int(time.time()))
            conn.execute('INSERT INTO rbd_images (id, name, owner, size, features, "order", created, pool) '
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (*child, child_pool))
            conn.execute("INSERT INTO rbd_clones VALUES (?, ?, ?)", (child[0], row[0], info["id"]))
            self.snaps.clone(f"/{pool}/{image}", snap, f"/{child_pool}/{child_image}", owner,
                             self.catalog.config.backend_size(max(size, 1)))
            return {"image": self.catalog._record(child_pool, child)}

    def parent_info(self, owner: str, pool: str, image: str) -> dict:
        with self.db.lock:
            parent = self.catalog.parent_of(self.catalog._image(owner, pool, image)[0])
        if parent is None:
            raise Error(errno.ENOENT, f"image {pool}/{image} has no parent")
        return {"parent": parent}

    def list_children(self, owner: str, pool: str, image: str, snap: str | None = None) -> dict:
        with self.db.lock:
            if snap is None:
                row = self.catalog._image(owner, pool, image)
                return {"children": [list(c) for c in self.catalog.children_of(row[0])]}
            row, info, _ = self._snap(owner, pool, image, snap)
            return {"children": [list(c) for c in self.catalog.children_of(row[0], info["id"])]}

    def flatten(self, owner: str, pool: str, image: str, offset: int = 0, length: int | None = None) -> dict:
        """Copy the parent's data for [offset, offset+length) into the clone; the step that reaches
        ``total`` (the largest size of the image and its snapshots) cuts the link to the parent."""
        with self.db.transaction() as conn:
            row = self.catalog._image(owner, pool, image)
            if self.catalog.parent_of(row[0]) is None:
                raise Error(errno.EINVAL, f"image {pool}/{image} has no parent: nothing to flatten")
            sizes = [r[0] for r in conn.execute("SELECT size FROM rbd_snaps WHERE image_id=?", (row[0],))]
            total = max([row[3], *sizes])
            offset = _int_arg(offset, "offset")
            end = total if length is None else offset + _int_arg(length, "length")
            done = end >= total
            copied = self.snaps.flatten(f"/{pool}/{image}", owner, offset, end if not done else 1 << 62, done)
            if done:
                conn.execute("DELETE FROM rbd_clones WHERE child_id=?", (row[0],))
        return {"done": done, "total": total, "copied": copied}

    # --- data -----------------------------------------------------------------------------------
    def copy_image(self, owner: str, pool: str, image: str, dest_pool: str, dest_image: str,
                   snap: str | None = None) -> dict:
        """A new image with the data (of ``snap`` or the head), size, features, order and metadata."""
        with self.db.transaction() as conn:
            row = self.catalog._image(owner, pool, image)
            size = self._snap(owner, pool, image, snap)[2][0] if snap is not None else row[3]
            made = self.catalog.create_image(owner, dest_pool, dest_image, size, row[4], row[5])["image"]
            conn.execute("INSERT INTO rbd_image_meta SELECT ?, key, value FROM rbd_image_meta WHERE image_id=?",
                         (made["id"], row[0]))
            self.snaps.copy(f"/{pool}/{image}", owner, snap, f"/{dest_pool}/{dest_image}")
            return {"image": self.catalog._record(dest_pool, self.catalog._image(owner, dest_pool, dest_image))}

    def diff_extents(self, owner: str, pool: str, image: str, offset: int, length: int,
                     from_snap: str | None = None, snap: str | None = None, include_parent: bool = True,
                     whole_object: bool = False) -> dict:
        """[offset, length, exists] where the image (or ``snap``) differs from ``from_snap`` (or zeros)."""
        with self.db.lock:
            row = self.catalog._image(owner, pool, image)
            size = self._snap(owner, pool, image, snap)[2][0] if snap is not None else row[3]
            if from_snap is not None:
                self._snap(owner, pool, image, from_snap)
        offset, length = _int_arg(offset, "offset"), _int_arg(length, "length")
        end = min(offset + length, size)
        if offset >= end:
            return {"extents": []}
        runs = self.snaps.diff(f"/{pool}/{image}", owner, snap, from_snap, offset, end, bool(include_parent),
                               DIFF_GRAIN)
        if whole_object:
            runs = _whole_objects(runs, 1 << row[5], offset, end)
        return {"extents": [[s, e - s, x] for s, e, x in runs]}

    def allocated(self, owner: str, pool: str, image: str, snap: str | None = None) -> dict:
        """Bytes stored for the image's head (or for ``snap``: what it holds that its parent layer lacks)."""
        with self.db.lock:
            self.catalog._image(owner, pool, image)
            if snap is not None:
                self._snap(owner, pool, image, snap)
        return {"bytes": self.snaps.allocated(f"/{pool}/{image}", owner, snap)}

    def update_features(self, owner: str, pool: str, image: str, features: int, enabled: bool) -> dict:
        with self.db.transaction() as conn:
            row = self.catalog._image(owner, pool, image)
            mask = _int_arg(features, "features")
            if mask & ~MUTABLE_FEATURES:
                raise Error(errno.EINVAL, f"image {pool}/{image}: features {mask:#x} cannot be changed "
                                          f"(only {MUTABLE_FEATURES:#x})")
            new = row[4] | mask if enabled else row[4] & ~mask
            conn.execute("UPDATE rbd_images SET features=? WHERE id=?", (new, row[0]))
            return {"image": self.catalog._record(pool, (*row[:4], new, *row[5:]))}


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
