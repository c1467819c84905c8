"""Curve's ``curve.mds`` messages (proto/nameserver2.proto): what CurveFSService reads and writes.

Field numbers, types and labels are Curve's (shared/reference/curve-control-plane.md
section 2), so a real MDS and our daemon read the same bytes. Every request
carries the auth triple (owner, date in microseconds, signature); see auth.py.
"""
from __future__ import annotations

import enum

from ..nebd.protobuf import Field as F, Message

SERVICE = "curve.mds.CurveFSService"


class FileType(enum.IntEnum):
    INODE_DIRECTORY = 0
    INODE_PAGEFILE = 1
    INODE_APPENDFILE = 2
    INODE_APPENDECFILE = 3
    INODE_SNAPSHOT_PAGEFILE = 4
    INODE_CLONE_PAGEFILE = 5          # release1.5 only


class FileStatus(enum.IntEnum):
    kFileCreated = 0
    kFileDeleting = 1
    kFileCloning = 2
    kFileCloneMetaInstalled = 3
    kFileCloned = 4
    kFileBeingCloned = 5
    kFileFlattening = 6               # release1.5 only


class StatusCode(enum.IntEnum):
    """The MDS's answer in every response's ``statusCode`` (master, plus release1.5's 142-146)."""
    kOK = 0
    kFileExists = 101
    kFileNotExists = 102
    kNotDirectory = 103
    kParaError = 104
    kShrinkBiggerFile = 105
    kExtentUnitError = 106
    kSegmentNotAllocated = 107
    kSegmentAllocateError = 108
    kDirNotExist = 109
    kNotSupported = 110
    kOwnerAuthFail = 111
    kDirNotEmpty = 112
    kFileUnderSnapShot = 120
    kFileNotUnderSnapShot = 121
    kSnapshotDeleting = 122
    kSnapshotFileNotExists = 123
    kSnapshotFileDeleteError = 124
    kSessionNotExist = 125
    kFileOccupied = 126
    kCloneFileNameIllegal = 127
    kCloneStatusNotMatch = 128
    kCommonFileDeleteError = 129
    kFileIdNotMatch = 130
    kFileUnderDeleting = 131
    kFileLengthNotSupported = 132
    kDeleteFileBeingCloned = 133
    kClientVersionNotMatch = 134
    kSnapshotFrozen = 135
    kSnapshotCloneConnectFail = 136
    kSnapshotCloneServerNotInit = 137
    kRecoverFileCloneMetaInstalled = 138
    kRecoverFileError = 139
    kEpochTooOld = 140
    kPoolsetNotExist = 141
    kFileStatusInvalid = 142
    kFileTypeInvalid = 143
    kSnapshotFileNotProtected = 144
    kSnapshotFileProtected = 145
    kSnapshotExist = 146
    kStorageError = 501
    KInternalError = 502


ThrottleParams = Message(
    "ThrottleParams",
    F(1, "type", "enum", required=True),
    F(2, "limit", "uint64", required=True),
    F(3, "burst", "uint64"),
    F(4, "burstLength", "uint64"),
)
FileThrottleParams = Message("FileThrottleParams", F(1, "throttleParams", "message", repeated=True,
                                                     message=ThrottleParams))
CloneInfos = Message("CloneInfos", F(1, "fileId", "uint64", required=True), F(2, "cloneSn", "uint64", required=True))
FileInfo = Message(
    "FileInfo",
    F(1, "id", "uint64"),
    F(2, "fileName", "string"),
    F(3, "parentId", "uint64"),
    F(4, "fileType", "enum"),
    F(5, "owner", "string"),
    F(6, "chunkSize", "uint32"),
    F(7, "segmentSize", "uint32"),
    F(8, "length", "uint64"),
    F(9, "ctime", "uint64"),
    F(10, "seqNum", "uint64"),
    F(11, "fileStatus", "enum"),
    F(12, "originalFullPathName", "string"),
    F(13, "cloneSource", "string"),
    F(14, "cloneLength", "uint64"),
    F(15, "stripeUnit", "uint64"),
    F(16, "stripeCount", "uint64"),
    F(17, "throttleParams", "message", message=FileThrottleParams),
    F(18, "epoch", "uint64"),
    F(19, "poolset", "string"),
    F(20, "blocksize", "uint32"),
    F(21, "snaps", "uint64", repeated=True),
    F(22, "cloneSn", "uint64"),
    F(23, "clones", "message", repeated=True, message=CloneInfos),
    F(24, "isProtected", "bool"),
    F(25, "children", "string", repeated=True),
    F(26, "version", "uint32"),
    F(27, "readonly", "bool"),
)
ProtoSession = Message(
    "ProtoSession",
    F(1, "sessionID", "string", required=True),
    F(2, "leaseTime", "uint32", required=True),
    F(3, "createTime", "uint64", required=True),
    F(4, "sessionStatus", "enum", required=True),
)
AllocSizeEntry = Message("AllocSizeMapEntry", F(1, "key", "uint32"), F(2, "value", "uint64"))


def _auth(owner: int, signature: int, date: int) -> tuple:
    """The auth triple at the field numbers a request puts it (owner and date are proto2 required)."""
    return (F(owner, "owner", "string", required=True), F(signature, "signature", "string"),
            F(date, "date", "uint64", required=True))


def _response(name: str, *extra: F) -> Message:
    return Message(name, F(1, "statusCode", "enum", required=True), *extra)


# method -> (request, response)
METHODS: dict[str, tuple[Message, Message]] = {
    "CreateFile": (
        Message("CreateFileRequest", F(1, "fileName", "string", required=True),
                F(2, "owner", "string", required=True), F(3, "fileType", "enum", required=True),
                F(4, "fileLength", "uint64"), F(5, "signature", "string"),
                F(6, "date", "uint64", required=True), F(7, "stripeUnit", "uint64"),
                F(8, "stripeCount", "uint64"), F(9, "poolset", "string")),
        _response("CreateFileResponse")),
    "DeleteFile": (
        Message("DeleteFileRequest", F(1, "fileName", "string", required=True), *_auth(2, 3, 4),
                F(5, "fileId", "uint64"), F(6, "forceDelete", "bool")),
        _response("DeleteFileResponse")),
    "RecoverFile": (
        Message("RecoverFileRequest", F(1, "fileName", "string", required=True), *_auth(2, 3, 4),
                F(5, "fileId", "uint64")),
        _response("RecoverFileResponse")),
    "GetFileInfo": (
        Message("GetFileInfoRequest", F(1, "fileName", "string", required=True), *_auth(2, 3, 4)),
        _response("GetFileInfoResponse", F(2, "fileInfo", "message", message=FileInfo))),
    "ListDir": (
        Message("ListDirRequest", F(1, "fileName", "string", required=True), *_auth(2, 3, 4)),
        _response("ListDirResponse", F(2, "fileInfo", "message", repeated=True, message=FileInfo))),
    "ExtendFile": (
        Message("ExtendFileRequest", F(1, "fileName", "string", required=True),
                F(2, "owner", "string", required=True), F(3, "newSize", "uint64", required=True),
                F(4, "signature", "string"), F(5, "date", "uint64", required=True)),
        _response("ExtendFileResponse")),
    "RenameFile": (
        Message("RenameFileRequest", F(1, "oldFileName", "string", required=True),
                F(2, "newFileName", "string", required=True), F(3, "owner", "string", required=True),
                F(4, "signature", "string"), F(5, "oldFileID", "uint64"), F(6, "newFileID", "uint64"),
                F(7, "date", "uint64", required=True)),
        _response("RenameFileResponse")),
    "ChangeOwner": (
        Message("ChangeOwnerRequest", F(1, "fileName", "string", required=True),
                F(2, "newOwner", "string", required=True), F(3, "rootOwner", "string", required=True),
                F(4, "signature", "string", required=True), F(5, "date", "uint64", required=True)),
        _response("ChangeOwnerResponse")),
    "GetAllocatedSize": (
        Message("GetAllocatedSizeRequest", F(1, "fileName", "string", required=True)),
        _response("GetAllocatedSizeResponse", F(2, "allocatedSize", "uint64"),
                  F(3, "allocSizeMap", "message", repeated=True, message=AllocSizeEntry))),
    "GetFileSize": (
        Message("GetFileSizeRequest", F(1, "fileName", "string", required=True)),
        _response("GetFileSizeResponse", F(2, "fileSize", "uint64"))),
    "OpenFile": (
        Message("OpenFileRequest", F(1, "fileName", "string", required=True), *_auth(2, 3, 4),
                F(5, "clientVersion", "string")),
        _response("OpenFileResponse", F(2, "protoSession", "message", message=ProtoSession),
                  F(3, "fileInfo", "message", message=FileInfo))),
    "CloseFile": (
        Message("CloseFileRequest", F(1, "fileName", "string", required=True),
                F(2, "sessionID", "string", required=True), *_auth(3, 4, 5), F(6, "clientIP", "string"),
                F(7, "clientPort", "uint32")),
        _response("CloseFileResponse")),
    "RefreshSession": (
        Message("ReFreshSessionRequest", F(1, "fileName", "string", required=True),
                F(2, "sessionID", "string", required=True), F(3, "owner", "string", required=True),
                F(4, "date", "uint64", required=True),
                F(5, "signature", "string"), F(6, "clientVersion", "string"), F(7, "clientIP", "string"),
                F(8, "clientPort", "uint32")),
        _response("ReFreshSessionResponse", F(2, "sessionID", "string", required=True),
                  F(3, "fileInfo", "message", message=FileInfo),
                  F(4, "protoSession", "message", message=ProtoSession))),
    # --- snapshots: CreateSnapShot .. CheckSnapShotStatus exist in master and release1.5 (in release1.5
    # fileName may be "<volpath>@<snapname>"); seq is required in master's DeleteSnapShotRequest and
    # optional in release1.5's, so it is optional here and the service refuses a missing one itself
    "CreateSnapShot": (
        Message("CreateSnapShotRequest", F(1, "fileName", "string", required=True), *_auth(2, 3, 4)),
        _response("CreateSnapShotResponse", F(2, "snapShotFileInfo", "message", message=FileInfo))),
    "ListSnapShot": (
        Message("ListSnapShotFileInfoRequest", F(1, "fileName", "string", required=True),
                F(2, "owner", "string", required=True), F(3, "seq", "uint64", repeated=True),
                F(4, "signature", "string"), F(5, "date", "uint64", required=True)),
        _response("ListSnapShotFileInfoResponse", F(2, "fileInfo", "message", repeated=True, message=FileInfo))),
    "DeleteSnapShot": (
        Message("DeleteSnapShotRequest", F(1, "fileName", "string", required=True),
                F(2, "owner", "string", required=True), F(3, "seq", "uint64"),
                F(4, "signature", "string"), F(5, "date", "uint64", required=True)),
        _response("DeleteSnapShotResponse")),
    "CheckSnapShotStatus": (
        Message("CheckSnapShotStatusRequest", F(1, "fileName", "string", required=True),
                F(2, "owner", "string", required=True), F(3, "seq", "uint64", required=True),
                F(4, "signature", "string"), F(5, "date", "uint64", required=True)),
        _response("CheckSnapShotStatusResponse", F(2, "fileStatus", "enum"), F(3, "progress", "uint32"))),
    # --- release1.5 only: protection, clones, flatten, children
    "ProtectSnapShot": (
        Message("ProtectSnapShotRequest", F(1, "snapFileName", "string"), *_auth(2, 3, 4)),
        _response("ProtectSnapShotResponse")),
    "UnprotectSnapShot": (
        Message("UnprotectSnapShotRequest", F(1, "snapFileName", "string"), *_auth(2, 3, 4)),
        _response("UnprotectSnapShotResponse")),
    "Clone": (
        Message("CloneRequest", F(1, "fileName", "string", required=True),
                F(2, "snapFileName", "string", required=True), *_auth(3, 4, 5), F(6, "poolset", "string"),
                F(7, "readonly", "bool")),
        _response("CloneResponse", F(2, "fileInfo", "message", message=FileInfo))),
    "Flatten": (
        Message("FlattenRequest", F(1, "fileName", "string", required=True), *_auth(2, 3, 4)),
        _response("FlattenResponse")),
    "QueryFlattenStatus": (
        Message("QueryFlattenStatusRequest", F(1, "fileName", "string", required=True), *_auth(2, 3, 4)),
        _response("QueryFlattenStatusResponse", F(2, "fileStatus", "enum"), F(3, "progress", "uint32"))),
    "Children": (
        Message("ChildrenRequest", F(1, "fileName", "string"), F(2, "snapFileName", "string"), *_auth(3, 4, 5)),
        _response("ChildrenResponse", F(2, "fileNames", "string", repeated=True))),
}

# RPCs only release1.5's MDS has: a mainline (master, release2.x) MDS answers brpc ENOMETHOD
RELEASE15_ONLY = frozenset({"ProtectSnapShot", "UnprotectSnapShot", "Clone", "Flatten", "QueryFlattenStatus",
                            "Children"})
# FileInfo fields only release1.5 fills in (a mainline MDS has no such fields)
RELEASE15_FILEINFO = frozenset({"snaps", "cloneSn", "clones", "isProtected", "children", "version", "readonly"})

# Requests without the auth triple (Curve checks nothing for them).
UNAUTHENTICATED = frozenset({"GetAllocatedSize", "GetFileSize"})
