"""Migrations are the only way the schema changes, so they must build exactly the models."""

from __future__ import annotations

import asyncio
import importlib
import sqlite3

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlmodel import SQLModel

import db.models  # noqa: F401  (registers every table on the metadata)
from db import migrate
from db.engine import create_engine
from db.search import is_store_own
from tests.conftest import Store


def _not_keyset_index(name, type_, *_) -> bool:
    """Keyset indexes are byte-wise on PostgreSQL (COLLATE "C"), which a model cannot state
    for both stores; migration 0004 makes them and the test below checks they exist. Search
    indexes of one store (migration 0008) are checked by tests/test_search.py."""
    if name and is_store_own(name):
        return False
    return not (type_ == "index" and name and "_keyset_" in name)


def _differences(connection) -> list:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "include_name": _not_keyset_index}
    )
    return compare_metadata(context, SQLModel.metadata)


async def test_keyset_indexes_exist_in_the_order_pages_are_read(empty_store: Store):
    keyset = importlib.import_module("db.migrations.versions.0004_keyset_indexes")

    def names(connection) -> set[str]:
        inspector = inspect(connection)
        return {
            index["name"]
            for table in inspector.get_table_names()
            for index in inspector.get_indexes(table)
        }

    async with empty_store.engine.connect() as connection:
        found = await connection.run_sync(names)
    assert {keyset._name(*entry) for entry in keyset.KEYSET} <= found


async def test_migrated_store_matches_the_models(empty_store: Store):
    async with empty_store.engine.connect() as connection:
        assert await connection.run_sync(_differences) == []


async def test_downgrade_and_upgrade_round_trip(empty_store: Store):
    def table_names(connection) -> set[str]:
        return set(inspect(connection).get_table_names()) - {"alembic_version"}

    await migrate.downgrade(empty_store.engine, "base")
    async with empty_store.engine.connect() as connection:
        assert await connection.run_sync(table_names) == set()
    await migrate.upgrade(empty_store.engine)
    async with empty_store.engine.connect() as connection:
        names = await connection.run_sync(table_names)
    assert {name for name in names if not is_store_own(name)} == set(SQLModel.metadata.tables)


async def test_two_processes_migrating_a_new_store_at_once_both_succeed(empty_store: Store):
    """Every `serve` migrates: two hosts started together on a new store both did, and one
    failed on a duplicate type (PostgreSQL) or a table that already exists. One waits for the
    other's commit, then finds nothing left to do."""
    await migrate.downgrade(empty_store.engine, "base")
    other = create_engine(empty_store.database_url, search_path=empty_store.search_path)
    try:
        await asyncio.gather(migrate.upgrade(empty_store.engine), migrate.upgrade(other))
    finally:
        await other.dispose()
    assert await migrate.is_current(empty_store.engine)
    async with empty_store.engine.connect() as connection:
        assert await connection.run_sync(_differences) == []


async def test_a_store_already_migrated_is_not_locked_to_migrate(tmp_path):
    """`serve` migrates as it starts: on a migrated SQLite store while a seed held its write
    lock (longer than the driver's 5 s wait), it failed with "database is locked"."""
    path = tmp_path / "store.db"
    engine = create_engine(f"sqlite:///{path}")
    try:
        await migrate.upgrade(engine)
        seeding = sqlite3.connect(path, isolation_level=None)
        try:
            seeding.execute("BEGIN IMMEDIATE")  # a seed's transaction, holding the write lock
            async with asyncio.timeout(3):
                await migrate.upgrade(engine)  # nothing to do: done without waiting
        finally:
            seeding.close()
    finally:
        await engine.dispose()


async def test_upgrade_backfills_sort_and_search_keys(empty_store: Store):
    await migrate.downgrade(empty_store.engine, "0002")
    async with empty_store.engine.begin() as connection:
        await connection.execute(
            text("INSERT INTO companies (slug, name) VALUES ('acme', 'Ärzte Inc')")
        )
        await connection.execute(
            text("INSERT INTO partners (slug, name, short_name) VALUES ('p', 'Straße', 'STR')")
        )
    await migrate.upgrade(empty_store.engine)
    async with empty_store.engine.connect() as connection:
        company = (
            await connection.execute(text("SELECT sort_key, search_text FROM companies"))
        ).one()
        partner = (
            await connection.execute(text("SELECT sort_key, search_text FROM partners"))
        ).one()
    assert tuple(company) == ("ärzte inc", "ärzte inc")
    assert tuple(partner) == ("strasse", "strasse\x1fstr")


async def test_upgrade_keys_existing_citations_by_their_span(empty_store: Store):
    await migrate.downgrade(empty_store.engine, "0004")
    async with empty_store.engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO documents (slug, title, publisher, source_file, text)"
                " VALUES ('doc', 'Doc', 'Pub', 'doc.txt', 'Hello world')"
            )
        )
        await connection.execute(
            text(
                'INSERT INTO citations (subject_type, subject_id, document_id, quote, start, "end",'
                " position) VALUES ('companies', 1, 1, 'world', 6, 11, 0)"
            )
        )
    await migrate.upgrade(empty_store.engine)
    async with empty_store.engine.connect() as connection:
        keys = (await connection.execute(text("SELECT slug FROM citations"))).scalars().all()
    assert keys == ["doc-6-11"]
