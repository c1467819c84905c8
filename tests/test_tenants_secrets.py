"""Tenants' state stays private: no state file is readable by others, and a cephx `key=` never reaches a log."""
from __future__ import annotations

import os
import stat

from capi_helpers import log_text, make_pool, run

SECRET = "AQBsecretZmFrZWtleWZvcnRlc3Rpbmc9PQ=="


def test_state_files_are_private(daemon, rbd_env):
    make_pool(daemon, "pool")
    run(["qemu-img", "create", "-f", "raw", "rbd:pool/img", "16M"], rbd_env)
    run(["qemu-io", "-f", "raw", "-c", "write -P 0x5a 0 1M", "rbd:pool/img"], rbd_env)
    seen = 0
    for top, dirs, files in os.walk(daemon.data_dir):
        for name in dirs + files:
            mode = os.lstat(os.path.join(top, name)).st_mode
            assert mode & (stat.S_IRWXG | stat.S_IRWXO) == 0, f"{os.path.join(top, name)} is {oct(mode)}"
            seen += 1
    assert seen >= 4   # catalog, meta file, log, the volume's data
    assert stat.S_IMODE(os.stat(daemon.socket).st_mode) == 0o600


def test_key_secret_never_logged(daemon, rbd_env, client_log):
    make_pool(daemon, "pool")
    spec = f"rbd:pool/img:id=admin:key={SECRET}:auth_supported=cephx"
    run(["qemu-img", "create", "-f", "raw", spec, "16M"], rbd_env)
    run(["qemu-io", "-f", "raw", "-c", "write 0 4k", spec], rbd_env)
    # an error path too: a missing image, so the client logs something about this spec
    missing = run(["qemu-img", "info", f"rbd:pool/nope:key={SECRET}"], rbd_env, check=False)
    assert missing.returncode != 0   # (QEMU itself echoes the filename it was given; that is not ours)
    assert "nope" in log_text(client_log)
    assert SECRET not in log_text(client_log)
    assert SECRET not in log_text(daemon.log)
