"""glance's add and a nova-style clone, timed against the embedded daemon in each Curve flavour.

    python3 bench/glance_nova.py [--size 1G] [--releases 1.5,2]

glance_store's RBD add, as it calls Ceph's binding: create the image at size 0, then for each 8 MiB
chunk resize and write, then snapshot and protect it. Nova's (and cinder's) clone: clone the protected
snapshot, open the clone and read its first block. Release 1.5 runs snapshots and clones on Curve's
own local snapshot RPCs; release 2 (mainline) on snapshotcloneserver (a dump waited for, a lazy clone).
The JSON goes to stdout.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "curverbd", "compat"))

CHUNK = 8 << 20


def parse_size(text: str) -> int:
    from curverbd.config import parse_size as parse
    return parse(text)


def run(release: str, size: int) -> dict:
    import rados
    import rbd

    base = tempfile.mkdtemp(prefix="crbd-gn-")
    sock = os.path.join(base, "nebd.sock")
    env = dict(os.environ, PYTHONPATH=ROOT, CURVERBD_SOCKET=sock)
    daemon = subprocess.Popen([sys.executable, "-m", "curverbd.server.main", "--socket", sock, "--data-dir",
                               os.path.join(base, "data"), "--curve-release", release], env=env)
    os.environ["CURVERBD_SOCKET"] = sock
    try:
        deadline = time.monotonic() + 30
        while not os.path.exists(sock + ".etcd") and time.monotonic() < deadline:
            time.sleep(0.05)
        with rados.Rados(conffile="") as cluster:
            cluster.create_pool("images")
            with cluster.open_ioctx("images") as io:
                data = os.urandom(CHUNK)
                t0 = time.perf_counter()
                rbd.RBD().create(io, "img", 0, order=23, old_format=False, features=1)
                with rbd.Image(io, "img") as image:
                    offset = 0
                    while offset < size:
                        image.resize(offset + CHUNK)
                        image.write(data, offset)
                        offset += CHUNK
                    image.create_snap("snap")
                    image.protect_snap("snap")
                t1 = time.perf_counter()
                rbd.RBD().clone(io, "img", "snap", io, "instance-disk", features=1)
                with rbd.Image(io, "instance-disk") as disk:
                    assert disk.read(0, 4096) == data[:4096]
                t2 = time.perf_counter()
        return {"release": release, "glance_add_s": round(t1 - t0, 2),
                "glance_add_mbps": round(size / (t1 - t0) / 1e6, 1), "nova_clone_ms": round((t2 - t1) * 1000, 1)}
    finally:
        daemon.terminate()
        daemon.wait(30)
        subprocess.run(["rm", "-rf", base])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1G")
    parser.add_argument("--releases", default="1.5,2")
    args = parser.parse_args()
    results = [run(release, parse_size(args.size)) for release in args.releases.split(",")]
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
