"""The top-level ``rados`` module against a real curverbd-server (no mocks).

Every rados name OpenStack uses (reference/openstack-python.md §3.1) is run here;
the last test checks that with a profile hook.
"""
from __future__ import annotations

import errno
import json
import os
import pickle
import signal
import subprocess
import sys
import time
import uuid

import pytest

from pymod_helpers import POOL, RAISED, CallTracker, ioctx, rados, rados_conn, raises_exactly, resolve, uncovered  # noqa: F401

# reference/openstack-python.md §3.1: the 17 rados names OpenStack uses.
RADOS_NAMES = [
    "rados.Rados", "rados.Rados.conf_set", "rados.Rados.conf_get", "rados.Rados.connect",
    "rados.Rados.open_ioctx", "rados.Rados.shutdown", "rados.Rados.get_fsid", "rados.Rados.mon_command",
    "rados.Ioctx", "rados.Ioctx.close", "rados.Object", "rados.Object.write", "rados.Object.read",
    "rados.Object.stat", "rados.Object.remove", "rados.Error", "rados.ObjectNotFound",
]
# used with them: the Ioctx context manager (glance) and namespaces (cinder backup)
RADOS_ALSO = ["rados.Ioctx.__enter__", "rados.Ioctx.__exit__", "rados.Ioctx.set_namespace",
              "rados.Rados.__enter__", "rados.Rados.__exit__"]

TRACKER = CallTracker()


@pytest.fixture(scope="module", autouse=True)
def track_calls():
    TRACKER.start()
    yield
    TRACKER.stop()


def test_import_starts_nothing():
    code = ("import threading, rados, rbd, gc, socket\n"
            "assert threading.active_count() == 1, threading.enumerate()\n"
            "assert not [o for o in gc.get_objects() if isinstance(o, socket.socket)]\n"
            "r = rados.Rados()\n"
            "assert threading.active_count() == 1\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd="/", timeout=60)


def test_rados_kwargs_conf_and_connect(daemon, tmp_path):
    conf = tmp_path / "ceph.conf"
    conf.write_text(f"[global]\nmon_host = 192.0.2.1\n[client]\ncurverbd_socket = {daemon.socket}\n")
    r = rados.Rados(rados_id="admin", conffile=str(conf), clustername="ceph")
    assert r.state == "configuring"
    assert r.conf_get("mon_host") == "192.0.2.1"
    assert r.conf_get("rbd_default_features") == "1"
    assert r.conf_get("no_such_option_anywhere") is None
    for key in ("rados_osd_op_timeout", "rados_mon_op_timeout", "client_mount_timeout"):  # glance, cinder
        r.conf_set(key, "5")
        assert r.conf_get(key) == "5"
    r.connect(timeout=5)
    assert r.state == "connected"
    assert str(uuid.UUID(r.get_fsid())) == r.get_fsid()
    assert str(r.version()) == "3.0.0"
    r.shutdown()
    r.shutdown()  # twice is harmless
    assert r.state == "shutdown"


def test_rados_name_forms_and_context_manager(daemon):
    with rados.Rados(name="client.admin", conffile="", conf={"rbd_cache": "false"}) as r:
        assert r.rados_id == "admin" and r.state == "connected"
        assert r.conf_get("rbd_cache") == "false"
        fsid = r.get_fsid()
    assert r.state == "shutdown"
    with rados.Rados(conffile=rados.Rados.NO_CONF_FILE) as r2:  # client.admin by default
        assert r2.get_fsid() == fsid
    with pytest.raises(rados.Error):
        rados.Rados(rados_id="admin", name="client.admin")


def test_missing_conf_file_and_states(daemon, tmp_path):
    with raises_exactly(rados.ObjectNotFound, errno.ENOENT):
        rados.Rados(rados_id="admin", conffile=str(tmp_path / "missing.conf"))
    r = rados.Rados()
    with raises_exactly(rados.RadosStateError):
        r.open_ioctx(POOL)
    r.connect()
    with raises_exactly(rados.RadosStateError):
        r.connect()
    r.shutdown()
    with raises_exactly(rados.RadosStateError):
        r.list_pools()


def test_connect_without_daemon(tmp_path, monkeypatch):
    monkeypatch.setenv("CURVERBD_SOCKET", str(tmp_path / "nobody.sock"))
    r = rados.Rados()
    with pytest.raises(rados.Error) as info:
        r.connect()
    assert info.value.errno == errno.ECONNREFUSED and type(info.value) is rados.OSError


def test_pools(rados_conn):
    assert POOL in rados_conn.list_pools()
    assert rados_conn.pool_exists(POOL) and not rados_conn.pool_exists("nope")
    with raises_exactly(rados.ObjectExists, errno.EEXIST):
        rados_conn.create_pool(POOL)
    with raises_exactly(rados.ObjectNotFound, errno.ENOENT):
        rados_conn.open_ioctx("nope")
    rados_conn.create_pool("second")
    with rados_conn.open_ioctx("second") as io:
        rados.Object(io, "o").write(b"data")   # the pool goes with its objects, as in Ceph
    rados_conn.delete_pool("second")
    assert "second" not in rados_conn.list_pools()
    assert isinstance(rados_conn.pool_lookup(POOL), int) and rados_conn.pool_lookup("nope") is None


def test_mon_command_df(rados_conn, ioctx):
    ret, out, outs = rados_conn.mon_command(json.dumps({"prefix": "df", "format": "json"}), b"")
    assert ret == 0 and outs == "" and isinstance(out, bytes)
    df = json.loads(out)
    stats = df["stats"]
    assert stats["total_bytes"] > 0
    assert stats["total_used_bytes"] + stats["total_avail_bytes"] <= stats["total_bytes"]
    pool = next(p for p in df["pools"] if p["name"] == POOL)
    assert isinstance(pool["id"], int)
    assert set(pool["stats"]) >= {"stored", "bytes_used", "max_avail", "objects"}
    assert pool["stats"]["max_avail"] == stats["total_avail_bytes"]


def test_mon_command_quota_and_unknown(rados_conn):
    cmd = json.dumps({"prefix": "osd pool get-quota", "pool": POOL, "format": "json"})
    ret, out, outs = rados_conn.mon_command(cmd, b"")
    assert ret == 0
    quota = json.loads(out)
    assert quota["pool_name"] == POOL and quota["quota_max_bytes"] == 0 and quota["quota_max_objects"] == 0
    ret, out, outs = rados_conn.mon_command(json.dumps({"prefix": "osd pool get-quota", "pool": "nope"}), b"")
    assert ret == -errno.ENOENT and out == b"" and "nope" in outs
    ret, out, outs = rados_conn.mon_command(json.dumps({"prefix": "no such command"}), b"")
    assert ret == -errno.EINVAL and out == b""


def test_objects_like_cinder_backup(ioctx):
    meta = rados.Object(ioctx, "backup.42.meta")
    payload = json.dumps({"volume": "v", "keys": list(range(100))}).encode()
    meta.write(payload)
    size, mtime = meta.stat()
    assert size == len(payload) and isinstance(mtime, time.struct_time)
    assert rados.Object(ioctx, "backup.42.meta").read() == payload   # default length: 1 MiB
    reader = rados.Object(ioctx, "backup.42.meta")
    assert reader.read(10) + reader.read(10) == payload[:20]          # the position advances
    meta.remove()
    with raises_exactly(rados.ObjectStateError):
        meta.read()
    with raises_exactly(rados.ObjectNotFound, errno.ENOENT):
        rados.Object(ioctx, "backup.42.meta").read()
    with raises_exactly(rados.ObjectNotFound, errno.ENOENT):
        rados.Object(ioctx, "backup.42.meta").remove()
    with raises_exactly(rados.ObjectNotFound, errno.ENOENT):
        ioctx.stat("backup.42.meta")


def test_ioctx_objects_and_namespaces(ioctx):
    assert ioctx.get_pool_name() == POOL and ioctx.get_namespace() == ""
    assert ioctx.write("obj", b"abc", 4) == 0
    assert ioctx.read("obj") == b"\0\0\0\0abc"
    assert ioctx.read("obj", 2, 5) == b"bc" and ioctx.read("obj", 10, 100) == b""
    ioctx.write_full("obj", b"xy")
    ioctx.append("obj", b"z")
    assert ioctx.read("obj") == b"xyz" and ioctx.stat("obj")[0] == 3
    ioctx.trunc("obj", 5)
    assert ioctx.read("obj") == b"xyz\0\0"
    ioctx.set_namespace("ns1")
    with raises_exactly(rados.ObjectNotFound):
        ioctx.read("obj")                       # namespaces do not share objects
    rados.Object(ioctx, "obj").write(b"in ns1")
    assert [o.key for o in ioctx.list_objects()] == ["obj"]
    ioctx.set_namespace("")
    assert ioctx.read("obj") == b"xyz\0\0"
    assert rados.Object(ioctx, "obj", nspace="ns1").read() == b"in ns1"
    assert ioctx.remove_object("obj") is True
    assert ioctx.get_stats()["num_bytes"] >= 0


def test_objects_all_namespaces_stats_and_limits(rados_conn, ioctx):
    before = rados_conn.get_cluster_stats()["num_objects"]
    ioctx.write_full("a", b"12345")
    ioctx.set_namespace("ns")
    ioctx.write_full("b", b"678")
    assert [(o.nspace, o.key) for o in ioctx.list_objects()] == [("ns", "b")]
    ioctx.set_namespace(rados.LIBRADOS_ALL_NSPACES)
    listed = list(ioctx.list_objects())
    assert [(o.nspace, o.key) for o in listed] == [("", "a"), ("ns", "b")]
    assert [o.read() for o in listed] == [b"12345", b"678"]      # each Object reads in its own namespace
    ioctx.set_namespace("")
    stats = ioctx.get_stats()
    assert stats["num_objects"] == 2 and stats["num_bytes"] == 8
    assert rados_conn.get_cluster_stats()["num_objects"] == before + 2
    assert ioctx.append("a", b"6") == 0 and ioctx.read("a") == b"123456"
    with raises_exactly(rados.OSError, errno.EFBIG):
        ioctx.write("a", b"x", 16 << 20)                          # objects hold at most 16 MiB
    with raises_exactly(rados.ObjectNotFound, errno.ENOENT):
        ioctx.trunc("missing", 4)                                # truncation does not create
    with raises_exactly(rados.InvalidArgumentError, errno.EINVAL):
        ioctx.write("", b"x")
    obj = rados.Object(ioctx, "a")
    obj.seek(2)
    obj.write(b"ZZ")
    assert obj.stat()[0] == 6 and ioctx.read("a") == b"12ZZ56"


def test_objects_are_not_images(rados_conn, ioctx):
    import rbd
    rados.Object(ioctx, "obj").write(b"data")
    assert rbd.RBD().list(ioctx) == []
    assert rados_conn._core().open_ioctx(POOL).list_images() == []
    rados_conn.create_pool("third")
    with rados_conn.open_ioctx("third") as io:
        io.set_namespace("n")
        io.write_full("in-ns", b"x")
    rados_conn.delete_pool("third")                               # objects of every namespace go with it
    assert "third" not in rados_conn.list_pools()


def test_ioctx_close(rados_conn):
    io = rados_conn.open_ioctx(POOL)
    io.close()
    io.close()
    with raises_exactly(rados.IoctxStateError):
        io.read("x")


def test_errno_table_and_pickling():
    table = {errno.EPERM: rados.PermissionError, errno.ENOENT: rados.ObjectNotFound, errno.EIO: rados.IOError,
             errno.EBUSY: rados.ObjectBusy, errno.EEXIST: rados.ObjectExists,
             errno.EINVAL: rados.InvalidArgumentError, errno.ENOSPC: rados.NoSpace, errno.ENODATA: rados.NoData,
             errno.ENOTCONN: rados.NotConnected, errno.ESHUTDOWN: rados.ConnectionShutdown,
             errno.ETIMEDOUT: rados.TimedOut, errno.EAGAIN: rados.OSError, errno.ERANGE: rados.OSError}
    for code, cls in table.items():
        for ret in (code, -code):
            exc = rados.make_ex(ret, "msg")
            assert type(exc) is cls and exc.errno == code and isinstance(exc, rados.Error)
            assert str(exc).startswith(f"[errno {code}] ")
    for cls in set(table.values()) - {rados.InvalidArgumentError}:
        assert issubclass(cls, rados.OSError)
    again = pickle.loads(pickle.dumps(rados.make_ex(errno.ENOENT, "gone")))
    assert type(again) is rados.ObjectNotFound and again.errno == errno.ENOENT and str(again).count("gone") == 1


def _wait_child(pid: int, timeout: float = 60.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    raise AssertionError("the forked child hung")


def test_fork_parent_connection_survives(rados_conn, ioctx):
    rados.Object(ioctx, "before").write(b"parent")
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        code = 1
        try:
            signal.alarm(30)
            assert rados_conn.list_pools()                            # the parent's handle reconnects here
            with rados_conn.open_ioctx(POOL) as child_io:
                assert rados.Object(child_io, "before").read() == b"parent"
                rados.Object(child_io, "from-inherited").write(b"child 1")
            own = rados.Rados(rados_id="admin")                      # and a handle of its own always works
            own.connect()
            with own.open_ioctx(POOL) as own_io:
                rados.Object(own_io, "from-own").write(b"child 2")
            own.shutdown()
            rados_conn.shutdown()                                     # must not close the parent's connection
            code = 0
        finally:
            os._exit(code)
    assert _wait_child(pid) == 0
    assert rados.Object(ioctx, "from-inherited").read() == b"child 1"
    assert rados.Object(ioctx, "from-own").read() == b"child 2"
    assert rados_conn.get_fsid()


def test_rados_names_covered():
    """Every rados name of the OpenStack table exists and ran (or was raised) in this module."""
    for name in RADOS_NAMES + RADOS_ALSO:
        resolve(name)
    assert len(RADOS_NAMES) == 17
    assert uncovered(RADOS_NAMES + RADOS_ALSO, TRACKER, RAISED) == []
