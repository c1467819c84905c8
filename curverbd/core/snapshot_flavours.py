"""Curve's two snapshot machineries behind one small interface (reference sections 4 and 7).

``LocalSnapshots``: release1.5's MDS keeps snapshots itself (CreateSnapShot of
``<vol>@<snap>``, ListSnapShot, DeleteSnapShot, Protect/UnprotectSnapShot,
Clone, Children, Flatten + QueryFlattenStatus). ``S3Snapshots``: mainline
Curve's snapshotcloneserver dumps them to S3 as asynchronous tasks named by
UUID (CreateSnapshot, GetFileSnapshotInfo, DeleteSnapshot, Clone (lazy),
Flatten, GetCloneTasks, GetCloneRefStatus, Recover); it has no protection.

Both speak Curve paths and hand back a snapshot as a dict::

    {key, name, seq, length, ctime (µs), protected (None: Curve has no protection)}

where ``key`` is what names it to Curve: release1.5's snapshot name, or the
snapshotcloneserver UUID. RBD names, sizes and protection are the catalog's
(catalog_snapshots.py).
"""
from __future__ import annotations

import errno
from typing import Callable, Optional

from ..curve.mds import MdsClient
from ..curve.nameserver2 import FileStatus, FileType
from ..curve.snapshotclone import (TASK_CLONING, TASK_DONE, TASK_META_INSTALLED, SnapshotCloneClient,
                                   SnapshotCloneError)
from ..curve.status import MdsError
from ..errors import Error

Percent = Optional[Callable[[int], None]]
IN_USE = -16                    # snapshotcloneserver: a snapshot clones still read through


class LocalSnapshots:
    """release1.5's local snapshots, on the MDS."""

    release = "release1.5"
    protects = True             # Curve itself refuses to clone an unprotected snapshot

    def __init__(self, mds: MdsClient) -> None:
        self.mds = mds

    @staticmethod
    def _snap(info: dict) -> dict:
        return {"key": info["fileName"], "name": info["fileName"], "seq": info.get("seqNum", info.get("id", 0)),
                "length": info.get("length", 0), "ctime": info.get("ctime", 0),
                "protected": bool(info.get("isProtected"))}

    def list(self, path: str) -> list[dict]:
        return sorted((self._snap(s) for s in self.mds.snapshots(path)), key=lambda s: s["seq"])

    def create(self, path: str, name: str, progress: Percent = None) -> dict:
        """A snapshot named ``name`` (the caller picks one Curve does not have): instant."""
        made = self._snap(self.mds.create_snapshot(path, name))
        if progress is not None:
            progress(100)
        return made

    def remove(self, path: str, snap: dict) -> None:
        self.mds.delete_snapshot(path, snap["key"])

    def protect(self, path: str, snap: dict, protect: bool) -> None:
        self.mds.protect_snapshot(path, snap["key"], protect=protect)

    def clone(self, path: str, snap: dict, dest: str, readonly: bool = False) -> dict:
        """The clone's FileInfo; Curve reads through to the snapshot until it is flattened."""
        return self.mds.clone(path, snap["key"], dest, readonly=readonly)

    def clones(self, path: str, snap: dict | None) -> list[str]:
        """Paths of the clones of ``path``'s snapshot ``snap`` (of any snapshot: None)."""
        return self.mds.children(path, snap["key"] if snap else None)

    def parent(self, path: str, info: dict) -> tuple[str, str] | None:
        """(volume path, snapshot key) a clone reads through to, from its FileInfo; None if none."""
        source = info.get("cloneSource") if info.get("fileType") == FileType.INODE_CLONE_PAGEFILE else None
        if not source or "@" not in source:
            return None
        volume, _, key = source.rpartition("@")
        return volume, key

    def flatten(self, path: str, info: dict) -> int:
        """Start (or go on with) flattening the clone ``path``; its progress in percent (100: stands alone)."""
        if info.get("fileType") != FileType.INODE_CLONE_PAGEFILE:
            return 100
        if info.get("fileStatus") != FileStatus.kFileFlattening:
            # not started, or stopped by an MDS restart (Curve does not resume it): ask (again)
            self.mds.flatten(path)
        return self.mds.flatten_status(path)[1]

    def rollback(self, path: str, snap: dict, progress: Percent = None) -> None:
        raise Error(errno.EOPNOTSUPP, "Curve release1.5 has no rollback (its snapshotcloneserver says \"not "
                                      "supported yet\"); mainline Curve (2.x) rolls back with "
                                      "snapshotcloneserver's Recover")


class S3Snapshots:
    """mainline Curve's snapshots and clones, on snapshotcloneserver."""

    release = "mainline Curve (2.x)"
    protects = False            # the catalog keeps RBD's protection in the RBD state home

    def __init__(self, mds: MdsClient, server: SnapshotCloneClient) -> None:
        self.mds = mds
        self.server = server

    @staticmethod
    def _snap(info: dict) -> dict:
        return {"key": info["UUID"], "name": info.get("Name", ""), "seq": int(info.get("SeqNum", 0)),
                "length": int(info.get("FileLength", 0)), "ctime": int(info.get("Time", 0)), "protected": None}

    def list(self, path: str) -> list[dict]:
        """The finished snapshots: one still being dumped (or failed) is not there yet for RBD."""
        done = [s for s in self.server.snapshots(path) if int(s.get("Status", 1)) == 0]
        return sorted((self._snap(s) for s in done), key=lambda s: (s["seq"], s["ctime"]))

    def create(self, path: str, name: str, progress: Percent = None) -> dict:
        """Dump a snapshot to S3 and wait for it; one that fails is deleted again and raises EIO with the
        server's words."""
        before = {s["UUID"] for s in self.server.snapshots(path)}
        try:
            uuid = self.server.create_snapshot(path, name)
        except Error as exc:
            if not getattr(exc, "lost", False):
                raise
            # the answer was lost: the server took it if a new snapshot of that name is there
            made = [s["UUID"] for s in self.server.snapshots(path) if s["UUID"] not in before and s.get("Name") == name]
            uuid = made[0] if made else self.server.create_snapshot(path, name)
        try:
            return self._snap(self.server.wait_snapshot(path, uuid, progress))
        except Error as exc:
            if exc.errno == errno.EIO:
                try:
                    self.server.delete_snapshot(path, uuid)
                except Error:
                    pass   # it is not listed (not done); the server's own cleanup takes it
            raise

    def remove(self, path: str, snap: dict) -> None:
        try:
            self.server.delete_snapshot(path, snap["key"])
        except SnapshotCloneError as exc:
            if exc.code == IN_USE:
                raise Error(errno.EBUSY, f"{exc.strerror}") from None
            raise
        except Error as exc:
            if not getattr(exc, "lost", False):
                raise
            if any(s["UUID"] == snap["key"] for s in self.server.snapshots(path)):   # not taken: again
                self.server.delete_snapshot(path, snap["key"])

    def protect(self, path: str, snap: dict, protect: bool) -> None:
        """Nothing to ask: snapshotcloneserver has no protection."""

    def clone(self, path: str, snap: dict, dest: str, readonly: bool = False) -> dict:
        """A lazy clone (readable once its metadata is installed): its FileInfo. ``readonly`` has no Curve
        counterpart here: a view is opened read-only by its reader."""
        try:
            task = self.server.clone(snap["key"], dest, lazy=True)
        except Error as exc:
            if not getattr(exc, "lost", False):
                raise
            # the answer was lost: the server took it if a task from this snapshot makes ``dest``
            taken = [t["UUID"] for t in self.server.tasks(destination=dest) if t.get("Src") == snap["key"]
                     and int(t.get("TaskStatus", 0)) in (TASK_CLONING, TASK_META_INSTALLED)]
            task = taken[-1] if taken else self.server.clone(snap["key"], dest, lazy=True)
        self.server.wait_task(task, until_status=TASK_META_INSTALLED)
        return self.mds.stat(dest)

    def clones(self, path: str, snap: dict | None) -> list[str]:
        """Paths of the volumes still reading through the snapshot(s) (GetCloneRefStatus), as they are now:
        a clone since removed or moved is not one."""
        found = []
        for s in [snap] if snap else self.list(path):
            for ref in self.server.references(s["key"])[1]:
                try:
                    if self.mds.stat(ref["File"]).get("id") == int(ref.get("Inode", -1)):
                        found.append(ref["File"])
                except Error as exc:
                    if exc.errno != errno.ENOENT:
                        raise
        return found

    def _clone_task(self, path: str) -> dict | None:
        """The unfinished clone task that made ``path``, if it still reads through its snapshot."""
        for task in self.server.tasks(destination=path):
            if int(task.get("TaskType", 0)) == 0 and int(task.get("TaskStatus", 0)) in (TASK_CLONING,
                                                                                          TASK_META_INSTALLED):
                return task
        return None

    def parent(self, path: str, info: dict) -> tuple[str, str] | None:
        if info.get("fileStatus") not in (FileStatus.kFileCloneMetaInstalled, FileStatus.kFileCloning):
            return None      # a volume that stands alone has no task to ask about
        task = self._clone_task(path)
        if task is None or str(task.get("Src", "")).startswith("/"):
            return None
        return self.server.snapshot(task["Src"])["File"], task["Src"]

    def flatten(self, path: str, info: dict) -> int:
        task = self._clone_task(path)
        if task is None:
            return 100
        if int(task["TaskStatus"]) == TASK_META_INSTALLED:
            self.server.flatten(task["UUID"])
        now = self.server.tasks(uuid=task["UUID"])
        if not now or int(now[0]["TaskStatus"]) == TASK_DONE:
            return 100
        return min(int(now[0].get("Progress", 0)), 99)

    def rollback(self, path: str, snap: dict, progress: Percent = None) -> None:
        """Recover the volume from the snapshot (not lazy: done when this returns)."""
        task = self.server.recover(snap["key"], path, lazy=False)
        self.server.wait_task(task, progress=progress)


def detect(mds: MdsClient, snapshotclone: Callable[[], SnapshotCloneClient]) -> LocalSnapshots | S3Snapshots:
    """The cluster's flavour: an MDS that knows Children (any StatusCode at all) has local snapshots; a
    mainline one answers ENOMETHOD."""
    try:
        mds.children("/curverbd-probe")      # a path nobody has
    except MdsError:
        pass
    except Error as exc:
        if exc.errno != errno.EOPNOTSUPP:
            raise
        return S3Snapshots(mds, snapshotclone())
    return LocalSnapshots(mds)
