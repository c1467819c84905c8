"""Typed calls of the catalog service (see protocol.py) over the nebd connection."""
from __future__ import annotations

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

    # cluster
    def cluster_stat(self) -> dict[str, Any]:
        reply = self.call("ClusterStat")
        reply.pop("errno", None)
        return reply
