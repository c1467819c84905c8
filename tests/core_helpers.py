"""Fixtures for the core tests: one real curverbd-server per test module, fresh pools per test."""
from __future__ import annotations

import itertools
import os
import random

import pytest

from daemon import new_daemon, remove

from curverbd.core import Cluster

_names = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}{os.getpid()}x{next(_names)}"


def pattern(length: int, seed: int) -> bytes:
    """Deterministic pseudo-random bytes."""
    return random.Random(seed).randbytes(length)


@pytest.fixture(scope="module")
def core_daemon():
    d = new_daemon().start()
    yield d
    remove(d)


@pytest.fixture
def cluster(core_daemon, monkeypatch):
    monkeypatch.setenv("CURVERBD_SOCKET", core_daemon.socket)
    c = Cluster()
    c.connect()
    yield c
    c.shutdown()


@pytest.fixture
def pool(cluster):
    name = unique("pool")
    cluster.create_pool(name)
    return name


@pytest.fixture
def ioctx(cluster, pool):
    io = cluster.open_ioctx(pool)
    yield io
    io.close()


@pytest.fixture
def new_image(ioctx):
    """new_image(size) -> an open Image of exactly ``size`` bytes, closed after the test."""
    opened = []

    def make(size: int, read_only: bool = False):
        name = unique("img")
        ioctx.create_image(name, size)
        img = ioctx.open_image(name, read_only=read_only)
        opened.append(img)
        return img
    yield make
    for img in opened:
        img.close()
