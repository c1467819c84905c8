"""glance's write pattern through a Python rbd module: our module vs Debian's python3-rbd over our
libraries (used by fio_compare.py, next to its qemu-img convert of the same 1 GiB into rbd).

Each run is a fresh client process writing ``size`` bytes of incompressible data to a fresh image in
8 MiB chunks, in order (rbd.Image.write, as glance_store's RBD add does), then flush and close. The
time is from rbd.Image's open to its close returning (the image is created before, untimed, and
left until the daemon goes). Interleaved with them, ``qemu-img convert`` of a 1 GiB raw file of
the same kind of data into a fresh rbd image, timed over the whole process (its start, first open and
image creation included, so it is the harder figure to beat by a little). The faces:

- ours: this interpreter with PYTHONPATH=<repo>/curverbd/compat:<repo> (our rados/rbd packages,
  whose data path is the C engine loaded from the same library directory, CURVERBD_LIB_DIR);
- Debian's: /usr/bin/python3 -I -s (its dist-packages rados/rbd, Ceph's Cython bindings) with
  LD_LIBRARY_PATH=<libs>, so the loader binds them to our librados.so.2 / librbd.so.1 (as
  tests/test_debian_bindings.py runs them);
- qemu-img convert with LD_LIBRARY_PATH=<libs> (our librbd under QEMU's block driver).
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys

import host_cost

DEBIAN_PYTHON = "/usr/bin/python3"
CHUNK = 8 << 20

SCRIPT = r'''
import json, os, sys, time
import rados, rbd

pool, name, size, chunk = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
data = os.urandom(chunk)
with rados.Rados(conffile="") as cluster:
    with cluster.open_ioctx(pool) as ioctx:
        rbd.RBD().create(ioctx, name, size)
        start = time.perf_counter()
        image = rbd.Image(ioctx, name)
        offset = 0
        while offset < size:
            image.write(data, offset)
            offset += chunk
        image.flush()
        image.close()
        wall = time.perf_counter() - start
print(json.dumps({"wall_s": wall, "module": rbd.__file__}))
'''


def faces(root: str, lib: str, socket: str, source: str) -> dict[str, tuple[list[str], dict]]:
    """The command prefix and environment of each face (the image's pool and name are appended)."""
    base = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LD_PRELOAD", "LD_LIBRARY_PATH")}
    base.update(CURVERBD_SOCKET=socket, CURVERBD_LIB_DIR=lib)
    ours = dict(base, PYTHONPATH=os.pathsep.join([os.path.join(root, "curverbd", "compat"), root]))
    debian = dict(base, LD_LIBRARY_PATH=lib)
    qemu = dict(base, LD_LIBRARY_PATH=lib, PYTHONPATH=root)
    return {"ours": ([sys.executable, "-c", SCRIPT], ours),
            "debian": ([DEBIAN_PYTHON, "-I", "-s", "-c", SCRIPT], debian),
            "convert": (["qemu-img", "convert", "-f", "raw", "-O", "raw", source], qemu)}


def available() -> str | None:
    """Why Debian's face cannot run here (None if it can)."""
    probe = subprocess.run([DEBIAN_PYTHON, "-I", "-s", "-c", "import rados, rbd"], capture_output=True,
                           text=True, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    return None if probe.returncode == 0 else f"{DEBIAN_PYTHON} has no rados/rbd modules (python3-rbd)"


def write_1g(root: str, lib: str, socket: str, pool: str, work: str, size: int = 1 << 30,
             rounds: int = 3) -> dict:
    """Each face ``rounds`` times, interleaved (ours, Debian's, qemu-img convert, then again), so what
    else runs on the machine hits all alike; each face's figure is the median of its runs (on a shared
    machine a single lucky run, e.g. the disk's first burst, would decide a best-of)."""
    why = available()
    source = os.path.join(work, "pymod-src.img")
    host_cost.make_source(source, size)
    runs: dict[str, list[float]] = {"ours": [], "debian": [], "convert": []}
    modules = {}
    try:
        for i in range(rounds):
            for face, (cmd, env) in faces(root, lib, socket, source).items():
                if face == "debian" and why:
                    continue
                os.sync()   # nothing of the run before still to write back while this one is timed
                name = f"pymod-{face}-{i}"   # a fresh image each time; removed at the end, not meanwhile
                if face == "convert":
                    runs[face].append(host_cost.timed([*cmd, f"rbd:{pool}/{name}"], env)[0])
                    continue
                proc = subprocess.run([*cmd, pool, name, str(size), str(CHUNK)], env=env,
                                      capture_output=True, text=True)
                if proc.returncode:
                    raise RuntimeError(f"{face} module run failed: {proc.stderr.strip()[-1500:]}")
                out = json.loads(proc.stdout.strip().splitlines()[-1])
                runs[face].append(out["wall_s"])
                modules[face] = out["module"]
    finally:
        os.unlink(source)
    mb = size / 1e6
    result = {"size": size, "chunk": CHUNK, "modules": modules}
    for face, times in runs.items():
        if times:
            result[f"{face}_s"] = [round(t, 2) for t in times]
            result[f"{face}_mbps"] = round(mb / statistics.median(times), 1)
    if why:
        result["debian_missing"] = why
    elif runs["ours"]:
        result["ratio_debian"] = round(result["ours_mbps"] / result["debian_mbps"], 2)
    if runs["ours"] and runs["convert"]:
        result["ratio_convert"] = round(result["ours_mbps"] / result["convert_mbps"], 2)
    return result
