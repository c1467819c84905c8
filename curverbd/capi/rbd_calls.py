"""Callbacks behind the librbd control-plane exports: image lifecycle, open/close, resize,
snapshots. The data path never comes here: C speaks nebd itself on the fd opened here."""
from __future__ import annotations

import errno
import logging
import struct
import sys

from ..core import Image, IoCtx, engine
from ..errors import Error
from .externs import register as _register, set_blob, strings, text
from .handles import HANDLES

LOG = logging.getLogger("curverbd.capi")

def _abandon(img: Image) -> None:
    """Keep ``img`` alive for good: at interpreter exit nothing may close it (see crbd_py_image_close);
    a reference held anywhere in Python would be dropped by the interpreter's teardown, which runs
    the image's finalizer and with it the close that cannot finish."""
    import ctypes
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(img))


# crbd_py_snap_op codes (shim_c/cdef.h) -> the core Image method
SNAP_METHODS = {
    "CRBD_SNAP_CREATE": "create_snap", "CRBD_SNAP_REMOVE": "remove_snap",
    "CRBD_SNAP_ROLLBACK": "rollback_to_snap", "CRBD_SNAP_PROTECT": "protect_snap",
    "CRBD_SNAP_UNPROTECT": "unprotect_snap", "CRBD_SNAP_IS_PROTECTED": "is_protected_snap",
}


def register(ffi, lib) -> None:
    snap_methods = {getattr(lib, code): method for code, method in SNAP_METHODS.items()}

    def crbd_py_image_create(ioctx, name, size, order, features):
        HANDLES.get(ioctx, IoCtx).create_image(text(ffi, name), size, features=features or None,
                                               order=order or None)
        return 0

    def crbd_py_image_remove(ioctx, name):
        HANDLES.get(ioctx, IoCtx).remove_image(text(ffi, name))
        return 0

    def crbd_py_image_list(ioctx, specs_out):
        io = HANDLES.get(ioctx, IoCtx)
        fields = []
        for name in io.list_images():
            try:
                fields += (io.stat_image(name).get("id", name), name)
            except Error:
                continue   # removed meanwhile
        set_blob(lib, specs_out, strings(fields))
        return 0

    def crbd_py_image_clone(p_ioctx, p_name, p_snap, c_ioctx, c_name, features, order, clone_format):
        HANDLES.get(p_ioctx, IoCtx).clone(text(ffi, p_name), text(ffi, p_snap), HANDLES.get(c_ioctx, IoCtx),
                                          text(ffi, c_name), features=features or None, order=order or None,
                                          clone_format=clone_format or None)
        return 0

    def crbd_py_image_open(ioctx, name, snap, read_only, info):
        io = HANDLES.get(ioctx, IoCtx)
        snap_name = text(ffi, snap) or None
        img = io.open_image(text(ffi, name), read_only=bool(read_only) or snap_name is not None,
                            snapshot=snap_name)
        HANDLES.hold(img.handle)   # the C caller holds it until rbd_close
        info.c_image = img.c_image
        info.handle = img.handle
        return 0

    def crbd_py_image_lock_writes(image):
        img = HANDLES.get(image, Image)
        if img.writer is None:
            return -errno.EROFS
        img.writer.acquire()
        return 0

    def crbd_py_io_done(token, ret):
        engine.io_done(token, ret)
        return 0

    def crbd_py_image_close(image):
        img = HANDLES.pop(image, Image)
        if sys.is_finalizing():
            # The host's interpreter is exiting (Debian's binding closes an image left open from
            # its finalizer): the core's threads can no longer run, so its close (giving the write
            # lock back, closing the file on the daemon) would wait forever. The data is flushed
            # (the engine needs no Python for that); the daemon drops the file with this process's
            # connection.
            img.flush_at_exit()
            LOG.info("%s closed at interpreter exit: flushed, the core's close skipped", img)
            _abandon(img)
            return 0
        img.close()
        return 0

    def crbd_py_image_geometry(image, geometry):
        img = HANDLES.get(image, Image)
        record = img.stat()
        order = int(record.get("order") or 22)
        geometry.features = int(record.get("features") or 0)
        geometry.order = order
        geometry.stripe_unit = int(record.get("stripe_unit") or 1 << order)
        geometry.stripe_count = int(record.get("stripe_count") or 1)
        return 0

    def crbd_py_image_size(image, size_out):
        size_out[0] = HANDLES.get(image, Image).size()
        return 0

    def crbd_py_image_resize(image, size):
        HANDLES.get(image, Image).resize(size)
        return 0

    def crbd_py_snap_list(image, snaps_out):
        img = HANDLES.get(image, Image)
        out = bytearray()
        for snap in img.list_snaps():
            out += struct.pack("=QQ", snap["id"], snap["size"]) + snap["name"].encode() + b"\0"
        set_blob(lib, snaps_out, bytes(out))
        return 0

    def crbd_py_snap_op(image, op, name, result):
        img = HANDLES.get(image, Image)
        if op not in snap_methods:
            raise Error(errno.EINVAL, f"{img}: unknown snapshot operation {op}")
        value = getattr(img, snap_methods[op])(text(ffi, name))
        result[0] = int(bool(value)) if value is not None else 0
        return 0

    def crbd_py_parent_info(image, spec_out):
        img = HANDLES.get(image, Image)
        pool, parent, snap = img.parent_info()   # ENOENT: not a clone
        parent_id, snap_id = _parent_ids(img, pool, parent, snap)
        set_blob(lib, spec_out, strings((pool, parent, snap, parent_id, snap_id)))
        return 0

    def crbd_py_image_names(image, names_out):
        img = HANDLES.get(image, Image)
        record = img.stat()
        set_blob(lib, names_out, strings((img.id, img.name, record.get("op_features", 0))))
        return 0

    def crbd_py_image_flatten(image, cb, arg):
        progress = None
        if cb != ffi.NULL:
            def progress(done, total):
                return cb(done, total, arg)
        HANDLES.get(image, Image).flatten(progress)
        return 0

    def crbd_py_children(image, descendants, specs_out):
        img = HANDLES.get(image, Image)
        cluster = img.ioctx.cluster
        fields = []
        seen = {(img.ioctx.pool, img.name)}
        queue = [(img, None)]   # (image, its ioctx if opened here); breadth first: children, then theirs
        while queue:
            parent, io = queue.pop(0)
            try:
                children = parent.list_children()
            except Error:
                if io is None:
                    raise
                children = []   # a descendant removed meanwhile
            finally:
                if io is not None:
                    parent.close()
                    io.close()
            for pool, child in children:
                if (pool, child) in seen:
                    continue
                seen.add((pool, child))
                io = None
                try:
                    io = cluster.open_ioctx(pool)
                    fields += (pool, io.stat_image(child)["id"], child)
                    if descendants:
                        queue.append((io.open_image(child, read_only=True), io))
                        io = None
                except Error:
                    continue   # removed meanwhile
                finally:
                    if io is not None:
                        io.close()
        set_blob(lib, specs_out, strings(fields))
        return 0

    def crbd_py_diff_iterate(image, fromsnap, ofs, length, include_parent, whole_object, cb, arg):
        def extent(offset, size, exists):
            return cb(offset, size, int(bool(exists)), arg)
        return HANDLES.get(image, Image).diff_iterate(ofs, length, text(ffi, fromsnap), extent,
                                                       include_parent=bool(include_parent),
                                                       whole_object=bool(whole_object))

    def crbd_py_image_rename(ioctx, src, dst):
        HANDLES.get(ioctx, IoCtx).rename_image(text(ffi, src), text(ffi, dst))
        return 0

    def crbd_py_snap_rename(image, src, dst):
        HANDLES.get(image, Image).rename_snap(text(ffi, src), text(ffi, dst))
        return 0

    def crbd_py_snap_set(image, name):
        HANDLES.get(image, Image).set_snap(text(ffi, name))
        return 0

    def crbd_py_image_copy(image, dest_ioctx, dest_name):
        HANDLES.get(image, Image).copy(HANDLES.get(dest_ioctx, IoCtx), text(ffi, dest_name))
        return 0

    _register(ffi, [crbd_py_image_create, crbd_py_image_remove, crbd_py_image_list, crbd_py_image_clone,
                    crbd_py_image_open, crbd_py_image_lock_writes, crbd_py_io_done, crbd_py_image_close, crbd_py_image_geometry, crbd_py_image_resize, crbd_py_image_size, crbd_py_snap_list,
                    crbd_py_snap_op, crbd_py_parent_info, crbd_py_diff_iterate, crbd_py_image_names,
                    crbd_py_image_flatten, crbd_py_children, crbd_py_image_rename, crbd_py_snap_rename,
                    crbd_py_snap_set, crbd_py_image_copy])


def _parent_ids(img: Image, pool: str, parent: str, snap: str) -> tuple[str, int]:
    """The parent image's id and its snapshot's id ("", 0 if the parent went away meanwhile)."""
    try:
        io = img.ioctx.cluster.open_ioctx(pool)
        try:
            parent_id = str(io.stat_image(parent)["id"])
            with io.open_image(parent, read_only=True) as p:
                snap_id = next((s["id"] for s in p.list_snaps() if s["name"] == snap), 0)
        finally:
            io.close()
    except Error:
        return "", 0
    return parent_id, int(snap_id)
