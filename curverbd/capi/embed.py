"""Start of the embedded control plane (run once by the library's cffi init code)."""
from __future__ import annotations

import signal


def _restore_sigint() -> None:
    """Importing ``signal`` installs CPython's SIGINT handler if the host left SIGINT at
    SIG_DFL; give it back, or Ctrl-C would stop killing qemu-img (cffi-embedding.md 3.4)."""
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(ffi, lib) -> None:
    """Install logging, fix SIGINT, register every callback the C exports call."""
    embedded = bool(lib.crbd_embedded())   # False in a Python host: its signals and logging are its own
    if embedded:
        _restore_sigint()
    from . import admin_calls, log, object_calls, pacific_calls, rados_calls, rbd_calls
    from . import crypto_calls
    log.install(lib, embedded)
    rados_calls.register(ffi, lib)
    object_calls.register(ffi, lib)
    rbd_calls.register(ffi, lib)
    admin_calls.register(ffi, lib)
    pacific_calls.register(ffi, lib)
    crypto_calls.register(ffi, lib)
