"""Version leases: how a server on PostgreSQL serves cached answers without a read per request,
and stays exact.

A cached answer may be served under a data version only if no seed committed another between
the request's arrival and its answer. On SQLite the wal-index says so without a statement
(db/local.py). On PostgreSQL, reading the version per request costs a round trip, most of a
cached answer's price. Instead, each read of the version grants its server a lease: for
`LEASE_SECONDS` from the moment the read was sent, that version may be served without asking
again, unless the read found a seed announced.

A seed that changes rows announces itself first (a `seeding` row in `store_state`, committed on
its own), and commits no sooner than `seed_wait_seconds()` after the announcement. Any lease was
granted by a read that either saw the announcement (no lease) or was sent before it, and so
lapses before the seed commits. The seed's own commit deletes the announcement with the rest of
the state (db/state.py `record`).

What it relies on:
- the clocks of the servers and the seeder run at the same rate to within `CLOCK_RATE_ERROR`
  (a server measures its lease on CLOCK_BOOTTIME, which keeps counting while its machine
  sleeps);
- every seed of the store runs this code (an older seeder neither announces nor waits);
- the server reads the primary: a replica may replay an announcement and the commit after it
  closer together than a lease lasts, so a server reading one (`DATABASE_READ_URL`, or any
  standby) grants no lease. The same instance holds the seed's locks, which a server looks at
  (not a logical subscriber, nor a proxy that sends its statements to another node).
One seed of a store (a schema) at a time holds the seed lock, so an announcement is never
another live seed's to take away.

A seed killed outright (SIGKILL, a machine lost) leaves its announcement. Each seed also holds,
from before its announcement until it ends, an advisory lock keyed by its token; its commit,
which deletes the announcement, is visible before its locks are let go (PostgreSQL's
CommitTransaction ends the transaction in the proc array, then releases its locks). So an
announcement read, then its lock found free, then read again by a statement sent after that,
is a seed's that ended without committing: it never will, and `Announcements` lets leases
resume under it. A token without `LOCKED_TOKEN` (an older seeder's, which holds no such lock)
is never taken for dead.
"""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any

from sqlalchemy import (
    BigInteger,
    Select,
    bindparam,
    delete,
    func,
    insert,
    literal,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import col

from db.mapping import table_of
from db.models import StoreState
from db.state import DATA_VERSION, SEEDING

logger = logging.getLogger("impact_graph.db")

LEASE_SECONDS = 0.25
RENEW_AFTER_SECONDS = LEASE_SECONDS / 2  # under load, read again while the lease still holds
CLOCK_RATE_ERROR = 0.01  # NTP slews a clock by at most 0.05%
SEED_MARGIN_SECONDS = 0.01  # more than the seeder's sleep can wake early by (it wakes late)
WITHDRAW_WAIT = "5s"  # for a seed's transaction that its client could not roll back
SEED_LOCK = 0x1A9_5EED  # the first key of each seed's advisory lock, the store's schema the other
LOCKED_TOKEN = 1 << 62  # in a token whose seed holds the lock keyed by it while it lives
LOOK_SECONDS = 1.0  # a server looks for a seed's lock once its announcement stood this long,
# and again as often while it stands (an ordinary seed is gone before the first look)
# Linux: a clock that also counts while the machine sleeps (elsewhere, the monotonic clock)
_LEASE_CLOCK = getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC)


def seed_wait_seconds() -> float:
    """How long after its announcement a seed may commit: every lease sent before it lapsed."""
    return LEASE_SECONDS * (1 + CLOCK_RATE_ERROR) + SEED_MARGIN_SECONDS


def lease_clock() -> float:
    """Seconds on a clock that also counts while the machine sleeps: a lease held across a
    suspend has lapsed when the machine wakes."""
    return time.clock_gettime(_LEASE_CLOCK)


def lease_query() -> Select[Any]:
    """The data version, the announced seed's token (None when none is), and whether this is
    a standby (no row in a store never seeded: no lease)."""
    state = table_of(StoreState)
    seeding = state.alias("seeding")
    token = select(seeding.c.value).where(seeding.c.key == SEEDING).scalar_subquery()
    return select(state.c.value, token, func.pg_is_in_recovery()).where(state.c.key == DATA_VERSION)


def gone_query() -> Select[Any]:
    """Whether the seed that announced `token` has ended: the lock keyed by it can be had.
    Shared, and only for this statement: a live seed holds it already (it took it before
    announcing), so no seed ever waits on a server's look."""
    return select(func.pg_try_advisory_xact_lock_shared(bindparam("token", type_=BigInteger)))


async def take_seed_lock(connection: AsyncConnection, token: int | None) -> None:
    """Wait for any other seed of this store (its schema) to end, then take the lock keyed by
    this seed's token (if it announces); both held until this transaction ends."""
    await take_store_lock(connection, SEED_LOCK, "waiting for another seed of this store to end")
    if token is not None:  # (no other session takes it: it is new and random)
        await connection.execute(select(func.pg_advisory_xact_lock(literal(token, BigInteger))))


async def take_store_lock(connection: AsyncConnection, first: int, waiting: str) -> None:
    """Take the advisory lock keyed by `first` and this store (its schema) until this
    transaction ends, saying `waiting` if another session holds it."""
    keys = (literal(first), func.hashtext(func.coalesce(func.current_schema(), "")))
    if not await connection.scalar(select(func.pg_try_advisory_xact_lock(*keys))):
        logger.info(waiting)
        await connection.execute(select(func.pg_advisory_xact_lock(*keys)))


def new_token() -> int:
    """What tells this seed's announcement apart from any other's, and says its seed holds
    the lock keyed by it."""
    return LOCKED_TOKEN | secrets.randbits(62)


async def announce(engine: AsyncEngine, token: int) -> None:
    """Commit the announcement of a seed (replacing one a dead seed left)."""
    async with engine.begin() as connection:
        await connection.execute(delete(StoreState).where(col(StoreState.key) == SEEDING))
        await connection.execute(insert(StoreState).values(key=SEEDING, value=token))


async def withdraw(engine: AsyncEngine, token: int) -> None:
    """Take back this seed's announcement after it rolled back (leases resume at once). Where
    that fails, servers read the version per request until the next seed commits."""
    mine = (col(StoreState.key) == SEEDING, col(StoreState.value) == token)
    try:
        async with engine.begin() as connection:
            # behind the seed's own transaction, if it still holds the row: once it ends,
            # committed (the row is gone) or not (the row goes)
            await connection.execute(text(f"SET LOCAL lock_timeout = '{WITHDRAW_WAIT}'"))
            await connection.execute(delete(StoreState).where(*mine))
    except Exception:
        logger.warning("a seed's announcement could not be withdrawn", exc_info=True)


class Announcements:
    """What a server knows of the announcements it has read: which one is a dead seed's.

    `live` says whether a read that found an announcement may grant no lease; `to_look`
    whether to look now whether its seed is gone (`gone_query`); `found_gone` records a look
    that found it gone. A read sent after that look ended, finding the same token, proves the
    seed ended without committing.
    """

    def __init__(self) -> None:
        self._dead: int | None = None
        self._standing: int | None = None  # the token the last read found
        self._looked = float("-inf")  # when it was first read, then looked at (`lease_clock`)
        self._gone: tuple[int, float] | None = None  # a token found gone, and when that look
        # ended

    def live(self, token: int | None, sent: float) -> bool:
        """Whether `token`, found by a read sent at `sent`, may be a seed's that commits."""
        if token is None or token == self._dead:
            return False
        if self._gone is not None and self._gone[0] == token and sent > self._gone[1]:
            self._declare_dead(token)
            return False
        if token != self._standing:
            self._standing, self._looked = token, sent
        return True

    def to_look(self, token: int, now: float) -> bool:
        """Whether to look now whether `token`'s seed is gone: once it stood LOOK_SECONDS, and
        as often after; not for a token found gone (the next read decides), nor for an older
        seeder's."""
        if not token & LOCKED_TOKEN or token != self._standing:
            return False
        if (self._gone is not None and self._gone[0] == token) or now - self._looked < LOOK_SECONDS:
            return False
        self._looked = now
        return True

    def found_gone(self, token: int, ended: float) -> None:
        """A look that ended at `ended` could take `token`'s lock: its seed had ended."""
        self._gone = (token, ended)

    def _declare_dead(self, token: int) -> None:
        self._dead, self._gone = token, None
        logger.warning(
            "a seed ended without committing and left its announcement (token %d): leases "
            "resume (the next seed replaces it)",
            token,
        )
