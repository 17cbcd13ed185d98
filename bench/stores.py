"""The stores the benchmark reads: the seed data and a generated large store, on both backends.

PostgreSQL stores live in databases of their own (`impact_bench_*`, never `test`); SQLite
stores in bench/.cache/. Large stores are cached by seed number, size, migration head and
generator version: a store is marked complete only after its load finished, so an
interrupted load is rebuilt rather than trusted. Their rows come in by COPY or executemany,
not through the seed, so each load then records what a seed records (db/state.py): a data
version and the longest list of each kind, which the cost estimate prices lists by.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncSession

from bench.generate import GENERATOR_VERSION, Size, generate
from bench.load import copy_into_postgres, insert_into_sqlite
from db import migrate, state
from db.engine import create_engine

BENCH_DIR = Path(__file__).resolve().parent
CACHE_DIR = BENCH_DIR / ".cache"
COMPLETE = "impact-bench store, load complete"
LINK_AND_ENTITY_TABLES = (
    "programs",
    "partners",
    "locations",
    "program_partners",
    "program_locations",
    "partner_locations",
)


@dataclass(frozen=True)
class Store:
    dataset: str  # "seed" or "large"
    backend: str  # "postgresql" or "sqlite"
    url: str  # DATABASE_URL for our server; PostGraphile takes the PostgreSQL ones as they are


def _with_database(admin_url: str, database: str) -> str:
    base, _, _ = admin_url.rpartition("/")
    return f"{base}/{database}"


def _migration_head() -> str:
    return ",".join(sorted(ScriptDirectory(str(migrate.MIGRATIONS)).get_heads()))


def cache_key(seed: int, size: Size) -> str:
    """Readable seed and size, plus a hash of what else makes the rows and tables."""
    digest = hashlib.sha256(
        f"{seed}:{size.programs}:{_migration_head()}:{GENERATOR_VERSION}".encode()
    ).hexdigest()[:8]
    return f"{seed}_{size.programs}_{digest}"


async def _database_state(admin_url: str, database: str) -> str | None:
    """None if absent, else the database's comment ('' when it has none)."""
    connection = await asyncpg.connect(admin_url)
    try:
        row = await connection.fetchrow(
            "SELECT coalesce(shobj_description(oid, 'pg_database'), '') AS comment "
            "FROM pg_database WHERE datname = $1",
            database,
        )
        return None if row is None else str(row["comment"])
    finally:
        await connection.close()


async def _admin(admin_url: str, *statements: str) -> None:
    connection = await asyncpg.connect(admin_url)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


async def _migrate(url: str) -> None:
    engine = create_engine(url)
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()


async def _record_state(url: str) -> None:
    """Measure the loaded store and record its sizes, as every seed does."""
    engine = create_engine(url)
    try:
        async with AsyncSession(engine) as session, session.begin():
            await state.record(session, changed=True)
    finally:
        await engine.dispose()


def _seed_with_cli(url: str) -> None:
    """`impact-graph seed`: idempotent, so it runs every time and follows seed changes."""
    command = Path(sys.executable).with_name("impact-graph")
    subprocess.run(  # noqa: S603 (our own console command)
        [str(command), "seed"],
        env={**os.environ, "DATABASE_URL": url},
        check=True,
        stdout=subprocess.DEVNULL,
    )


def seed_stores(admin_url: str) -> list[Store]:
    database = "impact_bench_seed"
    if asyncio.run(_database_state(admin_url, database)) is None:
        asyncio.run(_admin(admin_url, f'CREATE DATABASE "{database}"'))
    CACHE_DIR.mkdir(exist_ok=True)
    stores = [
        Store("seed", "postgresql", _with_database(admin_url, database)),
        Store("seed", "sqlite", f"sqlite:///{CACHE_DIR / 'seed.db'}"),
    ]
    for store in stores:
        _seed_with_cli(store.url)
    return stores


def _large_postgres(admin_url: str, seed: int, size: Size, key: str) -> Store:
    database = f"impact_bench_large_{key}"
    url = _with_database(admin_url, database)
    state = asyncio.run(_database_state(admin_url, database))
    if state != COMPLETE:
        if state is not None:
            print(f"{database} is incomplete (an interrupted load); rebuilding it")
            asyncio.run(_admin(admin_url, f'DROP DATABASE "{database}"'))
        asyncio.run(_admin(admin_url, f'CREATE DATABASE "{database}"'))
        asyncio.run(_migrate(url))
        print(f"generating the large store (seed {seed}, {size.programs:,} programs)")
        asyncio.run(copy_into_postgres(url, generate(seed, size)))
        asyncio.run(_record_state(url))
        asyncio.run(_admin(admin_url, f"COMMENT ON DATABASE \"{database}\" IS '{COMPLETE}'"))
    return Store("large", "postgresql", url)


def _large_sqlite(seed: int, size: Size, key: str) -> Store:
    path = CACHE_DIR / f"large_{key}.db"
    if not path.exists():
        partial = path.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        asyncio.run(_migrate(f"sqlite:///{partial}"))
        print(f"generating the large store (seed {seed}, {size.programs:,} programs)")
        insert_into_sqlite(partial, generate(seed, size))
        asyncio.run(_record_state(f"sqlite:///{partial}"))
        partial.rename(path)
    return Store("large", "sqlite", f"sqlite:///{path}")


def large_stores(admin_url: str, seed: int, size: Size) -> list[Store]:
    CACHE_DIR.mkdir(exist_ok=True)
    key = cache_key(seed, size)
    return [_large_postgres(admin_url, seed, size, key), _large_sqlite(seed, size, key)]


async def _counts(url: str) -> dict[str, int]:
    connection = await asyncpg.connect(url)
    try:
        return {
            table: int(await connection.fetchval(f"SELECT count(*) FROM {table}"))  # noqa: S608
            for table in LINK_AND_ENTITY_TABLES
        }
    finally:
        await connection.close()


def row_counts(store: Store) -> dict[str, int]:
    """Rows of the entity and link tables the benchmark walks (PostgreSQL stores only)."""
    return asyncio.run(_counts(store.url))
