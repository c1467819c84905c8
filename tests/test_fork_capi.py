"""fork() in a process that loaded our C libraries and opened an image (libvirtd, fio do): children
make their own cluster handles and do I/O, nothing deadlocks, the parent's image keeps working; in a
child, the parent's handles fail with a negative errno instead of hanging."""
from __future__ import annotations

import os
import subprocess

import pytest

from capi_helpers import CLIENT_TIMEOUT, make_image, make_pool, run

HERE = os.path.dirname(os.path.abspath(__file__))
MiB = 1 << 20


@pytest.fixture(scope="module")
def forkchildren(capi_libs, tmp_path_factory) -> str:
    exe = str(tmp_path_factory.mktemp("forkc") / "forkchildren")
    subprocess.run(["gcc", "-O1", "-Wall", "-Werror", "-pthread", "-o", exe, os.path.join(HERE, "c", "forkchildren.c"),
                    "-L", capi_libs, "-l:librbd.so.1", "-l:librados.so.2"], check=True)
    return exe


@pytest.mark.parametrize("mode", ["busy", "stale"])
def test_fork_ten_children(daemon, rbd_env, forkchildren, mode):
    make_pool(daemon, "pool")
    make_image(daemon, "pool", "img", 4 * MiB)
    proc = run([forkchildren, "pool", "img", "10", mode], rbd_env, check=False, timeout=CLIENT_TIMEOUT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == "10 children, 0 failed"
