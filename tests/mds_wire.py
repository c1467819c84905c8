"""A hand-written Curve MDS client for wire tests, independent of curverbd's codec and MDS client.

Requests are built field by field with the numbers of Curve's
proto/nameserver2.proto (shared/reference/curve-control-plane.md section 2),
framed as brpc baidu_std by rawwire.py (also hand-written), and sent over the
daemon's MDS unix socket or TCP. Root's signature is computed here too:
Base64(HMAC-SHA256(password, "<date>:<owner>")), date in microseconds.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import socket
import time
from dataclasses import dataclass

from rawwire import Reply, fb, fields, fv, read_exactly, request_frame

SERVICE = "curve.mds.CurveFSService"
DIRECTORY, PAGEFILE, APPENDFILE = 0, 1, 2
ENOSERVICE, ENOMETHOD, EREQUEST = 1001, 1002, 1003

# StatusCode (Curve master)
kOK = 0
kFileExists = 101
kFileNotExists = 102
kNotDirectory = 103
kParaError = 104
kShrinkBiggerFile = 105
kExtentUnitError = 106
kDirNotExist = 109
kNotSupported = 110
kOwnerAuthFail = 111
kDirNotEmpty = 112
kFileUnderSnapShot = 120
kFileOccupied = 126
kFileIdNotMatch = 130
kFileLengthNotSupported = 132
kPoolsetNotExist = 141
kSnapshotFileNotExists = 123
kFileUnderDeleting = 131
# release1.5 only
kFileStatusInvalid = 142
kFileTypeInvalid = 143
kSnapshotFileNotProtected = 144
kSnapshotFileProtected = 145
kSnapshotExist = 146
# FileType / FileStatus values beyond the directory and page file
SNAPSHOT_PAGEFILE, CLONE_PAGEFILE = 4, 5
kFileCreated, kFileFlattening = 0, 6

# FileInfo: field number -> (name, is a string)
FILE_INFO = {1: ("id", False), 2: ("fileName", True), 3: ("parentId", False), 4: ("fileType", False),
             5: ("owner", True), 6: ("chunkSize", False), 7: ("segmentSize", False), 8: ("length", False),
             9: ("ctime", False), 10: ("seqNum", False), 11: ("fileStatus", False),
             12: ("originalFullPathName", True), 15: ("stripeUnit", False), 16: ("stripeCount", False),
             19: ("poolset", True), 20: ("blocksize", False),
             13: ("cloneSource", True), 22: ("cloneSn", False), 24: ("isProtected", False),
             26: ("version", False), 27: ("readonly", False)}
FILE_INFO_LISTS = {21: ("snaps", False), 25: ("children", True)}   # release1.5's repeated fields


def now_us() -> int:
    return time.time_ns() // 1000


def sign(password: str, date: int, owner: str) -> str:
    mac = hmac.new(password.encode(), f"{date}:{owner}".encode(), hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


@dataclass
class Who:
    """Who a request claims to be: owner, root's password (signs if set), a clock skew, a forced signature."""
    owner: str
    password: str = ""
    skew_us: int = 0
    signature: str | None = None

    def triple(self) -> tuple[str, str | None, int]:
        date = now_us() + self.skew_us
        sig = self.signature
        if sig is None and self.password:
            sig = sign(self.password, date, self.owner)
        return self.owner, sig, date


ROOT = Who("root", "root_password")


def auth(who: Who, owner: int, sig: int, date: int, sig_required: bool = False) -> bytes:
    """The auth triple at the given field numbers (no signature field unless signed or required)."""
    name, signature, when = who.triple()
    if signature is None and sig_required:
        signature = ""      # what libcurve sends for a user without a password
    return fb(owner, name) + (fb(sig, signature) if signature is not None else b"") + fv(date, when)


def file_info(raw: bytes) -> dict:
    out = {}
    for number, values in fields(raw).items():
        if number in FILE_INFO:
            name, text = FILE_INFO[number]
            out[name] = values[0].decode() if text else values[0]
        elif number in FILE_INFO_LISTS:
            name, text = FILE_INFO_LISTS[number]
            out[name] = [v.decode() for v in values] if text else list(values)
    return out


def opt(number: int, value, text: bool = False) -> bytes:
    if value is None:
        return b""
    return fb(number, value) if text else fv(number, int(value))


class Mds:
    """One connection to the daemon's CurveFSService: ``addr`` is a unix socket path or (host, port)."""

    def __init__(self, addr) -> None:
        if isinstance(addr, str):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        else:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(addr)
        self.cid = 0

    def close(self) -> None:
        self.sock.close()

    def _exactly(self, n: int) -> bytes:
        return read_exactly(self.sock, n)

    def call(self, method: str, payload: bytes, service: str = SERVICE) -> Reply:
        self.cid += 1
        self.sock.sendall(request_frame(service, method, self.cid, payload))
        head = self._exactly(12)
        assert head[:4] == b"PRPC", head
        reply = Reply(head + self._exactly(int.from_bytes(head[4:8], "big")))
        assert reply.cid == self.cid
        return reply

    def rpc(self, method: str, payload: bytes) -> dict:
        """{field number: [values]} of the response; statusCode is field 1."""
        reply = self.call(method, payload)
        assert reply.error_code == 0, f"{method}: brpc error {reply.error_code} {reply.error_text}"
        return fields(reply.payload)

    def status(self, method: str, payload: bytes) -> int:
        return self.rpc(method, payload)[1][0]

    # --- the RPCs (field numbers of nameserver2.proto) --------------------------------------------
    def create(self, path: str, who: Who, ftype: int = PAGEFILE, length: int | None = None,
               stripe: tuple[int, int] | None = None, poolset: str | None = None) -> int:
        body = fb(1, path) + fv(3, ftype) + opt(4, length) + auth(who, 2, 5, 6)
        if stripe is not None:
            body += fv(7, stripe[0]) + fv(8, stripe[1])
        return self.status("CreateFile", body + opt(9, poolset, True))

    def mkdir(self, path: str, who: Who) -> int:
        return self.create(path, who, DIRECTORY)

    def delete(self, path: str, who: Who, file_id: int | None = None, force: bool | None = None) -> int:
        return self.status("DeleteFile", fb(1, path) + auth(who, 2, 3, 4) + opt(5, file_id) + opt(6, force))

    def recover(self, path: str, who: Who, file_id: int | None = None) -> int:
        return self.status("RecoverFile", fb(1, path) + auth(who, 2, 3, 4) + opt(5, file_id))

    def info(self, path: str, who: Who) -> tuple[int, dict | None]:
        r = self.rpc("GetFileInfo", fb(1, path) + auth(who, 2, 3, 4))
        return r[1][0], (file_info(r[2][0]) if 2 in r else None)

    def listdir(self, path: str, who: Who) -> tuple[int, list[dict]]:
        r = self.rpc("ListDir", fb(1, path) + auth(who, 2, 3, 4))
        return r[1][0], [file_info(raw) for raw in r.get(2, [])]

    def extend(self, path: str, who: Who, size: int) -> int:
        return self.status("ExtendFile", fb(1, path) + fv(3, size) + auth(who, 2, 4, 5))

    def rename(self, old: str, new: str, who: Who, old_id: int | None = None, new_id: int | None = None) -> int:
        return self.status("RenameFile", fb(1, old) + fb(2, new) + auth(who, 3, 4, 7) + opt(5, old_id)
                           + opt(6, new_id))

    def chown(self, path: str, new_owner: str, who: Who) -> int:
        return self.status("ChangeOwner", fb(1, path) + fb(2, new_owner) + auth(who, 3, 4, 5, sig_required=True))

    def allocated(self, path: str) -> tuple[int, int]:
        r = self.rpc("GetAllocatedSize", fb(1, path))
        return r[1][0], r.get(2, [0])[0]

    def file_size(self, path: str) -> tuple[int, int]:
        r = self.rpc("GetFileSize", fb(1, path))
        return r[1][0], r.get(2, [0])[0]

    def open(self, path: str, who: Who) -> tuple[int, dict | None, dict | None]:
        """(status, ProtoSession {1: sessionID, 2: leaseTime, 3: createTime, 4: sessionStatus}, FileInfo)."""
        r = self.rpc("OpenFile", fb(1, path) + auth(who, 2, 3, 4) + fb(5, "1.5.0"))
        session = {k: v[0] for k, v in fields(r[2][0]).items()} if 2 in r else None
        return r[1][0], session, (file_info(r[3][0]) if 3 in r else None)

    def close_file(self, path: str, who: Who, client: tuple[str, int] = ("10.0.0.1", 9000)) -> int:
        return self.status("CloseFile", fb(1, path) + fb(2, "") + auth(who, 3, 4, 5) + fb(6, client[0])
                           + fv(7, client[1]))

    def refresh(self, path: str, who: Who, session: str = "s1",
                client: tuple[str, int] = ("10.0.0.1", 9000)) -> tuple[int, str, dict | None]:
        r = self.rpc("RefreshSession", fb(1, path) + fb(2, session) + auth(who, 3, 5, 4) + fb(6, "1.5.0")
                     + fb(7, client[0]) + fv(8, client[1]))
        return r[1][0], r[2][0].decode(), (file_info(r[3][0]) if 3 in r else None)

    # --- snapshots and clones (CreateSnapShot..CheckSnapShotStatus: both; the rest: release1.5 only) ---
    def snap_create(self, name: str, who: Who) -> tuple[int, dict | None]:
        """(status, snapShotFileInfo); ``name`` is a file path or release1.5's <volpath>@<snapname>."""
        r = self.rpc("CreateSnapShot", fb(1, name) + auth(who, 2, 3, 4))
        return r[1][0], (file_info(r[2][0]) if 2 in r else None)

    def snap_list(self, path: str, who: Who, seqs: tuple[int, ...] = ()) -> tuple[int, list[dict]]:
        body = fb(1, path) + auth(who, 2, 4, 5) + b"".join(fv(3, s) for s in seqs)
        r = self.rpc("ListSnapShot", body)
        return r[1][0], [file_info(raw) for raw in r.get(2, [])]

    def snap_delete(self, name: str, who: Who, seq: int | None = None) -> int:
        return self.status("DeleteSnapShot", fb(1, name) + auth(who, 2, 4, 5) + opt(3, seq))

    def snap_status(self, path: str, who: Who, seq: int) -> tuple[int, int | None, int | None]:
        """(status, fileStatus, progress)."""
        r = self.rpc("CheckSnapShotStatus", fb(1, path) + fv(3, seq) + auth(who, 2, 4, 5))
        return r[1][0], r.get(2, [None])[0], r.get(3, [None])[0]

    def protect(self, snap: str | None, who: Who, on: bool = True) -> int:
        return self.status("ProtectSnapShot" if on else "UnprotectSnapShot",
                           opt(1, snap, True) + auth(who, 2, 3, 4))

    def clone(self, dst: str, snap: str, who: Who, poolset: str | None = None,
              readonly: bool | None = None) -> tuple[int, dict | None]:
        r = self.rpc("Clone", fb(1, dst) + fb(2, snap) + auth(who, 3, 4, 5) + opt(6, poolset, True)
                     + opt(7, readonly))
        return r[1][0], (file_info(r[2][0]) if 2 in r else None)

    def flatten(self, path: str, who: Who) -> int:
        return self.status("Flatten", fb(1, path) + auth(who, 2, 3, 4))

    def flatten_status(self, path: str, who: Who) -> tuple[int, int | None, int | None]:
        """(status, fileStatus, progress)."""
        r = self.rpc("QueryFlattenStatus", fb(1, path) + auth(who, 2, 3, 4))
        return r[1][0], r.get(2, [None])[0], r.get(3, [None])[0]

    def children(self, who: Who, path: str | None = None, snap: str | None = None) -> tuple[int, list[str]]:
        r = self.rpc("Children", opt(1, path, True) + opt(2, snap, True) + auth(who, 3, 4, 5))
        return r[1][0], [v.decode() for v in r.get(2, [])]
