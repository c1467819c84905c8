"""The MDS client against scripted MDS peers: the StatusCode -> errno table row by row, failover,
timeouts, an MDS closing mid-reply, unknown codes, re-sent requests.

The peers speak baidu_std with rawwire's hand-written encoder (not curverbd's codec) and
answer as a real MDS would in each situation; the happy paths and Curve's rules run against
the real daemon in test_mds_conformance.py and through every other test.
"""
from __future__ import annotations

import errno
import os
import socket
import struct
import threading
import time

import pytest

from rawwire import fb, fields, fv

from curverbd.curve.mds import MdsClient
from curverbd.errors import Error

# The RBD situation each code stands for, and Ceph's errno there (written from Ceph's behaviour,
# not copied from curverbd/curve/status.py).
EXPECTED = {
    101: errno.EEXIST,      # kFileExists: create of an existing image / pool
    102: errno.ENOENT,      # kFileNotExists
    103: errno.ENOENT,      # kNotDirectory: "pool" is a volume
    104: errno.EINVAL,      # kParaError
    105: errno.EINVAL,      # kShrinkBiggerFile
    106: errno.EINVAL,      # kExtentUnitError
    107: errno.ENOENT,      # kSegmentNotAllocated
    108: errno.ENOSPC,      # kSegmentAllocateError
    109: errno.ENOENT,      # kDirNotExist: no such pool
    110: errno.EOPNOTSUPP,  # kNotSupported
    111: errno.EPERM,       # kOwnerAuthFail: caps / key refused
    112: errno.ENOTEMPTY,   # kDirNotEmpty: pool rm with images
    120: errno.ENOTEMPTY,   # kFileUnderSnapShot: rbd rm with snapshots (ImageHasSnapshots)
    121: errno.ENOENT,      # kFileNotUnderSnapShot
    122: errno.EBUSY,       # kSnapshotDeleting
    123: errno.ENOENT,      # kSnapshotFileNotExists
    124: errno.EIO,         # kSnapshotFileDeleteError
    125: errno.ESTALE,      # kSessionNotExist
    126: errno.EBUSY,       # kFileOccupied: rm of an open image (watchers)
    127: errno.EINVAL,      # kCloneFileNameIllegal
    128: errno.EINVAL,      # kCloneStatusNotMatch
    129: errno.EIO,         # kCommonFileDeleteError
    130: errno.ENOENT,      # kFileIdNotMatch
    131: errno.EBUSY,       # kFileUnderDeleting
    132: errno.EINVAL,      # kFileLengthNotSupported
    133: errno.EBUSY,       # kDeleteFileBeingCloned: rm of a clone parent
    134: errno.EOPNOTSUPP,  # kClientVersionNotMatch
    135: errno.EAGAIN,      # kSnapshotFrozen
    136: errno.EIO,         # kSnapshotCloneConnectFail
    137: errno.EAGAIN,      # kSnapshotCloneServerNotInit
    138: errno.EBUSY,       # kRecoverFileCloneMetaInstalled
    139: errno.EIO,         # kRecoverFileError
    140: errno.ESTALE,      # kEpochTooOld
    141: errno.ENOENT,      # kPoolsetNotExist
    142: errno.EINVAL,      # kFileStatusInvalid
    143: errno.EINVAL,      # kFileTypeInvalid
    144: errno.EINVAL,      # kSnapshotFileNotProtected: clone of an unprotected snapshot
    145: errno.EBUSY,       # kSnapshotFileProtected: snap rm of a protected snapshot
    146: errno.EEXIST,      # kSnapshotExist
    501: errno.EIO,         # kStorageError
    502: errno.EIO,         # KInternalError
}


def reply_frame(cid: int, payload: bytes, error_code: int = 0) -> bytes:
    meta = fb(2, fv(1, error_code)) + fv(4, cid)
    return b"PRPC" + struct.pack(">II", len(meta) + len(payload), len(meta)) + meta + payload


class ScriptedMds:
    """A TCP peer answering each request with ``answer(method, request fields, count)``: a payload
    (bytes), None to close the connection without a reply, or "hang" to never answer."""

    def __init__(self, answer) -> None:
        self.answer = answer
        self.calls: list[tuple[str, dict]] = []
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.addr = "127.0.0.1:%d" % self.listener.getsockname()[1]
        self.stopped = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stopped:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._conn, args=(conn,), daemon=True).start()

    def _conn(self, conn: socket.socket) -> None:
        with conn:
            buf = b""
            while True:
                while len(buf) < 12 or len(buf) < 12 + struct.unpack(">I", buf[4:8])[0]:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                body, meta_size = struct.unpack(">II", buf[4:12])
                meta = fields(buf[12:12 + meta_size])
                payload = buf[12 + meta_size:12 + body]
                buf = buf[12 + body:]
                method = fields(meta[1][0])[2][0].decode()
                self.calls.append((method, fields(payload)))
                out = self.answer(method, fields(payload), len(self.calls))
                if out is None:
                    return
                if out == "hang":
                    time.sleep(30)
                    return
                conn.sendall(reply_frame(meta[4][0], *out) if isinstance(out, tuple) else
                             reply_frame(meta[4][0], out))

    def close(self) -> None:
        self.stopped = True
        self.listener.close()


@pytest.fixture
def scripted():
    peers = []

    def make(answer) -> ScriptedMds:
        peers.append(ScriptedMds(answer))
        return peers[-1]
    yield make
    for p in peers:
        p.close()


def free_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return "127.0.0.1:%d" % s.getsockname()[1]   # closed again: connecting is refused


@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_status_code_maps_to_cephs_errno(scripted, code):
    peer = scripted(lambda method, req, n: fv(1, code))
    client = MdsClient([peer.addr], "alice")
    with pytest.raises(Error) as exc:
        client.stat("/pool/img")
    assert exc.value.errno == EXPECTED[code]
    assert "/pool/img" in str(exc.value) and "GetFileInfo" in str(exc.value)
    assert len(peer.calls) == 1          # a StatusCode answers at once: no retry


def test_unknown_status_is_eio_naming_method_and_number(scripted):
    peer = scripted(lambda method, req, n: fv(1, 777))
    with pytest.raises(Error) as exc:
        MdsClient([peer.addr], "alice").extend("/pool/img", 20 << 30)
    assert exc.value.errno == errno.EIO
    assert "ExtendFile" in str(exc.value) and "777" in str(exc.value)


def test_every_request_carries_the_auth_triple_and_root_signs(scripted):
    peer = scripted(lambda method, req, n: fv(1, 0))
    MdsClient([peer.addr], "alice", "ignored").mkdir("/pool")
    MdsClient([peer.addr], "root", "root_password").mkdir("/pool2")
    (_, alice), (_, root) = peer.calls
    assert alice[2] == [b"alice"] and alice[5] == [b""]               # CreateFile: owner=2, signature=5
    assert abs(alice[6][0] - time.time() * 1e6) < 5e6                 # date=6, microseconds
    assert root[2] == [b"root"] and len(root[5][0]) == 44            # Base64(HMAC-SHA256) = 44 chars


def test_failover_first_address_refusing(scripted):
    peer = scripted(lambda method, req, n: fv(1, 0) + fb(2, fv(1, 7) + fb(2, "img") + fv(4, 1)))
    client = MdsClient([free_port(), peer.addr], "alice")
    start = time.monotonic()
    assert client.stat("/pool/img")["id"] == 7
    assert time.monotonic() - start < 1.0         # a refused address moves on at once
    assert client.address == peer.addr           # and the answering one is remembered


def test_mds_closing_mid_reply_is_retried(scripted):
    answers = iter([None, None, fv(1, 0)])
    peer = scripted(lambda method, req, n: next(answers))
    MdsClient([peer.addr], "alice").extend("/pool/img", 20 << 30)
    assert [m for m, _ in peer.calls] == ["ExtendFile"] * 3


def test_all_addresses_down_is_etimedout_within_the_budget():
    client = MdsClient([free_port(), free_port()], "alice", max_retry=1.5)
    start = time.monotonic()
    with pytest.raises(Error) as exc:
        client.listdir("/pool")
    assert exc.value.errno == errno.ETIMEDOUT
    assert time.monotonic() - start < 3.0
    assert all(a in str(exc.value) for a in client.addrs)


def test_a_hanging_mds_times_out_naming_it(scripted):
    peer = scripted(lambda method, req, n: "hang")
    client = MdsClient([peer.addr], "alice", max_retry=2.0)
    start = time.monotonic()
    with pytest.raises(Error) as exc:
        client.stat("/pool/img")
    assert exc.value.errno == errno.ETIMEDOUT and peer.addr in str(exc.value)
    assert 1.5 < time.monotonic() - start < 3.5
    assert len(peer.calls) >= 2                     # 0.5 s, then 1 s, then 2 s: the timeout doubles


def test_no_such_method_is_eopnotsupp(scripted):
    peer = scripted(lambda method, req, n: (b"", 1002))
    with pytest.raises(Error) as exc:
        MdsClient([peer.addr], "alice").stat("/pool/img")
    assert exc.value.errno == errno.EOPNOTSUPP and "GetFileInfo" in str(exc.value)


@pytest.mark.parametrize("method,repeat_code,call", [
    ("CreateFile", 101, lambda c: c.create("/pool/img", 10 << 30)),
    ("DeleteFile", 102, lambda c: c.delete("/pool/img")),
    ("RenameFile", 102, lambda c: c.rename("/pool/a", "/pool/b")),
    ("RecoverFile", 102, lambda c: c.recover("/pool/img")),
])
def test_a_resent_request_finding_its_work_done_succeeds(scripted, method, repeat_code, call):
    """The first request was carried out but its reply lost (the MDS restarted): the re-send's
    "exists" / "does not exist" is the first one's success, not an error."""
    answers = iter([None, fv(1, repeat_code)])
    peer = scripted(lambda m, req, n: next(answers))
    call(MdsClient([peer.addr], "alice"))
    assert [m for m, _ in peer.calls] == [method, method]


def test_the_same_answer_without_a_resend_is_an_error(scripted):
    peer = scripted(lambda m, req, n: fv(1, 101))
    with pytest.raises(Error) as exc:
        MdsClient([peer.addr], "alice").create("/pool/img", 10 << 30)
    assert exc.value.errno == errno.EEXIST


def test_delete_retries_not_supported_of_a_young_mds(scripted):
    answers = iter([fv(1, 110), fv(1, 110), fv(1, 0)])
    peer = scripted(lambda m, req, n: next(answers))
    MdsClient([peer.addr], "alice").delete("/pool/img")
    assert len(peer.calls) == 3


def test_unix_socket_address(tmp_path):
    path = str(tmp_path / "mds.sock")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path)
    listener.listen(1)

    def serve():
        conn, _ = listener.accept()
        data = conn.recv(65536)
        body, meta_size = struct.unpack(">II", data[4:12])
        conn.sendall(reply_frame(fields(data[12:12 + meta_size])[4][0], fv(1, 0) + fv(2, 4096)))
        conn.close()
    threading.Thread(target=serve, daemon=True).start()
    assert MdsClient(path, "alice").allocated_size("/pool") == 4096
    listener.close()
    os.unlink(path)
