"""curverbd's client of mainline Curve's snapshotcloneserver (curverbd/curve/snapshotclone.py) against the
daemon's implementation of that API: snapshots, lazy clones, flatten, recover, references, and the
error codes mapped to Ceph's errnos."""
from __future__ import annotations

import errno
import os
import socket
import time

import pytest

from daemon import new_daemon, remove
from rawwire import FILE, Wire, fd_req, nebd_name
from volumes import make_volume

from curverbd.curve.snapshotclone import SnapshotCloneClient, SnapshotCloneError
from curverbd.errors import Error


@pytest.fixture
def mainline():
    d = new_daemon("--curve-release", "2", "--snapshotclone-listen", "127.0.0.1:0").start()
    deadline = time.monotonic() + 10
    path = d.socket + ".snapshotclone"
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.02)
    with open(path) as f:
        d.snapshotclone = f.read().strip()
    yield d
    remove(d)


def write(daemon, path: str, data: bytes) -> None:
    pool, image = path.strip("/").split("/")
    with Wire(daemon.socket) as w:
        fd = w.open_fd(nebd_name(pool, image, "admin"))
        assert w.write(fd, 0, data).ret_code == 0
        assert w.call(FILE, "CloseFile", fd_req(fd)).ret_code == 0


def read(daemon, path: str, n: int) -> bytes:
    pool, image = path.strip("/").split("/")
    with Wire(daemon.socket) as w:
        fd = w.open_fd(nebd_name(pool, image, "admin"))
        data = w.read(fd, 0, n).attachment
        assert w.call(FILE, "CloseFile", fd_req(fd)).ret_code == 0
        return data


def test_snapshot_clone_flatten_recover(mainline):
    make_volume(mainline.socket, "p", "vol")
    write(mainline, "/p/vol", b"A" * 4096)
    sc = SnapshotCloneClient(mainline.snapshotclone, "admin")
    uuid = sc.create_snapshot("/p/vol", "s1")
    info = sc.wait_snapshot("/p/vol", uuid)
    assert (info["Name"], info["File"]) == ("s1", "/p/vol")
    assert [s["UUID"] for s in sc.snapshots("/p/vol")] == [uuid]
    task = sc.clone(uuid, "/p/clone", lazy=True)
    sc.wait_task(task, until_status=7)                        # metadata installed: readable now
    assert read(mainline, "/p/clone", 4096) == b"A" * 4096
    assert sc.references(uuid)[0] == 1
    with pytest.raises(Error) as exc:                         # in use by the clone
        sc.delete_snapshot("/p/vol", uuid)
    assert exc.value.errno == errno.EBUSY and isinstance(exc.value, SnapshotCloneError)
    sc.flatten(task)
    sc.wait_task(task)
    write(mainline, "/p/vol", b"B" * 4096)
    recover = sc.recover(uuid, "/p/vol")
    sc.wait_task(recover)
    assert read(mainline, "/p/vol", 4096) == b"A" * 4096      # rolled back
    sc.delete_snapshot("/p/vol", uuid)
    assert sc.snapshots("/p/vol") == []
    assert read(mainline, "/p/clone", 4096) == b"A" * 4096    # the flattened clone stands alone


def test_errors_map_to_cephs_errnos(mainline):
    make_volume(mainline.socket, "p", "vol")
    sc = SnapshotCloneClient(mainline.snapshotclone, "admin")
    with pytest.raises(Error) as exc:
        sc.create_snapshot("/p/missing", "s")
    assert exc.value.errno == errno.ENOENT and "CreateSnapshot" in str(exc.value)
    with pytest.raises(Error) as exc:
        SnapshotCloneClient(mainline.snapshotclone, "mallory").create_snapshot("/p/vol", "s")
    assert exc.value.errno == errno.EPERM                     # -7: User is not the volume's owner
    uuid = sc.create_snapshot("/p/vol", "s")
    sc.wait_snapshot("/p/vol", uuid)
    make_volume(mainline.socket, "p", "taken")
    with pytest.raises(Error) as exc:
        sc.clone(uuid, "/p/taken")
    assert exc.value.errno == errno.EEXIST


def test_no_server_is_etimedout_naming_the_addresses():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = "127.0.0.1:%d" % s.getsockname()[1]
    with pytest.raises(Error) as exc:
        SnapshotCloneClient([dead], "admin", timeout=1).snapshots("/p/vol")
    assert exc.value.errno == errno.ETIMEDOUT and dead in str(exc.value)
