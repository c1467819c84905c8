import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from daemon import new_daemon, remove  # noqa: E402


@pytest.fixture
def daemon(monkeypatch):
    """A fresh curverbd-server on its own socket and data dir; CURVERBD_SOCKET points at it."""
    d = new_daemon().start()
    monkeypatch.setenv("CURVERBD_SOCKET", d.socket)
    yield d
    remove(d)


@pytest.fixture
def two_daemons(monkeypatch):
    """(fast, slow): one daemon with the C frame loop, one serving everything in Python."""
    monkeypatch.setenv("CURVERBD_FASTPATH", "1")
    fast = new_daemon().start()
    monkeypatch.setenv("CURVERBD_FASTPATH", "0")
    slow = new_daemon().start()
    monkeypatch.delenv("CURVERBD_FASTPATH")
    yield fast, slow
    remove(fast)
    remove(slow)
