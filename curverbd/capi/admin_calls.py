"""Callbacks behind the administration exports OpenStack reaches through Ceph's own Python
bindings (shim_c/rados_mon.c, shim_c/rbd_admin.c): monitor commands, feature updates, image
metadata and config (QoS), the trash."""
from __future__ import annotations

from ..core import Cluster, Image, IoCtx
from ..core.image_config import config_list
from ..core.ioctx import trash_source_code
from ..core.monitor import mon_command
from .externs import register as _register, set_blob, strings, text
from .handles import HANDLES


def register(ffi, lib) -> None:
    def crbd_py_mon_command(cluster, cmd, out, outs):
        ret, data, status = mon_command(HANDLES.get(cluster, Cluster), text(ffi, cmd) or "")
        set_blob(lib, out, data)
        set_blob(lib, outs, status.encode())
        return ret

    def crbd_py_update_features(image, features, enabled):
        HANDLES.get(image, Image).update_features(features, bool(enabled))
        return 0

    def crbd_py_metadata_set(image, key, value):
        img = HANDLES.get(image, Image)
        if value == ffi.NULL:
            img.metadata_remove(text(ffi, key))
        else:
            img.metadata_set(text(ffi, key), text(ffi, value))
        return 0

    def crbd_py_metadata_get(image, key, value_out):
        set_blob(lib, value_out, HANDLES.get(image, Image).metadata_get(text(ffi, key)).encode())
        return 0

    def crbd_py_config_list(image, options_out):
        options = config_list(HANDLES.get(image, Image))
        set_blob(lib, options_out, strings(o[k] for o in options for k in ("name", "value", "source")))
        return 0

    def crbd_py_trash_move(ioctx, name, delay):
        HANDLES.get(ioctx, IoCtx).trash_move(text(ffi, name), delay)
        return 0

    def crbd_py_trash_list(ioctx, entries_out):
        fields = []
        for e in HANDLES.get(ioctx, IoCtx).trash_list():
            fields += (e["id"], e["name"], trash_source_code(e.get("source", "USER")),
                       int(e.get("deletion_time", 0)), int(e.get("deferment_end_time", 0)))
        set_blob(lib, entries_out, strings(fields))
        return 0

    def progress_of(cb, arg):
        """librbd's progress_fn_t as the core's progress(done, total) (None for NULL)."""
        if cb == ffi.NULL:
            return None
        return lambda done, total: cb(done, total, arg)

    def crbd_py_image_remove2(ioctx, name, cb, arg):
        HANDLES.get(ioctx, IoCtx).remove_image(text(ffi, name), progress_of(cb, arg))
        return 0

    def crbd_py_trash_remove2(ioctx, image_id, force, cb, arg):
        HANDLES.get(ioctx, IoCtx).trash_remove(text(ffi, image_id), bool(force), progress_of(cb, arg))
        return 0

    def crbd_py_snap_remove2(image, name, flags):
        HANDLES.get(image, Image).remove_snap(text(ffi, name), flags)
        return 0

    _register(ffi, [crbd_py_image_remove2, crbd_py_trash_remove2, crbd_py_snap_remove2])
    _register(ffi, [crbd_py_mon_command, crbd_py_update_features, crbd_py_metadata_set, crbd_py_metadata_get,
                    crbd_py_config_list, crbd_py_trash_move, crbd_py_trash_list])
