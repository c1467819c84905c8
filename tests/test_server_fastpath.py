"""The daemon's C frame loop (curverbd/server/_fastloop.c) answers exactly as the Python services do.

Differential: the same pipelined frames (good I/O, refusals, other methods, reads big enough to be
sent straight from the file, reads larger than the loop's reply buffer) go to a daemon with the C loop and to one without it (CURVERBD_FASTPATH=0);
the replies must be byte-identical. Big reads (data sent from the page cache by sendfile, so a
write pipelined behind one may show in it, as block devices allow for concurrent I/O) read a
region written before the round. Then writes racing snapshots (a head that moves under the loop)
must all land in the image.
"""
from __future__ import annotations

import random
import threading

import pytest

from mds_wire import Mds, Who, kOK
from rawwire import FILE, Wire, fd_req, io_req, nebd_name, request_frame
from volumes import make_volume

from curverbd.server import fastpath

GiB = 1 << 30
ADMIN = Who("admin")
BLOCK = 4096
STABLE = 2 << 20      # [2 MiB, 10 MiB): written once first, then only read (big reads go there)


def open_image(w: Wire, size: int) -> int:
    make_volume(w.path, "rbd", "img", length=size)
    return w.open_fd(nebd_name("rbd", "img", "admin"))


def rounds(fd: int, seed: int):
    """Batches of frames (each sent in one go): every kind of request the loop sees or refuses."""
    rng = random.Random(seed)
    cid = 100
    for _ in range(4):
        batch = []
        for _ in range(48):
            cid += 1
            kind = rng.randrange(12)
            block = rng.randrange(256) * BLOCK
            if kind <= 3:
                data = rng.randbytes(BLOCK * rng.choice((1, 1, 2, 16)))
                batch.append(request_frame(FILE, "Write", cid, io_req(fd, block, len(data)), data))
            elif kind <= 6:
                batch.append(request_frame(FILE, "Read", cid, io_req(fd, block, BLOCK * rng.choice((1, 3, 16)))))
            elif kind == 7:
                batch.append(request_frame(FILE, "Discard", cid, io_req(fd, block, BLOCK * rng.choice((1, 8)))))
            elif kind == 8:
                batch.append(request_frame(FILE, rng.choice(("Flush", "GetInfo")), cid, fd_req(fd)))
            elif kind == 9:   # refused: unaligned, past the volume, size != attachment, unknown fd
                batch.append(rng.choice((
                    request_frame(FILE, "Write", cid, io_req(fd, block + 512, BLOCK), b"u" * BLOCK),
                    request_frame(FILE, "Read", cid, io_req(fd, 10 * GiB, BLOCK)),
                    request_frame(FILE, "Write", cid, io_req(fd, block, 2 * BLOCK), b"s" * BLOCK),
                    request_frame(FILE, "Read", cid, io_req(fd + 7, 0, BLOCK)),
                    request_frame(FILE, "Discard", cid, io_req(fd, block, 100)),
                )))
            elif kind == 10:  # big reads: sent from the file, past the loop's reply buffer, larger than it
                size = rng.choice((128 << 10, 2 << 20, 5 << 20))
                batch.append(request_frame(FILE, "Read", cid, io_req(fd, STABLE + rng.randrange(3) * (1 << 20), size)))
            else:             # sparse far away: zeros (small reads copied, big ones sent from the file)
                size = rng.choice((BLOCK, 256 << 10))
                batch.append(request_frame(FILE, "Read", cid, io_req(fd, 9 * GiB, size)))
        yield batch


def replies(sock_path: str, seed: int) -> list[bytes]:
    out = []
    with Wire(sock_path) as w:
        fd = open_image(w, 10 * GiB)
        stable = random.Random(seed).randbytes(8 << 20)
        assert w.write(fd, STABLE, stable).ret_code == 0
        for batch in rounds(fd, seed):
            # send from a thread: big read replies fill the socket while we are still sending
            sender = threading.Thread(target=w.send, args=(b"".join(batch),))
            sender.start()
            got = sorted((w.recv_reply() for _ in batch), key=lambda r: r.cid)
            sender.join()
            out += [r.raw for r in got]
    return out


def test_the_c_loop_is_built(monkeypatch):
    monkeypatch.setenv("CURVERBD_FASTPATH", "1")
    monkeypatch.setattr(fastpath, "_tried", False)
    monkeypatch.setattr(fastpath, "_loaded", None)
    assert fastpath.load() is not None, "no C compiler? the daemon would serve every frame in Python"


@pytest.mark.parametrize("seed", [1, 2])
def test_same_replies_with_and_without_the_c_loop(two_daemons, seed):
    fast, slow = two_daemons
    a, b = replies(fast.socket, seed), replies(slow.socket, seed)
    assert len(a) == len(b) == 4 * 48
    for x, y in zip(a, b):
        assert x == y


def test_writes_racing_snapshots_land_in_the_image(daemon):
    with Wire(daemon.socket) as ctl:
        fd = open_image(ctl, 10 * GiB)
        last: dict[int, bytes] = {}
        stop = threading.Event()
        failures = []

        def writer():
            with Wire(daemon.socket) as w:
                gen = 0
                while not stop.is_set() or gen < 20:
                    gen += 1
                    batch, sent = [], {}
                    for i in range(64):
                        data = bytes([gen % 251, i]) * (BLOCK // 2)
                        batch.append(request_frame(FILE, "Write", gen * 100 + i, io_req(fd, i * BLOCK, BLOCK), data))
                        sent[gen * 100 + i] = (i, data)
                    w.send(b"".join(batch))
                    for _ in batch:
                        r = w.recv_reply()
                        if r.ret_code != 0:
                            failures.append(r.ret_msg)
                        i, data = sent[r.cid]
                        last[i] = data

        thread = threading.Thread(target=writer)
        thread.start()
        mds = Mds(daemon.mds_socket)   # snapshots through Curve's MDS (release1.5's <vol>@<snap>)
        try:
            for n in range(6):
                assert mds.snap_create(f"/rbd/img@s{n}", ADMIN)[0] == kOK
            for n in range(6):  # merging layers away gives the head back to the C loop
                assert mds.snap_delete(f"/rbd/img@s{n}", ADMIN) == kOK
        finally:
            mds.close()
        stop.set()
        thread.join(60)
        assert not thread.is_alive() and not failures
        for i, data in sorted(last.items()):
            assert ctl.read(fd, i * BLOCK, BLOCK).attachment == data, f"block {i}"
        whole = ctl.call(FILE, "Read", io_req(fd, 0, 64 * BLOCK)).attachment
        assert whole == b"".join(last[i] for i in range(64))
