"""Every snapshot / clone / removal rule with its exact errno, through the core and on the raw wire."""
from __future__ import annotations

import errno
import os
import time

import pytest

from core_helpers import cluster, core_daemon, ioctx, new_image, pattern, pool, unique  # noqa: F401
from daemon import new_daemon, remove
from rawwire import FILE, Wire, fd_req, io_req, nebd_name

from curverbd.core import Cluster
from curverbd.errors import Error

MiB = 1 << 20
DATA = pattern(MiB, 1)


def errno_of(call, *args, **kwargs) -> int:
    with pytest.raises(Error) as info:
        call(*args, **kwargs)
    return info.value.errno


@pytest.fixture
def image(ioctx):
    name = unique("r")
    ioctx.create_image(name, 4 * MiB)
    img = ioctx.open_image(name)
    img.write(0, DATA)
    yield img
    img.close()


def test_snapshot_name_rules(image):
    image.create_snap("s")
    assert errno_of(image.create_snap, "s") == errno.EEXIST
    assert errno_of(image.create_snap, "a@b") == errno.EINVAL
    assert errno_of(image.create_snap, "a/b") == errno.EINVAL
    assert errno_of(image.create_snap, "") == errno.EINVAL
    assert errno_of(image.remove_snap, "nope") == errno.ENOENT
    assert errno_of(image.rollback_to_snap, "nope") == errno.ENOENT
    assert errno_of(image.protect_snap, "nope") == errno.ENOENT
    assert errno_of(image.set_snap, "nope") == errno.ENOENT
    assert errno_of(image.ioctx.open_image, image.name, snapshot="nope") == errno.ENOENT
    image.create_snap("t")
    assert errno_of(image.rename_snap, "s", "t") == errno.EEXIST
    assert errno_of(image.rename_snap, "nope", "u") == errno.ENOENT
    image.rename_snap("s", "u")
    assert [s["name"] for s in image.list_snaps()] == ["u", "t"]
    with image.ioctx.open_image(image.name, snapshot="u") as view:
        assert view.read(0, MiB) == DATA


def test_snapshot_record(image):
    image.resize(3 * MiB + 5)
    image.create_snap("s")
    image.resize(MiB)
    snaps = image.list_snaps()
    assert len(snaps) == 1
    s = snaps[0]
    assert set(s) == {"id", "name", "size", "timestamp", "protected", "namespace_type"}
    assert (s["name"], s["size"], s["protected"], s["namespace_type"]) == ("s", 3 * MiB + 5, False, 0)
    assert isinstance(s["id"], int) and isinstance(s["timestamp"], float)
    assert image.stat()["snapshot_count"] == 1
    image.rollback_to_snap("s")
    assert image.size() == 3 * MiB + 5
    assert image.read(0, MiB) == DATA


def test_protection_rules(image, ioctx):
    image.create_snap("s")
    assert image.is_protected_snap("s") is False
    assert errno_of(image.unprotect_snap, "s") == errno.EINVAL
    child = unique("c")
    assert errno_of(ioctx.clone, image.name, "s", ioctx, child) == errno.EINVAL
    assert child not in ioctx.list_images()
    image.protect_snap("s")
    assert image.is_protected_snap("s") is True
    assert errno_of(image.protect_snap, "s") == errno.EBUSY
    assert errno_of(image.remove_snap, "s") == errno.EBUSY
    ioctx.clone(image.name, "s", ioctx, child)
    assert errno_of(ioctx.clone, image.name, "s", ioctx, child) == errno.EEXIST
    assert errno_of(image.unprotect_snap, "s") == errno.EBUSY
    image.close()
    # librbd looks at snapshots before children: a clone parent has a (protected) snapshot
    assert errno_of(ioctx.remove_image, image.name) == errno.ENOTEMPTY
    ioctx.remove_image(child)
    img = ioctx.open_image(image.name)
    img.unprotect_snap("s")
    assert errno_of(img.unprotect_snap, "s") == errno.EINVAL
    img.close()
    assert errno_of(ioctx.remove_image, image.name) == errno.ENOTEMPTY  # it has a snapshot
    with ioctx.open_image(image.name) as img:
        img.remove_snap("s")
    ioctx.remove_image(image.name)


def test_snapshot_images_are_read_only(image, ioctx):
    image.create_snap("s")
    image.write(0, b"new")
    with ioctx.open_image(image.name, snapshot="s") as view:
        assert view.snapshot == "s"
        for call, args in [(view.write, (0, b"x")), (view.discard, (0, 4096)), (view.write_zeroes, (0, 1)),
                           (view.resize, (MiB,)), (view.create_snap, ("t",)), (view.rollback_to_snap, ("s",)),
                           (view.flatten, ()), (view.metadata_set, ("k", "v"))]:
            assert errno_of(call, *args) == errno.EROFS, call.__name__
        assert view.read(0, 3) == DATA[:3]
    image.set_snap("s")
    assert image.read(0, 3) == DATA[:3]
    assert errno_of(image.write, 0, b"x") == errno.EROFS
    assert image.aio_write(0, b"x").get_return_value() == -errno.EROFS
    image.set_snap(None)
    assert image.read(0, 3) == b"new"
    image.write(0, b"abc")


def test_reading_a_snapshot_goes_through_a_hidden_clone(core_daemon, image, ioctx):
    """Curve opens no snapshot (nebd's `vol@snap` is just a missing file): a reader of a snapshot reads a
    clone of it, which RBD does not list, which holds the snapshot while it is open, and which goes at
    close."""
    image.create_snap("snap1")
    image.write(0, b"new")
    with Wire(core_daemon.socket) as w:
        missing = w.open_file(nebd_name(ioctx.pool, f"{image.name}@snap1", "admin"))
        assert missing.ret_code != 0
    before = sorted(f["fileName"] for f in mds_listdir(core_daemon, ioctx.pool))
    with ioctx.open_image(image.name, snapshot="snap1") as view:
        assert view.read(0, 3) == DATA[:3]
        views = [f["fileName"] for f in mds_listdir(core_daemon, ioctx.pool)
                 if f["fileName"] not in before]
        assert len(views) == 1 and views[0].startswith(".rbd-snapview-")
        assert ioctx.list_images() == [image.name]
        assert image.is_protected_snap("snap1") is False                # RBD's word is unchanged
        image.remove_snap("snap1")              # librbd allows it; the reader's reads then fail (ENOENT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:      # the handle learns it from the image's watched record
            try:
                view.read(0, 3)
            except Error:
                break
            time.sleep(0.05)
        assert errno_of(view.read, 0, 3) == errno.ENOENT
    assert sorted(f["fileName"] for f in mds_listdir(core_daemon, ioctx.pool)) == before
    assert image.list_snaps() == []


def mds_listdir(daemon, pool: str) -> list[dict]:
    from curverbd.curve.mds import MdsClient, parse_addrs
    mds = MdsClient(parse_addrs(daemon.mds_socket), "admin", "")
    try:
        return mds.listdir(f"/{pool}")
    finally:
        mds.close()


def test_clone_rules(image, ioctx, cluster):
    image.create_snap("s")
    image.protect_snap("s")
    other_pool = unique("pool")
    cluster.create_pool(other_pool)
    other = cluster.open_ioctx(other_pool)
    ioctx.clone(image.name, "s", other, "child")  # across pools
    assert errno_of(ioctx.clone, image.name, "nope", other, "c2") == errno.ENOENT
    assert errno_of(ioctx.clone, "nope", "s", other, "c2") == errno.ENOENT
    assert errno_of(ioctx.clone, image.name, "s", other, "bad", features=0) == errno.EINVAL
    with other.open_image("child") as child:
        assert child.parent_info() == (ioctx.pool, image.name, "s")
        assert child.op_features() == 2
        assert child.size() == 4 * MiB
        assert child.read(0, MiB) == DATA
        assert child.stat()["parent"] == {"pool": ioctx.pool, "image": image.name, "snap": "s"}
    assert image.op_features() == 1
    assert image.list_children() == [(other_pool, "child")]
    assert errno_of(image.parent_info) == errno.ENOENT
    assert errno_of(image.flatten) == errno.EINVAL
    # another user cannot clone into or from this user's pools
    bob = Cluster(user="bob")
    bob.connect()
    try:
        bob.create_pool(unique("bobpool"))
        bob_pool = bob.list_pools()[0]
        assert errno_of(ioctx.clone, image.name, "s", bob.open_ioctx(bob_pool), "stolen") == errno.EPERM
    finally:
        bob.shutdown()
    other.remove_image("child")
    assert image.list_children() == []
    assert image.op_features() == 0


def flatten_fixture(image, ioctx):
    """A 40 MiB image with data at 39 MiB, a protected snapshot and one clone; the clone's name."""
    image.resize(40 * MiB)
    image.write(39 * MiB, DATA)
    image.create_snap("s")
    image.protect_snap("s")
    ioctx.clone(image.name, "s", ioctx, unique("c"))
    return image.list_children()[0][1]


def test_flatten_progress_and_cancel(image, ioctx):
    """Curve flattens on its own (release1.5: Flatten + QueryFlattenStatus; mainline: snapshotcloneserver's
    Flatten of the lazy clone task): progress comes from Curve, and a cancel cannot stop it, so it gives
    ECANCELED at once and Curve finishes the flatten."""
    child_name = flatten_fixture(image, ioctx)
    with ioctx.open_image(child_name) as child:
        calls = []
        try:   # Curve may finish before the first look at its progress: then there is nothing to cancel
            child.flatten(lambda done, total: calls.append((done, total)) or True)
            finished = True
        except Error as exc:
            assert exc.errno == errno.ECANCELED
            finished = False
        assert len(calls) == 1 and calls[0][1] == 40 * MiB
        assert calls[0][0] == 40 * MiB if finished else 0 < calls[0][0] < 40 * MiB
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                child.parent_info()
            except Error:
                break
            time.sleep(0.05)
        assert errno_of(child.parent_info) == errno.ENOENT      # Curve finished it
        assert child.read(39 * MiB, MiB) == DATA and child.read(0, MiB) == DATA
        assert child.op_features() == 0
    other = unique("c")
    ioctx.clone(image.name, "s", ioctx, other)
    with ioctx.open_image(other) as child:
        seen = []
        child.flatten(lambda done, total: seen.append((done, total)))
        assert seen[-1] == (40 * MiB, 40 * MiB)
        assert [d for d, _ in seen] == sorted(d for d, _ in seen)
        assert errno_of(child.flatten) == errno.EINVAL          # no parent any more
    image.unprotect_snap("s")  # no children any more
    image.remove_snap("s")


def test_remove_image_rules(image, ioctx):
    assert errno_of(ioctx.remove_image, image.name) == errno.EBUSY  # open
    image.create_snap("s")
    image.close()
    assert errno_of(ioctx.remove_image, image.name) == errno.ENOTEMPTY
    with ioctx.open_image(image.name, snapshot="s"):
        pass
    with ioctx.open_image(image.name) as img:
        img.remove_snap("s")
    ioctx.remove_image(image.name)
    assert image.name not in ioctx.list_images()


def test_features_and_geometry(image):
    assert image.features() == 1
    assert image.stripe_unit() == 4 * MiB and image.stripe_count() == 1
    image.update_features(4, True)
    assert image.features() == 5 and image.stat()["features"] == 5
    image.update_features(4, False)
    assert image.features() == 1
    assert errno_of(image.update_features, 1, False) == errno.EINVAL  # layering is not mutable
    assert isinstance(image.id, str) and image.id == image.stat()["id"]
