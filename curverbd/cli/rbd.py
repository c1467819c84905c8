"""The ``rbd`` command: Ceph's image commands over curverbd."""
from __future__ import annotations

import argparse
import sys
import time

from ..errors import Error
from .common import (add_global_options, connected, emit, fail, format_size, parse_size,
                     split_image_spec)

DEFAULT_ORDER = 22  # 4 MiB objects, as librbd reports


def _image_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image_spec", nargs="?", help="[pool/]image")
    parser.add_argument("-p", "--pool")
    parser.add_argument("--image")


def _target(args: argparse.Namespace) -> tuple[str, str]:
    spec = args.image_spec or args.image
    if not spec:
        raise Error(22, "image name was not specified")
    pool, image, snap = split_image_spec(spec, args.pool)
    if snap:
        raise Error(22, f"{spec}: snapshots are not supported by this command yet")
    return pool, image


def cmd_create(args: argparse.Namespace) -> int:
    pool, image = _target(args)
    if args.size is None:
        raise Error(22, "must specify --size <M/G/T>")
    size = parse_size(args.size)
    with connected(args) as cluster:
        ioctx = cluster.open_ioctx(pool)
        try:
            ioctx.create_image(image, size, order=args.order)
        finally:
            ioctx.close()
    return 0


def cmd_ls(args: argparse.Namespace) -> int:
    pool = args.pool_spec or args.pool or "rbd"
    with connected(args) as cluster:
        ioctx = cluster.open_ioctx(pool)
        try:
            names = sorted(ioctx.list_images())
            if args.long:
                rows = [ioctx.stat_image(name) for name in names]
                data = [{"image": r["name"], "id": str(r["id"]), "size": r["size"], "format": 2} for r in rows]
                lines = ["NAME  SIZE  PARENT  FMT  PROT  LOCK"] + [
                    f"{r['name']}  {format_size(r['size'])}    2" for r in rows]
                emit(args, data, "\n".join(lines) if rows else None)
            else:
                emit(args, names, "\n".join(names) if names else None)
        finally:
            ioctx.close()
    return 0


def info_dict(record: dict) -> dict:
    """Ceph's `rbd info --format json` object for an image record."""
    order = record.get("order") or DEFAULT_ORDER
    obj = 1 << order
    size = record["size"]
    image_id = str(record["id"])
    return {
        "name": record["name"],
        "id": image_id,
        "size": size,
        "objects": (size + obj - 1) // obj,
        "order": order,
        "object_size": obj,
        "snapshot_count": 0,
        "block_name_prefix": f"rbd_data.{image_id}",
        "format": 2,
        "features": ["layering"],
        "op_features": [],
        "flags": [],
        "create_timestamp": time.strftime("%a %b %d %H:%M:%S %Y", time.localtime(record.get("created", 0))),
        "backend_size": record.get("backend_size", size),
    }


def cmd_info(args: argparse.Namespace) -> int:
    pool, image = _target(args)
    with connected(args) as cluster:
        ioctx = cluster.open_ioctx(pool)
        try:
            info = info_dict(ioctx.stat_image(image))
        finally:
            ioctx.close()
    plain = "\n\t".join([
        f"rbd image '{info['name']}':",
        f"size {format_size(info['size'])} in {info['objects']} objects",
        f"order {info['order']} ({format_size(info['object_size'])} objects)",
        f"snapshot_count: {info['snapshot_count']}",
        f"id: {info['id']}",
        f"block_name_prefix: {info['block_name_prefix']}",
        f"format: {info['format']}",
        f"features: {', '.join(info['features'])}",
        "op_features: ",
        "flags: ",
        f"create_timestamp: {info['create_timestamp']}",
        f"curve volume size: {format_size(info['backend_size'])}",
    ])
    emit(args, info, plain)
    return 0


def cmd_resize(args: argparse.Namespace) -> int:
    pool, image = _target(args)
    if args.size is None:
        raise Error(22, "must specify --size <M/G/T>")
    size = parse_size(args.size)
    with connected(args) as cluster:
        ioctx = cluster.open_ioctx(pool)
        try:
            img = ioctx.open_image(image)
            try:
                if size < img.size() and not args.allow_shrink:
                    raise Error(22, "shrinking an image is only allowed with the --allow-shrink flag")
                img.resize(size)
            finally:
                img.close()
        finally:
            ioctx.close()
    if not args.no_progress and sys.stderr.isatty():
        sys.stderr.write("Resizing image: 100% complete...done.\n")
    return 0


def cmd_rm(args: argparse.Namespace) -> int:
    pool, image = _target(args)
    with connected(args) as cluster:
        ioctx = cluster.open_ioctx(pool)
        try:
            ioctx.remove_image(image)
        finally:
            ioctx.close()
    if not args.no_progress and sys.stderr.isatty():
        sys.stderr.write("Removing image: 100% complete...done.\n")
    return 0


# command -> (handler, how Ceph describes its failure)
COMMANDS = {
    "create": (cmd_create, "create error"),
    "ls": (cmd_ls, "error listing images"),
    "list": (cmd_ls, "error listing images"),
    "info": (cmd_info, "error opening image"),
    "resize": (cmd_resize, "error resizing image"),
    "rm": (cmd_rm, "delete error"),
    "remove": (cmd_rm, "delete error"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rbd", description="Manage RBD images stored on CurveBS (curverbd).")
    add_global_options(parser)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("create",):
        p = sub.add_parser(name, help="create an empty image")
        _image_arg(p)
        p.add_argument("-s", "--size", help="size with optional unit (M default, K/G/T)")
        p.add_argument("--order", type=int)
        p.add_argument("--image-feature", action="append", help="accepted; layering is always on")
        p.add_argument("--image-format", type=int, default=2)
    for name in ("ls", "list"):
        p = sub.add_parser(name, help="list images in a pool")
        p.add_argument("pool_spec", nargs="?")
        p.add_argument("-p", "--pool")
        p.add_argument("-l", "--long", action="store_true")
    p = sub.add_parser("info", help="show image information")
    _image_arg(p)
    p = sub.add_parser("resize", help="resize an image (shrinking needs --allow-shrink)")
    _image_arg(p)
    p.add_argument("-s", "--size")
    p.add_argument("--allow-shrink", action="store_true")
    for name in ("rm", "remove"):
        p = sub.add_parser(name, help="delete an image")
        _image_arg(p)
    # Global flags may also follow the command, as Ceph allows.
    for p in sub.choices.values():
        add_global_options(p, defaults=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler, what = COMMANDS[args.command]
    if what.startswith("error opening image"):
        what = f"{what} {getattr(args, 'image_spec', None) or args.image}"
    try:
        return handler(args)
    except OSError as err:
        return fail("rbd", what, err)


if __name__ == "__main__":
    sys.exit(main())
