#!/usr/bin/env python3
"""Side-by-side fio: curverbd (rbd engine, our libraries) vs a raw file vs qemu-nbd on the same disk.

    python3 bench/fio_compare.py [--runtime 5] [--size 1G] [--out bench/out/fio_compare.json]
                                 [--backends curverbd,raw-file,qemu-nbd] [--jobs NAME,...] [--no-host]
                                 [--daemon-args '--writeback-interval 0']

Every backend gets the same jobs (4 KiB random read/write at queue depth 1 and 32,
1 MiB sequential read/write at depth 8) on a 1 GiB data set that was written in
full first, so reads hit real data. The store behind each is a file in the same
directory on the same disk, used through the page cache (the curverbd daemon and
qemu-nbd both do buffered I/O), so the raw file runs buffered too.
The table gives IOPS, mean and p99 latency, CPU microseconds per I/O in the fio process
(our libraries and the embedded interpreter live there) and in the server process (curverbd-server,
qemu-nbd), and curverbd's ratio to each other path. Then (unless --no-host) qemu-img convert of a
1 GiB raw image into rbd vs to a local raw file, the same 1 GiB written in 8 MiB chunks through our
Python rbd module and through Debian's python3-rbd over our libraries (bench/pymod_cost.py), and the
RSS and time our libraries add to qemu-img's first open. Last, issue 15's speed targets, met or not;
the JSON report goes to --out and a chart next to it (same name, .png).
Every face uses the one build of our libraries that ``curverbd.core.engine.library_dir()`` names
($CURVERBD_LIB_DIR if set, else the per-source-hash build the core's C data engine loads too), and the
load average at start and end is printed and kept in the JSON (the ratios are only side by side on a
shared machine). ``CURVERBD_FASTPATH=0`` in the environment measures the daemon's pure-Python path
(no C frame loop). The chart needs matplotlib (``pip install .[bench]``).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from daemon import new_daemon, remove  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import host_cost  # noqa: E402
import pymod_cost  # noqa: E402
import report  # noqa: E402
from curverbd.core.engine import library_dir  # noqa: E402

JOBS = [  # name, rw, block size, iodepth
    ("4k-randread-qd1", "randread", "4k", 1),
    ("4k-randread-qd32", "randread", "4k", 32),
    ("4k-randwrite-qd1", "randwrite", "4k", 1),
    ("4k-randwrite-qd32", "randwrite", "4k", 32),
    ("1m-read-qd8", "read", "1m", 8),
    ("1m-write-qd8", "write", "1m", 8),
]


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def process_cpu(pid: int | None) -> float:
    """CPU seconds used so far by process ``pid`` (0 when there is none)."""
    if pid is None:
        return 0.0
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_fio(args: list[str], env: dict | None = None, server: int | None = None) -> tuple[dict, float, float]:
    """fio's JSON result, and the CPU seconds the fio process and the server process used meanwhile."""
    before, server_before = children_cpu(), process_cpu(server)
    out = subprocess.run(["fio", "--output-format=json", *args], env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out[out.index("{"):]), children_cpu() - before, process_cpu(server) - server_before


def summarise(result: dict, rw: str, cpu: float, server_cpu: float) -> dict:
    side = result["jobs"][0]["read" if "read" in rw else "write"]
    pct = side["clat_ns"].get("percentile", {})
    ios = max(side["total_ios"], 1)
    return {
        "iops": round(side["iops"], 1),
        "mbps": round(side["bw_bytes"] / 1e6, 1),
        "lat_mean_us": round(side["lat_ns"]["mean"] / 1000, 1),
        "lat_p99_us": round(pct.get("99.000000", 0) / 1000, 1),
        "fio_cpu_us_per_io": round(cpu * 1e6 / ios, 1),
        "server_cpu_us_per_io": round(server_cpu * 1e6 / ios, 1),
    }


def backends(work: str, size: str, lib: str, daemon) -> dict[str, tuple[list[str], dict]]:
    env = dict(os.environ)
    rbd_env = dict(env, LD_LIBRARY_PATH=lib, CURVERBD_SOCKET=daemon.socket, PYTHONPATH=ROOT,
                   CURVERBD_LIB_DIR=lib)
    raw = os.path.join(work, "raw.img")
    nbd_sock = os.path.join(work, "nbd.sock")
    return {
        "curverbd": (["--ioengine=rbd", "--clientname=admin", "--pool=bench", "--rbdname=img"], rbd_env),
        "raw-file": ([f"--filename={raw}", "--ioengine=io_uring", "--direct=0", "--invalidate=0",
                      f"--size={size}"], env),
        "qemu-nbd": (["--ioengine=nbd", f"--uri=nbd+unix:///?socket={nbd_sock}", f"--size={size}"], env),
    }


def cpu_cell(cell: dict) -> str:
    if "fio_cpu_us_per_io" not in cell:
        return "n/a"
    return f"{cell['fio_cpu_us_per_io']:.1f}+{cell['server_cpu_us_per_io']:.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtime", type=int, default=5, help="seconds per job")
    parser.add_argument("--size", default="1G")
    parser.add_argument("--backends", default="curverbd,raw-file,qemu-nbd",
                        help="comma-separated subset to run (the ratios need all three)")
    parser.add_argument("--jobs", default="", help="comma-separated subset of the job names")
    parser.add_argument("--no-host", action="store_true",
                        help="skip the qemu-img convert / Python module / first-open part")
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "out", "fio_compare.json"))
    parser.add_argument("--daemon-args", default="", help="extra curverbd-server options, e.g. '--writeback-interval 0'")
    opts = parser.parse_args()

    work = tempfile.mkdtemp(prefix="crbd-bench-")
    lib = library_dir()                      # the build the core's engine uses (built once per source hash)
    os.environ["CURVERBD_LIB_DIR"] = lib     # and the daemon, fio's and qemu-img's interpreters, our module
    load = os.getloadavg()
    print(f"libraries: {lib}; load average at start {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
          f"({os.cpu_count()} CPUs)")
    daemon = new_daemon(*opts.daemon_args.split()).start()
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
        servers = {"curverbd": daemon.proc.pid, "qemu-nbd": nbd.pid}
        chosen = opts.backends.split(",")
        jobs = [j for j in JOBS if not opts.jobs or j[0] in opts.jobs.split(",")]
        for backend, (target, env) in paths.items():
            if backend not in chosen:
                continue
            run_fio(["--name=fill", "--rw=write", "--bs=1m", "--iodepth=8", *target], env)
            for name, rw, bs, depth in jobs:
                res, cpu, server_cpu = run_fio(
                    [f"--name={name}", f"--rw={rw}", f"--bs={bs}", f"--iodepth={depth}", "--time_based",
                     f"--runtime={opts.runtime}", "--randrepeat=0", "--norandommap", *target],
                    env, servers.get(backend))
                results.setdefault(name, {})[backend] = summarise(res, rw, cpu, server_cpu)
        host = {}
        if not opts.no_host:
            rbd_env = paths["curverbd"][1]
            host["convert"] = host_cost.convert(work, 1 << 30, rbd_env, dict(os.environ))
            host["pymod"] = pymod_cost.write_1g(ROOT, lib, daemon.socket, "bench", work)
            host["first_open"] = host_cost.first_open(raw, "rbd:bench/img", rbd_env, dict(os.environ))
    finally:
        if nbd:
            nbd.terminate()
            nbd.wait()
        remove(daemon)
        shutil.rmtree(work, ignore_errors=True)

    print(f"{'job':<20}{'curverbd':>12}{'raw-file':>12}{'qemu-nbd':>12}{'vs raw':>9}{'vs nbd':>9}"
          f"{'lat us (ours/nbd)':>20}{'p99 us (ours)':>14}{'cpu us/io fio+srv (ours/nbd)':>30}")
    none = {"iops": float("nan"), "lat_mean_us": float("nan"), "lat_p99_us": float("nan")}
    for name, row in results.items():
        ours, raw, nbd_r = (row.get(b, none) for b in ("curverbd", "raw-file", "qemu-nbd"))
        print(f"{name:<20}{ours['iops']:>12.0f}{raw['iops']:>12.0f}{nbd_r['iops']:>12.0f}"
              f"{ours['iops'] / raw['iops']:>9.2f}{ours['iops'] / nbd_r['iops']:>9.2f}"
              f"{ours['lat_mean_us']:>11.1f}/{nbd_r['lat_mean_us']:<8.1f}{ours['lat_p99_us']:>14.1f}"
              f"{cpu_cell(ours):>17}/{cpu_cell(nbd_r):<12}")
    if host.get("convert"):
        c = host["convert"]
        print(f"\nqemu-img convert 1 GiB: raw file {c['local_s']} s (+ fsync: {c['local_durable_s']} s), "
              f"rbd {c['rbd_s']} s (closing the image flushes) (best: {c['local_mbps']} vs {c['rbd_mbps']} MB/s)")
    if host.get("pymod"):
        p = host["pymod"]
        debian = (f"Debian's python3-rbd over our libraries {p['debian_s']} s ({p['debian_mbps']} MB/s)"
                  if "debian_s" in p else p.get("debian_missing", "Debian's: n/a"))
        print(f"1 GiB in 8 MiB rbd.Image.write chunks, open to close (median MB/s of interleaved runs): "
              f"our module {p['ours_s']} s ({p['ours_mbps']} MB/s), {debian}, qemu-img convert into rbd "
              f"{p['convert_s']} s ({p['convert_mbps']} MB/s); ours vs Debian's {p.get('ratio_debian', 'n/a')}x, "
              f"vs qemu-img convert {p.get('ratio_convert', 'n/a')}x")
    if host.get("first_open"):
        f = host["first_open"]
        print(f"qemu-img info: raw file {f['raw_ms']} ms, rbd {f['rbd_ms']} ms; our libraries add "
              f"{f['added_ms']} ms and {f['added_rss_mb']} MB RSS")
    load_end = os.getloadavg()
    print(f"load average at end {load_end[0]:.2f} {load_end[1]:.2f} {load_end[2]:.2f}")
    rows = report.targets(results, host)
    report.print_targets(rows)
    os.makedirs(os.path.dirname(opts.out), exist_ok=True)
    with open(opts.out, "w") as f:
        json.dump({"runtime_s": opts.runtime, "size": opts.size, "libraries": lib, "cpus": os.cpu_count(),
                   "load_average": {"start": load, "end": load_end}, "results": results, "host": host,
                   "targets": rows}, f, indent=2)
    print(f"report: {opts.out}")
    png = os.path.splitext(opts.out)[0] + ".png"
    if report.chart(results, rows, png, host):
        print(f"chart: {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
