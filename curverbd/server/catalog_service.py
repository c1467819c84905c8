"""curverbd.CatalogService on the wire: JSON object in, ``{"errno": 0, ...}`` or ``{"errno": N, "message"}`` out."""
from __future__ import annotations

import errno
import inspect
import logging

from ..catalog import protocol
from ..errors import Error
from ..nebd import messages
from .catalog import Catalog

log = logging.getLogger("curverbd.server.catalog")

_HANDLERS = {
    "CreatePool": "create_pool", "RemovePool": "remove_pool", "ListPools": "list_pools",
    "StatPool": "stat_pool", "CreateImage": "create_image", "RemoveImage": "remove_image",
    "ListImages": "list_images", "StatImage": "stat_image", "ResizeImage": "resize_image",
    "RenameImage": "rename_image", "SetMeta": "set_meta", "GetMeta": "get_meta",
    "RemoveMeta": "remove_meta", "ListMeta": "list_meta", "ClusterStat": "cluster_stat",
}
assert set(_HANDLERS) == set(protocol.METHODS)


class CatalogService:
    name = protocol.SERVICE

    def __init__(self, catalog: Catalog) -> None:
        self.methods = {}
        for method, attr in _HANDLERS.items():
            fn = getattr(catalog, attr)
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
        try:
            result = fn(**{k: v for k, v in args.items() if k in accepted})
        except Error as exc:
            return {"errno": exc.errno, "message": exc.strerror}
        except Exception as exc:  # a bug or a disk fault: answer, log, keep serving
            log.exception("%s(%r) failed", method, args)
            return {"errno": errno.EIO, "message": f"{method}: internal error: {exc}"}
        return {"errno": 0, **result}
