import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from daemon import new_daemon, remove  # noqa: E402
# The C ABI fixtures, registered here once: a module importing them would get its own session
# instance, i.e. its own build of the libraries (and two copies of them in one test process).
from capi_helpers import capi_libs, client_log, rbd_env  # noqa: E402,F401


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
