"""Hot upgrade through the Python core: aio writes keep going while the daemon restarts (SIGTERM and
SIGKILL in turn); nothing fails, and the image then reads back exactly as a model says."""
from __future__ import annotations

import errno
import logging
import random
import signal
import threading
import time

import pytest

from daemon import new_daemon, remove
from upgrade_helpers import RESTARTS, restart_loop

from curverbd.core import Cluster
from curverbd.curve.mds import MAX_RETRY as MDS_BUDGET
from curverbd.errors import Error

MiB = 1 << 20
BLOCK = 4096


@pytest.fixture
def live(monkeypatch):
    d = new_daemon().start()
    monkeypatch.setenv("CURVERBD_SOCKET", d.socket)
    c = Cluster()
    c.connect()
    c.create_pool("p")
    io = c.open_ioctx("p")
    yield d, c, io
    c.shutdown()
    remove(d)


def _writer(img, size: int, model: bytearray, stop: threading.Event, errors: list, pauses: list, seed: int):
    """Keep up to 24 aio writes (aligned and not) in flight over a few ranges, more than a
    connection sends before it queues; record the longest wait."""
    rnd = random.Random(seed)
    while not stop.is_set():
        batch = []
        for _ in range(24):
            length = rnd.choice([BLOCK, 3 * BLOCK, 777, 8192 + 5])
            off = rnd.randrange(0, size - length)
            data = rnd.randbytes(length)
            batch.append((off, data))
        # overlapping writes in one batch would make the model order-dependent: keep them disjoint
        batch.sort()
        disjoint = [batch[0]]
        for off, data in batch[1:]:
            if off >= disjoint[-1][0] + len(disjoint[-1][1]):
                disjoint.append((off, data))
        t0 = time.monotonic()
        comps = [(img.aio_write(off, data), off, data) for off, data in disjoint]
        flush = img.aio_flush()              # flushes are retried like the rest
        for comp, off, data in comps:
            ret = comp.wait()
            if ret != 0:   # librbd: an aio write completes with 0
                errors.append((off, ret))
            model[off:off + len(data)] = data
        if flush.wait() != 0:
            errors.append(("flush", flush.get_return_value()))
        pauses.append(time.monotonic() - t0)


def test_aio_writes_survive_restarts(live, caplog):
    d, c, io = live
    size = 8 * MiB
    io.create_image("i", size)
    img = io.open_image("i")
    model = bytearray(size)
    stop = threading.Event()
    errors: list = []
    pauses: list = []
    caplog.set_level(logging.WARNING, logger="curverbd.nebd.connection")
    t = threading.Thread(target=_writer, args=(img, size, model, stop, errors, pauses, 7))
    t.start()
    try:
        took = restart_loop(d, RESTARTS, 0.3, t.is_alive)
        time.sleep(0.3)
    finally:
        stop.set()
        t.join(60)
    assert not t.is_alive()
    assert errors == []
    assert len(took) == RESTARTS
    assert img.read(0, size) == bytes(model)
    img.flush()
    assert c.list_pools() == ["p"]
    print(f"\npython core: {RESTARTS} restarts, longest aio batch wait {max(pauses):.3f}s, "
          f"longest restart {max(took):.3f}s")
    img.close()


def test_control_call_gives_up_data_waits(live):
    d, c, io = live
    io.create_image("i", MiB)
    img = io.open_image("i")
    img.write(0, b"x" * BLOCK)
    d.stop()
    t0 = time.monotonic()
    with pytest.raises(Error) as exc:
        io.stat_image("i")                   # a control call: Curve's MDS budget, then ETIMEDOUT naming it
    assert exc.value.errno == errno.ETIMEDOUT and d.mds_socket in str(exc.value)
    assert time.monotonic() - t0 >= MDS_BUDGET - 0.5     # the last pause that would overrun is skipped
    pending = img.aio_read(0, BLOCK)         # data I/O: never fails for a restart, waits for the daemon
    time.sleep(0.3)
    assert not pending.is_complete()
    d.start()
    assert pending.wait() == BLOCK
    assert pending.data == b"x" * BLOCK
    assert c.list_pools() == ["p"]
    img.close()


def test_close_while_down_is_bounded(live):
    """A client giving up while the daemon is away does not hang: close returns ETIMEDOUT within the
    close timeout (curverbd_close_timeout), like rbd_close; the write it abandoned is still sent when
    the daemon comes back (nothing is lost)."""
    d, c, io = live
    c.conf_set("curverbd_close_timeout", "1")
    io.create_image("i", MiB)
    img = io.open_image("i")
    d.stop(signal.SIGKILL)
    pending = img.aio_write(0, b"y" * BLOCK)
    t0 = time.monotonic()
    with pytest.raises(Error) as exc:
        img.close()
    assert exc.value.errno == errno.ETIMEDOUT and time.monotonic() - t0 < 10
    assert not pending.is_complete()
    d.start()
    assert pending.wait(60) == 0
    with io.open_image("i", read_only=True) as again:
        assert again.read(0, BLOCK) == b"y" * BLOCK
