"""librados' compound object operations (rados_write_op_* / rados_read_op_*, the Python binding's
WriteOp / ReadOp), object omap, and the calls RADOS builds from single steps (writesame, cmpext,
object locks). One implementation for the C ABI (capi/object_calls.py) and the Python ``rados``
module (compat/rados).

A write op is a list of steps applied in order to one object as one etcd transaction
(CatalogObjects.operate_object: the whole state read, the steps applied to a copy, the difference
written with a compare on the object record's revision, retried on a conflict). The first failing step
(without LIBRADOS_OP_FLAG_FAILOK) fails the whole op and nothing is written; each step's own result
is reported (the C calls' ``prval``).

RADOS' rules kept here: a write, append, writesame, zero, setxattr, omap_set or lock creates a missing
object; remove, truncate (as rados_trunc here), rmxattr, omap removals and comparisons of a missing
object are ENOENT; create(exclusive) of an existing one is EEXIST; a cmpext mismatch at byte i is
-(MAX_ERRNO + i) (bytes past the end compare as zeros); an omap comparison that fails, or of a missing
key, is ECANCELED; zero does not extend the object. A read op of a missing object is ENOENT.

Object versions: an object's version is its record's etcd revision (rados_get_last_version still
answers 0, so assert_version mostly serves to fail cleanly: ERANGE below, EOVERFLOW above, EINVAL 0).

Object locks (cls_lock's rules) live as the object's xattr ``lock.<name>`` (as cls_lock keeps them),
JSON {type, tag, lockers: [[client, cookie, description, expires (0: never)]]}; a locker is the
cluster handle's ``client.<instance id>`` (advisory_locks.client_of).
"""
from __future__ import annotations

import copy
import errno
import json
import time
from typing import TYPE_CHECKING, Any, NamedTuple

from ..errors import Error

if TYPE_CHECKING:
    from .ioctx import IoCtx

MAX_ERRNO = 4095
OP_FLAG_FAILOK = 0x2                               # LIBRADOS_OP_FLAG_FAILOK
CMP_EQ, CMP_NE, CMP_GT, CMP_GTE, CMP_LT, CMP_LTE = range(1, 7)   # LIBRADOS_CMPXATTR_OP_*
LOCK_FLAG_MAY_RENEW, LOCK_FLAG_MUST_RENEW = 1, 2   # LIBRADOS_LOCK_FLAG_*
LOCK_XATTR_PREFIX = "lock."


class ObjectState:
    """What one object is: its bytes, xattrs and omap (bytes keys), and its record's revision."""
    __slots__ = ("exists", "data", "xattrs", "omap", "mtime", "version")

    def __init__(self, exists: bool = False, data: bytes = b"", xattrs: dict[str, bytes] | None = None,
                 omap: dict[bytes, bytes] | None = None, mtime: float = 0.0, version: int = 0) -> None:
        self.exists, self.data, self.mtime, self.version = exists, data, mtime, version
        self.xattrs: dict[str, bytes] = {} if xattrs is None else xattrs
        self.omap: dict[bytes, bytes] = {} if omap is None else omap


class Step(NamedTuple):
    """One step of a compound op: ``kind`` (a name below), its arguments, its LIBRADOS_OP_FLAG_* flags."""
    kind: str
    args: tuple = ()
    flags: int = 0


class ReadResult(NamedTuple):
    """A read op's outcome: rc (0 or the failing step's -errno), each step's result, and each step's
    output (omap steps: (list of (key, value) bytes pairs, more); others None)."""
    rc: int
    rvals: list
    outputs: list


# ---- write ops ----------------------------------------------------------------------------------------

def operate_write(io: "IoCtx", key: str, steps: list[Step], namespace: str = "",
                  mtime: float | None = None) -> tuple[int, list[int]]:
    """Apply ``steps`` to object ``key`` atomically: (0 or the failing step's -errno, each step's result)."""
    outcome: dict[str, Any] = {}

    def change(state: ObjectState) -> ObjectState | None:
        new = copy.deepcopy(state)
        rc, rvals = _apply_write(new, steps, io)
        outcome.update(rc=rc, rvals=rvals)
        if rc < 0 or not steps:
            return None
        if new.exists:
            new.mtime = time.time() if mtime is None else mtime
        return new
    io._catalog.operate_object(io.pool, namespace, key, change)
    return outcome["rc"], outcome["rvals"]


def _apply_write(st: ObjectState, steps: list[Step], io: "IoCtx") -> tuple[int, list[int]]:
    rvals: list[int] = []
    for step in steps:
        try:
            r = _WRITE[step.kind](st, io, *step.args)
        except Error as exc:
            r = -exc.errno
        rvals.append(r)
        if r < 0 and not step.flags & OP_FLAG_FAILOK:
            return r, rvals
    return 0, rvals


def _need(st: ObjectState) -> None:
    if not st.exists:
        raise Error(errno.ENOENT, "no such object")


def _put_data(st: ObjectState, data: bytes, offset: int, truncate: bool = False) -> int:
    if offset < 0:
        raise Error(errno.EINVAL, "negative offset")
    old = st.data
    if offset > len(old):
        old = old + bytes(offset - len(old))
    st.data = old[:offset] + data + (b"" if truncate else old[offset + len(data):])
    st.exists = True
    return 0


def _w_create(st, io, exclusive):
    if st.exists and exclusive:
        raise Error(errno.EEXIST, "object exists")
    st.exists = True
    return 0


def _w_write(st, io, data, offset):
    return _put_data(st, data, offset)


def _w_write_full(st, io, data):
    st.data = b""
    return _put_data(st, data, 0, truncate=True)


def _w_append(st, io, data):
    return _put_data(st, data, len(st.data) if st.exists else 0)


def _w_writesame(st, io, data, write_len, offset):
    if not data or write_len % len(data):
        raise Error(errno.EINVAL, "writesame: the length is not a multiple of the data's")
    return _put_data(st, data * (write_len // len(data)), offset)


def _w_remove(st, io):
    _need(st)
    st.exists, st.data, st.xattrs, st.omap = False, b"", {}, {}
    return 0


def _w_truncate(st, io, size):
    _need(st)
    if size < 0:
        raise Error(errno.EINVAL, "negative size")
    st.data = st.data[:size] + bytes(max(0, size - len(st.data)))
    return 0


def _w_zero(st, io, offset, length):
    if st.exists and offset < len(st.data) and length:
        end = min(len(st.data), offset + length)
        st.data = st.data[:offset] + bytes(end - offset) + st.data[end:]
    return 0


def _w_setxattr(st, io, name, value):
    st.xattrs[name] = bytes(value)
    st.exists = True
    return 0


def _w_rmxattr(st, io, name):
    _need(st)
    st.xattrs.pop(name, None)
    return 0


def _w_omap_set(st, io, pairs):
    for k, v in pairs:
        st.omap[bytes(k)] = bytes(v)
    st.exists = True
    return 0


def _w_omap_rm_keys(st, io, keys):
    _need(st)
    for k in keys:
        st.omap.pop(bytes(k), None)
    return 0


def _w_omap_rm_range(st, io, begin, end):
    _need(st)
    for k in [k for k in st.omap if begin <= k < end]:
        del st.omap[k]
    return 0


def _w_omap_clear(st, io):
    _need(st)
    st.omap.clear()
    return 0


def _w_omap_cmp(st, io, key, op, value):
    _need(st)
    return omap_compare(st, key, op, value)


def _w_cmpext(st, io, buf, offset):
    _need(st)
    return extent_compare(st.data, buf, offset)


def _w_assert_version(st, io, ver):
    _need(st)
    if not ver:
        raise Error(errno.EINVAL, "version 0")
    if ver < st.version:
        raise Error(errno.ERANGE, "object is newer")
    if ver > st.version:
        raise Error(errno.EOVERFLOW, "object is older")
    return 0


def _w_assert_exists(st, io):
    _need(st)
    return 0


def _w_lock(st, io, name, exclusive, cookie, tag, desc, duration, flags):
    from .advisory_locks import client_of
    client = client_of(io.cluster)[0]
    xname = LOCK_XATTR_PREFIX + name
    info = json.loads(st.xattrs[xname]) if xname in st.xattrs else {"type": "", "tag": "", "lockers": []}
    now = time.time()
    lockers = [lk for lk in info["lockers"] if not lk[3] or lk[3] > now]
    mine = [lk for lk in lockers if lk[0] == client and lk[1] == cookie]
    if mine:
        if not flags & (LOCK_FLAG_MAY_RENEW | LOCK_FLAG_MUST_RENEW):
            raise Error(errno.EEXIST, f"lock {name!r} is already held with this cookie")
        lockers = [lk for lk in lockers if lk not in mine]
    elif flags & LOCK_FLAG_MUST_RENEW:
        raise Error(errno.ENOENT, f"lock {name!r}: nothing to renew")
    if lockers and (exclusive or info["type"] == "exclusive"):
        raise Error(errno.EBUSY, f"lock {name!r} is held")
    if lockers and info["tag"] != tag:
        raise Error(errno.EBUSY, f"lock {name!r} is held with another tag")
    lockers.append([client, cookie, desc, now + duration if duration else 0])
    st.xattrs[xname] = json.dumps({"type": "exclusive" if exclusive else "shared", "tag": tag,
                                   "lockers": lockers}).encode()
    st.exists = True
    return 0


def _w_unlock(st, io, name, cookie):
    from .advisory_locks import client_of
    client = client_of(io.cluster)[0]
    xname = LOCK_XATTR_PREFIX + name
    _need(st)
    info = json.loads(st.xattrs.get(xname) or b'{"type": "", "tag": "", "lockers": []}')
    now = time.time()
    lockers = [lk for lk in info["lockers"] if not lk[3] or lk[3] > now]
    rest = [lk for lk in lockers if not (lk[0] == client and lk[1] == cookie)]
    if len(rest) == len(lockers):
        raise Error(errno.ENOENT, f"lock {name!r} is not held with this cookie")
    if rest:
        st.xattrs[xname] = json.dumps(dict(info, lockers=rest)).encode()
    else:
        st.xattrs.pop(xname, None)
    return 0


_WRITE = {"create": _w_create, "write": _w_write, "write_full": _w_write_full, "append": _w_append,
          "writesame": _w_writesame, "remove": _w_remove, "truncate": _w_truncate, "zero": _w_zero,
          "setxattr": _w_setxattr, "rmxattr": _w_rmxattr, "omap_set": _w_omap_set,
          "omap_rm_keys": _w_omap_rm_keys, "omap_rm_range": _w_omap_rm_range, "omap_clear": _w_omap_clear,
          "omap_cmp": _w_omap_cmp, "cmpext": _w_cmpext, "assert_version": _w_assert_version,
          "assert_exists": _w_assert_exists, "lock": _w_lock, "unlock": _w_unlock}
WRITE_STEPS = frozenset(_WRITE)


def omap_compare(st: ObjectState, key: bytes, op: int, value: bytes) -> int:
    """cls omap_cmp: ``value`` (the caller's) against the stored one; ECANCELED if false or missing."""
    stored = st.omap.get(bytes(key))
    if stored is None:
        raise Error(errno.ECANCELED, f"omap key {key!r} is missing")
    mine = bytes(value)
    tests = {CMP_EQ: mine == stored, CMP_NE: mine != stored, CMP_GT: mine > stored, CMP_GTE: mine >= stored,
             CMP_LT: mine < stored, CMP_LTE: mine <= stored}
    if op not in tests:
        raise Error(errno.EINVAL, f"omap comparison operator {op}")
    if not tests[op]:
        raise Error(errno.ECANCELED, f"omap key {key!r} does not compare")
    return 0


def extent_compare(data: bytes, buf: bytes, offset: int) -> int:
    """0 if ``buf`` matches the object's bytes at ``offset`` (past the end: zeros), else -(MAX_ERRNO + i)
    for the first differing byte i."""
    have = data[offset:offset + len(buf)]
    for i, byte in enumerate(bytes(buf)):
        if (have[i] if i < len(have) else 0) != byte:
            return -(MAX_ERRNO + i)
    return 0


# ---- read ops -----------------------------------------------------------------------------------------

def operate_read(io: "IoCtx", key: str, steps: list[Step], namespace: str = "") -> ReadResult:
    """Run the read steps on one snapshot of object ``key`` (ENOENT for all if it does not exist)."""
    st = io._catalog.object_state(io.pool, namespace, key)
    if not st.exists:
        return ReadResult(-errno.ENOENT, [-errno.ENOENT] * len(steps), [None] * len(steps))
    rvals, outputs, rc = [], [], 0
    for step in steps:
        try:
            r, out = _READ[step.kind](st, *step.args)
        except Error as exc:
            r, out = -exc.errno, None
        rvals.append(r)
        outputs.append(out)
        if r < 0 and not step.flags & OP_FLAG_FAILOK and rc == 0:
            rc = r
            break
    rvals += [0] * (len(steps) - len(rvals))
    outputs += [None] * (len(steps) - len(outputs))
    return ReadResult(rc, rvals, outputs)


def _page(pairs: list[tuple[bytes, bytes]], max_return: int) -> tuple[list[tuple[bytes, bytes]], bool]:
    return pairs[:max_return], len(pairs) > max_return


def _r_omap_get_vals(st, start_after, filter_prefix, max_return):
    pairs = sorted((k, v) for k, v in st.omap.items() if k > bytes(start_after) and k.startswith(bytes(filter_prefix)))
    return 0, _page(pairs, max_return)


def _r_omap_get_keys(st, start_after, max_return):
    pairs = sorted((k, b"") for k in st.omap if k > bytes(start_after))
    return 0, _page(pairs, max_return)


def _r_omap_get_vals_by_keys(st, keys):
    wanted = {bytes(k) for k in keys}
    return 0, (sorted((k, v) for k, v in st.omap.items() if k in wanted), False)


def _r_cmpext(st, buf, offset):
    return extent_compare(st.data, buf, offset), None


def _r_read(st, offset, length):
    return 0, ([(b"", st.data[offset:offset + length])], False)


_READ = {"omap_get_vals": _r_omap_get_vals, "omap_get_keys": _r_omap_get_keys,
         "omap_get_vals_by_keys": _r_omap_get_vals_by_keys, "cmpext": _r_cmpext, "read": _r_read}
READ_STEPS = frozenset(_READ)


# ---- single-step conveniences -------------------------------------------------------------------------

def _one(io: "IoCtx", key: str, step: Step, namespace: str) -> int:
    rc, _ = operate_write(io, key, [step], namespace)
    if rc < 0 and rc > -MAX_ERRNO:
        raise Error(-rc, f"object {io.pool}/{key}: {step.kind} failed")
    return rc


def writesame(io: "IoCtx", key: str, data: bytes, write_len: int, offset: int = 0, namespace: str = "") -> None:
    _one(io, key, Step("writesame", (bytes(data), write_len, offset)), namespace)


def cmpext(io: "IoCtx", key: str, buf: bytes, offset: int = 0, namespace: str = "") -> int:
    """0, or -(MAX_ERRNO + i) at the first mismatch i (Error(ENOENT) without the object)."""
    result = operate_read(io, key, [Step("cmpext", (bytes(buf), offset))], namespace)
    if -MAX_ERRNO < result.rc < 0:
        raise Error(-result.rc, f"object {io.pool}/{key}: cmpext failed")
    return result.rc


def lock(io: "IoCtx", key: str, name: str, cookie: str, exclusive: bool, tag: str = "", desc: str = "",
         duration: float = 0, flags: int = 0, namespace: str = "") -> None:
    _one(io, key, Step("lock", (name, exclusive, cookie, tag, desc, duration, flags)), namespace)


def unlock(io: "IoCtx", key: str, name: str, cookie: str, namespace: str = "") -> None:
    _one(io, key, Step("unlock", (name, cookie)), namespace)


def omap_get(io: "IoCtx", key: str, kind: str, args: tuple, namespace: str = "") -> tuple[list, bool]:
    """One omap listing step (``kind`` omap_get_vals / omap_get_keys / omap_get_vals_by_keys)."""
    result = operate_read(io, key, [Step(kind, args)], namespace)
    if result.rc < 0:
        raise Error(-result.rc, f"object {io.pool}/{key}: {kind} failed")
    return result.outputs[0]
