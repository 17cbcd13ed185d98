"""Which database failures mean "unavailable, try again" rather than a bug of ours."""

from __future__ import annotations

from sqlalchemy import exc

from core.errors import DatabaseUnavailable, QueryTimeout, ServiceUnavailable

QUERY_CANCELED = "57014"  # PostgreSQL: statement_timeout fired (or an operator cancelled it)
# PostgreSQL classes: 08 connection exception, 53 insufficient resources, 57P shutting down,
# 40 transaction rollback (a read-only snapshot has nothing to serialize on a primary; on a
# hot standby, 40001 is a statement cancelled for a conflict with recovery: try it again).
UNAVAILABLE_SQLSTATES = ("08", "53", "57P", "40")
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
            return DatabaseUnavailable("The database is unavailable; try again shortly.")
        return None
    if isinstance(error, OSError | TimeoutError):  # refused, reset, unreachable, connect timeout
        return DatabaseUnavailable("The database is unavailable; try again shortly.")
    return None
