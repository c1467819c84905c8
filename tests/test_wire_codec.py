"""The proto2 codec, baidu_std framing and nebd names, against fixed bytes and random input."""
import errno

import pytest
from hypothesis import given, settings, strategies as st

from curverbd.errors import Error
from curverbd.nebd import framing, messages
from curverbd.nebd.names import format_name, parse_name
from curverbd.nebd.protobuf import DecodeError


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
