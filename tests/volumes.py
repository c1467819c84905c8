"""Pools and volumes for raw wire tests, made through the daemon's MDS with the tests' own encoder."""
from __future__ import annotations

from mds_wire import Mds, Who, kFileExists, kOK

GiB = 1 << 30


def make_volume(nebd_socket: str, pool: str, image: str, owner: str = "admin", length: int = 10 * GiB) -> None:
    """The directory ``/<pool>`` (if missing) and the volume ``/<pool>/<image>`` of ``length`` bytes,
    through the MDS socket of the daemon listening on ``nebd_socket``."""
    who = Who(owner)
    mds = Mds(nebd_socket + ".mds")
    try:
        assert mds.mkdir(f"/{pool}", who) in (kOK, kFileExists)
        assert mds.create(f"/{pool}/{image}", who, length=length) == kOK
    finally:
        mds.close()
