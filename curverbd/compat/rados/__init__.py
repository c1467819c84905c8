"""curverbd's ``rados`` module: Ceph's Python rados binding (Pacific) over curverbd.

Pools are Curve directories; small objects live in the daemon's catalog (see
curverbd/catalog/protocol.py, WriteObject ...). Importing starts nothing; ``Rados.connect()`` does.
"""
from .cluster import DEFAULT_CONF_FILES, NO_CONF_FILE, Rados, Version
from .errors import (ConnectionShutdown, Error, InProgress, InterruptedOrTimeoutError, InvalidArgumentError,
                     IOError, IoctxStateError, IsConnected, LogicError, NoData, NoSpace, NotConnected,
                     ObjectBusy, ObjectExists, ObjectNotFound, ObjectStateError, OSError, PermissionDeniedError,
                     PermissionError, RadosStateError, TimedOut, make_ex)
from .ioctx import ALL_NSPACES as LIBRADOS_ALL_NSPACES  # noqa: F401  (Ceph exports it)
from .ioctx import Ioctx, Object

LIBRADOS_OP_FLAG_EXCL = 0x1
LIBRADOS_OP_FLAG_FAILOK = 0x2
LIBRADOS_OP_FLAG_FADVISE_RANDOM = 0x4
LIBRADOS_OP_FLAG_FADVISE_SEQUENTIAL = 0x8
LIBRADOS_OP_FLAG_FADVISE_WILLNEED = 0x10
LIBRADOS_OP_FLAG_FADVISE_DONTNEED = 0x20
LIBRADOS_OP_FLAG_FADVISE_NOCACHE = 0x40
ANONYMOUS_AUID = 0xFFFFFFFFFFFFFFFF
ADMIN_AUID = 0

__all__ = [
    "Rados", "Ioctx", "Object", "Version", "NO_CONF_FILE", "DEFAULT_CONF_FILES", "make_ex",
    "Error", "OSError", "InvalidArgumentError", "InterruptedOrTimeoutError", "PermissionError",
    "PermissionDeniedError", "ObjectNotFound", "NoData", "ObjectExists", "ObjectBusy", "IOError", "NoSpace",
    "NotConnected", "RadosStateError", "IoctxStateError", "ObjectStateError", "LogicError", "TimedOut",
    "InProgress", "IsConnected", "ConnectionShutdown",
]
