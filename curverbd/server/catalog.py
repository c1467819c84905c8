"""The RBD snapshot catalog: what RBD keeps per snapshot and per clone beside the store's layers.

The store's layers hold the data (snapshots.py) and Curve's own snapshot and
clone fields: a snapshot's isProtected, a clone's source snapshot (cloneSource,
cloneSn), and from it each snapshot's children. They live there only, so the
MDS service (release1.5's ProtectSnapShot, Clone, Flatten, Children) and this
catalog see one truth. This table keeps what only RBD has: a snapshot's logical
size. Images are Curve files (the MDS service owns them; their RBD state lives
in etcd), named here by their Curve file id.
"""
from __future__ import annotations

import errno
import os
import uuid
from typing import Callable

from ..errors import Error
from .config import ServerConfig
from .db import Database
from .snapshots import Snapshots
from .store import RECYCLE_BIN, Store

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS rbd_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    # snap_id is the store's snapshot (layer) id, file_id the Curve file's; name, time and protection
    # live in the store (the protected column is only read once, to move it there)
    """CREATE TABLE IF NOT EXISTS rbd_snapshots (
        snap_id INTEGER PRIMARY KEY, file_id INTEGER NOT NULL, size INTEGER NOT NULL,
        protected INTEGER NOT NULL DEFAULT 0)""",
)


def _move_links_to_store(conn) -> None:
    """Databases from before protection and clone links lived in the store: move them there once."""
    conn.execute("UPDATE curve_layers SET protected=1 WHERE id IN "
                 "(SELECT snap_id FROM rbd_snapshots WHERE protected=1)")
    conn.execute("UPDATE rbd_snapshots SET protected=0 WHERE protected=1")
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='rbd_clone_links'").fetchone():
        conn.execute("UPDATE curve_files SET clone_layer=(SELECT snap_id FROM rbd_clone_links "
                     "WHERE child_id=curve_files.id) WHERE id IN (SELECT child_id FROM rbd_clone_links)")
        conn.execute("DROP TABLE rbd_clone_links")


def _int_arg(value, what: str, minimum: int = 0) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise Error(errno.EINVAL, f"{what} {value!r}: must be an integer >= {minimum}")
    return value


class Catalog:
    """The snapshot catalog's tables and lookups (snapshot operations: catalog_snapshots.py)."""

    def __init__(self, db: Database, store: Store, config: ServerConfig, busy: Callable[[str], bool]) -> None:
        self.db, self.store, self.config, self.busy = db, store, config, busy
        self.snapshots = Snapshots(store)
        with db.transaction() as conn:
            for sql in _SCHEMA:
                conn.execute(sql)
            _move_links_to_store(conn)
            if not conn.execute("SELECT 1 FROM rbd_settings WHERE key='fsid'").fetchone():
                conn.execute("INSERT INTO rbd_settings VALUES ('fsid', ?)", (str(uuid.uuid4()),))
        self.fsid = db.query("SELECT value FROM rbd_settings WHERE key='fsid'")[0][0]

    def volume(self, owner: str, pool: str, image: str) -> tuple:
        """The store row (id, type, owner, length, blocksize, ctime) of image ``pool/image``."""
        if not all(isinstance(x, str) and x for x in (pool, image)):
            raise Error(errno.EINVAL, f"image {pool!r}/{image!r}: pool and image must be non-empty strings")
        try:
            return self.store.existing_file(f"/{pool}/{image}", owner)[1]
        except Error as exc:
            if exc.errno == errno.ENOENT:
                raise Error(errno.ENOENT, f"image {pool}/{image} does not exist") from None
            raise

    def _live_path(self, file_id: int) -> list[str] | None:
        """[pool, image] of a file outside /RecycleBin, or None (removed or trashed)."""
        try:
            parts = self.store.path_of(file_id).strip("/").split("/")
        except Error:
            return None
        return None if parts[0] == RECYCLE_BIN or len(parts) != 2 else parts

    def parent_of(self, file_id: int) -> dict | None:
        """{pool, image, snap} of a clone's parent snapshot (the store's clone link), or None."""
        row = self.db.query("SELECT l.file_id, l.name FROM curve_files f JOIN curve_layers l "
                            "ON l.id = f.clone_layer WHERE f.id=?", (file_id,))
        if not row:
            return None
        parent_id, snap = row[0]
        path = self.store.path_of(parent_id).strip("/").split("/")
        return {"pool": path[0], "image": path[-1], "snap": snap}

    def children_of(self, file_id: int, snap_id: int | None = None) -> list[tuple[str, str]]:
        """(pool, image) of the clones of any snapshot (or of ``snap_id``) of file ``file_id`` that are
        still in a pool (a removed clone sits in /RecycleBin and no longer counts)."""
        sql = "SELECT f.id FROM curve_files f JOIN curve_layers l ON l.id = f.clone_layer WHERE l.file_id=?"
        args: tuple = (file_id,)
        if snap_id is not None:
            sql, args = sql + " AND l.id=?", (file_id, snap_id)
        live = (self._live_path(r[0]) for r in self.db.query(sql, args))
        return sorted(tuple(p) for p in live if p)

    def cluster_stat(self) -> dict:
        st = os.statvfs(self.config.data_dir)
        pools = self.db.query("SELECT COUNT(*) FROM curve_files WHERE parent=0 AND type=0 AND name != ?",
                              (RECYCLE_BIN,))[0][0]
        return {"fsid": self.fsid, "bytes_total": st.f_blocks * st.f_frsize,
                "bytes_used": (st.f_blocks - st.f_bfree) * st.f_frsize,
                "bytes_avail": st.f_bavail * st.f_frsize, "pools": pools, "objects": 0}
