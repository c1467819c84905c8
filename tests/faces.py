"""Running one script through both faces a Ceph program may use: our rados/rbd Python modules, and
Debian's python3-rados/python3-rbd (Pacific's Cython bindings) over our C libraries. The script prints
one JSON object (its observations) on its last line."""
from __future__ import annotations

import json
import os
import sys

import pytest

from capi_helpers import ROOT, run

DEBIAN_PYTHON = "/usr/bin/python3"
FACES = ["ours", "debian"]

# the observation helper the scripts share: a value, or the exception's class and errno
OUTCOME = r'''
def outcome(fn, *a, **k):
    try:
        value = fn(*a, **k)
    except Exception as exc:
        return [type(exc).__name__, getattr(exc, "errno", None)]
    return ["ok", value if isinstance(value, (int, str, bool, type(None))) else repr(type(value).__name__)]
'''


def observe(face: str, body: str, rbd_env: dict, tmp_path) -> dict:
    """Run ``body`` through ``face`` ("ours" or "debian") and return what it printed."""
    script = tmp_path / f"body-{face}.py"
    script.write_text(body)
    env = dict(rbd_env)
    if face == "ours":
        env.pop("LD_LIBRARY_PATH", None)
        env["PYTHONPATH"] = os.path.join(ROOT, "curverbd", "compat") + os.pathsep + ROOT
        cmd = [sys.executable, str(script)]
    else:
        if not os.path.exists(DEBIAN_PYTHON):
            pytest.skip(f"{DEBIAN_PYTHON} is missing")
        env.pop("PYTHONPATH", None)
        cmd = [DEBIAN_PYTHON, "-I", "-s", str(script)]
    proc = run(cmd, env=env, check=False, cwd=str(tmp_path))
    if proc.returncode != 0:
        raise AssertionError(f"{face}: {proc.stderr.strip()[-3000:]}")
    return json.loads(proc.stdout.splitlines()[-1])


def differences(observed: dict, expected: dict) -> dict:
    """{key: (observed, expected)} for every expectation not met."""
    return {key: (observed.get(key), want) for key, want in expected.items() if observed.get(key) != want}
