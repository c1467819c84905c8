"""librbd's exclusive lock, kept in the RBD state home (etcd), so that clients sharing an image never lose
an update.

Curve takes only whole 4 KiB blocks, so a write that does not cover whole blocks is a read-modify-write
of its edge blocks; two clients doing that to one block at once lose one of the writes. As librbd does
with its exclusive lock, one handle at a time writes an image: it holds the key ``lock/<file id>``
(attached to its client's etcd lease, so a client that dies loses it within the lease's TTL) and writes
freely while it holds it. Another handle that wants to write puts a request under
``lockreq/<file id>/`` and waits; the holder sees the request (a watch), lets its writes in flight
finish, stops new ones and deletes the key; the requester takes it. So the lock moves to whoever writes
("automatic transfer"), costs nothing while one client writes alone, and serialises two that write at
once. This holds for every image: librbd's exclusive-lock feature only decides whether the owner is
reported (lock_get_owners, is_exclusive_lock_owner); without it two writers are still not allowed to
lose updates, which the emulated read-modify-write would otherwise do.

A handle that took the lock with lock_acquire keeps it: requests are refused and the requesters'
writes fail with EROFS, as librbd's do. break_lock removes a holder's key and revokes its lease (its
keys go with it); Curve cannot fence a client that still writes after that, so a broken owner that is
alive should be stopped by its operator (README).
"""
from __future__ import annotations

import errno
import json
import logging
import os
import signal
import socket
import threading
import time
from typing import Callable

from ..curve.etcd import Compare, Etcd, Op
from ..curve.rbd_state import lock_key, lock_requests
from ..errors import Error

log = logging.getLogger("curverbd.lock")

LEASE_TTL = 10                # seconds: how long a dead client's lock outlives it
WAIT_S = 60.0                 # how long a writer waits for the lock before failing (with a log line)
HOLD_MIN_S = 0.02             # a holder keeps the lock this long before handing it to a requester


class LockSession:
    """One client's etcd lease for its locks, kept alive by a thread while the client is connected."""

    def __init__(self, etcd: Etcd) -> None:
        self.etcd = etcd
        self.client_id = f"{socket.gethostname()}:{os.getpid()}:{os.urandom(4).hex()}"
        self._lease = 0
        self._mutex = threading.Lock()
        self._stop = threading.Event()

    def lease(self) -> int:
        """The lease id (granted on first use)."""
        with self._mutex:
            if not self._lease:
                self._lease = self.etcd.lease_grant(LEASE_TTL)
                threading.Thread(target=self._keepalive, args=(self._lease,), name="curverbd-lock-lease",
                                 daemon=True).start()
            return self._lease

    def renew(self, dead: int) -> int:
        """A new lease in place of ``dead`` (revoked or expired)."""
        with self._mutex:
            if self._lease == dead:
                self._lease = 0
        return self.lease()

    def _keepalive(self, lease: int) -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())   # a library thread: no host signals
        while not self._stop.wait(LEASE_TTL / 3) and self._lease == lease:
            try:
                self.etcd.lease_keepalive(lease)
            except Error as exc:
                log.error("lock lease %x: not renewed (%s); locks held through it are lost", lease, exc)
                if exc.errno == errno.ENOENT:
                    with self._mutex:
                        if self._lease == lease:
                            self._lease = 0
                    return

    def close(self) -> None:
        self._stop.set()
        with self._mutex:
            lease, self._lease = self._lease, 0
        if lease:
            try:
                self.etcd.lease_revoke(lease)
            except Error:
                pass   # it expires by itself


class WriterLock:
    """The exclusive lock of one image for one open handle. The handle's data path (the C engine)
    writes only between ``allow()`` (called when the lock comes) and ``stop()`` (called before it goes:
    it returns once the writes in flight are done, after which the lock goes to the requester); while
    it does not hold the lock it calls ``acquire()`` before writing."""

    def __init__(self, session: LockSession, file_id: int, label: str, allow: Callable[[], None],
                 stop: Callable[[], None]) -> None:
        self.session = session
        self.etcd = session.etcd
        self.key = lock_key(file_id)
        self.requests = lock_requests(file_id)
        self.me = f"{session.client_id}:{os.urandom(3).hex()}"   # one per handle
        self.label = label
        self.allow = allow
        self.stop = stop
        self.held = False
        self.explicit = False
        self.broken = False                     # another client broke our lock: we are blocklisted
        self._since = 0.0                       # when this handle last took the lock (monotonic)
        self._mutex = threading.Lock()          # one acquire / release at a time
        self._mine = b""                        # the lock key's value while this handle holds it
        self._watch = None
        self._own = None                        # the watch on our own lock key

    # --- taking and giving back ------------------------------------------------------------------
    def acquire(self, explicit: bool = False, wait_s: float = WAIT_S) -> None:
        """Hold the lock (waiting for the holder to hand it over); EROFS if a holder keeps it by
        lock_acquire, ETIMEDOUT (logged) if it does not come in ``wait_s``."""
        with self._mutex:
            if self.broken:
                raise Error(errno.ESHUTDOWN, f"{self.label}: blocklisted: another client broke this handle's "
                                             "lock (reopen the image)")
            if self.held:
                self.explicit = self.explicit or explicit
                return
            lease = self.session.lease()
            mine = self._mine = json.dumps({"owner": self.me, "explicit": explicit, "since": time.time()}).encode()
            request = self.requests + self.me.encode()
            deadline = time.monotonic() + wait_s
            asked_at = 0                        # our request's revision (0: not asked)
            while True:
                try:
                    # first come, first served: a handle that just gave the lock up must not take it
                    # back before the one it gave it to
                    ahead = [kv for kv in self.etcd.get_prefix(self.requests, keys_only=True)
                             if kv.key != request and (not asked_at or kv.create_revision < asked_at)]
                    if not ahead:
                        took, replies = self.etcd.txn([Compare.absent(self.key)], [Op.put(self.key, mine, lease)],
                                                      [Op.get(self.key)])
                        if took:
                            break
                        holder = replies[0]
                    else:
                        holder = self.etcd.get(self.key)
                    if holder is not None:
                        owner = json.loads(holder.value)
                        if owner.get("explicit"):
                            raise Error(errno.EROFS, f"{self.label}: locked by {owner['owner']} (lock_acquire): "
                                                     "it does not hand the lock over")
                    if not asked_at:
                        asked_at = self.etcd.put(request, self.me, lease)
                        continue
                except Error as exc:
                    if exc.errno != errno.ENOENT:
                        raise
                    lease = self.session.renew(lease)   # revoked (a lock of ours was broken) or expired
                    asked_at = 0
                    continue
                if time.monotonic() > deadline:
                    self.etcd.delete(request)
                    log.error("%s: the write lock did not come from its holder in %.0f s", self.label, wait_s)
                    raise Error(errno.ETIMEDOUT, f"{self.label}: the write lock did not come from "
                                                 f"{owner['owner'] if holder else 'its holder'} in {wait_s:.0f} s")
                if holder is None:
                    time.sleep(0.002)   # free, and an earlier requester is taking it
                else:
                    self._wait_gone(holder.mod_revision, deadline)
            if asked_at:
                self.etcd.delete(request)
            self.held, self.explicit = True, explicit
            self._since = time.monotonic()
            self.allow()
            # requests made while we waited are replayed to the watch: their handles get the lock next
            revision = self.etcd.revision()
            waiting = self.etcd.get_prefix(self.requests, keys_only=True)
            start = min([kv.create_revision for kv in waiting] + [revision + 1])
            self._watch = self.etcd.watch(self.requests, start, self._on_request)
            self._own = self.etcd.watch(self.key, revision + 1, self._on_own_change, prefix_match=False)

    def _wait_gone(self, revision: int, deadline: float) -> None:
        """Wait until the lock key changes after ``revision`` (deleted, or a lease expired)."""
        gone = threading.Event()
        watch = self.etcd.watch(self.key, revision + 1, lambda events: gone.set(), prefix_match=False)
        try:
            if self.etcd.get(self.key) is None:
                return
            gone.wait(max(0.0, min(deadline - time.monotonic(), 1.0)))
        finally:
            watch.cancel()

    def _on_request(self, events) -> None:
        """Another handle asks for the lock: hand it over unless it was taken by lock_acquire, after
        holding it HOLD_MIN_S (two busy writers then take turns writing batches, not single writes)."""
        if not any(e.type == "PUT" for e in events) or not self.held or self.explicit:
            return
        time.sleep(max(0.0, HOLD_MIN_S - (time.monotonic() - self._since)))
        if self.etcd.get_prefix(self.requests, keys_only=True):   # still wanted (a replayed request may be gone)
            self.release()

    def _on_own_change(self, events) -> None:
        """Our key went while we hold it: broken by another client (or our lease expired). Like librbd's
        blocklisting, this handle writes no more."""
        if self.held and any(e.type == "DELETE" for e in events):
            self.held = False
            self.broken = True
            self.stop()
            log.error("%s: its lock was broken (or its lease expired): this handle is blocklisted", self.label)

    def release(self) -> None:
        """Stop writing, wait for the writes in flight (stop), then give the lock up. ``held`` turns
        false first, so a writer that checks it (under its own lock) either got in before (and is waited
        for) or asks for the lock again."""
        with self._mutex:
            held, self.held, self.explicit = self.held, False, False
            watches, self._watch, self._own = (self._watch, self._own), None, None
            try:
                if held:
                    self.stop()
                    self.etcd.txn([Compare.value(self.key, "=", self._mine)], [Op.delete(self.key)])
            finally:
                for watch in watches:
                    if watch is not None:
                        watch.cancel()


# --- what librbd reports (any handle, read-only ones too) -------------------------------------------
def lock_owner(etcd: Etcd, file_id: int) -> str | None:
    """The handle holding image ``file_id``'s lock, or None."""
    kv = etcd.get(lock_key(file_id))
    return json.loads(kv.value)["owner"] if kv is not None else None


def break_lock(etcd: Etcd, file_id: int, owner: str, label: str) -> None:
    """Take the lock from ``owner`` by force: its key goes, and its client's lease (so its other locks,
    and any request it had made, go too). ENOENT if ``owner`` does not hold it."""
    kv = etcd.get(lock_key(file_id))
    if kv is None or json.loads(kv.value).get("owner") != owner:
        raise Error(errno.ENOENT, f"{label}: not locked by {owner!r}")
    if kv.lease:
        try:
            etcd.lease_revoke(kv.lease)
        except Error as exc:
            if exc.errno != errno.ENOENT:
                raise
    etcd.txn([Compare.value(kv.key, "=", kv.value)], [Op.delete(kv.key)])
    log.warning("%s: lock of %s broken", label, owner)
