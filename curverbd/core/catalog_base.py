"""The cluster's catalog as RBD sees it: Curve's namespace (MDS) plus the RBD state Curve cannot hold (etcd).

One place maps each RBD lifecycle call onto Curve:

    pool                 directory /<pool>            CreateFile(dir) / DeleteFile / GetFileInfo
    image                page file /<pool>/<image>    CreateFile(>= 10 GiB, whole GiB) / ListDir / GetFileInfo
    resize               ExtendFile when it grows past the volume, the logical size in etcd
    rename               RenameFile
    rm                   DeleteFile (Curve moves it into /RecycleBin), the RBD record dropped
    trash mv / restore   DeleteFile / RecoverFile, with the trash entry kept in etcd
    du                   GetAllocatedSize
    metadata, features, exact sizes, timestamps, rados objects    etcd (curve/rbd_state.py)

Where Curve refuses what RBD allows, the nearest faithful behaviour: Curve renames
and moves no volume that has snapshots, so such an image renamed through RBD
keeps its volume under an alias (its RBD name in etcd), and `rbd trash mv` of it
hides it in place. Snapshots and clones are on Curve's snapshot services
(catalog_snapshots.py has their map).

An image's id is its Curve file id in hex: it survives renames and the trip
through /RecycleBin, so the RBD record keyed by it never has to move.

This module holds the lookups, pools, images and metadata; the trash, rados
objects and snapshots are in catalog_trash.py, catalog_objects.py and
catalog_snapshots.py, and catalog.py puts them together.
"""
from __future__ import annotations

import errno
import time
from typing import TYPE_CHECKING, Any, Callable, Optional

from .. import features as feature_bits
from ..catalog.client import CatalogClient
from ..curve.mds import MdsClient
from ..curve.nameserver2 import FileType, StatusCode
from ..curve.rbd_state import RbdState
from ..curve.status import MdsError
from ..errors import Error

if TYPE_CHECKING:
    from ..curve.snapshotclone import SnapshotCloneClient

GiB = 1 << 30
MIN_VOLUME = 10 * GiB           # mds.curvefs.minFileLength
SEGMENT = GiB                   # mds.curvefs.defaultSegmentSize: the growth unit
MAX_VOLUME = 20 << 40           # mds.curvefs.maxFileLength
DEFAULT_FEATURES = feature_bits.LAYERING
DEFAULT_ORDER = 22
MAX_IMAGE_NAME_BYTES = 95       # RBD_MAX_IMAGE_NAME_SIZE minus the NUL
Progress = Optional[Callable[[int, int], Any]]   # librbd's progress(done, total); non-zero cancels
RECYCLE_BIN = "RecycleBin"
VIEW_PREFIX = ".rbd-snapview-"  # readers' views of snapshots (catalog_snapshots.py), hidden from RBD
VOLUME_TYPES = (FileType.INODE_PAGEFILE, FileType.INODE_CLONE_PAGEFILE)
# what librbd lets update_features change on an existing image
MUTABLE_FEATURES = (feature_bits.EXCLUSIVE_LOCK | feature_bits.OBJECT_MAP | feature_bits.FAST_DIFF
                    | feature_bits.DEEP_FLATTEN | feature_bits.JOURNALING)


def backend_size(size: int) -> int:
    """The Curve volume length that holds ``size`` logical bytes: whole segments, at least the minimum."""
    return max(MIN_VOLUME, -(-size // SEGMENT) * SEGMENT)


def is_view(name: str) -> bool:
    """Whether a volume is a reader's view of a snapshot (not an RBD image)."""
    return name.startswith(VIEW_PREFIX)


def image_id(file_id: int) -> str:
    return f"{file_id:x}"


def file_id_of(image_id_text: str) -> int:
    try:
        return int(image_id_text, 16)
    except (TypeError, ValueError):
        raise Error(errno.ENOENT, f"image id {image_id_text!r}: not an id this cluster gives") from None


def check_pool_name(pool: str) -> None:
    if not isinstance(pool, str) or not pool or "/" in pool or "\0" in pool or pool in (".", ".."):
        raise Error(errno.EINVAL, f"pool name {pool!r}: must be non-empty, without '/' or NUL")
    if pool == RECYCLE_BIN:
        raise Error(errno.EPERM, f"pool {pool!r}: the name is Curve's recycle bin")


def check_image_name(pool: str, image: str) -> None:
    if not isinstance(image, str) or not image or "/" in image or "\0" in image or image in (".", ".."):
        raise Error(errno.EINVAL, f"image name {image!r}: must be non-empty, without '/' or NUL")
    if len(image.encode()) > MAX_IMAGE_NAME_BYTES:
        raise Error(errno.ENAMETOOLONG, f"image {pool}/{image[:40]}...: name longer than "
                                        f"{MAX_IMAGE_NAME_BYTES} bytes")


def check_size(pool: str, image: str, size: Any) -> int:
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise Error(errno.EINVAL, f"image {pool}/{image}: size {size!r} must be an integer >= 0")
    if backend_size(size) > MAX_VOLUME:
        raise Error(errno.EINVAL, f"image {pool}/{image}: size {size} exceeds the largest Curve volume "
                                  f"({MAX_VOLUME} bytes)")
    return size


class CatalogBase:
    """Lookups, pools, images and metadata of one owner, on Curve's MDS and the RBD state home."""

    def __init__(self, mds: MdsClient, state: RbdState, snapshots: CatalogClient | None,
                 snapshotclone: Callable[[], SnapshotCloneClient]) -> None:
        self.mds = mds
        self.state = state
        self._snapshots = snapshots           # the embedded daemon's snapshot service (diff, copy, du)
        self._snapshotclone = snapshotclone   # mainline's snapshotcloneserver, made when first needed
        self._flavour = None                  # the cluster's snapshot flavour (catalog_snapshots.py)
        self.owner = mds.owner

    def close(self) -> None:
        self.mds.close()
        self.state.etcd.close()

    # --- lookups --------------------------------------------------------------------------------
    def _pool_info(self, pool: str) -> dict:
        """The pool's directory FileInfo; ENOENT if it is missing or not a directory."""
        check_pool_name(pool)
        try:
            info = self.mds.stat(f"/{pool}")
        except Error as exc:
            if exc.errno == errno.ENOENT:
                raise Error(errno.ENOENT, f"pool {pool!r} does not exist") from None
            if exc.errno == errno.EPERM:
                raise Error(errno.EPERM, f"pool {pool!r}: refused to {self.owner!r}{_REFUSED}") from None
            raise
        if info.get("fileType") != FileType.INODE_DIRECTORY:
            raise Error(errno.ENOENT, f"pool {pool!r} does not exist (/{pool} is a volume, not a directory)")
        return info

    def _lookup(self, pool: str, image: str, curve_name: str) -> dict | None:
        """FileInfo of the volume ``/<pool>/<curve_name>``, or None if there is none."""
        try:
            info = self.mds.stat(f"/{pool}/{curve_name}")
        except Error as exc:
            if exc.errno == errno.ENOENT:
                return None
            if exc.errno == errno.EPERM:
                raise Error(errno.EPERM, f"image {pool}/{image}: refused to {self.owner!r}{_REFUSED}") from None
            raise
        return info if info.get("fileType") in VOLUME_TYPES else None

    def _file(self, pool: str, image: str) -> dict:
        """The image's volume FileInfo, with ``rbd_name`` (the image's name), ``state`` (its RBD
        record, None for a volume without one), ``meta`` and the ``revision`` they were read at;
        ENOENT / EPERM naming the image.

        The RBD name is the Curve name, except for an image renamed while it had snapshots (Curve
        renames no such volume): its new name is an alias in the RBD state home."""
        check_pool_name(pool)
        check_image_name(pool, image)
        info = self._lookup(pool, image, image)
        found = self._found(info, image) if info is not None else None
        if found is None:
            alias = self.state.alias_get(self._pool_info(pool)["id"], image)
            info = self._lookup(pool, image, alias["curve_name"]) if alias is not None else None
            if info is not None and info["id"] == alias["file_id"]:
                found = self._found(info, image)
        if found is not None:
            return found
        self._pool_info(pool)   # say "no such pool" when that is the cause
        raise Error(errno.ENOENT, f"image {pool}/{image} does not exist")

    def _found(self, info: dict, image: str) -> dict | None:
        """``info`` with the image's RBD state and metadata, or None if its record hides it from
        being image ``image`` (trashed in place, or renamed)."""
        state, revision, meta = self.state.image_and_meta(info["id"])
        if _hidden(state, image):
            return None
        return {**info, "rbd_name": image, "state": state, "meta": meta, "revision": revision}

    def _rbd_name(self, pool: str, curve_name: str) -> str:
        """The RBD name of the volume ``/<pool>/<curve_name>`` (the snapshot service speaks Curve's)."""
        info = self._lookup(pool, curve_name, curve_name)
        state = self.state.image(info["id"])[0] if info is not None else None
        return (state or {}).get("rbd_name", curve_name)

    def _default_state(self, info: dict) -> dict:
        """What an image made by Curve's own tools (no RBD record) is: its Curve length, defaults."""
        created = info.get("ctime", 0) / 1e6
        return {"size": info.get("length", 0), "features": DEFAULT_FEATURES, "order": DEFAULT_ORDER,
                "stripe_unit": 0, "stripe_count": 0, "create_timestamp": created,
                "modify_timestamp": created, "access_timestamp": created}

    def _full_state(self, info: dict, state: dict | None = None) -> dict:
        """The image's RBD state (``state``, else the one read with ``info``) over the defaults of a volume
        without one."""
        return {**self._default_state(info), **(state or info.get("state") or {})}

    def _record(self, pool: str, info: dict, state: dict | None = None, links: dict | None = None) -> dict:
        """The ImageRecord every face reads: the image's RBD state over its Curve FileInfo."""
        state = self._full_state(info, state)
        links = links if links is not None else self._links(pool, info["fileName"], info)
        parent = links.get("parent")
        op_features = ((feature_bits.OP_CLONE_CHILD if parent else 0)
                       | (feature_bits.OP_CLONE_PARENT if links.get("children") else 0))
        return {"id": image_id(info["id"]), "file_id": info["id"], "pool": pool,
                "name": info.get("rbd_name", info["fileName"]), "curve_name": info["fileName"],
                "owner": info.get("owner", self.owner), "size": state["size"],
                "backend_size": info.get("length", 0), "features": state["features"], "order": state["order"],
                "stripe_unit": state["stripe_unit"], "stripe_count": state["stripe_count"],
                "created": int(state["create_timestamp"]), "create_timestamp": state["create_timestamp"],
                "modify_timestamp": state["modify_timestamp"], "access_timestamp": state["access_timestamp"],
                "meta": info["meta"] if "meta" in info else self.state.meta_list(info["id"]),
                "snapshot_count": links.get("snapshot_count", 0), "parent": parent, "op_features": op_features,
                "revision": info.get("revision", 0)}

    def _links(self, pool: str, image: str, info: dict | None = None) -> dict:
        """{snapshot_count, parent, children} of a volume (catalog_snapshots.py)."""
        raise NotImplementedError

    def _reap(self, info: dict) -> None:
        """Delete the snapshots RBD removed that nothing holds any more (catalog_snapshots.py)."""
        raise NotImplementedError

    def _reap_parent(self, parent: dict | None) -> None:
        """A clone of ``parent`` went: _reap it (catalog_snapshots.py)."""
        raise NotImplementedError

    def _pinned(self, path: str, info: dict) -> bool:
        """Whether a Curve snapshot service knows the volume by its path, so RBD must not move it
        (catalog_snapshots.py)."""
        raise NotImplementedError

    def watch_image(self, record: dict, on_change):
        """Call ``on_change(state or None)`` whenever the image's RBD record changes, from any host;
        a watch to cancel() at close; it starts after the revision ``record`` was read at, so no
        change in between is missed."""
        return self.state.watch_image(record["file_id"], record["revision"], on_change)

    def _update(self, info: dict, **changes: Any) -> dict:
        """Change fields of the image's RBD record (compare-and-swap); the new state."""
        now = time.time()

        def change(state: dict) -> dict:
            state.update(changes, modify_timestamp=now)
            return state
        return self.state.update_image(info["id"], change, self._default_state(info))

    # --- pools ----------------------------------------------------------------------------------
    def create_pool(self, pool: str) -> None:
        check_pool_name(pool)
        try:
            self.mds.mkdir(f"/{pool}")
        except Error as exc:
            if exc.errno == errno.EEXIST:
                raise Error(errno.EEXIST, f"pool {pool!r} already exists") from None
            raise
        self.state.pool_add(pool, self.owner)

    def remove_pool(self, pool: str) -> None:
        info = self._pool_info(pool)
        if self.state.object_count(info["id"])[0]:
            raise Error(errno.ENOTEMPTY, f"pool {pool!r} still has objects")
        try:
            self.mds.delete(f"/{pool}")
        except Error as exc:
            if exc.errno == errno.ENOTEMPTY:
                raise Error(errno.ENOTEMPTY, f"pool {pool!r} still has images") from None
            raise
        self.state.forget_pool(pool, info["id"])

    def list_pools(self) -> list[str]:
        """The pools of this owner. Curve lets only root list "/", so the pools RBD made are
        recorded in the RBD state home; a record whose directory is gone (a crash between the
        two steps of a removal) is skipped."""
        names = [p for p, owner in self.state.pools().items() if owner == self.owner]
        return sorted(p for p in names if self.pool_exists(p))

    def pool_exists(self, pool: str) -> bool:
        try:
            self._pool_info(pool)
        except Error as exc:
            if exc.errno == errno.ENOENT:
                return False
            raise
        return True

    def check_pool(self, pool: str) -> None:
        """ENOENT (EPERM) unless ``pool`` exists (and is this owner's)."""
        self._pool_info(pool)

    def stat_pool(self, pool: str) -> dict:
        info = self._pool_info(pool)
        volumes = self._volumes(pool)
        objects, object_bytes = self.state.object_count(info["id"])
        used = self.mds.allocated_size(f"/{pool}") + object_bytes
        return {"pool": pool, "owner": info.get("owner", self.owner), "images": len(volumes), "objects": objects,
                "object_bytes": object_bytes, "bytes_used": used,
                "bytes_provisioned": sum(f.get("length", 0) for f in volumes)}

    def cluster_stat(self, capacity: int | None = None) -> dict:
        """{fsid, bytes_total, bytes_used, bytes_avail, pools, objects}. The embedded daemon reports its
        disk; on a Curve cluster the bytes used are GetAllocatedSize of "/" and the total is
        ``capacity`` (conf ``curve_cluster_capacity``): Curve's MDS tells its capacity to its admin
        tools only."""
        common = {"fsid": self.state.fsid(), "objects": self.state.object_total()}
        try:
            if self._snapshots is not None:
                return {**self._snapshots.cluster_stat(), **common}
        except Error as exc:
            if exc.errno != errno.EOPNOTSUPP:
                raise
        if not capacity:
            raise Error(errno.EOPNOTSUPP, "cluster capacity: Curve's MDS reports it to its admin tools only; "
                                          "set curve_cluster_capacity (e.g. 100T) in ceph.conf")
        used = self.mds.allocated_size("/")
        return {"bytes_total": capacity, "bytes_used": used, "bytes_avail": max(0, capacity - used),
                "pools": len(self.state.pools()), **common}

    def fsid(self) -> str:
        """The cluster's fsid (from the RBD state home, so the same on every host and any Curve)."""
        return self.state.fsid()

    # --- images ---------------------------------------------------------------------------------
    def create_image(self, pool: str, image: str, size: int, features: int | None = None,
                     order: int | None = None, stripe_unit: int = 0, stripe_count: int = 0) -> dict:
        check_pool_name(pool)
        check_image_name(pool, image)
        size = check_size(pool, image, size)
        features = DEFAULT_FEATURES if features is None else features
        order = DEFAULT_ORDER if order is None else order
        if not isinstance(order, int) or not 12 <= order <= 25:
            raise Error(errno.EDOM if isinstance(order, int) and order > 25 else errno.EINVAL,
                        f"image {pool}/{image}: order {order!r} must be between 12 and 25")
        if not isinstance(features, int) or features < 0:
            raise Error(errno.EINVAL, f"image {pool}/{image}: features {features!r}")
        self._pool_info(pool)
        try:
            self.mds.create(f"/{pool}/{image}", backend_size(size))
        except Error as exc:
            if exc.errno == errno.EEXIST:
                raise Error(errno.EEXIST, f"image {pool}/{image} already exists") from None
            raise
        info = self.mds.stat(f"/{pool}/{image}")
        now = time.time()
        state = {"size": size, "features": features, "order": order, "stripe_unit": stripe_unit,
                 "stripe_count": stripe_count, "create_timestamp": now, "modify_timestamp": now,
                 "access_timestamp": now}
        self.state.create_image(info["id"], state)
        return self._record(pool, {**info, "meta": {}}, state, {})

    def remove_image(self, pool: str, image: str, progress: Progress = None) -> None:
        """DeleteFile (into /RecycleBin). ENOTEMPTY while it has snapshots (clones or not, as librbd);
        EBUSY while snapshots it removed are still kept for clones or readers. ``progress(done, total)``
        (in objects, as librbd's) is asked before anything changes, where a non-zero return cancels
        (ECANCELED, the image kept), and told once the image is gone: Curve deletes in one step."""
        info = self._file(pool, image)
        links = self._links(pool, info["fileName"], info)
        if links.get("snapshot_count"):
            raise Error(errno.ENOTEMPTY, f"image {pool}/{image} has snapshots")
        if links.get("pending_snapshots"):
            self._reap({**info, "pool": pool})
            if self._links(pool, info["fileName"]).get("pending_snapshots"):
                raise Error(errno.EBUSY, f"image {pool}/{image} has removed snapshots that clones or "
                                         "readers still use (trash namespace)")
        total = _objects(self._full_state(info))
        if progress is not None and progress(0, total):
            raise Error(errno.ECANCELED, f"image {pool}/{image}: removal cancelled by its progress callback "
                                         "(the image is kept)")
        try:
            self.mds.delete(f"/{pool}/{info['fileName']}", info["id"])
        except Error as exc:
            raise Error(exc.errno, f"image {pool}/{image}: {mds_cause(exc)}") from None
        self._forget(info)
        self._reap_parent(links.get("parent"))   # its snapshot may wait in the trash for this clone
        if progress is not None:
            progress(total, total)

    def _forget(self, info: dict) -> None:
        """Drop a removed image's RBD record, metadata and alias (its pool is its Curve parent)."""
        self.state.remove_image(info["id"])
        if info["rbd_name"] != info["fileName"]:
            self.state.alias_remove(info["parentId"], info["rbd_name"])

    def list_images(self, pool: str) -> list[str]:
        pool_id = self._pool_info(pool)["id"]
        trashed = self.state.trash_list(pool_id)
        renamed = {a["file_id"]: name for name, a in self.state.aliases(pool_id).items()}
        return sorted(renamed.get(f["id"], f["fileName"]) for f in self._volumes(pool) if f["id"] not in trashed)

    def _volumes(self, pool: str) -> list[dict]:
        """FileInfo of the pool's volumes (readers' snapshot views are not images)."""
        return [f for f in self.mds.listdir(f"/{pool}")
                if f.get("fileType") in VOLUME_TYPES and not is_view(f.get("fileName", ""))]

    def stat_image(self, pool: str, image: str) -> dict:
        return self._record(pool, self._file(pool, image))

    def resize_image(self, pool: str, image: str, size: int) -> dict:
        """Logical resize; the Curve volume grows by whole segments when needed and never shrinks."""
        info = self._file(pool, image)
        size = check_size(pool, image, size)
        if backend_size(size) > info.get("length", 0):
            path = f"/{pool}/{info['fileName']}"
            if info.get("fileType") == FileType.INODE_CLONE_PAGEFILE:   # ExtendFile: kNotSupported
                raise Error(errno.EOPNOTSUPP, f"image {pool}/{image}: growing a clone past its Curve volume "
                                              f"({info.get('length', 0)} bytes) needs a flatten first: Curve "
                                              "release1.5 extends no clone volume")
            self.mds.extend(path, backend_size(size))
            info = {**info, **self.mds.stat(path)}
        return self._record(pool, info, self._update(info, size=size))

    def rename_image(self, pool: str, image: str, new_name: str) -> None:
        """RenameFile; an image Curve cannot rename (it has snapshots, or is a release1.5 clone) gets its
        new name as an alias."""
        info = self._file(pool, image)
        check_image_name(pool, new_name)
        try:
            self._file(pool, new_name)
        except Error as exc:
            if exc.errno != errno.ENOENT:
                raise
        else:  # Curve would replace it (RenameFile over a volume); RBD refuses
            raise Error(errno.EEXIST, f"image {pool}/{new_name} already exists")
        curve = info["fileName"]
        if curve == image and not self._pinned(f"/{pool}/{curve}", info):
            try:
                self.mds.rename(f"/{pool}/{image}", f"/{pool}/{new_name}")
                return
            except MdsError as exc:
                # Curve renames no volume with snapshots, and release1.5 no clone volume: an alias
                if exc.status not in (StatusCode.kFileUnderSnapShot, StatusCode.kNotSupported):
                    raise Error(exc.errno, f"image {pool}/{image}: rename to {new_name!r}: {mds_cause(exc)}") \
                        from None
            if self._lookup(pool, new_name, new_name) is not None:   # a volume hidden by trash or alias
                raise Error(errno.EEXIST, f"image {pool}/{new_name}: Curve has a volume of that name")
        pool_id = self._pool_info(pool)["id"]
        if new_name != curve:
            self.state.alias_set(pool_id, new_name, info["id"], curve)
        self._update(info, rbd_name=new_name)
        if image != curve:
            self.state.alias_remove(pool_id, image)

    def update_features(self, pool: str, image: str, features: int, enabled: bool) -> dict:
        info = self._file(pool, image)
        if not isinstance(features, int) or features & ~MUTABLE_FEATURES:
            raise Error(errno.EINVAL, f"image {pool}/{image}: features {features!r} cannot be changed "
                                      f"(only {MUTABLE_FEATURES:#x})")
        state = self._full_state(info)
        new = state["features"] | features if enabled else state["features"] & ~features
        return self._record(pool, info, self._update(info, features=new))

    # --- image metadata (read with the image's record: _file has it) ----------------------------
    def set_meta(self, pool: str, image: str, key: str, value: str) -> None:
        info = self._file(pool, image)
        if not isinstance(key, str) or not key:
            raise Error(errno.EINVAL, f"image {pool}/{image}: empty metadata key")
        if not isinstance(value, str):
            raise Error(errno.EINVAL, f"image {pool}/{image}: metadata value {value!r} must be a string")
        self.state.meta_set(info["id"], key, value)

    def get_meta(self, pool: str, image: str, key: str) -> str:
        value = self._file(pool, image)["meta"].get(key)
        if value is None:
            raise Error(errno.ENOENT, f"image {pool}/{image}: no metadata key {key!r}")
        return value

    def remove_meta(self, pool: str, image: str, key: str) -> None:
        if not self.state.meta_remove(self._file(pool, image)["id"], key):
            raise Error(errno.ENOENT, f"image {pool}/{image}: no metadata key {key!r}")

    def list_meta(self, pool: str, image: str) -> dict[str, str]:
        return dict(self._file(pool, image)["meta"])


# what Curve's kOwnerAuthFail can mean (it does not say which)
_REFUSED = (" by Curve's MDS (kOwnerAuthFail: another owner's, or for root a wrong key, or this clock "
            "outside the MDS's 15 s window)")


def _objects(state: dict) -> int:
    """How many objects librbd would remove for an image of this state (its progress unit); at least 1."""
    return max(1, -(-state["size"] // (1 << state["order"])))


def _hidden(state: dict | None, name: str) -> bool:
    """Whether a volume's RBD record hides it from being image ``name``: trashed in place, or
    renamed to another RBD name."""
    return bool(state) and (bool(state.get("in_trash")) or state.get("rbd_name", name) != name)


def mds_cause(exc: Error) -> str:
    """The MDS's words without the path it already prefixed."""
    return exc.strerror.split(": ", 1)[-1] if exc.strerror else str(exc)
