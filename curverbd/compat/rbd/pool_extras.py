"""The rest of Pacific's rbd.RBD (a mixin): pool init/stats/metadata/config, feature names, trash
purge, aio_open_image, and what curverbd does not do (mirroring, groups, namespaces, migration:
OperationNotSupported).

Pool metadata, stats, feature names and the trash purge are the core's (core/pool_meta.py); pool config
overrides are pool metadata ``conf_<option>``, as in librbd.
"""
from __future__ import annotations

import errno
import time

from curverbd.core import pool_meta
from curverbd.core.image_config import CONF_PREFIX

from .errors import InvalidArgument, rbd_errors
from .ioctx import core_ioctx
from .pacific import Completion, ConfigPoolIterator, PoolMetadataIterator, unsupported
from .settings import missing_is_key_error


def pool_metadata(ioctx) -> dict:
    """The pool's metadata map ({} if none was ever set): core/pool_meta.py."""
    return pool_meta.metadata(core_ioctx(ioctx))


def pool_config_list(ioctx) -> list[dict]:
    """{name, value, source}: the QoS options' client values (CONFIG) and the pool's overrides (POOL):
    core/pool_meta.py, as rbd_config_pool_list."""
    return pool_meta.config_list(core_ioctx(ioctx))


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
        """Tag the pool with the "rbd" application, as rbd_pool_init."""
        pool_meta.pool_init(core_ioctx(ioctx), force)

    def pool_stats_get(self, ioctx) -> dict:
        """Image and trash counts, provisioned bytes (head sizes) and max provisioned bytes (head and
        snapshot sizes), and snapshot counts, as rbd_pool_stats_get."""
        return pool_meta.stats(core_ioctx(ioctx))

    def pool_metadata_get(self, ioctx, key: str) -> str:
        """The pool's metadata ``key``; KeyError if not set."""
        io = core_ioctx(ioctx)
        return missing_is_key_error(lambda: pool_meta.metadata_get(io, key),
                                     f"no metadata {key} for pool {ioctx.get_pool_name()}")

    def pool_metadata_set(self, ioctx, key: str, value: str) -> None:
        """Set the pool's metadata ``key``."""
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError("key and value must be strings")
        pool_meta.metadata_set(core_ioctx(ioctx), key, value)

    def pool_metadata_remove(self, ioctx, key: str) -> None:
        """Remove the pool's metadata ``key``; KeyError if not set."""
        io = core_ioctx(ioctx)
        missing_is_key_error(lambda: pool_meta.metadata_remove(io, key),
                              f"no metadata {key} for pool {ioctx.get_pool_name()}")

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
        pool_meta.metadata_set(core_ioctx(ioctx), CONF_PREFIX + key, str(value))

    def config_remove(self, ioctx, key: str) -> None:
        """Drop the pool's override of ``key``; KeyError if there is none."""
        _check_option(key)
        io = core_ioctx(ioctx)
        missing_is_key_error(lambda: pool_meta.metadata_remove(io, CONF_PREFIX + key),
                              f"no config {key} for pool {ioctx.get_pool_name()}")

    # --- features -----------------------------------------------------------------------------------
    def features_to_string(self, features: int) -> str:
        """``"layering,exclusive-lock"`` for the bits (InvalidArgument for unknown bits)."""
        return pool_meta.features_to_string(features)

    def features_from_string(self, str_features: str) -> int:
        """The bits of comma-separated feature names (InvalidArgument for unknown names)."""
        return pool_meta.features_from_string(str_features)

    # --- trash and images ------------------------------------------------------------------------------
    def trash_purge(self, ioctx, expire_ts=None, threshold: float = -1) -> None:
        """Delete the user-trashed images whose deferment ended by ``expire_ts`` (a datetime; default now). ``threshold`` (pool fullness) is accepted and not used."""
        # Pacific's binding passes time.mktime(expire_ts.timetuple()) (local time); 0/None: now
        pool_meta.trash_purge(core_ioctx(ioctx), time.mktime(expire_ts.timetuple()) if expire_ts else None)

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

