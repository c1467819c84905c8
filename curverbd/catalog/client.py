"""Typed calls of the embedded daemon's snapshot data service (see protocol.py) over the nebd connection."""
from __future__ import annotations

import errno
import os
from typing import Any

from ..errors import Error
from ..nebd.connection import Connection
from . import protocol


CHANGES = frozenset({"RollbackSnap"})


class CatalogClient:
    """The snapshot service as seen by one owner (the RBD user)."""

    def __init__(self, connection: Connection, owner: str) -> None:
        self.connection = connection
        self.owner = owner

    def call(self, method: str, **args: Any) -> dict[str, Any]:
        """Call ``method`` with ``args`` (owner added); the reply, or the Error it carries. A change
        carries a request id, so the daemon carries it out once however often it is re-sent."""
        args["owner"] = self.owner
        if method in CHANGES:
            args["request_id"] = os.urandom(16).hex()
        payload = self.connection.call(protocol.SERVICE, method, protocol.encode(args))
        try:
            reply = protocol.decode(payload)
        except ValueError as exc:
            raise Error(errno.EIO, f"catalog {method}: undecodable reply: {exc}") from exc
        code = reply.get("errno", errno.EIO)
        if code:
            raise Error(code, reply.get("message") or f"catalog {method} failed")
        return reply

    # snapshot data (``snap``/``from_snap``: Curve's key of a snapshot)
    def rollback_snap(self, pool: str, image: str, snap: str) -> int:
        """The image shows the snapshot again; Curve's length of the snapshot."""
        return self.call("RollbackSnap", pool=pool, image=image, snap=snap)["size"]

    def diff_extents(self, pool: str, image: str, offset: int, length: int, size: int, order: int,
                     from_snap: str | None = None, snap: str | None = None, include_parent: bool = True,
                     whole_object: bool = False) -> list[tuple[int, int, bool]]:
        args: dict[str, Any] = {"include_parent": include_parent, "whole_object": whole_object,
                                "size": size, "order": order}
        if from_snap is not None:
            args["from_snap"] = from_snap
        if snap is not None:
            args["snap"] = snap
        reply = self.call("DiffExtents", pool=pool, image=image, offset=offset, length=length, **args)
        return [(o, n, bool(x)) for o, n, x in reply["extents"]]

    def allocated(self, pool: str, image: str, snap: str | None = None) -> int:
        args = {"snap": snap} if snap is not None else {}
        return int(self.call("Allocated", pool=pool, image=image, **args)["bytes"])

    # cluster
    def cluster_stat(self) -> dict[str, Any]:
        reply = self.call("ClusterStat")
        reply.pop("errno", None)
        return reply
