"""The shape of a real Curve deployment on one machine: the MDS on TCP, the cluster's etcd a server of its
own on TCP, the client told only addresses (ceph.conf keys, as on a compute host), and our libraries
loaded by qemu-img / qemu-io. Against a real cluster the same code runs; only these addresses differ."""
from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
import time

import pytest

from capi_helpers import run
from daemon import new_daemon, remove
from proxies import FrameProxy, route_clients, request_names
from rawwire import fb, fv

from curverbd.curve.etcd import Etcd

MiB = 1 << 20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def cluster_etcd(tmp_path):
    """A standalone etcd on TCP (what a Curve cluster runs for its MDS)."""
    client, peer = free_port(), free_port()
    proc = subprocess.Popen(
        ["etcd", "--name", "curve", "--data-dir", str(tmp_path / "etcd"),
         "--listen-client-urls", f"http://127.0.0.1:{client}", "--advertise-client-urls", f"http://127.0.0.1:{client}",
         "--listen-peer-urls", f"http://127.0.0.1:{peer}", "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
         "--initial-cluster", f"curve=http://127.0.0.1:{peer}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"127.0.0.1:{client}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with Etcd(endpoint, timeout=1) as etcd:
                etcd.revision()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise
            time.sleep(0.1)
    yield endpoint
    proc.terminate()
    proc.wait(30)


@pytest.mark.skipif(shutil.which("etcd") is None, reason="needs Debian's etcd-server (scripts/install-deps.sh)")
def test_tcp_mds_external_etcd_and_qemu(cluster_etcd, capi_libs, client_log, tmp_path):
    d = new_daemon("--mds-listen", "127.0.0.1:0", "--etcd-endpoints", cluster_etcd).start()
    try:
        assert not os.path.exists(d.etcd_socket)                  # no etcd of its own
        with open(os.path.join(d.data_dir, "mds.addr")) as f:
            mds = f.read().strip()
        conf = tmp_path / "ceph.conf"
        conf.write_text(f"[global]\ncurverbd_socket = {d.socket}\ncurve_mds_addrs = {mds}\n"
                        f"curve_etcd_endpoints = {cluster_etcd}\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("CURVERBD_")}
        env.update(CEPH_CONF=str(conf), LD_LIBRARY_PATH=capi_libs, CURVERBD_LOG=client_log)
        run(["python3", "-m", "curverbd.cli.ceph", "osd", "pool", "create", "vms"], dict(env, LD_LIBRARY_PATH=""))
        run(["qemu-img", "create", "-f", "raw", "rbd:vms/disk", "3M"], env)
        run(["qemu-io", "-f", "raw", "-c", "write -P 0x5a 512 1M", "rbd:vms/disk"], env)
        out = run(["qemu-io", "-f", "raw", "-c", "read -P 0x5a 512 1M", "rbd:vms/disk"], env).stdout
        assert "read 1048576/1048576" in out
        info = run(["qemu-img", "info", "rbd:vms/disk"], env).stdout
        assert "virtual size: 3 MiB (3145728 bytes)" in info
        with Etcd(cluster_etcd) as etcd:                           # the exact size lives in the cluster's etcd
            assert any(b"/curverbd/v1/image/" in kv.key for kv in etcd.get_prefix(b"/curverbd/v1/"))
    finally:
        remove(d)


def test_cluster_usage_without_the_embedded_snapshot_service(daemon):
    """On a Curve cluster (no embedded snapshot service) `ceph df` takes the bytes used from Curve's
    GetAllocatedSize of "/" and the capacity from the conf; without it, a clear EOPNOTSUPP."""
    from curverbd.core.catalog import Catalog
    from curverbd.curve.mds import MdsClient
    from curverbd.curve.rbd_state import RbdState
    from curverbd.errors import Error

    catalog = Catalog(MdsClient(daemon.mds_socket, "admin"), RbdState(Etcd("unix://" + daemon.etcd_socket)), None, None)
    try:
        catalog.create_pool("df")
        catalog.create_image("df", "img", MiB)
        with pytest.raises(Error) as exc:
            catalog.cluster_stat()
        assert exc.value.errno == 95 and "curve_cluster_capacity" in str(exc.value)
        stat = catalog.cluster_stat(100 << 40)
        assert stat["bytes_total"] == 100 << 40 and stat["bytes_avail"] == (100 << 40) - stat["bytes_used"]
        assert stat["pools"] >= 1 and len(stat["fsid"]) == 36
    finally:
        catalog.close()


class NebdServerOnly(FrameProxy):
    """Offers what a real Curve host's nebd-server offers: nebd's services. A request to the embedded
    snapshot service gets brpc's ENOSERVICE, as nebd-server answers it."""

    def on_request(self, link, frame: bytes) -> bool:
        service, _, cid = request_names(frame)
        if service != "curverbd.CatalogService":
            return True
        reply = fb(2, fv(1, 1001) + fb(2, "no such service")) + fv(4, cid)
        link.to_client(b"PRPC" + struct.pack(">II", len(reply), len(reply)) + reply)
        return False


def test_snapshot_calls_curve_has_no_rpc_for_name_the_gap(daemon, monkeypatch):
    """On a Curve host (its nebd-server has no embedded service) snapshots, clones, snapshot renames and
    reads at a snapshot are Curve's own, and rollback (release1.5), diff and du of snapshots say which Curve
    has them instead of failing in the dark."""
    from curverbd.core import Cluster
    from curverbd.errors import Error

    proxy = NebdServerOnly(daemon.socket, os.path.join(daemon.base, "nebd-only.sock"))
    route_clients(monkeypatch, daemon, nebd=proxy)
    c = Cluster()
    c.connect()
    try:
        c.create_pool("gap")
        io = c.open_ioctx("gap")
        io.create_image("img", MiB)
        with io.open_image("img") as img:
            img.write(0, b"g" * 4096)
            img.create_snap("s")                          # Curve's own CreateSnapShot
            img.protect_snap("s")
        io.clone("img", "s", io, "child")                 # Curve's Clone
        assert io.stat_image("child")["parent"] == {"pool": "gap", "image": "img", "snap": "s"}
        catalog = c._require_catalog()
        catalog.rename_snap("gap", "img", "s", "t")       # the RBD name is etcd's: works on any Curve
        assert [s["name"] for s in catalog.list_snaps("gap", "img")] == ["t"]
        with io.open_image("img", snapshot="t") as view:  # through a read-only Clone of it
            assert view.read(0, 4096) == b"g" * 4096
        for call, words in ((lambda: catalog.rollback_snap("gap", "img", "t"), ("release1.5", "Recover")),
                            (lambda: catalog.diff_extents("gap", "img", 0, MiB), ("no Curve release",)),
                            (lambda: catalog.allocated("gap", "img", "t"), ("no Curve release",))):
            with pytest.raises(Error) as exc:
                call()
            assert exc.value.errno == 95 and all(w in str(exc.value) for w in words), exc.value
    finally:
        c.shutdown()
        proxy.close()
