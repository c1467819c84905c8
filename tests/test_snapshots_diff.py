"""DiffExtents / diff_iterate: sound (every changed byte reported), tight (only what was written since),
exact ``exists`` flags, whole-object rounding, snapshots as either end, clones with and without parent."""
from __future__ import annotations

import errno

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from core_helpers import cluster, core_daemon, ioctx, pattern, pool, unique  # noqa: F401

from curverbd.errors import Error

GRAIN = 4096
SIZE = 40 * GRAIN + 123   # unaligned on purpose
MiB = 1 << 20


def diff(image, from_snap=None, offset=0, length=None, **kw) -> list[tuple[int, int, bool]]:
    out = []
    image.diff_iterate(offset, image.size() - offset if length is None else length, from_snap,
                       lambda o, n, x: out.append((o, n, x)), **kw)
    return out


def grains(offset: int, length: int) -> set[int]:
    return set(range(offset // GRAIN, (offset + length - 1) // GRAIN + 1)) if length else set()


def check(extents, old: bytes, new: bytes, touched: set[int]) -> None:
    """Sound, tight and exact against the two views' bytes and the grains written in between."""
    covered = set()
    last_end = -1
    for offset, length, exists in extents:
        assert length > 0 and offset > last_end - 1, extents   # sorted, disjoint
        last_end = offset + length
        # librbd's extents are bytes: both ends are bytes that changed (diff_iterate trims a run's
        # edge blocks); ``exists`` is whether the grain holds data now
        assert new[offset] != old[offset] or offset % GRAIN == 0, (offset, extents)
        assert new[offset + length - 1] != old[offset + length - 1] or (offset + length) % GRAIN == 0, extents
        for g in grains(offset, length):
            assert any(new[g * GRAIN:(g + 1) * GRAIN]) == exists, (g, extents)
            covered.add(g)
    for g in range(len(new) // GRAIN + 1):
        if old[g * GRAIN:(g + 1) * GRAIN] != new[g * GRAIN:(g + 1) * GRAIN]:
            assert g in covered, f"grain {g} changed but not reported: {extents}"
    assert covered <= touched, f"grains {sorted(covered - touched)} reported but never written"


ops = st.lists(st.tuples(st.sampled_from(["write", "zero", "discard", "snap"]),
                         st.integers(0, SIZE - 1), st.integers(1, 3 * GRAIN), st.integers(0, 255)),
               max_size=14)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=ops)
def test_diff_matches_model(ioctx, ops):
    name = unique("d")
    ioctx.create_image(name, SIZE)
    image = ioctx.open_image(name)
    model = bytearray(SIZE)
    snaps: list[tuple[str, bytes, set[int]]] = []   # name, bytes, grains touched since it
    between: dict[tuple[int, int], set[int]] = {}   # (i, j): grains touched from snapshot i to j
    touched_all: set[int] = set()
    try:
        for op, offset, length, value in ops:
            length = min(length, SIZE - offset)
            if op == "snap":
                snap = f"s{len(snaps)}"
                image.create_snap(snap)
                for i, (_, _, touched) in enumerate(snaps):
                    between[i, len(snaps)] = set(touched)
                snaps.append((snap, bytes(model), set()))
                continue
            if op == "write":
                data = bytes([value or 1]) * length
                image.write(offset, data)
            else:
                (image.write_zeroes if op == "zero" else image.discard)(offset, length)
                data = bytes(length)
            model[offset:offset + length] = data
            for _, _, touched in snaps:
                touched |= grains(offset, length)
            touched_all |= grains(offset, length)
        check(diff(image), bytes(SIZE), bytes(model), touched_all)
        for i, (snap, old, touched) in enumerate(snaps):
            check(diff(image, snap), old, bytes(model), touched)
            if i + 1 < len(snaps):   # between two snapshots: the image set to the later one
                later, newer, _ = snaps[i + 1]
                image.set_snap(later)
                check(diff(image, snap), old, newer, between[i, i + 1])
                image.set_snap(None)
    finally:
        image.close()
        with ioctx.open_image(name) as img:
            for snap, _, _ in snaps:
                img.remove_snap(snap)
        ioctx.remove_image(name)


def test_whole_object_and_ranges(ioctx):
    name = unique("w")
    ioctx.create_image(name, 10 * MiB, order=20)   # 1 MiB objects
    with ioctx.open_image(name) as image:
        image.write(MiB + 10, b"a")
        image.write(5 * MiB - 1, b"b" * 2)
        # bytes as librbd reports them (Curve's 4 KiB grains trimmed to what changed); whole objects stay
        assert diff(image) == [(MiB + 10, 1, True), (5 * MiB - 1, 2, True)]
        assert diff(image, whole_object=True) == [(MiB, MiB, True), (4 * MiB, 2 * MiB, True)]
        assert diff(image, offset=MiB + 100, length=50) == []       # nothing written there
        assert diff(image, offset=MiB + 5, length=50) == [(MiB + 10, 1, True)]
        image.create_snap("s")
        image.write_zeroes(MiB, 4096)
        assert diff(image, "s") == [(MiB + 10, 1, False)]
        assert diff(image, "s", whole_object=True) == [(MiB, MiB, False)]
        stops = []
        assert image.diff_iterate(0, 10 * MiB, None, lambda *a: stops.append(a) or -7) == -7
        assert len(stops) == 1
        with pytest.raises(Error) as info:
            diff(image, "nope")
        assert info.value.errno == errno.ENOENT
        with pytest.raises(Error) as info:
            image.diff_iterate(11 * MiB, 1, None, lambda *a: 0)
        assert info.value.errno == errno.EINVAL
        image.remove_snap("s")


def test_clone_diff_with_and_without_parent(ioctx):
    name, child = unique("p"), unique("c")
    ioctx.create_image(name, 4 * MiB)
    with ioctx.open_image(name) as image:
        image.write(0, pattern(2 * GRAIN, 3))
        image.create_snap("s")
        image.protect_snap("s")
    ioctx.clone(name, "s", ioctx, child)
    with ioctx.open_image(child) as clone:
        clone.write(3 * MiB, b"z" * GRAIN)
        assert diff(clone) == [(0, 2 * GRAIN, True), (3 * MiB, GRAIN, True)]
        assert diff(clone, include_parent=False) == [(3 * MiB, GRAIN, True)]
        clone.flatten()
        assert diff(clone, include_parent=False) == [(0, 2 * GRAIN, True), (3 * MiB, GRAIN, True)]
    ioctx.remove_image(child)
    with ioctx.open_image(name) as image:
        image.unprotect_snap("s")
        image.remove_snap("s")
