"""Clones beyond the basics: deep flatten (a clone with its own snapshots), clone of a clone, copy, allocation,
and snapshots taken while another client keeps writing."""
from __future__ import annotations

import threading

from core_helpers import cluster, core_daemon, ioctx, pattern, pool, unique  # noqa: F401

from rawwire import Wire, nebd_name

MiB = 1 << 20
A, B, C = pattern(MiB, 11), pattern(MiB, 12), pattern(MiB, 13)


def parent_with_snapshot(ioctx) -> str:
    name = unique("par")
    ioctx.create_image(name, 4 * MiB)
    with ioctx.open_image(name) as img:
        img.write(0, A)
        img.write(2 * MiB, A)
        img.create_snap("s")
        img.protect_snap("s")
        img.write(0, C)   # later parent writes never reach clones
    return name


def test_deep_flatten_keeps_the_clones_snapshots(ioctx):
    parent = parent_with_snapshot(ioctx)
    child = unique("ch")
    ioctx.clone(parent, "s", ioctx, child)
    with ioctx.open_image(child) as img:
        img.write(MiB, B)
        img.create_snap("cs")
        img.write(2 * MiB, B)
        img.flatten()
        assert img.read(0, 3 * MiB) == A + B + B
        img.set_snap("cs")
        assert img.read(0, 3 * MiB) == A + B + A
        img.set_snap(None)
    with ioctx.open_image(parent) as img:
        assert img.list_children() == []
        img.unprotect_snap("s")
        img.remove_snap("s")   # the clone's snapshot no longer needs it
        img.close()
    ioctx.remove_image(parent)
    with ioctx.open_image(child, snapshot="cs") as view:
        assert view.read(0, 3 * MiB) == A + B + A
    with ioctx.open_image(child) as img:
        assert img.read(0, 3 * MiB) == A + B + B
        img.remove_snap("cs")
        assert img.read(0, 3 * MiB) == A + B + B
    ioctx.remove_image(child)


def test_clone_of_a_clone_and_copy(ioctx, cluster):
    parent = parent_with_snapshot(ioctx)
    child, grandchild = unique("ch"), unique("gc")
    ioctx.clone(parent, "s", ioctx, child)
    with ioctx.open_image(child) as img:
        img.write(MiB, B)
        img.create_snap("cs")
        img.protect_snap("cs")
    ioctx.clone(child, "cs", ioctx, grandchild)
    with ioctx.open_image(grandchild) as img:
        assert img.read(0, 3 * MiB) == A + B + A
        assert img.allocated() == 0
        img.write(2 * MiB, C)
        assert 0 < img.allocated() <= MiB + (64 << 10)
        other = unique("pool")
        cluster.create_pool(other)
        img.metadata_set("k", "v")
        img.copy(cluster.open_ioctx(other), "copied")
        with cluster.open_ioctx(other).open_image("copied") as copy:
            assert copy.read(0, 3 * MiB) == A + B + C
            assert copy.size() == 4 * MiB and copy.metadata_get("k") == "v"
            try:
                copy.parent_info()
                raise AssertionError("a copy has no parent")
            except OSError as exc:
                assert exc.errno == 2
        img.flatten()
        assert img.read(0, 3 * MiB) == A + B + C


def test_snapshots_while_another_client_writes(core_daemon, ioctx):
    """Writes from one connection, snapshots from another: no acknowledged write is lost, and each
    snapshot shows, block by block, a version between the ones before and after it was taken."""
    name = unique("race")
    blocks = 64
    ioctx.create_image(name, blocks * 4096)
    # the writer is a raw nebd connection (its own server thread); nebd gives it the control's fd
    writer = Wire(core_daemon.socket)
    fd = writer.open_fd(nebd_name(ioctx.pool, name, "admin"))
    done = threading.Event()
    versions = [0] * blocks
    rounds = 30

    def write_loop():
        for version in range(1, rounds + 1):
            for block in range(blocks):
                assert writer.write(fd, block * 4096, version.to_bytes(4, "big") * 1024).ret_code == 0
                versions[block] = version
        done.set()

    thread = threading.Thread(target=write_loop)
    thread.start()
    snaps = []
    with ioctx.open_image(name) as control:
        while not done.is_set() and len(snaps) < 8:
            low = list(versions)
            snap = f"s{len(snaps)}"
            control.create_snap(snap)
            snaps.append((snap, low, list(versions)))
        thread.join()
        writer.close()
        assert control.read(0, blocks * 4096) == rounds.to_bytes(4, "big") * 1024 * blocks
        for snap, low, high in snaps:
            with ioctx.open_image(name, snapshot=snap) as view:
                got = view.read(0, blocks * 4096)
            for block in range(blocks):
                value = int.from_bytes(got[block * 4096:block * 4096 + 4], "big")
                assert got[block * 4096:(block + 1) * 4096] == value.to_bytes(4, "big") * 1024
                assert low[block] <= value <= high[block] + 1, (snap, block, low[block], value, high[block])
        for snap, _, _ in snaps:
            control.remove_snap(snap)
        assert control.read(0, blocks * 4096) == rounds.to_bytes(4, "big") * 1024 * blocks
