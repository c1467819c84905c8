"""librbd's answers about what a curverbd image does not have: a group, group or mirror snapshots, an
object map to rebuild, a separate data pool. One implementation for the C ABI (capi/pacific_calls.py)
and the Python ``rbd`` module (compat/rbd/image_extras.py), so both faces answer alike:

- rbd_get_group: 0 with pool -1 (RBD_GROUP_INVALID_POOL) and name "" for an image in no group;
- rbd_snap_get_{group,trash,mirror}_namespace: ENOENT if no snapshot has the id, EINVAL if it is not
  in that namespace (librbd's namespace visitors); the trash namespace is the core's (a removed
  snapshot that format 2 clones still read: catalog_snapshots.py);
- rbd_rebuild_object_map: EROFS on a read-only handle, EINVAL without the object-map feature, else
  nothing to rebuild (no object map is kept), reported done;
- rbd_get_data_pool_id: the image's own pool.
"""
from __future__ import annotations

import errno
from typing import TYPE_CHECKING, Any, Callable

from .. import features as feature_bits
from ..errors import Error
from .monitor import pool_id

if TYPE_CHECKING:
    from .image import Image

# RBD_SNAP_NAMESPACE_TYPE_*
NAMESPACE_USER, NAMESPACE_GROUP, NAMESPACE_TRASH, NAMESPACE_MIRROR = 0, 1, 2, 3
NAMESPACE_NAMES = {NAMESPACE_GROUP: "group", NAMESPACE_TRASH: "trash", NAMESPACE_MIRROR: "mirror"}
GROUP_INVALID_POOL = -1   # RBD_GROUP_INVALID_POOL


def snap_namespace_type(image: "Image", snap_id: int) -> int:
    """rbd_snap_get_namespace_type: the namespace of the snapshot with id ``snap_id`` (ENOENT if none)."""
    return int(image.find_snap(snap_id=snap_id).get("namespace_type", NAMESPACE_USER))


def snap_namespace(image: "Image", snap_id: int, namespace: int) -> dict[str, Any]:
    """What the snapshot ``snap_id`` knows of its ``namespace`` (NAMESPACE_GROUP / _TRASH / _MIRROR):
    ENOENT if there is no such snapshot, EINVAL if it is in another namespace; a trash one gives
    {original_name}. No group or mirror snapshots exist here."""
    snap = image.find_snap(snap_id=snap_id)
    kind = NAMESPACE_NAMES.get(namespace, str(namespace))
    if int(snap.get("namespace_type", NAMESPACE_USER)) != namespace:
        raise Error(errno.EINVAL, f"{image}: snapshot {snap_id} is not a {kind} snapshot")
    return {"original_name": str(snap.get("original_name", ""))}


def group(image: "Image") -> dict[str, Any]:   # noqa: ARG001 (every image answers alike)
    """rbd_get_group: {pool, name}; curverbd has no groups, so pool -1 and name "" (librbd's answer for an
    image in no group)."""
    return {"pool": GROUP_INVALID_POOL, "name": ""}


def rebuild_object_map(image: "Image", progress: Callable[[int, int], Any] | None = None) -> None:
    """rbd_rebuild_object_map: EROFS on a read-only handle (or one set to a snapshot), EINVAL without the
    object-map feature; no object map is kept, so there is nothing to rebuild: ``progress(1, 1)``."""
    if image.read_only or image.snapshot is not None:
        raise Error(errno.EROFS, f"{image} is read-only")
    if not image.features() & feature_bits.OBJECT_MAP:
        raise Error(errno.EINVAL, f"{image} does not have the object-map feature")
    if progress is not None:
        progress(1, 1)


def data_pool_id(image: "Image") -> int:
    """rbd_get_data_pool_id: the image's own pool (no separate data pools), by the id rados gives it."""
    return pool_id(image.ioctx.pool)
