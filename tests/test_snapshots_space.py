"""Snapshots are copy-on-write (no data copied, measured in disk blocks) and survive a daemon restart."""
from __future__ import annotations

import os

from core_helpers import pattern

from curverbd.core import Cluster

MiB, GiB = 1 << 20, 1 << 30
CHUNK = pattern(MiB, 7)


def blocks(*dirs: str) -> int:
    """Bytes allocated by every file under ``dirs``."""
    total = 0
    for top in dirs:
        for root, _, files in os.walk(top):
            total += sum(os.stat(os.path.join(root, f)).st_blocks * 512 for f in files)
    return total


def connect() -> Cluster:
    c = Cluster()
    c.connect()
    return c


def test_snapshot_of_a_1gib_image_takes_no_space(daemon):
    data_dirs = (os.path.join(daemon.data_dir, "volumes"), os.path.join(daemon.data_dir, "layers"))
    c = connect()
    c.create_pool("p")
    io = c.open_ioctx("p")
    io.create_image("big", GiB)
    img = io.open_image("big")
    for at in range(0, GiB, 16 * MiB):  # 64 MiB of data spread over the whole image
        img.write(at, CHUNK)
    img.flush()
    before = blocks(*data_dirs)
    assert before >= 64 * MiB
    img.create_snap("s1")
    img.create_snap("s2")
    assert blocks(*data_dirs) == before           # nothing copied
    assert img.allocated() == 0                   # the new head holds nothing yet
    img.write(0, b"x" * 4096)                     # a write costs its own grain only
    assert blocks(*data_dirs) - before <= 64 << 10
    assert img.read(0, 4096) == b"x" * 4096
    assert img.read(16 * MiB, MiB) == CHUNK       # the rest still reads through to the snapshot
    with io.open_image("big", snapshot="s1") as view:
        assert view.read(0, MiB) == CHUNK
    img.close()
    c.shutdown()


def test_snapshot_views_survive_a_restart(daemon):
    c = connect()
    c.create_pool("p")
    io = c.open_ioctx("p")
    io.create_image("img", 8 * MiB)
    with io.open_image("img") as img:
        img.write(0, CHUNK)
        img.create_snap("s1")
        img.write(0, b"B" * MiB)
        img.create_snap("s2")
        img.write(MiB, b"C" * MiB)
        img.protect_snap("s2")
    io.clone("img", "s2", io, "child")
    view = io.open_image("img", snapshot="s1")   # read through a clone of s1, which outlives the restart
    assert view.read(0, 4096) == CHUNK[:4096]
    daemon.restart()
    assert view.read(0, MiB) == CHUNK
    view.close()

    with io.open_image("img") as img:
        assert [s["name"] for s in img.list_snaps()] == ["s1", "s2"]
        assert img.read(0, 2 * MiB) == b"B" * MiB + b"C" * MiB
        assert img.list_children() == [("p", "child")]
        img.set_snap("s1")
        assert img.read(0, 2 * MiB) == CHUNK + bytes(MiB)
        img.set_snap(None)
        img.rollback_to_snap("s1")
        assert img.read(0, 2 * MiB) == CHUNK + bytes(MiB)
    with io.open_image("child") as child:
        assert child.parent_info() == ("p", "img", "s2")
        assert child.read(0, 2 * MiB) == b"B" * MiB + bytes(MiB)
    c.shutdown()


def test_recovery_from_a_crash_in_the_middle_of_a_snapshot(daemon):
    """The two crash windows of snapshot creation, laid out on disk by hand while the daemon is down."""
    c = connect()
    c.create_pool("p")
    io = c.open_ioctx("p")
    io.create_image("img", 4 * MiB)
    with io.open_image("img") as img:
        img.write(0, CHUNK)
        img.create_snap("s1")
        snap_id = img.list_snaps()[0]["id"]
    c.shutdown()
    daemon.stop()
    head = os.path.join(daemon.data_dir, "volumes", "p", "img")
    layer = os.path.join(daemon.data_dir, "layers", str(snap_id))
    orphan = os.path.join(daemon.data_dir, "layers", str(snap_id + 100))
    os.unlink(head)
    os.link(layer, head)          # committed, but the new head never took the head's name
    os.link(layer, orphan)        # a snapshot that never committed
    daemon.start()
    c = connect()
    io = c.open_ioctx("p")   # answered: the store has started
    assert not os.path.exists(orphan)
    with io.open_image("img") as img:
        assert img.read(0, MiB) == CHUNK
        img.write(0, b"new" * 100)
        assert os.stat(head).st_ino != os.stat(layer).st_ino
    with io.open_image("img", snapshot="s1") as view:
        assert view.read(0, MiB) == CHUNK
    c.shutdown()
