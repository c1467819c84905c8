#!/usr/bin/env python3
"""Build librados.so.2 and librbd.so.1 (drop-in replacements for Ceph's, over curverbd).

    python3 build_so.py --out DIR

Layout (verified with QEMU 7.2, fio 3.33 and Debian's python3-rados/python3-rbd loaders):
- ``librados.so.2`` is a cffi embedding library. Every exported ``rados_*`` and ``rbd_*``
  function is C (shim_c/*.c); the embedded interpreter runs the control plane through
  ``extern "Python+C"`` callbacks (curverbd/capi). Symbols carry no version except the four of
  the ``LIBRADOS_14.2.0`` node (shim_c/librados.map).
- Each shim_c/*.c of C_SOURCES is its own compilation unit (its statics its own; what files
  share is declared in shim_c/internal.h and defined once, hidden), and so are the generated
  stubs and cffi's module (the boundary). The callbacks are defined by cffi's module and
  declared for the other units in crbd_boundary.h, generated from shim_c/cdef.h into the build
  directory (internal.h includes it). Nothing but the API is visible: -fvisibility=hidden.
- ``librbd.so.1`` is a stub: DT_NEEDED librados.so.2, RUNPATH $ORIGIN, so clients linking
  either name find the same single copy of the code.
- Every name in shim_c/exports.txt is exported: implemented in C, or a generated stub
  (-EOPNOTSUPP / no-op / NULL) so eagerly-bound clients load.

Which Python runs the control plane:
- a C host (QEMU, fio, libvirt): the library starts the interpreter it was built with (--python),
  without `site` (no .pth hooks inside QEMU); the standard library comes from that interpreter and
  _cffi_backend from its site-packages directory, appended to sys.path (shim_c/embed.c);
- a Python host (Debian's /usr/bin/python3 loading python3-rados/python3-rbd, or our own Python
  using ctypes/cffi): the host's interpreter. If the host cannot import _cffi_backend, the build
  interpreter's site-packages directory is appended to its sys.path (shim_c/embed.c).
- Either way curverbd is imported by location, never through sys.path: the package around the
  library when installed (<site-packages>/curverbd/lib/librados.so.2), else the source tree
  the library was built from (INIT_CODE below). An already imported curverbd is used as is.
  The host's sys.path and __main__ are left untouched otherwise.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile

ROOT = os.path.dirname(os.path.abspath(__file__))
SHIM = os.path.join(ROOT, "shim_c")
# nebd_wire.h: the nebd wire format in C, shared with the daemon's frame loop (shipped in the package)
WIRE_INCLUDE = os.path.join(ROOT, "curverbd", "nebd")
MODULE = "_curverbd_capi"
# one compilation unit each (the order is only that of the link)
C_SOURCES = ["log.c", "boundary.c", "outbuf.c", "embed.c", "completion.c", "buffers.c", "nebd_wire.c", "nebd_conn.c", "nebd_splice.c", "rangelock.c", "crypto.c", "io.c", "engine.c",
             "rados.c", "rados_objects.c", "rbd_image.c", "rbd_io.c", "rbd_options.c", "rbd_pacific.c",
             "rados_mon.c", "rbd_admin.c", "rbd_unsupported.c", "rbd_extras.c", "rbd_pool_extras.c",
             "rados_extras.c", "rados_ops.c"]
STUB_BODY = {
    "int": "CRBD_API long {name}(void) {{ stub_called(\"{name}\"); return -EOPNOTSUPP; }}",
    "void": "CRBD_API void {name}(void) {{ stub_called(\"{name}\"); }}",
    "ptr": "CRBD_API void *{name}(void) {{ stub_called(\"{name}\"); return NULL; }}",
}
# curverbd is imported by location, so the C side and the Python side always come from one
# build: the package around the library when installed (<site>/curverbd/lib/librados.so.2),
# else the tree it was built from. An already imported curverbd (a host that is our own Python)
# is used as is. The host's sys.path is left alone (our interpreter in a C host runs without
# `site`, see shim_c/embed.c).
INIT_CODE = """
import os
import sys
from _curverbd_capi import ffi, lib


def _import_curverbd(places):
    import importlib.util
    for top in places:
        init = os.path.join(top, "curverbd", "__init__.py")
        if os.path.isfile(init):
            spec = importlib.util.spec_from_file_location(
                "curverbd", init, submodule_search_locations=[os.path.dirname(init)])
            module = importlib.util.module_from_spec(spec)
            sys.modules["curverbd"] = module
            try:
                spec.loader.exec_module(module)
            except BaseException:
                del sys.modules["curverbd"]
                raise
            return


try:
    if "curverbd" not in sys.modules:
        _pkg = os.path.dirname(os.path.dirname(os.fsdecode(ffi.string(lib.crbd_library_path()))))
        _places = [os.path.dirname(_pkg)] if os.path.basename(_pkg) == "curverbd" else []
        _import_curverbd(_places + [{source_root!r}])
    from curverbd.capi import embed
    embed.start(ffi, lib)
except BaseException:
    import traceback
    _msg = "curverbd: the control plane failed to load:\\n" + traceback.format_exc()
    lib.crbd_log_write(_msg.encode(), len(_msg.encode()))
    raise
"""


def read(name: str) -> str:
    with open(os.path.join(SHIM, name)) as f:
        return f.read()


def exports() -> list[tuple[str, str, bool]]:
    """(name, kind, required_real) for every name a known client imports."""
    rows = []
    for line in read("exports.txt").splitlines():
        line = line.split("#", 1)[0].split()
        if line:
            rows.append((line[0], line[1], len(line) > 2 and line[2] == "real"))
    return rows


def implemented() -> set[str]:
    """Names defined with CRBD_API in the C sources."""
    names = set()
    for src in C_SOURCES:
        names.update(re.findall(r"^CRBD_API\s+[\w\s\*]+?\b(\w+)\s*\(", read(src), re.M))
    return names


def stubs_source(done: set[str]) -> str:
    missing = [n for n, _, real in exports() if real and n not in done]
    if missing:
        raise SystemExit(f"build_so: functions QEMU/libvirt/fio need are not implemented: {missing}")
    lines = ["/* generated by build_so.py from shim_c/exports.txt: not implemented yet */",
             '#include "internal.h"',
             "static void stub_called(const char *name)",
             "{ crbd_log(\"%s is not implemented by curverbd (returns -EOPNOTSUPP / NULL)\", name); }"]
    lines += [STUB_BODY[kind].format(name=name) for name, kind, _ in exports() if name not in done]
    return "\n".join(lines) + "\n"


BOUNDARY_HEADER = "crbd_boundary.h"
# cffi's module unit: the boundary. cffi_start_python() is static in it (cffi's _embedding.h),
# so embed.c reaches it through this hidden wrapper.
MODULE_PREAMBLE = """#include "internal.h"
int crbd_cffi_start_python(void) { return cffi_start_python(); }
"""


def boundary() -> tuple[str, str]:
    """cdef.h as cffi reads it, and as C reads it (crbd_boundary.h: the extern "Python+C" block,
    whose functions cffi's module defines, as plain declarations)."""
    cdef = read("cdef.h")
    block = re.search(r'extern "Python\+C"\s*\{(.*?)\n\}', cdef, re.S)
    if not block:
        raise SystemExit('build_so: shim_c/cdef.h has no extern "Python+C" { ... } block')
    body = re.sub(r"/\*.*?\*/", "", block.group(1), flags=re.S)   # a comment after a ';' is no declaration
    decls = [d.strip() for d in body.split(";") if d.strip()]
    c_text = "\n".join([
        "/* generated by build_so.py from shim_c/cdef.h (included by internal.h); do not edit */",
        "#ifndef CRBD_BOUNDARY_H", "#define CRBD_BOUNDARY_H",
        cdef[:block.start()] + "\n".join(f"{d};" for d in decls) + cdef[block.end():],
        "#endif", ""])
    return read("api_structs.h") + cdef, c_text


def cffi_dir() -> str:
    """The directory holding this interpreter's _cffi_backend (offered to host Pythons lacking one)."""
    import _cffi_backend
    return os.path.dirname(os.path.abspath(_cffi_backend.__file__))


def run(cmd: list[str]) -> None:
    subprocess.run(cmd, check=True)


def write(path: str, text: str) -> str:
    with open(path, "w") as f:
        f.write(text)
    return path


def compile_units(cc: str, units: list[tuple[str, list[str]]], work: str) -> list[str]:
    """gcc -c each (source, flags) into work, in parallel; the object files, in the order given."""
    from concurrent.futures import ThreadPoolExecutor

    def one(unit: tuple[str, list[str]]) -> str:
        src, flags = unit
        obj = os.path.join(work, os.path.splitext(os.path.basename(src))[0] + ".o")
        run([cc, "-c", *flags, src, "-o", obj])
        return obj

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        return list(pool.map(one, units))


def build(out: str, python: str, keep: str | None = None) -> None:
    import cffi

    os.makedirs(out, exist_ok=True)
    done = implemented()
    cdef, _ = boundary()
    ffi = cffi.FFI()
    ffi.cdef(cdef)
    ffi.embedding_init_code(INIT_CODE.replace("{source_root!r}", repr(ROOT)))

    work = keep or tempfile.mkdtemp(prefix="curverbd-build-")
    os.makedirs(work, exist_ok=True)
    write(os.path.join(work, BOUNDARY_HEADER), boundary()[1])
    units = [os.path.join(SHIM, src) for src in C_SOURCES]
    units.append(write(os.path.join(work, "crbd_stubs.c"), stubs_source(done)))
    ffi.set_source(MODULE, MODULE_PREAMBLE)
    module = os.path.join(work, MODULE + ".c")
    ffi.emit_c_code(module)

    libdir = sysconfig.get_config_var("LIBDIR")
    pylib = sysconfig.get_config_var("LDLIBRARY")          # libpython3.11.so
    soname = sysconfig.get_config_var("INSTSONAME") or pylib
    if not pylib.endswith(".so"):
        raise SystemExit(f"build_so: needs a shared libpython, this Python has {pylib}")
    cc = os.environ.get("CC", "gcc")
    # _GNU_SOURCE: what Python.h gave every file when they were one unit (splice, pipe2, GNU strerror_r)
    flags = ["-O2", "-g", "-fPIC", "-fvisibility=hidden", "-Wall", "-D_GNU_SOURCE",
             "-I", work, "-I", SHIM, "-I", WIRE_INCLUDE, "-I", sysconfig.get_paths()["include"],
             f'-DCRBD_PYTHON_EXE="{python}"', f'-DCRBD_LIBPYTHON="{soname}"', f'-DCRBD_CFFI_DIR="{cffi_dir()}"']
    objects = compile_units(cc, [(u, flags + ["-Wextra"]) for u in units]
                            + [(module, flags + ["-Wno-unused-function"])], work)   # cffi's code: its own
    rados = os.path.join(out, "librados.so.2")
    run([cc, "-shared", *objects, "-o", rados + ".tmp",
         "-Wl,-soname,librados.so.2", "-Wl,--version-script=" + os.path.join(SHIM, "librados.map"),
         # nodelete: its threads and the interpreter's atexit hooks outlive any dlclose of it
         "-Wl,-z,defs", "-Wl,-z,now", "-Wl,-z,nodelete", "-L", libdir, "-l" + pylib[3:-3], "-Wl,-rpath," + libdir,
         "-lpthread", "-ldl", "-lcrypto"])   # libcrypto: aes-xts of encrypted images (shim_c/crypto.c)
    os.replace(rados + ".tmp", rados)

    rbd = os.path.join(out, "librbd.so.1")
    stub = os.path.join(SHIM, "librbd_stub.c")
    run([cc, "-O2", "-fPIC", "-shared", stub, "-o", rbd + ".tmp", "-Wl,-soname,librbd.so.1",
         "-Wl,--no-as-needed", "-Wl,--enable-new-dtags", "-Wl,-rpath,$ORIGIN", rados])
    os.replace(rbd + ".tmp", rbd)
    check_exports(rados)
    if not keep:
        shutil.rmtree(work, ignore_errors=True)


def check_exports(lib: str) -> None:
    """Every name of exports.txt is a defined dynamic symbol (what eager binding needs)."""
    out = subprocess.run(["nm", "-D", "--defined-only", lib], check=True, capture_output=True, text=True).stdout
    have = {line.split()[-1].split("@")[0] for line in out.splitlines() if line.strip()}
    missing = [n for n, _, _ in exports() if n not in have]
    if missing:
        raise SystemExit(f"build_so: {lib} lacks exports {missing}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="directory for librados.so.2 and librbd.so.1")
    p.add_argument("--python", default=sys.executable,
                   help="interpreter whose site-packages the embedded Python uses (default: this one)")
    p.add_argument("--keep-build", metavar="DIR", help="keep the generated C source in DIR")
    args = p.parse_args(argv)
    build(os.path.abspath(args.out), args.python, args.keep_build)
    return 0


# --- PEP 517: `pip install .` and `pip install -e .` build the two libraries into curverbd/lib --------
# pyproject.toml names this file as the build backend; everything but the library build is setuptools'.
PACKAGE_LIBS = os.path.join(ROOT, "curverbd", "lib")


def _setuptools():
    from setuptools import build_meta
    return build_meta


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    build(PACKAGE_LIBS, sys.executable)
    return _setuptools().build_wheel(wheel_directory, config_settings, metadata_directory)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    build(PACKAGE_LIBS, sys.executable)
    return _setuptools().build_editable(wheel_directory, config_settings, metadata_directory)


def build_sdist(sdist_directory, config_settings=None):
    return _setuptools().build_sdist(sdist_directory, config_settings)


def __getattr__(name: str):
    """The remaining hooks (get_requires_for_*, prepare_metadata_for_*) are setuptools' own."""
    if name.startswith(("get_requires_for_build_", "prepare_metadata_for_build_")):
        return getattr(_setuptools(), name)
    raise AttributeError(name)


if __name__ == "__main__":
    sys.exit(main())
