"""rbd du (provisioned and used space) and rbd status (watchers)."""
from __future__ import annotations

import argparse
import errno

from ..errors import Error
from .common import add_image_options, emit, format_size, opened_image, opened_pool, split_image_spec, table, target


def _image_usage(img, only_snap: str | None = None) -> list[dict]:
    """Ceph's du rows of one image: its snapshots (oldest first), then the image itself."""
    rows = []
    image_id = str(img.id)
    for snap in img.list_snaps():
        if only_snap and snap["name"] != only_snap:
            continue
        img.set_snap(snap["name"])
        rows.append({"name": img.name, "snapshot": snap["name"], "snapshot_id": snap["id"], "id": image_id,
                     "provisioned_size": snap["size"], "used_size": img.allocated()})
    img.set_snap(None)
    if not only_snap:
        rows.append({"name": img.name, "id": image_id, "provisioned_size": img.size(),
                     "used_size": img.allocated()})
    return rows


def cmd_du(args: argparse.Namespace) -> int:
    spec = args.image_spec or args.image
    if spec:
        pool, image, snap = split_image_spec(spec, args.pool)
        names = [image]
    else:
        pool, snap, names = args.pool or "rbd", None, None
    rows: list[dict] = []
    with opened_pool(args, pool) as ioctx:
        for name in names if names is not None else sorted(ioctx.list_images()):
            try:
                with ioctx.open_image(name, read_only=True) as img:
                    rows += _image_usage(img, snap)
            except Error as err:
                if names is not None or err.errno != errno.ENOENT:   # removed meanwhile: skip
                    raise
    data = {"images": rows,
            "total_provisioned_size": sum(r["provisioned_size"] for r in rows if "snapshot" not in r),
            "total_used_size": sum(r["used_size"] for r in rows)}
    lines = [[r["name"] + (f"@{r['snapshot']}" if "snapshot" in r else ""), format_size(r["provisioned_size"]),
              format_size(r["used_size"])] for r in rows]
    if len(rows) > 1:
        lines.append(["<TOTAL>", format_size(data["total_provisioned_size"]), format_size(data["total_used_size"])])
    emit(args, data, table(["NAME", "PROVISIONED", "USED"], lines) if rows else None, root="stats")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    pool, image, _ = target(args)
    with opened_image(args, pool, image, read_only=True):
        # The daemon does not tell which clients hold an image open, so there are no watchers to list.
        watchers: list[dict] = []
    plain = "Watchers: none" if not watchers else "Watchers:\n" + "\n".join(
        f"\twatcher={w['address']} client.{w['client']} cookie={w['cookie']}" for w in watchers)
    emit(args, {"watchers": watchers}, plain, root="status")
    return 0


def register(sub) -> None:
    """Add du and status to the rbd command's subparsers."""
    p = sub.add_parser("du", aliases=["disk-usage"], help="provisioned and used space of images and snapshots")
    add_image_options(p, snap=False)
    p.add_argument("--from-snap", help="accepted for compatibility")
    p.add_argument("--exact", action="store_true", help="accepted; usage is always exact")
    p.set_defaults(handler=cmd_du, what="du failed")

    p = sub.add_parser("status", help="show the clients watching an image")
    add_image_options(p)
    p.set_defaults(handler=cmd_status, what="show status failed")
