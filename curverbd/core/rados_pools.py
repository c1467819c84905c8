"""librados' pool-level calls beyond create/list/remove: pool ids (lookup, reverse lookup, base tier)
and the pool's application tags with their metadata. One implementation for the C ABI
(capi/rados_calls.py) and the Python ``rados`` module (compat/rados).

Pool ids: Ceph numbers pools; curverbd names them, and a pool's id is a stable number derived from its
name (monitor.pool_id, also in ``ceph df``'s answer). Applications: Ceph keeps them in the OSD map and
its monitor checks them ("osd pool application enable/set/rm"); here they live in etcd per pool
(CatalogObjects.pool_applications), with the monitor's rules and limits.
"""
from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from ..errors import Error
from .monitor import pool_id

if TYPE_CHECKING:
    from .cluster import Cluster
    from .ioctx import IoCtx

MAX_POOL_APPLICATIONS = 4           # Ceph's OSDMonitor limits
MAX_POOL_APPLICATION_KEYS = 64
MAX_POOL_APPLICATION_LENGTH = 128


# --- pool ids ------------------------------------------------------------------------------------
def pool_lookup(cluster: "Cluster", name: str) -> int:
    """rados_pool_lookup: the pool's id; Error(ENOENT) if there is no such pool."""
    if not isinstance(name, str) or not cluster.pool_exists(name):
        raise Error(errno.ENOENT, f"pool {name!r} does not exist")
    return pool_id(name)


def pool_reverse_lookup(cluster: "Cluster", pid: int) -> str:
    """rados_pool_reverse_lookup: the name of the pool with id ``pid``; Error(ENOENT) if none."""
    for name in cluster.list_pools():
        if pool_id(name) == pid:
            return name
    raise Error(errno.ENOENT, f"no pool with id {pid}")


def pool_base_tier(cluster: "Cluster", pid: int) -> int:
    """rados_pool_get_base_tier: no cache tiers, so the pool itself; Error(ENOENT) if there is no such pool."""
    pool_reverse_lookup(cluster, pid)
    return pid


def ioctx_pool_id(io: "IoCtx") -> int:
    """rados_ioctx_get_id: the id of the IoCtx's pool."""
    return pool_id(io.pool)


# --- applications --------------------------------------------------------------------------------
def _applications(io: "IoCtx") -> dict[str, dict[str, str]]:
    return io._catalog.pool_applications(io.pool)


def _check_name(what: str, value: str) -> None:
    if not isinstance(value, str):
        raise Error(errno.EINVAL, f"application {what} {value!r}: not a string")
    if len(value) > MAX_POOL_APPLICATION_LENGTH:
        raise Error(errno.EINVAL, f"application {what} {value[:40]!r}...: longer than "
                                  f"{MAX_POOL_APPLICATION_LENGTH}")


def _enabled(io: "IoCtx", apps: dict, app: str) -> dict[str, str]:
    if app not in apps:
        raise Error(errno.ENOENT, f"application {app!r} is not enabled on pool {io.pool!r}")
    return apps[app]


def application_enable(io: "IoCtx", app: str, force: bool = False) -> None:
    """Tag the pool with ``app`` (enabling one already enabled does nothing). A pool tagged with another
    application needs ``force`` (EPERM); at most 4 applications, names at most 128 characters (EINVAL)."""
    _check_name("name", app)
    if not app:
        raise Error(errno.EINVAL, "application name must be provided")

    def change(apps: dict) -> None:
        if app in apps:
            return
        if apps and not force:
            raise Error(errno.EPERM, f"pool {io.pool!r} already has an application enabled "
                                     f"({', '.join(sorted(apps))}); use force to add {app!r}")
        if len(apps) >= MAX_POOL_APPLICATIONS:
            raise Error(errno.EINVAL, f"pool {io.pool!r}: too many enabled applications")
        apps[app] = {}
    io._catalog.update_pool_applications(io.pool, change)


def application_list(io: "IoCtx") -> list[str]:
    """The pool's applications, sorted."""
    return sorted(_applications(io))


def application_metadata_get(io: "IoCtx", app: str, key: str) -> str:
    """The value of ``key`` of application ``app``; ENOENT if the application is not enabled or has no such key."""
    values = _enabled(io, _applications(io), app)
    if key not in values:
        raise Error(errno.ENOENT, f"application {app!r} on pool {io.pool!r} has no key {key!r}")
    return values[key]


def application_metadata_set(io: "IoCtx", app: str, key: str, value: str) -> None:
    """Set ``key`` of an enabled application (ENOENT if not enabled); keys and values at most 128
    characters, at most 64 keys (EINVAL)."""
    _check_name("key", key)
    _check_name("value", value)

    def change(apps: dict) -> None:
        values = _enabled(io, apps, app)
        if key not in values and len(values) >= MAX_POOL_APPLICATION_KEYS:
            raise Error(errno.EINVAL, f"application {app!r} on pool {io.pool!r}: too many keys")
        values[key] = value
    io._catalog.update_pool_applications(io.pool, change)


def application_metadata_remove(io: "IoCtx", app: str, key: str) -> None:
    """Remove ``key`` of an enabled application (ENOENT if not enabled); a missing key is fine, as in
    Ceph's monitor (idempotent)."""
    def change(apps: dict) -> None:
        _enabled(io, apps, app).pop(key, None)
    io._catalog.update_pool_applications(io.pool, change)


def application_metadata_list(io: "IoCtx", app: str) -> list[tuple[str, str]]:
    """(key, value) of an enabled application, sorted by key; ENOENT if it is not enabled."""
    return sorted(_enabled(io, _applications(io), app).items())
