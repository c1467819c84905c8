"""rbd create, rm, ls, info, resize, rename, copy."""
from __future__ import annotations

import argparse
import errno
import time

from ..errors import Error
from .common import (add_dest_options, add_image_options, dest_target, emit, format_size, info, opened_image,
                     opened_pool, parse_size, spec_option, step, table, target)
from ..features import FEATURE_NAMES, OP_FEATURE_NAMES
from .progress import Progress

DEFAULT_ORDER = 22  # 4 MiB objects, as librbd reports



def names_of(bits: int, table_: tuple) -> list[str]:
    return [name for bit, name in table_ if bits & bit]


def features_of(names: list[str] | None) -> int | None:
    """--image-feature values (names or numbers, repeated or comma-separated) -> feature bits."""
    if not names:
        return None
    by_name = {name: bit for bit, name in FEATURE_NAMES}
    bits = 0
    for item in ",".join(names).split(","):
        item = item.strip()
        if item.isdigit():
            bits |= int(item)
        elif item in by_name:
            bits |= by_name[item]
        else:
            raise Error(errno.EINVAL, f"unknown image feature {item!r}")
    return bits


def ctime(seconds: float) -> str:
    """Ceph's timestamps: 'Mon Jan  1 12:00:00 2024'."""
    return time.asctime(time.localtime(seconds or 0))


def info_dict(record: dict, snap: dict | None = None) -> dict:
    """Ceph's `rbd info --format json` object for an ImageRecord (at a snapshot's SnapRecord)."""
    order = record.get("order") or DEFAULT_ORDER
    obj = 1 << order
    size = snap["size"] if snap else record["size"]
    image_id = str(record["id"])
    data = {
        "name": record["name"],
        "id": image_id,
        "size": size,
        "objects": -(-size // obj),
        "order": order,
        "object_size": obj,
        "snapshot_count": record.get("snapshot_count", 0),
        "block_name_prefix": f"rbd_data.{image_id}",
        "format": 2,
        "features": names_of(record.get("features", 1), FEATURE_NAMES),
        "op_features": names_of(record.get("op_features", 0), OP_FEATURE_NAMES),
        "flags": [],
        "create_timestamp": ctime(record.get("created", 0)),
        "backend_size": record.get("backend_size", size),
    }
    if snap:
        data["protected"] = "true" if snap["protected"] else "false"
    parent = record.get("parent")
    if parent:
        data["parent"] = {"pool": parent["pool"], "pool_namespace": "", "image": parent["image"],
                          "snapshot": parent["snap"], "trash": False, "overlap": size}
    return data


def cmd_info(args: argparse.Namespace) -> int:
    pool, image, snap = target(args, "optional")
    with opened_image(args, pool, image, snap) as img:
        record = img.stat()
        snap_record = next((s for s in img.list_snaps() if s["name"] == snap), None) if snap else None
    data = info_dict(record, snap_record)
    lines = [f"rbd image '{data['name']}':",
             f"\tsize {format_size(data['size'])} in {data['objects']} objects",
             f"\torder {data['order']} ({format_size(data['object_size'])} objects)",
             f"\tsnapshot_count: {data['snapshot_count']}",
             f"\tid: {data['id']}",
             f"\tblock_name_prefix: {data['block_name_prefix']}",
             f"\tformat: {data['format']}",
             f"\tfeatures: {', '.join(data['features'])}",
             f"\top_features: {', '.join(data['op_features'])}",
             "\tflags: ",
             f"\tcreate_timestamp: {data['create_timestamp']}"]
    if "protected" in data:
        lines.append(f"\tprotected: {'True' if data['protected'] == 'true' else 'False'}")
    if "parent" in data:
        p = data["parent"]
        lines.append(f"\tparent: {p['pool']}/{p['image']}@{p['snapshot']}")
        lines.append(f"\toverlap: {format_size(p['overlap'])}")
    lines.append(f"\tcurve volume size: {format_size(data['backend_size'])}")
    emit(args, data, "\n".join(lines), root="image")
    return 0


def cmd_create(args: argparse.Namespace) -> int:
    pool, image, _ = target(args)
    if args.size is None:
        raise Error(errno.EINVAL, "must specify --size <M/G/T>")
    size = parse_size(args.size)
    with opened_pool(args, pool) as ioctx:
        ioctx.create_image(image, size, features=features_of(args.image_feature), order=args.order)
    return 0


def cmd_rm(args: argparse.Namespace) -> int:
    pool, image, _ = target(args)
    with opened_pool(args, pool) as ioctx, Progress.for_args("Removing image", args):
        try:
            ioctx.remove_image(image)
        except Error as err:
            if err.errno == errno.ENOTEMPTY:
                info("rbd: image has snapshots - these must be deleted with 'rbd snap purge' before the "
                     "image can be removed.")
            elif err.errno == errno.EBUSY:
                info("rbd: error: image still has watchers or clones\nThis means the image is still open, "
                     "or the access to it was not shut down cleanly, or it has clones.")
            raise
    return 0


def cmd_ls(args: argparse.Namespace) -> int:
    pool = args.pool_spec or args.pool or "rbd"
    with opened_pool(args, pool) as ioctx:
        names = sorted(ioctx.list_images())
        if not args.long:
            emit(args, names, "\n".join(names), root="images", item="name")
            return 0
        data, rows = [], []
        for name, img in ioctx.each_image():
            record, snaps = img.stat(), img.list_snaps()
            parent = record.get("parent")
            parent_spec = f"{parent['pool']}/{parent['image']}@{parent['snap']}" if parent else ""
            entry = {"image": name, "id": str(record["id"]), "size": record["size"], "format": 2}
            if parent:
                entry["parent"] = {"pool": parent["pool"], "pool_namespace": "", "image": parent["image"],
                                   "snapshot": parent["snap"]}
            data.append(entry)
            rows.append([name, format_size(record["size"]), parent_spec, 2, "", ""])
            for snap in snaps:
                data.append({"image": name, "id": str(record["id"]), "snapshot": snap["name"],
                             "snapshot_id": snap["id"], "size": snap["size"], "format": 2,
                             "protected": "true" if snap["protected"] else "false"})
                rows.append([f"{name}@{snap['name']}", format_size(snap["size"]), "", 2,
                             "yes" if snap["protected"] else "", ""])
    emit(args, data, table(["NAME", "SIZE", "PARENT", "FMT", "PROT", "LOCK"], rows) if rows else None,
         root="images", item="image")
    return 0


def cmd_resize(args: argparse.Namespace) -> int:
    pool, image, _ = target(args)
    if args.size is None:
        raise Error(errno.EINVAL, "must specify --size <M/G/T>")
    size = parse_size(args.size)
    with opened_image(args, pool, image) as img:
        if size < img.size() and not args.allow_shrink:
            raise Error(errno.EINVAL, "shrinking an image is only allowed with the --allow-shrink flag")
        with step("resize error"), Progress.for_args("Resizing image", args):
            img.resize(size)
    return 0


def cmd_rename(args: argparse.Namespace) -> int:
    pool, image, _ = target(args)
    dest_pool, dest = dest_target(args, pool)
    if dest_pool != pool:
        raise Error(errno.EINVAL, "mv/rename across pools not supported")
    with opened_pool(args, pool) as ioctx:
        ioctx.rename_image(image, dest)
    return 0


def cmd_copy(args: argparse.Namespace) -> int:
    pool, image, snap = target(args, "optional")
    dest_pool, dest = dest_target(args, pool)
    with opened_image(args, pool, image, snap, read_only=True) as img:
        dest_ioctx = img.ioctx.cluster.open_ioctx(dest_pool)
        try:
            with Progress.for_args("Image copy", args):
                img.copy(dest_ioctx, dest)
        finally:
            dest_ioctx.close()
    return 0


def register(sub) -> None:
    """Add this module's commands to the rbd command's subparsers."""
    p = sub.add_parser("create", help="create an empty image")
    add_image_options(p)
    p.add_argument("-s", "--size", help="size with optional unit (M default, K/G/T)")
    p.add_argument("--order", type=int)
    p.add_argument("--object-size", help="accepted; curverbd uses --order")
    p.add_argument("--image-feature", action="append", help="feature names or bits (layering is always on)")
    p.add_argument("--image-format", type=int, default=2)
    p.add_argument("--new-format", action="store_true", help="same as --image-format 2")
    p.add_argument("--image-shared", action="store_true", help="accepted for compatibility")
    p.add_argument("--stripe-unit", help="accepted for compatibility")
    p.add_argument("--stripe-count", help="accepted for compatibility")
    p.set_defaults(handler=cmd_create, what="create error")

    p = sub.add_parser("ls", aliases=["list"], help="list images in a pool")
    p.add_argument("pool_spec", nargs="?")
    spec_option(p, "-p", "--pool")
    p.add_argument("-l", "--long", action="store_true", help="with sizes, parents and snapshots")
    p.set_defaults(handler=cmd_ls, what="error listing images")

    p = sub.add_parser("info", help="show image information")
    add_image_options(p, snap=True)
    p.set_defaults(handler=cmd_info, what="error getting image info")

    p = sub.add_parser("resize", help="resize an image (shrinking needs --allow-shrink)")
    add_image_options(p)
    p.add_argument("-s", "--size")
    p.add_argument("--allow-shrink", action="store_true")
    p.set_defaults(handler=cmd_resize, what="resize error")

    p = sub.add_parser("rm", aliases=["remove"], help="delete an image")
    add_image_options(p)
    p.set_defaults(handler=cmd_rm, what="delete error")

    p = sub.add_parser("rename", aliases=["mv"], help="rename an image (within its pool)")
    add_image_options(p)
    add_dest_options(p)
    p.set_defaults(handler=cmd_rename, what="rename error")

    p = sub.add_parser("copy", aliases=["cp"], help="copy an image (or a snapshot of it) to a new image")
    add_image_options(p, snap=True)
    add_dest_options(p)
    p.set_defaults(handler=cmd_copy, what="copy failed")
