"""Debian's qemu-img (block-rbd.so, unmodified) on our librbd.so.1 / librados.so.2."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time

from curverbd.core import Cluster

from capi_helpers import log_text, make_image, make_pool, preload_env, read_image, run

GiB = 1 << 30
MiB = 1 << 20


def info(spec: str, env: dict) -> dict:
    return json.loads(run(["qemu-img", "info", "--output=json", spec], env).stdout)


def test_create_info_resize(daemon, rbd_env):
    make_pool(daemon, "pool")
    run(["qemu-img", "create", "-f", "raw", "rbd:pool/img", "1G"], rbd_env)
    assert info("rbd:pool/img", rbd_env)["virtual-size"] == GiB
    run(["qemu-img", "resize", "-f", "raw", "rbd:pool/img", str(GiB + 12345 * 512)], rbd_env)
    assert info("rbd:pool/img", rbd_env)["virtual-size"] == GiB + 12345 * 512
    run(["qemu-img", "resize", "-f", "raw", "--shrink", "rbd:pool/img", str(3 * MiB + 512)], rbd_env)
    assert info("rbd:pool/img", rbd_env)["virtual-size"] == 3 * MiB + 512


def test_convert_in_and_out_is_byte_identical(daemon, rbd_env, tmp_path):
    make_pool(daemon, "pool")
    src, back = tmp_path / "src.raw", tmp_path / "back.raw"
    data = bytearray(os.urandom(64 * MiB))
    data[5 * MiB:9 * MiB] = bytes(4 * MiB)          # a zero run: convert may write zeroes or skip it
    src.write_bytes(data)
    run(["qemu-img", "convert", "-f", "raw", "-O", "raw", str(src), "rbd:pool/copy"], rbd_env)
    assert info("rbd:pool/copy", rbd_env)["virtual-size"] == 64 * MiB
    run(["qemu-img", "convert", "-f", "raw", "-O", "raw", "rbd:pool/copy", str(back)], rbd_env)
    run(["cmp", str(src), str(back)], rbd_env)
    run(["qemu-img", "compare", "-f", "raw", "-F", "raw", str(src), "rbd:pool/copy"], rbd_env)
    assert read_image("pool", "copy", 12345, 1000) == bytes(data[12345:13345])


def test_ld_library_path_and_ld_preload_share_an_image(daemon, rbd_env, capi_libs, tmp_path):  # noqa: F811
    make_pool(daemon, "pool")
    make_image(daemon, "pool", "shared", 16 * MiB)
    run(["qemu-io", "-f", "raw", "rbd:pool/shared", "-c", "write -P 0x5a 4608 70000"], rbd_env)
    preload = preload_env(rbd_env, capi_libs)
    run(["qemu-io", "-f", "raw", "rbd:pool/shared", "-c", "read -P 0x5a 4608 70000",
         "-c", "write -P 0xa5 1000000 3000"], preload)
    run(["qemu-io", "-f", "raw", "rbd:pool/shared", "-c", "read -P 0xa5 1000000 3000",
         "-c", "read -P 0x5a 4608 70000"], rbd_env)
    assert info("rbd:pool/shared", preload)["virtual-size"] == 16 * MiB


def test_rbd_spec_user_and_conf_reach_the_right_owner(daemon, rbd_env, tmp_path):
    make_pool(daemon, "bobs", user="bob")
    conf = tmp_path / "ceph.conf"
    conf.write_text(f"[global]\nmon_host = 127.0.0.1\ncurverbd_socket = {daemon.socket}\n")
    env = dict(rbd_env)
    env.pop("CURVERBD_SOCKET")   # the socket comes from conf= this time
    spec = f"rbd:bobs/disk:id=bob:conf={conf}:rbd_cache=false:client_mount_timeout=30"
    run(["qemu-img", "create", "-f", "raw", spec, "8M"], env)
    assert info(spec, env)["virtual-size"] == 8 * MiB
    assert read_image("bobs", "disk", 0, 16, user="bob") == bytes(16)


def failing(cmd: list[str], env: dict) -> str:
    proc = run(cmd, env, check=False, timeout=60)
    assert proc.returncode != 0, proc.stdout
    return proc.stderr


def test_missing_pool(daemon, rbd_env, client_log):  # noqa: F811
    err = failing(["qemu-img", "info", "rbd:nopool/img"], rbd_env)
    assert "No such file or directory" in err
    assert "pool 'nopool' does not exist" in log_text(client_log)


def test_missing_image(daemon, rbd_env, client_log):  # noqa: F811
    make_pool(daemon, "pool")
    err = failing(["qemu-img", "info", "rbd:pool/noimg"], rbd_env)
    assert "No such file or directory" in err
    assert "pool/noimg does not exist" in log_text(client_log)


def test_wrong_user(daemon, rbd_env, client_log):  # noqa: F811
    make_pool(daemon, "pool")
    make_image(daemon, "pool", "admins", MiB)
    err = failing(["qemu-img", "info", "rbd:pool/admins:id=bob"], rbd_env)
    assert "Operation not permitted" in err
    assert "'bob'" in log_text(client_log)


def test_daemon_not_running(daemon, rbd_env, client_log):  # noqa: F811
    make_pool(daemon, "pool")
    make_image(daemon, "pool", "img", MiB)
    daemon.stop()
    err = failing(["qemu-img", "info", "rbd:pool/img"], rbd_env)
    assert "error connecting" in err
    assert daemon.socket in log_text(client_log)


def test_broken_control_plane_is_an_error_not_silent_success(daemon, rbd_env, capi_libs, tmp_path,  # noqa: F811
                                                             client_log):
    """If the embedded Python cannot load curverbd, every call is -EIO (never cffi's 0). The
    libraries are installed inside a curverbd package that is broken, which they then import."""
    make_pool(daemon, "pool")
    broken = tmp_path / "site" / "curverbd"
    (broken / "lib").mkdir(parents=True)
    (broken / "__init__.py").write_text("raise ImportError('deliberately broken')\n")
    for name in ("librados.so.2", "librbd.so.1"):
        shutil.copy(os.path.join(capi_libs, name), broken / "lib" / name)
    env = dict(rbd_env, LD_LIBRARY_PATH=str(broken / "lib"))
    proc = run(["qemu-img", "create", "-f", "raw", "rbd:pool/never", "1M"], env, check=False)
    assert proc.returncode == 1
    assert "error initializing: Input/output error" in proc.stderr
    assert "deliberately broken" in log_text(client_log)
    with Cluster() as c:
        c.connect()
        with c.open_ioctx("pool") as io:
            assert io.list_images() == []


def test_sigint_still_kills_the_host(daemon, rbd_env):
    """The embedded interpreter must not keep SIGINT: qemu-img dies of it as with a plain file."""
    make_pool(daemon, "pool")
    make_image(daemon, "pool", "img", 64 * MiB)
    proc = subprocess.Popen(["qemu-img", "bench", "-c", "1000000000", "-d", "4", "-s", "4096", "-f", "raw",
                             "rbd:pool/img"], env=rbd_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60   # wait until the image is open: the library is loaded and running
        while "opened cbd:pool//pool/img_admin_" not in log_text(daemon.log):
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == -signal.SIGINT
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_qemu_img_snapshots(daemon, rbd_env):
    """qemu-img snapshot -c/-l/-a/-d and reading a snapshot as rbd:pool/img@snap."""
    make_pool(daemon, "pool")
    make_image(daemon, "pool", "img", 16 * MiB)
    run(["qemu-io", "-f", "raw", "rbd:pool/img", "-c", "write -P 0x31 4608 8192"], rbd_env)
    run(["qemu-img", "snapshot", "-c", "before", "rbd:pool/img"], rbd_env)
    run(["qemu-io", "-f", "raw", "rbd:pool/img", "-c", "write -P 0x32 4608 8192"], rbd_env)
    listing = run(["qemu-img", "snapshot", "-l", "rbd:pool/img"], rbd_env).stdout
    assert "before" in listing
    out = run(["qemu-io", "-r", "-f", "raw", "rbd:pool/img@before", "-c", "read -P 0x31 4608 8192"], rbd_env).stdout
    assert "Pattern verification failed" not in out
    run(["qemu-img", "snapshot", "-a", "before", "rbd:pool/img"], rbd_env)
    out = run(["qemu-io", "-f", "raw", "rbd:pool/img", "-c", "read -P 0x31 4608 8192"], rbd_env).stdout
    assert "Pattern verification failed" not in out
    run(["qemu-img", "snapshot", "-d", "before", "rbd:pool/img"], rbd_env)
    assert "before" not in run(["qemu-img", "snapshot", "-l", "rbd:pool/img"], rbd_env).stdout
