"""RBD's trash over Curve's /RecycleBin: `rbd trash mv` is DeleteFile, `restore` RecoverFile, with the
trash entry (name, source, deferment) in the RBD state home; an image Curve cannot move (it has
snapshots) is hidden in place by its entry."""
from __future__ import annotations

import errno
import time

from ..curve.nameserver2 import StatusCode
from ..curve.status import MdsError
from ..errors import Error
from .catalog_base import Progress, CatalogBase, _objects, check_image_name, file_id_of, image_id, mds_cause

SOURCE_USER = "USER"            # RBD_TRASH_IMAGE_SOURCE_USER
TRASH_FIELDS = ("name", "source", "deletion_time", "deferment_end_time")


class CatalogTrash(CatalogBase):
    """trash_move / trash_list / trash_remove / trash_restore."""

    def trash_move(self, pool: str, image: str, delay: int = 0) -> str:
        """DeleteFile moves the volume into /RecycleBin; the trash entry keeps its RBD name. A volume with
        snapshots cannot move (release1.5's MDS refuses; mainline's snapshotcloneserver knows it by its
        path): such an image stays where it is, hidden by the entry."""
        info = self._file(pool, image)
        pool_id = self._pool_info(pool)["id"]
        now = int(time.time())
        entry = {"name": image, "curve_name": info["fileName"], "source": SOURCE_USER, "deletion_time": now,
                 "deferment_end_time": now + max(0, int(delay))}
        # the entry first: a crash before DeleteFile leaves an entry whose image is still in place,
        # which trash_list drops; the other order could lose an image from RBD's view
        self.state.trash_add(pool_id, info["id"], entry)
        path = f"/{pool}/{info['fileName']}"
        in_place = self._pinned(path, info)
        if not in_place:
            try:
                self.mds.delete(path, info["id"])
            except MdsError as exc:
                if exc.status != StatusCode.kFileUnderSnapShot:
                    self.state.trash_remove(pool_id, info["id"])
                    raise Error(exc.errno, f"image {pool}/{image}: move to trash: {mds_cause(exc)}") from None
                in_place = True
        if in_place:
            self._update(info, in_trash=True)
            self.state.trash_add(pool_id, info["id"], {**entry, "in_place": True})
        return image_id(info["id"])

    def trash_list(self, pool: str) -> list[dict]:
        pool_id = self._pool_info(pool)["id"]
        out = []
        for file_id, entry in sorted(self.state.trash_list(pool_id).items()):
            if not entry.get("in_place"):
                found = self._lookup(pool, entry["name"], entry["curve_name"])
                if found is not None and found["id"] == file_id:
                    # a crash between the entry and DeleteFile: the image never left
                    self.state.trash_remove(pool_id, file_id)
                    continue
            out.append({"id": image_id(file_id), **{k: entry[k] for k in TRASH_FIELDS}})
        return out

    def _trash_entry(self, pool: str, trash_id: str) -> tuple[int, int, dict]:
        pool_id = self._pool_info(pool)["id"]
        file_id = file_id_of(trash_id)
        entry = self.state.trash_get(pool_id, file_id)
        if entry is None:
            raise Error(errno.ENOENT, f"pool {pool!r} has no image with id {trash_id!r} in the trash")
        return pool_id, file_id, entry

    def trash_remove(self, pool: str, trash_id: str, force: bool = False, progress: Progress = None) -> None:
        """Forget a trashed image. Curve lets only root purge /RecycleBin: for other owners the
        volume stays there until Curve's admin cleans it (curve bs clean-recycle). ``progress(done,
        total)`` as remove_image's: asked before anything changes (non-zero: ECANCELED, the entry
        kept), told when done."""
        pool_id, file_id, entry = self._trash_entry(pool, trash_id)
        what = f"image {pool}/{entry['name']} (id {trash_id})"
        if not force and time.time() < entry["deferment_end_time"]:
            raise Error(errno.EPERM, f"{what} is deferred in the trash until {entry['deferment_end_time']}; "
                                     "use force")
        links, state = {}, None
        if entry.get("in_place"):   # still in its pool: it goes the way `rbd rm` goes
            links = self._links(pool, entry["curve_name"])
            if links.get("children"):
                raise Error(errno.EBUSY, f"{what} has clones (children)")
            if links.get("snapshot_count"):
                raise Error(errno.ENOTEMPTY, f"{what} has snapshots")
            if links.get("pending_snapshots"):
                raise Error(errno.EBUSY, f"{what} has removed snapshots that readers still use")
        state = self.state.image(file_id)[0] or {}
        total = _objects({"size": 0, "order": 22, **state})
        if progress is not None and progress(0, total):
            raise Error(errno.ECANCELED, f"{what}: removal cancelled by its progress callback (kept in the trash)")
        if entry.get("in_place"):
            try:
                self.mds.delete(f"/{pool}/{entry['curve_name']}", file_id)
            except Error as exc:
                raise Error(exc.errno, f"{what}: {mds_cause(exc)}") from None
        self.state.trash_remove(pool_id, file_id)
        self._forget({"id": file_id, "parentId": pool_id, "rbd_name": entry["name"],
                      "fileName": entry["curve_name"]})
        self._reap_parent(links.get("parent"))
        if progress is not None:
            progress(total, total)

    def trash_restore(self, pool: str, trash_id: str, name: str | None = None) -> None:
        pool_id, file_id, entry = self._trash_entry(pool, trash_id)
        name = name or entry["name"]
        check_image_name(pool, name)
        what = f"image {pool}/{entry['name']} (id {trash_id})"
        if entry.get("in_place"):
            info = self._lookup(pool, entry["name"], entry["curve_name"])
            if info is None or info["id"] != file_id:
                raise Error(errno.ENOENT, f"{what}: its volume /{pool}/{entry['curve_name']} is gone")
            self.state.update_image(file_id, lambda state: {**state, "in_trash": False},
                                    self._default_state(info))
        else:
            try:
                self.mds.recover(f"/{pool}/{entry['curve_name']}", file_id)
            except Error as exc:
                raise Error(exc.errno, f"{what}: restore: {mds_cause(exc)}") from None
        self.state.trash_remove(pool_id, file_id)
        if name != entry["name"]:
            self.rename_image(pool, entry["name"], name)
