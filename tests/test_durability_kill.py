"""Durability across SIGKILL of the daemon: what a completed flush acknowledged is there after the
restart (read by the same, reconnected client and by a fresh one); the catalog keeps what it
acknowledged; a meta file write cut off before its rename (the .tmp left behind) is never used."""
from __future__ import annotations

import os
import random
import signal

import pytest

from daemon import new_daemon, remove

from curverbd.core import Cluster

MiB = 1 << 20
ROUNDS = 8
PIECE = 64 << 10


@pytest.fixture
def live(monkeypatch):
    d = new_daemon().start()
    monkeypatch.setenv("CURVERBD_SOCKET", d.socket)
    c = Cluster()
    c.connect()
    c.create_pool("p")
    yield d, c, c.open_ioctx("p")
    c.shutdown()
    remove(d)


def test_flushed_data_survives_sigkill_at_random_points(live):
    d, c, io = live
    size = ROUNDS * 2 * PIECE
    io.create_image("i", size)
    img = io.open_image("i")
    rnd = random.Random(11)
    flushed: dict[int, bytes] = {}
    for r in range(ROUNDS):
        base = r * 2 * PIECE
        data = rnd.randbytes(PIECE - 512 - rnd.randrange(0, 4096))   # unaligned tails too
        assert img.write(base + 512, data) == len(data)
        img.flush()                                              # acknowledged: must survive
        flushed[base + 512] = data
        # not flushed, still in flight or just done when the kill lands: may or may not survive
        pending = [img.aio_write(base + PIECE + off, rnd.randbytes(4096))
                   for off in range(0, rnd.randrange(1, 8) * 4096, 4096)]
        d.stop(signal.SIGKILL)
        d.start()
        for comp in pending:
            assert comp.wait() == 0                              # resent after the restart, no error
        for off, data in flushed.items():
            assert img.read(off, len(data)) == data, f"round {r}: flushed data at {off} lost"
    with Cluster() as fresh:
        fresh.connect()
        with fresh.open_ioctx("p") as io2, io2.open_image("i") as img2:
            for off, data in flushed.items():
                assert img2.read(off, len(data)) == data
    img.close()


def test_catalog_changes_survive_sigkill(live):
    d, c, io = live
    io.create_image("a", MiB)
    io.create_image("b", 2 * MiB)
    io.remove_image("a")
    with io.open_image("b") as img:
        img.metadata_set("k", "v")
        img.resize(3 * MiB)
    d.stop(signal.SIGKILL)
    d.start()
    assert io.list_images() == ["b"]
    assert io.stat_image("b")["size"] == 3 * MiB
    with io.open_image("b") as img:
        assert img.metadata_get("k") == "v"


def test_meta_tmp_left_by_a_crash_is_ignored(live):
    d, c, io = live
    io.create_image("i", MiB)
    img = io.open_image("i")
    img.write(0, b"kept")
    img.flush()
    d.stop(signal.SIGKILL)
    meta = os.path.join(d.data_dir, "nebdserver.meta")
    with open(meta + ".tmp", "wb") as f:                         # a torn write that never got renamed
        f.write(b'{"volumes": [{"filename": "cbd:p//i_adm')
    d.start()
    assert img.read(0, 4) == b"kept"                             # the fd from the renamed meta still works
    img.write(4096, b"more")
    img.close()
