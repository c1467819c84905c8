"""Big writes the daemon's C loop splices from the socket into the data file (curverbd/server/_fastloop.c).

A write of >= 128 KiB whose attachment is still arriving is not received into the connection's
buffer: its rest goes socket -> pipe -> file. These tests make that happen at every awkward spot
(frames at odd buffer positions, attachments larger than the pipe, a stream cut into random
pieces, an attachment that trickles in, heads that move mid-write, a file that refuses the data,
a peer that goes away mid-attachment) and check the bytes and the replies, against the daemon's
pure-Python path (CURVERBD_FASTPATH=0) where the replies must be byte-identical.
"""
from __future__ import annotations

import os
import platform
import random
import resource
import threading
import time

import pytest

from mds_wire import Mds, Who, kOK
from rawwire import FILE, Wire, fd_req, io_req, nebd_name, request_frame
from volumes import make_volume

GiB, MiB, KiB = 1 << 30, 1 << 20, 1 << 10
ADMIN = Who("admin")
BLOCK = 4096
SPAN = 48 * MiB          # the region the stream writes into


def open_image(w: Wire, size: int = 10 * GiB) -> int:
    make_volume(w.path, "rbd", "img", length=size)
    fd = w.open_fd(nebd_name("rbd", "img", "admin"))
    assert w.write(fd, 0, b"\1" * BLOCK).ret_code == 0  # a data request: the C loop now serves this fd
    return fd


def spliced_count(d, timeout: float = 10) -> int:
    """Big writes the daemon says it spliced, summed over its closed connections."""
    deadline = time.monotonic() + timeout
    while True:
        with open(d.log) as f:
            counts = [int(line.rsplit("(", 1)[1].split()[0]) for line in f if "big writes spliced)" in line]
        if counts or time.monotonic() > deadline:
            return sum(counts)
        time.sleep(0.05)


def stream(fd: int, seed: int):
    """(frames, model): a pipelined stream of big writes at odd buffer positions, writes larger than
    the pipe, small frames after them, and big writes the Python service must refuse."""
    rng = random.Random(seed)
    model = bytearray(SPAN)
    model[:BLOCK] = b"\1" * BLOCK  # open_image's write
    frames, cid = [], 1000
    for _ in range(40):
        cid += 1
        kind = rng.randrange(10)
        if kind <= 4:    # big: just past the threshold, odd sizes, 1 MiB, larger than the pipe
            size = rng.choice((128 * KiB, 132 * KiB, 260 * KiB, MiB, MiB + 4 * KiB, 3 * MiB, 5 * MiB))
            off = rng.randrange((SPAN - size) // BLOCK) * BLOCK
            data = rng.randbytes(size)
            model[off:off + size] = data
            frames.append(request_frame(FILE, "Write", cid, io_req(fd, off, size), data))
        elif kind <= 6:  # small writes and reads: shift the next frame's position in the buffer
            size = BLOCK * rng.choice((1, 1, 3))
            off = rng.randrange((SPAN - size) // BLOCK) * BLOCK
            if kind == 5:
                data = rng.randbytes(size)
                model[off:off + size] = data
                frames.append(request_frame(FILE, "Write", cid, io_req(fd, off, size), data))
            else:
                frames.append(request_frame(FILE, "GetInfo", cid, fd_req(fd)))
        elif kind == 7:  # several big writes back to back, then small frames
            for _ in range(3):
                size = rng.choice((256 * KiB, MiB))
                off = rng.randrange((SPAN - size) // BLOCK) * BLOCK
                data = rng.randbytes(size)
                model[off:off + size] = data
                frames.append(request_frame(FILE, "Write", cid, io_req(fd, off, size), data))
                cid += 1
            for _ in range(3):
                frames.append(request_frame(FILE, "Flush", cid, fd_req(fd)))
                cid += 1
        else:            # big writes refused: unaligned, size != attachment, past the end, unknown fd
            data = rng.randbytes(256 * KiB)
            frames.append(rng.choice((
                request_frame(FILE, "Write", cid, io_req(fd, 512, len(data)), data),
                request_frame(FILE, "Write", cid, io_req(fd, 0, len(data) + BLOCK), data),
                request_frame(FILE, "Write", cid, io_req(fd, 10 * GiB - BLOCK, len(data)), data),
                request_frame(FILE, "Write", cid, io_req(fd + 5, 0, len(data)), data),
            )))
    return frames, model


def send_in_pieces(w: Wire, data: bytes, seed: int) -> None:
    """Send ``data`` cut at random places, sometimes pausing (frames arrive partly, at any byte)."""
    rng = random.Random(seed)
    pos = 0
    while pos < len(data):
        n = rng.choice((1, 7, 100, 4000, 70 * KiB, 300 * KiB, 2 * MiB))
        w.send(data[pos:pos + n])
        pos += n
        if rng.random() < 0.2:
            time.sleep(0.002)


def run_stream(sock_path: str, seed: int, pieces: bool) -> tuple[list[bytes], bytes, bytes]:
    """Replies (by correlation id), what the span reads back as, and the model."""
    with Wire(sock_path) as w:
        fd = open_image(w)
        frames, model = stream(fd, seed)
        data = b"".join(frames)
        sender = threading.Thread(target=send_in_pieces if pieces else lambda w, d, s: w.send(d),
                                  args=(w, data, seed))
        sender.start()
        got = sorted((w.recv_reply() for _ in frames), key=lambda r: r.cid)
        sender.join()
        back = b"".join(w.read(fd, off, 4 * MiB).attachment for off in range(0, SPAN, 4 * MiB))
        return [r.raw for r in got], back, bytes(model)


@pytest.mark.parametrize("seed,pieces", [(1, False), (2, True), (3, True)])
def test_spliced_writes_answer_and_land_as_the_python_path(two_daemons, seed, pieces):
    fast, slow = two_daemons
    a, back_a, model = run_stream(fast.socket, seed, pieces)
    b, back_b, _ = run_stream(slow.socket, seed, pieces)
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x == y
    assert back_a == back_b
    for off in range(0, SPAN, MiB):  # compare by MiB: a failure names where
        assert back_a[off:off + MiB] == model[off:off + MiB], f"at {off}"
    assert spliced_count(fast) > 0  # the stream did take the splice path


def test_attachment_trickling_in(daemon):
    """Earlier replies go out before the daemon waits for the rest; the write lands whole."""
    rng = random.Random(7)
    data = rng.randbytes(2 * MiB + 8 * KiB)
    with Wire(daemon.socket) as w:
        fd = open_image(w)
        small = rng.randbytes(BLOCK)
        big = request_frame(FILE, "Write", 51, io_req(fd, 8 * MiB, len(data)), data)
        w.send(request_frame(FILE, "Write", 50, io_req(fd, 4 * MiB, BLOCK), small) + big[:300 * KiB])
        r = w.recv_reply()   # answered although the big write is incomplete
        assert (r.cid, r.ret_code) == (50, 0)
        pos = 300 * KiB
        for n in (1, 4095, 60 * KiB, 1 * MiB, 333, len(big)):
            time.sleep(0.01)
            w.send(big[pos:pos + n])
            pos += n
        r = w.recv_reply()
        assert (r.cid, r.ret_code) == (51, 0)
        assert w.read(fd, 8 * MiB, len(data)).attachment == data
        assert w.read(fd, 4 * MiB, BLOCK).attachment == small
    assert spliced_count(daemon) == 1


SPLICE_SYSCALL = {"x86_64": 275, "aarch64": 76}.get(platform.machine())


def wait_in_splice(d, timeout: float = 30) -> None:
    """Until a thread of the daemon sits in splice(2) (waiting for an attachment's rest)."""
    if SPLICE_SYSCALL is None:
        time.sleep(1)
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for task in os.listdir(f"/proc/{d.proc.pid}/task"):
            try:
                with open(f"/proc/{d.proc.pid}/task/{task}/syscall") as f:
                    if f.read().split()[0] == str(SPLICE_SYSCALL):
                        return
            except (OSError, IndexError):
                pass
        time.sleep(0.01)
    raise AssertionError("the daemon never waited in splice for the attachment")


def head_move(daemon, ctl: Wire, op: str) -> None:
    """One snapshot operation on rbd/img@s: create and delete through Curve's MDS (release1.5's
    <vol>@<snap>), rollback through the daemon's snapshot data service."""
    if op == "RollbackSnap":
        assert ctl.catalog(op, owner="admin", pool="rbd", image="img", snap="s")["errno"] == 0
        return
    mds = Mds(daemon.mds_socket)
    try:
        if op == "CreateSnapShot":
            assert mds.snap_create("/rbd/img@s", ADMIN)[0] == kOK
        else:
            assert mds.snap_delete("/rbd/img@s", ADMIN) == kOK
    finally:
        mds.close()


@pytest.mark.parametrize("ops", [("CreateSnapShot",), ("CreateSnapShot", "DeleteSnapShot"),
                                 ("CreateSnapShot", "RollbackSnap", "DeleteSnapShot")])
def test_head_moves_while_a_write_is_spliced(daemon, ops):
    """Snapshot operations between a big write's head and the end of its attachment: the write
    is redone on the new head from what reached the old one (after a snapshot is removed again,
    the bytes that reached the old head after the merge would otherwise be lost)."""
    rng = random.Random(len(ops))
    old, new = rng.randbytes(MiB), rng.randbytes(MiB)
    with Wire(daemon.socket) as w, Wire(daemon.socket) as ctl:
        fd = open_image(w)
        assert w.write(fd, 16 * MiB, old).ret_code == 0
        frame = request_frame(FILE, "Write", 77, io_req(fd, 16 * MiB, MiB), new)
        w.send(frame[:200 * KiB])
        wait_in_splice(daemon)
        for op in ops:
            head_move(daemon, ctl, op)
        w.send(frame[200 * KiB:])
        r = w.recv_reply()
        assert (r.cid, r.ret_code) == (77, 0)
        assert w.read(fd, 16 * MiB, MiB).attachment == new
        assert ctl.read(fd, 16 * MiB, MiB).attachment == new


def test_peer_gone_mid_attachment(daemon):
    """The daemon drops that connection only; the write is simply not done (the client resends)."""
    data = random.Random(3).randbytes(MiB)
    with Wire(daemon.socket) as w:
        fd = open_image(w)
        w.send(request_frame(FILE, "Write", 9, io_req(fd, 0, MiB), data)[:400 * KiB])
        wait_in_splice(daemon)
    with Wire(daemon.socket) as w:
        assert w.write(fd, 0, data).ret_code == 0
        assert w.read(fd, 0, MiB).attachment == data
    deadline = time.monotonic() + 10
    while "peer closed mid-frame" not in open(daemon.log).read():
        assert time.monotonic() < deadline, "the daemon did not log the cut attachment"
        time.sleep(0.05)


def limited(d, limit: int):
    """The daemon's files may not grow past ``limit`` bytes (writes beyond fail with EFBIG)."""
    resource.prlimit(d.proc.pid, resource.RLIMIT_FSIZE, (limit, limit))


def test_file_refusing_a_spliced_write(two_daemons):
    """The data file refuses part of a big write (EFBIG here; ENOSPC alike): the reply is the Python
    path's, the rest of the attachment is consumed, and the connection goes on."""
    limit = 64 * MiB
    out = []
    for d in two_daemons:
        with Wire(d.socket) as w:
            fd = open_image(w)
            limited(d, limit)
            big = random.Random(5).randbytes(3 * MiB)
            tail = random.Random(6).randbytes(BLOCK)
            frames = [request_frame(FILE, "Write", 20, io_req(fd, limit - MiB, len(big)), big),
                      request_frame(FILE, "Write", 21, io_req(fd, 8 * MiB, BLOCK), tail),
                      request_frame(FILE, "Write", 22, io_req(fd, limit + MiB, len(big)), big),
                      request_frame(FILE, "Read", 23, io_req(fd, 8 * MiB, BLOCK))]
            sender = threading.Thread(target=send_in_pieces, args=(w, b"".join(frames), 4))
            sender.start()
            replies = sorted((w.recv_reply() for _ in frames), key=lambda r: r.cid)
            sender.join()
            assert [r.ret_code for r in replies] == [-1, 0, -1, 0]
            assert "File too large" in replies[0].ret_msg
            assert replies[3].attachment == tail
            assert w.read(fd, limit - MiB, MiB).attachment == big[:MiB]  # what fitted is there
            out.append([r.raw for r in replies])
    assert out[0] == out[1]
    assert os.path.exists(two_daemons[0].log)


def test_two_connections_splicing_into_one_image(daemon):
    """Big writes from two connections at once (they take turns on the file) land byte for byte."""
    with Wire(daemon.socket) as ctl:
        fd = open_image(ctl)
    chunks = {c: [random.Random(c * 100 + i).randbytes(MiB + i * BLOCK) for i in range(8)] for c in (0, 1)}
    failures = []

    def writer(c: int) -> None:
        with Wire(daemon.socket) as w:
            assert w.write(fd, (64 + c) * MiB, b"x" * BLOCK).ret_code == 0   # the C loop serves fd here
            frames = [request_frame(FILE, "Write", i + 1, io_req(fd, (c * 16 + 2 * i) * MiB, len(data)), data)
                      for i, data in enumerate(chunks[c])]
            sender = threading.Thread(target=w.send, args=(b"".join(frames),))
            sender.start()
            failures.extend(r.ret_msg for r in (w.recv_reply() for _ in frames) if r.ret_code != 0)
            sender.join()

    threads = [threading.Thread(target=writer, args=(c,)) for c in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not failures
    with Wire(daemon.socket) as w:
        for c in (0, 1):
            for i, data in enumerate(chunks[c]):
                assert w.read(fd, (c * 16 + 2 * i) * MiB, len(data)).attachment == data, (c, i)
    assert spliced_count(daemon) > 0
