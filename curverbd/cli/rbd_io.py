"""rbd import and export: raw image data to and from a file or stdin/stdout, keeping holes.

Import skips the all-zero blocks of the source (a new image reads as zeros) and,
for a regular file, its holes without reading them. Export to a regular file
writes only the blocks that hold data (the rest stays a hole, so the file is as
sparse as the image); to a pipe it writes every byte.
"""
from __future__ import annotations

import argparse
import errno
import os
import stat
import sys
from typing import Iterator

from ..errors import Error
from .common import (add_image_options, connected, image_spec, open_pool, opened_image, parse_size, spec_option, step,
                     target)
from .progress import Progress
from .rbd_image import features_of
from .transfer import CHUNK, Window, allocated_extents, chunks, data_runs, read_ahead, read_full, write_full


# --- import ----------------------------------------------------------------------------------------
def _source_size(fd: int) -> int | None:
    """The size of a file or block device; None for a pipe or terminal (read until EOF)."""
    st = os.fstat(fd)
    if stat.S_ISREG(st.st_mode):
        return st.st_size
    if stat.S_ISBLK(st.st_mode):
        return os.lseek(fd, 0, os.SEEK_END)
    return None


def _file_data(fd: int, size: int) -> Iterator[tuple[int, int]]:
    """(offset, length) of the data ranges of a regular file (its holes skipped), or all of it."""
    offset = 0
    while offset < size:
        try:
            start = os.lseek(fd, offset, os.SEEK_DATA)
            end = min(os.lseek(fd, start, os.SEEK_HOLE), size)
        except OSError as err:
            if err.errno == errno.ENXIO:        # no data after offset
                return
            yield offset, size - offset         # SEEK_DATA unsupported here: read it all
            return
        if start >= size:
            return
        yield start, end - start
        offset = end


def _import_known_size(fd: int, img, size: int, grain: int, progress: Progress) -> None:
    with Window() as window:
        for start, length in _file_data(fd, size):
            for offset, piece in chunks(start, length):
                data = os.pread(fd, piece, offset)
                if len(data) < piece:
                    raise Error(errno.EIO, f"source file shrank while importing (short read at {offset})")
                for lo, hi in data_runs(data, grain):
                    window.add(img.aio_write(offset + lo, data[lo:hi]))
                progress.update(offset + piece, size)


def _import_stream(fd: int, img, grain: int, progress: Progress) -> None:
    """Read until EOF, growing the image as the data arrives."""
    offset = 0
    with Window() as window:
        while True:
            data = read_full(fd, CHUNK)
            if not data:
                break
            img.resize(offset + len(data))
            for lo, hi in data_runs(data, grain):
                window.add(img.aio_write(offset + lo, data[lo:hi]))
            offset += len(data)
            progress.update(offset, offset)


def cmd_import(args: argparse.Namespace) -> int:
    path = args.path_name or args.path
    if not path:
        raise Error(errno.EINVAL, "path was not specified")
    name = args.image_spec or args.dest or args.image
    if not name:
        if path == "-":
            raise Error(errno.EINVAL, "destination image name must be specified when importing from stdin")
        name = os.path.basename(path)
    pool, image, _ = image_spec(name, args.dest_pool or args.pool, None, None)
    if args.export_format not in (None, 1):
        raise Error(errno.ENOTSUP, f"--export-format {args.export_format} is not supported (only 1, raw data)")
    grain = parse_size(args.sparse_size, "B") if args.sparse_size else 4096
    with step(f"error opening {path}"):
        fd = sys.stdin.fileno() if path == "-" else os.open(path, os.O_RDONLY)
    try:
        size = _source_size(fd)
        with connected(args) as cluster:
            ioctx = open_pool(cluster, pool)
            try:
                ioctx.create_image(image, size or 0, features=features_of(args.image_feature), order=args.order)
                try:
                    with ioctx.open_image(image) as img, Progress.for_args("Importing image", args) as progress:
                        if size is None:
                            _import_stream(fd, img, grain, progress)
                        else:
                            _import_known_size(fd, img, size, grain, progress)
                except BaseException:
                    try:   # like Ceph: no half-imported image left behind
                        ioctx.remove_image(image)
                    except Error:
                        pass
                    raise
            finally:
                ioctx.close()
    finally:
        if path != "-":
            os.close(fd)
    return 0


# --- export ----------------------------------------------------------------------------------------
def _export_sparse(img, fd: int, size: int, progress: Progress) -> None:
    """Write only the blocks holding data, then set the file's length: the rest stays holes."""
    extents = allocated_extents(img, size)
    pieces = [piece for offset, length in extents for piece in chunks(offset, length)]
    for offset, data in read_ahead(img, pieces):
        for lo, hi in data_runs(data):
            os.pwrite(fd, data[lo:hi], offset + lo)
        progress.update(offset + len(data), size)
    os.ftruncate(fd, size)


def _export_stream(img, fd: int, size: int, progress: Progress) -> None:
    """Write every byte in order; unallocated ranges become zeros without being read."""
    extents = allocated_extents(img, size)
    zeros = bytes(CHUNK)

    def pieces() -> Iterator[tuple[int, int, bool]]:
        offset = 0
        for start, length in extents + [(size, 0)]:
            for piece in chunks(offset, start - offset):
                yield (*piece, False)
            for piece in chunks(start, length):
                yield (*piece, True)
            offset = start + length

    plan = list(pieces())
    data_iter = read_ahead(img, [(o, n) for o, n, allocated in plan if allocated])
    for offset, length, allocated in plan:
        data = next(data_iter)[1] if allocated else zeros[:length]
        write_full(fd, data)
        progress.update(offset + length, size)


def cmd_export(args: argparse.Namespace) -> int:
    pool, image, snap = target(args, "optional")
    path = args.path_name or args.path
    if not path:
        raise Error(errno.EINVAL, "path was not specified")
    if args.export_format not in (None, 1):
        raise Error(errno.ENOTSUP, f"--export-format {args.export_format} is not supported (only 1, raw data)")
    with opened_image(args, pool, image, snap, read_only=True) as img:
        with step(f"error creating {path}"):
            fd = sys.stdout.fileno() if path == "-" else os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            size = img.size()
            with Progress.for_args("Exporting image", args) as progress:
                if stat.S_ISREG(os.fstat(fd).st_mode) and path != "-":
                    _export_sparse(img, fd, size, progress)
                else:
                    _export_stream(img, fd, size, progress)
        except BaseException:
            if path != "-":
                os.close(fd)
                os.unlink(path)
                fd = -1
            raise
        finally:
            if path != "-" and fd >= 0:
                os.close(fd)
    return 0


def register(sub) -> None:
    """Add import and export to the rbd command's subparsers."""
    p = sub.add_parser("import", help="import a raw image from a file ('-' for stdin)")
    p.add_argument("path_name", nargs="?", help="source file or '-'")
    p.add_argument("image_spec", nargs="?", help="[pool/]image to create (default: the file's name)")
    p.add_argument("--path")
    spec_option(p, "-p", "--pool")
    p.add_argument("--dest-pool")
    p.add_argument("--dest")
    spec_option(p, "--image")
    p.add_argument("--order", type=int)
    p.add_argument("--object-size", help="accepted; curverbd uses --order")
    p.add_argument("--image-feature", action="append")
    p.add_argument("--image-format", type=int, default=2)
    p.add_argument("--new-format", action="store_true", help="same as --image-format 2")
    p.add_argument("--image-shared", action="store_true", help="accepted for compatibility")
    p.add_argument("--stripe-unit", help="accepted for compatibility")
    p.add_argument("--stripe-count", help="accepted for compatibility")
    p.add_argument("--export-format", type=int)
    p.add_argument("--sparse-size", help="zero detection granularity (default 4K)")
    p.set_defaults(handler=cmd_import, what="import failed")

    p = sub.add_parser("export", help="export an image (or a snapshot) to a file ('-' for stdout)")
    add_image_options(p, snap=True)
    p.add_argument("path_name", nargs="?", help="destination file or '-'")
    p.add_argument("--path")
    p.add_argument("--export-format", type=int)
    p.set_defaults(handler=cmd_export, what="export error")
