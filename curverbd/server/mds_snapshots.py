"""CurveFSService's snapshot and clone RPCs, with the rules of the Curve release the daemon plays.

release1.5 (``--curve-release 1.5``, reference section 4 "Local snapshots in
R15"): snapshots are named ``<volpath>@<snapname>`` (split at the last '@'),
many per volume; they can be protected, cloned (a protected one only) into an
INODE_CLONE_PAGEFILE that reads through to it, flattened and listed as
children. A name without '@' falls back to the mainline form.

Mainline (``--curve-release 2``, "Snapshots in M"): at most one snapshot per
file, named ``<name>-<seq>``; ListSnapShot returns only the seqs asked for; the
release1.5-only RPCs do not exist (the service answers ENOMETHOD for them) and
'@' is an ordinary character of a path.

All of it sits on the store's copy-on-write layers (snapshots.py): a snapshot
is instant, a clone shares its data, and protection and clone links are the
store's fields, which the RBD catalog reads too.
"""
from __future__ import annotations

from ..curve.nameserver2 import FileStatus, FileType, StatusCode as S
from .config import CHUNK_SIZE
from .curvefs import CLONE, PAGEFILE, POOLSETS, CurveFS
from .flattener import Flattener
from .mds_auth import Caller, OwnerChecks
from .refusal import refused
from .snapshots import Snapshots
from .store import PAGE_TYPES, Entry

SNAPSHOT = FileType.INODE_SNAPSHOT_PAGEFILE


def split_snap_name(name: str) -> tuple[str, str] | None:
    """(volume path, snapshot name) of ``<volpath>@<snapname>`` split at the last '@'; None without '@'."""
    vol, at, snap = name.rpartition("@")
    return (vol, snap) if at else None


class SnapshotRules:
    """The snapshot RPCs' rules over one CurveFS; call them holding the database lock (changes in a
    transaction), after the path checks; each returns the reply's fields beyond statusCode."""

    def __init__(self, fs: CurveFS, owners: OwnerChecks) -> None:
        self.fs, self.owners = fs, owners
        self.db = fs.store.db
        self.snaps = Snapshots(fs.store)
        self.flattener = Flattener(self.snaps, fs.config.flatten_step)
        self.release15 = fs.release15

    # --- helpers --------------------------------------------------------------------------------
    def _volume(self, path: str, caller: Caller) -> Entry:
        """CheckFileOwner on ``path``, then the file there (a snapshot's volume)."""
        self.owners.file_owner(path, caller)
        e = self.fs.info(path)
        if e.type not in (PAGE_TYPES if self.release15 else (PAGEFILE,)):
            raise refused(S.kNotSupported, f"{path}: files of type {e.type} have no snapshots")
        return e

    def _snap_path(self, name: str, what: str) -> tuple[str, str]:
        """(volume, snapshot) of a release1.5 snapshot name; kParaError if it is not one."""
        split = split_snap_name(name or "")
        if split is None:
            raise refused(S.kParaError, f"{what} {name!r}: not a snapshot name <volume path>@<snapshot>")
        vol, snap = split
        if not (vol.startswith("/") and vol != "/" and not vol.endswith("/") and "//" not in vol):
            raise refused(S.kParaError, f"{what} {name!r}: {vol!r} is not a volume path")
        if not snap or "/" in snap or "\0" in snap or len(snap.encode()) > 255:
            raise refused(S.kParaError, f"{what} {name!r}: {snap!r} is not a snapshot name "
                                        f"(non-empty, no '/', at most 255 bytes)")
        return vol, snap

    def _by_seq(self, e: Entry, path: str, seq: int | None) -> tuple:
        if seq is None:
            raise refused(S.kParaError, f"{path}: the request names no snapshot seq")
        for row in self.snaps.snap_rows(e.id):
            if row[5] == seq:
                return row
        raise refused(S.kSnapshotFileNotExists, f"{path}: has no snapshot of seq {seq}")

    def _children(self, layer_id: int) -> list[str]:
        return [self.fs.store.path_of(i) for i in self.snaps.children(layer_id)]

    def snap_info(self, e: Entry, row: tuple) -> dict:
        """The FileInfo of snapshot ``row`` (as Snapshots._snap) of file ``e``."""
        info = {"id": row[0], "fileName": row[1], "parentId": e.id, "fileType": SNAPSHOT,
                "owner": row[7] or e.owner, "chunkSize": CHUNK_SIZE, "segmentSize": self.fs.config.segment_size,
                "length": row[3], "ctime": row[4], "seqNum": row[5], "fileStatus": FileStatus.kFileCreated,
                "poolset": POOLSETS[0], "blocksize": e.blocksize or self.fs.config.block_size}
        if self.release15:
            info.update(isProtected=bool(row[6]), children=self._children(row[0]))
        return info

    # --- CreateSnapShot, ListSnapShot, DeleteSnapShot, CheckSnapShotStatus ----------------------
    def create(self, name: str, caller: Caller) -> dict:
        split = split_snap_name(name) if self.release15 else None
        if split is not None:   # release1.5's CreateSnapShotFile2: many per volume, named
            vol, snap = self._snap_path(name, "snapshot")
            e = self._volume(vol, caller)
            self.snaps.create_at(e.id, vol, snap)
            return {"snapShotFileInfo": self.snap_info(e, self.snaps._snap(e.id, vol, snap))}
        e = self._volume(name, caller)   # mainline: at most one, named <name>-<seq>
        existing = self.snaps.snap_rows(e.id)
        if existing:
            return {"statusCode": S.kFileUnderSnapShot, "snapShotFileInfo": self.snap_info(e, existing[0])}
        snap = f"{e.name}-{e.seq}"
        self.snaps.create_at(e.id, name, snap)
        return {"snapShotFileInfo": self.snap_info(e, self.snaps._snap(e.id, name, snap))}

    def list(self, path: str, seqs: list[int], caller: Caller) -> dict:
        e = self._volume(path, caller)
        rows = self.snaps.snap_rows(e.id)
        if seqs or not self.release15:   # mainline lists only the seqs asked for (none: nothing)
            rows = [r for r in rows if r[5] in seqs]
        return {"fileInfo": [self.snap_info(e, r) for r in rows]}

    def delete(self, name: str, seq: int | None, caller: Caller) -> None:
        split = split_snap_name(name) if self.release15 else None
        if split is not None:
            vol, snap = self._snap_path(name, "snapshot")
            e = self._volume(vol, caller)
            row = self.snaps._snap(e.id, vol, snap)
        else:
            vol = name
            e = self._volume(vol, caller)
            row = self._by_seq(e, vol, seq)
        if row[6]:
            raise refused(S.kSnapshotFileProtected, f"{vol}@{row[1]}: the snapshot is protected")
        if self.fs.busy(f"{vol}@{row[1]}"):
            raise refused(S.kFileOccupied, f"{vol}@{row[1]}: the snapshot is open by a client")
        self.snaps.remove_at(e.id, vol, row[1])

    def status(self, path: str, seq: int, caller: Caller) -> dict:
        e = self._volume(path, caller)
        self._by_seq(e, path, seq)
        return {"fileStatus": FileStatus.kFileCreated, "progress": 0}   # deletes are instant here

    # --- release1.5: ProtectSnapShot, UnprotectSnapShot, Clone, Children ------------------------
    def protect(self, name: str, protect: bool, caller: Caller) -> None:
        vol, snap = self._snap_path(name, "snapshot")
        e = self._volume(vol, caller)
        row = self.snaps._snap(e.id, vol, snap)
        if row[7] != caller.owner:   # even root: the snapshot must be the caller's own
            raise refused(S.kOwnerAuthFail, f"{name}: the snapshot belongs to {row[7]!r}, not {caller.owner!r}")
        if bool(row[6]) == protect:
            return
        if not protect and self.snaps.children(row[0]):
            raise refused(S.kFileOccupied, f"{name}: has clones ({', '.join(self._children(row[0]))})")
        self.snaps.set_protected(row[0], protect)

    def clone(self, dst: str, source: str, poolset: str | None, readonly: bool, caller: Caller) -> dict:
        vol, snap = self._snap_path(source, "clone source")
        self.owners.path_owner(dst, caller)   # nothing is checked on the source snapshot
        parent, name = self.fs.walk(dst)
        if name is None or self.fs.store.entry(parent.id, name) is not None:
            raise refused(S.kFileExists, f"{dst}: already exists")
        self.fs._storable(dst, name)
        e = self.fs.info(vol)
        row = self.snaps._snap(e.id, vol, snap)
        if not row[6]:
            raise refused(S.kSnapshotFileNotProtected, f"{source}: the snapshot is not protected: protect it "
                                                       f"before cloning")
        if poolset and poolset != POOLSETS[0]:
            raise refused(S.kNotSupported, f"{dst}: poolset {poolset!r} differs from the snapshot's "
                                           f"{POOLSETS[0]!r}")
        self.snaps.clone_at(row[0], parent.id, dst, caller.owner, readonly)
        return {"fileInfo": self.fs.file_info(self.fs.store.entry(parent.id, name))}

    def children(self, path: str | None, snap_name: str | None, caller: Caller) -> dict:
        if snap_name:
            vol, snap = self._snap_path(snap_name, "snapshot")
            e = self._volume(vol, caller)
            return {"fileNames": self._children(self.snaps._snap(e.id, vol, snap)[0])}
        if not path:
            raise refused(S.kParaError, "Children: the request names neither fileName nor snapFileName")
        e = self._volume(path, caller)
        names: list[str] = []
        for row in self.snaps.snap_rows(e.id):
            names += [c for c in self._children(row[0]) if c not in names]
        return {"fileNames": names}

    # --- release1.5: Flatten, QueryFlattenStatus ------------------------------------------------
    def _own_file(self, path: str, caller: Caller) -> Entry:
        """CheckFileOwner, and the file must be the caller's even for root (Flatten's rule)."""
        self.owners.file_owner(path, caller)
        e = self.fs.info(path)
        if e.owner != caller.owner:
            raise refused(S.kOwnerAuthFail, f"{path}: belongs to {e.owner!r}, not {caller.owner!r}")
        return e

    def flatten(self, path: str, caller: Caller) -> None:
        e = self._own_file(path, caller)
        if e.type == PAGEFILE:
            return
        if e.type != CLONE:
            raise refused(S.kFileTypeInvalid, f"{path}: files of type {e.type} cannot be flattened")
        if e.status not in (FileStatus.kFileCreated, FileStatus.kFileFlattening):
            raise refused(S.kFileStatusInvalid, f"{path}: status {e.status} cannot be flattened")
        if e.status == FileStatus.kFileFlattening:
            return
        self.db.conn.execute("UPDATE curve_files SET status=? WHERE id=?", (FileStatus.kFileFlattening, e.id))
        self.db.after_commit(lambda: self.flattener.start(e.id))

    def flatten_status(self, path: str, caller: Caller) -> dict:
        e = self._own_file(path, caller)
        if e.type == PAGEFILE:
            return {"fileStatus": e.status, "progress": 100}
        if e.status == FileStatus.kFileDeleting:
            raise refused(S.kFileUnderDeleting, f"{path}: is being deleted")
        if e.type != CLONE:
            raise refused(S.kFileTypeInvalid, f"{path}: files of type {e.type} are not flattened")
        progress = self.flattener.progress(e.id) if e.status == FileStatus.kFileFlattening else 0
        return {"fileStatus": e.status, "progress": progress}

