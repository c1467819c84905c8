"""Shared by the hot-upgrade tests: a daemon restarted under load, alternating SIGTERM and SIGKILL."""
from __future__ import annotations

import signal
import time

from daemon import Daemon

RESTARTS = 10   # per CI test; the slow soak does more


def restart_signals(count: int):
    """SIGTERM (graceful, in-flight requests finished) and SIGKILL (crash) in turn."""
    return [signal.SIGTERM if i % 2 == 0 else signal.SIGKILL for i in range(count)]


def restart_loop(d: Daemon, count: int, between: float, keep_going=lambda: True) -> list[float]:
    """Restart ``d`` ``count`` times, ``between`` seconds apart while ``keep_going()``; the seconds each
    restart took (stop + start until the socket answers)."""
    took = []
    for sig in restart_signals(count):
        if not keep_going():
            break
        time.sleep(between)
        t0 = time.monotonic()
        d.restart(sig)
        took.append(time.monotonic() - t0)
    return took


def wait_for_open(d: Daemon, proc, timeout: float = 60.0) -> None:
    """Wait until a client process has opened an image (the daemon logs it) or has exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with open(d.log) as f:
                if " as fd " in f.read():
                    return
        except FileNotFoundError:
            pass
        time.sleep(0.05)


def reconnect_lines(log_text: str) -> list[str]:
    return [line for line in log_text.splitlines() if "reconnected to curverbd-server" in line]


def slow(test):
    """A long soak: marked slow, and run only with CURVERBD_SLOW=1 (the CI suite runs without -m)."""
    import os

    import pytest
    return pytest.mark.slow(pytest.mark.skipif(not os.environ.get("CURVERBD_SLOW"),
                                               reason="soak test: set CURVERBD_SLOW=1")(test))
