"""The C ABI behaves like Ceph Pacific's librbd where clients can tell: a C program
(tests/c/conformance.c, compiled against Debian's librbd-dev headers and linked to our
libraries) checks buffer ownership of aio writes, completion return values, librbd's clip_io
edges, rbd_list_descendants, the outputs of unsupported calls and the image geometry from its
stored state; Debian's python3-rbd checks that an image left open at interpreter exit does not
hang the exit."""
from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from capi_helpers import ROOT, log_text, make_pool, read_image, run

DEBIAN_PYTHON = "/usr/bin/python3"
C_SOURCE = os.path.join(ROOT, "tests", "c", "conformance.c")


@pytest.fixture
def debian_bindings():
    if not os.path.exists(DEBIAN_PYTHON):
        pytest.skip("no /usr/bin/python3")
    probe = subprocess.run([DEBIAN_PYTHON, "-I", "-s", "-c", "import rados, rbd"], capture_output=True, text=True,
                           env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    if probe.returncode != 0:
        pytest.skip("Debian's python3-rados / python3-rbd are not installed")


EXIT_OPEN = r'''
import sys
import rados, rbd
cluster = rados.Rados(conffile="")
cluster.conf_set("curverbd_close_timeout", "5")
cluster.connect()
ioctx = cluster.open_ioctx("exitpool")
rbd.RBD().create(ioctx, "img", 8 << 20)
img = rbd.Image(ioctx, "img")
img.write(b"left open" * 1000, 4096)
'''
# aio writes still in flight at exit (their completions hold the image until their callbacks ran)
EXIT_AIO = r'''
done = []
for i in range(8):
    img.aio_write(bytes([i]) * (4 << 20), (i % 2) << 22, lambda comp: done.append(comp.get_return_value()))
'''
# no close, no shutdown: the interpreter's exit finalizes what is left
EXIT_ENDINGS = {
    "sync_writes_only": "",   # Image.__dealloc__ -> rbd_close runs inside Py_FinalizeEx
    "aio_in_flight": EXIT_AIO,
    "cluster_shut_down": "ioctx.close()\ncluster.shutdown()\n",
    "handles_dropped": "del cluster, ioctx\n",
}


@pytest.mark.parametrize("ending", sorted(EXIT_ENDINGS))
def test_debian_exit_with_image_open(debian_bindings, daemon, rbd_env, client_log, tmp_path, ending):
    make_pool(daemon, "exitpool")
    script = tmp_path / "exit_open.py"
    script.write_text(EXIT_OPEN + EXIT_ENDINGS[ending] + 'print("written", flush=True)\n')
    env = dict(rbd_env)
    env.pop("PYTHONPATH", None)
    start = time.monotonic()
    proc = run([DEBIAN_PYTHON, "-I", "-s", str(script)], env=env, cwd=str(tmp_path), check=False, timeout=60)
    elapsed = time.monotonic() - start
    assert proc.returncode == 0, f"exit {proc.returncode} after {elapsed:.1f}s\n{proc.stdout}\n{proc.stderr}\n" \
                                 f"{log_text(client_log)}"
    assert proc.stdout == "written\n"
    assert elapsed < 60
    if ending == "sync_writes_only":   # the C side flushed at the exit-time close
        assert read_image("exitpool", "img", 4096, 9000) == b"left open" * 1000


def test_debian_exit_with_image_open_daemon_gone(debian_bindings, daemon, rbd_env, client_log, tmp_path):
    """The daemon goes away while the image is open: the exit-time close gives up in bounded time."""
    make_pool(daemon, "exitpool")
    script = tmp_path / "exit_open.py"
    script.write_text(EXIT_OPEN + 'print("written", flush=True)\nsys.stdin.readline()\n')
    env = dict(rbd_env)
    env.pop("PYTHONPATH", None)
    proc = subprocess.Popen([DEBIAN_PYTHON, "-I", "-s", str(script)], env=env, cwd=str(tmp_path), text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout.readline() == "written\n"
        daemon.stop()
        start = time.monotonic()
        out, err = proc.communicate("\n", timeout=60)
        elapsed = time.monotonic() - start
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, f"exit {proc.returncode}\n{out}\n{err}\n{log_text(client_log)}"
    assert elapsed < 60


# --- the C program -------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def conformance_program(capi_libs, tmp_path_factory) -> str:
    """tests/c/conformance.c built with Debian's librbd-dev / librados-dev headers, linked to our libraries."""
    if not (os.path.exists("/usr/include/rbd/librbd.h") and os.path.exists("/usr/include/rados/librados.h")):
        pytest.skip("Debian's librbd-dev / librados-dev headers are not installed (scripts/install-deps.sh)")
    if not shutil.which("gcc"):
        pytest.skip("no gcc")
    exe = str(tmp_path_factory.mktemp("conformance") / "conformance")
    subprocess.run(["gcc", "-Wall", "-Werror", "-O1", "-o", exe, C_SOURCE, "-L", capi_libs,
                    "-l:librbd.so.1", "-l:librados.so.2"], check=True)
    return exe


def test_c_client_sees_pacific_librbd(conformance_program, daemon, rbd_env, client_log):
    """Buffer ownership of aio writes, completion and sync return values, clip_io edges, geometry
    from the stored state, rbd_list_descendants and the outputs of unsupported calls: every check
    of the program compares exact values (errno, lengths, bytes)."""
    make_pool(daemon, "conf")
    proc = run([conformance_program, "conf"], env=rbd_env, check=False)
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}\n{log_text(client_log)}"
    assert proc.stdout.splitlines()[-1].endswith("checks, 0 failed")
    # what the unsupported calls said, once each, in the client's log
    log = log_text(client_log)
    for name in ("rbd_group_list", "rbd_namespace_list", "rbd_mirror_image_get_info", "rados_mgr_command"):
        assert f"{name} is not implemented by curverbd (returns -EOPNOTSUPP, outputs empty)" in log


def test_c_client_zero_copy_writes(conformance_program, daemon, rbd_env, client_log, tmp_path):
    """rbd_disable_zero_copy_writes = false (a QEMU-like caller keeping its buffers until completion)."""
    make_pool(daemon, "zc")
    conf = tmp_path / "ceph.conf"
    conf.write_text("[global]\nrbd_disable_zero_copy_writes = false\n")
    env = dict(rbd_env, CEPH_CONF=str(conf))
    proc = run([conformance_program, "zc", "zero-copy"], env=env, check=False)
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}\n{log_text(client_log)}"
    assert proc.stdout.splitlines()[-1].endswith("checks, 0 failed")


DESCENDANTS = r'''
import json
import rados, rbd
out = {}
with rados.Rados(conffile="") as cluster:
    with cluster.open_ioctx("desc") as ioctx:
        r = rbd.RBD()
        r.create(ioctx, "lonely", 8 << 20)
        with rbd.Image(ioctx, "lonely") as img:
            out["none"] = list(img.list_descendants())
            for call in ("group", "mirror_image_get_info"):
                try:
                    out[call] = getattr(img, call)()
                except Exception as exc:
                    out[call] = type(exc).__name__
        r.create(ioctx, "p", 8 << 20)
        with rbd.Image(ioctx, "p") as img:
            img.create_snap("s")
            img.protect_snap("s")
        r.clone(ioctx, "p", "s", ioctx, "c")
        with rbd.Image(ioctx, "c") as img:
            img.create_snap("t")
            img.protect_snap("t")
        r.clone(ioctx, "c", "t", ioctx, "g")
        with rbd.Image(ioctx, "p") as img:
            out["descendants"] = [(d["pool"], d["image"], d["trash"]) for d in img.list_descendants()]
            out["children"] = [(d["pool"], d["image"]) for d in img.list_children2()]
        for call in ("group_list", "namespace_list"):
            try:
                out[call] = getattr(r, call)(ioctx)
            except Exception as exc:
                out[call] = type(exc).__name__
print(json.dumps(out))
'''


def test_debian_list_descendants_and_unsupported(debian_bindings, daemon, rbd_env, client_log, tmp_path):
    """python3-rbd's list_descendants (it frees the array the call fills, even after a failure) and
    calls curverbd does not support: an exception, never a crash; the group of an image in none."""
    import json

    make_pool(daemon, "desc")
    script = tmp_path / "desc.py"
    script.write_text(DESCENDANTS)
    env = dict(rbd_env)
    env.pop("PYTHONPATH", None)
    proc = run([DEBIAN_PYTHON, "-I", "-s", str(script)], env=env, cwd=str(tmp_path), check=False)
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}\n{log_text(client_log)}"
    out = json.loads(proc.stdout)
    assert out["none"] == []
    assert out["descendants"] == [["desc", "c", False], ["desc", "g", False]]
    assert out["children"] == [["desc", "c"]]
    assert out["group"] == {"pool": -1, "name": ""}   # librbd's answer for an image in no group
    assert out["mirror_image_get_info"] == "OperationNotSupported"
    assert out["group_list"] == "OperationNotSupported"
    assert out["namespace_list"] == "OperationNotSupported"
