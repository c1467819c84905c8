"""The curverbd command: server start/stop/status, doctor on good and broken set-ups, env, install-libs."""
import json
import os
import shutil
import stat
import subprocess
import tempfile

import pytest

from cli_helpers import ROOT, built_libs, command, env_of, run  # noqa: F401

MiB = 1 << 20
SYSTEM_PYTHON = "/usr/bin/python3"


def doctor(daemon, *argv, env=None):
    proc = run(daemon, "curverbd", "doctor", *argv, env=env, ok=False)
    lines = proc.stdout.splitlines()
    checks = {line.split()[1].rstrip(":"): line for line in lines}
    assert len(checks) == len(lines) == 8, proc.stdout + proc.stderr
    return proc.returncode, checks


@pytest.fixture
def good_setup(daemon, built_libs, tmp_path):
    """A running daemon, a conf file naming its socket, the user's pool, our built libraries."""
    conf = tmp_path / "ceph.conf"
    conf.write_text(f"[global]\ncurverbd_socket = {daemon.socket}\n")
    run(daemon, "ceph", "osd", "pool", "create", "rbd")
    env = env_of(daemon, CURVERBD_SOCKET=None, CURVERBD_LIB_DIR=built_libs)
    return str(conf), env


def test_doctor_all_ok_on_a_good_setup(daemon, good_setup, built_libs):
    conf, env = good_setup
    rc, checks = doctor(daemon, "--conf", conf, env=env)
    assert rc == 0, checks
    assert list(checks) == ["libraries", "qemu", "conf", "socket", "daemon", "mds", "rbd-state", "pool"]
    assert all(line.startswith("ok    ") for line in checks.values()), checks
    assert built_libs in checks["libraries"] and "rbd_version 1.16.0" in checks["libraries"]
    assert "block-rbd.so" in checks["qemu"] and daemon.socket in checks["daemon"]
    assert f"Curve MDS at {daemon.mds_socket}" in checks["mds"] and "accepts client.admin" in checks["mds"]
    assert f"etcd at unix://{daemon.socket}.etcd" in checks["rbd-state"]


def test_doctor_names_each_problem_and_its_fix(daemon, good_setup, built_libs, tmp_path):
    conf, env = good_setup
    # library not found
    empty = tmp_path / "nolibs"
    empty.mkdir()
    rc, checks = doctor(daemon, "--conf", conf, "--lib-dir", str(empty), env=env)
    assert rc == 1
    assert checks["libraries"].startswith("FAIL  libraries: librbd.so.1 and librados.so.2 not found in")
    assert "fix: curverbd install-libs --prefix" in checks["libraries"]
    assert checks["qemu"].startswith("FAIL") and "fix:" in checks["qemu"]
    assert all(checks[name].startswith("ok") for name in ("conf", "socket", "daemon", "mds", "rbd-state", "pool"))
    # a library that does not load
    broken = tmp_path / "broken"
    shutil.copytree(built_libs, broken)
    (broken / "librbd.so.1").write_bytes(b"\x7fELF not really")
    rc, checks = doctor(daemon, "--conf", conf, "--lib-dir", str(broken), env=env)
    assert rc == 1 and checks["libraries"].startswith("FAIL") and "fix: rebuild them" in checks["libraries"]
    # a pool the user does not have, and another user's pool
    rc, checks = doctor(daemon, "--conf", conf, "--id", "carol", "--pool", "mine", env=env)
    assert rc == 1 and checks["pool"] == ("FAIL  pool: pool 'mine' does not exist for client.carol; "
                                          "fix: ceph osd pool create mine --id carol")
    rc, checks = doctor(daemon, "--conf", conf, "--id", "carol", env=env)
    assert rc == 1 and checks["pool"].startswith("FAIL  pool: pool 'rbd' belongs to another user, not client.carol")
    # root with a wrong password: Curve's MDS refuses root's signature
    wrong = tmp_path / "root.conf"
    wrong.write_text(f"[global]\ncurverbd_socket = {daemon.socket}\n[client.root]\nkey = not-the-password\n")
    rc, checks = doctor(daemon, "--conf", str(wrong), "--id", "root", env=env)
    assert rc == 1 and checks["mds"].startswith(f"FAIL  mds: Curve MDS at {daemon.mds_socket} refuses the "
                                                "credentials of client.root")
    assert "mds.auth.rootPassword" in checks["mds"]
    good = tmp_path / "rootok.conf"
    good.write_text(f"[global]\ncurverbd_socket = {daemon.socket}\n[client.root]\nkey = root_password\n")
    rc, checks = doctor(daemon, "--conf", str(good), "--id", "root", env=env)
    assert checks["mds"].startswith("ok") and "accepts client.root" in checks["mds"]
    # a socket every user may write
    os.chmod(daemon.socket, 0o666)
    rc, checks = doctor(daemon, "--conf", conf, env=env)
    assert rc == 1
    assert "is mode 0666: every local user can read and write every volume" in checks["socket"]
    assert f"fix: chmod 0600 {daemon.socket}" in checks["socket"]
    os.chmod(daemon.socket, 0o600)
    # a bad conf file
    bad = tmp_path / "bad.conf"
    bad.write_text("[global]\nthis is not a setting\n")
    rc, checks = doctor(daemon, "--conf", str(bad), env=env)
    assert rc == 1 and checks["conf"].startswith("FAIL  conf:") and "fix: fix the syntax" in checks["conf"]
    # the daemon down
    daemon.stop()
    rc, checks = doctor(daemon, "--conf", conf, env=env)
    assert rc == 1
    assert checks["socket"] == (f"FAIL  socket: no socket at {daemon.socket}: the daemon is not running there; "
                                f"fix: curverbd server start --socket {daemon.socket}")
    assert checks["daemon"].startswith(f"FAIL  daemon: nothing answers on {daemon.socket}")
    assert checks["daemon"].endswith(f"fix: curverbd server start --socket {daemon.socket}")
    assert checks["mds"].startswith(f"FAIL  mds: no Curve MDS answers at {daemon.mds_socket}")
    assert checks["rbd-state"].startswith("FAIL  rbd-state:")
    assert checks["pool"].startswith("FAIL") and checks["libraries"].startswith("ok")


@pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists(SYSTEM_PYTHON) or shutil.which("setpriv") is None,
                    reason="needs root, setpriv and a Python every user can run")
def test_doctor_as_a_user_the_socket_shuts_out(daemon, good_setup):
    _, env = good_setup
    os.chmod(daemon.base, 0o755)           # the directory is open; only the socket's 0600 keeps them out
    conf = os.path.join(daemon.base, "ceph.conf")
    with open(conf, "w") as f:
        f.write(f"[global]\ncurverbd_socket = {daemon.socket}\n")
    os.chmod(conf, 0o644)
    # The checkout itself may sit in a directory only root can enter (a clone under `mktemp -d`):
    # give the user its own readable copy of the package.
    src = os.path.join(daemon.base, "src")
    shutil.copytree(os.path.join(ROOT, "curverbd"), os.path.join(src, "curverbd"),
                    ignore=shutil.ignore_patterns("__pycache__", "lib", "*.so"))
    for top, dirs, files in os.walk(src):
        os.chmod(top, 0o755)
    proc = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", SYSTEM_PYTHON, "-m",
                           "curverbd.cli.curverbd", "doctor", "--conf", conf],
                          env=dict(env, PYTHONPATH=src), cwd="/", capture_output=True, text=True, timeout=120)
    lines = {line.split()[1].rstrip(":"): line for line in proc.stdout.splitlines()}
    assert proc.returncode == 1, proc.stderr
    assert lines["socket"].startswith(f"FAIL  socket: this user (nobody) cannot use {daemon.socket} (mode 0600")
    assert "--socket-group GROUP" in lines["socket"]
    assert lines["daemon"] == f"FAIL  daemon: permission denied connecting to {daemon.socket}; fix: see the socket line"


def test_server_start_status_stop(tmp_path):
    base = tempfile.mkdtemp(prefix="crbd-cli-")   # short: unix socket paths are limited
    try:
        sock, data = os.path.join(base, "s.sock"), os.path.join(base, "data")
        env = dict(os.environ, PYTHONPATH=ROOT, CURVERBD_SOCKET=sock)
        opts = ["--socket", sock, "--data-dir", data]

        def cli(*argv):
            return subprocess.run(command(["curverbd", *argv]), env=env, capture_output=True, text=True, timeout=120)
        assert cli("server", "status", *opts).returncode == 3
        started = cli("server", "start", *opts)
        assert started.returncode == 0 and "curverbd-server started (pid" in started.stderr, started.stderr
        pid = int(open(os.path.join(data, "curverbd-server.pid")).read())
        status = cli("server", "status", *opts)
        assert status.returncode == 0 and f"running (pid {pid}, socket {sock}" in status.stdout
        assert stat.S_IMODE(os.stat(sock).st_mode) == 0o600
        again = cli("server", "start", *opts)
        assert again.returncode == 0 and f"already running (pid {pid}" in again.stderr
        # it serves: a pool and an image through it
        assert subprocess.run(command(["ceph", "osd", "pool", "create", "p"]), env=env).returncode == 0
        assert subprocess.run(command(["rbd", "create", "-s", "1", "p/i"]), env=env).returncode == 0
        stopped = cli("server", "stop", *opts)
        assert stopped.returncode == 0 and f"stopped (pid {pid})" in stopped.stderr
        assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"
        assert cli("server", "status", *opts).returncode == 3
        assert cli("server", "stop", *opts).returncode == 0      # stopping a stopped server is fine
        # state survives a restart
        assert cli("server", "start", *opts).returncode == 0
        ls = subprocess.run(command(["rbd", "ls", "p"]), env=env, capture_output=True, text=True)
        assert ls.stdout == "i\n"
        assert cli("server", "stop", *opts).returncode == 0
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_env_lines_make_qemu_use_our_libraries(daemon, built_libs):
    out = run(daemon, "curverbd", "env", "--lib-dir", built_libs).stdout
    assert f"export LD_LIBRARY_PATH={built_libs}" in out
    assert f'LD_PRELOAD="{built_libs}/librbd.so.1 {built_libs}/librados.so.2"' in out
    assert f"export CURVERBD_SOCKET={daemon.socket}" in out
    assert "/etc/default/libvirtd" in out and f"\nLD_LIBRARY_PATH={built_libs}\n" in out
    missing = run(daemon, "curverbd", "env", "--lib-dir", "/nonexistent", ok=False)
    assert missing.returncode == 2 and "/nonexistent" in missing.stderr and "install-libs" in missing.stderr
    if shutil.which("qemu-img") is None:
        pytest.skip("qemu-img is not installed")
    run(daemon, "ceph", "osd", "pool", "create", "vms")
    run(daemon, "rbd", "create", "-s", "12", "vms/disk")
    shell = f'eval "$({" ".join(command(["curverbd", "env", "--lib-dir", built_libs]))})"; ' \
            "exec qemu-img info --output=json rbd:vms/disk"
    proc = subprocess.run(["bash", "-c", shell], env=daemon.env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["virtual-size"] == 12 * MiB
