"""Two processes write disjoint halves of the same 4 KiB blocks of one image at the same time (each half
write is a read-modify-write of the whole block on Curve's 4 KiB backend). No update may be lost: every
block ends with both halves, through our Python module and through Debian's python3-rbd over our C
libraries, with and without the exclusive-lock feature."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from capi_helpers import ROOT, make_pool, rbd_env  # noqa: F401
from test_debian_bindings import DEBIAN_PYTHON, debian_bindings  # noqa: F401

from curverbd.core import Cluster

BLOCKS = 1500
WORKER = r'''
import os, sys, time
import rados, rbd
half, blocks, barrier = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
with rados.Rados(conffile="") as cluster, cluster.open_ioctx("shared") as ioctx, rbd.Image(ioctx, "img") as img:
    open(f"{barrier}.{half}", "w").close()
    while not (os.path.exists(f"{barrier}.0") and os.path.exists(f"{barrier}.1")):
        time.sleep(0.001)
    data = bytes([1 + half]) * 2048
    for block in range(blocks):
        img.write(data, block * 4096 + half * 2048)
'''


def lost_updates(daemon, command: list[str], env: dict, features: int, tmp_path) -> int:
    """Run two writers (halves 0 and 1) at once; the number of half-blocks that did not keep their bytes."""
    make_pool(daemon, "shared")
    with Cluster() as c:
        c.connect()
        io = c.open_ioctx("shared")
        io.create_image("img", BLOCKS * 4096, features=features)
        barrier = str(tmp_path / "go")
        writers = [subprocess.Popen([*command, WORKER, str(half), str(BLOCKS), barrier], env=env,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE) for half in (0, 1)]
        for w in writers:
            out, err = w.communicate(timeout=300)
            assert w.returncode == 0, err.decode()[-2000:]
        with io.open_image("img") as img:
            data = img.read(0, BLOCKS * 4096)
    expected = (b"\x01" * 2048 + b"\x02" * 2048) * BLOCKS
    return sum(data[i:i + 2048] != expected[i:i + 2048] for i in range(0, len(data), 2048))


@pytest.mark.parametrize("features", [1, 1 | 4], ids=["layering", "exclusive-lock"])
def test_no_lost_update_through_our_module(daemon, tmp_path, features):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(ROOT, "curverbd", "compat"), ROOT]),
               CURVERBD_SOCKET=daemon.socket)
    assert lost_updates(daemon, [sys.executable, "-c"], env, features, tmp_path) == 0


@pytest.mark.parametrize("features", [1, 1 | 4], ids=["layering", "exclusive-lock"])
def test_no_lost_update_through_debian_bindings(debian_bindings, daemon, rbd_env, tmp_path, features):  # noqa: F811
    assert lost_updates(daemon, [DEBIAN_PYTHON, "-I", "-s", "-c"], rbd_env, features, tmp_path) == 0
