"""curverbd.CatalogService on the wire: JSON object in, ``{"errno": 0, ...}`` or ``{"errno": N, "message"}`` out."""
from __future__ import annotations

import errno
import inspect
import logging

from ..catalog import protocol
from ..errors import Error
from ..nebd import messages
from .catalog import Catalog
from .catalog_objects import ObjectCatalog
from .catalog_snapshots import SnapshotCatalog
from .catalog_trash import TrashCatalog

log = logging.getLogger("curverbd.server.catalog")

_HANDLERS = {
    "CreatePool": "create_pool", "RemovePool": "remove_pool", "ListPools": "list_pools",
    "StatPool": "stat_pool", "CreateImage": "create_image", "RemoveImage": "remove_image",
    "ListImages": "list_images", "StatImage": "stat_image", "ResizeImage": "resize_image",
    "RenameImage": "rename_image", "SetMeta": "set_meta", "GetMeta": "get_meta",
    "RemoveMeta": "remove_meta", "ListMeta": "list_meta", "ClusterStat": "cluster_stat",
    "CreateSnap": "create_snap", "RemoveSnap": "remove_snap", "ListSnaps": "list_snaps", "GetSnap": "get_snap",
    "RollbackSnap": "rollback_snap", "RenameSnap": "rename_snap", "ProtectSnap": "protect_snap",
    "UnprotectSnap": "unprotect_snap", "Clone": "clone", "Flatten": "flatten", "ListChildren": "list_children",
    "ParentInfo": "parent_info", "CopyImage": "copy_image", "DiffExtents": "diff_extents",
    "Allocated": "allocated", "UpdateFeatures": "update_features",
    "TrashMove": "trash_move", "TrashList": "trash_list", "TrashRemove": "trash_remove",
    "TrashRestore": "trash_restore",
    "WriteObject": "write_object", "ReadObject": "read_object", "StatObject": "stat_object",
    "RemoveObject": "remove_object", "ListObjects": "list_objects",
}
assert set(_HANDLERS) == set(protocol.METHODS)


class CatalogService:
    name = protocol.SERVICE

    def __init__(self, catalog: Catalog) -> None:
        self.methods = {}
        parts = (catalog, SnapshotCatalog(catalog), TrashCatalog(catalog), ObjectCatalog(catalog))
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
        try:
            result = fn(**{k: v for k, v in args.items() if k in accepted})
        except Error as exc:
            return {"errno": exc.errno, "message": exc.strerror}
        except Exception as exc:  # a bug or a disk fault: answer, log, keep serving
            log.exception("%s(%r) failed", method, args)
            return {"errno": errno.EIO, "message": f"{method}: internal error: {exc}"}
        return {"errno": 0, **result}
