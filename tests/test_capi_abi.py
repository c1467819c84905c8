"""The exported C functions called directly (cffi ABI mode on the built librados.so.2):
argument checking, librbd's return-value protocols, completions, the eventfd path, clipping,
concurrency of unaligned writes, and a daemon going away under open images."""
from __future__ import annotations

import errno
import os
import random
import subprocess
import threading
import time

import cffi
import pytest

from capi_helpers import ROOT, log_text, make_pool, read_image

MiB = 1 << 20
SIZE = 8 * MiB + 1000
SHIM = os.path.join(ROOT, "shim_c")


def _declarations() -> str:
    text = "struct iovec { void *iov_base; size_t iov_len; };\ntypedef long time_t;\n"
    for name in ("api_structs.h", "librados_api.h", "librbd_api.h"):
        with open(os.path.join(SHIM, name)) as f:
            text += f.read()
    # a few generated stubs, declared with their real prototypes
    return text + """
        int rbd_group_create(rados_ioctx_t p, const char *name);
        int rados_watch_flush(rados_t cluster);
        void rbd_pool_stats_destroy(void *stats);
    """


@pytest.fixture(scope="session")
def abi(capi_libs):  # noqa: F811
    ffi = cffi.FFI()
    ffi.cdef(_declarations())
    return ffi, ffi.dlopen(os.path.join(capi_libs, "librados.so.2"))


@pytest.fixture
def log_file(tmp_path):
    return str(tmp_path / "client.log")


class Handles:
    """rados_t, rados_ioctx_t and rbd_image_t of one test, closed in reverse order."""

    def __init__(self, ffi, lib, log_file):
        self.ffi, self.lib, self.log_file = ffi, lib, log_file
        self.cluster = self.ioctx = self.image = None

    def connect(self, user: bytes | None = None, create2: bool = False) -> int:
        out = self.ffi.new("rados_t *")
        if create2:
            r = self.lib.rados_create2(out, b"ceph", user, 0)
        else:
            r = self.lib.rados_create(out, user or self.ffi.NULL)
        assert r == 0
        self.cluster = out[0]
        # the log file is per process; the conf key moves it to this test's file
        assert self.lib.rados_conf_set(self.cluster, b"log_file", self.log_file.encode()) == 0
        return self.lib.rados_connect(self.cluster)

    def open_pool(self, pool: bytes) -> int:
        out = self.ffi.new("rados_ioctx_t *")
        r = self.lib.rados_ioctx_create(self.cluster, pool, out)
        if r == 0:
            self.ioctx = out[0]
        return r

    def open_image(self, name: bytes, create_size: int | None = None) -> int:
        if create_size is not None:
            order = self.ffi.new("int *", 0)
            assert self.lib.rbd_create(self.ioctx, name, create_size, order) == 0
            assert order[0] == 22
        out = self.ffi.new("rbd_image_t *")
        r = self.lib.rbd_open(self.ioctx, name, out, self.ffi.NULL)
        if r == 0:
            self.image = out[0]
        return r

    def close(self) -> None:
        if self.image is not None:
            assert self.lib.rbd_close(self.image) == 0
        if self.ioctx is not None:
            self.lib.rados_ioctx_destroy(self.ioctx)
        if self.cluster is not None:
            self.lib.rados_shutdown(self.cluster)


@pytest.fixture
def handles(abi, daemon, log_file):
    h = Handles(*abi, log_file)
    yield h
    h.close()


@pytest.fixture
def image(handles, daemon):
    make_pool(daemon, "pool")
    assert handles.connect() == 0
    assert handles.open_pool(b"pool") == 0
    assert handles.open_image(b"img", SIZE) == 0
    return handles


def pwrite(h, off: int, data: bytes) -> int:
    return h.lib.rbd_write(h.image, off, len(data), data)


def pread(h, off: int, length: int) -> bytes:
    buf = h.ffi.new("char[]", length)
    n = h.lib.rbd_read(h.image, off, length, buf)
    assert n >= 0, n
    return h.ffi.buffer(buf, n)[:]


# --- arguments and stubs ----------------------------------------------------------

def test_null_handles_are_negative_errno(abi):
    ffi, lib = abi
    info = ffi.new("rbd_image_info_t *")
    assert lib.rados_connect(ffi.NULL) == -errno.EINVAL
    assert lib.rados_conf_set(ffi.NULL, b"k", b"v") == -errno.EINVAL
    assert lib.rados_ioctx_create(ffi.NULL, b"pool", ffi.new("rados_ioctx_t *")) == -errno.EINVAL
    assert lib.rbd_open(ffi.NULL, b"img", ffi.new("rbd_image_t *"), ffi.NULL) == -errno.EINVAL
    assert lib.rbd_stat(ffi.NULL, info, ffi.sizeof(info[0])) == -errno.EINVAL
    assert lib.rbd_get_size(ffi.NULL, ffi.new("uint64_t *")) == -errno.EINVAL
    assert lib.rbd_aio_read(ffi.NULL, 0, 0, ffi.NULL, ffi.NULL) == -errno.EINVAL
    assert lib.rbd_aio_get_return_value(ffi.NULL) == -errno.EINVAL
    assert lib.rbd_close(ffi.NULL) == -errno.EINVAL
    assert lib.rbd_create(ffi.NULL, b"x", 1, ffi.NULL) == -errno.EINVAL
    lib.rados_shutdown(ffi.NULL)          # void calls on NULL do nothing
    lib.rados_ioctx_destroy(ffi.NULL)
    lib.rbd_aio_release(ffi.NULL)


def test_generated_stubs(abi):
    ffi, lib = abi
    assert lib.rbd_group_create(ffi.NULL, b"group") == -errno.EOPNOTSUPP
    assert lib.rbd_trash_move(ffi.NULL, b"img", 0) == -errno.EINVAL   # implemented: a NULL pool is refused
    assert lib.rados_watch_flush(ffi.NULL) == -errno.EOPNOTSUPP
    lib.rbd_pool_stats_destroy(ffi.NULL)


def test_versions(abi):
    ffi, lib = abi
    v = ffi.new("int[3]")
    lib.rbd_version(v, v + 1, v + 2)
    assert list(v) == [1, 16, 0]
    lib.rados_version(v, v + 1, v + 2)
    assert list(v) == [3, 0, 0]


def test_exported_symbols_and_versions(capi_libs):  # noqa: F811
    rados = os.path.join(capi_libs, "librados.so.2")
    symbols = subprocess.run(["objdump", "-T", rados], capture_output=True, text=True, check=True).stdout
    versioned = {line.split()[-1] for line in symbols.splitlines() if "LIBRADOS_14.2.0" in line}
    assert versioned == {"LIBRADOS_14.2.0", "rados_ioctx_pool_stat", "rados_tmap_get", "rados_tmap_put",
                         "rados_tmap_update"}
    defined = {line.split()[-1] for line in symbols.splitlines() if " DF .text" in line}
    with open(os.path.join(SHIM, "exports.txt")) as f:
        wanted = {line.split()[0] for line in f if line.strip() and not line.startswith("#")}
    assert len(wanted) == 374 and wanted <= defined
    assert {s for s in defined if not s.startswith(("rbd_", "rados_"))} == {"PyInit__curverbd_capi"}
    dyn = subprocess.run(["readelf", "-d", os.path.join(capi_libs, "librbd.so.1")], capture_output=True,
                         text=True, check=True).stdout
    assert "[librados.so.2]" in dyn and "[librbd.so.1]" in dyn and "[$ORIGIN]" in dyn


# --- cluster, pools, configuration ----------------------------------------------------

def test_conf_and_connect_errors(handles, daemon, log_file, monkeypatch):
    ffi, lib = handles.ffi, handles.lib
    out = ffi.new("rados_t *")
    assert lib.rados_create(out, ffi.NULL) == 0
    handles.cluster = out[0]
    assert lib.rados_conf_set(handles.cluster, b"log_file", log_file.encode()) == 0
    assert lib.rados_conf_set(handles.cluster, b"rados_osd_op_timeout", b"30") == 0
    assert lib.rados_conf_set(handles.cluster, b"some_key_nobody_knows", b"x y") == 0
    buf = ffi.new("char[64]")
    assert lib.rados_conf_get(handles.cluster, b"rados_osd_op_timeout", buf, 64) == 0
    assert ffi.string(buf) == b"30"
    assert lib.rados_conf_get(handles.cluster, b"rados_osd_op_timeout", buf, 2) == -errno.ENAMETOOLONG
    assert lib.rados_conf_read_file(handles.cluster, ffi.NULL) == 0
    assert lib.rados_conf_read_file(handles.cluster, b"/nonexistent/ceph.conf") == -errno.ENOENT
    assert lib.rados_ioctx_create(handles.cluster, b"pool", ffi.new("rados_ioctx_t *")) == -errno.ENOTCONN
    assert lib.rados_conf_set(handles.cluster, b"curverbd_socket", daemon.socket.encode() + b".none") == 0
    monkeypatch.delenv("CURVERBD_SOCKET")   # the conf key decides now
    assert lib.rados_connect(handles.cluster) == -errno.ECONNREFUSED
    assert daemon.socket + ".none" in log_text(log_file)


def test_missing_pool_and_image(handles, daemon):
    make_pool(daemon, "pool")
    assert handles.connect() == 0
    assert handles.open_pool(b"nopool") == -errno.ENOENT
    assert handles.open_pool(b"pool") == 0
    assert handles.open_image(b"noimg") == -errno.ENOENT
    assert handles.lib.rbd_remove(handles.ioctx, b"noimg") == -errno.ENOENT


def test_create2_client_name_is_the_user(handles, daemon):
    make_pool(daemon, "adminpool")
    make_pool(daemon, "bobpool", user="bob")
    assert handles.connect(b"client.bob", create2=True) == 0
    assert handles.open_pool(b"adminpool") == -errno.EPERM
    assert handles.open_pool(b"bobpool") == 0
    assert handles.open_image(b"disk", MiB) == 0
    assert pwrite(handles, 0, b"bob's bytes") == 11
    assert handles.lib.rbd_close(handles.image) == 0
    handles.image = None   # nebd has one fd per volume: two openers must not overlap
    assert read_image("bobpool", "disk", 0, 11, user="bob") == b"bob's bytes"


def test_namespaces_and_stats(image):
    ffi, lib = image.ffi, image.lib
    lib.rados_ioctx_set_namespace(image.ioctx, b"")
    lib.rados_ioctx_set_namespace(image.ioctx, ffi.NULL)
    exists = ffi.new("bool *")
    assert lib.rbd_namespace_exists(image.ioctx, b"", exists) == 0 and exists[0]
    assert lib.rbd_namespace_exists(image.ioctx, b"ns1", exists) == 0 and not exists[0]
    cstat = ffi.new("struct rados_cluster_stat_t *")
    assert lib.rados_cluster_stat(image.cluster, cstat) == 0 and cstat.kb > 0
    pstat = ffi.new("struct rados_pool_stat_t *")
    assert ffi.sizeof(pstat[0]) == 128
    assert lib.rados_ioctx_pool_stat(image.ioctx, pstat) == 0


def test_list2_erange_protocol(image):
    ffi, lib = image.ffi, image.lib
    for name in (b"b", b"c"):
        assert lib.rbd_create(image.ioctx, name, MiB, ffi.NULL) == 0
    count = ffi.new("size_t *", 1)
    specs = ffi.new("rbd_image_spec_t[8]")
    assert lib.rbd_list2(image.ioctx, specs, count) == -errno.ERANGE and count[0] == 3
    assert lib.rbd_list2(image.ioctx, specs, count) == 0 and count[0] == 3
    assert sorted(ffi.string(specs[i].name) for i in range(3)) == [b"b", b"c", b"img"]
    assert all(ffi.string(specs[i].id) for i in range(3))
    lib.rbd_image_spec_list_cleanup(specs, 3)


# --- image info ---------------------------------------------------------------------

def test_stat_geometry_and_parent(image):
    ffi, lib = image.ffi, image.lib
    info = ffi.new("rbd_image_info_t *")
    assert ffi.sizeof(info[0]) == 160
    assert lib.rbd_stat(image.image, info, 100) == -errno.ERANGE
    assert lib.rbd_stat(image.image, info, 160) == 0
    assert (info.size, info.obj_size, info.num_objs, info.order) == (SIZE, 4 * MiB, 3, 22)
    assert ffi.string(info.block_name_prefix).startswith(b"rbd_data.")
    assert info.parent_pool == -1
    u64, u8 = ffi.new("uint64_t *"), ffi.new("uint8_t *")
    assert lib.rbd_get_features(image.image, u64) == 0 and u64[0] == 1
    assert lib.rbd_get_flags(image.image, u64) == 0 and u64[0] == 0
    assert lib.rbd_get_stripe_unit(image.image, u64) == 0 and u64[0] == 4 * MiB
    assert lib.rbd_get_stripe_count(image.image, u64) == 0 and u64[0] == 1
    assert lib.rbd_get_old_format(image.image, u8) == 0 and u8[0] == 0
    assert lib.rbd_get_parent_info(image.image, ffi.NULL, 0, ffi.NULL, 0, ffi.NULL, 0) == -errno.ENOENT
    assert lib.rbd_invalidate_cache(image.image) == 0


def test_resize_changes_the_c_side_size(image):
    lib, ffi = image.lib, image.ffi
    size = ffi.new("uint64_t *")
    assert lib.rbd_resize(image.image, 2 * SIZE) == 0
    assert lib.rbd_get_size(image.image, size) == 0 and size[0] == 2 * SIZE
    assert pwrite(image, 2 * SIZE - 3, b"end") == 3
    assert lib.rbd_resize(image.image, 5000) == 0
    assert pwrite(image, 5000, b"x") == -errno.EINVAL   # librbd's clip_io: starting at the end
    assert pwrite(image, 4999, b"xy") == 1
    assert lib.rbd_read(image.image, 5001, 1, ffi.new("char[1]")) == -errno.EINVAL


def snap_names(h) -> list[tuple[bytes, int]]:
    ffi, lib = h.ffi, h.lib
    count = ffi.new("int *", 0)
    assert lib.rbd_snap_list(h.image, ffi.NULL, count) == -errno.ERANGE
    snaps = ffi.new("rbd_snap_info_t[]", count[0])
    n = lib.rbd_snap_list(h.image, snaps, count)
    assert n == count[0] - 1 and snaps[n].name == ffi.NULL     # room for the terminating entry
    out = [(ffi.string(snaps[i].name), snaps[i].size) for i in range(n)]
    lib.rbd_snap_list_end(snaps)
    return out


def open_more(h, name: bytes, snap=None, read_only=False):
    out = h.ffi.new("rbd_image_t *")
    opener = h.lib.rbd_open_read_only if read_only else h.lib.rbd_open
    r = opener(h.ioctx, name, out, snap if snap is not None else h.ffi.NULL)
    return r, out[0]


def test_snapshots_views_rollback_and_clones(image):
    ffi, lib = image.ffi, image.lib
    assert snap_names(image) == []
    assert pwrite(image, 5000, b"before") == 6
    assert lib.rbd_snap_create(image.image, b"s1") == 0
    assert lib.rbd_snap_create(image.image, b"s1") == -errno.EEXIST
    assert pwrite(image, 5000, b"after!") == 6
    assert snap_names(image) == [(b"s1", SIZE)]
    assert open_more(image, b"img", b"nosuch")[0] == -errno.ENOENT
    r, view = open_more(image, b"img", b"s1")
    assert r == 0
    buf = ffi.new("char[6]")
    assert lib.rbd_read(view, 5000, 6, buf) == 6 and ffi.buffer(buf)[:] == b"before"
    assert lib.rbd_write(view, 0, 1, b"x") == -errno.EROFS
    assert lib.rbd_close(view) == 0

    protected = ffi.new("int *", 7)
    assert lib.rbd_snap_is_protected(image.image, b"s1", protected) == 0 and protected[0] == 0
    assert lib.rbd_clone2(image.ioctx, b"img", b"s1", image.ioctx, b"child", 1, ffi.NULL, 0, 0) == -errno.EINVAL
    assert lib.rbd_snap_protect(image.image, b"s1") == 0
    assert lib.rbd_snap_is_protected(image.image, b"s1", protected) == 0 and protected[0] == 1
    assert lib.rbd_snap_remove(image.image, b"s1") == -errno.EBUSY
    order = ffi.new("int *", 0)
    assert lib.rbd_clone2(image.ioctx, b"img", b"s1", image.ioctx, b"child", 1, order, 0, 0) == 0
    r, child = open_more(image, b"child")
    assert r == 0
    assert lib.rbd_read(child, 5000, 6, buf) == 6 and ffi.buffer(buf)[:] == b"before"
    pool, name, snap = ffi.new("char[16]"), ffi.new("char[16]"), ffi.new("char[3]")
    assert lib.rbd_get_parent_info(child, pool, 16, name, 16, snap, 3) == 0
    assert (ffi.string(pool), ffi.string(name), ffi.string(snap)) == (b"pool", b"img", b"s1")
    assert lib.rbd_get_parent_info(child, pool, 16, name, 16, snap, 2) == -errno.ERANGE
    assert lib.rbd_get_parent_info(child, ffi.NULL, 0, ffi.NULL, 0, ffi.NULL, 0) == 0   # librbd: NULL not asked for
    assert lib.rbd_get_parent_info(image.image, pool, 16, name, 16, snap, 3) == -errno.ENOENT
    assert lib.rbd_close(child) == 0
    assert lib.rbd_snap_unprotect(image.image, b"s1") == -errno.EBUSY   # it has a clone
    assert lib.rbd_remove(image.ioctx, b"child") == 0
    assert lib.rbd_snap_unprotect(image.image, b"s1") == 0

    assert lib.rbd_resize(image.image, SIZE + MiB) == 0
    assert lib.rbd_snap_rollback(image.image, b"s1") == 0
    size = ffi.new("uint64_t *")
    assert lib.rbd_get_size(image.image, size) == 0 and size[0] == SIZE   # the snapshot's size
    assert pread(image, 5000, 6) == b"before"
    assert lib.rbd_remove(image.ioctx, b"img") == -errno.ENOTEMPTY
    assert lib.rbd_snap_remove(image.image, b"s1") == 0
    assert snap_names(image) == []


def test_diff_iterate_reports_written_extents_and_stops(image):
    ffi, lib = image.ffi, image.lib
    seen = []

    @ffi.callback("int(uint64_t, size_t, int, void *)")
    def collect(offset, length, exists, arg):
        seen.append((offset, length, exists))
        return 0

    assert lib.rbd_diff_iterate2(image.image, ffi.NULL, 0, SIZE, 1, 1, collect, ffi.NULL) == 0
    assert seen == []                                   # nothing written yet
    assert pwrite(image, 5 * MiB + 10, b"x" * 100) == 100
    assert lib.rbd_snap_create(image.image, b"s1") == 0
    assert pwrite(image, 1000, b"y") == 1
    assert lib.rbd_diff_iterate2(image.image, ffi.NULL, 0, SIZE, 1, 1, collect, ffi.NULL) == 0
    covered = lambda pos: any(o <= pos < o + n and e for o, n, e in seen)   # noqa: E731
    assert covered(5 * MiB + 10) and covered(1000) and not covered(8 * MiB + 500)   # whole objects
    seen.clear()
    assert lib.rbd_diff_iterate2(image.image, b"s1", 0, SIZE, 1, 0, collect, ffi.NULL) == 0
    assert covered(1000) and not covered(5 * MiB + 10)  # only what changed since s1
    assert lib.rbd_diff_iterate2(image.image, ffi.NULL, SIZE + 1, 10, 1, 1, collect, ffi.NULL) == -errno.EINVAL

    @ffi.callback("int(uint64_t, size_t, int, void *)")
    def stop(offset, length, exists, arg):
        return -9000

    assert lib.rbd_diff_iterate2(image.image, ffi.NULL, 0, SIZE, 1, 1, stop, ffi.NULL) == -9000
    assert lib.rbd_snap_remove(image.image, b"s1") == 0


# --- I/O ------------------------------------------------------------------------------

def test_clip_like_librbd(image):
    ffi, lib = image.ffi, image.lib
    buf = ffi.new("char[8192]")
    assert lib.rbd_read(image.image, SIZE + 1, 10, buf) == -errno.EINVAL
    assert lib.rbd_write(image.image, SIZE + 1, 10, buf) == -errno.EINVAL
    assert lib.rbd_read(image.image, SIZE - 100, 8192, buf) == 100
    assert lib.rbd_write(image.image, SIZE - 100, 8192, b"z" * 8192) == 100
    assert lib.rbd_read(image.image, SIZE, 10, buf) == -errno.EINVAL     # starting at the end
    assert lib.rbd_read(image.image, SIZE + 1, 0, buf) == 0              # empty: always valid
    assert pread(image, SIZE - 100, 100) == b"z" * 100
    assert lib.rbd_discard(image.image, SIZE + 1, 10) == -errno.EINVAL


def test_unaligned_sync_io_discard_and_zeroes(image):
    lib = image.lib
    assert pwrite(image, 0, b"\xee" * 20000) == 20000
    assert pwrite(image, 4090, b"abcdefghijkl") == 12
    assert lib.rbd_discard(image.image, 100, 5000) == 5000               # librbd: the length done
    assert lib.rbd_write_zeroes(image.image, 12000, 5000, 0, 0) == 5000
    expect = bytearray(b"\xee" * 20000)
    expect[4090:4102] = b"abcdefghijkl"
    expect[100:5100] = bytes(5000)
    expect[12000:17000] = bytes(5000)
    assert pread(image, 0, 20000) == bytes(expect)
    assert lib.rbd_flush(image.image) == 0


def test_big_writes_from_any_buffer_layout(image):
    """Big writes leave through a pipe (vmsplice) rather than a copy: buffers at odd addresses,
    many small iovecs and several writes in flight must still land byte for byte."""
    ffi, lib = image.ffi, image.lib
    rng = random.Random(7)
    model = bytearray(SIZE)
    arena = ffi.new("char[]", 4 * MiB + 8192)
    for off, length, shift in [(0, 64 << 10, 1), (MiB, 3 * MiB + 4096, 4095), (5 * MiB, MiB, 511),
                               (4096, 2 * MiB, 0), (SIZE - 100 - MiB, MiB + 100, 3)]:
        data = rng.randbytes(length)
        ffi.memmove(arena + shift, data, length)
        assert lib.rbd_write(image.image, off, length, arena + shift) == length
        model[off:off + length] = data
    # one write from 300 iovecs of odd lengths, each at an odd address
    parts = [rng.randbytes(rng.randrange(1, 9000)) for _ in range(300)]
    bufs = [ffi.new("char[]", len(p) + 1) for p in parts]
    iov = ffi.new("struct iovec[]", len(parts))
    for i, (p, b) in enumerate(zip(parts, bufs)):
        ffi.memmove(b + 1, p, len(p))
        iov[i].iov_base, iov[i].iov_len = b + 1, len(p)
    data = b"".join(parts)
    comp = ffi.new("rbd_completion_t *")
    assert lib.rbd_aio_create_completion(ffi.NULL, ffi.NULL, comp) == 0
    assert lib.rbd_aio_writev(image.image, iov, len(parts), 2 * MiB, comp[0]) == 0
    assert lib.rbd_aio_wait_for_complete(comp[0]) == 0
    assert lib.rbd_aio_get_return_value(comp[0]) == 0                    # librbd: writes complete with 0
    lib.rbd_aio_release(comp[0])
    model[2 * MiB:2 * MiB + len(data)] = data
    # eight 1 MiB writes in flight at once
    comps, keep = [], []
    for i in range(8):
        data = rng.randbytes(MiB)
        buf = ffi.new("char[]", data)
        c = ffi.new("rbd_completion_t *")
        assert lib.rbd_aio_create_completion(ffi.NULL, ffi.NULL, c) == 0
        assert lib.rbd_aio_write(image.image, i * MiB, MiB, buf, c[0]) == 0
        comps.append(c[0])
        keep.append(buf)
        model[i * MiB:(i + 1) * MiB] = data
    for c in comps:
        assert lib.rbd_aio_wait_for_complete(c) == 0
        assert lib.rbd_aio_get_return_value(c) == 0
        lib.rbd_aio_release(c)
    assert pread(image, 0, SIZE) == bytes(model)


def test_release_inside_the_callback(image):
    """QEMU calls rbd_aio_get_return_value and rbd_aio_release inside its callback."""
    ffi, lib = image.ffi, image.lib
    results, done = {}, threading.Event()
    total = 64

    @ffi.callback("void(rbd_completion_t, void *)")
    def callback(c, arg):
        results[int(ffi.cast("intptr_t", arg))] = lib.rbd_aio_get_return_value(c)
        lib.rbd_aio_release(c)
        if len(results) == total:
            done.set()

    data = [bytes([i + 1]) * (1000 + 37 * i) for i in range(total)]
    for i in range(total):
        c = ffi.new("rbd_completion_t *")
        assert lib.rbd_aio_create_completion(ffi.cast("void *", i), callback, c) == 0
        assert lib.rbd_aio_write(image.image, i * 70000 + 512, len(data[i]), data[i], c[0]) == 0
    assert done.wait(60)
    assert results == {i: 0 for i in range(total)}   # librbd: an aio write completes with 0
    for i in range(total):
        assert pread(image, i * 70000 + 512, len(data[i])) == data[i]


def test_eventfd_poll_sees_completions_after_their_callback(image):
    """fio's path: callback first, then the completion is queued and the eventfd counts it."""
    ffi, lib = image.ffi, image.lib
    efd = os.eventfd(0, os.EFD_SEMAPHORE)
    try:
        assert lib.rbd_set_image_notification(image.image, efd, 2) == 0
        called = set()

        @ffi.callback("void(rbd_completion_t, void *)")
        def callback(c, arg):
            called.add(int(ffi.cast("intptr_t", arg)))

        total, bufs = 32, []
        for i in range(total):
            c = ffi.new("rbd_completion_t *")
            assert lib.rbd_aio_create_completion(ffi.cast("void *", i), callback, c) == 0
            bufs.append(ffi.new("char[]", 6000))
            op = lib.rbd_aio_read if i % 2 else lib.rbd_aio_write
            assert op(image.image, i * 6000, 6000, bufs[-1], c[0]) == 0
        comps = ffi.new("rbd_completion_t[64]")
        reaped, counts = [], 0
        while len(reaped) < total:
            os.eventfd_read(efd)                       # one count per completion
            counts += 1
            n = lib.rbd_poll_io_events(image.image, comps, 64)
            for j in range(n):
                arg = int(ffi.cast("intptr_t", lib.rbd_aio_get_arg(comps[j])))
                assert arg in called                   # the callback already ran
                assert lib.rbd_aio_get_return_value(comps[j]) == (6000 if arg % 2 else 0)   # reads: bytes
                assert lib.rbd_aio_is_complete(comps[j]) == 1
                reaped.append(arg)
                lib.rbd_aio_release(comps[j])
        assert sorted(reaped) == list(range(total))
        assert lib.rbd_poll_io_events(image.image, comps, 64) == 0
        os.set_blocking(efd, False)
        while True:                                    # fio reads its semaphore once per event reaped:
            try:                                       # the fd must count exactly one per completion,
                os.eventfd_read(efd)                   # however the writes were batched
            except BlockingIOError:
                break
            counts += 1
        assert counts == total
    finally:
        os.close(efd)


def test_concurrent_overlapping_unaligned_writes_land_in_order(image):
    """Many read-modify-writes in flight at once over a small area, against a model."""
    ffi, lib = image.ffi, image.lib
    rng = random.Random(99)
    area = 64 * 1024
    model = bytearray(pread(image, 0, area))
    comps, keep = [], []
    for i in range(200):
        off = rng.randrange(0, area - 1)
        length = rng.randrange(1, min(9000, area - off) + 1)
        c = ffi.new("rbd_completion_t *")
        assert lib.rbd_aio_create_completion(ffi.NULL, ffi.NULL, c) == 0
        kind = rng.randrange(4)
        if kind == 3:
            assert lib.rbd_aio_discard(image.image, off, length, c[0]) == 0
            model[off:off + length] = bytes(length)
        elif kind == 2:
            assert lib.rbd_aio_write_zeroes(image.image, off, length, c[0], 0, 0) == 0
            model[off:off + length] = bytes(length)
        else:
            data = bytes([i % 255 + 1]) * length
            keep.append(data)
            assert lib.rbd_aio_write(image.image, off, length, data, c[0]) == 0
            model[off:off + length] = data
        comps.append(c[0])
    flush = ffi.new("rbd_completion_t *")
    assert lib.rbd_aio_create_completion(ffi.NULL, ffi.NULL, flush) == 0
    assert lib.rbd_aio_flush(image.image, flush[0]) == 0
    assert lib.rbd_aio_wait_for_complete(flush[0]) == 0
    for c in comps:   # flush completes after every write submitted before it
        assert lib.rbd_aio_is_complete(c) == 1
        assert lib.rbd_aio_get_return_value(c) >= 0
        lib.rbd_aio_release(c)
    lib.rbd_aio_release(flush[0])
    assert pread(image, 0, area) == bytes(model)


def test_daemon_restart_holds_io_then_completes_it(image, daemon, log_file):
    """A daemon restart (hot upgrade) never fails I/O: it waits, and completes on the new daemon."""
    ffi, lib = image.ffi, image.lib
    daemon.stop()
    c = ffi.new("rbd_completion_t *")
    assert lib.rbd_aio_create_completion(ffi.NULL, ffi.NULL, c) == 0
    assert lib.rbd_aio_write(image.image, 0, 4, b"data", c[0]) == 0
    time.sleep(0.3)
    assert lib.rbd_aio_is_complete(c[0]) == 0
    daemon.start()
    lib.rbd_aio_wait_for_complete(c[0])
    assert lib.rbd_aio_get_return_value(c[0]) >= 0
    lib.rbd_aio_release(c[0])
    assert pread(image, 0, 4) == b"data"
    assert "nebd connection to " + daemon.socket + " lost (the daemon closed the connection); reconnected" \
        in log_text(log_file)


def test_vectored_io_across_chunks(image):
    """Hundreds of odd-sized iovecs, more than one 4 MiB request, unaligned start."""
    ffi, lib = image.ffi, image.lib
    rng = random.Random(5)
    sizes = [rng.randrange(1, 40000) for _ in range(300)]
    data = os.urandom(sum(sizes))
    off = 4096 * 3 + 777
    assert off + len(data) < SIZE
    bufs = [ffi.from_buffer(data[sum(sizes[:i]):sum(sizes[:i + 1])]) for i in range(len(sizes))]
    iov = ffi.new("struct iovec[]", len(sizes))
    for i, b in enumerate(bufs):
        iov[i].iov_base, iov[i].iov_len = ffi.cast("void *", b), sizes[i]
    c = ffi.new("rbd_completion_t *")
    assert lib.rbd_aio_create_completion(ffi.NULL, ffi.NULL, c) == 0
    assert lib.rbd_aio_writev(image.image, iov, len(sizes), off, c[0]) == 0
    lib.rbd_aio_wait_for_complete(c[0])
    assert lib.rbd_aio_get_return_value(c[0]) == 0
    lib.rbd_aio_release(c[0])
    out = [ffi.new("char[]", n) for n in reversed(sizes)]          # a different split for the read
    riov = ffi.new("struct iovec[]", len(out))
    for i, b in enumerate(out):
        riov[i].iov_base, riov[i].iov_len = b, len(b)
    assert lib.rbd_aio_create_completion(ffi.NULL, ffi.NULL, c) == 0
    assert lib.rbd_aio_readv(image.image, riov, len(out), off, c[0]) == 0
    lib.rbd_aio_wait_for_complete(c[0])
    assert lib.rbd_aio_get_return_value(c[0]) == len(data)
    lib.rbd_aio_release(c[0])
    assert b"".join(ffi.buffer(b)[:] for b in out) == data
