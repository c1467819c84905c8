"""Curve's namespace operations with the MDS's own rules and StatusCodes (reference section 4).

Each method is what Curve's CurveFS does once the caller passed its owner check
(mds_auth.py); the order of the checks is Curve's, since a client tells the
refusals apart by their code. Call them holding the database lock (inside a
transaction when they change something). Stand-in specifics: one poolset,
"default"; free space is not checked (volumes are sparse); a name must also be
storable as a file name (not "." or "..", no NUL, at most 255 bytes); a forced
delete from /RecycleBin removes the file at once.
"""
from __future__ import annotations

import logging
import time
from typing import Callable

from ..curve.nameserver2 import FileStatus, FileType, StatusCode as S
from ..errors import CurveError
from .config import CHUNK_SIZE, ServerConfig
from .file_records import FileRecords
from .refusal import refused
from .store import PAGE_TYPES, RECYCLE_BIN, RECYCLE_BIN_ID, ROOT_ID, Entry, Store, split_curve_path

log = logging.getLogger("curverbd.server.mds")
DIR, PAGEFILE = FileType.INODE_DIRECTORY, FileType.INODE_PAGEFILE
CLONE = FileType.INODE_CLONE_PAGEFILE
POOLSETS = ("default",)           # the stand-in's one poolset (mds.poolset's default name)
RECYCLE_DIR = "/" + RECYCLE_BIN


def _join(directory: str, name: str) -> str:
    return directory.rstrip("/") + "/" + name


def rename_path_valid(old: str, new: str) -> bool:
    """IsRenamePathValid: neither path is "/" and neither contains the other (component-wise)."""
    a, b = split_curve_path(old), split_curve_path(new)
    if not a or not b:
        return False
    return old == new or any(x != y for x, y in zip(a, b))


class CurveFS:
    """The namespace rules over one store; ``busy(path)``: is it open through nebd."""

    def __init__(self, store: Store, config: ServerConfig, busy: Callable[[str], bool]) -> None:
        self.store = store
        self.config = config
        self.busy = busy
        self.records = FileRecords()
        self.started = time.monotonic()
        self.root = Entry(ROOT_ID, ROOT_ID, "/", DIR, config.root_user, 0, 0, 0, 0, 0, None, 0, 0)
        self.release15 = config.curve_release == "1.5"
        with store.db.transaction() as conn:
            # a flatten the daemon was killed in: its copies only filled holes with what the clone showed,
            # so the file is a whole clone again (Flatten may be asked anew)
            for (path_id,) in conn.execute("SELECT id FROM curve_files WHERE status=?",
                                           (FileStatus.kFileFlattening,)).fetchall():
                log.warning("file %d was being flattened when the daemon stopped: it stays a clone", path_id)
            conn.execute("UPDATE curve_files SET status=? WHERE status=?",
                         (FileStatus.kFileCreated, FileStatus.kFileFlattening))

    # --- lookups --------------------------------------------------------------------------------
    def walk(self, path: str) -> tuple[Entry, str | None]:
        """WalkPath: (parent directory, last component or None for "/")."""
        parts = split_curve_path(path)
        parent = self.root
        for i, part in enumerate(parts[:-1]):
            entry = self.store.entry(parent.id, part)
            where = "/" + "/".join(parts[:i + 1])
            if entry is None:
                raise refused(S.kFileNotExists, f"{path}: directory {where} does not exist")
            if entry.type != DIR:
                raise refused(S.kNotDirectory, f"{path}: {where} is not a directory")
            parent = entry
        return parent, (parts[-1] if parts else None)

    def info(self, path: str) -> Entry:
        """GetFileInfo: the entry at ``path`` (a file in the middle of the path: kFileNotExists)."""
        try:
            parent, name = self.walk(path)
        except CurveError as exc:
            if exc.code == S.kNotDirectory:
                raise refused(S.kFileNotExists, exc.strerror) from None
            raise
        if name is None:
            return parent
        entry = self.store.entry(parent.id, name)
        if entry is None:
            raise refused(S.kFileNotExists, f"{path}: does not exist")
        return entry

    def file_info(self, e: Entry) -> dict:
        """Curve's FileInfo message of entry ``e``."""
        if e.id == ROOT_ID:
            return {"id": ROOT_ID, "fileName": "/", "fileType": DIR, "owner": e.owner}
        info = {"id": e.id, "fileName": e.name, "parentId": e.parent, "fileType": e.type, "owner": e.owner,
                "ctime": e.ctime}
        if e.id == RECYCLE_BIN_ID:   # made at start with just these fields
            return info
        info.update(chunkSize=CHUNK_SIZE, segmentSize=self.config.segment_size, length=e.length,
                    seqNum=e.seq, fileStatus=e.status, stripeUnit=e.stripe_unit, stripeCount=e.stripe_count,
                    blocksize=e.blocksize or self.config.block_size)
        if e.type in PAGE_TYPES:
            info["poolset"] = POOLSETS[0]
        if e.origin is not None:
            info["originalFullPathName"] = e.origin
        if self.release15 and e.type in PAGE_TYPES:
            self._release15_fields(e, info)
        return info

    def _release15_fields(self, e: Entry, info: dict) -> None:
        """release1.5's FileInfo fields of a file: its snapshots' seqs, and a clone's source."""
        conn = self.store.db.conn
        info["snaps"] = [r[0] for r in conn.execute("SELECT seq FROM curve_layers WHERE file_id=? ORDER BY seq",
                                                    (e.id,))]
        if e.clone_layer is not None:
            row = conn.execute("SELECT file_id, name, seq FROM curve_layers WHERE id=?",
                               (e.clone_layer,)).fetchone()
            if row is not None:
                info.update(cloneSource=f"{self.store.path_of(row[0])}@{row[1]}", cloneSn=row[2])
        if e.type == CLONE:
            info.update(version=2, readonly=bool(e.readonly))

    # --- CheckFileCanChange ---------------------------------------------------------------------
    def check_can_change(self, path: str, e: Entry) -> None:
        """A file with snapshots, within the grace after start, or open by a client cannot change."""
        if self.store.has_snapshots(e.id):
            raise refused(S.kFileUnderSnapShot, f"{path}: has snapshots")
        if e.status == FileStatus.kFileFlattening:
            raise refused(S.kFileOccupied, f"{path}: is being flattened")
        if time.monotonic() - self.started < self.config.mds_init_grace:
            raise refused(S.kNotSupported, f"{path}: the MDS started less than {self.config.mds_init_grace:g} s "
                                           f"ago and may not know all its clients yet; retry")
        if self.busy(path) or self.records.mounted(path):
            raise refused(S.kFileOccupied, f"{path}: open by a client")

    @staticmethod
    def _storable(path: str, name: str) -> None:
        """The stand-in keeps a file's data under its name, so the name must be a valid file name."""
        if name in (".", "..") or "\0" in name or len(name.encode()) > 255:
            raise refused(S.kParaError, f"{path}: {name[:40]!r} cannot be stored here "
                                        f"(not '.' or '..', no NUL, at most 255 bytes)")

    # --- operations -----------------------------------------------------------------------------
    def create_file(self, path: str, owner: str, ftype: int, length: int, stripe_unit: int,
                    stripe_count: int, poolset: str) -> None:
        if ftype not in (DIR, PAGEFILE):
            raise refused(S.kNotSupported, f"{path}: files of type {ftype} cannot be created")
        cfg = self.config
        if ftype == PAGEFILE:
            if (poolset or POOLSETS[0]) not in POOLSETS:
                raise refused(S.kPoolsetNotExist, f"{path}: no poolset {poolset!r} (there is {POOLSETS[0]!r})")
            if not cfg.min_volume_size <= length <= cfg.max_volume_size or length % cfg.segment_size:
                raise refused(S.kFileLengthNotSupported,
                              f"{path}: LENGTH_NOT_SUPPORT: length {length} must be a multiple of "
                              f"{cfg.segment_size} between {cfg.min_volume_size} and {cfg.max_volume_size}")
        self._check_stripe(path, stripe_unit, stripe_count)
        parent, name = self.walk(path)
        if name is None or self.store.entry(parent.id, name) is not None:
            raise refused(S.kFileExists, f"{path}: already exists")
        self._storable(path, name)
        self.store.add(parent.id, split_curve_path(path), ftype, owner,
                       length if ftype == PAGEFILE else 0, (stripe_unit, stripe_count))

    def _check_stripe(self, path: str, unit: int, count: int) -> None:
        """CheckStripeParam: both or neither; the unit divides the chunk, is 4 KiB aligned; count fits a segment."""
        if not unit and not count:
            return
        chunk, segment = CHUNK_SIZE, self.config.segment_size
        why = None
        if not unit or not count:
            why = "stripe unit and count are given both or neither"
        elif unit > chunk or chunk % unit or chunk % count:
            why = f"stripe unit and count must divide the chunk size {chunk}"
        elif unit % 4096:
            why = "stripe unit must be a multiple of 4096"
        elif count > segment // chunk:
            why = f"stripe count must be at most {segment // chunk}"
        elif count == 1 and unit != chunk:
            why = f"a stripe count of 1 needs the unit {chunk}"
        if why:
            raise refused(S.kParaError, f"{path}: stripe unit {unit}, count {count}: {why}")

    def delete_file(self, path: str, file_id: int | None, force: bool) -> None:
        parent, name = self.walk(path)
        if name is None:
            raise refused(S.kParaError, "/: the root directory cannot be deleted")
        e = self.store.entry(parent.id, name)
        if e is None:
            raise refused(S.kFileNotExists, f"{path}: does not exist")
        if file_id is not None and file_id != e.id:
            raise refused(S.kFileIdNotMatch, f"{path}: is file {e.id}, not {file_id}")
        if e.type == DIR:
            if self.store.entries(e.id):
                raise refused(S.kDirNotEmpty, f"{path}: directory not empty")
            self.store.drop(e.id, path)
            return
        if e.type not in PAGE_TYPES:
            raise refused(S.kNotSupported, f"{path}: files of type {e.type} are not deleted this way")
        self.check_can_change(path, e)
        if not force:
            entry = f"{name}-{e.id}-{int(time.time())}"
            self.store.move(e.id, path, RECYCLE_BIN_ID, _join(RECYCLE_DIR, entry), origin=path)
            return
        if e.parent != RECYCLE_BIN_ID:
            raise refused(S.kNotSupported, f"{path}: only files in /{RECYCLE_BIN} can be deleted for good")
        if e.status == FileStatus.kFileDeleting:
            raise refused(S.kFileUnderDeleting, f"{path}: already being deleted")
        self.store.drop(e.id, path)

    def recover_info(self, origin: str, file_id: int | None) -> Entry:
        """GetRecoverFileInfo: the /RecycleBin entry of id ``file_id``, else the newest from ``origin``."""
        entries = self.store.entries(RECYCLE_BIN_ID)
        if file_id is not None:
            for e in entries:
                if e.id == file_id:
                    return e
        found = [e for e in entries if e.origin == origin]
        if not found:
            raise refused(S.kFileNotExists, f"{origin}: nothing deleted from there is in /{RECYCLE_BIN}")
        return max(found, key=lambda e: e.ctime)

    def recover_file(self, origin: str, recycled: str, file_id: int | None) -> None:
        parent, name = self.walk(origin)
        if name is None or self.store.entry(parent.id, name) is not None:
            raise refused(S.kFileExists, f"{origin}: exists again; recover it elsewhere or delete it first")
        e = self.info(recycled)
        if file_id is not None and file_id != e.id:
            raise refused(S.kFileIdNotMatch, f"{recycled}: is file {e.id}, not {file_id}")
        if e.status == FileStatus.kFileDeleting:
            raise refused(S.kFileUnderDeleting, f"{recycled}: being deleted")
        if e.status == FileStatus.kFileCloneMetaInstalled:
            raise refused(S.kRecoverFileCloneMetaInstalled, f"{recycled}: a clone with only its metadata")
        if e.status == FileStatus.kFileCloning:
            raise refused(S.kRecoverFileError, f"{recycled}: a clone still cloning")
        self._storable(origin, name)
        self.store.move(e.id, recycled, parent.id, origin)

    def read_dir(self, path: str) -> list[Entry]:
        try:
            e = self.info(path)
        except CurveError as exc:
            if exc.code == S.kFileNotExists:
                raise refused(S.kDirNotExist, f"{path}: no such directory") from None
            raise
        if e.type != DIR:
            raise refused(S.kNotDirectory, f"{path}: not a directory")
        return self.store.entries(e.id)

    def extend_file(self, path: str, length: int) -> None:
        e = self.info(path)
        if e.type != PAGEFILE:   # release1.5: a clone neither (flatten it first)
            raise refused(S.kNotSupported, f"{path}: only page files can be extended (type {e.type})")
        if length > self.config.max_volume_size:
            raise refused(S.kFileLengthNotSupported, f"{path}: LENGTH_NOT_SUPPORT: {length} is above the largest "
                                                     f"volume ({self.config.max_volume_size} bytes)")
        if length < e.length:
            raise refused(S.kShrinkBiggerFile, f"{path}: NO_SHRINK_BIGGER_FILE: {length} is smaller than the "
                                               f"length {e.length}")
        if length == e.length:
            return
        if (length - e.length) % self.config.segment_size:
            raise refused(S.kExtentUnitError, f"{path}: grows by {length - e.length} bytes, not by whole "
                                              f"segments of {self.config.segment_size}")
        self.store.resize(e.id, path, length)

    def rename_file(self, old: str, new: str, old_id: int | None, new_id: int | None) -> None:
        if old == "/" or new == "/":
            raise refused(S.kParaError, "/: the root directory cannot be renamed")
        if old == new:
            raise refused(S.kFileExists, f"{new}: renaming a file to its own name")
        src = self.info(old)
        if old_id is not None and old_id != src.id:
            raise refused(S.kFileIdNotMatch, f"{old}: is file {src.id}, not {old_id}")
        if src.type != PAGEFILE:   # release1.5: a clone neither
            raise refused(S.kNotSupported, f"{old}: only page files can be renamed (type {src.type})")
        self.check_can_change(old, src)
        try:
            parent, name = self.walk(new)
        except CurveError as exc:
            raise refused(S.kFileNotExists, f"{new}: its directory is missing ({exc.strerror})") from None
        dest = self.store.entry(parent.id, name) if name is not None else None
        self._storable(new, name)
        if dest is not None:
            if new_id is not None and new_id != dest.id:
                raise refused(S.kFileIdNotMatch, f"{new}: is file {dest.id}, not {new_id}")
            if dest.type != PAGEFILE:
                raise refused(S.kFileExists, f"{new}: exists and is not a page file")
            self.check_can_change(new, dest)
            # the file replaced goes to /RecycleBin as <name>-<id> (no time: Curve's rename does so)
            self.store.move(dest.id, new, RECYCLE_BIN_ID, _join(RECYCLE_DIR, f"{dest.name}-{dest.id}"), origin=new)
        self.store.move(src.id, old, parent.id, new)

    def change_owner(self, path: str, owner: str) -> None:
        e = self.info(path)
        if owner == e.owner:
            return
        if e.type == PAGEFILE:
            self.check_can_change(path, e)
        elif e.type == DIR:
            if self.store.entries(e.id):
                raise refused(S.kDirNotEmpty, f"{path}: a directory changes owner only when empty")
        else:   # release1.5: a clone neither
            raise refused(S.kNotSupported, f"{path}: files of type {e.type} cannot change owner")
        self.store.set_owner(e.id, owner)

    def allocated_size(self, path: str) -> int:
        """Bytes the data under ``path`` occupies (directories: all their files; failures are skipped)."""
        return self._allocated(path, self.info(path))

    def _allocated(self, path: str, e: Entry) -> int:
        if e.type in PAGE_TYPES:
            return self.store.file_allocated(e.id, path)
        if e.type != DIR:
            raise refused(S.kNotSupported, f"{path}: files of type {e.type} have no allocated size")
        total = 0
        for child in self.store.entries(e.id):
            try:
                total += self._allocated(_join(path, child.name), child)
            except CurveError:  # Curve's GetDirAllocSize skips what it cannot size
                continue
        return total

    def file_size(self, path: str) -> int:
        """The length of a file; of a directory, the sum over all its files."""
        return self._size(path, self.info(path))

    def _size(self, path: str, e: Entry) -> int:
        if e.type in PAGE_TYPES:
            return e.length
        if e.type == FileType.INODE_SNAPSHOT_PAGEFILE:
            return 0
        if e.type != DIR:
            raise refused(S.kNotSupported, f"{path}: files of type {e.type} have no size")
        return sum(self._size(_join(path, c.name), c) for c in self.store.entries(e.id))

    def open_file(self, path: str) -> Entry:
        e = self.info(path)
        if e.type not in PAGE_TYPES:
            raise refused(S.kNotSupported, f"{path}: only page files can be opened")
        return e

    def close_file(self, path: str, endpoint: tuple) -> None:
        self.info(path)
        self.records.remove(path, endpoint)

    def refresh_session(self, path: str, endpoint: tuple) -> Entry:
        e = self.info(path)
        self.records.update(path, endpoint)
        return e
