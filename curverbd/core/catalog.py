"""The cluster's catalog as RBD sees it (catalog_base.py has the map of RBD calls onto Curve)."""
from __future__ import annotations

from .catalog_base import check_image_name
from .catalog_objects import CatalogObjects
from .catalog_snapshots import CatalogSnapshots
from .catalog_trash import CatalogTrash

__all__ = ["Catalog", "check_image_name"]


class Catalog(CatalogTrash, CatalogObjects, CatalogSnapshots):
    """Pools, images, metadata, trash, objects, snapshots and clones of one owner."""
