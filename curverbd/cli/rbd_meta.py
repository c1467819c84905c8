"""rbd image-meta get / set / list / remove."""
from __future__ import annotations

import argparse

from .common import add_image_options, emit, opened_image, step, table, target


def cmd_list(args: argparse.Namespace) -> int:
    pool, image, _ = target(args)
    with opened_image(args, pool, image, read_only=True) as img:
        meta = dict(sorted(img.metadata_list().items()))
    plain = None
    if meta:
        plain = (f"There {'is' if len(meta) == 1 else 'are'} {len(meta)} metadata on this image:\n\n"
                 + table(["Key", "Value"], [[k, v] for k, v in meta.items()]))
    emit(args, meta, plain, root="metadatas")
    return 0


def cmd_get(args: argparse.Namespace) -> int:
    pool, image, _ = target(args)
    with opened_image(args, pool, image, read_only=True) as img:
        with step(f"failed to get metadata {args.key} of image"):
            value = img.metadata_get(args.key)
    emit(args, value, value)
    return 0


def cmd_set(args: argparse.Namespace) -> int:
    pool, image, _ = target(args)
    with opened_image(args, pool, image) as img:
        with step(f"failed to set metadata {args.key} of image"):
            img.metadata_set(args.key, args.value)
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    pool, image, _ = target(args)
    with opened_image(args, pool, image) as img:
        with step(f"failed to remove metadata {args.key} of image"):
            img.metadata_remove(args.key)
    return 0


def register(sub) -> None:
    """Add `rbd image-meta ...` to the rbd command's subparsers."""
    meta = sub.add_parser("image-meta", help="image metadata (key/value) commands").add_subparsers(
        dest="meta_command", required=True, metavar="<image-meta command>")
    p = meta.add_parser("list", aliases=["ls"], help="list an image's metadata")
    add_image_options(p)
    p.set_defaults(handler=cmd_list, what="failed to list metadata of image")
    for name, aliases, handler, value in (("get", [], cmd_get, False), ("set", [], cmd_set, True),
                                          ("remove", ["rm"], cmd_remove, False)):
        p = meta.add_parser(name, aliases=aliases, help=f"{name} an image's metadata key")
        add_image_options(p)
        p.add_argument("key")
        if value:
            p.add_argument("value")
        p.set_defaults(handler=handler, what=f"failed to {name} metadata")
