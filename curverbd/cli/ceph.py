"""The ``ceph`` command: the cluster and pool commands curverbd can answer (ceph_cluster.py, ceph_pool.py).

Failures print Ceph's ``Error ENOENT: <message>`` and exit with the errno.
"""
from __future__ import annotations

import errno
import os
import sys

from ..errors import Error
from . import ceph_cluster, ceph_pool
from .common import Failed, Parser, accept_global_options_everywhere, add_global_options, parse

SHORTHANDS = {"-s": "status", "-v": "version", "--version": "version"}


def build_parser() -> Parser:
    parser = Parser(prog="ceph", description="Cluster and pool commands of curverbd.")
    add_global_options(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="<command>", parser_class=Parser)
    ceph_cluster.register(sub)
    ceph_pool.register(sub)
    accept_global_options_everywhere(parser)
    return parser


def _error(err: OSError) -> int:
    code = err.errno or errno.EIO
    name = errno.errorcode.get(code, str(code))
    message = err.strerror if isinstance(err, Error) and err.strerror else os.strerror(code)
    sys.stderr.write(f"Error {name}: {message}\n")
    return min(code, 255)


def main(argv: list[str] | None = None) -> int:
    argv = [SHORTHANDS.get(a, a) for a in (sys.argv[1:] if argv is None else argv)]
    args = parse(build_parser(), argv)
    try:
        return args.handler(args) or 0
    except Failed as failed:
        return _error(failed.error)
    except OSError as err:
        return _error(err)


if __name__ == "__main__":
    sys.exit(main())
