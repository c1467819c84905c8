"""Fixtures and helpers for the C ABI tests: the libraries built once per session, the
environment that points real clients (qemu-img, qemu-io, fio, ...) at them and at the test's
daemon, and pools/images made through the core."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from curverbd.core import Cluster, engine  # noqa: E402

CLIENT_TIMEOUT = 120   # seconds: a client that hangs fails the test instead of the CI job


@pytest.fixture(scope="session")
def capi_libs() -> str:
    """A directory holding librados.so.2 and librbd.so.1 built from this tree: the build the core's
    data engine uses in this process too (core/engine.py: one per source hash, built once)."""
    return engine.library_dir()


@pytest.fixture
def client_log(tmp_path) -> str:
    return str(tmp_path / "client.log")


@pytest.fixture
def rbd_env(daemon, capi_libs, client_log) -> dict:
    """Environment for a client process: our libraries via LD_LIBRARY_PATH, the daemon's socket."""
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    env["LD_LIBRARY_PATH"] = capi_libs
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env["CURVERBD_SOCKET"] = daemon.socket
    env["CURVERBD_LOG"] = client_log
    return env


def preload_env(env: dict, libs: str) -> dict:
    """The same environment, loading both libraries with LD_PRELOAD instead."""
    env = dict(env)
    env.pop("LD_LIBRARY_PATH", None)
    env["LD_PRELOAD"] = f"{libs}/librbd.so.1:{libs}/librados.so.2"
    return env


def run(cmd: list[str], env: dict, check: bool = True, timeout: float = CLIENT_TIMEOUT,
        **kwargs) -> subprocess.CompletedProcess:
    """Run a client; on failure (if check) the assertion shows its output."""
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, **kwargs)
    if check:
        assert proc.returncode == 0, f"{cmd} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def make_pool(daemon, pool: str, user: str = "admin") -> None:
    """Create ``pool`` owned by ``user`` through the core."""
    with Cluster(user=user) as c:
        c.connect()
        c.create_pool(pool)


def make_image(daemon, pool: str, image: str, size: int, user: str = "admin") -> None:
    with Cluster(user=user) as c:
        c.connect()
        with c.open_ioctx(pool) as io:
            io.create_image(image, size)


def read_image(pool: str, image: str, offset: int, length: int, user: str = "admin") -> bytes:
    with Cluster(user=user) as c:
        c.connect()
        with c.open_ioctx(pool) as io, io.open_image(image) as img:
            return img.read(offset, length)


def log_text(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""
