"""Integer handles naming the core objects (Cluster, IoCtx, Image) held for C callers."""
from __future__ import annotations

import errno
import itertools
import threading
import weakref
from typing import Any

from ..errors import Error


class Handles:
    """A thread-safe table handle -> object; handles are never reused."""

    def __init__(self) -> None:
        self._objects: dict[int, Any] = {}
        self._next = itertools.count(1)
        self._lock = threading.Lock()

    def add(self, obj: Any, weak: bool = False) -> int:
        """A new handle for ``obj``; ``weak``: it does not keep ``obj`` alive (until ``hold``)."""
        with self._lock:
            handle = next(self._next)
            self._objects[handle] = weakref.ref(obj) if weak else obj
            return handle

    def hold(self, handle: int) -> None:
        """Keep the object behind a weak handle alive (a C caller holds it until it lets go)."""
        with self._lock:
            entry = self._objects.get(handle)
            if isinstance(entry, weakref.ref) and entry() is not None:
                self._objects[handle] = entry()

    def drop(self, handle: int) -> None:
        with self._lock:
            self._objects.pop(handle, None)

    def get(self, handle: int, kind: type) -> Any:
        """The object behind ``handle``; Error(EINVAL) if there is none of that kind."""
        obj = self._objects.get(handle)
        if isinstance(obj, weakref.ref):
            obj = obj()
        if not isinstance(obj, kind):
            raise Error(errno.EINVAL, f"handle {handle} is not an open {kind.__name__}")
        return obj

    def pop(self, handle: int, kind: type) -> Any:
        """The object behind ``handle``, which names nothing from now on."""
        obj = self.get(handle, kind)
        self.drop(handle)
        return obj


HANDLES = Handles()
