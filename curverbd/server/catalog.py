"""The RBD catalog: pools, images and image metadata, kept beside the Curve namespace.

A pool is the Curve directory ``/<pool>`` owned by its creator; an image is the
Curve file ``/<pool>/<image>`` (snapshots, clones and the trash are in
catalog_snapshots.py and catalog_trash.py, small rados objects in catalog_objects.py). The catalog keeps what Curve cannot: the exact
logical size (any byte count; the Curve volume behind it is at least the
minimum volume size, grows by whole segments and never shrinks), RBD features
and order, creation time and key/value metadata. Each operation changes the
catalog and the store in one SQLite transaction.
"""
from __future__ import annotations

import errno
import os
import secrets
import time
import uuid
from typing import Callable

from .. import features as feature_bits
from ..errors import Error
from .config import ServerConfig
from .db import Database
from .snapshots import Snapshots
from .store import RECYCLE_BIN, Store, check_name, check_owner

MAX_IMAGE_NAME_BYTES = 95  # RBD_MAX_IMAGE_NAME_SIZE (96) minus the NUL
DEFAULT_FEATURES = 1       # RBD_FEATURE_LAYERING
DEFAULT_ORDER = 22         # 4 MiB objects

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS rbd_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS rbd_pools (name TEXT PRIMARY KEY, owner TEXT NOT NULL, created INTEGER NOT NULL)",
    """CREATE TABLE IF NOT EXISTS rbd_images (
        id TEXT PRIMARY KEY, pool TEXT NOT NULL REFERENCES rbd_pools(name), name TEXT NOT NULL,
        owner TEXT NOT NULL, size INTEGER NOT NULL, features INTEGER NOT NULL, "order" INTEGER NOT NULL,
        created INTEGER NOT NULL, UNIQUE (pool, name))""",
    """CREATE TABLE IF NOT EXISTS rbd_image_meta (
        image_id TEXT NOT NULL REFERENCES rbd_images(id) ON DELETE CASCADE, key TEXT NOT NULL,
        value TEXT NOT NULL, PRIMARY KEY (image_id, key))""",
    # snap_id is the store's snapshot (layer) id; name and time live in the store
    """CREATE TABLE IF NOT EXISTS rbd_snaps (
        snap_id INTEGER PRIMARY KEY, image_id TEXT NOT NULL REFERENCES rbd_images(id) ON DELETE CASCADE,
        size INTEGER NOT NULL, protected INTEGER NOT NULL DEFAULT 0)""",
    """CREATE TABLE IF NOT EXISTS rbd_clones (
        child_id TEXT PRIMARY KEY REFERENCES rbd_images(id) ON DELETE CASCADE,
        parent_id TEXT NOT NULL REFERENCES rbd_images(id), snap_id INTEGER NOT NULL REFERENCES rbd_snaps(snap_id))""",
    """CREATE TABLE IF NOT EXISTS rbd_trash (
        image_id TEXT PRIMARY KEY REFERENCES rbd_images(id) ON DELETE CASCADE, name TEXT NOT NULL,
        source TEXT NOT NULL, deletion_time INTEGER NOT NULL, deferment_end_time INTEGER NOT NULL)""",
    # small rados objects (catalog_objects.py); their owner is the pool's
    """CREATE TABLE IF NOT EXISTS rbd_objects (
        pool TEXT NOT NULL REFERENCES rbd_pools(name), namespace TEXT NOT NULL, key TEXT NOT NULL,
        data BLOB NOT NULL, mtime REAL NOT NULL, PRIMARY KEY (pool, namespace, key))""",
)


def _int_arg(value, what: str, minimum: int = 0) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise Error(errno.EINVAL, f"{what} {value!r}: must be an integer >= {minimum}")
    return value


def _str_arg(value, what: str) -> str:
    if not isinstance(value, str):
        raise Error(errno.EINVAL, f"{what} {value!r}: must be a string")
    return value


class Catalog:
    """The catalog service's operations (see curverbd/catalog/protocol.py for the contract)."""

    def __init__(self, db: Database, store: Store, config: ServerConfig, busy: Callable[[str], bool]) -> None:
        self.db, self.store, self.config, self.busy = db, store, config, busy
        self.snapshots = Snapshots(store)
        with db.transaction() as conn:
            for sql in _SCHEMA:
                conn.execute(sql)
            if not conn.execute("SELECT 1 FROM rbd_settings WHERE key='fsid'").fetchone():
                conn.execute("INSERT INTO rbd_settings VALUES ('fsid', ?)", (str(uuid.uuid4()),))
        self.fsid = db.query("SELECT value FROM rbd_settings WHERE key='fsid'")[0][0]

    # --- lookups --------------------------------------------------------------------------------
    def _pool(self, owner: str, pool: str) -> None:
        """The pool exists and belongs to ``owner`` (ENOENT / EPERM otherwise)."""
        check_owner(owner)
        check_name(pool, "pool")
        row = self.db.query("SELECT owner FROM rbd_pools WHERE name=?", (pool,))
        if not row:
            raise Error(errno.ENOENT, f"pool {pool!r} does not exist")
        if row[0][0] != owner:
            raise Error(errno.EPERM, f"pool {pool!r} belongs to another user than {owner!r}")

    def _image(self, owner: str, pool: str, image: str) -> tuple:
        self._pool(owner, pool)
        check_name(image, "image", MAX_IMAGE_NAME_BYTES)
        rows = self.db.query('SELECT id, name, owner, size, features, "order", created FROM rbd_images '
                             "WHERE pool=? AND name=? AND id NOT IN (SELECT image_id FROM rbd_trash)",
                             (pool, image))
        if not rows:
            raise Error(errno.ENOENT, f"image {pool}/{image} does not exist")
        return rows[0]

    def _record(self, pool: str, row: tuple) -> dict:
        image_id, name, owner, size, features, order, created = row
        backend = self.store.stat(f"/{pool}/{name}", owner)["length"]
        meta = dict(self.db.query("SELECT key, value FROM rbd_image_meta WHERE image_id=? ORDER BY key",
                                  (image_id,)))
        snaps = self.db.query("SELECT COUNT(*) FROM rbd_snaps WHERE image_id=?", (image_id,))[0][0]
        parent = self.parent_of(image_id)
        op_features = ((feature_bits.OP_CLONE_CHILD if parent else 0)
                       | (feature_bits.OP_CLONE_PARENT if self.children_of(image_id) else 0))
        return {"id": image_id, "pool": pool, "name": name, "owner": owner, "size": size,
                "backend_size": backend, "features": features, "order": order, "created": created, "meta": meta,
                "snapshot_count": snaps, "parent": parent, "op_features": op_features}

    def parent_of(self, image_id: str) -> dict | None:
        """{pool, image, snap} of a clone's parent snapshot, or None."""
        row = self.db.query("SELECT i.pool, i.name, c.snap_id FROM rbd_clones c JOIN rbd_images i "
                            "ON i.id = c.parent_id WHERE c.child_id=?", (image_id,))
        if not row:
            return None
        pool, name, snap_id = row[0]
        snap = self.db.query("SELECT name FROM curve_layers WHERE id=?", (snap_id,))
        return {"pool": pool, "image": name, "snap": snap[0][0] if snap else ""}

    def children_of(self, image_id: str, snap_id: int | None = None) -> list[tuple[str, str]]:
        """(pool, image) of the clones of any snapshot (or snapshot ``snap_id``) of image ``image_id``."""
        sql = ("SELECT i.pool, i.name FROM rbd_clones c JOIN rbd_images i ON i.id = c.child_id "
               "WHERE c.parent_id=? AND c.child_id NOT IN (SELECT image_id FROM rbd_trash)")
        args: tuple = (image_id,)
        if snap_id is not None:
            sql, args = sql + " AND c.snap_id=?", (image_id, snap_id)
        return [tuple(r) for r in self.db.query(sql + " ORDER BY i.pool, i.name", args)]

    def check_removable(self, pool: str, image: str, image_id: str) -> None:
        """An image goes only without clones, snapshots and clients (EBUSY / ENOTEMPTY / EBUSY)."""
        if self.db.query("SELECT 1 FROM rbd_clones WHERE parent_id=? LIMIT 1", (image_id,)):
            raise Error(errno.EBUSY, f"image {pool}/{image} has clones (children)")
        if self.db.query("SELECT 1 FROM rbd_snaps WHERE image_id=? LIMIT 1", (image_id,)):
            raise Error(errno.ENOTEMPTY, f"image {pool}/{image} has snapshots")

    # --- pools ----------------------------------------------------------------------------------
    def create_pool(self, owner: str, pool: str) -> dict:
        check_owner(owner)
        check_name(pool, "pool")
        if pool == RECYCLE_BIN:
            raise Error(errno.EPERM, f"pool {pool!r}: the name is reserved by Curve")
        with self.db.transaction() as conn:
            if conn.execute("SELECT 1 FROM rbd_pools WHERE name=?", (pool,)).fetchone():
                raise Error(errno.EEXIST, f"pool {pool!r} already exists")
            self.store.mkdir(f"/{pool}", owner)
            conn.execute("INSERT INTO rbd_pools VALUES (?, ?, ?)", (pool, owner, int(time.time())))
        return {}

    def remove_pool(self, owner: str, pool: str) -> dict:
        with self.db.transaction() as conn:
            self._pool(owner, pool)
            if conn.execute("SELECT 1 FROM rbd_images WHERE pool=? LIMIT 1", (pool,)).fetchone():
                raise Error(errno.ENOTEMPTY, f"pool {pool!r} still has images")
            if conn.execute("SELECT 1 FROM rbd_objects WHERE pool=? LIMIT 1", (pool,)).fetchone():
                raise Error(errno.ENOTEMPTY, f"pool {pool!r} still has objects")
            self.store.rmdir(f"/{pool}", owner)
            conn.execute("DELETE FROM rbd_pools WHERE name=?", (pool,))
        return {}

    def list_pools(self, owner: str) -> dict:
        check_owner(owner)
        return {"pools": [r[0] for r in self.db.query("SELECT name FROM rbd_pools WHERE owner=? ORDER BY name",
                                                      (owner,))]}

    def stat_pool(self, owner: str, pool: str) -> dict:
        with self.db.lock:
            self._pool(owner, pool)
            names = [r[0] for r in self.db.query("SELECT name FROM rbd_images WHERE pool=?", (pool,))]
            provisioned = sum(self.store.stat(f"/{pool}/{n}", owner)["length"] for n in names)
            objects, object_bytes = self.db.query("SELECT COUNT(*), COALESCE(SUM(LENGTH(data)), 0) "
                                                  "FROM rbd_objects WHERE pool=?", (pool,))[0]
        used = sum(self.store.allocated(f"/{pool}/{n}") for n in names) + object_bytes
        return {"pool": pool, "owner": owner, "images": len(names), "objects": objects,
                "object_bytes": object_bytes, "bytes_used": used, "bytes_provisioned": provisioned}

    # --- images ---------------------------------------------------------------------------------
    def create_image(self, owner: str, pool: str, image: str, size: int,
                     features: int | None = None, order: int | None = None) -> dict:
        self._pool(owner, pool)
        check_name(image, "image", MAX_IMAGE_NAME_BYTES)
        size = _int_arg(size, f"image {pool}/{image}: size")
        features = DEFAULT_FEATURES if features is None else _int_arg(features, f"image {pool}/{image}: features")
        order = DEFAULT_ORDER if order is None else _int_arg(order, f"image {pool}/{image}: order", 12)
        if order > 25:
            raise Error(errno.EDOM, f"image {pool}/{image}: order {order} is above 25")
        backend = self.config.backend_size(size)
        if backend > self.config.max_volume_size:
            raise Error(errno.EINVAL, f"image {pool}/{image}: size {size} exceeds the largest Curve volume "
                                      f"({self.config.max_volume_size} bytes)")
        with self.db.transaction() as conn:
            self._pool(owner, pool)
            if conn.execute("SELECT 1 FROM rbd_images WHERE pool=? AND name=?", (pool, image)).fetchone():
                raise Error(errno.EEXIST, f"image {pool}/{image} already exists")
            row = (secrets.token_hex(6), image, owner, size, features, order, int(time.time()))
            conn.execute('INSERT INTO rbd_images (id, name, owner, size, features, "order", created, pool) '
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (*row, pool))
            self.store.create(f"/{pool}/{image}", owner, backend)
            return {"image": self._record(pool, row)}

    def remove_image(self, owner: str, pool: str, image: str) -> dict:
        with self.db.transaction() as conn:
            row = self._image(owner, pool, image)
            self.check_removable(pool, image, row[0])
            if self.busy(f"/{pool}/{image}"):
                raise Error(errno.EBUSY, f"image {pool}/{image} is open by a client")
            conn.execute("DELETE FROM rbd_images WHERE id=?", (row[0],))
            self.store.unlink(f"/{pool}/{image}", owner)
        return {}

    def list_images(self, owner: str, pool: str) -> dict:
        with self.db.lock:
            self._pool(owner, pool)
            return {"images": [r[0] for r in self.db.query(
                "SELECT name FROM rbd_images WHERE pool=? AND id NOT IN (SELECT image_id FROM rbd_trash) "
                "ORDER BY name", (pool,))]}

    def stat_image(self, owner: str, pool: str, image: str) -> dict:
        with self.db.lock:
            return {"image": self._record(pool, self._image(owner, pool, image))}

    def resize_image(self, owner: str, pool: str, image: str, size: int) -> dict:
        """Logical resize; the Curve volume grows by whole segments when needed and never shrinks."""
        with self.db.transaction() as conn:
            row = self._image(owner, pool, image)
            size = _int_arg(size, f"image {pool}/{image}: size")
            path = f"/{pool}/{image}"
            if size > self.store.stat(path, owner)["length"]:
                backend = self.config.backend_size(size)
                if backend > self.config.max_volume_size:
                    raise Error(errno.EINVAL, f"image {pool}/{image}: size {size} exceeds the largest Curve "
                                              f"volume ({self.config.max_volume_size} bytes)")
                self.store.extend(path, owner, backend)
            conn.execute("UPDATE rbd_images SET size=? WHERE id=?", (size, row[0]))
            return {"image": self._record(pool, (row[0], row[1], row[2], size, *row[4:]))}

    def rename_image(self, owner: str, pool: str, image: str, new_name: str) -> dict:
        with self.db.transaction() as conn:
            row = self._image(owner, pool, image)
            check_name(new_name, "image", MAX_IMAGE_NAME_BYTES)
            if self.busy(f"/{pool}/{image}"):  # clients name it by path: they would lose it
                raise Error(errno.EBUSY, f"image {pool}/{image} is open by a client")
            if conn.execute("SELECT 1 FROM rbd_images WHERE pool=? AND name=?", (pool, new_name)).fetchone():
                raise Error(errno.EEXIST, f"image {pool}/{new_name} already exists")
            conn.execute("UPDATE rbd_images SET name=? WHERE id=?", (new_name, row[0]))
            self.store.rename(owner, f"/{pool}/{image}", f"/{pool}/{new_name}")
        return {}

    # --- image metadata -------------------------------------------------------------------------
    def set_meta(self, owner: str, pool: str, image: str, key: str, value: str) -> dict:
        with self.db.transaction() as conn:
            row = self._image(owner, pool, image)
            if not _str_arg(key, f"image {pool}/{image}: metadata key"):
                raise Error(errno.EINVAL, f"image {pool}/{image}: empty metadata key")
            _str_arg(value, f"image {pool}/{image}: metadata value")
            conn.execute("INSERT OR REPLACE INTO rbd_image_meta VALUES (?, ?, ?)", (row[0], key, value))
        return {}

    def get_meta(self, owner: str, pool: str, image: str, key: str) -> dict:
        with self.db.lock:
            row = self._image(owner, pool, image)
            found = self.db.query("SELECT value FROM rbd_image_meta WHERE image_id=? AND key=?",
                                  (row[0], _str_arg(key, "metadata key")))
        if not found:
            raise Error(errno.ENOENT, f"image {pool}/{image}: no metadata key {key!r}")
        return {"value": found[0][0]}

    def remove_meta(self, owner: str, pool: str, image: str, key: str) -> dict:
        with self.db.transaction() as conn:
            row = self._image(owner, pool, image)
            cur = conn.execute("DELETE FROM rbd_image_meta WHERE image_id=? AND key=?",
                               (row[0], _str_arg(key, "metadata key")))
            if cur.rowcount == 0:
                raise Error(errno.ENOENT, f"image {pool}/{image}: no metadata key {key!r}")
        return {}

    def list_meta(self, owner: str, pool: str, image: str) -> dict:
        with self.db.lock:
            return {"meta": self._record(pool, self._image(owner, pool, image))["meta"]}

    # --- cluster --------------------------------------------------------------------------------
    def cluster_stat(self) -> dict:
        st = os.statvfs(self.config.data_dir)
        pools = self.db.query("SELECT COUNT(*) FROM rbd_pools")[0][0]
        objects = self.db.query("SELECT COUNT(*) FROM rbd_objects")[0][0]
        return {"fsid": self.fsid, "bytes_total": st.f_blocks * st.f_frsize,
                "bytes_used": (st.f_blocks - st.f_bfree) * st.f_frsize,
                "bytes_avail": st.f_bavail * st.f_frsize, "pools": pools, "objects": objects}
