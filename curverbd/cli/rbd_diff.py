"""rbd diff, export-diff and import-diff (Ceph's rbd diff v1 stream, see diff_stream.py)."""
from __future__ import annotations

import argparse
import errno
import io
import os
import stat
import sys

from ..errors import Error
from .common import add_image_options, emit, opened_image, step, table, target
from .diff_stream import DiffWriter, read_records
from .progress import Progress
from .transfer import Window, chunks, is_zero, read_ahead


def _extents(img, from_snap: str | None, whole_object: bool) -> list[tuple[int, int, bool]]:
    """(offset, length, exists) where the image (at its snapshot) differs from ``from_snap``."""
    found: list[tuple[int, int, bool]] = []

    def collect(offset: int, length: int, exists: bool) -> int:
        found.append((offset, length, bool(exists)))
        return 0
    img.diff_iterate(0, img.size(), from_snap, collect, include_parent=True, whole_object=whole_object)
    return found


def cmd_diff(args: argparse.Namespace) -> int:
    pool, image, snap = target(args, "optional")
    with opened_image(args, pool, image, snap, read_only=True) as img:
        extents = _extents(img, args.from_snap, args.whole_object)
    data = [{"offset": o, "length": n, "exists": "true" if e else "false"} for o, n, e in extents]
    rows = [[o, n, "data" if e else "zero"] for o, n, e in extents]
    emit(args, data, table(["Offset", "Length", "Type"], rows) if rows else None, root="extents", item="extent")
    return 0


def _export_diff(img, out, from_snap: str | None, to_snap: str | None, whole_object: bool,
                 progress: Progress) -> None:
    size = img.size()
    writer = DiffWriter(out)
    if from_snap:
        writer.from_snap(from_snap)
    if to_snap:
        writer.to_snap(to_snap)
    writer.size(size)
    extents = _extents(img, from_snap, whole_object)
    # data ranges are read ahead in pieces; zero ranges need no read
    reads = read_ahead(img, [piece for o, n, exists in extents if exists for piece in chunks(o, n)])
    for offset, length, exists in extents:
        if not exists:
            writer.zero(offset, length)
        else:
            for piece_offset, piece in chunks(offset, length):
                _, data = next(reads)
                if is_zero(data):
                    writer.zero(piece_offset, piece)
                else:
                    writer.data(piece_offset, data)
                progress.update(piece_offset + piece, size)
        progress.update(offset + length, size)
    writer.end()


def cmd_export_diff(args: argparse.Namespace) -> int:
    pool, image, snap = target(args, "optional")
    path = args.path_name or args.path
    if not path:
        raise Error(errno.EINVAL, "path was not specified")
    with opened_image(args, pool, image, snap, read_only=True) as img:
        with step(f"error creating {path}"):
            fd = sys.stdout.fileno() if path == "-" else os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        out = io.FileIO(fd, "wb", closefd=path != "-")
        buffered = io.BufferedWriter(out, buffer_size=1 << 20)
        try:
            with Progress.for_args("Exporting image", args) as progress:
                _export_diff(img, buffered, args.from_snap, snap, args.whole_object, progress)
            buffered.flush()
        except BaseException:
            if path != "-":
                os.unlink(path)
            raise
        finally:
            buffered.close() if path != "-" else buffered.detach()
    return 0


def _import_diff(img, src, total: int | None, progress: Progress) -> None:
    """Apply the stream's records to ``img``; create its end snapshot, as Ceph's import-diff does."""
    snaps = {s["name"] for s in img.list_snaps()}
    to_snap = None
    size = img.size()
    with Window() as window:
        for record in read_records(src):
            if record.tag == "f" and record.name not in snaps:
                raise Error(errno.ENOENT, f"start snapshot '{record.name}' does not exist in the image, aborting")
            elif record.tag == "t":
                if record.name in snaps:
                    raise Error(errno.EEXIST, f"end snapshot '{record.name}' already exists, aborting")
                to_snap = record.name
            elif record.tag == "s":
                size = record.length
                if size != img.size():
                    window.drain()
                    img.resize(size)
            elif record.tag == "w":
                if is_zero(record.data):
                    window.add(img.aio_write_zeroes(record.offset, record.length))
                else:
                    window.add(img.aio_write(record.offset, record.data))
            elif record.tag == "z":
                window.add(img.aio_write_zeroes(record.offset, record.length))
            if record.tag in "wz":
                if total is not None:
                    progress.update(src.tell(), total)
                else:
                    progress.update(record.offset + record.length, size)
    img.flush()
    if to_snap:
        img.create_snap(to_snap)


def cmd_import_diff(args: argparse.Namespace) -> int:
    path = args.path_name or args.path
    if not path:
        raise Error(errno.EINVAL, "path was not specified")
    pool, image, _ = target(args)
    with step(f"error opening {path}"):
        fd = sys.stdin.fileno() if path == "-" else os.open(path, os.O_RDONLY)
    src = io.BufferedReader(io.FileIO(fd, "rb", closefd=path != "-"), buffer_size=1 << 20)
    st = os.fstat(fd)
    total = st.st_size if stat.S_ISREG(st.st_mode) and st.st_size else None
    try:
        with opened_image(args, pool, image) as img:
            with Progress.for_args("Importing image diff", args) as progress:
                _import_diff(img, src, total, progress)
    finally:
        src.close() if path != "-" else src.detach()
    return 0


def register(sub) -> None:
    """Add diff, export-diff and import-diff to the rbd command's subparsers."""
    p = sub.add_parser("diff", help="list the extents that differ since a snapshot (or image creation)")
    add_image_options(p, snap=True)
    p.add_argument("--from-snap")
    p.add_argument("--whole-object", action="store_true")
    p.set_defaults(handler=cmd_diff, what="diff error")

    p = sub.add_parser("export-diff", help="export the changes since a snapshot to a file ('-' for stdout)")
    add_image_options(p, snap=True)
    p.add_argument("path_name", nargs="?", help="destination file or '-'")
    p.add_argument("--path")
    p.add_argument("--from-snap")
    p.add_argument("--whole-object", action="store_true")
    p.set_defaults(handler=cmd_export_diff, what="export-diff error")

    p = sub.add_parser("import-diff", help="apply a diff from a file ('-' for stdin) to an image")
    p.add_argument("path_name", nargs="?", help="source file or '-'")
    add_image_options(p)
    p.add_argument("--path")
    p.add_argument("--sparse-size", help="accepted for compatibility")
    p.add_argument("--no-error", action="store_true", help="accepted for compatibility")
    p.set_defaults(handler=cmd_import_diff, what="import-diff failed")
