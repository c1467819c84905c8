"""curverbd-server: the daemon behind the nebd socket (a separate process; nothing here is imported by clients).

Where a request goes: main.py (start, lock, socket) -> server.py (accept loop) ->
connection.py (frames of one client) -> nebd_service.py (NebdFileService,
NebdHeartbeatService) via openfiles.py (fd table, meta file) to volume.py, or
catalog_service.py -> catalog_snapshots.py (rollback, diff, allocation) -> store.py (the
local Curve stand-in: namespace in db.py's SQLite, data in sparse files).
"""
