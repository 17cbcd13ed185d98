"""What the HTTP step must know before anything executes: the store's data version (an
answer's validator, and its cache key) and the list sizes the last seed measured (its price).

The store changes only by seeding, and a seed that changes rows bumps the data version
(db/state.py). Every GET (and every request the response cache may answer) learns the version
current at its arrival: from a read that started after the request arrived (one such read,
one statement on a held connection, serves every request waiting for it), from SQLite's
wal-index (db/local.py), or on a PostgreSQL primary from a read whose lease holds
(db/lease.py). The same reads give the cost estimate the list sizes: read at start-up,
re-checked at most every `max_age` seconds on other requests. This is the one read the HTTP
step (server/caching.py) asks of the store outside an executor.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from opentelemetry.instrumentation.utils import suppress_instrumentation
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from core.coalesce import Coalesced
from core.logs import once_a_window, one_line
from db import state
from db.errors import StoreFailures, as_unavailable
from db.lease import (
    LEASE_SECONDS,
    RENEW_AFTER_SECONDS,
    Announcements,
    gone_query,
    lease_clock,
    lease_query,
)
from db.local import local_version_reader
from db.raw import Statements, precompile

# (the name operators' log filters have known it by since it lived in server/caching.py)
logger = logging.getLogger("impact_graph.caching")
# The store answers a one-row read in well under a millisecond; one that takes this long is
# treated as unable to say (its waiters go uncached), not waited for until their deadlines.
VERSION_READ_SECONDS = 2.0
SLOW_READ_LOG_SECONDS = 10.0  # at most one line this often about reads not in time
slow_reads = once_a_window(f"{logger.name}.slow_reads", SLOW_READ_LOG_SECONDS)
failed_looks = once_a_window(f"{logger.name}.failed_looks", SLOW_READ_LOG_SECONDS)


@dataclass(frozen=True)
class Lease:
    """A version this process may serve without reading it again until `sent` +
    LEASE_SECONDS on `lease_clock` (db/lease.py): `sent` is when the read granting it went
    out, before the snapshot it read was taken."""

    version: int
    sent: float


class StoreWatch:
    """The store's data version and list sizes as this process last read them.

    On a PostgreSQL primary, with `leases`, each read of the version grants a lease
    (db/lease.py): while it holds, requests are served under its version without a read, and
    once it is half through, one of them starts the read that renews it.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        statements: Statements,
        dialect: Dialect,
        max_age: float,
        failures: StoreFailures | None = None,
        *,
        leases: bool = True,
    ) -> None:
        self._engine = engine
        self._failures = failures or StoreFailures()
        self._statements = statements
        self._leasing = leases and dialect.name == "postgresql"
        self._lease: Lease | None = None
        self._newest = 0  # the newest version read or seen here: no lease below it
        self._renewal: asyncio.Task[None] | None = None
        self._renewed: Lease | None = None  # the lease a renewal was started for (once each)
        self._closed = False
        query = lease_query() if self._leasing else state.version_query()
        self._version_sql = precompile(query, dialect)
        self._announcements = Announcements()
        self._gone_sql = precompile(gone_query(), dialect)
        self._look: asyncio.Task[None] | None = None  # whether an announced seed is gone
        self._max_age = max_age
        self._snapshot = state.StoreSnapshot()
        self._checked_at: float | None = None
        self._reloading: asyncio.Lock = asyncio.Lock()
        self._versions = Coalesced(self._untraced_read, VERSION_READ_SECONDS)
        self._local = local_version_reader(engine)  # SQLite: read in this thread, at once

    @property
    def last_version(self) -> int:
        """The data version as this process last read it (0 before the first read)."""
        return self._snapshot.version

    async def version(self, deadline: float) -> int | None:
        """The data version now: from a lease that holds, or a read that started after this
        call (one read serves every request waiting for it); None when the store cannot say
        by `deadline`, or within VERSION_READ_SECONDS (the request goes uncached, and its
        executor reports the store's trouble)."""
        self._checked_at = asyncio.get_running_loop().time()
        lease = self._lease
        if lease is not None:
            age = lease_clock() - lease.sent
            if 0 <= age < LEASE_SECONDS:
                if age >= RENEW_AFTER_SECONDS and self._renewed is not lease and not self._closed:
                    self._renewed = lease
                    self._renewal = asyncio.create_task(self._renew())
                return lease.version
        if self._local is not None:
            version = self._local.read()
            if version is not None:
                if version != self._snapshot.version:
                    await self._reload_by(version, deadline)
                return version
        try:
            async with asyncio.timeout_at(deadline):
                return await self._versions.get()
        except TimeoutError:
            slow_reads.warning("the data version was not read in time")
            return None

    async def _renew(self) -> None:
        """A read while the lease still holds, so the requests that follow need not wait."""
        try:
            await self._versions.get()
        except TimeoutError:
            pass  # (logged by the read, if it failed) the lease lapses, and requests read
        finally:
            if self._renewal is asyncio.current_task():  # (not a later renewal's)
                self._renewal = None

    async def _untraced_read(self) -> int | None:
        """A read serves every request waiting, and none in particular (core/coalesce.py: in
        a context of its own): its statements are in no request's trace, nor each a trace
        of its own (one every lease, on a primary)."""
        with suppress_instrumentation():
            return await self._read_version()

    async def _read_version(self) -> int | None:
        """One read of the data version (and of the whole state when it moved), for every
        request waiting for it: a failure is logged once, not once per request."""
        try:
            sent, before = lease_clock(), self._newest
            row = await self._statements.fetch_row(self._version_sql, {})
            version = 0 if row is None or row[0] is None else int(row[0])
            if version != self._snapshot.version:
                await self._reload(version)
            # an executor saw a newer version while this read ran: it names no current one
            current = self._newest <= max(before, version)
            if current:
                self._newest = version
            if self._leasing:  # none while a seed is announced, nor on a standby
                token, standby = (None, True) if row is None else (row[1], row[2])
                # (a standby sees none of the primary's locks: no look there)
                announced = not standby and self._announcements.live(token, sent)
                leased = current and not (announced or standby)
                self._lease = Lease(version, sent) if leased else None
                if (
                    announced
                    and token is not None
                    and self._look is None
                    and not self._closed
                    and self._announcements.to_look(token, lease_clock())
                ):
                    self._look = asyncio.create_task(self._look_for_seed(token))
        except Exception as error:
            if await self._failures.unavailable(error) is None:
                logger.exception("reading the data version failed")
            return None
        return version

    async def _look_for_seed(self, token: int) -> None:
        """Whether the announced seed is gone (db/lease.py `Announcements`): beside the reads,
        which no one waits for; a look that fails or does not end in time finds nothing."""
        try:
            async with asyncio.timeout(VERSION_READ_SECONDS):
                row = await self._statements.fetch_row(self._gone_sql, {"token": token})
            if row is not None and row[0]:
                self._announcements.found_gone(token, lease_clock())
        except Exception as error:
            failed_looks.warning("looking whether a seed is gone failed: %s", one_line(error))
        finally:
            self._look = None

    async def saw(self, version: int, deadline: float) -> None:
        """An executor read `version` in its snapshot: where this process knew another, the
        store's state is read again now (once per seed), so the requests that follow look
        answers up, and price them, under it (a snapshot older than it knows changes
        nothing)."""
        self._newest = max(self._newest, version)
        lease = self._lease
        if lease is not None and lease.version < version:
            self._lease = None  # a seed that did not wait for leases: read again
        if version > self._snapshot.version:
            await self._reload_by(version, deadline)

    async def _reload_by(self, version: int, deadline: float) -> None:
        try:
            async with asyncio.timeout_at(deadline):
                await self._reload(version)
        except TimeoutError:
            logger.warning("the store's state was not read again in time")
        except Exception as error:
            if await self._failures.unavailable(error, deadline) is None:
                logger.exception("reading the store's state failed")

    async def aclose(self) -> None:
        """Before the statements and the engine close: no read of ours outlives them (each
        waited for at most VERSION_READ_SECONDS); requests that come later go uncached."""
        self._closed = True
        try:
            await self._versions.aclose()  # the renewal's read too: it ends with it
            tasks = {task for task in (self._renewal, self._look) if task is not None}
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(tasks, timeout=VERSION_READ_SECONDS)
        finally:
            if self._local is not None:
                self._local.close()

    async def load(self, deadline: float) -> None:
        """Read the store's state at start-up, so the first requests are priced by it too."""
        self._checked_at = asyncio.get_running_loop().time()
        try:
            async with asyncio.timeout_at(deadline):
                await self._read()
        except TimeoutError:
            logger.warning("the store's state was not read at start-up")
        except DBAPIError as error:  # the database refused the read: a store not migrated
            # (a replica still replaying; /readyz says so), one it cannot reach, or a role
            # that may not read `store_state` (the first request's reload logs its stack)
            logger.warning("the store's state was not read at start-up: %s", one_line(error))
        except Exception as error:
            if as_unavailable(error) is None:
                logger.exception("reading the store's state failed")

    async def snapshot(self, deadline: float) -> state.StoreSnapshot:
        """The list sizes, read again (by `deadline`, else as they were) when the version was
        last checked over `max_age` ago."""
        now = asyncio.get_running_loop().time()
        if self._checked_at is None or now - self._checked_at > self._max_age:
            await self.version(deadline)
        return self._snapshot

    async def _reload(self, version: int) -> None:
        async with self._reloading:
            if self._snapshot.version == version:
                return  # another request read it meanwhile
            await self._read()

    async def _read(self) -> None:
        """The whole state, on a connection that goes back to the pool at once."""
        async with self._engine.connect() as connection:
            self._snapshot = await state.read(connection)
