"""rbd exceptions: Ceph's class hierarchy and its errno -> class table."""
from __future__ import annotations

import errno as E

from curverbd.compat.errors import CephError, make_ex as _make_ex, translated


class Error(CephError):
    """Root of every rbd exception."""


class OSError(Error):
    """An errno from librbd (the base of the errno-specific classes; ``.errno`` says which)."""


def _kind(name: str, prefix: str, doc: str) -> type:
    return type(name, (OSError,), {"prefix": prefix, "__doc__": doc, "__module__": "rbd"})


PermissionError = _kind("PermissionError", "RBD permission error", "EPERM.")
ImageNotFound = _kind("ImageNotFound", "RBD image not found", "ENOENT: no such image, snapshot or parent.")
ObjectNotFound = _kind("ObjectNotFound", "RBD object not found", "ENOENT (group calls).")
ImageExists = _kind("ImageExists", "RBD image already exists", "EEXIST.")
ObjectExists = _kind("ObjectExists", "RBD object already exists", "EEXIST (group calls).")
IOError = _kind("IOError", "RBD I/O error", "EIO.")
NoSpace = _kind("NoSpace", "RBD insufficient space available", "ENOSPC.")
IncompleteWriteError = _kind("IncompleteWriteError", "RBD incomplete write", "A write stopped short (end of image).")
InvalidArgument = _kind("InvalidArgument", "RBD invalid argument", "EINVAL (also: a closed image).")
LogicError = _kind("LogicError", "RBD logic error", "Something that cannot happen happened.")
ReadOnlyImage = _kind("ReadOnlyImage", "RBD read-only image", "EROFS: open read-only or at a snapshot.")
ImageBusy = _kind("ImageBusy", "RBD image is busy", "EBUSY: open elsewhere, has children, or protected.")
ImageHasSnapshots = _kind("ImageHasSnapshots", "RBD image has snapshots", "ENOTEMPTY.")
FunctionNotSupported = _kind("FunctionNotSupported", "RBD function not supported", "ENOSYS.")
ArgumentOutOfRange = _kind("ArgumentOutOfRange", "RBD arguments out of range", "EDOM.")
ConnectionShutdown = _kind("ConnectionShutdown", "RBD connection was shutdown",
                           "ESHUTDOWN: the connection is gone (or belongs to the parent of a fork).")
Timeout = _kind("Timeout", "RBD operation timeout", "ETIMEDOUT.")
DiskQuotaExceeded = _kind("DiskQuotaExceeded", "RBD disk quota exceeded", "EDQUOT.")
OperationNotSupported = _kind("OperationNotSupported", "RBD operation not supported",
                              "EOPNOTSUPP: not available on curverbd (e.g. mirroring).")
OperationCanceled = _kind("OperationCanceled", "RBD operation canceled", "ECANCELED (e.g. by a progress callback).")

ERRNO_TO_EXCEPTION: dict[int, type] = {
    E.EPERM: PermissionError,
    E.ENOENT: ImageNotFound,
    E.EIO: IOError,
    E.ENOSPC: NoSpace,
    E.EEXIST: ImageExists,
    E.EINVAL: InvalidArgument,
    E.EROFS: ReadOnlyImage,
    E.EBUSY: ImageBusy,
    E.ENOTEMPTY: ImageHasSnapshots,
    E.ENOSYS: FunctionNotSupported,
    E.EDOM: ArgumentOutOfRange,
    E.ESHUTDOWN: ConnectionShutdown,
    E.ETIMEDOUT: Timeout,
    E.EDQUOT: DiskQuotaExceeded,
    E.EOPNOTSUPP: OperationNotSupported,
    E.ECANCELED: OperationCanceled,
}


def make_ex(ret: int, msg: str) -> Error:
    """The rbd exception for errno ``ret`` (either sign), as Ceph's ``make_ex``."""
    return _make_ex(ERRNO_TO_EXCEPTION, OSError, ret, msg)


rbd_errors = translated(ERRNO_TO_EXCEPTION, OSError)
"""Class decorator: the methods of an rbd class raise rbd exceptions."""
