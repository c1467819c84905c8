"""A small proto2 codec: just what nebd's and brpc's messages need.

Messages are described by tables of fields and decoded into plain dicts, so a
frame costs one pass over its bytes and no generated code. Unknown fields are
skipped (newer brpc adds RpcMeta fields); missing required fields are reported
by ``decode`` so a peer's malformed message never becomes a half-filled reply.
"""
from __future__ import annotations

from collections import namedtuple
from typing import Any, Callable

VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5


class DecodeError(ValueError):
    """The bytes are not a valid encoding of the expected message."""


# kind: int32 int64 uint32 uint64 bool enum string bytes message; message: the Message of a
# message-typed field. (A namedtuple, not a dataclass: this module is imported inside QEMU at
# the first open, where dataclasses' import chain costs a few tens of ms.)
Field = namedtuple("Field", "number name kind required repeated message", defaults=(False, False, None))


def encode_varint(value: int) -> bytes:
    if value < 0:  # proto2 int32/int64/enum: two's complement over 64 bits, 10 bytes
        value += 1 << 64
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def decode_varint(data, pos: int) -> tuple[int, int]:
    result = shift = 0
    end = len(data)
    while True:
        if pos >= end:
            raise DecodeError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise DecodeError("varint longer than 10 bytes")


def _signed(bits: int) -> Callable[[int], int]:
    top = 1 << (bits - 1)
    mask = (1 << bits) - 1

    def convert(raw: int) -> int:
        raw &= mask
        return raw - (1 << bits) if raw & top else raw
    return convert


_VARINT_DECODE: dict[str, Callable[[int], Any]] = {
    "int32": _signed(32),
    "enum": _signed(32),
    "int64": _signed(64),
    "uint32": lambda raw: raw & 0xFFFFFFFF,
    "uint64": lambda raw: raw & 0xFFFFFFFFFFFFFFFF,
    "bool": bool,
}


class Message:
    """A proto2 message type: ``encode(dict) -> bytes`` and ``decode(bytes) -> dict``."""

    def __init__(self, name: str, *fields: Field) -> None:
        self.name = name
        self.fields = fields
        self.by_number = {f.number: f for f in fields}

    def __repr__(self) -> str:
        return f"<Message {self.name}>"

    def encode(self, values: dict[str, Any]) -> bytes:
        out = bytearray()
        for field in self.fields:
            value = values.get(field.name)
            if value is None:
                if field.required:
                    raise ValueError(f"{self.name}.{field.name} is required")
                continue
            for item in (value if field.repeated else (value,)):
                _encode_field(out, field, item)
        return bytes(out)

    def decode(self, data, check_required: bool = True) -> dict[str, Any]:
        values: dict[str, Any] = {}
        pos, end = 0, len(data)
        while pos < end:
            key, pos = decode_varint(data, pos)
            number, wire = key >> 3, key & 7
            if number == 0:
                raise DecodeError(f"{self.name}: field number 0")
            field = self.by_number.get(number)
            if wire == VARINT:
                raw, pos = decode_varint(data, pos)
                if field is not None:
                    _expect(field, wire, self)
                    _store(values, field, _VARINT_DECODE[field.kind](raw))
            elif wire == LENGTH:
                size, pos = decode_varint(data, pos)
                if pos + size > end:
                    raise DecodeError(f"{self.name}: truncated length-delimited field {number}")
                chunk = data[pos:pos + size]
                pos += size
                if field is not None:
                    _expect(field, wire, self)
                    _store(values, field, _decode_length(field, chunk))
            elif wire == FIXED64:
                pos += 8
            elif wire == FIXED32:
                pos += 4
            else:
                raise DecodeError(f"{self.name}: unsupported wire type {wire}")
            if pos > end:
                raise DecodeError(f"{self.name}: truncated fixed field {number}")
        if check_required:
            for field in self.fields:
                if field.required and field.name not in values:
                    raise DecodeError(f"{self.name}: required field {field.name} missing")
        return values


def _encode_field(out: bytearray, field: Field, value: Any) -> None:
    kind = field.kind
    if kind in ("string", "bytes", "message"):
        if kind == "string":
            raw = value.encode()
        elif kind == "message":
            raw = field.message.encode(value)
        else:
            raw = bytes(value)
        out += encode_varint((field.number << 3) | LENGTH)
        out += encode_varint(len(raw))
        out += raw
    else:
        out += encode_varint(field.number << 3)
        out += encode_varint(int(value))


def _expect(field: Field, wire: int, message: Message) -> None:
    want = LENGTH if field.kind in ("string", "bytes", "message") else VARINT
    if wire != want:
        raise DecodeError(f"{message.name}.{field.name}: wire type {wire}, expected {want}")


def _decode_length(field: Field, chunk) -> Any:
    if field.kind == "string":
        try:
            return bytes(chunk).decode()
        except UnicodeDecodeError as exc:
            raise DecodeError(f"{field.name}: invalid UTF-8") from exc
    if field.kind == "message":
        return field.message.decode(chunk)
    return bytes(chunk)


def _store(values: dict[str, Any], field: Field, value: Any) -> None:
    if field.repeated:
        values.setdefault(field.name, []).append(value)
    else:
        values[field.name] = value
