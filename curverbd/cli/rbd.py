"""The ``rbd`` command: Ceph's image commands over curverbd.

This module only assembles the parser; each command group lives in its own
``rbd_*.py`` module with a ``register(subparsers)`` function.
"""
from __future__ import annotations

import sys

from . import (rbd_bench, rbd_clone, rbd_diff, rbd_image, rbd_io, rbd_map, rbd_meta, rbd_snap, rbd_trash,
               rbd_usage)
from .common import Parser, accept_global_options_everywhere, add_global_options, add_spec_defaults, parse, run_command

GROUPS = (rbd_image, rbd_snap, rbd_clone, rbd_io, rbd_diff, rbd_usage, rbd_trash, rbd_meta, rbd_bench, rbd_map)


def build_parser() -> Parser:
    parser = Parser(prog="rbd", description="Manage RBD images stored on CurveBS (curverbd).")
    add_global_options(parser)
    add_spec_defaults(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="<command>", parser_class=Parser)
    for group in GROUPS:
        group.register(sub)
    accept_global_options_everywhere(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = parse(build_parser(), argv)
    return run_command("rbd", args)


if __name__ == "__main__":
    sys.exit(main())
