"""The store's refusals in Curve's MDS language: a StatusCode, plus the client status libcurve makes of it.

``refused(code, message)`` builds the CurveError the store raises: ``code`` is
what Curve's MDS answers in the same situation (the MDS service sends it as
is); the client status, and so the errno the rest of the daemon reports, is
libcurve's MDSStatusCode2LibcurveError of it (shared/reference/
curve-control-plane.md section 5) unless a caller keeps an older errno.
"""
from __future__ import annotations

from ..curve.nameserver2 import StatusCode as S
from ..errors import CurveError, CurveStatus as C

# MDSStatusCode2LibcurveError: every code not listed is UNKNOWN
LIBCURVE: dict[S, C] = {
    S.kOK: C.OK, S.kFileExists: C.EXISTS, S.kFileNotExists: C.NOTEXIST, S.kDirNotExist: C.NOTEXIST,
    S.kSnapshotFileNotExists: C.NOTEXIST, S.kPoolsetNotExist: C.NOTEXIST,
    S.kSegmentNotAllocated: C.NOT_ALLOCATE, S.kShrinkBiggerFile: C.NO_SHRINK_BIGGER_FILE,
    S.kNotSupported: C.NOT_SUPPORT, S.kOwnerAuthFail: C.AUTHFAIL, S.kSnapshotFileDeleteError: C.DELETE_ERROR,
    S.kFileUnderSnapShot: C.UNDER_SNAPSHOT, S.kFileNotUnderSnapShot: C.NOT_UNDERSNAPSHOT,
    S.kSnapshotDeleting: C.DELETING, S.kDirNotEmpty: C.NOT_EMPTY, S.kFileOccupied: C.FILE_OCCUPIED,
    S.kSessionNotExist: C.SESSION_NOT_EXIST, S.kParaError: C.PARAM_ERROR, S.kStorageError: C.INTERNAL_ERROR,
    S.kFileLengthNotSupported: C.LENGTH_NOT_SUPPORT, S.kCloneStatusNotMatch: C.STATUS_NOT_MATCH,
    S.kDeleteFileBeingCloned: C.DELETE_BEING_CLONED, S.kClientVersionNotMatch: C.CLIENT_NOT_SUPPORT_SNAPSHOT,
    S.kSnapshotFrozen: C.SNAPSHOT_FROZEN,
}

# the other way, for refusals raised with a client status only (volumes, snapshots, fds)
_FROM_CLIENT: dict[C, S] = {
    C.EXISTS: S.kFileExists, C.NOTEXIST: S.kFileNotExists, C.AUTHFAIL: S.kOwnerAuthFail,
    C.PARAM_ERROR: S.kParaError, C.NOT_EMPTY: S.kDirNotEmpty, C.UNDER_SNAPSHOT: S.kFileUnderSnapShot,
    C.FILE_OCCUPIED: S.kFileOccupied, C.NOT_SUPPORT: S.kNotSupported,
    C.LENGTH_NOT_SUPPORT: S.kFileLengthNotSupported, C.NO_SHRINK_BIGGER_FILE: S.kShrinkBiggerFile,
    C.DELETING: S.kSnapshotDeleting, C.DISK_FAIL: S.kStorageError,
}


def refused(code: S, message: str, status: C | None = None) -> CurveError:
    """The store's refusal ``code``; ``status`` overrides the client status (to keep an errno)."""
    return CurveError(status if status is not None else LIBCURVE.get(code, C.UNKNOWN), message, code)


def code_of(exc: CurveError) -> S:
    """The StatusCode an MDS answers for ``exc`` (KInternalError if nothing better is known)."""
    if exc.code is not None:
        return S(exc.code)
    return _FROM_CLIENT.get(exc.status, S.KInternalError)
