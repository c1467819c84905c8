"""Callbacks behind Pacific's librbd extras (shim_c/rbd_extras.c, shim_c/rbd_pool_extras.c): snapshots by
id and the snapshot limit, timestamps, overlap, metadata listing, sparsify, deep copy, advisory and
exclusive locks, opening by id; pool metadata and statistics, feature names, the trash purge, the
client instance id; snapshot namespaces, the group, the object map and the data pool of an image
(core/image_extras.py), the pool's config, the trash restore. Each is one call of the core
(core/image.py, core/advisory_locks.py, core/image_extras.py, core/pool_meta.py, core/ioctx.py)."""
from __future__ import annotations

import errno

from ..core import Cluster, Image, IoCtx, advisory_locks, image_extras, pool_meta
from ..errors import Error
from .externs import register as _register, set_blob, strings, text
from .handles import HANDLES


def _progress(ffi, cb, arg):
    """A core progress callback calling the C one (None for NULL)."""
    if cb == ffi.NULL:
        return None
    return lambda done, total: cb(done, total, arg)


def register(ffi, lib) -> None:
    advisory = {lib.CRBD_LOCK_EXCLUSIVE: lambda img, cookie, other: advisory_locks.lock(img, True, cookie),
                lib.CRBD_LOCK_SHARED: lambda img, cookie, tag: advisory_locks.lock(img, False, cookie, tag),
                lib.CRBD_UNLOCK: lambda img, cookie, other: advisory_locks.unlock(img, cookie),
                lib.CRBD_BREAK_LOCK: lambda img, cookie, client: advisory_locks.unlock(img, cookie, client=client)}
    managed = {lib.CRBD_LOCK_ACQUIRE: lambda img, owner: img.lock_acquire(),
               lib.CRBD_LOCK_RELEASE: lambda img, owner: img.lock_release(),
               lib.CRBD_LOCK_BREAK: lambda img, owner: (img.require_exclusive_lock(), img.break_lock(owner))}

    # --- image ---------------------------------------------------------------------------------
    def crbd_py_snap_find(image, name, snap_id, id_out, stamp_out, name_out):
        img = HANDLES.get(image, Image)
        snap = img.find_snap(name=text(ffi, name), snap_id=snap_id)
        id_out[0] = snap["id"]
        stamp_out[0] = float(snap.get("timestamp") or 0)
        set_blob(lib, name_out, snap["name"].encode())
        return 0

    def crbd_py_snap_limit(image, limit_out):
        limit_out[0] = HANDLES.get(image, Image).snap_limit()
        return 0

    def crbd_py_snap_set_limit(image, limit):
        HANDLES.get(image, Image).set_snap_limit(limit)
        return 0

    def crbd_py_image_timestamps(image, times_out):
        for i, seconds in enumerate(HANDLES.get(image, Image).timestamps()):
            times_out[i] = seconds
        return 0

    def crbd_py_overlap(image, overlap_out):
        overlap_out[0] = HANDLES.get(image, Image).overlap()
        return 0

    def crbd_py_metadata_list(image, start, limit, pairs_out):
        pairs = HANDLES.get(image, Image).public_metadata(text(ffi, start) or "", limit)
        set_blob(lib, pairs_out, strings(x for pair in pairs for x in pair))
        return 0

    def crbd_py_sparsify(image, sparse_size, cb, arg):
        HANDLES.get(image, Image).sparsify(sparse_size, _progress(ffi, cb, arg))
        return 0

    def crbd_py_deep_copy(image, dest_ioctx, dest_name, features, order, cb, arg):
        HANDLES.get(image, Image).deep_copy(HANDLES.get(dest_ioctx, IoCtx), text(ffi, dest_name),
                                            features=features or None, order=order or None,
                                            progress=_progress(ffi, cb, arg))
        return 0

    def crbd_py_advisory_lock(image, op, cookie, other):
        if op not in advisory:
            raise Error(errno.EINVAL, f"unknown lock operation {op}")
        advisory[op](HANDLES.get(image, Image), text(ffi, cookie), text(ffi, other) or "")
        return 0

    def crbd_py_lockers(image, exclusive_out, lockers_out):
        locks = advisory_locks.lockers(HANDLES.get(image, Image))
        exclusive_out[0] = int(locks["exclusive"])
        set_blob(lib, lockers_out, strings([locks["tag"]] + [x for entry in locks["lockers"] for x in entry]))
        return 0

    def crbd_py_managed_lock(image, op, owner):
        if op not in managed:
            raise Error(errno.EINVAL, f"unknown lock operation {op}")
        managed[op](HANDLES.get(image, Image), text(ffi, owner))
        return 0

    def crbd_py_lock_owners(image, owners_out):
        img = HANDLES.get(image, Image)
        img.require_exclusive_lock()
        set_blob(lib, owners_out, strings(img.lock_owners()))
        return 0

    def crbd_py_is_lock_owner(image, owner_out):
        owner_out[0] = int(HANDLES.get(image, Image).is_lock_owner())
        return 0

    def crbd_py_snap_namespace(image, snap_id, namespace, type_out, name_out):
        img = HANDLES.get(image, Image)
        if namespace < 0:
            type_out[0] = image_extras.snap_namespace_type(img, snap_id)
            return 0
        found = image_extras.snap_namespace(img, snap_id, namespace)
        type_out[0] = namespace
        set_blob(lib, name_out, found["original_name"].encode())
        return 0

    def crbd_py_group(image, pool_out, name_out):
        group = image_extras.group(HANDLES.get(image, Image))
        pool_out[0] = group["pool"]
        set_blob(lib, name_out, group["name"].encode())
        return 0

    def crbd_py_rebuild_object_map(image, cb, arg):
        image_extras.rebuild_object_map(HANDLES.get(image, Image), _progress(ffi, cb, arg))
        return 0

    def crbd_py_data_pool_id(image, pool_out):
        pool_out[0] = image_extras.data_pool_id(HANDLES.get(image, Image))
        return 0

    # --- pool ----------------------------------------------------------------------------------
    def crbd_py_config_pool_list(ioctx, options_out):
        options = pool_meta.config_list(HANDLES.get(ioctx, IoCtx))
        set_blob(lib, options_out, strings(x for o in options for x in (o["name"], o["value"], o["source"])))
        return 0

    def crbd_py_trash_restore(ioctx, image_id, name):
        HANDLES.get(ioctx, IoCtx).trash_restore(text(ffi, image_id), text(ffi, name) or "")
        return 0

    def crbd_py_image_name_of_id(ioctx, image_id, name_out):
        set_blob(lib, name_out, pool_meta.image_name_of_id(HANDLES.get(ioctx, IoCtx), text(ffi, image_id)).encode())
        return 0

    def crbd_py_pool_init(ioctx, force):
        pool_meta.pool_init(HANDLES.get(ioctx, IoCtx), bool(force))
        return 0

    def crbd_py_pool_metadata_get(ioctx, key, value_out):
        set_blob(lib, value_out, pool_meta.metadata_get(HANDLES.get(ioctx, IoCtx), text(ffi, key)).encode())
        return 0

    def crbd_py_pool_metadata_set(ioctx, key, value):
        io = HANDLES.get(ioctx, IoCtx)
        if value == ffi.NULL:
            pool_meta.metadata_remove(io, text(ffi, key))
        else:
            pool_meta.metadata_set(io, text(ffi, key), text(ffi, value))
        return 0

    def crbd_py_pool_metadata_list(ioctx, start, limit, pairs_out):
        pairs = pool_meta.metadata_list(HANDLES.get(ioctx, IoCtx), text(ffi, start) or "", limit)
        set_blob(lib, pairs_out, strings(x for pair in pairs for x in pair))
        return 0

    def crbd_py_pool_stats(ioctx, stats_out):
        stats = pool_meta.stats(HANDLES.get(ioctx, IoCtx))
        for i, key in enumerate(pool_meta.POOL_STATS):
            stats_out[i] = stats[key]
        return 0

    def crbd_py_trash_purge(ioctx, expire_ts):
        pool_meta.trash_purge(HANDLES.get(ioctx, IoCtx), float(expire_ts) if expire_ts > 0 else None)
        return 0

    def crbd_py_features_to_string(features, names_out):
        set_blob(lib, names_out, pool_meta.features_to_string(features).encode())
        return 0

    def crbd_py_features_from_string(names, features_out):
        features_out[0] = pool_meta.features_from_string(text(ffi, names) or "")
        return 0

    def crbd_py_instance_id(cluster, id_out):
        id_out[0] = advisory_locks.instance_id(HANDLES.get(cluster, Cluster))
        return 0

    _register(ffi, [crbd_py_snap_find, crbd_py_snap_limit, crbd_py_snap_set_limit, crbd_py_image_timestamps,
                    crbd_py_overlap, crbd_py_metadata_list, crbd_py_sparsify, crbd_py_deep_copy,
                    crbd_py_advisory_lock, crbd_py_lockers, crbd_py_managed_lock, crbd_py_lock_owners,
                    crbd_py_is_lock_owner, crbd_py_image_name_of_id, crbd_py_pool_init, crbd_py_pool_metadata_get,
                    crbd_py_pool_metadata_set, crbd_py_pool_metadata_list, crbd_py_pool_stats, crbd_py_trash_purge,
                    crbd_py_features_to_string, crbd_py_features_from_string, crbd_py_instance_id,
                    crbd_py_snap_namespace, crbd_py_group, crbd_py_rebuild_object_map, crbd_py_data_pool_id,
                    crbd_py_config_pool_list, crbd_py_trash_restore])
