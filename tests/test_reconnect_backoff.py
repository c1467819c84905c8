"""A peer that drops every connection right after accepting it (a daemon failing on a request the
client keeps resending) must not turn the client's reconnects into a busy loop: the C data path
and the Python core both count such drops as failed retries, with nebd's growing pause
(curverbd/nebd/retry.py). Before that rule one stuck client made ~300 connections a second and
wrote a GiB of log lines. The I/O waiting meanwhile completes once a real daemon is back."""
from __future__ import annotations

import contextlib
import os
import socket
import threading
import time

from curverbd.core import Cluster

from capi_helpers import make_image, make_pool
from test_capi_abi import Handles, abi, log_file  # noqa: F401  (fixtures)

WATCH = 3.0   # seconds of dropped connections
# With the pause growing by 100 ms per quick drop, a connection comes back ~7 times in 3 s;
# the control connection of the embedded core and both data connections do so: ~25 in all.
MAX_ACCEPTS = 100


class Dropper:
    """Listens on the daemon's socket path and closes every connection at once, counting them."""

    def __init__(self, path: str) -> None:
        if os.path.exists(path):
            os.unlink(path)
        self.listener = socket.socket(socket.AF_UNIX)
        self.listener.bind(path)
        self.listener.listen(64)
        self.path, self.accepts, self.stopped = path, 0, False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopped:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.accepts += 1
            conn.close()

    def stop(self) -> None:
        self.stopped = True
        self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self.thread.join()
        os.unlink(self.path)


@contextlib.contextmanager
def dropping(daemon):
    """The daemon stopped and a Dropper on its socket for the block plus WATCH seconds; then the
    daemon again. Yields the Dropper (its ``accepts`` are final after the block)."""
    daemon.stop()
    dropper = Dropper(daemon.socket)
    try:
        yield dropper
        time.sleep(WATCH)
    finally:
        dropper.stop()
        daemon.start()


def test_c_data_path_backs_off(abi, daemon, log_file):  # noqa: F811
    make_pool(daemon, "pool")
    make_image(daemon, "pool", "img", 1 << 20)
    h = Handles(*abi, log_file)
    try:
        assert h.connect() == 0 and h.open_pool(b"pool") == 0 and h.open_image(b"img") == 0
        ffi, lib = h.ffi, h.lib
        comp = ffi.new("rbd_completion_t *")
        data = ffi.new("char[]", b"b" * 4096)   # an aio buffer must live until the completion
        with dropping(daemon) as dropper:
            assert lib.rbd_aio_create_completion(ffi.NULL, ffi.NULL, comp) == 0
            assert lib.rbd_aio_write(h.image, 0, 4096, data, comp[0]) == 0   # waits for the daemon
        assert lib.rbd_aio_wait_for_complete(comp[0]) == 0
        assert lib.rbd_aio_get_return_value(comp[0]) == 0          # librbd: an aio write completes with 0
        lib.rbd_aio_release(comp[0])
        buf = ffi.new("char[4096]")
        assert lib.rbd_read(h.image, 0, 4096, buf) == 4096 and ffi.buffer(buf)[:] == b"b" * 4096
    finally:
        h.close()
    assert 2 <= dropper.accepts <= MAX_ACCEPTS, dropper.accepts


def test_python_core_backs_off(daemon, monkeypatch):
    monkeypatch.setenv("CURVERBD_SOCKET", daemon.socket)
    make_pool(daemon, "pool")
    make_image(daemon, "pool", "img", 1 << 20)
    with Cluster() as c:
        c.connect()
        with c.open_ioctx("pool") as io:
            img = io.open_image("img")
            try:
                with dropping(daemon) as dropper:
                    pending = img.aio_write(0, b"p" * 4096)
                assert pending.wait() == 0   # librbd: an aio write completes with 0
                assert img.read(0, 4096) == b"p" * 4096
            finally:
                img.close()
    assert 1 <= dropper.accepts <= MAX_ACCEPTS, dropper.accepts
