"""rbd bench: Ceph's simple I/O benchmark with per-second lines and a summary."""
from __future__ import annotations

import argparse
import collections
import errno
import os
import random
import sys
import time

from ..errors import Error
from .common import add_image_options, format_size, opened_image, parse_bytes, target

IO_TYPES = {"read": "read", "write": "write", "readwrite": "readwrite", "rw": "readwrite"}


def _offsets(pattern: str, count: int, io_size: int, image_size: int, rng: random.Random):
    """The offset of each I/O: sequential (wrapping at the end of the image) or random, io_size-aligned."""
    slots = image_size // io_size
    for i in range(count):
        yield (i % slots if pattern == "seq" else rng.randrange(slots)) * io_size


def _rate_line(second: int, ops: int, interval_ops: int, interval_bytes: int, interval: float) -> str:
    return (f"{second:5d}  {ops:8d}  {interval_ops / interval:8.2f}  "
            f"{format_size(interval_bytes / interval)}/s")


def run_bench(img, io_type: str, io_size: int, threads: int, total: int, pattern: str, read_pct: int,
              out=sys.stdout) -> None:
    """Do ``total`` bytes of ``io_size`` I/O with ``threads`` in flight; print Ceph's lines to ``out``."""
    size = img.size()
    if io_size <= 0 or io_size > size:
        raise Error(errno.EINVAL, f"--io-size {io_size} must be between 1 and the image size {size}")
    count = max(1, total // io_size)
    rng = random.Random(0x5EED)
    data = os.urandom(io_size)
    out.write(f"bench  type {io_type} io_size {io_size} io_threads {threads} bytes {count * io_size} "
              f"pattern {'sequential' if pattern == 'seq' else 'random'}\n")
    out.write("  SEC       OPS   OPS/SEC   BYTES/SEC\n")
    out.flush()
    in_flight: collections.deque = collections.deque()
    start = last = time.monotonic()
    done = last_done = 0
    second = 0

    def reap() -> None:
        nonlocal done
        in_flight.popleft().result()
        done += 1

    for offset in _offsets(pattern, count, io_size, size, rng):
        read = io_type == "read" or (io_type == "readwrite" and rng.randrange(100) < read_pct)
        in_flight.append(img.aio_read(offset, io_size) if read else img.aio_write(offset, data))
        if len(in_flight) >= threads:
            reap()
        now = time.monotonic()
        if now - last >= 1.0:
            second += 1
            out.write(_rate_line(second, done, done - last_done, (done - last_done) * io_size, now - last) + "\n")
            out.flush()
            last, last_done = now, done
    while in_flight:
        reap()
    if io_type != "read":
        img.flush()
    now = time.monotonic()
    if done > last_done:   # the last, partial second
        out.write(_rate_line(second + 1, done, done - last_done, (done - last_done) * io_size,
                             max(now - last, 1e-6)) + "\n")
    elapsed = max(now - start, 1e-6)
    out.write(f"elapsed: {int(elapsed)}   ops: {done}   ops/sec: {done / elapsed:.2f}   "
              f"bytes/sec: {format_size(done * io_size / elapsed)}/s\n")
    out.flush()


def cmd_bench(args: argparse.Namespace) -> int:
    pool, image, _ = target(args)
    if not args.io_type:
        raise Error(errno.EINVAL, "--io-type must be specified (read, write or readwrite)")
    io_type = IO_TYPES[args.io_type]
    if args.io_threads < 1:
        raise Error(errno.EINVAL, "--io-threads must be at least 1")
    with opened_image(args, pool, image, read_only=io_type == "read") as img:
        run_bench(img, io_type, parse_bytes(args.io_size), args.io_threads, parse_bytes(args.io_total),
                  args.io_pattern, args.rw_mix_read)
    return 0


def register(sub) -> None:
    """Add bench to the rbd command's subparsers."""
    p = sub.add_parser("bench", help="simple I/O benchmark")
    add_image_options(p)
    p.add_argument("--io-type", choices=sorted(IO_TYPES))
    p.add_argument("--io-size", default="4K", help="bytes per I/O (default 4K)")
    p.add_argument("--io-threads", type=int, default=16, help="I/Os in flight (default 16)")
    p.add_argument("--io-total", default="1G", help="total bytes (default 1G)")
    p.add_argument("--io-pattern", choices=("seq", "rand"), default="seq")
    p.add_argument("--rw-mix-read", type=int, default=50, help="percent reads for readwrite (default 50)")
    p.set_defaults(handler=cmd_bench, what="bench failed")
