"""The home of RBD state: curverbd.curve.etcd against the real etcd a real curverbd-server starts.

No mocks: every test talks to /usr/bin/etcd (Debian's etcd-server) as the daemon runs it, on the
unix socket ``<nebd socket>.etcd``.
"""
from __future__ import annotations

import errno
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time

import pytest

from curverbd.curve.etcd import (MAX_REQUEST_BYTES, MAX_VALUE_BYTES, Compare, Etcd, KeyValue, Op,
                                 WatchEvent)
from curverbd.errors import Error
from daemon import ROOT, new_daemon, remove

pytestmark = pytest.mark.skipif(not os.access("/usr/bin/etcd", os.X_OK),
                                reason="needs Debian's etcd-server (scripts/install-deps.sh)")


def client(d, timeout: float = 8.0) -> Etcd:
    return Etcd("unix://" + d.etcd_socket, timeout=timeout)


def etcd_pid(d) -> int:
    """The daemon's etcd child."""
    out = subprocess.check_output(["pgrep", "-P", str(d.proc.pid), "-x", "etcd"], text=True)
    return int(out.split()[0])


def gone(pid: int) -> bool:
    """Dead: no such process, or a zombie (this machine's pid 1 may be slow to reap orphans)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def wait_for(cond, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"not within {timeout}s: {what}")


def serving(d) -> None:
    """Wait until the daemon's latest start reached serving (its SIGTERM handler is installed only
    then): "serving on" logged after the latest start's etcd was ready."""
    def latest_serves():
        text = open(d.log).read()
        return "serving on" in text[text.rfind("(ready in "):]
    wait_for(latest_serves, 15, "daemon serving")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- keys --------------------------------------------------------------------------------------------

def test_put_get_delete_prefix(daemon):
    etcd = client(daemon)
    assert etcd.get(b"img/a") is None
    rev = etcd.put(b"img/b", b"2")
    assert rev > 0 and etcd.revision() == rev
    rev_a = etcd.put("img/a", "1")                        # str is UTF-8
    assert rev_a == rev + 1
    etcd.put(b"img/c\xff", b"\x00\xfe")                  # any bytes
    etcd.put(b"img0", b"outside the prefix")
    kv = etcd.get(b"img/a")
    assert kv == KeyValue(b"img/a", b"1", rev_a, rev_a, 1)
    rev2 = etcd.put(b"img/a", b"one")
    kv = etcd.get(b"img/a")
    assert (kv.value, kv.mod_revision, kv.create_revision, kv.version) == (b"one", rev2, rev_a, 2)

    listed = etcd.get_prefix(b"img/")
    assert [k.key for k in listed] == [b"img/a", b"img/b", b"img/c\xff"]
    assert [k.value for k in listed] == [b"one", b"2", b"\x00\xfe"]
    assert [k.value for k in etcd.get_prefix("img/", keys_only=True)] == [b""] * 3
    assert len(etcd.get_prefix(b"")) == 4                 # the empty prefix: every key

    assert etcd.delete(b"img/b") == 1
    assert etcd.delete(b"img/b") == 0
    assert etcd.delete_prefix(b"img/") == 2
    assert etcd.get_prefix(b"img/") == []
    assert etcd.get(b"img0").value == b"outside the prefix"
    with pytest.raises(Error) as e:
        etcd.delete_prefix(b"")
    assert e.value.errno == errno.EINVAL


def test_values_up_to_the_request_limit(daemon):
    etcd = client(daemon)
    big = os.urandom(MAX_VALUE_BYTES)
    etcd.put(b"obj/big", big)
    assert etcd.get(b"obj/big").value == big
    with pytest.raises(Error) as e:
        etcd.put(b"obj/too-big", b"x" * MAX_REQUEST_BYTES)
    assert e.value.errno == errno.EFBIG and "request limit" in str(e.value)
    with pytest.raises(Error) as e:                    # etcd's own refusal, here of a transaction
        etcd.txn([], [Op.put(b"obj/1", big), Op.put(b"obj/2", big)])
    assert e.value.errno == errno.EFBIG and "too large" in str(e.value)
    assert etcd.get(b"obj/1") is None


def test_txn_compare_and_swap(daemon):
    etcd = client(daemon)
    key = b"image/7"
    ok, res = etcd.txn([Compare.absent(key)], [Op.put(key, b"v1")], [Op.get(key)])
    assert ok and len(res) == 1 and res[0] == etcd.revision()
    created = etcd.get(key)
    # a second creator loses and is told what is there
    ok, res = etcd.txn([Compare.absent(key)], [Op.put(key, b"other")], [Op.get(key)])
    assert not ok and res == [created]
    # CAS on the mod revision: the first writer wins, the stale one fails and changes nothing
    ok, _ = etcd.txn([Compare.mod_revision(key, "=", created.mod_revision)], [Op.put(key, b"v2")])
    assert ok
    ok, res = etcd.txn([Compare.mod_revision(key, "=", created.mod_revision)], [Op.put(key, b"v3")],
                       [Op.get(key)])
    assert not ok and res[0].value == b"v2"
    # several compares and ops at once, each response decoded
    etcd.put(b"image/7/meta/a", b"1")
    etcd.put(b"image/7/meta/b", b"2")
    ok, res = etcd.txn([Compare.value(key, "=", b"v2"), Compare.version(key, ">", 1), Compare.exists(key),
                        Compare.create_revision(key, "=", created.create_revision),
                        Compare.lease(key, "=", 0), Compare.value(key, "!=", b"v1")],
                       [Op.get_prefix(b"image/7/meta/"), Op.delete_prefix(b"image/7/meta/"),
                        Op.delete(key), Op.get(key)])
    assert ok
    assert [kv.key for kv in res[0]] == [b"image/7/meta/a", b"image/7/meta/b"]
    assert res[1:] == [2, 1, None]
    assert etcd.get_prefix(b"image/7") == []
    with pytest.raises(Error) as e:
        Compare.mod_revision(key, "~", 1)
    assert e.value.errno == errno.EINVAL


def test_threads_and_fork(daemon):
    etcd = client(daemon)
    errors = []

    def writer(n):
        try:
            for i in range(20):
                etcd.put(f"t/{n}/{i}", str(i))
        except Exception as exc:          # noqa: BLE001 - reported below
            errors.append(exc)
    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(etcd.get_prefix(b"t/", keys_only=True)) == 80
    pid = os.fork()
    if pid == 0:                          # the child must not share the parent's connection
        try:
            etcd.put(b"forked", b"child")
            os._exit(0 if etcd.get(b"t/0/0").value == b"0" else 1)
        finally:
            os._exit(2)
    assert os.waitpid(pid, 0)[1] == 0
    assert etcd.get(b"forked").value == b"child"


# --- watches -----------------------------------------------------------------------------------------

def test_watch_sees_another_client_and_resumes_after_etcd_restarts(daemon):
    watcher, writer = client(daemon), client(daemon)
    seen: list[WatchEvent] = []
    got = threading.Condition()

    def on_events(events):
        with got:
            seen.extend(events)
            got.notify_all()

    def wait_seen(n):
        with got:
            assert got.wait_for(lambda: len(seen) >= n, 15), seen

    start = writer.put(b"other/x", b"not watched") + 1
    w = watcher.watch(b"vol/", start, on_events)
    assert w.wait_ready(5)
    r1 = writer.put(b"vol/1", b"a")
    r2 = writer.delete(b"vol/1") and writer.revision()
    wait_seen(2)
    assert seen == [WatchEvent("PUT", b"vol/1", b"a", r1), WatchEvent("DELETE", b"vol/1", b"", r2)]

    # The daemon restarts, and with it etcd: the stream breaks; changes made before the watch is back
    # are delivered once it resumes from the revision after the last one seen, none twice.
    serving(daemon)
    daemon.restart()
    r3 = writer.put(b"vol/2", b"b")
    r4 = writer.put(b"vol/2", b"c")
    wait_seen(4)
    daemon.stop(signal.SIGKILL)
    daemon.start()
    r5 = writer.put(b"vol/3", b"d")
    wait_seen(5)
    time.sleep(0.3)
    assert seen[2:] == [WatchEvent("PUT", b"vol/2", b"b", r3), WatchEvent("PUT", b"vol/2", b"c", r4),
                        WatchEvent("PUT", b"vol/3", b"d", r5)]
    w.cancel()
    assert w.cancelled and not w._thread.is_alive()
    writer.put(b"vol/4", b"after cancel")
    time.sleep(0.3)
    assert len(seen) == 5


def test_watch_from_now_and_one_key(daemon):
    etcd = client(daemon)
    etcd.put(b"img/1", b"old")
    seen = []
    w = etcd.watch(b"img/1", 0, seen.extend, prefix_match=False)
    assert w.wait_ready(5)
    etcd.put(b"img/10", b"another key with the same prefix")
    rev = etcd.put(b"img/1", b"new")
    wait_for(lambda: seen, 5, "event")
    time.sleep(0.2)
    assert seen == [WatchEvent("PUT", b"img/1", b"new", rev)]
    w.cancel()


def test_watch_from_a_compacted_revision(daemon):
    etcd = client(daemon)
    first = etcd.put(b"c/1", b"a")
    etcd.put(b"c/1", b"b")
    last = etcd.put(b"c/2", b"c")
    etcd.compact(last)
    seen, compacted = [], []
    w = etcd.watch(b"c/", first, seen.extend, on_compacted=compacted.append)
    wait_for(lambda: compacted, 5, "on_compacted")
    assert compacted == [last]
    # the watch goes on from the compaction revision: the changes still in etcd's history, then new ones
    rev = etcd.put(b"c/3", b"d")
    wait_for(lambda: len(seen) >= 2, 5, "events after the compaction")
    assert seen == [WatchEvent("PUT", b"c/2", b"c", last), WatchEvent("PUT", b"c/3", b"d", rev)]
    w.cancel()


# --- leases ------------------------------------------------------------------------------------------

def test_lease_expiry_keepalive_revoke(daemon):
    etcd = client(daemon)
    lease = etcd.lease_grant(1)
    etcd.put(b"lock/a", b"holder", lease=lease)
    assert etcd.lease_keepalive(lease) >= 1
    ok, _ = etcd.txn([Compare.lease(b"lock/a", "=", lease)], [Op.get(b"lock/a")])
    assert ok
    t0 = time.monotonic()
    wait_for(lambda: etcd.get(b"lock/a") is None, 10, "the leased key expires")
    assert time.monotonic() - t0 < 5
    with pytest.raises(Error) as e:
        etcd.lease_keepalive(lease)
    assert e.value.errno == errno.ENOENT

    other = etcd.lease_grant(60)
    etcd.put(b"lock/b", b"holder", lease=other)
    etcd.lease_revoke(other)
    assert etcd.get(b"lock/b") is None
    with pytest.raises(Error) as e:
        etcd.lease_revoke(other)
    assert e.value.errno == errno.ENOENT and "lease not found" in str(e.value)


# --- endpoints ---------------------------------------------------------------------------------------

def test_failover_from_a_dead_endpoint(daemon, tmp_path):
    dead = [f"unix://{tmp_path}/no-such.sock", f"127.0.0.1:{closed_port()}"]
    assert [e.port for e in Etcd("http://[::1]:2380,h,h:1").endpoints] == [2380, 2379, 1]
    etcd = Etcd(dead + ["unix://" + daemon.etcd_socket], timeout=5)
    t0 = time.monotonic()
    etcd.put(b"k", b"v")
    assert time.monotonic() - t0 < 1
    assert etcd.get(b"k").value == b"v"
    seen = []
    w = etcd.watch(b"k", 0, seen.extend)
    assert w.wait_ready(5)
    etcd.put(b"k", b"w")
    wait_for(lambda: seen, 5, "event through the live endpoint")
    w.cancel()


def test_unreachable_is_a_clear_error_within_the_timeout(tmp_path):
    refused = [f"unix://{tmp_path}/no-such.sock", f"http://127.0.0.1:{closed_port()}"]
    t0 = time.monotonic()
    with pytest.raises(Error) as e:
        Etcd(refused, timeout=1.0).get(b"k")
    took = time.monotonic() - t0
    assert e.value.errno == errno.ECONNREFUSED and 0.9 < took < 2.0
    assert all(ep in str(e.value) for ep in refused), str(e.value)

    # a listener that never answers: ETIMEDOUT, also within the budget
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        ep = "127.0.0.1:%d" % silent.getsockname()[1]
        t0 = time.monotonic()
        with pytest.raises(Error) as e:
            Etcd([ep], timeout=1.0).put(b"k", b"v")
        took = time.monotonic() - t0
    assert e.value.errno == errno.ETIMEDOUT and 0.9 < took < 2.0 and ep in str(e.value)

    for bad in ("unix://relative.sock", "https://h:2379", "h:port", "::1:2379", "h:70000", ""):
        with pytest.raises(Error) as e:
            Etcd(bad)
        assert e.value.errno == errno.EINVAL


# --- the embedded etcd process -----------------------------------------------------------------------

def listening_tcp_inodes() -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                for line in f.readlines()[1:]:
                    fields = line.split()
                    if fields[3] == "0A":           # LISTEN
                        inodes.add(fields[9])
        except FileNotFoundError:
            pass
    return inodes


def test_embedded_etcd_socket_and_files(daemon):
    pid = etcd_pid(daemon)
    # a unix socket only: no TCP port at all
    fds = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
    sockets = {f[len("socket:["):-1] for f in fds if f.startswith("socket:[")}
    assert not sockets & listening_tcp_inodes()
    # the fixed path is a symlink to the file etcd binds; both owner-only like the nebd socket
    assert os.path.islink(daemon.etcd_socket)
    target = os.path.join(daemon.base, os.readlink(daemon.etcd_socket))
    assert os.stat(target).st_mode & 0o777 == 0o600
    assert os.path.isdir(os.path.join(daemon.data_dir, "etcd", "member"))
    assert os.path.getsize(os.path.join(daemon.data_dir, "etcd.log")) > 0
    # a clean stop stops etcd and leaves no socket behind
    serving(daemon)
    assert daemon.stop() == 0
    assert gone(pid)
    left = [n for n in os.listdir(daemon.base) if ".etcd" in n]
    assert left == [], left


def test_socket_group_reaches_etcd_too():
    """With --socket-group the group's users (QEMU, libvirt) need the RBD state as much as the data."""
    import grp
    try:
        group = grp.getgrnam("daemon")
    except KeyError:
        group = grp.getgrgid(os.getgid())
    d = new_daemon("--socket-group", group.gr_name).start()
    try:
        st = os.stat(d.etcd_socket)
        assert (stat.S_IMODE(st.st_mode), st.st_gid) == (0o660, group.gr_gid)
        assert client(d).put(b"k", b"v") > 0
    finally:
        remove(d)


def test_daemon_sigkill_takes_etcd_and_a_restart_keeps_the_data(daemon):
    etcd = client(daemon)
    etcd.put(b"pool/rbd", b'{"owner": "cinder"}')
    pid = etcd_pid(daemon)
    daemon.stop(signal.SIGKILL)
    wait_for(lambda: gone(pid), 5, "etcd dies with the daemon")
    daemon.start()                                   # stale sockets of the killed etcd are replaced
    assert etcd_pid(daemon) != pid
    assert etcd.get(b"pool/rbd").value == b'{"owner": "cinder"}'
    serving(daemon)
    daemon.restart()                                  # and after a clean stop
    # the client's kept-alive connection died with the old etcd: a write transaction is re-sent once
    # on a new connection (it cannot have reached the old etcd), not reported as an unknown outcome
    ok, _ = etcd.txn([Compare.exists(b"pool/rbd")], [Op.put(b"pool/rbd", b'{"owner": "glance"}')])
    assert ok and etcd.get(b"pool/rbd").value == b'{"owner": "glance"}'


def test_external_etcd_starts_nothing(daemon):
    other = new_daemon("--etcd-endpoints", f"unix://{daemon.etcd_socket},127.0.0.1:{closed_port()}")
    try:
        other.start()
        assert subprocess.run(["pgrep", "-P", str(other.proc.pid), "-x", "etcd"],
                              stdout=subprocess.DEVNULL).returncode == 1
        assert not os.path.lexists(other.etcd_socket)
        assert not os.path.exists(os.path.join(other.data_dir, "etcd"))
    finally:
        remove(other)
    bad = subprocess.run([sys.executable, "-m", "curverbd.server.main", "--socket", "/tmp/x.sock",
                          "--etcd-endpoints", "https://h:2379"], cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode == 2 and "--etcd-endpoints" in bad.stderr and "https" in bad.stderr


def test_missing_etcd_binary_is_one_line(tmp_path):
    """/usr/bin/etcd hidden in a private mount namespace: the daemon refuses to start and says why."""
    probe = subprocess.run(["unshare", "--mount", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("needs unshare --mount (root)")
    d = new_daemon()
    try:
        os.makedirs(d.data_dir)
        script = ('mount --bind /dev/null /usr/bin/etcd && exec "$0" -m curverbd.server.main '
                  '--socket "$1" --data-dir "$2"')
        res = subprocess.run(["unshare", "--mount", "sh", "-c", script, sys.executable, d.socket, d.data_dir],
                             cwd=ROOT, env=d.env(), capture_output=True, text=True, timeout=30)
        assert res.returncode == 1
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and "etcd-server" in lines[0] and "/usr/bin/etcd" in lines[0], res.stderr
        assert not os.path.exists(d.socket)
    finally:
        shutil.rmtree(d.base, ignore_errors=True)
