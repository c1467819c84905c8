"""Snapshots, clones, flatten, reading at a snapshot, copy and diff, on Curve's own snapshot services.

Which service depends on the cluster, asked once per client (snapshot_flavours.py):
release1.5's MDS keeps local snapshots; a mainline MDS answers those RPCs with
ENOMETHOD and its snapshots live in snapshotcloneserver (conf
``curve_snapshotclone_addr``). The RBD call maps onto either like this:

    RBD                      release1.5 MDS                       mainline snapshotcloneserver
    snap create              CreateSnapShot <vol>@<snap>          CreateSnapshot, waited for (progress)
    snap ls / info           ListSnapShot                         GetFileSnapshotInfo (finished ones)
    snap rm                  DeleteSnapShot                       DeleteSnapshot
    snap protect/unprotect   Protect/UnprotectSnapShot            the RBD state home (no Curve protection)
    clone                    Clone (protected snapshot)           Clone, lazy
    children                 Children                             GetCloneRefStatus
    parent                   the clone's cloneSource              GetCloneTasks of the clone
    flatten (progress)       Flatten + QueryFlattenStatus         Flatten + GetCloneTasks
    rollback                 (no RPC: the embedded daemon's)      Recover, not lazy
    read at a snapshot       a read-only Clone, removed at close  a lazy Clone, removed at close
    snap rename              the RBD state home                   the RBD state home

A snapshot's RBD name, its logical size and (mainline) its protection are the
RBD state home's (rbd_state.py ``snap/``), keyed by the RBD name and pointing at
Curve's snapshot (its name or UUID), so a rename touches only that record.

Reading at a snapshot opens a *view*: a read-only clone named ``.rbd-snapview-*``
in the image's pool, hidden from ``rbd ls``, removed when the reader closes it.
One a crashed reader left is removed by the next reader in that pool once
Curve says it is not open (DeleteFile refuses an open file). On release1.5 a
view of an unprotected snapshot protects it in Curve while views exist; RBD
still reports it unprotected.

A snapshot RBD has removed but Curve still needs waits in a *pending* record
(``pending`` in its RBD record, keyed by a UUID so its name is free again):

- ``"trash"``: it still has clones (format 2 clones need no protection, so an
  unprotected snapshot can have them). librbd moves such a snapshot to the
  trash namespace (RBD_SNAP_NAMESPACE_TYPE_TRASH, named by a UUID); so does
  this catalog, and Curve keeps it until its last clone is flattened or removed.
- ``"removed"``: readers' views still read through it (Curve deletes no
  snapshot a clone reads through, and no open file). It leaves every list at
  once; the image's RBD record names it in ``snaps_removed``, so each handle
  set to it (in any process: the record is watched) gives its view back and
  fails its reads with ENOENT, as librbd's do. The last view closed (or swept)
  deletes the Curve snapshot.

``_reap`` deletes the pending snapshots nothing holds any more; it runs when a
view closes, a clone is flattened or removed, and when snapshots are listed.

Clone format (``rbd_default_clone_format``, or the call's): 1 clones only a
protected snapshot; 2 clones any snapshot (on release1.5, whose Clone needs
Curve's protection, the snapshot is protected in Curve while RBD reports it
unprotected, as for views). Pacific's "auto" means 2 when the cluster's
minimum client is mimic or newer; Curve has no such setting, so "auto" is 1
here (the format every client understands).

Curve has no diff and no per-snapshot allocation: those go to the embedded
daemon's service, and are EOPNOTSUPP elsewhere. A copy moves its data through
the client (copy_target makes the new image), as librbd's does.
"""
from __future__ import annotations

import errno
import logging
import os
import time
from typing import Callable, Optional

from .. import features as feature_bits
from ..curve.nameserver2 import FileStatus, FileType, StatusCode
from ..curve.status import MdsError
from ..errors import Error
from .catalog_base import RECYCLE_BIN, VIEW_PREFIX, CatalogBase, check_image_name, is_view, mds_cause
from .snapshot_flavours import LocalSnapshots, S3Snapshots, detect

log = logging.getLogger("curverbd.snapshots")

NAMESPACE_USER = 0            # RBD_SNAP_NAMESPACE_TYPE_USER
NAMESPACE_TRASH = 2           # RBD_SNAP_NAMESPACE_TYPE_TRASH: removed, kept for its clones
REMOVED_KEPT = 16             # Curve snapshot keys an image record keeps in ``snaps_removed``
CLONE_FORMATS = {"1": 1, "2": 2, "auto": 1}   # rbd_default_clone_format (module docstring: "auto")
VIEW_STALE_S = 10.0           # a view this old and not open is a crashed reader's (open takes milliseconds)
FLATTEN_WAIT_S = 1.0          # how long one flatten step waits for Curve's progress to move
Percent = Optional[Callable[[int], None]]


class CatalogSnapshots(CatalogBase):
    """Snapshot and clone calls on the cluster's snapshot flavour."""

    def flavour(self) -> LocalSnapshots | S3Snapshots:
        if self._flavour is None:
            self._flavour = detect(self.mds, self._snapshotclone)
        return self._flavour

    # --- the snapshots of an image, joined with their RBD records -------------------------------
    def _snapshots_of(self, info: dict) -> list[tuple[dict, str, dict]]:
        """(Curve snapshot, RBD name, RBD record) of each snapshot of the volume, oldest first. A record
        names its Curve snapshot; one still waiting for Curve's answer (a crash in create) matches an
        unclaimed snapshot of its name; a snapshot without a record (Curve's own tools) is its Curve name."""
        path = self._path(info)
        records = self.state.snaps(info["id"])
        by_key = {r["curve"]: name for name, r in records.items() if r.get("curve") is not None}
        out, names = [], set(by_key.values())
        for snap in self.flavour().list(path):
            name = by_key.get(snap["key"])
            if name is None:
                name = snap["name"]
                record = records.get(name, {})
                if record.get("curve") is not None or name in names:
                    record, name = {}, f"{name}.{snap['key'][:8]}"    # a name RBD gave another one
                names.add(name)
            else:
                record = records[name]
            out.append((snap, name, record))
        return out

    @staticmethod
    def _path(info: dict) -> str:
        return f"/{info['pool']}/{info['fileName']}"

    def _snapshot(self, pool: str, image: str, info: dict, snap: str) -> tuple[dict, dict]:
        """(Curve snapshot, RBD record) of ``image@snap``; ENOENT naming it."""
        if not isinstance(snap, str) or not snap:
            raise Error(errno.EINVAL, f"snapshot name {snap!r}: must be a non-empty string")
        for found, name, record in self._snapshots_of(info):
            if name == snap and not record.get("pending"):   # a pending one has left RBD's names
                return found, record
        raise Error(errno.ENOENT, f"image {pool}/{image} has no snapshot {snap!r}")

    @staticmethod
    def _protected(snap: dict, record: dict) -> bool:
        """RBD's protection: the record's where RBD set it, else Curve's (release1.5), else none."""
        return bool(record.get("protected", snap["protected"]))

    def _snap_record(self, snap: dict, name: str, record: dict) -> dict:
        """The SnapRecord every face reads."""
        return {"id": snap["seq"], "name": name, "size": record.get("size", snap["length"]),
                "timestamp": snap["ctime"] / 1e6, "protected": self._protected(snap, record),
                "namespace_type": NAMESPACE_TRASH if record.get("pending") == "trash" else NAMESPACE_USER,
                **({"original_name": record["original_name"]} if record.get("pending") else {})}

    def _image(self, pool: str, image: str) -> tuple[dict, dict]:
        """(FileInfo with its pool, RBD state with defaults filled in) of an image."""
        info = {**self._file(pool, image), "pool": pool}
        return info, self._full_state(info)

    def _keep(self, info: dict, name: str, snap: dict, record: dict, **changes) -> None:
        """Write a snapshot's RBD record (made whole for a snapshot that had none)."""
        self.state.snap_set(info["id"], name, {**record, "size": record.get("size", snap["length"]),
                                               "curve": snap["key"], **changes})

    # --- snapshot life cycle --------------------------------------------------------------------
    def create_snap(self, pool: str, image: str, snap: str, progress: Percent = None) -> dict:
        info, state = self._image(pool, image)
        if not isinstance(snap, str) or not snap or "@" in snap or "/" in snap:
            raise Error(errno.EINVAL, f"snapshot name {snap!r}: non-empty, without '@' or '/'")
        existing = self._snapshots_of(info)
        if any(name == snap for _, name, _ in existing):
            raise Error(errno.EEXIST, f"image {pool}/{image} already has a snapshot {snap!r}")
        flavour = self.flavour()
        curve_name = snap
        if any(s["name"] == snap for s, _, _ in existing):   # Curve's name is held by a renamed one
            curve_name = f"{snap}.{os.urandom(4).hex()}"
        # the record first: a crash before Curve answers leaves a record without a snapshot (overwritten
        # by the next create), never a snapshot without its size
        key = curve_name if isinstance(flavour, LocalSnapshots) else None
        self.state.snap_set(info["id"], snap, {"size": state["size"], "curve": key})
        try:
            made = flavour.create(self._path(info), curve_name, progress)
        except Error as exc:
            if not getattr(exc, "lost", False):   # refused: no snapshot (a lost answer keeps the record)
                self.state.snap_remove(info["id"], snap)
            raise Error(exc.errno, f"image {pool}/{image}: snapshot {snap!r}: {mds_cause(exc)}") from None
        record = {"size": state["size"], "curve": made["key"]}
        if key != made["key"]:
            self.state.snap_set(info["id"], snap, record)
        return self._snap_record(made, snap, record)

    def remove_snap(self, pool: str, image: str, snap: str, unprotect: bool = False) -> None:
        """Remove ``image@snap``: EBUSY if protected, unless ``unprotect`` (RBD_SNAP_REMOVE_UNPROTECT)
        unprotects it first (EBUSY then if it has clones). One that format 2 clones still read moves
        to the trash namespace; one readers' views still read leaves RBD at once and Curve when the
        last view goes (module docstring)."""
        info, _ = self._image(pool, image)
        found, record = self._snapshot(pool, image, info, snap)
        if self._protected(found, record):
            if not unprotect:
                raise Error(errno.EBUSY, f"snapshot {pool}/{image}@{snap} is protected")
            self.unprotect_snap(pool, image, snap)
            found, record = self._snapshot(pool, image, info, snap)
        if self._children(info, found):   # format 2 clones: kept for them, in the trash namespace
            self._set_pending(info, snap, found, record, "trash")
            return
        if found["protected"]:   # Curve's protection for readers' views (or left by a crash): drop it if it can
            self._release(self._path(info), found)
        try:
            self.flavour().remove(self._path(info), found)
        except Error as exc:
            if not _held(exc):
                raise Error(exc.errno, f"snapshot {pool}/{image}@{snap}: {mds_cause(exc)}") from None
            # readers' views (or a clone in /RecycleBin) still read it: gone for RBD, Curve's goes later
            self._set_pending(info, snap, found, record, "removed")
            self._tell_readers(info, found)
            return
        self.state.snap_remove(info["id"], snap)

    def _set_pending(self, info: dict, name: str, snap: dict, record: dict, why: str) -> None:
        """Take ``name`` out of RBD's names: its record moves to a UUID key, marked ``pending`` ``why``."""
        import uuid   # here, not at import: it costs every QEMU start ~5 ms (it imports platform)
        key = str(uuid.uuid4())
        self.state.snap_rename(info["id"], name, key, {**record, "size": record.get("size", snap["length"]),
                                                       "curve": snap["key"], "pending": why,
                                                       "original_name": name})

    def _tell_readers(self, info: dict, snap: dict) -> None:
        """Name the removed snapshot in the image's record: the handles set to it watch the record
        (Image._on_change) and give their views back."""
        ident = snapshot_identity(snap)

        def change(state: dict) -> dict:
            gone = [k for k in state.get("snaps_removed", []) if k != ident]
            state["snaps_removed"] = (gone + [ident])[-REMOVED_KEPT:]
            return state
        self.state.update_image(info["id"], change, self._default_state(info))

    def _reap(self, info: dict) -> None:
        """Delete from Curve the pending snapshots of a volume that nothing holds any more (no clone for
        one in the trash, no reader's view), and forget their records. One still held stays pending."""
        path = self._path(info)
        for snap, name, record in self._snapshots_of(info):
            if not record.get("pending"):
                continue
            if record["pending"] == "trash" and self._children(info, snap):
                continue
            try:
                if snap["protected"]:
                    self._release(path, snap)
                self.flavour().remove(path, snap)
            except Error as exc:
                if exc.errno != errno.ENOENT:
                    if not _held(exc):
                        log.warning("snapshot %s@%s (removed as %r): not deleted: %s", path, snap["key"],
                                    record.get("original_name"), exc)
                    continue
            self.state.snap_remove(info["id"], name)
            log.info("snapshot %s@%s (removed as %r): deleted from Curve, nothing reads it any more", path,
                     snap["key"], record.get("original_name"))

    def _reap_path(self, path: str) -> None:
        """_reap the volume at Curve path ``path`` (a parent, a view's source); errors are logged."""
        pool, _, name = path.strip("/").partition("/")
        try:
            self._reap({**self.mds.stat(path), "pool": pool, "fileName": name})
        except Error as exc:
            if exc.errno != errno.ENOENT:
                log.warning("pending snapshots of %s: not reaped: %s", path, exc)

    def _reap_parent(self, parent: dict | None) -> None:
        """A clone of ``parent`` ({pool, image, snap}: RBD names) was flattened or removed."""
        if parent is None:
            return
        try:
            info, _ = self._image(parent["pool"], parent["image"])
        except Error as exc:
            if exc.errno != errno.ENOENT:
                log.warning("pending snapshots of %s/%s: not reaped: %s", parent["pool"], parent["image"], exc)
            return
        self._reap(info)

    def _snapshot_counts(self, info: dict, count: int) -> tuple[int, int]:
        """(user snapshots, pending ones) of a volume of which Curve counts ``count``."""
        if not count:
            return 0, 0
        pending = sum(1 for r in self.state.snaps(info["id"]).values() if r.get("pending"))
        return max(0, count - pending), pending

    def list_snaps(self, pool: str, image: str) -> list[dict]:
        """Every snapshot, oldest first: the user's and (``namespace_type`` 2, named by a UUID, with
        ``original_name``) those in the trash namespace, as librbd's snap_list; not the removed ones
        readers still hold."""
        info, _ = self._image(pool, image)
        found = self._snapshots_of(info)
        if any(record.get("pending") for _, _, record in found):
            self._reap(info)
            found = self._snapshots_of(info)
        return [self._snap_record(*f) for f in found if f[2].get("pending") != "removed"]

    def get_snap(self, pool: str, image: str, snap: str) -> dict:
        info, _ = self._image(pool, image)
        found, record = self._snapshot(pool, image, info, snap)
        return self._snap_record(found, snap, record)

    def rename_snap(self, pool: str, image: str, snap: str, new_name: str) -> None:
        """Curve renames no snapshot: the RBD name is the record's (Curve's snapshot keeps its name)."""
        info, _ = self._image(pool, image)
        found, record = self._snapshot(pool, image, info, snap)
        if not isinstance(new_name, str) or not new_name or "@" in new_name or "/" in new_name:
            raise Error(errno.EINVAL, f"snapshot name {new_name!r}: non-empty, without '@' or '/'")
        if any(name == new_name for _, name, _ in self._snapshots_of(info)):
            raise Error(errno.EEXIST, f"image {pool}/{image} already has a snapshot {new_name!r}")
        self.state.snap_rename(info["id"], snap, new_name, {**record, "size": record.get("size", found["length"]),
                                                            "curve": found["key"]})

    def protect_snap(self, pool: str, image: str, snap: str) -> None:
        info, _ = self._image(pool, image)
        found, record = self._snapshot(pool, image, info, snap)
        if self._protected(found, record):    # librbd: EBUSY; Curve: kOK
            raise Error(errno.EBUSY, f"snapshot {pool}/{image}@{snap} is already protected")
        self.flavour().protect(self._path(info), found, True)
        self._keep(info, snap, found, record, protected=True)

    def unprotect_snap(self, pool: str, image: str, snap: str) -> None:
        info, _ = self._image(pool, image)
        found, record = self._snapshot(pool, image, info, snap)
        if not self._protected(found, record):
            raise Error(errno.EINVAL, f"snapshot {pool}/{image}@{snap} is not protected")
        if self._children(info, found):
            raise Error(errno.EBUSY, f"snapshot {pool}/{image}@{snap} has clones (children)")
        self._keep(info, snap, found, record, protected=False)
        self._release(self._path(info), found)

    def _release(self, path: str, snap: dict) -> None:
        """Drop Curve's protection of an RBD-unprotected snapshot unless clones (readers' views) still
        hold it; the last view to go drops it."""
        if not self.flavour().protects:
            return
        try:
            self.flavour().protect(path, snap, False)
        except MdsError as exc:
            if exc.status != StatusCode.kFileOccupied:
                raise

    def rollback_snap(self, pool: str, image: str, snap: str, progress: Percent = None) -> dict:
        """The image shows ``snap`` again, at the snapshot's size: the new ImageRecord. The caller holds no
        open file of the image (mainline Curve's Recover replaces the volume)."""
        info, _ = self._image(pool, image)
        found, record = self._snapshot(pool, image, info, snap)
        path = self._path(info)
        try:
            self.flavour().rollback(path, found, progress)
        except Error as exc:
            if exc.errno != errno.EOPNOTSUPP or self._snapshots is None:
                raise Error(exc.errno, f"rollback of {pool}/{image} to {snap!r}: {mds_cause(exc)}") from None
            try:   # release1.5 has none: the embedded daemon's snapshot service can
                self._snapshots.rollback_snap(pool, info["fileName"], found["key"])
            except Error as ext:
                if ext.errno != errno.EOPNOTSUPP:
                    raise
                raise Error(errno.EOPNOTSUPP, f"rollback of {pool}/{image} to {snap!r}: "
                                              f"{mds_cause(exc)}") from None
        now = {**self.mds.stat(path), "pool": pool, "rbd_name": image, "meta": info["meta"]}
        if now["id"] != info["id"]:     # Recover put a new volume in its place: the record follows it
            self.state.move_image(info["id"], now["id"])
        return self._record(pool, now, self._update(now, size=record.get("size", found["length"])))

    # --- clones ---------------------------------------------------------------------------------
    def _children(self, info: dict, snap: dict | None) -> list[tuple[str, str]]:
        """(pool, Curve name) of the clones reading through the volume's snapshot ``snap`` (any: None),
        without readers' views and clones removed into /RecycleBin."""
        out = []
        for child in self.flavour().clones(self._path(info), snap):
            pool, _, name = child.strip("/").partition("/")
            if pool != RECYCLE_BIN and not is_view(name):
                out.append((pool, name))
        return out

    def _links(self, pool: str, image: str, info: dict | None = None) -> dict:
        """Snapshot count, parent and whether it has children, from Curve (``info``: the volume's
        FileInfo, if at hand)."""
        path = f"/{pool}/{image}"
        info = {**(info if info is not None else self.mds.stat(path)), "pool": pool, "fileName": image}
        if isinstance(self.flavour(), LocalSnapshots):
            count = len(info.get("snaps", []))     # release1.5's FileInfo lists them
        else:
            count = len(self.flavour().list(path))
        children = self._children(info, None) if count else []
        user, pending = self._snapshot_counts(info, count)
        return {"snapshot_count": user, "pending_snapshots": pending, "parent": self._parent_of(info),
                "children": bool(children)}

    def _pinned(self, path: str, info: dict) -> bool:
        """On mainline, snapshotcloneserver keeps a volume's snapshots and a lazy clone's task by the
        volume's path: RBD renames or trashes such a volume in place (release1.5's MDS refuses itself)."""
        if isinstance(self.flavour(), LocalSnapshots):
            return False
        return (info.get("fileStatus") in (FileStatus.kFileCloneMetaInstalled, FileStatus.kFileCloning)
                or bool(self.flavour().list(path)))

    def _parent_of(self, info: dict) -> dict | None:
        """{pool, image, snap} (RBD names) of a clone's parent, or None."""
        source = self.flavour().parent(self._path(info), info)
        if source is None:
            return None
        volume, key = source
        pool, _, curve_name = volume.strip("/").partition("/")
        parent = self._lookup(pool, curve_name, curve_name)
        snap = key
        if parent is not None:
            parent = {**parent, "pool": pool}
            snap = next((name for s, name, _ in self._snapshots_of(parent) if s["key"] == key), key)
        return {"pool": pool, "image": self._rbd_name(pool, curve_name), "snap": snap}

    def clone(self, pool: str, image: str, snap: str, child_pool: str, child_image: str,
              features: int | None = None, order: int | None = None, clone_format: int = 1) -> dict:
        """A new image ``child_pool/child_image`` showing ``pool/image@snap``: protected for clone format 1;
        any for format 2."""
        info, parent = self._image(pool, image)
        features = parent["features"] if features is None else features
        order = order or parent["order"]     # librbd: order 0 (or none) is the parent's
        check_image_name(child_pool, child_image)
        if not isinstance(features, int) or not features & feature_bits.LAYERING:
            raise Error(errno.EINVAL, f"clone {child_pool}/{child_image}: features must include layering")
        if not isinstance(order, int) or not 12 <= order <= 25:
            raise Error(errno.EINVAL, f"clone {child_pool}/{child_image}: order {order!r} must be 12..25")
        self._pool_info(child_pool)
        if clone_format not in (1, 2):
            raise Error(errno.EINVAL, f"clone {child_pool}/{child_image}: clone format {clone_format!r} "
                                      "must be 1 or 2")
        found, record = self._snapshot(pool, image, info, snap)
        protected = self._protected(found, record)
        if not protected and clone_format == 1:
            raise Error(errno.EINVAL, f"snapshot {pool}/{image}@{snap} is not protected: cannot clone it "
                                      "(clone format 1)")
        if self._lookup(child_pool, child_image, child_image) is not None:
            raise Error(errno.EEXIST, f"image {child_pool}/{child_image} already exists")
        if not protected and self.flavour().protects:
            # release1.5 clones only what Curve protects: held for the clone, RBD's word stays "unprotected"
            if "protected" not in record:
                self._keep(info, snap, found, record, protected=False)
            self.flavour().protect(self._path(info), found, True)
        try:
            child = self.flavour().clone(self._path(info), found, f"/{child_pool}/{child_image}")
        except Error as exc:
            if exc.errno == errno.EEXIST:
                raise Error(errno.EEXIST, f"image {child_pool}/{child_image} already exists") from None
            raise Error(exc.errno, f"clone {child_pool}/{child_image} of {pool}/{image}@{snap}: "
                                   f"{mds_cause(exc)}") from None
        now = time.time()
        state = {"size": record.get("size", found["length"]), "features": features, "order": order,
                 "stripe_unit": 0, "stripe_count": 0, "create_timestamp": now, "modify_timestamp": now,
                 "access_timestamp": now}
        self.state.create_image(child["id"], state)
        return self.stat_image(child_pool, child_image)

    def list_children(self, pool: str, image: str, snap: str | None = None) -> list[tuple[str, str]]:
        info, _ = self._image(pool, image)
        found = self._snapshot(pool, image, info, snap)[0] if snap is not None else None
        return sorted((p, self._rbd_name(p, name)) for p, name in self._children(info, found))

    def parent_info(self, pool: str, image: str) -> dict:
        info, _ = self._image(pool, image)
        parent = self._parent_of(info)
        if parent is None:
            raise Error(errno.ENOENT, f"image {pool}/{image} has no parent")
        return parent

    def flatten(self, pool: str, image: str, offset: int, length: int) -> dict:
        """One step: {done, total, position}. Curve flattens on its own once asked; a step waits (up to a
        second) for its progress to pass ``offset``."""
        info, state = self._image(pool, image)
        total = state["size"]
        parent = self._parent_of(info)
        if parent is None and info.get("fileType") != FileType.INODE_CLONE_PAGEFILE:
            if offset == 0:
                raise Error(errno.EINVAL, f"image {pool}/{image} has no parent: nothing to flatten")
            return {"done": True, "total": total, "position": total}
        deadline = time.monotonic() + FLATTEN_WAIT_S
        while True:
            percent = self.flavour().flatten(self._path(info), info)
            if percent >= 100:
                self._reap_parent(parent)    # its snapshot may wait in the trash for this clone
                return {"done": True, "total": total, "position": total}
            # a step that has started is past offset 0 (offset 0 asks to start), but short of the end
            position = min(max(1, total * percent // 100), max(total - 1, 1))
            if position > offset or time.monotonic() > deadline:
                return {"done": False, "total": total, "position": position}
            time.sleep(0.02)
            info = {**self.mds.stat(self._path(info)), "pool": pool}

    # --- reading at a snapshot ------------------------------------------------------------------
    def open_view(self, pool: str, image: str, snap: str) -> dict:
        """A read-only clone of ``image@snap`` to read the snapshot through: {path, size, source, key};
        give it back with close_view."""
        info, _ = self._image(pool, image)
        self._sweep_views(pool)          # first: a swept view may drop Curve's protection of this snapshot
        found, record = self._snapshot(pool, image, info, snap)
        flavour = self.flavour()
        path = f"/{pool}/{VIEW_PREFIX}{info['id']:x}-{os.urandom(6).hex()}"
        held = flavour.protects and not self._protected(found, record)
        if held and "protected" not in record:
            self._keep(info, snap, found, record, protected=False)   # RBD's word stays "unprotected"
        for attempt in range(3):
            try:
                if held:   # Curve clones only a protected snapshot (kOK if it already is)
                    flavour.protect(self._path(info), found, True)
                flavour.clone(self._path(info), found, path, readonly=True)
                break
            except MdsError as exc:   # another reader's close dropped the protection in between: again
                if exc.status != StatusCode.kSnapshotFileNotProtected or attempt == 2:
                    raise Error(exc.errno, f"snapshot {pool}/{image}@{snap}: cannot open it for reading: "
                                           f"{mds_cause(exc)}") from None
            except Error as exc:
                raise Error(exc.errno, f"snapshot {pool}/{image}@{snap}: cannot open it for reading: "
                                       f"{mds_cause(exc)}") from None
        return {"path": path, "size": record.get("size", found["length"]), "source": self._path(info),
                "snap": found}

    def close_view(self, view: dict) -> None:
        """Remove a view; on release1.5, drop Curve's protection if RBD's is off and no view holds it."""
        self._remove_view(view["path"])
        self._unhold(view["source"], view["snap"])

    def _remove_view(self, path: str, file_id: int | None = None) -> bool:
        try:
            self.mds.delete(path, file_id)
            return True
        except Error as exc:
            if exc.errno not in (errno.ENOENT, errno.EBUSY):
                log.warning("snapshot view %s: not removed: %s", path, exc)
            return False

    def _unhold(self, source: str, snap: dict) -> None:
        """A view of ``source``'s snapshot went: drop Curve's protection RBD does not want (release1.5),
        and delete the snapshot if RBD removed it meanwhile and nothing else reads it."""
        try:
            parent = self.mds.stat(source)
            records = [r for r in self.state.snaps(parent["id"]).values() if r.get("curve") == snap["key"]]
            if any(r.get("pending") for r in records):
                self._reap_path(source)
                return
            if not self.flavour().protects or any(r.get("protected") for r in records):
                return
            self._release(source, snap)
        except Error as exc:
            log.warning("snapshot %s@%s: Curve's protection for readers not dropped: %s", source, snap["key"], exc)

    def _sweep_views(self, pool: str) -> None:
        """Remove the views crashed readers left in ``pool``: older than a reader needs to open one, and
        not open (Curve refuses to delete an open file)."""
        now_us = time.time() * 1e6
        for entry in self.mds.listdir(f"/{pool}"):
            name = entry.get("fileName", "")
            if is_view(name) and now_us - entry.get("ctime", now_us) > VIEW_STALE_S * 1e6:
                path = f"/{pool}/{name}"
                if self._remove_view(path, entry.get("id")):
                    log.info("snapshot view %s: a reader's that crashed, removed", path)
                    source = self.flavour().parent(path, entry)
                    if source is not None:
                        self._unhold(source[0], {"key": source[1]})

    # --- data: the embedded daemon's (Curve has no such RPC) ------------------------------------
    def _embedded(self, what: str, call, *args):
        """``call(*args)`` on the embedded daemon's snapshot service; EOPNOTSUPP naming ``what`` on a Curve
        cluster (whose nebd-server has no such service)."""
        try:
            if self._snapshots is None:
                raise Error(errno.EOPNOTSUPP, what)
            return call(*args)
        except Error as exc:
            if exc.errno != errno.EOPNOTSUPP:
                raise
            raise Error(errno.EOPNOTSUPP, f"{what}: no Curve release has it (neither release1.5's MDS nor "
                                          "mainline's snapshotcloneserver); only the embedded daemon "
                                          "(curverbd-server) offers it") from None

    def _key(self, pool: str, image: str, info: dict, snap: str | None) -> tuple[str | None, int | None]:
        """(Curve's key of ``snap``, its logical size), or (None, None) for the image's head."""
        if snap is None:
            return None, None
        found, record = self._snapshot(pool, image, info, snap)
        return found["key"], record.get("size", found["length"])

    def allocated(self, pool: str, image: str, snap: str | None = None) -> int:
        info, _ = self._image(pool, image)
        key = self._key(pool, image, info, snap)[0]
        return self._embedded(f"allocation of {pool}/{image}" + (f"@{snap}" if snap else ""),
                              lambda: self._snapshots.allocated(pool, info["fileName"], key))

    def copy_target(self, pool: str, image: str, dest_pool: str, dest_image: str,
                    snap: str | None = None) -> dict:
        """A new image to copy ``pool/image`` (at ``snap``) into: its size, features, order and metadata.
        The data moves through the client (Curve has no server-side copy), like librbd's copy."""
        info, state = self._image(pool, image)
        size = self._key(pool, image, info, snap)[1] if snap is not None else state["size"]
        made = self.create_image(dest_pool, dest_image, size, state["features"], state["order"])
        self.state.copy_meta(info["id"], made["file_id"])
        return self.stat_image(dest_pool, dest_image)

    def diff_extents(self, pool: str, image: str, offset: int, length: int, from_snap: str | None = None,
                     snap: str | None = None, include_parent: bool = True,
                     whole_object: bool = False) -> list[tuple[int, int, bool]]:
        info, state = self._image(pool, image)
        key, snap_size = self._key(pool, image, info, snap)
        from_key = self._key(pool, image, info, from_snap)[0]
        size = snap_size if snap is not None else state["size"]
        return self._embedded(f"diff of {pool}/{image}", lambda: self._snapshots.diff_extents(
            pool, info["fileName"], offset, length, size, state["order"], from_key, key, include_parent,
            whole_object))


def snapshot_identity(snap: dict) -> str:
    """What names one Curve snapshot for good: its key with its seq (release1.5 may give a later snapshot
    the same name once the first is deleted)."""
    return f"{snap['key']}#{snap['seq']}"


def _held(exc: Error) -> bool:
    """Whether Curve refused to delete a snapshot because something still reads through it (a clone or a
    reader's view): release1.5's kSnapshotFileProtected / kFileOccupied, snapshotcloneserver's in-use."""
    if isinstance(exc, MdsError):
        return exc.status in (StatusCode.kSnapshotFileProtected, StatusCode.kFileOccupied)
    return exc.errno == errno.EBUSY
