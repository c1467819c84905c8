"""curverbd-server's snapshotcloneserver HTTP API (--snapshotclone-listen): mainline Curve's reply shapes,
codes and HTTP statuses (shared/reference/curve-control-plane.md section 7), on a real daemon with
requests made by urllib; data checked through nebd (a snapshot read through a clone, a Recover rolling
a volume back, a flattened clone standing alone) and a SIGKILLed daemon keeping what was finished.
"""
import itertools
import json
import os
import signal
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

import mds_wire as W
from daemon import new_daemon, remove
from mds_wire import Mds, Who
from rawwire import Wire, fd_req, nebd_name

GiB = 1 << 30
SIZES = ("--min-volume-size", "1G", "--segment-size", "512M", "--max-volume-size", "4G")
FILE_SERVICE = "nebd.client.NebdFileService"
ALICE = Who("alice")
OLD, NEW = b"o" * 8192, b"n" * 4096
_counter = itertools.count()


@pytest.fixture(scope="module")
def daemon():
    d = new_daemon(*SIZES, "--curve-release", "2", "--snapshotclone-listen", "127.0.0.1:0").start()
    yield d
    remove(d)


def addr(d) -> str:
    path = d.socket + ".snapshotclone"
    deadline = time.monotonic() + 10
    while not os.path.exists(path):
        assert time.monotonic() < deadline, f"{path} not written"
        time.sleep(0.02)
    with open(path) as f:
        return f.read().strip()


def call(d, action: str | None, version: str | None = "0.0.6", path: str = "/SnapshotCloneService",
         **params) -> tuple[int, dict]:
    """(HTTP status, JSON body) of one GET."""
    query = {k: v for k, v in (("Action", action), ("Version", version)) if v is not None}
    query.update({k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in params.items()})
    url = f"http://{addr(d)}{path}?{urllib.parse.urlencode(query)}"
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    body = json.loads(raw)
    assert isinstance(body["Code"], str) and isinstance(body["Message"], str) and body["RequestId"]
    return status, body


def ok(d, action: str, **params) -> dict:
    status, body = call(d, action, **params)
    assert (status, body["Code"]) == (200, "0"), body
    return body


def refused(d, code: int, action: str, **params) -> dict:
    status, body = call(d, action, **params)
    assert body["Code"] == str(code), body
    assert status == (400 if code == -5 else 500)
    return body


def nebd_rw(d, pool: str, image: str, offset: int, data: bytes | None = None, size: int = 0) -> bytes:
    wire = Wire(d.socket)
    try:
        fd = wire.open_fd(nebd_name(pool, image, "alice"))
        if data is not None:
            assert wire.write(fd, offset, data).ret_code == 0
            out = b""
        else:
            out = wire.read(fd, offset, size).attachment
        assert wire.call(FILE_SERVICE, "CloseFile", fd_req(fd)).ret_code == 0
        return out
    finally:
        wire.close()


@pytest.fixture
def pool(daemon):
    """A fresh directory /p<n> of alice with a 1 GiB volume v holding OLD at 0."""
    name = f"p{next(_counter)}"
    mds = Mds(daemon.mds_socket)
    try:
        assert mds.mkdir(f"/{name}", ALICE) == W.kOK
        assert mds.create(f"/{name}/v", ALICE, length=GiB) == W.kOK
    finally:
        mds.close()
    nebd_rw(daemon, name, "v", 0, OLD)
    return name


def wait_task(d, task: str, status: int = 0) -> dict:
    deadline = time.monotonic() + 20
    while True:
        info = ok(d, "GetCloneTasks", User="alice", UUID=task)["TaskInfos"][0]
        if info["TaskStatus"] == status:
            return info
        assert time.monotonic() < deadline, info
        time.sleep(0.05)


def test_snapshot_life_and_shapes(daemon, pool):
    vol = f"/{pool}/v"
    snap = ok(daemon, "CreateSnapshot", User="alice", File=vol, Name="s1")["UUID"]
    body = ok(daemon, "GetFileSnapshotInfo", User="alice", File=vol)
    assert body["TotalCount"] == 1
    (info,) = body["Snapshots"]
    assert set(info) == {"UUID", "User", "File", "SeqNum", "Name", "Time", "FileLength", "Status", "Progress"}
    assert (info["UUID"], info["User"], info["File"], info["Name"], info["FileLength"], info["Status"],
            info["Progress"]) == (snap, "alice", vol, "s1", GiB, 0, 100)
    listed = ok(daemon, "GetFileSnapshotList", File=vol)
    assert [s["UUID"] for s in listed["Snapshots"]] == [snap]
    second = ok(daemon, "CreateSnapshot", User="alice", File=vol, Name="s2")["UUID"]
    page = ok(daemon, "GetFileSnapshotInfo", User="alice", File=vol, Limit=1, Offset=1)
    assert page["TotalCount"] == 2 and [s["UUID"] for s in page["Snapshots"]] == [second]
    assert ok(daemon, "GetFileSnapshotList", Status=0, UUID=second)["TotalCount"] == 1
    # the MDS sees the volume under snapshot
    mds = Mds(daemon.mds_socket)
    try:
        assert mds.delete(vol, ALICE) == W.kFileUnderSnapShot
        assert mds.rename(vol, f"/{pool}/w", ALICE) == W.kFileUnderSnapShot
        refused(daemon, -14, "CancelSnapshot", User="alice", File=vol, UUID=snap)
        refused(daemon, -11, "DeleteSnapshot", User="alice", UUID=snap, File=f"/{pool}/other")
        refused(daemon, -7, "DeleteSnapshot", User="bob", UUID=snap)
        ok(daemon, "DeleteSnapshot", User="alice", UUID=snap, File=vol)
        ok(daemon, "DeleteSnapshot", User="alice", UUID=second)
        refused(daemon, -8, "DeleteSnapshot", User="alice", UUID=snap)
        assert ok(daemon, "GetFileSnapshotInfo", User="alice", File=vol)["TotalCount"] == 0
        assert mds.rename(vol, f"/{pool}/w", ALICE) == W.kOK
    finally:
        mds.close()


def test_bad_requests_and_refusals(daemon, pool):
    vol = f"/{pool}/v"
    refused(daemon, -5, None)
    refused(daemon, -5, "CreateSnapshot", version=None, User="alice", File=vol, Name="x")
    refused(daemon, -5, "NoSuchAction")
    refused(daemon, -5, "CreateSnapshot", User="alice", File=vol)
    refused(daemon, -5, "CreateSnapshot", User="alice", File="relative", Name="x")
    refused(daemon, -5, "GetFileSnapshotInfo", User="alice", Limit="ten")
    refused(daemon, -5, "Clone", User="alice", Source=vol, Destination=f"/{pool}/c", Lazy="maybe")
    refused(daemon, -5, "Clone", User="alice", Source=vol, Destination=f"/{pool}/c", Lazy=True, Poolset="")
    refused(daemon, -5, "CreateSnapshot", path="/Other", User="alice", File=vol, Name="x")
    refused(daemon, -8, "CreateSnapshot", User="alice", File=f"/{pool}/missing", Name="x")
    refused(daemon, -7, "CreateSnapshot", User="bob", File=vol, Name="x")
    refused(daemon, -8, "CancelSnapshot", User="alice", File=vol, UUID="nope")
    refused(daemon, -8, "Flatten", User="alice", UUID="nope")
    refused(daemon, -8, "CleanCloneTask", User="alice", UUID="nope")
    refused(daemon, -8, "GetCloneRefStatus", User="alice", Source="nope")
    refused(daemon, -21, "ListFile", User="alice", Dir=f"/{pool}")
    snap = ok(daemon, "CreateSnapshot", User="alice", File=vol, Name="x")["UUID"]
    refused(daemon, -19, "Clone", User="alice", Source=snap, Destination=vol, Lazy=True)
    refused(daemon, -8, "Clone", User="alice", Source=snap, Destination=f"/nodir{pool}/c", Lazy=True)
    refused(daemon, -7, "Clone", User="bob", Source=snap, Destination=f"/{pool}/c", Lazy=True)
    refused(daemon, -21, "Recover", User="alice", Source=vol, Destination=vol, Lazy=True)
    ok(daemon, "DeleteSnapshot", User="alice", UUID=snap)


def test_lazy_clone_reads_snapshot_then_flatten(daemon, pool):
    vol, dst = f"/{pool}/v", f"/{pool}/c"
    snap = ok(daemon, "CreateSnapshot", User="alice", File=vol, Name="s")["UUID"]
    nebd_rw(daemon, pool, "v", 0, NEW)   # after the snapshot: the clone must not see it
    task = ok(daemon, "Clone", User="alice", Source=snap, Destination=dst, Lazy=True)["UUID"]
    info = wait_task(daemon, task, 7)
    assert set(info) == {"UUID", "User", "File", "Src", "TaskType", "TaskStatus", "IsLazy", "NextStep", "Time",
                         "Progress", "FileType"}
    assert (info["File"], info["Src"], info["TaskType"], info["IsLazy"], info["FileType"]) == (dst, snap, 0, True, 0)
    assert nebd_rw(daemon, pool, "c", 0, size=8192) == OLD
    ref = ok(daemon, "GetCloneRefStatus", User="alice", Source=snap)
    assert (ref["RefStatus"], ref["TotalCount"], ref["CloneFileInfo"][0]["File"]) == (1, 1, dst)
    refused(daemon, -16, "DeleteSnapshot", User="alice", UUID=snap)
    refused(daemon, -17, "CleanCloneTask", User="alice", UUID=task)
    refused(daemon, -6, "Clone", User="alice", Source=snap, Destination=dst, Lazy=True)
    refused(daemon, -7, "Flatten", User="bob", UUID=task)
    ok(daemon, "Flatten", User="alice", UUID=task)
    wait_task(daemon, task, 0)
    assert ok(daemon, "GetCloneRefStatus", User="alice", Source=snap)["RefStatus"] == 0
    ok(daemon, "DeleteSnapshot", User="alice", UUID=snap)   # the clone stands alone now
    assert nebd_rw(daemon, pool, "c", 0, size=8192) == OLD
    assert nebd_rw(daemon, pool, "v", 0, size=4096) == NEW
    ok(daemon, "CleanCloneTask", User="alice", UUID=task)
    assert ok(daemon, "GetCloneTasks", User="alice", UUID=task)["TotalCount"] == 0


def test_clone_of_volume_not_lazy(daemon, pool):
    vol, dst = f"/{pool}/v", f"/{pool}/full"
    task = ok(daemon, "Clone", User="alice", Source=vol, Destination=dst, Lazy=False)["UUID"]
    info = wait_task(daemon, task, 0)
    assert (info["FileType"], info["IsLazy"], info["Progress"]) == (1, False, 100)
    assert nebd_rw(daemon, pool, "full", 0, size=8192) == OLD
    mds = Mds(daemon.mds_socket)
    try:   # the task's layer of the source is gone with the copy: nothing holds the volume
        assert mds.rename(vol, f"/{pool}/moved", ALICE) == W.kOK
    finally:
        mds.close()


def test_recover_rolls_back(daemon, pool):
    vol = f"/{pool}/v"
    snap = ok(daemon, "CreateSnapshot", User="alice", File=vol, Name="before")["UUID"]
    nebd_rw(daemon, pool, "v", 0, NEW)
    assert nebd_rw(daemon, pool, "v", 0, size=4096) == NEW
    refused(daemon, -8, "Recover", User="alice", Source=snap, Destination=f"/{pool}/other", Lazy=False)
    mds = Mds(daemon.mds_socket)
    try:
        assert mds.create(f"/{pool}/other", ALICE, length=GiB) == W.kOK
    finally:
        mds.close()
    refused(daemon, -11, "Recover", User="alice", Source=snap, Destination=f"/{pool}/other", Lazy=False)
    wire = Wire(daemon.socket)   # open by a client: a rollback under it is refused
    try:
        fd = wire.open_fd(nebd_name(pool, "v", "alice"))
        refused(daemon, -9, "Recover", User="alice", Source=snap, Destination=vol, Lazy=False)
        assert wire.call(FILE_SERVICE, "CloseFile", fd_req(fd)).ret_code == 0
    finally:
        wire.close()
    task = ok(daemon, "Recover", User="alice", Source=snap, Destination=vol, Lazy=False)["UUID"]
    info = wait_task(daemon, task, 0)
    assert (info["TaskType"], info["File"], info["Src"]) == (1, vol, snap)
    assert nebd_rw(daemon, pool, "v", 0, size=8192) == OLD


def test_snapshot_limit(daemon, pool, monkeypatch):
    vol = f"/{pool}/v"
    made = [ok(daemon, "CreateSnapshot", User="alice", File=vol, Name=f"n{i}")["UUID"] for i in range(1024)]
    refused(daemon, -18, "CreateSnapshot", User="alice", File=vol, Name="one-too-many")
    assert ok(daemon, "GetFileSnapshotInfo", User="alice", File=vol, Limit=2000)["TotalCount"] == 1024
    for snap in made[:3]:
        ok(daemon, "DeleteSnapshot", User="alice", UUID=snap)


def test_sigkill_keeps_snapshots_and_tasks():
    d = new_daemon(*SIZES, "--curve-release", "2", "--snapshotclone-listen", "127.0.0.1:0").start()
    try:
        mds = Mds(d.mds_socket)
        assert mds.mkdir("/k", ALICE) == W.kOK and mds.create("/k/v", ALICE, length=GiB) == W.kOK
        mds.close()
        nebd_rw(d, "k", "v", 0, OLD)
        snap = ok(d, "CreateSnapshot", User="alice", File="/k/v", Name="s")["UUID"]
        lazy = ok(d, "Clone", User="alice", Source=snap, Destination="/k/lazy", Lazy=True)["UUID"]
        full = ok(d, "Clone", User="alice", Source=snap, Destination="/k/full", Lazy=False)["UUID"]
        wait_task(d, full, 0)
        d.stop(signal.SIGKILL)
        os.unlink(d.socket + ".snapshotclone")   # the new daemon writes its own
        d.start()
        assert [s["UUID"] for s in ok(d, "GetFileSnapshotInfo", User="alice", File="/k/v")["Snapshots"]] == [snap]
        assert wait_task(d, lazy, 7)["IsLazy"] is True
        wait_task(d, full, 0)
        assert nebd_rw(d, "k", "lazy", 0, size=8192) == OLD
        assert nebd_rw(d, "k", "full", 0, size=8192) == OLD
        ok(d, "Flatten", User="alice", UUID=lazy)
        wait_task(d, lazy, 0)
        ok(d, "DeleteSnapshot", User="alice", UUID=snap)
        d.stop()
        assert not os.path.exists(d.socket + ".snapshotclone")
    finally:
        remove(d)
