"""ceph osd pool ls [detail] / create / rm / get-quota / application enable."""
from __future__ import annotations

import argparse
import errno

from ..core.monitor import pool_id
from ..errors import Error
from .ceph_cluster import monitor_command
from .common import connected, emit, info

CONFIRM = "--yes-i-really-really-mean-it"


def pool_detail(name: str) -> dict:
    """Ceph's `osd pool ls detail` entry of a pool (a Curve directory: one copy, no placement groups)."""
    return {"pool_id": pool_id(name), "pool_name": name, "flags": 1, "flags_names": "hashpspool", "type": 1,
            "size": 1, "min_size": 1, "crush_rule": 0, "object_hash": 2, "pg_autoscale_mode": "off",
            "pg_num": 1, "pg_placement_num": 1, "quota_max_bytes": 0, "quota_max_objects": 0,
            "application_metadata": {"rbd": {}}}


def cmd_ls(args: argparse.Namespace) -> int:
    with connected(args) as cluster:
        pools = sorted(cluster.list_pools())
    if args.detail:
        data = [pool_detail(name) for name in pools]
        plain = "\n".join(f"pool {d['pool_id']} '{d['pool_name']}' replicated size 1 min_size 1 crush_rule 0 "
                          "object_hash rjenkins pg_num 1 pgp_num 1 autoscale_mode off flags hashpspool "
                          "stripe_width 0 application rbd" for d in data)
    else:
        data, plain = pools, "\n".join(pools)
    emit(args, data, plain, root="pools", item="pool")
    return 0


def cmd_create(args: argparse.Namespace) -> int:
    with connected(args) as cluster:
        try:
            cluster.create_pool(args.pool)
        except Error as err:
            if err.errno != errno.EEXIST:
                raise
            info(f"pool '{args.pool}' already exists")
            return 0
    info(f"pool '{args.pool}' created")
    return 0


def cmd_rm(args: argparse.Namespace) -> int:
    if args.pool2 != args.pool or not args.confirm:
        raise Error(errno.EPERM, f"WARNING: this will *PERMANENTLY DESTROY* all data stored in pool {args.pool}.  "
                    "If you are *ABSOLUTELY CERTAIN* that is what you want, pass the pool name *twice*, followed "
                    f"by {CONFIRM}.")
    with connected(args) as cluster:
        try:
            cluster.remove_pool(args.pool)
        except Error as err:
            if err.errno != errno.ENOENT:
                raise
            info(f"pool '{args.pool}' does not exist")
            return 0
    info(f"pool '{args.pool}' removed")
    return 0


def cmd_get_quota(args: argparse.Namespace) -> int:
    with connected(args) as cluster:
        data = monitor_command(cluster, "osd pool get-quota", pool=args.pool)

    def shown(value: int) -> str:
        return "N/A" if not value else str(value)
    emit(args, data, f"quotas for pool '{args.pool}':\n  max objects: {shown(data['quota_max_objects'])}\n"
                     f"  max bytes  : {shown(data['quota_max_bytes'])}", root="quota")
    return 0


def cmd_application(args: argparse.Namespace) -> int:
    with connected(args) as cluster:
        if not cluster.pool_exists(args.pool):
            raise Error(errno.ENOENT, f"unrecognized pool '{args.pool}'")
    info(f"enabled application '{args.app}' on pool '{args.pool}'")
    return 0


def register(sub) -> None:
    """Add `osd pool ...` to the ceph command's subparsers."""
    osd = sub.add_parser("osd", help="pool commands").add_subparsers(dest="osd_command", required=True,
                                                                     metavar="<osd command>")
    pool = osd.add_parser("pool", help="pool commands").add_subparsers(dest="pool_command", required=True,
                                                                       metavar="<pool command>")
    p = pool.add_parser("ls", help="list the user's pools")
    p.add_argument("detail", nargs="?", choices=("detail",))
    p.set_defaults(handler=cmd_ls, what="pool ls")
    p = pool.add_parser("create", help="create a pool (a Curve directory owned by the user)")
    p.add_argument("pool")
    p.add_argument("pg_num", nargs="*", help="accepted for compatibility; ignored")
    p.set_defaults(handler=cmd_create, what="pool create")
    p = pool.add_parser("rm", aliases=["delete"], help=f"remove a pool: NAME NAME {CONFIRM}")
    p.add_argument("pool")
    p.add_argument("pool2", nargs="?")
    p.add_argument(CONFIRM, dest="confirm", action="store_true")
    p.set_defaults(handler=cmd_rm, what="pool rm")
    p = pool.add_parser("get-quota", help="a pool's quotas (Curve pools have none)")
    p.add_argument("pool")
    p.set_defaults(handler=cmd_get_quota, what="pool get-quota")
    app = pool.add_parser("application", help="pool applications").add_subparsers(
        dest="app_command", required=True, metavar="<application command>")
    p = app.add_parser("enable", help="accepted: every pool is an rbd pool")
    p.add_argument("pool")
    p.add_argument("app")
    p.add_argument("--yes-i-really-mean-it", action="store_true")
    p.set_defaults(handler=cmd_application, what="pool application enable")
