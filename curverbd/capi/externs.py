"""Registering ``extern "Python"`` callbacks so that failures become negative errno.

curverbd.errors.Error(errno) -> -errno; any other exception -> -EIO and a log line with the
traceback. Never cffi's silent 0, never a traceback on the host's stderr.
"""
from __future__ import annotations

import errno
import logging
import os

from ..errors import Error

LOG = logging.getLogger("curverbd.capi")


def _onerror(name: str):
    def onerror(exc_type, exc, tb):
        if isinstance(exc, OSError) and isinstance(exc.errno, int) and exc.errno > 0:
            # an Error's message names the object and the cause; anything else gets a traceback
            LOG.warning("%s: %s", name, exc, exc_info=not isinstance(exc, Error))
            return -exc.errno
        LOG.error("%s failed", name, exc_info=(exc_type, exc, tb))
        return None   # -> error= (-EIO)
    return onerror


def register(ffi, functions) -> None:
    """def_extern every function (by its name) with error=-EIO and the errno mapping."""
    for fn in functions:
        ffi.def_extern(name=fn.__name__, error=-errno.EIO, onerror=_onerror(fn.__name__))(fn)


def text(ffi, ptr) -> str | None:
    """A C string argument as str (None for NULL)."""
    return None if ptr == ffi.NULL else os.fsdecode(ffi.string(ptr))


def set_blob(lib, blob, data: bytes) -> None:
    """Hand ``data`` to C in a malloc'ed buffer (C frees it)."""
    r = lib.crbd_blob_set(blob, data, len(data))
    if r < 0:
        raise Error(-r, "cannot hand a result to the C side")


def strings(values) -> bytes:
    """``values`` (str, or anything str() names) as NUL-terminated strings one after another: the
    layout the C side reads back with crbd_blob_records / crbd_blob_next (shim_c/boundary.c)."""
    return b"".join(str(v).encode() + b"\0" for v in values)
