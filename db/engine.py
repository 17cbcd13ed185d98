"""One async engine per process; the driver is picked from the URL so users write plain URLs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, event
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


# What a PostgreSQL URL's query may say, as asyncpg reads it (SQLAlchemy hands the query to
# `asyncpg.connect` as keywords, so any other would fail every connection with a TypeError)...
_ASYNCPG_OPTIONS = frozenset(
    {
        "host",  # (a Unix socket's directory, as Cloud SQL's URLs give it: `?host=/cloudsql/x`)
        "port",
        "ssl",
        "target_session_attrs",
        "passfile",
        "service",
        "servicefile",
        "krbsrvname",
        "gsslib",
        "prepared_statement_cache_size",  # (SQLAlchemy's own)
    }
)
# ...and libpq's spellings of the same, as managed PostgreSQL's connection strings write them
_LIBPQ_OPTIONS = {"sslmode": "ssl"}
# The values asyncpg takes, of the options that take a few (any other fails every connection)
_CHOICES = {
    "ssl": ("disable", "allow", "prefer", "require", "verify-ca", "verify-full"),
    "target_session_attrs": (
        "any",
        "primary",
        "standby",
        "prefer-standby",
        "read-write",
        "read-only",
    ),
    "gsslib": ("gssapi", "sspi"),
}
_NUMBERS = frozenset({"port", "prepared_statement_cache_size"})
# A libpq option read here as a server setting of the connection
_SERVER_SETTINGS = frozenset({"application_name"})
# Options that settings of ours say instead
_OURS = {
    "connect_timeout": "IMPACT_GRAPH_DB_CONNECT_TIMEOUT",
    "options": "IMPACT_GRAPH_* settings (statement timeouts: IMPACT_GRAPH_STATEMENT_TIMEOUT)",
}


class DatabaseUrlError(ValueError):
    """A database URL names no store we support, or says what we cannot do."""


def async_url(database_url: str, variable: str = "DATABASE_URL") -> URL:
    """Map `sqlite:///x.db` / `postgresql://u@h/db` (any sync driver suffix) to our async driver,
    with a PostgreSQL URL's options as asyncpg reads them (`?sslmode=require` is `ssl`);
    DatabaseUrlError, naming `variable`, for what cannot be read.

    >>> async_url("postgresql://me@localhost:5432/test").drivername
    'postgresql+asyncpg'
    >>> async_url("postgres://me@db.example/test?sslmode=require").query
    immutabledict({'ssl': 'require'})
    """
    try:
        url = make_url(database_url)
    except Exception as exc:
        raise DatabaseUrlError(f"{variable} is not a database URL: {exc}") from None
    backend = url.drivername.split("+", 1)[0]
    if backend not in _ASYNC_DRIVERS:
        raise DatabaseUrlError(
            f"{variable} scheme {url.drivername!r} is not supported; use sqlite or postgresql"
        )
    url = url.set(drivername=_ASYNC_DRIVERS[backend])
    return url if backend == "sqlite" else url.set(query=_asyncpg_query(url, variable))


def _asyncpg_query(url: URL, variable: str) -> dict[str, str | tuple[str, ...]]:
    query: dict[str, str | tuple[str, ...]] = {}
    for name, value in url.query.items():
        if name == "host" and not isinstance(value, str):  # several hosts, tried in turn
            query[name] = value
            continue
        if not isinstance(value, str):
            raise DatabaseUrlError(f"{variable} gives the option {name!r} more than once")
        option = _LIBPQ_OPTIONS.get(name, name)
        if option in query:
            raise DatabaseUrlError(f"{variable} gives both ssl and sslmode; give one")
        if name in _OURS:
            raise DatabaseUrlError(
                f"{variable} option {name!r} is not read here; set {_OURS[name]} instead"
            )
        if option not in _ASYNCPG_OPTIONS and option not in _SERVER_SETTINGS:
            raise DatabaseUrlError(
                f"{variable} option {name!r} is not one this server reads (it reads "
                f"{', '.join(sorted({*_ASYNCPG_OPTIONS, *_LIBPQ_OPTIONS, *_SERVER_SETTINGS}))})"
            )
        choices = _CHOICES.get(option)
        if choices is not None and value not in choices:
            raise DatabaseUrlError(
                f"{variable} option {name}={value!r} is none of {', '.join(choices)}"
            )
        if option in _NUMBERS and not value.isdigit():
            raise DatabaseUrlError(f"{variable} option {name}={value!r} is not a number")
        query[option] = value
    return query


def sqlite_file(database_url: str) -> Path | None:
    """The file an SQLite URL names (None for PostgreSQL or an in-memory store)."""
    url = async_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


@dataclass(frozen=True)
class PoolOptions:
    """How the serving engine holds connections: pool bounds and how long anything may wait.

    Timeouts are in seconds. `statement_timeout` is enforced by PostgreSQL itself; SQLite
    statements are local and bounded by the request's execution timeout instead: the compiled
    executor's is interrupted when it passes (db/raw.py); the reference executor's reads are
    each small, and are left to end on their own.
    """

    size: int = 10
    max_overflow: int = 5
    timeout: float = 5.0
    connect_timeout: float = 5.0
    statement_timeout: float = 5.0


def _sqlite_on_connect(read_only: bool) -> Callable[[Any, Any], None]:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # The driver would begin a transaction only before a write, so every read would be
        # a snapshot of its own: it begins none, and `_sqlite_begin` begins every one.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        if read_only:
            cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    return on_connect


# An execution option: the transaction takes SQLite's write lock as it begins (BEGIN
# IMMEDIATE), waiting up to the driver's timeout (5 s) for another writer's, as a seed waits for
# another seed; a deferred one that reads first could not take it once another committed.
WRITE_FIRST = "impact_graph_write_first"


def _sqlite_begin(connection: Connection) -> None:
    """A deferred BEGIN for every transaction SQLAlchemy begins (its documented recipe for
    pysqlite and aiosqlite): all of a transaction's reads see one snapshot of the file (in
    WAL mode, db/migrate.py, one that a seed committing meanwhile leaves as it was); an
    immediate one where `WRITE_FIRST` is set."""
    options = connection.get_execution_options()
    if options.get("isolation_level") != "AUTOCOMMIT":
        connection.exec_driver_sql("BEGIN IMMEDIATE" if options.get(WRITE_FIRST) else "BEGIN")


def create_engine(
    database_url: str,
    *,
    search_path: str | None = None,
    echo: bool = False,
    pool: PoolOptions | None = None,
    read_only: bool = False,
    variable: str = "DATABASE_URL",
) -> AsyncEngine:
    """Build the engine; `search_path` pins a PostgreSQL schema (tests use a throwaway one);
    `variable` is the setting that gave the URL, which an error in it names.

    The server's engine is `read_only`: the database itself refuses any write, whatever a
    bug upstream might attempt. `pool` bounds connections and waits (seeding and migrations
    use the defaults of SQLAlchemy and the driver).
    """
    url = async_url(database_url, variable)
    connect_args: dict[str, Any] = {}
    options: dict[str, Any] = {}
    server_settings = {name: str(url.query[name]) for name in _SERVER_SETTINGS & set(url.query)}
    url = url.difference_update_query(server_settings)
    sqlite = url.get_backend_name() == "sqlite"
    if sqlite and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    if not sqlite:
        # The compiled executor's statements can pass asyncpg's 15 KiB cache limit.
        connect_args["max_cacheable_statement_size"] = 256 * 1024
        if search_path:
            server_settings["search_path"] = search_path
        if read_only:
            server_settings["default_transaction_read_only"] = "on"
    if pool is not None:
        options.update(
            pool_size=pool.size, max_overflow=pool.max_overflow, pool_timeout=pool.timeout
        )
        connect_args["timeout"] = pool.connect_timeout
        if not sqlite:
            milliseconds = max(1, round(pool.statement_timeout * 1000))  # 0 would mean none
            server_settings["statement_timeout"] = str(milliseconds)
            # The client gives up too, should the server never answer (a dead link, say).
            connect_args["command_timeout"] = pool.statement_timeout + pool.connect_timeout
    if server_settings:
        connect_args["server_settings"] = server_settings
    # No ping before each use: loaders.reader.Reader retries a first statement whose connection
    # died in the pool. PostgreSQL's json values are read by orjson (the compiled statements
    # return one each).
    engine = create_async_engine(
        url, echo=echo, connect_args=connect_args, json_deserializer=orjson.loads, **options
    )
    if sqlite:
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect(read_only))
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


def snapshot_sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions whose transaction reads one snapshot of the store, for a request's reads.

    PostgreSQL's default (READ COMMITTED) takes a snapshot per statement; REPEATABLE READ
    takes one for the whole transaction, READ ONLY says it writes nothing (the BEGIN that
    says so is the one the driver sends anyway). On SQLite every transaction is one
    snapshot already (`_sqlite_begin`).
    """
    if engine.dialect.name == "postgresql":
        engine = engine.execution_options(
            isolation_level="REPEATABLE READ", postgresql_readonly=True
        )
    return session_factory(engine)
