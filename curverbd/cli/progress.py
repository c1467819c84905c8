"""Ceph's progress line for long operations: ``Importing image: 42% complete...`` on stderr.

The line is rewritten in place (``\\r``) as the percentage changes and ends with
``...done.`` or ``...failed.``. It only appears when stderr is a terminal and
--no-progress was not given, so scripts and pipes see nothing.
"""
from __future__ import annotations

import sys
from typing import TextIO


class Progress:
    """One operation's progress line. Use as a context manager: a failure inside ends it with 'failed.'."""

    def __init__(self, label: str, enabled: bool = True, stream: TextIO | None = None) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = enabled and self.stream.isatty()
        self._percent = -1

    @classmethod
    def for_args(cls, label: str, args) -> "Progress":
        """The progress line of a command, honouring its --no-progress."""
        return cls(label, enabled=not getattr(args, "no_progress", False))

    def update(self, done: int, total: int) -> int:
        """Show ``done`` of ``total``; returns 0 so it can serve as a core progress callback."""
        if self.enabled:
            percent = 100 if total <= 0 else min(100, done * 100 // total)
            if percent != self._percent:
                self._percent = percent
                self.stream.write(f"\r{self.label}: {percent}% complete...")
                self.stream.flush()
        return 0

    def done(self) -> None:
        if self.enabled:
            self.stream.write(f"\r{self.label}: 100% complete...done.\n")
            self.stream.flush()

    def failed(self) -> None:
        if self.enabled:
            self.stream.write(f"\r{self.label}: {max(self._percent, 0)}% complete...failed.\n")
            self.stream.flush()

    def __enter__(self) -> "Progress":
        self.update(0, 1)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.done()
        else:
            self.failed()
