"""The client log: Python records go to the same file as the C side's (shim_c/log.c)."""
from __future__ import annotations

import logging
import os
import threading

LOGGER = logging.getLogger("curverbd")


class CLogHandler(logging.Handler):
    """Writes formatted records through ``lib.crbd_log_write`` (never stdout/stderr)."""

    def __init__(self, lib) -> None:
        super().__init__(logging.INFO)
        self._lib = lib
        self.setFormatter(logging.Formatter("%(asctime)s {pid}/%(thread)d py: %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record).replace("{pid}", str(os.getpid()), 1) + "\n"
            data = line.encode("utf-8", "replace")
            self._lib.crbd_log_write(data, len(data))
        except Exception:  # a log line must never take the host down
            pass


def install(lib, embedded: bool) -> None:
    """Route every ``curverbd.*`` logger to the client log: only there when we embed Python in
    QEMU / fio; in a Python host (whose logging is its own) as one more handler."""
    if embedded:
        LOGGER.handlers[:] = [CLogHandler(lib)]
        LOGGER.setLevel(logging.INFO)
        LOGGER.propagate = False
    elif not any(isinstance(h, CLogHandler) for h in LOGGER.handlers):
        LOGGER.addHandler(CLogHandler(lib))


_path_lock = threading.Lock()


def set_path(lib, path: str) -> None:
    """Switch the log file (conf ``log_file``); a bad path is logged and ignored."""
    with _path_lock:
        r = lib.crbd_log_set_path(path.encode())
    if r < 0:
        LOGGER.warning("cannot open log_file %s (errno %d); keeping the current log", path, -r)
