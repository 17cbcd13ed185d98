"""The data version of an SQLite store, read by the stdlib driver in the calling thread.

Every cached answer waits for a read of the data version that started after its request
arrived. Through aiosqlite that read is a hop to the driver's thread and back (~40 us of CPU a
request, most of a cached answer's cost); read here it takes ~5 us. An SQLite file in WAL mode
(db/migrate.py sets it) lets a reader read without waiting for a writer, and this connection
never waits for a lock (`timeout=0`): where it cannot read at once, `read` says None and the
caller reads through the pool as before.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from db import state
from db.raw import SqlText, precompile

logger = logging.getLogger("impact_graph.db")
RETRY_SECONDS = 1.0  # after a failed read, how long the pool reads instead


class LocalVersion:
    """A read-only connection of its own to the store's file, for its data version only."""

    def __init__(self, path: Path, sql: SqlText) -> None:
        self._path = path
        self._sql = sql
        self._connection: sqlite3.Connection | None = None
        self._retry_at = 0.0  # after a failure, not tried again (in the loop's thread) until

    def read(self) -> int | None:
        """The data version now (0: never seeded), or None where it cannot be read at once."""
        if self._connection is None and time.monotonic() < self._retry_at:
            return None
        try:
            if self._connection is None:
                self._connection = sqlite3.connect(
                    f"{self._path.resolve().as_uri()}?mode=ro",
                    uri=True,
                    timeout=0,
                    isolation_level=None,  # each statement its own read transaction
                    check_same_thread=False,  # used from the event loop's thread only
                )
            row = self._connection.execute(self._sql.text, self._sql.arguments({})).fetchone()
        except sqlite3.Error as error:
            logger.debug("the data version could not be read at once: %s", error)
            self.close()
            self._retry_at = time.monotonic() + RETRY_SECONDS
            return None
        return 0 if row is None else int(row[0])

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def local_version_reader(engine: AsyncEngine) -> LocalVersion | None:
    """A `LocalVersion` for an engine on an SQLite file; None for any other store."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:"):  # a URI filename: left to the pool
        return None
    return LocalVersion(Path(database), precompile(state.version_query(), engine.dialect))
