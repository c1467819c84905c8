"""What control calls cost: an image create + remove round trip (core API and the `rbd` CLI), a stat, and
qemu-img's first open over a raw file's.

    python3 bench/control_cost.py [--tree DIR] [--rounds N]

``--tree`` runs the daemon, the client and the libraries of another checkout (e.g. a `git worktree`
of an older commit), so before/after figures come from one machine in one sitting; every process
runs in that tree (``python -m`` imports from its working directory). The JSON goes to stdout.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CORE_ROUNDS = """
import json, statistics, sys, time
from curverbd.core import Cluster
rounds = int(sys.argv[1])
c = Cluster("admin")
c.connect()
c.create_pool("bench")
io = c.open_ioctx("bench")
trips, stats, opens = [], [], []
for n in range(rounds):
    t0 = time.perf_counter()
    io.create_image(f"i{n}", 1 << 20)
    t1 = time.perf_counter()
    io.stat_image(f"i{n}")
    t2 = time.perf_counter()
    io.open_image(f"i{n}").close()
    t3 = time.perf_counter()
    io.remove_image(f"i{n}")
    t4 = time.perf_counter()
    trips.append((t1 - t0) + (t4 - t3))
    stats.append(t2 - t1)
    opens.append(t3 - t2)
ms = lambda xs: round(statistics.median(xs) * 1000, 2)
print(json.dumps({"create_rm_ms": ms(trips), "stat_ms": ms(stats), "open_close_ms": ms(opens)}))
c.shutdown()
"""


def median_ms(cmd: list[str], env: dict, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        proc = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        times.append(time.perf_counter() - start)
        if proc.returncode:
            raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr.strip()}")
    return round(statistics.median(times) * 1000, 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", default=ROOT, help="the checkout to measure (default: this one)")
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    tree = os.path.abspath(args.tree)
    os.chdir(tree)
    base = tempfile.mkdtemp(prefix="crbd-bench-")
    sock, data, lib = os.path.join(base, "nebd.sock"), os.path.join(base, "data"), os.path.join(base, "lib")
    env = dict(os.environ, PYTHONPATH=tree, CURVERBD_SOCKET=sock)
    subprocess.run([sys.executable, os.path.join(tree, "build_so.py"), "--out", lib], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    daemon = subprocess.Popen([sys.executable, "-m", "curverbd.server.main", "--socket", sock, "--data-dir", data],
                              env=env)
    try:
        deadline = time.monotonic() + 30
        while not os.path.exists(sock) or (os.path.exists(sock + ".etcd") is False and
                                           os.path.exists(os.path.join(tree, "curverbd", "curve", "etcd.py"))):
            if time.monotonic() > deadline:
                raise RuntimeError("the daemon did not start")
            time.sleep(0.05)
        time.sleep(0.5)
        core = json.loads(subprocess.run([sys.executable, "-c", CORE_ROUNDS, str(args.rounds)], env=env,
                                         check=True, capture_output=True, text=True).stdout)
        cli = [sys.executable, "-m", "curverbd.cli.rbd"]
        create_rm = []
        for n in range(max(3, args.rounds // 4)):
            start = time.perf_counter()
            subprocess.run(cli + ["create", "--size", "1M", f"bench/cli{n}"], env=env, check=True)
            subprocess.run(cli + ["rm", f"bench/cli{n}"], env=env, check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            create_rm.append(time.perf_counter() - start)
        subprocess.run(cli + ["create", "--size", "64M", "bench/open"], env=env, check=True)
        raw = os.path.join(base, "raw.img")
        with open(raw, "wb") as f:
            f.truncate(64 << 20)
        rbd_env = dict(env, LD_LIBRARY_PATH=lib)
        plain = median_ms(["qemu-img", "info", "-f", "raw", raw], env, 7)
        ours = median_ms(["qemu-img", "info", "-f", "raw", "rbd:bench/open"], rbd_env, 7)
        print(json.dumps({"tree": tree, **core,
                          "rbd_cli_create_rm_ms": round(statistics.median(create_rm) * 1000, 1),
                          "qemu_img_info_raw_ms": plain, "qemu_img_info_rbd_ms": ours,
                          "qemu_img_first_open_added_ms": round(ours - plain, 1)}, indent=1))
    finally:
        daemon.terminate()
        daemon.wait(30)
        subprocess.run(["rm", "-rf", base])
    return 0


if __name__ == "__main__":
    sys.exit(main())
