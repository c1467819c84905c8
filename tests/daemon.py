"""Starting and stopping a real curverbd-server for tests (a subprocess on a real unix socket)."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclass
class Daemon:
    """A running curverbd-server: its socket, data dir, process and extra arguments."""
    base: str
    args: list[str] = field(default_factory=list)
    proc: subprocess.Popen | None = None

    @property
    def socket(self) -> str:
        return os.path.join(self.base, "nebd.sock")

    @property
    def mds_socket(self) -> str:
        """Curve's MDS service (CurveFSService), next to the nebd socket."""
        return self.socket + ".mds"

    @property
    def etcd_socket(self) -> str:
        """The embedded etcd (RBD state), next to the nebd socket; none with --etcd-endpoints."""
        return self.socket + ".etcd"

    def _connect_etcd(self) -> None:
        """OSError until the embedded etcd answers (nothing to wait for with an external one): the
        daemon serves only after that, and a SIGTERM while it waits would stop it uncleanly."""
        if not any(a.startswith("--etcd-endpoints") for a in self.args):
            from curverbd.curve.etcd import Etcd
            with Etcd("unix://" + self.etcd_socket, timeout=0.5) as etcd:
                etcd.revision()

    @property
    def data_dir(self) -> str:
        return os.path.join(self.base, "data")

    @property
    def log(self) -> str:
        return os.path.join(self.data_dir, "curverbd-server.log")

    def env(self) -> dict:
        env = dict(os.environ)
        env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
        env["CURVERBD_SOCKET"] = self.socket
        return env

    def start(self, timeout: float = 15.0) -> "Daemon":
        os.makedirs(self.data_dir, exist_ok=True)
        cmd = [sys.executable, "-m", "curverbd.server.main", "--socket", self.socket,
               "--data-dir", self.data_dir, *self.args]
        self.proc = subprocess.Popen(cmd, env=self.env(), stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"curverbd-server exited with {self.proc.returncode}; see {self.log}")
            if os.path.exists(self.socket) and os.path.exists(self.mds_socket):
                try:
                    for path in (self.socket, self.mds_socket):
                        with socket.socket(socket.AF_UNIX) as s:
                            s.connect(path)
                    self._connect_etcd()
                    return self
                except OSError:
                    pass
            time.sleep(0.02)
        raise RuntimeError(f"curverbd-server did not listen on {self.socket} within {timeout}s")

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc, self.proc = self.proc.returncode, None
        return rc

    def restart(self, sig: int = signal.SIGTERM) -> "Daemon":
        self.stop(sig)
        return self.start()


def new_daemon(*args: str) -> Daemon:
    """A daemon with ``args``; ``$CURVERBD_TEST_CURVE_RELEASE`` (e.g. 2) makes it that Curve release's MDS
    unless the test names one itself (scripts/test.sh runs the snapshot tests once more that way)."""
    release = os.environ.get("CURVERBD_TEST_CURVE_RELEASE")
    if release and "--curve-release" not in args:
        args = ("--curve-release", release, *args)
    # short path: unix socket names are limited to 107 bytes
    return Daemon(tempfile.mkdtemp(prefix="crbd-"), list(args))


def remove(d: Daemon) -> None:
    d.stop()
    shutil.rmtree(d.base, ignore_errors=True)
