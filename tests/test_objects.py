"""Small rados objects in the RBD state home (etcd): the core's IoCtx object calls against a real daemon."""
from __future__ import annotations

import errno
import json
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli_helpers import run
from core_helpers import cluster, core_daemon, ioctx, pattern, pool, unique  # noqa: F401

from curverbd.core import Cluster
from curverbd.errors import Error

MiB = 1 << 20
MAX_OBJECT = 1 * MiB     # one etcd value, under etcd's 1.5 MiB request limit


def expect_errno(code: int, fn, *args, **kwargs) -> Error:
    with pytest.raises(Error) as info:
        fn(*args, **kwargs)
    assert info.value.errno == code, info.value
    return info.value


def connect(daemon, user: str) -> Cluster:
    c = Cluster(user=user)
    c.conf_set("curverbd_socket", daemon.socket)
    c.connect()
    return c


def test_write_read_stat_remove(ioctx):
    ioctx.write_object("o", b"hello")
    assert ioctx.read_object("o") == b"hello"
    ioctx.write_object("o", b"XY", offset=1)
    assert ioctx.read_object("o") == b"hXYlo"
    ioctx.write_object("o", b"!", offset=8)                 # a gap reads as zeros
    assert ioctx.read_object("o") == b"hXYlo\0\0\0!"
    assert ioctx.read_object("o", length=3, offset=2) == b"Ylo"
    assert ioctx.read_object("o", length=10, offset=100) == b""
    assert ioctx.read_object("o", length=0) == b""
    stat = ioctx.stat_object("o")
    assert stat["size"] == 9 and isinstance(stat["mtime"], float) and stat["mtime"] > 0
    ioctx.write_full_object("o", b"ab")
    assert ioctx.read_object("o") == b"ab"
    ioctx.append_object("o", b"cd")
    assert ioctx.read_object("o") == b"abcd"
    ioctx.truncate_object("o", 6)
    assert ioctx.read_object("o") == b"abcd\0\0"
    ioctx.truncate_object("o", 1)
    assert ioctx.read_object("o") == b"a"
    ioctx.write_full_object("empty", b"")
    assert ioctx.stat_object("empty")["size"] == 0 and ioctx.read_object("empty") == b""
    ioctx.remove_object("o")
    ioctx.remove_object("empty")
    assert ioctx.list_objects() == []


def test_missing_object_names_pool_namespace_key(ioctx):
    for call in (lambda: ioctx.read_object("gone", namespace="ns"), lambda: ioctx.stat_object("gone", "ns"),
                 lambda: ioctx.remove_object("gone", "ns"), lambda: ioctx.truncate_object("gone", 3, "ns")):
        exc = expect_errno(errno.ENOENT, call)
        assert f"{ioctx.pool}/ns/gone" in str(exc)
    exc = expect_errno(errno.ENOENT, ioctx.read_object, "gone")
    assert f"{ioctx.pool}/gone" in str(exc)
    assert ioctx.list_objects(None) == []                   # truncate did not create it


def test_size_limit_efbig(ioctx):
    ioctx.write_object("big", b"x", offset=MAX_OBJECT - 1)   # exactly at the limit
    assert ioctx.stat_object("big")["size"] == MAX_OBJECT
    assert ioctx.read_object("big", length=2, offset=MAX_OBJECT - 2) == b"\0x"
    exc = expect_errno(errno.EFBIG, ioctx.write_object, "big", b"y", offset=MAX_OBJECT)
    assert f"{ioctx.pool}/big" in str(exc)
    expect_errno(errno.EFBIG, ioctx.append_object, "big", b"z")
    expect_errno(errno.EFBIG, ioctx.write_object, "new", b"ab", offset=MAX_OBJECT - 1)
    expect_errno(errno.ENOENT, ioctx.stat_object, "new")      # a refused write creates nothing
    assert ioctx.stat_object("big")["size"] == MAX_OBJECT   # and changes nothing


def test_bad_names_and_offsets(ioctx):
    expect_errno(errno.EINVAL, ioctx.write_object, "", b"x")
    expect_errno(errno.EINVAL, ioctx.write_object, "a\0b", b"x")
    expect_errno(errno.EINVAL, ioctx.write_object, "k", b"x", offset=-1)
    expect_errno(errno.EINVAL, ioctx.read_object, "k", length=-1)
    expect_errno(errno.EINVAL, ioctx.truncate_object, "k", -1)
    expect_errno(errno.ENAMETOOLONG, ioctx.write_object, "k" * 2049, b"x")
    expect_errno(errno.ENAMETOOLONG, ioctx.write_object, "k", b"x", namespace="n" * 257)
    ioctx.write_object("k" * 2048, b"x", namespace="n" * 256)
    ioctx.write_object("a/b c\u00e9", b"keys are any text")
    assert ioctx.read_object("a/b c\u00e9") == b"keys are any text"


def test_namespaces_are_separate_and_listed(ioctx):
    ioctx.write_full_object("obj", b"default")
    ioctx.write_full_object("obj", b"in ns1", namespace="ns1")
    ioctx.write_full_object("other", b"o", namespace="ns1")
    ioctx.write_full_object("b", b"b")
    assert ioctx.read_object("obj") == b"default"
    assert ioctx.read_object("obj", namespace="ns1") == b"in ns1"
    expect_errno(errno.ENOENT, ioctx.read_object, "b", namespace="ns1")
    assert ioctx.list_objects() == [("", "b"), ("", "obj")]
    assert ioctx.list_objects("ns1") == [("ns1", "obj"), ("ns1", "other")]
    assert ioctx.list_objects("ns2") == []
    assert ioctx.list_objects(None) == [("", "b"), ("", "obj"), ("ns1", "obj"), ("ns1", "other")]
    ioctx.remove_object("obj", namespace="ns1")
    assert ioctx.read_object("obj") == b"default"
    assert ioctx.list_objects(None) == [("", "b"), ("", "obj"), ("ns1", "other")]


def test_objects_are_no_images_and_counted(cluster, ioctx):
    before = cluster.stat()["objects"]
    ioctx.write_full_object("a", b"12345")
    ioctx.write_full_object("b", b"123", namespace="x")
    assert ioctx.list_images() == []
    stat = ioctx.stat()
    assert (stat["images"], stat["objects"], stat["object_bytes"], stat["bytes_used"]) == (0, 2, 8, 8)
    assert cluster.stat()["objects"] == before + 2


def test_rbd_ls_after_object_writes(core_daemon, cluster, pool, ioctx):
    ioctx.create_image("disk", MiB)
    ioctx.write_full_object("rbd_info", b"x")
    ioctx.write_full_object("obj", b"y", namespace="ns")
    assert run(core_daemon, "rbd", "ls", pool).stdout.split() == ["disk"]
    assert json.loads(run(core_daemon, "rbd", "ls", pool, "--format", "json").stdout) == ["disk"]
    assert ioctx.stat()["images"] == 1


def test_pool_with_objects_is_not_removable(cluster, pool, ioctx):
    ioctx.write_full_object("keep", b"x", namespace="ns")
    exc = expect_errno(errno.ENOTEMPTY, cluster.remove_pool, pool)
    assert "objects" in str(exc)
    ioctx.remove_object("keep", namespace="ns")
    cluster.remove_pool(pool)
    assert pool not in cluster.list_pools()


def test_owner_isolation(core_daemon):
    alice, bob = connect(core_daemon, "alice"), connect(core_daemon, "bob")
    try:
        pool = unique("apool")
        alice.create_pool(pool)
        io = alice.open_ioctx(pool)
        io.write_full_object("secret", b"alice's")
        # bob cannot open the pool; his calls on it are refused (Curve's ownership of the pool directory)
        theirs = bob._require_catalog()
        for call in (lambda: theirs.read_object(pool, "", "secret"), lambda: theirs.stat_object(pool, "", "secret"),
                     lambda: theirs.write_object(pool, "", "secret", b"bob's", truncate=True),
                     lambda: theirs.remove_object(pool, "", "secret"), lambda: theirs.write_object(pool, "", "n", b"x"),
                     lambda: theirs.list_objects(pool)):
            expect_errno(errno.EPERM, call)
        expect_errno(errno.EPERM, bob.open_ioctx, pool)
        assert io.read_object("secret") == b"alice's" and io.list_objects(None) == [("", "secret")]
    finally:
        alice.shutdown()
        bob.shutdown()


def test_partial_writes_from_two_connections_all_land(core_daemon, ioctx):
    """Each client writes its own 1 KiB pieces of one object at once; every piece survives."""
    piece, pieces = 1024, 64
    ioctx.write_full_object("shared", b"")
    clients = [connect(core_daemon, "admin") for _ in range(2)]
    errors = []

    def writer(index: int, client: Cluster) -> None:
        try:
            io = client.open_ioctx(ioctx.pool)
            for n in range(index, pieces, 2):
                io.write_object("shared", pattern(piece, n), offset=n * piece)
        except Exception as exc:  # reported below: a thread cannot fail the test itself
            errors.append(exc)
    threads = [threading.Thread(target=writer, args=(i, c)) for i, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for c in clients:
        c.shutdown()
    assert errors == []
    assert ioctx.read_object("shared") == b"".join(pattern(piece, n) for n in range(pieces))


def test_objects_survive_a_restart(core_daemon, cluster, pool):
    io = cluster.open_ioctx(pool)
    io.write_full_object("durable", b"still here", namespace="n")
    cluster.shutdown()
    core_daemon.restart()
    cluster.connect()
    io = cluster.open_ioctx(pool)
    assert io.read_object("durable", namespace="n") == b"still here"


class Model:
    """An object as a bytearray."""

    def __init__(self) -> None:
        self.data: bytearray | None = None

    def write(self, data: bytes, offset: int, truncate: bool) -> None:
        old = self.data or bytearray()
        head = old[:offset] + bytearray(max(0, offset - len(old)))
        self.data = head + data + (bytearray() if truncate else old[offset + len(data):])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["write", "write_full", "append", "truncate", "read"]),
                          st.binary(max_size=40), st.integers(0, 64), st.integers(0, 64)), max_size=12))
def test_matches_a_bytearray_model(ioctx, ops):
    key = unique("m")
    model = Model()
    for op, data, offset, length in ops:
        if op == "write":
            ioctx.write_object(key, data, offset)
            model.write(data, offset, False)
        elif op == "write_full":
            ioctx.write_full_object(key, data)
            model.write(data, 0, True)
        elif op == "append":
            ioctx.append_object(key, data)
            model.write(data, len(model.data or b""), False)
        elif op == "truncate":
            if model.data is None:
                expect_errno(errno.ENOENT, ioctx.truncate_object, key, offset)
            else:
                ioctx.truncate_object(key, offset)
                model.write(b"", offset, True)
        elif model.data is None:
            expect_errno(errno.ENOENT, ioctx.read_object, key, length, offset)
        else:
            assert ioctx.read_object(key, length, offset) == bytes(model.data[offset:offset + length])
    if model.data is not None:
        assert ioctx.read_object(key) == bytes(model.data)
        assert ioctx.stat_object(key)["size"] == len(model.data)
