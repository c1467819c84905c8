"""IoCtx: a pool (the Curve directory ``/<pool>``) as seen by one cluster handle."""
from __future__ import annotations

import errno
from typing import TYPE_CHECKING, Any, Callable, Iterator

from ..errors import Error
from .catalog import check_image_name
from .catalog_snapshots import CLONE_FORMATS
from .image import Image

if TYPE_CHECKING:
    from .cluster import Cluster


# librbd's rbd_trash_image_source_t codes for the source names trash entries carry (as Ceph's
# Python binding shows them)
TRASH_SOURCES = {"USER": 0, "MIRRORING": 1, "MIGRATION": 2, "REMOVING": 3, "USER_PARENT": 4}


def trash_source_code(source: str) -> int:
    """RBD_TRASH_IMAGE_SOURCE_* of a trash entry's source name."""
    return TRASH_SOURCES.get(source, 0)


class IoCtx:
    """Image operations within one pool."""

    def __init__(self, cluster: "Cluster", pool: str) -> None:
        self.cluster = cluster
        self.pool = pool
        self._catalog = cluster._require_catalog()
        self._catalog.check_pool(pool)  # Error(ENOENT) if there is no such pool
        self._closed = False

    def __repr__(self) -> str:
        return f"<IoCtx {self.pool}>"

    def __enter__(self) -> "IoCtx":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def create_image(self, name: str, size: int, features: int | None = None, order: int | None = None) -> None:
        """Create image ``name`` of exactly ``size`` bytes (logical; the Curve file is larger)."""
        self._catalog.create_image(self.pool, name, size, features, order)

    def remove_image(self, name: str, progress: Callable[[int, int], Any] | None = None) -> None:
        """Remove image ``name``: ENOTEMPTY if it has snapshots; ``progress(done, total)`` returning
        non-zero before the removal cancels it (ECANCELED, the image kept)."""
        self._catalog.remove_image(self.pool, name, progress)

    def list_images(self) -> list[str]:
        return self._catalog.list_images(self.pool)

    def each_image(self) -> Iterator[tuple[str, Image]]:
        """(name, read-only Image) for every image of the pool in name order, skipping those removed
        meanwhile; each is closed when the loop moves on."""
        for name in sorted(self.list_images()):
            try:
                image = self.open_image(name, read_only=True)
            except Error as exc:
                if exc.errno == errno.ENOENT:
                    continue
                raise
            with image:
                yield name, image

    def rename_image(self, src: str, dst: str) -> None:
        self._catalog.rename_image(self.pool, src, dst)

    def stat_image(self, name: str) -> dict[str, Any]:
        return self._catalog.stat_image(self.pool, name)

    def stat(self) -> dict[str, Any]:
        """The pool's PoolStat: {pool, owner, images, objects, object_bytes, bytes_used, bytes_provisioned}."""
        return self._catalog.stat_pool(self.pool)

    def open_image(self, name: str, read_only: bool = False, snapshot: str | None = None) -> Image:
        """Open image ``name`` (at ``snapshot``: a read-only view of it); Error(ENOENT) if either is
        missing, EPERM if another user's."""
        check_image_name(self.pool, name)
        return Image(self, name, read_only, snapshot)

    def clone(self, parent_name: str, parent_snap: str, child_ioctx: "IoCtx", child_name: str,
              features: int | None = None, order: int | None = None, clone_format: int | None = None) -> None:
        """A new image ``child_name`` in ``child_ioctx``'s pool that shows the snapshot
        ``parent_name@parent_snap`` of this pool until written. Clone format 1 needs the snapshot
        protected (EINVAL if not), 2 does not; None: conf ``rbd_default_clone_format`` ("auto" is 1)."""
        if clone_format is None:
            clone_format = self.default_clone_format()
        self._catalog.clone(self.pool, parent_name, parent_snap, child_ioctx.pool, child_name, features, order,
                            clone_format)

    def default_clone_format(self) -> int:
        """Conf ``rbd_default_clone_format``: 1, 2, or "auto" (1: catalog_snapshots.py says why)."""
        value = (self.cluster.conf.lookup("rbd_default_clone_format") or "auto").strip().lower()
        if value not in CLONE_FORMATS:
            raise Error(errno.EINVAL, f"conf rbd_default_clone_format {value!r}: must be 1, 2 or auto")
        return CLONE_FORMATS[value]

    # --- small rados objects (kept by the catalog, at most 16 MiB each) -------------------------
    def write_object(self, key: str, data: bytes, offset: int = 0, namespace: str = "") -> None:
        """Write ``data`` at ``offset`` of object ``key`` (created if missing; a gap reads as zeros);
        Error(EFBIG) past the object size limit."""
        self._catalog.write_object(self.pool, namespace, key, bytes(data), offset)

    def write_full_object(self, key: str, data: bytes, namespace: str = "") -> None:
        """Make ``data`` the whole content of object ``key``."""
        self._catalog.write_object(self.pool, namespace, key, bytes(data), 0, truncate=True)

    def append_object(self, key: str, data: bytes, namespace: str = "") -> None:
        """Add ``data`` at the end of object ``key`` (created if missing), atomically."""
        self._catalog.write_object(self.pool, namespace, key, bytes(data), append=True)

    def truncate_object(self, key: str, size: int, namespace: str = "") -> None:
        """Cut or zero-extend object ``key`` to ``size`` bytes; Error(ENOENT) if it does not exist."""
        if size < 0:
            raise Error(errno.EINVAL, f"object {self.pool}/{key}: negative size {size}")
        self.stat_object(key, namespace)  # a missing object is not created by truncation
        self._catalog.write_object(self.pool, namespace, key, b"", size, truncate=True)

    def read_object(self, key: str, length: int | None = None, offset: int = 0, namespace: str = "") -> bytes:
        """Up to ``length`` bytes (None: to the end) at ``offset``; Error(ENOENT) if missing."""
        return self._catalog.read_object(self.pool, namespace, key, offset, length)

    def stat_object(self, key: str, namespace: str = "") -> dict[str, Any]:
        """{size, mtime (unix seconds)} of object ``key``; Error(ENOENT) if missing."""
        return self._catalog.stat_object(self.pool, namespace, key)

    def remove_object(self, key: str, namespace: str = "") -> None:
        """Delete object ``key``; Error(ENOENT) if missing."""
        self._catalog.remove_object(self.pool, namespace, key)

    def list_objects(self, namespace: str | None = "") -> list[tuple[str, str]]:
        """Sorted (namespace, key) of the objects in ``namespace`` (None: in every namespace)."""
        return self._catalog.list_objects(self.pool, namespace)

    # --- trash --------------------------------------------------------------------------------
    def trash_move(self, name: str, delay: int = 0) -> str:
        """Move image ``name`` out of the listing into the trash; its id."""
        return self._catalog.trash_move(self.pool, name, delay)

    def trash_list(self) -> list[dict[str, Any]]:
        """[{id, name, source, deletion_time, deferment_end_time}] (times in unix seconds)."""
        return self._catalog.trash_list(self.pool)

    def trash_remove(self, image_id: str, force: bool = False,
                     progress: Callable[[int, int], Any] | None = None) -> None:
        """Delete a trashed image; EPERM before its deferment ends unless ``force``; ``progress`` as
        remove_image's (non-zero cancels: ECANCELED, kept in the trash)."""
        self._catalog.trash_remove(self.pool, image_id, force, progress)

    def trash_restore(self, image_id: str, name: str) -> None:
        """Put a trashed image back under ``name``."""
        self._catalog.trash_restore(self.pool, image_id, name)

    def close(self) -> None:
        self._closed = True
