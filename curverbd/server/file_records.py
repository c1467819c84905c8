"""Which clients have a file open, as their RefreshSession calls say (Curve's FileRecordManager).

OpenFile records nothing; each RefreshSession creates or renews the record of
(file, client endpoint); CloseFile removes it; a record not renewed within the
lease (mds.file.expiredTimeUs, 5 s) is gone. Records live in memory only, as in
Curve. A file with a live record is occupied: it cannot be deleted, renamed or
given to another owner.
"""
from __future__ import annotations

import threading
import time

LEASE_US = 5_000_000   # mds.file.expiredTimeUs: also the ProtoSession's leaseTime


class FileRecords:
    """file path -> {client endpoint: monotonic time the record expires}."""

    def __init__(self, lease: float = LEASE_US / 1e6) -> None:
        self.lease = lease
        self._records: dict[str, dict[tuple, float]] = {}
        self._lock = threading.Lock()

    def update(self, path: str, endpoint: tuple) -> None:
        with self._lock:
            self._records.setdefault(path, {})[endpoint] = time.monotonic() + self.lease

    def remove(self, path: str, endpoint: tuple) -> None:
        with self._lock:
            clients = self._records.get(path)
            if clients is not None:
                clients.pop(endpoint, None)
                if not clients:
                    del self._records[path]

    def mounted(self, path: str) -> bool:
        """Whether a client's record of ``path`` is still within its lease (expired ones are dropped)."""
        now = time.monotonic()
        with self._lock:
            clients = self._records.get(path, {})
            for endpoint in [e for e, until in clients.items() if until <= now]:
                del clients[endpoint]
            if not clients:
                self._records.pop(path, None)
            return bool(clients)
