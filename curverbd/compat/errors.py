"""Exceptions shaped like Ceph's bindings, and the one place core errors become them.

Each module (rados, rbd) has its own ``Error`` root and one errno -> class
table; ``translated(table, fallback)`` turns that table into a class decorator
that wraps every public method, so a ``curverbd.errors.Error`` (errno +
message) leaves the module as the Ceph class for its errno.
"""
from __future__ import annotations

import builtins
import functools
import inspect


class CephError(Exception):
    """Base of ``rados.Error`` and ``rbd.Error``: a message and an optional errno, like Ceph's.

    ``prefix``: Ceph's rados classes wrap the message, e.g. "RADOS object not found (msg)".
    """
    prefix: str | None = None

    def __init__(self, message: str = "", errno: int | None = None) -> None:
        self._message = message
        super().__init__(f"{self.prefix} ({message})" if self.prefix else message)
        self.errno = errno

    def __str__(self) -> str:
        message = super().__str__()
        return message if self.errno is None else f"[errno {self.errno}] {message}"

    def __reduce__(self):
        # picklable across processes (multiprocessing, eventlet tpool)
        return (self.__class__, (self._message, self.errno))


def make_ex(table: dict[int, type], fallback: type, code: int, message: str) -> CephError:
    """The exception Ceph's bindings raise for ``code`` (sign ignored)."""
    code = abs(code)
    return table.get(code, fallback)(message, errno=code)


def _wrap(function, table: dict[int, type], fallback: type):
    @functools.wraps(function)
    def call(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except builtins.OSError as exc:  # curverbd.errors.Error and any OSError with an errno
            if exc.errno is None:
                raise
            raise make_ex(table, fallback, exc.errno, exc.strerror or str(exc)) from exc
    return call


KEPT_DUNDERS = ("__init__", "__enter__", "__exit__", "__iter__", "__next__")


def translated(table: dict[int, type], fallback: type):
    """Class decorator: every public method (and __init__/__enter__/__exit__) translates errors."""
    def decorate(cls: type) -> type:
        for name, member in list(vars(cls).items()):
            if name.startswith("_") and name not in KEPT_DUNDERS:
                continue
            if isinstance(member, staticmethod):
                setattr(cls, name, staticmethod(_wrap(member.__func__, table, fallback)))
            elif isinstance(member, classmethod):
                setattr(cls, name, classmethod(_wrap(member.__func__, table, fallback)))
            elif inspect.isfunction(member):
                setattr(cls, name, _wrap(member, table, fallback))
        return cls
    return decorate
