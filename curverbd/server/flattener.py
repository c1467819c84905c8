"""release1.5's Flatten in the background: a clone's data copied from its snapshot step by step.

Each step is one transaction that fills the holes of the clone's layers with
exactly what they showed through the snapshot (snapshots.py flatten_at), so
the clone reads the same before, during and after; the last step drops the
link and makes the file an INODE_PAGEFILE. A daemon killed between steps
leaves a clone whose status CurveFS resets at start (no half state), and a
failed step does the same at once. Progress (0-100) lives in memory, as
QueryFlattenStatus only reports it while the flatten runs.
"""
from __future__ import annotations

import logging
import threading

from ..curve.nameserver2 import FileStatus
from .snapshots import Snapshots

log = logging.getLogger("curverbd.server.mds")
_BEYOND = 1 << 62   # the finishing step covers whatever lies past the file's length


class Flattener:
    """Runs Flatten jobs, one thread per file; ``progress(file_id)`` while one runs."""

    def __init__(self, snapshots: Snapshots, step: int) -> None:
        self.snaps = snapshots
        self.db = snapshots.db
        self.step = step
        self._progress: dict[int, int] = {}
        self._lock = threading.Lock()

    def progress(self, file_id: int) -> int:
        with self._lock:
            return self._progress.get(file_id, 0)

    def start(self, file_id: int) -> None:
        """Flatten file ``file_id`` (its status is already kFileFlattening, committed)."""
        with self._lock:
            if file_id in self._progress:
                return
            self._progress[file_id] = 0
        threading.Thread(target=self._run, args=(file_id,), name=f"flatten-{file_id}", daemon=True).start()

    def _run(self, file_id: int) -> None:
        try:
            self._flatten(file_id)
        except Exception:  # a disk fault or the daemon stopping: the file stays a whole clone
            log.exception("flatten of file %d failed; it stays a clone", file_id)
            try:
                with self.db.transaction() as conn:
                    conn.execute("UPDATE curve_files SET status=? WHERE id=? AND status=?",
                                 (FileStatus.kFileCreated, file_id, FileStatus.kFileFlattening))
            except Exception:
                log.exception("flatten of file %d: cannot reset its status (reset at the next start)", file_id)
        finally:
            with self._lock:
                self._progress.pop(file_id, None)

    def _flatten(self, file_id: int) -> None:
        store = self.snaps.store
        with self.db.lock:
            length = store.row_of(file_id)[3]
        lo = 0
        while lo < length:
            hi = min(lo + self.step, length)
            with self.db.transaction():
                self.snaps.flatten_at(file_id, store.path_of(file_id), lo, hi, finish=False)
            with self._lock:
                self._progress[file_id] = min(99, hi * 100 // length)
            lo = hi
        with self.db.transaction():
            path = store.path_of(file_id)
            self.snaps.flatten_at(file_id, path, length, _BEYOND, finish=True)
        log.info("flattened %s (file %d): it is a page file now", path, file_id)
