"""The installs users make work: `pip wheel .` then the wheel into a fresh venv, `pip install .` into a
fresh venv, and the README's editable install each give an installed curverbd-server that serves the
installed `rbd` and `ceph` commands and qemu-io through the installed librbd.so.1 (found the way the
README says: `curverbd env`). Nothing here imports the source tree: every command is the venv's.
Without a C compiler, the installed daemon serves in Python and says so once."""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.install

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEP_TIMEOUT = 240   # seconds for one pip step (the wheel build compiles the libraries)
FALLBACK = "C frame loop unavailable"


def sh(cmd: list[str], cwd: str, env: dict | None = None, timeout: float = STEP_TIMEOUT) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env or clean_env(), capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, f"{cmd} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def clean_env(**extra: str) -> dict:
    """This environment without anything that would let the source tree stand in for the install."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "LD_PRELOAD", "LD_LIBRARY_PATH", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.update(extra)
    return env


# builds and caches of the checkout: each install makes its own
NOT_SOURCE = shutil.ignore_patterns(".git", "__pycache__", "*.so", "*.so.*", "*.egg-info", "build", "dist",
                                    ".hypothesis", ".pytest_cache", ".ci", "*.tmp")


def source_copy(dest: str) -> str:
    """The checkout copied to ``dest`` (without its builds): an install builds its libraries into the
    tree it installs from, which must not be the checkout the other tests use."""
    shutil.copytree(ROOT, dest, ignore=NOT_SOURCE)
    return dest


def venv(path: str) -> str:
    sh([sys.executable, "-m", "venv", path], cwd=os.path.dirname(path))
    return os.path.join(path, "bin")


def install(mode: str, base: str) -> str:
    """Install curverbd as a user would (``mode``); the venv's bin directory."""
    src = source_copy(os.path.join(base, "src"))
    bindir = venv(os.path.join(base, "venv"))
    pip = [os.path.join(bindir, "python"), "-m", "pip", "install", "-q"]
    if mode == "wheel":
        wheels = os.path.join(base, "wheels")
        sh([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", wheels, src], cwd=base)
        built = glob.glob(os.path.join(wheels, "curverbd-*.whl"))
        assert len(built) == 1, built
        assert not built[0].endswith("-none-any.whl"), f"{built[0]} carries native libraries: not a pure wheel"
        sh(pip + built, cwd=base)
    elif mode == "install":
        sh(pip + [src], cwd=base)
    else:   # README's "Using it": no build isolation, the build tools in the venv first
        sh(pip + ["setuptools>=65", "wheel", "cffi>=1.15"], cwd=base)
        sh(pip + ["--no-build-isolation", "-e", src], cwd=base)
    where = sh([os.path.join(bindir, "python"), "-c", "import curverbd; print(curverbd.__file__)"], cwd=base)
    inside = src if mode == "editable" else os.path.join(base, "venv")
    assert where.startswith(inside + os.sep), f"curverbd imported from {where.strip()}, not from the {mode} install"
    return bindir


class InstalledDaemon:
    """The venv's curverbd-server on its own socket and data directory."""

    def __init__(self, bindir: str, base: str, **env: str) -> None:
        self.bindir, self.base = bindir, base
        self.socket = os.path.join(base, "nebd.sock")
        self.data = os.path.join(base, "data")
        self.log = os.path.join(self.data, "curverbd-server.log")
        self.env = clean_env(CURVERBD_SOCKET=self.socket, CURVERBD_LOG=os.path.join(base, "client.log"),
                             PATH=bindir + os.pathsep + os.environ.get("PATH", ""))
        self.proc = subprocess.Popen([os.path.join(bindir, "curverbd-server"), "--socket", self.socket,
                                      "--data-dir", self.data], cwd=base, stdin=subprocess.DEVNULL,
                                     env=dict(self.env, **env))
        deadline = time.monotonic() + 30
        while "serving on" not in self.log_text():
            assert self.proc.poll() is None, f"curverbd-server exited {self.proc.returncode}:\n{self.log_text()}"
            assert time.monotonic() < deadline, f"curverbd-server did not start:\n{self.log_text()}"
            time.sleep(0.05)

    def log_text(self) -> str:
        try:
            with open(self.log) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def main_job(self) -> None:
        """What scripts/demo.sh does, with the venv's commands and libraries; bytes checked."""
        run = lambda *cmd, **kw: sh(list(cmd), cwd=self.base, env=kw.get("env", self.env), timeout=120)  # noqa: E731
        run("ceph", "osd", "pool", "create", "demo")
        run("rbd", "create", "--size", "64M", "demo/vol1")
        assert "size 64 MiB" in run("rbd", "info", "demo/vol1")
        exports = [line for line in run("curverbd", "env").splitlines() if line.startswith("export LD_LIBRARY_PATH=")]
        assert exports, "curverbd env printed no LD_LIBRARY_PATH line"
        libs = exports[0].split("=", 1)[1].split("$", 1)[0]
        assert os.path.isfile(os.path.join(libs, "librbd.so.1")), f"curverbd env names {libs}: no librbd.so.1"
        qemu_env = dict(self.env, LD_LIBRARY_PATH=libs)
        out = run("qemu-io", "-f", "raw", "-c", "write -P 0xab 512 1M", "-c", "read -P 0xab 512 1M",
                  "-c", "write -z 4096 8192", "-c", "read -v 4094 4", "rbd:demo/vol1", env=qemu_env)
        assert "Pattern verification failed" not in out and "error" not in out.lower(), out
        # bytes 4094..4097: the pattern, then the zeroes written over it
        assert "00000ffe:  ab ab 00 00" in out, out
        out = run("qemu-io", "-f", "raw", "-c", "read -v 1048574 4", "rbd:demo/vol1", env=qemu_env)
        assert "000ffffe:  ab ab ab ab" in out, out   # a new process reads back what the first wrote
        assert self.proc.poll() is None, f"the daemon ended:\n{self.log_text()}"


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory) -> str:
    base = str(tmp_path_factory.mktemp("wheel"))
    return install("wheel", base)


@pytest.mark.parametrize("mode", ["wheel", "install", "editable"])
def test_installed_daemon_serves_rbd_and_qemu_io(mode, wheel_venv, tmp_path_factory):
    bindir = wheel_venv if mode == "wheel" else install(mode, str(tmp_path_factory.mktemp(mode)))
    d = InstalledDaemon(bindir, str(tmp_path_factory.mktemp(f"{mode}-run")))
    try:
        d.main_job()
        assert FALLBACK not in d.log_text(), d.log_text()   # the C frame loop was there (or built)
    finally:
        d.stop()


def test_without_a_compiler_the_installed_daemon_serves_in_python(wheel_venv, tmp_path):
    """The wheel's build of the frame loop gone and no compiler: served in Python, said once."""
    site = sh([os.path.join(wheel_venv, "python"), "-c", "import curverbd.server, os; "
               "print(os.path.dirname(curverbd.server.__file__))"], cwd=str(tmp_path)).strip()
    aside = [(built, str(tmp_path / os.path.basename(built)))
             for built in glob.glob(os.path.join(site, "_fastloop_*.so"))]
    for built, kept in aside:   # put back afterwards: the venv is the module's
        os.rename(built, kept)
    try:
        d = InstalledDaemon(wheel_venv, str(tmp_path), CC="/bin/false",
                            CURVERBD_FASTPATH_CACHE=str(tmp_path / "fastloop-cache"))
        try:
            d.main_job()
            log = d.log_text()
            assert log.count(FALLBACK) == 1 and "slower" in log, log
        finally:
            d.stop()
    finally:
        for built, kept in aside:
            os.rename(kept, built)
