"""Fixtures: every store-backed test runs against SQLite and against PostgreSQL.

PostgreSQL tests use a throwaway schema in the database named by TEST_POSTGRES_URL
(default postgresql://postgres@127.0.0.1:5432/test). They fail, never skip, when it is
unreachable, unless IMPACT_GRAPH_REQUIRE_POSTGRES=0 says a skip is acceptable here.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy import delete, event, func, inspect, select, table, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import await_

from core.config import Settings
from core.logs import OncePerWindow
from db import migrate, state
from db.engine import create_engine
from db.models import StoreState
from db.watch import failed_looks, slow_reads
from seeds.read import SeedPlan, read_seeds
from seeds.write import write_seeds
from server.answers import refusals
from server.app import create_app, not_migrated, unreachable
from server.endpoint import GraphQLEndpoint
from server.errors import outage, timeouts
from tests.assertions import without_cost

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_POSTGRES = os.environ.get("IMPACT_GRAPH_REQUIRE_POSTGRES", "1") != "0"
BACKENDS = ("sqlite", "postgresql")
REFUSED_DATABASE_URL = "postgresql://postgres@127.0.0.1:1/none"  # nothing listens on port 1
# Settings for an app whose store state is read at start-up and then not within a test: the
# periodic look (db/watch.py `snapshot`) reads the data version, and on PostgreSQL a
# read grants a lease, once more than a second passed, which a slow machine makes likely.
NO_STORE_CHECK = {"store_check_seconds": 3600}


@dataclass
class Store:
    backend: str
    engine: AsyncEngine
    database_url: str
    search_path: str | None = None  # the throwaway schema, then public (for extensions)
    schema: str | None = None


EXTENSION_LOCK = 0x1A9_7E57  # the test processes' advisory lock around CREATE EXTENSION


async def _postgres_available() -> str | None:
    engine = create_engine(POSTGRES_URL)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    finally:
        await engine.dispose()
    return None


async def _require_postgres() -> None:
    """Fail (or, where IMPACT_GRAPH_REQUIRE_POSTGRES=0 allows, skip) when it is unreachable."""
    problem = await _postgres_available()
    if problem is not None:
        message = f"PostgreSQL at {POSTGRES_URL} is unreachable ({problem})"
        if REQUIRE_POSTGRES:
            pytest.fail(message + "; set IMPACT_GRAPH_REQUIRE_POSTGRES=0 to skip instead")
        pytest.skip(message)


async def open_store(backend: str, tmp_dir: Path) -> Store:
    """A new, migrated, empty store of the given backend."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_dir / f'store-{uuid.uuid4().hex[:8]}.db'}"
        store = Store(backend, create_engine(url), url)
    else:
        await _require_postgres()
        schema_name = f"ig_test_{uuid.uuid4().hex[:10]}"
        admin = create_engine(POSTGRES_URL)
        async with admin.begin() as connection:
            await connection.execute(text(f'CREATE SCHEMA "{schema_name}"'))
            # Extensions are per database: installed once in public, where every test
            # schema's search path finds them (migration 0008 would otherwise install pg_trgm
            # into the first test schema, and dropping that schema would take it away).
            # (one test process at a time: two creating it at once, one fails on its key)
            await connection.execute(text(f"SELECT pg_advisory_xact_lock({EXTENSION_LOCK})"))
            await connection.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public"))
        await admin.dispose()
        search_path = f'"{schema_name}", public'
        engine = create_engine(POSTGRES_URL, search_path=search_path)
        store = Store(backend, engine, POSTGRES_URL, search_path, schema_name)
    await migrate.upgrade(store.engine)
    return store


async def close_store(store: Store) -> None:
    await store.engine.dispose()
    if store.schema is not None:
        admin = create_engine(POSTGRES_URL)
        async with admin.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA "{store.schema}" CASCADE'))
        await admin.dispose()


@contextlib.asynccontextmanager
async def throwaway_database() -> AsyncIterator[str]:
    """The URL of a new, empty PostgreSQL database beside TEST_POSTGRES_URL's, for a server
    process of its own (a URL cannot pin a schema, as the tests' engines do); dropped after."""
    await _require_postgres()
    name = f"ig_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL)
    try:
        await _outside_a_transaction(admin, f'CREATE DATABASE "{name}"')
        try:
            yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
        finally:
            await _outside_a_transaction(admin, f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.dispose()


async def _outside_a_transaction(engine: AsyncEngine, statement: str) -> None:
    """What PostgreSQL runs only outside a transaction (CREATE and DROP DATABASE)."""
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(text(statement))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`@pytest.mark.postgres` tests run only in their PostgreSQL variant (deselected, not
    skipped, on SQLite: there is nothing to skip)."""
    keep, drop = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_sqlite = callspec is not None and callspec.params.get("backend") == "sqlite"
        (drop if on_sqlite and item.get_closest_marker("postgres") else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="session")
def seed_plan() -> SeedPlan:
    return read_seeds()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
async def store(
    backend: str, seed_plan: SeedPlan, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Store]:
    """The seeded store every read-only test shares."""
    opened = await open_store(backend, tmp_path_factory.mktemp(backend))
    await write_seeds(opened.engine, seed_plan)
    yield opened
    await close_store(opened)


@pytest.fixture(scope="session")
async def unrecorded_store(
    backend: str, seed_plan: SeedPlan, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Store]:
    """The seed data in a store that records no sizes, as one seeded before migration 0006
    measured them: its lists count their page sizes (read-only, shared)."""
    opened = await open_store(backend, tmp_path_factory.mktemp(f"{backend}-unrecorded"))
    await write_seeds(opened.engine, seed_plan)
    async with opened.engine.begin() as connection:
        await connection.execute(delete(StoreState))
    yield opened
    await close_store(opened)


@pytest.fixture(scope="module")
async def both_stores(
    seed_plan: SeedPlan, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[dict[str, Store]]:
    """The seed data in a store of each backend, for tests comparing their answers."""
    stores = {}
    for name in BACKENDS:
        store = await open_store(name, Path(tmp_path_factory.mktemp(f"both-{name}")))
        await write_seeds(store.engine, seed_plan)
        stores[name] = store
    yield stores
    for store in stores.values():
        await close_store(store)


THROTTLED_LOGS = (outage, timeouts, refusals, slow_reads, failed_looks, not_migrated, unreachable)


@pytest.fixture(autouse=True)
def fresh_log_windows() -> None:
    """Each test's first line of a kind logged once a window passes (server/errors.py's
    outage lines, the cache's refusals, the store's slow reads), whatever the tests before
    it in this process logged."""
    for window in (found for log in THROTTLED_LOGS for found in log.filters):
        assert isinstance(window, OncePerWindow)
        window.last.clear()
        window.left_out.clear()


@pytest.fixture
async def empty_store(backend: str, tmp_path: Path) -> AsyncIterator[Store]:
    """A migrated, unseeded store of its own, for tests that write."""
    opened = await open_store(backend, tmp_path)
    yield opened
    await close_store(opened)


async def read_snapshot(engine: AsyncEngine) -> state.StoreSnapshot:
    async with engine.connect() as connection:
        return await state.read(connection)


@contextlib.asynccontextmanager
async def make_client(
    engine: AsyncEngine, tracer_provider: TracerProvider | None = None, **settings: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a fresh app over `engine`, the app started and stopped as a server would
    (httpx runs no lifespan): what the app holds of the engine's pool goes back at the end.
    With `tracer_provider`, the app's spans go to it."""
    app = create_app(Settings(**settings), engine=engine, tracer_provider=tracer_provider)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as http,
    ):
        yield http


@pytest.fixture(scope="session")
async def client(store: Store) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the real ASGI app over the seeded store."""
    async with make_client(store.engine) as http:
        yield http


@pytest.fixture(scope="session")
async def reference_client(store: Store) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app that answers everything with the reference executor (Strawberry,
    resolvers, loaders), for tests of that executor's own workings: every request executes
    (no response cache, which would answer a query an earlier test sent)."""
    async with make_client(store.engine, executor="reference", cache=False) as http:
        yield http


@pytest.fixture
async def refused_client() -> AsyncIterator[httpx.AsyncClient]:
    """A client for an app whose database refuses every connection."""
    engine = create_engine(REFUSED_DATABASE_URL)
    async with make_client(engine) as http:
        yield http
    await engine.dispose()


GraphQL = Callable[..., Any]


@pytest.fixture(scope="session")
def graphql(client: httpx.AsyncClient) -> GraphQL:
    """POST a query; return the parsed body (asserting a 200 unless `status` says otherwise)."""

    async def run(
        query: str, variables: dict[str, Any] | None = None, *, status: int = 200
    ) -> dict[str, Any]:
        response = await client.post("/graphql", json={"query": query, "variables": variables})
        assert response.status_code == status, response.text
        return without_cost(response.json())

    return run


NOT_READS = ("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA", "SET ", "RESET ", "-- ")
# What FTS5 reads of its own tables when a connection first opens the index (its config),
# which SQLite's trace reports as a statement of its own.
FTS5_OWN = "FROM 'main'.'search_fts_"


def reads_the_store_state(statement: str) -> bool:
    """Whether a statement reads only the store's state (the data version, the list sizes):
    as the HTTP step reads it (db/watch.py) and the reference executor names its
    snapshot's version; the compiled statement reads the version beside its data."""
    return statement.lstrip().startswith("SELECT store_state.")


class StatementCounter:
    """Counts SQL statements the database driver sends while active, whichever layer sent
    them (SQLAlchemy's, a precompiled statement, a ping): asyncpg's query logger on
    PostgreSQL, sqlite3's trace callback on SQLite, attached to each connection checked out.
    Transaction control and session settings (a held connection's `SET`, once per hold) are
    not reads and are left out, as the benchmark's `reads` column leaves them out; so are
    the statements SQLite runs inside one (FTS5 reading its own tables), which its trace
    reports as comments (`-- SELECT ...`) or, for the index's config read when a connection
    first opens it, as they are.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine.sync_engine
        self.statements: list[str] = []

    def _sqlite_statement(self, statement: str) -> None:
        if not statement.startswith(NOT_READS) and FTS5_OWN not in statement:
            self.statements.append(statement)

    def _postgres_statement(self, record: Any) -> None:
        if not record.query.startswith(NOT_READS):
            self.statements.append(record.query)

    def _checkout(self, dbapi_connection: Any, *_: Any) -> None:
        driver = dbapi_connection.driver_connection
        if self.engine.dialect.name == "sqlite":
            await_(driver.set_trace_callback(self._sqlite_statement))
        else:
            driver.add_query_logger(self._postgres_statement)

    def _checkin(self, dbapi_connection: Any, *_: Any) -> None:
        if dbapi_connection is None:  # invalidated (a statement cancelled): nothing to undo
            return
        driver = dbapi_connection.driver_connection
        if self.engine.dialect.name == "sqlite":
            await_(driver.set_trace_callback(None))
        else:
            driver.remove_query_logger(self._postgres_statement)

    def __enter__(self) -> StatementCounter:
        event.listen(self.engine, "checkout", self._checkout)
        event.listen(self.engine, "checkin", self._checkin)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.engine, "checkout", self._checkout)
        event.remove(self.engine, "checkin", self._checkin)

    @property
    def count(self) -> int:
        return len(self.statements)


async def row_counts(engine: AsyncEngine) -> dict[str, int]:
    """Rows in every table of the store."""
    async with engine.connect() as connection:
        names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
        counts = {}
        for name in names:
            statement = select(func.count()).select_from(table(name))
            counts[name] = (await connection.execute(statement)).scalar_one()
    return counts


@dataclass
class EarlyHits:
    """How many kept answers server/posts.py served before routing."""

    count: int = 0


@pytest.fixture
def early_hits(monkeypatch: pytest.MonkeyPatch) -> EarlyHits:
    """Counts the requests `GraphQLEndpoint.kept_answer` answered (a hit before routing)."""
    hits = EarlyHits()
    kept_answer = GraphQLEndpoint.kept_answer

    async def counted(endpoint: GraphQLEndpoint, *args: Any) -> Any:
        found = await kept_answer(endpoint, *args)
        hits.count += found is not None
        return found

    monkeypatch.setattr(GraphQLEndpoint, "kept_answer", counted)
    return hits
