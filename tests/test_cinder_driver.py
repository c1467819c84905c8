"""Cinder's own RBD volume driver (PyPI ``cinder``, cinder.volume.drivers.rbd.RBDDriver, not
modified) against a live daemon through our Python ``rados`` / ``rbd`` modules: setup,
create, snapshot, clone from a snapshot and from a volume, extend, stats, delete.

Cinder is big (~130 s to install, many pins), so it never goes into the test environment:
the driver runs in a subprocess of a Python that has it — this interpreter if ``cinder``
is importable (``pip install -e .[cinder]``), else a venv of its own, created once and kept
in $CURVERBD_CINDER_VENV (default ~/.cache/curverbd/cinder-venv). Marked slow.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from capi_helpers import ROOT, make_pool

pytestmark = pytest.mark.slow

GiB = 1 << 30
INSTALL_TIMEOUT = 900

DRIVER = r'''
import json, sys, uuid
import rados, rbd
from oslo_config import cfg
from cinder import context, objects
from cinder.volume import configuration, driver
from cinder.volume.drivers import rbd as rbd_driver

ceph_conf, pool = sys.argv[1], sys.argv[2]
objects.register_all()
cfg.CONF([], project="cinder", default_config_files=[])
group = "curverbd"
conf = configuration.Configuration(driver.volume_opts, config_group=group)
conf.append_config_values(rbd_driver.RBD_OPTS)
for key, value in {"rbd_pool": pool, "rbd_user": "cinder", "rbd_ceph_conf": ceph_conf,
                   "volume_backend_name": "curverbd", "rbd_flatten_volume_from_snapshot": False,
                   "rados_connect_timeout": -1}.items():
    cfg.CONF.set_override(key, value, group=group)

ctx = context.get_admin_context()
out = {"rados_module": rados.__file__, "rbd_module": rbd.__file__}
drv = rbd_driver.RBDDriver(configuration=conf)
drv.do_setup(ctx)
drv.check_for_setup_error()
out["secret_uuid"] = conf.rbd_secret_uuid


class Volume:
    """The attributes of cinder.objects.Volume the driver reads (no database behind it)."""

    def __init__(self, size):
        self.id = str(uuid.uuid4())
        self.name = "volume-" + self.id               # cinder's volume_name_template
        self.size = size
        self.encryption_key_id = None
        self.volume_type = None
        self.volume_type_id = None
        self.use_quota = True
        self.obj_context = ctx
        self.host = "localhost@curverbd#curverbd"


class Snapshot:
    """The attributes of cinder.objects.Snapshot the driver reads."""

    def __init__(self, volume):
        self.id = str(uuid.uuid4())
        self.name = "snapshot-" + self.id             # cinder's snapshot_name_template
        self.volume = volume
        self.volume_id = volume.id
        self.volume_name = volume.name
        self.volume_size = volume.size
        self.obj_context = ctx


volume = Volume


def image_size(name):
    with rados.Rados(rados_id="cinder", conffile=ceph_conf) as c, c.open_ioctx(pool) as io, \
            rbd.Image(io, name, read_only=True) as img:
        return img.size()


def names():
    with rados.Rados(rados_id="cinder", conffile=ceph_conf) as c, c.open_ioctx(pool) as io:
        return sorted(rbd.RBD().list(io))


src = volume(1)
drv.create_volume(src)
out["created_size"] = image_size(src.name)
with rados.Rados(rados_id="cinder", conffile=ceph_conf) as c, c.open_ioctx(pool) as io, \
        rbd.Image(io, src.name) as img:
    img.write(b"cinder-data" * 100, 4096)

snap = Snapshot(src)
drv.create_snapshot(snap)
with rados.Rados(rados_id="cinder", conffile=ceph_conf) as c, c.open_ioctx(pool) as io, \
        rbd.Image(io, src.name) as img:
    out["snaps"] = [(s["name"], img.is_protected_snap(s["name"])) for s in img.list_snaps()]

clone = volume(2)
drv.create_volume_from_snapshot(clone, snap)
with rados.Rados(rados_id="cinder", conffile=ceph_conf) as c, c.open_ioctx(pool) as io, \
        rbd.Image(io, clone.name) as img:
    out["clone_parent"] = list(img.parent_info())
    out["clone_size"] = img.size()
    out["clone_data"] = img.read(4096, 1100) == b"cinder-data" * 100

drv.extend_volume(src, 3)
out["extended_size"] = image_size(src.name)

# a volume cloned from a volume: cinder snapshots the source and clones that snapshot
twin = volume(3)
drv.create_cloned_volume(twin, src)
with rados.Rados(rados_id="cinder", conffile=ceph_conf) as c, c.open_ioctx(pool) as io, \
        rbd.Image(io, twin.name) as img:
    out["twin_parent"] = list(img.parent_info())
    out["twin_data"] = img.read(4096, 1100) == b"cinder-data" * 100
out["names"] = names()
out["stats_backend"] = drv.get_volume_stats(refresh=True).get("volume_backend_name")

# a snapshot with a clone cannot go; the driver flattens or reports busy depending on config
drv.delete_volume(twin)
drv.delete_volume(clone)
drv.delete_snapshot(snap)
with rados.Rados(rados_id="cinder", conffile=ceph_conf) as c, c.open_ioctx(pool) as io, \
        rbd.Image(io, src.name) as img:
    out["src_snaps_before_delete"] = [(s["name"], img.is_protected_snap(s["name"])) for s in img.list_snaps()]
    out["src_children_before_delete"] = img.list_children()
drv.delete_volume(src)
out["names_after"] = names()
out["snapshot_name"] = snap.name
out["volume_names"] = [src.name, clone.name, twin.name]
print(json.dumps(out))
'''


def _has_cinder(python: str) -> bool:
    return subprocess.run([python, "-c", "import cinder.volume.drivers.rbd"], capture_output=True).returncode == 0


@pytest.fixture(scope="session")
def cinder_python() -> str:
    """A Python interpreter that can import cinder (installing it into a cached venv once)."""
    if _has_cinder(sys.executable):
        return sys.executable
    venv = os.environ.get("CURVERBD_CINDER_VENV",
                          os.path.join(os.path.expanduser("~"), ".cache", "curverbd", "cinder-venv"))
    python = os.path.join(venv, "bin", "python3")
    if not (os.path.exists(python) and _has_cinder(python)):
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        proc = subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "cinder"],
                              capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
        if proc.returncode != 0:
            pytest.skip(f"cannot install cinder from PyPI: {proc.stderr[-2000:]}")
    return python


def test_cinder_rbd_driver_lifecycle(cinder_python, daemon, tmp_path):
    make_pool(daemon, "volumes", user="cinder")
    ceph_conf = tmp_path / "ceph.conf"
    ceph_conf.write_text(f"[global]\ncurverbd_socket = {daemon.socket}\n")
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    env = dict(os.environ)
    env.pop("CURVERBD_SOCKET", None)          # the socket comes from ceph.conf, as in a deployment
    env["PYTHONPATH"] = os.pathsep.join([ROOT, os.path.join(ROOT, "curverbd", "compat")])
    proc = subprocess.run([cinder_python, str(script), str(ceph_conf), "volumes"], env=env, cwd=str(tmp_path),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-8000:]
    out = json.loads(proc.stdout.splitlines()[-1])

    compat = os.path.join(ROOT, "curverbd", "compat")
    assert out["rados_module"].startswith(compat) and out["rbd_module"].startswith(compat)
    assert len(out["secret_uuid"]) == 36                 # defaulted to our fsid
    src, clone, twin = out["volume_names"]
    assert out["created_size"] == GiB
    assert out["snaps"] == [[out["snapshot_name"], True]]  # cinder protects its snapshots
    assert out["clone_parent"] == ["volumes", src, out["snapshot_name"]]
    assert out["clone_size"] == 2 * GiB                  # resized to the new volume's size
    assert out["clone_data"] is True
    assert out["extended_size"] == 3 * GiB
    assert out["twin_parent"] == ["volumes", src, twin + ".clone_snap"]
    assert out["twin_data"] is True
    assert out["names"] == sorted([src, clone, twin])
    assert out["stats_backend"] == "curverbd"
    # cinder's fast delete of the twin leaves its ".clone_snap" on the source (as on Ceph), so the
    # source is kept as a silent "<name>.deleted" volume instead of being removed
    assert out["src_snaps_before_delete"] == [[twin + ".clone_snap", True]]
    assert out["src_children_before_delete"] == []
    assert out["names_after"] == [src + ".deleted"]
