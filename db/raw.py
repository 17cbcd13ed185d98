"""Precompiled statements, run on the session's own driver connection.

The compiled executor's statements are compiled to SQL text once. Running that text on the
driver (asyncpg or aiosqlite, through SQLAlchemy's public `get_raw_connection`) skips what
SQLAlchemy does on every execution (a cache key over the whole statement, result processing),
and asyncpg prepares each text once per connection. The session still owns the connection:
it is checked out, returned and reset as for any other read.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import Select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

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


async def fetch_value(session: AsyncSession, sql: SqlText, parameters: dict[str, Any]) -> Any:
    """The first column of the statement's only row.

    A driver's error is raised as SQLAlchemy raises it (DBAPIError, the connection invalidated
    when it died), so loaders.Reader and db/errors.py treat it as any other read's.
    """
    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None, "a checked-out connection has its driver's connection"
    arguments = sql.arguments(parameters)
    try:
        if sql.postgres:
            return await driver.fetchval(sql.text, *arguments)
        async with driver.execute(sql.text, arguments) as cursor:
            row = await cursor.fetchone()
        return None if row is None else row[0]
    except Exception as error:
        died = isinstance(error, _DISCONNECTS)
        if died:
            await connection.invalidate()
        raise DBAPIError(sql.text, None, error, connection_invalidated=died) from error
