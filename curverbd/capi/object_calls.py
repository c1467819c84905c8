"""Callbacks behind the librados object exports (rados_write/read/stat/remove...): the core
IoCtx's object calls, which the catalog stores per pool."""
from __future__ import annotations

import errno

from ..core import IoCtx, object_xattrs
from ..errors import Error
from .externs import register as _register, set_blob, text
from .handles import HANDLES


def register(ffi, lib) -> None:
    modes = {lib.CRBD_OBJECT_WRITE: "write", lib.CRBD_OBJECT_WRITE_FULL: "full", lib.CRBD_OBJECT_APPEND: "append"}

    def crbd_py_object_write(ioctx, oid, buf, length, offset, mode):
        io = HANDLES.get(ioctx, IoCtx)
        key, data = text(ffi, oid), ffi.buffer(buf, length)[:]
        how = modes.get(mode)
        if how == "write":
            io.write_object(key, data, offset)
        elif how == "full":
            io.write_full_object(key, data)
        elif how == "append":
            io.append_object(key, data)
        else:
            raise Error(errno.EINVAL, f"object {key}: unknown write mode {mode}")
        return 0

    def crbd_py_object_read(ioctx, oid, buf, length, offset):
        data = HANDLES.get(ioctx, IoCtx).read_object(text(ffi, oid), length, offset)
        ffi.memmove(buf, data, len(data))
        return len(data)

    def crbd_py_object_stat(ioctx, oid, size_out, mtime_out):
        st = HANDLES.get(ioctx, IoCtx).stat_object(text(ffi, oid))
        size_out[0] = int(st["size"])
        mtime_out[0] = int(st.get("mtime", 0))
        return 0

    def crbd_py_object_remove(ioctx, oid):
        HANDLES.get(ioctx, IoCtx).remove_object(text(ffi, oid))
        return 0

    def crbd_py_object_truncate(ioctx, oid, size):
        HANDLES.get(ioctx, IoCtx).truncate_object(text(ffi, oid), size)
        return 0

    def crbd_py_object_xattr_get(ioctx, oid, name, value_out):
        value = object_xattrs.get_xattr(HANDLES.get(ioctx, IoCtx), text(ffi, oid), text(ffi, name))
        set_blob(lib, value_out, value)
        return 0

    def crbd_py_object_xattr_set(ioctx, oid, name, buf, length, remove):
        io, key, attr = HANDLES.get(ioctx, IoCtx), text(ffi, oid), text(ffi, name)
        if remove:
            object_xattrs.rm_xattr(io, key, attr)
        else:
            object_xattrs.set_xattr(io, key, attr, ffi.buffer(buf, length)[:] if length else b"")
        return 0

    def crbd_py_object_xattrs(ioctx, oid, attrs_out):
        attrs = object_xattrs.get_xattrs(HANDLES.get(ioctx, IoCtx), text(ffi, oid))
        set_blob(lib, attrs_out, b"".join(name.encode() + b"\0" + str(len(value)).encode() + b"\0" + value
                                          for name, value in sorted(attrs.items())))
        return 0

    _register(ffi, [crbd_py_object_truncate, crbd_py_object_xattr_get, crbd_py_object_xattr_set,
                    crbd_py_object_xattrs])
    _register(ffi, [crbd_py_object_write, crbd_py_object_read, crbd_py_object_stat, crbd_py_object_remove])


__all__ = ["register"]
