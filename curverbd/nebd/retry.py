"""How a client rides out a curverbd-server restart (hot upgrade): the one place for the policy.

The constants mirror nebd's part1 client (``nebd-client.conf`` defaults, see
shared/reference/nebd-protocol.md 1.2 and 1.7), so a VM sees the same pauses
with curverbd as with nebd:

- while the socket is absent or refuses connections (the daemon is restarting),
  try again every 10 ms (``rpcHostDownRetryIntervalUs``);
- on any other failure, wait 100 ms on the first retry, then 100 ms x retries,
  capped at 64 s (``rpcRetryIntervalUs``, ``rpcRetryMaxIntervalUs``);
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

# connect() errors meaning "the daemon is not there right now" (restarting)
HOST_DOWN_ERRNOS = frozenset({errno.ENOENT, errno.ECONNREFUSED})


def pause(attempt: int, err: int | None) -> float:
    """Seconds to wait before connect attempt ``attempt + 1`` (``attempt`` >= 1 failed with ``err``)."""
    if err in HOST_DOWN_ERRNOS:
        return HOST_DOWN_INTERVAL
    return max(RETRY_INTERVAL, min(RETRY_INTERVAL * attempt, RETRY_MAX_INTERVAL))
