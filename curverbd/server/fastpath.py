"""The C I/O loop (_fastloop.c): the daemon's table of the volumes it may serve, and one connection's loop.

Each connection's thread calls ``Loop.run`` once per stretch of frames the C loop answers: it
receives, serves aligned Read/Write/Discard (and a Flush with nothing behind it) on servable
volumes, replies and batches without the GIL, and returns only for a frame Python must answer
(every control frame, every refusal: Python keeps every rule and error message) or when the
connection ends.

The C loop learns which volumes it may serve from the daemon's ``Table`` (one per OpenFiles),
which Python keeps current as things happen, never per request or wakeup: OpenFiles attaches a
volume when it opens (so the first request on it is served in C) and detaches it when it closes;
FileState tells the table when a volume grows or gets a new head layer (a snapshot, a rollback).
A volume is servable while its head has no parent (no copy-up to do) and it is a plain
read-write ``Volume``. The table holds its own duplicate of the head's descriptor, so the C loop
never uses a descriptor Python closed. A write the C loop makes to a head that is being replaced
is handed back to Python, which writes it again through Volume (to the new head, under its lock),
as Volume.write does itself when its head moves; a spliced big write is read back from the old
head for that. Parent links that go away later (a snapshot merged, a clone flattened) are noticed
when Python next serves a data request of that volume (``OpenFiles.get``).

``CURVERBD_FASTPATH=0`` turns the C loop off (the pure-Python path serves everything).
"""
from __future__ import annotations

import logging
import os
import threading

from . import volume as _volume

log = logging.getLogger("curverbd.server.fastpath")

# crbd_run()'s results (_fastloop.h)
PYTHON, REBUFFER, IDLE, CLOSED, SPLICE_FAILED, SPLICE_REDO, FLUSH_FAILED = range(1, 8)
DATA_METHODS = frozenset(("Read", "Write", "Discard"))

_loaded: tuple | None = None
_tried = False
_load_lock = threading.Lock()
# Table changes are made under this one lock: an open publishing a head while a snapshot replaces
# it must not leave the table with the old one.
_publish_lock = threading.Lock()


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
            for struct in ("crbd_conn", "crbd_bigwrite"):
                mod.ffi.sizeof(f"struct {struct}")  # a build disagreeing with the cdef fails here, not per connection
        except Exception as exc:  # no compiler, no C source in this install, read-only install, ...
            log.warning("C frame loop unavailable (%s: %s); every request is served in Python, which is "
                        "slower (a C compiler and cffi let the daemon build it: python3 -m "
                        "curverbd.server.build_fastpath)", type(exc).__name__, exc)
            return None
        _loaded = (mod.ffi, mod.lib)
        return _loaded


def new_table() -> "Table | None":
    """The daemon's volume table, or None when the C loop is not available."""
    loaded = load()
    return Table(*loaded) if loaded is not None else None


class Table:
    """The volumes the C loops may serve (struct crbd_table), by nebd fd; Python is its only writer."""

    def __init__(self, ffi, lib) -> None:
        self.ffi, self.lib = ffi, lib
        self.t = lib.crbd_table_new()
        if self.t == ffi.NULL:
            raise MemoryError("crbd_table_new")
        self.servable: dict[int, bool] = {}   # what was published per fd

    # --- what OpenFiles says ---------------------------------------------------------------------
    def attach(self, fd: int, vol) -> None:
        """``vol`` is open as nebd fd ``fd``: serve it in C from now on if it can be."""
        if type(vol) is not _volume.Volume:   # read-only handles and the like: every request is Python's
            return
        state = vol.state
        with _publish_lock:
            state.watchers[(self, fd)] = vol.align_check
            self._publish(fd, state, vol.align_check)

    def detach(self, fd: int, vol) -> None:
        """nebd fd ``fd`` is closed (or its handle dropped): C no longer serves it."""
        with _publish_lock:
            if vol is not None:
                vol.state.watchers.pop((self, fd), None)
            self.servable.pop(fd, None)
            self.lib.crbd_table_remove(self.t, fd)

    def check(self, fd: int, vol) -> None:
        """Python served a request of ``vol``: publish it again if its head lost its parent since
        (a snapshot merged away, a clone flattened: parent links change without a new head)."""
        if self.servable.get(fd, True) or type(vol) is not _volume.Volume or vol.state.head.parent is not None:
            return
        with _publish_lock:
            if (self, fd) in vol.state.watchers:
                self._publish(fd, vol.state, vol.align_check)

    def used(self, fd: int) -> int:
        """Requests the C loops answered on ``fd`` so far (-1: not in the table)."""
        return self.lib.crbd_table_used(self.t, fd)

    def count(self) -> tuple[int, int]:
        """(volumes in the table, servable ones)."""
        servable = self.ffi.new("int *")
        return self.lib.crbd_table_count(self.t, servable), servable[0]

    # --- what FileState says ---------------------------------------------------------------------
    def _publish(self, fd: int, state, align_check: bool) -> None:
        head = state.head
        data_fd = head.fd if head.parent is None else -1
        rc = self.lib.crbd_table_set(self.t, fd, data_fd, state.length, state.blocksize, int(align_check))
        if rc < 0:   # not served in C then; Python serves it
            log.error("fd %d: the C loop cannot serve %s: %s", fd, state.path, os.strerror(-rc))
            self.lib.crbd_table_set(self.t, fd, -1, state.length, state.blocksize, int(align_check))
            data_fd = -1
        self.servable[fd] = data_fd >= 0


def replace_head(state, layer) -> None:
    """Give ``state`` the head ``layer``, the C loops told: they stop using the old head before it
    is replaced (writes they are doing on it go again through Python), then get the new one.
    Under the publish lock throughout, so an open publishing the head meanwhile cannot put the old
    one back."""
    with _publish_lock:
        for (table, fd) in list(state.watchers):
            table.lib.crbd_table_move(table.t, fd)
        state._head = layer
        for (table, fd), align in list(state.watchers.items()):
            table._publish(fd, state, align)


def set_length(state, length: int) -> None:
    """``state`` grew: the C loops serve up to its new length."""
    with _publish_lock:
        state._length = length
        for (table, fd), align in list(state.watchers.items()):
            table._publish(fd, state, align)


class Loop:
    """One connection's C loop (struct crbd_conn) and the buffer it receives into."""

    def __init__(self, ffi, lib, table: Table, sock_fd: int) -> None:
        self.ffi, self.lib = ffi, lib
        self.c = ffi.new("struct crbd_conn *")
        rc = lib.crbd_conn_init(self.c, table.t, sock_fd)
        if rc < 0:
            raise OSError(-rc, f"C I/O loop: {os.strerror(-rc)}")
        self.buf: bytearray | None = None
        self._keep = None

    def set_buffer(self, buf: bytearray, pos: int, end: int) -> None:
        self.buf = buf
        self._keep = self.ffi.from_buffer(buf)
        c = self.c
        c.buf, c.cap, c.pos, c.end = self._keep, len(buf), pos, end

    def close(self) -> None:
        self.lib.crbd_conn_free(self.c)
