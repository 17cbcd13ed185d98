"""A request's one session: every read of the request takes its turn on it, in one snapshot.

A request reads through one session (one connection, one transaction); batches take turns on
it, so a request never holds more than one pooled connection however wide the query fans out,
and every batch reads the same snapshot of the store (db/engine.py:snapshot_sessions).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager, nullcontext, suppress
from typing import Any, TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.errors import ServiceUnavailable, SnapshotEnded
from core.logs import one_line
from db.errors import StoreFailures
from db.state import version_query

T = TypeVar("T")
logger = logging.getLogger("impact_graph.db")


class RequestFinished(RuntimeError):
    """A query arrived after its request was answered (a straggling sibling task)."""


def log_failure(read: asyncio.Future[Any]) -> None:
    """A failed read's error, with its stack, where its caller was cancelled (every later
    read of the request fails as `SnapshotEnded`, which is not logged again)."""
    if read.cancelled():
        return
    error = read.exception()
    if error is not None and not isinstance(
        error, ServiceUnavailable | SnapshotEnded | RequestFinished
    ):
        logger.error(
            "a read failed after its field was cancelled",
            exc_info=(type(error), error, error.__traceback__),
        )


class Reader:
    """The request's session, opened on first use and closed with the request; its one
    transaction is one snapshot of the store, which `version` names.

    A failed or interrupted statement ends the snapshot: it is rolled back, and the request's
    later reads fail (`SnapshotEnded`) rather than read a snapshot of their own, so an answer
    never mixes two stores (a failed statement is our bug, an interrupted one the request's
    deadline; its answer carries the errors and names no version). A read whose caller is
    cancelled is not interrupted (`run`). A failure of the database itself (down, busy, too
    slow, or lacking a migration: `failures`, db/errors.py) becomes a 503-class error
    instead. Once closed, the reader opens no new session.

    Pooled connections are not pinged before use (a ping is a round trip and a statement
    more per request): a connection that died in the pool (a database restart) fails its
    first statement at once, and the statement is tried again on another connection, at most
    `connections` times (every pooled connection may have died). `waiting` is around the
    wait for the pool to hand a connection out (what operators see: server/metrics.py).
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        connections: int = 1,
        waiting: Callable[[], AbstractContextManager[object]] = nullcontext,
        failures: StoreFailures | None = None,
    ) -> None:
        self._sessions = sessions
        self._failures = failures or StoreFailures()
        self._connections = connections
        self._waiting = waiting
        self._session: AsyncSession | None = None
        self._turn = asyncio.Lock()
        self._closed = False
        self._unavailable: ServiceUnavailable | None = None
        self._snapshot_ended = False  # by a failed or interrupted statement
        self._reads: set[asyncio.Future[Any]] = set()  # under way, or waiting for their turn

    async def run(self, query: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """`query` in the request's snapshot, the reads taking turns on its session.

        A caller cancelled midway (graphql-core stops the siblings of a field whose error
        nulls their parent) leaves its statement to finish: cancelled, it would abort the
        transaction on PostgreSQL, and the request's other reads, of fields the error never
        touched, could neither go on in it nor begin another. `interrupt` stops them."""
        read = asyncio.ensure_future(self._taking_turn(query))
        self._reads.add(read)
        read.add_done_callback(self._settled)
        try:
            return await asyncio.shield(read)
        except asyncio.CancelledError:
            read.add_done_callback(log_failure)  # its caller is gone: nobody else reports it
            raise

    async def _taking_turn(self, query: Callable[[AsyncSession], Awaitable[T]]) -> T:
        async with self._turn:
            return await self._run(query)

    def _settled(self, read: asyncio.Future[Any]) -> None:
        self._reads.discard(read)
        if not read.cancelled():
            read.exception()  # retrieved here: its caller may have been cancelled

    def interrupt(self) -> None:
        """Stop the reads under way or waiting their turn (the request ran out of time, or
        the server is stopping): their statements are cancelled, and no other read begins
        before the reader is closed."""
        self._snapshot_ended = True
        for read in list(self._reads):
            read.cancel()

    async def _run(self, query: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """`run`, its turn taken."""
        if self._closed:
            raise RequestFinished("the request is over; no more reads")
        if self._unavailable is not None:
            raise self._unavailable  # fail the rest of the request fast, without retrying
        if self._snapshot_ended:
            raise SnapshotEnded("an earlier read of this request failed; no other snapshot")
        attempts = self._connections + 1 if self._session is None else 1
        try:
            return await self._read(query, attempts)
        except Exception as error:
            unavailable = await self._failures.unavailable(error)
            if unavailable is None:
                if self._session is not None:
                    self._snapshot_ended = True  # first: whatever becomes of the rollback
                    with suppress(Exception):  # (the session is closed with the request)
                        await self._session.rollback()
                raise
            self._unavailable = unavailable
            raise unavailable from error
        except BaseException:  # interrupted: the session is rolled back as it closes,
            self._snapshot_ended = True  # and read no more
            raise

    async def _read(self, query: Callable[[AsyncSession], Awaitable[T]], attempts: int) -> T:
        """`query` on the session; tried again on another connection while its connection
        turns out to have died, `attempts` times at most."""
        while True:
            if self._session is None:
                self._session = self._sessions()
            try:
                if not self._session.in_transaction():
                    with self._waiting():  # the connection, checked out now
                        await self._session.connection()
                return await query(self._session)
            except DBAPIError as error:
                attempts -= 1
                if attempts == 0 or not error.connection_invalidated:
                    raise
                await self._session.close()  # a connection that died in the pool
                self._session = None

    async def version(self) -> int | None:
        """The data version of the one snapshot the request's reads saw, read in that snapshot
        (call it before `close`): the version an answer built from them is exact for. None
        when there is none to name: the request read nothing, or not one snapshot (a failed
        or interrupted statement ended it), or the store became unavailable."""
        async with self._turn:  # after any read still under way (a cancelled sibling's)
            if (
                self._session is None
                or self._snapshot_ended
                or self._unavailable is not None
                or self._closed
            ):
                return None
            try:
                found = await self._run(lambda session: session.scalar(version_query()))
            except ServiceUnavailable:
                return None
        return int(found or 0)

    def fail(self, unavailable: ServiceUnavailable) -> None:
        """The store was found unavailable before this reader read anything: its reads
        fail at once, as they would after its own first read had failed."""
        self._unavailable = unavailable

    async def close(self) -> None:
        """The session back to the pool. One whose connection died after the last read (its
        rollback cannot be sent: a backend terminated, the database restarting) is dropped,
        with one warning: what was read stands, and the request is answered."""
        async with self._turn:
            self._closed = True
            session, self._session = self._session, None
            if session is None:
                return
            try:
                await session.close()
            except Exception as error:
                logger.warning(
                    "a request's session could not be closed (%s); its connection is dropped",
                    one_line(error),
                )
                with suppress(Exception):
                    await session.invalidate()
