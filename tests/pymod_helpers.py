"""Fixtures and tools for the tests of the top-level ``rados`` / ``rbd`` modules.

``rados_conn`` is a connected ``rados.Rados`` on a fresh daemon; ``ioctx`` an open
pool. ``CallTracker`` records which functions of curverbd.compat actually ran
(a profile hook, no mocks), so a test can check that every name of the
OpenStack table was exercised.
"""
from __future__ import annotations

import inspect
import sys

import pytest

try:
    import rados
    import rbd
except ImportError:  # not installed (pip install -e .): use the sources in place
    import os
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "curverbd", "compat"))
    import rados
    import rbd

POOL = "pymod"


@pytest.fixture
def rados_conn(daemon):
    """A connected rados.Rados (client.admin) with pool POOL created."""
    conn = rados.Rados(rados_id="admin", conffile="")
    conn.connect()
    conn.create_pool(POOL)
    yield conn
    conn.shutdown()


@pytest.fixture
def ioctx(rados_conn):
    """An open rados.Ioctx on POOL."""
    with rados_conn.open_ioctx(POOL) as io:
        yield io


def resolve(dotted: str):
    """``"rbd.Image.read"`` -> the object it names (AttributeError if missing)."""
    module_name, *attrs = dotted.split(".")
    obj = {"rados": rados, "rbd": rbd}[module_name]
    for attr in attrs:
        obj = getattr(obj, attr)
    return obj


def code_of(obj):
    """The code object that runs when ``obj`` (a function, method or class) is called, or None."""
    if inspect.isclass(obj):
        obj = obj.__init__
    obj = inspect.unwrap(obj)
    return getattr(obj, "__code__", None)


class CallTracker:
    """Records the code objects of curverbd.compat that run on the current thread."""

    def __init__(self) -> None:
        self.seen: set = set()
        self._previous = None

    def _hook(self, frame, event, arg):
        if event == "call":
            self.seen.add(frame.f_code)

    def start(self) -> None:
        self._previous = sys.getprofile()
        sys.setprofile(self._hook)

    def stop(self) -> None:
        sys.setprofile(self._previous)

    def ran(self, dotted: str) -> bool:
        code = code_of(resolve(dotted))
        return code is not None and code in self.seen


def uncovered(names: list[str], tracker: CallTracker, raised: set[str]) -> list[str]:
    """Names neither run (callables) nor raised (exception classes) nor plain values checked elsewhere."""
    missing = []
    for name in names:
        obj = resolve(name)
        if inspect.isclass(obj) and issubclass(obj, BaseException):
            if name not in raised:
                missing.append(name)
        elif callable(obj) and code_of(obj) is not None:
            if not tracker.ran(name):
                missing.append(name)
    return missing


RAISED: set[str] = set()


def exported_name(cls: type) -> str:
    """``rados.X`` / ``rbd.X`` for a class exported by one of the modules."""
    for module in (rados, rbd):
        if getattr(module, cls.__name__, None) is cls:
            return f"{module.__name__}.{cls.__name__}"
    raise AssertionError(f"{cls!r} is exported by neither rados nor rbd")


class raises_exactly:
    """``with raises_exactly(rbd.ImageNotFound, errno.ENOENT):`` - the exact class (not a subclass),
    the errno if given, and a record that the class was seen raised by a real operation."""

    def __init__(self, cls: type, errno: int | None = None) -> None:
        self.cls = cls
        self.errno = errno
        self.value = None

    def __enter__(self) -> "raises_exactly":
        return self

    def __exit__(self, kind, value, tb) -> bool:
        assert value is not None, f"{self.cls.__name__} was not raised"
        assert type(value) is self.cls, f"expected exactly {self.cls!r}, got {type(value)!r}: {value}"
        if self.errno is not None:
            assert value.errno == self.errno, f"errno {value.errno} != {self.errno}: {value}"
        self.value = value
        name = exported_name(self.cls)
        RAISED.add(name)
        module = rados if name.startswith("rados.") else rbd
        for base in ("Error", "OSError"):  # the roots are seen through their subclasses
            if isinstance(value, getattr(module, base)):
                RAISED.add(f"{module.__name__}.{base}")
        return True
