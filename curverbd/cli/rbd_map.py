"""rbd map / unmap / showmapped / device ...: kernel RBD mapping does not exist here; say what to do instead."""
from __future__ import annotations

import argparse
import errno
import sys

from .common import spec_option, split_image_spec


def cmd_kernel(args: argparse.Namespace) -> int:
    spec = getattr(args, "image_spec", None) or getattr(args, "image", None)
    pool, image = (split_image_spec(spec, getattr(args, "pool", None))[:2] if spec and not spec.startswith("/dev/")
                   else (getattr(args, "pool", None) or "POOL", "IMAGE"))
    sys.stderr.write(
        "rbd: kernel mapping (krbd) is not available with curverbd; expose the image as a block device over "
        f"NBD instead: `qemu-nbd --connect=/dev/nbd0 rbd:{pool}/{image}` (modprobe nbd first), or serve it with "
        f"`qemu-storage-daemon --blockdev driver=rbd,node-name=disk,pool={pool},image={image} "
        "--nbd-server addr.type=unix,addr.path=/run/curverbd-nbd.sock --export type=nbd,id=e0,node-name=disk,"
        "writable=on`\n")
    return errno.EOPNOTSUPP


def _kernel_parser(sub, name: str, aliases: list[str] | None = None) -> None:
    p = sub.add_parser(name, aliases=aliases or [], help="not available: kernel RBD (see the message)")
    p.add_argument("image_spec", nargs="?")
    spec_option(p, "-p", "--pool")
    spec_option(p, "--image")
    spec_option(p, "--snap")
    p.add_argument("-o", "--options")
    p.add_argument("-t", "--device-type")
    p.add_argument("--read-only", action="store_true")
    p.add_argument("--exclusive", action="store_true")
    p.set_defaults(handler=cmd_kernel, what="kernel mapping")


def register(sub) -> None:
    """Add map, unmap, showmapped and device ... to the rbd command's subparsers."""
    for name in ("map", "unmap", "showmapped"):
        _kernel_parser(sub, name)
    device = sub.add_parser("device", help="not available: kernel RBD").add_subparsers(
        dest="device_command", required=True, metavar="<device command>")
    _kernel_parser(device, "map")
    _kernel_parser(device, "unmap")
    _kernel_parser(device, "list", ["ls"])
