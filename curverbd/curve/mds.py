"""A client of Curve's MDS (``curve.mds.CurveFSService``), as Curve's own client library calls it.

brpc baidu_std over TCP (or a unix socket for the embedded daemon), one request
at a time per client, with libcurve's failover (shared/reference/
curve-control-plane.md section 1):

- the first attempt waits ``rpc_timeout`` (0.5 s); a timeout doubles it (capped at
  2 s) and stays on the same MDS;
- a refused, reset or vanished connection moves at once to the next address
  (a standby MDS does not listen), any other failure after two on one address;
- between retries on one address, 0.1 s; the whole call gives up after 8 s with
  ETIMEDOUT naming the addresses and the last failure;
- only transport failures are retried; any StatusCode answers at once
  (status.py maps it), except kNotSupported from DeleteFile/RenameFile/
  ChangeOwner, which Curve's MDS gives in its first seconds and libcurve retries.

A request sent whole whose reply never came may have been carried out: the
calls below that are not naturally idempotent (create, delete, rename, recover)
accept the "already done" answer to a re-sent request, so a success is never
reported as an error because an MDS restarted at the wrong moment.
"""
from __future__ import annotations

import errno
import itertools
import logging
import socket
import threading
import time
from typing import Any

from ..errors import Error
from ..nebd import framing, messages
from . import nameserver2 as ns
from .auth import auth_fields, now_us
from .status import MdsError

log = logging.getLogger(__name__)
S = ns.StatusCode

RPC_TIMEOUT = 0.5          # mds.rpcTimeoutMS
MAX_RPC_TIMEOUT = 2.0      # mds.maxRPCTimeoutMS
MAX_RETRY = 8.0            # mds.maxRetryMS: the budget of one control call
RETRY_INTERVAL = 0.1       # mds.rpcRetryIntervalUS
MAX_FAILED_BEFORE_CHANGE = 2   # mds.maxFailedTimesBeforeChangeMDS
SWITCH_ERRNOS = frozenset({errno.ECONNREFUSED, errno.ECONNRESET, errno.EHOSTDOWN, errno.ENOENT,
                           errno.EPIPE, errno.ECONNABORTED})
RETRY_NOT_SUPPORTED = frozenset({"DeleteFile", "RenameFile", "ChangeOwner"})


def parse_addrs(text: str) -> list[str]:
    """Comma-separated ``host:port`` entries or unix socket paths; ValueError naming a bad one."""
    addrs = [a.strip() for a in str(text).split(",") if a.strip()]
    if not addrs:
        raise ValueError(f"MDS address list {text!r} is empty")
    for addr in addrs:
        if addr.startswith("/"):
            continue
        host, _, port = addr.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"MDS address {addr!r}: expected host:port or a unix socket path")
    return addrs


class _Link:
    """One connection to one MDS address."""

    def __init__(self, addr: str) -> None:
        self.addr = addr
        if addr.startswith("/"):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            target: Any = addr
        else:
            host, _, port = addr.rpartition(":")
            self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            target = (host.strip("[]"), int(port))
        self.sock.settimeout(RPC_TIMEOUT)
        try:
            self.sock.connect(target)
        except BaseException:
            self.sock.close()
            raise

    def exchange(self, head: bytes, cid: int, timeout: float) -> framing.Frame:
        """Send one request frame, return its reply; OSError / TimeoutError / FrameError on failure."""
        self.sock.settimeout(timeout)
        self.sock.sendall(head)
        reader = framing.FrameReader()
        while True:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionResetError(errno.ECONNRESET, "the MDS closed the connection mid-reply")
            for frame in reader.feed(chunk):
                if frame.correlation_id == cid:
                    return frame

    def close(self) -> None:
        self.sock.close()


class MdsClient:
    """Curve's namespace as one owner sees it, through a list of MDS addresses."""

    def __init__(self, addrs: list[str] | str, owner: str, password: str = "",
                 max_retry: float = MAX_RETRY) -> None:
        self.addrs = parse_addrs(addrs) if isinstance(addrs, str) else list(addrs)
        self.owner = owner
        self.password = password
        self.max_retry = max_retry
        self.date_offset_us = 0            # added to the request date (curverbd doctor probes the window)
        self._current = 0                  # currentWorkingMDSAddrIndex_
        self._link: _Link | None = None
        self._cids = itertools.count(1)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<MdsClient {','.join(self.addrs)} as {self.owner}>"

    @property
    def address(self) -> str:
        """The address that answered last (or will be tried first)."""
        return self.addrs[self._current]

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _drop(self) -> None:
        if self._link is not None:
            self._link.close()
            self._link = None

    # --- one RPC with failover -----------------------------------------------------------------
    def call(self, method: str, request: dict, target: str = "") -> dict:
        """The decoded reply of ``method``. MdsError for a refusal (its ``resent`` says whether the request
        may have reached an MDS more than once), Error(ETIMEDOUT) when no MDS answered."""
        req_type, reply_type = ns.METHODS[method]
        request = dict(request)
        target = target or request.get("fileName", "")
        deadline = time.monotonic() + self.max_retry
        timeout, failures, delivered, last = RPC_TIMEOUT, 0, 0, "no attempt"
        with self._lock:
            while True:
                if method not in ns.UNAUTHENTICATED:   # a fresh date: a retry may come seconds later
                    request.update(auth_fields(self.owner, self.password, now_us() + self.date_offset_us))
                cid = next(self._cids)
                head = framing.request_head(ns.SERVICE, method, cid, req_type.encode(request))
                addr, sent = self.addrs[self._current], False
                try:
                    if self._link is None:
                        self._link = _Link(addr)
                    sent = True
                    frame = self._link.exchange(head, cid, min(timeout, max(0.01, deadline - time.monotonic())))
                except (OSError, framing.FrameError) as exc:
                    self._drop()
                    delivered += sent
                    timed_out = isinstance(exc, (TimeoutError, socket.timeout))
                    last = f"{addr}: {'no reply within %.1f s' % timeout if timed_out else exc}"
                    if timed_out:
                        timeout = min(timeout * 2, MAX_RPC_TIMEOUT)
                        failures += 1
                    elif getattr(exc, "errno", None) in SWITCH_ERRNOS or not sent:
                        failures = MAX_FAILED_BEFORE_CHANGE
                    else:
                        failures += 1
                    if failures >= MAX_FAILED_BEFORE_CHANGE:
                        self._current, failures = (self._current + 1) % len(self.addrs), 0
                    pause = 0.0 if timed_out else RETRY_INTERVAL
                    if time.monotonic() + pause >= deadline:
                        raise Error(errno.ETIMEDOUT, f"{target}: Curve MDS {method}: no MDS answered within "
                                                     f"{self.max_retry:g} s ({','.join(self.addrs)}; last: {last})")
                    time.sleep(pause)
                    continue
                reply = self._reply(method, target, addr, frame, reply_type)
                status = reply["statusCode"]
                if status == S.kNotSupported and method in RETRY_NOT_SUPPORTED \
                        and time.monotonic() + RETRY_INTERVAL < deadline:
                    time.sleep(RETRY_INTERVAL)   # an MDS in its first seconds refuses these
                    continue
                if status != S.kOK:
                    raise MdsError(status, method, target, resent=delivered > 0)
                return reply

    @staticmethod
    def _reply(method: str, target: str, addr: str, frame: framing.Frame, reply_type) -> dict:
        response = frame.meta.get("response") or {}
        code = response.get("error_code", 0)
        if code == messages.ENOMETHOD:
            raise Error(errno.EOPNOTSUPP, f"{target}: the Curve MDS at {addr} has no method {method} "
                                          f"({response.get('error_text', '')})")
        if code:
            raise Error(errno.EIO, f"{target}: Curve MDS {method} at {addr}: brpc error {code} "
                                   f"{response.get('error_text', '')}")
        try:
            return reply_type.decode(frame.payload)
        except ValueError as exc:
            raise Error(errno.EIO, f"{target}: Curve MDS {method} at {addr}: undecodable reply: {exc}") from exc

    # --- namespace ----------------------------------------------------------------------------
    def mkdir(self, path: str) -> None:
        """CreateFile of a directory (a pool)."""
        self._idempotent("CreateFile", {"fileName": path, "fileType": ns.FileType.INODE_DIRECTORY},
                         S.kFileExists)

    def create(self, path: str, length: int, stripe_unit: int = 0, stripe_count: int = 0) -> None:
        """CreateFile of a page file (a volume) of ``length`` bytes (Curve's rules: >= 10 GiB, whole GiB)."""
        request = {"fileName": path, "fileType": ns.FileType.INODE_PAGEFILE, "fileLength": length}
        if stripe_unit or stripe_count:
            request.update(stripeUnit=stripe_unit, stripeCount=stripe_count)
        self._idempotent("CreateFile", request, S.kFileExists)

    def delete(self, path: str, file_id: int | None = None, force: bool = False) -> None:
        """DeleteFile: a directory must be empty; a volume moves to /RecycleBin (force: purge from it)."""
        request: dict = {"fileName": path, "forceDelete": force}
        if file_id is not None:
            request["fileId"] = file_id
        self._idempotent("DeleteFile", request, S.kFileNotExists)

    def recover(self, path: str, file_id: int | None = None) -> None:
        """RecoverFile: put the newest (or the ``file_id``) RecycleBin entry of ``path`` back."""
        request: dict = {"fileName": path}
        if file_id is not None:
            request["fileId"] = file_id
        self._idempotent("RecoverFile", request, S.kFileNotExists)

    def rename(self, old: str, new: str) -> None:
        self._idempotent("RenameFile", {"oldFileName": old, "newFileName": new}, S.kFileNotExists,
                         target=old)

    def stat(self, path: str) -> dict:
        """GetFileInfo: Curve's FileInfo as a dict (id, fileName, fileType, owner, length, ctime, ...)."""
        return self.call("GetFileInfo", {"fileName": path}).get("fileInfo", {})

    def listdir(self, path: str) -> list[dict]:
        """ListDir: the FileInfo of every entry, in byte order of the name."""
        return self.call("ListDir", {"fileName": path}).get("fileInfo", [])

    def extend(self, path: str, length: int) -> None:
        """ExtendFile to ``length`` (whole segments; Curve never shrinks; equal is a no-op)."""
        self.call("ExtendFile", {"fileName": path, "newSize": length})

    def allocated_size(self, path: str) -> int:
        """GetAllocatedSize: bytes Curve has allocated to a volume (a directory: its volumes)."""
        return self.call("GetAllocatedSize", {"fileName": path}).get("allocatedSize", 0)

    def _idempotent(self, method: str, request: dict, repeat_status: int, target: str = "") -> None:
        """A call whose repeat answers ``repeat_status`` once the first one was carried out."""
        try:
            self.call(method, request, target)
        except MdsError as exc:
            if exc.status == repeat_status and exc.resent:
                log.info("%s: %s re-sent after a lost reply; the first one was carried out", exc, method)
                return
            raise

    # --- local snapshots and clones (release1.5; a mainline MDS answers ENOMETHOD -> EOPNOTSUPP) ---------
    def create_snapshot(self, path: str, name: str) -> dict:
        """CreateSnapShot of ``<path>@<name>``: the snapshot's FileInfo (its seqNum is its seq)."""
        snap = f"{path}@{name}"
        try:
            return self.call("CreateSnapShot", {"fileName": snap}).get("snapShotFileInfo", {})
        except MdsError as exc:
            if exc.status == S.kSnapshotExist and exc.resent:   # the first one was made
                return self.snapshot(path, name)
            raise

    def snapshots(self, path: str) -> list[dict]:
        """ListSnapShot with no seq: every snapshot of ``path`` (fileName = the snapshot's name)."""
        return self.call("ListSnapShot", {"fileName": path}).get("fileInfo", [])

    def snapshot(self, path: str, name: str) -> dict:
        """One snapshot's FileInfo; MdsError(kSnapshotFileNotExists) if there is none."""
        for info in self.snapshots(path):
            if info.get("fileName") == name:
                return info
        raise MdsError(S.kSnapshotFileNotExists, "ListSnapShot", f"{path}@{name}")

    def delete_snapshot(self, path: str, name: str) -> None:
        self._idempotent("DeleteSnapShot", {"fileName": f"{path}@{name}"}, S.kSnapshotFileNotExists)

    def protect_snapshot(self, path: str, name: str, protect: bool = True) -> None:
        """ProtectSnapShot / UnprotectSnapShot (already in that state: kOK)."""
        snap = f"{path}@{name}"
        self.call("ProtectSnapShot" if protect else "UnprotectSnapShot", {"snapFileName": snap}, snap)

    def clone(self, path: str, name: str, dest: str, readonly: bool = False) -> dict:
        """Clone ``<path>@<name>`` (protected) as the new file ``dest``: its FileInfo."""
        request = {"fileName": dest, "snapFileName": f"{path}@{name}", "readonly": readonly}
        try:
            return self.call("Clone", request).get("fileInfo", {})
        except MdsError as exc:
            if exc.status == S.kFileExists and exc.resent:
                return self.stat(dest)
            raise

    def flatten(self, path: str) -> None:
        """Flatten: the clone starts copying its source's data (QueryFlattenStatus follows it)."""
        self.call("Flatten", {"fileName": path})

    def flatten_status(self, path: str) -> tuple[int, int]:
        """(FileStatus, progress 0..100) of a flatten."""
        reply = self.call("QueryFlattenStatus", {"fileName": path})
        return reply.get("fileStatus", 0), reply.get("progress", 0)

    def children(self, path: str, name: str | None = None) -> list[str]:
        """The clones of ``<path>@<name>`` (of any snapshot of ``path`` with no name): their paths."""
        request = {"snapFileName": f"{path}@{name}"} if name is not None else {"fileName": path}
        return self.call("Children", request, f"{path}@{name}" if name else path).get("fileNames", [])
