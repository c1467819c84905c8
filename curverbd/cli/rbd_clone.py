"""rbd clone, flatten, children."""
from __future__ import annotations

import argparse

from .common import (add_dest_options, add_image_options, dest_target, emit, open_pool, opened_image,
                     opened_pool, step, target)
from .progress import Progress
from .rbd_image import features_of


def cmd_clone(args: argparse.Namespace) -> int:
    pool, image, snap = target(args, "required")
    dest_pool, dest = dest_target(args, pool)
    with opened_pool(args, pool) as parent_ioctx:
        child_ioctx = open_pool(parent_ioctx.cluster, dest_pool)
        try:
            parent_ioctx.clone(image, snap, child_ioctx, dest, features=features_of(args.image_feature),
                               order=args.order)
        finally:
            child_ioctx.close()
    return 0


def cmd_flatten(args: argparse.Namespace) -> int:
    pool, image, _ = target(args)
    with opened_image(args, pool, image) as img:
        with step("flatten error"), Progress.for_args("Image flatten", args) as progress:
            img.flatten(progress.update)
    return 0


def cmd_children(args: argparse.Namespace) -> int:
    pool, image, snap = target(args, "optional")
    with opened_image(args, pool, image, snap) as img:
        children = sorted(img.list_children())
    data = [{"pool": p, "pool_namespace": "", "image": name} for p, name in children]
    emit(args, data, "\n".join(f"{p}/{name}" for p, name in children), root="children", item="child")
    return 0


def register(sub) -> None:
    """Add clone, flatten and children to the rbd command's subparsers."""
    p = sub.add_parser("clone", help="clone a protected snapshot into a copy-on-write child image")
    add_image_options(p, snap=True)
    add_dest_options(p)
    p.add_argument("--order", type=int)
    p.add_argument("--image-feature", action="append")
    p.add_argument("--image-format", type=int, default=2)
    p.set_defaults(handler=cmd_clone, what="clone error")

    p = sub.add_parser("flatten", help="copy the parent's data into a clone and detach it")
    add_image_options(p)
    p.set_defaults(handler=cmd_flatten, what="flatten error")

    p = sub.add_parser("children", help="list the clones of an image's snapshots")
    add_image_options(p, snap=True)
    p.add_argument("-a", "--all", action="store_true", help="accepted; children of all snapshots without @snap")
    p.set_defaults(handler=cmd_children, what="listing children failed")
