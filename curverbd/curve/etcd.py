"""A small etcd v3 client over etcd's JSON gateway (HTTP/1.1), standard library only.

Why this shape: every Curve cluster already runs etcd for its MDS, and etcd
serves its v3 API as JSON over plain HTTP next to gRPC (the "gRPC gateway":
POST /v3/kv/range, /v3/kv/put, /v3/kv/txn, /v3/watch, /v3/lease/...; keys and
values travel base64-encoded, 64-bit integers as decimal strings, fields that
equal their zero value are left out). Speaking it with our own small HTTP/1.1 client (http11.py) keeps
grpcio and protobuf out of the processes we are loaded into (QEMU, libvirt,
OpenStack services).

Endpoints: ``http://host:port``, ``host:port`` (TCP) and ``unix:///abs/path``
(a unix socket; the embedded daemon's etcd is ``<nebd socket>.etcd``). A call
goes to the endpoint that answered last and fails over to the next one on a
transport failure; the whole call, retries included, is bounded by ``timeout``
(8 s by default, libcurve's budget for one control call). Each thread keeps its
own persistent connection per endpoint (HTTP/1.1 allows one request at a time
on a connection, and a lock would serialise every thread of QEMU); a forked
child drops the connections it inherited.

Resending: a request that never left (connect failed) is always tried on the
next endpoint. One that was sent and got no reply is re-sent only when doing it
twice is harmless (reads, puts, deletes, lease calls), or once when a kept-alive
connection turned out to be closed (etcd restarted while it was idle). A
transaction with writes whose reply was lost in any other way raises EIO saying
the outcome is unknown instead of guessing; its compares make a re-read decide.

Errors are ``curverbd.errors.Error``: unreachable endpoints give ETIMEDOUT (or
ECONNREFUSED when every endpoint refused) naming them; an error reply from etcd
gives EIO with etcd's own message, except "not found" (a lease that expired or
was revoked: ENOENT) and a request over etcd's size limit (EFBIG), which callers
act on differently.
"""
from __future__ import annotations

import base64
import errno
import json
import logging
import os
import signal
import socket
import threading
import time
from typing import Any, Callable, Iterable, NamedTuple, Sequence

from ..errors import Error
from .http11 import Connection, HTTPException, RemoteDisconnected

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 8.0
# etcd's --max-request-bytes default (1.5 MiB). One put carries its key, its value and ~25 bytes of
# etcd's own framing (measured on 3.4: key 11 B + value 1572830 B is the largest accepted put).
MAX_REQUEST_BYTES = 1536 * 1024
PUT_OVERHEAD = 64
# The largest value a put with a key of up to 1 KiB can carry.
MAX_VALUE_BYTES = MAX_REQUEST_BYTES - PUT_OVERHEAD - 1024
DEFAULT_PORT = 2379

_HEADERS = {"Content-Type": "application/json"}
_RETRY_BACKOFF = (0.02, 0.5)         # first and longest pause between rounds over all endpoints
_UNAVAILABLE = 14                    # gRPC code etcd answers while it has no leader, is overloaded, ...
_NOT_FOUND = 5
# Unavailable replies given before a write is proposed, so re-sending cannot apply it twice.
_UNAPPLIED = ("etcdserver: no leader", "etcdserver: not capable", "etcdserver: too many requests")
_REFUSED = (errno.ECONNREFUSED, errno.ENOENT)   # nothing listens there (ENOENT: no unix socket file)


class KeyValue(NamedTuple):
    """One key as etcd stores it; revisions are cluster revisions, ``version`` counts puts since creation."""
    key: bytes
    value: bytes
    mod_revision: int
    create_revision: int
    version: int
    lease: int = 0            # the lease the key is attached to (0: none)


class WatchEvent(NamedTuple):
    """A change seen by a watch: ``type`` is "PUT" or "DELETE" (whose value is b"")."""
    type: str
    key: bytes
    value: bytes
    mod_revision: int


# --- encoding -------------------------------------------------------------------------------------

def _bytes(data: bytes | str) -> bytes:
    return data.encode() if isinstance(data, str) else bytes(data)


def _b64(data: bytes | str) -> str:
    return base64.b64encode(_bytes(data)).decode("ascii")


def _unb64(text: str | None) -> bytes:
    return base64.b64decode(text) if text else b""


def prefix_end(prefix: bytes | str) -> bytes:
    """The range end that makes [prefix, end) every key starting with ``prefix``: the prefix with its
    last byte below 0xff incremented (trailing 0xff bytes dropped); b"\\0" (etcd: "to the end") when
    there is no such byte, i.e. for the empty prefix or one of only 0xff bytes."""
    p = bytearray(_bytes(prefix))
    while p and p[-1] == 0xFF:
        p.pop()
    if not p:
        return b"\0"
    p[-1] += 1
    return bytes(p)


def _range_body(prefix: bytes | str) -> dict:
    """A key range covering ``prefix``; the empty prefix means every key (etcd rejects an empty key)."""
    p = _bytes(prefix)
    return {"key": _b64(p or b"\0"), "range_end": _b64(prefix_end(p))}


def _kv(d: dict) -> KeyValue:
    return KeyValue(_unb64(d.get("key")), _unb64(d.get("value")), int(d.get("mod_revision", 0)),
                    int(d.get("create_revision", 0)), int(d.get("version", 0)), int(d.get("lease", 0)))


def _revision(reply: dict) -> int:
    return int(reply.get("header", {}).get("revision", 0))


# --- transactions ---------------------------------------------------------------------------------

_RESULTS = {"=": "EQUAL", "==": "EQUAL", "!=": "NOT_EQUAL", "<": "LESS", ">": "GREATER"}


class Compare(NamedTuple):   # immutable, like every part of a transaction (no dataclasses: ~7 ms per start)
    """One compare of a transaction; build it with the constructors below, e.g.
    ``Compare.mod_revision(key, "=", rev)``. ``op`` is one of = != < >."""
    body: dict

    @staticmethod
    def _build(key: bytes | str, op: str, target: str, field: str, value: Any) -> "Compare":
        try:
            result = _RESULTS[op]
        except KeyError:
            raise Error(errno.EINVAL, f"etcd compare operator {op!r}: expected one of = != < >") from None
        return Compare({"key": _b64(key), "target": target, "result": result, field: value})

    @staticmethod
    def value(key: bytes | str, op: str, value: bytes | str) -> "Compare":
        """The key's value compared bytewise (a missing key never matches)."""
        return Compare._build(key, op, "VALUE", "value", _b64(value))

    @staticmethod
    def version(key: bytes | str, op: str, version: int) -> "Compare":
        """Puts since the key's creation (0: the key does not exist)."""
        return Compare._build(key, op, "VERSION", "version", str(int(version)))

    @staticmethod
    def create_revision(key: bytes | str, op: str, revision: int) -> "Compare":
        return Compare._build(key, op, "CREATE", "create_revision", str(int(revision)))

    @staticmethod
    def mod_revision(key: bytes | str, op: str, revision: int) -> "Compare":
        """The revision of the key's last change: the compare-and-swap guard."""
        return Compare._build(key, op, "MOD", "mod_revision", str(int(revision)))

    @staticmethod
    def lease(key: bytes | str, op: str, lease_id: int) -> "Compare":
        """The lease the key is attached to (0: none)."""
        return Compare._build(key, op, "LEASE", "lease", str(int(lease_id)))

    @staticmethod
    def absent(key: bytes | str) -> "Compare":
        """The key does not exist (create_revision == 0): "create only if new"."""
        return Compare.create_revision(key, "=", 0)

    @staticmethod
    def exists(key: bytes | str) -> "Compare":
        """The key exists (create_revision > 0)."""
        return Compare.create_revision(key, ">", 0)


class Op(NamedTuple):
    """One operation of a transaction branch; ``kind`` decides how its response is decoded:
    get -> KeyValue | None, get_prefix -> list[KeyValue], put -> the new revision,
    delete / delete_prefix -> the number of keys deleted."""
    kind: str
    body: dict

    @staticmethod
    def put(key: bytes | str, value: bytes | str, lease: int = 0) -> "Op":
        body = {"key": _b64(key), "value": _b64(value)}
        if lease:
            body["lease"] = str(int(lease))
        return Op("put", {"request_put": body})

    @staticmethod
    def get(key: bytes | str) -> "Op":
        return Op("get", {"request_range": {"key": _b64(key)}})

    @staticmethod
    def get_prefix(prefix: bytes | str, keys_only: bool = False) -> "Op":
        return Op("get_prefix", {"request_range": dict(_range_body(prefix), keys_only=keys_only)})

    @staticmethod
    def delete(key: bytes | str) -> "Op":
        return Op("delete", {"request_delete_range": {"key": _b64(key)}})

    @staticmethod
    def delete_prefix(prefix: bytes | str) -> "Op":
        if not _bytes(prefix):
            raise Error(errno.EINVAL, "etcd delete_prefix: refusing the empty prefix (every key)")
        return Op("delete_prefix", {"request_delete_range": _range_body(prefix)})

    @property
    def writes(self) -> bool:
        return self.kind not in ("get", "get_prefix")

    def decode(self, response: dict) -> Any:
        if self.kind == "put":
            return _revision(response.get("response_put", {}))
        if self.kind in ("delete", "delete_prefix"):
            return int(response.get("response_delete_range", {}).get("deleted", 0))
        kvs = [_kv(d) for d in response.get("response_range", {}).get("kvs", [])]
        if self.kind == "get":
            return kvs[0] if kvs else None
        return kvs


# --- endpoints and connections --------------------------------------------------------------------

class Endpoint(NamedTuple):
    """Where one etcd member listens: a unix socket ``path``, or ``host``:``port``."""
    text: str
    host: str = ""
    port: int = 0
    path: str = ""


def parse_endpoint(text: str) -> Endpoint:
    """``unix:///abs/path``, ``http://host:port``, ``host:port`` (``[v6]:port``); a missing port is
    etcd's 2379. Error(EINVAL) naming the endpoint for anything else."""
    t = text.strip()
    if t.startswith("unix://"):
        path = t[len("unix://"):]
        if not path.startswith("/"):
            raise Error(errno.EINVAL, f"etcd endpoint {text!r}: a unix socket needs an absolute path "
                                      "(unix:///path)")
        return Endpoint(t, path=path)
    if t.startswith("https://"):
        raise Error(errno.EINVAL, f"etcd endpoint {text!r}: TLS (https) is not supported")
    hostport = t[len("http://"):] if t.startswith("http://") else t
    hostport = hostport.rstrip("/")
    if hostport.startswith("["):
        host, _, rest = hostport[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ("" if not rest else "x")
    else:
        host, _, port = hostport.partition(":")
    if not host or "/" in host or ":" in port or (port and not (port.isdigit() and 0 < int(port) < 65536)):
        raise Error(errno.EINVAL, f"etcd endpoint {text!r}: expected http://host:port, host:port or "
                                  "unix:///path")
    return Endpoint(t, host=host, port=int(port) if port else DEFAULT_PORT)


def parse_endpoints(endpoints: Sequence[str] | str) -> list[Endpoint]:
    """A list, or one comma-separated string (Curve's mds.etcd.endpoint form)."""
    items = endpoints.split(",") if isinstance(endpoints, str) else list(endpoints)
    parsed = [parse_endpoint(e) for e in items if e.strip()]
    if not parsed:
        raise Error(errno.EINVAL, f"etcd endpoint list {endpoints!r} is empty")
    return parsed


def _connection(ep: Endpoint, timeout: float | None) -> Connection:
    if ep.path:
        return Connection("localhost", timeout=timeout, unix_path=ep.path)
    return Connection(ep.host, ep.port, timeout=timeout, tcp_keepalive=True)


class _Unsent(Exception):
    """The request did not reach etcd (connect failed): safe to send elsewhere."""


class _Lost(Exception):
    """The request was sent and no reply came; ``stale`` when a kept-alive connection was found closed
    before any reply byte (etcd restarted while the connection idled)."""

    def __init__(self, cause: BaseException, stale: bool) -> None:
        super().__init__(str(cause))
        self.cause, self.stale = cause, stale


def _describe(exc: BaseException) -> str:
    if isinstance(exc, (_Unsent, _Lost)):
        exc = exc.__cause__ or getattr(exc, "cause", exc)
    if isinstance(exc, socket.timeout):
        return "timed out"
    if isinstance(exc, OSError) and exc.errno:
        return os.strerror(exc.errno)
    return str(exc) or type(exc).__name__


def _error_of(reply: Any, status: int) -> tuple[int | None, str]:
    """(gRPC code, message) of an error reply: {"error", "code", "message"}, or for a streaming call
    {"error": {"grpc_code", "message", ...}}."""
    if not isinstance(reply, dict):
        return None, f"HTTP {status}"
    err = reply.get("error")
    if isinstance(err, dict):
        reply, err = err, None
    code = reply.get("code", reply.get("grpc_code"))
    return code, str(reply.get("message") or err or f"HTTP {status}")


def _errno_of(exc: BaseException) -> int | None:
    cause = exc.__cause__ if isinstance(exc, _Unsent) else getattr(exc, "cause", exc)
    return cause.errno if isinstance(cause, OSError) else None


# --- the client -----------------------------------------------------------------------------------

class Etcd:
    """An etcd v3 client; thread-safe, fork-safe. Keys and values are bytes (str is encoded UTF-8)."""

    def __init__(self, endpoints: Sequence[str] | str, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.endpoints = parse_endpoints(endpoints)
        self.timeout = float(timeout)
        self._current = 0                       # the endpoint that answered last: tried first
        self._local = threading.local()
        self._all_lock = threading.Lock()
        self._all: set[Connection] = set()   # every thread's, for close()

    def __repr__(self) -> str:
        return f"Etcd({[e.text for e in self.endpoints]!r})"

    def _names(self) -> str:
        return ", ".join(e.text for e in self.endpoints)

    # --- connections --------------------------------------------------------------------------------
    def _conns(self) -> dict[int, Connection]:
        local = self._local
        if getattr(local, "pid", None) != os.getpid():
            # Inherited over fork: the parent still uses these sockets; closing our copy sends nothing.
            for conn in getattr(local, "conns", {}).values():
                conn.close()
            local.pid, local.conns = os.getpid(), {}
        return local.conns

    def _drop(self, index: int) -> None:
        conn = self._conns().pop(index, None)
        if conn is not None:
            conn.close()
            with self._all_lock:
                self._all.discard(conn)

    def close(self) -> None:
        """Close every connection of every thread; the client stays usable (it reconnects)."""
        with self._all_lock:
            conns, self._all = list(self._all), set()
        for conn in conns:
            conn.close()
        self._local = threading.local()

    def __enter__(self) -> "Etcd":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # --- one request ------------------------------------------------------------------------------
    def _exchange(self, index: int, path: str, data: bytes, timeout: float) -> tuple[int, bytes]:
        """Send one request to endpoint ``index`` on this thread's connection; (status, body).
        Raises _Unsent or _Lost on transport failures (the connection is dropped)."""
        conns = self._conns()
        conn = conns.get(index)
        reused = conn is not None and conn.sock is not None
        if conn is None:
            conn = conns[index] = _connection(self.endpoints[index], timeout)
            with self._all_lock:
                self._all.add(conn)
        conn.settimeout(timeout)
        if conn.sock is None:
            try:
                conn.connect()
            except (OSError, HTTPException) as exc:
                self._drop(index)
                raise _Unsent() from exc
        got_reply = False
        try:
            _without_sigpipe(lambda: conn.request("POST", path, data, _HEADERS))
            resp = conn.getresponse()
            got_reply = True
            body = resp.read()
        except (OSError, HTTPException) as exc:
            self._drop(index)
            stale = reused and not got_reply and not isinstance(exc, socket.timeout) and isinstance(
                exc, (RemoteDisconnected, ConnectionResetError, BrokenPipeError))
            raise _Lost(exc, stale) from exc
        if resp.will_close:
            self._drop(index)
        return resp.status, body

    def _call(self, path: str, body: dict, *, resend: bool = True) -> dict:
        """POST ``body`` to ``path``, failing over between endpoints within the timeout; the decoded
        reply. ``resend``: the request may be sent again after its reply was lost."""
        data = json.dumps(body).encode()
        deadline = time.monotonic() + self.timeout
        failures: dict[str, BaseException] = {}
        resent_stale = False
        pause = _RETRY_BACKOFF[0]
        n = len(self.endpoints)
        while True:
            start = self._current
            for step in range(n):
                index = (start + step) % n
                ep = self.endpoints[index]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    status, payload = self._exchange(index, path, data, remaining)
                except _Unsent as exc:
                    failures[ep.text] = exc
                    continue
                except _Lost as exc:
                    failures[ep.text] = exc
                    if resend or (exc.stale and not resent_stale):
                        resent_stale = resent_stale or not resend
                        continue
                    code = errno.ETIMEDOUT if isinstance(exc.cause, socket.timeout) else errno.EIO
                    raise Error(code, f"etcd at {ep.text}: no reply to {path} ({_describe(exc)}); "
                                      "whether the transaction was applied is unknown") from None
                try:
                    reply = json.loads(payload) if payload else {}
                except ValueError:
                    raise Error(errno.EIO, f"etcd at {ep.text}: {path} answered HTTP {status} with a "
                                           f"body that is not JSON: {payload[:200]!r}") from None
                if status == 200 and "error" not in reply:
                    self._current = index
                    return reply
                code, message = _error_of(reply, status)
                if code == _UNAVAILABLE and (resend or message in _UNAPPLIED):
                    failures[ep.text] = RuntimeError(message)   # e.g. this member has lost its leader
                    continue
                raise self._reply_error(ep, path, code, message)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._unreachable(failures)
            time.sleep(min(pause, remaining))
            pause = min(pause * 2, _RETRY_BACKOFF[1])

    def _reply_error(self, ep: Endpoint, path: str, code: int | None, message: str) -> Error:
        if code == _NOT_FOUND:
            err = errno.ENOENT
        elif "request is too large" in message or "larger than max" in message:
            err = errno.EFBIG
        else:
            err = errno.EIO
        return Error(err, f"etcd at {ep.text}: {path}: {message}")

    def _unreachable(self, failures: dict[str, BaseException]) -> Error:
        errnos = [_errno_of(exc) for exc in failures.values()]
        code = errno.ECONNREFUSED if errnos and all(e in _REFUSED for e in errnos) else errno.ETIMEDOUT
        detail = "; ".join(f"{name}: {_describe(exc)}" for name, exc in failures.items()) or "no attempt"
        return Error(code, f"etcd unreachable within {self.timeout:g} s at {self._names()} ({detail})")

    # --- keys -------------------------------------------------------------------------------------
    def get(self, key: bytes | str) -> KeyValue | None:
        kvs = self._call("/v3/kv/range", {"key": _b64(key)}).get("kvs", [])
        return _kv(kvs[0]) if kvs else None

    def get_prefix(self, prefix: bytes | str, keys_only: bool = False) -> list[KeyValue]:
        """Every key starting with ``prefix`` (b"" for all), sorted by key; values are b"" with
        ``keys_only``."""
        body = _range_body(prefix)
        if keys_only:
            body["keys_only"] = True
        return [_kv(d) for d in self._call("/v3/kv/range", body).get("kvs", [])]

    def put(self, key: bytes | str, value: bytes | str, lease: int = 0) -> int:
        """Set ``key``; the cluster revision of the change. ``lease``: the key goes when it expires."""
        k, v = _bytes(key), _bytes(value)
        if len(k) + len(v) + PUT_OVERHEAD > MAX_REQUEST_BYTES:
            raise Error(errno.EFBIG, f"etcd put {k[:80]!r}: {len(k) + len(v)} bytes of key and value is "
                                     f"over etcd's request limit ({MAX_REQUEST_BYTES} bytes)")
        body = {"key": _b64(k), "value": _b64(v)}
        if lease:
            body["lease"] = str(int(lease))
        return _revision(self._call("/v3/kv/put", body))

    def delete(self, key: bytes | str) -> int:
        """Delete ``key``; how many keys went (0 or 1)."""
        return int(self._call("/v3/kv/deleterange", {"key": _b64(key)}).get("deleted", 0))

    def delete_prefix(self, prefix: bytes | str) -> int:
        """Delete every key starting with ``prefix`` (not empty); how many went."""
        if not _bytes(prefix):
            raise Error(errno.EINVAL, "etcd delete_prefix: refusing the empty prefix (every key)")
        return int(self._call("/v3/kv/deleterange", _range_body(prefix)).get("deleted", 0))

    def txn(self, compare: Iterable[Compare], success: Iterable[Op],
            failure: Iterable[Op] = ()) -> tuple[bool, list]:
        """Atomically: if every compare holds, run ``success``, else ``failure``. Returns (succeeded,
        the responses of the branch that ran, decoded as Op says)."""
        compare, success, failure = list(compare), list(success), list(failure)
        body = {"compare": [c.body for c in compare], "success": [o.body for o in success],
                "failure": [o.body for o in failure]}
        writes = any(o.writes for o in success + failure)
        reply = self._call("/v3/kv/txn", body, resend=not writes)
        succeeded = bool(reply.get("succeeded", False))
        ops = success if succeeded else failure
        return succeeded, [op.decode(r) for op, r in zip(ops, reply.get("responses", []))]

    def revision(self) -> int:
        """The cluster's current revision."""
        return _revision(self._call("/v3/kv/range", {"key": _b64(b"\0"), "count_only": True}))

    def compact(self, revision: int) -> None:
        """Drop the history before ``revision`` (watches from older revisions get on_compacted). The
        embedded etcd compacts by itself (keeping an hour); this is for tools and tests."""
        self._call("/v3/kv/compaction", {"revision": str(int(revision)), "physical": True})

    # --- leases -----------------------------------------------------------------------------------
    def lease_grant(self, ttl: int) -> int:
        """A new lease of ``ttl`` seconds; its id."""
        return int(self._call("/v3/lease/grant", {"TTL": str(int(ttl))})["ID"])

    def lease_keepalive(self, lease_id: int) -> int:
        """Renew the lease; its TTL again. ENOENT when it has expired or was revoked."""
        reply = self._call("/v3/lease/keepalive", {"ID": str(int(lease_id))})
        ttl = int(reply.get("result", reply).get("TTL", 0))
        if ttl <= 0:
            raise Error(errno.ENOENT, f"etcd lease {lease_id:x} not found (expired or revoked)")
        return ttl

    def lease_revoke(self, lease_id: int) -> None:
        """End the lease now; the keys attached to it are deleted. ENOENT when it is already gone."""
        self._call("/v3/lease/revoke", {"ID": str(int(lease_id))})

    # --- watches ----------------------------------------------------------------------------------
    def watch(self, prefix: bytes | str, start_revision: int,
              callback: Callable[[list[WatchEvent]], None], *, prefix_match: bool = True,
              on_compacted: Callable[[int], None] | None = None) -> "Watch":
        """Call ``callback(events)`` from a daemon thread for every change of a key starting with
        ``prefix`` (exactly ``prefix`` with ``prefix_match=False``) from ``start_revision`` on
        (0: changes after the watch is set up). See Watch."""
        return Watch(self, _bytes(prefix), start_revision, callback, prefix_match, on_compacted)


def _without_sigpipe(send: Callable[[], Any]) -> Any:
    """``send()`` with SIGPIPE held back in this thread (it may be the host's: fio, QEMU): a connection
    etcd closed gives EPIPE, and the signal it raised is taken here instead of killing the host."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGPIPE})
    try:
        return send()
    finally:
        if signal.SIGPIPE not in old:
            if signal.SIGPIPE in signal.sigpending():
                signal.sigtimedwait({signal.SIGPIPE}, 0)
            signal.pthread_sigmask(signal.SIG_SETMASK, old)


class Watch:
    """A watch's thread: reads the streaming /v3/watch reply (one JSON object per message), calls the
    callback with each batch of events, and when the stream breaks (etcd restarted, an endpoint died)
    sets it up again from the revision after the last one delivered, on whichever endpoint answers,
    until cancel(). If etcd compacted revisions it had not delivered, ``on_compacted(revision)`` is
    called (the caller re-reads its state) and the watch goes on from there; without it the gap is
    logged. An exception in a callback is logged, not fatal."""

    def __init__(self, client: Etcd, key: bytes, start_revision: int,
                 callback: Callable[[list[WatchEvent]], None], prefix_match: bool,
                 on_compacted: Callable[[int], None] | None) -> None:
        self.client, self.key, self.callback = client, key, callback
        self.on_compacted = on_compacted
        self.range_end = prefix_end(key) if prefix_match else b""
        self.next_revision = int(start_revision)     # 0 until the first setup fixed "now"
        self._cancelled = threading.Event()
        self._ready = threading.Event()
        self._lock = threading.Lock()
        self._conn: Connection | None = None
        self._thread = threading.Thread(target=self._run, name=f"etcd-watch {key[:40]!r}", daemon=True)
        self._thread.start()

    def wait_ready(self, timeout: float | None = None) -> bool:
        """True once etcd confirmed the watch (changes from then on are seen)."""
        return self._ready.wait(timeout)

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def cancel(self, timeout: float = 5.0) -> None:
        """Stop watching; waits for the thread unless called from the callback itself."""
        self._cancelled.set()
        with self._lock:
            conn = self._conn
        if conn is not None and conn.sock is not None:
            try:
                conn.sock.shutdown(socket.SHUT_RDWR)   # wakes the thread blocked reading the stream
            except OSError:
                pass
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def _run(self) -> None:
        # a library thread: the host's signals are not ours to take (a send to a restarted etcd must
        # give EPIPE, not kill fio or QEMU with SIGPIPE)
        signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
        pause = _RETRY_BACKOFF[0]
        index = self.client._current
        while not self._cancelled.is_set():
            ep = self.client.endpoints[index % len(self.client.endpoints)]
            try:
                if self._stream(ep):
                    pause = _RETRY_BACKOFF[0]            # it worked for a while: come back quickly
            except (OSError, HTTPException, ValueError) as exc:
                if not self._cancelled.is_set():
                    log.debug("etcd watch %r at %s: %s", self.key, ep.text, _describe(exc))
            finally:
                with self._lock:
                    conn, self._conn = self._conn, None
                if conn is not None:
                    conn.close()
            index += 1
            if self._cancelled.wait(pause):
                break
            pause = min(pause * 2, _RETRY_BACKOFF[1] * 2)

    def _stream(self, ep: Endpoint) -> bool:
        """One watch stream on ``ep`` until it ends; True if etcd had confirmed it."""
        conn = _connection(ep, self.client.timeout)
        with self._lock:
            if self._cancelled.is_set():
                return False
            self._conn = conn
        create: dict[str, Any] = {"key": _b64(self.key)}
        if self.range_end:
            create["range_end"] = _b64(self.range_end)
        if self.next_revision > 0:
            create["start_revision"] = str(self.next_revision)
        conn.request("POST", "/v3/watch", json.dumps({"create_request": create}).encode(), _HEADERS)
        resp = conn.getresponse()
        if resp.status != 200:
            raise ValueError(f"HTTP {resp.status}: {resp.read(300)!r}")
        conn.settimeout(None)            # a watch waits as long as nothing changes
        decoder = json.JSONDecoder()
        buf, confirmed = "", False
        while not self._cancelled.is_set():
            chunk = resp.read1(1 << 16)
            if not chunk:
                return confirmed         # etcd went away: reconnect
            buf += chunk.decode()
            while True:
                buf = buf.lstrip()
                if not buf:
                    break
                try:
                    message, end = decoder.raw_decode(buf)
                except ValueError:
                    break                # the rest of this message is still on its way
                buf = buf[end:]
                if "error" in message:
                    raise ValueError(message["error"].get("message", message["error"])
                                     if isinstance(message["error"], dict) else message["error"])
                confirmed = self._handle(message.get("result", {})) or confirmed
        return confirmed

    def _handle(self, result: dict) -> bool:
        if result.get("created"):
            if self.next_revision <= 0:
                self.next_revision = _revision(result) + 1
            self._ready.set()
        compacted = int(result.get("compact_revision", 0))
        if compacted:
            log.warning("etcd watch %r: revisions before %d were compacted before they were seen",
                        self.key, compacted)
            self.next_revision = compacted
            if self.on_compacted is not None:
                self._guard(self.on_compacted, compacted)
            raise ValueError("compacted")    # etcd cancels such a watch: set it up again from there
        events = [WatchEvent(e.get("type", "PUT"), _unb64(e["kv"].get("key")), _unb64(e["kv"].get("value")),
                             int(e["kv"].get("mod_revision", 0)))
                  for e in result.get("events", [])]
        if events:
            self.next_revision = max(e.mod_revision for e in events) + 1
            if not self._cancelled.is_set():
                self._guard(self.callback, events)
        if result.get("canceled"):
            raise ValueError(result.get("cancel_reason") or "canceled by etcd")
        return bool(result.get("created"))

    def _guard(self, fn: Callable, arg: Any) -> None:
        try:
            fn(arg)
        except Exception:
            log.exception("etcd watch %r: callback failed", self.key)
