"""The per-I/O encodings, specialised: byte-identical to framing/protobuf's generic codec.

The generic table-driven codec costs ~25 µs per request in CPython; these
hand-written forms of the few messages on the data path (request heads, I/O
requests, response metas, kOK replies) cost a few. tests/test_core_fastwire.py
checks them against the generic codec.
"""
from __future__ import annotations

import struct

from . import framing, messages
from .protobuf import DecodeError, decode_varint, encode_varint

_HEADER = struct.Struct(">4sII")
_MAGIC = framing.MAGIC
_MAX_BODY = framing.MAX_BODY
_META_OK = b"\x08\x00"    # RpcResponseMeta{error_code: 0}
REPLY_OK = b"\x08\x00"    # any nebd reply {retCode: kOK}, nothing else
_TWO64 = 1 << 64
_TWO32 = 1 << 32


def _varint(value: int) -> bytes:
    if 0 <= value < 0x80:
        return bytes((value,))
    if 0 <= value < 0x4000:
        return bytes(((value & 0x7F) | 0x80, value >> 7))
    return encode_varint(value)


class HeadEncoder:
    """Frame heads of one service method, with the constant RpcRequestMeta pre-encoded."""
    __slots__ = ("_request_field",)

    def __init__(self, service: str, method: str) -> None:
        request = messages.RpcRequestMeta.encode({"service_name": service, "method_name": method})
        self._request_field = b"\x0a" + encode_varint(len(request)) + request

    def head(self, correlation_id: int, payload: bytes, attachment_size: int = 0) -> bytes:
        meta = self._request_field + b"\x20" + _varint(correlation_id)
        if attachment_size:
            meta += b"\x28" + _varint(attachment_size)
        body = len(meta) + len(payload) + attachment_size
        if body > _MAX_BODY:
            raise framing.FrameError(f"frame body of {body} bytes exceeds the {_MAX_BODY} byte limit")
        return _HEADER.pack(_MAGIC, body, len(meta)) + meta + payload


def io_request(fd: int, offset: int, size: int) -> bytes:
    """ReadRequest / WriteRequest / DiscardRequest {fd, offset, size}."""
    return b"\x08" + _varint(fd) + b"\x10" + _varint(offset) + b"\x18" + _varint(size)


def fd_request(fd: int) -> bytes:
    """FlushRequest / GetInfoRequest / CloseFileRequest {fd}."""
    return b"\x08" + _varint(fd)


def response_meta(data) -> tuple[int, int, int, str]:
    """(correlation_id, attachment_size, error_code, error_text) of an RpcMeta."""
    cid = att = code = 0
    text = ""
    pos, end = 0, len(data)
    while pos < end:
        key = data[pos]
        pos += 1
        if key & 0x80:
            key, pos = decode_varint(data, pos - 1)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = decode_varint(data, pos)
            if field == 4:
                cid = value - _TWO64 if value >> 63 else value
            elif field == 5:
                value &= _TWO32 - 1
                att = value - _TWO32 if value >> 31 else value
        elif wire == 2:
            size, pos = decode_varint(data, pos)
            if pos + size > end:
                raise DecodeError("RpcMeta: truncated length-delimited field")
            if field == 2:
                chunk = data[pos:pos + size]
                if chunk != _META_OK:
                    response = messages.RpcResponseMeta.decode(chunk)
                    code = response.get("error_code", 0)
                    text = response.get("error_text", "")
            pos += size
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise DecodeError(f"RpcMeta: unsupported wire type {wire}")
    if pos > end:
        raise DecodeError("RpcMeta: truncated")
    return cid, att, code, text
