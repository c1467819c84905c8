"""RBD's pool and image rules over Curve: the core's catalog against a real daemon (its MDS and etcd).

Exact logical sizes over Curve's 10 GiB / 1 GiB / no-shrink volumes, names, owners, the
reserved recycle bin, owner isolation, busy / not-empty, metadata; what Curve itself holds is
checked with the tests' own MDS encoder (mds_wire.py), so the two views are compared.
"""
from __future__ import annotations

import errno
from contextlib import closing

import pytest

from core_helpers import cluster, core_daemon, unique  # noqa: F401  (fixtures)
from mds_wire import Mds, Who

from curverbd.core import Cluster
from curverbd.errors import Error

GiB = 1 << 30


def curve_info(daemon, path: str, owner: str = "admin") -> dict:
    with closing(Mds(daemon.mds_socket)) as mds:
        status, info = mds.info(path, Who(owner))
    assert status == 0, (path, status)
    return info


def errno_of(fn, *args) -> int:
    with pytest.raises(Error) as exc:
        fn(*args)
    assert str(exc.value)          # every refusal says what and why
    return exc.value.errno


@pytest.fixture
def pool(cluster):
    name = unique("p")
    cluster.create_pool(name)
    return cluster.open_ioctx(name)


def test_exact_sizes_over_curve_lengths(core_daemon, pool):
    for name, size, backend in [("zero", 0, 10 * GiB), ("one", 1, 10 * GiB), ("ten", 10 * GiB, 10 * GiB),
                                ("tenplus", 10 * GiB + 1, 11 * GiB), ("twelve", 12 * GiB, 12 * GiB)]:
        pool.create_image(name, size)
        rec = pool.stat_image(name)
        assert (rec["size"], rec["backend_size"]) == (size, backend), name
        assert curve_info(core_daemon, f"/{pool.pool}/{name}")["length"] == backend
    with pool.open_image("one") as img:
        img.resize(15 * GiB + 5)
        assert (img.size(), img.stat()["backend_size"]) == (15 * GiB + 5, 16 * GiB)
        img.resize(4096)                       # logical: Curve never shrinks
        assert (img.size(), img.stat()["backend_size"]) == (4096, 16 * GiB)
    assert curve_info(core_daemon, f"/{pool.pool}/one")["length"] == 16 * GiB
    assert errno_of(pool.create_image, "huge", (20 << 40) + 1) == errno.EINVAL
    assert errno_of(pool.create_image, "neg", -1) == errno.EINVAL
    assert errno_of(pool.create_image, "ten", 1) == errno.EEXIST
    assert pool.list_images() == sorted(["zero", "one", "ten", "tenplus", "twelve"])


@pytest.mark.parametrize("name", ["..", ".", "a/b", "a\0b", ""])
def test_bad_pool_names(cluster, name):
    assert errno_of(cluster.create_pool, name) == errno.EINVAL


def test_names_and_reserved(cluster, pool):
    assert errno_of(cluster.create_pool, "RecycleBin") == errno.EPERM
    assert errno_of(cluster.create_pool, pool.pool) == errno.EEXIST
    for bad in ["x" * 96, "..", "a/b", ""]:
        assert errno_of(pool.create_image, bad, 1) in (errno.EINVAL, errno.ENAMETOOLONG), bad
    pool.create_image("x" * 95, 1)
    assert errno_of(cluster.open_ioctx, unique("nopool")) == errno.ENOENT


def test_owner_isolation(core_daemon, cluster, pool, monkeypatch):
    pool.create_image("aimg", 1 << 20)
    with pool.open_image("aimg") as img:
        img.write(0, b"s" * 4096)
    bob = Cluster("bob")
    bob.connect()
    try:
        assert errno_of(bob.open_ioctx, pool.pool) == errno.EPERM
        theirs = bob._require_catalog()
        for call, args in [(theirs.list_images, ()), (theirs.remove_pool, ()), (theirs.stat_image, ("aimg",)),
                           (theirs.remove_image, ("aimg",)), (theirs.create_image, ("bimg", 1)),
                           (theirs.resize_image, ("aimg", 1)), (theirs.rename_image, ("aimg", "x")),
                           (theirs.set_meta, ("aimg", "k", "v")), (theirs.list_meta, ("aimg",))]:
            assert errno_of(call, pool.pool, *args) == errno.EPERM, call.__name__
        assert pool.pool not in bob.list_pools()
        assert errno_of(bob.create_pool, pool.pool) == errno.EEXIST
    finally:
        bob.shutdown()
    assert pool.pool in cluster.list_pools()
    with pool.open_image("aimg") as img:
        assert img.read(0, 4096) == b"s" * 4096


def test_busy_not_empty_and_metadata(core_daemon, cluster, pool):
    pool.create_image("img", 1 << 20)
    img = pool.open_image("img")
    assert errno_of(cluster.remove_pool, pool.pool) == errno.ENOTEMPTY
    assert errno_of(pool.remove_image, "img") == errno.EBUSY      # open by a client (kFileOccupied)
    assert errno_of(pool.rename_image, "img", "new") == errno.EBUSY
    img.metadata_set("k", "v")
    assert img.metadata_get("k") == "v" and img.metadata_list() == {"k": "v"}
    assert pool.stat_image("img")["meta"] == {"k": "v"}
    img.metadata_remove("k")
    assert errno_of(img.metadata_get, "k") == errno.ENOENT
    assert errno_of(img.metadata_remove, "k") == errno.ENOENT
    img.close()
    pool.create_image("other", 1)
    assert errno_of(pool.rename_image, "img", "other") == errno.EEXIST   # Curve would replace it; RBD refuses
    pool.rename_image("img", "new")
    assert pool.list_images() == ["new", "other"]
    pool.remove_image("new")
    pool.remove_image("other")
    assert errno_of(pool.stat_image, "new") == errno.ENOENT
    cluster.remove_pool(pool.pool)
    assert pool.pool not in cluster.list_pools()


def test_removed_image_goes_to_curves_recycle_bin(core_daemon, pool):
    pool.create_image("gone", 1 << 20)
    file_id = curve_info(core_daemon, f"/{pool.pool}/gone")["id"]
    pool.remove_image("gone")
    with closing(Mds(core_daemon.mds_socket)) as mds:
        status, entries = mds.listdir("/RecycleBin", Who("root", "root_password"))
    assert status == 0
    assert [e["originalFullPathName"] for e in entries if e["id"] == file_id] == [f"/{pool.pool}/gone"]


def test_a_volume_made_by_curves_tools_is_an_image_of_its_curve_length(core_daemon, pool):
    with closing(Mds(core_daemon.mds_socket)) as mds:
        assert mds.create(f"/{pool.pool}/native", Who("admin"), length=12 * GiB) == 0
    rec = pool.stat_image("native")
    assert (rec["size"], rec["backend_size"], rec["features"], rec["order"]) == (12 * GiB, 12 * GiB, 1, 22)
    with pool.open_image("native") as img:
        img.write(12 * GiB - 4096, b"e" * 4096)
        assert img.read(12 * GiB - 4096, 4096) == b"e" * 4096
