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
    """A proto2 message type: ``encode(dict) -> bytes`` and ``decode(bytes) -> dict``.

    Each field's key bytes and converter are worked out once, here, so encoding and decoding are one
    loop over the fields or the bytes with no per-field dispatch on kinds (this codec also serves the
    daemon's data frames when its C loop is unavailable, so a frame's cost matters: bench/codec_cost.py).
    """

    def __init__(self, name: str, *fields: Field) -> None:
        self.name = name
        self.fields = fields
        self.by_number = {f.number: f for f in fields}
        self._encoders = tuple((f.name, _key(f), _ENCODE[f.kind], f.message, f.required, f.repeated)
                               for f in fields)
        # key (field number << 3 | wire type) -> (name, length-delimited?, converter, repeated)
        self._decoders = {(f.number << 3) | _wire(f): (f.name, _wire(f) == LENGTH, _converter(f), f.repeated)
                          for f in fields}
        self._required = tuple(f.name for f in fields if f.required)

    def __repr__(self) -> str:
        return f"<Message {self.name}>"

    def encode(self, values: dict[str, Any]) -> bytes:
        out = bytearray()
        get = values.get
        for name, key, encode, message, required, repeated in self._encoders:
            value = get(name)
            if value is None:
                if required:
                    raise ValueError(f"{self.name}.{name} is required")
                continue
            if repeated:
                for item in value:
                    out += key
                    encode(out, item, message)
            else:
                out += key
                encode(out, value, message)
        return bytes(out)

    def decode(self, data, check_required: bool = True) -> dict[str, Any]:
        values: dict[str, Any] = {}
        decoders = self._decoders
        pos, end = 0, len(data)
        while pos < end:
            key = data[pos]
            if key < 0x80:
                pos += 1
            else:
                key, pos = decode_varint(data, pos)
            entry = decoders.get(key)
            if entry is None:  # an unknown field, or a known one in another wire type
                pos = self._skip(data, key, pos, end)
                continue
            name, length, convert, repeated = entry
            if pos < end and data[pos] < 0x80:
                raw = data[pos]
                pos += 1
            else:
                raw, pos = decode_varint(data, pos)
            if length:
                if pos + raw > end:
                    raise DecodeError(f"{self.name}: truncated length-delimited field {key >> 3}")
                value = convert(data[pos:pos + raw])
                pos += raw
            else:
                value = convert(raw)
            if repeated:
                values.setdefault(name, []).append(value)
            else:
                values[name] = value
        if check_required:
            for name in self._required:
                if name not in values:
                    raise DecodeError(f"{self.name}: required field {name} missing")
        return values

    def _skip(self, data, key: int, pos: int, end: int) -> int:
        """The position after a field this message has no decoder for (unknown ones are skipped)."""
        number, wire = key >> 3, key & 7
        if number == 0:
            raise DecodeError(f"{self.name}: field number 0")
        field = self.by_number.get(number)
        if wire == VARINT:
            _, pos = decode_varint(data, pos)
        elif wire == LENGTH:
            size, pos = decode_varint(data, pos)
            if pos + size > end:
                raise DecodeError(f"{self.name}: truncated length-delimited field {number}")
            pos += size
        elif wire == FIXED64:
            pos += 8
        elif wire == FIXED32:
            pos += 4
        else:
            raise DecodeError(f"{self.name}: unsupported wire type {wire}")
        if field is not None and wire in (VARINT, LENGTH):
            raise DecodeError(f"{self.name}.{field.name}: wire type {wire}, expected {_wire(field)}")
        if pos > end:
            raise DecodeError(f"{self.name}: truncated fixed field {number}")
        return pos


def _wire(field: Field) -> int:
    return LENGTH if field.kind in ("string", "bytes", "message") else VARINT


def _key(field: Field) -> bytes:
    return encode_varint((field.number << 3) | _wire(field))


def _put_varint(out: bytearray, value, message=None) -> None:
    value = int(value)
    if 0 <= value < 0x80:
        out.append(value)
    else:
        out += encode_varint(value)


def _put_chunk(out: bytearray, raw: bytes) -> None:
    size = len(raw)
    if size < 0x80:
        out.append(size)
    else:
        out += encode_varint(size)
    out += raw


_ENCODE: dict[str, Callable[[bytearray, Any, Any], None]] = {
    **{kind: _put_varint for kind in _VARINT_DECODE},
    "string": lambda out, value, message: _put_chunk(out, value.encode()),
    "bytes": lambda out, value, message: _put_chunk(out, bytes(value)),
    "message": lambda out, value, message: _put_chunk(out, message.encode(value)),
}


def _converter(field: Field) -> Callable[[Any], Any]:
    if field.kind == "string":
        name = field.name

        def string(chunk) -> str:
            try:
                return str(chunk, "utf-8")
            except UnicodeDecodeError as exc:
                raise DecodeError(f"{name}: invalid UTF-8") from exc
        return string
    if field.kind == "message":
        return field.message.decode
    if field.kind == "bytes":
        return bytes
    return _VARINT_DECODE[field.kind]
