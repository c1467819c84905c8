"""A process whose first librados call ran on another thread forks, and the child forks again
(libvirtd starting QEMU): CPython 3.11 aborted the child with "init_threadstate: thread state
already initialized" until the fork hook kept the forking thread's Python state."""
from __future__ import annotations

import os
import subprocess

from capi_helpers import run

HERE = os.path.dirname(os.path.abspath(__file__))


def test_fork_in_a_fork_after_python_started_on_another_thread(daemon, rbd_env, capi_libs, tmp_path):
    exe = str(tmp_path / "doublefork")
    subprocess.run(["gcc", "-O1", "-Wall", "-Werror", "-pthread", "-o", exe, os.path.join(HERE, "c", "doublefork.c"),
                    "-L", capi_libs, "-l:librbd.so.1", "-l:librados.so.2"], check=True)
    proc = run([exe], rbd_env, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == "ok"
    assert "Fatal Python error" not in proc.stderr
