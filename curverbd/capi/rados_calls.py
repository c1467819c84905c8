"""Callbacks behind the librados exports: cluster handles, configuration, pools."""
from __future__ import annotations

from ..core import Cluster, IoCtx, rados_pools
from . import log
from .externs import register as _register, set_blob, strings, text
from .handles import HANDLES


def register(ffi, lib) -> None:
    def crbd_py_cluster_create(user, handle_out):
        # rados_create(NULL) is client.admin; rados_create2 passed the name without "client."
        name = text(ffi, user) or "admin"
        handle_out[0] = HANDLES.add(Cluster(user=name))
        return 0

    def crbd_py_conf_read_file(cluster, path):
        # NULL searches the default places; finding no file there is fine (nothing is needed)
        HANDLES.get(cluster, Cluster).conf_read_file(text(ffi, path) or None)
        return 0

    def crbd_py_conf_set(cluster, key, value):
        # any key is accepted and kept: QEMU and libvirt send many Ceph keys
        HANDLES.get(cluster, Cluster).conf_set(text(ffi, key), text(ffi, value) or "")
        return 0

    def crbd_py_conf_get(cluster, key, value_out):
        value = HANDLES.get(cluster, Cluster).conf_get(text(ffi, key))
        set_blob(lib, value_out, str(value).encode())
        return 0

    def crbd_py_connect(cluster):
        c = HANDLES.get(cluster, Cluster)
        log_file = c.conf.lookup("log_file")
        if log_file:
            log.set_path(lib, log_file)
        c.connect()
        return 0

    def crbd_py_cluster_shutdown(cluster):
        HANDLES.pop(cluster, Cluster).shutdown()
        return 0

    def crbd_py_cluster_stat(cluster, stat):
        s = HANDLES.get(cluster, Cluster).stat()
        stat.kb = s.get("bytes_total", 0) // 1024
        stat.kb_used = s.get("bytes_used", 0) // 1024
        stat.kb_avail = s.get("bytes_avail", 0) // 1024
        stat.num_objects = s.get("objects", 0)
        return 0

    def crbd_py_cluster_fsid(cluster, fsid_out):
        set_blob(lib, fsid_out, HANDLES.get(cluster, Cluster).fsid().encode())
        return 0

    def crbd_py_pool_list(cluster, names_out):
        names = HANDLES.get(cluster, Cluster).list_pools()
        set_blob(lib, names_out, strings(names))
        return 0

    def crbd_py_pool_create(cluster, name):
        HANDLES.get(cluster, Cluster).create_pool(text(ffi, name))
        return 0

    def crbd_py_pool_delete(cluster, name):
        HANDLES.get(cluster, Cluster).remove_pool(text(ffi, name))
        return 0

    def crbd_py_ioctx_create(cluster, pool, handle_out):
        c = HANDLES.get(cluster, Cluster)
        name = text(ffi, pool)
        handle_out[0] = HANDLES.add(c.open_ioctx(name))
        return 0

    def crbd_py_ioctx_destroy(ioctx):
        HANDLES.pop(ioctx, IoCtx).close()
        return 0

    def crbd_py_pool_stat(ioctx, stat):
        s = HANDLES.get(ioctx, IoCtx).stat()
        used = s.get("bytes_used", 0)
        stat.num_bytes = used
        stat.num_kb = (used + 1023) // 1024
        stat.num_user_bytes = used
        stat.num_objects = s.get("objects", 0)   # rados objects (images are not objects here)
        return 0

    def crbd_py_pool_lookup(cluster, name, id_out):
        id_out[0] = rados_pools.pool_lookup(HANDLES.get(cluster, Cluster), text(ffi, name))
        return 0

    def crbd_py_pool_reverse_lookup(cluster, pool_id, name_out):
        set_blob(lib, name_out, rados_pools.pool_reverse_lookup(HANDLES.get(cluster, Cluster), pool_id).encode())
        return 0

    def crbd_py_pool_base_tier(cluster, pool_id, tier_out):
        tier_out[0] = rados_pools.pool_base_tier(HANDLES.get(cluster, Cluster), pool_id)
        return 0

    def crbd_py_ioctx_pool_id(ioctx, id_out):
        id_out[0] = rados_pools.ioctx_pool_id(HANDLES.get(ioctx, IoCtx))
        return 0

    def crbd_py_application_enable(ioctx, app, force):
        rados_pools.application_enable(HANDLES.get(ioctx, IoCtx), text(ffi, app), bool(force))
        return 0

    def crbd_py_application_list(ioctx, names_out):
        set_blob(lib, names_out, strings(rados_pools.application_list(HANDLES.get(ioctx, IoCtx))))
        return 0

    def crbd_py_application_metadata_get(ioctx, app, key, value_out):
        value = rados_pools.application_metadata_get(HANDLES.get(ioctx, IoCtx), text(ffi, app), text(ffi, key))
        set_blob(lib, value_out, value.encode())
        return 0

    def crbd_py_application_metadata_set(ioctx, app, key, value):
        io = HANDLES.get(ioctx, IoCtx)
        if value == ffi.NULL:
            rados_pools.application_metadata_remove(io, text(ffi, app), text(ffi, key))
        else:
            rados_pools.application_metadata_set(io, text(ffi, app), text(ffi, key), text(ffi, value))
        return 0

    def crbd_py_application_metadata_list(ioctx, app, pairs_out):
        pairs = rados_pools.application_metadata_list(HANDLES.get(ioctx, IoCtx), text(ffi, app))
        set_blob(lib, pairs_out, strings(item for pair in pairs for item in pair))
        return 0

    _register(ffi, [crbd_py_pool_lookup, crbd_py_pool_reverse_lookup, crbd_py_pool_base_tier,
                    crbd_py_ioctx_pool_id, crbd_py_application_enable, crbd_py_application_list,
                    crbd_py_application_metadata_get, crbd_py_application_metadata_set,
                    crbd_py_application_metadata_list])
    _register(ffi, [crbd_py_cluster_create, crbd_py_conf_read_file, crbd_py_conf_set, crbd_py_conf_get,
                    crbd_py_connect, crbd_py_cluster_shutdown, crbd_py_cluster_stat, crbd_py_ioctx_create,
                    crbd_py_ioctx_destroy, crbd_py_pool_stat, crbd_py_cluster_fsid,
                    crbd_py_pool_list, crbd_py_pool_create, crbd_py_pool_delete])


__all__ = ["register"]
