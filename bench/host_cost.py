"""What our libraries cost a host process: qemu-img convert into rbd vs into a local raw file, and the
RSS and first-open time the embedded interpreter adds to qemu-img (used by fio_compare.py)."""
from __future__ import annotations

import os
import statistics
import subprocess
import time


def timed(cmd: list[str], env: dict) -> tuple[float, int]:
    """(wall seconds, max RSS in KiB) of one run of ``cmd``."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr.read().decode(errors='replace')}")
    proc.stderr.close()
    return wall, usage.ru_maxrss


def make_source(path: str, size: int) -> None:
    """A raw image of ``size`` bytes of incompressible, non-zero data (convert cannot skip any of it)."""
    block = os.urandom(1 << 20)
    with open(path, "wb") as f:
        for _ in range(size >> 20):
            f.write(block)
    os.sync()


def fsync_time(path: str) -> float:
    """Seconds an fsync of ``path`` takes (what making it durable costs)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        start = time.perf_counter()
        os.fsync(fd)
        return time.perf_counter() - start
    finally:
        os.close(fd)


def convert(work: str, size: int, rbd_env: dict, env: dict, rounds: int = 2) -> dict:
    """qemu-img convert of a ``size`` raw image to a local raw file and into rbd, ``rounds`` times each.

    qemu-img writes the local file with cache=unsafe (no flush: nothing is on disk when it exits),
    while closing an rbd image flushes (curverbd's flush is an fsync, so rbd_close returns with the
    data durable, as with Ceph). ``local_durable_s`` is the local convert plus the fsync that would
    make its output as durable: the like-for-like figure."""
    src = os.path.join(work, "convert-src.img")
    make_source(src, size)
    local, durable, rbd = [], [], []
    for i in range(rounds):
        dst = os.path.join(work, "convert-dst.img")
        local.append(timed(["qemu-img", "convert", "-f", "raw", "-O", "raw", src, dst], env)[0])
        durable.append(local[-1] + fsync_time(dst))
        os.unlink(dst)
        rbd.append(timed(["qemu-img", "convert", "-f", "raw", "-O", "raw", src, f"rbd:bench/convert{i}"],
                         rbd_env)[0])
    os.unlink(src)
    mb = size / 1e6
    return {"local_s": [round(t, 2) for t in local], "local_durable_s": [round(t, 2) for t in durable],
            "rbd_s": [round(t, 2) for t in rbd],
            "local_mbps": round(mb / min(local), 1), "rbd_mbps": round(mb / min(rbd), 1),
            "ratio": round(min(local) / min(rbd), 2), "ratio_durable": round(min(durable) / min(rbd), 2)}


def first_open(raw: str, rbd_spec: str, rbd_env: dict, env: dict, rounds: int = 5) -> dict:
    """``qemu-img info`` on a raw file vs on an rbd image: the RSS and wall time our libraries add.
    The package's bytecode is compiled first, as a wheel install does (with PYTHONDONTWRITEBYTECODE
    set, as on some CI machines, every start would otherwise compile the whole control plane)."""
    import compileall
    compileall.compile_dir(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "curverbd"),
                           quiet=1)
    plain = [timed(["qemu-img", "info", "-f", "raw", raw], env) for _ in range(rounds)]
    ours = [timed(["qemu-img", "info", "-f", "raw", rbd_spec], rbd_env) for _ in range(rounds)]
    wall = statistics.median(t for t, _ in ours) - statistics.median(t for t, _ in plain)
    rss = statistics.median(r for _, r in ours) - statistics.median(r for _, r in plain)
    return {"added_ms": round(wall * 1000, 1), "added_rss_mb": round(rss / 1024, 1),
            "raw_ms": round(statistics.median(t for t, _ in plain) * 1000, 1),
            "rbd_ms": round(statistics.median(t for t, _ in ours) * 1000, 1)}
