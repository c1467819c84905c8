"""The C frame loop (_fastloop.c) on one connection: which volumes it may serve, and what to redo.

Before each call the connection lists the volumes its data requests named that the C loop may
serve directly: open, writable, head layer without a parent. The list pins those head layers,
so their files stay open while C uses them without the GIL, and until the replies that send
big reads straight from them (sendfile) are out. A snapshot or rollback that moves a
head during a call makes the writes of that call go again through Volume (which writes the new
head under its lock), as Volume.write itself does when its head moves. Extends only widen
what C refuses and hands to Python; anything C does not answer is answered by the Python service.

Big writes whose attachment is still arriving (SPLICE) are moved from the socket through this
connection's pipe into the data file by crbd_splice_write; their data never enters the receive
buffer, so a redo after a head moved reads it back from the old head's file (still open: pinned).

``CURVERBD_FASTPATH=0`` turns the C loop off (the pure-Python path serves everything).
"""
from __future__ import annotations

import fcntl
import logging
import os
import threading

from ..nebd import framing
from ..nebd import messages as M
from .volume import Volume

log = logging.getLogger("curverbd.server.fastpath")

MORE, PYTHON, OUT_FULL, SPLICE = 0, 1, 2, 3
PIPE_SIZE = 1 << 20                 # asked for the splice pipe (capped by /proc/sys/fs/pipe-max-size)
OUT_SIZE = (4 << 20) + (64 << 10)   # replies of one call: four 1 MiB reads and their heads
MAX_VOLUMES = 16
MAX_CHANGES = 1024
MAX_SPLICES = 64
DATA_METHODS = frozenset(("Read", "Write", "Discard"))

_loaded: tuple | None = None
_tried = False
_load_lock = threading.Lock()


def load():
    """The built C module (building it on first use), or None if it cannot be had; the first call
    decides, and logs once if every request will be served by the slower Python path."""
    global _loaded, _tried
    with _load_lock:
        if _tried:
            return _loaded
        _tried = True
        if os.environ.get("CURVERBD_FASTPATH", "1") == "0":
            log.info("C frame loop off ($CURVERBD_FASTPATH=0): every request is served in Python (slower)")
            return None
        try:
            from . import build_fastpath
            mod = build_fastpath.load_module()
            for struct in ("crbd_batch", "crbd_volume", "crbd_splice", "crbd_pipe"):
                mod.ffi.sizeof(f"struct {struct}")  # a build disagreeing with the cdef fails here, not per connection
        except Exception as exc:  # no compiler, no C source in this install, read-only install, ...
            log.warning("C frame loop unavailable (%s: %s); every request is served in Python, which is "
                        "slower (a C compiler and cffi let the daemon build it: python3 -m "
                        "curverbd.server.build_fastpath)", type(exc).__name__, exc)
            return None
        _loaded = (mod.ffi, mod.lib)
        return _loaded


class FastLoop:
    """The C loop's state for one connection."""

    def __init__(self, ffi, lib, files) -> None:
        self.ffi, self.lib, self.files = ffi, lib, files
        self.fds: list[int] = []      # nebd fds named by data requests on this connection
        self.pins: list = []          # (state, head) of the volumes listed for the current call
        self.kept: list = []          # earlier pins, while replies read from their files are unsent
        self.batch = None
        self._buf = None
        self._pipe = None
        self.spliced = 0              # big writes spliced on this connection
        self.expect_big = False       # the last frame was spliced: the next may be too

    def learn(self, method: str, payload) -> None:
        """Remember the fd of a data request the Python service answered: the next calls may serve it."""
        if method not in DATA_METHODS:
            return
        try:
            fd = M.ReadRequest.decode(payload)["fd"]
        except Exception:
            return
        if fd not in self.fds:
            if len(self.fds) >= MAX_VOLUMES:
                del self.fds[0]
            self.fds.append(fd)
            if self.batch is None:
                self._allocate()

    def _allocate(self) -> None:
        ffi = self.ffi
        self.batch = b = ffi.new("struct crbd_batch *")
        self._out = ffi.new("unsigned char[]", OUT_SIZE)
        self._volumes = ffi.new("struct crbd_volume[]", MAX_VOLUMES)
        self._changed = ffi.new("size_t[]", MAX_CHANGES)
        self._splices = ffi.new("struct crbd_splice[]", MAX_SPLICES)
        b.out, b.out_cap = self._out, OUT_SIZE
        b.volumes, b.changed, b.max_changes = self._volumes, self._changed, MAX_CHANGES
        b.splices, b.max_splices = self._splices, MAX_SPLICES

    def refresh(self) -> None:
        """List the volumes C may serve now (also what keeps their heartbeat fresh)."""
        if self.batch is None:
            return
        if self.batch.nsplices:
            self.kept += self.pins
        pins = []
        get = self.files.get
        for fd in list(self.fds):
            try:
                _, vol = get(fd)
            except OSError:
                self.fds.remove(fd)
                continue
            if type(vol) is not Volume:
                continue
            state = vol.state
            head = state.head
            if head.parent is not None:
                continue
            e = self._volumes[len(pins)]
            e.nebd_fd, e.data_fd, e.length = fd, head.fd, state.length
            e.blocksize, e.align_check = state.blocksize, vol.align_check
            pins.append((state, head))
        self.pins = pins
        self.batch.nvolumes = len(pins)

    def serve(self, buf: bytearray, start: int, end: int) -> tuple[int, int]:
        """Run the C loop over ``buf[start:end]``: (its result code, the position it stopped at)."""
        b = self.batch
        if b is None or not self.pins:
            return PYTHON, start
        if self._buf is None or self._buf[0] is not buf:
            self._buf = (buf, self.ffi.from_buffer(buf))
        b.buf, b.pos, b.end, b.changes = self._buf[1], start, end, 0
        rc = self.lib.crbd_serve(b)
        if b.changes:
            for state, head in self.pins:
                if state.head is not head:
                    self._redo(buf, b.changes)
                    break
        return rc, b.pos

    def splice(self, sock_fd: int) -> tuple[int, int]:
        """Write the big write ``serve`` returned SPLICE for, its attachment taken from the socket
        (the replies so far must be sent: this may block). (0 or a positive errno the file refused
        the data with, its correlation id); -errno if the stream broke (the connection must close)."""
        if self._pipe is None:
            self._pipe = self._open_pipe()
        b = self.batch
        rc = self.lib.crbd_splice_write(sock_fd, self._pipe, b)
        big = b.big
        if rc == 0:
            self.spliced += 1
            self.expect_big = True
            state, head = self.pins[big.volume]
            if state.head is not head:
                self._redo_spliced(head, self._volumes[big.volume].nebd_fd, big.offset, big.size)
        return rc, big.cid

    def _open_pipe(self):
        r, w = os.pipe2(os.O_CLOEXEC)
        os.set_blocking(r, False)
        try:
            fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
        except OSError:  # above pipe-max-size for this user: the default works, in smaller steps
            pass
        pipe = self.ffi.new("struct crbd_pipe *")
        pipe.r, pipe.w, pipe.size = r, w, fcntl.fcntl(w, fcntl.F_GETPIPE_SZ)
        return pipe

    def close(self) -> None:
        """Release the pipe (the connection is done)."""
        pipe, self._pipe = self._pipe, None
        if pipe is not None:
            os.close(pipe.r)
            os.close(pipe.w)

    def pending(self) -> bool:
        b = self.batch
        return b is not None and (b.out_len > 0 or b.nsplices > 0)

    def send(self, sock_fd: int | None) -> int:
        """Send the replies built so far (caller holds the send lock), or drop them if ``sock_fd`` is
        None (the peer is gone); 0 or -errno."""
        if sock_fd is None:
            self.batch.out_len = self.batch.nsplices = 0
            rc = 0
        else:
            rc = self.lib.crbd_send(sock_fd, self.batch)
        self.kept = []
        return rc

    def _redo(self, buf: bytearray, count: int) -> None:
        """A head moved during the call: write the call's changes again through Volume."""
        view = memoryview(buf)
        for i in range(count):
            pos = self._changed[i]
            body_size, meta_size = framing.parse_header(view[pos:pos + framing.HEADER_SIZE])
            frame = framing.parse_body(view[pos + framing.HEADER_SIZE:pos + framing.HEADER_SIZE + body_size],
                                       meta_size)
            req = M.WriteRequest.decode(frame.payload)
            try:
                _, vol = self.files.get(req["fd"])
                if frame.meta["request"]["method_name"] == "Write":
                    vol.write(req["offset"], frame.attachment)
                else:
                    vol.discard(req["offset"], req["size"])
            except OSError as exc:
                log.error("redo of a change on fd %d after its head moved failed: %s", req["fd"], exc)

    def _redo_spliced(self, old, fd: int, offset: int, size: int) -> None:
        """A head moved during a spliced write: write its data, read back from the old head, again."""
        data = bytearray(size)
        view = memoryview(data)
        try:
            done = 0
            while done < size:
                n = os.preadv(old.fd, [view[done:]], offset + done)
                if n <= 0:
                    break  # past the old file's end: zeros
                done += n
            _, vol = self.files.get(fd)
            vol.write(offset, data)
        except OSError as exc:
            log.error("redo of a write on fd %d after its head moved failed: %s", fd, exc)
