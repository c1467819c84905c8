"""The embedded daemon's snapshot data operations: rollback, diff and allocation.

Snapshots themselves (create, remove, rename, protection, clones, flatten) are
Curve's: the MDS service's release1.5 RPCs (mds_snapshots.py) or mainline's
snapshotcloneserver (snapshotclone*.py), over the same store. What no Curve
release has an RPC for is here, on the store's layers (snapshots.py). A
snapshot is named by Curve's key: a release1.5 snapshot's name, or a
snapshotcloneserver snapshot's UUID (the store resolves it to its layer).
Logical sizes are RBD's (etcd): the client passes them in.
"""
from __future__ import annotations

import errno

from ..errors import Error
from .catalog import Catalog, _int_arg
from .snapshots import check_snap_name

DIFF_GRAIN = 4096


class SnapshotCatalog:
    """Catalog methods for rollback, diff and allocation."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.db, self.snaps = catalog.db, catalog.snapshots

    def _snap(self, owner: str, pool: str, image: str, snap: str) -> dict:
        """The store's snapshot ``snap`` of ``pool/image``; ENOENT if either is missing."""
        self.catalog.volume(owner, pool, image)
        _str(snap, "snapshot")
        try:
            return self.snaps.get(f"/{pool}/{image}", owner, snap)
        except Error as exc:
            if exc.errno == errno.ENOENT:
                raise Error(errno.ENOENT, f"image {pool}/{image} has no snapshot {snap!r}") from None
            raise

    def rollback_snap(self, owner: str, pool: str, image: str, snap: str) -> dict:
        """The image shows the snapshot again; {size}: Curve's length of the snapshot."""
        with self.db.transaction():
            info = self._snap(owner, pool, image, snap)
            self.snaps.rollback(f"/{pool}/{image}", owner, snap)
        return {"size": info["length"]}

    # --- data -----------------------------------------------------------------------------------
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
