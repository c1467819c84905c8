"""Fork detection: a handle made before ``fork()`` must not be used as is in the child.

The core's connection has a receiver thread and a socket shared with the
parent; the child has neither thread nor a socket of its own. Handles record
the generation at connect time and compare it with the current one.
"""
from __future__ import annotations

import os

_generation = 0


def _forked() -> None:
    global _generation
    _generation += 1


def generation() -> int:
    """A number that changes in a child process after every fork()."""
    return _generation


os.register_at_fork(after_in_child=_forked)
