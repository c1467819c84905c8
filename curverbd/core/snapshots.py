"""The snapshot, clone and whole-image operations of an Image (a mixin of image.Image).

Everything here is a catalog call. An image reads a snapshot through a view:
a read-only clone of it that the catalog makes and removes (Curve opens no
snapshot), so the data path (Python or C) is the same as for the image itself.

A snapshot removed while handles read it (librbd allows it): the catalog names
it in the image's record, which every handle watches; a handle set to it gives
its view back (so Curve can delete the snapshot) and its reads fail with
ENOENT, as librbd's, until it is set elsewhere. The C data path reads the
view's nebd fd without asking Python: once the view is closed the daemon
refuses those reads, which librbd.so.1 reports as EIO.

diff_iterate reports bytes, not blocks, as librbd does (a 256-byte write is a
256-byte extent): Curve's diff is per 4 KiB block, so the first and last block
of each changed run are read (here and at ``from_snap``) and their equal
leading / trailing bytes trimmed; blocks inside a run stay whole.
"""
from __future__ import annotations

import errno
import logging
from typing import TYPE_CHECKING, Any, Callable

from ..errors import Error
from ..nebd.names import format_name
from . import engine
from .catalog_snapshots import snapshot_identity

if TYPE_CHECKING:
    from .catalog import Catalog
    from .ioctx import IoCtx

FLATTEN_STEPS = 200         # Flatten calls for a large image (at least one object each; progress per call)
DIFF_CHUNK = 1 << 30        # bytes per DiffExtents call
COPY_CHUNK = 4 << 20        # bytes a copy reads and writes at a time (one default object)

SNAP_REMOVE_UNPROTECT = 1 << 0   # RBD_SNAP_REMOVE_UNPROTECT: remove_snap unprotects first
log = logging.getLogger("curverbd.snapshots")

DiffCallback = Callable[[int, int, bool], Any]
Progress = Callable[[int, int], Any] | None


def _percent(progress: Progress) -> Callable[[int], None] | None:
    """librbd's progress(done, total) fed from Curve's percent."""
    return None if progress is None else (lambda percent: progress(percent, 100))


class ImageSnapshots:
    """Snapshot / clone / copy / diff / features methods; expects Image's attributes."""
    ioctx: "IoCtx"
    name: str
    _catalog: "Catalog"
    _record: dict
    _size: int
    _snap: str | None
    _view: dict | None         # the read-only clone a snapshot is read through (catalog.open_view)
    _snap_gone: bool = False   # the snapshot this handle reads was removed (reads: ENOENT)
    _watch: Any                # the watch on the image's RBD record
    _c: Any                    # the C image (engine.py)
    # and from Image: _check_open(), _check_writable(), flush(), _switch_file(name, size), _watch_record(),
    # _push_state()

    @property
    def _where(self) -> tuple[str, str]:
        return self.ioctx.pool, self.name

    def _nebd_name(self, view: dict | None) -> str:
        """The nebd name of the image's head (None) or of a view of one of its snapshots."""
        curve_name = self._record.get("curve_name", self.name)   # an image renamed with snapshots keeps it
        path = view["path"] if view is not None else f"/{self.ioctx.pool}/{curve_name}"
        return format_name(path, self.ioctx.cluster.user)

    # --- identity and features -----------------------------------------------------------------
    @property
    def id(self) -> str:
        """The image's stable id (kept across renames and the trash)."""
        return self._record["id"]

    def features(self) -> int:
        self._check_open()
        return self._record["features"]

    def op_features(self) -> int:
        """RBD_OPERATION_FEATURE_CLONE_PARENT (1) if it has clones, CLONE_CHILD (2) if it is one."""
        self._check_open()
        return self._catalog.stat_image(*self._where)["op_features"]

    def update_features(self, mask: int, enabled: bool) -> None:
        self._check_writable()
        self._record = self._catalog.update_features(*self._where, mask, bool(enabled))

    def stripe_unit(self) -> int:
        self._check_open()
        return 1 << self._record["order"]

    def stripe_count(self) -> int:
        self._check_open()
        return 1

    def allocated(self) -> int:
        """Bytes actually stored for the image (or the snapshot it is set to), for ``rbd du``."""
        self._check_open()
        return self._catalog.allocated(*self._where, self._snap)

    # --- snapshots -------------------------------------------------------------------------------
    def _check_may_change(self) -> None:
        """librbd: a read-only handle (opened so, or at a snapshot) changes no snapshot (EROFS)."""
        self._check_open()
        if self.read_only:
            raise Error(errno.EROFS, f"{self} is open read-only: it changes no snapshot")

    def create_snap(self, name: str) -> None:
        """Snapshot the image as it is once the writes submitted so far have completed."""
        self._check_writable()
        self.flush()
        self._catalog.create_snap(*self._where, name)

    def remove_snap(self, name: str, flags: int = 0) -> None:
        """Error ENOENT if missing, EBUSY if protected unless ``flags`` has SNAP_REMOVE_UNPROTECT (then
        EBUSY only while it has clones). One that format 2 clones read moves to the trash namespace;
        handles set to it (this one too) fail their reads with ENOENT from now on."""
        self._check_may_change()
        self._catalog.remove_snap(*self._where, name, unprotect=bool(flags & SNAP_REMOVE_UNPROTECT))

    def list_snaps(self) -> list[dict[str, Any]]:
        """[{id, name, size, timestamp, protected, namespace_type}], oldest first."""
        self._check_open()
        return self._catalog.list_snaps(*self._where)

    def rollback_to_snap(self, name: str, progress: Progress = None) -> None:
        """The image shows snapshot ``name`` again (and has its size). The volume is closed meanwhile:
        mainline Curve's Recover replaces it (another opener makes it EBUSY)."""
        self._check_writable()
        self.flush()
        cluster, volume = self.ioctx.cluster, self._record["file_id"]
        cluster._close_file(self._file)
        try:
            self._record = self._catalog.rollback_snap(*self._where, name, _percent(progress))
        finally:
            self._file = self._nebd_name(None)
            self._fd = cluster._open_file(self._file)
            self._size = self._record["size"]
            self._push_state()
        if self._record["file_id"] != volume:   # Recover made a new volume: watch its record
            self._watch.cancel()
            self._watch = self._watch_record()

    def rename_snap(self, old: str, new: str) -> None:
        self._check_may_change()
        self._catalog.rename_snap(*self._where, old, new)

    def protect_snap(self, name: str) -> None:
        self._check_may_change()
        self._catalog.protect_snap(*self._where, name)

    def unprotect_snap(self, name: str) -> None:
        """EBUSY if the snapshot has clones; EINVAL if it is not protected."""
        self._check_may_change()
        self._catalog.unprotect_snap(*self._where, name)

    def is_protected_snap(self, name: str) -> bool:
        self._check_open()
        return bool(self._catalog.get_snap(*self._where, name)["protected"])

    def set_snap(self, name: str | None) -> None:
        """Read snapshot ``name`` from now on (writes fail with EROFS), or the image again (None)."""
        self._check_open()
        if name == self._snap:
            return
        view = None if name is None else self._catalog.open_view(*self._where, name)
        size = view["size"] if view is not None else self._catalog.stat_image(*self._where)["size"]
        try:
            self._switch_file(self._nebd_name(view), size)
        except BaseException:
            if view is not None:
                self._catalog.close_view(view)
            raise
        old, self._view, self._snap = self._view, view, name
        self._snap_gone = False
        engine.module().lib.crbd_image_refuse(self._c, 0)
        self._push_state()   # read-only while set to a snapshot
        if old is not None:
            self._catalog.close_view(old)

    def _check_snap_exists(self) -> None:
        """librbd: reading a snapshot that was removed is ENOENT."""
        if getattr(self, "_snap_gone", False):
            raise Error(errno.ENOENT, f"{self}: snapshot {self._snap!r} was removed")

    def _snapshots_changed(self, state: dict) -> None:
        """The image's record changed: if it names this handle's snapshot as removed, give the view back
        (Curve deletes the snapshot once no view reads it) and fail reads from now on."""
        view = self._view
        if view is None or snapshot_identity(view["snap"]) not in state.get("snaps_removed", ()):
            return
        self._snap_gone = True
        self._view = None
        engine.module().lib.crbd_image_refuse(self._c, errno.ENOENT)
        log.info("%s: its snapshot was removed; reads fail with ENOENT", self)
        try:
            self.ioctx.cluster._close_file(self._file)
            self._catalog.close_view(view)
        except Error as exc:   # a crashed reader's view is swept later
            log.warning("%s: view of the removed snapshot not given back: %s", self, exc)

    @property
    def snapshot(self) -> str | None:
        """The snapshot the image reads, or None for the image itself."""
        return self._snap

    # --- clones ----------------------------------------------------------------------------------
    def parent_info(self) -> tuple[str, str, str]:
        """(pool, image, snapshot) of a clone's parent; Error(ENOENT) if the image has none."""
        self._check_open()
        parent = self._catalog.parent_info(*self._where)
        return parent["pool"], parent["image"], parent["snap"]

    def list_children(self) -> list[tuple[str, str]]:
        """(pool, image) of the clones of any snapshot of this image (of the set snapshot, if one is)."""
        self._check_open()
        return self._catalog.list_children(*self._where, self._snap)

    def flatten(self, progress: Progress = None) -> None:
        """Copy the parent's data into the clone and cut the link; ``progress(done, total)`` after each
        step, a non-zero return stops it with ECANCELED (the steps done stay done)."""
        self._check_writable()
        obj = 1 << self._record["order"]
        offset, chunk = 0, obj
        while True:
            step = self._catalog.flatten(*self._where, offset, chunk)
            total = step["total"]
            offset = step["position"]
            if progress is not None and progress(offset, total):
                if not step["done"]:
                    raise Error(errno.ECANCELED, f"{self}: flatten cancelled by its progress callback")
            if step["done"]:
                self._record = self._catalog.stat_image(*self._where)
                return
            chunk = max(obj, -(-total // FLATTEN_STEPS // obj) * obj)

    def copy(self, dest_ioctx: "IoCtx", dest_name: str, progress: Progress = None) -> None:
        """A new image ``dest_name`` in ``dest_ioctx``'s pool with this image's data (of the set snapshot
        if one is), size, features, order and metadata; no snapshots. The data is read and written here
        (holes stay holes); ``progress(done, total)`` after each chunk, non-zero cancels (ECANCELED)."""
        self._check_open()
        self._catalog.copy_target(*self._where, dest_ioctx.pool, dest_name, self._snap)
        size = self._size
        zeros = bytes(COPY_CHUNK)
        with dest_ioctx.open_image(dest_name) as dest:
            for offset in range(0, size, COPY_CHUNK):
                data = self.read(offset, min(COPY_CHUNK, size - offset))
                if data != zeros[:len(data)]:
                    dest.write(offset, data)
                if progress is not None and progress(offset + len(data), size):
                    raise Error(errno.ECANCELED, f"{self}: copy to {dest_ioctx.pool}/{dest_name} cancelled "
                                                 "by its progress callback")

    def diff_iterate(self, offset: int, length: int, from_snap: str | None, callback: DiffCallback,
                     include_parent: bool = True, whole_object: bool = False) -> int:
        """Call ``callback(offset, length, exists)`` for each range where the image (or its set snapshot)
        differs from ``from_snap`` (from zeros if None); a negative callback return stops and is returned."""
        self._check_open()
        if offset < 0 or length < 0 or offset > self._size:
            raise Error(errno.EINVAL, f"{self}: diff range {offset}+{length} outside the image "
                                      f"size {self._size}")
        end = min(offset + length, self._size)
        trim = None if whole_object else _EdgeTrim(self, from_snap)
        try:
            for lo in range(offset, end, DIFF_CHUNK):
                hi = min(lo + DIFF_CHUNK, end)
                extents = self._catalog.diff_extents(*self._where, lo, hi - lo, from_snap, self._snap,
                                                     include_parent, whole_object)
                for start, size, exists in extents:
                    if trim is not None:
                        start, size = trim.cut(start, size)
                        if not size:
                            continue
                    ret = callback(start, size, exists)
                    if ret is not None and ret < 0:
                        return ret
        finally:
            if trim is not None:
                trim.close()
        return 0


class _EdgeTrim:
    """Trims a changed run to the bytes that changed in its first and last block (diff_iterate): those
    two blocks are read from the image and from ``from_snap`` (zeros when None); blocks between
    them stay whole."""

    def __init__(self, image: ImageSnapshots, from_snap: str | None) -> None:
        self.image = image
        self.from_snap = from_snap
        self.block: int = image.block_size   # type: ignore[attr-defined]
        self.base: Any = None                # the image at from_snap, opened when first needed

    def close(self) -> None:
        if self.base is not None:
            self.base.close()

    def _old(self, lo: int, hi: int) -> bytes:
        """Bytes [lo, hi) at ``from_snap`` (zeros past its size, or all zeros without one)."""
        if self.from_snap is None:
            return bytes(hi - lo)
        if self.base is None:
            self.base = self.image.ioctx.open_image(self.image.name, snapshot=self.from_snap)
        data = self.base.read(lo, min(hi, self.base.size()) - lo) if lo < self.base.size() else b""
        return data + bytes(hi - lo - len(data))

    def _pair(self, lo: int, hi: int) -> tuple[bytes, bytes]:
        return self.image.read(lo, hi - lo), self._old(lo, hi)   # type: ignore[attr-defined]

    def cut(self, start: int, length: int) -> tuple[int, int]:
        """(offset, length) of the run [start, start+length) without its equal edge bytes; length 0 if
        the run's edge blocks hold no change at all."""
        end = start + length
        first_end = min((start // self.block + 1) * self.block, end)
        new, old = self._pair(start, first_end)
        lead = _same_prefix(new, old)
        if first_end == end:                                # a run inside one block
            if lead == len(new):
                return start, 0
            return start + lead, len(new) - lead - _same_suffix(new[lead:], old[lead:])
        lo = start + lead if lead < len(new) else first_end  # an unchanged first block goes whole
        last_start = (end - 1) // self.block * self.block
        new, old = self._pair(last_start, end)
        tail = _same_suffix(new, old)
        hi = end - tail if tail < len(new) else last_start
        return (lo, hi - lo) if hi > lo else (lo, 0)


def _same_prefix(a: bytes, b: bytes) -> int:
    """How many leading bytes ``a`` and ``b`` share."""
    if a == b:
        return len(a)
    return next(i for i, (x, y) in enumerate(zip(a, b)) if x != y)


def _same_suffix(a: bytes, b: bytes) -> int:
    """How many trailing bytes ``a`` and ``b`` (equally long) share."""
    return _same_prefix(a[::-1], b[::-1])
