"""What the rbd, ceph and curverbd commands share: Ceph's global flags, specs, sizes, output and errors.

Each command is a thin face over the core: it parses Ceph's arguments, calls
core operations, and prints in Ceph's shapes. A failure prints one line in
Ceph's form, ``rbd: <what failed>: (<errno>) <strerror>`` (plus the core's
message naming the object, when it says more), and exits with the errno.
"""
from __future__ import annotations

import argparse
import errno
import json
import os
import re
import sys
from contextlib import contextmanager
from typing import Any, Iterator
from xml.etree import ElementTree

from ..core import Cluster
from ..errors import Error

_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40, "P": 1 << 50}


# --- argument parsing ----------------------------------------------------------------------------
class Parser(argparse.ArgumentParser):
    """argparse with Ceph's manners: no abbreviated options, errors as ``<prog>: message``."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        tool = self.prog.split()[0]
        sys.stderr.write(f"{tool}: {message}\n{tool}: see '{self.prog} --help'\n")
        sys.exit(errno.EINVAL)


def add_global_options(parser: argparse.ArgumentParser, defaults: bool = True) -> None:
    """Ceph's connection and output flags: --id/--user, -n client.NAME, -c/--conf, --cluster, --format.

    Ceph takes them before or after the command; the copy after it (``defaults=False``)
    must not overwrite what the copy before it parsed, so it has no defaults.
    """
    add = parser.add_argument if defaults else _without_default(parser)
    add("--id", "--user", dest="user", default=None, help="client id (without 'client.')")
    add("-n", "--name", dest="entity", default=None, help="client name, client.ID")
    add("-c", "--conf", default=None, help="Ceph-style configuration file")
    add("--cluster", default="ceph", help="cluster name (accepted, one cluster only)")
    add("-f", "--format", choices=("plain", "json", "xml", "json-pretty", "xml-pretty"), default="plain")
    add("--pretty-format", action="store_true", default=False, help="indent json/xml output")
    add("--no-progress", action="store_true", default=False, help="no progress output")
    add("-k", "--keyring", default=None, help="accepted for compatibility; not used")
    add("-m", "--mon-host", dest="mon_host", default=None, help="accepted for compatibility; not used")


def _without_default(parser: argparse.ArgumentParser):
    def add(*names, **kwargs):
        kwargs["default"] = argparse.SUPPRESS
        return parser.add_argument(*names, **kwargs)
    return add


def leaf_parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """Every parser that ends a command (``rbd snap create``, ``ceph df``...), each once."""
    seen: set[int] = set()

    def walk(p: argparse.ArgumentParser):
        subs = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            yield p
        for action in subs:
            for child in action.choices.values():
                if id(child) not in seen:   # aliases map several names to one parser
                    seen.add(id(child))
                    yield from walk(child)
    yield from walk(parser)


def accept_global_options_everywhere(parser: argparse.ArgumentParser) -> None:
    """Ceph allows the global flags after the command too (and positionals between options: see parse())."""
    for leaf in leaf_parsers(parser):
        if leaf is not parser:
            add_global_options(leaf, defaults=False)
            optional = [a.dest for a in leaf._actions if not a.option_strings and a.nargs == "?"]
            leaf.set_defaults(_optional_positionals=optional)


def parse(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Parse like Ceph: optional positionals may be split by options (``IMG --from-snap S -``).

    argparse gives each run of positionals only to the slots still open, so a later
    run is left over; it fills the command's empty optional positionals in order.
    """
    args, extras = parser.parse_known_args(argv)
    slots = [dest for dest in getattr(args, "_optional_positionals", []) if getattr(args, dest, None) is None]
    for extra in extras:
        if (extra.startswith("-") and extra != "-") or not slots:
            parser.error(f"unrecognized arguments: {' '.join(extras[extras.index(extra):])}")
        setattr(args, slots.pop(0), extra)
    return args


def user_of(args: argparse.Namespace) -> str:
    """The client id from --id/--user or -n client.ID ('admin' by default)."""
    if args.user:
        return args.user
    if args.entity:
        kind, _, name = args.entity.partition(".")
        if kind != "client" or not name:
            raise Error(errno.EINVAL, f"name {args.entity!r} is not of the form client.ID")
        return name
    return "admin"


# --- sizes -----------------------------------------------------------------------------------------
def parse_size(text: str, default_unit: str = "M") -> int:
    """Ceph's sizes: a plain number means MiB; K/M/G/T/P (optionally with 'i', 'B') are binary units."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGTP]?)(?:i?B)?\s*", str(text), re.IGNORECASE)
    if not m:
        raise Error(errno.EINVAL, f"invalid size {text!r}")
    number, unit = m.group(1), m.group(2).upper()
    value = float(number) * _UNITS[unit or default_unit]
    if value != int(value):
        raise Error(errno.EINVAL, f"invalid size {text!r}: not a whole number of bytes")
    return int(value)


def parse_bytes(text: str) -> int:
    """A byte count as ``rbd bench`` takes it: a plain number means bytes."""
    return parse_size(text, default_unit="B")


def format_size(size: float) -> str:
    """Ceph's human size: '1 GiB', '1.5 MiB', '512 B'."""
    for unit, name in ((1 << 50, "PiB"), (1 << 40, "TiB"), (1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if size >= unit:
            value = size / unit
            if value == int(value) or value >= 999.5:   # 1023.9 MiB is '1024 MiB', never '1.02e+03'
                return f"{value:.0f} {name}"
            return f"{value:.3g} {name}"
    return f"{int(size)} B"


# --- image specs -----------------------------------------------------------------------------------
def split_image_spec(spec: str, pool: str | None) -> tuple[str, str, str | None]:
    """``pool/image@snap`` (pool from -p when absent, else 'rbd') -> (pool, image, snap)."""
    image, _, snap = spec.partition("@")
    if "/" in image:
        pool, _, image = image.partition("/")
        if "/" in image:  # pool/namespace/image
            raise Error(errno.EINVAL, f"image spec {spec!r}: namespaces are not supported")
    return pool or "rbd", image, (snap or None)


def image_spec(spec: str | None, pool: str | None, image: str | None, snap: str | None,
               snapshot: str = "forbidden") -> tuple[str, str, str | None]:
    """Resolve Ceph's two ways of naming an image: ``[pool/]image[@snap]`` or -p/--image/--snap.

    ``snapshot`` is 'forbidden', 'optional' or 'required', with Ceph's messages when violated.
    """
    name = spec or image
    if not name:
        raise Error(errno.EINVAL, "image name was not specified")
    pool_name, image_name, snap_name = split_image_spec(name, pool)
    snap_name = snap_name or snap
    if not image_name:
        raise Error(errno.EINVAL, "image name was not specified")
    if snapshot == "forbidden" and snap_name:
        raise Error(errno.EINVAL, "snapshot name specified for a command that doesn't use it")
    if snapshot == "required" and not snap_name:
        raise Error(errno.EINVAL, "snapshot name was not specified")
    return pool_name, image_name, snap_name


def add_image_options(parser: argparse.ArgumentParser, snap: bool = False, positional: bool = True,
                      name: str = "image_spec", help: str = "[pool/]image") -> None:
    """The image spec positional and -p/--pool, --image (and --snap)."""
    if positional:
        parser.add_argument(name, nargs="?", help=help + ("[@snap]" if snap else ""))
    spec_option(parser, "-p", "--pool")
    spec_option(parser, "--image")
    if snap:
        spec_option(parser, "--snap")


def spec_option(parser: argparse.ArgumentParser, *names: str, **kwargs) -> None:
    """-p/--pool, --image or --snap of one command. Ceph also takes them before the command word
    (``rbd -p vms snap purge img``), so their defaults come from the top parser (add_spec_defaults)."""
    parser.add_argument(*names, default=argparse.SUPPRESS, **kwargs)


def add_spec_defaults(parser: argparse.ArgumentParser) -> None:
    """-p/--pool, --image and --snap before the command word; None when given nowhere."""
    for names in (("-p", "--pool"), ("--image",), ("--snap",)):
        parser.add_argument(*names, default=None)


def target(args: argparse.Namespace, snapshot: str = "forbidden") -> tuple[str, str, str | None]:
    """The (pool, image, snap) a command acts on, from its image spec and -p/--image/--snap."""
    return image_spec(getattr(args, "image_spec", None), args.pool, args.image, getattr(args, "snap", None),
                      snapshot)


def add_dest_options(parser: argparse.ArgumentParser) -> None:
    """The destination image spec positional and --dest/--dest-pool (copy, clone, rename, import)."""
    parser.add_argument("dest_spec", nargs="?", help="[pool/]image of the destination")
    parser.add_argument("--dest")
    parser.add_argument("--dest-pool")


def dest_target(args: argparse.Namespace, default_pool: str | None) -> tuple[str, str]:
    """The destination (pool, image); its pool defaults to --dest-pool, then ``default_pool``."""
    name = args.dest_spec or args.dest
    if not name:
        raise Error(errno.EINVAL, "destination image name was not specified")
    pool, image, snap = split_image_spec(name, args.dest_pool or default_pool)
    if snap:
        raise Error(errno.EINVAL, "destination snapshot name specified for a command that doesn't use it")
    if not image:
        raise Error(errno.EINVAL, "destination image name was not specified")
    return pool, image


# --- failures --------------------------------------------------------------------------------------
class Failed(Exception):
    """An operation failed: ``what`` is Ceph's description of the step, ``error`` the OSError."""

    def __init__(self, what: str, error: OSError) -> None:
        super().__init__(what)
        self.what = what
        self.error = error


@contextmanager
def step(what: str) -> Iterator[None]:
    """Describe a failure inside the block the way Ceph does (``error opening image foo``)."""
    try:
        yield
    except Failed:
        raise
    except OSError as err:
        raise Failed(what, err) from err


def fail(prog: str, what: str, err: OSError) -> int:
    """Print Ceph's error line, with the core's detail (what and why) after it on the same line if it
    adds any; return the exit code."""
    code = err.errno or errno.EIO
    detail = err.strerror if isinstance(err, Error) else None
    extra = f": {detail}" if detail and detail != os.strerror(code) else ""
    sys.stderr.write(f"{prog}: {what}: ({code}) {os.strerror(code)}{extra}\n")
    return min(code, 255)


def run_command(prog: str, args: argparse.Namespace) -> int:
    """Run the handler the parser chose; Ceph's message and exit code on failure."""
    try:
        return args.handler(args) or 0
    except Failed as failed:
        return fail(prog, failed.what, failed.error)
    except OSError as err:
        return fail(prog, args.what, err)
    except KeyboardInterrupt:
        sys.stderr.write("\n")
        return 130   # 128 + SIGINT, as a shell reports it


# --- connections -----------------------------------------------------------------------------------
@contextmanager
def connected(args: argparse.Namespace) -> Iterator[Cluster]:
    """A connected core Cluster for the command's user and conf file."""
    with step("couldn't connect to the cluster"):
        cluster = Cluster(user=user_of(args), conffile=args.conf)
        cluster.connect()
    try:
        yield cluster
    finally:
        cluster.shutdown()


def open_pool(cluster: Cluster, pool: str):
    """The pool's IoCtx, failing as Ceph does (``error opening pool 'p'``)."""
    with step(f"error opening pool '{pool}'"):
        return cluster.open_ioctx(pool)


@contextmanager
def opened_image(args: argparse.Namespace, pool: str, image: str, snap: str | None = None,
                 read_only: bool = False) -> Iterator[Any]:
    """Connect, open the pool and the image (at ``snap``); close all afterwards."""
    with connected(args) as cluster:
        ioctx = open_pool(cluster, pool)
        try:
            with step(f"error opening image {image}" + (f"@{snap}" if snap else "")):
                img = ioctx.open_image(image, read_only=read_only or snap is not None, snapshot=snap)
            try:
                yield img
            finally:
                img.close()
        finally:
            ioctx.close()


@contextmanager
def opened_pool(args: argparse.Namespace, pool: str) -> Iterator[Any]:
    """Connect and open ``pool``; close both afterwards."""
    with connected(args) as cluster:
        ioctx = open_pool(cluster, pool)
        try:
            yield ioctx
        finally:
            ioctx.close()


# --- output ----------------------------------------------------------------------------------------
def emit(args: argparse.Namespace, data: Any, plain: str | None, root: str = "data", item: str = "item") -> None:
    """Print ``data`` as JSON / XML when asked, else the plain text (if any)."""
    pretty = args.pretty_format or args.format.endswith("-pretty")
    if args.format.startswith("json"):
        text = json.dumps(data, indent=4) if pretty else json.dumps(data, separators=(",", ":"))
    elif args.format.startswith("xml"):
        element = _xml(root, data, item)
        if pretty:
            ElementTree.indent(element)
        text = ElementTree.tostring(element, encoding="unicode")
    else:
        text = plain
    if text:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()


def _xml(tag: str, data: Any, item: str) -> ElementTree.Element:
    element = ElementTree.Element(tag)
    if isinstance(data, dict):
        for key, value in data.items():
            element.append(_xml(str(key), value, item))
    elif isinstance(data, (list, tuple)):
        for value in data:
            element.append(_xml(item, value, item))
    elif isinstance(data, bool):
        element.text = "true" if data else "false"
    elif data is not None:
        element.text = str(data)
    return element


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """Ceph's plain tables: left-aligned columns separated by two spaces."""
    cells = [headers] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells)


def info(message: str) -> None:
    """A note for the user on stderr (stdout stays for data)."""
    sys.stderr.write(message + "\n")
