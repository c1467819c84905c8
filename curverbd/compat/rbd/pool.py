"""rbd.RBD: the image operations of a pool (create, remove, clone, list, rename, trash)."""
from __future__ import annotations

import errno

from curverbd.errors import Error as CoreError

from .constants import LIBRBD_VERSION
from .errors import InvalidArgument, OperationNotSupported, rbd_errors
from .ioctx import core_ioctx
from .pacific import ImageIterator, TrashIterator
from .pool_extras import RBDExtras
from .snapshots import progress_callback, utc_datetime



def _default_striping(stripe_unit, stripe_count) -> bool:
    return not stripe_unit and stripe_count in (None, 0, 1)


def _trash_entry(entry: dict) -> dict:
    """A core trash record in the shape of Ceph's binding (times as naive UTC datetimes)."""
    source = entry.get("source", "USER")
    return {"id": entry["id"], "name": entry["name"],
            "source": source,   # a name ("USER"), as Ceph's binding gives it
            "deletion_time": utc_datetime(entry.get("deletion_time", 0)),
            "deferment_end_time": utc_datetime(entry.get("deferment_end_time", 0))}


@rbd_errors
class RBD(RBDExtras):
    """Pool-level image operations, as ``rbd.RBD()``."""

    def version(self) -> tuple[int, int, int]:
        """The librbd version this module stands in for: (1, 16, 0) (Pacific)."""
        return LIBRBD_VERSION

    def create(self, ioctx, name: str, size: int, order: int | None = None, old_format: bool = False,
               features: int | None = None, stripe_unit: int | None = None, stripe_count: int | None = None,
               data_pool: str | None = None) -> None:
        """Create image ``name`` of ``size`` bytes.

        Format 1 is accepted and created as format 2 (the only format curverbd has).
        Striping is RADOS object placement, which Curve does not use: any values are
        accepted and the image's bytes are the same. Separate data pools do not exist.
        """
        if old_format and (features or not _default_striping(stripe_unit, stripe_count) or data_pool):
            raise InvalidArgument("format 1 images do not support feature masks, non-default striping, "
                                  "nor data pool", errno=errno.EINVAL)
        if data_pool:
            raise OperationNotSupported(f"image {name}: data pools are not supported", errno=errno.EOPNOTSUPP)
        core_ioctx(ioctx).create_image(name, size, features=features, order=order)

    def remove(self, ioctx, name: str, on_progress=None) -> None:
        """Remove image ``name`` (ImageHasSnapshots, ImageBusy if open or a parent of clones);
        ``on_progress(offset, total)`` returning non-zero cancels (OperationCanceled, the image kept)."""
        core_ioctx(ioctx).remove_image(name, progress_callback(on_progress))

    def list(self, ioctx) -> list[str]:
        """Names of the pool's images."""
        return core_ioctx(ioctx).list_images()

    def list2(self, ioctx):
        """Dicts {id, name} of the pool's images (an ImageIterator)."""
        return ImageIterator(ioctx)

    def _list2(self, ioctx) -> list[dict]:
        io = core_ioctx(ioctx)
        images = []
        for name in self.list(ioctx):
            try:
                images.append({"id": str(io.stat_image(name)["id"]), "name": name})
            except CoreError as exc:
                if exc.errno != errno.ENOENT:   # removed meanwhile
                    raise
        return images

    def rename(self, ioctx, src: str, dest: str) -> None:
        """Rename image ``src`` to ``dest`` (ImageExists if taken, ImageBusy if open)."""
        core_ioctx(ioctx).rename_image(src, dest)

    def clone(self, p_ioctx, p_name: str, p_snapname: str, c_ioctx, c_name: str, features: int | None = None,
              order: int | None = None, stripe_unit: int | None = None, stripe_count: int | None = None,
              data_pool: str | None = None, clone_format: int | None = None) -> None:
        """Clone snapshot ``p_name@p_snapname`` as ``c_name`` (reads fall through to the parent): clone
        format 1 needs it protected, 2 does not (None: conf rbd_default_clone_format)."""
        if data_pool:
            raise OperationNotSupported(f"image {c_name}: data pools are not supported", errno=errno.EOPNOTSUPP)
        core_ioctx(p_ioctx).clone(p_name, p_snapname, core_ioctx(c_ioctx), c_name, features=features, order=order,
                                  clone_format=clone_format)

    # --- trash ---------------------------------------------------------------------------------
    def trash_move(self, ioctx, name: str, delay: int = 0) -> None:
        """Move image ``name`` to the trash (kept at least ``delay`` seconds)."""
        core_ioctx(ioctx).trash_move(name, delay)

    def trash_list(self, ioctx):
        """Dicts {id, name, source, deletion_time, deferment_end_time} of the trashed images (a TrashIterator)."""
        return TrashIterator(ioctx)

    def _trash_entries(self, ioctx) -> list[dict]:
        return [_trash_entry(entry) for entry in core_ioctx(ioctx).trash_list()]

    def trash_get(self, ioctx, image_id: str) -> dict:
        """The trash entry with id ``image_id`` (ImageNotFound if none)."""
        for entry in self._trash_entries(ioctx):
            if entry["id"] == image_id:
                return entry
        raise CoreError(errno.ENOENT, f"no image with id {image_id!r} in the trash")

    def trash_remove(self, ioctx, image_id: str, force: bool = False, on_progress=None) -> None:
        """Delete a trashed image for good (PermissionError before its deferment ends, unless ``force``)."""
        core_ioctx(ioctx).trash_remove(image_id, force=force, progress=progress_callback(on_progress))

    def trash_restore(self, ioctx, image_id: str, name: str) -> None:
        """Bring a trashed image back as ``name``."""
        core_ioctx(ioctx).trash_restore(image_id, name)
