"""The C data path while the daemon stays away longer: I/O waits (never fails), a log line says
why every 10 s, and the I/O completes once a daemon is back. (Slow: it waits out the 10 s.)"""
from __future__ import annotations

import time

from capi_helpers import log_text
from test_capi_abi import abi, handles, image, log_file, pread  # noqa: F401
from upgrade_helpers import slow


@slow
def test_long_outage_logs_while_waiting(image, daemon, log_file):  # noqa: F811
    ffi, lib = image.ffi, image.lib
    daemon.stop()
    c = ffi.new("rbd_completion_t *")
    assert lib.rbd_aio_create_completion(ffi.NULL, ffi.NULL, c) == 0
    assert lib.rbd_aio_write(image.image, 4096, 5, b"later", c[0]) == 0
    time.sleep(11)
    assert lib.rbd_aio_is_complete(c[0]) == 0
    assert "still waiting for the daemon at " + daemon.socket in log_text(log_file)
    daemon.start()
    lib.rbd_aio_wait_for_complete(c[0])
    assert lib.rbd_aio_get_return_value(c[0]) >= 0
    lib.rbd_aio_release(c[0])
    assert pread(image, 4096, 5) == b"later"
