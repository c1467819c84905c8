"""The daemon's SQLite database (WAL): one connection shared by all threads behind one lock.

The store (Curve namespace) and the catalog (RBD records) keep their tables in
it, so a catalog operation and the store change it implies commit together.
"""
from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from typing import Iterator


class Database:
    """A shared connection; ``transaction()`` nests, committing at the outermost level."""

    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.lock = threading.RLock()
        self._depth = 0
        self._after_commit: list = []
        self._on_rollback: list = []

    def after_commit(self, action) -> None:
        """Run ``action()`` once the current transaction has committed (file steps that must not
        happen unless the database says so)."""
        self._after_commit.append(action)

    def on_rollback(self, action) -> None:
        """Run ``action()`` if the current transaction rolls back (undo of in-memory steps)."""
        self._on_rollback.append(action)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            outer = self._depth == 0
            if outer:
                self.conn.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield self.conn
            except BaseException:
                self._depth -= 1
                if outer:
                    self.conn.execute("ROLLBACK")
                    undo, self._on_rollback, self._after_commit = self._on_rollback, [], []
                    for action in reversed(undo):
                        action()
                raise
            self._depth -= 1
            if outer:
                self.conn.execute("COMMIT")
                done, self._after_commit, self._on_rollback = self._after_commit, [], []
                for action in done:
                    action()

    def query(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self.lock:
            return self.conn.execute(sql, args).fetchall()

    def close(self) -> None:
        with self.lock:
            self.conn.close()
