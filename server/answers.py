"""The response cache: whole answers by `AnswerKey` (server/caching.py), in this process or in
Redis.

An entry is the response body's bytes with the executor that built it and the objects it
holds (its cost), so a hit answers exactly what the miss answered. The key carries the data
version, and every seed that changes rows moves it on: an entry is never invalidated, it
stops being asked for (in-process it is evicted, least recently used first, within a bound in
bytes; in Redis it expires after a time to live, and Redis's own `maxmemory` policy bounds
it). Redis is best effort: when it cannot answer within a short timeout the request is
answered uncached, one warning says it went away and one that it is back, and it is tried
again at most once a second meanwhile; one that refuses to keep an answer (full, read-only)
is asked to keep another at most once a second.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from core.config import Settings
from core.logs import once_a_window
from core.lru import LRU, own_copy
from server.caching import AnswerKey

logger = logging.getLogger("impact_graph.cache")

# An answer larger than this is not kept: it would push out many small ones for one client.
MAX_ENTRY_BYTES = 1024 * 1024
# What an in-process entry costs besides its body: its key (a 64-character digest and the
# version), the entry and the LRU's slot (~400 bytes measured with tracemalloc, CPython 3.11).
ENTRY_OVERHEAD_BYTES = 400
# A Redis on the same network answers in well under a millisecond; one that takes longer than
# this is treated as gone, so a dead or frozen Redis costs a request at most this long.
REDIS_TIMEOUT_SECONDS = 0.2  # connecting included
RETRY_SECONDS = 1.0  # while Redis is away, or refuses to keep answers, how often it is tried
REFUSED_LOG_SECONDS = 60.0  # at most one line this often about commands Redis refuses
refusals = once_a_window(f"{logger.name}.refused", REFUSED_LOG_SECONDS)

T = TypeVar("T")
KEY_PREFIX = "answer:"  # after IMPACT_GRAPH_CACHE_PREFIX, beside the rate limit's keys
# Whether the answer was kept from an earlier request (hit, miss, unavailable; REVALIDATED)
CACHE_HEADER = "X-Cache"
# A 304's, the cache on or off: the client's own copy still holds. A browser puts a 304's
# headers in the copy it hands the page's script, which would otherwise read the `miss` the
# copy was first sent with.
REVALIDATED = "revalidated"


class CacheUnavailable(Exception):
    """The shared cache cannot be reached: the request is answered uncached."""


@dataclass(slots=True)
class CachedAnswer:
    """A successful answer's body and what the request's record says of it. Never changed,
    though not frozen: a frozen dataclass is made through `object.__setattr__`, three times
    the cost (540 against 160 ns), and every answer that may be kept makes one."""

    body: bytes
    executor: str  # which executor built it: "compiled" or "reference"
    cost: int | None  # the objects it holds
    operation_name: str | None  # the operation it answers (a GraphQL name: no line breaks)

    def encode(self) -> bytes:
        cost = "" if self.cost is None else str(self.cost)
        return f"{self.executor}\n{cost}\n{self.operation_name or ''}\n".encode() + self.body

    @classmethod
    def decode(cls, data: bytes) -> CachedAnswer:
        """An entry as `encode` wrote it; ValueError for anything else (a key of ours
        written by another hand would put its text in a header and the log)."""
        executor, cost, name, body = data.split(b"\n", 3)
        written = (
            executor in EXECUTORS and ENTRY_NAME.fullmatch(name) and ENTRY_COST.fullmatch(cost)
        )
        if not written:
            raise ValueError("not an entry of this server's")
        return cls(body, executor.decode(), int(cost) if cost else None, name.decode() or None)


Lookup = CachedAnswer | None
EXECUTORS = frozenset({b"compiled", b"reference"})
ENTRY_NAME = re.compile(rb"(?:[_A-Za-z][_0-9A-Za-z]*)?")  # a GraphQL name, or none
ENTRY_COST = re.compile(rb"[0-9]*")  # the objects an answer holds, or none


class Answers(Protocol):
    """Where answers are kept. `get` and `put` answer at once where they are kept in this
    process; elsewhere they return what to await, which raises `CacheUnavailable` when the
    cache cannot say. (Not coroutines throughout: an await costs twice a call, and every
    request that misses makes both.)"""

    def get(self, key: AnswerKey) -> Lookup | Awaitable[Lookup]: ...

    def put(self, key: AnswerKey, answer: CachedAnswer) -> Awaitable[None] | None: ...


def _weight(answer: CachedAnswer) -> int:
    """Its body and operation name (a name may be ~20,000 characters) and the rest (its
    executor's name is shared)."""
    return len(answer.body) + len(answer.operation_name or "") + ENTRY_OVERHEAD_BYTES


class LocalAnswers:
    """This process's own answers, least recently used out first, bounded in bytes."""

    def __init__(self, max_bytes: int) -> None:
        # by version and digest: a tuple of two hashes already made, where the entry's name
        # would be a new string to hash, on every lookup
        self._entries: LRU[tuple[int, str], CachedAnswer] = LRU(max_bytes, weight=_weight)

    def get(self, key: AnswerKey) -> Lookup:
        return self._entries.get((key.version, key.digest))

    def put(self, key: AnswerKey, answer: CachedAnswer) -> None:
        if len(answer.body) <= MAX_ENTRY_BYTES:
            body = own_copy(answer.body)
            kept = CachedAnswer(body, answer.executor, answer.cost, answer.operation_name)
            self._entries.put((key.version, key.digest), kept)


class RedisAnswers:
    """Answers in Redis, shared by every worker and host that uses it."""

    def __init__(self, redis: Redis, prefix: str, ttl_seconds: int) -> None:
        self._redis = redis  # the process's shared client (server/redis_client.py)
        self._prefix = prefix + KEY_PREFIX
        self._ttl = ttl_seconds
        self._away = False
        self._retry_at = 0.0
        # After Redis refused to keep an answer, it is not asked to keep another until then:
        # a full Redis, a replica (READONLY) or a missing permission refuses every one.
        self._keep_again_at = 0.0

    def get(self, key: AnswerKey) -> Awaitable[Lookup]:
        return self._get(self._prefix + key.name)

    def put(self, key: AnswerKey, answer: CachedAnswer) -> Awaitable[None] | None:
        if len(answer.body) > MAX_ENTRY_BYTES:
            return None
        return self._put(self._prefix + key.name, answer.encode())

    async def _get(self, name: str) -> Lookup:
        try:
            found = await self._call(lambda: self._redis.get(name))
            return CachedAnswer.decode(found) if isinstance(found, bytes) else None
        except (ValueError, ResponseError):  # not an entry this server wrote (of another
            return None  # type, even): a miss, then overwritten

    async def _put(self, name: str, entry: bytes) -> None:
        if asyncio.get_running_loop().time() < self._keep_again_at:
            raise CacheUnavailable  # refused a moment ago: not kept, and no round trip
        try:
            await self._call(lambda: self._redis.set(name, entry, ex=self._ttl))
        except ResponseError as refused:  # full with no eviction policy, read-only, ...
            self._keep_again_at = asyncio.get_running_loop().time() + RETRY_SECONDS
            refusals.warning("the response cache (Redis) refused an answer: %s", refused)
            raise CacheUnavailable from None

    async def _call(self, command: Callable[[], Awaitable[T]]) -> T:
        """The command's result; `CacheUnavailable` while Redis is away (tried again at most
        every `RETRY_SECONDS`), with one warning as it goes and one as it comes back. A
        command it refuses raises its `ResponseError`: it is there."""
        now = asyncio.get_running_loop().time()
        if self._away and now < self._retry_at:
            raise CacheUnavailable
        self._retry_at = now + RETRY_SECONDS  # the requests meanwhile do not try it too
        try:
            async with asyncio.timeout(REDIS_TIMEOUT_SECONDS):
                result = await command()
        except ResponseError:
            self._back()
            raise
        except (RedisError, OSError, TimeoutError) as error:
            # a second from when it failed, not from the try's start
            self._retry_at = asyncio.get_running_loop().time() + RETRY_SECONDS
            if not self._away:
                self._away = True
                logger.warning(
                    "the response cache (Redis) is unavailable; answering uncached (%s)",
                    type(error).__name__,
                )
            raise CacheUnavailable from None
        self._back()
        return result

    def _back(self) -> None:
        if self._away:
            self._away = False
            logger.warning("the response cache (Redis) is back")


def answers_for(settings: Settings, redis: Redis | None) -> Answers | None:
    """The response cache the settings ask for: none, Redis's (with a client for
    `CACHE_URL`), or this process's own."""
    if not settings.cache:
        return None
    if redis is not None:
        return RedisAnswers(redis, settings.cache_prefix, settings.cache_ttl_seconds)
    return LocalAnswers(settings.cache_bytes)
