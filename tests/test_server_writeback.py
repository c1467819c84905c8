"""Writeback behind the writers (curverbd/server/writeback.py): data written by a client starts
going to disk without anyone flushing, so a later flush has little left to write. Observed with
cachestat(2) (Linux 6.5+), which counts the dirty pages of one file; the kernel alone leaves
them dirty for 30 s, which is what the run with the thread turned off shows."""
from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import time

import pytest

from curverbd.core import Cluster

from daemon import ROOT, new_daemon, remove

MiB = 1 << 20
SYS_CACHESTAT = 451   # x86_64 and most others


class CacheStat(ctypes.Structure):
    _fields_ = [(name, ctypes.c_uint64) for name in
                ("nr_cache", "nr_dirty", "nr_writeback", "nr_evicted", "nr_recently_evicted")]


def dirty_pages(path: str) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    rng = (ctypes.c_uint64 * 2)(0, 0)   # the whole file
    stat = CacheStat()
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.syscall(SYS_CACHESTAT, fd, ctypes.byref(rng), ctypes.byref(stat), 0) < 0:
            err = ctypes.get_errno()
            pytest.skip(f"cachestat unavailable: {os.strerror(err)}")
    finally:
        os.close(fd)
    return stat.nr_dirty


def write_and_watch(interval: str, seconds: float) -> list[int]:
    """Write 32 MiB to a new image of a daemon with --writeback-interval ``interval`` (no flush),
    then sample the data file's dirty pages for ``seconds``."""
    d = new_daemon("--writeback-interval", interval).start()
    try:
        with Cluster() as c:
            c.conf_set("curverbd_socket", d.socket)
            c.connect()
            c.create_pool("wb")
            with c.open_ioctx("wb") as io:
                io.create_image("img", 64 * MiB)
                img = io.open_image("img")
                try:
                    img.write(0, os.urandom(32 * MiB))
                    path = os.path.join(d.data_dir, "volumes", "wb", "img")
                    samples = []
                    deadline = time.monotonic() + seconds
                    while time.monotonic() < deadline:
                        samples.append(dirty_pages(path))
                        if samples[-1] == 0:
                            break
                        time.sleep(0.1)
                    return samples
                finally:
                    img.close()
    finally:
        remove(d)


def test_written_data_goes_to_disk_without_a_flush():
    samples = write_and_watch("0.05", 10.0)
    assert samples[-1] == 0, f"dirty pages never reached 0: {samples[:5]} ... {samples[-5:]}"


def test_without_the_thread_the_kernel_leaves_it_dirty():
    """The control: proves the test above can fail (and that cachestat sees our file)."""
    samples = write_and_watch("0", 1.0)
    assert samples[-1] >= 32 * MiB // 4096 * 3 // 4, samples


def test_negative_interval_is_refused_by_name(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "curverbd.server.main", "--socket", str(tmp_path / "s"),
                           "--data-dir", str(tmp_path / "d"), "--writeback-interval", "-1"],
                          capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=ROOT), timeout=60)
    assert proc.returncode == 2
    assert "--writeback-interval must not be negative" in proc.stderr
