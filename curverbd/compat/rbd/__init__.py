"""curverbd's ``rbd`` module: Ceph's Python rbd binding (Pacific, librbd 1.16) over curverbd.

Images are Curve files; snapshots, clones, trash and metadata live in the
curverbd catalog. ``rbd.Image(ioctx, ...)`` takes a ``rados.Ioctx`` from
curverbd's ``rados`` module. Every public name of Pacific's module exists here
(what curverbd cannot do raises OperationNotSupported: see pacific.py).
"""
import errno  # noqa: F401  (Pacific's module exposes these imports as attributes too)
import json  # noqa: F401
import sys  # noqa: F401
import time  # noqa: F401
from collections.abc import Iterable  # noqa: F401
from datetime import datetime  # noqa: F401
from itertools import chain  # noqa: F401

from .constants import *  # noqa: F401,F403  (Ceph's binding exports its constants at top level)
from .constants import LIBRBD_VERSION
from .errors import (ArgumentOutOfRange, ConnectionShutdown, DiskQuotaExceeded, Error, FunctionNotSupported,
                     ImageBusy, ImageExists, ImageHasSnapshots, ImageNotFound, IncompleteWriteError,
                     InvalidArgument, IOError, LogicError, NoSpace, ObjectExists, ObjectNotFound,
                     OperationCanceled, OperationNotSupported, OSError, PermissionError, ReadOnlyImage, Timeout,
                     make_ex)
from .image import Image
from .pacific import (ChildIterator, Completion, ConfigImageIterator, ConfigPoolIterator, Group,
                      GroupImageIterator, GroupSnapIterator, ImageIterator, LockOwnerIterator, MetadataIterator,
                      MirrorImageInfoIterator, MirrorImageInstanceIdIterator, MirrorImageStatusIterator,
                      MirrorPeerIterator, PoolMetadataIterator, SnapIterator, TrashIterator, WatcherIterator,
                      cstr, decode_cstr, requires_not_closed)
from .pool import RBD

__all__ = [
    "RBD", "Image", "Group", "Completion", "LIBRBD_VERSION", "make_ex",
    "Error", "OSError", "PermissionError", "ImageNotFound", "ObjectNotFound", "ImageExists", "ObjectExists",
    "IOError", "NoSpace", "IncompleteWriteError", "InvalidArgument", "LogicError", "ReadOnlyImage", "ImageBusy",
    "ImageHasSnapshots", "FunctionNotSupported", "ArgumentOutOfRange", "ConnectionShutdown", "Timeout",
    "DiskQuotaExceeded", "OperationNotSupported", "OperationCanceled",
    "ChildIterator", "ConfigImageIterator", "ConfigPoolIterator", "GroupImageIterator", "GroupSnapIterator",
    "ImageIterator", "LockOwnerIterator", "MetadataIterator", "MirrorImageInfoIterator",
    "MirrorImageInstanceIdIterator", "MirrorImageStatusIterator", "MirrorPeerIterator", "PoolMetadataIterator",
    "SnapIterator", "TrashIterator", "WatcherIterator", "cstr", "decode_cstr", "requires_not_closed",
]
