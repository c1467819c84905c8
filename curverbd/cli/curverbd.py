"""The ``curverbd`` command: run the daemon, check the set-up, point hosts at our libraries.

    curverbd server start|stop|status    curverbd doctor    curverbd env    curverbd install-libs --prefix DIR
"""
from __future__ import annotations

import sys

from . import curverbd_doctor, curverbd_env, curverbd_server
from .common import Parser, accept_global_options_everywhere, add_global_options, parse, run_command


def build_parser() -> Parser:
    parser = Parser(prog="curverbd", description="Set up and check curverbd (librbd/librados over CurveBS).")
    add_global_options(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="<command>", parser_class=Parser)
    for group in (curverbd_server, curverbd_doctor, curverbd_env):
        group.register(sub)
    accept_global_options_everywhere(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    return run_command("curverbd", parse(build_parser(), argv))


if __name__ == "__main__":
    sys.exit(main())
