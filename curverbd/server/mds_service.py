"""``curve.mds.CurveFSService`` on the wire: Curve's MDS namespace RPCs, byte- and code-compatible.

Each handler follows Curve's NameSpaceService: the path must be valid
(isPathValid, else kParaError, before any authentication), then the owner
check the RPC needs (mds_auth.py), then the operation (curvefs.py). Every
refusal is a reply with its StatusCode; a request that does not decode is
answered with brpc's EREQUEST and an unknown method with ENOMETHOD, as brpc
does; a bug in a handler is KInternalError and a log line, never a lost
connection.

Snapshots and clones (mds_snapshots.py) follow the Curve release the daemon
plays (--curve-release): release1.5's local snapshots, protection, Clone,
Flatten and Children, or mainline's one snapshot per file, where the
release1.5-only methods answer ENOMETHOD as a mainline MDS's brpc does.
"""
from __future__ import annotations

import logging
import socket

from ..curve import nameserver2 as ns
from ..curve.auth import now_us
from ..errors import CurveError
from ..nebd import messages
from .curvefs import CurveFS, rename_path_valid
from .file_records import LEASE_US
from .mds_auth import Caller, OwnerChecks
from .mds_snapshots import SnapshotRules
from .refusal import code_of, refused
from .store import RECYCLE_BIN

log = logging.getLogger("curverbd.server.mds")
S = ns.StatusCode
_READS = frozenset({"GetFileInfo", "ListDir", "GetAllocatedSize", "GetFileSize", "OpenFile", "CloseFile",
                    "RefreshSession", "ListSnapShot", "CheckSnapShotStatus", "QueryFlattenStatus", "Children"})


def path_valid(path: str) -> bool:
    """isPathValid: starts with '/', no trailing '/' (but "/"), no '//'."""
    return path.startswith("/") and (path == "/" or not path.endswith("/")) and "//" not in path


def _caller(req: dict, owner_field: str = "owner") -> Caller:
    return Caller(req.get(owner_field, ""), req.get("signature", ""), req.get("date", 0))


def _check_path(*paths: str) -> None:
    for path in paths:
        if not path_valid(path):
            raise refused(S.kParaError, f"path {path!r}: must start with '/', with no '//' and no trailing '/'")


class CurveFSService:
    """The MDS's namespace service over the stand-in store."""
    name = ns.SERVICE

    def __init__(self, fs: CurveFS) -> None:
        self.fs = fs
        self.db = fs.store.db
        self.owners = OwnerChecks(fs.store, fs.config.root_user, fs.config.root_password)
        self.snapshots = SnapshotRules(fs, self.owners)
        # a mainline MDS (--curve-release 2) has no release1.5-only method: brpc answers ENOMETHOD
        self.missing = frozenset() if fs.release15 else ns.RELEASE15_ONLY

    def handle(self, conn, cid: int, method: str, payload, attachment) -> None:
        types = ns.METHODS.get(method)
        handler = getattr(self, "do_" + method, None)
        if types is None or handler is None or method in self.missing:
            conn.reply_error(cid, messages.ENOMETHOD, f"{self.name} has no method {method!r}")
            return
        request, response = types
        try:
            req = request.decode(payload)
        except ValueError as exc:   # DecodeError, or a value the codec cannot take
            conn.reply_error(cid, messages.EREQUEST, f"{method}: bad {request.name}: {exc}")
            return
        # ReFreshSessionResponse requires the session id, refusals included
        reply = {"sessionID": req["sessionID"]} if method == "RefreshSession" else {}
        try:
            with (self.db.lock if method in _READS else self.db.transaction()):
                result = handler(req, conn) or {}
            reply.update({"statusCode": S.kOK, **result})   # a result may carry its own (with fields)
        except CurveError as exc:
            reply["statusCode"] = code_of(exc)
            log.info("%s refused with %s: %s", method, reply["statusCode"].name, exc.strerror)
        except Exception:  # a bug or a disk fault: answer, log, keep serving
            log.exception("%s(%r) failed", method, req)
            reply["statusCode"] = S.KInternalError
        conn.reply(cid, response.encode(reply))

    # --- handlers: (request, connection) -> the reply's fields beyond statusCode ------------------
    def do_CreateFile(self, req: dict, conn) -> None:
        path = req["fileName"]
        _check_path(path)
        self.owners.path_owner(path, _caller(req))
        self.fs.create_file(path, req["owner"], req["fileType"], req.get("fileLength", 0),
                            req.get("stripeUnit", 0), req.get("stripeCount", 0), req.get("poolset", ""))

    def do_DeleteFile(self, req: dict, conn) -> None:
        path = req["fileName"]
        _check_path(path)
        self.owners.file_owner(path, _caller(req))
        self.fs.delete_file(path, req.get("fileId"), req.get("forceDelete", False))

    def do_RecoverFile(self, req: dict, conn) -> None:
        origin = req["fileName"]
        _check_path(origin)
        entry = self.fs.recover_info(origin, req.get("fileId"))   # Curve looks before it checks owners
        recycled = f"/{RECYCLE_BIN}/{entry.name}"
        self.owners.recycle_file_owner(recycled, _caller(req))
        self.owners.destination_owner(entry.origin or "", _caller(req))
        self.fs.recover_file(origin, recycled, req.get("fileId"))

    def do_GetFileInfo(self, req: dict, conn) -> dict:
        path = req["fileName"]
        _check_path(path)
        self.owners.file_owner(path, _caller(req))
        return {"fileInfo": self.fs.file_info(self.fs.info(path))}

    def do_ListDir(self, req: dict, conn) -> dict:
        path = req["fileName"]
        _check_path(path)
        self.owners.file_owner(path, _caller(req))
        return {"fileInfo": [self.fs.file_info(e) for e in self.fs.read_dir(path)]}

    def do_ExtendFile(self, req: dict, conn) -> None:
        path = req["fileName"]
        _check_path(path)
        self.owners.file_owner(path, _caller(req))
        self.fs.extend_file(path, req["newSize"])

    def do_RenameFile(self, req: dict, conn) -> None:
        old, new = req["oldFileName"], req["newFileName"]
        _check_path(old, new)
        if not rename_path_valid(old, new):
            raise refused(S.kParaError, f"rename {old} -> {new}: one path contains the other, or is '/'")
        self.owners.file_owner(old, _caller(req))
        self.owners.destination_owner(new, _caller(req))
        self.fs.rename_file(old, new, req.get("oldFileID"), req.get("newFileID"))

    def do_ChangeOwner(self, req: dict, conn) -> None:
        path = req["fileName"]
        _check_path(path)
        self.owners.root_owner(path, _caller(req, "rootOwner"))
        self.fs.change_owner(path, req["newOwner"])

    def do_GetAllocatedSize(self, req: dict, conn) -> dict:
        size = self.fs.allocated_size(req["fileName"])   # Curve checks neither the path nor the caller
        return {"allocatedSize": size, "allocSizeMap": [{"key": 1, "value": size}] if size else []}

    def do_GetFileSize(self, req: dict, conn) -> dict:
        return {"fileSize": self.fs.file_size(req["fileName"])}

    def do_OpenFile(self, req: dict, conn) -> dict:
        path = req["fileName"]
        _check_path(path)
        self.owners.file_owner(path, _caller(req))
        entry = self.fs.open_file(path)
        session = {"sessionID": "", "leaseTime": LEASE_US, "createTime": now_us(), "sessionStatus": 0}
        return {"protoSession": session, "fileInfo": self.fs.file_info(entry)}

    def do_CloseFile(self, req: dict, conn) -> None:
        path = req["fileName"]
        _check_path(path)
        self.owners.file_owner(path, _caller(req))
        self.fs.close_file(path, _endpoint(req, conn))

    # --- snapshots and clones (mds_snapshots.py) ----------------------------------------------------
    def do_CreateSnapShot(self, req: dict, conn) -> dict:
        _check_path(req["fileName"])
        return self.snapshots.create(req["fileName"], _caller(req))

    def do_ListSnapShot(self, req: dict, conn) -> dict:
        _check_path(req["fileName"])
        return self.snapshots.list(req["fileName"], req.get("seq", []), _caller(req))

    def do_DeleteSnapShot(self, req: dict, conn) -> None:
        _check_path(req["fileName"])
        self.snapshots.delete(req["fileName"], req.get("seq"), _caller(req))

    def do_CheckSnapShotStatus(self, req: dict, conn) -> dict:
        _check_path(req["fileName"])
        return self.snapshots.status(req["fileName"], req["seq"], _caller(req))

    def do_ProtectSnapShot(self, req: dict, conn) -> None:
        self.snapshots.protect(req.get("snapFileName", ""), True, _caller(req))

    def do_UnprotectSnapShot(self, req: dict, conn) -> None:
        self.snapshots.protect(req.get("snapFileName", ""), False, _caller(req))

    def do_Clone(self, req: dict, conn) -> dict:
        _check_path(req["fileName"])
        return self.snapshots.clone(req["fileName"], req["snapFileName"], req.get("poolset"),
                                    req.get("readonly", False), _caller(req))

    def do_Flatten(self, req: dict, conn) -> None:
        _check_path(req["fileName"])
        self.snapshots.flatten(req["fileName"], _caller(req))

    def do_QueryFlattenStatus(self, req: dict, conn) -> dict:
        _check_path(req["fileName"])
        return self.snapshots.flatten_status(req["fileName"], _caller(req))

    def do_Children(self, req: dict, conn) -> dict:
        if req.get("fileName"):
            _check_path(req["fileName"])
        return self.snapshots.children(req.get("fileName"), req.get("snapFileName"), _caller(req))

    def do_RefreshSession(self, req: dict, conn) -> dict:
        path = req["fileName"]
        _check_path(path)
        self.owners.file_owner(path, _caller(req))
        return {"fileInfo": self.fs.file_info(self.fs.refresh_session(path, _endpoint(req, conn)))}


def _endpoint(req: dict, conn) -> tuple:
    """The client of a file record: the request's clientIP/clientPort, else the connection's peer."""
    ip, port = req.get("clientIP"), req.get("clientPort")
    if ip is None or port is None:
        try:
            peer = conn.sock.getpeername()
        except (OSError, AttributeError):
            peer = None
        if isinstance(peer, tuple) and conn.sock.family in (socket.AF_INET, socket.AF_INET6):
            ip = peer[0] if ip is None else ip
            port = peer[1] if port is None else port
        else:   # a unix socket peer has no address: the connection is the client
            ip = conn.peer if ip is None else ip
    return ip, port if port is not None else 0

