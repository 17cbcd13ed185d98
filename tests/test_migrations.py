"""Migrations are the only way the schema changes, so they must build exactly the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlmodel import SQLModel

import db.models  # noqa: F401  (registers every table on the metadata)
from db import migrate
from tests.conftest import Store


def _differences(connection) -> list:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, SQLModel.metadata)


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
        assert await connection.run_sync(table_names) == set(SQLModel.metadata.tables)


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
