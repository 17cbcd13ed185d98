"""One async engine per process; the driver is picked from the URL so users write plain URLs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
}


class DatabaseUrlError(ValueError):
    """DATABASE_URL names no store we support."""


def async_url(database_url: str) -> URL:
    """Map `sqlite:///x.db` / `postgresql://u@h/db` (any sync driver suffix) to our async driver.

    >>> async_url("postgresql://me@localhost:5432/test").drivername
    'postgresql+asyncpg'
    """
    try:
        url = make_url(database_url)
    except Exception as exc:
        raise DatabaseUrlError(f"DATABASE_URL is not a database URL: {exc}") from None
    backend = url.drivername.split("+", 1)[0]
    if backend not in _ASYNC_DRIVERS:
        raise DatabaseUrlError(
            f"DATABASE_URL scheme {url.drivername!r} is not supported; use sqlite or postgresql"
        )
    return url.set(drivername=_ASYNC_DRIVERS[backend])


def _enable_sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def sqlite_file(database_url: str) -> Path | None:
    """The file an SQLite URL names (None for PostgreSQL or an in-memory store)."""
    url = async_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def create_engine(
    database_url: str, *, search_path: str | None = None, echo: bool = False
) -> AsyncEngine:
    """Build the engine; `search_path` pins a PostgreSQL schema (tests use a throwaway one)."""
    url = async_url(database_url)
    connect_args: dict[str, Any] = {}
    sqlite = url.get_backend_name() == "sqlite"
    if sqlite:
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    elif search_path:
        connect_args["server_settings"] = {"search_path": search_path}
    # A server connection can die under the pool (a restart); a local file cannot.
    engine = create_async_engine(
        url, echo=echo, connect_args=connect_args, pool_pre_ping=not sqlite
    )
    if sqlite:
        event.listen(engine.sync_engine, "connect", _enable_sqlite_foreign_keys)
    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
