"""Hot upgrade under qemu-io (QEMU's block-rbd.so on our C libraries): an endless write/read -P loop
at unaligned offsets, fed on stdin while the daemon is restarted 10 times (SIGTERM and SIGKILL in
turn). No error, no pattern mismatch, every command answered; the longest command time printed."""
from __future__ import annotations

import re
import subprocess
import threading

from capi_helpers import CLIENT_TIMEOUT, make_image, make_pool
from upgrade_helpers import RESTARTS, restart_loop, wait_for_open

MiB = 1 << 20
SIZE = 16 * MiB


def test_qemu_io_patterns_through_restarts(daemon, rbd_env, client_log):
    make_pool(daemon, "pool")
    make_image(daemon, "pool", "img", SIZE)
    proc = subprocess.Popen(["qemu-io", "-f", "raw", "rbd:pool/img"], env=rbd_env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    took: list = []
    done = threading.Event()

    def restarts_under_io():
        wait_for_open(daemon, proc)
        took.extend(restart_loop(daemon, RESTARTS, 0.4, lambda: proc.poll() is None))
        done.set()

    sent = 0

    def feed():
        nonlocal sent
        i = 0
        try:
            while not done.is_set() or i < 50:
                pattern = 1 + i % 250
                offset = (i * 37 * 512 + 1536) % (SIZE - 65536)   # 512-aligned, mostly not 4 KiB-aligned
                length = 512 * (1 + i % 60)
                proc.stdin.write(f"write -P {pattern} {offset} {length}\nread -P {pattern} {offset} {length}\n")
                proc.stdin.flush()
                sent += 2
                i += 1
            proc.stdin.write("quit\n")
            proc.stdin.close()
        except BrokenPipeError:
            pass

    chunks: list = []
    threads = [threading.Thread(target=restarts_under_io), threading.Thread(target=feed),
               threading.Thread(target=lambda: chunks.append(proc.stdout.read()))]
    for t in threads:
        t.start()
    try:
        proc.wait(timeout=CLIENT_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
        done.set()
        for t in threads:
            t.join()
    out = "".join(chunks)
    assert proc.returncode == 0, out[-3000:]
    assert "Pattern verification failed" not in out and "error" not in out.lower(), out[-3000:]
    assert out.count("wrote ") + out.count("read ") == sent      # every command answered
    assert len(took) == RESTARTS
    with open(client_log) as f:
        log = f.read()
    assert len([line for line in log.splitlines() if "reconnected after" in line]) >= RESTARTS
    longest = max(1 / float(m) for m in re.findall(r"and ([0-9.]+) ops/sec", out))
    print(f"\nqemu-io: {RESTARTS} restarts, {sent} commands, 0 errors; longest command {longest * 1000:.0f} ms; "
          f"longest restart {max(took) * 1000:.0f} ms")
