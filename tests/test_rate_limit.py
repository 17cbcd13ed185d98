"""The per-client rate limit: off by default; a token bucket per client address, in this
process or shared through Redis (CACHE_URL); 429 with Retry-After and a GraphQL error body;
X-Forwarded-For believed only from a configured proxy; Redis gone means no limit, said once.

Each test is its own client (a random address), so buckets left in Redis by other runs never
meet it."""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis import Redis
from redis import asyncio as aioredis
from redis.exceptions import RedisError, ResponseError
from starlette.requests import Request

from core.config import Settings
from server.app import create_app
from server.ratelimit import (
    KEY_PREFIX,
    PROBE_WAIT_SECONDS,
    REDIS_RETRY_SECONDS,
    Bucket,
    RateLimit,
    RedisBuckets,
    client_key,
    take,
)
from tests.conftest import Store, close_store, open_store
from tests.serving import fill_up, redis_server, served
from tests.test_cli import free_port

REDIS_URL = "redis://127.0.0.1:6379/0"
QUERY = {"query": "{ __typename }"}
SLOW = 0.05  # a token every 20 s: no test lasts long enough to earn one back by waiting


@pytest.fixture(scope="module")
async def sqlite_store(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Store]:
    """A migrated SQLite store: the limit is the same whatever the store, and the query
    these tests send (`{ __typename }`) reads nothing."""
    opened = await open_store("sqlite", tmp_path_factory.mktemp("rate-limit"))
    yield opened
    await close_store(opened)


def a_client() -> str:
    """A documentation address (RFC 3849) in a /64 no other test or run uses."""
    return f"2001:db8:{random.getrandbits(16):x}:{random.getrandbits(16):x}::1"


@asynccontextmanager
async def app_client(
    store: Store, client: str, **settings: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a fresh app over `store`, its requests coming from address `client`."""
    app = create_app(Settings(**settings), engine=store.engine)
    transport = httpx.ASGITransport(app=app, client=(client, 50000))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as http,
    ):
        yield http


async def statuses(http: httpx.AsyncClient, count: int) -> list[int]:
    return [(await http.post("/graphql", json=QUERY)).status_code for _ in range(count)]


async def test_there_is_no_limit_by_default(sqlite_store):
    async with app_client(sqlite_store, a_client()) as http:
        assert set(await statuses(http, 60)) == {200}


async def test_a_client_past_its_burst_gets_429_with_retry_after(sqlite_store):
    async with app_client(sqlite_store, a_client(), rate_limit=0.5, rate_limit_burst=3) as http:
        assert await statuses(http, 3) == [200, 200, 200]
        refused = await http.post(
            "/graphql", json=QUERY, headers={"Accept": "application/graphql-response+json"}
        )
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/graphql-response+json"
        assert refused.headers["retry-after"] == "2"  # a token every 2 s
        (error,) = refused.json()["errors"]
        assert "data" not in refused.json()
        assert error["extensions"] == {"code": "RATE_LIMITED"}
        assert error["message"] == (
            "Too many requests from this client: the limit is 0.5 a second (bursts of 3); "
            "try again in 2 s."
        )
        assert len(refused.headers["x-request-id"]) == 32
        get = await http.get("/graphql", params=QUERY)  # GET counts too, and says no-store
        assert (get.status_code, get.headers["cache-control"]) == (429, "no-store")
        assert get.headers["content-type"] == "application/json"
        # what is not /graphql is not counted: probes, the schema, the pages
        for path in ("/healthz", "/readyz", "/graphql/schema.graphql", "/"):
            assert (await http.get(path)).status_code == 200, path
        await asyncio.sleep(2.1)  # Retry-After said when a token would be back
        assert (await http.post("/graphql", json=QUERY)).status_code == 200


def test_a_bucket_lets_exactly_its_burst_through_at_one_instant() -> None:
    """Over HTTP the requests of a burst are milliseconds apart, and the tokens they earn
    meanwhile hide a bucket that takes one too few, or lets a request through on its last
    token without taking it: here the clock stands."""
    bucket, tokens, waits = Bucket(rate=0.5, burst=3), 3.0, []
    for _ in range(5):
        tokens, wait = take(bucket, tokens, 100.0, 100.0)
        waits.append(wait)
    assert waits == [0.0, 0.0, 0.0, 2.0, 2.0]  # a token every 2 s
    assert tokens == 0.0


def test_an_idle_bucket_holds_at_most_its_burst() -> None:
    """Tokens earned while a client sits idle fill its bucket, never past the burst: a
    client away an hour sends its burst, then waits as any other."""
    tokens, wait = take(Bucket(rate=1.0, burst=5), 5.0, 0.0, 3_600.0)
    assert (tokens, wait) == (4.0, 0.0)


async def test_in_redis_an_idle_bucket_holds_at_most_its_burst(sqlite_store):
    client, prefix = a_client(), f"test-{uuid.uuid4().hex[:8]}:"
    with Redis.from_url(REDIS_URL) as redis:
        seconds, _ = redis.time()
        key = prefix + KEY_PREFIX + client_key(client)
        # full, and idle long enough to earn 50 tokens more at SLOW
        redis.hset(key, mapping={"tokens": "2.000000", "at": f"{seconds - 1_000}.000000"})
        redis.expire(key, 60)
    settings = {"rate_limit": SLOW, "rate_limit_burst": 2, "cache_url": REDIS_URL}
    settings["cache_prefix"] = prefix
    async with app_client(sqlite_store, client, **settings) as http:
        assert await statuses(http, 3) == [200, 200, 429]


async def test_in_redis_retry_after_is_when_the_next_token_is_back(sqlite_store):
    """Half a token held at a token every 20 s: the next is back in 10 s (less what passed
    before the request came), not the 20 a whole token takes (Redis's script counts what
    the bucket holds, as `take` does)."""
    client, prefix = a_client(), f"test-{uuid.uuid4().hex[:8]}:"
    settings = {"rate_limit": 0.05, "rate_limit_burst": 1, "cache_url": REDIS_URL}
    async with app_client(sqlite_store, client, cache_prefix=prefix, **settings) as http:
        with Redis.from_url(REDIS_URL) as redis:
            seconds, micro = redis.time()
            key = prefix + KEY_PREFIX + client_key(client)
            redis.hset(key, mapping={"tokens": "0.500000", "at": f"{seconds}.{micro:06d}"})
            redis.expire(key, 60)
        refused = await http.post("/graphql", json=QUERY)
    assert refused.status_code == 429
    assert 5 <= int(refused.headers["retry-after"]) <= 10


class Waiting:
    """Buckets whose client must wait `seconds`."""

    def __init__(self, seconds: float) -> None:
        self.bucket = Bucket(rate=1.0, burst=1)
        self.seconds = seconds

    async def wait(self, client: str) -> float:
        return self.seconds

    async def aclose(self) -> None:
        pass


class AwayThen:
    """A Redis client whose first script fails as a lost connection does, and every later one
    answers as `later` does."""

    def __init__(self, later: Callable[[], Awaitable[Any]]) -> None:
        self.calls = 0
        self.later = later

    def register_script(self, _: str) -> Any:
        async def script(**_: Any) -> Any:
            self.calls += 1
            if self.calls == 1:
                raise RedisError("connection lost")
            return await self.later()

        return script


async def _after_a_minute() -> None:
    await asyncio.sleep(60)


async def _wait_five_seconds() -> str:
    return "5.000000"  # what the script says of a client with no token left


async def test_a_request_waiting_on_a_question_the_server_stops_passes():
    """The server stopping cancels the background question (before its Redis client
    closes): a request waiting on it passes, it is not cancelled with it (review)."""
    redis = AwayThen(_after_a_minute)
    buckets = RedisBuckets(Bucket(rate=1.0, burst=1), redis, "")  # type: ignore[arg-type]
    assert await buckets.wait("203.0.113.9") == 0.0  # Redis found away
    await asyncio.sleep(REDIS_RETRY_SECONDS + 0.05)  # the next request asks, in the background
    waiting = asyncio.create_task(buckets.wait("203.0.113.9"))
    await asyncio.sleep(PROBE_WAIT_SECONDS / 4)
    await buckets.aclose()
    assert await waiting == 0.0


async def test_the_request_that_finds_redis_back_gets_its_answer():
    """The request that asks whether Redis is back, answered within its wait, is limited by
    the answer: a client with no token left is refused, not let through for having asked."""
    redis = AwayThen(_wait_five_seconds)
    buckets = RedisBuckets(Bucket(rate=1.0, burst=1), redis, "")  # type: ignore[arg-type]
    assert await buckets.wait("203.0.113.9") == 0.0  # Redis found away
    await asyncio.sleep(REDIS_RETRY_SECONDS + 0.05)
    assert await buckets.wait("203.0.113.9") == 5.0  # asked, and answered in time
    assert await buckets.wait("203.0.113.9") == 5.0  # back: asked as before
    assert redis.calls == 3


@pytest.mark.parametrize(("seconds", "retry"), [(0.2, "1"), (1.3, "2"), (2.0, "2")])
async def test_retry_after_is_never_sooner_than_a_token_is_back(seconds: float, retry: str):
    """A client that waits the Retry-After it was told gets its token: rounded up, never
    to the nearest second (1 s after a 1.3 s wait it would be refused again)."""
    scope = {"type": "http", "method": "POST", "headers": [], "client": ("203.0.113.9", 1)}
    refusal = await RateLimit(Waiting(seconds)).check(Request(scope))
    assert refusal is not None
    assert refusal.headers == {"Retry-After": retry}


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("::ffff:203.0.113.7", "203.0.113.7"),  # IPv4-mapped: the IPv4 client
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),  # the same /64: the same client
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("unknown", "unknown"),
    ],
)
def test_an_ipv6_client_is_its_64(address: str, key: str) -> None:
    assert client_key(address) == key


async def test_clients_have_buckets_of_their_own(sqlite_store):
    settings = {"rate_limit": SLOW, "rate_limit_burst": 2}
    async with (
        app_client(sqlite_store, a_client(), **settings) as first,
        app_client(sqlite_store, a_client(), **settings) as second,
    ):
        assert await statuses(first, 3) == [200, 200, 429]
        assert await statuses(second, 3) == [200, 200, 429]


async def test_in_redis_one_bucket_serves_a_client_across_workers_exactly(sqlite_store):
    """Two apps sharing Redis are two workers (or hosts): a burst of 10 is 10 in all, even
    when 30 requests race for it at once (the script takes a token atomically)."""
    client = a_client()
    settings = {"rate_limit": SLOW, "rate_limit_burst": 10, "cache_url": REDIS_URL}
    async with (
        app_client(sqlite_store, client, **settings) as first,
        app_client(sqlite_store, client, **settings) as second,
    ):
        answers = await asyncio.gather(
            *(http.post("/graphql", json=QUERY) for http in (first, second) * 15)
        )
    codes = sorted(answer.status_code for answer in answers)
    assert codes == [200] * 10 + [429] * 20
    with Redis.from_url(REDIS_URL) as redis:
        ttl = redis.pttl("impact-graph:" + KEY_PREFIX + client_key(client))  # default prefix
    # the bucket goes once it would be full again: 10 tokens at 0.05 a second, and 1 s more
    assert 199_000 < ttl <= 201_000


def limit_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "impact_graph.ratelimit"]


async def test_with_redis_gone_the_limit_fails_open_and_says_so_once(sqlite_store, caplog):
    caplog.set_level(logging.WARNING, logger="impact_graph.ratelimit")
    port = free_port()
    settings = {"rate_limit": SLOW, "rate_limit_burst": 2, "cache_url": f"redis://127.0.0.1:{port}"}
    with redis_server(port) as first_life:
        async with app_client(sqlite_store, a_client(), **settings) as http:
            assert await statuses(http, 3) == [200, 200, 429]
            first_life.terminate()
            first_life.wait(timeout=30)
            started = time.monotonic()
            assert set(await statuses(http, 40)) == {200}  # unlimited, not refused
            assert time.monotonic() - started < 20  # none waited for a Redis that is gone
            await asyncio.sleep(REDIS_RETRY_SECONDS + 0.1)  # asked again, still gone
            assert await statuses(http, 1) == [200]
            (said,) = limit_warnings(caplog)  # once an outage, not once a try
            assert said.startswith("rate limit off: Redis is unreachable or refused it")
            with redis_server(port):  # back, empty: the client's bucket is full again
                await asyncio.sleep(1.1)  # failures are retried a second later
                assert await statuses(http, 3) == [200, 200, 429]
            assert limit_warnings(caplog)[1:] == ["rate limit on again: Redis answers"]


async def test_a_redis_out_of_memory_still_limits(sqlite_store, caplog):
    """A Redis with no eviction policy, full (the response cache can fill it): it refuses
    writes, but not the bucket's script, so the limit holds."""
    caplog.set_level(logging.WARNING, logger="impact_graph.ratelimit")
    port = free_port()
    settings = {"rate_limit": SLOW, "rate_limit_burst": 2, "cache_url": f"redis://127.0.0.1:{port}"}
    with redis_server(port), Redis(port=port) as redis:
        async with app_client(sqlite_store, a_client(), **settings) as http:
            fill_up(redis)
            with pytest.raises(RedisError, match="maxmemory"):
                redis.set("filler", "x")
            assert await statuses(http, 4) == [200, 200, 429, 429]
    assert limit_warnings(caplog) == []


class RedisSix:
    """Redis as a release before 7 answers a script with flags (it does not compile the
    line); every other script and command is the real Redis's."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self._redis = redis

    def register_script(self, script: str) -> Any:
        if not script.startswith("#!"):
            return self._redis.register_script(script)

        async def refused(**_: Any) -> None:
            raise ResponseError(
                "Error compiling script (new function): user_script:1: unexpected symbol near '#'"
            )

        return refused


async def test_a_redis_before_7_runs_the_bucket_without_its_flags(caplog):
    """A Redis 6 refuses the flags line: the limit holds there, by the script without it,
    and says once what it lacks (it is off only while such a Redis is out of memory)."""
    caplog.set_level(logging.WARNING, logger="impact_graph.ratelimit")
    redis = aioredis.Redis.from_url(REDIS_URL)
    try:
        six: Any = RedisSix(redis)  # (as the client redis-py would be)
        buckets = RedisBuckets(Bucket(SLOW, 2), six, f"test-{uuid.uuid4().hex}:")
        client = client_key(a_client())
        waits = [await buckets.wait(client) for _ in range(3)]
    finally:
        await redis.aclose()
    assert waits[:2] == [0.0, 0.0]
    assert waits[2] > 0
    (said,) = limit_warnings(caplog)
    assert said.startswith("rate limit: this Redis runs scripts without flags (before 7)")


@contextmanager
def black_hole() -> Iterator[socket.socket]:
    """A "Redis" that accepts connections and says nothing: they complete in the kernel's
    backlog, and none is ever read."""
    with socket.socket() as hole:
        hole.bind(("127.0.0.1", 0))
        hole.listen(64)
        yield hole


async def test_a_redis_that_never_answers_holds_no_request_for_long(sqlite_store, caplog):
    """A black hole (it accepts connections and says nothing): the limit gives up after its
    timeout and lets the request through."""
    caplog.set_level(logging.WARNING, logger="impact_graph.ratelimit")
    with black_hole() as hole:
        url = f"redis://127.0.0.1:{hole.getsockname()[1]}"
        async with app_client(sqlite_store, a_client(), rate_limit=SLOW, cache_url=url) as http:
            started = time.monotonic()
            assert set(await statuses(http, 5)) == {200}
            assert time.monotonic() - started < 10
    assert len(limit_warnings(caplog)) == 1


async def test_a_redis_that_never_answers_costs_one_request_its_timeout(sqlite_store):
    """A try that waits its whole timeout (1 s) for a silent Redis: the requests after it,
    for a second from its failure, pass at once (they waited a second each when the retry
    was timed from the try's start), and the request that asks again a second later waits
    `PROBE_WAIT_SECONDS` at most, the question going on in the background (it waited the
    whole timeout, once a second, on every worker)."""
    with black_hole() as hole:
        url = f"redis://127.0.0.1:{hole.getsockname()[1]}"
        async with app_client(
            sqlite_store, a_client(), rate_limit=SLOW, cache_url=url, cache=False
        ) as http:
            took = []
            started = time.monotonic()
            while time.monotonic() - started < 2.5:
                sent = time.monotonic()
                assert (await http.post("/graphql", json=QUERY)).status_code == 200
                took.append(time.monotonic() - sent)
    waited = [seconds for seconds in took if seconds > 0.5]
    assert len(waited) == 1  # the first try; the retry a second after it failed waits for none
    assert len(took) > len(waited)


async def test_while_redis_is_away_one_request_asks_whether_it_is_back(sqlite_store):
    """Once Redis is found away, a request at a time tries it again (each try may wait its
    timeout), not every request arriving when the retry is due."""
    with black_hole() as hole:
        url = f"redis://127.0.0.1:{hole.getsockname()[1]}"
        async with app_client(
            sqlite_store, a_client(), rate_limit=SLOW, cache_url=url, cache=False
        ) as http:  # the response cache off: only the limit asks Redis
            assert await statuses(http, 1) == [200]  # finds it away
            await asyncio.sleep(REDIS_RETRY_SECONDS + 0.2)
            answers = await asyncio.gather(*(http.post("/graphql", json=QUERY) for _ in range(8)))
            assert {answer.status_code for answer in answers} == {200}
        hole.setblocking(False)
        tried = 0
        while True:
            try:
                connection, _ = hole.accept()
            except BlockingIOError:
                break
            connection.close()
            tried += 1
    assert 1 <= tried <= 2  # the first request's, and one retry's


async def test_a_fault_in_a_question_asked_in_the_background_is_logged(
    sqlite_store, caplog, monkeypatch
):
    """The question whether Redis is back goes on in the background past `PROBE_WAIT_SECONDS`:
    a fault in it (not Redis's: a defect) is logged as an error, not left unobserved."""
    caplog.set_level(logging.WARNING, logger="impact_graph.ratelimit")
    with black_hole() as hole:
        url = f"redis://127.0.0.1:{hole.getsockname()[1]}"
        async with app_client(
            sqlite_store, a_client(), rate_limit=SLOW, cache_url=url, cache=False
        ) as http:
            assert await statuses(http, 1) == [200]  # finds it away (after its timeout)

            async def faulty(*_: Any) -> Any:
                await asyncio.sleep(PROBE_WAIT_SECONDS * 2)  # (past the request's wait)
                raise RuntimeError("a defect")

            monkeypatch.setattr(RedisBuckets, "_take", faulty)
            await asyncio.sleep(REDIS_RETRY_SECONDS + 0.2)
            assert await statuses(http, 1) == [200]  # asked, and passed after its wait
            await asyncio.sleep(PROBE_WAIT_SECONDS * 3)
    faults = [r for r in caplog.records if r.getMessage() == "asking Redis for a bucket failed"]
    assert len(faults) == 1
    assert "a defect" in str(faults[0].exc_info[1])


def from_address(base: str, forwarded: str) -> int:
    headers = {"X-Forwarded-For": forwarded}
    return httpx.post(f"{base}/graphql", json=QUERY, headers=headers, timeout=30).status_code


def test_servers_share_limits_in_redis_and_believe_only_a_trusted_proxy(tmp_path: Path):
    """Real servers: two sharing Redis, trusting 127.0.0.1 as their proxy, count a client
    (named by X-Forwarded-For) together; a third trusting no proxy sees every request from
    127.0.0.1, whatever X-Forwarded-For claims, so changing it buys nothing."""
    store = {"DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}"}
    limit = {"IMPACT_GRAPH_RATE_LIMIT": str(SLOW), "IMPACT_GRAPH_RATE_LIMIT_BURST": "4"}
    shared = {**store, **limit, "CACHE_URL": REDIS_URL, "IMPACT_GRAPH_TRUSTED_PROXIES": "127.0.0.1"}
    for name in ("a", "b", "c"):
        (tmp_path / name).mkdir()
    with (
        served(tmp_path / "a", shared) as a,
        served(tmp_path / "b", shared) as b,
        served(tmp_path / "c", {**store, **limit}) as c,
    ):
        client, other = a_client(), a_client()
        answers = [from_address(server, client) for server in (a, b) * 3]
        assert sorted(answers) == [200] * 4 + [429] * 2
        assert from_address(b, other) == 200
        assert [from_address(c, a_client()) for _ in range(5)] == [200] * 4 + [429]
