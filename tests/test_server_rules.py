"""Curve's rules, owner isolation and the daemon's lifetime, driven over raw frames (tests/rawwire.py)."""
from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys

import pytest

from daemon import new_daemon, remove
from rawwire import FILE, HEARTBEAT, Wire, fd_req, fields, heartbeat_req, nebd_name
from test_server_wire import log_has, make_image

GiB = 1 << 30


@pytest.fixture
def wire(daemon):
    with Wire(daemon.socket) as w:
        yield w


@pytest.fixture
def started():
    """Start extra daemons with options; all are removed at the end."""
    made = []

    def start(*args):
        d = new_daemon(*args)
        made.append(d)
        return d.start()
    yield start
    for d in made:
        remove(d)


def image(w, pool, name, owner="admin") -> dict:
    reply = w.catalog("StatImage", owner=owner, pool=pool, image=name)
    assert reply["errno"] == 0, reply
    return reply["image"]


def test_backend_size_rounds_to_segments_and_never_shrinks(wire):
    assert wire.catalog("CreatePool", owner="admin", pool="rbd")["errno"] == 0
    for name, size, backend in [("zero", 0, 10 * GiB), ("one", 1, 10 * GiB), ("ten", 10 * GiB, 10 * GiB),
                                ("tenplus", 10 * GiB + 1, 11 * GiB), ("twelve", 12 * GiB, 12 * GiB)]:
        rec = wire.catalog("CreateImage", owner="admin", pool="rbd", image=name, size=size)["image"]
        assert (rec["size"], rec["backend_size"]) == (size, backend), name
        assert image(wire, "rbd", name) == rec
    grown = wire.catalog("ResizeImage", owner="admin", pool="rbd", image="one", size=15 * GiB + 5)["image"]
    assert (grown["size"], grown["backend_size"]) == (15 * GiB + 5, 16 * GiB)
    shrunk = wire.catalog("ResizeImage", owner="admin", pool="rbd", image="one", size=4096)["image"]
    assert (shrunk["size"], shrunk["backend_size"]) == (4096, 16 * GiB)
    again = wire.catalog("ResizeImage", owner="admin", pool="rbd", image="one", size=12 * GiB)["image"]
    assert (again["size"], again["backend_size"]) == (12 * GiB, 16 * GiB)
    # the Curve volume itself (nebd GetInfo) has the backend length
    fd = wire.open_fd(nebd_name("rbd", "one", "admin"))
    info = wire.call(FILE, "GetInfo", fd_req(fd))
    assert fields(info.fields[3][0])[1] == [16 * GiB]
    too_big = wire.catalog("CreateImage", owner="admin", pool="rbd", image="huge", size=(20 << 40) + 1)
    assert too_big["errno"] == errno.EINVAL
    assert wire.catalog("CreateImage", owner="admin", pool="rbd", image="neg", size=-1)["errno"] == errno.EINVAL
    assert wire.catalog("CreateImage", owner="admin", pool="rbd", image="ten", size=1)["errno"] == errno.EEXIST
    assert wire.catalog("ListImages", owner="admin", pool="rbd")["images"] == sorted(
        ["zero", "one", "ten", "tenplus", "twelve"])


@pytest.mark.parametrize("pool", ["..", ".", "a/b", "a\0b", "a\x01b", "a\x7fb", "", "p" * 256])
def test_bad_pool_names(wire, pool):
    reply = wire.catalog("CreatePool", owner="admin", pool=pool)
    assert reply["errno"] == errno.EINVAL and reply["message"]


def test_names_owners_and_reserved(wire):
    assert wire.catalog("CreatePool", owner="a_b", pool="p")["errno"] == errno.EINVAL
    assert wire.catalog("CreatePool", owner="", pool="p")["errno"] == errno.EINVAL
    assert wire.catalog("CreatePool", owner="admin", pool="RecycleBin")["errno"] == errno.EPERM
    assert wire.catalog("CreatePool", owner="admin", pool="p" * 255)["errno"] == 0
    assert wire.catalog("CreatePool", owner="admin", pool="rbd")["errno"] == 0
    assert wire.catalog("CreatePool", owner="admin", pool="rbd")["errno"] == errno.EEXIST
    for bad in ["x" * 96, "..", "a/b", "a\nb", ""]:
        assert wire.catalog("CreateImage", owner="admin", pool="rbd", image=bad, size=1)["errno"] == errno.EINVAL
    assert wire.catalog("CreateImage", owner="admin", pool="rbd", image="x" * 95, size=1)["errno"] == 0
    assert wire.catalog("CreateImage", owner="admin", pool="nopool", image="i", size=1)["errno"] == errno.ENOENT
    # nebd paths follow Curve's rules too
    assert wire.open_file("cbd:rbd//rbd//xxx_admin_").ret_code == -1
    assert wire.open_file("cbd:rbd//rbd/" + "x" * 95 + "/_admin_").ret_code == -1
    assert wire.open_file("cbd:rbd//RecycleBin/x_admin_").ret_code == -1


def test_owner_isolation(wire):
    fd = make_image(wire, pool="apool", image="aimg", owner="alice")
    assert wire.write(fd, 0, b"s" * 4096).ret_code == 0
    eperm = errno.EPERM
    for method, args in [("StatPool", {}), ("ListImages", {}), ("RemovePool", {}),
                         ("StatImage", {"image": "aimg"}), ("RemoveImage", {"image": "aimg"}),
                         ("CreateImage", {"image": "bimg", "size": 1}),
                         ("ResizeImage", {"image": "aimg", "size": 1}),
                         ("RenameImage", {"image": "aimg", "new_name": "x"}),
                         ("SetMeta", {"image": "aimg", "key": "k", "value": "v"}),
                         ("ListMeta", {"image": "aimg"})]:
        reply = wire.catalog(method, owner="bob", pool="apool", **args)
        assert reply["errno"] == eperm, (method, reply)
    assert wire.catalog("ListPools", owner="bob") == {"errno": 0, "pools": []}
    assert wire.catalog("ListPools", owner="alice") == {"errno": 0, "pools": ["apool"]}
    assert wire.catalog("CreatePool", owner="bob", pool="apool")["errno"] == errno.EEXIST
    as_bob = wire.open_file(nebd_name("apool", "aimg", "bob"))
    assert as_bob.ret_code == -1 and "/apool" in as_bob.ret_msg
    # alice's data is untouched and her image still listed
    assert wire.read(fd, 0, 4096).attachment == b"s" * 4096
    assert wire.catalog("ListImages", owner="alice", pool="apool")["images"] == ["aimg"]


def test_busy_and_not_empty_and_metadata(wire):
    fd = make_image(wire)
    assert wire.catalog("RemovePool", owner="admin", pool="rbd")["errno"] == errno.ENOTEMPTY
    assert wire.catalog("RemoveImage", owner="admin", pool="rbd", image="img")["errno"] == errno.EBUSY
    assert wire.catalog("SetMeta", owner="admin", pool="rbd", image="img", key="k", value="v")["errno"] == 0
    assert wire.catalog("GetMeta", owner="admin", pool="rbd", image="img", key="k") == {"errno": 0, "value": "v"}
    assert wire.catalog("ListMeta", owner="admin", pool="rbd", image="img") == {"errno": 0, "meta": {"k": "v"}}
    assert image(wire, "rbd", "img")["meta"] == {"k": "v"}
    assert wire.catalog("RemoveMeta", owner="admin", pool="rbd", image="img", key="k")["errno"] == 0
    assert wire.catalog("GetMeta", owner="admin", pool="rbd", image="img", key="k")["errno"] == errno.ENOENT
    assert wire.catalog("RemoveMeta", owner="admin", pool="rbd", image="img", key="k")["errno"] == errno.ENOENT
    assert wire.call(FILE, "CloseFile", fd_req(fd)).ret_code == 0
    assert wire.catalog("RemoveImage", owner="admin", pool="rbd", image="img")["errno"] == 0
    assert wire.catalog("StatImage", owner="admin", pool="rbd", image="img")["errno"] == errno.ENOENT
    assert wire.catalog("RemovePool", owner="admin", pool="rbd")["errno"] == 0
    assert wire.catalog("ListPools", owner="admin")["pools"] == []


def test_rename_moves_data(daemon, wire):
    fd = make_image(wire)
    assert wire.write(fd, 4096, b"r" * 4096).ret_code == 0
    busy = wire.catalog("RenameImage", owner="admin", pool="rbd", image="img", new_name="new")
    assert busy["errno"] == errno.EBUSY
    assert wire.call(FILE, "CloseFile", fd_req(fd)).ret_code == 0
    assert wire.catalog("RenameImage", owner="admin", pool="rbd", image="img", new_name="new")["errno"] == 0
    assert not os.path.exists(os.path.join(daemon.data_dir, "volumes", "rbd", "img"))
    assert os.path.exists(os.path.join(daemon.data_dir, "volumes", "rbd", "new"))
    assert wire.open_file(nebd_name("rbd", "img", "admin")).ret_code == -1
    fd = wire.open_fd(nebd_name("rbd", "new", "admin"))
    assert wire.read(fd, 4096, 4096).attachment == b"r" * 4096
    assert wire.catalog("ListImages", owner="admin", pool="rbd")["images"] == ["new"]


def test_fds_survive_restart(daemon):
    with Wire(daemon.socket) as w:
        fd = make_image(w)
        fd2 = make_image(w, pool="two", image="img2")
        assert w.write(fd, 0, b"1" * 4096).ret_code == 0
        fsid = w.catalog("ClusterStat")["fsid"]
    daemon.restart()
    with Wire(daemon.socket) as w:
        assert w.write(fd, 4096, b"2" * 4096).ret_code == 0
        assert w.read(fd, 0, 8192).attachment == b"1" * 4096 + b"2" * 4096
        assert w.read(fd2, 0, 4096).ret_code == 0
        assert w.catalog("ClusterStat")["fsid"] == fsid
        fd3 = make_image(w, pool="three", image="img3")
        assert fd3 not in (fd, fd2) and fd3 > 0
        assert w.call(FILE, "CloseFile", fd_req(fd)).ret_code == 0
    daemon.restart()
    with Wire(daemon.socket) as w:
        assert w.read(fd, 0, 4096).ret_code == -1
        assert w.read(fd3, 0, 4096).ret_code == 0


@pytest.mark.parametrize("damage, line", [
    (lambda raw: raw.replace(b"img", b"imh"), "fails its CRC32C check"),
    (lambda raw: raw[:len(raw) // 2], "is not valid JSON"),
])
def test_corrupt_meta_file_refused(daemon, damage, line):
    with Wire(daemon.socket) as w:
        make_image(w)
    daemon.stop()
    meta = os.path.join(daemon.data_dir, "nebdserver.meta")
    with open(meta, "rb") as f:
        raw = f.read()
    with open(meta, "wb") as f:
        f.write(damage(raw))
    with pytest.raises(RuntimeError, match="exited with 1"):
        daemon.start()
    with open(daemon.log) as f:
        assert line in f.read()


def test_second_server_on_same_socket_refused(daemon, tmp_path):
    cmd = [sys.executable, "-m", "curverbd.server.main", "--socket", daemon.socket, "--data-dir", str(tmp_path)]
    done = subprocess.run(cmd, env=daemon.env(), capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert done.stderr == (f"curverbd-server: socket {daemon.socket} is in use by another server "
                           f"(lock {daemon.socket}.lock)\n")
    assert done.stdout == ""
    with Wire(daemon.socket) as w:  # the first one is unharmed
        assert w.catalog("ListPools", owner="admin") == {"errno": 0, "pools": []}


def test_socket_modes(daemon, started):
    assert stat.S_IMODE(os.stat(daemon.socket).st_mode) == 0o600
    grouped = started("--socket-group", "root")
    st = os.stat(grouped.socket)
    assert stat.S_IMODE(st.st_mode) == 0o660 and st.st_gid == 0


def test_stale_socket_removed_and_sigterm_exits_zero(daemon):
    daemon.proc.kill()       # leaves the socket file behind
    daemon.proc.wait()
    daemon.proc = None
    assert os.path.exists(daemon.socket)
    daemon.start()
    with Wire(daemon.socket) as w:
        assert w.catalog("ListPools", owner="admin")["errno"] == 0
    assert daemon.stop() == 0
    assert not os.path.exists(daemon.socket)


def test_alignment_options(started):
    loose = started("--no-align-check")
    with Wire(loose.socket) as w:
        fd = make_image(w)
        assert w.write(fd, 100, b"u" * 1000).ret_code == 0
        assert w.read(fd, 100, 1000).attachment == b"u" * 1000
    small = started("--block-size", "512", "--min-volume-size", "1G", "--segment-size", "256M")
    with Wire(small.socket) as w:
        fd = make_image(w)
        assert w.write(fd, 512, b"s" * 512).ret_code == 0
        assert w.write(fd, 256, b"s" * 512).ret_code == -1
        assert image(w, "rbd", "img")["backend_size"] == GiB
        rec = w.catalog("ResizeImage", owner="admin", pool="rbd", image="img", size=GiB + 1)["image"]
        assert rec["backend_size"] == GiB + (256 << 20)


def test_heartbeat_timeout_closes_backend_keeps_record(started):
    d = started("--heartbeat-timeout", "1")
    with Wire(d.socket) as w:
        fd = make_image(w)
        assert w.write(fd, 0, b"h" * 4096).ret_code == 0
        assert log_has(d, "backend closed")
        # no live client any more: removal is allowed... but first the fd still works, reopened on demand
        assert w.read(fd, 0, 4096).attachment == b"h" * 4096
        assert log_has(d, "on demand")
        name = nebd_name("rbd", "img", "admin")
        assert w.call(HEARTBEAT, "KeepAlive", heartbeat_req(1, [(fd, name)])).ret_code == 0
        assert w.call(HEARTBEAT, "KeepAlive", heartbeat_req(1, [(fd + 7, name)])).ret_code == -1


def test_each_open_counts_and_the_last_close_frees_the_fd(daemon):
    """Two clients opening one volume share its fd; one client's CloseFile leaves the other's working."""
    with Wire(daemon.socket) as a, Wire(daemon.socket) as b:
        assert a.catalog("CreatePool", owner="admin", pool="p")["errno"] == 0
        assert a.catalog("CreateImage", owner="admin", pool="p", image="v", size=1 << 20)["errno"] == 0
        name = nebd_name("p", "v", "admin")
        fd = a.open_fd(name)
        assert b.open_fd(name) == fd
        assert a.call(FILE, "CloseFile", fd_req(fd)).ret_code == 0
        assert b.write(fd, 0, b"x" * 4096).ret_code == 0
        assert b.call(FILE, "CloseFile", fd_req(fd)).ret_code == 0
        assert b.write(fd, 0, b"x" * 4096).ret_code == -1
