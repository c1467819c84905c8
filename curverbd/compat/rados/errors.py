"""rados exceptions: Ceph's class hierarchy and its errno -> class table."""
from __future__ import annotations

import errno as E

from curverbd.compat.errors import CephError, make_ex as _make_ex, translated


class Error(CephError):
    """Root of every rados exception."""


class InvalidArgumentError(Error):
    """EINVAL."""
    prefix = "RADOS invalid argument"


class OSError(Error):
    """An errno from the cluster (the base of the errno-specific classes)."""


class InterruptedOrTimeoutError(OSError):
    """EINTR."""
    prefix = "RADOS interrupted or timeout"


class PermissionError(OSError):
    """EPERM."""
    prefix = "RADOS permission error"


class PermissionDeniedError(OSError):
    """EACCES."""
    prefix = "RADOS permission denied"


class ObjectNotFound(OSError):
    """ENOENT: no such object, pool or file."""
    prefix = "RADOS object not found"


class NoData(OSError):
    """ENODATA."""
    prefix = "RADOS no data"


class ObjectExists(OSError):
    """EEXIST."""
    prefix = "RADOS object exists"


class ObjectBusy(OSError):
    """EBUSY."""
    prefix = "RADOS object busy"


class IOError(OSError):
    """EIO."""
    prefix = "RADOS I/O error"


class NoSpace(OSError):
    """ENOSPC."""
    prefix = "RADOS no space"


class TimedOut(OSError):
    """ETIMEDOUT."""
    prefix = "RADOS timed out"


class NotConnected(OSError):
    """ENOTCONN."""
    prefix = "RADOS not connected"


class ConnectionShutdown(OSError):
    """ESHUTDOWN: the handle was shut down (or belongs to the parent of a fork)."""
    prefix = "RADOS connection was shutdown"


class InProgress(Error):
    """EINPROGRESS."""
    prefix = "RADOS in progress error"


class IsConnected(Error):
    """EISCONN."""
    prefix = "RADOS is connected error"


class RadosStateError(Error):
    """A Rados handle used in the wrong state (e.g. open_ioctx before connect)."""
    prefix = "RADOS rados state"


class IoctxStateError(Error):
    """An Ioctx used after close()."""
    prefix = "RADOS Ioctx state error"


class ObjectStateError(Error):
    """An Object used after remove()."""
    prefix = "RADOS object state error"


class ExtendMismatch(Error):
    """cmpext found a difference (``offset``: where)."""
    prefix = "RADOS extent mismatch"

    def __init__(self, message: str = "", errno: int | None = None, offset: int = 0) -> None:
        super().__init__(message, errno)
        self.offset = offset


class LogicError(Error):
    """Something that cannot happen happened."""
    prefix = "RADOS logic error"


ERRNO_TO_EXCEPTION: dict[int, type] = {
    E.EPERM: PermissionError,
    E.ENOENT: ObjectNotFound,
    E.EIO: IOError,
    E.ENOSPC: NoSpace,
    E.EEXIST: ObjectExists,
    E.EBUSY: ObjectBusy,
    E.ENODATA: NoData,
    E.EINTR: InterruptedOrTimeoutError,
    E.ETIMEDOUT: TimedOut,
    E.EACCES: PermissionDeniedError,
    E.EINPROGRESS: InProgress,
    E.EISCONN: IsConnected,
    E.EINVAL: InvalidArgumentError,
    E.ENOTCONN: NotConnected,
    E.ESHUTDOWN: ConnectionShutdown,
}


def make_ex(ret: int, msg: str) -> Error:
    """The rados exception for errno ``ret`` (either sign), as Ceph's ``make_ex``."""
    return _make_ex(ERRNO_TO_EXCEPTION, OSError, ret, msg)


rados_errors = translated(ERRNO_TO_EXCEPTION, OSError)
"""Class decorator: the methods of a rados class raise rados exceptions."""
