"""Callbacks behind rbd_encryption_format / rbd_encryption_load: the core (curverbd/core/luks.py)
writes or opens the LUKS header through the image's core handle and hands the volume key, the
sector size and the data offset to the C engine, which encrypts every I/O of that image."""
from __future__ import annotations

from ..core import Image
from .externs import register as _register
from .handles import HANDLES


def register(ffi, lib) -> None:
    def crbd_py_encryption_format(image, fmt, alg, passphrase, passphrase_len):
        HANDLES.get(image, Image).encryption_format(fmt, alg, ffi.buffer(passphrase, passphrase_len)[:])
        return 0

    def crbd_py_encryption_load(image, fmt, passphrase, passphrase_len):
        HANDLES.get(image, Image).encryption_load(fmt, ffi.buffer(passphrase, passphrase_len)[:])
        return 0

    _register(ffi, [crbd_py_encryption_format, crbd_py_encryption_load])
