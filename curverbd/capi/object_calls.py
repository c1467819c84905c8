"""Callbacks behind the librados object exports (rados_write/read/stat/remove...): the core
IoCtx's object calls, which the catalog stores per pool."""
from __future__ import annotations

import errno
import struct

from ..core import IoCtx, object_ops, object_xattrs
from ..core.object_ops import Step
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

    kinds = _step_kinds(lib)

    def crbd_py_object_operate(ioctx, oid, read, steps, length, mtime, results_out):
        io, key = HANDLES.get(ioctx, IoCtx), text(ffi, oid)
        decoded = decode_steps(kinds, ffi.buffer(steps, length)[:] if length else b"")
        allowed = object_ops.READ_STEPS if read else object_ops.WRITE_STEPS
        bad = [s.kind for s in decoded if s.kind not in allowed]
        if bad:
            raise Error(errno.EINVAL, f"object {key}: {bad[0]} is not a {'read' if read else 'write'} op step")
        if read:
            result = object_ops.operate_read(io, key, decoded)
            rc, rvals, outputs = result.rc, result.rvals, result.outputs
        else:
            rc, rvals = object_ops.operate_write(io, key, decoded, mtime=None if mtime < 0 else float(mtime))
            outputs = [None] * len(decoded)
        set_blob(lib, results_out, encode_results(rc, rvals, outputs, len(decoded)))
        return 0

    def crbd_py_object_list(ioctx, entries_out):
        objects = HANDLES.get(ioctx, IoCtx).list_objects("")
        set_blob(lib, entries_out, b"".join(ns.encode() + b"\0" + key.encode() + b"\0" for ns, key in objects))
        return 0

    _register(ffi, [crbd_py_object_operate, crbd_py_object_list])
    _register(ffi, [crbd_py_object_truncate, crbd_py_object_xattr_get, crbd_py_object_xattr_set,
                    crbd_py_object_xattrs])
    _register(ffi, [crbd_py_object_write, crbd_py_object_read, crbd_py_object_stat, crbd_py_object_remove])


_HEAD = struct.Struct("<IIQQQI")


def _step_kinds(lib) -> dict[int, str]:
    return {getattr(lib, "CRBD_STEP_" + name.upper()): name for name in
            ("create", "write", "write_full", "append", "writesame", "remove", "truncate", "zero", "setxattr",
             "rmxattr", "omap_set", "omap_rm_keys", "omap_rm_range", "omap_clear", "omap_cmp", "cmpext",
             "assert_version", "assert_exists", "lock", "unlock", "omap_get_vals", "omap_get_keys",
             "omap_get_vals_by_keys")}


def decode_steps(kinds: dict[int, str], data: bytes) -> list[Step]:
    """rados_ops.c's step encoding as core Steps (each kind's arguments in object_ops' order)."""
    steps, pos = [], 0
    while pos < len(data):
        kind, flags, a, b, c, nbufs = _HEAD.unpack_from(data, pos)
        pos += _HEAD.size
        bufs = []
        for _ in range(nbufs):
            (n,) = struct.unpack_from("<I", data, pos)
            bufs.append(data[pos + 4:pos + 4 + n])
            pos += 4 + n
        name = kinds.get(kind)
        if name is None:
            raise Error(errno.EINVAL, f"unknown object op step {kind}")
        steps.append(Step(name, _step_args(name, a, b, c, bufs), flags))
    return steps


def _step_args(name: str, a: int, b: int, c: int, bufs: list[bytes]) -> tuple:
    text_of = bytes.decode
    return {
        "create": lambda: (bool(a),), "write": lambda: (bufs[0], a), "write_full": lambda: (bufs[0],),
        "append": lambda: (bufs[0],), "writesame": lambda: (bufs[0], a, b), "remove": tuple,
        "truncate": lambda: (a,), "zero": lambda: (a, b), "setxattr": lambda: (text_of(bufs[0]), bufs[1]),
        "rmxattr": lambda: (text_of(bufs[0]),), "omap_set": lambda: (list(zip(bufs[::2], bufs[1::2])),),
        "omap_rm_keys": lambda: (bufs,), "omap_rm_range": lambda: (bufs[0], bufs[1]), "omap_clear": tuple,
        "omap_cmp": lambda: (bufs[0], a, bufs[1]), "cmpext": lambda: (bufs[0], a), "assert_version": lambda: (a,),
        "assert_exists": tuple,
        "lock": lambda: (text_of(bufs[0]), bool(a), text_of(bufs[1]), text_of(bufs[2]), text_of(bufs[3]),
                         b / 1e6, c),
        "unlock": lambda: (text_of(bufs[0]), text_of(bufs[1])),
        "omap_get_vals": lambda: (bufs[0], bufs[1], a), "omap_get_keys": lambda: (bufs[0], a),
        "omap_get_vals_by_keys": lambda: (bufs,),
    }[name]()


def encode_results(rc: int, rvals: list[int], outputs: list, nsteps: int) -> bytes:
    """i32 rc, then per step i32 rval, u8 more, u32 count, count x (u32 len, key, u32 len, value)."""
    parts = [struct.pack("<i", rc)]
    for i in range(nsteps):
        rval = rvals[i] if i < len(rvals) else 0
        pairs, more = outputs[i] if i < len(outputs) and outputs[i] is not None else ([], False)
        parts.append(struct.pack("<iBI", rval, 1 if more else 0, len(pairs)))
        for k, v in pairs:
            parts += [struct.pack("<I", len(k)), k, struct.pack("<I", len(v)), v]
    return b"".join(parts)


__all__ = ["register"]
