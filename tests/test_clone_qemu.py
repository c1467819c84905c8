"""A clone made through the Python rbd module (ours) boots the same bytes: QEMU's block-rbd
driver (qemu-img / qemu-io over our librbd.so.1) reads the clone back byte-identical to the
snapshot it was cloned from, before and after a flatten, and QEMU's writes to the clone stay
in the clone."""
from __future__ import annotations

import os

from capi_helpers import run
from pymod_helpers import POOL, ioctx, rados_conn, rbd  # noqa: F401

MiB = 1 << 20
SIZE = 16 * MiB


def export(spec: str, path, env: dict) -> bytes:
    run(["qemu-img", "convert", "-f", "raw", "-O", "raw", spec, str(path)], env)
    return path.read_bytes()


def test_python_clone_reads_back_through_qemu(ioctx, rbd_env, tmp_path):  # noqa: F811
    pattern = os.urandom(SIZE)
    r = rbd.RBD()
    r.create(ioctx, "golden", SIZE)
    with rbd.Image(ioctx, "golden") as img:
        img.write(pattern, 0)
        img.create_snap("release")
        img.protect_snap("release")
        img.write(b"\xff" * MiB, 3 * MiB)     # after the snapshot: the clone must not see it
    r.clone(ioctx, "golden", "release", ioctx, "vm-disk")

    spec = f"rbd:{POOL}/vm-disk"
    assert export(spec, tmp_path / "clone.raw", rbd_env) == pattern
    (tmp_path / "expected.raw").write_bytes(pattern)
    run(["cmp", str(tmp_path / "expected.raw"), str(tmp_path / "clone.raw")], rbd_env)

    # QEMU writes into the clone; the parent's snapshot stays as it was
    run(["qemu-io", "-f", "raw", spec, "-c", "write -P 0x42 5M 64k"], rbd_env)
    with rbd.Image(ioctx, "vm-disk") as clone:
        assert clone.read(5 * MiB, 64 * 1024) == b"\x42" * 65536
        assert clone.read(5 * MiB - 10, 10) == pattern[5 * MiB - 10:5 * MiB]
        clone.flatten()
    with rbd.Image(ioctx, "golden", snapshot="release") as snap:
        assert snap.read(5 * MiB, 64 * 1024) == pattern[5 * MiB:5 * MiB + 65536]

    expected = bytearray(pattern)
    expected[5 * MiB:5 * MiB + 65536] = b"\x42" * 65536
    assert export(spec, tmp_path / "flat.raw", rbd_env) == bytes(expected)
    run(["qemu-io", "-f", "raw", "-r", spec, "-c", "read -P 0x42 5M 64k"], rbd_env)
