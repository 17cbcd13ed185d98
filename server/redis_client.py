"""The one Redis client a process opens for `CACHE_URL`: the response cache (server/answers.py)
and the rate limit (server/ratelimit.py) share its few connections; the app closes it."""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, RedisError, ResponseError
from redis.exceptions import ConnectionError as ConnectionLost

CONNECTIONS = 8  # per process: a crowd of requests waits its turn for one, not open one each
# Connecting, waiting for a free connection, each reply: the most any command may take. Each
# user bounds its own commands tighter or not (the cache: 0.2 s; the rate limit: this).
TIMEOUT_SECONDS = 1.0


def redis_client(url: str) -> Redis:
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=CONNECTIONS,
        timeout=TIMEOUT_SECONDS,
        socket_timeout=TIMEOUT_SECONDS,
        socket_connect_timeout=TIMEOUT_SECONDS,
        # A failure is answered at once (uncached, or let through unlimited), but for one: a
        # connection that died under us (Redis restarted since it was last used) fails its
        # command at once, and the command is sent again, once, on a new connection. A
        # Redis that does not answer (a timeout) is not asked twice. (As redis-py 8 reads it:
        # before, a command was retried only on the errors `retry_on_error` lists.)
        retry=Retry(NoBackoff(), 1, (ConnectionLost,)),
    )
    return Redis(connection_pool=pool)


class CacheUrlRefused(ValueError):
    """Redis answers `CACHE_URL` with a refusal."""


async def check_cache_url(url: str) -> None:
    """`CacheUrlRefused` where Redis refuses a connection to `url` as it opens (`AUTH` and
    `SELECT`: a database number past its `databases`, a user or password it does not
    take): the server would run with the cache and the rate limit off, one warning a
    minute, until restarted with a good URL. No command of ours is sent (a user may lack
    `PING` and still keep answers). A Redis that does not answer is no error here: it may
    come back, and until it does requests are answered uncached (the cache is best effort)."""
    client = redis_client(url)
    pool = client.connection_pool
    try:
        await pool.release(await pool.get_connection())  # type: ignore[no-untyped-call]
    except (ResponseError, AuthenticationError) as refused:
        raise CacheUrlRefused(f"CACHE_URL: Redis refused the connection: {refused}") from None
    except (RedisError, OSError):
        pass
    finally:
        await client.aclose()
