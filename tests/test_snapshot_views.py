"""A reader of a snapshot reads a read-only clone of it (Curve opens no snapshot). A reader killed with one
open leaves it behind; the next reader in the pool removes it once Curve says nobody has it open, and the
snapshot is then free to go (on release1.5 the view held Curve's protection of it)."""
from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time

import pytest
from daemon import ROOT, new_daemon, remove

from curverbd.core import Cluster
from curverbd.core.catalog_snapshots import VIEW_STALE_S
from curverbd.errors import Error

MiB = 1 << 20
READER = """
import sys, time
from curverbd.core import Cluster
c = Cluster(); c.connect()
image = c.open_ioctx("v").open_image("img", snapshot="s")
sys.stdout.write(image.read(0, 4).decode() + "\\n"); sys.stdout.flush()
time.sleep(600)
"""


@pytest.fixture
def daemon(monkeypatch):
    d = new_daemon("--heartbeat-timeout", "1").start()
    monkeypatch.setenv("CURVERBD_SOCKET", d.socket)
    yield d
    remove(d)


def views(cluster: Cluster) -> list[str]:
    return [f["fileName"] for f in cluster._catalog.mds.listdir("/v") if f["fileName"].startswith(".rbd-snapview-")]


def test_a_killed_readers_view_is_swept_by_the_next_reader(daemon):
    c = Cluster()
    c.connect()
    c.create_pool("v")
    io = c.open_ioctx("v")
    io.create_image("img", MiB)
    with io.open_image("img") as img:
        img.write(0, b"old!")
        img.create_snap("s")
        img.write(0, b"new!")
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    reader = subprocess.Popen([sys.executable, "-c", READER], stdout=subprocess.PIPE, env=env)
    try:
        assert reader.stdout.readline() == b"old!\n"
    finally:
        reader.send_signal(signal.SIGKILL)
        reader.wait()
    left = views(c)
    assert len(left) == 1
    with io.open_image("img") as img:
        assert img.is_protected_snap("s") is False          # RBD's word, whatever Curve holds for the view
        img.create_snap("t")
    time.sleep(VIEW_STALE_S + 1.5)                          # past the stale age and the heartbeat timeout
    with io.open_image("img", snapshot="t") as view:       # the next reader sweeps the pool
        assert view.read(0, 4) == b"new!"
        assert left[0] not in views(c) and len(views(c)) == 1
    assert views(c) == []
    with io.open_image("img") as img:
        img.remove_snap("t")
        img.remove_snap("s")
        assert img.list_snaps() == []
    c.shutdown()


def test_a_snapshot_a_dead_reader_held_is_removed_from_curve_by_the_sweep(daemon):
    """librbd removes a snapshot that a handle reads; here the dead reader's view still holds Curve's
    snapshot: RBD forgets it at once, and Curve's goes when the next reader sweeps the view."""
    c = Cluster()
    c.connect()
    c.create_pool("v")
    io = c.open_ioctx("v")
    io.create_image("img", MiB)
    with io.open_image("img") as img:
        img.write(0, b"old!")
        img.create_snap("s")
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    reader = subprocess.Popen([sys.executable, "-c", READER], stdout=subprocess.PIPE, env=env)
    try:
        assert reader.stdout.readline() == b"old!\n"
    finally:
        reader.send_signal(signal.SIGKILL)
        reader.wait()
    catalog = c._catalog
    path = "/v/img"
    with io.open_image("img") as img:
        img.remove_snap("s")                                # the dead reader's view still holds Curve's
        assert img.list_snaps() == []
        assert len(catalog.flavour().list(path)) == 1
        img.create_snap("t")
    time.sleep(VIEW_STALE_S + 1.5)
    with io.open_image("img", snapshot="t"):               # sweeps the dead view: Curve's "s" goes
        pass
    assert [s["name"] for s in catalog.flavour().list(path)] == ["t"]
    with io.open_image("img") as img:
        img.remove_snap("t")
    c.shutdown()


def test_a_snapshot_that_fails_in_snapshotcloneserver_is_eio_and_leaves_nothing(monkeypatch):
    """mainline Curve dumps snapshots to S3 in a task; a task that fails (here: the daemon's --s3-fail)
    makes the RBD call EIO naming the failed snapshot, and nothing is listed or left behind."""
    d = new_daemon("--curve-release", "2", "--s3-fail").start()
    monkeypatch.setenv("CURVERBD_SOCKET", d.socket)
    try:
        c = Cluster()
        c.connect()
        c.create_pool("v")
        io = c.open_ioctx("v")
        io.create_image("img", MiB)
        with io.open_image("img") as img:
            with pytest.raises(Error) as exc:
                img.create_snap("s")
            assert exc.value.errno == errno.EIO
            assert "snapshot 's'" in str(exc.value) and "failed" in str(exc.value)
            assert img.list_snaps() == []
        sc = c._catalog.flavour().server
        assert sc.snapshots("/v/img") == []                 # the failed task was deleted again
        assert c._catalog.state.snaps(io.stat_image("img")["file_id"]) == {}
        c.shutdown()
    finally:
        remove(d)
