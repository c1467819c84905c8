"""One pipelined baidu_std connection to a nebd server over a unix stream socket, for the control
calls (OpenFile, GetInfo, ResizeFile, the catalog's, heartbeats); the data calls are the C engine's
(shim_c/nebd_conn.c), so frames here carry no attachment.

Requests carry correlation ids; replies come back in any order and fire the
request's callback on the connection's receiver thread.

Submitting never blocks on the socket: a frame the kernel will not take at once
goes to a backlog that a flusher thread drains, so a callback may submit from
the receiver thread without the two sides deadlocking on full socket buffers.

Every in-flight request keeps its frame. When the daemon goes away (a restart,
a hot upgrade, a crash), the receiver thread reconnects with nebd's backoff
(retry.py) and sends every request in flight again; requests submitted
meanwhile wait for the new connection. nebd fds survive a restart, so nothing
else has to happen. Synchronous calls give up after nebd's ~5 s with ENOTCONN.
"""
from __future__ import annotations

import collections
import errno
import itertools
import logging
import signal
import socket
import os
import threading
import time
import weakref
from typing import Callable

from ..errors import Error
from . import framing, messages, retry
from .protobuf import DecodeError

log = logging.getLogger(__name__)

# on_reply(error, payload): error is None or an Error; payload is the reply message bytes.
ReplyCallback = Callable[[Error | None, bytes], None]

RECV_BUFFER = 64 << 10


class Request:
    """One in-flight RPC, complete enough to be sent again."""
    __slots__ = ("cid", "service", "method", "frame", "on_reply")

    def __init__(self, cid: int, service: str, method: str, frame: bytes, on_reply: ReplyCallback):
        self.cid = cid
        self.service = service
        self.method = method
        self.frame = frame
        self.on_reply = on_reply


def block_signals() -> None:
    """Library threads must never run a host's signal handlers (QEMU, fio rely on that)."""
    signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())


_live: "weakref.WeakSet[Connection]" = weakref.WeakSet()


def _after_fork_in_child() -> None:
    """A fork child has neither the receiver thread nor a socket of its own: every inherited
    connection is dead there (fresh locks, since a parent's thread may have held them at fork
    time); its socket is left alone, it still serves the parent."""
    for conn in list(_live):
        conn._inherited()


os.register_at_fork(after_in_child=_after_fork_in_child)


class Connection:
    """A baidu_std client connection; thread-safe."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._sock: socket.socket | None = None
        self._ids = itertools.count(1)
        self._inflight: dict[int, Request] = {}
        self._lock = threading.Lock()          # guards the socket's send side, backlog and state
        self._flushable = threading.Condition(self._lock)
        self._backlog: collections.deque = collections.deque()
        self._draining = False                 # the flusher owns the send side while True
        self._flusher: threading.Thread | None = None
        self._receiver: threading.Thread | None = None
        self._down: str | None = "not connected"   # why the connection cannot be used; None when usable
        self._lost: tuple[float, str] | None = None  # (when, why) while reconnecting
        self._connected_at = 0.0                   # when the current socket was made
        self._quick_drops = 0                      # connections dropped right after being made, in a row
        self._answered = False                     # a reply came on the current socket
        self._closing = threading.Event()          # close() called: stop reconnecting
        _live.add(self)

    # --- life cycle ------------------------------------------------------------
    def connect(self) -> None:
        """Connect and start the receiver; Error(ECONNREFUSED) if no server listens."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(self.path)
        except OSError as exc:
            sock.close()
            raise Error(errno.ECONNREFUSED,
                        f"cannot reach curverbd-server at {self.path}: {exc.strerror or exc}") from exc
        with self._lock:
            self._sock = sock
            self._down = None
            self._connected_at = time.monotonic()
            self._answered = False
            self._closing.clear()
        self._receiver = threading.Thread(target=self._receive_loop, args=(sock,),
                                          name="curverbd-nebd-rx", daemon=True)
        self._receiver.start()

    def _inherited(self) -> None:
        self._lock = threading.Lock()
        self._flushable = threading.Condition(self._lock)
        self._closing = threading.Event()
        self._closing.set()
        self._down = "the connection belongs to the parent process (opened before fork())"
        self._sock = None            # never shut down: the parent still uses it
        self._inflight = {}
        self._backlog = collections.deque()
        self._lost = None
        self._flusher = self._receiver = None

    @property
    def connected(self) -> bool:
        return self._down is None

    def close(self) -> None:
        """Close the connection; requests still in flight fail with ENOTCONN."""
        with self._lock:
            if self._down is None:
                self._down = "connection closed by the client"
            self._closing.set()
            sock, self._sock = self._sock, None
            self._flushable.notify_all()
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        receiver = self._receiver
        if receiver is not None and receiver is not threading.current_thread():
            receiver.join()
        if sock is not None:
            sock.close()

    # --- sending ---------------------------------------------------------------
    def submit(self, service: str, method: str, payload: bytes, on_reply: ReplyCallback) -> int:
        """Send one request; ``on_reply`` fires once, on the receiver thread (or here, if
        the connection is already down). While the connection is being re-established the
        request waits and goes out on the new one. Returns the correlation id."""
        cid = next(self._ids)
        request = Request(cid, service, method, framing.request_head(service, method, cid, payload), on_reply)
        with self._lock:
            reason = self._down
            if reason is None:
                self._inflight[cid] = request
                if self._sock is not None:
                    self._send_locked(request.frame)
                return cid
        on_reply(Error(errno.ENOTCONN, f"{service}.{method}: {reason} ({self.path})"), b"")
        return cid

    def _send_locked(self, frame: bytes) -> None:
        """Send without blocking; what the socket will not take now goes to the flusher."""
        if self._draining:
            self._backlog.append(frame)
            return
        try:
            sent = self._sock.send(frame, socket.MSG_DONTWAIT | socket.MSG_NOSIGNAL)
        except BlockingIOError:
            sent = 0
        except OSError:
            self._break(self._sock)   # the request stays in flight: the reconnect sends it again
            return
        if sent < len(frame):
            self._backlog.append(memoryview(frame)[sent:])
            self._draining = True
            self._start_flusher()
            self._flushable.notify()

    def _start_flusher(self) -> None:
        if self._flusher is None:
            self._flusher = threading.Thread(target=self._flush_loop, name="curverbd-nebd-tx", daemon=True)
            self._flusher.start()

    def _flush_loop(self) -> None:
        block_signals()
        while True:
            with self._lock:
                while not self._backlog and self._down is None:
                    self._draining = False
                    self._flushable.wait()
                if self._down is not None:
                    self._backlog.clear()
                    self._draining = False
                    return
                frames = list(self._backlog)
                self._backlog.clear()
                sock = self._sock
                if sock is None:          # reconnecting: the new connection resends everything
                    continue
            try:
                for frame in frames:
                    sock.sendall(frame, socket.MSG_NOSIGNAL)
            except OSError:
                with self._lock:
                    self._break(sock)     # only this socket: a newer one may already be up

    @staticmethod
    def _break(sock: socket.socket | None) -> None:
        """Tear ``sock`` down; its receiver then reconnects (or fails what is in flight if closing)."""
        if sock is None:
            return
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # --- receiving -------------------------------------------------------------
    def _receive_loop(self, sock: socket.socket) -> None:
        block_signals()
        while sock is not None:
            reason = "connection to curverbd-server lost"
            try:
                self._receive_frames(sock)
            except EOFError:
                reason = "curverbd-server closed the connection"
            except OSError as exc:
                if exc.strerror:
                    reason = f"{reason}: {exc.strerror}"
            except (framing.FrameError, DecodeError) as exc:
                reason = f"{reason}: bad frame from server: {exc}"
            sock = self._connection_lost(sock, reason)

    def _receive_frames(self, sock: socket.socket) -> None:
        buf = bytearray(RECV_BUFFER)
        view = memoryview(buf)
        start = end = 0
        inflight = self._inflight
        parse_meta = framing.response_meta

        def fill(n: int) -> None:
            """Make at least ``n`` bytes available at view[start:end]."""
            nonlocal buf, view, start, end
            if start + n > len(buf):
                if n > len(buf):
                    bigger = bytearray(max(n, 2 * len(buf)))
                    bigger[:end - start] = view[start:end]
                    buf, view = bigger, memoryview(bigger)
                else:
                    view[:end - start] = view[start:end]
                end -= start
                start = 0
            while end - start < n:
                got = sock.recv_into(view[end:])
                if not got:
                    raise EOFError
                end += got

        while True:
            if start == end:
                start = end = 0
            fill(framing.HEADER_SIZE)
            body_size, meta_size = framing.parse_header(view[start:start + framing.HEADER_SIZE])
            fill(framing.HEADER_SIZE + meta_size)
            start += framing.HEADER_SIZE
            cid, att_size, code, text = parse_meta(view[start:start + meta_size])
            start += meta_size
            payload_size = body_size - meta_size - att_size
            if att_size < 0 or payload_size < 0:
                raise framing.FrameError(f"attachment size {att_size} exceeds the frame body")
            fill(payload_size)
            payload = bytes(view[start:start + payload_size])
            start += payload_size
            fill(att_size)   # a control reply has none; one that does is skipped
            start += att_size
            request = inflight.pop(cid, None)
            self._answered = True
            if request is not None:
                self._dispatch(request, code, text, payload)
            # drop it now, not at the next frame: its callback may hold a caller's object
            request = payload = None

    def _dispatch(self, request: Request, code: int, text: str, payload: bytes) -> None:
        error = None
        if code in (messages.ENOSERVICE, messages.ENOMETHOD):   # a server that does not offer it
            error = Error(errno.EOPNOTSUPP, f"{request.service}.{request.method}: the server at {self.path} "
                                            f"does not offer it (brpc error {code} {text})")
        elif code:
            error = Error(errno.EIO, f"{request.service}.{request.method} failed in brpc: error {code} {text}")
        try:
            request.on_reply(error, payload)
        except Exception:  # a bug in a callback must not kill the receiver
            log.exception("nebd reply callback of %s.%s raised", request.service, request.method)

    # --- failure policy --------------------------------------------------------
    def _connection_lost(self, sock: socket.socket, reason: str) -> socket.socket | None:
        """The one place that decides what happens when the connection dies: unless the
        client is closing, reconnect (retry.py's backoff) and send every request in flight
        again; the new socket, or None once closed (what was in flight then fails)."""
        with self._lock:
            if self._sock is sock:
                self._sock = None
            self._backlog.clear()
            if not self._closing.is_set():
                self._lost = (time.monotonic(), reason)
        sock.close()
        if not self._closing.is_set():
            sock = self._reconnect(reason)
            if sock is not None:
                return sock
        self._fail_inflight()
        return None

    def _reconnect(self, reason: str) -> socket.socket | None:
        started = last_log = time.monotonic()
        wait, self._quick_drops = retry.pause_after_drop(started - self._connected_at,
                                                         self._answered, self._quick_drops)
        if wait and self._closing.wait(wait):
            return None
        attempt = 0
        while True:
            attempt += 1
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(self.path)
                break
            except OSError as exc:
                sock.close()
                err, why = exc.errno, exc.strerror or str(exc)
            now = time.monotonic()
            if now - last_log >= retry.WAIT_LOG_INTERVAL:
                last_log = now
                log.warning("still waiting for curverbd-server at %s after %.0fs (%s; last attempt: %s); "
                            "%d requests held", self.path, now - started, reason, why, len(self._inflight))
            if self._closing.wait(retry.pause(attempt, err)):
                return None
        with self._lock:
            if self._closing.is_set():
                sock.close()
                return None
            self._sock = sock
            self._connected_at = time.monotonic()
            self._answered = False
            self._lost = None
            pending = sorted(self._inflight.values(), key=lambda r: r.cid)
            for request in pending:   # a frame may have gone out partly: send it whole again
                self._send_locked(request.frame)
        log.warning("reconnected to curverbd-server at %s after %.3fs pause (%d attempts; cause: %s); "
                    "resent %d requests", self.path, time.monotonic() - started, attempt, reason, len(pending))
        return sock

    def _fail_inflight(self) -> None:
        """The client closed the connection: fail what is still in flight with ENOTCONN."""
        with self._lock:
            if self._down is None:
                self._down = "connection closed by the client"
            reason = self._down
            pending = list(self._inflight.values())
            self._inflight.clear()
            self._backlog.clear()
            self._lost = None
            self._flushable.notify_all()
        for request in pending:
            error = Error(errno.ENOTCONN, f"{request.service}.{request.method}: {reason} ({self.path})")
            try:
                request.on_reply(error, b"")
            except Exception:
                log.exception("nebd reply callback of %s.%s raised", request.service, request.method)

    # --- synchronous calls -----------------------------------------------------
    def on_receiver_thread(self) -> bool:
        """True in a reply callback: waiting there for another reply would wait forever."""
        return threading.current_thread() is self._receiver

    def call(self, service: str, method: str, payload: bytes) -> bytes:
        """Send and wait: the reply payload; raises the Error."""
        if self.on_receiver_thread():
            raise Error(errno.EDEADLK, f"{service}.{method}: synchronous call from a completion callback")
        done = threading.Lock()
        done.acquire()
        result: list = []

        def on_reply(error, reply):
            result.append((error, reply))
            done.release()
        cid = self.submit(service, method, payload, on_reply)
        while not done.acquire(timeout=retry.RETRY_INTERVAL):
            lost = self._lost
            if lost is None or time.monotonic() - lost[0] < retry.SYNC_GIVE_UP:
                continue   # a healthy server may take long (flatten, copy): no timeout then
            with self._lock:
                withdrawn = self._inflight.pop(cid, None)
            if withdrawn is not None:   # like nebd's sync RPCs: give up after ~50 retries
                raise Error(errno.ENOTCONN, f"{service}.{method}: {lost[1]} and not back after "
                                            f"{retry.SYNC_GIVE_UP:.0f}s ({self.path})")
        error, reply = result[0]
        if error is not None:
            raise error
        return reply
