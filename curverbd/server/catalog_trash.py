"""The catalog's trash: images moved out of the listing, kept under their id until removed or restored.

A trashed image keeps its record, snapshots and clones; its name (and its
Curve file) become ``.trash.<id>`` so the name is free for a new image.
Removing it before its deferment ends needs ``force`` (EPERM otherwise), and
follows the removal rules of any image (clones EBUSY, snapshots ENOTEMPTY).
"""
from __future__ import annotations

import errno
import time

from ..errors import Error
from .catalog import MAX_IMAGE_NAME_BYTES, Catalog, _int_arg
from .store import check_name

SOURCE_USER = "USER"  # RBD_TRASH_IMAGE_SOURCE_USER


def trash_name(image_id: str) -> str:
    return f".trash.{image_id}"


class TrashCatalog:
    """TrashMove / TrashList / TrashRemove / TrashRestore."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.db, self.store = catalog.db, catalog.store

    def _entry(self, owner: str, pool: str, image_id: str) -> tuple:
        """(image row, trash row) of trashed image ``image_id``; ENOENT if it is not in the trash."""
        self.catalog._pool(owner, pool)
        if not isinstance(image_id, str):
            raise Error(errno.EINVAL, f"image id {image_id!r}: must be a string")
        rows = self.db.query('SELECT i.id, i.name, i.owner, i.size, i.features, i."order", i.created, '
                             "t.name, t.source, t.deletion_time, t.deferment_end_time FROM rbd_images i "
                             "JOIN rbd_trash t ON t.image_id = i.id WHERE i.pool=? AND i.id=?", (pool, image_id))
        if not rows:
            raise Error(errno.ENOENT, f"pool {pool!r} has no image with id {image_id!r} in the trash")
        return rows[0][:7], rows[0][7:]

    def trash_move(self, owner: str, pool: str, image: str, delay: int = 0) -> dict:
        with self.db.transaction() as conn:
            row = self.catalog._image(owner, pool, image)
            delay = _int_arg(delay, "delay")
            if self.catalog.busy(f"/{pool}/{image}"):
                raise Error(errno.EBUSY, f"image {pool}/{image} is open by a client")
            now = int(time.time())
            conn.execute("INSERT INTO rbd_trash VALUES (?, ?, ?, ?, ?)", (row[0], image, SOURCE_USER, now, now + delay))
            conn.execute("UPDATE rbd_images SET name=? WHERE id=?", (trash_name(row[0]), row[0]))
            self.store.rename(owner, f"/{pool}/{image}", f"/{pool}/{trash_name(row[0])}")
        return {"id": row[0]}

    def trash_list(self, owner: str, pool: str) -> dict:
        with self.db.lock:
            self.catalog._pool(owner, pool)
            rows = self.db.query("SELECT t.image_id, t.name, t.source, t.deletion_time, t.deferment_end_time "
                                 "FROM rbd_trash t JOIN rbd_images i ON i.id = t.image_id WHERE i.pool=? "
                                 "ORDER BY t.rowid", (pool,))  # the order they went in
        return {"images": [{"id": r[0], "name": r[1], "source": r[2], "deletion_time": r[3],
                            "deferment_end_time": r[4]} for r in rows]}

    def trash_remove(self, owner: str, pool: str, image_id: str, force: bool = False) -> dict:
        with self.db.transaction() as conn:
            row, (name, _, _, deferment_end) = self._entry(owner, pool, image_id)
            if not force and time.time() < deferment_end:
                raise Error(errno.EPERM, f"trashed image {pool}/{name} (id {image_id}) is deferred until "
                                         f"{deferment_end}: remove it with force")
            self.catalog.check_removable(pool, name, row[0])
            if self.catalog.busy(f"/{pool}/{row[1]}"):
                raise Error(errno.EBUSY, f"trashed image {pool}/{name} is open by a client")
            conn.execute("DELETE FROM rbd_images WHERE id=?", (row[0],))
            self.store.unlink(f"/{pool}/{row[1]}", owner)
        return {}

    def trash_restore(self, owner: str, pool: str, image_id: str, name: str | None = None) -> dict:
        with self.db.transaction() as conn:
            row, (old_name, _, _, _) = self._entry(owner, pool, image_id)
            name = old_name if not name else name
            check_name(name, "image", MAX_IMAGE_NAME_BYTES)
            if conn.execute("SELECT 1 FROM rbd_images WHERE pool=? AND name=?", (pool, name)).fetchone():
                raise Error(errno.EEXIST, f"image {pool}/{name} already exists")
            conn.execute("DELETE FROM rbd_trash WHERE image_id=?", (row[0],))
            conn.execute("UPDATE rbd_images SET name=? WHERE id=?", (name, row[0]))
            self.store.rename(owner, f"/{pool}/{row[1]}", f"/{pool}/{name}")
        return {}
