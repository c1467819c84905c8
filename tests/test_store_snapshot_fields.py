"""The store keeps Curve's snapshot and clone fields once: a database from before that is moved over.

Older daemons kept protection in rbd_snapshots.protected and clone links in
rbd_clone_links, and snapshots had no seqNum; at start the store and the
catalog move them into curve_layers (protected, seq, owner) and
curve_files.clone_layer, where Curve's services read them.
"""
from curverbd.server.catalog import Catalog
from curverbd.server.config import ServerConfig
from curverbd.server.db import Database
from curverbd.server.store import Store

GiB = 1 << 30


def _open(tmp_path):
    config = ServerConfig(socket=str(tmp_path / "nebd.sock"), data_dir=str(tmp_path / "data"),
                          min_volume_size=GiB, segment_size=GiB, max_volume_size=4 * GiB)
    db = Database(str(tmp_path / "catalog.db"))
    store = Store(db, config)
    return db, Catalog(db, store, config)


def test_old_protection_and_clone_links_move_into_the_store(tmp_path):
    (tmp_path / "data").mkdir()
    db, catalog = _open(tmp_path)
    snaps = catalog.snapshots
    catalog.store.mkdir("/p", "alice")
    catalog.store.create("/p/v", "alice", GiB)
    layer = snaps.create("/p/v", "alice", "s")["id"]
    snaps.clone("/p/v", "s", "/p/c", "alice", GiB)
    child = catalog.store.existing_file("/p/c", "alice")[1][0]
    # make it look like an old database: the fields where they were before
    with db.transaction() as conn:
        parent = conn.execute("SELECT file_id FROM curve_layers").fetchone()[0]
        conn.execute("UPDATE curve_layers SET protected=0, seq=NULL, owner=NULL")
        conn.execute("INSERT INTO rbd_snapshots (snap_id, file_id, size, protected) VALUES (?, ?, ?, 1)",
                     (layer, parent, GiB))
        conn.execute("UPDATE curve_files SET clone_layer=NULL, seq=1")
        conn.execute("CREATE TABLE rbd_clone_links (child_id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL, "
                     "snap_id INTEGER NOT NULL)")
        conn.execute("INSERT INTO rbd_clone_links VALUES (?, ?, ?)", (child, parent, layer))
    db.close()

    db, catalog = _open(tmp_path)
    snaps = catalog.snapshots
    assert snaps.get("/p/v", "alice", "s")["protected"] is True
    assert snaps.children(layer) == [child]
    assert snaps.clone_source(layer) == ("/p/v@s", 1)
    assert db.query("SELECT clone_layer FROM curve_files WHERE id=?", (child,)) == [(layer,)]
    assert db.query("SELECT seq, protected, owner FROM curve_layers") == [(1, 1, "alice")]
    assert db.query("SELECT seq FROM curve_files WHERE id=?", (parent,)) == [(2,)]
    assert db.query("SELECT name FROM sqlite_master WHERE name='rbd_clone_links'") == []
    assert db.query("SELECT protected FROM rbd_snapshots") == [(0,)]
    db.close()
