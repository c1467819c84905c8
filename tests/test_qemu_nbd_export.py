"""qemu-storage-daemon (or, where it is not installed, qemu-nbd) serves an rbd: image over NBD
on a unix socket; qemu-img and qemu-io read and write it through nbd+unix://."""
from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from capi_helpers import CLIENT_TIMEOUT, log_text, make_image, make_pool, read_image, run

MiB = 1 << 20


def exporter(image_spec: dict, sock: str) -> list[str]:
    if shutil.which("qemu-storage-daemon"):
        blockdev = ",".join(f"{k}={v}" for k, v in image_spec.items())
        return ["qemu-storage-daemon", "--blockdev", f"driver=rbd,node-name=disk,{blockdev}",
                "--nbd-server", f"addr.type=unix,addr.path={sock}",
                "--export", "type=nbd,id=exp,node-name=disk,name=disk,writable=on"]
    return ["qemu-nbd", "--persistent", "-f", "raw", "--socket", sock, "--export-name", "disk",
            f"rbd:{image_spec['pool']}/{image_spec['image']}:id={image_spec['user']}"]


@pytest.fixture
def nbd_export(daemon, rbd_env, tmp_path, client_log):  # noqa: F811
    make_pool(daemon, "pool")
    make_image(daemon, "pool", "exported", 32 * MiB + 512)
    sock = str(tmp_path / "nbd.sock")
    proc = subprocess.Popen(exporter({"pool": "pool", "image": "exported", "user": "admin"}, sock),
                            env=rbd_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 30
    while not os.path.exists(sock):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"NBD exporter did not start: {proc.communicate()[0]}\n{log_text(client_log)}")
        time.sleep(0.05)
    yield f"nbd+unix:///disk?socket={sock}", proc
    if proc.poll() is None:
        proc.terminate()
        proc.wait(CLIENT_TIMEOUT)


def test_read_and_write_through_nbd(nbd_export, rbd_env):
    uri, exporter_proc = nbd_export
    env = dict(rbd_env)
    env.pop("LD_LIBRARY_PATH")   # the NBD clients never load librbd
    out = run(["qemu-img", "info", "--output=json", uri], env).stdout
    assert f'"virtual-size": {32 * MiB + 512}' in out
    run(["qemu-io", "-f", "raw", uri, "-c", "write -P 0x7e 3072 9216", "-c", "write -z 5120 1024",
         "-c", "flush"], env)
    out = run(["qemu-io", "-f", "raw", uri, "-c", "read -P 0x7e 3072 2048", "-c", "read -P 0 5120 1024",
               "-c", "read -P 0x7e 6144 6144", "-c", "read -P 0 0 3072"], env).stdout
    assert "Pattern verification failed" not in out
    exporter_proc.terminate()   # closes the image cleanly (nebd has one fd per volume)
    assert exporter_proc.wait(CLIENT_TIMEOUT) == 0
    assert read_image("pool", "exported", 3072, 9216) == b"\x7e" * 2048 + bytes(1024) + b"\x7e" * 6144
