"""One client connection: a thread that cuts baidu_std frames out of one receive buffer and answers them.

With the C I/O loop (fastpath.py, _fastloop.c) the thread lives in C: it receives, answers the
data requests it can (aligned Read/Write/Discard, and Flush, on the volumes the daemon's table
lists), batches their replies and sends them, and comes back to Python only for a frame Python
must answer (every control frame, every refusal) or when the connection ends. Python answers
that frame from the same buffer and calls the loop again.

Without it (no compiler, $CURVERBD_FASTPATH=0, the MDS service) the loop is Python: each wakeup is
one ``recv_into`` a large buffer; every complete frame in it is handled in place (write data goes
from this buffer straight to the volume). Replies to the frames of one wakeup are gathered and go
out together in one ``sendmsg([head, attachment, head, ...])`` (read data is never copied into a
frame); replies made on other threads (Flush, from the flush pool) are sent at once under the same
send lock (the C loop's, when there is one). A byte stream that is not baidu_std closes this
connection only.
"""
from __future__ import annotations

import errno
import logging
import os
import socket
import struct
import threading

from ..errors import Error
from ..nebd import framing, messages
from . import fastpath

log = logging.getLogger("curverbd.server.connection")

BUFFER = 1 << 20   # default receive buffer; grows for one frame larger than it
BIG_BUFFER = (4 << 20) + (64 << 10)  # grown size: several 1 MiB writes per wakeup
MAX_KEPT = 16 << 20  # a buffer grown beyond this is dropped once its frame is done (the C loop's too)
SEND_BUFFER = 4 << 20  # socket send buffer asked for
MAX_PARTS = 512    # buffers per sendmsg, well below IOV_MAX
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


class _CSendLock:
    """The C loop's send lock as a context manager: Python's sends on the socket take it too."""
    __slots__ = ("lock", "unlock", "c")

    def __init__(self, loop) -> None:
        self.lock, self.unlock, self.c = loop.lib.crbd_send_lock, loop.lib.crbd_send_unlock, loop.c

    def __enter__(self):
        self.lock(self.c)   # cffi drops the GIL while it waits

    def __exit__(self, *exc) -> None:
        self.unlock(self.c)


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
        self.loop = None      # the C I/O loop (fastpath.Loop), if the daemon has one
        self.python_frames = 0
        inject_fault("setup")
        file_service = services.get(messages.FILE_SERVICE)
        table = file_service.files.fast if file_service is not None else None
        if table is not None:
            self.loop = fastpath.Loop(table.ffi, table.lib, table, sock.fileno())
            self.send_lock = _CSendLock(self.loop)

    # --- replies --------------------------------------------------------------------------------
    def reply(self, cid: int, payload: bytes, attachment=None) -> None:
        size = len(attachment) if attachment is not None else 0
        head = framing.response_head(cid, payload, size)
        self._queue([head, attachment] if size else [head])

    def reply_error(self, cid: int, code: int, text: str) -> None:
        log.info("%s: request %d refused with brpc error %d: %s", self.peer, cid, code, text)
        self._queue([framing.response_head(cid, b"", 0, error_code=code, error_text=text)])

    def _queue(self, parts: list) -> None:
        if threading.get_ident() != self._reader:
            self._send(parts)
            return
        self._batch += parts
        if self.loop is not None:
            self.loop.c.py_pending = 1   # the C loop lets them out before it waits for the peer
        if len(self._batch) >= MAX_PARTS:
            self.flush_replies()

    def flush_replies(self) -> None:
        """Send the replies gathered on the connection thread (the C loop's first)."""
        loop = self.loop
        if loop is not None:
            loop.c.py_pending = 0
            if self.alive:
                err = loop.lib.crbd_flush(loop.c)
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
        if self.loop is not None:
            c = self.loop.c
            cause += f" ({c.served} frames answered in C, {self.python_frames} in Python)"
            if c.spliced:
                cause += f" ({c.spliced} big writes spliced)"
        log.info("connection from %s closed: %s", self.peer, cause)
        with self._async_done:
            self._async_done.wait_for(lambda: self._async == 0, timeout=60)
        with self.send_lock:
            self.alive = False
            self.sock.close()
        if self.loop is not None:
            with self._async_done:
                idle = self._async == 0
            if idle:   # else a late Flush reply still takes the loop's send lock: its state stays
                self.loop.close()
        self.on_exit(self)

    def _serve(self) -> str:
        inject_fault("serve")
        if self.loop is not None:
            return self._serve_c()
        buf = bytearray(BUFFER)
        view = memoryview(buf)
        start = end = 0
        recv_into = self.sock.recv_into
        while True:
            if end == len(buf):  # full: move the partial frame to the front, growing for a big frame
                pending = end - start
                need = HEADER
                if pending >= HEADER:
                    need += framing.parse_header(view[start:start + HEADER])[0]
                if need > len(buf):
                    buf = bytearray(max(need, BIG_BUFFER))
                    new = memoryview(buf)
                    new[:pending] = view[start:end]
                    view = new
                else:
                    view[:pending] = view[start:end]
                start, end = 0, pending
            n = recv_into(view[end:])
            if n == 0:
                return "peer closed mid-frame" if end > start else "peer closed"
            end += n
            while end - start >= HEADER:
                body_size, meta_size = framing.parse_header(view[start:start + HEADER])
                stop = start + HEADER + body_size
                if stop > end:
                    break
                self._handle(view[start + HEADER:stop], meta_size)
                start = stop
            self.flush_replies()
            if start == end:
                start = end = 0
                if len(buf) > MAX_KEPT:  # drop a huge buffer once its frame is done
                    buf = bytearray(BUFFER)
                    view = memoryview(buf)

    def _serve_c(self) -> str:
        """Serve in the C loop, answering here the frames it hands back."""
        loop = self.loop
        c = loop.c
        run = loop.lib.crbd_run
        loop.set_buffer(bytearray(BUFFER), 0, 0)
        view = memoryview(loop.buf)
        while True:
            rc = run(c)
            if rc == fastpath.PYTHON:
                start, end = c.pos, c.end
                body_size, meta_size = framing.parse_header(view[start:start + HEADER])
                stop = start + HEADER + body_size
                if stop > end:
                    raise RuntimeError(f"the C loop handed over a partial frame ({end - start} of {stop - start} bytes)")
                self.python_frames += 1
                self._handle(view[start + HEADER:stop], meta_size)
                c.pos = stop
            elif rc == fastpath.IDLE:
                self.flush_replies()
            elif rc == fastpath.REBUFFER:
                pending = c.end - c.pos
                buf = bytearray(max(c.need, BIG_BUFFER) if c.need else BUFFER)
                buf[:pending] = view[c.pos:c.end]
                loop.set_buffer(buf, 0, pending)
                view = memoryview(buf)
            elif rc == fastpath.CLOSED:
                if c.err == 0 or c.err in (errno.EPIPE, errno.ECONNRESET):
                    return "peer closed mid-frame" if c.end > c.pos else "peer closed"
                return f"socket error: {os.strerror(c.err)}"
            elif rc == fastpath.SPLICE_FAILED:   # the file refused the data: answered as the Python service would
                self.python_frames += 1
                msg = f"Write: {OSError(c.err, os.strerror(c.err))}"
                log.info("Write failed: %s", msg)
                self.services[messages.FILE_SERVICE].fail_later("Write", self, c.big.cid, msg)
            elif rc == fastpath.SPLICE_REDO:
                self.python_frames += 1
                try:
                    self._redo_spliced(c.big)
                finally:
                    loop.lib.crbd_big_release(c)
            elif rc == fastpath.FLUSH_FAILED:
                self.python_frames += 1
                self._flush_failed(view, c)
            else:
                raise RuntimeError(f"the C loop returned {rc}")

    def _redo_spliced(self, big) -> None:
        """A spliced write whose volume got a new head meanwhile: write its data, read back from the
        old head, again through the volume, and answer it."""
        service = self.services[messages.FILE_SERVICE]
        size, offset = big.size, big.offset
        data = bytearray(size)
        view = memoryview(data)
        try:
            done = 0
            while done < size:
                n = os.preadv(big.old_fd, [view[done:]], offset + done)
                if n <= 0:
                    break  # past the old file's end: zeros
                done += n
            _, vol = service.files.get(big.nebd_fd)
            vol.write(offset, data)
        except OSError as exc:
            msg = exc.strerror if isinstance(exc, Error) else f"Write: {exc}"
            log.info("Write failed: %s", msg)
            service.fail_later("Write", self, big.cid, msg)
            return
        self.reply(big.cid, service.table["Write"][4])

    def _flush_failed(self, view: memoryview, c) -> None:
        """The C loop's fsync of the Flush at c.pos failed: answered as the flusher pool answers it."""
        start = c.pos
        body_size, meta_size = framing.parse_header(view[start:start + HEADER])
        stop = start + HEADER + body_size
        frame = framing.parse_body(view[start + HEADER:stop], meta_size)
        c.pos = stop
        service = self.services[messages.FILE_SERVICE]
        fd = messages.FlushRequest.decode(frame.payload)["fd"]
        cid = frame.meta.get("correlation_id", 0)
        try:
            name = service.files.get(fd)[0].name
        except OSError:
            name = f"fd {fd}"
        exc = OSError(c.err, os.strerror(c.err))
        log.error("flush of %s failed: %s", name, exc)
        service.fail_later("Flush", self, cid, f"{name}: flush failed: {exc}")

    def _handle(self, body: memoryview, meta_size: int) -> None:
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
