"""The rest of Ceph Pacific's rados module: constants, helpers, Completion and the op/iterator
classes, and the Rados/Ioctx/Object methods beyond what OpenStack uses (mixins).

Real here: aio_* over the synchronous object calls (run on a thread, completed through
rados.Completion), application_* and the pool lookups (the core's, as librados' C calls:
curverbd/core/rados_pools.py), object xattrs (curverbd/core/object_xattrs.py), WriteOp / ReadOp,
omap, writesame, cmpext and object locks (curverbd/core/object_ops.py), get_instance_id.
Objects have no snapshots, watches or class methods in curverbd's catalog: those calls raise
rados.OSError with errno EOPNOTSUPP (Pacific's rados module has no class for that errno).
"""
from __future__ import annotations

import errno
import threading
from functools import wraps

from curverbd.core import advisory_locks, object_ops, object_xattrs, rados_pools
from curverbd.core.object_ops import Step
from curverbd.errors import Error as CoreError

from .errors import ExtendMismatch, OSError as RadosOSError, rados_errors  # noqa: F401

LIBRADOS_OP_FLAG_EXCL = 0x1
LIBRADOS_OP_FLAG_FAILOK = 0x2
LIBRADOS_OP_FLAG_FADVISE_RANDOM = 0x4
LIBRADOS_OP_FLAG_FADVISE_SEQUENTIAL = 0x8
LIBRADOS_OP_FLAG_FADVISE_WILLNEED = 0x10
LIBRADOS_OP_FLAG_FADVISE_DONTNEED = 0x20
LIBRADOS_OP_FLAG_FADVISE_NOCACHE = 0x40
LIBRADOS_CMPXATTR_OP_EQ = 1
LIBRADOS_CMPXATTR_OP_NE = 2
LIBRADOS_CMPXATTR_OP_GT = 3
LIBRADOS_CMPXATTR_OP_GTE = 4
LIBRADOS_CMPXATTR_OP_LT = 5
LIBRADOS_CMPXATTR_OP_LTE = 6
LIBRADOS_CREATE_IDEMPOTENT = 0
LIBRADOS_CREATE_EXCLUSIVE = 1
LIBRADOS_OPERATION_NOFLAG = 0
LIBRADOS_OPERATION_BALANCE_READS = 1
LIBRADOS_OPERATION_LOCALIZE_READS = 2
LIBRADOS_OPERATION_ORDER_READS_WRITES = 4
LIBRADOS_OPERATION_IGNORE_CACHE = 8
LIBRADOS_OPERATION_SKIPRWLOCKS = 16
LIBRADOS_OPERATION_IGNORE_OVERLAY = 32
LIBRADOS_SNAP_HEAD = (1 << 64) - 2
MAX_ERRNO = 4095
MONITOR_LEVELS = ["debug", "info", "warn", "warning", "err", "error", "sec"]
ANONYMOUS_AUID = 0xFFFFFFFFFFFFFFFF
ADMIN_AUID = 0

unicode = str

__all__ = [name for name in list(globals()) if name.isupper()]   # the constants (import *)


def unsupported(what: str) -> RadosOSError:
    return RadosOSError(f"{what} is not supported by curverbd", errno=errno.EOPNOTSUPP)


def _max(max_return: int) -> int:
    """max_return as librados' uint64_t sees it (-1: everything)."""
    return max_return % (1 << 64)


def _unsupported_call(what: str):
    def call(self, *args, **kwargs):
        raise unsupported(what)
    call.__doc__ = f"{what[0].upper()}{what[1:]} is not supported by curverbd: rados.OSError (EOPNOTSUPP)."
    return call


def cstr(val, name, encoding="utf-8", opt=False):
    """Pacific's helper: ``val`` as bytes (None allowed if ``opt``); TypeError for a non-string."""
    if opt and val is None:
        return None
    if isinstance(val, bytes):
        return val
    if isinstance(val, str):
        return val.encode(encoding)
    raise TypeError(f"{name} must be a string")


def cstr_list(list_str, name, encoding="utf-8"):
    return [cstr(s, name) for s in list_str]


def decode_cstr(val, encoding="utf-8"):
    return None if val is None else val.decode(encoding)


def flatten_dict(d, name):
    """Pacific's helper: (keys, values) as NUL-terminated byte strings."""
    items = list(d.items())
    keys = b"".join(cstr(k, name) + b"\0" for k, _ in items)
    values = b"".join(cstr(v, name) + b"\0" for _, v in items)
    return keys, values


def set_object_locator(func):
    """Pacific's decorator: run with the Ioctx's locator key set to the ``locator_key`` keyword."""
    @wraps(func)
    def wrapper(ioctx, *args, **kwargs):
        if "locator_key" in kwargs:
            old = ioctx.get_locator_key()
            ioctx.set_locator_key(kwargs.pop("locator_key"))
            try:
                return func(ioctx, *args, **kwargs)
            finally:
                ioctx.set_locator_key(old)
        return func(ioctx, *args, **kwargs)
    return wrapper


def set_object_namespace(func):
    """Pacific's decorator: run with the Ioctx's namespace set to the ``nspace`` keyword."""
    @wraps(func)
    def wrapper(ioctx, *args, **kwargs):
        if "nspace" in kwargs:
            old = ioctx.get_namespace()
            ioctx.set_namespace(kwargs.pop("nspace"))
            try:
                return func(ioctx, *args, **kwargs)
            finally:
                ioctx.set_namespace(old)
        return func(ioctx, *args, **kwargs)
    return wrapper


class Completion:
    """An asynchronous object operation (Pacific's ``rados.Completion``)."""
    ioctx = oncomplete = onsafe = None

    def __init__(self, ioctx, oncomplete=None, onsafe=None) -> None:
        self.ioctx = ioctx
        self.oncomplete = oncomplete
        self.onsafe = onsafe
        self._done = threading.Event()
        self._rc = -errno.EINPROGRESS
        self._exc = None

    def _finish(self, rc: int, *extra) -> None:
        self._rc = rc
        try:
            for callback in (self.oncomplete, self.onsafe):
                if callback is not None:
                    callback(self, *extra)
        except BaseException as exc:
            self._exc = exc
        finally:
            self._done.set()

    def is_complete(self) -> bool:
        return self._done.is_set()

    def is_safe(self) -> bool:
        return self._done.is_set()

    def wait_for_complete(self) -> None:
        self._done.wait()

    def wait_for_safe(self) -> None:
        self._done.wait()

    def wait_for_complete_and_cb(self) -> None:
        """Wait for the operation and its callbacks; re-raise what a callback raised."""
        self._done.wait()
        if self._exc is not None:
            exc, self._exc = self._exc, None
            raise exc

    wait_for_safe_and_cb = wait_for_complete_and_cb

    def get_return_value(self) -> int:
        return self._rc


class OpCtx:
    """Base of WriteOpCtx/ReadOpCtx (context managers releasing the op)."""

    def __enter__(self):
        return self.create()

    def __exit__(self, *exc) -> bool:
        self.release()
        return False


class WriteOp:
    """A compound write operation: its steps, applied by Ioctx.operate_write_op as one atomic update
    (curverbd/core/object_ops.py, the same code as rados_write_op_operate)."""

    def __init__(self) -> None:
        self.steps: list = []
        self.refused = False     # a class method step: the op is EOPNOTSUPP

    def create(self):
        self.steps, self.refused = [], False
        return self

    def release(self) -> None:
        self.steps = []

    def _add(self, kind: str, *args) -> None:
        self.steps.append(Step(kind, args))

    def new(self, exclusive=None) -> None:
        self._add("create", bool(exclusive))

    def remove(self) -> None:
        self._add("remove")

    def set_flags(self, flags: int = 0) -> None:
        """LIBRADOS_OP_FLAG_* of the step added last."""
        if self.steps:
            self.steps[-1] = self.steps[-1]._replace(flags=int(flags))

    def set_xattr(self, xattr_name: str, xattr_value: bytes) -> None:
        self._add("setxattr", xattr_name, bytes(xattr_value))

    def rm_xattr(self, xattr_name: str) -> None:
        self._add("rmxattr", xattr_name)

    def append(self, to_write: bytes) -> None:
        self._add("append", bytes(to_write))

    def write(self, to_write: bytes, offset: int = 0) -> None:
        self._add("write", bytes(to_write), offset)

    def write_full(self, to_write: bytes) -> None:
        self._add("write_full", bytes(to_write))

    def writesame(self, to_write: bytes, write_len: int, offset: int = 0) -> None:
        self._add("writesame", bytes(to_write), write_len, offset)

    def zero(self, offset: int, length: int) -> None:
        """Pacific's binding hands rados_write_op_zero (length, offset) in that order: kept, so a
        script sees the same bytes with either module."""
        self._add("zero", length, offset)

    def truncate(self, offset: int) -> None:
        self._add("truncate", offset)

    def assert_version(self, version: int) -> None:
        self._add("assert_version", version)

    def omap_cmp(self, key: str, val: str, cmp_op: int = LIBRADOS_CMPXATTR_OP_EQ) -> None:
        self._add("omap_cmp", cstr(key, "key"), cmp_op,
                  val.encode() if isinstance(val, str) else bytes(val))

    def cmpext(self, cmp_buf: bytes, offset: int = 0) -> None:
        self._add("cmpext", bytes(cmp_buf), offset)

    def execute(self, cls: str, method: str, data: bytes) -> None:
        """Object class methods: curverbd runs none, so the op fails with EOPNOTSUPP."""
        self.refused = True


class WriteOpCtx(WriteOp, OpCtx):
    """WriteOp as a context manager."""


class ReadOp:
    """A compound read operation: its steps and the omap iterators they fill when it runs."""

    def __init__(self) -> None:
        self.steps: list = []
        self.iterators: list = []

    def create(self):
        self.steps, self.iterators = [], []
        return self

    def release(self) -> None:
        self.steps, self.iterators = [], []

    def _add(self, kind: str, *args, iterator=None) -> None:
        self.steps.append(Step(kind, args))
        self.iterators.append(iterator)

    def set_flags(self, flags: int = 0) -> None:
        if self.steps:
            self.steps[-1] = self.steps[-1]._replace(flags=int(flags))

    def cmpext(self, cmp_buf: bytes, offset: int = 0) -> None:
        self._add("cmpext", bytes(cmp_buf), offset)


class ReadOpCtx(ReadOp, OpCtx):
    """ReadOp as a context manager."""


class _Empty:
    def __iter__(self):
        return self

    def __next__(self):
        raise StopIteration


class ObjectIterator(_Empty):
    """Pacific's object listing iterator (Ioctx.list_objects returns objects directly here)."""
    ioctx = None

    def __init__(self, ioctx) -> None:
        self.ioctx = ioctx
        self._it = iter(ioctx.list_objects())

    def __next__(self):
        return next(self._it)


class XattrIterator(_Empty):
    """(name, value) of an object's xattrs, as they were when it was made (ObjectNotFound without the object)."""
    ioctx = oid = None

    def __init__(self, ioctx, oid) -> None:
        self.ioctx = ioctx
        self.oid = oid
        try:
            attrs = object_xattrs.get_xattrs(ioctx._core_ioctx(), oid, ioctx.nspace)
        except CoreError as exc:
            from .errors import make_ex
            raise make_ex(exc.errno, f"Failed to get rados xattrs for object {oid!r}") from None
        self._it = iter(sorted(attrs.items()))

    def __next__(self):
        return next(self._it)


class OmapIterator(_Empty):
    """(key, value) pairs of an omap read step, filled when its ReadOp runs (empty if it failed)."""
    ioctx = None

    def __init__(self, ioctx) -> None:
        self.ioctx = ioctx
        self._it = iter(())

    def _fill(self, pairs) -> None:
        self._it = iter([(k.decode("utf-8", "surrogateescape"), v) for k, v in pairs])

    def __next__(self):
        return next(self._it)


class SnapIterator(_Empty):
    """Pool snapshots: curverbd has none."""
    ioctx = None

    def __init__(self, ioctx) -> None:
        self.ioctx = ioctx


class Snap:
    """A pool snapshot (never produced: curverbd has no pool snapshots)."""
    ioctx = name = snap_id = None

    def __init__(self, ioctx, name, snap_id) -> None:
        self.ioctx, self.name, self.snap_id = ioctx, name, snap_id

    def get_timestamp(self):
        raise unsupported("pool snapshots")


class Watch:
    """A watch on an object (never produced: Ioctx.watch raises EOPNOTSUPP)."""

    def __init__(self, ioctx, obj, callback, error_callback, timeout) -> None:
        self.ioctx = ioctx

    def get_id(self) -> int:
        return 0

    def check(self):
        raise unsupported("watches")

    def close(self) -> None:
        pass


class MonitorLog:
    """A monitor log subscription (Rados.monitor_log raises EOPNOTSUPP)."""

    def __init__(self, cluster, level, callback, arg) -> None:
        self.cluster = cluster


# --- Rados -----------------------------------------------------------------------------------------
@rados_errors
class RadosExtras:
    """Pacific's Rados methods beyond connect/pools/mon_command."""
    conf_defaults = None
    conffile = None
    parsed_args = None
    rados_id = None
    state = "configuring"
    monitor_callback = None
    monitor_callback2 = None
    def get_instance_id(self) -> int:
        """This handle's client instance id (its ``client.<id>`` name in lock listings)."""
        self.require_state("connected")
        return advisory_locks.instance_id(self._cluster)

    def conf_parse_env(self, var: str = "CEPH_ARGS") -> None:
        """Read ``--key value`` options from the environment variable ``var``."""
        import os
        import shlex
        self.conf_parse_argv(shlex.split(os.environ.get(var, "")))

    def pool_reverse_lookup(self, pool_id: int) -> str | None:
        """The name of the pool with id ``pool_id`` (None if none)."""
        try:
            return rados_pools.pool_reverse_lookup(self._core(), pool_id)
        except CoreError as exc:
            if exc.errno == errno.ENOENT:
                return None
            raise

    def open_ioctx2(self, pool_id: int):
        """An Ioctx on the pool with id ``pool_id`` (ObjectNotFound if none)."""
        return self.open_ioctx(rados_pools.pool_reverse_lookup(self._core(), pool_id))

    def wait_for_latest_osdmap(self) -> int:
        """There is no OSD map to wait for: 0."""
        self.require_state("connected")
        return 0

    def get_addrs(self) -> str:
        """This client's address."""
        return f"127.0.0.1:0/{self.get_instance_id()}"

    def get_pool_base_tier(self, pool_id: int) -> int:
        """No cache tiers: the pool itself (ObjectNotFound if there is no such pool)."""
        return rados_pools.pool_base_tier(self._core(), pool_id)

    def get_inconsistent_pgs(self, pool_id: int) -> list:
        """No placement groups: none inconsistent."""
        return []

    def mgr_command(self, cmd, inbuf: bytes = b"", timeout: int = 0, target=None):
        """No manager: (-EINVAL, b"", message)."""
        return -errno.EINVAL, b"", "curverbd has no ceph-mgr"

    def osd_command(self, osdid, cmd, inbuf: bytes = b"", timeout: int = 0):
        """No OSDs: (-EINVAL, b"", message)."""
        return -errno.EINVAL, b"", "curverbd has no OSDs"

    def pg_command(self, pgid, cmd, inbuf: bytes = b"", timeout: int = 0):
        """No placement groups: (-EINVAL, b"", message)."""
        return -errno.EINVAL, b"", "curverbd has no placement groups"

    blocklist_add = _unsupported_call("blocklisting")
    def ping_monitor(self, mon_id: str) -> str:
        """The "monitor" is curverbd-server's control plane, reached while connected: healthy."""
        self.require_state("connected")
        return '{"health": {"status": "HEALTH_OK"}}'

    monitor_log = monitor_log2 = _unsupported_call("monitor logs")
    def service_daemon_register(self, service: str, daemon: str, metadata: dict) -> None:
        """No manager keeps a service map here: accepted and kept nowhere (as librados with no mgr)."""

    def service_daemon_update(self, status: dict) -> None:
        """As service_daemon_register: accepted and kept nowhere."""




@rados_errors
class IoctxExtras:
    """Pacific's Ioctx methods beyond the object basics (needs ``_core_ioctx()``, ``nspace``)."""
    name = None
    nspace = ""
    state = "open"
    locator_key = ""
    safe_completions: list = []
    complete_completions: list = []
    lock = threading.Lock()     # Pacific's Ioctx.lock: the lock guarding its completion lists (not a call)

    # --- aio over the synchronous calls (a thread each) -------------------------------------
    def _aio(self, work, oncomplete=None, onsafe=None, with_result: bool = False) -> Completion:
        completion = Completion(self, oncomplete, onsafe)
        self.require_ioctx_open()

        def run() -> None:
            try:
                result = work()
            except Exception as exc:
                code = getattr(exc, "errno", None) or errno.EIO
                completion._finish(-abs(code), *((None,) if with_result else ()))
                return
            if with_result:
                completion._finish(len(result) if isinstance(result, bytes) else 0, result)
            else:
                completion._finish(0)
        threading.Thread(target=run, daemon=True, name="rados-aio").start()
        return completion

    def aio_write(self, object_name, to_write, offset=0, oncomplete=None, onsafe=None) -> Completion:
        return self._aio(lambda: self.write(object_name, to_write, offset), oncomplete, onsafe)

    def aio_write_full(self, object_name, to_write, oncomplete=None, onsafe=None) -> Completion:
        return self._aio(lambda: self.write_full(object_name, to_write), oncomplete, onsafe)

    def aio_writesame(self, object_name, to_write, write_len, offset=0, oncomplete=None) -> Completion:
        return self._aio(lambda: self.writesame(object_name, to_write, write_len, offset), oncomplete)

    def aio_append(self, object_name, to_append, oncomplete=None, onsafe=None) -> Completion:
        return self._aio(lambda: self.append(object_name, to_append), oncomplete, onsafe)

    def aio_read(self, object_name, length, offset, oncomplete=None) -> Completion:
        """``oncomplete(completion, data)`` (data None on error)."""
        return self._aio(lambda: self.read(object_name, length, offset), oncomplete, with_result=True)

    def aio_stat(self, object_key, oncomplete) -> Completion:
        """``oncomplete(completion, size, mtime)``."""
        completion = Completion(self, None)

        def work():
            return self.stat(object_key)

        def run() -> None:
            try:
                size, mtime = work()
            except Exception as exc:
                completion._finish(-abs(getattr(exc, "errno", None) or errno.EIO))
                return
            completion.oncomplete = lambda comp: oncomplete(comp, size, mtime)
            completion._finish(0)
        threading.Thread(target=run, daemon=True, name="rados-aio").start()
        return completion

    def aio_remove(self, object_name, oncomplete=None, onsafe=None) -> Completion:
        return self._aio(lambda: self.remove_object(object_name), oncomplete, onsafe)

    def aio_cmpext(self, object_name, cmp_buf, offset=0, oncomplete=None) -> Completion:
        return self._aio(lambda: self.cmpext(object_name, cmp_buf, offset), oncomplete)

    def aio_flush(self) -> None:
        """Every aio call here finishes on its own thread; nothing is buffered."""
        self.require_ioctx_open()

    def writesame(self, key, data, write_len, offset=0) -> None:
        """Write ``data`` repeated over ``write_len`` bytes at ``offset`` (a multiple of len(data))."""
        object_ops.writesame(self._core_ioctx(), key, bytes(data), write_len, offset, self.nspace)

    def cmpext(self, key, cmp_buf, offset=0) -> int:
        """0 if the object's bytes at ``offset`` equal ``cmp_buf``, else -MAX_ERRNO - (first mismatch).
        Any other failure is an AssertionError, as in Pacific's binding."""
        try:
            return object_ops.cmpext(self._core_ioctx(), key, bytes(cmp_buf), offset, self.nspace)
        except CoreError:
            raise AssertionError(f"Ioctx.cmpext({self.name}): failed to compare {key}") from None

    # --- compound ops, omap, object locks (curverbd/core/object_ops.py) ------------------------------
    def operate_write_op(self, write_op: WriteOp, oid: str, mtime: int = 0,
                         flags: int = LIBRADOS_OPERATION_NOFLAG) -> None:
        """Apply the WriteOp's steps to ``oid`` atomically (the first failing step's error; nothing applied)."""
        if write_op.refused:
            raise unsupported("object class methods")
        rc, _ = object_ops.operate_write(self._core_ioctx(), oid, list(write_op.steps), self.nspace,
                                         mtime=float(mtime) if mtime else None)
        if rc < 0:
            from .errors import make_ex
            raise make_ex(rc, f"Failed to operate write op for oid {oid}")

    def operate_aio_write_op(self, write_op: WriteOp, oid: str, oncomplete=None, onsafe=None, mtime: int = 0,
                             flags: int = LIBRADOS_OPERATION_NOFLAG) -> Completion:
        return self._aio(lambda: self.operate_write_op(write_op, oid, mtime, flags), oncomplete, onsafe)

    def operate_read_op(self, read_op: ReadOp, oid: str, flag: int = LIBRADOS_OPERATION_NOFLAG) -> None:
        """Run the ReadOp's steps on ``oid``, filling their omap iterators."""
        result = object_ops.operate_read(self._core_ioctx(), oid, list(read_op.steps), self.nspace)
        if result.rc < 0:
            from .errors import make_ex
            raise make_ex(result.rc, f"Failed to operate read op for oid {oid}")
        for iterator, output in zip(read_op.iterators, result.outputs):
            if iterator is not None and output is not None:
                iterator._fill(output[0])

    def operate_aio_read_op(self, read_op: ReadOp, oid: str, oncomplete=None, onsafe=None,
                            flag: int = LIBRADOS_OPERATION_NOFLAG) -> Completion:
        return self._aio(lambda: self.operate_read_op(read_op, oid, flag), oncomplete, onsafe)

    def _omap_read(self, read_op: ReadOp, kind: str, *args) -> tuple:
        iterator = OmapIterator(self)
        read_op._add(kind, *args, iterator=iterator)
        return iterator, 0

    def get_omap_vals(self, read_op: ReadOp, start_after: str, filter_prefix: str, max_return: int) -> tuple:
        """(OmapIterator, 0): filled with up to ``max_return`` pairs after ``start_after`` when the op runs."""
        return self._omap_read(read_op, "omap_get_vals", cstr(start_after, "start_after"),
                               cstr(filter_prefix, "filter_prefix"), _max(max_return))

    def get_omap_keys(self, read_op: ReadOp, start_after: str, max_return: int) -> tuple:
        return self._omap_read(read_op, "omap_get_keys", cstr(start_after, "start_after"), _max(max_return))

    def get_omap_vals_by_keys(self, read_op: ReadOp, keys) -> tuple:
        return self._omap_read(read_op, "omap_get_vals_by_keys", [cstr(k, "key") for k in keys])

    def set_omap(self, write_op: WriteOp, keys, values) -> None:
        keys, values = list(keys), list(values)
        if len(keys) != len(values):
            raise Exception("Rados(): keys and values must have the same length")
        write_op._add("omap_set", [(cstr(k, "key"), v.encode() if isinstance(v, str) else bytes(v))
                                   for k, v in zip(keys, values)])

    def remove_omap_keys(self, write_op: WriteOp, keys) -> None:
        write_op._add("omap_rm_keys", [cstr(k, "key") for k in keys])

    def remove_omap_range2(self, write_op: WriteOp, key_begin: str, key_end: str) -> None:
        write_op._add("omap_rm_range", cstr(key_begin, "key_begin"), cstr(key_end, "key_end"))

    def clear_omap(self, write_op: WriteOp) -> None:
        write_op._add("omap_clear")

    def lock_exclusive(self, key: str, name: str, cookie: str, desc: str = "", duration=None,
                       flags: int = 0) -> None:
        """cls_lock's exclusive lock (EEXIST: held with this cookie, EBUSY: held by another)."""
        object_ops.lock(self._core_ioctx(), key, name, cookie, True, "", desc, duration or 0, flags, self.nspace)

    def lock_shared(self, key: str, name: str, cookie: str, tag: str, desc: str = "", duration=None,
                    flags: int = 0) -> None:
        object_ops.lock(self._core_ioctx(), key, name, cookie, False, tag, desc, duration or 0, flags, self.nspace)

    def unlock(self, key: str, name: str, cookie: str) -> None:
        object_ops.unlock(self._core_ioctx(), key, name, cookie, self.nspace)

    # --- applications (the core's, per pool) ----------------------------------------------------
    def application_enable(self, app_name: str, force: bool = False) -> None:
        """Tag the pool with application ``app_name`` (PermissionError if it has another, without force)."""
        rados_pools.application_enable(self._core_ioctx(), app_name, force)

    def application_list(self) -> list[str]:
        """The pool's application tags."""
        return rados_pools.application_list(self._core_ioctx())

    def application_metadata_get(self, app_name: str, key: str) -> str:
        """The value of ``key``; KeyError (as in Pacific's binding) if the application or key is missing."""
        try:
            return rados_pools.application_metadata_get(self._core_ioctx(), app_name, key)
        except CoreError as exc:
            if exc.errno == errno.ENOENT:
                raise KeyError(f"no metadata {key} for application {app_name}") from None
            raise

    def application_metadata_set(self, app_name: str, key: str, value: str) -> None:
        rados_pools.application_metadata_set(self._core_ioctx(), app_name, key, value)

    def application_metadata_remove(self, app_name: str, key: str) -> None:
        rados_pools.application_metadata_remove(self._core_ioctx(), app_name, key)

    def application_metadata_list(self, app_name: str) -> list[tuple[str, str]]:
        return rados_pools.application_metadata_list(self._core_ioctx(), app_name)

    # --- small things -----------------------------------------------------------------------------
    def alignment(self):
        """No required write alignment: None (as for replicated pools)."""
        return None

    def dup(self):
        """A new Ioctx on the same pool and namespace."""
        copy = self.rados.open_ioctx(self.name)
        copy.set_namespace(self.nspace)
        return copy

    def get_last_version(self) -> int:
        return 0

    def set_locator_key(self, loc_key: str) -> None:
        self.require_ioctx_open()
        if not isinstance(loc_key, str):
            raise TypeError("loc_key must be a string")
        self.locator_key = loc_key

    def get_locator_key(self) -> str:
        return self.locator_key

    def set_read(self, snap_id: int) -> None:
        """Only the head can be read (no pool snapshots)."""
        if snap_id != LIBRADOS_SNAP_HEAD:
            raise unsupported("reading at a pool snapshot")

    def set_osdmap_full_try(self) -> None:
        pass

    def unset_osdmap_full_try(self) -> None:
        pass

    def create_write_op(self) -> WriteOp:
        return WriteOp().create()

    def create_read_op(self) -> ReadOp:
        return ReadOp().create()

    def release_write_op(self, write_op) -> None:
        write_op.release()

    def release_read_op(self, read_op) -> None:
        read_op.release()

    def list_snaps(self):
        """Pool snapshots: none."""
        return SnapIterator(self)

    # --- object xattrs (the core's: curverbd/core/object_xattrs.py) ----------------------------------
    def get_xattr(self, key: str, xattr_name: str) -> bytes:
        """The xattr's value (ObjectNotFound without the object, NoData without the xattr)."""
        return object_xattrs.get_xattr(self._core_ioctx(), key, xattr_name, self.nspace)

    def get_xattrs(self, oid: str) -> XattrIterator:
        return XattrIterator(self, oid)

    def set_xattr(self, key: str, xattr_name: str, xattr_value: bytes) -> bool:
        """Set an xattr (a missing object is created empty); True."""
        object_xattrs.set_xattr(self._core_ioctx(), key, xattr_name, bytes(xattr_value), self.nspace)
        return True

    def rm_xattr(self, key: str, xattr_name: str) -> bool:
        """Remove an xattr (ObjectNotFound without the object); True."""
        object_xattrs.rm_xattr(self._core_ioctx(), key, xattr_name, self.nspace)
        return True

    def aio_setxattr(self, object_name, xattr_name, xattr_value, oncomplete=None) -> Completion:
        return self._aio(lambda: self.set_xattr(object_name, xattr_name, xattr_value), oncomplete)

    def aio_rmxattr(self, object_name, xattr_name, oncomplete=None) -> Completion:
        return self._aio(lambda: self.rm_xattr(object_name, xattr_name), oncomplete)

    create_snap = remove_snap = lookup_snap = snap_rollback = _unsupported_call("pool snapshots")
    create_self_managed_snap = remove_self_managed_snap = _unsupported_call("self-managed snapshots")
    rollback_self_managed_snap = set_self_managed_snap_write = _unsupported_call("self-managed snapshots")
    execute = aio_execute = _unsupported_call("object class methods")
    watch = notify = aio_notify = _unsupported_call("watch/notify")


class ObjectExtras:
    """Pacific's Object xattr methods (needs ``ioctx``, ``key``, ``require_object_exists()``)."""

    def get_xattr(self, xattr_name: str) -> bytes:
        self.require_object_exists()
        return self.ioctx.get_xattr(self.key, xattr_name)

    def get_xattrs(self) -> XattrIterator:
        self.require_object_exists()
        return self.ioctx.get_xattrs(self.key)

    def set_xattr(self, xattr_name: str, xattr_value: bytes) -> bool:
        self.require_object_exists()
        return self.ioctx.set_xattr(self.key, xattr_name, xattr_value)

    def rm_xattr(self, xattr_name: str) -> bool:
        self.require_object_exists()
        return self.ioctx.rm_xattr(self.key, xattr_name)
