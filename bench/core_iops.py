#!/usr/bin/env python3
"""4 KiB random read / write IOPS through the core's aio API, at queue depth 1 and 32.

Starts its own curverbd-server (tests/daemon.py), creates an image, keeps
``depth`` requests in flight for ``--seconds`` per case (each completion
submits the next request from the callback), prints a table and writes
bench/out/core_iops.json.

    python3 bench/core_iops.py [--seconds 5] [--size-mib 1024] [--depths 1,32]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests")]

from daemon import new_daemon, remove  # noqa: E402

from curverbd.core import Cluster  # noqa: E402

BLOCK = 4096


def run_case(image, kind: str, depth: int, seconds: float, blocks: int) -> dict:
    """Keep ``depth`` 4 KiB requests in flight for ``seconds``; IOPS and mean latency."""
    rng = random.Random(depth * 31 + len(kind))
    deadline = time.perf_counter() + seconds
    lock = threading.Lock()
    stats = {"ops": 0, "errors": 0, "latency": 0.0, "inflight": 0}
    done = threading.Event()
    payload = os.urandom(BLOCK)

    def submit(slot_buffer):
        offset = rng.randrange(blocks) * BLOCK
        started = time.perf_counter()

        def on_complete(completion):
            now = time.perf_counter()
            with lock:
                stats["ops"] += 1
                stats["latency"] += now - started
                if completion.get_return_value() < 0:
                    stats["errors"] += 1
                again = now < deadline
                if not again:
                    stats["inflight"] -= 1
                    if stats["inflight"] == 0:
                        done.set()
            if again:
                submit(slot_buffer)
        if kind == "randread":
            image.aio_readinto(offset, slot_buffer, on_complete)
        else:
            image.aio_write(offset, payload, on_complete)

    stats["inflight"] = depth
    cpu = os.times()
    began = time.perf_counter()
    for _ in range(depth):
        submit(bytearray(BLOCK))
    done.wait()
    elapsed = time.perf_counter() - began
    cpu_end = os.times()
    user, system = cpu_end.user - cpu.user, cpu_end.system - cpu.system
    ops = stats["ops"]
    return {"kind": kind, "depth": depth, "seconds": round(elapsed, 3), "ops": ops, "errors": stats["errors"],
            "iops": round(ops / elapsed), "mean_latency_us": round(stats["latency"] / max(ops, 1) * 1e6, 1),
            "client_cpu_us_per_op": round((user + system) / max(ops, 1) * 1e6, 1),
            "client_sys_us_per_op": round(system / max(ops, 1) * 1e6, 1)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--size-mib", type=int, default=1024)
    p.add_argument("--depths", default="1,32")
    p.add_argument("--out", default=os.path.join(ROOT, "bench", "out", "core_iops.json"))
    args = p.parse_args()
    depths = [int(d) for d in args.depths.split(",")]
    daemon = new_daemon().start()
    results = []
    try:
        cluster = Cluster()
        cluster.conf_set("curverbd_socket", daemon.socket)
        cluster.connect()
        cluster.create_pool("bench")
        ioctx = cluster.open_ioctx("bench")
        size = args.size_mib << 20
        ioctx.create_image("iops", size)
        image = ioctx.open_image("iops")
        blocks = size // BLOCK
        for kind in ("randwrite", "randread"):
            for depth in depths:
                results.append(run_case(image, kind, depth, args.seconds, blocks))
        image.close()
        cluster.shutdown()
    finally:
        remove(daemon)
    print(f"{'workload':<10} {'QD':>4} {'IOPS':>8} {'mean lat (us)':>14} {'client CPU (us/op)':>19} {'of it kernel':>13} {'errors':>7}")
    for r in results:
        print(f"{r['kind']:<10} {r['depth']:>4} {r['iops']:>8} {r['mean_latency_us']:>14} "
              f"{r['client_cpu_us_per_op']:>19} {r['client_sys_us_per_op']:>13} {r['errors']:>7}")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"block_size": BLOCK, "image_mib": args.size_mib, "cpus": os.cpu_count(),
                   "python": sys.version.split()[0], "results": results}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
