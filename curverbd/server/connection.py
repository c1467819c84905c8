"""One client connection: a thread that cuts baidu_std frames out of one receive buffer and answers them.

Each wakeup is one ``recv_into`` a large buffer; every complete frame in it is
handled in place (write data goes from this buffer straight to the volume).
The common data requests (aligned Read/Write/Discard on a plain volume) are
answered by the C frame loop (fastpath.py, _fastloop.c) when it is built;
everything else, and everything when it is not, by the Python services.
A big write the C loop answers whose attachment is still arriving is spliced
from the socket into the volume instead (its data never enters the buffer);
right after one, the next wakeup receives only a few KiB, so the head of the
next big write is seen before its attachment is copied.
Replies to the frames of one wakeup are gathered and go out together in one
``sendmsg([head, attachment, head, ...])`` (read data is never copied into a
frame); replies made on other threads (Flush, from the flush pool) are sent at
once under the same send lock. A byte stream that is not baidu_std
closes this connection only.
"""
from __future__ import annotations

import errno
import logging
import os
import socket
import struct
import threading

from ..nebd import fastwire, framing, messages
from . import fastpath

log = logging.getLogger("curverbd.server.connection")

BUFFER = 1 << 20   # default receive buffer; grows for one frame larger than it
BIG_BUFFER = (4 << 20) + (64 << 10)  # grown size: several 1 MiB writes per wakeup
MAX_KEPT = 16 << 20  # a buffer grown beyond this is dropped once its frame is done
SEND_BUFFER = 4 << 20  # socket send buffer asked for
MAX_PARTS = 512    # buffers per sendmsg, well below IOV_MAX
HEAD_RECV = 4096   # bytes received right after a spliced write: the next frame's head, little data
SMALL_PENDING = 64 << 10  # a partial frame this small is moved to the front, not given a bigger buffer
HEADER = framing.HEADER_SIZE

# Fault injection, so tests can show that one connection's failure stays its own on the real daemon
# (tests/test_server_containment.py): $CURVERBD_INJECT_FAULT lists points ("setup": while a
# connection is set up in the accept loop, "serve": in the connection's thread) at which the
# first connection to get there raises, once per daemon.
FAULT_ENV = "CURVERBD_INJECT_FAULT"
_faults = set(filter(None, os.environ.get(FAULT_ENV, "").split(",")))
_faults_lock = threading.Lock()


def inject_fault(point: str) -> None:
    if point not in _faults:  # the usual case: one set lookup per connection, nothing per request
        return
    with _faults_lock:
        if point not in _faults:
            return
        _faults.discard(point)
    raise RuntimeError(f"fault injected at connection {point} by ${FAULT_ENV}")


def describe_peer(sock: socket.socket) -> str:
    if sock.family != socket.AF_UNIX:  # TCP (the MDS service): the peer's address
        try:
            host, port = sock.getpeername()[:2]
            return f"{host}:{port}"
        except OSError:
            return "unknown peer"
    try:
        pid, uid, gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
        return f"pid {pid} uid {uid}"
    except OSError:
        return "unknown peer"


class Connection:
    """Serve one socket until its peer goes away or sends something that is not baidu_std."""

    def __init__(self, sock: socket.socket, services: dict, on_exit) -> None:
        self.sock = sock
        self.services = services
        self.on_exit = on_exit
        self.peer = describe_peer(sock)
        try:  # big read replies in fewer wakeups (the kernel caps it at net.core.wmem_max)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
        except OSError:
            pass
        self.send_lock = threading.Lock()
        self.alive = True
        self._async = 0  # requests answered later (Flush): the socket stays open until they are
        self._async_done = threading.Condition()
        self._reader = 0      # the connection thread's id: its replies are batched
        self._batch: list = []
        self.fast = None
        inject_fault("setup")
        file_service = services.get(messages.FILE_SERVICE)
        loaded = fastpath.load() if file_service is not None else None
        if loaded is not None:
            self.fast = fastpath.FastLoop(*loaded, file_service.files)

    # --- replies --------------------------------------------------------------------------------
    def reply(self, cid: int, payload: bytes, attachment=None) -> None:
        size = len(attachment) if attachment is not None else 0
        head = fastwire.response_head(cid, payload, size)
        self._queue([head, attachment] if size else [head])

    def reply_error(self, cid: int, code: int, text: str) -> None:
        log.info("%s: request %d refused with brpc error %d: %s", self.peer, cid, code, text)
        self._queue([framing.response_head(cid, b"", 0, error_code=code, error_text=text)])

    def _queue(self, parts: list) -> None:
        if threading.get_ident() != self._reader:
            self._send(parts)
            return
        self._batch += parts
        if len(self._batch) >= MAX_PARTS:
            self.flush_replies()

    def flush_replies(self) -> None:
        """Send the replies gathered on the connection thread (the C loop's first)."""
        fast = self.fast
        if fast is not None and fast.pending():
            with self.send_lock:
                err = fast.send(self.sock.fileno() if self.alive else None)
                if err:
                    self.alive = False
                    log.info("%s: reply not delivered: %s", self.peer, os.strerror(-err))
        if self._batch:
            batch, self._batch = self._batch, []
            self._send(batch)

    def _send(self, parts: list) -> None:
        with self.send_lock:
            if not self.alive:
                return
            try:
                total = sum(len(p) for p in parts)
                sent = self.sock.sendmsg(parts)
                while sent < total:  # rare: a full socket buffer
                    total -= sent
                    parts = _skip(parts, sent)
                    sent = self.sock.sendmsg(parts)
            except OSError as exc:
                self.alive = False
                log.info("%s: reply not delivered: %s", self.peer, exc)

    def async_started(self) -> None:
        with self._async_done:
            self._async += 1

    def async_finished(self) -> None:
        with self._async_done:
            self._async -= 1
            self._async_done.notify_all()

    # --- receiving ------------------------------------------------------------------------------
    def run(self) -> None:
        self._reader = threading.get_ident()
        try:
            cause = self._serve()
        except framing.FrameError as exc:
            cause = f"not baidu_std: {exc}"
        except OSError as exc:
            cause = f"socket error: {exc}"
        except Exception as exc:  # a bug: drop this connection, keep the daemon
            log.exception("%s: connection handler failed", self.peer)
            cause = f"internal error: {type(exc).__name__}: {exc}"
        try:
            self.flush_replies()  # answers to the frames before a bad one still go out
        except Exception as exc:
            log.exception("%s: replies before the close not delivered", self.peer)
            cause += f"; replies not delivered: {exc}"
        if self.fast is not None:
            try:
                self.fast.close()
            except OSError as exc:
                log.error("%s: closing the C loop's pipe failed: %s", self.peer, exc)
            if self.fast.spliced:
                cause += f" ({self.fast.spliced} big writes spliced)"
        log.info("connection from %s closed: %s", self.peer, cause)
        with self._async_done:
            self._async_done.wait_for(lambda: self._async == 0, timeout=60)
        with self.send_lock:
            self.alive = False
            self.sock.close()
        self.on_exit(self)

    def _serve(self) -> str:
        inject_fault("serve")
        buf = bytearray(BUFFER)
        view = memoryview(buf)
        start = end = 0
        recv_into = self.sock.recv_into
        fast = self.fast
        while True:
            if end == len(buf):  # full: move the partial frame to the front, growing for a big frame
                pending = end - start
                need = HEADER
                if pending >= HEADER:
                    need += framing.parse_header(view[start:start + HEADER])[0]
                # a short partial frame may be a big write the C loop splices: its head is enough
                if need > len(buf) and (pending >= SMALL_PENDING or fast is None):
                    buf = bytearray(max(need, BIG_BUFFER))
                    new = memoryview(buf)
                    new[:pending] = view[start:end]
                    view = new
                else:
                    view[:pending] = view[start:end]
                start, end = 0, pending
            if fast is not None and fast.expect_big and start == end:
                fast.expect_big = False
                n = recv_into(view[end:end + HEAD_RECV])
            else:
                n = recv_into(view[end:])
            if n == 0:
                return "peer closed mid-frame" if end > start else "peer closed"
            end += n
            if fast is not None:
                fast.refresh()
            while end - start >= HEADER:
                if fast is not None:
                    rc, start = fast.serve(buf, start, end)
                    if rc == fastpath.MORE:
                        break
                    if rc == fastpath.OUT_FULL:
                        self.flush_replies()
                        continue
                    if rc == fastpath.SPLICE:
                        cause = self._splice()
                        if cause:
                            return cause
                        start = end
                        break
                body_size, meta_size = framing.parse_header(view[start:start + HEADER])
                stop = start + HEADER + body_size
                if stop > end:
                    break
                self._handle(view[start + HEADER:stop], meta_size)
                start = stop
                if fast is not None:
                    fast.refresh()  # that frame may have opened, closed or named a volume
            self.flush_replies()
            if start == end:
                start = end = 0
                if len(buf) > MAX_KEPT:  # drop a huge buffer once its frame is done
                    buf = bytearray(BUFFER)
                    view = memoryview(buf)

    def _splice(self) -> str | None:
        """The big write at the C loop's position, its attachment spliced from the socket (after the
        replies so far are out: it may wait for the peer). None, or why the connection must close."""
        self.flush_replies()
        if not self.alive:
            return "reply not delivered"
        err, cid = self.fast.splice(self.sock.fileno())
        if err < 0:
            if err == -errno.EPIPE:
                return "peer closed mid-frame"
            return f"socket error in a write's attachment: {os.strerror(-err)}"
        if err > 0:  # the file refused the data; answered as the Python service answers a failed write
            msg = f"Write: {OSError(err, os.strerror(err))}"
            log.info("Write failed: %s", msg)
            self.services[messages.FILE_SERVICE].fail_later("Write", self, cid, msg)
        return None

    def _handle(self, body: memoryview, meta_size: int) -> None:
        plain = fastwire.request_meta(body[:meta_size])
        if plain is not None:  # the common form, decoded without the generic codec
            service_name, method, cid, attachment_size = plain
            if attachment_size < 0 or attachment_size > len(body) - meta_size:
                framing.parse_body(body, meta_size)  # raises FrameError naming the sizes
            split = len(body) - attachment_size
            payload, attachment = body[meta_size:split], body[split:]
        else:
            frame = framing.parse_body(body, meta_size)
            request = frame.meta.get("request")
            if request is None:
                raise framing.FrameError("frame carries no request meta")
            cid = frame.meta.get("correlation_id", 0)
            if frame.meta.get("compress_type", 0):
                self.reply_error(cid, messages.EREQUEST, "compressed requests are not supported")
                return
            service_name, method = request["service_name"], request["method_name"]
            payload, attachment = frame.payload, frame.attachment
        service = self.services.get(service_name)
        if service is None:
            self.reply_error(cid, messages.ENOSERVICE, f"no service {service_name!r}")
            return
        if self.fast is not None and service.name == messages.FILE_SERVICE:
            self.fast.learn(method, payload)
        try:
            service.handle(self, cid, method, payload, attachment)
        except Exception as exc:  # a bug in a handler: answer EINTERNAL, keep the connection
            log.exception("%s: %s.%s failed", self.peer, service_name, method)
            self.reply_error(cid, messages.EINTERNAL, f"internal error: {exc}")


def _skip(parts: list, n: int) -> list:
    """``parts`` without their first ``n`` bytes."""
    out = []
    for p in parts:
        if n >= len(p):
            n -= len(p)
            continue
        out.append(memoryview(p)[n:] if n else p)
        n = 0
    return out
