"""Pool-level RBD state beyond the images themselves: the pool's metadata, its statistics, the trash
purge, and librbd's feature names. One implementation for the C ABI (capi/pool_calls.py) and the
Python ``rbd`` module (compat/rbd/pool_extras.py).

Pool metadata is kept where librbd keeps it, in the pool's ``rbd_info`` object (a rados object of
the default namespace, here holding a JSON map instead of omap).
"""
from __future__ import annotations

import errno
import json
import time
from typing import TYPE_CHECKING

from .. import features as feature_bits
from ..errors import Error
from .image_config import CONF_PREFIX, QOS_OPTIONS, SOURCE_CONFIG

if TYPE_CHECKING:
    from .ioctx import IoCtx

POOL_METADATA_OBJECT = "rbd_info"
SOURCE_POOL = 1   # RBD_CONFIG_SOURCE_POOL
# librbd's feature names (rbd_features_to_string / rbd_features_from_string), in bit order
FEATURE_NAMES = feature_bits.FEATURE_NAMES + ((feature_bits.DIRTY_CACHE, "dirty-cache"),)
# rbd_pool_stats_get's figures, in RBD_POOL_STAT_OPTION_* order
POOL_STATS = ("image_count", "image_provisioned_bytes", "image_max_provisioned_bytes", "image_snap_count",
              "trash_count", "trash_provisioned_bytes", "trash_max_provisioned_bytes", "trash_snap_count")


def metadata(io: "IoCtx") -> dict[str, str]:
    """The pool's metadata map ({} if none was ever set)."""
    try:
        data = io.read_object(POOL_METADATA_OBJECT)
    except Error as exc:
        if exc.errno == errno.ENOENT:
            return {}
        raise
    return json.loads(data) if data else {}


def _store(io: "IoCtx", values: dict[str, str]) -> None:
    io.write_full_object(POOL_METADATA_OBJECT, json.dumps(values, sort_keys=True).encode())


def metadata_get(io: "IoCtx", key: str) -> str:
    """The value of ``key``; Error(ENOENT) if it is not set."""
    values = metadata(io)
    if key not in values:
        raise Error(errno.ENOENT, f"pool {io.pool}: no metadata {key!r}")
    return values[key]


def metadata_set(io: "IoCtx", key: str, value: str) -> None:
    values = metadata(io)
    values[key] = value
    _store(io, values)


def metadata_remove(io: "IoCtx", key: str) -> None:
    """Remove ``key``; Error(ENOENT) if it is not set."""
    values = metadata(io)
    if key not in values:
        raise Error(errno.ENOENT, f"pool {io.pool}: no metadata {key!r}")
    del values[key]
    _store(io, values)


def metadata_list(io: "IoCtx", start: str = "", limit: int = 0) -> list[tuple[str, str]]:
    """(key, value) sorted by key, keys after ``start`` only, at most ``limit`` of them (0: all):
    librbd's paging of metadata_list."""
    pairs = sorted((k, v) for k, v in metadata(io).items() if k > start)
    return pairs[:limit] if limit else pairs


def config_list(io: "IoCtx") -> list[dict]:
    """rbd_config_pool_list: {name, value, source} sorted by name: the QoS options' client values (source
    CONFIG, "0" = unlimited when unset) and the pool's overrides, pool metadata ``conf_<option>`` as in
    librbd (source POOL)."""
    lookup = io.cluster.conf.lookup
    options = {name: {"name": name, "value": lookup(name) or "0", "source": SOURCE_CONFIG} for name in QOS_OPTIONS}
    for key, value in metadata(io).items():
        if key.startswith(CONF_PREFIX):
            name = key[len(CONF_PREFIX):]
            options[name] = {"name": name, "value": value, "source": SOURCE_POOL}
    return [options[name] for name in sorted(options)]


def image_name_of_id(io: "IoCtx", image_id: str) -> str:
    """The name of the pool's image with id ``image_id``; ENOENT if there is none."""
    for name in io.list_images():
        try:
            if str(io.stat_image(name).get("id")) == image_id:
                return name
        except Error as exc:
            if exc.errno != errno.ENOENT:   # removed meanwhile
                raise
    raise Error(errno.ENOENT, f"pool {io.pool}: no image with id {image_id!r}")


def stats(io: "IoCtx") -> dict[str, int]:
    """Image and trash counts, provisioned bytes (head sizes), max provisioned bytes (head and snapshot
    sizes) and snapshot counts, as rbd_pool_stats_get."""
    out = dict.fromkeys(POOL_STATS, 0)
    for _, image in io.each_image():
        size, snaps = image.size(), image.list_snaps()
        out["image_count"] += 1
        out["image_provisioned_bytes"] += size
        out["image_max_provisioned_bytes"] += size + sum(snap["size"] for snap in snaps)
        out["image_snap_count"] += len(snaps)
    for entry in io.trash_list():
        out["trash_count"] += 1
        size = int(entry.get("size", 0) or 0)
        out["trash_provisioned_bytes"] += size
        out["trash_max_provisioned_bytes"] += size
    return out


def trash_purge(io: "IoCtx", expire_ts: float | None = None) -> None:
    """Delete the user-trashed images whose deferment ended by ``expire_ts`` (seconds; None or 0: now)."""
    limit = expire_ts if expire_ts else time.time()
    for entry in io.trash_list():
        if entry.get("source", "USER") == "USER" and entry.get("deferment_end_time", 0) <= limit:
            io.trash_remove(entry["id"], force=True)


def features_to_string(features: int) -> str:
    """librbd's rbd_features_to_string: the names of the bits, comma-separated (EINVAL for unknown bits)."""
    known = 0
    names = []
    for bit, name in FEATURE_NAMES:
        known |= bit
        if features & bit:
            names.append(name)
    if features & ~known:
        raise Error(errno.EINVAL, f"unknown features in {features:#x}")
    return ",".join(names)


def features_from_string(text: str) -> int:
    """librbd's rbd_features_from_string: comma-separated names (or a number) -> bits (EINVAL if unknown)."""
    by_name = {name: bit for bit, name in FEATURE_NAMES}
    result = 0
    for item in (text or "").split(","):
        item = item.strip()
        if not item:
            continue
        if item.isdigit():
            result |= int(item)
        elif item in by_name:
            result |= by_name[item]
        else:
            raise Error(errno.EINVAL, f"unknown feature {item!r}")
    return result


def pool_init(io: "IoCtx", force: bool = False) -> None:
    """rbd_pool_init: the pool is tagged with the "rbd" application (another application already
    there needs ``force``: EPERM); nothing else to prepare, every curverbd pool takes images."""
    from .rados_pools import application_enable
    application_enable(io, "rbd", force)
