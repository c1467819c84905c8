"""rbd.Image: an open image (I/O, size, information and life cycle).

Snapshot, clone and diff methods come from ImageSnapshots (snapshots.py);
metadata, per-image config and the unsupported mirroring calls from
ImageSettings (settings.py). Every method translates core errors to rbd
exceptions (rbd_errors) and checks the image is open and was opened in this
process (an image opened before fork() cannot be used in the child).
"""
from __future__ import annotations

import errno

from curverbd.compat import fork
from curverbd.core import pool_meta

from .errors import ConnectionShutdown, IncompleteWriteError, InvalidArgument, rbd_errors
from .ioctx import core_ioctx
from .image_extras import ImageExtras
from .settings import ImageSettings
from .snapshots import ImageSnapshots

DEFAULT_ORDER = 22


@rbd_errors
class Image(ImageSnapshots, ImageSettings, ImageExtras):
    """``rbd.Image(ioctx, name, snapshot=None, read_only=False)``; a context manager."""

    name: str | None = None  # the image's name (os-brick reads it; Ceph's class keeps it private)

    def __init__(self, ioctx, name: str | None = None, snapshot: str | None = None, read_only: bool = False,
                 image_id: str | None = None, _oncomplete=None) -> None:
        self.closed = True
        io = core_ioctx(ioctx)
        if name is None:
            if image_id is None:
                raise InvalidArgument("either name or image_id must be specified")
            name = pool_meta.image_name_of_id(io, image_id)   # ENOENT: ImageNotFound
        self.ioctx = ioctx
        self.name = name
        kwargs = {"snapshot": snapshot} if snapshot is not None else {}
        self._image = io.open_image(name, read_only=bool(read_only), **kwargs)
        self._generation = fork.generation()
        self.closed = False

    def __repr__(self) -> str:
        return f"<rbd.Image {self.name} {'closed' if self.closed else 'open'}>"

    def __enter__(self) -> "Image":
        return self

    def __exit__(self, *exc) -> bool:
        self.close()
        return False

    def require_not_closed(self) -> None:
        """InvalidArgument once the image is closed."""
        if self.closed:
            raise InvalidArgument("image is closed")

    def _core(self):
        """The core image, if this image is open and was opened in this process."""
        self.require_not_closed()
        if self._generation != fork.generation():
            raise ConnectionShutdown(f"image {self.name} was opened before fork(); open it again in this process",
                                     errno=errno.ESHUTDOWN)
        return self._image

    def close(self) -> None:
        """Flush and close; closing twice is harmless (in a fork child, only forget the parent's image)."""
        if self.closed:
            return
        self.closed = True
        if self._generation == fork.generation():
            self._image.close()

    # --- information ---------------------------------------------------------------------
    def get_name(self) -> str:
        """The image's name."""
        return self.name

    def id(self) -> str:
        """The image's stable id."""
        image = self._core()
        return str(getattr(image, "id", None) or image.stat()["id"])

    def block_name_prefix(self) -> str:
        """``rbd_data.<id>``, as librbd names an image's objects."""
        return f"rbd_data.{self.id()}"

    def size(self) -> int:
        """The exact size in bytes."""
        return self._core().size()

    def stat(self) -> dict:
        """{size, obj_size, num_objs, order, block_name_prefix, parent_pool, parent_name} as rbd_stat."""
        record = self._core().stat()
        order = record.get("order") or DEFAULT_ORDER
        obj_size = 1 << order
        size = record["size"]
        # parent_pool/parent_name are deprecated in rbd_stat and always "none" there, as in librbd
        return {"size": size, "obj_size": obj_size, "num_objs": (size + obj_size - 1) // obj_size,
                "order": order, "block_name_prefix": f"rbd_data.{record['id']}",
                "parent_pool": -1, "parent_name": b""}

    def old_format(self) -> bool:
        """False: every curverbd image is format 2."""
        return False

    def features(self) -> int:
        """The image's RBD_FEATURE_* bits."""
        image = self._core()
        return image.features() if hasattr(image, "features") else int(image.stat().get("features", 1))

    def op_features(self) -> int:
        """The image's RBD_OPERATION_FEATURE_* bits (e.g. CLONE_PARENT while it has clones)."""
        image = self._core()
        return image.op_features() if hasattr(image, "op_features") else 0

    def update_features(self, features: int, enabled: bool) -> None:
        """Enable (``enabled``) or disable the mutable features in ``features``."""
        self._core().update_features(features, bool(enabled))

    def flags(self) -> int:
        """RBD_FLAG_* bits: none (no object map to invalidate)."""
        return 0

    def stripe_unit(self) -> int:
        """Bytes per stripe unit: the object size."""
        image = self._core()
        if hasattr(image, "stripe_unit"):
            return image.stripe_unit()
        return 1 << (image.stat().get("order") or DEFAULT_ORDER)

    def stripe_count(self) -> int:
        """Objects per stripe: 1 (no fancy striping)."""
        image = self._core()
        return image.stripe_count() if hasattr(image, "stripe_count") else 1

    # --- size and I/O --------------------------------------------------------------------
    def resize(self, size: int, allow_shrink: bool = True) -> None:
        """Set the size in bytes (``allow_shrink=False`` refuses to shrink: InvalidArgument)."""
        image = self._core()
        if not allow_shrink and size < image.size():
            raise InvalidArgument(f"error resizing image {self.name}: shrinking is not allowed",
                                  errno=errno.EINVAL)
        image.resize(size)

    def read(self, offset: int, length: int, fadvise_flags: int = 0) -> bytes:
        """Up to ``length`` bytes at ``offset`` (fewer at the end of the image)."""
        return self._core().read(offset, length)

    def write(self, data: bytes, offset: int, fadvise_flags: int = 0) -> int:
        """Write ``data`` at ``offset``; IncompleteWriteError if it runs past the end of the image."""
        if not isinstance(data, bytes):
            raise TypeError("data must be a byte string")
        written = self._core().write(offset, data)
        if written < len(data):
            raise IncompleteWriteError(f"Wrote only {written} out of {len(data)} bytes")
        return written

    def discard(self, offset: int, length: int) -> None:
        """Deallocate [offset, offset+length): it reads as zeros afterwards."""
        self._core().discard(offset, length)

    def write_zeroes(self, offset: int, length: int, zero_flags: int = 0, fadvise_flags: int = 0) -> None:
        """Make [offset, offset+length) read as zeros."""
        self._core().write_zeroes(offset, length)

    def flush(self) -> None:
        """Wait until everything written so far is durable."""
        self._core().flush()

    def invalidate_cache(self) -> None:
        """Nothing is cached on the client side."""
        self._core()
