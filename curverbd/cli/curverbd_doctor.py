"""curverbd doctor: one line per check, ``ok`` or ``FAIL ...; fix: ...``; exit 1 if any check fails.

Checks, in order: our libraries load; QEMU's block-rbd module resolves them;
the conf file; the daemon's socket permissions; the daemon answers; Curve's MDS
answers (which address, clock skew inside Curve's 15 s window, the owner's
auth); the RBD state home (etcd) answers; the user reaches its pool.
"""
from __future__ import annotations

import argparse
import errno
import glob
import os
import pwd
import socket as sockets
import stat
import subprocess
import sys
from typing import NamedTuple

from ..config import Config
from ..core import Cluster
from ..curve.etcd import Etcd
from ..curve.mds import MdsClient, parse_addrs
from ..curve.nameserver2 import StatusCode
from ..curve.status import MdsError
from ..errors import Error
from .curverbd_env import LIBRARIES, lib_dir_of, socket_of
from .common import user_of

QEMU_MODULE_GLOB = "/usr/lib/*/qemu/block-rbd.so"
INSTALL_FIX = "curverbd install-libs --prefix DIR, then export CURVERBD_LIB_DIR=DIR/lib (or pass --lib-dir)"
LOAD_PROBE = (  # run in a fresh interpreter: a broken library must not take the doctor down with it
    "import ctypes, sys\n"
    "ctypes.CDLL(sys.argv[2], mode=ctypes.RTLD_GLOBAL)\n"
    "lib = ctypes.CDLL(sys.argv[1])\n"
    "v = [ctypes.c_int() for _ in range(3)]\n"
    "lib.rbd_version(*[ctypes.byref(x) for x in v])\n"
    "print('.'.join(str(x.value) for x in v))\n")


class Check(NamedTuple):
    name: str
    ok: bool
    text: str
    fix: str = ""

    def line(self) -> str:
        if self.ok:
            return f"ok    {self.name}: {self.text}"
        return f"FAIL  {self.name}: {self.text}; fix: {self.fix}"


def _ldd(path: str, lib_dir: str | None) -> dict[str, str]:
    """{soname: resolved path or 'not found'} as the dynamic loader sees ``path`` (with lib_dir first)."""
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    if lib_dir:
        env["LD_LIBRARY_PATH"] = lib_dir
    else:
        env.pop("LD_LIBRARY_PATH", None)
    out = subprocess.run(["ldd", path], env=env, capture_output=True, text=True, timeout=30).stdout
    found = {}
    for line in out.splitlines():
        name, arrow, rest = line.strip().partition(" => ")
        if arrow:
            found[name] = rest.split(" (")[0].strip()
    return found


def check_libraries(lib_dir: str | None) -> Check:
    name = "libraries"
    if not lib_dir:
        return Check(name, False, "no library directory (neither --lib-dir nor $CURVERBD_LIB_DIR)", INSTALL_FIX)
    missing = [lib for lib in LIBRARIES if not os.path.isfile(os.path.join(lib_dir, lib))]
    if missing:
        return Check(name, False, f"{' and '.join(missing)} not found in {lib_dir}", INSTALL_FIX)
    rbd, rados = (os.path.join(lib_dir, lib) for lib in LIBRARIES)
    for lib in (rbd, rados):
        unresolved = [dep for dep, where in _ldd(lib, lib_dir).items() if where == "not found"]
        if unresolved:
            return Check(name, False, f"{os.path.basename(lib)} needs {', '.join(unresolved)}, which the loader "
                         "cannot find", "install the Python shared library the libraries were built with, or "
                         "rebuild them: " + INSTALL_FIX)
    probe = subprocess.run([sys.executable, "-c", LOAD_PROBE, rbd, rados], capture_output=True, text=True,
                           timeout=120)
    if probe.returncode:
        last = (probe.stderr.strip().splitlines() or ["no output"])[-1]
        return Check(name, False, f"{lib_dir}: loading and calling rbd_version failed ({last})",
                     "rebuild them: " + INSTALL_FIX)
    return Check(name, True, f"{' and '.join(LIBRARIES)} in {lib_dir} load (rbd_version {probe.stdout.strip()})")


def check_qemu(lib_dir: str | None) -> Check:
    name = "qemu"
    modules = sorted(glob.glob(QEMU_MODULE_GLOB))
    if not modules:
        return Check(name, False, "QEMU's rbd block module (block-rbd.so) is not installed",
                     "apt-get install qemu-block-extra")
    module = modules[0]
    if not lib_dir:
        return Check(name, False, f"cannot tell what {module} loads without our library directory", INSTALL_FIX)
    ours = _ldd(module, lib_dir)
    wrong = {lib: ours.get(lib, "not needed") for lib in LIBRARIES
             if os.path.realpath(ours.get(lib, "")) != os.path.realpath(os.path.join(lib_dir, lib))}
    if wrong:
        found = ", ".join(f"{lib} => {where}" for lib, where in wrong.items())
        return Check(name, False, f"{module} with LD_LIBRARY_PATH={lib_dir} resolves {found}",
                     f"make sure {lib_dir} holds both libraries under their sonames: " + INSTALL_FIX)
    default = _ldd(module, os.environ.get("LD_LIBRARY_PATH"))
    now = default.get(LIBRARIES[0], "not found")
    note = "" if os.path.dirname(os.path.realpath(now)) == os.path.realpath(lib_dir) else \
        f" (in this environment it would load {now}: use `curverbd env`)"
    return Check(name, True, f"{os.path.basename(module)} loads our libraries with LD_LIBRARY_PATH={lib_dir}{note}")


def check_conf(conf_path: str | None, user: str) -> Check:
    name = "conf"
    config = Config(user)
    path = conf_path or next((p for p in config.default_paths() if os.path.exists(p)), None)
    if path is None:
        return Check(name, True, f"no conf file ({', '.join(config.default_paths())}); defaults apply")
    try:
        config.read_file(path)
    except Error as err:
        fix = ("create it or drop --conf" if err.errno == errno.ENOENT else
               f"make it readable by this user (chmod 644 {path})" if err.errno == errno.EACCES else
               f"fix the syntax in {path} (key = value lines under [global] / [client])")
        return Check(name, False, f"{path}: {err.strerror}", fix)
    if os.stat(path).st_mode & stat.S_IWOTH:
        return Check(name, False, f"{path} is writable by every user (it names the daemon socket)",
                     f"chmod o-w {path}")
    return Check(name, True, f"{path} (curverbd_socket = {config.socket})")


def _owner(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def check_socket(socket: str) -> Check:
    name = "socket"
    try:
        st = os.stat(socket)
    except PermissionError:
        return Check(name, False, f"this user cannot reach {socket} (a directory on its path is closed)",
                     "open the directories on the path (chmod o+x) or run as their owner")
    except FileNotFoundError:
        return Check(name, False, f"no socket at {socket}: the daemon is not running there",
                     f"curverbd server start --socket {socket}")
    if not stat.S_ISSOCK(st.st_mode):
        return Check(name, False, f"{socket} is not a socket", f"remove it and run curverbd server start "
                                                               f"--socket {socket}")
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o007:
        return Check(name, False, f"{socket} is mode {mode:04o}: every local user can read and write every volume",
                     f"chmod 0600 {socket} (or restart the daemon: it creates the socket 0600, or 0660 with "
                     "--socket-group GROUP)")
    if not os.access(socket, os.R_OK | os.W_OK):
        return Check(name, False, f"this user ({_owner(os.getuid())}) cannot use {socket} (mode {mode:04o}, owner "
                     f"{_owner(st.st_uid)}, group {st.st_gid})",
                     f"run as {_owner(st.st_uid)}, or start the daemon with --socket-group GROUP and add this user "
                     "to GROUP")
    return Check(name, True, f"{socket} is mode {mode:04o}, owner {_owner(st.st_uid)}, usable by this user")


def _probe(socket: str) -> int:
    """0 if a plain connect to the socket works, else the errno (the core reports them all as ECONNREFUSED)."""
    with sockets.socket(sockets.AF_UNIX) as s:
        s.settimeout(5)
        try:
            s.connect(socket)
        except OSError as err:
            return err.errno or errno.EIO
    return 0


def check_daemon(cluster: Cluster | None, error: Error | None, socket: str) -> Check:
    name = "daemon"
    if cluster is not None:
        return Check(name, True, f"curverbd-server answers on {socket} (fsid {cluster.fsid()})")
    code = _probe(socket)
    if code in (errno.EACCES, errno.EPERM):
        return Check(name, False, f"permission denied connecting to {socket}", "see the socket line")
    if code in (errno.ECONNREFUSED, errno.ENOENT):
        return Check(name, False, f"nothing answers on {socket} ({os.strerror(code)})",
                     f"curverbd server start --socket {socket}")
    return Check(name, False, f"cannot use {socket}: {error}", f"curverbd server status --socket {socket}; "
                 "see the daemon's log in its data dir")


PROBE_PATH = "/curverbd-doctor-probe"   # a path nobody has: kFileNotExists means the auth passed
SKEW_PROBES_S = (12, -12)               # inside Curve's 15 s window from either side


def check_mds(conf: Config, user: str) -> Check:
    """Curve's MDS: reachable, which address answered, the clock inside its window, the owner's auth."""
    name = "mds"
    addrs, source = conf.mds_addrs()
    try:
        mds = MdsClient(parse_addrs(addrs), user, conf.password(), max_retry=3.0)
    except ValueError as exc:
        return Check(name, False, f"bad MDS address list from {source}: {exc}",
                     "set curve_mds_addrs = host:port[,host:port...] in ceph.conf")

    def probe(offset_s: int) -> int:
        """0 if the MDS accepted our auth, else the errno."""
        mds.date_offset_us = offset_s * 1_000_000
        try:
            mds.stat(PROBE_PATH)
        except MdsError as exc:
            return 0 if exc.status == StatusCode.kFileNotExists else exc.errno
        except Error as exc:
            return exc.errno
        return 0
    try:
        first = probe(0)
        if first == errno.ETIMEDOUT:
            return Check(name, False, f"no Curve MDS answers at {addrs} (from {source})",
                         "start the MDS (or curverbd server start), or fix curve_mds_addrs / $CURVERBD_MDS")
        if first == 0:
            return Check(name, True, f"Curve MDS at {mds.address} (of {addrs}, from {source}) accepts "
                                     f"client.{user}")
        if first != errno.EPERM:
            return Check(name, False, f"Curve MDS at {mds.address}: {os.strerror(first)}", "see the MDS's log")
        skewed = [s for s in SKEW_PROBES_S if probe(s) == 0]
        if skewed:
            return Check(name, False, f"Curve MDS at {mds.address} refuses our date: this clock is about "
                                      f"{abs(skewed[0])} s {'behind' if skewed[0] > 0 else 'ahead of'} the MDS's "
                                      "(Curve allows 15 s)", "sync the clocks (chrony / systemd-timesyncd)")
        return Check(name, False, f"Curve MDS at {mds.address} refuses the credentials of client.{user}",
                     "for root, set key = <Curve's mds.auth.rootPassword> for client.root in ceph.conf "
                     "(or a keyring)")
    finally:
        mds.close()


def check_state_home(conf: Config) -> Check:
    name = "rbd-state"
    endpoints, source = conf.etcd_endpoints()
    try:
        etcd = Etcd(endpoints, timeout=3.0)
        try:
            revision = etcd.revision()
        finally:
            etcd.close()
    except Error as exc:
        return Check(name, False, f"the RBD state home (etcd at {endpoints}, from {source}) does not answer: "
                                  f"{exc.strerror}", "set curve_etcd_endpoints to the cluster's etcd "
                                  "(mds.etcd.endpoint in Curve's mds.conf), or curverbd server start")
    return Check(name, True, f"etcd at {endpoints} (from {source}) answers, revision {revision}")


def check_pool(cluster: Cluster | None, user: str, pool: str) -> Check:
    name = "pool"
    if cluster is None:
        return Check(name, False, f"cannot check pool '{pool}' for client.{user}: the daemon does not answer",
                     "see the daemon line")
    try:
        with cluster.open_ioctx(pool) as ioctx:
            count = len(ioctx.list_images())
    except Error as err:
        if err.errno == errno.ENOENT:
            return Check(name, False, f"pool '{pool}' does not exist for client.{user}",
                         f"ceph osd pool create {pool} --id {user}")
        if err.errno == errno.EPERM:
            return Check(name, False, f"pool '{pool}' belongs to another user, not client.{user}",
                         "use that user's --id, or a pool of this user's")
        return Check(name, False, f"pool '{pool}': {err}", "see the daemon's log")
    return Check(name, True, f"client.{user} reaches pool '{pool}' ({count} images)")


def _connect(args: argparse.Namespace, user: str, socket: str) -> tuple[Cluster | None, Error | None]:
    os.environ["CURVERBD_SOCKET"] = socket   # the socket under examination, whatever else says
    try:
        cluster = Cluster(user=user, conffile=args.conf)
        cluster.connect()
        return cluster, None
    except Error as err:
        return None, err
    except OSError as err:
        return None, Error(err.errno or errno.EIO, str(err))


def cmd_doctor(args: argparse.Namespace) -> int:
    user = user_of(args)
    lib_dir = lib_dir_of(args)
    socket = socket_of(args)
    checks = [check_libraries(lib_dir), check_qemu(lib_dir), check_conf(args.conf, user), check_socket(socket)]
    cluster, error = _connect(args, user, socket)
    conf = Config(user)
    try:
        conf.read_file(args.conf, missing_ok=not args.conf)
    except Error:
        pass   # the conf line says what is wrong with it
    try:
        checks += [check_daemon(cluster, error, socket), check_mds(conf, user), check_state_home(conf),
                   check_pool(cluster, user, args.pool)]
    finally:
        if cluster is not None:
            cluster.shutdown()
    for check in checks:
        print(check.line())
    return 0 if all(c.ok for c in checks) else 1


def register(sub) -> None:
    """Add doctor to the curverbd command's subparsers."""
    p = sub.add_parser("doctor", help="check the set-up, one line per check, with fixes")
    p.add_argument("--lib-dir", help="our built libraries (default $CURVERBD_LIB_DIR)")
    p.add_argument("--socket", help="the daemon socket (default from the conf / $CURVERBD_SOCKET)")
    p.add_argument("-p", "--pool", default="rbd", help="the pool the user should reach (default rbd)")
    p.set_defaults(handler=cmd_doctor, what="doctor")
