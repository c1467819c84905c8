"""curverbd.CatalogService (the embedded daemon's snapshot data: rollback, diff, allocation) on the wire: JSON object in, ``{"errno": 0, ...}`` or ``{"errno": N, "message"}`` out."""
from __future__ import annotations

import errno
import inspect
import logging

from ..catalog import protocol
from ..errors import Error
from ..nebd import messages
from .catalog import Catalog
from .catalog_snapshots import SnapshotCatalog

log = logging.getLogger("curverbd.server.catalog")

# Replies to changes, kept for as long as a client may still re-send the request (its retries
# across a restart last seconds; an hour is ample) so that each change happens once.
REPLIES_SCHEMA = ("CREATE TABLE IF NOT EXISTS rbd_replies (request_id TEXT PRIMARY KEY, reply TEXT NOT NULL, "
                  "created INTEGER NOT NULL)")
REPLY_KEEP_S = 3600

_HANDLERS = {
    "ClusterStat": "cluster_stat", "RollbackSnap": "rollback_snap",
    "DiffExtents": "diff_extents", "Allocated": "allocated",
}
assert set(_HANDLERS) == set(protocol.METHODS)


class CatalogService:
    name = protocol.SERVICE

    def __init__(self, catalog: Catalog) -> None:
        self.db = catalog.db
        with self.db.transaction() as conn:
            conn.execute(REPLIES_SCHEMA)
        self.methods = {}
        parts = (catalog, SnapshotCatalog(catalog))
        for method, attr in _HANDLERS.items():
            fn = next(getattr(part, attr) for part in parts if hasattr(part, attr))
            params = inspect.signature(fn).parameters
            required = [p for p, v in params.items() if v.default is inspect.Parameter.empty]
            self.methods[method] = (fn, set(params), required)

    def handle(self, conn, cid: int, method: str, payload, attachment) -> None:
        entry = self.methods.get(method)
        if entry is None:
            conn.reply_error(cid, messages.ENOMETHOD, f"{self.name} has no method {method!r}")
            return
        conn.reply(cid, protocol.encode(self.call(method, entry, payload)))

    def call(self, method: str, entry, payload) -> dict:
        fn, accepted, required = entry
        try:
            args = protocol.decode(payload)
        except (ValueError, UnicodeDecodeError) as exc:
            return {"errno": errno.EINVAL, "message": f"{method}: payload is not a JSON object ({exc})"}
        missing = [p for p in required if p not in args]
        if missing:
            return {"errno": errno.EINVAL, "message": f"{method}: missing argument(s) {', '.join(missing)}"}
        request_id = args.get("request_id")
        try:
            if isinstance(request_id, str) and request_id:
                result = self._once(request_id, fn, {k: v for k, v in args.items() if k in accepted})
            else:
                result = fn(**{k: v for k, v in args.items() if k in accepted})
        except Error as exc:
            return {"errno": exc.errno, "message": exc.strerror}
        except Exception as exc:  # a bug or a disk fault: answer, log, keep serving
            log.exception("%s(%r) failed", method, args)
            return {"errno": errno.EIO, "message": f"{method}: internal error: {exc}"}
        return {"errno": 0, **result}

    def _once(self, request_id: str, fn, kwargs: dict) -> dict:
        """Run a change at most once: its reply is stored in the transaction that makes it, so a
        request re-sent after a restart (its first reply lost) gets the first one's answer instead
        of a second attempt's error (a removed snapshot would be ENOENT the second time)."""
        with self.db.transaction() as conn:
            done = conn.execute("SELECT reply FROM rbd_replies WHERE request_id=?", (request_id,)).fetchone()
            if done is not None:
                return protocol.decode(done[0].encode())
            result = fn(**kwargs)
            conn.execute("INSERT INTO rbd_replies VALUES (?, ?, strftime('%s','now'))",
                         (request_id, protocol.encode(result).decode()))
            conn.execute("DELETE FROM rbd_replies WHERE created < strftime('%s','now') - ?", (REPLY_KEEP_S,))
        return result
