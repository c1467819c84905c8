"""rados.Ioctx (a pool) and rados.Object (one small object in it)."""
from __future__ import annotations

import time

from curverbd.core import rados_pools

from .errors import IoctxStateError, ObjectStateError, rados_errors
from .pacific import IoctxExtras, ObjectExtras

_OBJECT_READ_DEFAULT = 1024 * 1024
ALL_NSPACES = "\x01"  # LIBRADOS_ALL_NSPACES: list_objects of every namespace


@rados_errors
class Ioctx(IoctxExtras):
    """An I/O context on one pool: rados objects here, and the handle rbd needs for images."""

    def __init__(self, rados, name: str) -> None:
        if not isinstance(name, str):
            raise TypeError("the pool name must be a string")
        self.rados = rados
        self.name = name
        self.nspace = ""
        self.state = "open"
        self._io = rados._core().open_ioctx(name)   # ObjectNotFound if there is no such pool

    def __repr__(self) -> str:
        return f"<rados.Ioctx {self.name} {self.state}>"

    def __enter__(self) -> "Ioctx":
        return self

    def __exit__(self, *exc) -> bool:
        self.close()
        return False

    def require_ioctx_open(self) -> None:
        """IoctxStateError once the Ioctx is closed."""
        if self.state != "open":
            raise IoctxStateError(f"The pool is {self.state}")

    def close(self) -> None:
        """Release the I/O context (images opened through it stay usable until closed)."""
        if self.state == "open":
            self._io.close()
            self.state = "closed"

    def _core_ioctx(self):
        """The core IoCtx of this process (re-opened after the Rados handle reconnected in a fork child)."""
        self.require_ioctx_open()
        cluster = self.rados._core()
        if self._io.cluster is not cluster:
            self._io = cluster.open_ioctx(self.name)
        return self._io

    # --- pool --------------------------------------------------------------------------
    def get_pool_name(self) -> str:
        """The pool's name."""
        return self.name

    def get_pool_id(self) -> int:
        """The pool's id (stable, derived from its name)."""
        return rados_pools.ioctx_pool_id(self._core_ioctx())

    def set_namespace(self, nspace: str | None) -> None:
        """Objects named from now on live in namespace ``nspace`` ("" or None: the default one)."""
        self.require_ioctx_open()
        if nspace is not None and not isinstance(nspace, str):
            raise TypeError("nspace must be a string")
        self.nspace = nspace or ""

    def get_namespace(self) -> str:
        """The namespace objects are named in ("" = the default one)."""
        return self.nspace

    def get_stats(self) -> dict:
        """Pool usage: num_bytes, num_kb, num_objects (the pool's images and rados objects)."""
        stat = self._core_ioctx().stat()
        used, count = stat["bytes_used"], stat["images"] + stat["objects"]
        return {"num_bytes": used, "num_kb": (used + 1023) // 1024, "num_objects": count,
                "num_object_clones": 0, "num_object_copies": 0, "num_objects_missing_on_primary": 0,
                "num_objects_unfound": 0, "num_objects_degraded": 0,
                "num_rd": 0, "num_rd_kb": 0, "num_wr": 0, "num_wr_kb": 0}

    # --- objects (the core keeps them in the catalog) ---------------------------------
    def write(self, key: str, data: bytes, offset: int = 0) -> int:
        """Write ``data`` at ``offset`` of object ``key`` (created if missing); 0."""
        self._core_ioctx().write_object(key, bytes(data), offset, self.nspace)
        return 0

    def write_full(self, key: str, data: bytes) -> int:
        """Replace the whole object ``key`` with ``data``; 0."""
        self._core_ioctx().write_full_object(key, bytes(data), self.nspace)
        return 0

    def append(self, key: str, data: bytes) -> int:
        """Add ``data`` at the end of object ``key``; 0."""
        self._core_ioctx().append_object(key, bytes(data), self.nspace)
        return 0

    def read(self, key: str, length: int = 8192, offset: int = 0) -> bytes:
        """Up to ``length`` bytes at ``offset``; ObjectNotFound if there is no such object."""
        return self._core_ioctx().read_object(key, length, offset, self.nspace)

    def stat(self, key: str) -> tuple[int, time.struct_time]:
        """(size, mtime as time.localtime)."""
        stat = self._core_ioctx().stat_object(key, self.nspace)
        return stat["size"], time.localtime(stat["mtime"])

    def trunc(self, key: str, size: int) -> int:
        """Cut or zero-extend object ``key`` to ``size`` bytes; 0."""
        self._core_ioctx().truncate_object(key, size, self.nspace)
        return 0

    def remove_object(self, key: str) -> bool:
        """Delete object ``key``; True (ObjectNotFound if missing)."""
        self._core_ioctx().remove_object(key, self.nspace)
        return True

    def list_objects(self):
        """The objects of the current namespace (every one for LIBRADOS_ALL_NSPACES), as rados.Object."""
        nspace = None if self.nspace == ALL_NSPACES else self.nspace
        return iter([Object(self, key, nspace=ns) for ns, key in self._core_ioctx().list_objects(nspace)])


@rados_errors
class Object(ObjectExtras):
    """One rados object with a read/write position, as ``rados.Object(ioctx, key)``."""

    def __init__(self, ioctx: Ioctx, key: str, locator_key: str | None = None, nspace: str | None = None) -> None:
        self.ioctx = ioctx
        self.key = key
        self.nspace = ioctx.nspace if nspace is None else nspace
        self.offset = 0
        self.state = "exists"

    def __repr__(self) -> str:
        return f"rados.Object(ioctx={self.ioctx!r}, key={self.key!r}, nspace={self.nspace!r})"

    def require_object_exists(self) -> None:
        """ObjectStateError after remove()."""
        if self.state != "exists":
            raise ObjectStateError(f"The object is {self.state}")

    def read(self, length: int = _OBJECT_READ_DEFAULT) -> bytes:
        """Read from the current position and advance it."""
        self.require_object_exists()
        data = self.ioctx._core_ioctx().read_object(self.key, length, self.offset, self.nspace)
        self.offset += len(data)
        return data

    def write(self, string_to_write: bytes) -> None:
        """Write at the current position and advance it."""
        self.require_object_exists()
        data = bytes(string_to_write)
        self.ioctx._core_ioctx().write_object(self.key, data, self.offset, self.nspace)
        self.offset += len(data)

    def remove(self) -> None:
        """Delete the object (ObjectNotFound if missing); it can no longer be used."""
        self.require_object_exists()
        self.ioctx._core_ioctx().remove_object(self.key, self.nspace)
        self.state = "removed"

    def stat(self) -> tuple[int, time.struct_time]:
        """(size, mtime as time.localtime) of the object."""
        self.require_object_exists()
        stat = self.ioctx._core_ioctx().stat_object(self.key, self.nspace)
        return stat["size"], time.localtime(stat["mtime"])

    def seek(self, position: int) -> None:
        """Move the read/write position to ``position``."""
        self.require_object_exists()
        self.offset = position
