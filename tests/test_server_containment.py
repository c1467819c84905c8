"""One connection's failure closes that connection only: the real daemon, on its real unix sockets,
gets faults in a connection's set-up and in its thread (CURVERBD_INJECT_FAULT, the daemon's own
hook) and byte streams that are not baidu_std, logs each with the peer and the cause, and then
serves a real client (qemu-io through our librbd.so.1) as before."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from capi_helpers import log_text, make_image, make_pool, run
from daemon import new_daemon, remove

MiB = 1 << 20


def start_without_probes(d, timeout: float = 20.0):
    """Start ``d`` and wait for its log to say it serves, without connecting to it: the usual start
    probes the sockets, and those probes would be the connections that take the injected faults."""
    os.makedirs(d.data_dir, exist_ok=True)
    cmd = [sys.executable, "-m", "curverbd.server.main", "--socket", d.socket, "--data-dir", d.data_dir]
    d.proc = subprocess.Popen(cmd, env=d.env(), stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while "serving on" not in log_text(d.log):
        assert d.proc.poll() is None, f"curverbd-server exited with {d.proc.returncode}:\n{log_text(d.log)}"
        assert time.monotonic() < deadline, f"curverbd-server did not start within {timeout}s:\n{log_text(d.log)}"
        time.sleep(0.05)
    return d


def closed_by_daemon(path: str, send: bytes = b"") -> bool:
    """Connect to ``path``, send ``send``, and tell whether the daemon then closes the connection."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(path)
        if send:
            try:
                s.sendall(send)
            except (BrokenPipeError, ConnectionResetError):
                return True
        try:
            return s.recv(4096) == b""
        except ConnectionResetError:
            return True


@pytest.fixture
def faulty_daemon(monkeypatch):
    monkeypatch.setenv("CURVERBD_INJECT_FAULT", "setup,serve")
    d = start_without_probes(new_daemon())
    monkeypatch.setenv("CURVERBD_SOCKET", d.socket)
    yield d
    remove(d)


def test_faulty_connections_close_alone_and_the_daemon_serves_on(faulty_daemon, capi_libs, client_log):
    d = faulty_daemon
    me = f"pid {os.getpid()} uid {os.getuid()}"
    assert closed_by_daemon(d.socket)                       # set-up raises (in the accept loop)
    assert closed_by_daemon(d.socket)                       # the connection's thread raises
    assert closed_by_daemon(d.socket, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")   # not baidu_std
    # baidu_std's magic, then a meta larger than the body it says it has
    assert closed_by_daemon(d.socket, b"PRPC" + (16).to_bytes(4, "big") + (1 << 20).to_bytes(4, "big") + bytes(16))
    assert closed_by_daemon(d.mds_socket, b"\xff" * 64)     # the MDS listener too

    deadline = time.monotonic() + 10
    while log_text(d.log).count(f"connection from {me} closed") < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    log = log_text(d.log)
    assert f"connection from {me} closed before serving: RuntimeError: fault injected at connection setup" in log, log
    assert f"connection from {me} closed: internal error: RuntimeError: fault injected at connection serve" in log, log
    assert log.count(f"connection from {me} closed: not baidu_std") == 3, log
    assert d.proc.poll() is None, "the daemon ended"

    # a real client afterwards: the core creates, qemu-io writes and reads through our librbd.so.1
    make_pool(d, "pool")
    make_image(d, "pool", "img", 4 * MiB)
    env = dict(os.environ, LD_LIBRARY_PATH=capi_libs, CURVERBD_SOCKET=d.socket, CURVERBD_LOG=client_log)
    env.pop("LD_PRELOAD", None)
    out = run(["qemu-io", "-f", "raw", "-c", "write -P 0x5a 512 65536", "-c", "read -P 0x5a 512 65536",
               "-c", "read -v 510 4", "rbd:pool/img"], env).stdout
    assert "Pattern verification failed" not in out, out
    assert "000001fe:  00 00 5a 5a" in out, out
    assert d.proc.poll() is None
