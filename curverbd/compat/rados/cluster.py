"""rados.Rados: a cluster handle (Ceph's class over the core Cluster)."""
from __future__ import annotations

import errno

from curverbd.compat import fork
from curverbd.core import monitor as mon
from curverbd.core import Cluster, rados_pools
from curverbd.errors import Error as CoreError
from curverbd.spec import user_id

from .errors import Error, RadosStateError, rados_errors
from .ioctx import Ioctx
from .pacific import RadosExtras

NO_CONF_FILE = -1        # Rados(conffile=...) sentinels, as in Ceph's binding
DEFAULT_CONF_FILES = -2
LIBRADOS_VERSION = (3, 0, 0)


class Version:
    """A library version (``major.minor.extra``)."""

    def __init__(self, major: int, minor: int, extra: int) -> None:
        self.major, self.minor, self.extra = major, minor, extra

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.extra}"

    def __repr__(self) -> str:
        return f"Version({self.major}, {self.minor}, {self.extra})"


@rados_errors
class Rados(RadosExtras):
    """A connection to the cluster as one user (``client.<id>``).

    Nothing happens at construction but reading configuration; ``connect()``
    opens the connection. A handle connected before ``fork()`` reconnects on
    its own in the child the first time it is used (the parent's connection is
    left untouched); images opened before the fork must be opened again.
    """
    NO_CONF_FILE = NO_CONF_FILE
    DEFAULT_CONF_FILES = DEFAULT_CONF_FILES

    def __init__(self, rados_id: str | None = None, name: str | None = None, clustername: str | None = None,
                 conf_defaults: dict | None = None, conffile=NO_CONF_FILE, conf: dict | None = None,
                 flags: int = 0, context=None) -> None:
        if rados_id and name:
            raise Error("Rados(): can't supply both rados_id and name")
        if rados_id is not None and not isinstance(rados_id, str):
            raise TypeError("rados_id must be a string or None")
        self.rados_id = rados_id or user_id(name or "client.admin")
        self.clustername = clustername or "ceph"
        self.state = "configuring"
        self.conf_defaults, self.conffile, self.parsed_args = conf_defaults, conffile, []
        self._cluster = Cluster(user=self.rados_id)
        self._generation = fork.generation()
        for key, value in (conf_defaults or {}).items():
            self.conf_set(key, value)
        if conffile in (DEFAULT_CONF_FILES, ""):
            self.conf_read_file(None)
        elif conffile not in (NO_CONF_FILE, None):
            self.conf_read_file(conffile)
        for key, value in (conf or {}).items():
            self.conf_set(key, value)

    def __repr__(self) -> str:
        return f"<rados.Rados client.{self.rados_id} {self.state}>"

    def __enter__(self) -> "Rados":
        """Connect (as Ceph's binding does) and return self."""
        self.connect()
        return self

    def __exit__(self, *exc) -> bool:
        self.shutdown()
        return False

    def require_state(self, *states: str) -> None:
        """RadosStateError unless the handle is in one of ``states``."""
        if self.state not in states:
            raise RadosStateError(f"You cannot perform that operation on a Rados object in state {self.state}.")

    def _core(self) -> Cluster:
        """The connected core cluster of this process (reconnects once in a forked child)."""
        self.require_state("connected")
        if self._generation != fork.generation():
            stale = self._cluster
            fresh = Cluster(user=self.rados_id)
            fresh.conf = stale.conf      # same settings; never touch the parent's connection
            fresh.connect()
            self._cluster, self._generation = fresh, fork.generation()
        return self._cluster

    # --- configuration -------------------------------------------------------------------
    def conf_read_file(self, path: str | None = None) -> None:
        """Read a ceph.conf (None: $CEPH_CONF or /etc/ceph/ceph.conf, if present)."""
        self.require_state("configuring", "connected")
        self._cluster.conf_read_file(path)

    def conf_set(self, option: str, val: str) -> None:
        """Set a configuration option (unknown Ceph options are accepted and kept)."""
        self.require_state("configuring", "connected")
        self._cluster.conf_set(option, val)

    def conf_get(self, option: str) -> str | None:
        """The option's value as a string, None if it is not set."""
        self.require_state("configuring", "connected")
        try:
            return self._cluster.conf_get(option)
        except CoreError as exc:
            if exc.errno == errno.ENOENT:
                return None
            raise

    def conf_parse_argv(self, argv) -> list:
        """Accept ``--key value`` / ``--key=value`` options like Ceph; returns what is left."""
        rest, args = [], list(argv)
        while args:
            arg = args.pop(0)
            if arg.startswith("--") and len(arg) > 2:
                key, eq, value = arg[2:].partition("=")
                if not eq and args:
                    value = args.pop(0)
                self.conf_set(key, value)
            else:
                rest.append(arg)
        return rest

    # --- connection ----------------------------------------------------------------------
    def connect(self, timeout: int = 0) -> None:
        """Connect to curverbd-server (``timeout`` is accepted and ignored, as in Ceph's binding)."""
        self.require_state("configuring")
        self._cluster.connect()
        self._generation = fork.generation()
        self.state = "connected"

    def shutdown(self) -> None:
        """Close the connection; in a forked child, only forget the parent's."""
        if self.state == "shutdown":
            return
        if self.state == "connected" and self._generation == fork.generation():
            self._cluster.shutdown()
        self.state = "shutdown"

    def version(self) -> Version:
        """The librados version this module stands in for."""
        return Version(*LIBRADOS_VERSION)

    def get_fsid(self) -> str:
        """The cluster's fsid (a UUID string)."""
        return self._core().fsid()

    def get_cluster_stats(self) -> dict:
        """{kb, kb_used, kb_avail, num_objects} like rados_cluster_stat."""
        stat = self._core().stat()
        return {"kb": stat["bytes_total"] // 1024, "kb_used": stat["bytes_used"] // 1024,
                "kb_avail": stat["bytes_avail"] // 1024, "num_objects": stat["objects"]}

    def mon_command(self, cmd, inbuf: bytes = b"", timeout: int = 0, target=None) -> tuple[int, bytes, str]:
        """(ret, outbuf, outs) for the monitor commands curverbd answers (see curverbd.core.monitor)."""
        return mon.mon_command(self._core(), cmd)

    # --- pools -----------------------------------------------------------------------------
    def list_pools(self) -> list[str]:
        """Names of this user's pools."""
        return self._core().list_pools()

    def pool_exists(self, pool_name: str) -> bool:
        """True if pool ``pool_name`` exists."""
        return self._core().pool_exists(pool_name)

    def pool_lookup(self, pool_name: str) -> int | None:
        """The pool's id, None if there is no such pool."""
        try:
            return rados_pools.pool_lookup(self._core(), pool_name)
        except CoreError as exc:
            if exc.errno == errno.ENOENT:
                return None
            raise

    def create_pool(self, pool_name: str, crush_rule: int | None = None, auid: int | None = None) -> None:
        """Create a pool (a Curve directory owned by this user)."""
        self._core().create_pool(pool_name)

    def delete_pool(self, pool_name: str) -> None:
        """Delete a pool; like Ceph, its rados objects go with it (its images must be gone)."""
        core = self._core()
        io = core.open_ioctx(pool_name)
        for nspace, key in io.list_objects(None):
            io.remove_object(key, nspace)
        core.remove_pool(pool_name)

    def open_ioctx(self, ioctx_name: str):
        """An Ioctx on pool ``ioctx_name`` (ObjectNotFound if there is no such pool)."""
        return Ioctx(self, ioctx_name)
