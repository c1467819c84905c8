"""The catalog's small rados objects: byte strings named (pool, namespace, key), kept in the database.

What OpenStack's rados users store (cinder-backup metadata, glance locks) is
small, so an object is one row (a BLOB), capped at MAX_OBJECT bytes (EFBIG
beyond). The pool's owner owns its objects. Every change is one SQLite
transaction, so a partial write (read, splice, store) is atomic: two clients
writing different parts of one object both land.
"""
from __future__ import annotations

import base64
import binascii
import errno
import time

from ..errors import Error
from .catalog import Catalog, _int_arg, _str_arg

MAX_OBJECT = 16 << 20         # bytes per object
MAX_KEY_BYTES = 2048          # Ceph's osd_max_object_name_len
MAX_NAMESPACE_BYTES = 256     # Ceph's osd_max_object_namespace_len


def object_name(pool: str, namespace: str, key: str) -> str:
    """How messages name an object: ``pool/key`` or ``pool/namespace/key``."""
    return f"object {pool}/{namespace + '/' if namespace else ''}{key}"


def _check_names(pool: str, namespace, key) -> None:
    _str_arg(namespace, f"pool {pool!r}: namespace")
    _str_arg(key, f"pool {pool!r}: object key")
    if not key or "\0" in key or "\0" in namespace:
        raise Error(errno.EINVAL, f"{object_name(pool, namespace, key)!r}: empty key or a NUL in the name")
    if len(key.encode()) > MAX_KEY_BYTES or len(namespace.encode()) > MAX_NAMESPACE_BYTES:
        raise Error(errno.ENAMETOOLONG, f"{object_name(pool, namespace[:40], key[:40])}...: key above "
                                        f"{MAX_KEY_BYTES} or namespace above {MAX_NAMESPACE_BYTES} bytes")


def _decode_data(data, name: str) -> bytes:
    try:
        return base64.b64decode(_str_arg(data, f"{name}: data"), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Error(errno.EINVAL, f"{name}: data is not base64 ({exc})") from exc


class ObjectCatalog:
    """WriteObject / ReadObject / StatObject / RemoveObject / ListObjects."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.db = catalog.db

    def _row(self, owner: str, pool: str, namespace: str, key: str) -> tuple[bytes, float] | None:
        """(data, mtime) of the object, None if there is none (ENOENT/EPERM for the pool)."""
        self.catalog._pool(owner, pool)
        _check_names(pool, namespace, key)
        rows = self.db.query("SELECT data, mtime FROM rbd_objects WHERE pool=? AND namespace=? AND key=?",
                             (pool, namespace, key))
        return (bytes(rows[0][0]), rows[0][1]) if rows else None

    def _existing(self, owner: str, pool: str, namespace: str, key: str) -> tuple[bytes, float]:
        row = self._row(owner, pool, namespace, key)
        if row is None:
            raise Error(errno.ENOENT, f"{object_name(pool, namespace, key)}: no such object")
        return row

    def write_object(self, owner: str, pool: str, key: str, data: str, namespace: str = "", offset: int = 0,
                     truncate: bool = False, append: bool = False) -> dict:
        name = object_name(pool, namespace, key)
        payload = _decode_data(data, name)
        offset = _int_arg(offset, f"{name}: offset")
        if not isinstance(truncate, bool) or not isinstance(append, bool):
            raise Error(errno.EINVAL, f"{name}: truncate and append must be true or false")
        with self.db.transaction() as conn:
            row = self._row(owner, pool, namespace, key)
            old = row[0] if row else b""
            if append:
                offset = len(old)
            end = offset + len(payload)
            if end > MAX_OBJECT:
                raise Error(errno.EFBIG, f"{name}: {end} bytes is above the {MAX_OBJECT}-byte object limit")
            # a gap before offset reads as zeros; truncate ends the object right after the data
            new = old[:offset].ljust(offset, b"\0") + payload + (b"" if truncate else old[end:])
            conn.execute("INSERT OR REPLACE INTO rbd_objects VALUES (?, ?, ?, ?, ?)",
                         (pool, namespace, key, new, time.time()))
        return {}

    def read_object(self, owner: str, pool: str, key: str, namespace: str = "", offset: int = 0,
                    length: int | None = None) -> dict:
        name = object_name(pool, namespace, key)
        offset = _int_arg(offset, f"{name}: offset")
        if length is not None:
            _int_arg(length, f"{name}: length")
        with self.db.lock:
            data = self._existing(owner, pool, namespace, key)[0]
        end = len(data) if length is None else offset + length
        return {"data": base64.b64encode(data[offset:end]).decode()}

    def stat_object(self, owner: str, pool: str, key: str, namespace: str = "") -> dict:
        with self.db.lock:
            data, mtime = self._existing(owner, pool, namespace, key)
        return {"size": len(data), "mtime": mtime}

    def remove_object(self, owner: str, pool: str, key: str, namespace: str = "") -> dict:
        with self.db.transaction() as conn:
            self._existing(owner, pool, namespace, key)
            conn.execute("DELETE FROM rbd_objects WHERE pool=? AND namespace=? AND key=?", (pool, namespace, key))
        return {}

    def list_objects(self, owner: str, pool: str, namespace: str | None = None) -> dict:
        with self.db.lock:
            self.catalog._pool(owner, pool)
            if namespace is None:
                rows = self.db.query("SELECT namespace, key FROM rbd_objects WHERE pool=? ORDER BY namespace, key",
                                     (pool,))
            else:
                rows = self.db.query("SELECT namespace, key FROM rbd_objects WHERE pool=? AND namespace=? "
                                     "ORDER BY key", (pool, _str_arg(namespace, f"pool {pool!r}: namespace")))
        return {"objects": [{"namespace": ns, "key": key} for ns, key in rows]}
