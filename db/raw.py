"""Precompiled statements, run on the driver's own connection.

The compiled executor's statements are compiled to SQL text once. Running that text on the
driver (asyncpg or aiosqlite, through SQLAlchemy's public `get_raw_connection`) skips what
SQLAlchemy does on every execution (a cache key over the whole statement, result processing),
and asyncpg prepares each text once per connection.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Coroutine, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import asyncpg
from opentelemetry.trace import SpanKind, Tracer
from sqlalchemy import Select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.spans import NO_SPAN, span

# What a connection that is gone raises (a lost socket; asyncpg's own words for it). A
# backend terminated while its connection was idle (pg_terminate_backend, a restart) sends
# its FATAL message before it closes the socket: a statement sent between the two finds the
# connection in a state asyncpg cannot go on from (InternalClientError: "cannot switch to
# state 12"), as it does one whose cached plan a migration made stale; either is tried again
# on a fresh connection.
_DISCONNECTS = (
    OSError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.InternalClientError,
)


@dataclass(frozen=True)
class SqlText:
    """A statement as the driver takes it: its text and its parameters in order."""

    text: str
    names: tuple[str, ...]
    defaults: dict[str, Any]
    postgres: bool
    # Plan once for all values: PostgreSQL would plan anew on every run a statement whose
    # parameters are a place in a long list (~0.2 ms, more than running it).
    generic_plan: bool = False

    def arguments(self, parameters: dict[str, Any]) -> list[Any]:
        values = [
            parameters[name] if name in parameters else self.defaults[name] for name in self.names
        ]
        if self.postgres:
            return values
        # SQLite keeps dates as ISO text, as SQLAlchemy's Date type writes them.
        return [v.isoformat() if isinstance(v, dt.date) else v for v in values]


def precompile(statement: Select[Any], dialect: Dialect, generic_plan: bool = False) -> SqlText:
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
        generic_plan=generic_plan and dialect.name == "postgresql",
    )


@dataclass
class _Held:
    connection: AsyncConnection
    driver: Any
    generic_plans: bool = False  # plan_cache_mode = force_generic_plan on this session
    used: float = 0.0


class Statements:
    """Runs precompiled statements on connections it holds from the engine's pool.

    A request of the compiled executor is one statement; checking a connection out of the
    pool and back in around it (a session, a transaction, the pool's bookkeeping) cost more
    Python than the rest of the request. So connections stay held between statements, at
    most `size` of them (the rest of the pool serves the reference executor), and go back to
    the pool once idle for `IDLE_SECONDS`. A connection is used by one statement at a time.

    A statement that asks for a generic plan (`SqlText.generic_plan`) runs on a connection
    whose session forces them; the others on connections that leave the choice to
    PostgreSQL. A connection's mode is switched when no idle one is in the mode asked, and
    reset before it goes back to the pool.

    A connection that died (a database restart) fails its statement at once; the statement
    is tried again on a fresh connection, at most `size` times. A statement stopped midway
    (the request's deadline) leaves its connection busy: that connection is invalidated.
    Errors are raised as SQLAlchemy raises them (DBAPIError), so db/errors.py reads them as
    any other read's.

    What operators see: `waiting` is around each wait for a connection, and with a `tracer`
    each statement is a span, as SQLAlchemy's instrumentation makes them for the other reads
    (it cannot see statements run on the driver).
    """

    IDLE_SECONDS = 0.5

    def __init__(
        self,
        engine: AsyncEngine,
        size: int,
        wait: float,
        hold: bool = True,
        *,
        waiting: Callable[[], AbstractContextManager[object]] = nullcontext,
        tracer: Tracer | None = None,
    ) -> None:
        self._engine = engine
        self._waiting = waiting
        self._tracer = tracer
        self._system = engine.dialect.name
        self._size = size
        self._hold = hold  # False: each connection goes back after its statement
        self._closed = False
        self._wait = wait  # for a free connection, as the pool waits (then: "busy")
        self._slots = asyncio.Semaphore(size)
        self._idle: list[_Held] = []
        self._trimming: asyncio.TimerHandle | None = None
        self._closing: set[asyncio.Task[None]] = set()

    async def fetch_value(self, sql: SqlText, parameters: dict[str, Any]) -> Any:
        """The first column of the statement's only row."""
        row = await self.fetch_row(sql, parameters)
        return None if row is None else row[0]

    async def fetch_row(self, sql: SqlText, parameters: dict[str, Any]) -> Sequence[Any] | None:
        """The statement's first row (its columns by position), None when it has none. One
        statement is one snapshot of the store on either, so it is sent alone: no BEGIN."""
        arguments = sql.arguments(parameters)
        try:
            # counted as waiting only when it waits (the common case costs nothing more)
            with self._waiting() if self._slots.locked() else nullcontext():
                async with asyncio.timeout(self._wait):
                    await self._slots.acquire()
        except TimeoutError:
            raise PoolTimeout("every held connection stayed busy") from None
        try:
            return await self._run(sql, arguments)
        finally:
            self._slots.release()

    async def _run(self, sql: SqlText, arguments: list[Any]) -> Sequence[Any] | None:
        for attempt in range(self._size + 1):
            held = await self._take(sql.generic_plan)
            try:
                if held.generic_plans != sql.generic_plan:
                    await _set_generic_plans(held, sql.generic_plan)
                with self._span(sql):
                    row = await _fetch_row(held.driver, sql, arguments)
            except TimeoutError as error:  # asyncpg's command_timeout: the database did not
                # answer in time, and would keep another connection waiting as long
                self._discard(held, busy=True)  # the database's trouble, a 503
                raise DBAPIError(sql.text, None, error, connection_invalidated=True) from error
            except Exception as error:
                if not isinstance(error, _DISCONNECTS):
                    self._give_back(held)
                    raise DBAPIError(sql.text, None, error) from error
                self._discard(held)
                if attempt == self._size:
                    raise DBAPIError(sql.text, None, error, connection_invalidated=True) from error
            except BaseException:  # cancelled midway: the connection is still busy
                self._discard(held, busy=True)
                raise
            else:
                self._give_back(held)
                return row
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _span(self, sql: SqlText) -> AbstractContextManager[object]:
        """Named and described as SQLAlchemy's instrumentation names a statement's span."""
        if self._tracer is None:
            return NO_SPAN
        name = sql.text.split(None, 1)[0]
        attributes = {"db.system": self._system, "db.statement": sql.text}
        return span(self._tracer, name, attributes, SpanKind.CLIENT)

    async def _take(self, generic_plans: bool) -> _Held:
        """An idle connection in the mode asked if there is one, else any, else a new one."""
        for index in range(len(self._idle) - 1, -1, -1):
            if self._idle[index].generic_plans == generic_plans:
                return self._idle.pop(index)
        if self._idle:
            return self._idle.pop()
        with self._waiting():
            connection = await self._engine.connect()
        try:
            driver = (await connection.get_raw_connection()).driver_connection
            assert driver is not None, "a checked-out connection has its driver's connection"
        except BaseException:
            await connection.close()
            raise
        return _Held(connection, driver)

    def _give_back(self, held: _Held) -> None:
        if self._closed or not self._hold:  # shut down, or the pool has none to spare
            self._later(_return_to_pool(held))
            return
        loop = asyncio.get_running_loop()
        held.used = loop.time()
        self._idle.append(held)
        if self._trimming is None:
            self._trimming = loop.call_later(self.IDLE_SECONDS, self._trim)

    def _trim(self) -> None:
        """Connections idle for `IDLE_SECONDS` go back to the pool."""
        self._trimming = None
        now = asyncio.get_running_loop().time()
        kept = [held for held in self._idle if now - held.used < self.IDLE_SECONDS]
        for held in self._idle:
            if now - held.used >= self.IDLE_SECONDS:
                self._later(_return_to_pool(held))
        self._idle = kept
        if kept:
            self._trimming = asyncio.get_running_loop().call_later(self.IDLE_SECONDS, self._trim)

    def _discard(self, held: _Held, *, busy: bool = False) -> None:
        """The connection out of the pool for good. `busy`: a statement was left running on
        it (the request's deadline, the server stopping): dropping the connection ends it on
        PostgreSQL; SQLite's is interrupted first, or its thread would run it to the end,
        the connection held out of the pool meanwhile."""
        sqlite = held.driver if busy and self._system == "sqlite" else None
        self._later(_invalidate(held.connection, sqlite))

    def _later(self, closing: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(closing)
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def close(self) -> None:
        """Every held connection back to the pool (the app is shutting down); a statement
        still running gives its connection back when it ends."""
        self._closed = True
        if self._trimming is not None:
            self._trimming.cancel()
            self._trimming = None
        idle, self._idle = self._idle, []
        for held in idle:
            await _return_to_pool(held)
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)


async def _fetch_row(driver: Any, sql: SqlText, arguments: list[Any]) -> Sequence[Any] | None:
    if sql.postgres:
        row: Sequence[Any] | None = await driver.fetchrow(sql.text, *arguments)
        return row
    rows = list(await driver.execute_fetchall(sql.text, arguments))  # one trip to its thread
    return rows[0] if rows else None


async def _set_generic_plans(held: _Held, generic: bool) -> None:
    if generic:
        await held.driver.execute("SET plan_cache_mode = force_generic_plan")
    else:  # as the server or role sets it for every other connection
        await held.driver.execute("RESET plan_cache_mode")
    held.generic_plans = generic


async def _return_to_pool(held: _Held) -> None:
    """The connection back to the pool in the state the pool gave it."""
    if held.generic_plans:
        try:
            await held.driver.execute("RESET plan_cache_mode")
        except Exception:  # gone meanwhile: the pool must not keep it
            await _invalidate(held.connection)
            return
    await held.connection.close()


async def _invalidate(connection: AsyncConnection, sqlite: Any = None) -> None:
    """The connection out of the pool for good; `sqlite`: its aiosqlite connection, whose
    statement under way is interrupted first (sqlite3's `interrupt`, safe from any thread)."""
    try:
        if sqlite is not None:
            await sqlite.interrupt()
        await connection.invalidate()
    finally:
        await connection.close()
