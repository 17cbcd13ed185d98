"""A per-client rate limit on `/graphql`: a token bucket per client address, kept in Redis
(shared by every worker and host) when `CACHE_URL` is set, else in this process.

A bucket holds at most `burst` tokens and gains `rate` a second; each request takes one, and
a request that finds none is refused with how long until one is there. If Redis cannot be
reached the limit lets every request through (fails open: a limit must not take the API down
with it), says so once, and asks Redis again a second later.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import math
import time
from dataclasses import dataclass
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError
from starlette.requests import Request

from core.lru import LRU
from server.errors import RequestError

logger = logging.getLogger("impact_graph.ratelimit")

LOCAL_CLIENTS = 65_536  # buckets kept in a process; the least recently seen go first (full)
REDIS_TIMEOUT_SECONDS = 1.0  # a request waits no longer for its bucket (connecting included)
REDIS_RETRY_SECONDS = 1.0  # after a failure, requests pass without asking Redis for this long
# How long the request that asks whether Redis is back waits for its answer (one that is back,
# on the same network, answers in well under a millisecond); then it passes
PROBE_WAIT_SECONDS = 0.1
KEY_PREFIX = "rate:"  # after IMPACT_GRAPH_CACHE_PREFIX, beside the response cache's keys
IPV6_CLIENT_BITS = 64  # one IPv6 client is its /64: a host is given a whole /64 to use


@dataclass(frozen=True)
class Bucket:
    """The rule: `rate` tokens a second, at most `burst` held."""

    rate: float
    burst: int


def take(bucket: Bucket, tokens: float, then: float, now: float) -> tuple[float, float]:
    """A request at `now` on a bucket that held `tokens` at `then`: the tokens left, and how
    many seconds until a token is there if none was (0: let through).

    `REDIS_SCRIPT` is this function in Lua, run by Redis where buckets are shared.
    """
    tokens = min(bucket.burst, tokens + max(0.0, now - then) * bucket.rate)
    if tokens >= 1:
        return tokens - 1, 0.0
    return tokens, (1 - tokens) / bucket.rate


# KEYS[1] the client's bucket; ARGV rate, burst. Redis's own clock, so every host agrees.
# The key expires once the bucket would be full again: an idle client costs nothing.
REDIS_SCRIPT = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local held = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(held[1]) or burst
local at = tonumber(held[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
local function decimal(x) return string.format('%.6f', x) end
redis.call('HSET', KEYS[1], 'tokens', decimal(tokens), 'at', decimal(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
return decimal(wait)
"""
# Run when Redis is out of memory too (`allow-oom`): the response cache can fill a Redis with
# no eviction policy, and a limit refused its writes would let every request through. Redis
# before 7 knows no flags (the line does not compile): there the script runs without it.
FLAGGED_SCRIPT = "#!lua flags=allow-oom\n" + REDIS_SCRIPT.lstrip("\n")
UNKNOWN_FLAGS = "Error compiling script"  # what Redis 6 answers the flags line


class Buckets(Protocol):
    bucket: Bucket

    async def wait(self, client: str) -> float:
        """Take a token for `client`: 0 if there was one, else the seconds until there is."""
        ...

    async def aclose(self) -> None:
        """Stop what is still going on (before the Redis client closes)."""
        ...


class LocalBuckets:
    """Buckets in this process: exact for one worker; with N workers a client may send N
    times the rate (each keeps its own), hence Redis for the shared limit."""

    def __init__(self, bucket: Bucket) -> None:
        self.bucket = bucket
        self._held: LRU[str, tuple[float, float]] = LRU(LOCAL_CLIENTS)

    async def wait(self, client: str) -> float:
        now = time.monotonic()
        tokens, then = self._held.get(client) or (float(self.bucket.burst), now)
        tokens, seconds = take(self.bucket, tokens, then, now)
        self._held.put(client, (tokens, now))
        return seconds

    async def aclose(self) -> None:
        pass  # nothing goes on in the background


class RedisBuckets:
    """Buckets in Redis, one key per client, taken from atomically by one script."""

    def __init__(self, bucket: Bucket, redis: Redis, prefix: str) -> None:
        self.bucket = bucket
        self._redis = redis  # the process's shared client (server/redis_client.py)
        self._prefix = prefix + KEY_PREFIX
        self._script = self._redis.register_script(FLAGGED_SCRIPT)
        self._flagged = True  # until a Redis before 7 refuses the flags line
        self._retry_at = 0.0  # while Redis is down: when to ask it again
        self._down = False
        self._asking: set[asyncio.Future[float]] = set()  # whether it is back, meanwhile

    async def wait(self, client: str) -> float:
        now = time.monotonic()
        if now < self._retry_at:
            return 0.0
        if self._down:  # one request asks whether Redis is back, waiting for the answer no
            # longer than a Redis that is back takes (a frozen one cost it the whole timeout,
            # once a second): the question goes on in the background. The others pass
            # meanwhile.
            self._retry_at = now + REDIS_RETRY_SECONDS
            asking = asyncio.ensure_future(self._ask(client))
            self._asking.add(asking)  # (kept while it runs)
            asking.add_done_callback(self._asked)
            answered, _ = await asyncio.wait({asking}, timeout=PROBE_WAIT_SECONDS)
            # (one the server stopped, its Redis client closing: let through)
            return asking.result() if answered and not asking.cancelled() else 0.0
        return await self._ask(client)

    async def aclose(self) -> None:
        """Stop the questions still going on in the background, before the client closes:
        a connection its close cuts would otherwise be opened again (redis-py tries a
        connection lost once more, server/redis_client.py)."""
        for asking in self._asking:
            asking.cancel()
        await asyncio.gather(*self._asking, return_exceptions=True)

    def _asked(self, asking: asyncio.Future[float]) -> None:
        """A question that went on in the background: its fault, if any, is logged (Redis's
        own failures are answers: `_ask`), not left for the event loop to complain of."""
        self._asking.discard(asking)
        if not asking.cancelled() and asking.exception() is not None:
            logger.error("asking Redis for a bucket failed", exc_info=asking.exception())

    async def _ask(self, client: str) -> float:
        """How long the client must wait; 0 where Redis does not answer in time (then it is
        down, and asked again at most once a `REDIS_RETRY_SECONDS`)."""
        try:
            async with asyncio.timeout(REDIS_TIMEOUT_SECONDS):
                answer = await self._take(client)
        except (RedisError, OSError, TimeoutError) as error:
            # from when it failed: a try that waited its whole timeout must not leave the
            # next request due at once
            self._retry_at = time.monotonic() + REDIS_RETRY_SECONDS
            if not self._down:  # once per outage, not a line per request
                self._down = True
                logger.warning(
                    "rate limit off: Redis is unreachable or refused it (%s: %s); requests "
                    "pass unlimited until it answers again",
                    type(error).__name__,
                    error,
                )
            return 0.0
        if self._down:
            self._down, self._retry_at = False, 0.0
            logger.warning("rate limit on again: Redis answers")
        return float(answer)

    async def _take(self, client: str) -> Any:
        keys, args = [self._prefix + client], [self.bucket.rate, self.bucket.burst]
        try:
            return await self._script(keys=keys, args=args)
        except ResponseError as error:
            if not (self._flagged and UNKNOWN_FLAGS in str(error)):
                raise
        self._flagged = False  # a Redis before 7: the script without its flags, from now on
        self._script = self._redis.register_script(REDIS_SCRIPT)
        logger.warning(
            "rate limit: this Redis runs scripts without flags (before 7); a bucket is "
            "refused, and the limit off, while it is out of memory"
        )
        return await self._script(keys=keys, args=args)


class RateLimit:
    """Who the client is and whether it may send this request now."""

    def __init__(self, buckets: Buckets) -> None:
        self.buckets = buckets

    async def aclose(self) -> None:
        await self.buckets.aclose()

    async def check(self, request: Request) -> RequestError | None:
        """The refusal of a request its client sent too soon, or None.

        The client is the connection's remote address; uvicorn puts the address a trusted
        proxy's X-Forwarded-For names there instead (IMPACT_GRAPH_TRUSTED_PROXIES).
        """
        client = client_key(request.client.host if request.client is not None else "unknown")
        seconds = await self.buckets.wait(client)
        if seconds <= 0:
            return None
        retry = max(1, math.ceil(seconds))
        bucket = self.buckets.bucket
        return RequestError(
            429,
            "RATE_LIMITED",
            f"Too many requests from this client: the limit is {bucket.rate:g} a second "
            f"(bursts of {bucket.burst}); try again in {retry} s.",
            {"Retry-After": str(retry)},
        )


def client_key(address: str) -> str:
    """Whose bucket a request takes from: an IPv4 address, or the /64 of an IPv6 one (a
    host holds a whole /64 and could otherwise take a new bucket per request)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address  # not an address (a Unix socket's peer): as it is
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, IPV6_CLIENT_BITS), strict=False))
    return str(parsed)


def rate_limit(rate: float, burst: int, redis: Redis | None, prefix: str = "") -> RateLimit | None:
    """The limit the settings ask for: None when off (rate 0); in Redis with a client, its
    keys under `prefix` (IMPACT_GRAPH_CACHE_PREFIX)."""
    if rate <= 0:
        return None
    bucket = Bucket(rate, burst)
    buckets: Buckets = (
        LocalBuckets(bucket) if redis is None else RedisBuckets(bucket, redis, prefix)
    )
    return RateLimit(buckets)
