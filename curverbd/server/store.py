"""The local Curve stand-in: Curve's namespace (directories and files with owners) and its volumes.

The namespace lives in the daemon's SQLite database (table ``curve_files``);
each file's data is a sparse file at ``<data-dir>/volumes/<curve path>`` (its
head layer). Snapshots are frozen layers (table ``curve_layers``, data at
``<data-dir>/layers/<id>``); a file whose head has a parent layer (after a
snapshot, or as a clone) is listed in ``curve_heads``. See layers.py and
snapshots.py.
Curve's snapshot and clone fields live here once, for the MDS service and the
RBD catalog alike: a snapshot's seqNum, isProtected and owner (curve_layers),
a clone's source snapshot (curve_files.clone_layer, giving cloneSource and
cloneSn; a snapshot's children are the files naming it) and its readonly flag.
Every refusal is a CurveError carrying the StatusCode Curve's MDS gives for it
(refusal.py): paths must be absolute without ``//`` or a trailing ``/``; every
ancestor directory and the entry itself must belong to the requesting owner;
lengths are whole segments between the minimum and maximum volume size; files
never shrink. /RecycleBin is Curve's (inode 1, the root user's): the methods
here refuse it; the MDS service's rules (curvefs.py) use the entry primitives.
"""
from __future__ import annotations

import errno
import os
import time
import weakref
from typing import NamedTuple

from ..curve.nameserver2 import StatusCode as S
from ..errors import CurveStatus
from .config import ServerConfig
from .db import Database
from .layers import Layer
from .refusal import refused
from .volume import FileState, ReadOnlyClone, Volume

DIRECTORY, PAGEFILE = 0, 1  # Curve FileType
CLONE_PAGEFILE = 5          # release1.5's clone of a local snapshot: a page file with a clone source
PAGE_TYPES = (PAGEFILE, CLONE_PAGEFILE)   # files with data (opened, read and written alike)
FLATTENING = 6              # FileStatus kFileFlattening
ROOT_ID = 0
RECYCLE_BIN = "RecycleBin"  # /RecycleBin is Curve's, owned by the root user
RECYCLE_BIN_ID = 1          # Curve's inode numbers: "/" is 0, /RecycleBin 1, user entries from 2
MAX_NAME_BYTES = 255

_SCHEMA = """
CREATE TABLE IF NOT EXISTS curve_files (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    parent INTEGER NOT NULL,
    name TEXT NOT NULL,
    type INTEGER NOT NULL,
    owner TEXT NOT NULL,
    length INTEGER NOT NULL,
    blocksize INTEGER NOT NULL,
    ctime INTEGER NOT NULL,
    UNIQUE (parent, name)
);
CREATE TABLE IF NOT EXISTS curve_layers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    file_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    parent INTEGER,
    length INTEGER NOT NULL,
    ctime INTEGER NOT NULL,
    UNIQUE (file_id, name)
);
CREATE TABLE IF NOT EXISTS curve_heads (
    file_id INTEGER PRIMARY KEY,
    parent INTEGER NOT NULL
);
"""
# FileInfo fields added with the MDS service (ALTER TABLE on older databases)
_COLUMNS = (
    ("seq", "INTEGER NOT NULL DEFAULT 1"),           # seqNum
    ("status", "INTEGER NOT NULL DEFAULT 0"),        # fileStatus
    ("origin", "TEXT"),                              # originalFullPathName (in /RecycleBin)
    ("stripe_unit", "INTEGER NOT NULL DEFAULT 0"),
    ("stripe_count", "INTEGER NOT NULL DEFAULT 0"),
    # release1.5's clone link (cloneSource and cloneSn are those of this snapshot layer) and readonly
    ("clone_layer", "INTEGER"),
    ("readonly", "INTEGER NOT NULL DEFAULT 0"),
)
# A snapshot's own Curve fields: seqNum, isProtected and owner (its children are the files whose
# clone_layer it is: one source for RBD's and Curve's view of protection and clone links)
_LAYER_COLUMNS = (
    ("seq", "INTEGER"),
    ("protected", "INTEGER NOT NULL DEFAULT 0"),
    ("owner", "TEXT"),
)


def check_name(name: str, what: str, max_bytes: int = MAX_NAME_BYTES) -> None:
    """A path component or owner: non-empty, no '/', NUL or control characters, not '.'/'..', bounded."""
    if not isinstance(name, str) or not name:
        raise refused(S.kParaError, f"{what} {name!r}: must be a non-empty string")
    if "/" in name or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise refused(S.kParaError, f"{what} {name!r}: contains '/' or a control character")
    if name in (".", ".."):
        raise refused(S.kParaError, f"{what} {name!r}: '.' and '..' are not names")
    if len(name.encode()) > max_bytes:
        raise refused(S.kParaError, f"{what} {name[:40]!r}...: longer than {max_bytes} bytes")


def check_owner(owner: str) -> None:
    """Curve owners travel in nebd names as ``_<owner>_``, so they can never contain '_'."""
    check_name(owner, "owner")
    if "_" in owner:
        raise refused(S.kParaError, f"owner {owner!r}: must not contain '_'")


def split_curve_path(path: str) -> list[str]:
    """Components of a path already found valid (no name rules applied again)."""
    return [part for part in path.split("/") if part]


def split_path(path: str) -> list[str]:
    """Components of a Curve absolute path (isPathValid's rules), each a valid name."""
    if not isinstance(path, str) or not path.startswith("/"):
        raise refused(S.kParaError, f"path {path!r}: must be absolute")
    if path == "/":
        return []
    if "//" in path or path.endswith("/"):
        raise refused(S.kParaError, f"path {path!r}: no '//' and no trailing '/' allowed")
    parts = path[1:].split("/")
    for part in parts:
        check_name(part, f"path {path!r}: component")
    return parts


class Entry(NamedTuple):
    """One row of curve_files: what Curve's FileInfo says of a file or directory."""
    id: int
    parent: int
    name: str
    type: int
    owner: str
    length: int
    blocksize: int
    ctime: int
    seq: int
    status: int
    origin: str | None          # originalFullPathName, set while in /RecycleBin
    stripe_unit: int
    stripe_count: int
    clone_layer: int | None = None   # the snapshot (layer id) a clone was made from
    readonly: int = 0                # a read-only clone (release1.5's Clone readonly=true)


_ENTRY = ("SELECT id, parent, name, type, owner, length, blocksize, ctime, seq, status, origin, stripe_unit, "
          "stripe_count, clone_layer, readonly FROM curve_files")


class Store:
    """Curve's namespace and volumes, with Curve's rules (see the module docstring)."""

    def __init__(self, db: Database, config: ServerConfig) -> None:
        self.db = db
        self.config = config
        self.root = config.volumes_dir
        self.layers_dir = os.path.join(config.data_dir, "layers")
        os.makedirs(self.root, exist_ok=True)
        os.makedirs(self.layers_dir, exist_ok=True)
        with db.transaction() as conn:
            for sql in _SCHEMA.split(";"):
                if sql.strip():
                    conn.execute(sql)
            have = {r[1] for r in conn.execute("PRAGMA table_info(curve_files)")}
            for name, decl in _COLUMNS:  # databases from before the MDS service lack them
                if name not in have:
                    conn.execute(f"ALTER TABLE curve_files ADD COLUMN {name} {decl}")
            have = {r[1] for r in conn.execute("PRAGMA table_info(curve_layers)")}
            for name, decl in _LAYER_COLUMNS:
                if name not in have:
                    conn.execute(f"ALTER TABLE curve_layers ADD COLUMN {name} {decl}")
            self._number_old_snapshots(conn)
            self._init_recycle_bin(conn)
        self._remove_orphan_layers()
        # one shared FileState per open file, so an extend or a new head is seen by every open handle
        self._states: "weakref.WeakValueDictionary[int, FileState]" = weakref.WeakValueDictionary()
        # one Layer object per frozen layer in use, so re-linking a parent is seen by every reader
        self._layers: "weakref.WeakValueDictionary[int, Layer]" = weakref.WeakValueDictionary()

    @staticmethod
    def _number_old_snapshots(conn) -> None:
        """Snapshots from before seqNums were kept get one each, oldest first, from their file's seq
        (as if taken by CreateSnapShot: the file's seq is the snapshot's, then it grows by one)."""
        rows = conn.execute("SELECT l.id, l.file_id, f.owner FROM curve_layers l JOIN curve_files f "
                            "ON f.id = l.file_id WHERE l.seq IS NULL ORDER BY l.id").fetchall()
        for layer_id, file_id, owner in rows:
            seq = conn.execute("SELECT seq FROM curve_files WHERE id=?", (file_id,)).fetchone()[0]
            conn.execute("UPDATE curve_layers SET seq=?, owner=COALESCE(owner, ?) WHERE id=?",
                         (seq, owner, layer_id))
            conn.execute("UPDATE curve_files SET seq=? WHERE id=?", (seq + 1, file_id))

    def _init_recycle_bin(self, conn) -> None:
        """/RecycleBin is inode 1, owned by the root user, as Curve's MDS makes it at start."""
        root = self.config.root_user
        row = conn.execute("SELECT id, type, owner FROM curve_files WHERE parent=? AND name=?",
                           (ROOT_ID, RECYCLE_BIN)).fetchone()
        if row is not None:
            if row != (RECYCLE_BIN_ID, DIRECTORY, root):
                # Curve's MDS refuses to start on a wrong RecycleBin too (InitRecycleBinDir)
                raise refused(S.KInternalError, f"/{RECYCLE_BIN} is inode {row[0]} of type {row[1]} owned by "
                                                f"{row[2]!r}; it must be directory inode {RECYCLE_BIN_ID} owned "
                                                f"by the root user {root!r} (--root-user)")
            return
        if conn.execute("SELECT 1 FROM curve_files WHERE id=?", (RECYCLE_BIN_ID,)).fetchone():
            # a database from before the MDS service gave inode 1 to a user file: give it a new id
            new = conn.execute("INSERT INTO curve_files (parent, name, type, owner, length, blocksize, ctime) "
                               "SELECT parent, name || '.renumbered', type, owner, length, blocksize, ctime "
                               "FROM curve_files WHERE id=?", (RECYCLE_BIN_ID,)).lastrowid
            name = conn.execute("SELECT name FROM curve_files WHERE id=?", (RECYCLE_BIN_ID,)).fetchone()[0]
            conn.execute("DELETE FROM curve_files WHERE id=?", (RECYCLE_BIN_ID,))
            conn.execute("UPDATE curve_files SET name=? WHERE id=?", (name, new))
            conn.execute("UPDATE curve_files SET parent=? WHERE parent=?", (new, RECYCLE_BIN_ID))
            conn.execute("UPDATE curve_layers SET file_id=? WHERE file_id=?", (new, RECYCLE_BIN_ID))
            conn.execute("UPDATE curve_heads SET file_id=? WHERE file_id=?", (new, RECYCLE_BIN_ID))
        conn.execute("INSERT INTO curve_files (id, parent, name, type, owner, length, blocksize, ctime) "
                     "VALUES (?, ?, ?, ?, ?, 0, 0, ?)", (RECYCLE_BIN_ID, ROOT_ID, RECYCLE_BIN, DIRECTORY, root,
                                                        _now_us()))

    # --- entries: the primitives both the catalog's rules and the MDS's (curvefs.py) use -----------
    def entry(self, parent: int, name: str) -> Entry | None:
        row = self.db.conn.execute(_ENTRY + " WHERE parent=? AND name=?", (parent, name)).fetchone()
        return Entry(*row) if row else None

    def entries(self, parent: int) -> list[Entry]:
        """The entries of directory ``parent`` in byte order of their names (Curve's etcd key order)."""
        rows = self.db.conn.execute(_ENTRY + " WHERE parent=? ORDER BY CAST(name AS BLOB)", (parent,))
        return [Entry(*r) for r in rows]

    def add(self, parent: int, parts: list[str], ftype: int, owner: str, length: int = 0,
            stripe: tuple[int, int] = (0, 0), parent_layer: int | None = None) -> int:
        """A new directory or (sparse) file ``parts`` in directory ``parent``; its id. Call in a transaction."""
        conn = self.db.conn
        blocksize = self.config.block_size if ftype in PAGE_TYPES else 0
        cur = conn.execute("INSERT INTO curve_files (parent, name, type, owner, length, blocksize, ctime, "
                           "stripe_unit, stripe_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           (parent, parts[-1], ftype, owner, length, blocksize, _now_us(), *stripe))
        if ftype in PAGE_TYPES:
            if parent_layer is not None:
                conn.execute("INSERT INTO curve_heads VALUES (?, ?)", (cur.lastrowid, parent_layer))
            data = self.data_path(parts)
            os.makedirs(os.path.dirname(data), exist_ok=True)
            os.close(self.new_data_file(data, length))
        return cur.lastrowid

    def move(self, file_id: int, old: str, new_parent: int, new: str, origin: str | None = None) -> None:
        """Give file ``file_id`` (at path ``old``) the path ``new`` in directory ``new_parent``, data file
        and all; open handles keep working. ``origin``: its originalFullPathName (in /RecycleBin)."""
        new_parts = split_curve_path(new)
        self.db.conn.execute("UPDATE curve_files SET parent=?, name=?, origin=? WHERE id=?",
                             (new_parent, new_parts[-1], origin, file_id))
        source, target = self.data_path(split_curve_path(old)), self.data_path(new_parts)
        if os.path.exists(source):   # directories have no data file until a file is made in them
            try:
                os.makedirs(os.path.dirname(target), exist_ok=True)
                os.rename(source, target)
            except OSError as exc:
                raise refused(S.kStorageError, f"{old}: cannot move its data to {target}: {exc.strerror}",
                              CurveStatus.DISK_FAIL) from None
            # a later step of the transaction may fail: the data goes back with the database
            self.db.on_rollback(lambda: os.rename(target, source))
        state = self._states.get(file_id)
        if state is not None:
            state.path = new
            self.db.on_rollback(lambda: setattr(state, "path", old))

    def drop(self, file_id: int, path: str) -> None:
        """Forget file or directory ``file_id`` at ``path`` and its data (no checks). Call in a transaction."""
        conn = self.db.conn
        conn.execute("DELETE FROM curve_files WHERE id=?", (file_id,))
        conn.execute("DELETE FROM curve_heads WHERE file_id=?", (file_id,))
        data = self.data_path(split_curve_path(path))
        try:
            if os.path.isdir(data):
                os.rmdir(data)
            else:
                os.unlink(data)
        except FileNotFoundError:
            pass

    def resize(self, file_id: int, path: str, length: int) -> None:
        """Set the length of file ``file_id`` at ``path`` (no checks). Call in a transaction."""
        self.db.conn.execute("UPDATE curve_files SET length=? WHERE id=?", (length, file_id))
        os.truncate(self.data_path(split_curve_path(path)), length)
        state = self._states.get(file_id)
        if state is not None:
            state.length = state.head.length = length

    def set_owner(self, file_id: int, owner: str) -> None:
        self.db.conn.execute("UPDATE curve_files SET owner=? WHERE id=?", (owner, file_id))

    def has_snapshots(self, file_id: int) -> bool:
        return self.db.conn.execute("SELECT 1 FROM curve_layers WHERE file_id=? LIMIT 1",
                                    (file_id,)).fetchone() is not None

    def file_allocated(self, file_id: int, path: str) -> int:
        """Bytes the data of file ``file_id`` at ``path`` really occupies: its head and its snapshots."""
        try:
            used = os.stat(self.data_path(split_curve_path(path))).st_blocks * 512
        except FileNotFoundError:
            used = 0
        with self.db.lock:
            ids = [r[0] for r in self.db.conn.execute("SELECT id FROM curve_layers WHERE file_id=?", (file_id,))]
        for layer_id in ids:
            try:
                used += os.stat(self.layer_path(layer_id)).st_blocks * 512
            except FileNotFoundError:
                pass
        return used

    # --- namespace walk -------------------------------------------------------------------------
    def _walk(self, path: str, owner: str, *, want_self_owner: bool = True):
        """(parts, parent_id, row or None); checks owner on every ancestor and (if present) the entry."""
        check_owner(owner)
        parts = split_path(path)
        if not parts:
            raise refused(S.kParaError, "path '/': the root is not a file")
        if parts[0] == RECYCLE_BIN:
            raise refused(S.kOwnerAuthFail, f"path {path!r}: /{RECYCLE_BIN} is reserved by Curve")
        parent = ROOT_ID
        conn = self.db.conn
        for i, part in enumerate(parts[:-1]):
            row = conn.execute("SELECT id, type, owner FROM curve_files WHERE parent=? AND name=?",
                               (parent, part)).fetchone()
            where = "/" + "/".join(parts[:i + 1])
            if row is None:
                raise refused(S.kFileNotExists, f"{path}: directory {where} does not exist")
            if row[1] != DIRECTORY:  # an ENOENT to the daemon's clients, as it always was
                raise refused(S.kNotDirectory, f"{path}: {where} is not a directory", CurveStatus.NOTEXIST)
            if row[2] != owner:
                raise refused(S.kOwnerAuthFail, f"{path}: directory {where} is not owned by {owner!r}")
            parent = row[0]
        row = conn.execute("SELECT id, type, owner, length, blocksize, ctime FROM curve_files "
                           "WHERE parent=? AND name=?", (parent, parts[-1])).fetchone()
        if row is not None and want_self_owner and row[2] != owner:
            raise refused(S.kOwnerAuthFail, f"{path}: not owned by {owner!r}")
        return parts, parent, row

    def _existing(self, path: str, owner: str, ftype: int):
        with self.db.lock:
            parts, parent, row = self._walk(path, owner)
        if row is None:
            raise refused(S.kFileNotExists, f"{path}: does not exist")
        if row[1] != ftype and not (ftype == PAGEFILE and row[1] in PAGE_TYPES):
            kind = "directory" if ftype == DIRECTORY else "file"
            raise refused(S.kParaError, f"{path}: not a {kind}")
        return parts, parent, row

    def data_path(self, parts: list[str]) -> str:
        return os.path.join(self.root, *parts)

    # --- directories ----------------------------------------------------------------------------
    def mkdir(self, path: str, owner: str) -> None:
        with self.db.transaction():
            parts, parent, row = self._walk(path, owner, want_self_owner=False)
            if row is not None:
                raise refused(S.kFileExists, f"{path}: already exists")
            self.add(parent, parts, DIRECTORY, owner)

    def rmdir(self, path: str, owner: str) -> None:
        with self.db.transaction() as conn:
            _, _, row = self._existing(path, owner, DIRECTORY)
            if conn.execute("SELECT 1 FROM curve_files WHERE parent=? LIMIT 1", (row[0],)).fetchone():
                raise refused(S.kDirNotEmpty, f"{path}: directory not empty")
            self.drop(row[0], path)

    def listdir(self, path: str, owner: str) -> list[str]:
        with self.db.lock:
            if path == "/":
                check_owner(owner)
                rows = self.db.conn.execute("SELECT name FROM curve_files WHERE parent=? AND owner=? "
                                            "ORDER BY name", (ROOT_ID, owner)).fetchall()
                return [r[0] for r in rows]
            _, _, row = self._existing(path, owner, DIRECTORY)
            rows = self.db.conn.execute("SELECT name FROM curve_files WHERE parent=? ORDER BY name",
                                        (row[0],)).fetchall()
        return [r[0] for r in rows]

    # --- files ----------------------------------------------------------------------------------
    def check_length(self, path: str, length: int) -> None:
        """Curve's CreateFile length rule: whole segments between the minimum and maximum volume size."""
        cfg = self.config
        if not isinstance(length, int) or isinstance(length, bool):
            raise refused(S.kParaError, f"{path}: length {length!r} is not an integer")
        if not cfg.min_volume_size <= length <= cfg.max_volume_size or length % cfg.segment_size:
            raise refused(S.kFileLengthNotSupported,
                          f"{path}: LENGTH_NOT_SUPPORT: length {length} must be a multiple of "
                          f"{cfg.segment_size} between {cfg.min_volume_size} and {cfg.max_volume_size}")

    def create(self, path: str, owner: str, length: int, parent_layer: int | None = None) -> int:
        """A new volume of ``length`` bytes (sparse: no space is used until written); its file id.
        With ``parent_layer`` (a clone) its unwritten grains show that frozen layer."""
        self.check_length(path, length)
        with self.db.transaction():
            parts, parent, row = self._walk(path, owner, want_self_owner=False)
            if row is not None:
                raise refused(S.kFileExists, f"{path}: already exists")
            return self.add(parent, parts, PAGEFILE, owner, length, parent_layer=parent_layer)

    @staticmethod
    def new_data_file(path: str, length: int) -> int:
        """An empty sparse file of ``length`` bytes at ``path`` (replacing any), open read-write."""
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            os.ftruncate(fd, length)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def unlink(self, path: str, owner: str) -> None:
        with self.db.transaction():
            _, _, row = self._existing(path, owner, PAGEFILE)
            if self.has_snapshots(row[0]):
                raise refused(S.kFileUnderSnapShot, f"{path}: has snapshots")
            self.drop(row[0], path)

    def rename(self, owner: str, old: str, new: str) -> None:
        """Move a file (and its data file); open handles keep working."""
        with self.db.transaction():
            _, _, row = self._existing(old, owner, PAGEFILE)
            _, new_parent, clash = self._walk(new, owner, want_self_owner=False)
            if clash is not None:
                raise refused(S.kFileExists, f"{new}: already exists")
            self.move(row[0], old, new_parent, new)

    def extend(self, path: str, owner: str, length: int) -> None:
        """Grow a volume (Curve ExtendFile): never shrinks, grows by whole segments."""
        with self.db.transaction():
            _, _, row = self._existing(path, owner, PAGEFILE)
            if row[1] == CLONE_PAGEFILE:
                raise refused(S.kNotSupported, f"{path}: a clone of a snapshot cannot be extended (flatten it first)")
            old = row[3]
            if length == old:
                return
            if length < old:
                raise refused(S.kShrinkBiggerFile,
                              f"{path}: NO_SHRINK_BIGGER_FILE: {length} is smaller than the length {old}")
            self.check_length(path, length)
            self.resize(row[0], path, length)

    def stat(self, path: str, owner: str) -> dict:
        """Curve's FileInfo_t fields for a file or directory."""
        with self.db.lock:
            parts, parent, row = self._walk(path, owner)
        if row is None:
            raise refused(S.kFileNotExists, f"{path}: does not exist")
        return {"id": row[0], "parentid": parent, "filetype": row[1], "filename": parts[-1], "owner": row[2],
                "length": row[3], "blocksize": row[4], "ctime": row[5], "fileStatus": 0}

    def allocated(self, path: str) -> int:
        """Bytes the data of ``path`` really occupies (its head and its snapshots); no owner check."""
        with self.db.lock:
            file_id = self._id_of(path)
        if file_id is None:
            return 0
        return self.file_allocated(file_id, path)

    def _id_of(self, path: str) -> int | None:
        """The id of the entry at ``path``, whoever owns it; None if there is none."""
        parent = ROOT_ID
        for part in split_path(path):
            row = self.db.conn.execute("SELECT id FROM curve_files WHERE parent=? AND name=?",
                                       (parent, part)).fetchone()
            if row is None:
                return None
            parent = row[0]
        return parent

    def open(self, path: str, owner: str) -> Volume:
        """An I/O handle on the file ``path`` (Curve Open). Like Curve, no snapshot opens: ``vol@snap`` is
        an ordinary (missing) name."""
        with self.db.lock:
            _, row = self.existing_file(path, owner)
            state = self.state(row, path)
            if self.db.conn.execute("SELECT readonly FROM curve_files WHERE id=?", (row[0],)).fetchone()[0]:
                return ReadOnlyClone(state, self.config.align_check)
            return Volume(state, self.config.align_check)

    # --- layers ---------------------------------------------------------------------------------
    def existing_file(self, path: str, owner: str) -> tuple[list[str], tuple]:
        """(components, row) of the file ``path`` (Curve's errors if missing or not ``owner``'s)."""
        parts, _, row = self._existing(path, owner, PAGEFILE)
        return parts, row

    def layer_path(self, layer_id: int) -> str:
        return os.path.join(self.layers_dir, str(layer_id))

    def layer(self, layer_id: int) -> Layer:
        """The (shared) Layer object of frozen layer ``layer_id``, with its parents.

        Loaded without recursion: a volume may have a thousand snapshots (snapshotcloneserver's limit
        is 1024), a chain deeper than Python's recursion limit."""
        with self.db.lock:
            todo: list[tuple[int, int, int]] = []   # (id, file_id, length), down to the first one open
            below: Layer | None = None
            next_id: int | None = layer_id
            while next_id is not None:
                below = self._layers.get(next_id)
                if below is not None:
                    break
                row = self.db.conn.execute("SELECT file_id, parent, length FROM curve_layers WHERE id=?",
                                           (next_id,)).fetchone()
                if row is None:
                    raise refused(S.KInternalError, f"layer {next_id} is missing from the database")
                todo.append((next_id, row[0], row[2]))
                next_id = row[1]
            for lid, file_id, length in reversed(todo):
                try:
                    fd = os.open(self.layer_path(lid), os.O_RDWR | os.O_CLOEXEC)
                except OSError as exc:
                    raise refused(S.kStorageError, f"layer {lid}: data file unusable: "
                                                    f"{os.strerror(exc.errno or errno.EIO)}",
                                  CurveStatus.DISK_FAIL) from exc
                below = self._layers[lid] = Layer(lid, file_id, fd, length, below)
            assert below is not None
            return below

    def adopt_layer(self, layer: Layer) -> None:
        """Register a head that was just frozen as layer ``layer.id``."""
        self._layers[layer.id] = layer

    def forget_layer(self, layer_id: int) -> None:
        self._layers.pop(layer_id, None)

    def _remove_orphan_layers(self) -> None:
        """Layer files the database does not know: left by a crash before a snapshot committed."""
        known = {str(r[0]) for r in self.db.query("SELECT id FROM curve_layers")}
        for name in os.listdir(self.layers_dir):
            if name not in known:
                os.unlink(os.path.join(self.layers_dir, name))

    def state(self, row: tuple, path: str) -> FileState:
        """The shared FileState of the file ``row`` at ``path`` (its head layer opened on first use)."""
        with self.db.lock:
            state = self._states.get(row[0])
            if state is not None:
                return state
            found = self.db.conn.execute("SELECT parent FROM curve_heads WHERE file_id=?", (row[0],)).fetchone()
            parent = self.layer(found[0]) if found else None
            data = self.data_path(split_path(path))
            try:
                fd = os.open(data, os.O_RDWR | os.O_CLOEXEC)
                if parent is not None and os.fstat(fd).st_ino == os.fstat(parent.fd).st_ino:
                    # a crash between a snapshot's commit and its new head: give it the new head now
                    os.close(fd)
                    fd = self.new_data_file(data + ".new", row[3])
                    os.rename(data + ".new", data)
            except OSError as exc:
                raise refused(S.kStorageError, f"{path}: data file unusable: {os.strerror(exc.errno or errno.EIO)}",
                              CurveStatus.DISK_FAIL) from exc
            state = FileState(row[0], path, row[3], row[4], Layer(None, row[0], fd, row[3], parent))
            self._states[row[0]] = state
            return state

    def path_of(self, file_id: int) -> str:
        """The Curve path of file ``file_id``."""
        parts = []
        while file_id != ROOT_ID:
            row = self.db.conn.execute("SELECT parent, name FROM curve_files WHERE id=?", (file_id,)).fetchone()
            if row is None:
                raise refused(S.KInternalError, f"file {file_id} is missing from the database")
            parts.append(row[1])
            file_id = row[0]
        return "/" + "/".join(reversed(parts))

    def row_of(self, file_id: int) -> tuple:
        """(id, type, owner, length, blocksize, ctime) of file ``file_id``, as the namespace walk gives it."""
        row = self.db.conn.execute("SELECT id, type, owner, length, blocksize, ctime FROM curve_files WHERE id=?",
                                   (file_id,)).fetchone()
        if row is None:
            raise refused(S.kFileNotExists, f"file {file_id} does not exist")
        return row

    def state_of(self, file_id: int) -> FileState:
        """The FileState of file ``file_id`` (no owner check: for re-linking layers other files use)."""
        with self.db.lock:
            path = self.path_of(file_id)
            row = self.db.conn.execute("SELECT id, type, owner, length, blocksize FROM curve_files WHERE id=?",
                                       (file_id,)).fetchone()
            return self.state(row, path)


def _now_us() -> int:
    return int(time.time() * 1_000_000)
