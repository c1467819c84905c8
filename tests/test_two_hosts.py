"""Two client processes standing for two compute hosts of one Curve cluster.

Each process has its own connection to the MDS and to the RBD state home (etcd), as two hosts
would; they see the same pools, images, exact sizes and metadata, and a resize through one is
seen by the other's open handle (through the core, and through the C library QEMU loads).
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from daemon import ROOT

MiB = 1 << 20

HOST = textwrap.dedent("""
    import json, sys, time
    from curverbd.core import Cluster
    c = Cluster("admin")
    c.connect()
    def answer(obj):
        print(json.dumps(obj), flush=True)
    for line in sys.stdin:
        cmd, *args = json.loads(line)
        if cmd == "view":
            io = c.open_ioctx(args[0])
            answer({"fsid": c.fsid(), "pools": c.list_pools(), "images": io.list_images(),
                    "sizes": {n: io.stat_image(n)["size"] for n in io.list_images()},
                    "meta": {n: io.open_image(n).metadata_list() for n in io.list_images()}})
        elif cmd == "open":
            img = c.open_ioctx(args[0]).open_image(args[1])
            answer(img.size())
        elif cmd == "size_after_change":   # the open handle's size once it differs from args[0]
            deadline = time.monotonic() + 10
            while img.size() == args[0] and time.monotonic() < deadline:
                time.sleep(0.01)
            answer(img.size())
        elif cmd == "do":
            exec(args[0], {"c": c})
            answer("ok")
""")


class Host:
    """One client process (a compute host) driven line by line."""

    def __init__(self, env: dict) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", HOST], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     env=dict(env, PYTHONPATH=ROOT), text=True)

    def ask(self, *cmd):
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, "the host process died"
        return json.loads(line)

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(30)


def test_two_hosts_share_the_catalog_and_see_a_resize(daemon):
    a, b = Host(daemon.env()), Host(daemon.env())
    try:
        a.ask("do", "c.create_pool('shared'); io = c.open_ioctx('shared'); io.create_image('disk', 3 * 2**20 + 512);"
                    "img = io.open_image('disk'); img.metadata_set('owner', 'host-a'); img.close()")
        seen = b.ask("view", "shared")
        assert "shared" in seen["pools"] and seen["images"] == ["disk"]
        assert seen["sizes"] == {"disk": 3 * MiB + 512} and seen["meta"] == {"disk": {"owner": "host-a"}}
        assert b.ask("open", "shared", "disk") == 3 * MiB + 512
        a.ask("do", "c.open_ioctx('shared').open_image('disk').resize(7 * 2**20 + 1)")
        assert b.ask("size_after_change", 3 * MiB + 512) == 7 * MiB + 1
        b.ask("do", "io = c.open_ioctx('shared'); io.create_image('spare', 4096); io.rename_image('spare', 'renamed')")
        seen_by_a = a.ask("view", "shared")
        assert seen_by_a["images"] == ["disk", "renamed"]
        assert seen_by_a["fsid"] == seen["fsid"] and len(seen["fsid"]) == 36      # one cluster id for both
    finally:
        a.close()
        b.close()


C_HOST = textwrap.dedent("""
    import sys, time, rados, rbd
    with rados.Rados(conffile="") as cluster, cluster.open_ioctx(sys.argv[1]) as io:
        with rbd.Image(io, sys.argv[2]) as img:
            print(img.size(), flush=True)
            sys.stdin.readline()                # the other host resizes now
            deadline = time.monotonic() + 10
            while img.size() == int(sys.argv[3]) and time.monotonic() < deadline:
                time.sleep(0.01)
            print(img.size(), flush=True)
""")


def test_a_resize_on_one_host_reaches_the_c_library_of_another(daemon, rbd_env):
    """Debian's python3-rbd over our librbd.so.1 (what cinder loads) sees a resize made elsewhere."""
    host = Host(daemon.env())
    try:
        host.ask("do", "c.create_pool('cpool'); c.open_ioctx('cpool').create_image('vol', 2**20)")
        proc = subprocess.Popen(["/usr/bin/python3", "-c", C_HOST, "cpool", "vol", str(MiB)], env=rbd_env,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert int(proc.stdout.readline()) == MiB
        host.ask("do", "c.open_ioctx('cpool').open_image('vol').resize(5 * 2**20)")
        proc.stdin.write("\n")
        proc.stdin.flush()
        assert int(proc.stdout.readline()) == 5 * MiB
        assert proc.wait(30) == 0
    finally:
        host.close()
