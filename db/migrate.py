"""Schema changes go through alembic on both stores; this runs them on our async engine."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from db.engine import WRITE_FIRST
from db.errors import as_unavailable
from db.lease import take_store_lock

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    """Our migrations' configuration; with the connection they run on, where they run."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


# The first key of the advisory lock a migration holds on PostgreSQL, the store's schema the other
MIGRATION_LOCK = 0x1A9_3160


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Migrate, one process at a time: every `serve` migrates, and two hosts started together
    on a new store would both create its tables (one failing on a duplicate type). The first
    holds the store's lock until it commits (PostgreSQL: an advisory lock; SQLite: its write
    lock, taken as the transaction begins), and the next then finds nothing left to do. A
    store already migrated is not locked at all (a seed may hold SQLite's write lock for
    longer than a lock is waited for)."""
    await write_ahead_logging(engine)
    if revision == "head" and await is_current(engine):
        return
    async with engine.execution_options(**{WRITE_FIRST: True}).begin() as connection:
        if connection.dialect.name == "postgresql":
            waiting = "waiting for another process migrating this store"
            await take_store_lock(connection, MIGRATION_LOCK, waiting)
        await connection.run_sync(lambda sync: command.upgrade(alembic_config(sync), revision))


async def downgrade(engine: AsyncEngine, revision: str = "base") -> None:
    async with engine.begin() as connection:
        await connection.run_sync(lambda sync: command.downgrade(alembic_config(sync), revision))


async def is_current(engine: AsyncEngine) -> bool:
    """Whether the store is migrated to the newest revision (reads only)."""

    def check(connection: Connection) -> bool:
        return set(MigrationContext.configure(connection).get_current_heads()) == _revisions()[0]

    async with engine.connect() as connection:
        return await connection.run_sync(check)


# The store's revision, as alembic keeps it: one plain read, for readiness probes
REVISION_QUERY = text("SELECT version_num FROM alembic_version")


async def store_behind(connection: AsyncConnection) -> bool:
    """Whether the store lacks a migration this build needs (`behind`): one read of its
    revision; a store it cannot read a revision of (never migrated) lacks them all. A failure
    of the database itself is raised."""
    try:
        revisions = (await connection.execute(REVISION_QUERY)).scalars()
    except DBAPIError as error:
        if as_unavailable(error) is not None:
            raise
        return True
    return behind(revisions)


@cache
def _revisions() -> tuple[frozenset[str], frozenset[str]]:
    """This build's head revisions, and every revision it knows."""
    script = ScriptDirectory.from_config(alembic_config())
    known = frozenset(revision.revision for revision in script.walk_revisions())
    return frozenset(script.get_heads()), known


def behind(revisions: Iterable[str]) -> bool:
    """Whether a store at `revisions` lacks a migration this build needs: it is at a revision
    this build knows other than its head, or at none (a replica still replaying the
    migration `serve` ran on the primary). A revision this build does not know is a newer
    build's, and not behind: a rolling deploy's migrations keep older instances serving."""
    heads, known = _revisions()
    current = set(revisions)
    return not current or (current != heads and current <= known)


async def write_ahead_logging(engine: AsyncEngine) -> None:
    """An SQLite file is put in WAL mode, which the file keeps: a read transaction then keeps
    its snapshot while a seed writes, and a seed commits while requests read (a rollback
    journal would make it wait for every reader, and give up after its busy timeout). Set
    outside any transaction, as SQLite requires; PostgreSQL has nothing to set."""
    if engine.dialect.name != "sqlite":
        return
    async with engine.connect() as connection:
        outside = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await outside.exec_driver_sql("PRAGMA journal_mode=WAL")
