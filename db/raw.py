"""Precompiled statements, run on the driver's own connection.

The compiled executor's statements are compiled to SQL text once. Running that text on the
driver (asyncpg or aiosqlite, through SQLAlchemy's public `get_raw_connection`) skips what
SQLAlchemy does on every execution (a cache key over the whole statement, result processing),
and asyncpg prepares each text once per connection.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import Select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

# What a connection that is gone raises (a lost socket; asyncpg's own words for it).
_DISCONNECTS = (
    OSError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.InterfaceError,
)


@dataclass(frozen=True)
class SqlText:
    """A statement as the driver takes it: its text and its parameters in order."""

    text: str
    names: tuple[str, ...]
    defaults: dict[str, Any]
    postgres: bool

    def arguments(self, parameters: dict[str, Any]) -> list[Any]:
        values = [
            parameters[name] if name in parameters else self.defaults[name] for name in self.names
        ]
        if self.postgres:
            return values
        # SQLite keeps dates as ISO text, as SQLAlchemy's Date type writes them.
        return [v.isoformat() if isinstance(v, dt.date) else v for v in values]


def precompile(statement: Select[Any], dialect: Dialect) -> SqlText:
    """The statement's text once, with the values it carries (filters' literals); the values
    bound per request (`bindparam` without a value) are left to `arguments`."""
    compiled = statement.compile(dialect=dialect)
    per_request = {bind.key for bind in compiled.binds.values() if bind.required}
    carried = compiled.construct_params(dict.fromkeys(per_request))
    return SqlText(
        text=str(compiled),
        names=tuple(compiled.positiontup or ()),
        defaults={k: v for k, v in carried.items() if k not in per_request},
        postgres=dialect.name == "postgresql",
    )


class Statements:
    """Runs precompiled statements on connections it holds from the engine's pool.

    A request of the compiled executor is one statement; checking a connection out of the
    pool and back in around it (a session, a transaction, the pool's bookkeeping) cost more
    Python than the rest of the request. So connections stay held between statements, at
    most `size` of them (the rest of the pool serves the reference executor), and go back to
    the pool once idle for `IDLE_SECONDS`. A connection is used by one statement at a time.

    A connection that died (a database restart) fails its statement at once; the statement
    is tried again on a fresh connection, at most `size` times. A statement stopped midway
    (the request's deadline) leaves its connection busy: that connection is invalidated.
    Errors are raised as SQLAlchemy raises them (DBAPIError), so db/errors.py reads them as
    any other read's.
    """

    IDLE_SECONDS = 0.5

    def __init__(self, engine: AsyncEngine, size: int) -> None:
        self._engine = engine
        self._size = size
        self._slots = asyncio.Semaphore(size)
        self._idle: list[tuple[AsyncConnection, Any, float]] = []
        self._trimming: asyncio.TimerHandle | None = None
        self._closing: set[asyncio.Task[None]] = set()

    async def fetch_value(self, sql: SqlText, parameters: dict[str, Any]) -> Any:
        """The first column of the statement's only row."""
        arguments = sql.arguments(parameters)
        async with self._slots:
            for attempt in range(self._size + 1):
                connection, driver = await self._take()
                try:
                    value = await _fetch_value(driver, sql, arguments)
                except Exception as error:
                    died = isinstance(error, _DISCONNECTS)
                    if not died:
                        self._give_back(connection, driver)
                        raise DBAPIError(sql.text, None, error) from error
                    self._discard(connection)
                    if attempt == self._size:
                        raise DBAPIError(
                            sql.text, None, error, connection_invalidated=True
                        ) from error
                except BaseException:  # cancelled midway: the connection is still busy
                    self._discard(connection)
                    raise
                else:
                    self._give_back(connection, driver)
                    return value
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _take(self) -> tuple[AsyncConnection, Any]:
        if self._idle:
            connection, driver, _ = self._idle.pop()
            return connection, driver
        connection = await self._engine.connect()
        try:
            driver = (await connection.get_raw_connection()).driver_connection
            assert driver is not None, "a checked-out connection has its driver's connection"
        except BaseException:
            await connection.close()
            raise
        return connection, driver

    def _give_back(self, connection: AsyncConnection, driver: Any) -> None:
        loop = asyncio.get_running_loop()
        self._idle.append((connection, driver, loop.time()))
        if self._trimming is None:
            self._trimming = loop.call_later(self.IDLE_SECONDS, self._trim)

    def _trim(self) -> None:
        """Connections idle for `IDLE_SECONDS` go back to the pool."""
        self._trimming = None
        now = asyncio.get_running_loop().time()
        kept = [held for held in self._idle if now - held[2] < self.IDLE_SECONDS]
        for connection, _, used in self._idle:
            if now - used >= self.IDLE_SECONDS:
                self._later(connection.close())
        self._idle = kept
        if kept:
            self._trimming = asyncio.get_running_loop().call_later(self.IDLE_SECONDS, self._trim)

    def _discard(self, connection: AsyncConnection) -> None:
        self._later(_invalidate(connection))

    def _later(self, closing: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(closing)
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def close(self) -> None:
        """Every held connection back to the pool (the app is shutting down)."""
        if self._trimming is not None:
            self._trimming.cancel()
            self._trimming = None
        idle, self._idle = self._idle, []
        for connection, _, _ in idle:
            await connection.close()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)


async def _fetch_value(driver: Any, sql: SqlText, arguments: list[Any]) -> Any:
    if sql.postgres:
        return await driver.fetchval(sql.text, *arguments)
    rows = list(await driver.execute_fetchall(sql.text, arguments))  # one trip to its thread
    return rows[0][0] if rows else None


async def _invalidate(connection: AsyncConnection) -> None:
    try:
        await connection.invalidate()
    finally:
        await connection.close()
