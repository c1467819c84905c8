"""The daemon's lifetime: state, services, the accept loop, the heartbeat checker, writeback, graceful stop.

The nebd socket carries the nebd services and the catalog; the MDS listeners
(a unix socket beside it, and TCP if asked) carry only CurveFSService."""
from __future__ import annotations

import logging
import os
import selectors
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

from .catalog import Catalog
from .catalog_service import CatalogService
from .config import ServerConfig
from .connection import Connection, describe_peer
from .curvefs import CurveFS
from .db import Database
from .mds_service import CurveFSService
from .nebd_service import NebdFileService, NebdHeartbeatService
from .openfiles import OpenFiles
from .store import Store
from .writeback import WritebackBehind

log = logging.getLogger("curverbd.server")


class Server:
    """The services on their listening sockets; each connection is served by its own thread."""

    def __init__(self, config: ServerConfig, listener: socket.socket, records: list[dict],
                 mds_listeners: tuple[socket.socket, ...] = ()) -> None:
        self.config = config
        self.listener = listener
        self.db = Database(config.db_path)
        self.store = Store(self.db, config)
        self.files = OpenFiles(self.store, config.meta_path, records)
        self.catalog = Catalog(self.db, self.store, config)
        self.flusher = ThreadPoolExecutor(4, thread_name_prefix="flush")
        services = (NebdFileService(self.files, self.store, self.flusher), NebdHeartbeatService(self.files),
                    CatalogService(self.catalog))
        self.services = {s.name: s for s in services}
        mds = CurveFSService(CurveFS(self.store, config, self.files.busy))
        # listener -> the services its connections reach
        self.listeners = {listener: self.services, **{sock: {mds.name: mds} for sock in mds_listeners}}
        self.connections: dict[Connection, threading.Thread] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.writeback = WritebackBehind(self.files, config.writeback_interval, self.stopping)
        self._wake_r, self._wake_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self.snapshotclone = self._snapshotclone()

    def _snapshotclone(self):
        """snapshotcloneserver's HTTP API with --snapshotclone-listen (bound now: a busy port fails the start)."""
        if self.config.snapshotclone_listen is None:
            try:  # left by a daemon that did not stop cleanly: it would name an address nobody serves
                os.unlink(self.config.snapshotclone_addr_path)
            except FileNotFoundError:
                pass
            return None
        from .snapshotclone import SnapshotCloneServer
        return SnapshotCloneServer(self.store, self.files.busy, self.config.snapshotclone_address(),
                                   self.config.snapshotclone_addr_path, self.config.flatten_step,
                                   self.config.s3_fail)

    def request_stop(self) -> None:
        """Safe from a signal handler: wakes the accept loop, which then stops."""
        self.stopping.set()
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass

    def serve(self) -> None:
        """Accept connections until request_stop(), then stop gracefully."""
        checker = threading.Thread(target=self._check_heartbeats, name="heartbeat", daemon=True)
        checker.start()
        self.writeback.start()
        if self.snapshotclone is not None:
            self.snapshotclone.start()
        log.info("serving on %s (data %s)", self.config.socket, self.config.data_dir)
        with selectors.DefaultSelector() as sel:
            for sock, services in self.listeners.items():
                sel.register(sock, selectors.EVENT_READ, services)
            sel.register(self._wake_r, selectors.EVENT_READ)
            while not self.stopping.is_set():
                for key, _ in sel.select():
                    if key.data is not None and not self.stopping.is_set():
                        self._accept_contained(key.fileobj, key.data)
        self._stop()
        checker.join()
        self.writeback.join()

    def _accept_contained(self, listener: socket.socket, services: dict) -> None:
        """Accept one connection; whatever goes wrong with it is logged and the loop goes on
        (a bug in one connection's set-up must never end the daemon)."""
        try:
            self._accept(listener, services)
        except Exception:
            log.exception("accepting a connection on %s failed; the daemon keeps serving",
                          _listener_name(listener))

    def _accept(self, listener: socket.socket, services: dict) -> None:
        try:
            sock, _ = listener.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return
        except OSError as exc:
            # e.g. EMFILE: the pending connection stays queued and the listener stays readable, so
            # pause a moment instead of spinning on the same error, then keep serving the others
            log.error("accept on %s failed: %s", _listener_name(listener), exc)
            self.stopping.wait(0.1)
            return
        peer = "a new connection"
        try:
            sock.setblocking(True)
            if sock.family != socket.AF_UNIX:  # MDS calls are small request/reply pairs
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            peer = describe_peer(sock)
            conn = Connection(sock, services, self._forget)
            thread = threading.Thread(target=conn.run, name=f"conn-{conn.peer}", daemon=True)
            with self.lock:
                self.connections[conn] = thread
            try:
                thread.start()
            except BaseException:
                self._forget(conn)
                raise
        except Exception as exc:  # this connection only: close it, name who and why
            log.exception("connection from %s closed before serving: %s: %s", peer, type(exc).__name__, exc)
            sock.close()

    def _forget(self, conn: Connection) -> None:
        with self.lock:
            self.connections.pop(conn, None)

    def _check_heartbeats(self) -> None:
        timeout = self.config.heartbeat_timeout
        while not self.stopping.wait(min(3.0, timeout / 3)):
            self.files.expire(timeout)

    def _stop(self) -> None:
        log.info("stopping: closing the listeners, finishing in-flight requests")
        for sock in self.listeners:
            sock.close()
        if self.snapshotclone is not None:
            self.snapshotclone.stop()
        with self.lock:
            running = list(self.connections.items())
        for conn, _ in running:  # no new requests; replies to those already read still go out
            try:
                conn.sock.shutdown(socket.SHUT_RD)
            except OSError:
                pass
        for _, thread in running:
            thread.join(30)
        self.flusher.shutdown(wait=True)
        self.files.close_all()
        self.db.close()
        os.close(self._wake_r)
        os.close(self._wake_w)
        log.info("stopped")


def _listener_name(listener: socket.socket) -> str:
    try:
        name = listener.getsockname()
    except OSError:
        return "a closed listener"
    return name if isinstance(name, str) else f"{name[0]}:{name[1]}"
