"""Snapshots, clones, flatten, copy and diff: the embedded daemon's snapshot service, which names volumes
by their Curve names; the logical sizes, features and order come from the RBD state home."""
from __future__ import annotations

import errno
import time

from .. import features as feature_bits
from ..catalog.client import CatalogClient
from ..errors import Error
from .catalog_base import CatalogBase, check_image_name


class CatalogSnapshots(CatalogBase):
    """Snapshot and clone calls, translated to the snapshot service's Curve names and sizes."""

    @property
    def snapshots(self) -> CatalogClient:
        if self._snapshots is None:
            raise Error(errno.EOPNOTSUPP, "snapshots and clones: this cluster has no snapshot service "
                                          "curverbd can use yet (Curve's own snapshot services come next)")
        return self._snapshots

    def _state(self, pool: str, image: str) -> tuple[dict, dict]:
        """(FileInfo, RBD state with defaults filled in) of an image."""
        info = self._file(pool, image)
        return info, {**self._default_state(info), **(info["state"] or {})}

    def _curve(self, pool: str, image: str) -> str:
        """The Curve name of an image's volume (the snapshot service's name for it)."""
        return self._file(pool, image)["fileName"]

    def create_snap(self, pool: str, image: str, snap: str) -> dict:
        info, state = self._state(pool, image)
        return self.snapshots.create_snap(pool, info["fileName"], snap, state["size"])

    def remove_snap(self, pool: str, image: str, snap: str) -> None:
        self.snapshots.remove_snap(pool, self._curve(pool, image), snap)

    def list_snaps(self, pool: str, image: str) -> list[dict]:
        return self.snapshots.list_snaps(pool, self._curve(pool, image))

    def get_snap(self, pool: str, image: str, snap: str) -> dict:
        return self.snapshots.get_snap(pool, self._curve(pool, image), snap)

    def rename_snap(self, pool: str, image: str, snap: str, new_name: str) -> None:
        self.snapshots.rename_snap(pool, self._curve(pool, image), snap, new_name)

    def protect_snap(self, pool: str, image: str, snap: str) -> None:
        self.snapshots.protect_snap(pool, self._curve(pool, image), snap)

    def unprotect_snap(self, pool: str, image: str, snap: str) -> None:
        self.snapshots.unprotect_snap(pool, self._curve(pool, image), snap)

    def rollback_snap(self, pool: str, image: str, snap: str) -> dict:
        """The image shows ``snap`` again, at the snapshot's size; the new ImageRecord."""
        info = self._file(pool, image)
        size = self.snapshots.rollback_snap(pool, info["fileName"], snap)
        return self._record(pool, info, self._update(info, size=size))

    def list_children(self, pool: str, image: str, snap: str | None = None) -> list[tuple[str, str]]:
        children = self.snapshots.list_children(pool, self._curve(pool, image), snap)
        return sorted((p, self._rbd_name(p, name)) for p, name in children)

    def parent_info(self, pool: str, image: str) -> dict:
        parent = self.snapshots.parent_info(pool, self._curve(pool, image))
        return {**parent, "image": self._rbd_name(parent["pool"], parent["image"])}

    def allocated(self, pool: str, image: str, snap: str | None = None) -> int:
        return self.snapshots.allocated(pool, self._curve(pool, image), snap)

    def clone(self, pool: str, image: str, snap: str, child_pool: str, child_image: str,
              features: int | None = None, order: int | None = None) -> dict:
        """A new image ``child_pool/child_image`` showing the protected ``pool/image@snap``."""
        info, parent = self._state(pool, image)
        features = parent["features"] if features is None else features
        order = parent["order"] if order is None else order
        check_image_name(child_pool, child_image)
        if not isinstance(features, int) or not features & feature_bits.LAYERING:
            raise Error(errno.EINVAL, f"clone {child_pool}/{child_image}: features must include layering")
        if not isinstance(order, int) or not 12 <= order <= 25:
            raise Error(errno.EINVAL, f"clone {child_pool}/{child_image}: order {order!r} must be 12..25")
        self._pool_info(child_pool)
        made = self.snapshots.clone(pool, info["fileName"], snap, child_pool, child_image)
        now = time.time()
        state = {"size": made["size"], "features": features, "order": order, "stripe_unit": 0,
                 "stripe_count": 0, "create_timestamp": now, "modify_timestamp": now, "access_timestamp": now}
        self.state.create_image(made["file_id"], state)
        return self.stat_image(child_pool, child_image)

    def flatten(self, pool: str, image: str, offset: int, length: int) -> dict:
        """One chunk: {done, total, copied}."""
        info, state = self._state(pool, image)
        return self.snapshots.flatten(pool, info["fileName"], state["size"], offset, length)

    def copy_image(self, pool: str, image: str, dest_pool: str, dest_image: str,
                   snap: str | None = None) -> dict:
        """A new image with the data (of ``snap`` or the head), size, features, order and metadata."""
        info, state = self._state(pool, image)
        curve = info["fileName"]
        size = self.snapshots.get_snap(pool, curve, snap)["size"] if snap is not None else state["size"]
        made = self.create_image(dest_pool, dest_image, size, state["features"], state["order"])
        self.state.copy_meta(info["id"], made["file_id"])
        self.snapshots.copy_image(pool, curve, dest_pool, dest_image, snap)
        return self.stat_image(dest_pool, dest_image)

    def diff_extents(self, pool: str, image: str, offset: int, length: int, from_snap: str | None = None,
                     snap: str | None = None, include_parent: bool = True,
                     whole_object: bool = False) -> list[tuple[int, int, bool]]:
        info, state = self._state(pool, image)
        return self.snapshots.diff_extents(pool, info["fileName"], offset, length, state["size"], state["order"],
                                           from_snap, snap, include_parent, whole_object)
