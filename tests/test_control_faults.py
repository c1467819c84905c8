"""The control plane under faults: the MDS unreachable from every face, failover and auth against the real
daemon's MDS over TCP, two hosts updating one image at once, and control calls re-sent across daemon
restarts that must not turn a success into an error."""
from __future__ import annotations

import errno
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from daemon import ROOT, new_daemon, remove
from proxies import FrameProxy, route_clients, frame_meta

from curverbd.core import Cluster
from curverbd.errors import Error

MiB = 1 << 20


def refused_addr() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return "127.0.0.1:%d" % s.getsockname()[1]


@pytest.fixture
def tcp_daemon(monkeypatch):
    d = new_daemon("--mds-listen", "127.0.0.1:0").start()
    with open(os.path.join(d.data_dir, "mds.addr")) as f:
        d.mds_tcp = f.read().strip()
    monkeypatch.setenv("CURVERBD_SOCKET", d.socket)
    yield d
    remove(d)


def test_mds_down_is_one_clear_error_in_every_face(daemon, rbd_env, tmp_path):
    """Every MDS address refusing: C gets a negative errno, Python Ceph's exception class, the CLI one line
    and a non-zero exit, each naming the addresses, within Curve's 8 s budget."""
    down = f"{refused_addr()},{refused_addr()}"
    env = dict(rbd_env, CURVERBD_MDS=down)
    c_code = ("import rados, sys\n"
              "c = rados.Rados(conffile=''); c.connect()\n"
              "try:\n    c.open_ioctx('rbd')\nexcept rados.Error as e:\n"
              "    print(type(e).__name__, e.errno if hasattr(e, 'errno') else '', e); sys.exit(3)\n")
    procs = {
        "c": subprocess.Popen(["/usr/bin/python3", "-c", c_code], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True),
        "python": subprocess.Popen([sys.executable, "-c", c_code.replace("import rados", "import sys; sys.path.insert(0, "
                                    f"{os.path.join(ROOT, 'curverbd', 'compat')!r}); import rados")],
                                   env=dict(env, LD_LIBRARY_PATH=""), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True),
        "cli": subprocess.Popen([sys.executable, "-m", "curverbd.cli.rbd", "ls", "rbd"], env=env, cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
    }
    start = time.monotonic()
    out = {name: (p.wait(60), *p.communicate()) for name, p in procs.items()}
    assert time.monotonic() - start < 20
    for name in ("c", "python"):      # Debian's binding over our librados, and our own rados module
        rc, stdout, stderr = out[name]
        assert rc == 3, (name, stdout, stderr)
        assert stdout.startswith("TimedOut ") and "110" in stdout, (name, stdout)
    rc, stdout, stderr = out["cli"]
    assert rc != 0 and stdout == ""
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert "no MDS answered" in stderr and down.split(",")[0] in stderr


def test_failover_to_the_second_mds_address(tcp_daemon, monkeypatch):
    monkeypatch.setenv("CURVERBD_MDS", f"{refused_addr()},{tcp_daemon.mds_tcp}")
    c = Cluster()
    c.connect()
    try:
        t0 = time.monotonic()
        c.create_pool("fo")
        assert time.monotonic() - t0 < 2.0        # a refused address moves on at once
        c.open_ioctx("fo").create_image("img", MiB)
        assert c.open_ioctx("fo").list_images() == ["img"]
        assert c._require_catalog().mds.address == tcp_daemon.mds_tcp
    finally:
        c.shutdown()


def test_root_auth_and_skewed_date(tcp_daemon, monkeypatch):
    monkeypatch.setenv("CURVERBD_MDS", tcp_daemon.mds_tcp)
    good = Cluster("root")
    good.conf_set("key", "root_password")
    good.connect()
    bad = Cluster("root")
    bad.conf_set("key", "wrong")
    bad.connect()
    try:
        good.create_pool("rootpool")
        with pytest.raises(Error) as exc:
            bad.open_ioctx("rootpool")
        assert exc.value.errno == errno.EPERM and "kOwnerAuthFail" in str(exc.value) and "wrong key" in str(exc.value)
        skewed = good._require_catalog().mds
        skewed.date_offset_us = 20_000_000           # outside Curve's 15 s window
        with pytest.raises(Error) as exc:
            good.open_ioctx("rootpool")
        assert exc.value.errno == errno.EPERM and "'rootpool'" in str(exc.value) and "clock" in str(exc.value)
        skewed.date_offset_us = 10_000_000           # inside it
        good.open_ioctx("rootpool")
    finally:
        good.shutdown()
        bad.shutdown()


def test_two_hosts_updating_one_image_at_once(daemon):
    """Resizes from one process and feature changes from another: compare-and-swap keeps both."""
    prep = Cluster()
    prep.connect()
    prep.create_pool("cas")
    prep.open_ioctx("cas").create_image("img", MiB)
    code = ("import sys\nfrom curverbd.core import Cluster\nc = Cluster(); c.connect()\n"
            "catalog = c._require_catalog()\n"
            "for n in range(40):\n"
            "    if sys.argv[1] == 'size':\n"
            "        catalog.resize_image('cas', 'img', (1 << 20) + n + 1)\n"
            "    else:\n"
            "        catalog.update_features('cas', 'img', 4, n % 2 == 0)\n"
            "c.shutdown()\n")
    env = dict(daemon.env(), PYTHONPATH=ROOT)
    procs = [subprocess.Popen([sys.executable, "-c", code, which], env=env) for which in ("size", "features")]
    assert [p.wait(120) for p in procs] == [0, 0]
    rec = prep.open_ioctx("cas").stat_image("img")
    assert rec["size"] == MiB + 40            # the last resize
    assert rec["features"] == 1               # layering kept; exclusive-lock off after the last (odd) round
    prep.shutdown()


def test_control_calls_resent_across_restarts_never_fail(daemon):
    """Create, rename, snapshot create/remove, resize and remove while the daemon is killed and restarted
    at random moments: each call succeeds exactly once from the caller's view."""
    rng = random.Random(7)
    c = Cluster()
    c.connect()
    c.create_pool("idem")
    io = c.open_ioctx("idem")
    stop = threading.Event()
    errors: list[Exception] = []

    def restarts() -> None:
        while not stop.is_set():
            time.sleep(rng.uniform(0.05, 0.4))
            daemon.restart(signal.SIGKILL if rng.random() < 0.5 else signal.SIGTERM)

    killer = threading.Thread(target=restarts)
    killer.start()
    try:
        for n in range(12):
            try:
                io.create_image(f"a{n}", MiB)
                io.rename_image(f"a{n}", f"b{n}")
                with io.open_image(f"b{n}") as img:
                    img.create_snap("s")
                    img.resize(2 * MiB)
                    img.remove_snap("s")
                io.remove_image(f"b{n}")
            except Error as exc:
                errors.append(exc)
    finally:
        stop.set()
        killer.join()
    assert errors == []
    assert io.list_images() == []
    c.shutdown()


def test_mds_fuzz_keeps_the_daemon(tcp_daemon):
    """Garbage and half frames on the MDS's TCP port close that connection only."""
    host, _, port = tcp_daemon.mds_tcp.rpartition(":")
    rng = random.Random(3)
    for _ in range(30):
        with socket.create_connection((host, int(port))) as s:
            s.sendall(rng.choice([b"PRPC" + rng.randbytes(rng.randrange(40)), rng.randbytes(64),
                                  b"PRPC\x00\x00\x00\x10\x00\x00\x00\x08" + rng.randbytes(16)]))
            s.shutdown(socket.SHUT_WR)
            s.settimeout(5)
            try:
                while s.recv(4096):
                    pass
            except OSError:
                pass
    assert tcp_daemon.proc.poll() is None
    c = Cluster()
    c.conf_set("curve_mds_addrs", tcp_daemon.mds_tcp)
    c.connect()
    c.create_pool("after")
    assert "after" in c.list_pools()
    c.shutdown()


class LossyProxy(FrameProxy):
    """Lets a request through, then loses its reply (closing the connection, as a daemon killed between
    committing and answering would), once per method in ``lose``."""

    def __init__(self, target: str, path: str, lose: set[str]) -> None:
        self.lose = set(lose)
        self.lost: list[str] = []
        super().__init__(target, path)

    def on_reply(self, link, frame: bytes) -> bool:
        method = link.methods.get(frame_meta(frame)[4][0])
        if method in self.lose:
            self.lose.discard(method)
            self.lost.append(method)
            return False                 # the change is made; its answer never arrives
        return True


@pytest.mark.parametrize("lose", [
    {"CreateFile"}, {"RenameFile"}, {"DeleteFile"}, {"RecoverFile"},
    {"CreateSnapShot"}, {"DeleteSnapShot"}, {"ProtectSnapShot"}, {"UnprotectSnapShot"}, {"Clone"},
    {"RollbackSnap"}, {"OpenFile"}, {"CloseFile"},
])
def test_a_lost_reply_is_not_an_error(daemon, monkeypatch, lose):
    """The reply to a change is lost after the change was made (a restart at the wrong moment); the
    client's re-send must report the first one's success, not "exists" / "does not exist"."""
    mds = LossyProxy(daemon.mds_socket, os.path.join(daemon.base, "lossy-mds.sock"), lose)
    nebd = LossyProxy(daemon.socket, os.path.join(daemon.base, "lossy-nebd.sock"), lose)
    route_clients(monkeypatch, daemon, nebd=nebd, mds=mds)
    c = Cluster()
    c.connect()
    try:
        c.create_pool("lossy")
        io = c.open_ioctx("lossy")
        catalog = c._require_catalog()
        io.create_image("a", MiB)
        io.rename_image("a", "b")
        catalog.create_snap("lossy", "b", "s")
        catalog.protect_snap("lossy", "b", "s")
        catalog.rollback_snap("lossy", "b", "s")
        catalog.clone("lossy", "b", "s", "lossy", "c")
        io.remove_image("c")
        catalog.unprotect_snap("lossy", "b", "s")
        catalog.remove_snap("lossy", "b", "s")
        with io.open_image("b") as img:               # nebd OpenFile / CloseFile
            img.write(0, b"x" * 4096)
        io.trash_restore(io.trash_move("b"), "b")
        io.remove_image("b")
        assert io.list_images() == []
        assert mds.lost + nebd.lost == sorted(lose)
    finally:
        c.shutdown()
        mds.close()
        nebd.close()
