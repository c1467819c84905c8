"""librbd's exclusive lock between two clients (two Clusters: two etcd leases): it goes to whoever writes,
lock_acquire keeps it (the other's writes get EROFS), lock_release hands it back, break_lock blocklists
the holder, and an image without the exclusive-lock feature reports no owner but still has one writer
at a time."""
from __future__ import annotations

import errno

import pytest

from curverbd.core import Cluster
from curverbd.errors import Error

EXCLUSIVE = 1 | 4     # layering + exclusive-lock


def errno_of(call, *args) -> int:
    with pytest.raises(Error) as exc:
        call(*args)
    return exc.value.errno


@pytest.fixture
def two(daemon):
    a, b = Cluster(), Cluster()
    a.connect()
    b.connect()
    a.create_pool("lk")
    yield a.open_ioctx("lk"), b.open_ioctx("lk")
    a.shutdown()
    b.shutdown()


def test_the_lock_follows_the_writer_and_lock_acquire_keeps_it(two):
    io_a, io_b = two
    io_a.create_image("img", 1 << 20, features=EXCLUSIVE)
    with io_a.open_image("img") as a, io_b.open_image("img") as b:
        assert b.is_lock_owner() and a.lock_owners() == [b.writer.me]   # taken at open, by the last opener
        a.write(0, b"a" * 100)
        assert a.is_lock_owner() and a.lock_owners() == [a.writer.me] == b.lock_owners()
        b.write(100, b"b" * 100)                           # it moves to the writer
        assert b.is_lock_owner() and not a.is_lock_owner() and a.lock_owners() == [b.writer.me]
        a.lock_acquire()                                   # taken and kept
        assert a.is_lock_owner()
        assert errno_of(b.write, 200, b"c") == errno.EROFS
        assert errno_of(b.lock_release) == errno.EINVAL   # b does not hold it
        a.lock_release()
        b.write(200, b"c")
        assert b.read(0, 201) == b"a" * 100 + b"b" * 100 + b"c"


def test_break_lock_blocklists_the_holder(two):
    io_a, io_b = two
    io_a.create_image("img", 1 << 20, features=EXCLUSIVE)
    with io_a.open_image("img") as a, io_b.open_image("img") as b:
        a.write(0, b"x")
        owner = a.lock_owners()[0]
        assert errno_of(b.break_lock, "nobody") == errno.ENOENT
        b.break_lock(owner)
        b.write(0, b"y")                                   # b takes it
        assert errno_of(a.write, 1, b"z") == errno.ESHUTDOWN   # a is blocklisted (reopen to write)
    with io_a.open_image("img") as again:
        again.write(1, b"z")
        assert again.read(0, 2) == b"yz"


def test_without_the_feature_no_owner_is_reported_but_writers_take_turns(two):
    io_a, io_b = two
    io_a.create_image("img", 1 << 20, features=1)
    with io_a.open_image("img") as a, io_b.open_image("img") as b:
        a.write(0, b"a")
        b.write(1, b"b")
        assert a.lock_owners() == [] and not b.is_lock_owner()
        assert errno_of(a.lock_acquire) == errno.EINVAL
        assert a.read(0, 2) == b"ab"
    with io_a.open_image("img", read_only=True) as ro:
        assert errno_of(ro.write, 0, b"x") == errno.EROFS
