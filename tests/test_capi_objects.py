"""librados object calls through the exported C functions (cffi ABI mode on the built
librados.so.2): rados_write / write_full / append / read / stat / remove, their aio variants,
fio's zeroing write op, pool and cluster object counts, pools and the fsid."""
from __future__ import annotations

import errno
import time

import pytest

from capi_helpers import make_pool
from test_capi_abi import Handles, abi  # noqa: F401  (shim_c headers declare every call used here)


@pytest.fixture
def pool(abi, daemon, tmp_path):  # noqa: F811
    make_pool(daemon, "objs")
    h = Handles(*abi, str(tmp_path / "client.log"))
    assert h.connect() == 0
    assert h.open_pool(b"objs") == 0
    yield h
    h.close()


def read(h, oid: bytes, length: int, off: int = 0) -> bytes | int:
    buf = h.ffi.new("char[]", max(length, 1))
    n = h.lib.rados_read(h.ioctx, oid, buf, length, off)
    return n if n < 0 else h.ffi.buffer(buf, n)[:]


def stat(h, oid: bytes) -> tuple[int, int, int]:
    size, mtime = h.ffi.new("uint64_t *"), h.ffi.new("time_t *")
    r = h.lib.rados_stat(h.ioctx, oid, size, mtime)
    return r, size[0], mtime[0]


def test_write_read_stat_remove(pool):
    lib = pool.lib
    assert read(pool, b"o1", 10) == -errno.ENOENT
    assert lib.rados_remove(pool.ioctx, b"o1") == -errno.ENOENT
    assert stat(pool, b"o1")[0] == -errno.ENOENT
    assert lib.rados_write(pool.ioctx, b"o1", b"hello", 5, 0) == 0
    assert lib.rados_write(pool.ioctx, b"o1", b"XY", 2, 8) == 0          # a gap reads as zeros
    assert read(pool, b"o1", 100) == b"hello\0\0\0XY"
    assert read(pool, b"o1", 3, 1) == b"ell"
    assert read(pool, b"o1", 10, 50) == b""                              # past the end: nothing
    r, size, mtime = stat(pool, b"o1")
    assert (r, size) == (0, 10) and abs(mtime - time.time()) < 3600
    assert lib.rados_write_full(pool.ioctx, b"o1", b"new", 3) == 0       # replaces, truncates
    assert read(pool, b"o1", 100) == b"new"
    assert lib.rados_append(pool.ioctx, b"o1", b"+more", 5) == 0
    assert read(pool, b"o1", 100) == b"new+more"
    assert lib.rados_remove(pool.ioctx, b"o1") == 0
    assert read(pool, b"o1", 1) == -errno.ENOENT


def test_bad_arguments(pool):
    ffi, lib = pool.ffi, pool.lib
    assert lib.rados_write(ffi.NULL, b"o", b"x", 1, 0) == -errno.EINVAL
    assert lib.rados_write(pool.ioctx, ffi.NULL, b"x", 1, 0) == -errno.EINVAL
    assert lib.rados_read(pool.ioctx, b"o", ffi.NULL, 5, 0) == -errno.EINVAL
    assert lib.rados_remove(ffi.NULL, b"o") == -errno.EINVAL
    big = b"\0" * ((16 << 20) + 1)
    assert lib.rados_write_full(pool.ioctx, b"huge", big, len(big)) == -errno.EFBIG


def test_aio_and_write_op_zero(pool):
    ffi, lib = pool.ffi, pool.lib
    calls = []

    @ffi.callback("void(void *, void *)")
    def done(completion, arg):
        calls.append(lib.rados_aio_get_return_value(completion))

    def completion():
        out = ffi.new("rados_completion_t *")
        assert lib.rados_aio_create_completion(ffi.NULL, done, ffi.NULL, out) == 0
        return out[0]

    c = completion()
    assert lib.rados_aio_write(pool.ioctx, b"a", c, b"0123456789", 10, 0) == 0
    assert lib.rados_aio_wait_for_complete(c) == 0 and lib.rados_aio_is_complete(c) == 1
    assert lib.rados_aio_get_return_value(c) == 0
    lib.rados_aio_release(c)
    buf = ffi.new("char[]", 4)
    c = completion()
    assert lib.rados_aio_read(pool.ioctx, b"a", c, buf, 4, 3) == 0
    lib.rados_aio_wait_for_complete(c)
    assert lib.rados_aio_get_return_value(c) == 4 and ffi.buffer(buf, 4)[:] == b"3456"
    lib.rados_aio_release(c)

    op = lib.rados_create_write_op()
    lib.rados_write_op_zero(op, 2, 3)
    c = completion()
    assert lib.rados_aio_write_op_operate(op, pool.ioctx, c, b"a", ffi.NULL, 0) == 0
    lib.rados_aio_wait_for_complete(c)
    lib.rados_aio_release(c)
    lib.rados_release_write_op(op)
    assert read(pool, b"a", 20) == b"01\0\0\x0056789"

    c = completion()
    assert lib.rados_aio_write_full(pool.ioctx, b"a", c, b"zz", 2) == 0
    lib.rados_aio_wait_for_complete(c)
    lib.rados_aio_release(c)
    c = completion()
    assert lib.rados_aio_remove(pool.ioctx, b"missing", c) == 0
    lib.rados_aio_wait_for_complete(c)
    lib.rados_aio_release(c)
    assert calls == [0, 4, 0, 0, -errno.ENOENT]
    assert read(pool, b"a", 20) == b"zz"


def test_object_counts_pools_and_fsid(pool):
    ffi, lib = pool.ffi, pool.lib
    cstat = ffi.new("struct rados_cluster_stat_t *")
    assert lib.rados_cluster_stat(pool.cluster, cstat) == 0
    before = cstat.num_objects
    for key in (b"x", b"y", b"z"):
        assert lib.rados_write_full(pool.ioctx, key, b"data", 4) == 0
    pstat = ffi.new("struct rados_pool_stat_t *")
    assert lib.rados_ioctx_pool_stat(pool.ioctx, pstat) == 0 and pstat.num_objects == 3
    assert lib.rados_cluster_stat(pool.cluster, cstat) == 0 and cstat.num_objects == before + 3

    fsid = ffi.new("char[37]")
    assert lib.rados_cluster_fsid(pool.cluster, fsid, 37) == 36
    assert ffi.string(fsid).count(b"-") == 4
    assert lib.rados_cluster_fsid(pool.cluster, fsid, 36) == -errno.ERANGE

    assert lib.rados_pool_create(pool.cluster, b"second") == 0
    assert lib.rados_pool_create(pool.cluster, b"second") == -errno.EEXIST
    need = lib.rados_pool_list(pool.cluster, ffi.NULL, 0)
    assert need == len(b"objs\0second\0") + 1
    small = ffi.new("char[]", 4)
    assert lib.rados_pool_list(pool.cluster, small, 4) == need and ffi.buffer(small, 4)[:] == b"\0" * 4
    buf = ffi.new("char[]", need)
    assert lib.rados_pool_list(pool.cluster, buf, need) == need
    assert ffi.buffer(buf, need)[:] == b"objs\0second\0\0"
    assert lib.rados_pool_delete(pool.cluster, b"second") == 0
    assert lib.rados_pool_delete(pool.cluster, b"second") == -errno.ENOENT
