"""The specialised per-I/O encodings equal the generic codec's bytes."""
from __future__ import annotations

from hypothesis import given, strategies as st

from curverbd.nebd import fastwire, framing, messages

U64 = st.integers(0, (1 << 64) - 1)
FD = st.integers(-(1 << 31), (1 << 31) - 1)


@given(st.sampled_from(sorted(messages.FILE_METHODS)), st.integers(0, (1 << 63) - 1), st.binary(max_size=40),
       st.integers(0, 1 << 25))
def test_request_heads(method, cid, payload, attachment):
    want = framing.request_head(messages.FILE_SERVICE, method, cid, payload, attachment)
    assert fastwire.HeadEncoder(messages.FILE_SERVICE, method).head(cid, payload, attachment) == want


@given(FD, U64, U64)
def test_io_requests(fd, offset, size):
    for msg in (messages.ReadRequest, messages.WriteRequest, messages.DiscardRequest):
        assert fastwire.io_request(fd, offset, size) == msg.encode({"fd": fd, "offset": offset, "size": size})
    assert fastwire.fd_request(fd) == messages.FlushRequest.encode({"fd": fd})


@given(st.integers(-(1 << 63), (1 << 63) - 1), st.integers(0, 1 << 25), st.integers(-(1 << 31), (1 << 31) - 1),
       st.text(max_size=20))
def test_response_meta(cid, attachment, code, text):
    frame = framing.response_head(cid, b"", attachment, code, text)
    body_size, meta_size = framing.parse_header(frame[:framing.HEADER_SIZE])
    meta = frame[framing.HEADER_SIZE:framing.HEADER_SIZE + meta_size]
    assert fastwire.response_meta(meta) == (cid, attachment, code, text)
    assert fastwire.response_meta(meta + b"\x48\x05" + b"\x52\x01x") == (cid, attachment, code, text)  # unknown fields


def test_ok_reply_constant():
    for _, (_, reply) in messages.FILE_METHODS.items():
        name = reply.fields[0].name
        assert reply.encode({name: messages.OK}) == fastwire.REPLY_OK
