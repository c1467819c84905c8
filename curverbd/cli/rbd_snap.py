"""rbd snap create / ls / rm / purge / rollback / protect / unprotect / rename."""
from __future__ import annotations

import argparse
import errno

from ..errors import Error
from .common import add_image_options, emit, format_size, info, opened_image, split_image_spec, step, table, target
from .progress import Progress
from .rbd_image import ctime


NAMESPACE_USER = 0


def snap_dicts(snaps: list[dict], every: bool = False) -> list[dict]:
    """Ceph's `rbd snap ls --format json` entries: the user's snapshots, and with ``every`` (--all)
    those in other namespaces too (a removed snapshot that clones still read is in "trash")."""
    entries = []
    for s in snaps:
        user = s.get("namespace_type", NAMESPACE_USER) == NAMESPACE_USER
        if not (user or every):
            continue
        entry = {"id": s["id"], "name": s["name"], "size": s["size"],
                 "protected": "true" if s["protected"] else "false", "timestamp": ctime(s["timestamp"])}
        if every:
            entry["namespace"] = {"type": "user"} if user else {"type": "trash",
                                                               "original_name": s.get("original_name", "")}
        entries.append(entry)
    return entries


def cmd_create(args: argparse.Namespace) -> int:
    pool, image, snap = target(args, "required")
    with opened_image(args, pool, image) as img, Progress.for_args("Creating snap", args):
        img.create_snap(snap)
    return 0


def cmd_ls(args: argparse.Namespace) -> int:
    pool, image, _ = target(args)
    with opened_image(args, pool, image, read_only=True) as img:
        snaps = snap_dicts(img.list_snaps(), every=args.all)
    header = ["SNAPID", "NAME", "SIZE", "PROTECTED", "TIMESTAMP"] + (["NAMESPACE"] if args.all else [])
    rows = [[s["id"], s["name"], format_size(s["size"]), "yes" if s["protected"] == "true" else "", s["timestamp"]]
            + ([namespace_cell(s["namespace"])] if args.all else []) for s in snaps]
    emit(args, snaps, table(header, rows) if rows else None, root="snapshots", item="snapshot")
    return 0


def namespace_cell(namespace: dict) -> str:
    return "user" if namespace["type"] == "user" else f"trash ({namespace['original_name']})"


def cmd_rm(args: argparse.Namespace) -> int:
    pool, image, snap = target(args, "required")
    with opened_image(args, pool, image) as img:
        with step("failed to remove snapshot"), Progress.for_args("Removing snap", args):
            try:
                img.remove_snap(snap)
            except Error as err:
                if err.errno == errno.EBUSY:
                    info(f"rbd: snapshot '{snap}' is protected from removal.")
                raise
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    pool, image, _ = target(args)
    with opened_image(args, pool, image) as img:
        snaps = img.list_snaps()
        protected = [s["name"] for s in snaps if s["protected"]]
        with step("removing snaps failed"), Progress.for_args("Removing all snapshots", args) as progress:
            for done, snap in enumerate(s for s in snaps if not s["protected"]):
                img.remove_snap(snap["name"])
                progress.update(done + 1, len(snaps))
            if protected:
                info(f"rbd: snapshot{'s' if len(protected) > 1 else ''} {', '.join(protected)} "
                     "protected from removal: unprotect them first.")
                raise Error(errno.EBUSY, f"{pool}/{image}: protected snapshots remain")
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    pool, image, snap = target(args, "required")
    with opened_image(args, pool, image) as img:
        with step("rollback failed"), Progress.for_args("Rolling back to snapshot", args) as progress:
            img.rollback_to_snap(snap, progress.update)   # mainline Curve's Recover reports its progress
    return 0


def cmd_protect(args: argparse.Namespace) -> int:
    pool, image, snap = target(args, "required")
    with opened_image(args, pool, image) as img:
        with step("protecting snap failed"):
            img.protect_snap(snap)
    return 0


def cmd_unprotect(args: argparse.Namespace) -> int:
    pool, image, snap = target(args, "required")
    with opened_image(args, pool, image) as img:
        with step("unprotecting snap failed"):
            img.unprotect_snap(snap)
    return 0


def cmd_rename(args: argparse.Namespace) -> int:
    pool, image, snap = target(args, "required")
    dest = args.dest_snap_spec or args.dest_snap
    if not dest:
        raise Error(errno.EINVAL, "destination snapshot name was not specified")
    if "@" in dest:
        dest_pool, dest_image, dest_snap = split_image_spec(dest, pool)
        if (dest_pool, dest_image) != (pool, image):
            raise Error(errno.EINVAL, "source and destination image names must be the same")
    else:
        dest_snap = dest
    if not dest_snap:
        raise Error(errno.EINVAL, "destination snapshot name was not specified")
    with opened_image(args, pool, image) as img:
        with step("renaming snap failed"):
            img.rename_snap(snap, dest_snap)
    return 0


def register(sub) -> None:
    """Add `rbd snap ...` to the rbd command's subparsers."""
    snap = sub.add_parser("snap", help="snapshot commands").add_subparsers(dest="snap_command", required=True,
                                                                          metavar="<snap command>")
    for name, aliases, handler, what, helptext in (
            ("create", ["add"], cmd_create, "failed to create snapshot", "create a snapshot"),
            ("rm", ["remove"], cmd_rm, "failed to remove snapshot", "delete a snapshot"),
            ("rollback", ["revert"], cmd_rollback, "rollback failed", "roll the image back to a snapshot"),
            ("protect", [], cmd_protect, "protecting snap failed", "protect a snapshot from removal"),
            ("unprotect", [], cmd_unprotect, "unprotecting snap failed", "allow removing a snapshot")):
        p = snap.add_parser(name, aliases=aliases, help=helptext)
        add_image_options(p, snap=True)
        p.set_defaults(handler=handler, what=what)
    p = snap.add_parser("ls", aliases=["list"], help="list the snapshots of an image")
    add_image_options(p)
    p.add_argument("-a", "--all", action="store_true", help="list snapshots of every namespace (trash too)")
    p.set_defaults(handler=cmd_ls, what="failed to list snapshots")
    p = snap.add_parser("purge", help="delete all unprotected snapshots")
    add_image_options(p)
    p.set_defaults(handler=cmd_purge, what="removing snaps failed")
    p = snap.add_parser("rename", help="rename a snapshot")
    add_image_options(p, snap=True)
    p.add_argument("dest_snap_spec", nargs="?", help="[pool/]image@new-name or new-name")
    p.add_argument("--dest-snap")
    p.set_defaults(handler=cmd_rename, what="renaming snap failed")
