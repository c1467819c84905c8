"""librados' object xattrs (rados_getxattr / setxattr / rmxattr / getxattrs), kept by the catalog next to
the object (CatalogObjects: one etcd key per xattr, removed with the object). One implementation for the
C ABI (capi/object_calls.py) and the Python ``rados`` module (compat/rados).

RADOS' rules: setting an xattr creates a missing object (empty) and moves its mtime; reading one of a
missing object is ENOENT and a missing xattr ENODATA; removing a missing xattr is fine (ENOENT only
without the object); names are at most 100 bytes (ENAMETOOLONG).
"""
from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from ..errors import Error

if TYPE_CHECKING:
    from .ioctx import IoCtx


def get_xattrs(io: "IoCtx", key: str, namespace: str = "") -> dict[str, bytes]:
    """{name: value} of the object's xattrs (ENOENT if there is no such object)."""
    return io._catalog.object_xattrs(io.pool, namespace, key)


def get_xattr(io: "IoCtx", key: str, name: str, namespace: str = "") -> bytes:
    """The value of xattr ``name``: ENOENT without the object, ENODATA without the xattr."""
    attrs = get_xattrs(io, key, namespace)
    if name not in attrs:
        raise Error(errno.ENODATA, f"object {io.pool}/{key}: no xattr {name!r}")
    return attrs[name]


def set_xattr(io: "IoCtx", key: str, name: str, value: bytes, namespace: str = "") -> None:
    io._catalog.set_object_xattr(io.pool, namespace, key, name, bytes(value))


def rm_xattr(io: "IoCtx", key: str, name: str, namespace: str = "") -> None:
    io._catalog.set_object_xattr(io.pool, namespace, key, name, None)
