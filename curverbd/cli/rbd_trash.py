"""rbd trash mv / ls / rm / restore / purge."""
from __future__ import annotations

import argparse
import datetime
import errno
import time

from ..errors import Error
from .common import (add_image_options, emit, info, opened_pool, spec_option, split_image_spec, step, table,
                     target)
from .progress import Progress
from .rbd_image import ctime


def _delay(args: argparse.Namespace) -> int:
    """Seconds the image must stay in the trash: --delay N, or --expires-at <ISO date/time>."""
    if args.expires_at:
        try:
            when = datetime.datetime.fromisoformat(args.expires_at).timestamp()
        except ValueError:
            raise Error(errno.EINVAL, f"--expires-at {args.expires_at!r}: expected an ISO date/time") from None
        return max(0, int(when - time.time()))
    return args.delay or 0


def cmd_mv(args: argparse.Namespace) -> int:
    pool, image, _ = target(args)
    with opened_pool(args, pool) as ioctx:
        ioctx.trash_move(image, _delay(args))
    return 0


def _id_spec(args: argparse.Namespace) -> tuple[str, str]:
    """(pool, image id) from ``[pool/]image-id`` or -p/--image-id."""
    spec = args.image_id_spec or args.image_id
    if not spec:
        raise Error(errno.EINVAL, "image id was not specified")
    pool, image_id, _ = split_image_spec(spec, args.pool)
    return pool, image_id


def cmd_ls(args: argparse.Namespace) -> int:
    pool = args.pool_spec or args.pool or "rbd"
    with opened_pool(args, pool) as ioctx:
        entries = sorted(ioctx.trash_list(), key=lambda e: e["deletion_time"])
    now = time.time()
    if args.long:
        data = [{"id": e["id"], "name": e["name"], "source": e["source"],
                 "deleted_at": ctime(e["deletion_time"]),
                 "status": ("expired at " if e["deferment_end_time"] <= now else "protected until ")
                 + ctime(e["deferment_end_time"]),
                 "deferment_end_time": ctime(e["deferment_end_time"])} for e in entries]
        rows = [[d["id"], d["name"], d["source"], d["deleted_at"], d["status"]] for d in data]
        plain = table(["ID", "NAME", "SOURCE", "DELETED_AT", "STATUS"], rows) if rows else None
    else:
        data = [{"id": e["id"], "name": e["name"]} for e in entries]
        plain = "\n".join(f"{e['id']} {e['name']}" for e in entries)
    emit(args, data, plain, root="trash", item="image")
    return 0


def cmd_rm(args: argparse.Namespace) -> int:
    pool, image_id = _id_spec(args)
    with opened_pool(args, pool) as ioctx, Progress.for_args("Removing image", args):
        try:
            ioctx.trash_remove(image_id, force=args.force)
        except Error as err:
            if err.errno == errno.EPERM:
                info("rbd: error: deferment time has not expired, please use --force if you really want to "
                     "remove the image")
            raise
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    pool, image_id = _id_spec(args)
    with opened_pool(args, pool) as ioctx:
        name = args.image
        if not name:
            entry = next((e for e in ioctx.trash_list() if e["id"] == image_id), None)
            if entry is None:
                raise Error(errno.ENOENT, f"no image with id {image_id} in the trash of pool {pool}")
            name = entry["name"]
        ioctx.trash_restore(image_id, name)
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    pool = args.pool_spec or args.pool or "rbd"
    with opened_pool(args, pool) as ioctx:
        now = time.time()
        expired = [e for e in ioctx.trash_list() if e["deferment_end_time"] <= now]
        with step("failed to purge trash"), Progress.for_args("Removing images", args) as progress:
            for done, entry in enumerate(expired):
                ioctx.trash_remove(entry["id"])
                progress.update(done + 1, len(expired))
    return 0


def register(sub) -> None:
    """Add `rbd trash ...` to the rbd command's subparsers."""
    trash = sub.add_parser("trash", help="trash commands").add_subparsers(dest="trash_command", required=True,
                                                                         metavar="<trash command>")
    p = trash.add_parser("mv", aliases=["move"], help="move an image to the trash")
    add_image_options(p)
    p.add_argument("--expires-at", help="keep it until this ISO date/time")
    p.add_argument("--delay", type=int, help="keep it this many seconds")
    p.set_defaults(handler=cmd_mv, what="deferred delete error")

    for name, aliases in (("ls", ["list"]), ("purge", [])):
        p = trash.add_parser(name, aliases=aliases, help="list trashed images" if name == "ls"
                             else "remove the expired images from the trash")
        p.add_argument("pool_spec", nargs="?")
        spec_option(p, "-p", "--pool")
        if name == "ls":
            p.add_argument("-a", "--all", action="store_true", help="accepted for compatibility")
            p.add_argument("-l", "--long", action="store_true")
            p.set_defaults(handler=cmd_ls, what="error listing trash")
        else:
            p.set_defaults(handler=cmd_purge, what="failed to purge trash")

    for name, aliases, handler, what in (("rm", ["remove"], cmd_rm, "delete error"),
                                         ("restore", [], cmd_restore, "restore error")):
        p = trash.add_parser(name, aliases=aliases, help=f"{name} an image in the trash by id")
        p.add_argument("image_id_spec", nargs="?", help="[pool/]image-id")
        spec_option(p, "-p", "--pool")
        p.add_argument("--image-id")
        if name == "rm":
            p.add_argument("--force", action="store_true", help="even before its deferment ends")
        else:
            spec_option(p, "--image", help="restore under this name")
        p.set_defaults(handler=handler, what=what)
