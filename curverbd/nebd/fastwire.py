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
        return _head(self._request_field, correlation_id, payload, attachment_size)


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


# --- the server's side: requests in, kOK replies out ----------------------------------------------
_REQUESTS: dict[bytes, tuple[str, str]] = {}  # encoded RpcRequestMeta -> (service, method)
_MAX_REQUESTS = 64                           # a client varying log_id per request fills it once
_TWO63 = 1 << 63


def request_meta(data) -> tuple[str, str, int, int] | None:
    """(service, method, correlation_id, attachment_size) of a request's RpcMeta in the plain form
    clients send (request, correlation_id, attachment_size, nothing else); None for anything else,
    which the generic codec then decodes (and names what is wrong with it)."""
    end = len(data)
    if end < 2 or data[0] != 0x0A or data[1] & 0x80:
        return None
    pos = 2 + data[1]
    if pos > end:
        return None
    raw = bytes(data[2:pos])
    names = _REQUESTS.get(raw)
    if names is None:
        try:
            req = messages.RpcRequestMeta.decode(raw)
        except DecodeError:
            return None
        names = (req["service_name"], req["method_name"])
        if len(_REQUESTS) < _MAX_REQUESTS:
            _REQUESTS[raw] = names
    cid = att = 0
    try:
        while pos < end:
            key = data[pos]
            if key == 0x20:
                cid, pos = decode_varint(data, pos + 1)
                if cid >> 63:
                    cid -= _TWO64
            elif key == 0x28:
                att, pos = decode_varint(data, pos + 1)
                att &= _TWO32 - 1
                if att >> 31:
                    att -= _TWO32
            else:
                return None
    except DecodeError:
        return None
    return names[0], names[1], cid, att


def io_request_fields(payload) -> dict | None:
    """{fd, offset, size} of a Read/Write/DiscardRequest with exactly those three plain fields, else None."""
    out = {}
    pos, end = 0, len(payload)
    try:
        while pos < end:
            name = _IO_KEYS.get(payload[pos])
            if name is None or name in out:
                return None
            value, pos = decode_varint(payload, pos + 1)
            if value >= (_TWO32 >> 1 if name == "fd" else _TWO63):
                return None
            out[name] = value
    except DecodeError:
        return None
    return out if len(out) == 3 else None


_IO_KEYS = {0x08: "fd", 0x10: "offset", 0x18: "size"}


def response_head(correlation_id: int, payload: bytes, attachment_size: int = 0) -> bytes:
    """A success reply's head: RpcMeta{response{error_code 0}, correlation_id, attachment_size} + payload."""
    return _head(_RESPONSE_OK, correlation_id, payload, attachment_size)


_RESPONSE_OK = b"\x12\x02\x08\x00"   # RpcMeta.response = RpcResponseMeta{error_code: 0}


def _head(meta_start: bytes, correlation_id: int, payload: bytes, attachment_size: int) -> bytes:
    """Header + RpcMeta (``meta_start``, correlation_id, attachment_size) + payload; the attachment
    (``attachment_size`` bytes) follows on the wire."""
    meta = meta_start + b"\x20" + _varint(correlation_id)
    if attachment_size:
        meta += b"\x28" + _varint(attachment_size)
    body = len(meta) + len(payload) + attachment_size
    if body > _MAX_BODY:
        raise framing.FrameError(f"frame body of {body} bytes exceeds the {_MAX_BODY} byte limit")
    return _HEADER.pack(_MAGIC, body, len(meta)) + meta + payload
