"""The core API against a real curverbd-server: sizes, bounds, padding, aio, errors."""
from __future__ import annotations

import errno
import os
import signal
import threading
import time

import pytest

from core_helpers import cluster, core_daemon, ioctx, new_image, pattern, pool, unique  # noqa: F401
from curverbd.core import Cluster, Completion
from curverbd.errors import Error

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30


def errno_of(call, *args) -> int:
    with pytest.raises(Error) as info:
        call(*args)
    return info.value.errno


# --- sizes -------------------------------------------------------------------
@pytest.mark.parametrize("size", [MiB, 3 * GiB // 2, MiB + 1, 0])
def test_size_is_exactly_what_was_asked(new_image, ioctx, size):
    img = new_image(size)
    assert img.size() == size
    assert img.stat()["size"] == size
    record = ioctx.stat_image(img.name)
    assert record["size"] == size
    assert record["backend_size"] >= 10 * GiB


def test_create_lists_and_removes(ioctx):
    name = unique("img")
    ioctx.create_image(name, MiB)
    assert name in ioctx.list_images()
    ioctx.rename_image(name, name + "b")
    assert sorted(ioctx.list_images()) == [name + "b"]
    ioctx.remove_image(name + "b")
    assert ioctx.list_images() == []


# --- bounds (librbd clip_io) -------------------------------------------------------
def test_clip_rules(new_image):
    size = MiB + 100
    img = new_image(size)
    assert errno_of(img.read, size, 10) == errno.EINVAL    # starting at the end: librbd's clip_io says no
    assert img.read(size + 5, 0) == b""                    # a zero-length request is always valid
    assert errno_of(img.read, size + 1, 1) == errno.EINVAL
    assert errno_of(img.write, size + 1, b"x") == errno.EINVAL
    assert errno_of(img.discard, size + 1, 1) == errno.EINVAL
    assert img.write(size - 10, b"y" * 50) == 10          # clipped at the end
    assert img.read(size - 20, 100) == b"\0" * 10 + b"y" * 10
    assert img.write(5, b"") == 0
    assert img.read(5, 0) == b""
    assert img.discard(size - 4, 4096) == 4
    assert img.write_zeroes(size - 3, 1 << 20) == 3
    assert img.read(size - 10, 10) == b"y" * 6 + b"\0" * 4
    buf = bytearray(64)
    assert img.readinto(size - 16, buf) == 16


def test_aio_bounds_error_reaches_the_completion(new_image):
    img = new_image(MiB)
    seen = []
    c = img.aio_read(MiB + 4096, 10, callback=lambda comp: seen.append(comp.get_return_value()))
    assert c.wait() == -errno.EINVAL
    assert seen == [-errno.EINVAL]
    assert c.error.errno == errno.EINVAL
    assert img.aio_write(MiB + 1, b"x").wait() == -errno.EINVAL


# --- padding: unaligned I/O is exact ---------------------------------------------------
@pytest.mark.parametrize("offset,length", [(0, 1), (1, 4095), (100, 5000), (4095, 2), (4096, 4096),
                                           (3000, 3 * 4096), (8191, 9000), (512, 512)])
def test_unaligned_write_read_roundtrip(new_image, offset, length):
    img = new_image(64 * KiB)
    base = pattern(64 * KiB, 1)
    assert img.write(0, base) == len(base)
    data = pattern(length, offset + length)
    assert img.write(offset, data) == length
    expect = bytearray(base)
    expect[offset:offset + length] = data
    assert img.read(0, 64 * KiB) == bytes(expect)
    assert img.read(offset, length) == data
    for op in (img.discard, img.write_zeroes):
        img.write(0, base)
        assert op(offset, length) == length
        zeroed = bytearray(base)
        zeroed[offset:offset + length] = bytes(length)
        assert img.read(0, 64 * KiB) == bytes(zeroed)


def test_requests_larger_than_a_request_are_split(new_image):
    """The engine cuts requests at 4 MiB and stripes them over its connections by 1 MiB (io.c)."""
    img = new_image(16 * MiB)
    data = pattern(9 * MiB + 100_000, 7)
    assert img.write(1234, data) == len(data)
    assert img.read(1234, len(data)) == data
    assert img.read(0, 1234) == bytes(1234)
    view = memoryview(bytearray(5 * MiB + 1))
    assert img.readinto(4097, view) == len(view)
    assert bytes(view) == data[4097 - 1234:4097 - 1234 + len(view)]


def test_readinto_accepts_any_writable_buffer(new_image):
    import array
    img = new_image(MiB)
    img.write(0, pattern(8192, 3))
    buf = array.array("I", bytes(16))
    assert img.readinto(10, buf) == 16
    assert buf.tobytes() == pattern(8192, 3)[10:26]
    assert errno_of(img.readinto, 0, b"read-only") == errno.EINVAL


# --- resize --------------------------------------------------------------------------
def test_shrink_then_grow_reads_zeros(new_image):
    img = new_image(MiB)
    data = pattern(MiB, 9)
    img.write(0, data)
    img.resize(300_001)                      # unaligned shrink: the partial block keeps its head
    assert img.size() == 300_001
    assert img.read(0, MiB) == data[:300_001]
    img.resize(2 * MiB)
    assert img.size() == 2 * MiB
    got = img.read(0, 2 * MiB)
    assert got[:300_001] == data[:300_001]
    assert got[300_001:] == bytes(2 * MiB - 300_001)


def test_grow_past_the_backend_volume(new_image):
    img = new_image(MiB)
    img.resize(11 * GiB)
    assert img.size() == 11 * GiB
    assert img.stat()["backend_size"] >= 11 * GiB
    assert img.write(11 * GiB - 3, b"end") == 3
    assert img.read(11 * GiB - 5, 10) == b"\0\0end"


# --- aio --------------------------------------------------------------------------------
def test_aio_callbacks_run_before_completion(new_image):
    img = new_image(MiB)
    states = []

    def cb(comp: Completion):
        states.append((comp.get_return_value(), comp.is_complete(), threading.current_thread().name))
    c = img.aio_write(100, b"abc", cb)
    assert c.wait() == 0 and c.is_complete()          # librbd: an aio write completes with 0
    r = img.aio_read(99, 5, cb)
    assert r.wait() == 5 and r.data == b"\0abc\0"
    f = img.aio_flush(cb)
    assert f.wait() == 0
    assert [s[:2] for s in states] == [(0, False), (5, False), (0, False)]
    assert all(s[2] != threading.main_thread().name for s in states)   # the engine's receiver threads


def test_many_aio_in_flight(new_image):
    img = new_image(4 * MiB)
    comps = [img.aio_write(i * 4096 + (i % 7), pattern(4000, i)) for i in range(256)]
    assert [c.wait() for c in comps] == [0] * 256
    flush = img.aio_flush()
    assert flush.wait() == 0
    reads = [img.aio_read(i * 4096 + (i % 7), 4000) for i in range(256)]
    for i, r in enumerate(reads):
        assert r.wait() == 4000
        assert r.data == pattern(4000, i)


def test_queued_requests_survive_a_stalled_daemon(new_image, core_daemon):
    """Past 8 requests out on a connection, small ones wait in its send queue for the receiver
    (or, when no reply comes, for the worker's deadline). With the daemon stopped, 64 aligned
    writes then 64 reads pile up there; after it resumes, every one completes with its bytes."""
    img = new_image(MiB)
    os.kill(core_daemon.proc.pid, signal.SIGSTOP)
    try:
        writes = [img.aio_write(i * 4096, pattern(4096, i)) for i in range(64)]
        time.sleep(0.05)   # well past the worker's 1 ms deadline
    finally:
        os.kill(core_daemon.proc.pid, signal.SIGCONT)
    assert [c.wait() for c in writes] == [0] * 64
    os.kill(core_daemon.proc.pid, signal.SIGSTOP)
    try:
        reads = [img.aio_read(i * 4096, 4096) for i in range(64)]
        time.sleep(0.05)
    finally:
        os.kill(core_daemon.proc.pid, signal.SIGCONT)
    assert [r.wait() for r in reads] == [4096] * 64
    assert [r.data for r in reads] == [pattern(4096, i) for i in range(64)]


@pytest.mark.parametrize("poll_us", ["0", "40", "100000"])
def test_busy_poll_setting_keeps_every_byte(core_daemon, pool, poll_us):
    """Queue-depth-1 round trips with the receiver sleeping at once (0), polling briefly (the
    default) and polling far longer than any reply takes: each read returns the write before it."""
    c = Cluster()
    c.conf_set("curverbd_busy_poll_us", poll_us)
    c.connect()
    try:
        io = c.open_ioctx(pool)
        io.create_image("polled", MiB)
        img = io.open_image("polled")
        for i in range(64):
            assert img.aio_write(i * 4096, pattern(4096, i)).wait() == 0
            read = img.aio_read(i * 4096, 4096)
            assert read.wait() == 4096 and read.data == pattern(4096, i)
        img.close()
    finally:
        c.shutdown()


def test_bad_busy_poll_setting_names_the_key(core_daemon, pool):
    c = Cluster()
    c.conf_set("curverbd_busy_poll_us", "fast")
    c.connect()
    try:
        io = c.open_ioctx(pool)
        io.create_image("polled", MiB)
        with pytest.raises(Error) as info:
            io.open_image("polled")
        assert info.value.errno == errno.EINVAL
        assert "curverbd_busy_poll_us = 'fast'" in str(info.value)
    finally:
        c.shutdown()


def test_overlapping_aio_writes_land_in_submission_order(new_image):
    img = new_image(MiB)
    comps = [img.aio_write(1000 + i, bytes([i + 1]) * 5000) for i in range(50)]
    assert all(c.wait() == 0 for c in comps)
    expect = bytearray(8192)
    for i in range(50):
        expect[1000 + i:6000 + i] = bytes([i + 1]) * 5000
    assert img.read(0, 8192) == bytes(expect)


def test_flush_waits_for_earlier_writes(new_image):
    img = new_image(MiB)
    writes = [img.aio_write(i * 512 + 1, b"z" * 700) for i in range(64)]
    done_writes = []
    flush = img.aio_flush(lambda c: done_writes.append(sum(w.is_complete() for w in writes)))
    assert flush.wait() == 0
    assert done_writes == [64]


# --- metadata ------------------------------------------------------------------------------
def test_metadata(new_image):
    img = new_image(MiB)
    img.metadata_set("conf_rbd_cache", "false")
    img.metadata_set("k", "v")
    assert img.metadata_get("k") == "v"
    assert img.metadata_list() == {"conf_rbd_cache": "false", "k": "v"}
    img.metadata_remove("k")
    assert errno_of(img.metadata_get, "k") == errno.ENOENT
    assert img.metadata_list() == {"conf_rbd_cache": "false"}


# --- errors ---------------------------------------------------------------------------------
def test_pool_and_image_errors(cluster, ioctx, pool):
    assert errno_of(cluster.open_ioctx, "no-such-pool") == errno.ENOENT
    assert errno_of(cluster.create_pool, pool) == errno.EEXIST
    assert cluster.pool_exists(pool) and not cluster.pool_exists("no-such-pool")
    assert pool in cluster.list_pools()
    assert errno_of(ioctx.open_image, "missing") == errno.ENOENT
    assert errno_of(ioctx.remove_image, "missing") == errno.ENOENT
    ioctx.create_image("dup", MiB)
    assert errno_of(ioctx.create_image, "dup", MiB) == errno.EEXIST
    assert errno_of(ioctx.create_image, "a/b", MiB) == errno.EINVAL


def test_another_user_cannot_reach_the_pool(cluster, ioctx, pool, core_daemon):
    ioctx.create_image("mine", MiB)
    other = Cluster(user="client.other")
    other.connect()
    try:
        assert other.user == "other"
        assert errno_of(other.open_ioctx, pool) == errno.EPERM
    finally:
        other.shutdown()


def test_read_only_image_refuses_changes(new_image, ioctx):
    img = new_image(MiB)
    img.write(0, b"data")
    ro = ioctx.open_image(img.name, read_only=True)
    try:
        assert ro.read(0, 4) == b"data"
        for call, args in ((ro.write, (0, b"x")), (ro.discard, (0, 1)), (ro.write_zeroes, (0, 1)),
                           (ro.resize, (2 * MiB,)), (ro.metadata_set, ("k", "v"))):
            assert errno_of(call, *args) == errno.EROFS
        ro.flush()
    finally:
        ro.close()
    assert img.read(0, 4) == b"data"   # the shared nebd fd outlived the read-only image


def test_closed_image_refuses_io(new_image):
    img = new_image(MiB)
    img.close()
    assert errno_of(img.read, 0, 1) == errno.EBADF
    img.close()


def test_connect_without_server(tmp_path):
    c = Cluster()
    c.conf_set("curverbd_socket", str(tmp_path / "none.sock"))
    assert errno_of(c.connect) == errno.ECONNREFUSED
    assert errno_of(c.list_pools) == errno.ENOTCONN


def test_large_io_crosses_frame_and_socket_limits(new_image):
    size = 40 * MiB + 12345
    img = new_image(size)
    data = pattern(size - 777, 11)
    assert img.write(777, data) == len(data)              # split into requests; > socket buffer
    got = bytearray(size)
    assert img.readinto(0, got) == size                   # replies larger than the receive buffer
    assert got[:777] == bytes(777) and got[777:] == data


def test_sync_io_from_a_callback_is_refused(new_image):
    """Callbacks run on the engine's threads, even when the reply beats the submitter's last step
    (that once ran the callback inside aio_write); a synchronous call there would wait for its own
    thread: EDEADLK, not a hang."""
    img = new_image(MiB)
    seen = []

    def cb(comp):
        try:
            img.read(0, 10)
        except Error as exc:
            seen.append(exc.errno)
    for _ in range(50):
        img.aio_write(0, b"x", cb).wait()
    assert seen == [errno.EDEADLK] * 50


def test_shutdown_closes_open_images(cluster, ioctx, core_daemon):
    ioctx.create_image("held", MiB)
    img = ioctx.open_image("held")
    img.write(0, b"abc")
    cluster.shutdown()
    c2 = Cluster()
    c2.connect()
    try:
        c2.open_ioctx(ioctx.pool).remove_image("held")   # EBUSY if the file were still open
    finally:
        c2.shutdown()


def test_an_image_nobody_references_is_closed(ioctx, cluster):
    """Like librbd's binding: an image dropped without close() is closed by the garbage collector (its
    writes flushed, its nebd file closed), so the image can be removed afterwards."""
    import gc
    import weakref
    name = unique("gc")
    ioctx.create_image(name, MiB)
    img = ioctx.open_image(name)
    img.write(0, b"kept")
    gone = weakref.ref(img)
    del img
    gc.collect()
    assert gone() is None
    assert cluster._files == {}
    with ioctx.open_image(name) as again:
        assert again.read(0, 4) == b"kept"
    ioctx.remove_image(name)
