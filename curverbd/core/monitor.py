"""The monitor commands OpenStack sends through ``Rados.mon_command``, answered in Ceph's JSON shapes.

Supported prefixes: ``df`` (cinder's capacity report: ``stats.total_bytes``,
``pools[].stats.{stored, bytes_used, max_avail}``) and ``osd pool get-quota``
(``quota_max_bytes``, ``quota_max_objects``; Curve pools have no quota: 0 = none).
Anything else answers ``-EINVAL`` like a monitor that does not know the command.
"""
from __future__ import annotations

import errno
import json
import zlib
from typing import Callable

from curverbd.errors import Error


def pool_id(name: str) -> int:
    """A stable positive id for a pool (the catalog names pools; Ceph numbers them)."""
    return zlib.crc32(name.encode()) & 0x7FFFFFFF or 1


def _df(cluster, command: dict) -> dict:
    stat = cluster.stat()
    total, used, avail = stat["bytes_total"], stat["bytes_used"], stat["bytes_avail"]
    pools = []
    for name in cluster.list_pools():
        try:
            pool = cluster.open_ioctx(name).stat()
        except Error as exc:
            if exc.errno == errno.ENOENT:  # removed meanwhile
                continue
            raise
        stored = pool["bytes_used"]
        pools.append({"name": name, "id": pool_id(name), "stats": {
            "stored": stored, "objects": pool["images"], "kb_used": (stored + 1023) // 1024,
            "bytes_used": stored, "percent_used": (stored / total) if total else 0.0, "max_avail": avail}})
    return {"stats": {"total_bytes": total, "total_avail_bytes": avail, "total_used_bytes": used,
                      "total_used_raw_bytes": used, "total_used_raw_ratio": (used / total) if total else 0.0,
                      "num_osds": 1, "num_per_pool_osds": 1, "num_per_pool_omap_osds": 1},
            "stats_by_class": {}, "pools": pools}


def _get_quota(cluster, command: dict) -> dict:
    name = command.get("pool")
    if not isinstance(name, str) or not name:
        raise Error(errno.EINVAL, "osd pool get-quota: missing 'pool'")
    if not cluster.pool_exists(name):
        raise Error(errno.ENOENT, f"unrecognized pool '{name}'")
    return {"pool_name": name, "pool_id": pool_id(name), "quota_max_objects": 0, "quota_max_bytes": 0}


HANDLERS: dict[str, Callable[[object, dict], dict]] = {
    "df": _df,
    "osd pool get-quota": _get_quota,
}


def _render(result: dict, fmt: str) -> bytes:
    if fmt == "json-pretty":
        return json.dumps(result, indent=4).encode()
    return json.dumps(result, separators=(",", ":")).encode()


def mon_command(cluster, cmd) -> tuple[int, bytes, str]:
    """Run ``cmd`` (a JSON string, or a list of them as librados takes) -> (ret, outbuf, outs)."""
    if isinstance(cmd, (list, tuple)):
        cmd = "".join(cmd)
    try:
        command = json.loads(cmd)
    except ValueError:
        return -errno.EINVAL, b"", f"command is not JSON: {cmd!r}"
    if not isinstance(command, dict):
        return -errno.EINVAL, b"", "command is not a JSON object"
    handler = HANDLERS.get(command.get("prefix", ""))
    if handler is None:
        return -errno.EINVAL, b"", f"command not known: {command.get('prefix')!r}"
    try:
        result = handler(cluster, command)
    except Error as exc:
        return -exc.errno, b"", exc.strerror or str(exc)
    return 0, _render(result, command.get("format", "json")), ""
