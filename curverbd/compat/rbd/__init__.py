"""curverbd's ``rbd`` module: Ceph's Python rbd binding (Pacific, librbd 1.16) over curverbd.

Images are Curve files; snapshots, clones, trash and metadata live in the
curverbd catalog. ``rbd.Image(ioctx, ...)`` takes a ``rados.Ioctx`` from
curverbd's ``rados`` module.
"""
from .constants import *  # noqa: F401,F403  (Ceph's binding exports its constants at top level)
from .constants import LIBRBD_VERSION
from .errors import (ArgumentOutOfRange, ConnectionShutdown, DiskQuotaExceeded, Error, FunctionNotSupported,
                     ImageBusy, ImageExists, ImageHasSnapshots, ImageNotFound, IncompleteWriteError,
                     InvalidArgument, IOError, LogicError, NoSpace, ObjectExists, ObjectNotFound,
                     OperationCanceled, OperationNotSupported, OSError, PermissionError, ReadOnlyImage, Timeout,
                     make_ex)
from .image import Image
from .pool import RBD

__all__ = [
    "RBD", "Image", "LIBRBD_VERSION", "make_ex",
    "Error", "OSError", "PermissionError", "ImageNotFound", "ObjectNotFound", "ImageExists", "ObjectExists",
    "IOError", "NoSpace", "IncompleteWriteError", "InvalidArgument", "LogicError", "ReadOnlyImage", "ImageBusy",
    "ImageHasSnapshots", "FunctionNotSupported", "ArgumentOutOfRange", "ConnectionShutdown", "Timeout",
    "DiskQuotaExceeded", "OperationNotSupported", "OperationCanceled",
]
