"""Which database failures mean "unavailable, try again" rather than a bug of ours."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import exc

from core.coalesce import Coalesced
from core.errors import DatabaseUnavailable, QueryTimeout, ServiceUnavailable

QUERY_CANCELED = "57014"  # PostgreSQL: statement_timeout fired (or an operator cancelled it)
# PostgreSQL classes: 08 connection exception, 53 insufficient resources, 57P shutting down,
# 40 transaction rollback (a read-only snapshot has nothing to serialize on a primary; on a
# hot standby, 40001 is a statement cancelled for a conflict with recovery: try it again),
# 28 the role or its password refused and 3D the database named not there (an operator's to
# mend, as a database down is: a replica not yet holding a database the primary created).
UNAVAILABLE_SQLSTATES = ("08", "53", "57P", "40", "28", "3D")
UNAVAILABLE_MESSAGE = "The database is unavailable; try again shortly."
# A table, column, function (pg_trgm's `similarity`, say) or other object (an operator class,
# a collation) the statement names is not there: our bug, or a store that lacks a migration
# this build needs (`StoreFailures` tells which).
MISSING_OBJECT_SQLSTATES = ("42P01", "42703", "42883", "42704")
MISSING_OBJECT_SQLITE = ("no such table", "no such column")
# SQLite: another writer holds the file, or the file cannot be opened or read.
UNAVAILABLE_SQLITE = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_CANTOPEN", "SQLITE_IOERR")


def as_unavailable(error: BaseException) -> ServiceUnavailable | None:
    """The client-facing 503 for a failure of the database itself; None for anything else
    (a bad statement is our bug and stays an internal error)."""
    if isinstance(error, exc.TimeoutError):  # no pooled connection freed up in time
        return DatabaseUnavailable("The database is busy; try again shortly.")
    if isinstance(error, exc.DBAPIError):
        sqlstate = str(getattr(error.orig, "sqlstate", None) or "")
        if sqlstate == QUERY_CANCELED:
            return QueryTimeout("A database statement took too long and was stopped.")
        sqlite_error = str(getattr(error.orig, "sqlite_errorname", None) or "")
        if (
            error.connection_invalidated
            or isinstance(error, exc.InterfaceError)
            or sqlstate.startswith(UNAVAILABLE_SQLSTATES)
            or sqlite_error.startswith(UNAVAILABLE_SQLITE)
        ):
            return DatabaseUnavailable(UNAVAILABLE_MESSAGE)
        return None
    if isinstance(error, OSError | TimeoutError):  # refused, reset, unreachable, connect timeout
        return DatabaseUnavailable(UNAVAILABLE_MESSAGE)
    return None


def names_a_missing_object(error: BaseException) -> bool:
    """Whether the database refused a statement for a table, column or other object that is
    not there."""
    if not isinstance(error, exc.DBAPIError):
        return False
    sqlstate = str(getattr(error.orig, "sqlstate", None) or "")
    return sqlstate in MISSING_OBJECT_SQLSTATES or str(error.orig).startswith(MISSING_OBJECT_SQLITE)


# How long a check that the store lacks a migration is taken as still true.
BEHIND_CHECK_SECONDS = 1.0


class StoreFailures:
    """`as_unavailable`, and a missing table or column too while the store lacks a migration
    this build needs (a replica still replaying those `serve` ran on the primary): checked
    by `behind`, not assumed, so on a store that has them all the same error stays our bug.
    A check serves every request waiting for it, and its answer the next second's; one that
    fails or takes too long says nothing (the error stays ours)."""

    def __init__(self, checks: Coalesced[bool] | None = None) -> None:
        """`checks`: whether the store lacks a migration, each within its bound; none: a
        missing table is always our bug."""
        self._checks = checks
        self._known: tuple[float, bool] | None = None  # when checked, and what it said

    async def unavailable(
        self, error: BaseException, deadline: float | None = None
    ) -> ServiceUnavailable | None:
        """The 503 for `error`, or None (our bug); a check runs by `deadline` at the latest
        (the request's), past which it says nothing."""
        found = as_unavailable(error)
        if found is not None or self._checks is None or not names_a_missing_object(error):
            return found
        if not await self._behind(self._checks, deadline):
            return None
        return DatabaseUnavailable(UNAVAILABLE_MESSAGE)

    async def _behind(self, checks: Coalesced[bool], deadline: float | None) -> bool:
        now = time.monotonic()
        if self._known is not None and now - self._known[0] < BEHIND_CHECK_SECONDS:
            return self._known[1]
        try:
            async with asyncio.timeout_at(deadline):
                behind = await checks.get()
        except Exception:  # (a timeout included)
            return False
        self._known = (now, behind)
        return behind

    async def aclose(self) -> None:
        if self._checks is not None:
            await self._checks.aclose()
