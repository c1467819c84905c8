"""Hand-written baidu_std + protobuf for wire tests, independent of curverbd/nebd/*.

Just enough proto2 to build nebd requests and read replies: varint and
length-delimited fields. Field numbers are those of nebd's and brpc's .proto
files (shared/reference/nebd-protocol.md).
"""
from __future__ import annotations

import json
import socket
import struct

FILE = "nebd.client.NebdFileService"
HEARTBEAT = "nebd.client.NebdHeartbeatService"
CATALOG = "curverbd.CatalogService"


# --- protobuf -----------------------------------------------------------------------------------
def varint(n: int) -> bytes:
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def fv(num: int, value: int) -> bytes:
    """A varint field."""
    return varint(num << 3) + varint(value)


def fb(num: int, value) -> bytes:
    """A length-delimited field (bytes, str or an encoded sub-message)."""
    if isinstance(value, str):
        value = value.encode()
    return varint(num << 3 | 2) + varint(len(value)) + bytes(value)


def read_varint(buf, pos: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, pos


def fields(buf) -> dict[int, list]:
    """{field number: [values]}: ints for varints, bytes for length-delimited fields."""
    out: dict[int, list] = {}
    pos = 0
    buf = bytes(buf)
    while pos < len(buf):
        key, pos = read_varint(buf, pos)
        if key & 7 == 0:
            value, pos = read_varint(buf, pos)
        elif key & 7 == 2:
            size, pos = read_varint(buf, pos)
            value, pos = buf[pos:pos + size], pos + size
        else:
            raise ValueError(f"wire type {key & 7} not expected here")
        out.setdefault(key >> 3, []).append(value)
    return out


def signed(n: int) -> int:
    """A 64-bit varint read back as a signed number (RetCode kNoOK = -1)."""
    return n - (1 << 64) if n >= 1 << 63 else n


# --- nebd request messages ----------------------------------------------------------------------
def open_req(name: str, exclusive: bool | None = None) -> bytes:
    return fb(1, name) + (fb(2, fv(1, int(exclusive))) if exclusive is not None else b"")


def io_req(fd: int, offset: int, size: int) -> bytes:
    """ReadRequest / WriteRequest / DiscardRequest."""
    return fv(1, fd) + fv(2, offset) + fv(3, size)


def fd_req(fd: int) -> bytes:
    """CloseFile / Flush / GetInfo / InvalidateCache requests."""
    return fv(1, fd)


def resize_req(fd: int, size: int) -> bytes:
    return fv(1, fd) + fv(2, size)


def heartbeat_req(pid: int, files: list[tuple[int, str]]) -> bytes:
    return fv(1, pid) + fb(2, "unknown") + b"".join(fb(3, fv(1, fd) + fb(2, name)) for fd, name in files)


# --- baidu_std ----------------------------------------------------------------------------------
def request_frame(service: str, method: str, cid: int, payload: bytes = b"", attachment: bytes = b"",
                  log_id: int | None = None) -> bytes:
    req = fb(1, service) + fb(2, method) + (fv(3, log_id) if log_id is not None else b"")
    meta = fb(1, req) + fv(4, cid) + (fv(5, len(attachment)) if attachment else b"")
    body = len(meta) + len(payload) + len(attachment)
    return b"PRPC" + struct.pack(">II", body, len(meta)) + meta + payload + attachment


def read_exactly(sock: socket.socket, n: int) -> bytes:
    """``n`` bytes from ``sock``; EOFError if the peer closes first."""
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError(f"connection closed after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


class Reply:
    """One response frame, taken apart."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        body, meta_size = struct.unpack(">II", raw[4:12])
        meta = fields(raw[12:12 + meta_size])
        self.cid = meta.get(4, [0])[0]
        att = meta.get(5, [0])[0]
        response = fields(meta[2][0]) if 2 in meta else {}
        self.error_code = response.get(1, [0])[0]
        self.error_text = response.get(2, [b""])[0].decode()
        end = len(raw) - att
        self.payload = raw[12 + meta_size:end]
        self.attachment = raw[end:]

    @property
    def fields(self) -> dict[int, list]:
        """The payload as a nebd reply message."""
        return fields(self.payload)

    @property
    def ret_code(self) -> int:
        return signed(self.fields[1][0])

    @property
    def ret_msg(self) -> str:
        return self.fields.get(2, [b""])[0].decode()

    def json(self) -> dict:
        return json.loads(self.payload)


class Wire:
    """A raw client connection to the daemon."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(path)
        self.cid = 0

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "Wire":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def next_cid(self) -> int:
        self.cid += 1
        return self.cid

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _exactly(self, n: int) -> bytes:
        return read_exactly(self.sock, n)

    def recv_reply(self) -> Reply:
        head = self._exactly(12)
        assert head[:4] == b"PRPC", head
        body = struct.unpack(">I", head[4:8])[0]
        return Reply(head + self._exactly(body))

    def call(self, service: str, method: str, payload: bytes = b"", attachment: bytes = b"") -> Reply:
        cid = self.next_cid()
        self.send(request_frame(service, method, cid, payload, attachment))
        reply = self.recv_reply()
        assert reply.cid == cid
        return reply

    def catalog(self, method: str, **args) -> dict:
        return self.call(CATALOG, method, json.dumps(args).encode()).json()

    def open_file(self, name: str) -> Reply:
        return self.call(FILE, "OpenFile", open_req(name))

    def open_fd(self, name: str) -> int:
        reply = self.open_file(name)
        assert reply.ret_code == 0, reply.ret_msg
        fd = reply.fields[3][0]
        assert fd > 0
        return fd

    def write(self, fd: int, offset: int, data: bytes) -> Reply:
        return self.call(FILE, "Write", io_req(fd, offset, len(data)), data)

    def read(self, fd: int, offset: int, size: int) -> Reply:
        return self.call(FILE, "Read", io_req(fd, offset, size))

    def closed_by_peer(self, timeout: float = 10) -> bool:
        """True once the daemon has closed this connection (EOF or reset)."""
        self.sock.settimeout(timeout)
        try:
            while self.sock.recv(65536):
                pass
            return True
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False


def nebd_name(pool: str, image: str, owner: str) -> str:
    return f"cbd:{pool}//{pool}/{image}_{owner}_"
