"""The rest of Pacific's rbd.RBD (a mixin): pool init/stats/metadata/config, feature names, trash
purge, aio_open_image, and what curverbd does not do (mirroring, groups, namespaces, migration:
OperationNotSupported).

Pool metadata is kept where librbd keeps it, in the pool's ``rbd_info`` object (a rados object of
the default namespace, here holding a JSON map instead of omap); pool config overrides are pool
metadata ``conf_<option>``, as in librbd.
"""
from __future__ import annotations

import errno
import json
import time

from curverbd.core.image_config import CONF_PREFIX, QOS_OPTIONS
from curverbd.errors import Error as CoreError

from .constants import RBD_CONFIG_SOURCE_CONFIG, RBD_CONFIG_SOURCE_POOL
from .errors import InvalidArgument, rbd_errors
from .ioctx import core_ioctx
from .pacific import (Completion, ConfigPoolIterator, PoolMetadataIterator, features_from_string,
                      features_to_string, unsupported)

POOL_METADATA_OBJECT = "rbd_info"


def pool_metadata(ioctx) -> dict:
    """The pool's metadata map ({} if none was ever set)."""
    try:
        data = core_ioctx(ioctx).read_object(POOL_METADATA_OBJECT)
    except CoreError as exc:
        if exc.errno == errno.ENOENT:
            return {}
        raise
    return json.loads(data) if data else {}


def _store_pool_metadata(ioctx, metadata: dict) -> None:
    core_ioctx(ioctx).write_full_object(POOL_METADATA_OBJECT, json.dumps(metadata, sort_keys=True).encode())


def pool_config_list(ioctx) -> list[dict]:
    """{name, value, source}: the QoS options' client values (CONFIG) and the pool's overrides (POOL)."""
    io = core_ioctx(ioctx)
    lookup = io.cluster.conf.lookup
    options = {name: {"name": name, "value": lookup(name) or "0", "source": RBD_CONFIG_SOURCE_CONFIG}
               for name in QOS_OPTIONS}
    for key, value in pool_metadata(ioctx).items():
        if key.startswith(CONF_PREFIX):
            name = key[len(CONF_PREFIX):]
            options[name] = {"name": name, "value": value, "source": RBD_CONFIG_SOURCE_POOL}
    return [options[name] for name in sorted(options)]


def _check_option(key) -> None:
    if not isinstance(key, str) or not key.startswith("rbd_"):
        raise InvalidArgument(f"{key!r} is not an rbd config option", errno=errno.EINVAL)


def _unsupported_call(what: str):
    def call(self, *args, **kwargs):
        raise unsupported(what)
    call.__doc__ = f"{what[0].upper()}{what[1:]} is not supported by curverbd: OperationNotSupported."
    return call


@rbd_errors
class RBDExtras:
    """Pool-level calls beyond the image life cycle."""

    # --- pool ------------------------------------------------------------------------------------
    def pool_init(self, ioctx, force: bool = False) -> None:
        """Nothing to prepare: every curverbd pool is ready for images."""
        core_ioctx(ioctx)

    def pool_stats_get(self, ioctx) -> dict:
        """Image and trash counts, provisioned bytes (head sizes) and max provisioned bytes (head and
        snapshot sizes), and snapshot counts, as rbd_pool_stats_get."""
        io = core_ioctx(ioctx)
        stats = dict.fromkeys(("image_count", "image_provisioned_bytes", "image_max_provisioned_bytes",
                               "image_snap_count", "trash_count", "trash_provisioned_bytes",
                               "trash_max_provisioned_bytes", "trash_snap_count"), 0)
        for name in io.list_images():
            try:
                with io.open_image(name, read_only=True) as image:
                    size, snaps = image.size(), image.list_snaps()
            except CoreError as exc:
                if exc.errno == errno.ENOENT:   # removed meanwhile
                    continue
                raise
            stats["image_count"] += 1
            stats["image_provisioned_bytes"] += size
            stats["image_max_provisioned_bytes"] += size + sum(snap["size"] for snap in snaps)
            stats["image_snap_count"] += len(snaps)
        for entry in io.trash_list():
            stats["trash_count"] += 1
            size = int(entry.get("size", 0) or 0)
            stats["trash_provisioned_bytes"] += size
            stats["trash_max_provisioned_bytes"] += size
        return stats

    def pool_metadata_get(self, ioctx, key: str) -> str:
        """The pool's metadata ``key``; KeyError if not set."""
        metadata = pool_metadata(ioctx)
        if key not in metadata:
            raise KeyError(f"no metadata {key} for pool {ioctx.get_pool_name()}")
        return metadata[key]

    def pool_metadata_set(self, ioctx, key: str, value: str) -> None:
        """Set the pool's metadata ``key``."""
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError("key and value must be strings")
        metadata = pool_metadata(ioctx)
        metadata[key] = value
        _store_pool_metadata(ioctx, metadata)

    def pool_metadata_remove(self, ioctx, key: str) -> None:
        """Remove the pool's metadata ``key``; KeyError if not set."""
        metadata = pool_metadata(ioctx)
        if key not in metadata:
            raise KeyError(f"no metadata {key} for pool {ioctx.get_pool_name()}")
        del metadata[key]
        _store_pool_metadata(ioctx, metadata)

    def pool_metadata_list(self, ioctx):
        """(key, value) pairs of the pool's metadata, sorted (a PoolMetadataIterator)."""
        return PoolMetadataIterator(ioctx)

    # --- pool config overrides -----------------------------------------------------------------
    def config_list(self, ioctx):
        """The pool's view of the rbd options (a ConfigPoolIterator of {name, value, source})."""
        return ConfigPoolIterator(ioctx)

    def config_get(self, ioctx, key: str) -> str:
        """The pool's override of ``key``; KeyError if there is none."""
        _check_option(key)
        metadata = pool_metadata(ioctx)
        if CONF_PREFIX + key not in metadata:
            raise KeyError(f"no config {key} for pool {ioctx.get_pool_name()}")
        return metadata[CONF_PREFIX + key]

    def config_set(self, ioctx, key: str, value: str) -> None:
        """Override option ``key`` for the pool's images."""
        _check_option(key)
        self.pool_metadata_set(ioctx, CONF_PREFIX + key, str(value))

    def config_remove(self, ioctx, key: str) -> None:
        """Drop the pool's override of ``key``; KeyError if there is none."""
        _check_option(key)
        metadata = pool_metadata(ioctx)
        if CONF_PREFIX + key not in metadata:
            raise KeyError(f"no config {key} for pool {ioctx.get_pool_name()}")
        del metadata[CONF_PREFIX + key]
        _store_pool_metadata(ioctx, metadata)

    # --- features -----------------------------------------------------------------------------------
    def features_to_string(self, features: int) -> str:
        """``"layering,exclusive-lock"`` for the bits (InvalidArgument for unknown bits)."""
        return features_to_string(features)

    def features_from_string(self, str_features: str) -> int:
        """The bits of comma-separated feature names (InvalidArgument for unknown names)."""
        return features_from_string(str_features)

    # --- trash and images ------------------------------------------------------------------------------
    def trash_purge(self, ioctx, expire_ts=None, threshold: float = -1) -> None:
        """Delete the user-trashed images whose deferment ended by ``expire_ts`` (a datetime; default now). ``threshold`` (pool fullness) is accepted and not used."""
        # Pacific's binding passes time.mktime(expire_ts.timetuple()) (local time); 0/None: now
        limit = time.mktime(expire_ts.timetuple()) if expire_ts else time.time()
        io = core_ioctx(ioctx)
        for entry in io.trash_list():
            if entry.get("source", "USER") == "USER" and entry.get("deferment_end_time", 0) <= limit:
                io.trash_remove(entry["id"], force=True)

    def aio_open_image(self, oncomplete, ioctx, name=None, snapshot=None, read_only=False, image_id=None):
        """Open an image; ``oncomplete(completion, image)`` (done before returning here)."""
        from .image import Image
        completion = Completion(None, oncomplete)
        try:
            image = Image(ioctx, name, snapshot=snapshot, read_only=read_only, image_id=image_id)
        except Exception as exc:   # reported through the completion, as librbd does
            code = getattr(exc, "errno", None) or errno.EIO
            completion._finish(-abs(code), None)
        else:
            completion._finish(0, image)
        return completion

    # --- not available ------------------------------------------------------------------------------
    group_create = group_remove = group_list = group_rename = _unsupported_call("RBD groups")
    namespace_create = namespace_remove = namespace_exists = namespace_list = _unsupported_call("namespaces")
    migration_prepare = migration_prepare_import = migration_execute = _unsupported_call("live migration")
    migration_commit = migration_abort = migration_status = _unsupported_call("live migration")
    mirror_mode_get = mirror_mode_set = mirror_uuid_get = _unsupported_call("mirroring")
    mirror_site_name_get = mirror_site_name_set = _unsupported_call("mirroring")
    mirror_peer_bootstrap_create = mirror_peer_bootstrap_import = _unsupported_call("mirroring")
    mirror_peer_add = mirror_peer_remove = mirror_peer_list = _unsupported_call("mirroring")
    mirror_peer_set_client = mirror_peer_set_name = mirror_peer_set_cluster = _unsupported_call("mirroring")
    mirror_peer_get_attributes = mirror_peer_set_attributes = _unsupported_call("mirroring")
    mirror_image_status_list = mirror_image_status_summary = _unsupported_call("mirroring")
    mirror_image_instance_id_list = mirror_image_info_list = _unsupported_call("mirroring")

