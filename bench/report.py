"""Issue 15's speed targets checked against one fio_compare.py run (every ratio measured side by side in
that run), and the chart (PNG) of it."""
from __future__ import annotations

import sys


def targets(results: dict, host: dict) -> list[dict]:
    """Each target: what it compares, the measured ratio or figure, the bound, and whether it is met."""
    out = []

    def add(name: str, value, bound: float, higher_is_better: bool = True, unit: str = "x") -> None:
        met = None if value is None else (value >= bound if higher_is_better else value <= bound)
        out.append({"target": name, "measured": value, "bound": bound, "unit": unit,
                    "kind": ">=" if higher_is_better else "<=", "met": met})

    def ratio(job: str, other: str, key: str = "iops"):
        row = results.get(job, {})
        if "curverbd" not in row or other not in row or not row[other][key]:
            return None
        return round(row["curverbd"][key] / row[other][key], 2)

    add("1m-write-qd8 MB/s vs raw file", ratio("1m-write-qd8", "raw-file", "mbps"), 0.9)
    add("1m-read-qd8 MB/s vs raw file", ratio("1m-read-qd8", "raw-file", "mbps"), 1.0)
    for job in ("4k-randread-qd1", "4k-randwrite-qd1"):
        add(f"{job} mean latency vs qemu-nbd", ratio(job, "qemu-nbd", "lat_mean_us"), 0.8, False)
    for job in ("4k-randread-qd32", "4k-randwrite-qd32"):
        add(f"{job} IOPS vs qemu-nbd", ratio(job, "qemu-nbd"), 2.0)
    for job in ("4k-randread-qd32", "4k-randwrite-qd32"):
        cell = results.get(job, {}).get("curverbd")
        add(f"{job} client CPU per I/O (fio process)", None if cell is None else cell["fio_cpu_us_per_io"],
            8, False, "us")
    pymod = host.get("pymod", {})
    if pymod:
        add("Python module 1 GiB/8 MiB writes vs Debian python3-rbd", pymod.get("ratio_debian"), 0.9)
        add("  same, vs qemu-img convert 1 GiB into rbd", pymod.get("ratio_convert"), 0.8)
    if "first_open" in host:
        add("time added to qemu-img's first open", host["first_open"]["added_ms"], 100, False, "ms")
    return out


def print_targets(rows: list[dict]) -> None:
    print(f"\n{'target (issue 15, speed)':<56}{'measured':>10}{'bound':>10}  met")
    for r in rows:
        value = "n/a" if r["measured"] is None else f"{r['measured']}{r['unit']}"
        met = "-" if r["met"] is None else ("yes" if r["met"] else "NO")
        print(f"{r['target']:<56}{value:>10}{r['kind'] + str(r['bound']) + r['unit']:>10}  {met}")


def chart(results: dict, rows: list[dict], path: str, host: dict | None = None) -> bool:
    """Left: IOPS (4 KiB) and MB/s (1 MiB) per backend; middle (with the host part): 1 GiB written in
    8 MiB chunks by our Python module, Debian's python3-rbd and qemu-img convert; right: each target's
    ratio against its bound."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: no chart (pip install matplotlib)", file=sys.stderr)
        return False
    if not results:   # only the host part was run (--jobs matched nothing): no chart to draw
        return False
    backends = ["curverbd", "qemu-nbd", "raw-file"]
    colours = {"curverbd": "tab:blue", "qemu-nbd": "tab:orange", "raw-file": "tab:gray"}
    jobs = list(results)
    host = host or {}
    pymod = host.get("pymod", {})
    writes = [(label, pymod.get(key), colour) for label, key, colour in (   # the 1 GiB writes into rbd
        ("our Python\nmodule", "ours_mbps", "tab:blue"), ("Debian\npython3-rbd", "debian_mbps", "tab:purple"),
        ("qemu-img\nconvert", "convert_mbps", "tab:orange")) if pymod.get(key) is not None]
    if writes:
        fig, (left, middle, right) = plt.subplots(1, 3, figsize=(19, 5.5),
                                                   gridspec_kw={"width_ratios": [3, 1, 2]}, layout="constrained")
        bars = middle.bar(range(len(writes)), [v for _, v, _ in writes], color=[c for _, _, c in writes])
        middle.bar_label(bars, fmt="%.0f", fontsize=8)
        middle.set_xticks(range(len(writes)), [label for label, _, _ in writes], fontsize=8)
        middle.set_ylabel("MB/s")
        middle.set_title("1 GiB into rbd, 8 MiB writes\n(median of interleaved runs)", fontsize=10)
    else:
        fig, (left, right) = plt.subplots(1, 2, figsize=(15, 5.5), gridspec_kw={"width_ratios": [3, 2]},
                                          layout="constrained")
    width = 0.8 / len(backends)
    for i, backend in enumerate(backends):
        values = []
        for job in jobs:
            cell = results[job].get(backend)
            values.append(0 if cell is None else (cell["mbps"] if job.startswith("1m") else cell["iops"] / 1000))
        bars = left.bar([j + i * width for j in range(len(jobs))], values, width, label=backend,
                        color=colours[backend])
        left.bar_label(bars, fmt="%.0f", fontsize=7)
    left.set_xticks([j + width for j in range(len(jobs))], jobs, rotation=20, fontsize=8)
    left.set_yscale("log")  # the raw file's page-cache reads are an order of magnitude above the rest
    left.set_ylabel("4k jobs: kIOPS    1m jobs: MB/s    (log scale)")
    left.set_title("fio, same jobs on each path (higher is better)")
    left.legend()

    shown = [r for r in rows if r["measured"] is not None]
    # as "how far past the bound": measured/bound for >= targets, bound/measured for <= targets (capped at 3)
    score = [min(3.0, r["measured"] / r["bound"] if r["kind"] == ">=" else r["bound"] / max(r["measured"], 1e-9))
             for r in shown]
    colour = ["tab:green" if r["met"] else "tab:red" for r in shown]
    right.barh(range(len(shown)), score, color=colour)
    for y, r in enumerate(shown):
        right.text(max(score[y], 0) + 0.02, y, f"{r['measured']}{r['unit']} ({r['kind']}{r['bound']}{r['unit']})", va="center", fontsize=8)
    right.axvline(1.0, color="black", linestyle="--", linewidth=1)
    right.set_yticks(range(len(shown)), [r["target"] for r in shown], fontsize=8)
    right.invert_yaxis()
    right.set_xlim(0, max(score + [1.0]) * 1.35)
    right.set_title("targets: >= 1 (dashed) means met")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
