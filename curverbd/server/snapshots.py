"""Snapshots, rollback, clones, flatten and differences of the stand-in store's volumes.

All of it is layer bookkeeping (layers.py): a snapshot freezes the head layer
in place and gives the volume a new empty head (instant, no data copied); a
rollback gives it a new empty head on top of the snapshot's layer; removing a
snapshot copies its grains into the layers above it that lack them and
re-links them to its parent; a clone is a new volume whose head sits on a
snapshot's layer of another volume; flatten copies what the clone shows
through its parent into the holes of its own bottom layers and drops the link.
Each operation is one database transaction, under the volume's lock when it
touches a head.
"""
from __future__ import annotations

import os
import time

from ..curve.nameserver2 import StatusCode as S
from ..errors import CurveError, CurveStatus
from . import layers
from .layers import Layer
from .refusal import refused
from .store import CLONE_PAGEFILE, PAGEFILE, RECYCLE_BIN_ID, Store, check_name, split_curve_path

_SNAP = "SELECT id, name, parent, length, ctime, seq, protected, owner FROM curve_layers"


def check_snap_name(name: str) -> None:
    """Snapshot names end the view path ``<file>@<name>``, so no '@' and no '/'."""
    check_name(name, "snapshot")
    if "@" in name:
        raise CurveError(CurveStatus.PARAM_ERROR, f"snapshot {name!r}: must not contain '@'")


class Snapshots:
    """The snapshot operations of one store (Curve paths, owners and Curve's errors)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.db = store.db

    # --- lookups --------------------------------------------------------------------------------
    def _snap(self, file_id: int, path: str, name: str) -> tuple:
        """(id, name, parent, length, ctime, seq, protected, owner) of snapshot ``name`` of file ``file_id``."""
        row = self.db.conn.execute(_SNAP + " WHERE file_id=? AND name=?", (file_id, name)).fetchone()
        if row is None:   # a snapshotcloneserver snapshot, named by its UUID (snapshotclone_rules.py)
            row = self.db.conn.execute(_SNAP + " WHERE file_id=? AND name=?", (file_id, f"sc-{name}")).fetchone()
        if row is None:
            raise refused(S.kSnapshotFileNotExists, f"{path}: no snapshot {name!r}")
        return row

    def snap_rows(self, file_id: int) -> list[tuple]:
        """Every snapshot row (as _snap) of file ``file_id``, oldest first."""
        return self.db.conn.execute(_SNAP + " WHERE file_id=? ORDER BY id", (file_id,)).fetchall()

    @staticmethod
    def _info(row: tuple) -> dict:
        return {"id": row[0], "name": row[1], "length": row[3], "ctime": row[4], "seq": row[5],
                "protected": bool(row[6]), "owner": row[7]}

    # --- protection and children: Curve's isProtected and children, which RBD reads too ---------
    def set_protected(self, layer_id: int, protected: bool) -> None:
        self.db.conn.execute("UPDATE curve_layers SET protected=? WHERE id=?", (int(protected), layer_id))

    def children(self, layer_id: int) -> list[int]:
        """Ids of the files cloned from snapshot ``layer_id`` that are still in the namespace (a clone
        deleted into /RecycleBin no longer holds its parent snapshot)."""
        rows = self.db.conn.execute("SELECT id FROM curve_files WHERE clone_layer=? AND parent != ? ORDER BY id",
                                    (layer_id, RECYCLE_BIN_ID)).fetchall()
        return [r[0] for r in rows]

    def clone_source(self, layer_id: int) -> tuple[str, int] | None:
        """(``<volpath>@<snapname>``, seqNum) of snapshot ``layer_id`` (cloneSource, cloneSn)."""
        row = self.db.conn.execute("SELECT file_id, name, seq FROM curve_layers WHERE id=?",
                                   (layer_id,)).fetchone()
        if row is None:
            return None
        return f"{self.store.path_of(row[0])}@{row[1]}", row[2]

    def get(self, path: str, owner: str, name: str) -> dict:
        with self.db.lock:
            _, row = self.store.existing_file(path, owner)
            return self._info(self._snap(row[0], path, name))

    def list(self, path: str, owner: str) -> list[dict]:
        """The snapshots of ``path``, oldest first."""
        with self.db.lock:
            _, row = self.store.existing_file(path, owner)
            rows = self.snap_rows(row[0])
        return [self._info(r) for r in rows]

    # --- snapshot life cycle --------------------------------------------------------------------
    def create(self, path: str, owner: str, name: str) -> dict:
        """Freeze the head of ``path`` as snapshot ``name`` (instant: the head's file becomes the layer)."""
        check_snap_name(name)
        with self.db.transaction():
            _, row = self.store.existing_file(path, owner)
            return self.create_at(row[0], path, name)

    def create_at(self, file_id: int, path: str, name: str) -> dict:
        """Snapshot ``name`` of file ``file_id`` at ``path`` (no owner check: the caller made it).
        It takes the file's seqNum, which then grows by one (Curve's CreateSnapShot)."""
        store = self.store
        with self.db.transaction() as conn:
            if conn.execute("SELECT 1 FROM curve_layers WHERE file_id=? AND name=?", (file_id, name)).fetchone():
                raise refused(S.kSnapshotExist, f"{path}: snapshot {name!r} already exists", CurveStatus.EXISTS)
            row = store.row_of(file_id)
            parts = split_curve_path(path)
            seq, file_owner = conn.execute("SELECT seq, owner FROM curve_files WHERE id=?", (file_id,)).fetchone()
            state = store.state(row, path)
            with state.lock:
                old = state.head
                ctime = int(time.time() * 1_000_000)
                parent_id = old.parent.id if old.parent is not None else None
                layer_id = conn.execute("INSERT INTO curve_layers (file_id, name, parent, length, ctime, seq, owner) "
                                        "VALUES (?, ?, ?, ?, ?, ?, ?)",
                                        (file_id, name, parent_id, state.length, ctime, seq,
                                         file_owner)).lastrowid
                conn.execute("UPDATE curve_files SET seq=? WHERE id=?", (seq + 1, file_id))
                conn.execute("INSERT OR REPLACE INTO curve_heads VALUES (?, ?)", (file_id, layer_id))
                os.fsync(old.fd)  # the snapshot is durable once it is reported
                # Crash safety: the layer is a second name of the head's file until the commit; only
                # then does a new empty file take the head's name. A crash before the commit leaves
                # an orphan layer file (removed at start); one after it leaves the head and its
                # parent as one file, which Store.state() detects and replaces by an empty head.
                data = store.data_path(parts)
                fresh = data + ".new"
                fd = store.new_data_file(fresh, state.length)
                os.link(data, store.layer_path(layer_id))
                old.id, old.length = layer_id, state.length
                store.adopt_layer(old)
                state.head = Layer(None, file_id, fd, state.length, old)

                def undo() -> None:
                    state.head, old.id = old, None
                    store.forget_layer(layer_id)
                    for path in (store.layer_path(layer_id), fresh):
                        _unlink(path)
                self.db.on_rollback(undo)
                self.db.after_commit(lambda: os.rename(fresh, data))
            return {"id": layer_id, "name": name, "length": state.length, "ctime": ctime, "seq": seq,
                    "protected": False, "owner": file_owner}

    def rename(self, path: str, owner: str, old: str, new: str) -> None:
        check_snap_name(new)
        with self.db.transaction() as conn:
            _, row = self.store.existing_file(path, owner)
            snap = self._snap(row[0], path, old)
            if conn.execute("SELECT 1 FROM curve_layers WHERE file_id=? AND name=?", (row[0], new)).fetchone():
                raise CurveError(CurveStatus.EXISTS, f"{path}: snapshot {new!r} already exists")
            conn.execute("UPDATE curve_layers SET name=? WHERE id=?", (new, snap[0]))

    def rollback(self, path: str, owner: str, name: str) -> dict:
        """Make the head of ``path`` show snapshot ``name`` again (a new empty head on its layer)."""
        store = self.store
        with self.db.transaction() as conn:
            parts, row = store.existing_file(path, owner)
            snap = self._snap(row[0], path, name)
            state = store.state(row, path)
            layer = store.layer(snap[0])
            with state.lock:
                data = store.data_path(parts)
                fresh = data + ".new"
                fd = store.new_data_file(fresh, state.length)
                conn.execute("INSERT OR REPLACE INTO curve_heads VALUES (?, ?)", (row[0], snap[0]))
                os.rename(fresh, data)  # the old head's file goes; I/O still holding it finishes on it
                state.head = Layer(None, row[0], fd, state.length, layer)
            return self._info(snap)

    def remove(self, path: str, owner: str, name: str) -> None:
        """Drop snapshot ``name``: the layers on top of it get the grains they showed from it."""
        with self.db.transaction():
            _, row = self.store.existing_file(path, owner)
            self.remove_at(row[0], path, name)

    def remove_at(self, file_id: int, path: str, name: str) -> None:
        """Drop snapshot ``name`` of file ``file_id`` at ``path`` (no owner check); a protected one
        stays (kSnapshotFileProtected)."""
        store = self.store
        with self.db.transaction() as conn:
            snap = self._snap(file_id, path, name)
            if snap[6]:
                raise refused(S.kSnapshotFileProtected, f"{path}@{name}: the snapshot is protected",
                              CurveStatus.FILE_OCCUPIED)
            layer = store.layer(snap[0])
            new_parent = layer.parent
            new_parent_id = new_parent.id if new_parent is not None else None
            for (child_id,) in conn.execute("SELECT id FROM curve_layers WHERE parent=?", (snap[0],)).fetchall():
                child = store.layer(child_id)
                layers.fill(child, layers.merge_extents(layer, child), layer)
                os.fsync(child.fd)
                child.parent = new_parent
            conn.execute("UPDATE curve_layers SET parent=? WHERE parent=?", (new_parent_id, snap[0]))
            for (file_id,) in conn.execute("SELECT file_id FROM curve_heads WHERE parent=?", (snap[0],)).fetchall():
                state = store.state_of(file_id)
                head = state.head
                for piece in layers.pieces(layers.merge_extents(layer, head)):
                    with state.lock:  # per piece: client writes go on meanwhile (fill skips what they wrote)
                        layers.fill(head, [piece], layer)
                with state.lock:
                    head.parent = new_parent
            if new_parent_id is None:
                conn.execute("DELETE FROM curve_heads WHERE parent=?", (snap[0],))
            else:
                conn.execute("UPDATE curve_heads SET parent=? WHERE parent=?", (new_parent_id, snap[0]))
            conn.execute("DELETE FROM curve_layers WHERE id=?", (snap[0],))
            # clones of it left in /RecycleBin got its data above: they stand alone now
            conn.execute("UPDATE curve_files SET clone_layer=NULL, type=? WHERE clone_layer=? AND type=?",
                         (PAGEFILE, snap[0], CLONE_PAGEFILE))
            conn.execute("UPDATE curve_files SET clone_layer=NULL WHERE clone_layer=?", (snap[0],))
            self.db.after_commit(lambda: _unlink(store.layer_path(snap[0])))

    # --- clones ---------------------------------------------------------------------------------
    def clone(self, src: str, snap: str, dst: str, owner: str, length: int) -> None:
        """A new volume ``dst`` showing snapshot ``snap`` of ``src`` until written."""
        with self.db.transaction() as conn:
            _, row = self.store.existing_file(src, owner)
            layer_id = self._snap(row[0], src, snap)[0]
            file_id = self.store.create(dst, owner, length, parent_layer=layer_id)
            conn.execute("UPDATE curve_files SET clone_layer=? WHERE id=?", (layer_id, file_id))

    def clone_at(self, layer_id: int, parent_dir: int, dst: str, owner: str, readonly: bool) -> int:
        """release1.5's Clone: a new INODE_CLONE_PAGEFILE ``dst`` in directory ``parent_dir`` with the
        length of snapshot ``layer_id``, showing it until written; its file id (no checks)."""
        with self.db.transaction() as conn:
            length = conn.execute("SELECT length FROM curve_layers WHERE id=?", (layer_id,)).fetchone()[0]
            file_id = self.store.add(parent_dir, split_curve_path(dst), CLONE_PAGEFILE, owner, length,
                                     parent_layer=layer_id)
            conn.execute("UPDATE curve_files SET clone_layer=?, readonly=? WHERE id=?",
                         (layer_id, int(readonly), file_id))
            return file_id

    def _roots(self, file_id: int, state) -> list[tuple[Layer, bool]]:
        """The layers of the file whose parent belongs to another file: (layer, is_head)."""
        out = []
        if state.head.parent is not None and state.head.parent.file_id != file_id:
            out.append((state.head, True))
        for (layer_id,) in self.db.conn.execute("SELECT id FROM curve_layers WHERE file_id=?", (file_id,)):
            layer = self.store.layer(layer_id)
            if layer.parent is not None and layer.parent.file_id != file_id:
                out.append((layer, False))
        return out

    def has_parent(self, path: str, owner: str) -> bool:
        with self.db.lock:
            _, row = self.store.existing_file(path, owner)
            return bool(self._roots(row[0], self.store.state(row, path)))

    def flatten(self, path: str, owner: str, lo: int, hi: int, finish: bool) -> int:
        """Copy what ``path`` shows through its parent in [lo, hi) into its own layers; with ``finish``
        drop the link to the parent. Returns the bytes copied."""
        with self.db.transaction():
            _, row = self.store.existing_file(path, owner)
            return self.flatten_at(row[0], path, lo, hi, finish)

    def flatten_at(self, file_id: int, path: str, lo: int, hi: int, finish: bool) -> int:
        """flatten() of file ``file_id`` at ``path`` (no owner check); with ``finish`` the file also
        stops being a clone (release1.5: its type becomes INODE_PAGEFILE, it leaves the children)."""
        store = self.store
        copied = 0
        with self.db.transaction() as conn:
            row = store.row_of(file_id)
            state = store.state(row, path)
            if finish:
                conn.execute("UPDATE curve_files SET clone_layer=NULL, status=0, type=? WHERE id=?",
                             (PAGEFILE, file_id))
            for layer, is_head in self._roots(file_id, state):
                for piece in layers.pieces(layers.flatten_extents(layer, lo, hi)):
                    if is_head:
                        with state.lock:  # per piece: client writes go on meanwhile
                            copied += layers.fill(layer, [piece], layer.parent)
                    else:
                        copied += layers.fill(layer, [piece], layer.parent)
                os.fsync(layer.fd)
                if finish:
                    if is_head:
                        with state.lock:
                            conn.execute("DELETE FROM curve_heads WHERE file_id=?", (file_id,))
                            layer.parent = None
                    else:
                        conn.execute("UPDATE curve_layers SET parent=NULL WHERE id=?", (layer.id,))
                        layer.parent = None
        return copied

    # --- data views -----------------------------------------------------------------------------
    def _top(self, path: str, owner: str, snap: str | None) -> tuple[tuple, Layer]:
        _, row = self.store.existing_file(path, owner)
        if snap is None:
            return row, self.store.state(row, path).head
        return row, self.store.layer(self._snap(row[0], path, snap)[0])

    def diff(self, path: str, owner: str, snap: str | None, from_snap: str | None, lo: int, hi: int,
             include_parent: bool, grain: int) -> list[tuple[int, int, bool]]:
        """Ranges of [lo, hi) where ``path`` (at ``snap``, or its head) differs from ``from_snap`` (or
        from zeros), each with whether it holds data now; ``include_parent`` False leaves out what a
        clone shows from its parent."""
        with self.db.lock:
            row, top = self._top(path, owner, snap)
            base = self.store.layer(self._snap(row[0], path, from_snap)[0]) if from_snap is not None else None
        own = None if include_parent or base is not None else row[0]
        changed = layers.changed_extents(top, base, lo, hi, own_file=own)
        return layers.zero_runs(top, changed, grain)

    def allocated(self, path: str, owner: str, snap: str | None) -> int:
        """Bytes stored in the head of ``path`` (or in snapshot ``snap``'s layer)."""
        with self.db.lock:
            _, top = self._top(path, owner, snap)
        return layers.allocated(top)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
