"""nebd file names: ``cbd:<pool>//<volume path>_<owner>_[:<curve client conf>]``.

Parsed exactly as Curve's nebd-server and client do: the Curve path runs from
the first ``/`` to the last ``:`` (or the end), and the owner sits between the
last two ``_``. So owners can never contain ``_``; volume names may.
"""
from __future__ import annotations

import errno
from collections import namedtuple

from ..errors import Error

CURVE_PREFIX = "cbd"


class NebdName(namedtuple("NebdName", "path owner conf", defaults=("",))):
    """Curve absolute path (e.g. /rbd/vol1), owner, and the Curve client conf path (unused here)."""
    __slots__ = ()

    def __str__(self) -> str:
        return format_name(self.path, self.owner, self.conf)


def format_name(path: str, owner: str, conf: str = "") -> str:
    """The nebd name of Curve file ``path`` opened as ``owner``."""
    pool = path.lstrip("/").split("/", 1)[0]
    name = f"{CURVE_PREFIX}:{pool}/{path}_{owner}_"
    return f"{name}:{conf}" if conf else name


def parse_name(name: str) -> NebdName:
    """Split a nebd file name; Error(EINVAL) naming the fault if it is not one."""
    prefix, sep, _ = name.partition(":")
    if not sep or prefix != CURVE_PREFIX:
        raise Error(errno.EINVAL, f"nebd file name {name!r}: backend prefix must be 'cbd:'")
    first_slash = name.find("/")
    if first_slash < 0:
        raise Error(errno.EINVAL, f"nebd file name {name!r}: no volume path")
    last_colon = name.rfind(":")
    if last_colon > first_slash:
        body, conf = name[first_slash + 1:last_colon], name[last_colon + 1:]
    else:
        body, conf = name[first_slash + 1:], ""
    if len(body) <= 2 or not body.endswith("_"):
        raise Error(errno.EINVAL, f"nebd file name {name!r}: must end in _<owner>_")
    path, sep, owner = body[:-1].rpartition("_")
    if not sep or not path or not owner:
        raise Error(errno.EINVAL, f"nebd file name {name!r}: must end in _<owner>_")
    return NebdName(path, owner, conf)
