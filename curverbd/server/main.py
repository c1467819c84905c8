"""``curverbd-server``: the embedded Curve stand-in daemon, started like nebd-server.

    curverbd-server [--socket PATH] [--data-dir DIR] [--daemonize --pid-file F] [Curve rule options]
                    [--mds-listen HOST:PORT] [--root-user U --root-password P]
                    [--curve-release {1.5,2}] [--flatten-step SIZE] [--snapshotclone-listen HOST:PORT]

Curve's MDS service (curve.mds.CurveFSService) listens on the unix socket
``<socket>.mds`` and, with --mds-listen, on TCP; the TCP address it got is
written to ``<data-dir>/mds.addr`` ("host:port") and removed at a clean stop.
With --snapshotclone-listen, mainline Curve's snapshotcloneserver HTTP API is
served too (snapshotclone.py), its address in ``<socket>.snapshotclone``.
"""
from __future__ import annotations

import argparse
import fcntl
import grp
import logging
import os
import signal
import socket
import stat
import sys

from . import etcd_process, metafile
from .config import CURVE_RELEASES, DEFAULT_SOCKET, ServerConfig, default_data_dir, parse_size

log = logging.getLogger("curverbd.server")


class StartError(Exception):
    """The daemon cannot start; the message is the one line printed on stderr."""


def parse_args(argv: list[str] | None) -> ServerConfig:
    p = argparse.ArgumentParser(prog="curverbd-server", description="curverbd's nebd-compatible daemon "
                                "with a local Curve stand-in store")
    p.add_argument("--socket", default=DEFAULT_SOCKET, help="unix socket to listen on (default %(default)s)")
    p.add_argument("--data-dir", default=default_data_dir(),
                   help="state directory (default $CURVERBD_DATA_DIR or /data/curverbd)")
    p.add_argument("--socket-group", help="make the socket 0660 with this group (default: 0600)")
    p.add_argument("--daemonize", action="store_true", help="run in the background")
    p.add_argument("--pid-file", help="write the daemon's pid here")
    p.add_argument("--block-size", type=parse_size, default=4096, help="I/O alignment: 4096 or 512")
    p.add_argument("--min-volume-size", type=parse_size, default=parse_size("10G"))
    p.add_argument("--segment-size", type=parse_size, default=parse_size("1G"))
    p.add_argument("--max-volume-size", type=parse_size, default=parse_size("20T"))
    p.add_argument("--no-align-check", action="store_true", help="accept I/O not aligned to the block size")
    p.add_argument("--heartbeat-timeout", type=float, default=30.0,
                   help="seconds without heartbeat before a file's backend handle is closed")
    p.add_argument("--writeback-interval", type=float, default=0.0,
                   help="seconds between starting the disk writes of written data, so that a flush or "
                        "close after a burst finds little to write (default 0: leave it to the kernel)")
    p.add_argument("--mds-listen", metavar="HOST:PORT",
                   help="also serve Curve's MDS service (CurveFSService) on TCP; port 0 picks a free port "
                        "(the address is written to DATA_DIR/mds.addr)")
    p.add_argument("--root-user", default="root", help="Curve's root user (mds.auth.rootUserName)")
    p.add_argument("--root-password", default="root_password",
                   help="the password root's MDS requests are signed with (mds.auth.rootPassword)")
    p.add_argument("--mds-init-grace", type=float, default=0.0, metavar="SECONDS",
                   help="like Curve's MDS, refuse deletes, renames and owner changes with kNotSupported for "
                        "this long after start, until clients have refreshed their sessions (default 0)")
    p.add_argument("--etcd-endpoints", metavar="LIST", type=_etcd_endpoints, default=(),
                   help="keep RBD state in this etcd (comma-separated http://host:port, host:port or "
                        "unix:///path) instead of starting the embedded one on SOCKET.etcd")
    p.add_argument("--curve-release", choices=CURVE_RELEASES, default="1.5",
                   help="whose MDS to be: 1.5 (release1.5: local snapshots named VOL@SNAP, protect, clone, "
                        "flatten, children) or 2 (master / release2.x: one snapshot per file, and the "
                        "release1.5-only RPCs answer ENOMETHOD) (default %(default)s)")
    p.add_argument("--flatten-step", type=parse_size, default=parse_size("64M"), metavar="SIZE",
                   help="bytes an MDS Flatten copies per step (progress and crash-safety unit; default 64M)")
    p.add_argument("--snapshotclone-listen", metavar="HOST:PORT",
                   help="also serve mainline Curve's snapshotcloneserver HTTP API (/SnapshotCloneService); "
                        "port 0 picks a free port (the address is written to SOCKET.snapshotclone); "
                        "with --curve-release 2 the default is 127.0.0.1:0")
    p.add_argument("--s3-fail", action="store_true",
                   help="every snapshotcloneserver snapshot ends in status error, as if S3 refused the dump "
                        "(to try how clients handle a failed snapshot task)")
    a = p.parse_args(argv)
    config = ServerConfig(socket=os.path.abspath(a.socket), data_dir=os.path.abspath(a.data_dir),
                          socket_group=a.socket_group, block_size=a.block_size,
                          min_volume_size=a.min_volume_size, segment_size=a.segment_size,
                          max_volume_size=a.max_volume_size, align_check=not a.no_align_check,
                          heartbeat_timeout=a.heartbeat_timeout, writeback_interval=a.writeback_interval,
                          root_user=a.root_user, root_password=a.root_password, mds_listen=a.mds_listen,
                          mds_init_grace=a.mds_init_grace,
                          daemonize=a.daemonize,
                          etcd_endpoints=a.etcd_endpoints, curve_release=a.curve_release,
                          flatten_step=a.flatten_step, snapshotclone_listen=a.snapshotclone_listen, s3_fail=a.s3_fail,
                          pid_file=os.path.abspath(a.pid_file) if a.pid_file else None)
    try:
        config.validate()
    except ValueError as exc:
        p.error(str(exc))
    return config


def _etcd_endpoints(text: str) -> tuple[str, ...]:
    """--etcd-endpoints: checked here so a typo fails at start, not at the first client call."""
    from ..curve.etcd import parse_endpoints
    from ..errors import Error
    try:
        return tuple(e.text for e in parse_endpoints(text))
    except Error as exc:
        raise argparse.ArgumentTypeError(exc.strerror) from None


def setup_logging(config: ServerConfig) -> None:
    handler = logging.FileHandler(config.log_path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(threadName)s %(levelname)s "
                                           "%(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


def take_lock(config: ServerConfig) -> int:
    """flock on ``<socket>.lock`` (held for the process's life) so two servers never share a socket."""
    fd = os.open(config.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StartError(f"socket {config.socket} is in use by another server (lock {config.lock_path})") from None
    return fd


def bind(config: ServerConfig) -> socket.socket:
    """Listen on the nebd socket."""
    return bind_unix(config, config.socket)


def bind_unix(config: ServerConfig, path: str) -> socket.socket:
    """Listen on the unix socket ``path`` (a stale one is removed first), mode 0600 or 0660 with
    --socket-group."""
    try:
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            os.unlink(path)
        else:
            raise StartError(f"{path} exists and is not a socket")
    except FileNotFoundError:
        pass
    gid = None
    if config.socket_group:
        try:
            gid = grp.getgrnam(config.socket_group).gr_gid
        except KeyError:
            raise StartError(f"--socket-group {config.socket_group!r}: no such group") from None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)  # never visible with a wider mode, even for a moment
    try:
        sock.bind(path)
    finally:
        os.umask(old)
    if gid is not None:
        os.chown(path, -1, gid)
        os.chmod(path, 0o660)
    else:
        os.chmod(path, 0o600)
    sock.listen(128)
    sock.setblocking(False)
    return sock


def bind_mds(config: ServerConfig) -> tuple[socket.socket, ...]:
    """The MDS service's listeners: its unix socket, and TCP with --mds-listen (address in mds.addr)."""
    listeners = [bind_unix(config, config.mds_socket)]
    if config.mds_listen is not None:
        host, port = config.mds_address()
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        except socket.gaierror as exc:
            raise StartError(f"--mds-listen {config.mds_listen}: {exc.strerror}") from None
        family, _, _, _, addr = infos[0]
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(addr)
        except OSError as exc:
            sock.close()
            raise StartError(f"--mds-listen {config.mds_listen}: cannot listen there: {exc.strerror}") from None
        sock.listen(128)
        sock.setblocking(False)
        listeners.append(sock)
        bound = sock.getsockname()
        text = f"[{bound[0]}]:{bound[1]}" if family == socket.AF_INET6 else f"{bound[0]}:{bound[1]}"
        tmp = config.mds_addr_path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text + "\n")
        os.rename(tmp, config.mds_addr_path)
    else:
        try:  # left by a daemon that did not stop cleanly: it would name an address nobody serves
            os.unlink(config.mds_addr_path)
        except FileNotFoundError:
            pass
    return tuple(listeners)


def daemonize(config: ServerConfig) -> None:
    """Fork into the background; the parent writes the pid file and exits 0."""
    pid = os.fork()
    if pid:
        if config.pid_file:
            with open(config.pid_file, "w") as f:
                f.write(f"{pid}\n")
        os._exit(0)
    os.setsid()
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    # Volumes, the catalog, the meta file and the log are the tenants' data: never readable by others
    # (the socket's own mode is set explicitly when it is bound).
    os.umask(0o077)
    try:
        os.makedirs(config.data_dir, exist_ok=True)
        os.makedirs(os.path.dirname(config.socket), exist_ok=True)
        setup_logging(config)
        take_lock(config)
        records = metafile.load(config.meta_path)
        etcd = etcd_process.prepare(config)  # fails here, on the terminal, if etcd is missing
        listener = bind(config)
        mds_listeners = bind_mds(config)
    except (StartError, etcd_process.EtcdProcessError, metafile.MetaFileError, OSError) as exc:
        msg = str(exc)
        log.error("cannot start: %s", msg)
        print(f"curverbd-server: {msg}", file=sys.stderr)
        return 1
    if config.daemonize:
        daemonize(config)
    elif config.pid_file:
        with open(config.pid_file, "w") as f:
            f.write(f"{os.getpid()}\n")
    try:  # after the fork: etcd is the daemon's child and dies with it
        if etcd is not None:
            etcd.start()
    except (etcd_process.EtcdProcessError, OSError) as exc:
        log.error("cannot start: %s", exc)
        print(f"curverbd-server: {exc}", file=sys.stderr)
        return 1
    from .server import Server  # after the fork: SQLite and threads start in the daemon itself
    try:
        server = Server(config, listener, records, mds_listeners)
    except Exception as exc:
        log.exception("cannot start")
        print(f"curverbd-server: cannot start: {exc}", file=sys.stderr)
        etcd_process.stop(etcd)
        return 1
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: server.request_stop())
    try:
        server.serve()
    finally:
        etcd_process.stop(etcd)  # after serving: stopping may still write RBD state
        for path in (config.socket, config.mds_socket, config.mds_addr_path):
            try:
                os.unlink(path)  # we still hold the lock, so these are ours
            except OSError:
                pass
        if config.pid_file:
            try:
                os.unlink(config.pid_file)
            except OSError:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
