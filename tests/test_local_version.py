"""The data version of an SQLite store read in the calling thread (db/local.py): what the
last seed committed, at once; no such reader for PostgreSQL; None, never an error, where the
file cannot be read."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.dialects import sqlite

from db import state
from db.local import IS_INIT, WAL_INDEX_HEADER, LocalVersion, WalIndex, local_version_reader
from db.raw import SqlText, precompile
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


@dataclass(frozen=True)
class CountedSql(SqlText):
    """The version query, counting the statements run (each asks for its arguments once)."""

    runs: list[int] | None = None

    def arguments(self, parameters: dict[str, Any]) -> list[Any]:
        assert self.runs is not None
        self.runs.append(1)
        return super().arguments(parameters)


def counted_version_sql() -> CountedSql:
    plain = precompile(state.version_query(), sqlite.dialect())
    return CountedSql(plain.text, plain.names, plain.defaults, plain.postgres, runs=[])


@pytest.mark.parametrize("backend", ["sqlite"])  # (a PostgreSQL store has no wal-index)
async def test_while_nothing_commits_no_statement_runs(
    empty_store: Store, seed_plan: Any, tmp_path: Path
) -> None:
    """The wal-index header stands for the version read under it: reads between seeds cost
    no statement, and the first read after a seed runs one and sees what it committed."""
    assert empty_store.engine.dialect.name == "sqlite"
    database = empty_store.engine.url.database
    assert database is not None
    sql = counted_version_sql()
    assert sql.runs is not None
    reader = LocalVersion(Path(database), sql)
    try:
        await write_seeds(empty_store.engine, seed_plan)
        before = (await read_snapshot(empty_store.engine)).version
        assert [reader.read() for _ in range(50)] == [before] * 50
        assert len(sql.runs) == 2  # the first maps the header, the second reads under it
        data = graph_data()
        data["programs"][0]["description"] = "An edited description."
        await write_seeds(empty_store.engine, read_seeds(write_seed_tree(tmp_path / "s", data)))
        after = (await read_snapshot(empty_store.engine)).version
        assert after != before
        assert reader.read() == after
        assert len(sql.runs) == 3
        assert [reader.read() for _ in range(10)] == [after] * 10
        assert len(sql.runs) == 3
    finally:
        reader.close()


def posix_locks_on(path: Path) -> list[tuple[str, str, str]]:
    """This process's POSIX locks on the file, as the kernel lists them (type, start, end)."""
    inode = str(path.stat().st_ino)
    found = []
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if fields[1] == "->":  # a lock waiting for this one, not one held
            continue
        kind, mode, pid, device, start, end = fields[1], fields[3], fields[4], *fields[5:8]
        if kind == "POSIX" and pid == str(os.getpid()) and device.split(":")[-1] == inode:
            found.append((mode, start, end))
    return sorted(found)


def test_reading_leaves_sqlites_own_locks_in_place(tmp_path: Path) -> None:
    """POSIX locks belong to the process: closing any descriptor of the `-shm` file would drop
    SQLite's own, among them the one telling other processes the wal-index is in use (the next
    to open the store would rebuild it under us). The reader leaves them as they were."""
    path = tmp_path / "store.db"
    with sqlite3.connect(path) as setup:
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute("CREATE TABLE store_state (key TEXT PRIMARY KEY, value INTEGER)")
        setup.execute("INSERT INTO store_state VALUES ('data_version', 7)")
    held = sqlite3.connect(path)  # as the pool's connections stay open beside the reader
    try:
        held.execute("SELECT value FROM store_state").fetchone()
        shm = Path(f"{path}-shm")
        before = posix_locks_on(shm)
        assert before, "SQLite holds no lock on the wal-index: nothing to check"
        reader = LocalVersion(path, counted_version_sql())
        assert [reader.read() for _ in range(3)] == [7, 7, 7]
        reader.close()
        assert posix_locks_on(shm) == before
    finally:
        held.close()


def test_outside_wal_mode_every_read_runs_the_statement(tmp_path: Path) -> None:
    path = tmp_path / "rollback-journal.db"
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA journal_mode=DELETE")
        connection.execute("CREATE TABLE store_state (key TEXT PRIMARY KEY, value INTEGER)")
        connection.execute("INSERT INTO store_state VALUES ('data_version', 7)")
    sql = counted_version_sql()
    assert sql.runs is not None
    reader = LocalVersion(path, sql)
    try:
        assert [reader.read() for _ in range(3)] == [7, 7, 7]
        assert len(sql.runs) == 3
        with sqlite3.connect(path) as connection:
            connection.execute("UPDATE store_state SET value = 8")
        assert reader.read() == 8
    finally:
        reader.close()


@pytest.mark.skipif(sys.byteorder != "little", reason="the header below is written little-endian")
def test_a_header_caught_mid_write_is_not_trusted(tmp_path: Path) -> None:
    """SQLite writes the second copy, then the first: copies that differ, or a header not yet
    built, say nothing."""
    header = bytearray(WAL_INDEX_HEADER)
    header[:4] = (3007000).to_bytes(4, "little")  # the wal-index version
    header[8:12] = (5).to_bytes(4, "little")  # its change counter
    header[IS_INIT] = 1
    newer = bytearray(header)
    newer[8:12] = (6).to_bytes(4, "little")
    unbuilt = bytearray(header)
    unbuilt[IS_INIT] = 0

    def header_of(first: bytes, second: bytes) -> bytes | None:
        shm = tmp_path / "store.db-shm"
        shm.write_bytes(first + second + bytes(32768 - 2 * WAL_INDEX_HEADER))
        return WalIndex(shm).header()

    assert header_of(bytes(header), bytes(header)) == bytes(header)
    assert header_of(bytes(header), bytes(newer)) is None  # the second copy already moved
    assert header_of(bytes(unbuilt), bytes(unbuilt)) is None


# Run in a process of its own (its address space is bounded to make mapping fail): whether
# another process finds the wal-index's DMS byte locked, SQLite's sign that a connection has
# the store open, before and after a mapping of the header fails.
FAILED_MAPPING = """
import os, resource, sqlite3, subprocess, sys
from pathlib import Path
from db.local import WalIndex

store = sys.argv[1]
connection = sqlite3.connect(store)
connection.execute("PRAGMA journal_mode=WAL")
connection.execute("CREATE TABLE t (x)")
connection.commit()
connection.execute("SELECT * FROM t").fetchall()
probe = (
    "import fcntl, os, struct, sys; fd = os.open(sys.argv[1], os.O_RDWR); "
    "found = fcntl.fcntl(fd, fcntl.F_GETLK, struct.pack('hhqqi', fcntl.F_WRLCK, 0, 128, 1, 0)); "
    "print(struct.unpack('hhqqi', found)[0] != fcntl.F_UNLCK)"
)

def locked():
    run = subprocess.run([sys.executable, "-c", probe, store + "-shm"], capture_output=True)
    return run.stdout.decode().strip()

print("before", locked())
soft, hard = resource.getrlimit(resource.RLIMIT_AS)
size = next(line for line in open("/proc/self/status") if line.startswith("VmSize"))
resource.setrlimit(resource.RLIMIT_AS, (int(size.split()[1]) * 1024, hard))
try:
    WalIndex(Path(store + "-shm"))
    print("mapped")
except OSError as error:
    print("failed", error.errno)
resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
print("after", locked())
"""


def test_a_mapping_that_fails_leaves_sqlites_locks_in_place(tmp_path: Path) -> None:
    """Python's `mmap.mmap` maps a duplicate descriptor and closes it when mapping fails (out
    of address space, or of mappings): the process's POSIX locks on the `-shm` file went with
    it, SQLite's own DMS lock among them (review). The header is mapped on our own descriptor."""
    run = subprocess.run(
        [sys.executable, "-c", FAILED_MAPPING, str(tmp_path / "store.db")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    lines = run.stdout.split("\n")
    assert lines[0] == "before True", run.stdout + run.stderr
    assert lines[1].startswith("failed"), run.stdout + run.stderr  # (the bound made it fail)
    assert lines[2] == "after True", run.stdout + run.stderr
