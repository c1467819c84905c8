"""Build the daemon's C frame loop (_fastloop.c) as a cffi extension module next to this file.

    python3 -m curverbd.server.build_fastpath

The module's name carries a hash of the C source and of this file's declarations, so a changed
source is never served by a stale build. fastpath.py builds it on first use if it is missing;
install-deps.sh builds it ahead. Without a C compiler the daemon runs its pure-Python path.
"""
from __future__ import annotations

import glob
import hashlib
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, "_fastloop.c")

CDEF = """
struct crbd_volume { int nebd_fd; int data_fd; int64_t length; int64_t blocksize; int align_check; };
struct crbd_splice { size_t at; int fd; uint64_t offset, size; };
struct crbd_bigwrite { int volume; uint64_t cid, offset, size; size_t at; };
struct crbd_pipe { int r, w; size_t size; };
struct crbd_batch {
    unsigned char *buf; size_t pos, end;
    unsigned char *out; size_t out_len, out_cap;
    struct crbd_volume *volumes; int nvolumes;
    int changes; size_t *changed; int max_changes;
    struct crbd_splice *splices; int nsplices, max_splices;
    struct crbd_bigwrite big;
};
int crbd_serve(struct crbd_batch *b);
int crbd_send(int sock, struct crbd_batch *b);
int crbd_splice_write(int sock, const struct crbd_pipe *p, struct crbd_batch *b);
"""


def module_name() -> str:
    """``_fastloop_<hash>``: the name of the build of the current source."""
    with open(SOURCE, "rb") as f:
        digest = hashlib.sha256(f.read() + CDEF.encode()).hexdigest()[:12]
    return f"_fastloop_{digest}"


def build(target_dir: str = HERE) -> str:
    """Compile the module into ``target_dir`` (atomically: concurrent builds are harmless); its path."""
    import cffi

    name = module_name()
    ffi = cffi.FFI()
    ffi.cdef(CDEF)
    with open(SOURCE) as f:
        ffi.set_source(name, f.read(), extra_compile_args=["-O2", "-Wall"])
    with tempfile.TemporaryDirectory(prefix="crbd-fastloop-") as tmp:
        built = ffi.compile(tmpdir=tmp, verbose=False)
        final = os.path.join(target_dir, os.path.basename(built))
        staging = final + f".{os.getpid()}.tmp"
        shutil.copyfile(built, staging)
        os.replace(staging, final)
    for old in glob.glob(os.path.join(target_dir, "_fastloop_*.so")):  # earlier builds of older sources
        if not os.path.basename(old).startswith(name):
            try:
                os.unlink(old)
            except OSError:
                pass
    return final


if __name__ == "__main__":
    print(build(sys.argv[1] if len(sys.argv) > 1 else HERE))
