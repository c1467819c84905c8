"""The daemon's specialised request decoding and reply heads (curverbd/nebd/fastwire.py) agree with the
generic codec: same fields when they decode, None (generic path) otherwise; byte-identical reply heads."""
from __future__ import annotations

from hypothesis import given, strategies as st

from curverbd.nebd import fastwire, framing, messages
from curverbd.nebd.protobuf import DecodeError

I64 = st.integers(-(1 << 63), (1 << 63) - 1)
U64 = st.integers(0, (1 << 64) - 1)
NAMES = st.sampled_from(["nebd.client.NebdFileService", "nebd.client.NebdHeartbeatService", "x", ""])


def generic_meta(raw: bytes):
    try:
        meta = messages.RpcMeta.decode(raw)
    except DecodeError:
        return None
    return meta


@given(NAMES, st.sampled_from(sorted(messages.FILE_METHODS)), I64, st.integers(0, 1 << 25),
       st.one_of(st.none(), I64))
def test_request_meta_of_well_formed_heads(service, method, cid, attachment, log_id):
    head = framing.request_head(service, method, cid, b"", attachment, log_id=log_id)
    meta = head[12:12 + int.from_bytes(head[8:12], "big")]
    want = messages.RpcMeta.decode(meta)
    assert fastwire.request_meta(meta) == (service, method, want.get("correlation_id", 0),
                                           want.get("attachment_size", 0))


@given(st.binary(max_size=60))
def test_request_meta_of_any_bytes_is_none_or_the_generic_decode(raw):
    got = fastwire.request_meta(raw)
    if got is None:
        return
    want = generic_meta(raw)
    assert want is not None and "request" in want and not want.get("compress_type")
    assert got == (want["request"]["service_name"], want["request"]["method_name"],
                   want.get("correlation_id", 0), want.get("attachment_size", 0))


@given(st.integers(-(1 << 31), (1 << 31) - 1), U64, U64)
def test_io_request_fields(fd, offset, size):
    payload = fastwire.io_request(fd, offset, size)
    got = fastwire.io_request_fields(payload)
    assert got is None or got == messages.ReadRequest.decode(payload)
    if 0 <= fd and offset < 1 << 63 and size < 1 << 63:
        assert got == {"fd": fd, "offset": offset, "size": size}


@given(st.binary(max_size=30))
def test_io_request_fields_of_any_bytes(raw):
    got = fastwire.io_request_fields(raw)
    if got is not None:
        assert got == messages.ReadRequest.decode(raw)


@given(I64, st.binary(max_size=20), st.integers(0, 1 << 25))
def test_reply_heads(cid, payload, attachment):
    assert fastwire.response_head(cid, payload, attachment) == framing.response_head(cid, payload, attachment)
