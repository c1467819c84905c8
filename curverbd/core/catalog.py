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
hides it in place. Snapshots, clones and diffs still go to the embedded daemon's
snapshot service (curverbd.CatalogService) until they move onto Curve's own
snapshot services.

An image's id is its Curve file id in hex: it survives renames and the trip
through /RecycleBin, so the RBD record keyed by it never has to move.
"""
from __future__ import annotations

import errno
import time
from typing import Any

from .. import features as feature_bits
from ..catalog.client import CatalogClient
from ..curve.mds import MdsClient
from ..curve.nameserver2 import FileType, StatusCode
from ..curve.rbd_state import RbdState
from ..curve.status import MdsError
from ..errors import Error

GiB = 1 << 30
MIN_VOLUME = 10 * GiB           # mds.curvefs.minFileLength
SEGMENT = GiB                   # mds.curvefs.defaultSegmentSize: the growth unit
MAX_VOLUME = 20 << 40           # mds.curvefs.maxFileLength
DEFAULT_FEATURES = feature_bits.LAYERING
DEFAULT_ORDER = 22
MAX_IMAGE_NAME_BYTES = 95       # RBD_MAX_IMAGE_NAME_SIZE minus the NUL
RECYCLE_BIN = "RecycleBin"
VOLUME_TYPES = (FileType.INODE_PAGEFILE, FileType.INODE_CLONE_PAGEFILE)
SOURCE_USER = "USER"            # RBD_TRASH_IMAGE_SOURCE_USER
TRASH_FIELDS = ("name", "source", "deletion_time", "deferment_end_time")
# what librbd lets update_features change on an existing image
MUTABLE_FEATURES = (feature_bits.EXCLUSIVE_LOCK | feature_bits.OBJECT_MAP | feature_bits.FAST_DIFF
                    | feature_bits.DEEP_FLATTEN | feature_bits.JOURNALING)


def backend_size(size: int) -> int:
    """The Curve volume length that holds ``size`` logical bytes: whole segments, at least the minimum."""
    return max(MIN_VOLUME, -(-size // SEGMENT) * SEGMENT)


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


class Catalog:
    """Pools, images, metadata, trash and objects of one owner, on Curve's MDS and the RBD state home."""

    def __init__(self, mds: MdsClient, state: RbdState, snapshots: CatalogClient | None) -> None:
        self.mds = mds
        self.state = state
        self._snapshots = snapshots
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

    def _record(self, pool: str, info: dict, state: dict | None = None, links: dict | None = None) -> dict:
        """The ImageRecord every face reads: the image's RBD state over its Curve FileInfo."""
        state = {**self._default_state(info), **(state or info.get("state") or {})}
        links = links if links is not None else self._links(pool, info["fileName"])
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

    def _links(self, pool: str, image: str) -> dict:
        """Snapshot count, parent and whether it has children (the snapshot service's view)."""
        if self._snapshots is None:
            return {}
        try:
            return self._snapshots.image_links(pool, image)
        except Error as exc:
            if exc.errno in (errno.ENOENT, errno.EOPNOTSUPP):
                return {}
            raise

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
        self.state.forget_pool(info["id"])
        self.state.pool_remove(pool)

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
        volumes = [f for f in self.mds.listdir(f"/{pool}") if f.get("fileType") in VOLUME_TYPES]
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

    def remove_image(self, pool: str, image: str) -> None:
        info = self._file(pool, image)
        if self._links(pool, info["fileName"]).get("snapshot_count"):
            raise Error(errno.ENOTEMPTY, f"image {pool}/{image} has snapshots")
        try:
            self.mds.delete(f"/{pool}/{info['fileName']}", info["id"])
        except Error as exc:
            raise Error(exc.errno, f"image {pool}/{image}: {_cause(exc)}") from None
        self._forget(pool, info)

    def _forget(self, pool: str, info: dict) -> None:
        """Drop a removed image's RBD record, metadata and alias."""
        self.state.remove_image(info["id"])
        if info["rbd_name"] != info["fileName"]:
            self.state.alias_remove(self._pool_info(pool)["id"], info["rbd_name"])

    def list_images(self, pool: str) -> list[str]:
        pool_id = self._pool_info(pool)["id"]
        trashed = self.state.trash_list(pool_id)
        renamed = {a["file_id"]: name for name, a in self.state.aliases(pool_id).items()}
        return sorted(renamed.get(f["id"], f["fileName"]) for f in self.mds.listdir(f"/{pool}")
                      if f.get("fileType") in VOLUME_TYPES and f.get("id") not in trashed)

    def stat_image(self, pool: str, image: str) -> dict:
        return self._record(pool, self._file(pool, image))

    def resize_image(self, pool: str, image: str, size: int) -> dict:
        """Logical resize; the Curve volume grows by whole segments when needed and never shrinks."""
        info = self._file(pool, image)
        size = check_size(pool, image, size)
        if backend_size(size) > info.get("length", 0):
            path = f"/{pool}/{info['fileName']}"
            self.mds.extend(path, backend_size(size))
            info = {**info, **self.mds.stat(path)}
        return self._record(pool, info, self._update(info, size=size))

    def rename_image(self, pool: str, image: str, new_name: str) -> None:
        """RenameFile; an image with snapshots (which Curve renames not) gets its new name as an alias."""
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
        if curve == image:
            try:
                self.mds.rename(f"/{pool}/{image}", f"/{pool}/{new_name}")
                return
            except MdsError as exc:
                if exc.status != StatusCode.kFileUnderSnapShot:
                    raise Error(exc.errno, f"image {pool}/{image}: rename to {new_name!r}: {_cause(exc)}") \
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
        state = info["state"] or self._default_state(info)
        new = state["features"] | features if enabled else state["features"] & ~features
        return self._record(pool, info, self._update(info, features=new))

    # --- image metadata -------------------------------------------------------------------------
    def set_meta(self, pool: str, image: str, key: str, value: str) -> None:
        info = self._file(pool, image)
        if not isinstance(key, str) or not key:
            raise Error(errno.EINVAL, f"image {pool}/{image}: empty metadata key")
        if not isinstance(value, str):
            raise Error(errno.EINVAL, f"image {pool}/{image}: metadata value {value!r} must be a string")
        self.state.meta_set(info["id"], key, value)

    def get_meta(self, pool: str, image: str, key: str) -> str:
        value = self.state.meta_get(self._file(pool, image)["id"], key)
        if value is None:
            raise Error(errno.ENOENT, f"image {pool}/{image}: no metadata key {key!r}")
        return value

    def remove_meta(self, pool: str, image: str, key: str) -> None:
        if not self.state.meta_remove(self._file(pool, image)["id"], key):
            raise Error(errno.ENOENT, f"image {pool}/{image}: no metadata key {key!r}")

    def list_meta(self, pool: str, image: str) -> dict[str, str]:
        return self.state.meta_list(self._file(pool, image)["id"])

    # --- trash (Curve's /RecycleBin, with the RBD entry in etcd) ---------------------------------
    def trash_move(self, pool: str, image: str, delay: int = 0) -> str:
        """DeleteFile moves the volume into /RecycleBin; the trash entry keeps its RBD name. Curve
        moves no volume that has snapshots: such an image stays where it is, hidden by the entry."""
        info = self._file(pool, image)
        pool_id = self._pool_info(pool)["id"]
        now = int(time.time())
        entry = {"name": image, "curve_name": info["fileName"], "source": SOURCE_USER, "deletion_time": now,
                 "deferment_end_time": now + max(0, int(delay))}
        # the entry first: a crash before DeleteFile leaves an entry whose image is still in place,
        # which trash_list drops; the other order could lose an image from RBD's view
        self.state.trash_add(pool_id, info["id"], entry)
        try:
            self.mds.delete(f"/{pool}/{info['fileName']}", info["id"])
        except MdsError as exc:
            if exc.status != StatusCode.kFileUnderSnapShot:
                self.state.trash_remove(pool_id, info["id"])
                raise Error(exc.errno, f"image {pool}/{image}: move to trash: {_cause(exc)}") from None
            self._update(info, in_trash=True)
            self.state.trash_add(pool_id, info["id"], {**entry, "in_place": True})
        return image_id(info["id"])

    def trash_list(self, pool: str) -> list[dict]:
        pool_id = self._pool_info(pool)["id"]
        out = []
        for file_id, entry in sorted(self.state.trash_list(pool_id).items()):
            if not entry.get("in_place"):
                found = self._lookup(pool, entry["name"], entry["curve_name"])
                if found is not None and found["id"] == file_id:
                    # a crash between the entry and DeleteFile: the image never left
                    self.state.trash_remove(pool_id, file_id)
                    continue
            out.append({"id": image_id(file_id), **{k: entry[k] for k in TRASH_FIELDS}})
        return out

    def _trash_entry(self, pool: str, trash_id: str) -> tuple[int, int, dict]:
        pool_id = self._pool_info(pool)["id"]
        file_id = file_id_of(trash_id)
        entry = self.state.trash_get(pool_id, file_id)
        if entry is None:
            raise Error(errno.ENOENT, f"pool {pool!r} has no image with id {trash_id!r} in the trash")
        return pool_id, file_id, entry

    def trash_remove(self, pool: str, trash_id: str, force: bool = False) -> None:
        """Forget a trashed image. Curve lets only root purge /RecycleBin: for other owners the
        volume stays there until Curve's admin cleans it (curve bs clean-recycle)."""
        pool_id, file_id, entry = self._trash_entry(pool, trash_id)
        what = f"image {pool}/{entry['name']} (id {trash_id})"
        if not force and time.time() < entry["deferment_end_time"]:
            raise Error(errno.EPERM, f"{what} is deferred in the trash until {entry['deferment_end_time']}; "
                                     "use force")
        if entry.get("in_place"):   # still in its pool: it goes the way `rbd rm` goes
            links = self._links(pool, entry["curve_name"])
            if links.get("children"):
                raise Error(errno.EBUSY, f"{what} has clones (children)")
            if links.get("snapshot_count"):
                raise Error(errno.ENOTEMPTY, f"{what} has snapshots")
            try:
                self.mds.delete(f"/{pool}/{entry['curve_name']}", file_id)
            except Error as exc:
                raise Error(exc.errno, f"{what}: {_cause(exc)}") from None
        self.state.trash_remove(pool_id, file_id)
        self.state.remove_image(file_id)
        if entry["name"] != entry["curve_name"]:
            self.state.alias_remove(pool_id, entry["name"])

    def trash_restore(self, pool: str, trash_id: str, name: str | None = None) -> None:
        pool_id, file_id, entry = self._trash_entry(pool, trash_id)
        name = name or entry["name"]
        check_image_name(pool, name)
        what = f"image {pool}/{entry['name']} (id {trash_id})"
        if entry.get("in_place"):
            info = self._lookup(pool, entry["name"], entry["curve_name"])
            if info is None or info["id"] != file_id:
                raise Error(errno.ENOENT, f"{what}: its volume /{pool}/{entry['curve_name']} is gone")
            self.state.update_image(file_id, lambda state: {**state, "in_trash": False},
                                    self._default_state(info))
        else:
            try:
                self.mds.recover(f"/{pool}/{entry['curve_name']}", file_id)
            except Error as exc:
                raise Error(exc.errno, f"{what}: restore: {_cause(exc)}") from None
        self.state.trash_remove(pool_id, file_id)
        if name != entry["name"]:
            self.rename_image(pool, entry["name"], name)

    # --- small rados objects ----------------------------------------------------------------------
    def _pool_id(self, pool: str) -> int:
        return self._pool_info(pool)["id"]

    def write_object(self, pool: str, namespace: str, key: str, data: bytes, offset: int = 0,
                     truncate: bool = False, append: bool = False) -> None:
        _check_object(pool, namespace, key)
        if not isinstance(offset, int) or offset < 0:
            raise Error(errno.EINVAL, f"object {pool}/{key}: offset {offset!r}")

        def change(old: bytes | None) -> bytes:
            old = old or b""
            at = len(old) if append else offset
            if at > len(old):
                old = old + bytes(at - len(old))
            new = old[:at] + data
            return new if truncate else new + old[at + len(data):]
        self.state.object_update(self._pool_id(pool), namespace, key, change, _object_name(pool, namespace, key))

    def read_object(self, pool: str, namespace: str, key: str, offset: int = 0,
                    length: int | None = None) -> bytes:
        if not isinstance(offset, int) or offset < 0 or (length is not None and (not isinstance(length, int)
                                                                                 or length < 0)):
            raise Error(errno.EINVAL, f"object {_object_name(pool, namespace, key)}: offset {offset!r} or "
                                      f"length {length!r} is negative")
        data = self._object(pool, namespace, key)[0]
        return data[offset:] if length is None else data[offset:offset + length]

    def stat_object(self, pool: str, namespace: str, key: str) -> dict:
        data, mtime = self._object(pool, namespace, key)
        return {"size": len(data), "mtime": mtime}

    def remove_object(self, pool: str, namespace: str, key: str) -> None:
        _check_object(pool, namespace, key)
        if not self.state.object_remove(self._pool_id(pool), namespace, key):
            raise Error(errno.ENOENT, f"object {_object_name(pool, namespace, key)} does not exist")

    def list_objects(self, pool: str, namespace: str | None = None) -> list[tuple[str, str]]:
        return self.state.object_list(self._pool_id(pool), namespace)

    def _object(self, pool: str, namespace: str, key: str) -> tuple[bytes, float]:
        _check_object(pool, namespace, key)
        found = self.state.object_get(self._pool_id(pool), namespace, key)
        if found is None:
            raise Error(errno.ENOENT, f"object {_object_name(pool, namespace, key)} does not exist")
        return found


    # --- snapshots and clones (the embedded daemon's snapshot service) -----------------------------
    @property
    def snapshots(self) -> CatalogClient:
        if self._snapshots is None:
            raise Error(errno.EOPNOTSUPP, "snapshots and clones: this cluster has no snapshot service "
                                          "curverbd can use yet (Curve's own snapshot services come next)")
        return self._snapshots

    def _state(self, pool: str, image: str) -> tuple[dict, dict]:
        """(FileInfo, RBD state with defaults filled in) of an image."""
        info = self._file(pool, image)
        return info, {**self._default_state(info), **(info["state"] or {})}

    def _curve(self, pool: str, image: str) -> str:
        """The Curve name of an image's volume (the snapshot service's name for it)."""
        return self._file(pool, image)["fileName"]

    def create_snap(self, pool: str, image: str, snap: str) -> dict:
        info, state = self._state(pool, image)
        return self.snapshots.create_snap(pool, info["fileName"], snap, state["size"])

    def remove_snap(self, pool: str, image: str, snap: str) -> None:
        self.snapshots.remove_snap(pool, self._curve(pool, image), snap)

    def list_snaps(self, pool: str, image: str) -> list[dict]:
        return self.snapshots.list_snaps(pool, self._curve(pool, image))

    def get_snap(self, pool: str, image: str, snap: str) -> dict:
        return self.snapshots.get_snap(pool, self._curve(pool, image), snap)

    def rename_snap(self, pool: str, image: str, snap: str, new_name: str) -> None:
        self.snapshots.rename_snap(pool, self._curve(pool, image), snap, new_name)

    def protect_snap(self, pool: str, image: str, snap: str) -> None:
        self.snapshots.protect_snap(pool, self._curve(pool, image), snap)

    def unprotect_snap(self, pool: str, image: str, snap: str) -> None:
        self.snapshots.unprotect_snap(pool, self._curve(pool, image), snap)

    def rollback_snap(self, pool: str, image: str, snap: str) -> dict:
        """The image shows ``snap`` again, at the snapshot's size; the new ImageRecord."""
        info = self._file(pool, image)
        size = self.snapshots.rollback_snap(pool, info["fileName"], snap)
        return self._record(pool, info, self._update(info, size=size))

    def list_children(self, pool: str, image: str, snap: str | None = None) -> list[tuple[str, str]]:
        children = self.snapshots.list_children(pool, self._curve(pool, image), snap)
        return sorted((p, self._rbd_name(p, name)) for p, name in children)

    def parent_info(self, pool: str, image: str) -> dict:
        parent = self.snapshots.parent_info(pool, self._curve(pool, image))
        return {**parent, "image": self._rbd_name(parent["pool"], parent["image"])}

    def allocated(self, pool: str, image: str, snap: str | None = None) -> int:
        return self.snapshots.allocated(pool, self._curve(pool, image), snap)

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
        made = self.snapshots.clone(pool, info["fileName"], snap, child_pool, child_image)
        now = time.time()
        state = {"size": made["size"], "features": features, "order": order, "stripe_unit": 0,
                 "stripe_count": 0, "create_timestamp": now, "modify_timestamp": now, "access_timestamp": now}
        self.state.create_image(made["file_id"], state)
        return self.stat_image(child_pool, child_image)

    def flatten(self, pool: str, image: str, offset: int, length: int) -> dict:
        """One chunk: {done, total, copied}."""
        info, state = self._state(pool, image)
        return self.snapshots.flatten(pool, info["fileName"], state["size"], offset, length)

    def copy_image(self, pool: str, image: str, dest_pool: str, dest_image: str,
                   snap: str | None = None) -> dict:
        """A new image with the data (of ``snap`` or the head), size, features, order and metadata."""
        info, state = self._state(pool, image)
        curve = info["fileName"]
        size = self.snapshots.get_snap(pool, curve, snap)["size"] if snap is not None else state["size"]
        made = self.create_image(dest_pool, dest_image, size, state["features"], state["order"])
        self.state.copy_meta(info["id"], made["file_id"])
        self.snapshots.copy_image(pool, curve, dest_pool, dest_image, snap)
        return self.stat_image(dest_pool, dest_image)

    def diff_extents(self, pool: str, image: str, offset: int, length: int, from_snap: str | None = None,
                     snap: str | None = None, include_parent: bool = True,
                     whole_object: bool = False) -> list[tuple[int, int, bool]]:
        info, state = self._state(pool, image)
        return self.snapshots.diff_extents(pool, info["fileName"], offset, length, state["size"], state["order"],
                                           from_snap, snap, include_parent, whole_object)

MAX_KEY_BYTES = 2048            # Ceph's osd_max_object_name_len
MAX_NAMESPACE_BYTES = 256       # Ceph's osd_max_object_namespace_len


def _object_name(pool: str, namespace: str, key: str) -> str:
    return f"{pool}/{namespace + '/' if namespace else ''}{key}"


def _check_object(pool: str, namespace: Any, key: Any) -> None:
    if not isinstance(namespace, str) or not isinstance(key, str):
        raise Error(errno.EINVAL, f"pool {pool!r}: object namespace and key must be strings")
    if not key or "\0" in key or "\0" in namespace:
        raise Error(errno.EINVAL, f"object {_object_name(pool, namespace, key)!r}: empty key or a NUL in the name")
    if len(key.encode()) > MAX_KEY_BYTES or len(namespace.encode()) > MAX_NAMESPACE_BYTES:
        raise Error(errno.ENAMETOOLONG, f"object {_object_name(pool, namespace[:40], key[:40])}...: key above "
                                        f"{MAX_KEY_BYTES} or namespace above {MAX_NAMESPACE_BYTES} bytes")


# what Curve's kOwnerAuthFail can mean (it does not say which)
_REFUSED = (" by Curve's MDS (kOwnerAuthFail: another owner's, or for root a wrong key, or this clock "
            "outside the MDS's 15 s window)")


def _hidden(state: dict | None, name: str) -> bool:
    """Whether a volume's RBD record hides it from being image ``name``: trashed in place, or
    renamed to another RBD name."""
    return bool(state) and (bool(state.get("in_trash")) or state.get("rbd_name", name) != name)


def _cause(exc: Error) -> str:
    """The MDS's words without the path it already prefixed."""
    return exc.strerror.split(": ", 1)[-1] if exc.strerror else str(exc)
