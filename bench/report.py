"""Issue 7's targets checked against one fio_compare.py run, and the chart (PNG) of it."""
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

    for job in ("4k-randread-qd32", "4k-randwrite-qd32"):
        add(f"{job} IOPS vs qemu-nbd", ratio(job, "qemu-nbd"), 1.0)
    for job in ("4k-randread-qd1", "4k-randwrite-qd1"):
        add(f"{job} mean latency vs qemu-nbd", ratio(job, "qemu-nbd", "lat_mean_us"), 1.2, False)
    for job in ("1m-read-qd8", "1m-write-qd8"):
        add(f"{job} MB/s vs raw file", ratio(job, "raw-file", "mbps"), 0.9)
    if "convert" in host:
        add("qemu-img convert 1 GiB into rbd vs to a raw file", host["convert"]["ratio"], 0.8)
        add("  same, vs the raw file made durable (+ fsync)", host["convert"]["ratio_durable"], 0.8)
    if "first_open" in host:
        add("RSS added to qemu-img", host["first_open"]["added_rss_mb"], 30, False, "MB")
        add("time added to qemu-img's first open", host["first_open"]["added_ms"], 150, False, "ms")
    return out


def print_targets(rows: list[dict]) -> None:
    print(f"\n{'target':<52}{'measured':>10}{'bound':>10}  met")
    for r in rows:
        value = "n/a" if r["measured"] is None else f"{r['measured']}{r['unit']}"
        met = "-" if r["met"] is None else ("yes" if r["met"] else "NO")
        print(f"{r['target']:<52}{value:>10}{r['kind'] + str(r['bound']) + r['unit']:>10}  {met}")


def chart(results: dict, rows: list[dict], path: str) -> bool:
    """Left: IOPS (4 KiB) and MB/s (1 MiB) per backend; right: each target's ratio against its bound."""
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
    fig, (left, right) = plt.subplots(1, 2, figsize=(15, 5.5), gridspec_kw={"width_ratios": [3, 2]})
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
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
