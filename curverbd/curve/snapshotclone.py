"""A client of mainline Curve's snapshotcloneserver: its HTTP API (shared/reference/curve-control-plane.md
section 7), where mainline Curve keeps snapshots (dumped to S3) and clones.

Every request is ``GET http://<addr>/SnapshotCloneService?Action=...&Version=...&User=...``; the reply
is JSON with ``Code`` as a string ("0" ok). Snapshots and clones are asynchronous tasks named by UUID:
``wait_snapshot`` / ``wait_task`` follow one to its end. A list of addresses is tried in turn (only the
active server listens; a standby refuses).
"""
from __future__ import annotations

import errno
import json
import time
from typing import Any, Callable, Optional

from ..errors import Error
from .http11 import Connection, HTTPException

VERSION = "0.0.6"
TIMEOUT = 8.0                 # seconds for one request
BUDGET = 8.0                  # seconds to keep trying while no server answers (libcurve's MDS budget)
# reply Code -> the errno Ceph gives in the same situation
CODE_ERRNO = {-1: errno.EIO, -2: errno.EAGAIN, -3: errno.EAGAIN, -4: errno.ESHUTDOWN, -5: errno.EINVAL,
              -6: errno.EEXIST, -7: errno.EPERM, -8: errno.ENOENT, -9: errno.EINVAL, -10: errno.EINVAL,
              -11: errno.EINVAL, -12: errno.EBUSY, -13: errno.EIO, -14: errno.EINVAL, -15: errno.EINVAL,
              -16: errno.EBUSY, -17: errno.EBUSY, -18: errno.EDQUOT, -19: errno.EEXIST, -20: errno.EAGAIN,
              -21: errno.EOPNOTSUPP, -22: errno.ENOTEMPTY, -23: errno.EBUSY, -24: errno.EINVAL}
SNAPSHOT_DONE, SNAPSHOT_ERROR = 0, 5
TASK_DONE, TASK_CLONING, TASK_ERROR, TASK_META_INSTALLED = 0, 1, 5, 7
POLL_S = 0.05
Progress = Optional[Callable[[int], None]]     # percent done


class SnapshotCloneError(Error):
    """A refusal by snapshotcloneserver: ``code`` is its Code, ``errno`` Ceph's for the situation."""

    def __init__(self, code: int, action: str, message: str) -> None:
        self.code = code
        super().__init__(CODE_ERRNO.get(code, errno.EIO), f"snapshotcloneserver {action}: {message} (code {code})")


class SnapshotCloneClient:
    """Snapshots and clones of one user through snapshotcloneserver's HTTP API.

    ``addrs`` may be a callable giving the address list: it is asked again when no server answers
    (the embedded daemon listens on a new port after a restart). Like libcurve with the MDS, a request
    no server took (connection refused: a standby, or a restart) is tried again for up to ``budget``
    seconds; so is a query whose answer was lost. A change whose answer was lost raises EIO with
    ``lost=True``: the caller looks at what the server holds (snapshot_flavours.py)."""

    def __init__(self, addrs: list[str] | str | Callable[[], str], user: str, timeout: float = TIMEOUT,
                 budget: float = BUDGET) -> None:
        self._addrs = addrs if callable(addrs) else (lambda: addrs)
        self.addrs = _split(self._addrs())
        if not self.addrs:
            raise Error(errno.EINVAL, "snapshotcloneserver: no address")
        self.user = user
        self.timeout = timeout
        self.budget = budget

    def call(self, action: str, **params: Any) -> dict:
        """One action: its reply; SnapshotCloneError for a non-zero Code, ETIMEDOUT if no server answers."""
        from urllib.parse import urlencode   # here: ~4 ms of every start for an image that never snapshots
        query = {"Action": action, "Version": VERSION, "User": self.user,
                 **{k: _param(v) for k, v in params.items() if v is not None}}
        path = "/SnapshotCloneService?" + urlencode(query)
        end = time.monotonic() + self.budget
        pause = 0.05
        while True:
            failures = []
            for addr in self.addrs:
                sent, outcome = self._request(addr, path)
                if isinstance(outcome, bytes):
                    return self._reply(action, addr, outcome)
                failures.append(f"{addr}: {outcome}")
                if sent and not action.startswith("Get"):
                    error = Error(errno.EIO, f"snapshotcloneserver {action}: the answer was lost ({outcome})")
                    error.lost = True
                    raise error
            if time.monotonic() + pause > end:
                raise Error(errno.ETIMEDOUT, f"snapshotcloneserver {action}: no server answered in "
                                             f"{self.budget:.0f} s ({'; '.join(failures)})")
            time.sleep(pause)
            pause = min(pause * 2, 1.0)
            self.addrs = _split(self._addrs()) or self.addrs

    def _request(self, addr: str, path: str) -> tuple[bool, bytes | OSError]:
        """(whether the request may have reached the server, the body or the failure)."""
        host, _, port = addr.rpartition(":")
        conn = Connection(host.strip("[]"), int(port), timeout=self.timeout)
        sent = False
        try:
            conn.connect()
            sent = True
            conn.request("GET", path)
            return True, conn.getresponse().read()
        except (OSError, HTTPException) as exc:
            return sent, exc
        finally:
            conn.close()

    @staticmethod
    def _reply(action: str, addr: str, body: bytes) -> dict:
        try:
            reply = json.loads(body)
            code = int(reply.get("Code", -1))
        except (ValueError, TypeError) as exc:
            raise Error(errno.EIO, f"snapshotcloneserver {action} at {addr}: undecodable reply: {exc}") from exc
        if code:
            raise SnapshotCloneError(code, action, reply.get("Message") or "refused")
        return reply

    # --- snapshots ------------------------------------------------------------------------------
    def create_snapshot(self, path: str, name: str) -> str:
        """CreateSnapshot of volume ``path``: the snapshot's UUID (the task runs on)."""
        return self.call("CreateSnapshot", File=path, Name=name)["UUID"]

    def snapshots(self, path: str) -> list[dict]:
        """GetFileSnapshotInfo: every snapshot of ``path`` ({UUID, Name, SeqNum, Time, FileLength, Status,
        Progress, ...}), all pages."""
        out: list[dict] = []
        while True:
            reply = self.call("GetFileSnapshotInfo", File=path, Limit=100, Offset=len(out))
            page = reply.get("Snapshots") or []
            out += page
            if not page or len(out) >= int(reply.get("TotalCount", 0)):
                return out

    def snapshot(self, uuid: str) -> dict:
        """GetFileSnapshotInfo of one snapshot by UUID alone (its File is in the answer); ENOENT if gone."""
        found = self.call("GetFileSnapshotInfo", UUID=uuid, Limit=1).get("Snapshots") or []
        if not found:
            raise Error(errno.ENOENT, f"snapshotcloneserver: no snapshot {uuid}")
        return found[0]

    def wait_snapshot(self, path: str, uuid: str, progress: Progress = None, deadline_s: float = 3600.0) -> dict:
        """Wait until snapshot ``uuid`` of ``path`` is done (``progress(percent)`` as it moves): its info;
        EIO with the server's word if it failed."""
        return _follow(f"snapshot {uuid} of {path}", lambda: self.snapshot(uuid), "Status", (SNAPSHOT_DONE,),
                       SNAPSHOT_ERROR, progress, deadline_s)

    def delete_snapshot(self, path: str, uuid: str) -> None:
        self.call("DeleteSnapshot", File=path, UUID=uuid)

    # --- clones and recover -----------------------------------------------------------------------
    def clone(self, source: str, destination: str, lazy: bool = True) -> str:
        """Clone (a snapshot UUID or a volume path) as ``destination``: the task's UUID."""
        return self.call("Clone", Source=source, Destination=destination, Lazy=lazy)["UUID"]

    def recover(self, source: str, destination: str, lazy: bool = False) -> str:
        """Recover ``destination`` from snapshot ``source`` (RBD's rollback): the task's UUID."""
        return self.call("Recover", Source=source, Destination=destination, Lazy=lazy)["UUID"]

    def flatten(self, task: str) -> None:
        self.call("Flatten", UUID=task)

    def tasks(self, destination: str | None = None, uuid: str | None = None) -> list[dict]:
        """GetCloneTasks ({UUID, File, Src, TaskType, TaskStatus, IsLazy, Progress, ...})."""
        return self.call("GetCloneTasks", File=destination, UUID=uuid, Limit=100).get("TaskInfos") or []

    def wait_task(self, uuid: str, until_status: int = TASK_DONE, progress: Progress = None,
                  deadline_s: float = 3600.0) -> dict:
        """Wait until clone/recover task ``uuid`` reaches ``until_status`` (or done), calling
        ``progress(percent)`` as it moves: its info; EIO with the server's word if it failed."""
        def lookup() -> dict:
            found = self.tasks(uuid=uuid)
            if not found:
                raise Error(errno.ENOENT, f"snapshotcloneserver: task {uuid} is gone")
            return found[0]
        return _follow(f"task {uuid}", lookup, "TaskStatus", (until_status, TASK_DONE), TASK_ERROR, progress,
                       deadline_s)

    def references(self, source: str) -> tuple[int, list[dict]]:
        """GetCloneRefStatus of a snapshot UUID or volume: (RefStatus 0 none / 1 has / 2 check, clones)."""
        reply = self.call("GetCloneRefStatus", Source=source)
        return int(reply.get("RefStatus", 0)), reply.get("CloneFileInfo") or []


def _follow(what: str, lookup: Callable[[], dict], field: str, finished: tuple[int, ...], failed: int,
            progress: Progress, deadline_s: float) -> dict:
    """Poll ``lookup()`` (a snapshot's or a task's info) until its ``field`` is one of ``finished``: the
    info; EIO with the server's word at ``failed``, ETIMEDOUT after ``deadline_s``."""
    end = time.monotonic() + deadline_s
    while True:
        info = lookup()
        status = int(info.get(field, 1))
        if progress is not None:
            progress(int(info.get("Progress", 0)))
        if status in finished:
            return info
        if status == failed:
            where = f" on {info['File']}" if info.get("File") and info["File"] not in what else ""
            raise Error(errno.EIO, f"snapshotcloneserver: {what}{where} failed" + _said(info))
        if time.monotonic() > end:
            raise Error(errno.ETIMEDOUT, f"snapshotcloneserver: {what} not done")
        time.sleep(POLL_S)


def _split(addrs: list[str] | str) -> list[str]:
    return [a.strip() for a in (addrs.split(",") if isinstance(addrs, str) else addrs) if a.strip()]


def _said(info: dict) -> str:
    """The server's own words on a failed snapshot or task, if it gave any."""
    message = info.get("Message") or info.get("ErrorMessage")
    return f": {message}" if message else ""


def _param(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)
