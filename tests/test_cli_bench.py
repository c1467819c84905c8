"""rbd bench: Ceph's per-second lines and summary, and the I/O it claims to have done."""
import json
import re

import pytest

from cli_helpers import pool, read_image, run  # noqa: F401

ROW = re.compile(r"^ {0,4}(\d+) +(\d+) +(\d+\.\d\d) +([\d.]+ (?:[KMGT]i)?B)/s$")
SUMMARY = re.compile(r"^elapsed: (\d+)   ops: (\d+)   ops/sec: (\d+\.\d\d)   bytes/sec: ([\d.]+ (?:[KMGT]i)?B)/s$")


def bench_lines(daemon, *argv):
    out = run(daemon, "rbd", "bench", *argv).stdout.splitlines()
    rows = [ROW.match(line) for line in out[2:-1]]
    assert all(rows), out
    summary = SUMMARY.match(out[-1])
    assert summary, out[-1]
    return out, rows, summary


@pytest.mark.parametrize("pattern", ["seq", "rand"])
def test_write_then_read_bench(daemon, pool, pattern):
    run(daemon, "rbd", "create", "-s", "4", "vms/b")
    out, rows, summary = bench_lines(daemon, "--io-type", "write", "--io-size", "4K", "--io-threads", "4",
                                     "--io-total", "1M", "--io-pattern", pattern, "vms/b")
    kind = "sequential" if pattern == "seq" else "random"
    assert out[0] == f"bench  type write io_size 4096 io_threads 4 bytes 1048576 pattern {kind}"
    assert out[1] == "  SEC       OPS   OPS/SEC   BYTES/SEC"
    assert rows, "at least one per-second line"
    cumulative = [int(r.group(2)) for r in rows]
    assert cumulative == sorted(cumulative) and cumulative[-1] == 256
    assert [int(r.group(1)) for r in rows] == list(range(1, len(rows) + 1))
    assert int(summary.group(2)) == 256
    data = read_image("vms", "b")
    if pattern == "seq":   # 1 MiB written from offset 0, sequentially: exactly the first MiB is non-zero blocks
        blocks = [data[i:i + 4096] != bytes(4096) for i in range(0, len(data), 4096)]
        assert blocks == [True] * 256 + [False] * (len(blocks) - 256)
    else:
        assert data != bytes(len(data))

    out, rows, summary = bench_lines(daemon, "--io-type", "read", "--io-size", "64K", "--io-threads", "2",
                                     "--io-total", "8M", "vms/b")   # wraps around the 4 MiB image
    assert out[0].startswith("bench  type read io_size 65536 io_threads 2 bytes 8388608")
    assert int(summary.group(2)) == 128
    assert read_image("vms", "b") == data   # reading changed nothing


def test_readwrite_and_errors(daemon, pool):
    run(daemon, "rbd", "create", "-s", "1", "vms/rw")
    _, _, summary = bench_lines(daemon, "vms/rw", "--io-type", "rw", "--io-total", "256K", "--rw-mix-read", "70")
    assert int(summary.group(2)) == 64
    no_type = run(daemon, "rbd", "bench", "vms/rw", ok=False)
    assert no_type.returncode == 22 and "--io-type" in no_type.stderr
    too_big = run(daemon, "rbd", "bench", "vms/rw", "--io-type", "read", "--io-size", "2M", ok=False)
    assert too_big.returncode == 22
    missing = run(daemon, "rbd", "bench", "vms/none", "--io-type", "read", ok=False)
    assert missing.returncode == 2 and "error opening image none" in missing.stderr
    assert json.loads(run(daemon, "rbd", "du", "vms/rw", "--format", "json").stdout)["images"][0]["used_size"] > 0


@pytest.mark.parametrize("size, text", [(512, "512 B"), (1 << 30, "1 GiB"), (1.5 * (1 << 20), "1.5 MiB"),
                                        (999.4 * (1 << 20), "999 MiB"), (1023.9 * (1 << 20), "1024 MiB")])
def test_sizes_print_as_ceph_does(size, text):
    """A rate just under 1 GiB/s once printed as '1.01e+03 MiB/s', which no Ceph user parses."""
    from curverbd.cli.common import format_size
    assert format_size(size) == text
