"""The embedded daemon's etcd: the home of RBD state on a one-machine install.

A real Curve cluster runs etcd for its MDS and curverbd keeps its RBD state
there (curverbd/curve/etcd.py). The embedded daemon has no cluster, so it runs
Debian's /usr/bin/etcd (package etcd-server, 3.4) as its own child process:

- data in ``<data-dir>/etcd``, output in ``<data-dir>/etcd.log``;
- no network port at all: clients and the (unused, single-member) peer side
  listen on unix sockets. etcd 3.4 takes unix listen URLs only as
  ``unix://host:port`` and binds the socket file "host:port" relative to its
  working directory (``unix:///abs/path`` is refused as "not host:port"). So
  etcd runs in the nebd socket's directory and binds ``<name>.etcd:0``, and
  ``<nebd socket>.etcd`` is a relative symlink to it: the fixed path clients
  use (``unix://<nebd socket>.etcd``). Short relative names also keep clear of
  the 107-byte limit of socket paths. The socket gets the nebd socket's mode
  (0600, or 0660 with --socket-group) once etcd has bound it; until then the
  daemon's umask keeps it owner-only;
- it dies with the daemon even on SIGKILL (PR_SET_PDEATHSIG), so a daemon
  restarted at once never meets an orphan holding the data directory; etcd
  syncs its WAL on every commit, so being killed loses nothing acknowledged;
- a stale socket left by a killed etcd is removed first (etcd 3.4 fails with
  "address already in use" rather than replacing it); the daemon's flock on
  ``<socket>.lock`` makes those paths ours.
"""
from __future__ import annotations

import ctypes
import grp
import json
import logging
import os
import re
import signal
import stat
import subprocess
import time

from ..curve.etcd import MAX_REQUEST_BYTES, Etcd
from ..errors import Error

log = logging.getLogger(__name__)

ETCD_BINARY = "/usr/bin/etcd"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
MEMBER_NAME = "curverbd"
PR_SET_PDEATHSIG = 1     # <linux/prctl.h>


class EtcdProcessError(Exception):
    """The embedded etcd cannot run; the message is the one line the daemon prints."""


def missing_binary_message(binary: str = ETCD_BINARY) -> str:
    return (f"{binary} not found: install Debian's etcd-server package (apt-get install etcd-server), "
            "or point the daemon at an existing etcd with --etcd-endpoints")


def _url_name(name: str) -> str:
    """A socket file name etcd accepts as the host part of ``unix://host:0``."""
    return re.sub(r"[^A-Za-z0-9._-]", "-", name)


def _parent_death_hook():
    """preexec_fn for the child: SIGKILL it when the daemon dies. Resolved before the fork, since
    loading a library in a forked child of a threaded process can deadlock."""
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def hook() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:       # the daemon died before the prctl took effect
            os._exit(1)
    return hook


class EmbeddedEtcd:
    """One etcd child process serving ``unix://<socket_path>``."""

    def __init__(self, socket_path: str, data_dir: str, log_path: str, socket_group_gid: int | None = None,
                 binary: str = ETCD_BINARY) -> None:
        self.socket_path = os.path.abspath(socket_path)       # the fixed path clients connect to
        self.data_dir = os.path.abspath(data_dir)
        self.log_path = os.path.abspath(log_path)
        self.gid = socket_group_gid
        self.binary = binary
        self.cwd = os.path.dirname(self.socket_path)
        base = _url_name(os.path.basename(self.socket_path))
        self.client_name = base + ":0"                        # the file etcd binds, in cwd
        self.peer_name = base + "-peer:0"
        self.proc: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return "unix://" + self.socket_path

    def check(self) -> None:
        """Fail early, with the install hint, if etcd is not there."""
        if not (os.path.isfile(self.binary) and os.access(self.binary, os.X_OK)):
            raise EtcdProcessError(missing_binary_message(self.binary))

    def command(self) -> list[str]:
        client = "unix://" + self.client_name
        peer = "unix://" + self.peer_name
        return [self.binary,
                "--name", MEMBER_NAME, "--data-dir", self.data_dir,
                "--listen-client-urls", client, "--advertise-client-urls", client,
                "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                "--initial-cluster", f"{MEMBER_NAME}={peer}",
                "--max-request-bytes", str(MAX_REQUEST_BYTES),
                # A single member has nobody to lose a heartbeat to; a short election timeout makes a
                # restarted one leader (and so able to answer) in 0.1-0.2 s instead of 1-2 s.
                "--heartbeat-interval", "20", "--election-timeout", "100",
                # the raft log kept in memory between snapshots is most of etcd's RSS; RBD state is small
                "--snapshot-count", "10000",
                # old revisions are only needed by watches catching up after a restart
                "--auto-compaction-mode", "periodic", "--auto-compaction-retention", "1h",
                "--logger", "zap", "--log-outputs", "stderr"]

    def _clear(self, name: str) -> None:
        """Remove a stale socket (or our symlink) at ``name`` in cwd; refuse anything else."""
        path = os.path.join(self.cwd, name)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return
        if not (stat.S_ISSOCK(st.st_mode) or stat.S_ISLNK(st.st_mode)):
            raise EtcdProcessError(f"{path} exists and is not a socket")
        os.unlink(path)

    def start(self, timeout: float = START_TIMEOUT) -> float:
        """Start etcd and wait until it answers a range request; the seconds that took."""
        self.check()
        t0 = time.monotonic()
        for name in (self.client_name, self.peer_name, os.path.basename(self.socket_path)):
            self._clear(name)
        os.makedirs(self.data_dir, mode=0o700, exist_ok=True)
        # The fixed path exists from the start; connecting through it gives ENOENT (retried) until etcd binds.
        os.symlink(self.client_name, self.socket_path)
        env = {k: v for k, v in os.environ.items() if not k.startswith("ETCD_")}  # flags only
        logf = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(self.command(), cwd=self.cwd, env=env, stdin=subprocess.DEVNULL,
                                         stdout=logf, stderr=subprocess.STDOUT, close_fds=True,
                                         start_new_session=True,  # a terminal's ^C goes to the daemon only
                                         preexec_fn=_parent_death_hook())
        except OSError as exc:
            self._unlink_link()
            raise EtcdProcessError(f"cannot run {self.binary}: {exc.strerror}") from None
        finally:
            logf.close()
        log.info("etcd pid %d starting: %s", self.proc.pid, " ".join(self.command()))
        try:
            self._wait_ready(t0 + timeout, timeout)
        except BaseException:
            self.stop()
            raise
        took = time.monotonic() - t0
        log.info("etcd pid %d serves %s (ready in %.3f s)", self.proc.pid, self.endpoint, took)
        return took

    def _wait_ready(self, deadline: float, timeout: float) -> None:
        """Until etcd answers a range request. Until etcd has bound its socket there is nothing to
        ask; once it has, a request waits in the socket's backlog until etcd serves (it has elected
        itself leader), so readiness is seen the moment it comes."""
        client = Etcd([self.endpoint], timeout=0.5)
        last = "its socket never appeared"
        try:
            while True:
                rc = self.proc.poll()
                if rc is not None:
                    raise EtcdProcessError(f"etcd exited with status {rc} while starting{self._last_error()}; "
                                           f"see {self.log_path}")
                if self._set_mode():       # bound: set the mode before anyone gets an answer
                    try:
                        client.revision()
                        return
                    except Error as exc:
                        last = exc.strerror
                if time.monotonic() >= deadline:
                    raise EtcdProcessError(f"etcd did not answer on {self.socket_path} within {timeout:g} s "
                                           f"({last}); see {self.log_path}")
                time.sleep(0.005)
        finally:
            client.close()

    def _last_error(self) -> str:
        """': <message>' of the last fatal/error line etcd logged, for the one-line start error."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(max(0, os.fstat(f.fileno()).st_size - 16384))
                lines = f.read().decode(errors="replace").splitlines()
        except OSError:
            return ""
        for line in reversed(lines):
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and entry.get("level") in ("fatal", "error", "panic"):
                detail = entry.get("error")
                return f": {entry.get('msg', '')}" + (f" ({detail})" if detail else "")
        return ""

    def _set_mode(self) -> bool:
        """The nebd socket's access rule for the etcd socket: 0600, or 0660 with the socket group.
        False while etcd has not bound it yet."""
        path = os.path.join(self.cwd, self.client_name)
        if not os.path.exists(path):
            return False
        if self.gid is not None:
            os.chown(path, -1, self.gid)
            os.chmod(path, 0o660)
        else:
            os.chmod(path, 0o600)
        return True

    def _unlink_link(self) -> None:
        try:
            if os.path.islink(self.socket_path):
                os.unlink(self.socket_path)
        except OSError:
            pass

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM, wait (SIGKILL after ``timeout``), remove the socket paths."""
        proc, self.proc = self.proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    log.warning("etcd pid %d did not stop within %g s: killing it", proc.pid, timeout)
                    proc.kill()
                    proc.wait()
            log.info("etcd pid %d stopped (status %s)", proc.pid, proc.returncode)
        self._unlink_link()
        for name in (self.client_name, self.peer_name):
            try:
                self._clear(name)
            except (OSError, EtcdProcessError):
                pass

    def rss_bytes(self) -> int:
        """etcd's resident memory (for reports), 0 if not running."""
        if self.proc is None:
            return 0
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) * 1024
        except OSError:
            pass
        return 0


def prepare(config) -> EmbeddedEtcd | None:
    """Before the daemon forks: the embedded etcd to start, or None when --etcd-endpoints names an
    external one (nothing runs here then). EtcdProcessError (one line) if etcd is not installed."""
    if config.etcd_endpoints:
        return None
    gid = None
    if config.socket_group:
        try:
            gid = grp.getgrnam(config.socket_group).gr_gid
        except KeyError:
            raise EtcdProcessError(f"--socket-group {config.socket_group!r}: no such group") from None
    etcd = EmbeddedEtcd(config.etcd_socket, config.etcd_data_dir, config.etcd_log_path, gid)
    etcd.check()
    return etcd


def stop(etcd: EmbeddedEtcd | None) -> None:
    """At the daemon's stop, after serving ended; nothing for an external etcd."""
    if etcd is not None:
        etcd.stop()
