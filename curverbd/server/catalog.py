"""The RBD snapshot catalog: what RBD keeps per snapshot and per clone beside the store's layers.

Until snapshots move onto Curve's own snapshot services, the embedded daemon
keeps them: the store's layers hold the data (snapshots.py), and these tables
what RBD adds: a snapshot's logical size and protection, a clone's parent
image and snapshot. Images are Curve files (the MDS service owns them; their
RBD state lives in etcd), named here by their Curve file id.
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
    # snap_id is the store's snapshot (layer) id, file_id the Curve file's; name and time live in the store
    """CREATE TABLE IF NOT EXISTS rbd_snapshots (
        snap_id INTEGER PRIMARY KEY, file_id INTEGER NOT NULL, size INTEGER NOT NULL,
        protected INTEGER NOT NULL DEFAULT 0)""",
    """CREATE TABLE IF NOT EXISTS rbd_clone_links (
        child_id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL, snap_id INTEGER NOT NULL)""",
)


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
        """{pool, image, snap} of a clone's parent snapshot, or None."""
        row = self.db.query("SELECT parent_id, snap_id FROM rbd_clone_links WHERE child_id=?", (file_id,))
        if not row:
            return None
        parent_id, snap_id = row[0]
        path = self.store.path_of(parent_id).strip("/").split("/")
        snap = self.db.query("SELECT name FROM curve_layers WHERE id=?", (snap_id,))
        return {"pool": path[0], "image": path[-1], "snap": snap[0][0] if snap else ""}

    def children_of(self, file_id: int, snap_id: int | None = None) -> list[tuple[str, str]]:
        """(pool, image) of the clones of any snapshot (or of ``snap_id``) of file ``file_id`` that are
        still in a pool (a removed clone sits in /RecycleBin and no longer counts)."""
        sql, args = "SELECT child_id FROM rbd_clone_links WHERE parent_id=?", (file_id,)
        if snap_id is not None:
            sql, args = sql + " AND snap_id=?", (file_id, snap_id)
        live = (self._live_path(r[0]) for r in self.db.query(sql, args))
        return sorted(tuple(p) for p in live if p)

    def cluster_stat(self) -> dict:
        st = os.statvfs(self.config.data_dir)
        pools = self.db.query("SELECT COUNT(*) FROM curve_files WHERE parent=0 AND type=0 AND name != ?",
                              (RECYCLE_BIN,))[0][0]
        return {"fsid": self.fsid, "bytes_total": st.f_blocks * st.f_frsize,
                "bytes_used": (st.f_blocks - st.f_bfree) * st.f_frsize,
                "bytes_avail": st.f_bavail * st.f_frsize, "pools": pools, "objects": 0}
