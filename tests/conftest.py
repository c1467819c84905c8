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
