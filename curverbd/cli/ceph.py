"""The ``ceph`` command: the cluster and pool commands curverbd can answer."""
from __future__ import annotations

import argparse
import sys

from .common import add_global_options, connected, emit, fail


def cmd_pool_create(args: argparse.Namespace) -> int:
    with connected(args) as cluster:
        cluster.create_pool(args.pool)
    sys.stderr.write(f"pool '{args.pool}' created\n")
    return 0


def cmd_pool_ls(args: argparse.Namespace) -> int:
    with connected(args) as cluster:
        pools = sorted(cluster.list_pools())
    emit(args, pools, "\n".join(pools) if pools else None)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ceph", description="Cluster and pool commands of curverbd.")
    add_global_options(parser)
    top = parser.add_subparsers(dest="area", required=True)
    osd = top.add_parser("osd").add_subparsers(dest="what", required=True)
    pool = osd.add_parser("pool").add_subparsers(dest="verb", required=True)
    p = pool.add_parser("create", help="create a pool (a Curve directory owned by the user)")
    p.add_argument("pool")
    p.add_argument("pg_num", nargs="*", help="accepted for compatibility; ignored")
    p.set_defaults(handler=cmd_pool_create, what="error creating pool")
    p = pool.add_parser("ls", help="list the user's pools")
    p.add_argument("detail", nargs="?", choices=("detail",))
    p.set_defaults(handler=cmd_pool_ls, what="error listing pools")
    for p in pool.choices.values():
        add_global_options(p, defaults=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except OSError as err:
        return fail("ceph", args.what, err)


if __name__ == "__main__":
    sys.exit(main())
