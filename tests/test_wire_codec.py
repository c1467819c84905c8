"""The proto2 codec, baidu_std framing and nebd names, against fixed bytes and random input."""
import errno

import pytest
from hypothesis import given, settings, strategies as st

from curverbd.errors import Error
from curverbd.curve import nameserver2
from curverbd.nebd import framing, messages
from curverbd.nebd.names import format_name, parse_name
from curverbd.nebd.protobuf import DecodeError

import rawwire


def test_negative_enum_is_ten_byte_varint():
    assert messages.OpenFileResponse.encode({"retCode": -1}) == bytes.fromhex("08ffffffffffffffffff01")
    assert messages.OpenFileResponse.decode(bytes.fromhex("08ffffffffffffffffff01")) == {"retCode": -1}


def test_write_request_bytes():
    # field 1 fd=3, field 2 offset=4096, field 3 size=4096
    assert messages.WriteRequest.encode({"fd": 3, "offset": 4096, "size": 4096}) == bytes.fromhex("0803108020188020")


def test_required_field_missing_is_reported():
    with pytest.raises(DecodeError, match="required field fd"):
        messages.WriteRequest.decode(bytes.fromhex("108020188020"))
    with pytest.raises(ValueError, match="fileName is required"):
        messages.OpenFileRequest.encode({})


def test_unknown_fields_are_skipped():
    # RpcMeta with an unknown field 12 (varint) and 13 (bytes) before correlation_id
    raw = bytes.fromhex("6001") + bytes.fromhex("6a026869") + bytes.fromhex("2005")
    assert messages.RpcMeta.decode(raw) == {"correlation_id": 5}


def test_truncated_inputs_raise():
    for raw in (b"\x08", b"\x0a\x05ab", b"\x80"):
        with pytest.raises(DecodeError):
            messages.OpenFileRequest.decode(raw, check_required=False)


def test_request_frame_layout():
    payload = messages.WriteRequest.encode({"fd": 3, "offset": 0, "size": 4096})
    head = framing.request_head(messages.FILE_SERVICE, "Write", 9, payload, attachment_size=4096)
    assert head[:4] == b"PRPC"
    body, meta = framing.parse_header(head[:12])
    assert body == meta + len(payload) + 4096
    frame = framing.parse_body(memoryview(head[12:] + b"\0" * 4096), meta)
    assert frame.correlation_id == 9
    assert frame.meta["request"]["method_name"] == "Write"
    assert bytes(frame.payload) == payload and len(frame.attachment) == 4096


def test_bad_headers():
    with pytest.raises(framing.FrameError, match="bad magic"):
        framing.parse_header(b"HTTP" + b"\0" * 8)
    with pytest.raises(framing.FrameError, match="exceeds"):
        framing.parse_header(b"PRPC" + (framing.MAX_BODY + 1).to_bytes(4, "big") + b"\0\0\0\0")
    with pytest.raises(framing.FrameError, match="meta size"):
        framing.parse_header(b"PRPC" + (4).to_bytes(4, "big") + (5).to_bytes(4, "big"))


@settings(max_examples=200, deadline=None)
@given(fd=st.integers(-2**31, 2**31 - 1), offset=st.integers(0, 2**64 - 1), size=st.integers(0, 2**64 - 1))
def test_io_request_round_trip(fd, offset, size):
    values = {"fd": fd, "offset": offset, "size": size}
    assert messages.ReadRequest.decode(messages.ReadRequest.encode(values)) == values


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 2**62), st.binary(max_size=300)), min_size=1, max_size=8),
       st.data())
def test_frame_reader_cuts_any_split(frames, data):
    stream = b"".join(
        framing.response_head(cid, b"", len(att)) + att for cid, att in frames)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    reader, got = framing.FrameReader(), []
    prev = 0
    for cut in cuts + [len(stream)]:
        got += reader.feed(stream[prev:cut])
        prev = cut
    assert [(f.correlation_id, bytes(f.attachment)) for f in got] == frames
    assert reader.pending == 0


def test_names_follow_nebd():
    parsed = parse_name("cbd:pool1//cinder/volume-1234_cinder_:/client.conf")
    assert (parsed.path, parsed.owner, parsed.conf) == ("/cinder/volume-1234", "cinder", "/client.conf")
    assert format_name("/rbd/my_vol", "admin") == "cbd:rbd//rbd/my_vol_admin_"
    assert parse_name("cbd:rbd//rbd/my_vol_admin_").path == "/rbd/my_vol"


@pytest.mark.parametrize("bad", ["rbd:pool//p/v_o_", "cbd:pool", "cbd:p//p/v", "cbd:p//_", "cbd:p//p/v_o"])
def test_bad_names(bad):
    with pytest.raises(Error) as exc:
        parse_name(bad)
    assert exc.value.errno == errno.EINVAL


# --- the codec against an independent one (tests/rawwire.py), over every message the project speaks ---
ALL_MESSAGES = sorted({id(m): m for pair in (*messages.FILE_METHODS.values(), *messages.HEARTBEAT_METHODS.values(),
                                             *nameserver2.METHODS.values()) for m in pair}.values(),
                      key=lambda m: m.name) + [messages.RpcMeta]
SCALARS = {
    "int32": st.integers(-2**31, 2**31 - 1), "enum": st.integers(-2**31, 2**31 - 1),
    "int64": st.integers(-2**63, 2**63 - 1), "uint32": st.integers(0, 2**32 - 1),
    "uint64": st.integers(0, 2**64 - 1), "bool": st.booleans(), "string": st.text(max_size=20),
    "bytes": st.binary(max_size=20),
}


def values_of(msg):
    def field(f):
        one = values_of(f.message) if f.kind == "message" else SCALARS[f.kind]
        return st.lists(one, min_size=1, max_size=3) if f.repeated else one
    return st.fixed_dictionaries({f.name: field(f) for f in msg.fields if f.required},
                                 optional={f.name: field(f) for f in msg.fields if not f.required})


def reference_encode(msg, value) -> bytes:
    out = b""
    for f in msg.fields:
        if f.name in value:
            for item in (value[f.name] if f.repeated else [value[f.name]]):
                if f.kind == "message":
                    out += rawwire.fb(f.number, reference_encode(f.message, item))
                elif f.kind in ("string", "bytes"):
                    out += rawwire.fb(f.number, item)
                else:
                    out += rawwire.fv(f.number, int(item))
    return out


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(ALL_MESSAGES).flatmap(lambda m: st.tuples(st.just(m), values_of(m))))
def test_every_message_matches_the_reference_bytes_and_round_trips(case):
    msg, value = case
    raw = msg.encode(value)
    assert raw == reference_encode(msg, value)
    assert msg.decode(raw) == value
    assert msg.decode(memoryview(b"\0" + raw)[1:]) == value   # frames are decoded from views


def _signed(bits):
    return lambda raw: (raw & ((1 << bits) - 1)) - ((raw >> (bits - 1) & 1) << bits)


READ_AS = {"int32": _signed(32), "enum": _signed(32), "int64": _signed(64), "uint32": lambda raw: raw & 0xFFFFFFFF,
           "uint64": lambda raw: raw & (2**64 - 1), "bool": bool, "bytes": bytes, "string": lambda raw: raw.decode()}


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(ALL_MESSAGES), st.binary(max_size=40))
def test_any_bytes_decode_as_the_reference_reads_them_or_raise(msg, raw):
    try:
        got = msg.decode(raw, check_required=False)
    except DecodeError:
        return
    try:
        seen = rawwire.fields(raw)
    except ValueError:   # a fixed32/fixed64 field (skipped by ours): the reference cannot walk past it
        return
    for f in msg.fields:
        if f.number not in seen:
            assert f.name not in got
            continue
        read = (lambda chunk: f.message.decode(chunk, check_required=False)) if f.kind == "message" \
            else READ_AS[f.kind]
        want = [read(item) for item in seen[f.number]]
        assert got[f.name] == (want if f.repeated else want[-1])


def test_wire_type_of_a_known_field_is_checked_and_fixed_fields_skipped():
    with pytest.raises(DecodeError, match="ReadRequest.fd: wire type 2, expected 0"):
        messages.ReadRequest.decode(bytes.fromhex("0a0100"))
    with pytest.raises(DecodeError, match="field number 0"):
        messages.ReadRequest.decode(b"\x00\x01")
    with pytest.raises(DecodeError, match="unsupported wire type 3"):
        messages.ReadRequest.decode(b"\x0b")
    with pytest.raises(DecodeError, match="truncated fixed field"):
        messages.ReadRequest.decode(b"\x21\x00")
    # a fixed64 and a fixed32 field skipped; a known key in a two-byte (non-minimal) varint still read
    raw = b"\x21" + bytes(8) + b"\x2d" + bytes(4) + b"\x88\x00\x07" + bytes.fromhex("10001800")
    assert messages.ReadRequest.decode(raw) == {"fd": 7, "offset": 0, "size": 0}
    with pytest.raises(DecodeError, match="invalid UTF-8"):
        messages.OpenFileRequest.decode(b"\x0a\x01\xff")


@given(st.integers(-(1 << 63), (1 << 63) - 1), st.integers(0, 1 << 25), st.integers(-(1 << 31), (1 << 31) - 1),
       st.text(max_size=20))
def test_response_meta(cid, attachment, code, text):
    frame = framing.response_head(cid, b"", attachment, code, text)
    body_size, meta_size = framing.parse_header(frame[:framing.HEADER_SIZE])
    meta = frame[framing.HEADER_SIZE:framing.HEADER_SIZE + meta_size]
    assert framing.response_meta(meta) == (cid, attachment, code, text)
    assert framing.response_meta(meta + b"\x48\x05" + b"\x52\x01x") == (cid, attachment, code, text)  # unknown fields
    assert rawwire.signed(rawwire.fields(meta)[4][0]) == cid


def test_ok_reply_is_two_bytes():
    """Every nebd reply {retCode: kOK} is the same two bytes (the C loop sends them as they are)."""
    for _, (_, reply) in messages.FILE_METHODS.items():
        assert reply.encode({reply.fields[0].name: messages.OK}) == b"\x08\x00"
