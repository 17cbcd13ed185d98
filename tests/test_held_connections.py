"""A request's connections when a statement is left midway or its connection dies: the
compiled executor's held ones (db/raw.py `Statements`) and the reference executor's session
(loaders/reader.py `Reader`). The pool gets its connections back, a dead connection is
replaced quietly, what was read before one died stands, and a database too slow to answer is
not asked again on every other connection."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from db import raw
from db.engine import PoolOptions, create_engine, session_factory
from db.errors import as_unavailable
from db.raw import SqlText, Statements
from loaders.reader import Reader
from tests.conftest import POSTGRES_URL, _require_postgres

# Counts to a hundred million, one row at a time: seconds of SQLite's own work.
LONG_SQLITE = SqlText(
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000000) "
    "SELECT count(*) FROM c",
    (),
    {},
    postgres=False,
)


async def test_an_sqlite_statement_past_the_deadline_is_interrupted(tmp_path: Path) -> None:
    """Cancelled midway, its thread stops at once: its connection is back with the pool,
    not held until the statement would have ended (seconds, each such request one more)."""
    engine = create_engine(f"sqlite:///{tmp_path / 'long.db'}", pool=PoolOptions(size=2))
    statements = Statements(engine, 2, 5)
    try:
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await statements.fetch_value(LONG_SQLITE, {})
        while engine.pool.checkedout() > 0:  # type: ignore[attr-defined]
            assert time.monotonic() - started < 1.5, "the statement ran on, its connection held"
            await asyncio.sleep(0.02)
        quick = SqlText("SELECT 41 + 1", (), {}, postgres=False)
        assert await statements.fetch_value(quick, {}) == 42  # on a connection of its own
    finally:
        await statements.close()
        await engine.dispose()


async def test_a_terminated_backend_is_replaced_without_a_word(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A backend ended while its connection was held idle (pg_terminate_backend, a restart)
    fails the next statement whichever way asyncpg meets it (the socket gone, or its FATAL
    message first: "cannot switch to state"); the statement is answered on a fresh one."""
    await _require_postgres()
    engine = create_engine(POSTGRES_URL, pool=PoolOptions(size=2))
    statements = Statements(engine, 2, 5)
    pid = SqlText("SELECT pg_backend_pid()", (), {}, postgres=True)
    try:
        async with engine.connect() as admin:
            for _ in range(20):
                held = await statements.fetch_value(pid, {})
                await admin.execute(text(f"SELECT pg_terminate_backend({int(held)})"))
                assert await statements.fetch_value(pid, {}) != held
    finally:
        await statements.close()
        await engine.dispose()
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_a_connection_asyncpg_cannot_go_on_with_is_replaced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What asyncpg raises for a statement sent between a terminated backend's FATAL message
    and its socket's close (seen under load, in a window too narrow to time here): the
    statement is answered on a fresh connection, as for a socket found closed."""
    await _require_postgres()
    engine = create_engine(POSTGRES_URL, pool=PoolOptions(size=2))
    statements = Statements(engine, 2, 5)
    pid = SqlText("SELECT pg_backend_pid()", (), {}, postgres=True)
    fetch = raw._fetch_row
    sent: list[Any] = []

    async def between(driver: Any, sql: SqlText, arguments: list[Any]) -> Any:
        sent.append(driver)
        if len(sent) == 1:  # the held connection, its backend gone
            raise asyncpg.exceptions.InternalClientError(
                "cannot switch to state 12; another operation (2) is in progress"
            )
        return await fetch(driver, sql, arguments)

    try:
        held = await statements.fetch_value(pid, {})
        monkeypatch.setattr(raw, "_fetch_row", between)
        assert await statements.fetch_value(pid, {}) != held
        assert sent[0] is not sent[1]  # tried again on another connection
    finally:
        await statements.close()
        await engine.dispose()


async def test_a_database_that_does_not_answer_in_time_is_not_asked_again() -> None:
    """The client's own bound (asyncpg's command timeout) passing is the database too slow,
    not a dead connection: one 503, not one wait per held connection."""
    await _require_postgres()
    bounds = PoolOptions(size=4, statement_timeout=0.2, connect_timeout=0.1)  # client: 0.3 s
    engine = create_engine(POSTGRES_URL, pool=bounds)
    statements = Statements(engine, 1, 5)  # one connection held: the next statement finds it
    try:
        # the server's own bound lifted on the held connection: only the client's is left
        await statements.fetch_row(SqlText("SET statement_timeout = 0", (), {}, True), {})
        backend = SqlText("SELECT pg_backend_pid()", (), {}, True)
        stopped = await statements.fetch_value(backend, {})
        started = time.monotonic()
        with pytest.raises(DBAPIError) as raised:
            await statements.fetch_value(SqlText("SELECT pg_sleep(3)", (), {}, True), {})
        assert time.monotonic() - started < 0.9  # once, not again on fresh connections
        assert isinstance(raised.value.orig, TimeoutError)
        assert as_unavailable(raised.value) is not None  # the store's trouble: a 503
        # the connection left midway is dropped, not held for the next statement
        assert await statements.fetch_value(backend, {}) != stopped
    finally:
        await statements.close()
        await engine.dispose()


async def test_a_session_that_cannot_close_is_dropped_and_what_was_read_stands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The reference executor's session whose connection died after its last read: its
    rollback fails as it closes. The request's answer is whole (it was a 500, its stack in
    the log); the connection is dropped, with one warning line."""
    engine = create_engine(f"sqlite:///{tmp_path / 'reads.db'}", pool=PoolOptions(size=1))
    reader = Reader(session_factory(engine))
    assert await reader.run(lambda session: session.scalar(text("SELECT 1"))) == 1
    died = DBAPIError("ROLLBACK", None, Exception("connection was closed in the middle of it"))

    async def rolled_back_on_a_dead_connection(self: AsyncSession) -> None:
        raise died

    monkeypatch.setattr(AsyncSession, "close", rolled_back_on_a_dead_connection)
    try:
        await reader.close()
        assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    finally:
        monkeypatch.undo()
        await engine.dispose()
    [warned] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "could not be closed" in warned.getMessage()
    assert warned.exc_info is None  # one line, no stack
