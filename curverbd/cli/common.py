"""What the rbd and ceph commands share: Ceph's global flags, sizes, output and errors.

Each command is a thin face over the core: it parses Ceph's arguments, calls
one core operation, and prints in Ceph's shapes. Failures print one line in
Ceph's form, ``rbd: <what>: (<errno>) <strerror>``, and exit with the errno.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from contextlib import contextmanager
from typing import Any, Iterator

from ..errors import Error
from ..core import Cluster

_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40, "P": 1 << 50}


def add_global_options(parser: argparse.ArgumentParser, defaults: bool = True) -> None:
    """Ceph's connection flags: --id/--user/-n client.NAME, -c/--conf, --cluster, --format.

    Ceph takes them before or after the command; the copy after it (``defaults=False``)
    must not overwrite what the copy before it parsed, so it has no defaults.
    """
    add = parser.add_argument if defaults else _without_default(parser)
    add("--id", "--user", dest="user", help="client id (without 'client.')")
    add("-n", "--name", dest="entity", help="client name, client.ID")
    add("-c", "--conf", help="Ceph-style configuration file")
    add("--cluster", default="ceph", help="cluster name (accepted, one cluster only)")
    add("--format", choices=("plain", "json", "xml", "json-pretty"), default="plain")
    add("--pretty-format", action="store_true", help="indent json output")
    add("--no-progress", action="store_true", help="no progress output")
    add("--keyring", "-k", help="accepted for compatibility; not used")


def _without_default(parser: argparse.ArgumentParser):
    def add(*names, **kwargs):
        kwargs["default"] = argparse.SUPPRESS
        return parser.add_argument(*names, **kwargs)
    return add


def user_of(args: argparse.Namespace) -> str:
    if args.user:
        return args.user
    if args.entity:
        kind, _, name = args.entity.partition(".")
        if kind != "client" or not name:
            raise Error(22, f"name {args.entity!r} is not of the form client.ID")
        return name
    return "admin"


def parse_size(text: str, default_unit: str = "M") -> int:
    """Ceph's sizes: a plain number means MiB; K/M/G/T/P (optionally with 'i', 'B') are binary units."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGTP]?)(?:i?B)?\s*", text, re.IGNORECASE)
    if not m:
        raise Error(22, f"invalid size {text!r}")
    number, unit = m.group(1), m.group(2).upper()
    value = float(number) * _UNITS[unit or default_unit]
    if value != int(value):
        raise Error(22, f"invalid size {text!r}: not a whole number of bytes")
    return int(value)


def format_size(size: int) -> str:
    """Ceph's human size: '1 GiB', '1.5 MiB', '512 B'."""
    for unit, name in ((1 << 50, "PiB"), (1 << 40, "TiB"), (1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if size >= unit:
            value = size / unit
            return f"{value:.0f} {name}" if value == int(value) else f"{value:.3g} {name}"
    return f"{size} B"


@contextmanager
def connected(args: argparse.Namespace) -> Iterator[Cluster]:
    cluster = Cluster(user=user_of(args), conffile=args.conf)
    cluster.connect()
    try:
        yield cluster
    finally:
        cluster.shutdown()


def emit(args: argparse.Namespace, data: Any, plain: str | None) -> None:
    """Print ``data`` as JSON when asked, else the plain text (if any)."""
    if args.format in ("json", "json-pretty", "xml"):
        indent = 4 if (args.pretty_format or args.format == "json-pretty") else None
        sys.stdout.write(json.dumps(data, indent=indent) + "\n")
    elif plain:
        sys.stdout.write(plain if plain.endswith("\n") else plain + "\n")


def fail(prog: str, what: str, err: OSError) -> int:
    """Print Ceph's one-line error and return the exit code (the errno)."""
    code = err.errno or 5
    sys.stderr.write(f"{prog}: {what}: ({code}) {os.strerror(code)}\n")
    detail = err.strerror if isinstance(err, Error) else None
    if detail and detail != os.strerror(code):
        sys.stderr.write(f"{prog}: {detail}\n")
    return min(code, 255)


def split_image_spec(spec: str, pool: str | None) -> tuple[str, str, str | None]:
    """``pool/image@snap`` (pool from -p when absent) -> (pool, image, snap)."""
    image, _, snap = spec.partition("@")
    if "/" in image:
        pool, _, image = image.partition("/")
        if "/" in image:  # pool/namespace/image: namespaces are not supported yet
            raise Error(22, f"image spec {spec!r}: namespaces are not supported")
    return pool or "rbd", image, (snap or None)
