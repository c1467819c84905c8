"""Completions of asynchronous image operations."""
from __future__ import annotations

import _thread
import errno
import logging
from typing import Any, Callable

from ..errors import Error

log = logging.getLogger(__name__)


class Completion:
    """The outcome of one aio call.

    The return value is >= 0 (bytes for read/write, 0 otherwise) or a negative
    errno. The callback, if any, gets the completion and runs on the cluster's
    receiver thread (or in the submitting thread when the call failed before any
    I/O was sent), before ``is_complete()`` turns True and ``wait()`` returns.
    """
    __slots__ = ("_callback", "_done", "_complete", "_rc", "error", "data", "__weakref__")

    def __init__(self, callback: Callable[["Completion"], Any] | None = None) -> None:
        self._callback = callback
        self._done = _thread.allocate_lock()
        self._done.acquire()
        self._complete = False
        self._rc = -errno.EINPROGRESS
        self.error: Error | None = None   # the Error behind a negative return value
        self.data: bytes | None = None    # aio_read's bytes

    def _finish(self, rc: int, error: Error | None = None) -> None:
        """Record the outcome, run the callback, then wake the waiters (once)."""
        self._rc = rc
        self.error = error
        if self._callback is not None:
            try:
                self._callback(self)
            except Exception:  # the caller's bug must not break our I/O thread
                log.exception("completion callback raised")
        self._complete = True
        self._done.release()

    def _fail(self, error: Error) -> "Completion":
        self._finish(-error.errno, error)
        return self

    def wait(self, timeout: float | None = None) -> int:
        """Wait for completion; the return value (-EINPROGRESS if ``timeout`` seconds pass first)."""
        if self._done.acquire(timeout=-1 if timeout is None else timeout):
            self._done.release()  # let every other waiter through too
            return self._rc
        return -errno.EINPROGRESS

    def is_complete(self) -> bool:
        return self._complete

    def get_return_value(self) -> int:
        return self._rc

    def result(self) -> int:
        """Wait; the return value, or raise the Error behind a failure."""
        self.wait()
        if self.error is not None:
            raise self.error
        return self._rc
