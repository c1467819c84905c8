"""brpc "baidu_std" framing.

    "PRPC" | body_size u32 BE | meta_size u32 BE | RpcMeta | payload | attachment

``body_size`` counts meta + payload + attachment.  The attachment carries bulk
data (write data in requests, read data in responses) so it is handed around as
a separate buffer and never copied into the frame head.
"""
from __future__ import annotations

import struct
from collections import namedtuple

from . import messages
from .protobuf import DecodeError

MAGIC = b"PRPC"
HEADER = struct.Struct(">4sII")
HEADER_SIZE = HEADER.size
MAX_BODY = 64 << 20  # brpc's default max_body_size


class FrameError(ValueError):
    """The byte stream is not baidu_std; the connection cannot be trusted further."""


class Frame(namedtuple("Frame", "meta payload attachment")):
    """One parsed frame: RpcMeta (dict), payload and attachment (views into the receive buffer)."""
    __slots__ = ()

    @property
    def correlation_id(self) -> int:
        return self.meta.get("correlation_id", 0)


def frame_head(meta: dict, payload: bytes, attachment_size: int) -> bytes:
    """Header + meta + payload; the attachment (``attachment_size`` bytes) follows on the wire."""
    if attachment_size:
        meta["attachment_size"] = attachment_size
    raw_meta = messages.RpcMeta.encode(meta)
    body = len(raw_meta) + len(payload) + attachment_size
    if body > MAX_BODY:
        raise FrameError(f"frame body of {body} bytes exceeds the {MAX_BODY} byte limit")
    return HEADER.pack(MAGIC, body, len(raw_meta)) + raw_meta + payload


def request_head(service: str, method: str, correlation_id: int, payload: bytes,
                 attachment_size: int = 0, log_id: int | None = None) -> bytes:
    request = {"service_name": service, "method_name": method}
    if log_id is not None:
        request["log_id"] = log_id
    return frame_head({"request": request, "correlation_id": correlation_id}, payload, attachment_size)


def response_head(correlation_id: int, payload: bytes = b"", attachment_size: int = 0,
                  error_code: int = 0, error_text: str = "") -> bytes:
    response = {"error_code": error_code}
    if error_text:
        response["error_text"] = error_text
    return frame_head({"response": response, "correlation_id": correlation_id}, payload, attachment_size)


def parse_header(head) -> tuple[int, int]:
    """(body_size, meta_size) of a 12-byte header, or FrameError."""
    magic, body, meta = HEADER.unpack(head)
    if magic != MAGIC:
        raise FrameError(f"bad magic {bytes(magic)!r}, expected b'PRPC'")
    if body > MAX_BODY:
        raise FrameError(f"frame body of {body} bytes exceeds the {MAX_BODY} byte limit")
    if meta > body:
        raise FrameError(f"meta size {meta} exceeds body size {body}")
    return body, meta


def response_meta(raw) -> tuple[int, int, int, str]:
    """(correlation_id, attachment_size, error_code, error_text) of a reply's RpcMeta."""
    meta = messages.RpcMeta.decode(raw)
    response = meta.get("response")
    if response is None:
        return meta.get("correlation_id", 0), meta.get("attachment_size", 0), 0, ""
    return (meta.get("correlation_id", 0), meta.get("attachment_size", 0), response.get("error_code", 0),
            response.get("error_text", ""))


def parse_body(body: memoryview, meta_size: int) -> Frame:
    """Split a frame body into meta, payload and attachment (views, no copies)."""
    try:
        meta = messages.RpcMeta.decode(body[:meta_size])
    except DecodeError as exc:
        raise FrameError(f"undecodable RpcMeta: {exc}") from exc
    attachment_size = meta.get("attachment_size", 0)
    rest = len(body) - meta_size
    if attachment_size < 0 or attachment_size > rest:
        raise FrameError(f"attachment size {attachment_size} exceeds the {rest} bytes after the meta")
    split = len(body) - attachment_size
    return Frame(meta, body[meta_size:split], body[split:])


class FrameReader:
    """Cuts complete frames out of a byte stream fed in arbitrary pieces."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data) -> list[Frame]:
        self._buf += data
        frames = []
        view = memoryview(self._buf)
        pos = 0
        try:
            while len(view) - pos >= HEADER_SIZE:
                body_size, meta_size = parse_header(view[pos:pos + HEADER_SIZE])
                end = pos + HEADER_SIZE + body_size
                if end > len(view):
                    break
                body = memoryview(bytes(view[pos + HEADER_SIZE:end]))
                frames.append(parse_body(body, meta_size))
                pos = end
        finally:
            view.release()
        del self._buf[:pos]
        return frames

    @property
    def pending(self) -> int:
        return len(self._buf)
