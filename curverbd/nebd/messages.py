"""The messages of CurveBS nebd (package ``nebd.client``) and brpc's RpcMeta.

Field numbers and types are those of the public .proto files (see
shared/reference/nebd-protocol.md); a real nebd-server or nebd client reads
exactly these bytes.
"""
from __future__ import annotations

from .protobuf import Field as F, Message

# RetCode
OK = 0
NO_OK = -1

FILE_SERVICE = "nebd.client.NebdFileService"
HEARTBEAT_SERVICE = "nebd.client.NebdHeartbeatService"

# brpc error codes carried in RpcResponseMeta.error_code
ENOSERVICE = 1001
ENOMETHOD = 1002
EREQUEST = 1003
EINTERNAL = 2001
ELOGOFF = 2003
ELIMIT = 2004

# --- brpc.policy ---------------------------------------------------------------
RpcRequestMeta = Message(
    "RpcRequestMeta",
    F(1, "service_name", "string", required=True),
    F(2, "method_name", "string", required=True),
    F(3, "log_id", "int64"),
    F(4, "trace_id", "int64"),
    F(5, "span_id", "int64"),
    F(6, "parent_span_id", "int64"),
)
RpcResponseMeta = Message(
    "RpcResponseMeta",
    F(1, "error_code", "int32"),
    F(2, "error_text", "string"),
)
RpcMeta = Message(
    "RpcMeta",
    F(1, "request", "message", message=RpcRequestMeta),
    F(2, "response", "message", message=RpcResponseMeta),
    F(3, "compress_type", "int32"),
    F(4, "correlation_id", "int64"),
    F(5, "attachment_size", "int32"),
    F(7, "authentication_data", "bytes"),
)

# --- nebd.client ---------------------------------------------------------------


def _reply(name: str, code_name: str = "retCode", msg_name: str = "retMsg") -> Message:
    return Message(name, F(1, code_name, "enum", required=True), F(2, msg_name, "string"))


ProtoOpenFlags = Message("ProtoOpenFlags", F(1, "exclusive", "bool", required=True))
# ``opener`` (field 15, in OpenFile and CloseFile) is curverbd's own: a token naming one client's open,
# so an open or close re-sent after a daemon restart counts once. A real nebd-server skips the field
# (proto2 keeps unknown fields), and requests without it count as before.
OpenFileRequest = Message(
    "OpenFileRequest",
    F(1, "fileName", "string", required=True),
    F(2, "flags", "message", message=ProtoOpenFlags),
    F(15, "opener", "string"),
)
OpenFileResponse = Message(
    "OpenFileResponse",
    F(1, "retCode", "enum", required=True),
    F(2, "retMsg", "string"),
    F(3, "fd", "int32"),
)
CloseFileRequest = Message("CloseFileRequest", F(1, "fd", "int32", required=True), F(15, "opener", "string"))
CloseFileResponse = _reply("CloseFileResponse")


def _io_request(name: str) -> Message:
    return Message(
        name,
        F(1, "fd", "int32", required=True),
        F(2, "offset", "uint64", required=True),
        F(3, "size", "uint64", required=True),
    )


ReadRequest = _io_request("ReadRequest")
ReadResponse = _reply("ReadResponse")
WriteRequest = _io_request("WriteRequest")
WriteResponse = _reply("WriteResponse", "RetCode", "RetMsg")
DiscardRequest = _io_request("DiscardRequest")
DiscardResponse = _reply("DiscardResponse", "RetCode", "RetMsg")
ResizeRequest = Message(
    "ResizeRequest",
    F(1, "fd", "int32", required=True),
    F(2, "newSize", "uint64", required=True),
)
ResizeResponse = _reply("ResizeResponse")
FlushRequest = Message("FlushRequest", F(1, "fd", "int32", required=True))
FlushResponse = _reply("FlushResponse")
InvalidateCacheRequest = Message("InvalidateCacheRequest", F(1, "fd", "int32", required=True))
InvalidateCacheResponse = _reply("InvalidateCacheResponse")
GetInfoRequest = Message("GetInfoRequest", F(1, "fd", "int32", required=True))
FileInfo = Message(
    "FileInfo",
    F(1, "size", "uint64", required=True),
    F(2, "objSize", "uint64", required=True),
    F(3, "objNums", "uint64", required=True),
    F(4, "blocksize", "uint32"),
)
GetInfoResponse = Message(
    "GetInfoResponse",
    F(1, "retCode", "enum", required=True),
    F(2, "retMsg", "string"),
    F(3, "info", "message", message=FileInfo),
)
HeartbeatFileInfo = Message(
    "HeartbeatFileInfo",
    F(1, "fd", "int32", required=True),
    F(2, "name", "string", required=True),
)
HeartbeatRequest = Message(
    "HeartbeatRequest",
    F(1, "pid", "int32", required=True),
    F(2, "nebdVersion", "string", required=True),
    F(3, "info", "message", repeated=True, message=HeartbeatFileInfo),
)
HeartbeatResponse = Message("HeartbeatResponse", F(1, "retCode", "enum", required=True))

# method name -> (request, response), per service
FILE_METHODS: dict[str, tuple[Message, Message]] = {
    "OpenFile": (OpenFileRequest, OpenFileResponse),
    "CloseFile": (CloseFileRequest, CloseFileResponse),
    "Read": (ReadRequest, ReadResponse),
    "Write": (WriteRequest, WriteResponse),
    "Discard": (DiscardRequest, DiscardResponse),
    "ResizeFile": (ResizeRequest, ResizeResponse),
    "Flush": (FlushRequest, FlushResponse),
    "GetInfo": (GetInfoRequest, GetInfoResponse),
    "InvalidateCache": (InvalidateCacheRequest, InvalidateCacheResponse),
}
HEARTBEAT_METHODS: dict[str, tuple[Message, Message]] = {
    "KeepAlive": (HeartbeatRequest, HeartbeatResponse),
}


def ret_code(reply: dict) -> int:
    """The RetCode of any nebd reply, whichever capitalisation its message uses."""
    return reply.get("retCode", reply.get("RetCode", NO_OK))


def ret_msg(reply: dict) -> str:
    return reply.get("retMsg", reply.get("RetMsg", ""))
