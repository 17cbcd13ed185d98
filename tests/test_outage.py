"""The database goes away and comes back: the running app must answer 503s, then heal itself.

PostgreSQL is reached through a TCP proxy in this process that can be cut (every connection
dropped, new ones refused), stalled (connections accepted, nothing forwarded) and restored on
the same port, so the app's engine sees what a restart or a network fault looks like. The
app is never rebuilt between the outage and the recovery. PostgreSQL only: an SQLite file has
no network to lose.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from db.engine import PoolOptions, create_engine
from db.lease import LEASE_SECONDS
from seeds.read import SeedPlan
from seeds.write import write_seeds
from tests.conftest import POSTGRES_URL, Store, close_store, make_client, open_store

QUERIES = {
    "company": '{ company(slug: "sony-music") { name programs { totalCount } } }',
    "partners": (
        "{ partners(first: 10) { totalCount nodes { slug name"
        " programs(first: 10) { nodes { slug } } } } }"
    ),
}
UNAVAILABLE_CODES = {"DATABASE_UNAVAILABLE", "QUERY_TIMEOUT"}
CUT_ANSWER_SECONDS = 5.0  # a refused connection is known at once; this is "did not hang"
RECOVERY_SECONDS = 10.0
EXECUTION_TIMEOUT = 2.0
LEAKS = ("Traceback", "SELECT", "asyncpg", "sqlalchemy", "postgres", "127.0.0.1", ".py", "refused")


class Proxy:
    """A loopback TCP forwarder to PostgreSQL that can be cut, stalled and restored."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server: asyncio.Server | None = None
        self._transports: set[asyncio.BaseTransport] = set()
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        """Listen (again) on the same port; the first start picks a free one."""
        self._server = await asyncio.start_server(
            self._link, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        """Stop listening and drop every link, as a database restart or a lost network does."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for transport in self._transports:
            transport.abort()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._transports.clear()
        self._tasks.clear()

    def stall(self) -> None:
        """Keep every link open but forward nothing, as a black-holed network does."""
        self._flowing.clear()

    async def restore(self) -> None:
        self._flowing.set()
        await self.start()

    async def _link(
        self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._transports.add(client_out.transport)
        await self._flowing.wait()  # while stalled: accepted, but not a byte goes on
        try:
            server_in, server_out = await asyncio.open_connection(*self.target)
        except OSError:
            client_out.transport.abort()
            return
        self._transports.add(server_out.transport)
        await asyncio.gather(self._pipe(client_in, server_out), self._pipe(server_in, client_out))

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                await self._flowing.wait()  # while stalled, the peer waits on a silent link
                sink.write(data)
                await sink.drain()
        except OSError:
            pass
        finally:
            sink.transport.abort()


@pytest.fixture
async def seeded_postgres(seed_plan: SeedPlan, tmp_path: Path) -> AsyncIterator[Store]:
    """A throwaway, seeded PostgreSQL schema, written through a direct (unproxied) engine."""
    store = await open_store("postgresql", tmp_path)  # fails, never skips, when unreachable
    try:
        await write_seeds(store.engine, seed_plan)
        yield store
    finally:
        await close_store(store)


@pytest.fixture
async def proxy() -> AsyncIterator[Proxy]:
    url = make_url(POSTGRES_URL)
    forwarder = Proxy(url.host or "127.0.0.1", url.port or 5432)
    await forwarder.start()
    yield forwarder
    await forwarder.cut()


@pytest.fixture
async def expected(seeded_postgres: Store) -> dict[str, Any]:
    """Every query's answer from an app on a direct engine, which no test disturbs."""
    answers = {}
    async with make_client(seeded_postgres.engine) as http:
        for name, query in QUERIES.items():
            response = await http.post("/graphql", json={"query": query})
            assert response.status_code == 200, response.text
            answers[name] = response.json()
            assert "errors" not in answers[name], answers[name]
    assert answers["company"]["data"]["company"]["name"] == "Sony Music"
    return answers


@pytest.fixture
async def proxied_engine(seeded_postgres: Store, proxy: Proxy) -> AsyncIterator[Any]:
    url = make_url(POSTGRES_URL).set(host="127.0.0.1", port=proxy.port)
    engine = create_engine(  # configured as create_app configures the serving engine
        url.render_as_string(hide_password=False),
        search_path=seeded_postgres.search_path,
        pool=PoolOptions(connect_timeout=2.0, statement_timeout=2.0),
        read_only=True,
    )
    yield engine
    await proxy.cut()  # free anything still waiting on a stalled link before disposing
    await engine.dispose()


async def _query(http: httpx.AsyncClient, name: str, bound: float) -> tuple[httpx.Response, float]:
    """POST one of QUERIES; the answer and how long it took, failing (not hanging) past `bound`."""
    started = time.monotonic()
    try:
        async with asyncio.timeout(bound):
            response = await http.post("/graphql", json={"query": QUERIES[name]})
    except TimeoutError:
        pytest.fail(f"{name}: no answer within {bound:g} s while the database was away")
    return response, time.monotonic() - started


async def _answers_correctly(http: httpx.AsyncClient, expected: dict[str, Any]) -> bool:
    if (await http.get("/readyz")).status_code != 200:
        return False
    for name, query in QUERIES.items():
        response = await http.post("/graphql", json={"query": query})
        if response.status_code != 200 or response.json() != expected[name]:
            return False
    return True


async def _lease_lapsed() -> None:
    """Wait out any version lease the requests so far were granted (db/lease.py). Under a
    lease a kept answer is served without reading the store, rightly (no seed can commit
    within one) even while the store is away; the tests below are about what the store's
    absence costs a request that must reach it."""
    await asyncio.sleep(LEASE_SECONDS * 2)  # (a renewal the last request began, sent late)


async def _recovers(http: httpx.AsyncClient, expected: dict[str, Any]) -> float:
    """Seconds until /readyz and every query are right again; fails after RECOVERY_SECONDS."""
    started = time.monotonic()
    while not await _answers_correctly(http, expected):
        assert time.monotonic() - started < RECOVERY_SECONDS, "the app did not recover by itself"
        await asyncio.sleep(0.2)
    return time.monotonic() - started


def _assert_clean_503(response: httpx.Response, codes: set[str], proxy: Proxy) -> None:
    """A retryable 503 with a code, and nothing about the database's insides or address."""
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers.get("retry-after"), response.headers
    body = response.json()
    assert body["errors"][0]["extensions"]["code"] in codes, body
    for error in body["errors"]:  # the request id is random hex; the rest must be clean
        error.get("extensions", {}).pop("requestId", None)
    text = json.dumps(body)
    for leak in (*LEAKS, str(proxy.port), str(proxy.target[1])):
        assert leak not in text, text


async def test_the_app_heals_itself_when_the_database_comes_back(proxy, proxied_engine, expected):
    """No restart, no operator: the pool must drop dead connections and make new ones."""
    async with make_client(proxied_engine) as http:
        assert await _answers_correctly(http, expected)
        await _lease_lapsed()
        await proxy.cut()
        assert (await http.get("/readyz")).status_code == 503
        for name in QUERIES:  # answered (whatever the body), not hung
            response, _ = await _query(http, name, CUT_ANSWER_SECONDS)
            assert response.status_code != 200 or "errors" in response.json(), response.text
        assert (await http.get("/readyz")).status_code == 503
        await proxy.restore()
        recovered = await _recovers(http, expected)
    print(f"\nrecovered {recovered:.2f} s after the database came back")


async def test_a_cut_database_is_a_quick_clean_503(proxy, proxied_engine, expected):
    """Clients must learn "try again shortly" at once, not wait, and learn nothing else."""
    async with make_client(proxied_engine) as http:
        assert await _answers_correctly(http, expected)  # pooled connections exist to lose
        await _lease_lapsed()
        await proxy.cut()
        readyz = await http.get("/readyz")
        assert readyz.status_code == 503
        assert readyz.json()["status"] == "unavailable"
        for name in QUERIES:
            response, took = await _query(http, name, CUT_ANSWER_SECONDS + 10)
            _assert_clean_503(response, {"DATABASE_UNAVAILABLE"}, proxy)
            assert took < CUT_ANSWER_SECONDS, f"{name} took {took:.1f} s"
        async with asyncio.timeout(CUT_ANSWER_SECONDS + 10):
            several = await asyncio.gather(
                *(http.post("/graphql", json={"query": QUERIES["partners"]}) for _ in range(8))
            )
        for response in several:
            _assert_clean_503(response, {"DATABASE_UNAVAILABLE"}, proxy)
        await proxy.restore()
        recovered = await _recovers(http, expected)
    print(f"\nrecovered {recovered:.2f} s after the database came back")


async def test_a_stalled_database_ends_in_a_503_within_the_execution_timeout(
    proxy, proxied_engine, expected
):
    """A link that swallows packets must cost a client the execution timeout, not forever."""
    async with make_client(proxied_engine, execution_timeout=EXECUTION_TIMEOUT) as http:
        assert await _answers_correctly(http, expected)  # idle pooled connections now stall
        await _lease_lapsed()
        proxy.stall()
        # one request waits on the stalled pooled connection, the others on new connections
        answers = await asyncio.gather(
            *(_query(http, name, EXECUTION_TIMEOUT + 10) for name in (*QUERIES, "company"))
        )
        for response, took in answers:
            _assert_clean_503(response, UNAVAILABLE_CODES, proxy)
            assert took < EXECUTION_TIMEOUT + 3, f"took {took:.1f} s"
        readyz = await http.get("/readyz")
        assert readyz.status_code == 503
        await proxy.cut()  # the stall ends as outages do: the links drop
        await proxy.restore()
        recovered = await _recovers(http, expected)
    slowest = max(took for _, took in answers)
    print(f"\nstalled queries answered within {slowest:.2f} s; recovered {recovered:.2f} s after")


@pytest.mark.parametrize("executor", ["reference", "compiled"])
async def test_connections_that_died_in_the_pool_cost_no_request(
    proxy, proxied_engine, expected, executor
):
    """A database restart between two requests: the pool holds only dead connections, and
    the next requests are still answered, each on a fresh connection (each executed: no
    response cache)."""
    async with make_client(proxied_engine, executor=executor, cache=False) as http:
        several = await asyncio.gather(  # several pooled connections to lose
            *(http.post("/graphql", json={"query": QUERIES["partners"]}) for _ in range(4))
        )
        assert all(r.json() == expected["partners"] for r in several)
        await proxy.cut()
        await proxy.restore()
        for name in [*QUERIES, *QUERIES]:
            response = await http.post("/graphql", json={"query": QUERIES[name]})
            assert response.status_code == 200, response.text
            assert response.json() == expected[name]
            assert response.headers["x-executor"] == executor


@pytest.mark.parametrize("executor", ["reference", "compiled"])
async def test_a_database_that_never_answers_a_connection_is_unavailable_not_slow(
    proxy: Proxy,
    proxied_engine: Any,
    expected: dict[str, Any],
    executor: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A store that accepts connections and then says nothing (a frozen server, a black-holed
    network) fails each one at its connect timeout: the store is unavailable, on the outage
    line, on either executor; not a query that ran too long (the compiled executor answered
    QUERY_TIMEOUT, "did not finish within 10 s", after the connect timeout's 2 s)."""
    proxy.stall()  # no pooled connection yet: each request must connect
    settings = {"executor": executor, "cache": False, "execution_timeout": 30.0}
    async with make_client(proxied_engine, **settings) as http:
        with caplog.at_level(logging.WARNING):
            response, took = await _query(http, "partners", 30.0)
    _assert_clean_503(response, {"DATABASE_UNAVAILABLE"}, proxy)
    assert response.headers["x-executor"] == "reference"  # (the compiled one's reads failed)
    assert took < 15.0  # connect timeouts, not the execution timeout
    lines = {record.name for record in caplog.records}
    assert "impact_graph.outage" in lines
    assert "impact_graph.timeouts" not in lines
