"""Build the daemon's C frame loop (_fastloop.c) as a cffi extension module next to this file.

    python3 -m curverbd.server.build_fastpath

The module's name carries a hash of the C source and of the headers it includes (_fastloop.h, which
is also the cdef, and curverbd/nebd/nebd_wire.h), so a changed source is never served by a stale
build. A wheel carries a build made when the wheel was built (setup.py) and those three files;
install-deps.sh builds it ahead in a checkout. Otherwise fastpath.py
builds it on first use, next to this file, or in $CURVERBD_FASTPATH_CACHE (default
~/.cache/curverbd) when the install is read-only. Without a C compiler the daemon runs its
pure-Python path.
"""
from __future__ import annotations

import glob
import hashlib
import importlib
import importlib.util
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, "_fastloop.c")
# The loop's declarations (structs, return codes, entry points): included by _fastloop.c and read
# here as the cdef, so cffi and the C code share one layout.
DECLARATIONS = os.path.join(HERE, "_fastloop.h")
# The nebd wire format in C, shared with the client library (shim_c/nebd_wire.c).
WIRE_DIR = os.path.join(os.path.dirname(HERE), "nebd")
WIRE_HEADER = os.path.join(WIRE_DIR, "nebd_wire.h")
INPUTS = (SOURCE, DECLARATIONS, WIRE_HEADER)


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} is missing: this install of curverbd lacks the C source of "
                                "the daemon's frame loop (a packaging bug)") from None


def cdef() -> str:
    """_fastloop.h as cffi's cdef: its preprocessor lines (guard, includes) dropped."""
    return "\n".join(line for line in _read(DECLARATIONS).splitlines() if not line.lstrip().startswith("#"))


def module_name() -> str:
    """``_fastloop_<hash>``: the name of the build of the current source and headers."""
    digest = hashlib.sha256()
    for path in INPUTS:
        digest.update(_read(path).encode())
    return f"_fastloop_{digest.hexdigest()[:12]}"


def build(target_dir: str = HERE) -> str:
    """Compile the module into ``target_dir`` (atomically: concurrent builds are harmless); its path."""
    import cffi

    name = module_name()
    ffi = cffi.FFI()
    ffi.cdef(cdef())
    ffi.set_source(name, _read(SOURCE), include_dirs=[HERE, WIRE_DIR], depends=list(INPUTS),
                   extra_compile_args=["-O2", "-Wall"])
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


def cache_dir() -> str:
    """Where builds go when the package directory is not writable (a root-owned install)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.environ.get("CURVERBD_FASTPATH_CACHE") or os.path.join(base, "curverbd", "fastloop")


def load_module():
    """The built module of the current source: shipped or built before, else built now (next to this
    file, or in cache_dir() if that is read-only). Raises what stopped it (no compiler, no source)."""
    name = module_name()
    package = __package__ or "curverbd.server"
    try:
        return importlib.import_module(f"{package}.{name}")
    except ImportError:
        pass
    cached = glob.glob(os.path.join(cache_dir(), name + ".*.so"))
    if not cached:
        if os.access(HERE, os.W_OK):
            built = build(HERE)
        else:  # a root-owned or read-only install: a per-user build
            os.makedirs(cache_dir(), exist_ok=True)
            built = build(cache_dir())
        if os.path.dirname(built) == HERE:
            importlib.invalidate_caches()
            return importlib.import_module(f"{package}.{name}")
        cached = [built]
    spec = importlib.util.spec_from_file_location(f"{package}.{name}", cached[0])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules[spec.name] = module
    return module


if __name__ == "__main__":
    print(build(sys.argv[1] if len(sys.argv) > 1 else HERE))
