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

import threading  # noqa: F401  (Pacific's module exposes these imports as attributes too)
import time  # noqa: F401
from datetime import datetime, timedelta  # noqa: F401
from functools import partial, wraps  # noqa: F401
from itertools import chain  # noqa: F401
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union  # noqa: F401

from .errors import ExtendMismatch
from .pacific import *  # noqa: F401,F403  (constants)
from .pacific import (Completion, MonitorLog, ObjectIterator, OmapIterator, OpCtx, ReadOp, ReadOpCtx, Snap,
                      SnapIterator, Watch, WriteOp, WriteOpCtx, XattrIterator, cstr, cstr_list, decode_cstr,
                      flatten_dict, set_object_locator, set_object_namespace, unicode)

__all__ = [
    "Rados", "Ioctx", "Object", "Version", "NO_CONF_FILE", "DEFAULT_CONF_FILES", "make_ex",
    "Error", "OSError", "InvalidArgumentError", "InterruptedOrTimeoutError", "PermissionError",
    "PermissionDeniedError", "ObjectNotFound", "NoData", "ObjectExists", "ObjectBusy", "IOError", "NoSpace",
    "NotConnected", "RadosStateError", "IoctxStateError", "ObjectStateError", "LogicError", "TimedOut",
    "InProgress", "IsConnected", "ConnectionShutdown", "ExtendMismatch",
    "Completion", "MonitorLog", "ObjectIterator", "OmapIterator", "OpCtx", "ReadOp", "ReadOpCtx", "Snap",
    "SnapIterator", "Watch", "WriteOp", "WriteOpCtx", "XattrIterator", "cstr", "cstr_list", "decode_cstr",
    "flatten_dict", "set_object_locator", "set_object_namespace", "unicode",
]
