#!/usr/bin/env python3
"""What the cross-client write lock and librbd's copy of aio write buffers cost, with fio's rbd engine
(our libraries) against the embedded daemon.

    python3 bench/shared_writes.py [--runtime 5] [--size 256M] [--out bench/out/shared_writes.json]

Cases, each two fio processes writing at once (4 KiB random writes, queue depth 1 and 16) or one:
- ``one writer``: a single process, the lock never moves (the baseline);
- ``two images``: two processes, each its own image (no contention: what two writers get);
- ``one image, exclusive-lock`` / ``one image, layering``: two processes on one image. Every write
  needs the image's write lock (core/writer_lock.py), which moves between the processes through etcd;
  that hand-over is the price of never losing an update (with or without the exclusive-lock feature).
- ``512 B unaligned``: one process, 512-byte writes (each a read-modify-write of its 4 KiB block).
Then 1 MiB sequential writes at depth 8 with ``rbd_disable_zero_copy_writes`` true (librbd's default:
the caller's buffer is copied at submission) and false (zero-copy: the caller keeps it until completion).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

from daemon import new_daemon, remove  # noqa: E402


def fio(name: str, image: str, rw: str, bs: str, depth: int, runtime: int, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        ["fio", "--output-format=json", f"--name={name}", "--ioengine=rbd", "--clientname=admin", "--pool=bench",
         f"--rbdname={image}", f"--rw={rw}", f"--bs={bs}", f"--iodepth={depth}", "--time_based",
         f"--runtime={runtime}", "--randrepeat=0", "--norandommap"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def iops(procs: list[subprocess.Popen]) -> tuple[float, float]:
    """Total write IOPS and the worst mean latency (us) of fio processes run side by side."""
    total, worst = 0.0, 0.0
    for p in procs:
        out, err = p.communicate()
        if p.returncode:
            raise RuntimeError(f"fio failed: {err[-800:]}")
        side = json.loads(out[out.index("{"):])["jobs"][0]["write"]
        total += side["iops"]
        worst = max(worst, side["lat_ns"]["mean"] / 1000)
    return round(total, 1), round(worst, 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtime", type=int, default=5, help="seconds per case")
    parser.add_argument("--size", default="256M")
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "out", "shared_writes.json"))
    opts = parser.parse_args()

    work = tempfile.mkdtemp(prefix="crbd-bench-")
    lib = os.path.join(work, "lib")
    subprocess.run([sys.executable, os.path.join(ROOT, "build_so.py"), "--out", lib], check=True,
                   stdout=subprocess.DEVNULL)
    daemon = new_daemon().start()
    results: dict[str, dict] = {}
    try:
        def cli(*args: str) -> None:
            subprocess.run([sys.executable, "-m", "curverbd.cli.rbd", *args], env=daemon.env(), check=True)

        subprocess.run([sys.executable, "-m", "curverbd.cli.ceph", "osd", "pool", "create", "bench"],
                       env=daemon.env(), check=True, stderr=subprocess.DEVNULL)
        for image, features in (("a", "layering,exclusive-lock"), ("b", "layering,exclusive-lock"),
                                ("shared-layering", "layering")):
            cli("create", "--size", opts.size, "--image-feature", features, f"bench/{image}")
        env = dict(os.environ, LD_LIBRARY_PATH=lib, CURVERBD_SOCKET=daemon.socket, PYTHONPATH=ROOT)
        cases = [
            ("one writer", [("a", "4k")]),
            ("two images", [("a", "4k"), ("b", "4k")]),
            ("one image, exclusive-lock", [("a", "4k"), ("a", "4k")]),
            ("one image, layering", [("shared-layering", "4k"), ("shared-layering", "4k")]),
            ("512 B unaligned, one writer", [("a", "512")]),
        ]
        for depth in (1, 16):
            for label, writers in cases:
                procs = [fio(f"w{i}", image, "randwrite", bs, depth, opts.runtime, env)
                         for i, (image, bs) in enumerate(writers)]
                total, lat = iops(procs)
                results[f"{label}, qd{depth}"] = {"write_iops": total, "worst_lat_mean_us": lat}
        for copy in ("true", "false"):
            conf = os.path.join(work, f"ceph-{copy}.conf")
            with open(conf, "w") as f:
                f.write(f"[client]\nrbd_disable_zero_copy_writes = {copy}\n")
            total, lat = iops([fio("seq", "a", "write", "1m", 8, opts.runtime, dict(env, CEPH_CONF=conf))])
            label = "1 MiB write qd8, " + ("copied at submission" if copy == "true" else "zero-copy")
            results[label] = {"write_iops": total, "mbps": round(total * 1.048576, 1), "worst_lat_mean_us": lat}
    finally:
        remove(daemon)
        shutil.rmtree(work, ignore_errors=True)

    print(f"{'case':<44}{'write IOPS':>12}{'mean lat us':>14}")
    for label, row in results.items():
        print(f"{label:<44}{row['write_iops']:>12.0f}{row['worst_lat_mean_us']:>14.1f}")
    os.makedirs(os.path.dirname(opts.out), exist_ok=True)
    with open(opts.out, "w") as f:
        json.dump({"runtime_s": opts.runtime, "size": opts.size, "results": results}, f, indent=2)
    print(f"report: {opts.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
