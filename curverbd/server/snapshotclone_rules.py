"""mainline Curve's snapshotcloneserver (reference section 7) over the store's copy-on-write layers.

A snapshot is a frozen layer of its volume (snapshots.py), named
``sc-<uuid>``, so it is instant, and the MDS sees a volume that has one as
under snapshot (kFileUnderSnapShot for DeleteFile and RenameFile) with no
extra rule. A clone is a new PAGEFILE on top of a snapshot's layer, as the
store's clones are; a lazy one stays so (TaskStatus metaInstalled) until
Flatten, a non-lazy one is flattened by a background thread at once. A clone
of a volume path first freezes a task layer ``sct-<uuid>`` of that volume and
drops it once the clone stands alone. Recover is the store's rollback.

Snapshots and tasks live in the daemon's SQLite next to the layers: a
snapshot row refers to its layer with ON DELETE CASCADE, so a snapshot the MDS
deletes (DeleteSnapShot) is gone here too.
"""
from __future__ import annotations

import logging
import threading
import time
import uuid as uuidlib

from ..curve.nameserver2 import FileStatus
from .snapshots import Snapshots
from .store import DIRECTORY as DIR, PAGE_TYPES, PAGEFILE, ROOT_ID, Store, split_curve_path

log = logging.getLogger("curverbd.server.snapshotclone")

MAX_SNAPSHOTS = 1024          # server.maxSnapshotLimit, per volume
_BEYOND = 1 << 62             # flatten_at's finishing step covers all past the length

# reply codes (snapshotclone_define.h)
OK, INTERNAL, BAD_REQUEST, TASK_EXISTS, INVALID_USER, NOT_EXIST = 0, -1, -5, -6, -7, -8
FILE_STATUS_INVALID, NAME_MISMATCH, SNAP_UNFINISHED, CANNOT_CANCEL_FINISHED = -9, -11, -12, -14
INVALID_SNAPSHOT, SNAP_IN_USE, TASK_UNFINISHED, SNAP_LIMIT, FILE_EXISTS, NOT_SUPPORTED = -15, -16, -17, -18, -19, -21
# snapshot Status, clone TaskStatus, TaskType, FileType
SNAP_DONE, SNAP_PENDING, SNAP_ERROR = 0, 1, 5
TASK_DONE, TASK_CLONING, TASK_RECOVERING, TASK_ERROR, TASK_META_INSTALLED = 0, 1, 2, 5, 7
TYPE_CLONE, TYPE_RECOVER = 0, 1
SOURCE_SNAPSHOT, SOURCE_FILE = 0, 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sc_snapshots (
    uuid TEXT PRIMARY KEY, user TEXT NOT NULL, file TEXT NOT NULL, name TEXT NOT NULL,
    layer_id INTEGER NOT NULL UNIQUE REFERENCES curve_layers(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL, time INTEGER NOT NULL, length INTEGER NOT NULL, status INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sc_tasks (
    uuid TEXT PRIMARY KEY, user TEXT NOT NULL, file TEXT NOT NULL, src TEXT NOT NULL,
    type INTEGER NOT NULL, status INTEGER NOT NULL, lazy INTEGER NOT NULL, time INTEGER NOT NULL,
    file_id INTEGER, src_type INTEGER NOT NULL,
    temp_layer INTEGER REFERENCES curve_layers(id) ON DELETE SET NULL
);
"""
_SNAP_COLS = "uuid, user, file, name, layer_id, seq, time, length, status"
_TASK_COLS = "uuid, user, file, src, type, status, lazy, time, file_id, src_type, temp_layer"


class Refusal(Exception):
    """A request the server refuses with reply ``code``; the message names the object and the cause."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def _now_us() -> int:
    return int(time.time() * 1_000_000)


class SnapshotCloneRules:
    """The actions' rules and state; each public method returns the reply's extras or raises Refusal."""

    def __init__(self, store: Store, busy, step: int = 64 << 20, s3_fail: bool = False) -> None:
        self.store, self.db, self.busy = store, store.db, busy
        self.s3_fail = s3_fail                        # --s3-fail: every dump ends in status error
        self.snaps = Snapshots(store)
        self.step = step                              # bytes a copying task fills per transaction
        self._running: dict[str, int] = {}            # task -> percent copied (Progress while it runs)
        self._lock = threading.Lock()
        with self.db.transaction() as conn:
            for statement in _SCHEMA.split(";"):   # not executescript: it would commit mid-transaction
                if statement.strip():
                    conn.execute(statement)

    def resume(self) -> None:
        """Clones whose copy a stop or crash interrupted go on (tasks are persisted, threads are not)."""
        for (task_uuid,) in self.db.query("SELECT uuid FROM sc_tasks WHERE status=?", (TASK_CLONING,)):
            self._start_copy(task_uuid)

    # --- namespace helpers ------------------------------------------------------------------------
    def _entry(self, path: str):
        """The Entry at ``path`` or None (no owner check: the snapshotclone server checks owners itself)."""
        parent = ROOT_ID
        e = None
        for part in split_curve_path(path):
            e = self.store.entry(parent, part)
            if e is None:
                return None
            parent = e.id
        return e

    def _volume(self, path: str, user: str):
        if not path.startswith("/") or path == "/":
            raise Refusal(BAD_REQUEST, f"File {path!r}: not a volume path (it starts with '/')")
        e = self._entry(path)
        if e is None:
            raise Refusal(NOT_EXIST, f"{path}: no such volume")
        if e.type not in PAGE_TYPES:
            raise Refusal(FILE_STATUS_INVALID, f"{path}: not a volume (type {e.type})")
        if e.owner != user:
            raise Refusal(INVALID_USER, f"{path}: belongs to {e.owner!r}, not {user!r}")
        return e

    def _snapshot(self, snap_uuid: str, user: str, file: str | None = None) -> tuple:
        row = self.db.conn.execute(f"SELECT {_SNAP_COLS} FROM sc_snapshots WHERE uuid=?", (snap_uuid,)).fetchone()
        if row is None:
            raise Refusal(NOT_EXIST, f"snapshot {snap_uuid}: does not exist")
        if row[1] != user:
            raise Refusal(INVALID_USER, f"snapshot {snap_uuid}: belongs to {row[1]!r}, not {user!r}")
        if file is not None and file != row[2]:
            raise Refusal(NAME_MISMATCH, f"snapshot {snap_uuid}: is of {row[2]}, not {file}")
        return row

    def _task(self, task_uuid: str, user: str) -> tuple:
        row = self.db.conn.execute(f"SELECT {_TASK_COLS} FROM sc_tasks WHERE uuid=?", (task_uuid,)).fetchone()
        if row is None:
            raise Refusal(NOT_EXIST, f"clone task {task_uuid}: does not exist")
        if row[1] != user:
            raise Refusal(INVALID_USER, f"clone task {task_uuid}: belongs to {row[1]!r}, not {user!r}")
        return row

    # --- snapshots --------------------------------------------------------------------------------
    def create_snapshot(self, user: str, file: str, name: str) -> dict:
        with self.db.transaction() as conn:
            e = self._volume(file, user)
            pending = conn.execute("SELECT uuid FROM sc_snapshots WHERE user=? AND file=? AND name=? AND status=?",
                                   (user, file, name, SNAP_PENDING)).fetchone()
            if pending:   # the same request again while it runs: the same snapshot
                return {"UUID": pending[0]}
            count = conn.execute("SELECT COUNT(*) FROM curve_layers WHERE file_id=?", (e.id,)).fetchone()[0]
            if count >= MAX_SNAPSHOTS:
                raise Refusal(SNAP_LIMIT, f"{file}: has {count} snapshots, the limit is {MAX_SNAPSHOTS}")
            snap_uuid = str(uuidlib.uuid4())
            info = self.snaps.create_at(e.id, file, f"sc-{snap_uuid}")
            conn.execute(f"INSERT INTO sc_snapshots ({_SNAP_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         (snap_uuid, user, file, name, info["id"], info["seq"], info["ctime"], info["length"],
                          SNAP_ERROR if self.s3_fail else SNAP_DONE))
        if self.s3_fail:
            log.error("snapshot %s of %s: the dump to S3 failed (--s3-fail)", snap_uuid, file)
        return {"UUID": snap_uuid}

    def delete_snapshot(self, user: str, snap_uuid: str, file: str | None) -> dict:
        with self.db.transaction() as conn:
            row = self._snapshot(snap_uuid, user, file)
            if row[8] == SNAP_PENDING:
                raise Refusal(SNAP_UNFINISHED, f"snapshot {snap_uuid}: still being taken")
            users = self.snaps.children(row[4])
            if users:
                names = ", ".join(self.store.path_of(i) for i in users)
                raise Refusal(SNAP_IN_USE, f"snapshot {snap_uuid}: clones still read through it ({names}); "
                                           f"flatten them first")
            file_id = conn.execute("SELECT file_id FROM curve_layers WHERE id=?", (row[4],)).fetchone()[0]
            self.snaps.remove_at(file_id, self.store.path_of(file_id), f"sc-{snap_uuid}")   # cascades the row
        return {}

    def cancel_snapshot(self, user: str, file: str, snap_uuid: str) -> dict:
        with self.db.lock:
            row = self._snapshot(snap_uuid, user, file)
        if row[8] != SNAP_PENDING:
            raise Refusal(CANNOT_CANCEL_FINISHED, f"snapshot {snap_uuid}: already finished (status {row[8]})")
        return {}

    def snapshots(self, filters: dict, limit: int, offset: int) -> dict:
        """Snapshots matching ``filters`` (column -> value), oldest first, one page of them."""
        where = " AND ".join(f"{col}=?" for col in filters) or "1"
        with self.db.lock:
            rows = self.db.conn.execute(f"SELECT {_SNAP_COLS} FROM sc_snapshots WHERE {where} ORDER BY time, uuid",
                                        tuple(filters.values())).fetchall()
        page = rows[offset:offset + limit]
        return {"TotalCount": len(rows), "Snapshots": [
            {"UUID": r[0], "User": r[1], "File": r[2], "SeqNum": r[5], "Name": r[3], "Time": r[6],
             "FileLength": r[7], "Status": r[8], "Progress": 100 if r[8] == SNAP_DONE else 0} for r in page]}

    # --- clone and recover ------------------------------------------------------------------------
    def _destination_dir(self, dest: str, user: str) -> int:
        """The directory a new clone ``dest`` goes in (every ancestor must be the user's)."""
        parts = split_curve_path(dest) if dest.startswith("/") and dest != "/" else []
        if not parts or "//" in dest or dest.endswith("/"):
            raise Refusal(BAD_REQUEST, f"Destination {dest!r}: not a volume path")
        parent = ROOT_ID
        for i, part in enumerate(parts[:-1]):
            e = self.store.entry(parent, part)
            where = "/" + "/".join(parts[:i + 1])
            if e is None:
                raise Refusal(NOT_EXIST, f"{dest}: directory {where} does not exist")
            if e.type != DIR:
                raise Refusal(BAD_REQUEST, f"{dest}: {where} is not a directory")
            if e.owner != user:
                raise Refusal(INVALID_USER, f"{dest}: directory {where} belongs to {e.owner!r}, not {user!r}")
            parent = e.id
        if self.store.entry(parent, parts[-1]) is not None:
            raise Refusal(FILE_EXISTS, f"{dest}: already exists")
        return parent

    def clone(self, user: str, source: str, dest: str, lazy: bool) -> dict:
        task_uuid = str(uuidlib.uuid4())
        with self.db.transaction() as conn:
            busy = conn.execute("SELECT uuid FROM sc_tasks WHERE file=? AND status IN (?, ?, ?)",
                                (dest, TASK_CLONING, TASK_RECOVERING, TASK_META_INSTALLED)).fetchone()
            if busy:
                raise Refusal(TASK_EXISTS, f"{dest}: clone task {busy[0]} for it is not finished")
            parent = self._destination_dir(dest, user)
            temp = None
            if source.startswith("/"):   # a volume: freeze a task layer of it to clone from
                e = self._volume(source, user)
                layer_id = temp = self.snaps.create_at(e.id, source, f"sct-{task_uuid}")["id"]
                src_type = SOURCE_FILE
            else:
                snap = self._snapshot(source, user)
                if snap[8] != SNAP_DONE:
                    raise Refusal(INVALID_SNAPSHOT, f"snapshot {source}: not finished (status {snap[8]})")
                layer_id, src_type = snap[4], SOURCE_SNAPSHOT
            length = conn.execute("SELECT length FROM curve_layers WHERE id=?", (layer_id,)).fetchone()[0]
            file_id = self.store.add(parent, split_curve_path(dest), PAGEFILE, user, length, parent_layer=layer_id)
            status = FileStatus.kFileCloneMetaInstalled if lazy else FileStatus.kFileCloning
            conn.execute("UPDATE curve_files SET clone_layer=?, status=? WHERE id=?", (layer_id, status, file_id))
            conn.execute(f"INSERT INTO sc_tasks ({_TASK_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         (task_uuid, user, dest, source, TYPE_CLONE, TASK_META_INSTALLED if lazy else TASK_CLONING,
                          int(lazy), _now_us(), file_id, src_type, temp))
            if not lazy:
                self.db.after_commit(lambda: self._start_copy(task_uuid))
        return {"UUID": task_uuid}

    def recover(self, user: str, source: str, dest: str, lazy: bool) -> dict:
        if source.startswith("/"):
            raise Refusal(NOT_SUPPORTED, f"Recover from volume {source}: only a snapshot UUID can be recovered")
        task_uuid = str(uuidlib.uuid4())
        with self.db.transaction() as conn:
            snap = self._snapshot(source, user)
            if snap[8] != SNAP_DONE:
                raise Refusal(INVALID_SNAPSHOT, f"snapshot {source}: not finished (status {snap[8]})")
            e = self._volume(dest, user)
            layer_file = conn.execute("SELECT file_id FROM curve_layers WHERE id=?", (snap[4],)).fetchone()[0]
            if e.id != layer_file:
                raise Refusal(NAME_MISMATCH, f"snapshot {source}: is of {snap[2]}, it cannot be recovered "
                                             f"into {dest}")
            if self.busy(dest):
                raise Refusal(FILE_STATUS_INVALID, f"{dest}: open by a client; close it before recovering")
            self.snaps.rollback(dest, user, f"sc-{source}")
            conn.execute(f"INSERT INTO sc_tasks ({_TASK_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         (task_uuid, user, dest, source, TYPE_RECOVER, TASK_DONE, int(lazy), _now_us(), e.id,
                          SOURCE_SNAPSHOT, None))
        return {"UUID": task_uuid}

    def flatten(self, user: str, task_uuid: str) -> dict:
        with self.db.transaction() as conn:
            row = self._task(task_uuid, user)
            if row[5] in (TASK_DONE, TASK_CLONING):   # nothing left to do, or already copying
                return {}
            if row[5] != TASK_META_INSTALLED:
                raise Refusal(FILE_STATUS_INVALID, f"clone task {task_uuid}: status {row[5]} cannot be flattened")
            conn.execute("UPDATE sc_tasks SET status=? WHERE uuid=?", (TASK_CLONING, task_uuid))
            conn.execute("UPDATE curve_files SET status=? WHERE id=?", (FileStatus.kFileCloning, row[8]))
            self.db.after_commit(lambda: self._start_copy(task_uuid))
        return {}

    def _start_copy(self, task_uuid: str) -> None:
        with self._lock:
            if task_uuid in self._running:
                return
            self._running[task_uuid] = 0
        threading.Thread(target=self._copy, args=(task_uuid,), name=f"sc-clone-{task_uuid[:8]}",
                         daemon=True).start()

    def _copy(self, task_uuid: str) -> None:
        """Give a clone its own copy of all it shows, step by step (Progress moves), then drop its link (and
        the task layer, if any). A daemon killed meanwhile resumes the task at start."""
        try:
            with self.db.lock:
                row = self.db.conn.execute(f"SELECT {_TASK_COLS} FROM sc_tasks WHERE uuid=?",
                                           (task_uuid,)).fetchone()
                file_id, temp = row[8], row[10]
                length = self.store.row_of(file_id)[3]
            for lo in range(0, length, self.step):
                hi = min(lo + self.step, length)
                with self.db.transaction():
                    self.snaps.flatten_at(file_id, self.store.path_of(file_id), lo, hi, finish=False)
                with self._lock:
                    self._running[task_uuid] = min(99, hi * 100 // length)
            with self.db.transaction() as conn:
                path = self.store.path_of(file_id)
                self.snaps.flatten_at(file_id, path, length, _BEYOND, finish=True)
                conn.execute("UPDATE sc_tasks SET status=?, temp_layer=NULL WHERE uuid=?", (TASK_DONE, task_uuid))
                if temp is not None:
                    lrow = conn.execute("SELECT file_id, name FROM curve_layers WHERE id=?", (temp,)).fetchone()
                    if lrow is not None:
                        self.snaps.remove_at(lrow[0], self.store.path_of(lrow[0]), lrow[1])
            log.info("clone task %s: %s stands alone", task_uuid, path)
        except Exception:   # the task is marked failed; the daemon goes on
            log.exception("clone task %s failed", task_uuid)
            try:
                with self.db.transaction() as conn:
                    conn.execute("UPDATE sc_tasks SET status=? WHERE uuid=?", (TASK_ERROR, task_uuid))
            except Exception:
                log.exception("clone task %s: cannot record its failure", task_uuid)
        finally:
            with self._lock:
                self._running.pop(task_uuid, None)

    def tasks(self, filters: dict, limit: int, offset: int) -> dict:
        where = " AND ".join(f"{col}=?" for col in filters) or "1"
        with self.db.lock:
            rows = self.db.conn.execute(f"SELECT {_TASK_COLS} FROM sc_tasks WHERE {where} ORDER BY time, uuid",
                                        tuple(filters.values())).fetchall()
        page = rows[offset:offset + limit]
        return {"TotalCount": len(rows), "TaskInfos": [
            {"UUID": r[0], "User": r[1], "File": r[2], "Src": r[3], "TaskType": r[4], "TaskStatus": r[5],
             "IsLazy": bool(r[6]), "NextStep": 0 if r[5] == TASK_DONE else 1, "Time": r[7],
             "Progress": 100 if r[5] == TASK_DONE else self._progress(r[0]), "FileType": r[9]} for r in page]}

    def _progress(self, task_uuid: str) -> int:
        with self._lock:
            return self._running.get(task_uuid, 0)

    def clean_task(self, user: str, task_uuid: str) -> dict:
        with self.db.transaction() as conn:
            row = self._task(task_uuid, user)
            if row[5] in (TASK_CLONING, TASK_RECOVERING, TASK_META_INSTALLED):
                raise Refusal(TASK_UNFINISHED, f"clone task {task_uuid}: not finished (status {row[5]})")
            conn.execute("DELETE FROM sc_tasks WHERE uuid=?", (task_uuid,))
        return {}

    def ref_status(self, user: str, source: str) -> dict:
        """Clones still reading through ``source`` (a volume path or a snapshot UUID)."""
        with self.db.lock:
            if source.startswith("/"):
                self._volume(source, user)
            else:
                self._snapshot(source, user)
            rows = self.db.conn.execute("SELECT user, file, file_id FROM sc_tasks WHERE src=? AND type=? AND "
                                        "status IN (?, ?) ORDER BY time",
                                        (source, TYPE_CLONE, TASK_CLONING, TASK_META_INSTALLED)).fetchall()
        return {"RefStatus": 1 if rows else 0, "TotalCount": len(rows),
                "CloneFileInfo": [{"User": u, "File": f, "Inode": i} for u, f, i in rows]}
