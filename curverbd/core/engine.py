"""The C data engine (shim_c/engine.c, io.c) as the core uses it: every read and write of an Image,
whichever face opened it, runs through the same compiled code as QEMU's (one data path: padding,
range locks, flush ordering, resending after a daemon restart, encryption).

The engine is part of our librados.so.2. In a process that loaded it already (QEMU, fio, Debian's
bindings over our libraries) its cffi module ``_curverbd_capi`` is there and is used. Elsewhere (our
Python rbd module, the CLI) the library is loaded here: $CURVERBD_LIB_DIR, else the one installed in
the package (a wheel), else, in a source checkout, one built from it into a per-user cache keyed by
the sources' hash (built once, about 15 s, under a file lock).
"""
from __future__ import annotations

import atexit
import errno
import fcntl
import itertools
import logging
import os
import sys
import threading
import time
from typing import Any, Callable

from ..errors import Error

log = logging.getLogger("curverbd.engine")

READ, WRITE, DISCARD, ZERO, FLUSH = range(5)     # enum crbd_op_kind
LIBRARY = "librados.so.2"
PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE_ROOT = os.path.dirname(PACKAGE)
BUILD_SCRIPT = os.path.join(SOURCE_ROOT, "build_so.py")

_lock = threading.Lock()
_module: Any = None
_pending: dict[int, tuple] = {}      # token -> (done callback, what it keeps alive) of aio calls in flight
_tokens = itertools.count(1)


def module() -> Any:
    """The cffi module of our C library in this process (``ffi``, ``lib``), loading it if needed."""
    global _module
    if _module is None:
        with _lock:
            if _module is None:
                _module = sys.modules.get("_curverbd_capi") or _load()
                atexit.register(_module.lib.crbd_engine_python_exit)
    return _module


def _source_hash() -> str:
    import hashlib   # here: loading OpenSSL is ~4 ms of every embedded start, which never needs it
    digest = hashlib.sha256(SOURCE_ROOT.encode())   # a build imports curverbd from the tree it came from
    shim = os.path.join(SOURCE_ROOT, "shim_c")
    inputs = [BUILD_SCRIPT, os.path.join(PACKAGE, "nebd", "nebd_wire.h")]
    inputs += sorted(os.path.join(shim, name) for name in os.listdir(shim))
    for path in inputs:
        with open(path, "rb") as f:
            digest.update(os.path.basename(path).encode() + b"\0" + f.read())
    return digest.hexdigest()[:16]


UNUSED_BUILD_DAYS = 7   # a cached build no process has asked for in this long is removed


def _prune_builds(root: str, keep: str) -> None:
    """Remove other trees' builds under ``root`` nobody used for UNUSED_BUILD_DAYS (each use touches
    its build; a process still running one keeps its mapping after the files are gone)."""
    import shutil
    cutoff = time.time() - UNUSED_BUILD_DAYS * 86400
    for name in os.listdir(root):
        path = os.path.join(root, name)
        if not name.startswith("lib-") or name.endswith(".lock") or path == keep:
            continue
        try:
            if os.path.getmtime(path) < cutoff:
                shutil.rmtree(path, ignore_errors=True)
                if not name.endswith(".tmp"):
                    os.unlink(path + ".lock")
        except OSError:
            pass   # another process pruned it first


def library_dir() -> str:
    """Where our built libraries are (building them first in a source checkout if needed)."""
    given = os.environ.get("CURVERBD_LIB_DIR")
    if given:
        return given
    if not os.path.exists(BUILD_SCRIPT):   # an installed package: its libraries came with it
        return os.path.join(PACKAGE, "lib")
    cache = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "curverbd",
                         f"lib-{_source_hash()}")
    if not os.path.exists(os.path.join(cache, LIBRARY)):
        os.makedirs(os.path.dirname(cache), exist_ok=True)
        with open(cache + ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)   # one builder; the others wait and use its build
            if not os.path.exists(os.path.join(cache, LIBRARY)):
                import subprocess   # imported here: a host that loaded our library never builds it
                log.info("building the C data engine into %s (once per source change)", cache)
                proc = subprocess.run([sys.executable, BUILD_SCRIPT, "--out", cache + ".tmp"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                if proc.returncode:
                    raise Error(errno.EIO, f"building the C data engine ({BUILD_SCRIPT}) failed: "
                                           f"{proc.stderr.strip()[-800:]}")
                os.replace(cache + ".tmp", cache)
                _prune_builds(os.path.dirname(cache), cache)
    try:
        os.utime(cache)   # in use: not pruned
    except OSError:
        pass
    return cache


def _load() -> Any:
    import ctypes   # only where the library is not loaded yet (our Python module, the CLI)
    path = os.path.join(library_dir(), LIBRARY)
    try:
        lib = ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
    except OSError as exc:
        raise Error(errno.ENOENT, f"the C data engine {path} cannot be loaded: {exc}") from None
    # its first call starts the library's Python side in this interpreter (the embedding init);
    # making and dropping a cluster handle is the call that has no other effect
    handle = ctypes.c_void_p()
    r = lib.rados_create(ctypes.byref(handle), None)
    if r < 0:
        raise Error(-r, f"the C data engine {path} did not start (see its log)")
    lib.rados_shutdown(handle)
    mod = sys.modules.get("_curverbd_capi")
    if mod is None:
        raise Error(errno.EIO, f"the C data engine {path} started without its Python module")
    return mod


# --- aio completions: the library calls crbd_py_io_done(token, ret) (capi registers io_done) ---------
def track(done: Callable[[int], None], keep: tuple) -> int:
    """A token for an aio call; ``done(ret)`` runs when it completes (``keep`` stays alive until then)."""
    token = next(_tokens)
    _pending[token] = (done, keep)
    return token


def untrack(token: int) -> None:
    _pending.pop(token, None)


def io_done(token: int, ret: int) -> None:
    entry = _pending.pop(token, None)
    if entry is not None:
        entry[0](ret)


# --- images ------------------------------------------------------------------------------------------
CLOSE_TIMEOUT_S = 30.0               # conf curverbd_close_timeout: how long close / flush wait (0: forever)
TRUE_WORDS = ("true", "yes", "on", "1")


def _conf(cluster: Any, key: str) -> str | None:
    try:
        value = cluster.conf.lookup(key)
    except Error:
        return None
    return None if value is None else str(value).strip()


def copy_writes(cluster: Any) -> bool:
    """librbd's rbd_disable_zero_copy_writes (default true: C aio writes copy the caller's buffer)."""
    value = _conf(cluster, "rbd_disable_zero_copy_writes")
    return True if not value else value.lower() in TRUE_WORDS


def busy_poll_us(cluster: Any) -> int:
    """conf curverbd_busy_poll_us: microseconds a data connection polls for a reply before it sleeps
    (0: never); Error(EINVAL) naming the key when it is not a whole number from 0 to 1000000."""
    value = _conf(cluster, "curverbd_busy_poll_us") or "0"
    if not value.isdigit() or int(value) > 1_000_000:
        raise Error(errno.EINVAL, f"curverbd_busy_poll_us = {value!r}: expected microseconds, 0 to 1000000")
    return int(value)


def close_timeout_ms(cluster: Any) -> int:
    value = _conf(cluster, "curverbd_close_timeout")
    try:
        seconds = float(value) if value else CLOSE_TIMEOUT_S
    except ValueError:
        log.warning("curverbd_close_timeout %r is not a number of seconds; using %s", value, CLOSE_TIMEOUT_S)
        seconds = CLOSE_TIMEOUT_S
    return max(0, min(int(seconds * 1000), 0xFFFFFFFF))


def open_image(image: Any) -> Any:
    """The C image of core Image ``image`` (its handle registered weakly, for the engine's calls back:
    the write lock). Freed by ``close_image``."""
    from ..capi.handles import HANDLES   # the table C callers name core objects by
    mod = module()
    cluster = image.ioctx.cluster
    handle = HANDLES.add(image, weak=True)
    info = mod.ffi.new("struct crbd_open_info *")
    info.handle = handle
    info.nebd_fd = image.nebd_fd
    info.block_size = image.block_size
    info.size = image.size()
    info.block_name_prefix = f"rbd_data.{image.id}".encode()[:23]
    info.copy_writes = int(copy_writes(cluster))
    info.close_timeout_ms = close_timeout_ms(cluster)
    out = mod.ffi.new("void **")
    r = mod.lib.crbd_image_new(cluster._data_lanes(), info, int(image.read_only), out)
    if r < 0:
        HANDLES.drop(handle)
        raise Error(-r, f"{image}: the data connections to curverbd-server were not made")
    image.handle = handle
    return out[0]


def close_image(image: Any, timeout_ms: int) -> None:
    """Wait for ``image``'s I/O in flight (at most ``timeout_ms``; 0: forever) and free its C image;
    ETIMEDOUT leaves it allocated (requests in flight still point at it), logged."""
    from ..capi.handles import HANDLES
    lib = module().lib
    HANDLES.drop(image.handle)
    if lib.crbd_image_wait_idle(image.c_image, timeout_ms) < 0:
        log.error("%s: I/O still in flight after %d ms (daemon away?); its C image is abandoned", image,
                  timeout_ms)
        raise Error(errno.ETIMEDOUT, f"{image}: I/O did not finish within {timeout_ms} ms")
    lib.crbd_image_free(image.c_image)


def set_encryption(c_image: Any, enc: Any) -> None:
    """Hand a loaded LUKS key (luks.Encryption) to the engine: every I/O of the image is encrypted."""
    mod = module()
    info = mod.ffi.new("struct crbd_crypto_info *")
    key = bytes(enc.key)
    mod.ffi.memmove(info.key, key, len(key))
    info.key_len = len(key)
    info.sector_size = enc.sector_size
    info.data_offset = enc.data_offset
    info.cipher = enc.cipher.encode()[:31]
    r = mod.lib.crbd_image_set_crypto(c_image, info)
    mod.ffi.memmove(info.key, bytes(len(key)), len(key))
    if r < 0:
        raise Error(-r, f"{enc.format}: the engine refused the key (sector size {enc.sector_size})")
