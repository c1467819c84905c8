"""The nebd client of the control plane: NebdFileService's open, close, info, resize and
invalidate calls over one pipelined connection (the data calls are the C engine's: core/engine.py).
A nebd reply with ``retCode = kNoOK`` becomes an Error whose errno comes from the reply message
(``reply_errno``, the one mapping), and whose message names the call.
"""
from __future__ import annotations

import errno
import re

from ..errors import CURVE_TO_ERRNO, CurveStatus, Error
from . import messages
from .connection import Connection


_SERVICE = messages.FILE_SERVICE

# (words found in a retMsg, errno), first match wins: "not exist" before "exist".
_MESSAGE_ERRNO = (
    (("not aligned", "notaligned"), errno.EINVAL),
    (("not exist", "notexist", "no such", "not found"), errno.ENOENT),
    (("authfail", "auth", "owner", "permission"), errno.EPERM),
    (("exist",), errno.EEXIST),
    (("no space", "nospace"), errno.ENOSPC),
    (("bad fd", "badfd", "not open"), errno.EBADF),
    (("occupied", "busy"), errno.EBUSY),
    (("invalid", "param", "too large", "out of range", "beyond"), errno.EINVAL),
)


def reply_errno(message: str) -> int:
    """The errno a failed nebd reply stands for, judged from its retMsg; EIO if unclear."""
    for token in re.findall(r"\b[A-Z][A-Z_]{2,}\b", message):  # a Curve status name, e.g. NOT_ALIGNED
        status = CurveStatus.__members__.get(token)
        if status in CURVE_TO_ERRNO:
            return CURVE_TO_ERRNO[status]
    text = message.lower().replace("_", " ").replace("-", " ")
    for words, code in _MESSAGE_ERRNO:
        if any(word in text for word in words):
            return code
    return errno.EIO


def reply_error(method: str, reply: dict, subject: str) -> Error | None:
    """None if ``reply`` is kOK, else the Error it means."""
    if messages.ret_code(reply) == messages.OK:
        return None
    text = messages.ret_msg(reply) or "no reason given"
    return Error(reply_errno(text), f"{subject}: nebd {method} failed: {text}")


class NebdClient:
    """NebdFileService over a Connection to ``socket_path``."""

    def __init__(self, socket_path: str) -> None:
        self.connection = Connection(socket_path)

    @property
    def path(self) -> str:
        return self.connection.path

    def connect(self) -> None:
        self.connection.connect()

    def close(self) -> None:
        self.connection.close()

    # --- synchronous control calls --------------------------------------------
    def _call(self, method: str, request: dict, subject: str) -> dict:
        req_msg, reply_msg = messages.FILE_METHODS[method]
        payload = self.connection.call(_SERVICE, method, req_msg.encode(request))
        reply = reply_msg.decode(payload, check_required=False)
        error = reply_error(method, reply, subject)
        if error is not None:
            raise error
        return reply

    def open_file(self, name: str, exclusive: bool | None = None, opener: str | None = None) -> int:
        """OpenFile ``name`` (a nebd name, see names.format_name); the fd. ``opener`` names this open
        (messages.py), so that a re-send after a daemon restart does not count it twice."""
        request: dict = {"fileName": name, "opener": opener}
        if exclusive is not None:
            request["flags"] = {"exclusive": exclusive}
        reply = self._call("OpenFile", request, name)
        fd = reply.get("fd", -1)
        if fd <= 0:
            raise Error(errno.EIO, f"{name}: nebd OpenFile returned no valid fd ({fd})")
        return fd

    def close_file(self, fd: int, opener: str | None = None) -> None:
        """CloseFile: the open ``opener`` names (or one anonymous open) is done."""
        self._call("CloseFile", {"fd": fd, "opener": opener}, f"nebd fd {fd}")

    def get_info(self, fd: int) -> dict:
        """GetInfo: {size, objSize, objNums, blocksize (4096 when absent)}."""
        info = dict(self._call("GetInfo", {"fd": fd}, f"nebd fd {fd}").get("info") or {})
        info["blocksize"] = info.get("blocksize") or 4096
        return info

    def resize_file(self, fd: int, size: int) -> None:
        self._call("ResizeFile", {"fd": fd, "newSize": size}, f"nebd fd {fd}")

    def invalidate_cache(self, fd: int) -> None:
        self._call("InvalidateCache", {"fd": fd}, f"nebd fd {fd}")
