"""The daemon's lifetime and its nebd rules, driven over raw frames (tests/rawwire.py); the MDS's rules are
in test_mds_conformance.py, RBD's pool and image rules in test_catalog_rules.py."""
from __future__ import annotations

import os
import stat
from contextlib import closing
import subprocess
import sys

import pytest

from daemon import new_daemon, remove
from rawwire import FILE, HEARTBEAT, Wire, fd_req, fields, heartbeat_req, nebd_name
from mds_wire import Mds, Who, kFileOccupied, kOK
from test_server_wire import log_has, make_image
from volumes import make_volume

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


def test_rename_moves_data(daemon, wire):
    fd = make_image(wire)
    assert wire.write(fd, 4096, b"r" * 4096).ret_code == 0
    who = Who("admin")
    with closing(Mds(daemon.mds_socket)) as mds:
        assert mds.rename("/rbd/img", "/rbd/new", who) == kFileOccupied      # open by a client
        assert wire.call(FILE, "CloseFile", fd_req(fd)).ret_code == 0
        assert mds.rename("/rbd/img", "/rbd/new", who) == kOK
        assert [f["fileName"] for f in mds.listdir("/rbd", who)[1]] == ["new"]
    assert not os.path.exists(os.path.join(daemon.data_dir, "volumes", "rbd", "img"))
    assert wire.open_file(nebd_name("rbd", "img", "admin")).ret_code == -1
    fd = wire.open_fd(nebd_name("rbd", "new", "admin"))
    assert wire.read(fd, 4096, 4096).attachment == b"r" * 4096


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
        assert w.catalog("ClusterStat", owner="admin")["errno"] == 0


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
        assert w.catalog("ClusterStat", owner="admin")["errno"] == 0
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
    with closing(Mds(small.mds_socket)) as mds:
        who = Who("admin")
        assert mds.create("/rbd/one", who, length=GiB) == kOK                 # the daemon's own minimum
        assert mds.extend("/rbd/one", who, GiB + (256 << 20)) == kOK          # its own segment
        assert mds.extend("/rbd/one", who, 2 * GiB + 1) != kOK


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
        make_volume(daemon.socket, "p", "v")
        name = nebd_name("p", "v", "admin")
        fd = a.open_fd(name)
        assert b.open_fd(name) == fd
        assert a.call(FILE, "CloseFile", fd_req(fd)).ret_code == 0
        assert b.write(fd, 0, b"x" * 4096).ret_code == 0
        assert b.call(FILE, "CloseFile", fd_req(fd)).ret_code == 0
        assert b.write(fd, 0, b"x" * 4096).ret_code == -1
