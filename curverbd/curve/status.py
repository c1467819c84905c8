"""Curve's MDS StatusCode -> the errno Ceph gives in the same situation: the one table.

Each row names the RBD situation it stands for; tests/test_mds_status.py checks
every row through the client. A code not in the table (a newer Curve, a
corrupt reply) becomes EIO with the method and the number in the message.
"""
from __future__ import annotations

import errno as E

from ..errors import Error
from .nameserver2 import StatusCode as S

STATUS_ERRNO: dict[int, int] = {
    S.kFileExists: E.EEXIST,                  # rbd create / pool create of an existing name
    S.kFileNotExists: E.ENOENT,               # no such image or pool
    S.kNotDirectory: E.ENOENT,                # "pool" that is a file: no such pool
    S.kParaError: E.EINVAL,                   # bad name or argument
    S.kShrinkBiggerFile: E.EINVAL,            # shrink (the core shrinks logically, never asks)
    S.kExtentUnitError: E.EINVAL,
    S.kSegmentNotAllocated: E.ENOENT,
    S.kSegmentAllocateError: E.ENOSPC,
    S.kDirNotExist: E.ENOENT,
    S.kNotSupported: E.EOPNOTSUPP,
    S.kOwnerAuthFail: E.EPERM,                # Ceph: caps deny / bad key -> EPERM
    S.kDirNotEmpty: E.ENOTEMPTY,              # pool delete with images
    S.kFileUnderSnapShot: E.ENOTEMPTY,        # rbd rm with snapshots: ImageHasSnapshots
    S.kFileNotUnderSnapShot: E.ENOENT,
    S.kSnapshotDeleting: E.EBUSY,
    S.kSnapshotFileNotExists: E.ENOENT,       # no such snapshot
    S.kSnapshotFileDeleteError: E.EIO,
    S.kSessionNotExist: E.ESTALE,
    S.kFileOccupied: E.EBUSY,                 # rm of an image a client has open (watchers)
    S.kCloneFileNameIllegal: E.EINVAL,
    S.kCloneStatusNotMatch: E.EINVAL,
    S.kCommonFileDeleteError: E.EIO,
    S.kFileIdNotMatch: E.ENOENT,              # the file of that id is gone
    S.kFileUnderDeleting: E.EBUSY,
    S.kFileLengthNotSupported: E.EINVAL,      # size outside Curve's limits
    S.kDeleteFileBeingCloned: E.EBUSY,        # rm of a clone parent: EBUSY like librbd
    S.kClientVersionNotMatch: E.EOPNOTSUPP,
    S.kSnapshotFrozen: E.EAGAIN,
    S.kSnapshotCloneConnectFail: E.EIO,
    S.kSnapshotCloneServerNotInit: E.EAGAIN,
    S.kRecoverFileCloneMetaInstalled: E.EBUSY,
    S.kRecoverFileError: E.EIO,
    S.kEpochTooOld: E.ESTALE,
    S.kPoolsetNotExist: E.ENOENT,
    S.kFileStatusInvalid: E.EINVAL,
    S.kFileTypeInvalid: E.EINVAL,
    S.kSnapshotFileNotProtected: E.EINVAL,    # clone of an unprotected snapshot
    S.kSnapshotFileProtected: E.EBUSY,        # snap rm of a protected snapshot
    S.kSnapshotExist: E.EEXIST,
    S.kStorageError: E.EIO,
    S.KInternalError: E.EIO,
}


class MdsError(Error):
    """A refusal by Curve's MDS: ``status`` is its StatusCode, ``errno`` Ceph's for the situation."""

    def __init__(self, status: int, method: str, target: str, detail: str = "", resent: bool = False) -> None:
        self.status = status
        self.resent = resent      # the request may have reached an MDS before (a lost reply)
        known = status in STATUS_ERRNO
        name = S(status).name if known else f"unknown status {status}"
        text = f"{target}: Curve MDS {method}: {name}" + (f" ({detail})" if detail else "")
        super().__init__(STATUS_ERRNO[status] if known else E.EIO, text)
