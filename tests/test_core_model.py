"""Random unaligned I/O, resizes and concurrent overlapping writes against a bytearray model.

Every read is compared byte for byte. Concurrent overlapping operations have
no fixed order, so for those each byte must equal the byte of one of the
operations covering it, and a byte covered by a single operation must be
exactly that operation's byte: a lost read-modify-write shows up as an old
byte surviving inside an operation's range.
"""
from __future__ import annotations

import errno
import os
import random
import subprocess
import sys
import threading

import pytest
from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import (RuleBasedStateMachine, initialize, invariant, precondition, rule,
                                 run_state_machine_as_test)

from core_helpers import unique
from daemon import new_daemon, remove

from curverbd.core import Cluster
from curverbd.errors import Error

MAX_SIZE = 96 << 10   # small images: the interesting cases are the edges of 4 KiB blocks


@pytest.fixture(scope="module", params=["4096", "512"])
def model_daemon(request):
    d = new_daemon("--block-size", request.param).start()
    yield d
    remove(d)


class ImageModel(RuleBasedStateMachine):
    """A Curve-backed image and the bytearray it must equal."""
    ioctx = None  # set by the test's factory

    @initialize(size=st.integers(1, MAX_SIZE))
    def create(self, size):
        self.name = unique("m")
        self.ioctx.create_image(self.name, size)
        self.image = self.ioctx.open_image(self.name)
        self.model = bytearray(size)

    def teardown(self):
        if hasattr(self, "image"):
            self.image.close()
            self.ioctx.remove_image(self.name)

    def _clip(self, offset, length):
        """librbd's clip_io: bytes the request covers, or None where it is EINVAL (starting at or past the
        end; a zero-length request is always valid)."""
        if length == 0:
            return 0
        return None if offset >= len(self.model) else min(length, len(self.model) - offset)

    @staticmethod
    def _done(n, call, *args):
        """``call(*args)``'s result, or -EINVAL where clip_io refuses (n is None)."""
        if n is None:
            with pytest.raises(Error) as exc:
                call(*args)
            assert exc.value.errno == errno.EINVAL
            return -errno.EINVAL
        return call(*args)

    @rule(data=st.data(), seed=st.integers(0, 1 << 30))
    def write(self, data, seed):
        offset = data.draw(st.integers(0, len(self.model)))
        payload = random.Random(seed).randbytes(data.draw(st.integers(0, 20_000)))
        n = self._clip(offset, len(payload))
        assert self._done(n, self.image.write, offset, payload) == (n if n is not None else -errno.EINVAL)
        if n:
            self.model[offset:offset + n] = payload[:n]

    @rule(data=st.data(), zeroes=st.booleans())
    def discard(self, data, zeroes):
        offset = data.draw(st.integers(0, len(self.model)))
        length = data.draw(st.integers(0, 20_000))
        n = self._clip(offset, length)
        call = self.image.write_zeroes if zeroes else self.image.discard
        assert self._done(n, call, offset, length) == (n if n is not None else -errno.EINVAL)
        if n:
            self.model[offset:offset + n] = bytes(n)

    @rule(data=st.data())
    def read(self, data):
        offset = data.draw(st.integers(0, len(self.model)))
        length = data.draw(st.integers(0, 20_000))
        n = self._clip(offset, length)
        expected = bytes(self.model[offset:offset + n]) if n is not None else -errno.EINVAL
        assert self._done(n, self.image.read, offset, length) == expected

    @rule(size=st.integers(0, MAX_SIZE))
    def resize(self, size):
        self.image.resize(size)
        old = len(self.model)
        if size < old:
            del self.model[size:]
        else:
            self.model += bytes(size - old)
        assert self.image.size() == size

    @precondition(lambda self: len(self.model) > 0)
    @rule(data=st.data(), count=st.integers(2, 5))
    def concurrent(self, data, count):
        """Several threads write (or zero) overlapping ranges at the same moment."""
        size = len(self.model)
        ops = []
        for i in range(count):
            offset = data.draw(st.integers(0, size - 1), label=f"offset{i}")
            length = data.draw(st.integers(1, 12_000), label=f"length{i}")
            zero = data.draw(st.booleans(), label=f"zero{i}")
            ops.append((offset, min(length, size - offset), 0 if zero else i + 1))
        barrier = threading.Barrier(count)
        errors = []

        def run(offset, length, value):
            barrier.wait()
            try:
                if value:
                    self.image.write(offset, bytes([value]) * length)
                else:
                    self.image.write_zeroes(offset, length)
            except Exception as exc:  # reported below, in the test's thread
                errors.append(exc)
        threads = [threading.Thread(target=run, args=op) for op in ops]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        got = self.image.read(0, size)
        for pos in range(size):
            covering = [value for offset, length, value in ops if offset <= pos < offset + length]
            if not covering:
                assert got[pos] == self.model[pos], f"byte {pos} outside every write changed"
            elif len(covering) == 1:
                assert got[pos] == covering[0], f"byte {pos} lost the only write covering it"
            else:
                assert got[pos] in covering, f"byte {pos} is {got[pos]}, not one of {covering}"
        self.model[:] = got

    @precondition(lambda self: len(self.model) > 0)
    @rule(data=st.data())
    def aio_burst(self, data):
        """A queue of aio writes and reads from one thread; completions in any order."""
        size = len(self.model)
        comps = []
        for i in range(data.draw(st.integers(1, 16))):
            offset = data.draw(st.integers(0, size - 1))
            payload = random.Random(i * 7919 + offset).randbytes(data.draw(st.integers(1, 9000)))
            n = self._clip(offset, len(payload))
            comps.append((self.image.aio_write(offset, payload), n))
            self.model[offset:offset + n] = payload[:n]  # overlapping aio writes land in order
        assert [c.wait() for c, _ in comps] == [0] * len(comps)   # librbd: aio writes complete with 0
        assert self.image.aio_flush().wait() == 0

    @invariant()
    def size_matches(self):
        if hasattr(self, "image"):
            assert self.image.size() == len(self.model)


def test_image_matches_model(model_daemon, monkeypatch):
    monkeypatch.setenv("CURVERBD_SOCKET", model_daemon.socket)
    cluster = Cluster()
    cluster.connect()
    try:
        pool = unique("model")
        cluster.create_pool(pool)
        ioctx = cluster.open_ioctx(pool)

        def machine():
            m = ImageModel()
            m.ioctx = ioctx
            return m
        run_state_machine_as_test(machine, settings=settings(
            max_examples=40, stateful_step_count=20, deadline=None,
            suppress_health_check=[HealthCheck.too_slow]))
    finally:
        cluster.shutdown()


def test_the_model_fails_without_the_range_lock():
    """The model catches what the engine's range lock prevents: with the lock disabled (a test knob of
    shim_c/rangelock.c), concurrent overlapping unaligned writes lose bytes and this model fails."""
    env = dict(os.environ, CURVERBD_TEST_DISABLE_RANGE_LOCK="1")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                           f"{__file__}::test_image_matches_model[4096]", "--hypothesis-seed=1"],
                          env=env, capture_output=True, text=True, timeout=600, cwd=os.path.dirname(__file__))
    assert proc.returncode == 1, proc.stdout[-2000:]
    assert "lost the only write covering it" in proc.stdout or "not one of" in proc.stdout, proc.stdout[-2000:]
