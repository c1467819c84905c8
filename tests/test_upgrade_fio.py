"""Hot upgrade under fio (rbd engine on our C libraries): random writes verified with crc32c
(verify_backlog: written blocks are read back and checked during the run) while the daemon is
restarted 10 times, SIGTERM and SIGKILL in turn. Zero I/O errors, verify clean, and the longest
I/O latency (the pause a guest would see) printed."""
from __future__ import annotations

import json
import subprocess
import threading


from capi_helpers import CLIENT_TIMEOUT, make_image, make_pool
from upgrade_helpers import RESTARTS, restart_loop, slow, wait_for_open

MiB = 1 << 20


def fio_through_restarts(daemon, env, cwd, restarts: int, runtime: int, *extra: str) -> tuple[dict, list]:
    args = ["fio", "--name=job", "--ioengine=rbd", "--clientname=admin", "--pool=pool", "--rbdname=img",
            "--rw=randwrite", "--bs=4k", "--size=16M", "--iodepth=16", "--verify=crc32c",
            "--verify_backlog=64", "--verify_fatal=1", "--time_based", f"--runtime={runtime}",
            "--randseed=42", "--output-format=json", *extra]
    proc = subprocess.Popen(args, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    took: list = []

    def restarts_under_io():
        wait_for_open(daemon, proc)
        took.extend(restart_loop(daemon, restarts, 0.4, lambda: proc.poll() is None))
    restarter = threading.Thread(target=restarts_under_io)
    restarter.start()
    try:
        out, err = proc.communicate(timeout=CLIENT_TIMEOUT + runtime)
    finally:
        if proc.poll() is None:
            proc.kill()
        restarter.join()
    assert proc.returncode == 0, f"fio exited {proc.returncode}\n{out}\n{err}"
    assert "verify" not in err.lower(), err
    return json.loads(out[out.index("{"):]), took


def longest_ms(job: dict) -> float:
    return max(job[d]["lat_ns"]["max"] for d in ("read", "write")) / 1e6


def check(job: dict) -> None:
    assert job["error"] == 0
    assert job["write"]["total_ios"] > 0 and job["read"]["total_ios"] > 0   # verify reads happened


def test_fio_verify_through_restarts(daemon, rbd_env, tmp_path, client_log):
    make_pool(daemon, "pool")
    make_image(daemon, "pool", "img", 32 * MiB)
    result, took = fio_through_restarts(daemon, rbd_env, tmp_path, RESTARTS, 12)
    job = result["jobs"][0]
    check(job)
    assert len(took) == RESTARTS, f"fio ended after {len(took)} restarts"
    with open(client_log) as f:
        log = f.read()
    reconnects = [line for line in log.splitlines() if "reconnected after" in line]
    assert len(reconnects) >= RESTARTS, log[-3000:]
    assert "failing in-flight" not in log
    print(f"\nfio: {RESTARTS} restarts, {job['write']['total_ios']} writes, {job['read']['total_ios']} "
          f"verify reads, 0 errors; longest I/O latency {longest_ms(job):.0f} ms; "
          f"longest restart {max(took) * 1000:.0f} ms")


@slow
def test_fio_verify_soak(daemon, rbd_env, tmp_path):
    make_pool(daemon, "pool")
    make_image(daemon, "pool", "img", 32 * MiB)
    result, took = fio_through_restarts(daemon, rbd_env, tmp_path, 60, 60, "--bsrange=512-64k")
    check(result["jobs"][0])
    print(f"\nfio soak: {len(took)} restarts; longest I/O latency {longest_ms(result['jobs'][0]):.0f} ms")
