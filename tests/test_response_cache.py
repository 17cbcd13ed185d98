"""The response cache, over HTTP: a repeated request is answered with the same bytes without
executing; every part of the key tells answers apart; a seed makes every kept answer unreachable
(in the process and in a shared Redis); errors, partial answers and answers built across a seed
are never kept; a Redis that goes away costs the cache, not the answers."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import tomllib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis import Redis
from redis import asyncio as aioredis

from compiled.executor import CompiledExecutor
from core.logs import OncePerWindow
from db.watch import StoreWatch
from seeds.read import read_seeds
from seeds.write import write_seeds
from server import caching
from server.answers import refusals
from server.endpoint import GraphQLEndpoint
from server.persisted import sha256_hex
from server.redis_client import CONNECTIONS
from tests.conftest import NO_STORE_CHECK, EarlyHits, Store, make_client, read_snapshot
from tests.factories import graph_data, write_seed_tree
from tests.serving import fill_up, redis_server
from tests.test_cli import free_port

ROOT = Path(__file__).resolve().parent.parent

REDIS_URL = "redis://127.0.0.1:6379/0"
QUERY = (
    "query Programs($n: Int, $kind: [ProgramKind!]) "
    "{ programs(first: $n, filter: {kind: $kind}) { totalCount nodes { slug description } } }"
)
JSON = "application/json"
GRAPHQL_RESPONSE = "application/graphql-response+json"
TIMEOUT = 30  # seconds any one test may take


def unique(query: str = QUERY) -> str:
    """The query with a comment of its own: a document no other test has sent."""
    return f"{query} # {uuid.uuid4().hex}"


async def post(http: httpx.AsyncClient, body: dict[str, Any], accept: str = JSON) -> httpx.Response:
    answer = await http.post("/graphql", json=body, headers={"accept": accept})
    assert answer.status_code in (200, 400), answer.text
    return answer


async def get(http: httpx.AsyncClient, body: dict[str, Any], **headers: str) -> httpx.Response:
    params = {k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()}
    return await http.get("/graphql", params=params, headers={"accept": JSON, **headers})


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A key prefix of this test's own in the real Redis, its keys deleted at the end."""
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        assert await client.ping(), "Redis must answer at 127.0.0.1:6379 (CI starts it)"
        prefix = f"impact-graph-test:{uuid.uuid4().hex}:"
        yield prefix
        keys = [key async for key in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


async def redis_keys(prefix: str) -> list[str]:
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        return [key.decode() async for key in client.scan_iter(match=prefix + "*")]
    finally:
        await client.aclose()


def kinds(prefix: str | None) -> dict[str, Any]:
    """The settings of an app whose cache is in this process (None) or in Redis."""
    return {} if prefix is None else {"cache_url": REDIS_URL, "cache_prefix": prefix}


@pytest.fixture(params=["local", "redis"])
def cache_settings(request: pytest.FixtureRequest, redis_prefix: str) -> dict[str, Any]:
    """Each test that takes it runs with the in-process cache and with Redis's."""
    return kinds(None if request.param == "local" else redis_prefix)


def bounded(test: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    """The test fails, rather than hangs, past `TIMEOUT`."""

    @functools.wraps(test)
    async def run(*args: Any, **kwargs: Any) -> None:
        async with asyncio.timeout(TIMEOUT):
            await test(*args, **kwargs)

    return run


@bounded
async def test_a_repeated_request_is_answered_from_the_cache_with_the_same_bytes(
    store: Store, cache_settings: dict[str, Any]
) -> None:
    async with make_client(store.engine, **cache_settings) as http:
        body = {"query": unique(), "variables": {"n": 3}}
        first = await post(http, body)
        second = await post(http, body)
        assert (first.headers["x-cache"], second.headers["x-cache"]) == ("miss", "hit")
        assert second.content == first.content
        assert second.headers["content-type"] == first.headers["content-type"]
        assert second.headers["x-executor"] == first.headers["x-executor"]  # what built it
        assert second.headers["x-request-id"] != first.headers["x-request-id"]
        # GET shares the entry, and carries the ETag of the same key
        fetched = await get(http, body)
        assert fetched.headers["x-cache"] == "hit"
        assert fetched.content == first.content
        again = await get(http, body, **{"if-none-match": fetched.headers["etag"]})
        assert again.status_code == 304


@bounded
async def test_a_hash_sent_alone_finds_its_answer_on_a_worker_that_never_saw_it(
    store: Store, cache_settings: dict[str, Any]
) -> None:
    """Apollo's clients send a persisted query's hash alone. A worker that never saw its
    document (another one, or one restarted) still answers the client's tag with a 304, and
    the answer kept in a shared Redis with a hit: the hash names the document, checked when
    it was sent. Where nothing answers it, the client is asked for the document."""
    query = unique()
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(query)}}
    alone = {"extensions": extensions, "variables": {"n": 2}}
    async with (
        make_client(store.engine, **cache_settings) as http,
        make_client(store.engine, **cache_settings) as other_worker,
    ):
        sent = await get(http, {"query": query, **alone})
        assert sent.headers["x-cache"] == "miss"
        tagged = await get(http, alone)
        assert (tagged.headers["x-cache"], tagged.content) == ("hit", sent.content)

        again = await get(other_worker, alone, **{"if-none-match": tagged.headers["etag"]})
        assert again.status_code == 304
        assert again.headers["etag"] == tagged.headers["etag"]
        for answer in (await get(other_worker, alone), await post(other_worker, alone)):
            if cache_settings:  # Redis: kept for every worker
                assert (answer.headers["x-cache"], answer.content) == ("hit", sent.content)
            else:
                assert answer.json()["errors"][0]["extensions"]["code"] == (
                    "PERSISTED_QUERY_NOT_FOUND"
                )


@bounded
async def test_every_part_of_the_key_tells_answers_apart(store: Store) -> None:
    query = unique()
    two = f"{query}\nquery Other {{ companies {{ totalCount }} }}"
    async with make_client(store.engine) as http:

        async def cache(body: dict[str, Any], accept: str = JSON) -> str:
            return (await post(http, body, accept)).headers["x-cache"]

        base = {"query": query, "variables": {"n": 2, "kind": ["FUND"]}}
        assert await cache(base) == "miss"
        assert await cache(base) == "hit"
        # variables are canonical: the same values in another order are the same key
        assert await cache({**base, "variables": {"kind": ["FUND"], "n": 2}}) == "hit"
        assert await cache({**base, "variables": {"n": 3, "kind": ["FUND"]}}) == "miss"
        assert await cache({**base, "query": query + " "}) == "miss"  # the document's text
        assert await cache(base, GRAPHQL_RESPONSE) == "miss"  # the media type
        assert await cache(base, GRAPHQL_RESPONSE) == "hit"
        named = {**base, "query": two, "operationName": "Programs"}
        assert await cache(named) == "miss"
        assert await cache(named) == "hit"
        # the operation name: the same document and variables, another operation
        other = await post(http, {**named, "operationName": "Other"})
        assert other.headers["x-cache"] == "miss"
        assert "companies" in other.json()["data"]


@bounded
async def test_the_build_is_part_of_the_key(store: Store, redis_prefix: str) -> None:
    """Two servers sharing one Redis under other settings that show in answers (the cost
    budget) do not answer each other's requests."""
    body = {"query": unique(), "variables": {"n": 2}}
    answers = []
    for budget in (20_000, 25_000, 25_000):
        async with make_client(store.engine, max_cost=budget, **kinds(redis_prefix)) as http:
            answers.append(await post(http, body))
    assert [a.headers["x-cache"] for a in answers] == ["miss", "miss", "hit"]
    assert answers[0].json()["extensions"]["cost"]["budget"] == 20_000
    assert answers[2].content == answers[1].content


def test_every_package_of_ours_that_writes_answers_is_hashed_into_the_build():
    """A package left out of the build's digest (as a new one would be) could change an
    answer's bytes under the same tag and Redis key after a deploy. Every package of the
    project is hashed but the seed loader's (a seed changes the data version instead)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = project["tool"]["setuptools"]["packages"]
    top_level = {name for name in packages if "." not in name}
    assert set(caching.ANSWERING_PACKAGES) == top_level - {"seeds"}
    # and each is type-checked, as are the harness and the scripts (no packages of the app)
    assert set(project["tool"]["mypy"]["files"]) == top_level | {"bench", "scripts"}


@bounded
async def test_the_packages_installed_are_part_of_the_key(
    store: Store, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rolling upgrade of a package that writes answers (here Strawberry) shares no Redis
    entry, nor tag, across it: an upgrade may change the bytes."""
    installed = caching._installed()
    strawberry = f"strawberry-graphql=={version('strawberry-graphql')}"
    assert strawberry in installed.split(",")
    body = {"query": unique()}
    answers = []
    for packages in (installed, installed.replace(strawberry, "strawberry-graphql==999")):
        monkeypatch.setattr(caching, "_installed", lambda packages=packages: packages)
        async with make_client(store.engine, **kinds(redis_prefix)) as http:
            answers.append(await post(http, body))
    assert [a.headers["x-cache"] for a in answers] == ["miss", "miss"]


@bounded
async def test_a_seed_makes_every_kept_answer_unreachable(
    empty_store: Store, cache_settings: dict[str, Any], seed_plan: Any, tmp_path: Any
) -> None:
    await write_seeds(empty_store.engine, seed_plan)
    body = {"query": QUERY, "variables": {"n": 50}}
    async with (
        make_client(empty_store.engine, **cache_settings) as http,
        make_client(empty_store.engine, **cache_settings) as other_worker,
    ):
        assert (await post(http, body)).headers["x-cache"] == "miss"
        assert (await post(http, body)).headers["x-cache"] == "hit"
        await write_seeds(empty_store.engine, seed_plan)  # changes nothing: answers hold
        assert (await post(http, body)).headers["x-cache"] == "hit"

        data = graph_data()
        data["programs"][0]["description"] = "An edited description."
        await write_seeds(empty_store.engine, read_seeds(write_seed_tree(tmp_path / "s", data)))
        for client in (http, other_worker):
            fresh = await post(client, body)
            assert "An edited description." in fresh.text
        assert fresh.headers["x-cache"] == ("hit" if cache_settings else "miss")  # Redis: shared
        assert (await post(http, body)).headers["x-cache"] == "hit"


@bounded
async def test_an_answer_built_across_a_seed_is_not_kept(
    empty_store: Store,
    redis_prefix: str,
    seed_plan: Any,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The version an answer is kept under is the version its snapshot read: a seed that
    commits between the lookup and the execution leaves nothing under the older version (nor
    under the newer: the answer's cost estimate was priced by the older one's list sizes)."""
    await write_seeds(empty_store.engine, seed_plan)
    before = (await read_snapshot(empty_store.engine)).version
    data = graph_data()
    data["programs"][0]["description"] = "An edited description."
    edited = read_seeds(write_seed_tree(tmp_path / "s", data))
    run = CompiledExecutor.run

    async def seeded_first(*args: Any) -> Any:
        await write_seeds(empty_store.engine, edited)
        return await run(*args)

    body = {"query": QUERY, "variables": {"n": 50}}
    async with make_client(empty_store.engine, **kinds(redis_prefix)) as http:
        kept = {"query": QUERY, "variables": {"n": 49}}
        assert (await post(http, kept)).headers["x-executor"] == "compiled"
        assert (
            len(await redis_keys(f"{redis_prefix}answer:{before}:")) == 1
        )  # kept when nothing moved
        monkeypatch.setattr(CompiledExecutor, "run", seeded_first)
        answered = await post(http, body)
        monkeypatch.setattr(CompiledExecutor, "run", run)
        assert "An edited description." in answered.text
        assert len(await redis_keys(f"{redis_prefix}answer:{before}:")) == 1  # nothing more
        assert (await post(http, body)).headers["x-cache"] == "miss"  # built anew, then kept
        assert (await post(http, body)).headers["x-cache"] == "hit"


@bounded
async def test_an_answer_is_kept_under_the_version_its_snapshot_read(
    store: Store, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Looked up under a version read just before a seed committed, an answer whose snapshot
    (and price) saw the new version is kept under the new version, not the one looked up."""
    current = (await read_snapshot(store.engine)).version
    behind = property(lambda _watch: current - 1)  # as last read just before a seed committed

    body = {"query": unique()}
    async with make_client(store.engine, **kinds(redis_prefix)) as http:
        monkeypatch.setattr(StoreWatch, "last_version", behind)
        for _ in range(2):  # looked up under the old version: never found there
            answered = await post(http, body)
            assert answered.headers["x-cache"] == "miss"
        assert await redis_keys(f"{redis_prefix}answer:{current - 1}:") == []
        assert len(await redis_keys(f"{redis_prefix}answer:{current}:")) == 1
        monkeypatch.undo()
        again = await post(http, body)
        assert again.headers["x-cache"] == "hit"
        assert again.content == answered.content


@bounded
async def test_a_miss_reads_no_version_and_a_hit_reads_one(
    store: Store, cache_settings: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A miss costs what it costs with the cache off: it is looked up under the version last
    read and built; only a found answer waits for a read of the version now."""
    reads = 0
    read = StoreWatch.version

    async def counted(watch: StoreWatch, deadline: float) -> int | None:
        nonlocal reads
        reads += 1
        return await read(watch, deadline)

    bodies = [{"query": unique()} for _ in range(3)]
    settings = {**cache_settings, **NO_STORE_CHECK}
    async with make_client(store.engine, **settings) as http:
        monkeypatch.setattr(StoreWatch, "version", counted)
        for body in bodies:
            assert (await post(http, body)).headers["x-cache"] == "miss"
        assert reads == 0
        for body in bodies:
            assert (await post(http, body)).headers["x-cache"] == "hit"
        assert reads == 3


@bounded
async def test_errors_and_partial_answers_are_never_kept(store: Store) -> None:
    failing = {"query": unique('{ programs(after: "not a cursor") { totalCount } }')}
    partial = {
        "query": unique(
            '{ company(slug: "sony-music") { name programs(after: "x") { totalCount } } }'
        )
    }
    async with make_client(store.engine) as http:
        for body in (failing, partial):
            for _ in range(2):
                answer = await post(http, body)
                assert "errors" in answer.json()
                assert answer.headers.get("x-cache") != "hit"
                assert "x-executor" in answer.headers  # it ran
        assert (await post(http, partial)).json()["data"]["company"]["name"] == "Sony Music"


@bounded
async def test_a_persisted_query_hits_the_entry_of_its_document(
    store: Store, cache_settings: dict[str, Any]
) -> None:
    query = unique()
    digest = sha256_hex(query)
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    async with make_client(store.engine, **cache_settings) as http:
        whole = await post(http, {"query": query})
        assert whole.headers["x-cache"] == "miss"
        with_hash = await post(http, {"query": query, "extensions": extensions})
        assert with_hash.headers["x-cache"] == "hit"
        hash_only = await get(http, {"extensions": extensions})
        assert hash_only.headers["x-cache"] == "hit"
        assert hash_only.content == whole.content


@bounded
async def test_the_cache_can_be_turned_off(store: Store) -> None:
    body = {"query": unique()}
    async with make_client(store.engine, cache=False) as http:
        for _ in range(2):
            answer = await post(http, body)
            assert "x-cache" not in answer.headers
            assert answer.headers["x-executor"] == "compiled"
        assert "etag" in (await get(http, body)).headers  # GETs still revalidate


class Proxy:
    """A TCP proxy to Redis that a test can take away and bring back on the same port."""

    def __init__(self) -> None:
        self.port = 0
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._link, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._links):
            writer.close()
        await self._server.wait_closed()

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", 6379)
        self._links.update((writer, up_writer))

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while chunk := await source.read(65536):
                    sink.write(chunk)
                    await sink.drain()
            sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


def away_lines(caplog: pytest.LogCaptureFixture) -> Iterator[str]:
    return (
        r.getMessage() for r in caplog.records if r.name in ("impact_graph.cache", refusals.name)
    )


@bounded
async def test_when_redis_goes_away_requests_are_answered_uncached(
    store: Store, redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    proxy = Proxy()
    await proxy.start()
    settings = {"cache_url": f"redis://127.0.0.1:{proxy.port}/0", "cache_prefix": redis_prefix}
    body = {"query": unique()}
    async with make_client(store.engine, **settings) as http:
        assert (await post(http, body)).headers["x-cache"] == "miss"
        kept = await post(http, body)
        assert kept.headers["x-cache"] == "hit"
        await proxy.stop()
        with caplog.at_level(logging.WARNING, logger="impact_graph.cache"):
            for _ in range(5):
                answer = await post(http, body)
                assert answer.status_code == 200
                assert answer.headers["x-cache"] == "unavailable"
                assert answer.json() == kept.json()
            assert [line for line in away_lines(caplog) if "unavailable" in line] != []
            assert len(list(away_lines(caplog))) == 1  # one line, not one per request
            await proxy.start()  # on the same port
            await asyncio.sleep(1.2)  # it is tried again at most once a second
            assert (await post(http, body)).headers["x-cache"] == "hit"
            lines = list(away_lines(caplog))
            assert len(lines) == 2, lines
            assert "back" in lines[1]
        await proxy.stop()


@bounded
async def test_a_redis_restarted_between_requests_is_no_outage(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """The connections the process held to a Redis that restarted are dead: each fails its
    next command at once, and was taken for Redis going away (answers uncached, two log
    lines) one connection at a time, long after Redis was back (operator review). A command
    on a dead connection is tried again once, on a new one."""
    port = free_port()
    with redis_server(port) as first_life:
        async with make_client(store.engine, cache_url=f"redis://127.0.0.1:{port}/0") as http:

            async def crowd() -> list[str]:
                sent = [post(http, {"query": unique()}) for _ in range(CONNECTIONS)]
                return [answer.headers["x-cache"] for answer in await asyncio.gather(*sent)]

            assert set(await crowd()) == {"miss"}  # (every connection of the pool opened)
            first_life.terminate()
            first_life.wait(timeout=30)
            with redis_server(port), caplog.at_level(logging.WARNING, "impact_graph.cache"):
                assert set(await crowd()) == {"miss"}, list(away_lines(caplog))
                assert set(await crowd()) == {"miss"}
                assert list(away_lines(caplog)) == []


@bounded
async def test_while_redis_is_away_it_is_tried_again_at_most_once_a_second(store: Store) -> None:
    """Requests while Redis is away do not each try it (each would wait for a connection to
    fail): one try a second, whatever the traffic (mutation review: without the bound every
    request tried)."""
    tries = 0

    async def refuse(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal tries
        tries += 1
        writer.close()  # a Redis that hangs up on every connection

    server = await asyncio.start_server(refuse, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with make_client(store.engine, cache_url=f"redis://127.0.0.1:{port}/0") as http:
            assert (await post(http, {"query": unique()})).headers["x-cache"] == "unavailable"
            first = tries
            assert first >= 1
            for _ in range(10):
                answer = await post(http, {"query": unique()})
                assert answer.headers["x-cache"] == "unavailable"
            assert tries == first  # not tried again within the second
            await asyncio.sleep(1.2)
            await post(http, {"query": unique()})
            assert tries > first  # tried again once the second passed
    finally:
        server.close()
        await server.wait_closed()


@bounded
async def test_a_redis_that_was_never_there_costs_only_the_cache(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    settings = {"cache_url": "redis://127.0.0.1:1/0"}  # nothing listens on port 1
    with caplog.at_level(logging.WARNING, logger="impact_graph.cache"):
        async with make_client(store.engine, **settings) as http:
            for _ in range(3):
                answer = await post(http, {"query": unique()})
                assert answer.status_code == 200
                assert answer.headers["x-cache"] == "unavailable"
                assert answer.json()["data"]["programs"]["totalCount"] > 0
    assert len(list(away_lines(caplog))) == 1


@bounded
@pytest.mark.parametrize(
    "foreign",
    [
        b"\xe2\x82\xac\n1\n\nbody",
        b"compiled\n1\nName\rX\nbody",
        b"compiled\nmany\n\nbody",
        b"compiled\n-1\n\nbody",
        None,
    ],
    ids=[
        "unknown executor",
        "name not a GraphQL name",
        "cost not a number",
        "cost int() reads but encode never writes",
        "a list",
    ],
)
async def test_an_entry_this_server_did_not_write_is_a_miss_then_overwritten(
    store: Store, redis_prefix: str, foreign: bytes | None
) -> None:
    """A key of ours in Redis written by another hand (a string not as `encode` writes it,
    or a key of another type) is a miss, answered in full and kept over it: it was a 500, or
    a connection dropped for a line break in a header, until the key expired."""
    body = {"query": unique()}
    async with make_client(store.engine, **kinds(redis_prefix)) as http:
        kept = await post(http, body)
        (key,) = await redis_keys(redis_prefix)
        redis = aioredis.Redis.from_url(REDIS_URL)
        try:
            await redis.delete(key)
            if foreign is None:
                await redis.rpush(key, b"x")
            else:
                await redis.set(key, foreign)
        finally:
            await redis.aclose()
        answer = await post(http, body)
        assert (answer.status_code, answer.headers["x-cache"]) == (200, "miss")
        assert answer.content == kept.content
        assert (await post(http, body)).headers["x-cache"] == "hit"


@pytest.mark.parametrize("over", [0, 1], ids=["at-the-bound", "one-byte-over"])
@bounded
async def test_an_answer_over_the_entry_bound_is_not_kept(
    store: Store,
    cache_settings: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    over: int,
) -> None:
    """An answer larger than MAX_ENTRY_BYTES is not kept (it would push out many small ones),
    in this process or in Redis; one of exactly that size is."""
    body = {"query": unique()}
    async with make_client(store.engine, **cache_settings) as http:
        size = len((await post(http, {"query": unique()})).content)
    monkeypatch.setattr("server.answers.MAX_ENTRY_BYTES", size - over)
    async with make_client(store.engine, **cache_settings) as http:
        first = await post(http, body)
        assert len(first.content) == size
        again = await post(http, body)
    assert again.headers["x-cache"] == ("hit" if over == 0 else "miss")
    assert again.content == first.content


@bounded
async def test_an_answer_kept_in_redis_expires_after_its_time_to_live(
    store: Store, redis_prefix: str
) -> None:
    """Each answer kept in Redis expires after IMPACT_GRAPH_CACHE_TTL_SECONDS (README): a key
    kept without one would stay until Redis's own eviction, however old its version."""
    async with make_client(store.engine, cache_ttl_seconds=120, **kinds(redis_prefix)) as http:
        assert (await post(http, {"query": unique()})).headers["x-cache"] == "miss"
        (key,) = await redis_keys(redis_prefix)
    redis = aioredis.Redis.from_url(REDIS_URL)
    try:
        left = await redis.pttl(key)
    finally:
        await redis.aclose()
    assert 110_000 < left <= 120_000  # -1 is a key that never expires


def _sets_sent(redis: Redis) -> int:
    """SET commands Redis received, those it refused included."""
    stats = redis.info("commandstats").get("cmdstat_set", {})
    return sum(stats.get(count, 0) for count in ("calls", "rejected_calls", "failed_calls"))


@bounded
async def test_a_full_redis_costs_the_answers_it_refuses_to_keep_and_one_line(
    store: Store, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Redis full with no eviction policy refuses to keep answers: they are answered
    uncached (`unavailable`) with one warning, and what it holds is still served. Once it
    refused, it is not asked to keep another answer for `RETRY_SECONDS` (each would be a
    round trip refused), then asked again."""
    monkeypatch.setattr("server.answers.RETRY_SECONDS", 2.0)  # the misses below take far less
    port = free_port()
    settings = {"cache_url": f"redis://127.0.0.1:{port}/0"}
    with redis_server(port), Redis(port=port) as redis:
        async with make_client(store.engine, **settings) as http:
            kept = {"query": unique()}
            assert (await post(http, kept)).headers["x-cache"] == "miss"
            fill_up(redis)
            sets = _sets_sent(redis)
            with caplog.at_level(logging.WARNING, logger="impact_graph.cache"):
                for _ in range(3):
                    answer = await post(http, {"query": unique()})
                    assert (answer.status_code, answer.headers["x-cache"]) == (200, "unavailable")
                assert (await post(http, kept)).headers["x-cache"] == "hit"
            (line,) = away_lines(caplog)
            assert line.startswith("the response cache (Redis) refused an answer")
            assert _sets_sent(redis) == sets + 1  # the first refusal; the others not sent
            redis.config_set("maxmemory", 0)  # room again
            await asyncio.sleep(2.1)
            again = {"query": unique()}
            assert (await post(http, again)).headers["x-cache"] == "miss"
            assert (await post(http, again)).headers["x-cache"] == "hit"


@bounded
async def test_a_redis_refusing_every_answer_is_a_line_a_window_then_how_many_were_left_out(
    store: Store, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Asked again at every answer (no pause between tries here), a full Redis refuses each,
    and the log has one line, not one per request; the window over, the next line says how
    many were left out."""
    monkeypatch.setattr("server.answers.RETRY_SECONDS", 0.0)
    port = free_port()
    with redis_server(port), Redis(port=port) as redis:
        async with make_client(store.engine, cache_url=f"redis://127.0.0.1:{port}/0") as http:
            fill_up(redis)
            sets = _sets_sent(redis)
            with caplog.at_level(logging.WARNING, logger="impact_graph.cache"):
                for _ in range(4):
                    assert (await post(http, {"query": unique()})).headers[
                        "x-cache"
                    ] == "unavailable"
                assert _sets_sent(redis) == sets + 4  # each one refused
                assert len(list(away_lines(caplog))) == 1
                (window,) = refusals.filters
                assert isinstance(window, OncePerWindow)
                window.last.clear()  # the window over
                await post(http, {"query": unique()})
            first, then = away_lines(caplog)
    assert first.startswith("the response cache (Redis) refused an answer: ")
    assert "maxmemory" in first
    assert then.endswith("(3 more such line(s) left out since)")


async def _chunked(body: dict[str, Any]) -> AsyncIterator[bytes]:
    """The body sent without a Content-Length (chunked): it goes the whole way."""
    yield json.dumps(body).encode()


@bounded
@pytest.mark.parametrize("encoding", [None, "gzip", "br", "identity"])
@pytest.mark.parametrize("first", [1, 50])  # a small answer and one past the compression size
async def test_a_hit_before_routing_is_the_endpoints_own_hit(
    store: Store, encoding: str | None, first: int, early_hits: EarlyHits
) -> None:
    """server/posts.py answers a kept POST before routing; the same request sent so that it
    goes the whole way (a chunked body) gets the same status, headers and body."""
    body = {"query": unique(), "variables": {"n": first}}
    headers = {"accept": JSON, "content-type": JSON}
    if encoding is not None:
        headers["accept-encoding"] = encoding
    async with make_client(store.engine) as http:
        assert (await post(http, body)).headers["x-cache"] == "miss"
        early = await http.post("/graphql", json=body, headers=headers)
        assert early_hits.count == 1
        whole_way = await http.post("/graphql", content=_chunked(body), headers=headers)
        assert early_hits.count == 1
    assert early.status_code == whole_way.status_code == 200
    assert early.headers["x-cache"] == whole_way.headers["x-cache"] == "hit"
    assert compared(early) == compared(whole_way)
    assert early.content == whole_way.content
    if first == 50 and encoding in ("gzip", "br"):
        assert early.headers["content-encoding"] == encoding


def compared(response: httpx.Response) -> list[tuple[str, str]]:
    """A response's headers, less those that differ from one request to the next."""
    return sorted(
        (k, v) for k, v in response.headers.multi_items() if k not in ("x-request-id", "date")
    )


ANSWERED = {
    "with variables": {"query": QUERY, "variables": {"n": 50}},
    "without": {"query": "{ programs(first: 3) { nodes { slug } } }"},
}
REFUSED = {
    "an unknown field": {"query": "{ programs { nope } }"},
    "a malformed document": {"query": "{ programs(first: "},
    "an unknown persisted hash": {  # (looked up: another worker may have kept its answer)
        "extensions": {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}
    },
}
# refused before the endpoint could be handed it: the whole way, in its own words
UNREAD = {"a query that is not a string": {"query": ["{ programs { nodes { slug } } }"]}}
UNANSWERED = {**ANSWERED, **REFUSED, **UNREAD}


@bounded
@pytest.mark.parametrize("cache", ["off", "keeping nothing"])
@pytest.mark.parametrize("name", list(UNANSWERED))
async def test_a_post_not_kept_is_answered_before_routing_as_the_whole_way_would(
    store: Store, cache: str, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """server/posts.py hands the endpoint every POST it has read but cannot answer from the
    cache; the same request sent so that it goes the whole way (a chunked body, routed) gets
    the same status, headers and body."""
    routes: list[bool] = []
    handle = GraphQLEndpoint.handle

    async def noted(endpoint: GraphQLEndpoint, request: Any) -> Any:
        routes.append("endpoint" in request.scope)  # set by the router, not before it
        return await handle(endpoint, request)

    monkeypatch.setattr(GraphQLEndpoint, "handle", noted)
    settings = {"cache": False} if cache == "off" else {"cache_bytes": 1}
    body = UNANSWERED[name]
    headers = {"accept": JSON, "content-type": JSON, "accept-encoding": "gzip"}
    async with make_client(store.engine, **settings) as http:
        early = await http.post("/graphql", json=body, headers=headers)
        whole_way = await http.post("/graphql", content=_chunked(body), headers=headers)
    assert routes == [name in UNREAD, True]
    assert early.status_code == whole_way.status_code
    assert compared(early) == compared(whole_way)
    assert early.content == whole_way.content
    if name in ANSWERED:
        assert "errors" not in early.json()
        assert early.headers.get("x-cache") == (None if cache == "off" else "miss")


@bounded
async def test_a_kept_answer_is_not_served_to_a_body_in_a_content_coding(
    store: Store, early_hits: EarlyHits
) -> None:
    """The bytes of a kept POST sent again saying they are coded (`Content-Encoding: x-foo`,
    which a proxy or firewall would decode, or refuse) are refused `415` as the whole way
    refuses them, not answered before routing with the plain body's kept answer."""
    body = {"query": unique()}
    async with make_client(store.engine) as http:
        assert (await post(http, body)).headers["x-cache"] == "miss"
        assert (await post(http, body)).headers["x-cache"] == "hit"
        coded = await http.post(
            "/graphql", json=body, headers={"accept": JSON, "content-encoding": "x-foo"}
        )
    assert early_hits.count == 1
    assert coded.status_code == 415, coded.text
    assert coded.json()["errors"][0]["extensions"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert "x-cache" not in coded.headers


@bounded
async def test_a_kept_answer_is_not_served_to_a_body_whose_first_content_type_is_not_json(
    store: Store, early_hits: EarlyHits
) -> None:
    """A header sent twice is read by its first line, before routing as the whole way reads
    it: a kept POST's bytes sent again as `text/plain`, then `application/json`, are refused
    `415` as the endpoint refuses them, not answered before routing by the second line
    (mutation review: reading the last line served the kept answer)."""
    body = {"query": unique()}
    async with make_client(store.engine) as http:
        assert (await post(http, body)).headers["x-cache"] == "miss"
        assert (await post(http, body)).headers["x-cache"] == "hit"
        lines = [("accept", JSON), ("content-type", "text/plain"), ("content-type", JSON)]
        typed = await http.post("/graphql", content=json.dumps(body), headers=lines)
    assert early_hits.count == 1
    assert typed.status_code == 415, typed.text
    assert typed.json()["errors"][0]["extensions"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert "x-cache" not in typed.headers


async def test_a_post_that_no_answer_could_suit_is_refused_before_its_body_is_read(
    store: Store,
) -> None:
    """A POST whose Accept header allows no media type of ours is refused `406` as its head
    arrives, as the endpoint refuses it: not first held, before routing, until a body that
    will not change the answer has come whole (mutation review: waiting for it, the answer
    waited on the client)."""
    sent = asyncio.Event()

    async def never_sent() -> AsyncIterator[bytes]:
        await sent.wait()  # the body comes once answered: it cannot change the answer
        yield b'{"query": "{ programs { totalCount } }"}'

    headers = {"accept": "text/plain", "content-type": JSON, "content-length": "40"}
    async with make_client(store.engine) as http:
        async with asyncio.timeout(10):  # (a test that hangs would wait for `bounded`)
            refused = await http.post("/graphql", content=never_sent(), headers=headers)
        sent.set()
    assert refused.status_code == 406, refused.text
    assert refused.json()["errors"][0]["extensions"]["code"] == "NOT_ACCEPTABLE"


@bounded
async def test_with_cors_on_hits_go_the_whole_way(store: Store) -> None:
    """The CORS middleware adds `Vary: Origin` to every answer: with it on, no answer is
    served before routing, and a hit still says so."""
    body = {"query": unique()}
    async with make_client(store.engine, cors_origins=["https://app.example"]) as http:
        assert (await post(http, body)).headers["x-cache"] == "miss"
        hit = await post(http, body)
    assert hit.headers["x-cache"] == "hit"
    assert "Origin" in hit.headers["vary"]


@pytest.mark.parametrize("comment", ["", " 1234567890123456789"])
@bounded
async def test_deeply_nested_variables_are_refused_not_a_crash(store: Store, comment: str) -> None:
    """Variables nested as deep as the JSON parser takes (found by tests/test_fuzz.py: a copy
    of them once recursed past Python's limit on a miss): a request error, twice over. Digits
    in the query's text change nothing (a run of 19 in its comment, as a random hash once
    had, sent the body to the stdlib's parser, which refused it as nested too deeply)."""
    nested = '{"a":' * 1000 + "1" + "}" * 1000
    query = json.dumps(unique() + comment)
    body = '{"query": ' + query + ', "variables": {"n": ' + nested + "}}"
    headers = {"accept": JSON, "content-type": JSON}
    async with make_client(store.engine) as http:
        for _ in range(2):
            answered = await http.post("/graphql", content=body, headers=headers)
            assert answered.status_code == 200, answered.text[:300]
            assert answered.json()["errors"]
