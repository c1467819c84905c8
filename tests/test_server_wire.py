"""Wire conformance of curverbd-server, spoken with a hand-written encoder (tests/rawwire.py), no client code of ours."""
from __future__ import annotations

import errno
import os
import socket
import struct
import time

import pytest

from rawwire import (CATALOG, FILE, HEARTBEAT, Wire, fb, fd_req, fields, fv, heartbeat_req, io_req, nebd_name, open_req,
                     request_frame, resize_req)
from volumes import make_volume

GiB = 1 << 30

# The Write of 4 KiB from nebd-protocol.md, with log_id 7, correlation_id 42, fd 3, offset 8192.
GOLDEN_WRITE_HEAD = bytes.fromhex(
    "50525043" "00001035" "0000002d"                      # "PRPC", body 45+8+4096, meta 45
    "0a26"                                                # RpcMeta.request, 38 bytes
    "0a1b" + b"nebd.client.NebdFileService".hex() +       #   service_name
    "1205" + b"Write".hex() +                             #   method_name
    "1807"                                                #   log_id 7
    "202a"                                                # correlation_id 42
    "288020"                                              # attachment_size 4096
    "0803" "108040" "188020"                              # WriteRequest fd 3, offset 8192, size 4096
)


def test_golden_write_frame():
    data = bytes(range(256)) * 16
    assert request_frame(FILE, "Write", 42, io_req(3, 8192, 4096), data, log_id=7) == GOLDEN_WRITE_HEAD + data


@pytest.fixture
def wire(daemon):
    with Wire(daemon.socket) as w:
        yield w


def make_image(w: Wire, pool="rbd", image="img", owner="admin", size=1 << 20) -> int:
    """Pool + volume through raw MDS frames, opened through nebd; returns the fd."""
    make_volume(w.path, pool, image, owner, max(10 << 30, -(-size // (1 << 30)) << 30))
    return w.open_fd(nebd_name(pool, image, owner))


def test_write_reply_is_byte_exact(wire):
    fd = make_image(wire)
    cid = wire.next_cid()
    wire.send(request_frame(FILE, "Write", cid, io_req(fd, 0, 4096), b"x" * 4096))
    reply = wire.recv_reply()
    # meta {response {error_code 0}, correlation_id cid}; payload WriteResponse {RetCode kOK}
    meta = bytes.fromhex("12020800") + fv(4, cid)
    assert reply.raw == b"PRPC" + struct.pack(">II", len(meta) + 2, len(meta)) + meta + bytes.fromhex("0800")


def test_file_service_cycle(wire):
    fd = make_image(wire)
    data = os.urandom(4096)
    assert wire.write(fd, 8192, data).ret_code == 0
    reply = wire.read(fd, 8192, 4096)
    assert reply.ret_code == 0 and reply.attachment == data

    info = wire.call(FILE, "GetInfo", fd_req(fd))
    assert info.ret_code == 0
    fi = {k: v[0] for k, v in fields(info.fields[3][0]).items()}
    assert fi == {1: 10 * GiB, 2: 16 << 20, 3: 640, 4: 4096}

    assert wire.call(FILE, "Discard", io_req(fd, 8192, 4096)).ret_code == 0
    assert wire.read(fd, 8192, 4096).attachment == bytes(4096)
    assert wire.call(FILE, "Flush", fd_req(fd)).ret_code == 0
    assert wire.call(FILE, "InvalidateCache", fd_req(fd)).ret_code == 0

    assert wire.call(FILE, "ResizeFile", resize_req(fd, 11 * GiB)).ret_code == 0
    info = wire.call(FILE, "GetInfo", fd_req(fd))
    assert fields(info.fields[3][0])[1] == [11 * GiB]
    shrink = wire.call(FILE, "ResizeFile", resize_req(fd, 10 * GiB))
    assert shrink.ret_code == -1 and "NO_SHRINK" in shrink.ret_msg
    # the I/O just past the old end now works, past the new end fails
    assert wire.write(fd, 10 * GiB, data).ret_code == 0
    assert wire.write(fd, 11 * GiB, data).ret_code == -1

    name = nebd_name("rbd", "img", "admin")
    assert wire.call(HEARTBEAT, "KeepAlive", heartbeat_req(os.getpid(), [(fd, name)])).ret_code == 0
    assert wire.open_fd(name) == fd  # same name, same flags: same fd
    assert wire.call(FILE, "CloseFile", fd_req(fd)).ret_code == 0  # one of two opens: still open
    assert wire.call(HEARTBEAT, "KeepAlive", heartbeat_req(os.getpid(), [(fd, name)])).ret_code == 0
    assert wire.call(FILE, "CloseFile", fd_req(fd)).ret_code == 0
    assert wire.call(HEARTBEAT, "KeepAlive", heartbeat_req(os.getpid(), [(fd, name)])).ret_code == -1
    gone = wire.read(fd, 0, 4096)
    assert gone.ret_code == -1 and str(fd) in gone.ret_msg


def test_pipelining(wire):
    fd = make_image(wire)
    blocks = [bytes([i]) * 4096 for i in range(32)]
    frames, expect = [], {}
    for i, block in enumerate(blocks):
        cid = 1000 + i
        frames.append(request_frame(FILE, "Write", cid, io_req(fd, i * 4096, 4096), block))
        expect[cid] = None
    for i in range(31):
        frames.append(request_frame(FILE, "Flush" if i % 8 == 0 else "GetInfo", 2000 + i, fd_req(fd)))
        expect[2000 + i] = None
    frames.append(request_frame(CATALOG, "ClusterStat", 3000, b'{"owner":"admin"}'))
    expect[3000] = None
    assert len(frames) == 64
    wire.send(b"".join(frames))
    replies = [wire.recv_reply() for _ in range(64)]
    assert sorted(r.cid for r in replies) == sorted(expect)
    for r in replies:
        assert r.error_code == 0
        if r.cid == 3000:
            assert r.json()["errno"] == 0 and r.json()["pools"] == 1
        else:
            assert r.ret_code == 0
    # 64 reads in one go, answered with the right data by correlation id
    wire.send(b"".join(request_frame(FILE, "Read", 5000 + i, io_req(fd, (i % 32) * 4096, 4096))
                       for i in range(64)))
    for _ in range(64):
        r = wire.recv_reply()
        assert r.attachment == blocks[(r.cid - 5000) % 32]


def test_frames_larger_than_the_receive_buffer(wire):
    fd = make_image(wire)
    big = os.urandom(16 << 20)
    small = b"s" * 4096
    cid = wire.next_cid()
    # a small write pipelined behind a 16 MiB one, sent in one go
    wire.send(request_frame(FILE, "Write", cid, io_req(fd, 0, len(big)), big)
              + request_frame(FILE, "Write", cid + 1, io_req(fd, 32 << 20, 4096), small))
    replies = {r.cid: r for r in (wire.recv_reply(), wire.recv_reply())}
    assert replies[cid].ret_code == 0 and replies[cid + 1].ret_code == 0
    wire.cid += 1
    assert wire.read(fd, 0, len(big)).attachment == big
    assert wire.read(fd, 32 << 20, 4096).attachment == small


def test_refusals(wire):
    fd = make_image(wire)
    unaligned = wire.write(fd, 512, b"x" * 4096)
    assert unaligned.error_code == 0 and unaligned.ret_code == -1 and "NOT_ALIGNED" in unaligned.ret_msg
    assert "/rbd/img" in unaligned.ret_msg
    assert wire.write(fd, 0, b"x" * 1000).ret_code == -1
    assert wire.read(fd, 10 * GiB, 4096).ret_code == -1            # beyond the Curve volume
    short = wire.call(FILE, "Write", io_req(fd, 0, 8192), b"y" * 4096)  # attachment != size: no I/O
    assert short.ret_code == -1
    assert wire.read(fd, 0, 4096).attachment == bytes(4096)
    assert wire.read(fd + 100, 0, 4096).ret_code == -1
    assert wire.open_file(nebd_name("rbd", "missing", "admin")).ret_code == -1
    assert wire.open_file("bogus").ret_code == -1

    assert wire.call("no.such.Service", "Read", io_req(fd, 0, 4096)).error_code == 1001
    assert wire.call(FILE, "Frobnicate", fd_req(fd)).error_code == 1002
    assert wire.call(HEARTBEAT, "Frobnicate", b"").error_code == 1002
    assert wire.call(CATALOG, "Frobnicate", b"{}").error_code == 1002
    assert wire.call(FILE, "Read", fv(1, fd)).error_code == 1003          # required offset, size missing
    assert wire.call(FILE, "GetInfo", b"\xff\xff").error_code == 1003      # not protobuf
    not_object = wire.call(CATALOG, "ClusterStat", b"[1, 2]").json()
    assert not_object["errno"] == errno.EINVAL and not_object["message"]
    assert wire.call(CATALOG, "ClusterStat", b"\xff{").json()["errno"] == errno.EINVAL
    assert wire.catalog("Allocated", owner="admin", pool="rbd")["errno"] == errno.EINVAL  # missing image
    # the connection still works after all that
    assert wire.write(fd, 0, b"z" * 4096).ret_code == 0


def test_garbage_closes_only_that_connection(daemon, wire):
    fd = make_image(wire)
    with Wire(daemon.socket) as bad:
        bad.send(b"GET / HTTP/1.1\r\n\r\n")
        assert bad.closed_by_peer()
    assert wire.write(fd, 0, b"a" * 4096).ret_code == 0
    with Wire(daemon.socket) as big:
        big.send(b"PRPC" + struct.pack(">II", (64 << 20) + 1, 10))
        assert big.closed_by_peer()
    with Wire(daemon.socket) as bad_meta:
        bad_meta.send(b"PRPC" + struct.pack(">II", 4, 4) + b"\xff\xff\xff\xff")
        assert bad_meta.closed_by_peer()
    with Wire(daemon.socket) as torn:
        frame = request_frame(FILE, "Write", 1, io_req(fd, 0, 4096), b"t" * 4096)
        torn.send(frame[:100])
    assert wire.read(fd, 0, 4096).attachment == b"a" * 4096  # the torn write never happened
    assert log_has(daemon, "not baidu_std: bad magic") and log_has(daemon, "peer closed mid-frame")


def log_has(daemon, text: str) -> bool:
    """Whether the daemon's log gets a line containing ``text`` (connection threads log asynchronously)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with open(daemon.log) as f:
            if text in f.read():
                return True
        time.sleep(0.05)
    return False


def _count(pid: int, what: str) -> int:
    return len(os.listdir(f"/proc/{pid}/{what}"))


def _settles(pid: int, what: str, target: int) -> bool:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if _count(pid, what) <= target:
            return True
        time.sleep(0.05)
    return False


def test_no_fd_or_thread_leak(daemon, wire):
    fd = make_image(wire)
    pid = daemon.proc.pid
    with Wire(daemon.socket) as warm:
        warm.send(b"garbage!" * 4)
        warm.closed_by_peer()
    assert _settles(pid, "fd", _count(pid, "fd"))
    fds, threads = _count(pid, "fd"), _count(pid, "task")
    for i in range(50):
        s = socket.socket(socket.AF_UNIX)
        s.connect(daemon.socket)
        if i % 3 == 0:
            s.sendall(b"\x00garbage" * 8)
        elif i % 3 == 1:
            s.sendall(request_frame(FILE, "Read", 1, io_req(fd, 0, 4096))[:20])
        s.close()
    assert _settles(pid, "fd", fds), f"{_count(pid, 'fd')} fds, baseline {fds}"
    assert _settles(pid, "task", threads), f"{_count(pid, 'task')} threads, baseline {threads}"
    assert wire.read(fd, 0, 4096).ret_code == 0


def test_open_flags(wire):
    make_image(wire)
    name = nebd_name("rbd", "img", "admin")
    r1 = wire.call(FILE, "OpenFile", open_req(name, exclusive=True))
    assert r1.ret_code == -1  # already open without flags: different flags are refused, like nebd
    other = wire.call(FILE, "OpenFile", open_req(name + ":/etc/curve/client.conf", exclusive=True))
    fd2 = other.fields[3][0]
    assert other.ret_code == 0 and fd2 > 1
    again = wire.call(FILE, "OpenFile", open_req(name + ":/etc/curve/client.conf", exclusive=True))
    assert again.fields[3][0] == fd2
    assert wire.call(FILE, "OpenFile", fb(2, fv(1, 1))).error_code == 1003  # fileName missing
