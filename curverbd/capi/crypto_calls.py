"""Callbacks behind rbd_encryption_format / rbd_encryption_load: the core (curverbd/core/luks.py)
writes or opens the LUKS header through the image's core handle and hands the volume key, the
sector size and the data offset to the C engine, which encrypts every I/O of that handle."""
from __future__ import annotations

from ..core import Image
from .externs import register as _register
from .handles import HANDLES


def _fill(ffi, info, enc) -> None:
    key = bytes(enc.key)
    ffi.memmove(info.key, key, len(key))
    info.key_len = len(key)
    info.sector_size = enc.sector_size
    info.data_offset = enc.data_offset
    info.cipher = enc.cipher.encode()[:31]


def register(ffi, lib) -> None:
    def crbd_py_encryption_format(image, fmt, alg, passphrase, passphrase_len, info):
        img = HANDLES.get(image, Image)
        _fill(ffi, info, img.encryption_format(fmt, alg, ffi.buffer(passphrase, passphrase_len)[:]))
        return 0

    def crbd_py_encryption_load(image, fmt, passphrase, passphrase_len, info):
        img = HANDLES.get(image, Image)
        _fill(ffi, info, img.encryption_load(fmt, ffi.buffer(passphrase, passphrase_len)[:]))
        return 0

    _register(ffi, [crbd_py_encryption_format, crbd_py_encryption_load])
