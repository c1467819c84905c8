#!/usr/bin/env python3
"""Side-by-side fio: curverbd (rbd engine, our libraries) vs a raw file vs qemu-nbd on the same disk.

    python3 bench/fio_compare.py [--runtime 5] [--size 1G] [--out bench/out/fio_compare.json]

Every backend gets the same jobs (4 KiB random read/write at queue depth 1 and 32,
1 MiB sequential read/write at depth 8) on a 1 GiB data set that was written in
full first, so reads hit real data. The store behind each is a file in the same
directory on the same disk, used through the page cache (the curverbd daemon and
qemu-nbd both do buffered I/O), so the raw file runs buffered too.
The table gives IOPS, mean and p99 latency, and curverbd's ratio to each other path.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from daemon import new_daemon, remove  # noqa: E402

JOBS = [  # name, rw, block size, iodepth
    ("4k-randread-qd1", "randread", "4k", 1),
    ("4k-randread-qd32", "randread", "4k", 32),
    ("4k-randwrite-qd1", "randwrite", "4k", 1),
    ("4k-randwrite-qd32", "randwrite", "4k", 32),
    ("1m-read-qd8", "read", "1m", 8),
    ("1m-write-qd8", "write", "1m", 8),
]


def run_fio(args: list[str], env: dict | None = None) -> dict:
    out = subprocess.run(["fio", "--output-format=json", *args], env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out[out.index("{"):])


def summarise(result: dict, rw: str) -> dict:
    side = result["jobs"][0]["read" if "read" in rw else "write"]
    pct = side["clat_ns"].get("percentile", {})
    return {
        "iops": round(side["iops"], 1),
        "mbps": round(side["bw_bytes"] / 1e6, 1),
        "lat_mean_us": round(side["lat_ns"]["mean"] / 1000, 1),
        "lat_p99_us": round(pct.get("99.000000", 0) / 1000, 1),
    }


def backends(work: str, size: str, lib: str, daemon) -> dict[str, tuple[list[str], dict]]:
    env = dict(os.environ)
    rbd_env = dict(env, LD_LIBRARY_PATH=lib, CURVERBD_SOCKET=daemon.socket, PYTHONPATH=ROOT)
    raw = os.path.join(work, "raw.img")
    nbd_sock = os.path.join(work, "nbd.sock")
    return {
        "curverbd": (["--ioengine=rbd", "--clientname=admin", "--pool=bench", "--rbdname=img"], rbd_env),
        "raw-file": ([f"--filename={raw}", "--ioengine=io_uring", "--direct=0", "--invalidate=0",
                      f"--size={size}"], env),
        "qemu-nbd": (["--ioengine=nbd", f"--uri=nbd+unix:///?socket={nbd_sock}", f"--size={size}"], env),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtime", type=int, default=5, help="seconds per job")
    parser.add_argument("--size", default="1G")
    parser.add_argument("--backends", default="curverbd,raw-file,qemu-nbd",
                        help="comma-separated subset to run (the ratios need all three)")
    parser.add_argument("--jobs", default="", help="comma-separated subset of the job names")
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "out", "fio_compare.json"))
    opts = parser.parse_args()

    work = tempfile.mkdtemp(prefix="crbd-bench-")
    lib = os.path.join(work, "lib")
    subprocess.run([sys.executable, os.path.join(ROOT, "build_so.py"), "--out", lib], check=True,
                   stdout=subprocess.DEVNULL)
    daemon = new_daemon().start()
    nbd = None
    try:
        subprocess.run([sys.executable, "-m", "curverbd.cli.ceph", "osd", "pool", "create", "bench"],
                       env=daemon.env(), check=True, stderr=subprocess.DEVNULL)
        subprocess.run([sys.executable, "-m", "curverbd.cli.rbd", "create", "--size", opts.size, "bench/img"],
                       env=daemon.env(), check=True)
        raw = os.path.join(work, "raw.img")
        subprocess.run(["truncate", "-s", opts.size, raw], check=True)
        nbd_raw = os.path.join(work, "nbd.img")
        subprocess.run(["truncate", "-s", opts.size, nbd_raw], check=True)
        nbd = subprocess.Popen(["qemu-nbd", "-f", "raw", "--persistent", "--shared=8", "-k",
                                os.path.join(work, "nbd.sock"), nbd_raw])
        time.sleep(0.5)
        paths = backends(work, opts.size, lib, daemon)
        results: dict[str, dict] = {}
        chosen = opts.backends.split(",")
        jobs = [j for j in JOBS if not opts.jobs or j[0] in opts.jobs.split(",")]
        for backend, (target, env) in paths.items():
            if backend not in chosen:
                continue
            run_fio(["--name=fill", "--rw=write", "--bs=1m", "--iodepth=8", *target], env)
            for name, rw, bs, depth in jobs:
                res = run_fio([f"--name={name}", f"--rw={rw}", f"--bs={bs}", f"--iodepth={depth}",
                               "--time_based", f"--runtime={opts.runtime}", "--randrepeat=0",
                               "--norandommap", *target], env)
                results.setdefault(name, {})[backend] = summarise(res, rw)
    finally:
        if nbd:
            nbd.terminate()
            nbd.wait()
        remove(daemon)
        shutil.rmtree(work, ignore_errors=True)

    print(f"{'job':<20}{'curverbd':>12}{'raw-file':>12}{'qemu-nbd':>12}{'vs raw':>9}{'vs nbd':>9}"
          f"{'lat us (ours/nbd)':>20}{'p99 us (ours)':>14}")
    none = {"iops": float("nan"), "lat_mean_us": float("nan"), "lat_p99_us": float("nan")}
    for name, row in results.items():
        ours, raw, nbd_r = (row.get(b, none) for b in ("curverbd", "raw-file", "qemu-nbd"))
        print(f"{name:<20}{ours['iops']:>12.0f}{raw['iops']:>12.0f}{nbd_r['iops']:>12.0f}"
              f"{ours['iops'] / raw['iops']:>9.2f}{ours['iops'] / nbd_r['iops']:>9.2f}"
              f"{ours['lat_mean_us']:>11.1f}/{nbd_r['lat_mean_us']:<8.1f}{ours['lat_p99_us']:>14.1f}")
    os.makedirs(os.path.dirname(opts.out), exist_ok=True)
    with open(opts.out, "w") as f:
        json.dump({"runtime_s": opts.runtime, "size": opts.size, "results": results}, f, indent=2)
    print(f"report: {opts.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
