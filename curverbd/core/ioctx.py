"""IoCtx: a pool (the Curve directory ``/<pool>``) as seen by one cluster handle."""
from __future__ import annotations

import errno
from typing import TYPE_CHECKING, Any

from ..errors import Error
from .image import Image

if TYPE_CHECKING:
    from .cluster import Cluster


def check_image_name(name: str) -> None:
    """Image names become one Curve path component: non-empty, no '/'."""
    if not name or "/" in name or "\0" in name:
        raise Error(errno.EINVAL, f"image name {name!r}: must be non-empty and contain no '/'")


class IoCtx:
    """Image operations within one pool."""

    def __init__(self, cluster: "Cluster", pool: str) -> None:
        self.cluster = cluster
        self.pool = pool
        self._catalog = cluster._require_catalog()
        self._catalog.stat_pool(pool)  # Error(ENOENT) if there is no such pool
        self._closed = False

    def __repr__(self) -> str:
        return f"<IoCtx {self.pool}>"

    def __enter__(self) -> "IoCtx":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def create_image(self, name: str, size: int, features: int | None = None, order: int | None = None) -> None:
        """Create image ``name`` of exactly ``size`` bytes (logical; the Curve file is larger)."""
        check_image_name(name)
        if size < 0:
            raise Error(errno.EINVAL, f"image {self.pool}/{name}: negative size {size}")
        self._catalog.create_image(self.pool, name, size, features, order)

    def remove_image(self, name: str) -> None:
        self._catalog.remove_image(self.pool, name)

    def list_images(self) -> list[str]:
        return self._catalog.list_images(self.pool)

    def rename_image(self, src: str, dst: str) -> None:
        check_image_name(dst)
        self._catalog.rename_image(self.pool, src, dst)

    def stat_image(self, name: str) -> dict[str, Any]:
        return self._catalog.stat_image(self.pool, name)

    def stat(self) -> dict[str, Any]:
        """The pool's PoolStat: {pool, owner, images, bytes_used, bytes_provisioned}."""
        return self._catalog.stat_pool(self.pool)

    def open_image(self, name: str, read_only: bool = False) -> Image:
        """Open image ``name``; Error(ENOENT) if missing, EPERM if another user's."""
        check_image_name(name)
        return Image(self, name, read_only)

    def close(self) -> None:
        self._closed = True
