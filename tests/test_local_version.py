"""The data version of an SQLite store read in the calling thread (db/local.py): what the
last seed committed, at once; no such reader for PostgreSQL; None, never an error, where the
file cannot be read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.dialects import sqlite

from db import state
from db.local import LocalVersion, local_version_reader
from db.raw import precompile
from seeds.read import read_seeds
from seeds.write import write_seeds
from tests.conftest import Store, read_snapshot
from tests.factories import graph_data, write_seed_tree


async def test_it_reads_what_each_seed_committed(
    empty_store: Store, seed_plan: Any, tmp_path: Path
) -> None:
    reader = local_version_reader(empty_store.engine)
    if empty_store.engine.dialect.name != "sqlite":
        assert reader is None  # PostgreSQL: read through the pool, coalesced
        return
    assert reader is not None
    try:
        await write_seeds(empty_store.engine, seed_plan)
        assert reader.read() == (await read_snapshot(empty_store.engine)).version
        data = graph_data()
        data["programs"][0]["description"] = "An edited description."
        await write_seeds(empty_store.engine, read_seeds(write_seed_tree(tmp_path / "s", data)))
        after = (await read_snapshot(empty_store.engine)).version
        assert reader.read() == after  # the same connection sees the new commit at once
    finally:
        reader.close()


def test_a_file_it_cannot_read_is_none(tmp_path: Path) -> None:
    not_a_store = tmp_path / "not-a-store.db"
    not_a_store.write_bytes(b"this is not an SQLite file" * 100)
    sql = precompile(state.version_query(), sqlite.dialect())
    assert LocalVersion(not_a_store, sql).read() is None
    assert LocalVersion(tmp_path / "missing.db", sql).read() is None
