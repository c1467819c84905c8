"""Snapshots, rollback, clones and flatten against a dict-of-bytearrays model.

Each image (the original and its clones) is a bytearray; each snapshot the
bytes the image had when it was taken. After every step every image and every
live snapshot (opened at the snapshot, through the daemon's read-only view)
must equal its model byte for byte. The 512-byte block size daemon sends
writes smaller than the layers' 4 KiB grain, so the copy-up path is covered.
"""
from __future__ import annotations

import errno
import os
import random

import pytest
from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import (RuleBasedStateMachine, initialize, invariant, precondition, rule,
                                 run_state_machine_as_test)

from core_helpers import unique
from daemon import new_daemon, remove

from curverbd.core import Cluster
from curverbd.errors import Error

MAX_SIZE = 80 << 10
SNAP_NAMES = ("s1", "s2", "s3", "s4")


@pytest.fixture(scope="module", params=["4096", "512"])
def model_daemon(request):
    d = new_daemon("--block-size", request.param).start()
    yield d
    remove(d)


class Img:
    """The model of one image: its bytes, its snapshots, which are protected, its parent and clones."""

    def __init__(self, name: str, data: bytearray, parent=None) -> None:
        self.name, self.data, self.parent = name, data, parent
        self.snaps: dict[str, bytes] = {}
        self.protected: set[str] = set()
        self.children: set[str] = set()  # clone names


def errno_of(call, *args):
    try:
        call(*args)
    except Error as exc:
        return exc.errno
    return 0


class SnapshotModel(RuleBasedStateMachine):
    ioctx = None  # set by the test

    @initialize(size=st.integers(1, MAX_SIZE), seed=st.integers(0, 1 << 30))
    def create(self, size, seed):
        name = unique("sm")
        self.ioctx.create_image(name, size)
        self.images = {name: Img(name, bytearray(size))}
        self.open = {name: self.ioctx.open_image(name)}
        self.order = [name]  # creation order: clones after their parents
        initial = random.Random(seed).randbytes(size)
        self.open[name].write(0, initial)
        self.images[name].data[:] = initial

    def teardown(self):
        for img in getattr(self, "open", {}).values():
            img.close()
        for name in reversed(getattr(self, "order", [])):  # clones first
            model = self.images[name]
            image = self.ioctx.open_image(name)
            for snap in list(model.snaps):
                if snap in model.protected:
                    image.unprotect_snap(snap)
                image.remove_snap(snap)
            image.close()
            self.ioctx.remove_image(name)

    # --- helpers --------------------------------------------------------------------------------
    def _pick(self, data) -> tuple[Img, object]:
        name = data.draw(st.sampled_from(self.order), label="image")
        return self.images[name], self.open[name]

    @staticmethod
    def _range(data, size, most=20_000):
        offset = data.draw(st.integers(0, size), label="offset")
        length = data.draw(st.integers(0, most), label="length")
        return offset, min(length, size - offset)

    # --- data -----------------------------------------------------------------------------------
    @rule(data=st.data(), seed=st.integers(0, 1 << 30))
    def write(self, data, seed):
        model, image = self._pick(data)
        offset, n = self._range(data, len(model.data))
        payload = random.Random(seed).randbytes(n)
        assert image.write(offset, payload) == n
        model.data[offset:offset + n] = payload

    @rule(data=st.data(), zeroes=st.booleans())
    def discard(self, data, zeroes):
        model, image = self._pick(data)
        offset, n = self._range(data, len(model.data), 40_000)
        assert (image.write_zeroes if zeroes else image.discard)(offset, n) == n
        model.data[offset:offset + n] = bytes(n)

    @rule(data=st.data(), size=st.integers(1, MAX_SIZE))
    def resize(self, data, size):
        model, image = self._pick(data)
        image.resize(size)
        old = len(model.data)
        if size < old:
            del model.data[size:]
        else:
            model.data += bytes(size - old)

    # --- snapshots ------------------------------------------------------------------------------
    @rule(data=st.data(), snap=st.sampled_from(SNAP_NAMES))
    def create_snap(self, data, snap):
        model, image = self._pick(data)
        if snap in model.snaps:
            assert errno_of(image.create_snap, snap) == errno.EEXIST
            return
        image.create_snap(snap)
        model.snaps[snap] = bytes(model.data)

    @rule(data=st.data())
    def remove_snap(self, data):
        model, image = self._pick(data)
        if not model.snaps:
            assert errno_of(image.remove_snap, "s1") == errno.ENOENT
            return
        snap = data.draw(st.sampled_from(sorted(model.snaps)))
        if snap in model.protected:
            assert errno_of(image.remove_snap, snap) == errno.EBUSY
            if not self._has_children(model, snap):
                image.unprotect_snap(snap)
                model.protected.discard(snap)
            return
        image.remove_snap(snap)
        del model.snaps[snap]

    @rule(data=st.data())
    def rollback(self, data):
        model, image = self._pick(data)
        if not model.snaps:
            return
        snap = data.draw(st.sampled_from(sorted(model.snaps)))
        image.rollback_to_snap(snap)
        model.data[:] = model.snaps[snap]
        assert image.size() == len(model.data)

    def _has_children(self, model: Img, snap: str) -> bool:
        return any(self.images[c].parent == (model.name, snap) for c in model.children)

    # --- clones ---------------------------------------------------------------------------------
    @precondition(lambda self: len(self.order) < 4)
    @rule(data=st.data())
    def clone(self, data):
        model, image = self._pick(data)
        if not model.snaps:
            return
        snap = data.draw(st.sampled_from(sorted(model.snaps)))
        child = unique("cl")
        if snap not in model.protected:
            assert errno_of(self.ioctx.clone, model.name, snap, self.ioctx, child) == errno.EINVAL
            image.protect_snap(snap)
            model.protected.add(snap)
        self.ioctx.clone(model.name, snap, self.ioctx, child)
        self.images[child] = Img(child, bytearray(model.snaps[snap]), parent=(model.name, snap))
        model.children.add(child)
        self.open[child] = self.ioctx.open_image(child)
        self.order.append(child)
        assert self.open[child].parent_info() == (self.ioctx.pool, model.name, snap)
        assert errno_of(image.unprotect_snap, snap) == errno.EBUSY

    @rule(data=st.data())
    def flatten(self, data):
        model, image = self._pick(data)
        if model.parent is None:
            assert errno_of(image.flatten) == errno.EINVAL
            return
        seen = []
        image.flatten(lambda done, total: seen.append((done, total)) and 0)
        assert seen and seen[-1][0] == seen[-1][1]
        self.images[model.parent[0]].children.discard(model.name)
        model.parent = None
        assert errno_of(image.parent_info) == errno.ENOENT

    # --- checks ---------------------------------------------------------------------------------
    @invariant()
    def everything_matches(self):
        for name in getattr(self, "order", []):
            model, image = self.images[name], self.open[name]
            assert image.size() == len(model.data)
            assert image.read(0, len(model.data)) == bytes(model.data), name
            for snap, content in model.snaps.items():
                with self.ioctx.open_image(name, snapshot=snap) as view:
                    assert view.size() == len(content)
                    assert view.read(0, len(content)) == content, f"{name}@{snap}"
            listed = image.list_snaps()
            assert sorted(s["name"] for s in listed) == sorted(model.snaps)
            assert [s["id"] for s in listed] == sorted(s["id"] for s in listed)  # oldest first
            assert {s["name"] for s in listed if s["protected"]} == model.protected


def test_snapshots_match_model(model_daemon, monkeypatch):
    monkeypatch.setenv("CURVERBD_SOCKET", model_daemon.socket)
    cluster = Cluster()
    cluster.connect()
    try:
        pool = unique("snapmodel")
        cluster.create_pool(pool)
        ioctx = cluster.open_ioctx(pool)

        def machine():
            m = SnapshotModel()
            m.ioctx = ioctx
            return m
        run_state_machine_as_test(machine, settings=settings(
            max_examples=int(os.environ.get("SNAP_EXAMPLES", 12)), stateful_step_count=25, deadline=None,
            suppress_health_check=[HealthCheck.too_slow]))
    finally:
        cluster.shutdown()
