"""The daemon's options in one place: where it listens, where it keeps state, which Curve rules it enforces."""
from __future__ import annotations

import os
from dataclasses import dataclass

from ..config import parse_size  # noqa: F401  (the daemon's options read sizes the same way)

GiB = 1 << 30
DEFAULT_SOCKET = "/data/nebd/nebd.sock"  # like nebd-server's listen.address
DEFAULT_DATA_DIR = "/data/curverbd"
CHUNK_SIZE = 16 << 20  # Curve's chunk size, reported as GetInfo.objSize
CURVE_RELEASES = ("1.5", "2")   # release1.5 (local snapshots, clones) and mainline (master, release2.x)


def default_data_dir() -> str:
    return os.environ.get("CURVERBD_DATA_DIR") or DEFAULT_DATA_DIR


@dataclass(frozen=True)
class ServerConfig:
    """Everything the daemon is told on its command line."""
    socket: str = DEFAULT_SOCKET
    data_dir: str = DEFAULT_DATA_DIR
    socket_group: str | None = None
    block_size: int = 4096                 # Curve's I/O alignment (512 also allowed)
    min_volume_size: int = 10 * GiB        # mds.curvefs.minFileLength
    segment_size: int = GiB                # mds.curvefs.defaultSegmentSize: growth unit
    max_volume_size: int = 20 << 40        # mds.curvefs.maxFileLength
    align_check: bool = True
    heartbeat_timeout: float = 30.0
    writeback_interval: float = 0.0        # seconds between writeback kicks (writeback.py); 0: off
    root_user: str = "root"                # mds.auth.rootUserName
    root_password: str = "root_password"   # mds.auth.rootPassword: root's requests are signed with it
    mds_listen: str | None = None          # "host:port" for CurveFSService on TCP (port 0: any free one)
    mds_init_grace: float = 0.0            # seconds after start in which changes answer kNotSupported
    daemonize: bool = False
    pid_file: str | None = None
    etcd_endpoints: tuple[str, ...] = ()   # an external etcd for RBD state; empty: start the embedded one
    curve_release: str = "1.5"             # whose MDS rules: "1.5" (local snapshots, clones) or "2" (mainline)
    flatten_step: int = 64 << 20           # bytes a background Flatten copies per transaction
    snapshotclone_listen: str | None = None  # "host:port" for snapshotcloneserver's HTTP API; None: not served
    s3_fail: bool = False                    # every snapshot dump fails, as if S3 refused it (clients' tests)

    def validate(self) -> None:
        """ValueError naming the bad option."""
        if self.block_size not in (512, 4096):
            raise ValueError(f"--block-size must be 512 or 4096, not {self.block_size}")
        if self.segment_size <= 0 or self.segment_size % self.block_size:
            raise ValueError(f"--segment-size {self.segment_size} must be a positive multiple of the block size")
        if not 0 < self.min_volume_size <= self.max_volume_size:
            raise ValueError("--min-volume-size must be positive and not above --max-volume-size")
        if self.min_volume_size % self.segment_size or self.max_volume_size % self.segment_size:
            raise ValueError("--min-volume-size and --max-volume-size must be multiples of --segment-size")
        if self.heartbeat_timeout <= 0:
            raise ValueError("--heartbeat-timeout must be positive")
        if self.writeback_interval < 0:
            raise ValueError("--writeback-interval must not be negative")
        if not self.root_user:
            raise ValueError("--root-user must not be empty")
        if self.mds_init_grace < 0:
            raise ValueError("--mds-init-grace must not be negative")
        if self.mds_listen is not None:
            self.mds_address()
        if self.curve_release not in CURVE_RELEASES:
            raise ValueError(f"--curve-release must be one of {', '.join(CURVE_RELEASES)}, not {self.curve_release!r}")
        if self.snapshotclone_listen is None and self.curve_release == "2":
            # mainline Curve keeps its snapshots there (a frozen dataclass: set once, here)
            object.__setattr__(self, "snapshotclone_listen", "127.0.0.1:0")
        if self.snapshotclone_listen is not None:
            self.snapshotclone_address()
        if self.flatten_step <= 0 or self.flatten_step % 4096:
            raise ValueError(f"--flatten-step {self.flatten_step} must be a positive multiple of 4096")

    def mds_address(self) -> tuple[str, int]:
        """(host, port) of --mds-listen; ValueError naming it if malformed."""
        host, _, port = (self.mds_listen or "").rpartition(":")
        if not host or not port.isdigit() or int(port) > 65535:
            raise ValueError(f"--mds-listen {self.mds_listen!r}: expected HOST:PORT (port 0 picks a free one)")
        return host.strip("[]"), int(port)

    def snapshotclone_address(self) -> tuple[str, int]:
        """(host, port) of --snapshotclone-listen; ValueError naming it if malformed."""
        host, _, port = (self.snapshotclone_listen or "").rpartition(":")
        if not host or not port.isdigit() or int(port) > 65535:
            raise ValueError(f"--snapshotclone-listen {self.snapshotclone_listen!r}: expected HOST:PORT "
                             f"(port 0 picks a free one)")
        return host.strip("[]"), int(port)

    @property
    def snapshotclone_addr_path(self) -> str:
        """Where the address the snapshotcloneserver API listens on is written ("host:port"): next to the
        socket, where clients of this daemon look for it."""
        return self.socket + ".snapshotclone"

    @property
    def mds_socket(self) -> str:
        """CurveFSService's unix socket, next to the nebd one."""
        return self.socket + ".mds"

    @property
    def mds_addr_path(self) -> str:
        """Where the TCP address CurveFSService listens on is written ("host:port")."""
        return os.path.join(self.data_dir, "mds.addr")

    @property
    def etcd_socket(self) -> str:
        """The embedded etcd's client socket (a symlink to the file etcd binds), next to the nebd one."""
        return self.socket + ".etcd"

    @property
    def etcd_data_dir(self) -> str:
        return os.path.join(self.data_dir, "etcd")

    @property
    def etcd_log_path(self) -> str:
        return os.path.join(self.data_dir, "etcd.log")

    @property
    def etcd_client_endpoints(self) -> tuple[str, ...]:
        """Where the RBD state lives: --etcd-endpoints, else the embedded etcd's socket."""
        return self.etcd_endpoints or ("unix://" + self.etcd_socket,)

    @property
    def lock_path(self) -> str:
        return self.socket + ".lock"

    @property
    def log_path(self) -> str:
        return os.path.join(self.data_dir, "curverbd-server.log")

    @property
    def meta_path(self) -> str:
        return os.path.join(self.data_dir, "nebdserver.meta")

    @property
    def db_path(self) -> str:
        return os.path.join(self.data_dir, "catalog.db")

    @property
    def volumes_dir(self) -> str:
        return os.path.join(self.data_dir, "volumes")

    def backend_size(self, size: int) -> int:
        """The Curve volume length that holds ``size`` logical bytes: whole segments, at least the minimum."""
        segments = -(-size // self.segment_size)
        return max(self.min_volume_size, segments * self.segment_size)
