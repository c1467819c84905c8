"""librbd (Pacific) behaviours of snapshots, clones and removals, through the core and the rbd module:
byte-exact diff extents, progress and cancel of removals, RBD_SNAP_REMOVE_UNPROTECT, removing a snapshot
a handle reads, and clone format 2 with the trash snapshot namespace. Runs on both Curve flavours
(CURVERBD_TEST_CURVE_RELEASE=2: mainline's snapshotcloneserver)."""
from __future__ import annotations

import errno
import time

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from core_helpers import cluster, core_daemon, ioctx, pattern, pool, unique  # noqa: F401
from pymod_helpers import rbd

from curverbd.compat.rbd.ioctx import core_ioctx  # noqa: F401  (the rbd module's view of a core IoCtx)
from curverbd.errors import Error

GRAIN = 4096
MiB = 1 << 20
TRASH = 2          # RBD_SNAP_NAMESPACE_TYPE_TRASH
UNPROTECT = 1      # RBD_SNAP_REMOVE_UNPROTECT


def errno_of(call, *args, **kwargs) -> int:
    with pytest.raises(Error) as info:
        call(*args, **kwargs)
    return info.value.errno


def diff(image, from_snap=None, **kw) -> list[tuple[int, int, bool]]:
    out = []
    image.diff_iterate(0, image.size(), from_snap, lambda o, n, x: out.append((o, n, bool(x))), **kw)
    return out


def eventually(check, timeout: float = 10.0):
    """``check()`` once it stops raising AssertionError (a watch or Curve's task is asynchronous)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _assert_read_fails(image, code: int) -> None:
    try:
        image.read(0, 4)
    except Error as exc:
        assert exc.errno == code, exc
        return
    raise AssertionError(f"{image}: read did not fail")


def _assert_equal(value, expected) -> None:
    assert value == expected, value


def curve_snapshots(ioctx, name: str) -> list[str]:
    """Curve's own snapshot keys of the image's volume (what RBD no longer lists may still be there)."""
    catalog = ioctx._catalog
    info = catalog._file(ioctx.pool, name)
    return [s["key"] for s in catalog.flavour().list(f"/{ioctx.pool}/{info['fileName']}")]


# --- 1. diff_iterate reports bytes ------------------------------------------------------------------
def test_diff_reports_the_bytes_written(ioctx):
    name = unique("d")
    ioctx.create_image(name, 4 * MiB)
    with ioctx.open_image(name) as image:
        image.write(0, b"\xab" * 256)
        assert diff(image) == [(0, 256, True)]
        assert diff(image, whole_object=True) == [(0, 4 * MiB, True)]
        image.write(3 * GRAIN - 100, b"\x01" * 5000)           # over two block edges: interior whole
        assert diff(image) == [(0, 256, True), (3 * GRAIN - 100, 5000, True)]
        image.create_snap("s")
        image.write(10, b"\xab\xab\xcd")                       # two of the three bytes are what they were
        assert diff(image, "s") == [(12, 1, True)]
        image.write(100, b"\xab" * 100)                        # rewriting the same bytes: no change
        assert diff(image, "s") == [(12, 1, True)]
        image.discard(2 * MiB, GRAIN)                          # zeros over zeros: nothing
        assert diff(image, "s") == [(12, 1, True)]
        image.write_zeroes(3 * GRAIN - 100, 10)
        assert diff(image, "s") == [(12, 1, True), (3 * GRAIN - 100, 10, True)]
        image.write(6 * GRAIN + 5, b"\x02")                     # a run over blocks 6-7: the unchanged bytes
        image.write(7 * GRAIN + 7, b"\x03")                     # between its edges are not split off
        assert diff(image, "s") == [(12, 1, True), (3 * GRAIN - 100, 10, True), (6 * GRAIN + 5, GRAIN + 3, True)]
        image.set_snap("s")
        assert diff(image) == [(0, 256, True), (3 * GRAIN - 100, 5000, True)]
        image.set_snap(None)
        image.remove_snap("s")


ops = st.lists(st.tuples(st.sampled_from(["write", "zero"]), st.integers(0, 12 * GRAIN - 1),
                         st.integers(1, 3 * GRAIN), st.binary(min_size=1, max_size=3)), min_size=1, max_size=8)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(before=ops, after=ops)
def test_diff_extents_are_exact_bytes(ioctx, before, after):
    """Against a bytearray model: every changed byte is reported, each extent starts and ends on a
    changed byte (or whole grains inside a run), and no extent reaches a grain never written."""
    size = 12 * GRAIN + 77
    name = unique("m")
    ioctx.create_image(name, size)
    model = bytearray(size)

    def apply(image, op_list) -> set[int]:
        touched = set()
        for op, offset, length, fill in op_list:
            length = min(length, size - offset)
            data = (fill * length)[:length] if op == "write" else bytes(length)
            (image.write(offset, data) if op == "write" else image.write_zeroes(offset, length))
            model[offset:offset + length] = data
            touched |= set(range(offset // GRAIN, (offset + length - 1) // GRAIN + 1))
        return touched

    def verify(extents, old: bytes, new: bytes, touched: set[int]) -> None:
        covered = bytearray(size)
        last = -1
        for offset, length, exists in extents:
            assert length > 0 and offset >= last, extents
            last = offset + length
            assert new[offset] != old[offset] or offset % GRAIN == 0, (offset, extents)
            assert new[last - 1] != old[last - 1] or last % GRAIN == 0, (last, extents)
            for g in range(offset // GRAIN, (last - 1) // GRAIN + 1):
                assert g in touched, (g, extents)
                assert any(new[g * GRAIN:(g + 1) * GRAIN]) == exists, (g, extents)
            covered[offset:last] = b"\1" * length
        assert all(covered[i] for i in range(size) if old[i] != new[i]), extents

    with ioctx.open_image(name) as image:
        touched = apply(image, before)
        verify(diff(image), bytes(size), bytes(model), touched)
        image.create_snap("s")
        old = bytes(model)
        touched = apply(image, after)
        verify(diff(image, "s"), old, bytes(model), touched)
        image.remove_snap("s")
    ioctx.remove_image(name)


# --- 2. removals with progress and cancel --------------------------------------------------------------
def test_remove_progress_and_cancel(ioctx):
    name = unique("r")
    ioctx.create_image(name, 10 * MiB + 1, order=22)            # 3 objects of 4 MiB
    calls = []
    assert errno_of(ioctx.remove_image, name, lambda done, total: calls.append((done, total)) or 1) \
        == errno.ECANCELED
    assert calls == [(0, 3)] and name in ioctx.list_images()   # kept
    calls.clear()
    ioctx.remove_image(name, lambda done, total: calls.append((done, total)) or 0)
    assert calls == [(0, 3), (3, 3)] and name not in ioctx.list_images()


def test_trash_remove_progress_and_cancel(ioctx):
    name = unique("t")
    ioctx.create_image(name, 4 * MiB)
    image_id = ioctx.trash_move(name)
    calls = []
    assert errno_of(ioctx.trash_remove, image_id, False, lambda d, t: calls.append((d, t)) or -1) == errno.ECANCELED
    assert calls == [(0, 1)] and [e["id"] for e in ioctx.trash_list()] == [image_id]
    calls.clear()
    ioctx.trash_remove(image_id, False, lambda d, t: calls.append((d, t)))
    assert calls == [(0, 1), (1, 1)] and ioctx.trash_list() == []


def test_remove_with_snapshots_and_clones_is_enotempty(ioctx):
    name, child = unique("p"), unique("c")
    ioctx.create_image(name, 4 * MiB)
    with ioctx.open_image(name) as image:
        image.create_snap("s")
        image.protect_snap("s")
    ioctx.clone(name, "s", ioctx, child)
    assert errno_of(ioctx.remove_image, name) == errno.ENOTEMPTY   # librbd: snapshots first, clones or not
    ioctx.remove_image(child)
    with ioctx.open_image(name) as image:
        image.remove_snap("s", UNPROTECT)
    ioctx.remove_image(name)


def test_rbd_module_remove_and_trash_remove_cancel(cluster, pool):  # noqa: F811
    """The rbd module's on_progress: OperationCanceled, the image kept; ImageHasSnapshots."""
    import rados
    conn = rados.Rados(rados_id="admin", conffile="")
    conn.connect()
    try:
        with conn.open_ioctx(pool) as io:
            r = rbd.RBD()
            r.create(io, "a", 4 * MiB)
            with pytest.raises(rbd.OperationCanceled):
                r.remove(io, "a", on_progress=lambda done, total: 1)
            assert r.list(io) == ["a"]
            with rbd.Image(io, "a") as image:
                image.create_snap("s")
            with pytest.raises(rbd.ImageHasSnapshots):
                r.remove(io, "a")
            with rbd.Image(io, "a") as image:
                image.remove_snap("s")
            seen = []
            r.remove(io, "a", on_progress=lambda done, total: seen.append((done, total)))
            assert seen == [(0, 1), (1, 1)] and r.list(io) == []
            r.create(io, "b", MiB)
            r.trash_move(io, "b")
            image_id = next(iter(r.trash_list(io)))["id"]
            with pytest.raises(rbd.OperationCanceled):
                r.trash_remove(io, image_id, on_progress=lambda done, total: 1)
            r.trash_remove(io, image_id, on_progress=lambda done, total: 0)
            assert list(r.trash_list(io)) == []
    finally:
        conn.shutdown()


# --- 3. RBD_SNAP_REMOVE_UNPROTECT -----------------------------------------------------------------
def test_remove_snap2_unprotect_flag(ioctx):
    name, child = unique("u"), unique("c")
    ioctx.create_image(name, 4 * MiB)
    with ioctx.open_image(name) as image:
        image.create_snap("s")
        image.protect_snap("s")
        assert errno_of(image.remove_snap, "s") == errno.EBUSY
        assert errno_of(image.remove_snap, "s", 0) == errno.EBUSY
        ioctx.clone(name, "s", ioctx, child)
        assert errno_of(image.remove_snap, "s", UNPROTECT) == errno.EBUSY   # it has a clone: stays protected
        assert image.is_protected_snap("s") is True
        ioctx.remove_image(child)
        image.remove_snap("s", UNPROTECT)
        assert image.list_snaps() == []
        image.create_snap("t")
        image.remove_snap("t", UNPROTECT)                                   # not protected: just removed
        assert image.list_snaps() == []
    ioctx.remove_image(name)


# --- 4. removing a snapshot a handle reads ------------------------------------------------------------
def test_removing_a_snapshot_a_handle_reads(ioctx):
    name = unique("v")
    ioctx.create_image(name, MiB)
    with ioctx.open_image(name) as image:
        image.write(0, b"old!")
        image.create_snap("s")
        image.write(0, b"new!")
        at_snap = ioctx.open_image(name, snapshot="s")
        set_to = ioctx.open_image(name, read_only=True)
        set_to.set_snap("s")
        assert at_snap.read(0, 4) == b"old!" and set_to.read(0, 4) == b"old!"
        image.remove_snap("s")                                   # allowed, as librbd
        assert image.list_snaps() == []
        assert errno_of(image.set_snap, "s") == errno.ENOENT
        for handle in (at_snap, set_to):                         # the watch tells each handle
            eventually(lambda: _assert_read_fails(handle, errno.ENOENT))
        eventually(lambda: _assert_equal(curve_snapshots(ioctx, name), []))   # Curve's is gone too
        set_to.set_snap(None)                                    # the head still reads
        assert set_to.read(0, 4) == b"new!"
        at_snap.close()
        set_to.close()
        image.create_snap("s")                                   # the name is free again
        with ioctx.open_image(name, snapshot="s") as again:
            image.resize(2 * MiB)                                # a change of the watched record
            time.sleep(0.3)
            assert again.read(0, 4) == b"new!"                   # a new snapshot, not the removed one
        image.remove_snap("s")
    ioctx.remove_image(name)


# --- 5. clone format 2 and the trash namespace ------------------------------------------------------
def test_clone_format_2_and_the_trash_namespace(ioctx):
    name, c1, c2 = unique("p"), unique("c"), unique("c")
    ioctx.create_image(name, 4 * MiB)
    with ioctx.open_image(name) as image:
        image.write(0, b"base")
        image.create_snap("s")
        assert errno_of(ioctx.clone, name, "s", ioctx, c1) == errno.EINVAL       # format 1: not protected
        assert errno_of(ioctx.clone, name, "s", ioctx, c1, clone_format=3) == errno.EINVAL
        ioctx.clone(name, "s", ioctx, c1, clone_format=2)
        ioctx.cluster.conf_set("rbd_default_clone_format", "2")
        try:
            ioctx.clone(name, "s", ioctx, c2)
        finally:
            ioctx.cluster.conf_set("rbd_default_clone_format", "auto")
        assert image.is_protected_snap("s") is False
        assert sorted(image.list_children()) == sorted([(ioctx.pool, c1), (ioctx.pool, c2)])
        image.remove_snap("s")                                   # clones remain: to the trash namespace
        snaps = image.list_snaps()
        assert [(s["namespace_type"], s["original_name"]) for s in snaps] == [(TRASH, "s")]
        assert snaps[0]["name"] != "s"
        assert errno_of(image.set_snap, "s") == errno.ENOENT
        assert errno_of(ioctx.remove_image, name) == errno.EBUSY    # its trashed snapshot has clones
        image.create_snap("s")                                   # the user's name is free
        assert [s["namespace_type"] for s in image.list_snaps()] == [TRASH, 0]
        image.remove_snap("s")
    for child in (c1, c2):
        with ioctx.open_image(child) as clone:
            assert clone.read(0, 4) == b"base"
    with ioctx.open_image(c1) as clone:
        clone.flatten()
    with ioctx.open_image(name) as image:
        assert [s["namespace_type"] for s in image.list_snaps()] == [TRASH]   # c2 still reads it
    ioctx.remove_image(c2)                                       # the last clone: the snapshot goes
    with ioctx.open_image(name) as image:
        assert image.list_snaps() == []
    assert curve_snapshots(ioctx, name) == []
    ioctx.remove_image(name)
    with ioctx.open_image(c1) as clone:
        assert clone.read(0, 4) == b"base"
    ioctx.remove_image(c1)


def test_rbd_module_clone_format_and_snap_namespace(cluster, pool):  # noqa: F811
    import rados
    conn = rados.Rados(rados_id="admin", conffile="")
    conn.connect()
    try:
        with conn.open_ioctx(pool) as io:
            r = rbd.RBD()
            r.create(io, "p", 4 * MiB)
            with rbd.Image(io, "p") as image:
                image.create_snap("s")
                image.protect_snap("s")
                with pytest.raises(rbd.ImageBusy):
                    image.remove_snap2("s", 0)
                image.remove_snap2("s", rbd.RBD_SNAP_REMOVE_UNPROTECT)
                image.create_snap("s")
            with pytest.raises(rbd.InvalidArgument):
                r.clone(io, "p", "s", io, "c")
            r.clone(io, "p", "s", io, "c", clone_format=2)
            with rbd.Image(io, "p") as image:
                image.remove_snap("s")
                snaps = list(image.list_snaps())
                assert [s["namespace"] for s in snaps] == [rbd.RBD_SNAP_NAMESPACE_TYPE_TRASH]
                assert image.snap_get_namespace_type(snaps[0]["id"]) == rbd.RBD_SNAP_NAMESPACE_TYPE_TRASH
            r.remove(io, "c")
            with rbd.Image(io, "p") as image:
                assert list(image.list_snaps()) == []
            r.remove(io, "p")
    finally:
        conn.shutdown()
