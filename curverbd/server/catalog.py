"""The embedded daemon's snapshot data service's tables: the cluster's fsid, and a database from before.

Snapshots, their protection and clone links are the store's (Curve's fields:
a snapshot's isProtected, a clone's cloneSource and cloneSn), read and written
by the MDS service and snapshotcloneserver; RBD's logical sizes live in etcd.
Older daemons kept a snapshot's logical size and protection in rbd_snapshots
and clone links in rbd_clone_links: protection and links are moved into the
store once, at start. The snapshot data operations are in catalog_snapshots.py.
"""
from __future__ import annotations

import errno
import os
import uuid

from ..errors import Error
from .config import ServerConfig
from .db import Database
from .snapshots import Snapshots
from .store import RECYCLE_BIN, Store

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS rbd_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    # older daemons' (nothing writes it now): snap_id is the store's snapshot (layer) id, file_id the
    # Curve file's; the protected column is only read once, to move it into the store
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
    """The service's tables and image lookup (the snapshot data operations: catalog_snapshots.py)."""

    def __init__(self, db: Database, store: Store, config: ServerConfig) -> None:
        self.db, self.store, self.config = db, store, config
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

    def cluster_stat(self) -> dict:
        st = os.statvfs(self.config.data_dir)
        pools = self.db.query("SELECT COUNT(*) FROM curve_files WHERE parent=0 AND type=0 AND name != ?",
                              (RECYCLE_BIN,))[0][0]
        return {"fsid": self.fsid, "bytes_total": st.f_blocks * st.f_frsize,
                "bytes_used": (st.f_blocks - st.f_bfree) * st.f_frsize,
                "bytes_avail": st.f_bavail * st.f_frsize, "pools": pools, "objects": 0}
