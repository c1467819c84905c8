"""The trash: move out of the listing, list, deferred remove (EPERM unless forced), restore, and the rules."""
from __future__ import annotations

import errno
import time

import pytest

from core_helpers import cluster, core_daemon, ioctx, pattern, pool, unique  # noqa: F401

from curverbd.errors import Error

MiB = 1 << 20


def errno_of(call, *args, **kwargs) -> int:
    with pytest.raises(Error) as info:
        call(*args, **kwargs)
    return info.value.errno


def make(ioctx, data: bytes = b"") -> str:
    name = unique("t")
    ioctx.create_image(name, 2 * MiB)
    if data:
        with ioctx.open_image(name) as img:
            img.write(0, data)
    return name


def test_move_list_restore(ioctx):
    data = pattern(MiB, 5)
    name = make(ioctx, data)
    with ioctx.open_image(name) as img:
        image_id = img.id
    before = int(time.time())
    assert ioctx.trash_move(name, delay=3600) == image_id
    assert name not in ioctx.list_images()
    assert errno_of(ioctx.open_image, name) == errno.ENOENT
    entries = ioctx.trash_list()
    assert len(entries) == 1
    entry = entries[0]
    assert set(entry) == {"id", "name", "source", "deletion_time", "deferment_end_time"}
    assert (entry["id"], entry["name"], entry["source"]) == (image_id, name, "USER")
    assert before <= entry["deletion_time"] <= before + 5
    assert entry["deferment_end_time"] == entry["deletion_time"] + 3600
    # the name is free again while the image waits in the trash
    ioctx.create_image(name, MiB)
    assert errno_of(ioctx.trash_restore, image_id, name) == errno.EEXIST
    ioctx.remove_image(name)
    ioctx.trash_restore(image_id, "restored")
    assert ioctx.trash_list() == []
    assert "restored" in ioctx.list_images()
    with ioctx.open_image("restored") as img:
        assert img.id == image_id
        assert img.read(0, MiB) == data
    ioctx.remove_image("restored")


def test_remove_is_deferred_unless_forced(ioctx):
    name = make(ioctx, b"x")
    image_id = ioctx.trash_move(name, delay=3600)
    assert errno_of(ioctx.trash_remove, image_id) == errno.EPERM
    ioctx.trash_remove(image_id, force=True)
    assert ioctx.trash_list() == []
    assert errno_of(ioctx.trash_remove, image_id, force=True) == errno.ENOENT
    assert errno_of(ioctx.trash_restore, image_id, "x") == errno.ENOENT
    now = make(ioctx)
    ioctx.trash_remove(ioctx.trash_move(now))   # no delay: removable at once
    assert now not in ioctx.list_images() and ioctx.trash_list() == []


def test_trash_rules(ioctx):
    name = make(ioctx)
    img = ioctx.open_image(name)
    assert errno_of(ioctx.trash_move, name) == errno.EBUSY   # open by a client
    assert errno_of(ioctx.trash_move, "missing") == errno.ENOENT
    img.create_snap("s")
    img.protect_snap("s")
    img.close()
    child = unique("c")
    ioctx.clone(name, "s", ioctx, child)
    parent_id = ioctx.trash_move(name)
    with ioctx.open_image(child) as clone:   # the clone still reads through its trashed parent
        assert clone.read(0, 4) == bytes(4)
    assert errno_of(ioctx.trash_remove, parent_id, force=True) == errno.EBUSY   # it has a clone
    ioctx.remove_image(child)
    assert errno_of(ioctx.trash_remove, parent_id, force=True) == errno.ENOTEMPTY   # it has a snapshot
    ioctx.trash_restore(parent_id, name)
    with ioctx.open_image(name) as img:
        img.unprotect_snap("s")
        img.remove_snap("s")
    ioctx.trash_remove(ioctx.trash_move(name))
    assert name not in ioctx.list_images()
