"""Cluster: one client handle (user + config + one connection to curverbd-server)."""
from __future__ import annotations

import errno
import os
import threading
from typing import TYPE_CHECKING, Any

from ..catalog.client import CatalogClient
from ..config import Config, parse_size, user_id
from ..curve.etcd import Etcd
from ..curve.mds import MdsClient, parse_addrs
from .writer_lock import LockSession
from ..curve.rbd_state import RbdState
from ..errors import Error
from ..nebd import messages
from ..nebd.client import NebdClient
from ..nebd.connection import block_signals
from . import engine
from .catalog import Catalog
from .ioctx import IoCtx

if TYPE_CHECKING:
    from ..curve.snapshotclone import SnapshotCloneClient

HEARTBEAT_INTERVAL = 5.0  # seconds, like nebd's part1 (heartbeat.intervalS)


class Cluster:
    """What ``rados_t`` / ``rados.Rados`` is: a user, a configuration and a connection."""

    def __init__(self, user: str = "admin", conffile: str | None = None) -> None:
        self.user = user_id(user or "admin")
        self.conf = Config(self.user)
        self.conf.read_file(conffile, missing_ok=conffile is None)
        self._nebd: NebdClient | None = None
        self._catalog: Catalog | None = None
        self._files: dict[str, list] = {}          # nebd name -> [fd, users, opener token]
        self._files_lock = threading.Lock()
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None
        self._locks: LockSession | None = None     # the etcd lease of this client's image write locks
        self._lanes: Any = None                    # the C engine's data connections (engine.py), first image

    def __repr__(self) -> str:
        return f"<Cluster client.{self.user}>"

    def __enter__(self) -> "Cluster":
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()

    @property
    def socket_path(self) -> str:
        """The curverbd-server socket this handle connects to (conf, env CURVERBD_SOCKET wins)."""
        return self.conf.socket

    # --- configuration -----------------------------------------------------------
    def conf_set(self, key: str, value: str) -> None:
        self.conf.set(key, value)

    def conf_get(self, key: str) -> str:
        """The value of ``key``; Error(ENOENT) if unknown and unset."""
        return self.conf.get(key)

    def conf_read_file(self, path: str | None = None) -> None:
        """Read ``path`` (Error(ENOENT) if missing) or the default conf file if there is one
        (no file is fine: curverbd needs nothing from it)."""
        self.conf.read_file(path, missing_ok=not path)

    # --- connection --------------------------------------------------------------
    def connect(self) -> None:
        """Connect to the host's nebd server and to the cluster's MDS; Error(ECONNREFUSED) if the
        nebd server does not answer (the MDS and etcd are asked on first use, with Curve's retries)."""
        if self._nebd is not None:
            raise Error(errno.EISCONN, f"{self} is already connected")
        if not self.user or "_" in self.user:
            raise Error(errno.EINVAL, f"user {self.user!r}: Curve owners cannot be empty or contain '_'")
        addrs, source = self.conf.mds_addrs()
        try:
            mds_addrs = parse_addrs(addrs)
        except ValueError as exc:
            raise Error(errno.EINVAL, f"Curve MDS addresses from {source}: {exc}") from None
        nebd = NebdClient(self.conf.socket)
        nebd.connect()
        self._nebd = nebd
        mds = MdsClient(mds_addrs, self.user, self.conf.password())
        state = RbdState(Etcd(self.conf.etcd_endpoints()[0]))
        self._catalog = Catalog(mds, state, CatalogClient(nebd.connection, self.user), self._snapshotclone)
        self._stop.clear()
        self._heartbeat = threading.Thread(target=self._heartbeats, name="curverbd-heartbeat", daemon=True)
        self._heartbeat.start()

    def _snapshotclone(self) -> SnapshotCloneClient:
        """mainline Curve's snapshotcloneserver, from the conf (asked when a mainline MDS is first met, and
        again when no server answers)."""
        addrs, source = self.conf.snapshotclone_addrs()
        if not addrs:
            raise Error(errno.EOPNOTSUPP, f"snapshots: this Curve's MDS is mainline, whose snapshots are "
                                          f"snapshotcloneserver's, and its address is {source}; set "
                                          "curve_snapshotclone_addr")
        from ..curve.snapshotclone import SnapshotCloneClient   # mainline Curve only: not in every start
        return SnapshotCloneClient(lambda: self.conf.snapshotclone_addrs()[0] or addrs, self.user)

    def _lock_session(self) -> LockSession:
        """This client's etcd lease for image write locks (writer_lock.py), made when first needed."""
        if self._locks is None:
            self._locks = LockSession(self._require_catalog().state.etcd)
        return self._locks

    def _data_lanes(self) -> Any:
        """The C data engine's connections to curverbd-server, shared by this handle's images
        (engine.c; opened on first use, kept until the last image is gone)."""
        with self._files_lock:
            if self._lanes is None:
                mod = engine.module()
                out = mod.ffi.new("void **")
                r = mod.lib.crbd_lanes_open(self.conf.socket.encode(), engine.busy_poll_us(self), out)
                if r < 0:
                    raise Error(-r, f"{self}: the data connections to {self.conf.socket} were not made")
                self._lanes = out[0]
            return self._lanes

    def shutdown(self) -> None:
        """Close the files still open and the connection (open images become unusable)."""
        nebd = self._nebd
        if nebd is None:
            return
        lanes, self._lanes = self._lanes, None
        if lanes is not None:
            engine.module().lib.crbd_lanes_close(lanes)   # the images still open keep them until closed
        with self._files_lock:
            opens, self._files = [(fd, opener) for fd, _, opener in self._files.values()], {}
        for fd, opener in opens:
            try:
                nebd.close_file(fd, opener)
            except Error:
                pass  # the server may be gone; nothing else to release
        self._nebd = None
        self._stop.set()
        nebd.close()
        if self._locks is not None:   # its locks go with its lease
            self._locks.close()
            self._locks = None
        if self._catalog is not None:
            self._catalog.close()
        if self._heartbeat is not None and self._heartbeat is not threading.current_thread():
            self._heartbeat.join()
        self._heartbeat = None

    def _require_nebd(self) -> NebdClient:
        if self._nebd is None:
            raise Error(errno.ENOTCONN, f"{self} is not connected")
        return self._nebd

    def _require_catalog(self) -> Catalog:
        self._require_nebd()
        return self._catalog

    # --- pools -------------------------------------------------------------------
    def create_pool(self, name: str) -> None:
        self._require_catalog().create_pool(name)

    def remove_pool(self, name: str) -> None:
        self._require_catalog().remove_pool(name)

    def list_pools(self) -> list[str]:
        return self._require_catalog().list_pools()

    def pool_exists(self, name: str) -> bool:
        return self._require_catalog().pool_exists(name)

    def fsid(self) -> str:
        """The cluster's fsid (a UUID string)."""
        return self._require_catalog().fsid()

    def stat(self) -> dict[str, Any]:
        """ClusterStat: {fsid, bytes_total, bytes_used, bytes_avail, pools}."""
        capacity = self.conf.lookup("curve_cluster_capacity")
        try:
            total = parse_size(capacity) if capacity else None
        except ValueError:
            raise Error(errno.EINVAL, f"curve_cluster_capacity {capacity!r}: not a size (e.g. 100T)") from None
        return self._require_catalog().cluster_stat(total)

    def open_ioctx(self, pool: str) -> IoCtx:
        """An I/O context on ``pool``; Error(ENOENT) if there is no such pool."""
        return IoCtx(self, pool)

    # --- open nebd files, shared by the images of this handle -----------------------
    def _open_file(self, name: str) -> int:
        """nebd hands out one fd per file name, so images of one file share it (refcounted)."""
        nebd = self._require_nebd()
        with self._files_lock:
            entry = self._files.get(name)
            if entry is None:
                opener = os.urandom(16).hex()
                entry = self._files[name] = [nebd.open_file(name, opener=opener), 0, opener]
            entry[1] += 1
            return entry[0]

    def _close_file(self, name: str) -> None:
        with self._files_lock:
            entry = self._files.get(name)
            if entry is None:
                return
            entry[1] -= 1
            if entry[1] > 0:
                return
            del self._files[name]
            nebd = self._nebd
            if nebd is not None:
                nebd.close_file(entry[0], entry[2])

    def _heartbeats(self) -> None:
        """Tell the server every few seconds which files we hold (nebd closes silent ones)."""
        block_signals()
        request = messages.HEARTBEAT_METHODS["KeepAlive"][0]
        while not self._stop.wait(HEARTBEAT_INTERVAL):
            nebd = self._nebd
            with self._files_lock:
                files = [{"fd": fd, "name": name} for name, (fd, _, _) in self._files.items()]
            if nebd is None or not files:
                continue  # like nebd's client: nothing open, nothing to say
            payload = request.encode({"pid": os.getpid(), "nebdVersion": "curverbd", "info": files})
            nebd.connection.submit(messages.HEARTBEAT_SERVICE, "KeepAlive", payload, lambda *reply: None)
