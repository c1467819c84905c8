"""Property test: a volume served over raw nebd frames behaves like a bytearray (write, discard, read, flush)."""
from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings, strategies as st

from rawwire import FILE, Wire, fd_req, io_req, request_frame
from test_server_wire import make_image

BLOCK = 4096
BLOCKS = 16
_names = itertools.count()

op = st.one_of(
    st.tuples(st.just("write"), st.integers(0, BLOCKS - 1), st.integers(1, 4), st.integers(0, 255)),
    st.tuples(st.just("discard"), st.integers(0, BLOCKS - 1), st.integers(1, 4), st.just(0)),
    st.tuples(st.just("read"), st.integers(0, BLOCKS - 1), st.integers(1, 4), st.just(0)),
    st.tuples(st.just("flush"), st.just(0), st.just(0), st.just(0)),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(op, max_size=25), pipelined=st.booleans())
def test_volume_matches_bytearray(daemon, ops, pipelined):
    with Wire(daemon.socket) as w:
        n = next(_names)
        fd = make_image(w, pool=f"p{n}", image="img")
        model = bytearray(BLOCKS * BLOCK)
        frames = []
        for kind, block, count, byte in ops:
            count = min(count, BLOCKS - block)
            off, size = block * BLOCK, count * BLOCK
            if kind == "write":
                data = bytes([byte]) * size
                model[off:off + size] = data
                frames.append(request_frame(FILE, "Write", w.next_cid(), io_req(fd, off, size), data))
            elif kind == "discard":
                model[off:off + size] = bytes(size)
                frames.append(request_frame(FILE, "Discard", w.next_cid(), io_req(fd, off, size)))
            elif kind == "flush":
                frames.append(request_frame(FILE, "Flush", w.next_cid(), fd_req(fd)))
            else:
                frames.append(request_frame(FILE, "Read", w.next_cid(), io_req(fd, off, size)))
            if not pipelined:  # one at a time: every read must see exactly the model so far
                w.send(frames.pop())
                reply = w.recv_reply()
                assert reply.ret_code == 0, reply.ret_msg
                if kind == "read":
                    assert reply.attachment == model[off:off + size]
        if pipelined:  # order between pipelined requests is not promised; only the end state is checked
            w.send(b"".join(frames))
            for _ in frames:
                assert w.recv_reply().ret_code == 0
        assert w.read(fd, 0, BLOCKS * BLOCK).attachment == model
