"""How a client rides out a curverbd-server restart (hot upgrade): the one place for the policy.

The constants mirror nebd's part1 client (``nebd-client.conf`` defaults, see
shared/reference/nebd-protocol.md 1.2 and 1.7), so a VM sees the same pauses
with curverbd as with nebd:

- while the socket is absent or refuses connections (the daemon is restarting),
  try again every 10 ms (``rpcHostDownRetryIntervalUs``);
- on any other failure, wait 100 ms on the first retry, then 100 ms x retries,
  capped at 64 s (``rpcRetryIntervalUs``, ``rpcRetryMaxIntervalUs``);
- a connection dropped within a second of making it without one reply on it (the
  daemon fails on something we keep sending again, or drops every connection)
  counts as a failed retry: the pause before the next connect grows the same way,
  so it never becomes a busy loop (measured before this rule: thousands of
  reconnects a second, and logs of a GiB). A connection that answered anything
  reconnects at once, so a busy client rides restarts as quickly as with nebd;
- data I/O (read, write, discard, flush) waits for as long as it takes: an error
  would reach the guest's disk; synchronous control calls give up after about
  50 x 100 ms (``syncRpcMaxRetryTimes``) with ENOTCONN.

The C data path keeps the same numbers in shim_c/nebd_conn.c.
"""
from __future__ import annotations

import errno

HOST_DOWN_INTERVAL = 0.010      # s, socket absent / connection refused
RETRY_INTERVAL = 0.100          # s, first retry and growth step
RETRY_MAX_INTERVAL = 64.0       # s, cap of the growing pause
SYNC_MAX_RETRIES = 50           # control calls give up after this many RETRY_INTERVALs of outage
SYNC_GIVE_UP = SYNC_MAX_RETRIES * RETRY_INTERVAL
WAIT_LOG_INTERVAL = 10.0        # s between "still waiting" log lines
SHORT_LIVED = 1.0               # s: a connection dropped sooner than this was a failed retry

# connect() errors meaning "the daemon is not there right now" (restarting)
HOST_DOWN_ERRNOS = frozenset({errno.ENOENT, errno.ECONNREFUSED})


def pause_after_drop(lived: float, answered: bool, drops: int) -> tuple[float, int]:
    """(seconds to wait before reconnecting, the new count of quick drops) for a connection that
    was dropped after ``lived`` seconds, having ``answered`` at least one request, ``drops``
    quick drops having come before it."""
    if lived >= SHORT_LIVED or answered:
        return 0.0, 0
    return pause(drops + 1, None), drops + 1


def pause(attempt: int, err: int | None) -> float:
    """Seconds to wait before connect attempt ``attempt + 1`` (``attempt`` >= 1 failed with ``err``)."""
    if err in HOST_DOWN_ERRNOS:
        return HOST_DOWN_INTERVAL
    return max(RETRY_INTERVAL, min(RETRY_INTERVAL * attempt, RETRY_MAX_INTERVAL))
