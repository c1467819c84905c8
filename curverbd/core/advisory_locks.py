"""librbd's advisory image locks (rbd_lock_exclusive / rbd_lock_shared / rbd_unlock / rbd_break_lock /
rbd_list_lockers), which cls_lock keeps on the image header in Ceph, following cls_lock's rules. Here
they live in the image's metadata under curverbd's reserved prefix (hidden from metadata listings).
They are advisory: nothing else consults them (the exclusive-lock feature's lock is writer_lock.py).

A locker is named as rados names a client handle: ``client.<instance id>`` with an address; one
instance id per core Cluster (``instance_id``), also what rados_get_instance_id answers.
"""
from __future__ import annotations

import errno
import json
import os
import threading
import weakref
from typing import TYPE_CHECKING

from ..errors import Error
from .image import RESERVED_PREFIX   # curverbd's own image metadata keys, hidden from listings

if TYPE_CHECKING:
    from .cluster import Cluster
    from .image import Image

LOCKS_KEY = RESERVED_PREFIX + "lock"     # {exclusive, tag, lockers: [[client, cookie, address]]}

_instances: "weakref.WeakKeyDictionary[Cluster, int]" = weakref.WeakKeyDictionary()
_instances_lock = threading.Lock()


def instance_id(cluster: "Cluster") -> int:
    """The cluster handle's client instance id (chosen once per handle, like a rados global id)."""
    with _instances_lock:
        if cluster not in _instances:
            _instances[cluster] = 4096 + int.from_bytes(os.urandom(4), "little") % ((1 << 31) - 4096)
        return _instances[cluster]


def client_of(cluster: "Cluster") -> tuple[str, str]:
    """("client.<instance id>", address) of the cluster handle, as lock listings show it."""
    instance = instance_id(cluster)
    return f"client.{instance}", f"127.0.0.1:0/{instance}"


def _get(image: "Image") -> dict:
    try:
        value = image.metadata_get(LOCKS_KEY)
    except Error as exc:
        if exc.errno != errno.ENOENT:
            raise
        value = None
    return json.loads(value) if value else {"exclusive": False, "tag": "", "lockers": []}


def _store(image: "Image", locks: dict) -> None:
    if locks["lockers"]:
        image.metadata_set(LOCKS_KEY, json.dumps(locks))
        return
    try:
        image.metadata_remove(LOCKS_KEY)
    except Error as exc:
        if exc.errno != errno.ENOENT:
            raise


def lock(image: "Image", exclusive: bool, cookie: str, tag: str = "") -> None:
    """Take the lock for this image's client with ``cookie``: EEXIST if it holds one with that cookie
    already, EBUSY if someone holds it exclusively, or shared with another tag (or at all, for an
    exclusive request)."""
    client, address = client_of(image.ioctx.cluster)
    locks = _get(image)
    if locks["lockers"]:
        if any(c == client and k == cookie for c, k, _a in locks["lockers"]):
            raise Error(errno.EEXIST, f"{image}: already locked with cookie {cookie!r}")
        if exclusive or locks["exclusive"] or locks["tag"] != tag:
            raise Error(errno.EBUSY, f"{image} is locked by someone else")
    _store(image, {"exclusive": exclusive, "tag": tag, "lockers": locks["lockers"] + [[client, cookie, address]]})


def unlock(image: "Image", cookie: str, client: str | None = None) -> None:
    """Release ``client``'s lock with ``cookie`` (None: this image's client; ENOENT if it holds none)."""
    if client is None:
        client = client_of(image.ioctx.cluster)[0]
    locks = _get(image)
    kept = [entry for entry in locks["lockers"] if not (entry[0] == client and entry[1] == cookie)]
    if len(kept) == len(locks["lockers"]):
        raise Error(errno.ENOENT, f"{image}: {client} holds no lock with cookie {cookie!r}")
    locks["lockers"] = kept
    _store(image, locks)


def lockers(image: "Image") -> dict:
    """{exclusive, tag, lockers: [(client, cookie, address)]} (lockers empty when nobody holds it)."""
    locks = _get(image)
    return {"exclusive": bool(locks["exclusive"]) and bool(locks["lockers"]),
            "tag": locks["tag"] if locks["lockers"] else "",
            "lockers": [tuple(entry) for entry in locks["lockers"]]}
