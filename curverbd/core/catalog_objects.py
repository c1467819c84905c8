"""A pool's small rados objects, kept in the RBD state home (one etcd value each, at most 1 MiB)."""
from __future__ import annotations

import copy
import errno
import json
from typing import Any, Callable

from ..curve.etcd import Compare, Op
from ..curve.rbd_state import CAS_ATTEMPTS, MAX_OBJECT, _key, _split_object, object_value
from ..errors import Error
from .catalog_base import CatalogBase
from .object_ops import ObjectState


class CatalogObjects(CatalogBase):
    """write / read / stat / remove / list of a pool's objects."""

    def _pool_id(self, pool: str) -> int:
        return self._pool_info(pool)["id"]

    def write_object(self, pool: str, namespace: str, key: str, data: bytes, offset: int = 0,
                     truncate: bool = False, append: bool = False) -> None:
        _check_object(pool, namespace, key)
        if not isinstance(offset, int) or offset < 0:
            raise Error(errno.EINVAL, f"object {pool}/{key}: offset {offset!r}")

        def change(old: bytes | None) -> bytes:
            old = old or b""
            at = len(old) if append else offset
            if at > len(old):
                old = old + bytes(at - len(old))
            new = old[:at] + data
            return new if truncate else new + old[at + len(data):]
        self.state.object_update(self._pool_id(pool), namespace, key, change, _object_name(pool, namespace, key))

    def read_object(self, pool: str, namespace: str, key: str, offset: int = 0,
                    length: int | None = None) -> bytes:
        if not isinstance(offset, int) or offset < 0 or (length is not None and (not isinstance(length, int)
                                                                                 or length < 0)):
            raise Error(errno.EINVAL, f"object {_object_name(pool, namespace, key)}: offset {offset!r} or "
                                      f"length {length!r} is negative")
        data = self._object(pool, namespace, key)[0]
        return data[offset:] if length is None else data[offset:offset + length]

    def stat_object(self, pool: str, namespace: str, key: str) -> dict:
        data, mtime = self._object(pool, namespace, key)
        return {"size": len(data), "mtime": mtime}

    def remove_object(self, pool: str, namespace: str, key: str) -> None:
        """Remove the object, its xattrs and its omap, in one transaction."""
        _check_object(pool, namespace, key)
        pool_id = self._pool_id(pool)
        deleted = self.state.etcd.txn([], [Op.delete(self.state._object_key(pool_id, namespace, key)),
                                           Op.delete_prefix(_xattr_prefix(pool_id, namespace, key)),
                                           Op.delete_prefix(_omap_prefix(pool_id, namespace, key))])[1]
        if not deleted[0]:
            raise Error(errno.ENOENT, f"object {_object_name(pool, namespace, key)} does not exist")

    # --- object xattrs: one etcd key each, xattr/<pool dir id>/<ns>\0<key>\0<name> (raw value) -------
    def object_xattrs(self, pool: str, namespace: str, key: str) -> dict[str, bytes]:
        """{name: value} of the object's xattrs; ENOENT if there is no such object."""
        _check_object(pool, namespace, key)
        pool_id = self._pool_id(pool)
        prefix = _xattr_prefix(pool_id, namespace, key)
        found, attrs = self.state.etcd.txn([], [Op.get(self.state._object_key(pool_id, namespace, key)),
                                                Op.get_prefix(prefix)])[1]
        if found is None:
            raise Error(errno.ENOENT, f"object {_object_name(pool, namespace, key)} does not exist")
        return {kv.key[len(prefix):].decode(): kv.value for kv in attrs}

    def set_object_xattr(self, pool: str, namespace: str, key: str, name: str, value: bytes | None) -> None:
        """Set xattr ``name`` (creating an empty object if there is none, as RADOS does), or remove it
        (``value`` None: ENOENT if there is no object; a missing xattr is fine, as in RADOS)."""
        _check_object(pool, namespace, key)
        _check_xattr(pool, namespace, key, name)
        pool_id = self._pool_id(pool)
        okey, xkey = self.state._object_key(pool_id, namespace, key), _xattr_prefix(pool_id, namespace, key) + \
            name.encode()
        if value is None:
            if not self.state.etcd.txn([Compare.exists(okey)], [Op.delete(xkey)])[0]:
                raise Error(errno.ENOENT, f"object {_object_name(pool, namespace, key)} does not exist")
            return
        for _ in range(CAS_ATTEMPTS):
            # the object's mtime moves (created if missing), then the xattr lands unless it went meanwhile
            self.state.object_update(pool_id, namespace, key, lambda old: old or b"",
                                     _object_name(pool, namespace, key))
            if self.state.etcd.txn([Compare.exists(okey)], [Op.put(xkey, bytes(value))])[0]:
                return
        raise Error(errno.EAGAIN, f"object {_object_name(pool, namespace, key)}: removed while setting {name!r}")

    # --- whole-object state and compound operations (core/object_ops.py) ------------------------
    def _read_state(self, pool_id: int, namespace: str, key: str) -> tuple["ObjectState", Any]:
        okey = self.state._object_key(pool_id, namespace, key)
        xprefix, oprefix = _xattr_prefix(pool_id, namespace, key), _omap_prefix(pool_id, namespace, key)
        found, attrs, omap = self.state.etcd.txn([], [Op.get(okey), Op.get_prefix(xprefix),
                                                      Op.get_prefix(oprefix)])[1]
        st = ObjectState()
        if found is not None:
            st.data, st.mtime = _split_object(found.value)
            st.exists, st.version = True, found.mod_revision
            st.xattrs = {kv.key[len(xprefix):].decode(): kv.value for kv in attrs}
            st.omap = {kv.key[len(oprefix):]: kv.value for kv in omap}
        return st, found

    def object_state(self, pool: str, namespace: str, key: str) -> "ObjectState":
        """The object's bytes, xattrs, omap and revision, read at one etcd revision."""
        _check_object(pool, namespace, key)
        return self._read_state(self._pool_id(pool), namespace, key)[0]

    def operate_object(self, pool: str, namespace: str, key: str,
                       change: Callable[["ObjectState"], "ObjectState | None"]) -> None:
        """Replace the object's whole state by ``change(state)`` (None: leave it) in one etcd
        transaction guarded by the object record's revision; retried on a concurrent change. Every
        path that touches an object's xattrs or omap rewrites its record, so the one guard serialises."""
        _check_object(pool, namespace, key)
        pool_id = self._pool_id(pool)
        name = _object_name(pool, namespace, key)
        okey = self.state._object_key(pool_id, namespace, key)
        xprefix, oprefix = _xattr_prefix(pool_id, namespace, key), _omap_prefix(pool_id, namespace, key)
        for _ in range(CAS_ATTEMPTS):
            old, found = self._read_state(pool_id, namespace, key)
            new = change(copy.deepcopy(old))
            if new is None:
                return
            for xname in new.xattrs:
                _check_xattr(pool, namespace, key, xname)
            if len(new.data) > MAX_OBJECT:
                raise Error(errno.EFBIG, f"object {name}: {len(new.data)} bytes exceed the {MAX_OBJECT} byte "
                                         "limit of an object kept in etcd")
            ops = [Op.put(okey, object_value(new.data, new.mtime))] if new.exists else [Op.delete(okey)]
            for prefix, before, after, enc in ((xprefix, old.xattrs, new.xattrs if new.exists else {}, str.encode),
                                               (oprefix, old.omap, new.omap if new.exists else {}, bytes)):
                ops += [Op.delete(prefix + enc(k)) for k in before if k not in after]
                ops += [Op.put(prefix + enc(k), v) for k, v in after.items() if before.get(k) != v]
            guard = Compare.mod_revision(okey, "=", found.mod_revision) if found else Compare.absent(okey)
            if self.state.etcd.txn([guard], ops)[0]:
                return
        raise Error(errno.EAGAIN, f"object {name}: {CAS_ATTEMPTS} concurrent updates in a row")

    def list_objects(self, pool: str, namespace: str | None = None) -> list[tuple[str, str]]:
        return self.state.object_list(self._pool_id(pool), namespace)

    # --- the pool's application tags (librados' rados_application_*; Ceph keeps them in the OSD map) ---
    def pool_applications(self, pool: str) -> dict[str, dict[str, str]]:
        """{application: {key: value}} of the pool ({} if none was enabled)."""
        kv = self.state.etcd.get(_key("app", self._pool_id(pool)))
        return {} if kv is None else json.loads(kv.value)

    def update_pool_applications(self, pool: str, change: Callable[[dict], None]) -> None:
        """Apply ``change`` (which edits the map in place, or raises) atomically: etcd key
        ``app/<pool dir id>`` by compare-and-swap."""
        akey = _key("app", self._pool_id(pool))
        for _ in range(CAS_ATTEMPTS):
            kv = self.state.etcd.get(akey)
            apps = {} if kv is None else json.loads(kv.value)
            change(apps)
            value = json.dumps(apps, separators=(",", ":"), sort_keys=True).encode()
            guard = Compare.mod_revision(akey, "=", kv.mod_revision) if kv else Compare.absent(akey)
            if self.state.etcd.txn([guard], [Op.put(akey, value)])[0]:
                return
        raise Error(errno.EAGAIN, f"pool {pool}: {CAS_ATTEMPTS} concurrent application updates in a row")

    def _object(self, pool: str, namespace: str, key: str) -> tuple[bytes, float]:
        _check_object(pool, namespace, key)
        found = self.state.object_get(self._pool_id(pool), namespace, key)
        if found is None:
            raise Error(errno.ENOENT, f"object {_object_name(pool, namespace, key)} does not exist")
        return found


MAX_KEY_BYTES = 2048            # Ceph's osd_max_object_name_len
MAX_NAMESPACE_BYTES = 256       # Ceph's osd_max_object_namespace_len


def _object_name(pool: str, namespace: str, key: str) -> str:
    return f"{pool}/{namespace + '/' if namespace else ''}{key}"


MAX_XATTR_NAME_BYTES = 100     # Ceph's osd_max_attr_name_len


def _xattr_prefix(pool_id: int, namespace: str, key: str) -> bytes:
    return _key("xattr", pool_id, namespace.encode() + b"\0" + key.encode() + b"\0")


def _omap_prefix(pool_id: int, namespace: str, key: str) -> bytes:
    return _key("omap", pool_id, namespace.encode() + b"\0" + key.encode() + b"\0")


def _check_xattr(pool: str, namespace: str, key: str, name: Any) -> None:
    if not isinstance(name, str) or "\0" in name:
        raise Error(errno.EINVAL, f"object {_object_name(pool, namespace, key)}: xattr name {name!r}")
    if len(name.encode()) > MAX_XATTR_NAME_BYTES:
        raise Error(errno.ENAMETOOLONG, f"object {_object_name(pool, namespace, key)}: xattr name above "
                                        f"{MAX_XATTR_NAME_BYTES} bytes")


def _check_object(pool: str, namespace: Any, key: Any) -> None:
    if not isinstance(namespace, str) or not isinstance(key, str):
        raise Error(errno.EINVAL, f"pool {pool!r}: object namespace and key must be strings")
    if not key or "\0" in key or "\0" in namespace:
        raise Error(errno.EINVAL, f"object {_object_name(pool, namespace, key)!r}: empty key or a NUL in the name")
    if len(key.encode()) > MAX_KEY_BYTES or len(namespace.encode()) > MAX_NAMESPACE_BYTES:
        raise Error(errno.ENAMETOOLONG, f"object {_object_name(pool, namespace[:40], key[:40])}...: key above "
                                        f"{MAX_KEY_BYTES} or namespace above {MAX_NAMESPACE_BYTES} bytes")
