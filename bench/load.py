"""Bulk loading of generated rows into a migrated store: COPY into PostgreSQL, batches into SQLite.

The tables are created by the project's own migrations beforehand; this only fills them, in
the order of `Tables.rows` (parents first), with a progress bar over all rows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import asyncpg
from tqdm import tqdm

import db.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from bench.generate import Row, Tables, columns

BATCH = 50_000


def _batches(rows: Sequence[Row], names: list[str]) -> Iterator[list[tuple[Any, ...]]]:
    for start in range(0, len(rows), BATCH):
        yield [tuple(row.get(name) for name in names) for row in rows[start : start + BATCH]]


def _progress(tables: Tables, store: str) -> tqdm[Any]:
    return tqdm(total=tables.total(), unit=" rows", unit_scale=True, desc=f"loading {store}")


async def copy_into_postgres(url: str, tables: Tables) -> None:
    """COPY every table in one transaction, then fix the id sequences and VACUUM ANALYZE.

    The analyze is what autovacuum would do minutes later anyway; doing it now makes the
    first benchmark run see the same plans as later ones.
    """
    connection = await asyncpg.connect(url)
    try:
        with _progress(tables, "PostgreSQL") as progress:
            async with connection.transaction():
                for table, rows in tables.rows.items():
                    names = columns(table, rows)
                    for batch in _batches(rows, names):
                        await connection.copy_records_to_table(table, records=batch, columns=names)
                        progress.update(len(batch))
                    await connection.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608 (our table names)
                        f"(SELECT coalesce(max(id), 1) FROM {table}))"
                    )
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()


def insert_into_sqlite(path: Path, tables: Tables) -> None:
    """executemany in batches, one transaction; no ANALYZE, as nothing runs one in production."""
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA synchronous=OFF")
        with _progress(tables, "SQLite") as progress:
            for table, rows in tables.rows.items():
                names = columns(table, rows)
                marks = ", ".join("?" for _ in names)
                statement = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})"  # noqa: S608
                for batch in _batches(rows, names):
                    connection.executemany(statement, batch)
                    progress.update(len(batch))
        connection.commit()
    finally:
        connection.close()
