"""The daemon's C I/O loop (curverbd/server/_fastloop.c) learns about volumes from Python as things
happen, not per request: a volume is servable in C as soon as it is opened, and a resize, a close
or a new head layer made on another connection is seen by a connection already waiting in C.

Each connection's close is logged with the frames the C loop answered and those Python answered;
the tests read those counts.
"""
from __future__ import annotations

import re
import time

import pytest

from mds_wire import Mds, Who, kOK
from rawwire import FILE, Wire, fd_req, io_req, nebd_name, resize_req
from volumes import make_volume

from curverbd.server import fastpath

MiB = 1 << 20
GiB = 1 << 30
BLOCK = 4096
ADMIN = Who("admin")


@pytest.fixture(autouse=True)
def c_loop_built():
    if fastpath.load() is None:
        pytest.skip("no C I/O loop in this environment (no compiler)")


def closes(daemon, timeout: float = 10) -> list[tuple[int, int]]:
    """(frames answered in C, in Python) of every nebd connection the daemon has closed so far."""
    with open(daemon.log) as f:
        return [(int(m.group(1)), int(m.group(2)))
                for m in re.finditer(r"\((\d+) frames answered in C, (\d+) in Python\)", f.read())]


def wait_for_close(daemon, counts: tuple[int, int], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while counts not in closes(daemon):
        assert time.monotonic() < deadline, f"no connection closed with {counts}: {closes(daemon)}"
        time.sleep(0.05)


def open_image(w: Wire, size: int) -> int:
    make_volume(w.path, "rbd", "img", length=size)
    return w.open_fd(nebd_name("rbd", "img", "admin"))


def test_first_request_on_a_fresh_volume_is_answered_in_c(daemon):
    with Wire(daemon.socket) as w:
        fd = open_image(w, 10 * GiB)                        # Python (a control frame)
        data = b"f" * BLOCK
        assert w.write(fd, 0, data).ret_code == 0           # the first data request: C
        assert w.read(fd, 0, BLOCK).attachment == data      # C
        assert w.call(FILE, "Flush", fd_req(fd)).ret_code == 0   # C (nothing behind it)
        assert w.write(fd, 512, data).ret_code != 0         # unaligned: refused by Python
    wait_for_close(daemon, (3, 2))


def test_resize_and_close_on_another_connection_are_seen_by_the_c_loop(daemon):
    """Connection ``w`` sits in the C loop throughout; ``ctl`` grows the volume and then closes it."""
    size = 10 * GiB
    with Wire(daemon.socket) as w, Wire(daemon.socket) as ctl:
        fd = open_image(w, size)                            # Python
        assert w.write(fd, 0, b"a" * BLOCK).ret_code == 0   # C
        assert ctl.call(FILE, "ResizeFile", resize_req(fd, 2 * size)).ret_code == 0
        # past the old end: the C loop knows the new length without asking Python
        assert w.write(fd, size, b"b" * BLOCK).ret_code == 0          # C
        assert w.read(fd, size, BLOCK).attachment == b"b" * BLOCK      # C
        assert ctl.call(FILE, "CloseFile", fd_req(fd)).ret_code == 0
        r = w.read(fd, 0, BLOCK)                            # closed: Python refuses it
        assert r.ret_code != 0 and "not an open file" in r.ret_msg, r.ret_msg
    wait_for_close(daemon, (3, 2))
    wait_for_close(daemon, (0, 2))                          # ctl: every frame Python's


def test_a_new_head_is_seen_and_a_merged_one_served_again(daemon):
    """A snapshot gives the volume a head with a parent: Python serves it (copy-up). Removing the
    snapshot merges the parent away: the next request Python serves gives it back to the C loop."""
    with Wire(daemon.socket) as w:
        fd = open_image(w, 10 * GiB)                        # Python
        assert w.write(fd, 0, b"1" * BLOCK).ret_code == 0   # C
        mds = Mds(daemon.mds_socket)
        try:
            assert mds.snap_create("/rbd/img@s", ADMIN)[0] == kOK
            assert w.write(fd, 0, b"2" * BLOCK).ret_code == 0   # Python: the head has a parent
            assert mds.snap_delete("/rbd/img@s", ADMIN) == kOK
        finally:
            mds.close()
        assert w.write(fd, 0, b"3" * BLOCK).ret_code == 0   # Python, which republishes the head
        assert w.read(fd, 0, BLOCK).attachment == b"3" * BLOCK   # C again
    wait_for_close(daemon, (2, 3))
