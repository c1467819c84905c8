"""curverbd env and install-libs: where our librbd.so.1 / librados.so.2 are, and how hosts find them."""
from __future__ import annotations

import argparse
import errno
import os
import subprocess
import sys

from ..config import Config
from ..errors import Error
from .common import info

LIBRARIES = ("librbd.so.1", "librados.so.2")
SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD_SCRIPT = os.path.join(SOURCE_ROOT, "build_so.py")
PACKAGE_LIBS = os.path.join(SOURCE_ROOT, "curverbd", "lib")  # where `pip install` builds them


def lib_dir_of(args: argparse.Namespace) -> str | None:
    """The directory of our built libraries: --lib-dir, else $CURVERBD_LIB_DIR, else the ones
    `pip install` built into the package (None if there are none)."""
    path = getattr(args, "lib_dir", None) or os.environ.get("CURVERBD_LIB_DIR")
    if not path and os.path.isdir(PACKAGE_LIBS):
        path = PACKAGE_LIBS
    return os.path.abspath(path) if path else None


def socket_of(args: argparse.Namespace) -> str:
    """The daemon socket clients will use: --socket, else what the client configuration says."""
    if getattr(args, "socket", None):
        return os.path.abspath(args.socket)
    conf = Config(args.user or "admin")
    try:
        conf.read_file(args.conf, missing_ok=not args.conf)
    except Error:
        pass   # doctor reports a bad conf file; here the default socket is the best answer
    return conf.socket


def cmd_env(args: argparse.Namespace) -> int:
    libs = lib_dir_of(args)
    if not libs:
        raise Error(errno.EINVAL, "no library directory: pass --lib-dir DIR or set CURVERBD_LIB_DIR "
                                  "(build them with: curverbd install-libs --prefix DIR)")
    missing = [name for name in LIBRARIES if not os.path.isfile(os.path.join(libs, name))]
    if missing:
        raise Error(errno.ENOENT, f"{' and '.join(missing)} not found in {libs} "
                                  "(build them with: curverbd install-libs --prefix DIR)")
    socket = socket_of(args)
    preload = " ".join(os.path.join(libs, name) for name in LIBRARIES)
    sys.stdout.write(
        "# qemu, qemu-img, qemu-storage-daemon, fio (shell):\n"
        f"export LD_LIBRARY_PATH={libs}${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}\n"
        f"export CURVERBD_SOCKET={socket}\n"
        "# or, to load ours even over a program's RPATH:\n"
        f"export LD_PRELOAD=\"{preload}\"\n"
        "\n"
        "# /etc/default/libvirtd (libvirtd's environment; restart libvirtd after editing):\n"
        f"LD_LIBRARY_PATH={libs}\n"
        f"LD_PRELOAD=\"{preload}\"\n"
        "# qemu started by libvirt may not inherit CURVERBD_SOCKET: name the socket in /etc/ceph/ceph.conf:\n"
        f"#   [global]\n#   curverbd_socket = {socket}\n")
    return 0


def cmd_install_libs(args: argparse.Namespace) -> int:
    if not os.path.exists(BUILD_SCRIPT):
        raise Error(errno.ENOENT, f"{BUILD_SCRIPT} not found: install-libs needs a curverbd source checkout")
    out = os.path.join(os.path.abspath(args.prefix), "lib")
    proc = subprocess.run([sys.executable, BUILD_SCRIPT, "--out", out], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    if proc.returncode:
        sys.stderr.write(proc.stderr)
        raise Error(errno.EIO, f"build_so.py failed (exit {proc.returncode})")
    info(f"installed {' and '.join(LIBRARIES)} in {out}\n"
         f"use them with: export CURVERBD_LIB_DIR={out}; eval \"$(curverbd env)\"   (see `curverbd doctor`)")
    return 0


def register(sub) -> None:
    """Add env and install-libs to the curverbd command's subparsers."""
    p = sub.add_parser("env", help="print the LD_LIBRARY_PATH / LD_PRELOAD lines for qemu and libvirtd")
    p.add_argument("--lib-dir", help="our libraries (default $CURVERBD_LIB_DIR)")
    p.add_argument("--socket", help="the daemon socket (default from the conf / $CURVERBD_SOCKET)")
    p.set_defaults(handler=cmd_env, what="env")
    p = sub.add_parser("install-libs", help="build librbd.so.1 and librados.so.2 into PREFIX/lib")
    p.add_argument("--prefix", required=True)
    p.set_defaults(handler=cmd_install_libs, what="install-libs")
