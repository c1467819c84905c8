"""curverbd server start | stop | status: run curverbd-server in the background with a pid file."""
from __future__ import annotations

import argparse
import errno
import os
import signal
import socket as sockets
import subprocess
import sys
import time

from ..errors import Error
from ..server.config import default_data_dir
from .common import info
from .curverbd_env import SOURCE_ROOT, socket_of

WAIT = 15.0   # seconds to wait for the daemon to answer, or to exit


def _paths(args: argparse.Namespace) -> tuple[str, str, str]:
    """(socket, data dir, pid file) of the daemon this command manages."""
    data_dir = os.path.abspath(args.data_dir or default_data_dir())
    pid_file = os.path.abspath(args.pid_file or os.path.join(data_dir, "curverbd-server.pid"))
    return socket_of(args), data_dir, pid_file


def _alive(pid: int, cmdline: bytes | None = None) -> bool:
    """True if process ``pid`` runs (not a zombie) and, if given, its command line contains ``cmdline``."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = f.read()
    except (OSError, IndexError):
        return False
    return state != "Z" and (cmdline is None or cmdline in args)


def _server_pid(pid_file: str) -> int | None:
    """The pid in ``pid_file`` if that process is alive and is curverbd-server; else None."""
    try:
        with open(pid_file) as f:
            pid = int(f.read().strip())
    except (OSError, ValueError):
        return None
    return pid if _alive(pid, b"curverbd.server") or _alive(pid, b"curverbd-server") else None


def answers(socket: str) -> bool:
    """True if something accepts connections on the unix socket."""
    try:
        with sockets.socket(sockets.AF_UNIX) as s:
            s.settimeout(2)
            s.connect(socket)
        return True
    except OSError:
        return False


def cmd_start(args: argparse.Namespace) -> int:
    socket, data_dir, pid_file = _paths(args)
    pid = _server_pid(pid_file)
    if pid is not None:
        info(f"curverbd-server is already running (pid {pid}, socket {socket})")
        return 0
    cmd = [sys.executable, "-m", "curverbd.server.main", "--socket", socket, "--data-dir", data_dir,
           "--daemonize", "--pid-file", pid_file]
    if args.socket_group:
        cmd += ["--socket-group", args.socket_group]
    env = dict(os.environ)
    env["PYTHONPATH"] = SOURCE_ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    extra = args.server_args[1:] if args.server_args[:1] == ["--"] else args.server_args
    proc = subprocess.run(cmd + extra, env=env, stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if proc.returncode:
        sys.stderr.write(proc.stderr)
        raise Error(errno.EIO, f"curverbd-server did not start (exit {proc.returncode}); "
                               f"see {os.path.join(data_dir, 'curverbd-server.log')}")
    started = time.monotonic()
    while not answers(socket):
        waited = time.monotonic() - started
        if waited > WAIT or (waited > 1.0 and _server_pid(pid_file) is None):
            raise Error(errno.ETIMEDOUT, f"curverbd-server does not answer on {socket}; "
                                         f"see {os.path.join(data_dir, 'curverbd-server.log')}")
        time.sleep(0.05)
    info(f"curverbd-server started (pid {_server_pid(pid_file)}, socket {socket}, data dir {data_dir})")
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    socket, _, pid_file = _paths(args)
    pid = _server_pid(pid_file)
    if pid is None:
        info("curverbd-server is not running")
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + WAIT
    while _alive(pid):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            info(f"curverbd-server (pid {pid}) did not stop within {WAIT:.0f}s; killed")
            break
        time.sleep(0.05)
    try:
        os.unlink(pid_file)   # the daemon removes it itself unless it was killed
    except FileNotFoundError:
        pass
    info(f"curverbd-server stopped (pid {pid})")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    socket, data_dir, pid_file = _paths(args)
    pid = _server_pid(pid_file)
    if pid is None:
        print(f"curverbd-server is not running (no live pid in {pid_file})")
        return 3   # LSB: program is not running
    if not answers(socket):
        print(f"curverbd-server is running (pid {pid}) but does not answer on {socket}")
        return 1
    print(f"curverbd-server is running (pid {pid}, socket {socket}, data dir {data_dir})")
    mds = socket + ".mds"
    print(f"Curve MDS service: unix socket {mds}" + ("" if answers(mds) else " (not answering)"))
    try:
        with open(os.path.join(data_dir, "mds.addr")) as f:
            print(f"Curve MDS service: TCP {f.read().strip()}")
    except FileNotFoundError:
        pass   # not asked to listen on TCP (--mds-listen)
    return 0


def register(sub) -> None:
    """Add `server start|stop|status` to the curverbd command's subparsers."""
    server = sub.add_parser("server", help="run curverbd-server in the background").add_subparsers(
        dest="server_command", required=True, metavar="<server command>")
    for name, handler, helptext in (("start", cmd_start, "start the daemon (pid file, waits until it answers)"),
                                    ("stop", cmd_stop, "stop the daemon"),
                                    ("status", cmd_status, "is the daemon running and answering?")):
        p = server.add_parser(name, help=helptext)
        p.add_argument("--socket", help="unix socket (default from the conf / $CURVERBD_SOCKET)")
        p.add_argument("--data-dir", help="state directory (default $CURVERBD_DATA_DIR or /data/curverbd)")
        p.add_argument("--pid-file", help="default DATA_DIR/curverbd-server.pid")
        if name == "start":
            p.add_argument("--socket-group", help="make the socket 0660 with this group")
            p.add_argument("server_args", nargs=argparse.REMAINDER, help="more curverbd-server options after --")
        p.set_defaults(handler=handler, what=f"server {name}")
