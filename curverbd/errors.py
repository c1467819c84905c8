"""The one error model: every failure is an ``Error`` carrying a positive errno.

The C ABI returns ``-err.errno``; the Ceph-shaped Python modules map errno to
Ceph's exception classes; the CLI prints ``(errno) strerror`` as Ceph does.
Curve's own status codes (the stand-in store speaks them) map onto errno here,
in one table.
"""
from __future__ import annotations

import errno as E
import enum
import os


class Error(OSError):
    """A curverbd failure: ``errno`` says what kind, the message names the object and the cause."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(code, message)

    def __str__(self) -> str:
        return f"{self.strerror} ({os.strerror(self.errno)})"


class CurveStatus(enum.IntEnum):
    """CurveBS client status codes (returned negated by Curve's SDK)."""
    OK = 0
    EXISTS = 1
    FAILED = 2
    DISABLEDIO = 3
    AUTHFAIL = 4
    DELETING = 5
    NOTEXIST = 6
    UNDER_SNAPSHOT = 7
    NOT_UNDERSNAPSHOT = 8
    DELETE_ERROR = 9
    NOT_ALLOCATE = 10
    NOT_SUPPORT = 11
    NOT_EMPTY = 12
    NO_SHRINK_BIGGER_FILE = 13
    SESSION_NOTEXISTS = 14
    FILE_OCCUPIED = 15
    PARAM_ERROR = 16
    INTERNAL_ERROR = 17
    CRC_ERROR = 18
    INVALID_REQUEST = 19
    DISK_FAIL = 20
    NO_SPACE = 21
    NOT_ALIGNED = 22
    BAD_FD = 23
    LENGTH_NOT_SUPPORT = 24
    SESSION_NOT_EXIST = 25
    STATUS_NOT_MATCH = 26
    DELETE_BEING_CLONED = 27
    CLIENT_NOT_SUPPORT_SNAPSHOT = 28
    SNAPSHOT_FROZEN = 29
    UNKNOWN = 100


CURVE_TO_ERRNO = {
    CurveStatus.EXISTS: E.EEXIST,
    CurveStatus.AUTHFAIL: E.EPERM,
    CurveStatus.NOTEXIST: E.ENOENT,
    CurveStatus.NOT_EMPTY: E.ENOTEMPTY,
    CurveStatus.NO_SHRINK_BIGGER_FILE: E.EINVAL,
    CurveStatus.FILE_OCCUPIED: E.EBUSY,
    CurveStatus.PARAM_ERROR: E.EINVAL,
    CurveStatus.INVALID_REQUEST: E.EINVAL,
    CurveStatus.NO_SPACE: E.ENOSPC,
    CurveStatus.NOT_ALIGNED: E.EINVAL,
    CurveStatus.BAD_FD: E.EBADF,
    CurveStatus.LENGTH_NOT_SUPPORT: E.EINVAL,
    CurveStatus.NOT_SUPPORT: E.EOPNOTSUPP,
    CurveStatus.DELETING: E.EBUSY,
    CurveStatus.UNDER_SNAPSHOT: E.EBUSY,
    CurveStatus.DISK_FAIL: E.EIO,
}


class CurveError(Error):
    """A refusal by the Curve store. ``status`` is the client's code (the errno follows from it);
    ``code`` is the MDS StatusCode (curverbd/curve/nameserver2.py) Curve's MDS answers for the same
    refusal, or None where no MDS would be asked (I/O, fds)."""

    def __init__(self, status: CurveStatus, message: str, code: int | None = None) -> None:
        super().__init__(CURVE_TO_ERRNO.get(status, E.EIO), message)
        self.status = CurveStatus(status)
        self.code = code


def error(code: int, message: str) -> Error:
    return Error(code, message)
