"""Hostile input to the daemon: hypothesis builds streams of baidu_std frames (valid, truncated,
oversized, wrong services and methods, negative and huge fds, offsets and sizes, mismatched
attachments, interleaved garbage) for every nebd and catalog handler. After each stream the
daemon is alive and still serves a well-formed request; at the end its fd count is back where it
started (nothing leaked). ~2k frames in CI; 100k under @pytest.mark.slow."""
from __future__ import annotations

import json
import os
import socket
import struct
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from daemon import new_daemon, remove
from rawwire import CATALOG, FILE, HEARTBEAT, Wire, fb, fv, request_frame
from volumes import make_volume
from upgrade_helpers import slow

from curverbd.catalog import protocol
from curverbd.nebd import messages

NAME = "cbd:fuzz//fuzz/img_admin_"
INT64 = 2**63 - 1
UINT64 = 2**64 - 1

ints = st.one_of(st.sampled_from([0, 1, -1, 4095, 4096, 2**31 - 1, -2**31, 2**32, INT64, -INT64 - 1, UINT64,
                                  10 << 30, 64 << 20]),
                 st.integers(min_value=-2**63, max_value=2**64 - 1))
weird_text = st.one_of(st.sampled_from(["", "..", "/", "a/b", "x\x00y", "\n", "fuzz", "img", "a" * 5000,
                                        "é", "_admin_", "@snap"]),
                       st.text(max_size=40))


def varint_field(num: int, value: int) -> bytes:
    return fv(num, value % (1 << 64) if value < 0 or value >= 1 << 64 else value)


@st.composite
def nebd_payload(draw, fd, method):
    """A nebd request message: the right fields with hostile values, or random bytes. The image's
    own fd is never closed, so later frames keep reaching the handlers behind it."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=64))
    f = draw(ints.filter(lambda v: v != fd) if method == "CloseFile" else st.one_of(st.just(fd), ints))
    out = varint_field(1, f)
    for num in draw(st.lists(st.sampled_from([2, 3, 4]), max_size=3)):
        out += varint_field(num, draw(ints))
    if draw(st.booleans()):
        out += fb(draw(st.sampled_from([1, 2, 3, 9])), draw(st.binary(max_size=32)))
    return out


@st.composite
def catalog_payload(draw):
    if draw(st.integers(0, 4)) == 0:
        return draw(st.binary(max_size=64))
    args = {"owner": draw(st.one_of(st.just("admin"), weird_text))}
    for key in draw(st.lists(st.sampled_from(["pool", "image", "snap", "key", "value", "new_name", "size",
                                              "offset", "length", "name", "dest_pool", "features", "order"]),
                             max_size=5)):
        args[key] = draw(st.one_of(st.just("fuzz"), st.just("img"), weird_text, ints, st.none(),
                                   st.lists(st.integers(), max_size=3)))
    return json.dumps(args).encode()


@st.composite
def frame(draw, fd):
    kind = draw(st.integers(0, 9))
    cid = draw(st.integers(0, UINT64))
    if kind <= 4:      # a request for a real service and method, hostile values
        service = draw(st.sampled_from([FILE, HEARTBEAT, CATALOG]))
        if service == CATALOG:
            method = draw(st.sampled_from(protocol.METHODS))
            payload = draw(catalog_payload())
        else:
            table = messages.FILE_METHODS if service == FILE else messages.HEARTBEAT_METHODS
            method = draw(st.sampled_from(sorted(table)))
            payload = draw(nebd_payload(fd, method))
        attachment = draw(st.one_of(st.just(b""), st.binary(max_size=9000)))
        return request_frame(service, method, cid % (1 << 63), payload, attachment)
    if kind == 5 and draw(st.booleans()):   # plausible I/O on the open image, edges and beyond
        method = draw(st.sampled_from(["Read", "Write", "Discard"]))
        offset = draw(st.sampled_from([0, 4096, (1 << 20) - 4096, 1 << 20, 10 << 30, (10 << 30) - 4096, 2048]))
        size = draw(st.sampled_from([0, 512, 4096, 8192, 1 << 20, 32 << 20]))
        attachment = bytes(size) if method == "Write" and size <= 8192 else b""
        return request_frame(FILE, method, cid % (1 << 63), varint_field(1, fd) + fv(2, offset) + fv(3, size),
                             attachment)
    if kind == 5:      # unknown service or method
        return request_frame(draw(weird_text), draw(weird_text), cid % (1 << 63), draw(st.binary(max_size=32)))
    if kind == 6:      # a header lying about its sizes (too big, meta beyond body, attachment beyond body)
        body = draw(st.sampled_from([0, 1, 11, 64 << 20, (64 << 20) + 1, 2**32 - 1]))
        meta = draw(st.sampled_from([0, 1, body, body + 1, 2**32 - 1])) % (1 << 32)
        return b"PRPC" + struct.pack(">II", body, meta) + draw(st.binary(max_size=32))
    if kind == 7:      # meta claiming an attachment larger than the body
        req = fb(1, FILE) + fb(2, "Write")
        meta = fb(1, req) + fv(4, 1) + varint_field(5, draw(ints))
        payload = varint_field(1, fd) + fv(2, 0) + fv(3, 4096)
        return b"PRPC" + struct.pack(">II", len(meta) + len(payload), len(meta)) + meta + payload
    if kind == 8:      # garbage meta
        meta = draw(st.binary(max_size=40))
        payload = draw(st.binary(max_size=40))
        return b"PRPC" + struct.pack(">II", len(meta) + len(payload), len(meta)) + meta + payload
    return draw(st.binary(min_size=1, max_size=64))   # plain garbage


@st.composite
def stream(draw, fd):
    frames = draw(st.lists(frame(fd), min_size=1, max_size=20))
    if draw(st.booleans()):   # the last one cut short
        last = frames[-1]
        frames[-1] = last[:draw(st.integers(0, max(0, len(last) - 1)))]
    return frames


@pytest.fixture(scope="module")
def target():
    d = new_daemon().start()
    with Wire(d.socket) as w:
        make_volume(w.path, "fuzz", "img")
        fd = w.open_fd(NAME)
    yield d, fd
    remove(d)


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def play(d, frames: list[bytes]) -> None:
    """Send the stream on a fresh connection, end it, read until the daemon closes (answers or drops)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(60)
    s.connect(d.socket)
    try:
        for f in frames:
            s.sendall(f)
    except (BrokenPipeError, ConnectionResetError):
        pass   # the daemon dropped the connection: allowed
    try:
        s.shutdown(socket.SHUT_WR)
        while s.recv(65536):
            pass
    except (BrokenPipeError, ConnectionResetError, OSError):
        pass
    finally:
        s.close()
    assert d.proc.poll() is None, "the daemon died"


def still_serves(d) -> None:
    with Wire(d.socket) as w:
        assert w.catalog("ClusterStat", owner="admin")["errno"] == 0


def settle(pid: int, baseline: int) -> int:
    """The daemon's fd count once the connections it is still closing are gone (waits at most 20 s)."""
    deadline = time.monotonic() + 20
    while fd_count(pid) > baseline and time.monotonic() < deadline:
        time.sleep(0.05)
    return fd_count(pid)


def fuzz(target, examples: int) -> None:
    d, fd = target
    still_serves(d)
    baseline = fd_count(d.proc.pid)

    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(frames=stream(fd))
    def run(frames):
        play(d, frames)

    run()
    still_serves(d)
    assert settle(d.proc.pid, baseline) <= baseline   # (closing the volume's fd by fuzz lowers it)


def test_fuzz_frames(target):
    fuzz(target, 200)      # ~2k frames


@slow
def test_fuzz_frames_long(target):
    fuzz(target, 10000)    # ~100k frames
