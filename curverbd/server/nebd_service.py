"""nebd's NebdFileService and NebdHeartbeatService, byte-compatible with CurveBS nebd-server.

Unlike nebd-server's default we always answer a failed request with kNoOK and
a retMsg naming the file and the cause (returnRpcWhenIoError=true), so no
guest hangs on an I/O error. Flush (fsync) runs on a small thread pool and
answers when done, so replies may overtake each other as baidu_std allows.
"""
from __future__ import annotations

import errno
import logging
from concurrent.futures import Executor

from ..errors import Error
from ..nebd import messages as M
from ..nebd.protobuf import DecodeError, Message
from .config import CHUNK_SIZE
from .openfiles import OpenFiles
from .store import Store

log = logging.getLogger("curverbd.server.nebd")


def _code_fields(msg: Message) -> tuple[str, str]:
    return msg.fields[0].name, msg.fields[1].name


class _Service:
    """Decode the request, run the handler, encode the reply; Error -> kNoOK with its message."""
    name = ""

    def __init__(self) -> None:
        self.table = {}
        for method, (req, resp) in self.METHODS.items():
            code, text = _code_fields(resp)
            ok = resp.encode({code: M.OK})
            self.table[method] = (req, resp, code, text, ok, getattr(self, "do_" + method))

    def handle(self, conn, cid: int, method: str, payload, attachment) -> None:
        entry = self.table.get(method)
        if entry is None:
            conn.reply_error(cid, M.ENOMETHOD, f"{self.name} has no method {method!r}")
            return
        req_msg, resp, code, text, ok, fn = entry
        try:
            req = req_msg.decode(payload)
        except DecodeError as exc:
            conn.reply_error(cid, M.EREQUEST, f"{method}: bad {req_msg.name}: {exc}")
            return
        try:
            result = fn(req, attachment, conn, cid)
        except OSError as exc:  # Error / CurveError carry a message naming the file
            msg = exc.strerror if isinstance(exc, Error) else f"{method}: {exc}"
            log.info("%s failed: %s", method, msg)
            conn.reply(cid, resp.encode({code: M.NO_OK, text: msg}))
            return
        if result is None:      # the handler answers later itself
            return
        if result is True:      # plain success
            conn.reply(cid, ok)
        else:
            fields, data = result
            conn.reply(cid, resp.encode(fields) if fields else ok, data)

    def fail_later(self, method: str, conn, cid: int, msg: str) -> None:
        _, resp, code, text, _, _ = self.table[method]
        conn.reply(cid, resp.encode({code: M.NO_OK, text: msg}))


class NebdFileService(_Service):
    name = M.FILE_SERVICE
    METHODS = M.FILE_METHODS

    def __init__(self, files: OpenFiles, store: Store, flusher: Executor) -> None:
        self.files, self.store, self.flusher = files, store, flusher
        super().__init__()

    def do_OpenFile(self, req, att, conn, cid):
        fd = self.files.open(req["fileName"], req.get("flags"), req.get("opener"))
        return {"retCode": M.OK, "fd": fd}, None

    def do_CloseFile(self, req, att, conn, cid):
        self.files.close(req["fd"], req.get("opener"))
        return True

    def do_Read(self, req, att, conn, cid):
        _, vol = self.files.get(req["fd"])
        return None, vol.read(req["offset"], req["size"])

    def do_Write(self, req, att, conn, cid):
        f, vol = self.files.get(req["fd"])
        if len(att) != req["size"]:
            raise Error(errno.EINVAL, f"{f.name}: write of {req['size']} bytes carries a {len(att)} byte attachment")
        vol.write(req["offset"], att)
        return True

    def do_Discard(self, req, att, conn, cid):
        _, vol = self.files.get(req["fd"])
        vol.discard(req["offset"], req["size"])
        return True

    def do_ResizeFile(self, req, att, conn, cid):
        f, _ = self.files.get(req["fd"])
        self.store.extend(f.path, f.owner, req["newSize"])
        return True

    def do_Flush(self, req, att, conn, cid):
        f, vol = self.files.get(req["fd"])
        conn.async_started()
        try:
            self.flusher.submit(self._flush, f.name, vol, conn, cid)
        except RuntimeError:  # the pool is shut down: the daemon is stopping
            conn.async_finished()
            raise Error(errno.ESHUTDOWN, f"{f.name}: server is stopping") from None
        return None

    def _flush(self, name: str, vol, conn, cid: int) -> None:
        try:
            vol.flush()
        except OSError as exc:
            log.error("flush of %s failed: %s", name, exc)
            self.fail_later("Flush", conn, cid, f"{name}: flush failed: {exc}")
        else:
            conn.reply(cid, self.table["Flush"][4])
        finally:
            conn.async_finished()

    def do_GetInfo(self, req, att, conn, cid):
        _, vol = self.files.get(req["fd"])
        size = vol.length
        info = {"size": size, "objSize": CHUNK_SIZE, "objNums": -(-size // CHUNK_SIZE),
                "blocksize": vol.blocksize}
        return {"retCode": M.OK, "info": info}, None

    def do_InvalidateCache(self, req, att, conn, cid):
        self.files.get(req["fd"])
        return True


class NebdHeartbeatService:
    """KeepAlive refreshes each named fd; any unknown fd makes the reply kNoOK (HeartbeatResponse has no retMsg)."""
    name = M.HEARTBEAT_SERVICE

    def __init__(self, files: OpenFiles) -> None:
        self.files = files

    def handle(self, conn, cid, method, payload, attachment) -> None:
        if method != "KeepAlive":
            conn.reply_error(cid, M.ENOMETHOD, f"{self.name} has no method {method!r}")
            return
        try:
            req = M.HeartbeatRequest.decode(payload)
        except DecodeError as exc:
            conn.reply_error(cid, M.EREQUEST, f"KeepAlive: bad HeartbeatRequest: {exc}")
            return
        known = [self.files.keepalive(item["fd"]) for item in req.get("info", ())]
        if not all(known):
            log.info("heartbeat from pid %s names unknown fds", req["pid"])
        conn.reply(cid, M.HeartbeatResponse.encode({"retCode": M.OK if all(known) else M.NO_OK}))
