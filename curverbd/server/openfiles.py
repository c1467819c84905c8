"""The table of files opened through nebd: fd -> volume, persisted so fds survive a daemon restart.

As in nebd-server: the same name opened again with equal flags gets the same
fd; new fds come from a counter above every fd ever persisted; a file whose
client went silent for the heartbeat timeout has its backend handle closed but
keeps its record, and the next request on that fd reopens it. Unlike nebd
(whose client takes a host-wide lock so a volume is opened once), several
clients may open one volume (glance workers, cinder and nova at once): each
OpenFile counts, and CloseFile removes the record only when the last opener
has closed, so one client's close never pulls the fd from under another. An
open that names its opener (curverbd's clients do: messages.py) counts once
however often it is re-sent, and so does its close; that keeps a request re-sent
after a restart (its first reply lost) from leaving a file open forever or
closing another client's.

The C I/O loops serve the open volumes' data requests from the daemon's table
(fastpath.Table, ``fast``): a volume is put in it when its handle opens and taken
out when it closes, so the first request on a volume is already served in C.
"""
from __future__ import annotations

import errno
import logging
import time

from ..errors import CurveError, CurveStatus, Error
from ..nebd.names import parse_name
from . import fastpath, metafile
from .store import Store
from .volume import Volume

log = logging.getLogger("curverbd.server.openfiles")
INT_MAX = 2**31 - 1


class OpenFile:
    """One record: the nebd name, the Curve path and owner it names, and the backend handle if open."""
    __slots__ = ("fd", "name", "path", "owner", "flags", "volume", "last_seen", "opens", "openers", "used")

    def __init__(self, fd: int, name: str, flags: dict | None, opens: int = 1,
                 openers: list[str] | None = None) -> None:
        parsed = parse_name(name)
        self.fd, self.name, self.flags, self.opens = fd, name, flags, opens   # opens: the anonymous ones
        self.openers: set[str] = set(openers or ())
        self.path, self.owner = parsed.path, parsed.owner
        self.volume: Volume | None = None
        self.last_seen = time.monotonic()
        self.used = 0   # requests the C loops had answered on it when the heartbeat checker last looked

    def record(self) -> dict:
        rec = {"filename": self.name, "fd": self.fd, "session": "", "opens": self.opens,
               "openers": sorted(self.openers)}
        if self.flags is not None:
            rec["openflags"] = self.flags
        return rec


class OpenFiles:
    """fd -> OpenFile; lookups are lock-free, changes take the lock and rewrite the meta file."""

    def __init__(self, store: Store, meta_path: str, records: list[dict]) -> None:
        self.store = store
        self.meta_path = meta_path
        # the database's lock: catalog calls (holding it) ask busy(), and opens reach the store, so one
        # lock for both keeps a single lock order
        self.lock = store.db.lock
        self._files: dict[int, OpenFile] = {}
        self.fast = fastpath.new_table()   # the C I/O loops' view of the open volumes (None: no C loop)
        for rec in records:
            try:
                f = OpenFile(rec["fd"], rec["filename"], rec.get("openflags"), rec.get("opens", 1),
                             rec.get("openers"))
            except Error as exc:
                log.error("meta record %r dropped: %s", rec, exc.strerror)
                continue
            self._files[f.fd] = f
            try:
                self._set_volume(f, store.open(f.path, f.owner))
                log.info("reopened %s as fd %d", f.name, f.fd)
            except Error as exc:  # like nebd: logged, the record stays, the next request retries
                log.error("reopen of %s (fd %d) failed: %s", f.name, f.fd, exc.strerror)
        self._last_fd = max(self._files, default=0)

    def _set_volume(self, f: OpenFile, vol: Volume | None) -> None:
        """Give ``f`` its backend handle (or drop it), telling the C loops."""
        old, f.volume = f.volume, vol
        if self.fast is not None:
            if old is not None:
                self.fast.detach(f.fd, old)
            if vol is not None:
                self.fast.attach(f.fd, vol)

    def _save(self) -> None:
        metafile.save(self.meta_path, [f.record() for f in sorted(self._files.values(), key=lambda f: f.fd)])

    def _next_fd(self) -> int:
        fd = self._last_fd
        while True:
            fd = 1 if fd >= INT_MAX else fd + 1
            if fd not in self._files:
                self._last_fd = fd
                return fd

    def open(self, name: str, flags: dict | None, opener: str | None = None) -> int:
        """The fd of ``name`` (OpenFile): Error naming the file on failure. ``opener`` names the open
        (a re-send of one already counted counts nothing)."""
        with self.lock:
            for f in self._files.values():
                if f.name == name:
                    if f.flags != flags:
                        raise Error(errno.EBUSY, f"{name}: already open with different flags")
                    if f.volume is None:
                        self._set_volume(f, self.store.open(f.path, f.owner))
                    f.last_seen = time.monotonic()
                    if opener:
                        f.openers.add(opener)
                    else:
                        f.opens += 1
                    self._save()
                    return f.fd
            f = OpenFile(0, name, flags, 0 if opener else 1, [opener] if opener else None)
            vol = self.store.open(f.path, f.owner)
            f.fd = self._next_fd()
            self._files[f.fd] = f
            self._set_volume(f, vol)
            self._save()
            log.info("opened %s as fd %d", name, f.fd)
            return f.fd

    def get(self, fd: int) -> tuple[OpenFile, Volume]:
        """The record and an open backend handle for ``fd`` (reopening it if the heartbeat checker closed it)."""
        f = self._files.get(fd)
        if f is None:
            raise CurveError(CurveStatus.BAD_FD, f"fd {fd}: not an open file")
        f.last_seen = time.monotonic()
        vol = f.volume
        if vol is None:
            with self.lock:
                vol = f.volume
                if vol is None:
                    try:
                        vol = self.store.open(f.path, f.owner)
                    except Error as exc:
                        raise Error(exc.errno, f"{f.name}: reopen failed: {exc.strerror}") from exc
                    self._set_volume(f, vol)
                    log.info("reopened %s (fd %d) on demand", f.name, fd)
        elif self.fast is not None:
            self.fast.check(fd, vol)
        return f, vol

    def close(self, fd: int, opener: str | None = None) -> None:
        """CloseFile: one opener of ``fd`` (``opener``, or an anonymous one) is done; the last one
        forgets it (in-flight requests keep their handle until they finish). The close of an opener
        that is no longer there (a re-sent close) changes nothing."""
        with self.lock:
            f = self._files.get(fd)
            if f is None:
                return
            if opener:
                if opener not in f.openers:
                    return
                f.openers.discard(opener)
            else:
                f.opens = max(0, f.opens - 1)
            if f.opens == 0 and not f.openers:
                del self._files[fd]
                self._set_volume(f, None)
                log.info("closed %s (fd %d)", f.name, fd)
            self._save()

    def keepalive(self, fd: int) -> bool:
        f = self._files.get(fd)
        if f is None:
            return False
        f.last_seen = time.monotonic()
        return True

    def expire(self, timeout: float) -> None:
        """Close the backend handle of files silent for ``timeout`` seconds; keep their records."""
        now = time.monotonic()
        limit = now - timeout
        with self.lock:
            for f in self._files.values():
                if f.volume is not None and self.fast is not None:
                    used = self.fast.used(f.fd)   # requests the C loops answered count as seen
                    if used != f.used:
                        f.used, f.last_seen = used, now
                if f.volume is not None and f.last_seen < limit:
                    self._set_volume(f, None)
                    log.warning("no heartbeat for %s (fd %d) in %.0fs: backend closed", f.name, f.fd, timeout)

    def busy(self, path: str) -> bool:
        """Whether a live client has ``path`` open; stale records (closed by the checker) are dropped."""
        with self.lock:
            mine = [f for f in self._files.values() if f.path == path]
            stale = [f for f in mine if f.volume is None]
            live = any(f.volume is not None for f in mine)
            if not live and stale:
                for f in stale:
                    del self._files[f.fd]
                    log.info("dropped stale record %s (fd %d)", f.name, f.fd)
                self._save()
            return live

    def volumes(self) -> list[Volume]:
        """The backend handles open now (a snapshot taken without the lock, like lookups)."""
        volumes = [f.volume for f in list(self._files.values())]
        return [v for v in volumes if v is not None]

    def close_all(self) -> None:
        with self.lock:
            for f in self._files.values():
                self._set_volume(f, None)
