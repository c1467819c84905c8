"""One image operation in flight: phases of nebd sub-requests, the first error wins."""
from __future__ import annotations

import _thread
import errno
from typing import Callable, Sequence

from ..errors import Error
from .completion import Completion

# A sub-request: (function, args); called as function(*args, done) where done(error) reports it.
Step = tuple[Callable, tuple]


class Op:
    """Runs phases of sub-requests and completes ``completion`` once, after the last.

    A phase's sub-requests run concurrently; the next phase starts when all of
    them completed without error. ``on_finish(op)`` runs before the completion
    fires (the image releases its range lock there).
    """
    __slots__ = ("completion", "result", "error", "on_finish", "lock_range", "seq", "_pending", "_then", "_mutex")

    def __init__(self, completion: Completion, result: int, on_finish: Callable[["Op"], None] | None = None):
        self.completion = completion
        self.result = result              # the return value on success (bytes, or 0)
        self.error: Error | None = None
        self.on_finish = on_finish
        self.lock_range: tuple[int, int] | None = None
        self.seq = 0
        self._pending = 0
        self._then: Callable[[], None] | None = None
        self._mutex = _thread.allocate_lock()

    def run(self, steps: Sequence[Step], then: Callable[[], None] | None = None) -> None:
        """Start a phase; ``then()`` starts the next one. An empty phase goes straight on."""
        if not steps:
            self._advance(then)
            return
        self._then = then
        self._pending = len(steps)  # known before any reply can arrive
        done = self._step_done
        for function, args in steps:
            function(*args, done)

    def _step_done(self, error: Error | None) -> None:
        with self._mutex:
            if error is not None and self.error is None:
                self.error = error
            self._pending -= 1
            if self._pending:
                return
        then, self._then = self._then, None
        self._advance(then)

    def _advance(self, then: Callable[[], None] | None) -> None:
        if then is not None and self.error is None:
            try:
                then()
            except Error as exc:
                self.error = exc
                self.finish()
            except Exception as exc:  # a bug: fail the operation rather than hang it
                self.error = Error(errno.EIO, f"internal error in image operation: {exc!r}")
                self.finish()
        else:
            self.finish()

    def finish(self) -> None:
        if self.on_finish is not None:
            self.on_finish(self)
        if self.error is None:
            self.completion._finish(self.result)
        else:
            self.completion._fail(self.error)
