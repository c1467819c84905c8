"""The local Curve stand-in: Curve's namespace (directories and files with owners) and its volumes.

The namespace lives in the daemon's SQLite database (table ``curve_files``);
each file's data is a sparse file at ``<data-dir>/volumes/<curve path>`` (its
head layer). Snapshots are frozen layers (table ``curve_layers``, data at
``<data-dir>/layers/<id>``); a file whose head has a parent layer (after a
snapshot, or as a clone) is listed in ``curve_heads``. See layers.py and
snapshots.py. A snapshot is opened read-only by the path ``<file>@<snapshot>``.
Every refusal is a CurveError with the status Curve's MDS or client would give:
paths must be absolute without ``//`` or a trailing ``/``; every ancestor
directory and the entry itself must belong to the requesting owner; lengths are
whole segments between the minimum and maximum volume size; files never shrink.
"""
from __future__ import annotations

import errno
import os
import time
import weakref

from ..errors import CurveError, CurveStatus
from .config import ServerConfig
from .db import Database
from .layers import Layer
from .volume import FileState, SnapshotView, Volume

DIRECTORY, PAGEFILE = 0, 1  # Curve FileType
ROOT_ID = 0
RECYCLE_BIN = "RecycleBin"  # /RecycleBin is Curve's, owned by root
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


def check_name(name: str, what: str, max_bytes: int = MAX_NAME_BYTES) -> None:
    """A path component or owner: non-empty, no '/', NUL or control characters, not '.'/'..', bounded."""
    if not isinstance(name, str) or not name:
        raise CurveError(CurveStatus.PARAM_ERROR, f"{what} {name!r}: must be a non-empty string")
    if "/" in name or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise CurveError(CurveStatus.PARAM_ERROR, f"{what} {name!r}: contains '/' or a control character")
    if name in (".", ".."):
        raise CurveError(CurveStatus.PARAM_ERROR, f"{what} {name!r}: '.' and '..' are not names")
    if len(name.encode()) > max_bytes:
        raise CurveError(CurveStatus.PARAM_ERROR, f"{what} {name[:40]!r}...: longer than {max_bytes} bytes")


def check_owner(owner: str) -> None:
    """Curve owners travel in nebd names as ``_<owner>_``, so they can never contain '_'."""
    check_name(owner, "owner")
    if "_" in owner:
        raise CurveError(CurveStatus.PARAM_ERROR, f"owner {owner!r}: must not contain '_'")


def split_path(path: str) -> list[str]:
    """Components of a Curve absolute path (isPathValid's rules), each a valid name."""
    if not isinstance(path, str) or not path.startswith("/"):
        raise CurveError(CurveStatus.PARAM_ERROR, f"path {path!r}: must be absolute")
    if path == "/":
        return []
    if "//" in path or path.endswith("/"):
        raise CurveError(CurveStatus.PARAM_ERROR, f"path {path!r}: no '//' and no trailing '/' allowed")
    parts = path[1:].split("/")
    for part in parts:
        check_name(part, f"path {path!r}: component")
    return parts


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
        self._remove_orphan_layers()
        # one shared FileState per open file, so an extend or a new head is seen by every open handle
        self._states: "weakref.WeakValueDictionary[int, FileState]" = weakref.WeakValueDictionary()
        # one Layer object per frozen layer in use, so re-linking a parent is seen by every reader
        self._layers: "weakref.WeakValueDictionary[int, Layer]" = weakref.WeakValueDictionary()

    # --- namespace walk -------------------------------------------------------------------------
    def _walk(self, path: str, owner: str, *, want_self_owner: bool = True):
        """(parts, parent_id, row or None); checks owner on every ancestor and (if present) the entry."""
        check_owner(owner)
        parts = split_path(path)
        if not parts:
            raise CurveError(CurveStatus.PARAM_ERROR, "path '/': the root is not a file")
        if parts[0] == RECYCLE_BIN:
            raise CurveError(CurveStatus.AUTHFAIL, f"path {path!r}: /{RECYCLE_BIN} is reserved by Curve")
        parent = ROOT_ID
        conn = self.db.conn
        for i, part in enumerate(parts[:-1]):
            row = conn.execute("SELECT id, type, owner FROM curve_files WHERE parent=? AND name=?",
                               (parent, part)).fetchone()
            where = "/" + "/".join(parts[:i + 1])
            if row is None or row[1] != DIRECTORY:
                raise CurveError(CurveStatus.NOTEXIST, f"{path}: directory {where} does not exist")
            if row[2] != owner:
                raise CurveError(CurveStatus.AUTHFAIL, f"{path}: directory {where} is not owned by {owner!r}")
            parent = row[0]
        row = conn.execute("SELECT id, type, owner, length, blocksize, ctime FROM curve_files "
                           "WHERE parent=? AND name=?", (parent, parts[-1])).fetchone()
        if row is not None and want_self_owner and row[2] != owner:
            raise CurveError(CurveStatus.AUTHFAIL, f"{path}: not owned by {owner!r}")
        return parts, parent, row

    def _existing(self, path: str, owner: str, ftype: int):
        with self.db.lock:
            parts, parent, row = self._walk(path, owner)
        if row is None:
            raise CurveError(CurveStatus.NOTEXIST, f"{path}: does not exist")
        if row[1] != ftype:
            kind = "directory" if ftype == DIRECTORY else "file"
            raise CurveError(CurveStatus.PARAM_ERROR, f"{path}: not a {kind}")
        return parts, parent, row

    def data_path(self, parts: list[str]) -> str:
        return os.path.join(self.root, *parts)

    # --- directories ----------------------------------------------------------------------------
    def mkdir(self, path: str, owner: str) -> None:
        with self.db.transaction() as conn:
            parts, parent, row = self._walk(path, owner, want_self_owner=False)
            if row is not None:
                raise CurveError(CurveStatus.EXISTS, f"{path}: already exists")
            conn.execute("INSERT INTO curve_files (parent, name, type, owner, length, blocksize, ctime) "
                         "VALUES (?, ?, ?, ?, 0, 0, ?)", (parent, parts[-1], DIRECTORY, owner, _now_us()))

    def rmdir(self, path: str, owner: str) -> None:
        with self.db.transaction() as conn:
            parts, _, row = self._existing(path, owner, DIRECTORY)
            if conn.execute("SELECT 1 FROM curve_files WHERE parent=? LIMIT 1", (row[0],)).fetchone():
                raise CurveError(CurveStatus.NOT_EMPTY, f"{path}: directory not empty")
            conn.execute("DELETE FROM curve_files WHERE id=?", (row[0],))
            try:
                os.rmdir(self.data_path(parts))
            except FileNotFoundError:
                pass

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
    def _check_length(self, path: str, length: int) -> None:
        cfg = self.config
        if not isinstance(length, int) or isinstance(length, bool):
            raise CurveError(CurveStatus.PARAM_ERROR, f"{path}: length {length!r} is not an integer")
        if not cfg.min_volume_size <= length <= cfg.max_volume_size or length % cfg.segment_size:
            raise CurveError(CurveStatus.LENGTH_NOT_SUPPORT,
                             f"{path}: LENGTH_NOT_SUPPORT: length {length} must be a multiple of "
                             f"{cfg.segment_size} between {cfg.min_volume_size} and {cfg.max_volume_size}")

    def create(self, path: str, owner: str, length: int, parent_layer: int | None = None) -> int:
        """A new volume of ``length`` bytes (sparse: no space is used until written); its file id.
        With ``parent_layer`` (a clone) its unwritten grains show that frozen layer."""
        self._check_length(path, length)
        with self.db.transaction() as conn:
            parts, parent, row = self._walk(path, owner, want_self_owner=False)
            if row is not None:
                raise CurveError(CurveStatus.EXISTS, f"{path}: already exists")
            cur = conn.execute("INSERT INTO curve_files (parent, name, type, owner, length, blocksize, ctime) "
                               "VALUES (?, ?, ?, ?, ?, ?, ?)",
                               (parent, parts[-1], PAGEFILE, owner, length, self.config.block_size, _now_us()))
            if parent_layer is not None:
                conn.execute("INSERT INTO curve_heads VALUES (?, ?)", (cur.lastrowid, parent_layer))
            data = self.data_path(parts)
            os.makedirs(os.path.dirname(data), exist_ok=True)
            os.close(self.new_data_file(data, length))
            return cur.lastrowid

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
        with self.db.transaction() as conn:
            parts, _, row = self._existing(path, owner, PAGEFILE)
            if conn.execute("SELECT 1 FROM curve_layers WHERE file_id=? LIMIT 1", (row[0],)).fetchone():
                raise CurveError(CurveStatus.UNDER_SNAPSHOT, f"{path}: has snapshots")
            conn.execute("DELETE FROM curve_files WHERE id=?", (row[0],))
            conn.execute("DELETE FROM curve_heads WHERE file_id=?", (row[0],))
            try:
                os.unlink(self.data_path(parts))
            except FileNotFoundError:
                pass

    def rename(self, owner: str, old: str, new: str) -> None:
        """Move a file (and its data file); open handles keep working."""
        with self.db.transaction() as conn:
            old_parts, _, row = self._existing(old, owner, PAGEFILE)
            new_parts, new_parent, clash = self._walk(new, owner, want_self_owner=False)
            if clash is not None:
                raise CurveError(CurveStatus.EXISTS, f"{new}: already exists")
            conn.execute("UPDATE curve_files SET parent=?, name=? WHERE id=?", (new_parent, new_parts[-1], row[0]))
            target = self.data_path(new_parts)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            os.rename(self.data_path(old_parts), target)
            state = self._states.get(row[0])
            if state is not None:
                state.path = new

    def extend(self, path: str, owner: str, length: int) -> None:
        """Grow a volume (Curve ExtendFile): never shrinks, grows by whole segments."""
        with self.db.transaction() as conn:
            parts, _, row = self._existing(path, owner, PAGEFILE)
            old = row[3]
            if length == old:
                return
            if length < old:
                raise CurveError(CurveStatus.NO_SHRINK_BIGGER_FILE,
                                 f"{path}: NO_SHRINK_BIGGER_FILE: {length} is smaller than the length {old}")
            self._check_length(path, length)
            conn.execute("UPDATE curve_files SET length=? WHERE id=?", (length, row[0]))
            os.truncate(self.data_path(parts), length)
            state = self._states.get(row[0])
            if state is not None:
                state.length = state.head.length = length

    def stat(self, path: str, owner: str) -> dict:
        """Curve's FileInfo_t fields for a file or directory."""
        with self.db.lock:
            parts, parent, row = self._walk(path, owner)
        if row is None:
            raise CurveError(CurveStatus.NOTEXIST, f"{path}: does not exist")
        return {"id": row[0], "parentid": parent, "filetype": row[1], "filename": parts[-1], "owner": row[2],
                "length": row[3], "blocksize": row[4], "ctime": row[5], "fileStatus": 0}

    def allocated(self, path: str) -> int:
        """Bytes the data of ``path`` really occupies (its head and its snapshots); no owner check."""
        try:
            used = os.stat(self.data_path(split_path(path))).st_blocks * 512
        except FileNotFoundError:
            return 0
        with self.db.lock:
            owner = self._owner_of(path)
            if owner is None:
                return used
            _, row = self.existing_file(path, owner)
            ids = [r[0] for r in self.db.conn.execute("SELECT id FROM curve_layers WHERE file_id=?", (row[0],))]
        for layer_id in ids:
            try:
                used += os.stat(self.layer_path(layer_id)).st_blocks * 512
            except FileNotFoundError:
                pass
        return used

    def _owner_of(self, path: str) -> str | None:
        parent = ROOT_ID
        row = None
        for part in split_path(path):
            row = self.db.conn.execute("SELECT id, owner FROM curve_files WHERE parent=? AND name=?",
                                       (parent, part)).fetchone()
            if row is None:
                return None
            parent = row[0]
        return row[1] if row else None

    def open(self, path: str, owner: str) -> Volume:
        """An I/O handle on the file ``path`` (Curve Open), or a read-only one on ``<file>@<snapshot>``."""
        with self.db.lock:
            base, at, snap = path.rpartition("@")
            if at and "/" not in snap and not self._is_file(path, owner):
                _, row = self.existing_file(base, owner)
                found = self.db.conn.execute("SELECT id, length FROM curve_layers WHERE file_id=? AND name=?",
                                             (row[0], snap)).fetchone()
                if found is None:
                    raise CurveError(CurveStatus.NOTEXIST, f"{path}: {base} has no snapshot {snap!r}")
                layer = self.layer(found[0])
                return SnapshotView(FileState(row[0], path, found[1], row[4], layer), self.config.align_check)
            _, row = self.existing_file(path, owner)
            return Volume(self.state(row, path), self.config.align_check)

    def _is_file(self, path: str, owner: str) -> bool:
        try:
            self.existing_file(path, owner)
        except CurveError:
            return False
        return True

    # --- layers ---------------------------------------------------------------------------------
    def existing_file(self, path: str, owner: str) -> tuple[list[str], tuple]:
        """(components, row) of the file ``path`` (Curve's errors if missing or not ``owner``'s)."""
        parts, _, row = self._existing(path, owner, PAGEFILE)
        return parts, row

    def layer_path(self, layer_id: int) -> str:
        return os.path.join(self.layers_dir, str(layer_id))

    def layer(self, layer_id: int) -> Layer:
        """The (shared) Layer object of frozen layer ``layer_id``, with its parents."""
        with self.db.lock:
            layer = self._layers.get(layer_id)
            if layer is not None:
                return layer
            row = self.db.conn.execute("SELECT file_id, parent, length FROM curve_layers WHERE id=?",
                                       (layer_id,)).fetchone()
            if row is None:
                raise CurveError(CurveStatus.INTERNAL_ERROR, f"layer {layer_id} is missing from the database")
            parent = self.layer(row[1]) if row[1] is not None else None
            try:
                fd = os.open(self.layer_path(layer_id), os.O_RDWR | os.O_CLOEXEC)
            except OSError as exc:
                raise CurveError(CurveStatus.DISK_FAIL, f"layer {layer_id}: data file unusable: "
                                                        f"{os.strerror(exc.errno or errno.EIO)}") from exc
            layer = self._layers[layer_id] = Layer(layer_id, row[0], fd, row[2], parent)
            return layer

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
                raise CurveError(CurveStatus.DISK_FAIL,
                                 f"{path}: data file unusable: {os.strerror(exc.errno or errno.EIO)}") from exc
            state = FileState(row[0], path, row[3], row[4], Layer(None, row[0], fd, row[3], parent))
            self._states[row[0]] = state
            return state

    def path_of(self, file_id: int) -> str:
        """The Curve path of file ``file_id``."""
        parts = []
        while file_id != ROOT_ID:
            row = self.db.conn.execute("SELECT parent, name FROM curve_files WHERE id=?", (file_id,)).fetchone()
            if row is None:
                raise CurveError(CurveStatus.INTERNAL_ERROR, f"file {file_id} is missing from the database")
            parts.append(row[1])
            file_id = row[0]
        return "/" + "/".join(reversed(parts))

    def state_of(self, file_id: int) -> FileState:
        """The FileState of file ``file_id`` (no owner check: for re-linking layers other files use)."""
        with self.db.lock:
            path = self.path_of(file_id)
            row = self.db.conn.execute("SELECT id, type, owner, length, blocksize FROM curve_files WHERE id=?",
                                       (file_id,)).fetchone()
            return self.state(row, path)


def _now_us() -> int:
    return int(time.time() * 1_000_000)
