"""Integer handles naming the core objects (Cluster, IoCtx, Image) held for C callers."""
from __future__ import annotations

import errno
import itertools
import threading
from typing import Any

from ..errors import Error


class Handles:
    """A thread-safe table handle -> object; handles are never reused."""

    def __init__(self) -> None:
        self._objects: dict[int, Any] = {}
        self._next = itertools.count(1)
        self._lock = threading.Lock()

    def add(self, obj: Any) -> int:
        with self._lock:
            handle = next(self._next)
            self._objects[handle] = obj
            return handle

    def get(self, handle: int, kind: type) -> Any:
        """The object behind ``handle``; Error(EINVAL) if there is none of that kind."""
        obj = self._objects.get(handle)
        if not isinstance(obj, kind):
            raise Error(errno.EINVAL, f"handle {handle} is not an open {kind.__name__}")
        return obj

    def pop(self, handle: int, kind: type) -> Any:
        obj = self.get(handle, kind)
        with self._lock:
            self._objects.pop(handle, None)
        return obj


HANDLES = Handles()
