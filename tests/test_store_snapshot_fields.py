"""The store keeps Curve's snapshot and clone fields once: a database from before that is moved over.

Older daemons kept protection in rbd_snapshots.protected and clone links in
rbd_clone_links, and snapshots had no seqNum; at start the store and the
catalog move them into curve_layers (protected, seq, owner) and
curve_files.clone_layer, so the RBD catalog and the MDS read one truth.
"""
from curverbd.server.catalog import Catalog
from curverbd.server.catalog_snapshots import SnapshotCatalog
from curverbd.server.config import ServerConfig
from curverbd.server.db import Database
from curverbd.server.store import Store

GiB = 1 << 30


def _open(tmp_path):
    config = ServerConfig(socket=str(tmp_path / "nebd.sock"), data_dir=str(tmp_path / "data"),
                          min_volume_size=GiB, segment_size=GiB, max_volume_size=4 * GiB)
    db = Database(str(tmp_path / "catalog.db"))
    store = Store(db, config)
    return db, Catalog(db, store, config, lambda path: False)


def test_old_protection_and_clone_links_move_into_the_store(tmp_path):
    (tmp_path / "data").mkdir()
    db, catalog = _open(tmp_path)
    snaps = SnapshotCatalog(catalog)
    catalog.store.mkdir("/p", "alice")
    catalog.store.create("/p/v", "alice", GiB)
    snaps.create_snap("alice", "p", "v", "s", GiB)
    snaps.protect_snap("alice", "p", "v", "s")
    child = snaps.clone("alice", "p", "v", "s", "p", "c")["file_id"]
    # make it look like an old database: the fields where they were before
    with db.transaction() as conn:
        layer = conn.execute("SELECT id FROM curve_layers").fetchone()[0]
        conn.execute("UPDATE curve_layers SET protected=0, seq=NULL, owner=NULL")
        conn.execute("UPDATE rbd_snapshots SET protected=1")
        conn.execute("UPDATE curve_files SET clone_layer=NULL, seq=1")
        conn.execute("CREATE TABLE rbd_clone_links (child_id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL, "
                     "snap_id INTEGER NOT NULL)")
        parent = conn.execute("SELECT file_id FROM curve_layers").fetchone()[0]
        conn.execute("INSERT INTO rbd_clone_links VALUES (?, ?, ?)", (child, parent, layer))
    db.close()

    db, catalog = _open(tmp_path)
    snaps = SnapshotCatalog(catalog)
    assert snaps.get_snap("alice", "p", "v", "s")["snap"]["protected"] is True
    assert snaps.parent_info("alice", "p", "c")["parent"] == {"pool": "p", "image": "v", "snap": "s"}
    assert snaps.list_children("alice", "p", "v", "s")["children"] == [["p", "c"]]
    assert db.query("SELECT seq, protected, owner FROM curve_layers") == [(1, 1, "alice")]
    assert db.query("SELECT seq FROM curve_files WHERE id=?", (parent,)) == [(2,)]
    assert db.query("SELECT name FROM sqlite_master WHERE name='rbd_clone_links'") == []
    assert db.query("SELECT protected FROM rbd_snapshots") == [(0,)]
    db.close()
