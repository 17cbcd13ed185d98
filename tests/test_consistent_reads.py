"""Every response reads one snapshot of the store: while seeds alternate between two seed sets
under clients querying a traversal, through both executors, on SQLite and PostgreSQL, every
answer is wholly the old store's or wholly the new one's, never a mix of the two (a partner
edge without its citations, a program listing a partner that no longer lists it)."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from sqlmodel import col

from core.errors import SnapshotEnded
from db import migrate
from db.engine import create_engine, snapshot_sessions
from db.models import Program
from db.watch import StoreWatch
from loaders.reader import Reader
from seeds.read import SeedPlan, read_seeds
from seeds.write import write_seeds
from tests.conftest import Store, make_client, read_snapshot, throwaway_database
from tests.factories import graph_data, write_seed_tree
from tests.serving import served

SEEDS = 10  # seeds alternating between the two sets while the clients query
CLIENTS = 4
DEADLINE = 60.0  # seconds for the whole alternation, however slow the machine

# Programs, their partner edges with the edges' citations, each partner and its programs: the
# second seed set changes every level, so a request reading two snapshots shows it.
TRAVERSAL = """
  programs(first: 50) {
    nodes {
      slug description
      partners(first: 20) {
        edges {
          citations { quote }
          node { slug description programs(first: 20) { nodes { slug } } }
        }
      }
    }
  }
"""
# The same traversal for each executor: introspection is the reference executor's alone.
QUERIES = {
    "compiled": f"{{ {TRAVERSAL} }}",
    "reference": f"{{ __schema {{ queryType {{ name }} }} {TRAVERSAL} }}",
}
UNLINKED = ("global-social-justice-fund", "apia-vote")  # a link the second set drops


def _second_set() -> dict[str, Any]:
    """The seed data with every program's and partner's description changed and one program's
    partner unlinked (its edge and the edge's citations go)."""
    data = graph_data()
    for item in (*data["programs"], *data["partners"]):
        item["description"] = f"Reseeded: {item.get('description') or ''}"
    program, partner = UNLINKED
    (found,) = (p for p in data["programs"] if p["slug"] == program)
    found["partners"] = [link for link in found["partners"] if link["partner"] != partner]
    return data


@dataclass
class Served:
    base: str
    database_url: str
    plans: tuple[SeedPlan, SeedPlan]


@pytest.fixture
async def reseeded(backend: str, tmp_path: Path) -> AsyncIterator[Served]:
    """`impact-graph serve` (choosing its executor, `auto`) over a store of its own seeded
    with the first set, and the plans of both sets."""
    first = write_seed_tree(tmp_path / "first", graph_data())
    plans = (read_seeds(first), read_seeds(write_seed_tree(tmp_path / "second", _second_set())))
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
        await _seed(url, plans[0], migrate_first=True)
        with served(tmp_path, {"DATABASE_URL": url, "IMPACT_GRAPH_SEEDS_DIR": str(first)}) as base:
            yield Served(base, url, plans)
    else:
        async with throwaway_database() as url:
            await _seed(url, plans[0], migrate_first=True)
            settings = {"DATABASE_URL": url, "IMPACT_GRAPH_SEEDS_DIR": str(first)}
            with served(tmp_path, settings) as base:
                yield Served(base, url, plans)


async def _seed(url: str, plan: SeedPlan, *, migrate_first: bool = False) -> None:
    """What `impact-graph seed` does with the plan it read (the files are read once here, so
    that seeds follow each other fast)."""
    engine = create_engine(url)
    try:
        if migrate_first:
            await migrate.upgrade(engine)
        await write_seeds(engine, plan)
    finally:
        await engine.dispose()


async def _ask(http: httpx.AsyncClient, executor: str) -> tuple[str, Any]:
    response = await http.post("/graphql", json={"query": QUERIES[executor]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body["errors"]
    return response.headers["x-executor"], body["data"]


async def test_every_answer_is_one_snapshot_while_seeds_alternate(reseeded: Served) -> None:
    async with httpx.AsyncClient(base_url=reseeded.base, timeout=30) as http:
        # what each executor answers under each set, with nothing changing meanwhile
        expected: dict[str, list[Any]] = {executor: [] for executor in QUERIES}
        for plan in reseeded.plans[1], reseeded.plans[0]:
            await _seed(reseeded.database_url, plan)
            for executor in QUERIES:
                answered_by, data = await _ask(http, executor)
                assert answered_by == executor
                expected[executor].append(data)
        for old, new in expected.values():
            assert old != new

        answers: list[tuple[str, str, Any]] = []
        seeding = True

        async def client(executors: itertools.cycle[str]) -> None:
            while seeding:
                executor = next(executors)
                answered_by, data = await _ask(http, executor)
                answers.append((executor, answered_by, data))

        clients = [
            asyncio.create_task(client(itertools.cycle(sorted(QUERIES, reverse=n % 2 == 1))))
            for n in range(CLIENTS)
        ]
        started = time.monotonic()
        try:
            engine = create_engine(reseeded.database_url)
            try:
                for number in range(SEEDS):
                    await write_seeds(engine, reseeded.plans[(number + 1) % 2])
                    assert time.monotonic() - started < DEADLINE
                    await asyncio.sleep(0.02)  # let the clients' requests start meanwhile
            finally:
                await engine.dispose()
        finally:
            seeding = False
            await asyncio.gather(*clients)

    mixed: dict[str, int] = dict.fromkeys(QUERIES, 0)
    for executor, answered_by, data in answers:
        assert answered_by == executor
        mixed[executor] += data not in expected[executor]
    assert not any(mixed.values()), f"answers mixing two stores, of {len(answers)}: {mixed}"
    # the clients really did read both stores through both executors
    for executor, sets in expected.items():
        for data in sets:
            assert any(e == executor and d == data for e, _, d in answers), executor


# --- the snapshot, step by step -------------------------------------------------------------------

PROGRAM = UNLINKED[0]


def _description(session: Any) -> Any:
    return session.scalar(select(col(Program.description)).where(col(Program.slug) == PROGRAM))


async def test_a_requests_reads_keep_their_snapshot_while_a_seed_commits(
    empty_store: Store, seed_plan: SeedPlan, tmp_path: Path
) -> None:
    """The reference executor's reader, with a seed committing between two of its reads: the
    second read and the version still see the store as the first did (and the seed is not
    held up by the open read, on SQLite neither: the file is in WAL mode)."""
    await write_seeds(empty_store.engine, seed_plan)
    before = (await read_snapshot(empty_store.engine)).version
    reader = Reader(snapshot_sessions(empty_store.engine))
    try:
        old = await reader.run(_description)
        await write_seeds(empty_store.engine, read_seeds(write_seed_tree(tmp_path, _second_set())))
        assert await reader.run(_description) == old
        assert await reader.version() == before
    finally:
        await reader.close()
    after = Reader(snapshot_sessions(empty_store.engine))
    try:
        assert await after.run(_description) == f"Reseeded: {old}"
        assert (await after.version() or 0) > before
    finally:
        await after.close()


async def test_a_reader_whose_statement_failed_reads_no_other_snapshot(store: Store) -> None:
    """A failed statement ends the transaction, and the request's later reads fail rather
    than begin another (its answer would mix two stores): the answer, which carries the
    errors, names no version."""
    reader = Reader(snapshot_sessions(store.engine))
    try:
        assert await reader.version() is None  # nothing read yet: nothing to name
        await reader.run(_description)
        assert await reader.version() == (await read_snapshot(store.engine)).version
        with pytest.raises(Exception, match="no_such_table"):
            await reader.run(lambda session: session.execute(text("SELECT * FROM no_such_table")))
        with pytest.raises(SnapshotEnded):
            await reader.run(_description)
        assert await reader.version() is None
    finally:
        await reader.close()


SLOW = {  # a statement that runs a few tenths of a second
    "postgresql": "SELECT pg_sleep(0.3)",
    "sqlite": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000000) "
    "SELECT count(*) FROM n",
}


async def test_a_read_whose_caller_is_cancelled_finishes_and_keeps_the_snapshot(
    store: Store,
) -> None:
    """A caller cancelled midway (graphql-core stops the siblings of a field whose error nulls
    their parent) leaves its statement to finish: the transaction stays whole, so the
    request's other reads go on in the same snapshot, which the version still names."""
    reader = Reader(snapshot_sessions(store.engine))
    try:
        old = await reader.run(_description)
        slow = text(SLOW[store.backend])
        cancelled = asyncio.create_task(reader.run(lambda session: session.execute(slow)))
        await asyncio.sleep(0.05)
        cancelled.cancel()  # as graphql-core stops the siblings, without waiting for them
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        assert await reader.run(_description) == old  # after the slow statement, in turn
        assert await reader.version() == (await read_snapshot(store.engine)).version
    finally:
        await reader.close()


async def test_a_read_that_fails_after_its_caller_left_is_logged(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """Nobody awaits a read whose caller was cancelled; if it fails (our bug), its error is
    logged with its stack here, as the request's later reads fail as `SnapshotEnded`, which
    is not logged again."""
    reader = Reader(snapshot_sessions(store.engine))
    slow = text(SLOW[store.backend])

    async def fails(session: Any) -> None:
        await session.execute(slow)
        await session.execute(text("SELECT * FROM no_such_table"))

    try:
        await reader.run(_description)
        left = asyncio.create_task(reader.run(fails))
        await asyncio.sleep(0.05)
        left.cancel()
        with caplog.at_level(logging.ERROR, logger="impact_graph.db"):
            with pytest.raises(asyncio.CancelledError):
                await left
            with pytest.raises(SnapshotEnded):  # in turn: after the failed read
                await reader.run(_description)
        (record,) = [r for r in caplog.records if r.name == "impact_graph.db"]
        assert record.getMessage() == "a read failed after its field was cancelled"
        assert record.exc_info is not None
        assert "no_such_table" in str(record.exc_info[1])
    finally:
        await reader.close()


async def test_an_interrupted_reader_names_no_snapshot_and_reads_no_other(store: Store) -> None:
    """`interrupt` (the request's deadline) cancels the statement under way: the transaction
    is left to be rolled back, the version is not asked of it, and nothing else is read,
    even when asked before the interrupted read has wound down."""
    reader = Reader(snapshot_sessions(store.engine))
    try:
        await reader.run(_description)
        slow = text("SELECT pg_sleep(5)" if store.backend == "postgresql" else SLOW["sqlite"])
        interrupted = asyncio.create_task(reader.run(lambda session: session.execute(slow)))
        await asyncio.sleep(0.05)
        started = time.monotonic()
        reader.interrupt()
        version = asyncio.create_task(reader.version())  # asked while it winds down
        await asyncio.sleep(0)
        assert not interrupted.done()
        with pytest.raises(asyncio.CancelledError):
            await interrupted
        assert await version is None
        with pytest.raises(SnapshotEnded):  # nor is another snapshot begun
            await reader.run(_description)
        if store.backend == "postgresql":  # its statement stopped, not waited for (an
            assert time.monotonic() - started < 1  # SQLite statement runs on in its thread)
    finally:
        await reader.close()


@pytest.mark.parametrize("executor", sorted(QUERIES))
async def test_an_answer_is_tagged_with_the_version_its_snapshot_read(
    store: Store, executor: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The endpoint reads the data version before either executor runs; a seed committing in
    between would leave it behind. The answer's tag names the version its own reads saw."""
    current = (await read_snapshot(store.engine)).version

    async def behind(_watch: StoreWatch, _deadline: float) -> int:
        return current - 1  # as read just before a seed committed

    monkeypatch.setattr(StoreWatch, "version", behind)
    async with make_client(store.engine, executor=executor) as http:
        answered = await http.get("/graphql", params={"query": QUERIES["compiled"]})
    assert answered.status_code == 200
    assert answered.headers["x-executor"] == executor
    assert answered.headers["etag"].startswith(f'"v{current}-')


@pytest.mark.postgres
async def test_a_requests_transaction_is_read_only_even_over_an_engine_that_writes(
    empty_store: Store,
) -> None:
    """A request's snapshot says READ ONLY itself: over an engine that may write (as tests
    hand the app; the server's own refuses writes too), its transaction refuses them."""
    sessions = snapshot_sessions(empty_store.engine)
    async with sessions() as session:
        assert await session.scalar(text("SHOW transaction_isolation")) == "repeatable read"
        assert await session.scalar(text("SHOW transaction_read_only")) == "on"
