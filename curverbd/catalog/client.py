"""Typed calls of the catalog service (see protocol.py) over the nebd connection."""
from __future__ import annotations

import base64
import errno
from typing import Any

from ..errors import Error
from ..nebd.connection import Connection
from . import protocol


class CatalogClient:
    """The catalog as seen by one owner (the RBD user)."""

    def __init__(self, connection: Connection, owner: str) -> None:
        self.connection = connection
        self.owner = owner

    def call(self, method: str, **args: Any) -> dict[str, Any]:
        """Call ``method`` with ``args`` (owner added); the reply, or the Error it carries."""
        args["owner"] = self.owner
        payload, _ = self.connection.call(protocol.SERVICE, method, protocol.encode(args))
        try:
            reply = protocol.decode(payload)
        except ValueError as exc:
            raise Error(errno.EIO, f"catalog {method}: undecodable reply: {exc}") from exc
        code = reply.get("errno", errno.EIO)
        if code:
            raise Error(code, reply.get("message") or f"catalog {method} failed")
        return reply

    # pools
    def create_pool(self, pool: str) -> None:
        self.call("CreatePool", pool=pool)

    def remove_pool(self, pool: str) -> None:
        self.call("RemovePool", pool=pool)

    def list_pools(self) -> list[str]:
        return list(self.call("ListPools")["pools"])

    def stat_pool(self, pool: str) -> dict[str, Any]:
        reply = self.call("StatPool", pool=pool)
        reply.pop("errno", None)
        return reply

    # images
    def create_image(self, pool: str, image: str, size: int, features: int | None = None,
                     order: int | None = None) -> dict[str, Any]:
        args: dict[str, Any] = {"pool": pool, "image": image, "size": size}
        if features is not None:
            args["features"] = features
        if order is not None:
            args["order"] = order
        return self.call("CreateImage", **args)["image"]

    def remove_image(self, pool: str, image: str) -> None:
        self.call("RemoveImage", pool=pool, image=image)

    def list_images(self, pool: str) -> list[str]:
        return list(self.call("ListImages", pool=pool)["images"])

    def stat_image(self, pool: str, image: str) -> dict[str, Any]:
        return self.call("StatImage", pool=pool, image=image)["image"]

    def resize_image(self, pool: str, image: str, size: int) -> dict[str, Any]:
        return self.call("ResizeImage", pool=pool, image=image, size=size)["image"]

    def rename_image(self, pool: str, image: str, new_name: str) -> None:
        self.call("RenameImage", pool=pool, image=image, new_name=new_name)

    # image metadata
    def set_meta(self, pool: str, image: str, key: str, value: str) -> None:
        self.call("SetMeta", pool=pool, image=image, key=key, value=value)

    def get_meta(self, pool: str, image: str, key: str) -> str:
        return self.call("GetMeta", pool=pool, image=image, key=key)["value"]

    def remove_meta(self, pool: str, image: str, key: str) -> None:
        self.call("RemoveMeta", pool=pool, image=image, key=key)

    def list_meta(self, pool: str, image: str) -> dict[str, str]:
        return dict(self.call("ListMeta", pool=pool, image=image)["meta"])

    # snapshots
    def create_snap(self, pool: str, image: str, snap: str) -> dict[str, Any]:
        return self.call("CreateSnap", pool=pool, image=image, snap=snap)["snap"]

    def remove_snap(self, pool: str, image: str, snap: str) -> None:
        self.call("RemoveSnap", pool=pool, image=image, snap=snap)

    def list_snaps(self, pool: str, image: str) -> list[dict[str, Any]]:
        return list(self.call("ListSnaps", pool=pool, image=image)["snaps"])

    def get_snap(self, pool: str, image: str, snap: str) -> dict[str, Any]:
        return self.call("GetSnap", pool=pool, image=image, snap=snap)["snap"]

    def rollback_snap(self, pool: str, image: str, snap: str) -> dict[str, Any]:
        return self.call("RollbackSnap", pool=pool, image=image, snap=snap)["image"]

    def rename_snap(self, pool: str, image: str, snap: str, new_name: str) -> None:
        self.call("RenameSnap", pool=pool, image=image, snap=snap, new_name=new_name)

    def protect_snap(self, pool: str, image: str, snap: str) -> None:
        self.call("ProtectSnap", pool=pool, image=image, snap=snap)

    def unprotect_snap(self, pool: str, image: str, snap: str) -> None:
        self.call("UnprotectSnap", pool=pool, image=image, snap=snap)

    # clones and data
    def clone(self, pool: str, image: str, snap: str, child_pool: str, child_image: str,
              features: int | None = None, order: int | None = None) -> dict[str, Any]:
        args: dict[str, Any] = {"pool": pool, "image": image, "snap": snap, "child_pool": child_pool,
                                "child_image": child_image}
        if features is not None:
            args["features"] = features
        if order is not None:
            args["order"] = order
        return self.call("Clone", **args)["image"]

    def flatten(self, pool: str, image: str, offset: int, length: int) -> dict[str, Any]:
        """One chunk: {done, total, copied}."""
        return self.call("Flatten", pool=pool, image=image, offset=offset, length=length)

    def list_children(self, pool: str, image: str, snap: str | None = None) -> list[tuple[str, str]]:
        args = {"snap": snap} if snap is not None else {}
        return [tuple(c) for c in self.call("ListChildren", pool=pool, image=image, **args)["children"]]

    def parent_info(self, pool: str, image: str) -> dict[str, str]:
        return self.call("ParentInfo", pool=pool, image=image)["parent"]

    def copy_image(self, pool: str, image: str, dest_pool: str, dest_image: str,
                   snap: str | None = None) -> dict[str, Any]:
        args = {"snap": snap} if snap is not None else {}
        return self.call("CopyImage", pool=pool, image=image, dest_pool=dest_pool, dest_image=dest_image,
                         **args)["image"]

    def diff_extents(self, pool: str, image: str, offset: int, length: int, from_snap: str | None = None,
                     snap: str | None = None, include_parent: bool = True,
                     whole_object: bool = False) -> list[tuple[int, int, bool]]:
        args: dict[str, Any] = {"include_parent": include_parent, "whole_object": whole_object}
        if from_snap is not None:
            args["from_snap"] = from_snap
        if snap is not None:
            args["snap"] = snap
        reply = self.call("DiffExtents", pool=pool, image=image, offset=offset, length=length, **args)
        return [(o, n, bool(x)) for o, n, x in reply["extents"]]

    def allocated(self, pool: str, image: str, snap: str | None = None) -> int:
        args = {"snap": snap} if snap is not None else {}
        return int(self.call("Allocated", pool=pool, image=image, **args)["bytes"])

    def update_features(self, pool: str, image: str, features: int, enabled: bool) -> dict[str, Any]:
        return self.call("UpdateFeatures", pool=pool, image=image, features=features, enabled=enabled)["image"]

    # trash
    def trash_move(self, pool: str, image: str, delay: int = 0) -> str:
        return self.call("TrashMove", pool=pool, image=image, delay=delay)["id"]

    def trash_list(self, pool: str) -> list[dict[str, Any]]:
        return list(self.call("TrashList", pool=pool)["images"])

    def trash_remove(self, pool: str, image_id: str, force: bool = False) -> None:
        self.call("TrashRemove", pool=pool, image_id=image_id, force=force)

    def trash_restore(self, pool: str, image_id: str, name: str | None = None) -> None:
        args = {"name": name} if name else {}
        self.call("TrashRestore", pool=pool, image_id=image_id, **args)

    # small rados objects
    def write_object(self, pool: str, namespace: str, key: str, data: bytes, offset: int = 0,
                     truncate: bool = False, append: bool = False) -> None:
        self.call("WriteObject", pool=pool, namespace=namespace, key=key,
                  data=base64.b64encode(data).decode(), offset=offset, truncate=truncate, append=append)

    def read_object(self, pool: str, namespace: str, key: str, offset: int = 0,
                    length: int | None = None) -> bytes:
        args = {"length": length} if length is not None else {}
        reply = self.call("ReadObject", pool=pool, namespace=namespace, key=key, offset=offset, **args)
        return base64.b64decode(reply["data"])

    def stat_object(self, pool: str, namespace: str, key: str) -> dict[str, Any]:
        """{size, mtime}."""
        reply = self.call("StatObject", pool=pool, namespace=namespace, key=key)
        return {"size": reply["size"], "mtime": reply["mtime"]}

    def remove_object(self, pool: str, namespace: str, key: str) -> None:
        self.call("RemoveObject", pool=pool, namespace=namespace, key=key)

    def list_objects(self, pool: str, namespace: str | None = None) -> list[tuple[str, str]]:
        """(namespace, key) of the pool's objects (of one namespace, or all if None)."""
        args = {"namespace": namespace} if namespace is not None else {}
        return [(o["namespace"], o["key"]) for o in self.call("ListObjects", pool=pool, **args)["objects"]]

    # cluster
    def cluster_stat(self) -> dict[str, Any]:
        reply = self.call("ClusterStat")
        reply.pop("errno", None)
        return reply
