"""Every public name of Ceph Pacific's rbd and rados modules (Debian's python3-rbd/python3-rados,
read at test time by Debian's own interpreter) exists in ours: module names, constants with the same
values, exception classes under the same bases, and the public members of every class."""
from __future__ import annotations

import inspect
import json
import os
import subprocess

import pytest

from pymod_helpers import ioctx, rados, rados_conn, rbd  # noqa: F401  (fixtures)

DEBIAN_PYTHON = "/usr/bin/python3"
HELPER_NAMES = {"datetime", "timedelta", "unicode", "chain", "partial"}   # stdlib classes re-exported

DUMP = r'''
import inspect, json
import rados, rbd
out = {}
for mod in (rados, rbd):
    names = {}
    for n in sorted(n for n in dir(mod) if not n.startswith("_")):
        obj = getattr(mod, n)
        if inspect.ismodule(obj):
            names[n] = {"kind": "module"}
        elif inspect.isclass(obj):
            names[n] = {"kind": "exc" if issubclass(obj, BaseException) else "class",
                        "mro": [c.__name__ for c in obj.__mro__ if c.__module__ == mod.__name__],
                        "members": sorted(m for m in dir(obj) if not m.startswith("_"))}
        elif callable(obj):
            names[n] = {"kind": "func"}
        else:
            names[n] = {"kind": "value", "value": obj}
    out[mod.__name__] = names
print(json.dumps(out))
'''


@pytest.fixture(scope="module")
def pacific():
    if not os.path.exists(DEBIAN_PYTHON):
        pytest.skip(f"{DEBIAN_PYTHON} is missing")
    proc = subprocess.run([DEBIAN_PYTHON, "-I", "-s", "-c", DUMP], capture_output=True, text=True,
                          env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    if proc.returncode != 0:
        pytest.skip(f"Debian's python3-rbd/python3-rados cannot be imported: {proc.stderr.strip()[-300:]}")
    return json.loads(proc.stdout)


@pytest.mark.parametrize("module", [rados, rbd], ids=["rados", "rbd"])
def test_every_public_name(pacific, module):
    ours = module
    missing, wrong = [], []
    for name, info in pacific[module.__name__].items():
        if not hasattr(ours, name):
            missing.append(name)
            continue
        obj = getattr(ours, name)
        if info["kind"] == "value" and obj != info["value"]:
            wrong.append(f"{name} = {obj!r}, Pacific: {info['value']!r}")
        elif info["kind"] == "exc":
            ours_mro = [c.__name__ for c in obj.__mro__ if getattr(ours, c.__name__, None) is c]
            if ours_mro != info["mro"]:
                wrong.append(f"{name} bases {ours_mro}, Pacific: {info['mro']}")
        elif info["kind"] == "class" and not inspect.isclass(obj):
            wrong.append(f"{name} is not a class")
        elif info["kind"] == "func" and not callable(obj):
            wrong.append(f"{name} is not callable")
    assert not missing, f"missing from our {module.__name__}: {missing}"
    assert not wrong, wrong


@pytest.mark.parametrize("module", [rados, rbd], ids=["rados", "rbd"])
def test_every_public_member(pacific, module):
    missing = []
    for name, info in pacific[module.__name__].items():
        if info["kind"] != "class" or name in HELPER_NAMES:
            continue
        cls = getattr(module, name)
        missing += [f"{name}.{member}" for member in info["members"] if not hasattr(cls, member)]
    assert not missing, f"missing from our {module.__name__}: {missing}"


def test_unsupported_calls_raise_eopnotsupp(ioctx):
    """Group's methods, mirroring, migration, namespaces: OperationNotSupported (EOPNOTSUPP)."""
    import errno
    group = rbd.Group(ioctx, "g")
    r = rbd.RBD()
    for call in (lambda: group.add_image(ioctx, "x"), group.list_images, lambda: group.create_snap("s"),
                 lambda: r.group_create(ioctx, "g"), lambda: r.mirror_mode_get(ioctx),
                 lambda: r.migration_prepare(ioctx, "a", ioctx, "b"), lambda: r.namespace_list(ioctx)):
        with pytest.raises(rbd.OperationNotSupported) as info:
            call()
        assert type(info.value) is rbd.OperationNotSupported and info.value.errno == errno.EOPNOTSUPP
