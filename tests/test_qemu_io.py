"""qemu-io through block-rbd.so: 512-byte aligned but 4 KiB unaligned I/O, overlapping writes
(also in flight together), discard and write -z, checked byte for byte against a model."""
from __future__ import annotations

import random

from capi_helpers import make_image, make_pool, read_image, run

MiB = 1 << 20
SIZE = 4 * MiB + 3 * 512     # not a multiple of 4 KiB: the last block is partial


def qemu_io(env: dict, *commands: str) -> str:
    args = ["qemu-io", "-f", "raw", "rbd:pool/img"]
    for c in commands:
        args += ["-c", c]
    out = run(args, env).stdout
    assert "Pattern verification failed" not in out and "error" not in out.lower(), out
    return out


def test_unaligned_patterns_read_back(daemon, rbd_env):
    make_pool(daemon, "pool")
    make_image(daemon, "pool", "img", SIZE)
    qemu_io(rbd_env,
            "write -P 0x11 512 1536",        # inside one block
            "write -P 0x22 3584 1024",       # crosses a block boundary
            "write -P 0x33 7680 9216",       # head and tail partial, whole blocks between
            "write -P 0x44 8192 4096")       # aligned, inside the previous one
    qemu_io(rbd_env,
            "read -P 0 0 512", "read -P 0x11 512 1536", "read -P 0 2048 1536",
            "read -P 0x22 3584 1024", "read -P 0 4608 3072",
            "read -P 0x33 7680 512", "read -P 0x44 8192 4096", "read -P 0x33 12288 4608",
            "read -P 0 16896 512")
    # the last, partial block of the image
    qemu_io(rbd_env, f"write -P 0x55 {SIZE - 1024} 1024", f"read -P 0x55 {SIZE - 1024} 1024",
            f"read -P 0 {SIZE - 4096} 3072")


def test_discard_and_write_zeroes_unaligned(daemon, rbd_env):
    make_pool(daemon, "pool")
    make_image(daemon, "pool", "img", SIZE)
    qemu_io(rbd_env, "write -P 0x66 0 65536",
            "discard 1536 10240",             # partial head and tail blocks, one whole block
            "write -z 20992 9728",
            "write -z 40960 8192")            # aligned: discarded outright
    qemu_io(rbd_env, "read -P 0x66 0 1536", "read -P 0 1536 10240", "read -P 0x66 11776 9216",
            "read -P 0 20992 9728", "read -P 0x66 30720 10240", "read -P 0 40960 8192",
            "read -P 0x66 49152 16384")


def test_random_overlapping_writes_match_a_model(daemon, rbd_env):
    """aio_write issues them all before any completes: overlapping read-modify-writes run
    concurrently and must still land in submission order (-z -u: zeroes that may be discarded)."""
    make_pool(daemon, "pool")
    make_image(daemon, "pool", "img", SIZE)
    rng = random.Random(1234)
    model = bytearray(SIZE)
    commands = []
    for round_ in range(4):
        for i in range(24):
            sectors = SIZE // 512
            start = rng.randrange(0, 96) * 512        # a small area: many overlaps
            length = rng.randrange(1, 24) * 512
            start = min(start, (sectors - length // 512) * 512)
            pattern = (round_ * 24 + i) % 250 + 1
            kind = rng.choice(["write", "write", "write", "zero", "discard"])
            if kind == "write":
                commands.append(f"aio_write -P {pattern} {start} {length}")
                model[start:start + length] = bytes([pattern]) * length
            elif kind == "zero":
                commands.append(f"aio_write -z {start} {length}")
                model[start:start + length] = bytes(length)
            else:
                commands.append(f"aio_write -z -u {start} {length}")
                model[start:start + length] = bytes(length)
        commands.append("aio_flush")
    qemu_io(rbd_env, *commands)
    assert read_image("pool", "img", 0, 128 * 512) == bytes(model[:128 * 512])
