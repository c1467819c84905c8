"""Snapshots, clones, flatten, copy and diff.

On an MDS with release1.5's local snapshots (asked once per client: a mainline
MDS answers ENOMETHOD), the snapshot's life, protection, clones, children,
parents and flatten are Curve's own RPCs (CreateSnapShot of ``<vol>@<snap>``,
ListSnapShot, DeleteSnapShot, Protect/UnprotectSnapShot, Clone, Children,
Flatten + QueryFlattenStatus); the snapshot's logical size lives in the RBD state
home. What Curve has no RPC for (rollback, snapshot rename, diff, a snapshot's
allocation, deep copy), and everything on a mainline MDS, goes to the embedded
daemon's snapshot service, which names volumes by their Curve names and takes
logical sizes from here; on a cluster without it those calls are EOPNOTSUPP.
"""
from __future__ import annotations

import errno
import time

from .. import features as feature_bits
from ..catalog.client import CatalogClient
from ..curve.nameserver2 import FileStatus, FileType, StatusCode
from ..curve.status import MdsError
from ..errors import Error
from .catalog_base import CatalogBase, check_image_name, mds_cause

PROBE = "/curverbd-probe"       # a path nobody has: any StatusCode says the MDS has the RPC


class CatalogSnapshots(CatalogBase):
    """Snapshot and clone calls, translated to the snapshot service's Curve names and sizes."""

    @property
    def snapshots(self) -> CatalogClient:
        if self._snapshots is None:
            raise Error(errno.EOPNOTSUPP, "snapshots and clones: this cluster has no snapshot service "
                                          "curverbd can use yet (Curve's own snapshot services come next)")
        return self._snapshots

    def _embedded(self, what: str, call, *args):
        """``call(*args)`` on the embedded daemon's snapshot service; on a Curve cluster (whose nebd-server
        has no such service) EOPNOTSUPP saying which Curve has ``what`` and which does not."""
        try:
            return call(*args)
        except Error as exc:
            if exc.errno != errno.EOPNOTSUPP:
                raise
            raise Error(errno.EOPNOTSUPP, f"{what}: Curve release1.5's MDS has no such RPC, and on mainline "
                                          "Curve it is snapshotclone-server's, which curverbd does not speak "
                                          "yet; only the embedded daemon (curverbd-server) offers it") from None

    def local_snapshots(self) -> bool:
        """Whether the MDS has release1.5's local snapshots (a mainline one answers ENOMETHOD)."""
        if self._local is None:
            try:
                self.mds.children(PROBE)
                self._local = True
            except MdsError:
                self._local = True
            except Error as exc:
                if exc.errno != errno.EOPNOTSUPP:
                    raise
                self._local = False
        return self._local

    def _snap_info(self, pool: str, image: str, info: dict, snap: str) -> dict:
        """The snapshot's Curve FileInfo; ENOENT naming it."""
        if not isinstance(snap, str) or not snap:
            raise Error(errno.EINVAL, f"snapshot name {snap!r}: must be a non-empty string")
        for found in self.mds.snapshots(f"/{pool}/{info['fileName']}"):
            if found.get("fileName") == snap:
                return found
        raise Error(errno.ENOENT, f"image {pool}/{image} has no snapshot {snap!r}")

    def _parent_of(self, info: dict) -> dict | None:
        """{pool, image, snap} (RBD names) of a clone's parent, from its Curve FileInfo."""
        parent = _clone_source(info)
        return None if parent is None else {**parent, "image": self._rbd_name(parent["pool"], parent["image"])}

    def _snap_record(self, info: dict, snap: dict, sizes: dict[str, int]) -> dict:
        """The SnapRecord every face reads, from Curve's snapshot FileInfo and the logical size."""
        return {"id": snap["id"], "name": snap["fileName"], "size": sizes.get(snap["fileName"], snap.get("length", 0)),
                "timestamp": snap.get("ctime", 0) / 1e6, "protected": bool(snap.get("isProtected")),
                "namespace_type": 0}

    def _state(self, pool: str, image: str) -> tuple[dict, dict]:
        """(FileInfo, RBD state with defaults filled in) of an image."""
        info = self._file(pool, image)
        return info, self._full_state(info)

    def _curve(self, pool: str, image: str) -> str:
        """The Curve name of an image's volume (the snapshot service's name for it)."""
        return self._file(pool, image)["fileName"]

    def create_snap(self, pool: str, image: str, snap: str) -> dict:
        info, state = self._state(pool, image)
        if not self.local_snapshots():
            return self.snapshots.create_snap(pool, info["fileName"], snap, state["size"])
        if not isinstance(snap, str) or not snap or "@" in snap or "/" in snap:
            raise Error(errno.EINVAL, f"snapshot name {snap!r}: non-empty, without '@' or '/'")
        path = f"/{pool}/{info['fileName']}"
        if any(s.get("fileName") == snap for s in self.mds.snapshots(path)):
            raise Error(errno.EEXIST, f"image {pool}/{image} already has a snapshot {snap!r}")
        # the size first: a crash before CreateSnapShot leaves a size without a snapshot (overwritten
        # by the next create), never a snapshot without its size
        self.state.snap_size_set(info["id"], snap, state["size"])
        try:
            made = self.mds.create_snapshot(path, snap)
        except MdsError as exc:
            raise Error(exc.errno, f"image {pool}/{image}: snapshot {snap!r}: {mds_cause(exc)}") from None
        return self._snap_record(info, made, {snap: state["size"]})

    def remove_snap(self, pool: str, image: str, snap: str) -> None:
        info = self._file(pool, image)
        if not self.local_snapshots():
            return self.snapshots.remove_snap(pool, info["fileName"], snap)
        found = self._snap_info(pool, image, info, snap)
        if found.get("isProtected"):
            raise Error(errno.EBUSY, f"snapshot {pool}/{image}@{snap} is protected")
        try:
            self.mds.delete_snapshot(f"/{pool}/{info['fileName']}", snap)
        except MdsError as exc:
            raise Error(exc.errno, f"snapshot {pool}/{image}@{snap}: {mds_cause(exc)}") from None
        self.state.snap_size_remove(info["id"], snap)

    def list_snaps(self, pool: str, image: str) -> list[dict]:
        info = self._file(pool, image)
        if not self.local_snapshots():
            return self.snapshots.list_snaps(pool, info["fileName"])
        sizes = self.state.snap_sizes(info["id"])
        snaps = self.mds.snapshots(f"/{pool}/{info['fileName']}")
        return [self._snap_record(info, s, sizes) for s in sorted(snaps, key=lambda s: s["id"])]

    def get_snap(self, pool: str, image: str, snap: str) -> dict:
        info = self._file(pool, image)
        if not self.local_snapshots():
            return self.snapshots.get_snap(pool, info["fileName"], snap)
        return self._snap_record(info, self._snap_info(pool, image, info, snap), self.state.snap_sizes(info["id"]))

    def rename_snap(self, pool: str, image: str, snap: str, new_name: str) -> None:
        """Curve has no snapshot rename: the embedded daemon's snapshot service renames; the logical
        size moves with it."""
        info = self._file(pool, image)
        self._embedded(f"snapshot rename {pool}/{image}@{snap}", self.snapshots.rename_snap, pool, info["fileName"],
                       snap, new_name)
        self.state.snap_size_rename(info["id"], snap, new_name)

    def protect_snap(self, pool: str, image: str, snap: str) -> None:
        info = self._file(pool, image)
        if not self.local_snapshots():
            return self.snapshots.protect_snap(pool, info["fileName"], snap)
        if self._snap_info(pool, image, info, snap).get("isProtected"):   # librbd: EBUSY; Curve: kOK
            raise Error(errno.EBUSY, f"snapshot {pool}/{image}@{snap} is already protected")
        self.mds.protect_snapshot(f"/{pool}/{info['fileName']}", snap)

    def unprotect_snap(self, pool: str, image: str, snap: str) -> None:
        info = self._file(pool, image)
        if not self.local_snapshots():
            return self.snapshots.unprotect_snap(pool, info["fileName"], snap)
        if not self._snap_info(pool, image, info, snap).get("isProtected"):
            raise Error(errno.EINVAL, f"snapshot {pool}/{image}@{snap} is not protected")
        try:
            self.mds.protect_snapshot(f"/{pool}/{info['fileName']}", snap, protect=False)
        except MdsError as exc:
            if exc.status == StatusCode.kFileOccupied:
                raise Error(errno.EBUSY, f"snapshot {pool}/{image}@{snap} has clones (children)") from None
            raise

    def rollback_snap(self, pool: str, image: str, snap: str) -> dict:
        """The image shows ``snap`` again, at the snapshot's size; the new ImageRecord. (Curve's
        release1.5 has no rollback: the embedded daemon's snapshot service does it.)"""
        info = self._file(pool, image)
        size = self._embedded(f"rollback of {pool}/{image} to {snap!r}", self.snapshots.rollback_snap, pool,
                              info["fileName"], snap)
        if self.local_snapshots():
            size = self.state.snap_sizes(info["id"]).get(snap, size)
        return self._record(pool, info, self._update(info, size=size))

    def list_children(self, pool: str, image: str, snap: str | None = None) -> list[tuple[str, str]]:
        info = self._file(pool, image)
        if not self.local_snapshots():
            children = self.snapshots.list_children(pool, info["fileName"], snap)
        else:
            if snap is not None:
                self._snap_info(pool, image, info, snap)
            children = self._clones(f"/{pool}/{info['fileName']}", snap)
        return sorted((p, self._rbd_name(p, name)) for p, name in children)

    def parent_info(self, pool: str, image: str) -> dict:
        info = self._file(pool, image)
        if not self.local_snapshots():
            parent = self.snapshots.parent_info(pool, info["fileName"])
            return {**parent, "image": self._rbd_name(parent["pool"], parent["image"])}
        parent = self._parent_of(info)
        if parent is None:
            raise Error(errno.ENOENT, f"image {pool}/{image} has no parent")
        return parent

    def allocated(self, pool: str, image: str, snap: str | None = None) -> int:
        return self._embedded(f"allocation of {pool}/{image}" + (f"@{snap}" if snap else ""),
                              self.snapshots.allocated, pool, self._curve(pool, image), snap)

    def clone(self, pool: str, image: str, snap: str, child_pool: str, child_image: str,
              features: int | None = None, order: int | None = None) -> dict:
        """A new image ``child_pool/child_image`` showing the protected ``pool/image@snap``."""
        info, parent = self._state(pool, image)
        features = parent["features"] if features is None else features
        order = parent["order"] if order is None else order
        check_image_name(child_pool, child_image)
        if not isinstance(features, int) or not features & feature_bits.LAYERING:
            raise Error(errno.EINVAL, f"clone {child_pool}/{child_image}: features must include layering")
        if not isinstance(order, int) or not 12 <= order <= 25:
            raise Error(errno.EINVAL, f"clone {child_pool}/{child_image}: order {order!r} must be 12..25")
        self._pool_info(child_pool)
        if not self.local_snapshots():
            made = self.snapshots.clone(pool, info["fileName"], snap, child_pool, child_image)
        else:
            size = self.state.snap_sizes(info["id"]).get(snap)
            try:
                child = self.mds.clone(f"/{pool}/{info['fileName']}", snap, f"/{child_pool}/{child_image}")
            except MdsError as exc:
                if exc.status == StatusCode.kSnapshotFileNotProtected:
                    raise Error(errno.EINVAL, f"snapshot {pool}/{image}@{snap} is not protected: cannot "
                                              "clone it") from None
                if exc.status in (StatusCode.kFileExists,):
                    raise Error(errno.EEXIST, f"image {child_pool}/{child_image} already exists") from None
                if exc.status in (StatusCode.kSnapshotFileNotExists, StatusCode.kFileNotExists):
                    self._snap_info(pool, image, info, snap)     # names the missing snapshot
                raise Error(exc.errno, f"clone {child_pool}/{child_image} of {pool}/{image}@{snap}: "
                                       f"{mds_cause(exc)}") from None
            made = {"file_id": child["id"], "size": size if size is not None else child.get("length", 0)}
        now = time.time()
        state = {"size": made["size"], "features": features, "order": order, "stripe_unit": 0,
                 "stripe_count": 0, "create_timestamp": now, "modify_timestamp": now, "access_timestamp": now}
        self.state.create_image(made["file_id"], state)
        return self.stat_image(child_pool, child_image)

    def flatten(self, pool: str, image: str, offset: int, length: int) -> dict:
        """One step: {done, total, position}. With local snapshots the MDS flattens on its own
        (Flatten, then QueryFlattenStatus); a step waits for its progress to move."""
        info, state = self._state(pool, image)
        if not self.local_snapshots():
            step = self.snapshots.flatten(pool, info["fileName"], state["size"], offset, length)
            return {**step, "position": min(offset + length, step["total"])}
        path = f"/{pool}/{info['fileName']}"
        total = state["size"]
        if info.get("fileType") != FileType.INODE_CLONE_PAGEFILE:
            if offset == 0:
                raise Error(errno.EINVAL, f"image {pool}/{image} has no parent: nothing to flatten")
            return {"done": True, "total": total, "position": total}
        if info.get("fileStatus") != FileStatus.kFileFlattening:
            # not started, or stopped by an MDS restart (Curve does not resume it): ask (again)
            self.mds.flatten(path)
        deadline = time.monotonic() + 1.0
        while True:
            _, progress = self.mds.flatten_status(path)
            if progress >= 100:
                return {"done": True, "total": total, "position": total}
            # a step that has started is past offset 0 (offset 0 asks to start), but short of the end
            position = min(max(1, total * progress // 100), max(total - 1, 1))
            if position > offset or time.monotonic() > deadline:
                return {"done": False, "total": total, "position": position}
            time.sleep(0.02)

    def copy_image(self, pool: str, image: str, dest_pool: str, dest_image: str,
                   snap: str | None = None) -> dict:
        """A new image with the data (of ``snap`` or the head), size, features, order and metadata."""
        info, state = self._state(pool, image)
        curve = info["fileName"]
        size = self.get_snap(pool, image, snap)["size"] if snap is not None else state["size"]
        made = self.create_image(dest_pool, dest_image, size, state["features"], state["order"])
        self.state.copy_meta(info["id"], made["file_id"])
        self._embedded(f"copy of {pool}/{image}", self.snapshots.copy_image, pool, curve, dest_pool, dest_image, snap)
        return self.stat_image(dest_pool, dest_image)

    def diff_extents(self, pool: str, image: str, offset: int, length: int, from_snap: str | None = None,
                     snap: str | None = None, include_parent: bool = True,
                     whole_object: bool = False) -> list[tuple[int, int, bool]]:
        info, state = self._state(pool, image)
        return self._embedded(f"diff of {pool}/{image}", self.snapshots.diff_extents, pool, info["fileName"],
                              offset, length, state["size"], state["order"], from_snap, snap, include_parent,
                              whole_object)


def _clone_source(info: dict) -> dict | None:
    """{pool, image (Curve name), snap} of a clone's source ``/<pool>/<vol>@<snap>``, or None."""
    source = info.get("cloneSource") if info.get("fileType") == FileType.INODE_CLONE_PAGEFILE else None
    if not source or "@" not in source:
        return None
    path, _, snap = source.rpartition("@")
    pool, _, image = path.strip("/").partition("/")
    return {"pool": pool, "image": image, "snap": snap}
